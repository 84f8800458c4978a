/*
 * The wire formats of NAT-PMP (RFC 6886) and PCP (RFC 6887), read and
 * written a byte at a time at fixed offsets: nothing here throws on any
 * input, and nothing allocates beyond the one answer it builds.
 */

/* Where both listen (on the LAN address) and where announcements go. */
export const SERVER_PORT = 5351;
export const CLIENT_PORT = 5350;
export const ALL_HOSTS = "224.0.0.1";

/* NAT-PMP: version 0. */
export const PMP_VERSION = 0;
export const PMP_OP_ADDRESS = 0;
export const PMP_OP_MAP_UDP = 1;
export const PMP_OP_MAP_TCP = 2;
export const PMP_SUCCESS = 0;
export const PMP_UNSUPP_VERSION = 1;
export const PMP_REFUSED = 2;
export const PMP_NETWORK_FAILURE = 3;
export const PMP_NO_RESOURCES = 4;
export const PMP_UNSUPP_OPCODE = 5;

/* PCP: version 2. */
export const PCP_VERSION = 2;
export const PCP_OP_ANNOUNCE = 0;
export const PCP_OP_MAP = 1;
export const PCP_OP_PEER = 2;
export const PCP_HEADER = 24;
export const PCP_MAP_BODY = 36;
export const PCP_PEER_BODY = 56;
/* Longer PCP messages are malformed (RFC 6887 7). */
export const PCP_MAX = 1100;
export const PCP_OPT_THIRD_PARTY = 1;
export const PCP_OPT_PREFER_FAILURE = 2;
export const PCP_OPT_FILTER = 3;

export const PCP_SUCCESS = 0;
export const PCP_UNSUPP_VERSION = 1;
export const PCP_NOT_AUTHORIZED = 2;
export const PCP_MALFORMED_REQUEST = 3;
export const PCP_UNSUPP_OPCODE = 4;
export const PCP_UNSUPP_OPTION = 5;
export const PCP_MALFORMED_OPTION = 6;
export const PCP_NETWORK_FAILURE = 7;
export const PCP_NO_RESOURCES = 8;
export const PCP_UNSUPP_PROTOCOL = 9;
export const PCP_USER_EX_QUOTA = 10;
export const PCP_CANNOT_PROVIDE_EXTERNAL = 11;
export const PCP_ADDRESS_MISMATCH = 12;
export const PCP_EXCESSIVE_REMOTE_PEERS = 13;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

function u16(b: Uint8Array, at: number): number {
	return (b[at] << 8) | b[at + 1];
}

function u32(b: Uint8Array, at: number): number {
	return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

function put16(b: Uint8Array, at: number, v: number): void {
	b[at] = (v >>> 8) & 0xff;
	b[at + 1] = v & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
	b[at] = (v >>> 24) & 0xff;
	b[at + 1] = (v >>> 16) & 0xff;
	b[at + 2] = (v >>> 8) & 0xff;
	b[at + 3] = v & 0xff;
}

/* "a.b.c.d" into four bytes at `at`; false when it is not an address. */
function putIpv4(b: Uint8Array, at: number, address: string): boolean {
	const parts = address.split(".");
	if (parts.length !== 4)
		return false;
	for (let i = 0; i < 4; i++) {
		const n = Number(parts[i]);
		if (!/^\d{1,3}$/.test(parts[i]) || n > 255)
			return false;
		b[at + i] = n;
	}
	return true;
}

function ipv4At(b: Uint8Array, at: number): string {
	return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/*
 * A 16-byte PCP address as IPv4 text: "" for an IPv4-mapped all-zero or the
 * IPv6 all-zero address ("no preference"), undefined for any other IPv6 one.
 */
export function pcpAddress(b: Uint8Array, at: number): string | undefined {
	let zero = true;
	for (let i = 0; i < 16; i++)
		if (b[at + i])
			zero = false;
	if (zero)
		return "";
	for (let i = 0; i < 10; i++)
		if (b[at + i])
			return undefined;
	if (b[at + 10] !== 0xff || b[at + 11] !== 0xff)
		return undefined;
	const text = ipv4At(b, at + 12);
	return text === "0.0.0.0" ? "" : text;
}

/* An IPv4 address as PCP's IPv4-mapped IPv6 (::ffff:a.b.c.d). */
function putPcpAddress(b: Uint8Array, at: number, address: string): void {
	b.fill(0, at, at + 16);
	b[at + 10] = 0xff;
	b[at + 11] = 0xff;
	if (!putIpv4(b, at + 12, address))
		b.fill(0, at + 12, at + 16);
}

/* ---- NAT-PMP ---- */

export interface PmpMapRequest {
	/* PMP_OP_MAP_UDP or PMP_OP_MAP_TCP */
	op: number;
	internalPort: number;
	suggestedPort: number;
	lifetime: number;
}

/* A mapping request's fields; the caller has checked version, opcode and length (12). */
export function pmpMapRequest(b: Uint8Array): PmpMapRequest {
	return { op: b[1], internalPort: u16(b, 4), suggestedPort: u16(b, 6), lifetime: u32(b, 8) };
}

/* The answer to an external address request (also the announcement): 12 bytes. */
export function pmpAddressAnswer(result: number, epoch: number, external: string): Uint8Array {
	const b = new Uint8Array(12);
	b[0] = PMP_VERSION;
	b[1] = 128 + PMP_OP_ADDRESS;
	put16(b, 2, result);
	put32(b, 4, epoch);
	if (!putIpv4(b, 8, external))
		b.fill(0, 8, 12);
	return b;
}

/* The answer to a mapping request: 16 bytes. */
export function pmpMapAnswer(op: number, result: number, epoch: number, internalPort: number, externalPort: number, lifetime: number): Uint8Array {
	const b = new Uint8Array(16);
	b[0] = PMP_VERSION;
	b[1] = 128 + op;
	put16(b, 2, result);
	put32(b, 4, epoch);
	put16(b, 8, internalPort);
	put16(b, 10, externalPort);
	put32(b, 12, lifetime);
	return b;
}

/* An error with no body (unsupported version or opcode): 8 bytes. */
export function pmpError(op: number, result: number, epoch: number): Uint8Array {
	const b = new Uint8Array(8);
	b[0] = PMP_VERSION;
	b[1] = (128 + op) & 0xff;
	put16(b, 2, result);
	put32(b, 4, epoch);
	return b;
}

/* ---- PCP ---- */

export interface PcpOptions {
	/* the THIRD_PARTY address: undefined when absent */
	thirdParty: string | undefined;
	preferFailure: boolean;
	/* FILTER (MAP only): the one remote host allowed ("" none); a forward holds one */
	filter: string;
	filters: number;
	/* a PCP result code for the first bad option, else PCP_SUCCESS */
	problem: number;
}

/*
 * The options after the opcode's body, from `at` to the end: each a code,
 * a reserved byte, a 16-bit length and that many bytes padded to four.
 */
export function pcpOptions(b: Uint8Array, at: number, op: number): PcpOptions {
	const out: PcpOptions = { thirdParty: undefined, preferFailure: false, filter: "", filters: 0, problem: PCP_SUCCESS };
	// Each option takes at least 4 bytes, so this ends within (length / 4) turns.
	while (at + 4 <= b.length) {
		const code = b[at], length = u16(b, at + 2);
		const next = at + 4 + ((length + 3) & ~3);
		if (next > b.length) {
			out.problem = PCP_MALFORMED_OPTION;
			return out;
		}
		if (code === PCP_OPT_THIRD_PARTY) {
			const address = length === 16 ? pcpAddress(b, at + 4) : undefined;
			if (address === undefined || address === "" || out.thirdParty !== undefined) {
				out.problem = address === undefined || address === "" ? PCP_MALFORMED_OPTION : PCP_MALFORMED_OPTION;
				return out;
			}
			out.thirdParty = address;
		}
		else if (code === PCP_OPT_PREFER_FAILURE) {
			if (length !== 0 || op !== PCP_OP_MAP || out.preferFailure) {
				out.problem = PCP_MALFORMED_OPTION;
				return out;
			}
			out.preferFailure = true;
		}
		else if (code === PCP_OPT_FILTER) {
			// reserved, prefix length, remote port, remote address (RFC 6887 13.3)
			const prefix = b[at + 5], port = u16(b, at + 6);
			const address = length === 20 ? pcpAddress(b, at + 8) : undefined;
			if (op !== PCP_OP_MAP || address === undefined || prefix > 128 || (prefix !== 0 && prefix < 96)) {
				out.problem = PCP_MALFORMED_OPTION;
				return out;
			}
			if (prefix !== 128 || port !== 0 || address === "") {
				// A forward admits one whole remote host, no port or prefix.
				out.problem = PCP_UNSUPP_OPTION;
				return out;
			}
			out.filters++;
			out.filter = address;
		}
		else if (code < 128) {
			// Anything else we must understand and do not.
			out.problem = PCP_UNSUPP_OPTION;
			return out;
		}
		at = next;
	}
	if (at !== b.length)
		out.problem = PCP_MALFORMED_OPTION;
	return out;
}

export interface PcpRequest {
	op: number;
	lifetime: number;
	/* the client address in the header ("" for zero, undefined for IPv6) */
	client: string | undefined;
}

export function pcpRequest(b: Uint8Array): PcpRequest {
	return { op: b[1] & 0x7f, lifetime: u32(b, 4), client: pcpAddress(b, 8) };
}

export interface PcpMapBody {
	nonce: Uint8Array;
	protocol: number;
	internalPort: number;
	suggestedPort: number;
	/* "" for no preference, undefined for IPv6 */
	suggestedAddress: string | undefined;
}

export function pcpMapBody(b: Uint8Array): PcpMapBody {
	const at = PCP_HEADER;
	return {
		nonce: b.slice(at, at + 12),
		protocol: b[at + 12],
		internalPort: u16(b, at + 16),
		suggestedPort: u16(b, at + 18),
		suggestedAddress: pcpAddress(b, at + 20),
	};
}

/* PEER: MAP's fields, then the remote peer's port and address. */
export interface PcpPeerBody extends PcpMapBody {
	remotePort: number;
	/* "" for zero, undefined for IPv6 */
	remoteAddress: string | undefined;
}

export function pcpPeerBody(b: Uint8Array): PcpPeerBody {
	const at = PCP_HEADER;
	return { ...pcpMapBody(b), remotePort: u16(b, at + 36), remoteAddress: pcpAddress(b, at + 40) };
}

/*
 * A PCP answer: the request's opcode with the R bit, the result, lifetime
 * and epoch, then the request's body (for MAP and PEER) with the assigned
 * external port and address written over the suggested ones when given.
 * Options are not echoed.
 */
export function pcpAnswer(request: Uint8Array, result: number, lifetime: number, epoch: number, assigned?: { port: number; address: string }): Uint8Array {
	const op = request.length > 1 ? request[1] & 0x7f : 0;
	const body = op === PCP_OP_MAP ? PCP_MAP_BODY : op === PCP_OP_PEER ? PCP_PEER_BODY : 0;
	const copy = request.length >= PCP_HEADER + body ? body : 0;
	const b = new Uint8Array(PCP_HEADER + copy);
	b[0] = PCP_VERSION;
	b[1] = 0x80 | op;
	b[3] = result;
	put32(b, 4, lifetime);
	put32(b, 8, epoch);
	if (copy) {
		b.set(request.subarray(PCP_HEADER, PCP_HEADER + copy), PCP_HEADER);
		if (assigned) {
			put16(b, PCP_HEADER + 18, assigned.port);
			putPcpAddress(b, PCP_HEADER + 20, assigned.address);
		}
	}
	return b;
}

/* An unsolicited ANNOUNCE answer (RFC 6887 14.1.3). */
export function pcpAnnounce(epoch: number): Uint8Array {
	const b = new Uint8Array(PCP_HEADER);
	b[0] = PCP_VERSION;
	b[1] = 0x80 | PCP_OP_ANNOUNCE;
	put32(b, 8, epoch);
	return b;
}

export function hex(bytes: Uint8Array): string {
	let s = "";
	for (let i = 0; i < bytes.length; i++)
		s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
	return s;
}
