/*
 * DNS messages as the forwarder handles them (RFC 1035, RFC 6891): a
 * client's query read and checked, the query sent upstream rebuilt from it,
 * an upstream answer walked record by record before anything of it is
 * trusted, and the short answers the forwarder makes itself (FORMERR,
 * SERVFAIL, a truncated answer). Every read is bounds-checked and every
 * name walk is bounded (backward pointers only, a hop cap, 255 bytes), so a
 * hostile message costs a few hundred steps at most and never throws.
 */

export const HEADER = 12;
/* RCODEs */
export const NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5;
const TYPE_SOA = 6, TYPE_OPT = 41, TYPE_IXFR = 251, TYPE_AXFR = 252;
/* Flag bits of the header's third and fourth bytes, as one 16-bit word. */
const QR = 0x8000, TC = 0x0200, RD = 0x0100, RA = 0x0080, CD = 0x0010;
const OPCODE_MASK = 0x7800;
/* The UDP size a client without EDNS may be sent (RFC 1035 4.2.1). */
export const PLAIN_UDP = 512;
/* What the forwarder says it takes over UDP, in the OPT of answers it makes (RFC 9715's advice). */
const OUR_UDP = 1232;
const MAX_NAME = 255;
/* Pointer hops in one name: far more than any real message uses. */
const MAX_HOPS = 32;

/* A question as the forwarder keys and matches it. */
export interface Question {
	/* the name in wire form without compression, as the client wrote it (its letter case) */
	wire: Uint8Array;
	/* the same, lower case, as text (one char per byte): the cache key's name */
	lower: string;
	qtype: number;
	qclass: number;
}

export interface Query {
	id: number;
	/* the flags word as the client sent it */
	flags: number;
	question: Question;
	/* the client's EDNS OPT record, raw (its owner is the root, its RDATA has no names); undefined without EDNS */
	opt: Uint8Array | undefined;
	/* the largest answer the client takes over UDP */
	udpSize: number;
}

/* What reading a client's message came to. */
export type QueryResult =
	| { kind: "query"; query: Query }
	/* an answer the forwarder makes at once: FORMERR, NOTIMP, REFUSED */
	| { kind: "refuse"; reply: Uint8Array }
	/* not worth an answer: too short to carry an id, or not a query (QR set) */
	| { kind: "drop" };

/* An upstream answer that matched its question and passed every check. */
export interface Answer {
	rcode: number;
	truncated: boolean;
	/* offsets of every record's TTL (not OPT's): what a cached copy counts down */
	ttlOffsets: number[];
	/* seconds the answer may be kept: 0 for never */
	ttl: number;
	/* whether it is a negative answer (NXDOMAIN or no data) */
	negative: boolean;
}

function u16(m: Uint8Array, at: number): number {
	return (m[at] << 8) | m[at + 1];
}

function u32(m: Uint8Array, at: number): number {
	return ((m[at] << 24) >>> 0) + (m[at + 1] << 16) + (m[at + 2] << 8) + m[at + 3];
}

export function put16(m: Uint8Array, at: number, value: number): void {
	m[at] = (value >>> 8) & 0xff;
	m[at + 1] = value & 0xff;
}

export function put32(m: Uint8Array, at: number, value: number): void {
	m[at] = (value >>> 24) & 0xff;
	m[at + 1] = (value >>> 16) & 0xff;
	m[at + 2] = (value >>> 8) & 0xff;
	m[at + 3] = value & 0xff;
}

export function messageId(m: Uint8Array): number {
	return u16(m, 0);
}

/*
 * Walk the name at `at`: returns the offset just after it where it was
 * written (after the pointer, if it has one), or -1 when it is malformed: it
 * runs off the end, uses the reserved label types, points forward or into
 * the header (how loops are made), hops too often, or is over 255 bytes.
 * With `out`, the labels are also collected (uncompressed wire form).
 */
function walkName(m: Uint8Array, at: number, out?: number[]): number {
	let pos = at, after = -1, hops = 0, length = 1;
	for (;;) {
		if (pos >= m.length)
			return -1;
		const b = m[pos];
		if (b === 0) {
			out?.push(0);
			return after >= 0 ? after : pos + 1;
		}
		if ((b & 0xc0) === 0xc0) {
			if (pos + 1 >= m.length)
				return -1;
			const target = ((b & 0x3f) << 8) | m[pos + 1];
			// Only backward, and never into the header: a chain of pointers then always ends.
			if (target >= pos || target < HEADER || ++hops > MAX_HOPS)
				return -1;
			if (after < 0)
				after = pos + 2;
			pos = target;
			continue;
		}
		if (b & 0xc0)
			return -1;   // 0x40 and 0x80: extended and reserved label types
		length += b + 1;
		if (length > MAX_NAME || pos + 1 + b > m.length)
			return -1;
		if (out)
			for (let i = pos; i <= pos + b; i++)
				out.push(m[i]);
		pos += b + 1;
	}
}

function lowerText(wire: Uint8Array): string {
	let text = "";
	for (const b of wire)
		text += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
	return text;
}

/* Whether two uncompressed names are the same, letter case aside. */
export function sameName(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length)
		return false;
	for (let i = 0; i < a.length; i++) {
		const x = a[i] >= 0x41 && a[i] <= 0x5a ? a[i] + 0x20 : a[i];
		const y = b[i] >= 0x41 && b[i] <= 0x5a ? b[i] + 0x20 : b[i];
		if (x !== y)
			return false;
	}
	return true;
}

/* The question at HEADER: it and where it ends, or undefined when malformed. */
function readQuestion(m: Uint8Array): { question: Question; end: number } | undefined {
	const labels: number[] = [];
	const next = walkName(m, HEADER, labels);
	if (next < 0 || next + 4 > m.length)
		return undefined;
	const wire = Uint8Array.from(labels);
	return { question: { wire, lower: lowerText(wire), qtype: u16(m, next), qclass: u16(m, next + 2) }, end: next + 4 };
}

/* One resource record's parts, or undefined when it runs off the end. */
interface Rr {
	type: number;
	/* where its TTL and RDATA are */
	ttlAt: number;
	rdataAt: number;
	end: number;
}

function readRecord(m: Uint8Array, at: number): Rr | undefined {
	const next = walkName(m, at);
	if (next < 0 || next + 10 > m.length)
		return undefined;
	const rdataAt = next + 10;
	const end = rdataAt + u16(m, next + 8);
	return end <= m.length ? { type: u16(m, next), ttlAt: next + 4, rdataAt, end } : undefined;
}

/* A header and the question, and nothing else yet: the start of every answer the forwarder makes. */
function replyHead(id: number, flags: number, rcode: number, question: Question | undefined, extra: number): Uint8Array {
	const size = HEADER + (question ? question.wire.length + 4 : 0);
	const m = new Uint8Array(size + extra);
	put16(m, 0, id);
	// QR, the client's opcode and RD and CD; RA: we recurse for it
	put16(m, 2, QR | (flags & (OPCODE_MASK | RD | CD)) | RA | (rcode & 0xf));
	if (question) {
		put16(m, 4, 1);
		m.set(question.wire, HEADER);
		put16(m, HEADER + question.wire.length, question.qtype);
		put16(m, HEADER + question.wire.length + 2, question.qclass);
	}
	return m;
}

/* An OPT record saying what we take over UDP (RFC 6891 6.1.2): for answers to EDNS clients. */
function putOpt(m: Uint8Array, at: number): void {
	m[at] = 0;   // the root
	put16(m, at + 1, TYPE_OPT);
	put16(m, at + 3, OUR_UDP);
	// extended RCODE, version 0, no flags, no options: all zero
}
const OPT_SIZE = 11;

/*
 * An answer with only a header and the question, made here: SERVFAIL when
 * no upstream server answered, FORMERR and the like for what we refuse, and
 * TC for an answer too big for the client's UDP size.
 */
export function shortAnswer(query: Query, rcode: number, truncated = false): Uint8Array {
	const m = replyHead(query.id, query.flags, rcode, query.question, query.opt ? OPT_SIZE : 0);
	if (truncated)
		m[2] |= TC >> 8;
	if (query.opt) {
		put16(m, 10, 1);
		putOpt(m, m.length - OPT_SIZE);
	}
	return m;
}

/*
 * A client's message: a query to forward, something to refuse at once, or
 * something to drop. Refused: QDCOUNT other than 1, a malformed name or
 * record, answer records in a query (FORMERR); another opcode (NOTIMP);
 * zone transfers, which a forwarder relaying one message cannot carry
 * (REFUSED).
 */
export function readQuery(m: Uint8Array): QueryResult {
	if (m.length < HEADER)
		return { kind: "drop" };
	const id = u16(m, 0), flags = u16(m, 2);
	if (flags & QR)
		return { kind: "drop" };   // an answer sent to us: answering it could start a loop
	const formerr = (): QueryResult => ({ kind: "refuse", reply: replyHead(id, flags, FORMERR, undefined, 0) });
	if ((flags & OPCODE_MASK) !== 0)
		return { kind: "refuse", reply: replyHead(id, flags, NOTIMP, undefined, 0) };
	if (u16(m, 4) !== 1 || u16(m, 6) !== 0 || u16(m, 8) !== 0)
		return formerr();
	const read = readQuestion(m);
	if (!read)
		return formerr();
	let at = read.end, opt: Uint8Array | undefined, udpSize = PLAIN_UDP;
	const additional = u16(m, 10);
	for (let i = 0; i < additional; i++) {
		const r = readRecord(m, at);
		if (!r)
			return formerr();
		if (r.type === TYPE_OPT) {
			// one OPT, owned by the root (RFC 6891 6.1.1)
			if (opt || m[at] !== 0)
				return formerr();
			opt = m.slice(at, r.end);
			udpSize = Math.max(PLAIN_UDP, u16(m, at + 3));
		}
		at = r.end;
	}
	const query: Query = { id, flags, question: read.question, opt, udpSize };
	if (query.question.qtype === TYPE_AXFR || query.question.qtype === TYPE_IXFR)
		return { kind: "refuse", reply: shortAnswer(query, REFUSED) };
	return { kind: "query", query };
}

/*
 * The query that goes upstream for a client's: made anew from what was read
 * (the question uncompressed, the client's OPT if it had one, nothing else),
 * so that no byte the checks did not look at is passed on. The id is set
 * per attempt.
 */
export function upstreamQuery(query: Query): Uint8Array {
	const q = query.question;
	const opt = query.opt;
	const m = new Uint8Array(HEADER + q.wire.length + 4 + (opt ? opt.length : 0));
	put16(m, 2, query.flags & (RD | CD | 0x0020));   // RD, CD, AD (RFC 6840 5.7)
	put16(m, 4, 1);
	m.set(q.wire, HEADER);
	put16(m, HEADER + q.wire.length, q.qtype);
	put16(m, HEADER + q.wire.length + 2, q.qclass);
	if (opt) {
		put16(m, 10, 1);
		m.set(opt, HEADER + q.wire.length + 4);
	}
	return m;
}

/* TTLs with the top bit set count as zero (RFC 2181 8). */
function ttlAt(m: Uint8Array, at: number): number {
	const ttl = u32(m, at);
	return ttl > 0x7fffffff ? 0 : ttl;
}

/*
 * An upstream answer checked against the question it must answer: QR set,
 * a standard query, exactly that question (letter case aside), and every
 * record whole. Undefined when any of that fails: the datagram is dropped.
 * The TTL it may be cached for is the smallest of its records'; a negative
 * answer (NXDOMAIN, or no records of the type) is kept for its SOA's
 * minimum (RFC 2308 5), and not at all without an SOA.
 */
export function readAnswer(m: Uint8Array, question: Question): Answer | undefined {
	if (m.length < HEADER)
		return undefined;
	const flags = u16(m, 2);
	if (!(flags & QR) || (flags & OPCODE_MASK) !== 0 || u16(m, 4) !== 1)
		return undefined;
	const read = readQuestion(m);
	if (!read || read.question.qtype !== question.qtype || read.question.qclass !== question.qclass || !sameName(read.question.wire, question.wire))
		return undefined;
	const rcode = flags & 0xf;
	const counts = [u16(m, 6), u16(m, 8), u16(m, 10)];
	const ttlOffsets: number[] = [];
	let at = read.end, ttl = Infinity, soaTtl = Infinity;
	for (let section = 0; section < 3; section++)
		for (let i = 0; i < counts[section]; i++) {
			const r = readRecord(m, at);
			if (!r)
				return undefined;
			if (r.type !== TYPE_OPT) {
				ttlOffsets.push(r.ttlAt);
				ttl = Math.min(ttl, ttlAt(m, r.ttlAt));
			}
			if (section === 1 && r.type === TYPE_SOA) {
				// MNAME, RNAME, then five 32-bit numbers: MINIMUM is the last
				const mname = walkName(m, r.rdataAt);
				const rname = mname < 0 ? -1 : walkName(m, mname);
				if (rname < 0 || rname + 20 !== r.end)
					return undefined;
				soaTtl = Math.min(soaTtl, ttlAt(m, r.ttlAt), ttlAt(m, rname + 16));
			}
			at = r.end;
		}
	const negative = rcode === NXDOMAIN || (rcode === NOERROR && counts[0] === 0);
	let keep = 0;
	if (negative)
		keep = soaTtl === Infinity ? 0 : Math.min(soaTtl, ttl);
	else if (rcode === NOERROR)
		keep = ttl === Infinity ? 0 : ttl;
	return { rcode, truncated: (flags & TC) !== 0, ttlOffsets, ttl: keep, negative };
}

/*
 * The upstream answer as the client gets it: its id, its RD bit, and its
 * question as it wrote it (same name, so same length: every offset in the
 * rest stays right; a resolver checking the letter case of its question, as
 * with 0x20 randomization, finds its own).
 */
export function forClient(answer: Uint8Array, query: Query): Uint8Array {
	const m = answer.slice();
	put16(m, 0, query.id);
	m[2] = (m[2] & ~(RD >> 8)) | ((query.flags & RD) >> 8);
	m.set(query.question.wire, HEADER);
	return m;
}

/* An answer over a client's UDP size: the header and question with TC set (RFC 2181 9), so it asks again over TCP. */
export function fitUdp(answer: Uint8Array, query: Query): Uint8Array {
	if (answer.length <= query.udpSize)
		return answer;
	const m = shortAnswer(query, answer[3] & 0xf, true);
	// the upstream header's AA, RA and AD go along
	m[2] |= answer[2] & 0x04;
	m[3] = (m[3] & ~0xa0) | (answer[3] & 0xa0);
	return m;
}

/* Whether the answer's TC bit is set. */
export function isTruncated(m: Uint8Array): boolean {
	return m.length >= HEADER && (m[2] & (TC >> 8)) !== 0;
}

/* Count every TTL at `offsets` down by `seconds` (not below zero). */
export function ageTtls(m: Uint8Array, offsets: readonly number[], seconds: number): void {
	for (const at of offsets)
		put32(m, at, Math.max(0, ttlAt(m, at) - seconds));
}

/* The question's name as text for the console: "www.example.com." */
export function nameText(wire: Uint8Array): string {
	let text = "", at = 0;
	while (at < wire.length && wire[at] !== 0) {
		const n = wire[at];
		for (let i = at + 1; i <= at + n && i < wire.length; i++) {
			const b = wire[i];
			text += b > 0x20 && b < 0x7f && b !== 0x2e && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, "0")}`;
		}
		text += ".";
		at += n + 1;
	}
	return text || ".";
}
