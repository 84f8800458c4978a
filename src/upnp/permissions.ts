/*
 * Who may map what: the permission rules (first match wins, no match is a
 * refusal) and secure mode (a client maps only to itself). Also the set of
 * external ports the rules leave open to one LAN host and port, which
 * AddAnyPortMapping searches instead of trying ports one by one.
 */
import { parseAddress, sameSubnet } from "net/ipv4";
import type { IgdContext } from "upnp/context";
import type { UpnpRule } from "upnp/upnp-config";

export interface MappingRequest {
	externalPort: number;
	/* the internal client */
	address: string;
	internalPort: number;
}

/* Whether a rule's LAN side (hosts and internal ports) covers a mapping's target. */
function targets(rule: UpnpRule, address: number, internalPort: number): boolean {
	const net = parseAddress(rule.address);
	return net.ok && sameSubnet(address, net.value, rule.prefix) && internalPort >= rule.intFirst && internalPort <= rule.intLast;
}

export function permitted(rules: readonly UpnpRule[], r: MappingRequest): boolean {
	const address = parseAddress(r.address);
	if (!address.ok)
		return false;
	for (const rule of rules)
		if (r.externalPort >= rule.extFirst && r.externalPort <= rule.extLast && targets(rule, address.value, r.internalPort))
			return rule.action === "allow";
	return false;
}

/*
 * The external ports (1-65535) the rules allow for this host and internal
 * port, as sorted, disjoint [first, last] spans: each rule that covers the
 * target decides the ports of its range no earlier rule decided.
 */
export function allowedPorts(rules: readonly UpnpRule[], address: string, internalPort: number): [number, number][] {
	const a = parseAddress(address);
	const allowed: [number, number][] = [];
	let open: [number, number][] = [[1, 65535]];   // not yet decided
	if (!a.ok)
		return allowed;
	for (const rule of rules) {
		if (!targets(rule, a.value, internalPort))
			continue;
		const rest: [number, number][] = [];
		for (const [first, last] of open) {
			const lo = Math.max(first, rule.extFirst), hi = Math.min(last, rule.extLast);
			if (lo > hi) {
				rest.push([first, last]);
				continue;
			}
			if (rule.action === "allow")
				allowed.push([lo, hi]);
			if (first < lo)
				rest.push([first, lo - 1]);
			if (hi < last)
				rest.push([hi + 1, last]);
		}
		open = rest;
	}
	return allowed.sort((x, y) => x[0] - y[0]);
}

/* Secure mode: a requester may act only for itself. */
export function secureAllows(ctx: IgdContext, requester: string, internalClient: string): boolean {
	if (!ctx.config().secure)
		return true;
	const r = parseAddress(requester), c = parseAddress(internalClient);
	return r.ok && c.ok && r.value === c.value;
}
