/*
 * NAT-PMP and PCP mappings: forwards of their own origin, "pmp", in the
 * NAPT table beside UPnP's (whose module lists, counts and conflicts with
 * them as its own), with the description "NAT-PMP", or "PCP " (a MAP) or
 * "PCP PEER " (a PEER) and the 24 hex digits of the nonce, so the XS heap
 * keeps nothing per mapping and UPnP's limit, conflicts and listings cover
 * them. A LAN host's mapping is found by its internal port, a bounded
 * walk of the UPnP mappings (at most UPnP's mapping limit).
 */
import type { Forward, ForwardProto } from "napt";
import * as Mappings from "upnp/mappings";
import { allowedPorts } from "upnp/permissions";
import type { UpnpRule } from "upnp/upnp-config";

export const PMP_DESCRIPTION = "NAT-PMP";
export const PCP_PREFIX = "PCP ";
/* A PEER's forward: the flow's external port kept for its one remote peer. */
export const PEER_PREFIX = "PCP PEER ";

export function ours(f: Forward): boolean {
	return f.origin === "pmp";
}

/* The NAT-PMP or PCP MAP mapping (no remote peer) of this host, protocol and internal port. */
export function clientMapping(client: string, proto: ForwardProto, internalPort: number): Forward | undefined {
	for (let i = 0, n = Mappings.count(); i < n; i++) {
		const f = Mappings.at(i);
		if (!f)
			break;
		if (f.address === client && f.proto === proto && f.port === internalPort && ours(f) && !f.description.startsWith(PEER_PREFIX))
			return f;
	}
	return undefined;
}

/* The PEER forward of this host's internal port for this remote peer. */
export function peerMapping(client: string, proto: ForwardProto, internalPort: number, remote: string): Forward | undefined {
	for (let i = 0, n = Mappings.count(); i < n; i++) {
		const f = Mappings.at(i);
		if (!f)
			break;
		if (f.address === client && f.proto === proto && f.port === internalPort && f.remote === remote && f.description.startsWith(PEER_PREFIX))
			return f;
	}
	return undefined;
}

/* How many NAT-PMP and PCP mappings this host holds. */
export function clientCount(client: string): number {
	let count = 0;
	for (let i = 0, n = Mappings.count(); i < n; i++) {
		const f = Mappings.at(i);
		if (!f)
			break;
		if (f.address === client && ours(f))
			count++;
	}
	return count;
}

/* Remove this host's NAT-PMP and PCP mappings of one protocol (all: undefined); how many went. */
export function removeAll(client: string | undefined, proto: ForwardProto | undefined): number {
	let removed = 0;
	// Each turn removes one mapping or steps past one: at most twice the count.
	for (let i = 0, turns = 2 * Mappings.count() + 1; turns > 0; turns--) {
		const f = Mappings.at(i);
		if (!f)
			break;
		if (ours(f) && (client === undefined || f.address === client) && (proto === undefined || f.proto === proto) && Mappings.remove(f.proto, f.externalPort))
			removed++;
		else
			i++;
	}
	return removed;
}

/* How many NAT-PMP and PCP mappings there are in all. */
export function total(): number {
	let count = 0;
	for (let i = 0, n = Mappings.count(); i < n; i++) {
		const f = Mappings.at(i);
		if (!f)
			break;
		if (ours(f))
			count++;
	}
	return count;
}

/*
 * An external port for a new mapping: `want` if the rules allow it and it
 * is free, else the next one up (then from the bottom) that is; jumps over
 * whole spans and forwards, so it takes a few steps per forward and rule.
 * undefined: the rules allow none (refused) or none is free.
 */
export function choosePort(rules: readonly UpnpRule[], proto: ForwardProto, client: string, internalPort: number, want: number): { port?: number; refused: boolean } {
	const spans = allowedPorts(rules, client, internalPort);
	if (!spans.length)
		return { refused: true };
	const start = want >= 1 && want <= 65535 ? want : internalPort;
	let port = start, wrapped = false;
	for (let steps = 4 * (Mappings.forwardCount() + spans.length) + 8; steps > 0; steps--) {
		const span = spans.find(([, last]) => last >= port);
		if (!span) {
			if (wrapped)
				return { refused: false };
			wrapped = true;
			port = 1;
			continue;
		}
		if (port < span[0])
			port = span[0];
		if (wrapped && port >= start)
			return { refused: false };
		const held = Mappings.holder(proto, port);
		if (!held)
			return { port, refused: false };
		port = held.externalEnd + 1;
	}
	return { refused: false };
}
