/*
 * DHCP messages (RFC 2131 section 2, options RFC 2132): reading a client's
 * request and building our reply. A request is read in full before anything
 * trusts it: every length is checked against the bytes that are there, and
 * whatever is wrong gives a reason (counted by the server) instead of a
 * throw. Options split over several instances are joined (RFC 3396), and
 * overloaded file and sname fields (option 52) are read once each, so an
 * overload option inside them cannot loop.
 */

export const SERVER_PORT = 67;
export const CLIENT_PORT = 68;

/* Message types (option 53). */
export const DISCOVER = 1;
export const OFFER = 2;
export const REQUEST = 3;
export const DECLINE = 4;
export const ACK = 5;
export const NAK = 6;
export const RELEASE = 7;
export const INFORM = 8;

/* Option codes. */
export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_HOSTNAME = 12;
export const OPT_DOMAIN = 15;
export const OPT_BROADCAST = 28;
export const OPT_REQUESTED = 50;
export const OPT_LEASE = 51;
export const OPT_OVERLOAD = 52;
export const OPT_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_PARAMS = 55;
export const OPT_MESSAGE = 56;
export const OPT_MAX_SIZE = 57;
export const OPT_T1 = 58;
export const OPT_T2 = 59;
export const OPT_CLIENT_ID = 61;
export const OPT_END = 255;

/* The fixed BOOTP part, then the magic cookie. */
const FIXED = 236;
const COOKIE = [99, 130, 83, 99];
const OPTIONS_AT = FIXED + COOKIE.length;
const SNAME_AT = 44, SNAME_LEN = 64;
const FILE_AT = 108, FILE_LEN = 128;
/* Longer is no request of ours: real ones are a few hundred bytes. */
export const MAX_REQUEST = 1500;
/* RFC 2131: a client must accept 576-byte IP datagrams; less IP and UDP headers. */
const MIN_MAX_SIZE = 576;
const IP_UDP = 28;
/* BOOTP's minimum: some clients drop shorter replies. */
const MIN_REPLY = 300;

export const BROADCAST_FLAG = 0x8000;

export interface Request {
	xid: number;
	flags: number;
	ciaddr: number;
	giaddr: number;
	/* the 16-byte chaddr field as it came, echoed in the reply */
	chaddr: Uint8Array;
	mac: string;
	/* option 53 */
	type: number;
	options: Map<number, Uint8Array>;
}

function u32(b: Uint8Array, at: number): number {
	return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

function hex2(n: number): string {
	return (n < 16 ? "0" : "") + n.toString(16);
}

export function macText(bytes: Uint8Array): string {
	const parts: string[] = [];
	for (let i = 0; i < 6; i++)
		parts.push(hex2(bytes[i]));
	return parts.join(":");
}

export function hexText(bytes: Uint8Array): string {
	let text = "";
	for (const b of bytes)
		text += hex2(b);
	return text;
}

/* Options of one area into `into`, joining repeats; a reason when the area is malformed. */
function readOptions(b: Uint8Array, start: number, end: number, into: Map<number, Uint8Array>, main: boolean): string | undefined {
	let i = start;
	while (i < end) {
		const code = b[i];
		if (code === OPT_PAD) {
			i++;
			continue;
		}
		if (code === OPT_END)
			return undefined;
		if (i + 1 >= end)
			return `option ${code} has no length`;
		const length = b[i + 1];
		if (i + 2 + length > end)
			return `option ${code} runs past its field (${length} bytes)`;
		if (code === OPT_OVERLOAD && !main)
			return "option overload inside an overloaded field";
		const value = b.subarray(i + 2, i + 2 + length);
		const before = into.get(code);
		if (before) {
			if (code === OPT_OVERLOAD)
				return "option overload given twice";
			const joined = new Uint8Array(before.length + value.length);
			joined.set(before);
			joined.set(value, before.length);
			into.set(code, joined);
		}
		else
			into.set(code, value);
		i += 2 + length;
	}
	// The options field may end without an end option; sname and file may not be cut short either way.
	return undefined;
}

/* A client's request, or why it is not one we read. */
export function parseRequest(buffer: ArrayBuffer): Request | string {
	if (buffer.byteLength < OPTIONS_AT)
		return `short (${buffer.byteLength} bytes)`;
	if (buffer.byteLength > MAX_REQUEST)
		return `long (${buffer.byteLength} bytes)`;
	const b = new Uint8Array(buffer);
	if (b[0] !== 1)
		return `op ${b[0]} is not a request`;
	if (b[1] !== 1 || b[2] !== 6)
		return `hardware type ${b[1]} length ${b[2]} (only Ethernet)`;
	for (let i = 0; i < COOKIE.length; i++)
		if (b[FIXED + i] !== COOKIE[i])
			return "no DHCP magic cookie";
	const options = new Map<number, Uint8Array>();
	let problem = readOptions(b, OPTIONS_AT, b.length, options, true);
	if (problem)
		return problem;
	const overload = options.get(OPT_OVERLOAD);
	if (overload) {
		if (overload.length !== 1 || overload[0] < 1 || overload[0] > 3)
			return "bad option overload";
		// RFC 2131 4.1: the file field first, then sname.
		if (overload[0] & 1)
			problem = readOptions(b, FILE_AT, FILE_AT + FILE_LEN, options, false);
		if (!problem && overload[0] & 2)
			problem = readOptions(b, SNAME_AT, SNAME_AT + SNAME_LEN, options, false);
		if (problem)
			return problem;
	}
	const type = options.get(OPT_TYPE);
	if (!type || type.length !== 1)
		return type ? "bad message type option" : "no message type (BOOTP)";
	const chaddr = b.slice(28, 44);
	return {
		xid: u32(b, 4),
		flags: (b[10] << 8) | b[11],
		ciaddr: u32(b, 12),
		giaddr: u32(b, 24),
		chaddr,
		mac: macText(chaddr),
		type: type[0],
		options,
	};
}

/* An option's value as one IPv4 address, when it is exactly that. */
export function optionAddress(options: Map<number, Uint8Array>, code: number): number | undefined {
	const v = options.get(code);
	return v && v.length === 4 ? u32(v, 0) : undefined;
}

export function optionU16(options: Map<number, Uint8Array>, code: number): number | undefined {
	const v = options.get(code);
	return v && v.length === 2 ? (v[0] << 8) | v[1] : undefined;
}

export function addressBytes(...addresses: number[]): Uint8Array {
	const out = new Uint8Array(addresses.length * 4);
	addresses.forEach((a, i) => {
		out[i * 4] = a >>> 24;
		out[i * 4 + 1] = (a >>> 16) & 255;
		out[i * 4 + 2] = (a >>> 8) & 255;
		out[i * 4 + 3] = a & 255;
	});
	return out;
}

export function u32Bytes(n: number): Uint8Array {
	return addressBytes(n >>> 0);
}

export function asciiBytes(text: string): Uint8Array {
	const out = new Uint8Array(text.length);
	for (let i = 0; i < text.length; i++)
		out[i] = text.charCodeAt(i) & 0x7f;
	return out;
}

export interface Reply {
	type: number;
	ciaddr: number;
	yiaddr: number;
	/* in order; the first `required` always go, the rest while they fit */
	options: [number, Uint8Array][];
	required: number;
}

/*
 * A reply to `request` as bytes: BOOTREPLY with the request's xid, flags,
 * giaddr and chaddr, our options, padded to BOOTP's 300 bytes. Options that
 * would take it past what the client accepts (option 57, at least 576) are
 * left out, the required ones never.
 */
export function buildReply(request: Request, reply: Reply): Uint8Array {
	const asked = optionU16(request.options, OPT_MAX_SIZE);
	const limit = Math.max(MIN_MAX_SIZE, asked ?? 0) - IP_UDP;
	const options: [number, Uint8Array][] = [[OPT_TYPE, Uint8Array.of(reply.type)]];
	let size = OPTIONS_AT + 3 + 1;   // type and end
	reply.options.forEach(([code, value], index) => {
		// Each value fits one option: ours are all short.
		const length = 2 + Math.min(value.length, 255);
		if (index >= reply.required && size + length > limit)
			return;
		options.push([code, value.subarray(0, 255)]);
		size += length;
	});
	const out = new Uint8Array(Math.max(MIN_REPLY, size));
	out[0] = 2;
	out[1] = 1;
	out[2] = 6;
	out.set(u32Bytes(request.xid), 4);
	out[10] = request.flags >>> 8;
	out[11] = request.flags & 255;
	out.set(u32Bytes(reply.ciaddr), 12);
	out.set(u32Bytes(reply.yiaddr), 16);
	out.set(u32Bytes(request.giaddr), 24);
	out.set(request.chaddr, 28);
	out.set(COOKIE, FIXED);
	let at = OPTIONS_AT;
	for (const [code, value] of options) {
		out[at] = code;
		out[at + 1] = value.length;
		out.set(value, at + 2);
		at += 2 + value.length;
	}
	out[at] = OPT_END;
	return out;
}
