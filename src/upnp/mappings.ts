/*
 * The UPnP port mappings, kept nowhere but in the NAPT table as forwards of
 * origin "upnp" (or "pmp": NAT-PMP's and PCP's, which UPnP lists, counts
 * and conflicts with as its own): the table expires leases and sends the
 * packets, and the XS heap holds nothing per mapping. Static (console) forwards share the
 * table: they are never listed or changed here, but they do conflict.
 * Adding checks everything before it touches the table, so a refusal
 * leaves the table as it was.
 */
import Napt from "napt";
import type { AddOrigin, Forward, ForwardProto } from "napt";
import type { IgdContext } from "upnp/context";

/* A week: the longest lease IGDv2 allows, and the cap we put on v1 leases. */
export const MAX_LEASE = 604800;
/* napt.h's NAPT_DESCRIPTION_MAX less its NUL, in bytes of UTF-8. */
export const DESCRIPTION_BYTES = 47;

export interface MappingSpec {
	proto: ForwardProto;
	externalPort: number;
	/* the internal client and port */
	address: string;
	port: number;
	/* the only remote host it admits; "" for any */
	remote: string;
	/* who asked for it */
	owner: string;
	/* seconds; 0 permanent */
	lease: number;
	description: string;
	/* "upnp" unless given: "pmp" for NAT-PMP and PCP */
	origin?: AddOrigin;
}

/* A mapping a LAN host asked for (UPnP, NAT-PMP or PCP), not a static forward or a SIP pinhole. */
export function isMapping(f: Forward): boolean {
	return f.origin === "upnp" || f.origin === "pmp";
}

/* What add() did, or the UPnP error for why it did nothing. */
export type AddOutcome =
	| { ok: true; created: boolean }
	| { ok: false; code: number; description: string };

function refused(code: number, description: string): AddOutcome {
	return { ok: false, code, description };
}

export function running(): boolean {
	return Napt.running();
}

/*
 * The table is read a forward at a time: a request never makes the XS heap
 * hold the whole table (up to the forward pool's size in objects).
 */

/* How many forwards the table holds, static ones too. */
export function forwardCount(): number {
	return Napt.running() ? Napt.forwardCount() : 0;
}

/* The index-th mapping (UPnP, NAT-PMP or PCP) in the table's order (protocol, then external port). */
export function at(index: number): Forward | undefined {
	return Napt.running() ? Napt.forwardAt(index, "mapped") : undefined;
}

export function count(): number {
	return Napt.running() ? Napt.forwardCount("mapped") : 0;
}

/* The forward, static or UPnP, whose external range holds this port. */
export function holder(proto: ForwardProto, port: number): Forward | undefined {
	return Napt.running() ? Napt.forwardHolding(proto, port) : undefined;
}

/* The mapping (UPnP, NAT-PMP or PCP) on this port. */
export function find(proto: ForwardProto, port: number): Forward | undefined {
	const f = holder(proto, port);
	return f && isMapping(f) ? f : undefined;
}

/* Remove a UPnP mapping (never a static forward); false when there was none. */
export function remove(proto: ForwardProto, port: number): boolean {
	return find(proto, port) !== undefined && Napt.forwardRemove(proto, port) === "ok";
}

/*
 * A description as the table keeps it: control characters (which XML 1.0
 * cannot carry and which would garble the console) become spaces, and the
 * text is cut to 47 bytes of UTF-8 at a character boundary.
 */
export function cleanDescription(text: string): string {
	let out = "", bytes = 0;
	for (const ch of text) {
		const c = ch.codePointAt(0) ?? 0;
		const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
		if (bytes + size > DESCRIPTION_BYTES)
			break;
		bytes += size;
		if (c < 0x20 || c === 0x7f)
			out += " ";
		else if (c >= 0xd800 && c < 0xe000)
			out += "\ufffd";   // a lone surrogate, which UTF-8 cannot carry
		else
			out += ch;
	}
	return out;
}

function install(spec: MappingSpec): ReturnType<typeof Napt.forwardAdd> {
	return Napt.forwardAdd({
		proto: spec.proto,
		externalPort: spec.externalPort,
		address: spec.address,
		port: spec.port,
		remote: spec.remote,
		owner: spec.owner,
		lease: spec.lease,
		description: spec.description,
		origin: spec.origin ?? "upnp",
	});
}

/*
 * Add a mapping, or update the one the same internal client has on that
 * port (lease, description, internal port, remote host). Another client's
 * mapping or a static forward there is a conflict (718); a new mapping over
 * the limit is 728. Permissions are the caller's to check first.
 */
export function add(ctx: IgdContext, request: MappingSpec): AddOutcome {
	if (!Napt.running())
		return refused(501, "Action Failed (NAT is not running)");
	const spec = { ...request, lease: Math.min(request.lease, MAX_LEASE), description: cleanDescription(request.description) };
	const old = holder(spec.proto, spec.externalPort);
	if (old && (!isMapping(old) || old.address !== spec.address))
		return refused(718, "ConflictInMappingEntry");
	if (old && (old.port !== spec.port || old.remote !== spec.remote)) {
		// The table refreshes only an identical forward: replace it. Taking
		// it out makes room, so putting the new one in cannot fail for space.
		Napt.forwardRemove(old.proto, old.externalPort);
		if (install(spec) === "ok")
			return { ok: true, created: false };
		install({ ...old, lease: old.leaseLeft, origin: old.origin === "pmp" ? "pmp" : "upnp" });
		return refused(501, "Action Failed");
	}
	if (!old && count() >= ctx.config().limits.mappings) {
		ctx.counters.mappingLimit++;
		return refused(728, "NoPortMapsAvailable");
	}
	switch (install(spec)) {
	case "ok":
		return { ok: true, created: true };
	case "refreshed":
		return { ok: true, created: false };
	case "full":
		ctx.counters.mappingLimit++;
		return refused(728, "NoPortMapsAvailable");
	case "conflict":
		return refused(718, "ConflictInMappingEntry");
	default:
		return refused(501, "Action Failed");
	}
}
