/*
 * The DNS forwarder on the LAN address: LAN hosts ask it (UDP and TCP port
 * 53), it answers from its cache or relays the question to the WAN's DNS
 * servers and the answer back.
 *
 * Never open on the WAN: the UDP socket is tied to the LAN port and bound
 * to the LAN address, the listener bound to the LAN address, and a TCP
 * client from off the LAN subnet is cut at once. (NAPT sees neither as the
 * router's own on the WAN address, so a query there is unsolicited and
 * dropped without an answer.)
 *
 * Upstream, a spoofed answer must guess a lot: each attempt goes from one of
 * a few UDP sockets tied to the WAN port, each on a random port and
 * replaced by another after a few dozen queries, with a random id, and only
 * an answer from the server asked, to that socket, with that id and that
 * question is taken; anything else is dropped and counted. The same
 * question asked twice while the first is on its way waits for the first
 * (so a spoofer gets one chance per question, not one per client query).
 *
 * Everything is bounded: questions in flight (each with its clients), the
 * time each may take (UDP 2 s per attempt, the next server after that,
 * SERVFAIL when none answered), TCP connections both ways, message sizes,
 * and the cache (dns-cache.ts).
 */
import { PortUdp as Udp } from "net/port-udp";
import type { Datagram, PortUdpSocket as UdpSocket } from "net/port-udp";
import Listener from "embedded:io/socket/listener";
import TCP from "embedded:io/socket/tcp";
import Net from "net";
import Platform from "platform";
import Timer from "timer";
import type { Router } from "router";
import { parseAddress, sameSubnet } from "net/ipv4";
import { DnsCache } from "lan/dns-cache";
import {
	NOERROR, NXDOMAIN, REFUSED, SERVFAIL, forClient, fitUdp, messageId, put16, readAnswer, readQuery, shortAnswer, upstreamQuery,
} from "lan/dns-message";
import type { Answer, Query, Question } from "lan/dns-message";

const PORT = 53;
/* Questions on their way upstream at once (each holds about 1 KB of XS heap with its waiters), and clients waiting on one question. */
export const MAX_INFLIGHT = 8;
const MAX_WAITERS = 8;
/* Milliseconds an attempt has before the next server is asked: UDP, and TCP (a connection first). */
const UDP_TIMEOUT = 2000;
const TCP_TIMEOUT = 4000;
/* However the attempts went, a client has its answer (maybe SERVFAIL) within this. */
const MAX_LIFETIME = 8000;
/* Upstream UDP sockets, and the queries each carries before it is replaced by one on a new random port. */
const SLOTS = 4;
const ROTATE = 32;
/* TCP: connections from LAN clients and to servers, and a client connection's idle time. */
const MAX_CLIENT_TCP = 4;
/* Of those, one LAN host's at most: a host holding its share open leaves the others theirs. */
const MAX_CLIENT_TCP_PER_HOST = 2;
/* A client's first query must come within this (ms): a connection is not a place to wait. */
const CLIENT_FIRST = 3000;
const MAX_UPSTREAM_TCP = 4;
const CLIENT_IDLE = 10000;
/* Queries one TCP client may have waiting at once. */
const MAX_CLIENT_OUTSTANDING = 8;
/* The largest query taken over TCP, and the largest answer taken from a server over TCP. */
const MAX_TCP_QUERY = 4096;
const MAX_TCP_ANSWER = 16384;
const TICK = 100;
/* How often expired cache entries are swept out. */
const SWEEP = 10000;

export interface DnsCounters {
	/* messages from clients, over UDP and TCP */
	queries: number;
	tcpQueries: number;
	cacheHits: number;
	/* attempts sent upstream (each retry counts) */
	forwarded: number;
	/* answers sent to clients, and how many of them were SERVFAIL */
	answered: number;
	servfail: number;
	/* attempts that got no answer in time */
	timeouts: number;
	/* truncated UDP answers asked again over TCP */
	tcpFallbacks: number;
	/* client messages refused (FORMERR, NOTIMP, REFUSED) or dropped */
	malformed: number;
	/* questions refused because the table (or a question's client list) was full */
	tableFull: number;
	/* upstream datagrams that matched nothing in flight, or were malformed */
	ignored: number;
}

function newCounters(): DnsCounters {
	return {
		queries: 0, tcpQueries: 0, cacheHits: 0, forwarded: 0, answered: 0, servfail: 0, timeouts: 0, tcpFallbacks: 0,
		malformed: 0, tableFull: 0, ignored: 0,
	};
}

type SimListener = Listener & { close(): void };

/* An upstream UDP socket. */
interface Slot {
	socket: UdpSocket | undefined;
	port: number;
	/* attempts sent from it since it was opened, and those whose question is still in flight */
	uses: number;
	inflight: number;
}

/* A client waiting for an answer: over UDP (its address and port) or on a TCP connection. */
interface Waiter {
	query: Query;
	address: string;
	port: number;
	conn: ClientConn | undefined;
}

/* One try at a server: the socket it went from (UDP) and its id. */
interface Attempt {
	server: string;
	slot: Slot | undefined;
	id: number;
	/* its key in the forwarder's index (UDP) */
	index: string;
}

/* A question in flight. */
interface Pending {
	key: string;
	question: Question;
	/* the query as it goes upstream; each attempt sets its own id */
	template: Uint8Array;
	waiters: Waiter[];
	servers: string[];
	tries: number;
	maxTries: number;
	attempts: Attempt[];
	/* when the current attempt has had its time; when the whole question has */
	deadline: number;
	end: number;
	/* ask over TCP: the client did, or a UDP answer came truncated */
	tcp: boolean;
	upstream: UpstreamConn | undefined;
	/* a truncated UDP answer, relayed (TC set) if TCP gets nothing better */
	truncated: Uint8Array | undefined;
}

/* What the connection classes call back into (no private methods on them: see modules/io/tcp.ts). */
interface Engine {
	counters: DnsCounters;
	clients: Set<ClientConn>;
	upstreams: Set<UpstreamConn>;
	query(message: Uint8Array, waiter: Omit<Waiter, "query">): void;
	upstreamDone(conn: UpstreamConn, message: Uint8Array | undefined): void;
	arm(): void;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
	if (!a.length)
		return b;
	const out = new Uint8Array(a.length + b.length);
	out.set(a);
	out.set(b, a.length);
	return out;
}

/* A message with its two-byte length in front, as DNS over TCP carries it (RFC 1035 4.2.2). */
function framed(message: Uint8Array): Uint8Array {
	const out = new Uint8Array(message.length + 2);
	put16(out, 0, message.length);
	out.set(message, 2);
	return out;
}

function readAll(socket: TCP): Uint8Array {
	let data: Uint8Array = new Uint8Array(0);
	for (let i = 0; i < 64; i++) {
		const chunk = socket.read() as ArrayBuffer | undefined;
		if (!chunk || !chunk.byteLength)
			break;
		data = concat(data, new Uint8Array(chunk));
	}
	return data;
}

function quietClose(socket: TCP | undefined): void {
	if (!socket)
		return;
	try {
		// read what is left, so the close is a FIN and not a reset
		for (let i = 0; i < 64 && socket.read(); i++)
			;
		socket.close();
	}
	catch {
		// already gone
	}
}

/* A LAN client's TCP connection: length-prefixed queries in, answers out in any order (RFC 7766 6.2.1.1). */
class ClientConn {
	engine: Engine;
	socket: TCP | undefined;
	address: string;
	port: number;
	input: Uint8Array = new Uint8Array(0);
	output: Uint8Array[] = [];
	written = 0;
	room = 0;
	outstanding = 0;
	peerClosed = false;
	deadline: number;

	constructor(engine: Engine, address: string, port: number) {
		this.engine = engine;
		this.address = address;
		this.port = port;
		this.deadline = Date.now() + CLIENT_FIRST;
	}

	readable(): void {
		if (!this.socket)
			return;
		this.input = concat(this.input, readAll(this.socket));
		while (this.isOpen() && this.input.length >= 2) {
			const length = (this.input[0] << 8) | this.input[1];
			if (length > MAX_TCP_QUERY || length < 12) {
				this.engine.counters.malformed++;
				this.close();
				return;
			}
			if (this.input.length < 2 + length)
				return;
			const message = this.input.slice(2, 2 + length);
			this.input = this.input.slice(2 + length);
			this.deadline = Date.now() + CLIENT_IDLE;
			if (this.outstanding >= MAX_CLIENT_OUTSTANDING) {
				this.engine.counters.tableFull++;
				continue;
			}
			this.engine.query(message, { address: this.address, port: this.port, conn: this });
		}
	}

	isOpen(): boolean {
		return this.socket !== undefined;
	}

	send(message: Uint8Array): void {
		if (!this.socket)
			return;
		this.output.push(framed(message));
		this.deadline = Date.now() + CLIENT_IDLE;
		this.flush();
	}

	writable(count: number): void {
		this.room = count;
		this.flush();
	}

	flush(): void {
		while (this.socket && this.room > 0 && this.output.length) {
			const head = this.output[0];
			const n = Math.min(this.room, head.length - this.written);
			this.socket.write(head.subarray(this.written, this.written + n));
			this.written += n;
			this.room -= n;
			if (this.written >= head.length) {
				this.output.shift();
				this.written = 0;
			}
		}
		if (this.peerClosed && !this.output.length && !this.outstanding)
			this.close();
	}

	/* The peer closed (or reset): answers still owed go out first, if they can. */
	error(): void {
		this.peerClosed = true;
		this.flush();
	}

	/* Idle, or its answers are written and nothing is owed. */
	tick(now: number): void {
		if (now >= this.deadline && !this.outstanding)
			this.close();
	}

	close(): void {
		const socket = this.socket;
		this.socket = undefined;
		this.output = [];
		this.input = new Uint8Array(0);
		this.engine.clients.delete(this);
		quietClose(socket);
	}
}

/* A query to a server over TCP: one message out, one back, then closed. */
class UpstreamConn {
	engine: Engine;
	socket: TCP | undefined;
	server: string;
	id: number;
	out: Uint8Array;
	written = 0;
	input: Uint8Array = new Uint8Array(0);
	done = false;

	constructor(engine: Engine, server: string, id: number, query: Uint8Array) {
		this.engine = engine;
		this.server = server;
		this.id = id;
		this.out = framed(query);
	}

	writable(count: number): void {
		if (this.done || !this.socket)
			return;
		const n = Math.min(count, this.out.length - this.written);
		if (n > 0) {
			this.socket.write(this.out.subarray(this.written, this.written + n));
			this.written += n;
		}
	}

	readable(): void {
		if (this.done || !this.socket)
			return;
		this.input = concat(this.input, readAll(this.socket));
		if (this.input.length < 2)
			return;
		const length = (this.input[0] << 8) | this.input[1];
		if (length > MAX_TCP_ANSWER || length < 12) {
			this.finish(undefined);
			return;
		}
		if (this.input.length >= 2 + length)
			this.finish(this.input.slice(2, 2 + length));
	}

	error(): void {
		this.finish(undefined);
	}

	finish(message: Uint8Array | undefined): void {
		if (this.done)
			return;
		this.done = true;
		this.close();
		this.engine.upstreamDone(this, message);
	}

	close(): void {
		this.done = true;
		const socket = this.socket;
		this.socket = undefined;
		this.input = new Uint8Array(0);
		this.engine.upstreams.delete(this);
		quietClose(socket);
	}
}

/* Socket callbacks shared by every connection: a socket's target is its connection. */
function clientOf(socket: TCP): ClientConn {
	return (socket as TCP & { target: ClientConn }).target;
}
function upstreamOf(socket: TCP): UpstreamConn {
	return (socket as TCP & { target: UpstreamConn }).target;
}
function guard(what: () => void, close: () => void): void {
	try {
		what();
	}
	catch {
		close();
	}
}
function clientReadable(this: TCP): void {
	const c = clientOf(this);
	guard(() => { c.readable(); }, () => { c.close(); });
}
function clientWritable(this: TCP, count: number): void {
	const c = clientOf(this);
	guard(() => { c.writable(count); }, () => { c.close(); });
}
function clientError(this: TCP): void {
	const c = clientOf(this);
	guard(() => { c.error(); }, () => { c.close(); });
}
function upstreamReadable(this: TCP): void {
	const u = upstreamOf(this);
	guard(() => { u.readable(); }, () => { u.finish(undefined); });
}
function upstreamWritable(this: TCP, count: number): void {
	const u = upstreamOf(this);
	guard(() => { u.writable(count); }, () => { u.finish(undefined); });
}
function upstreamError(this: TCP): void {
	const u = upstreamOf(this);
	guard(() => { u.error(); }, () => { u.finish(undefined); });
}

function random16(): number {
	return Platform.random() & 0xffff;
}

/* A port for an upstream socket: anywhere above the well-known ones. */
function randomPort(): number {
	return 1024 + (Platform.random() % (65536 - 1024));
}

export class DnsForwarder {
	readonly #router: Router;
	readonly counters: DnsCounters = newCounters();
	readonly cache: DnsCache;
	#udp: UdpSocket | undefined;
	#listener: SimListener | undefined;
	readonly #slots: Slot[] = [];
	/* questions in flight by cache key, and by where their UDP answers come ("<port>/<id>") */
	readonly #pending = new Map<string, Pending>();
	readonly #index = new Map<string, Pending>();
	#timer: Timer | undefined;
	#lastSweep = 0;
	#address = "";
	readonly #engine: Engine;

	constructor(router: Router) {
		this.#router = router;
		this.cache = new DnsCache(router.running.dns.cacheEntries);
		for (let i = 0; i < SLOTS; i++)
			this.#slots.push({ socket: undefined, port: 0, uses: 0, inflight: 0 });
		this.#engine = {
			counters: this.counters,
			clients: new Set(),
			upstreams: new Set(),
			query: (message, waiter) => { this.#query(message, waiter); },
			upstreamDone: (conn, message) => { this.#upstreamDone(conn, message); },
			arm: () => { this.#arm(); },
		};
	}

	get running(): boolean {
		return this.#udp !== undefined;
	}

	/* Where it listens ("" when it does not). */
	get address(): string {
		return this.running ? this.#address : "";
	}

	get inFlight(): number {
		return this.#pending.size;
	}

	get clientConnections(): number {
		return this.#engine.clients.size;
	}

	get upstreamConnections(): number {
		return this.#engine.upstreams.size;
	}

	/*
	 * Start if the configuration says so. Returns why it could not (port 53
	 * taken, no sockets left); then nothing of it is left open.
	 */
	start(): string | undefined {
		if (this.running || !this.#router.running.dns.enabled)
			return undefined;
		const address = this.#router.activeLan.address;
		try {
			this.#address = address;
			this.#udp = new Udp({
				port: PORT,
				address,
				interface: "lan",
				onReadable: (count) => { this.#lanReadable(count); },
			});
			const engine = this.#engine;
			const counters = this.counters;
			const lan = this.#router.activeLan;
			this.#listener = new Listener({
				address,
				port: PORT,
				onReadable(count) {
					for (let i = 0; i < count; i++) {
						let from: TCP | undefined;
						try {
							from = this.read();
							if (!from)
								break;
							admit(engine, counters, lan, from);
						}
						catch {
							quietClose(from);
						}
					}
				},
			}) as SimListener;
		}
		catch (e) {
			this.stop();
			return `dns: not started (${e instanceof Error ? e.message : String(e)})`;
		}
		return undefined;
	}

	/* Close everything; questions in flight are dropped unanswered, the cache emptied. */
	stop(): void {
		Timer.clear(this.#timer);
		this.#timer = undefined;
		try {
			this.#udp?.close();
		}
		catch {
			// already closed
		}
		this.#udp = undefined;
		try {
			this.#listener?.close();
		}
		catch {
			// already closed
		}
		this.#listener = undefined;
		for (const c of [...this.#engine.clients])
			c.close();
		for (const u of [...this.#engine.upstreams])
			u.close();
		this.#pending.clear();
		this.#index.clear();
		for (const slot of this.#slots) {
			this.#closeSlot(slot);
			slot.inflight = 0;
		}
		this.cache.clear();
	}

	/* The servers asked, in order: the WAN's, less any that could not be upstream (on the LAN, loopback, none). */
	servers(): string[] {
		const wan = Net.status("wan");
		if (wan.address === "0.0.0.0")
			return [];
		const lan = this.#router.activeLan;
		const l = parseAddress(lan.address);
		return wan.dns.filter((server) => {
			const s = parseAddress(server);
			if (!s.ok || !l.ok || s.value === 0 || (s.value >>> 24) === 127 || s.value >>> 0 === 0xffffffff)
				return false;
			return !sameSubnet(s.value, l.value, lan.prefix);
		});
	}

	#lanReadable(count: number): void {
		for (let i = 0; i < count; i++) {
			const datagram = this.#udp?.read();
			if (!datagram)
				return;
			if (datagram.port === 0)
				continue;
			try {
				this.#query(new Uint8Array(datagram), { address: datagram.address, port: datagram.port, conn: undefined });
			}
			catch {
				this.counters.malformed++;
			}
		}
	}

	#reply(waiter: Omit<Waiter, "query">, message: Uint8Array): void {
		if (waiter.conn)
			waiter.conn.send(message);
		else
			try {
				this.#udp?.write(message, waiter.address, waiter.port);
			}
			catch {
				return;
			}
		this.counters.answered++;
		if ((message[3] & 0xf) === SERVFAIL)
			this.counters.servfail++;
	}

	/* An answer to a client that waited in the table. */
	#deliver(waiter: Waiter, message: Uint8Array): void {
		if (waiter.conn)
			waiter.conn.outstanding--;
		this.#answerNow(waiter, waiter.query, message);
	}

	/* An answer to a client: whole over TCP, within its size over UDP. */
	#answerNow(to: Omit<Waiter, "query">, query: Query, message: Uint8Array): void {
		if (to.conn) {
			if (to.conn.socket)
				this.#reply(to, message);
			return;
		}
		this.#reply(to, fitUdp(message, query));
	}

	#query(message: Uint8Array, from: Omit<Waiter, "query">): void {
		const counters = this.counters;
		counters.queries++;
		if (from.conn)
			counters.tcpQueries++;
		const read = readQuery(message);
		if (read.kind === "drop") {
			counters.malformed++;
			return;
		}
		if (read.kind === "refuse") {
			counters.malformed++;
			this.#reply(from, read.reply);
			return;
		}
		const query = read.query;
		const q = query.question;
		const key = DnsCache.key(q.lower, q.qtype, q.qclass, {
			dnssec: query.opt !== undefined && (query.opt[7] & 0x80) !== 0,
			checkingDisabled: (query.flags & 0x0010) !== 0,
			recursion: (query.flags & 0x0100) !== 0,
		});
		const now = Date.now();
		const hit = this.cache.get(key, now);
		if (hit) {
			counters.cacheHits++;
			this.#answerNow(from, query, forClient(hit.answer, query));
			return;
		}
		const waiter: Waiter = { ...from, query };
		const pending = this.#pending.get(key);
		if (pending) {
			// A client asking again (same address, port and id) already waits; another client joins.
			if (pending.waiters.some((w) => !w.conn && !from.conn && w.address === from.address && w.port === from.port && w.query.id === query.id))
				return;
			if (pending.waiters.length >= MAX_WAITERS) {
				counters.tableFull++;
				this.#answerNow(from, query, shortAnswer(query, SERVFAIL));
				return;
			}
			pending.waiters.push(this.#count(waiter));
			return;
		}
		if (this.#pending.size >= MAX_INFLIGHT) {
			counters.tableFull++;
			this.#answerNow(from, query, shortAnswer(query, SERVFAIL));
			return;
		}
		const servers = this.servers();
		if (!servers.length) {
			this.#answerNow(from, query, shortAnswer(query, SERVFAIL));
			return;
		}
		const p: Pending = {
			key, question: q, template: upstreamQuery(query), waiters: [this.#count(waiter)],
			servers, tries: 0, maxTries: Math.max(2, servers.length), attempts: [],
			deadline: now, end: now + MAX_LIFETIME, tcp: from.conn !== undefined, upstream: undefined, truncated: undefined,
		};
		this.#pending.set(key, p);
		this.#attempt(p);
	}

	/* A TCP waiter counts against its connection's outstanding queries until answered. */
	#count(waiter: Waiter): Waiter {
		if (waiter.conn)
			waiter.conn.outstanding++;
		return waiter;
	}

	/* The next try: the next server, over TCP or from an upstream UDP socket, with a new id. */
	#attempt(p: Pending): void {
		for (let guardCount = 0; guardCount < 8; guardCount++) {
			const now = Date.now();
			if (p.tries >= p.maxTries || now >= p.end) {
				this.#fail(p);
				return;
			}
			const server = p.servers[p.tries % p.servers.length];
			p.tries++;
			if (p.tcp && this.#engine.upstreams.size < MAX_UPSTREAM_TCP) {
				if (this.#tcpAttempt(p, server, now))
					return;
				continue;
			}
			if (this.#udpAttempt(p, server, now))
				return;
		}
		this.#fail(p);
	}

	#udpAttempt(p: Pending, server: string, now: number): boolean {
		const slot = this.#slot();
		if (!slot?.socket)
			return false;
		let id = random16();
		for (let i = 0; i < 4 && this.#index.has(`${slot.port}/${id}`); i++)
			id = random16();
		const index = `${slot.port}/${id}`;
		if (this.#index.has(index))
			return false;
		const query = p.template.slice();
		put16(query, 0, id);
		try {
			slot.socket.write(query, server, PORT);
		}
		catch {
			return false;
		}
		slot.uses++;
		slot.inflight++;
		p.attempts.push({ server, slot, id, index });
		this.#index.set(index, p);
		p.deadline = Math.min(now + UDP_TIMEOUT, p.end);
		this.counters.forwarded++;
		this.#arm();
		return true;
	}

	#tcpAttempt(p: Pending, server: string, now: number): boolean {
		const id = random16();
		const query = p.template.slice();
		put16(query, 0, id);
		const conn = new UpstreamConn(this.#engine, server, id, query);
		try {
			conn.socket = new TCP({
				address: server, port: PORT, nodelay: true, target: conn,
				onReadable: upstreamReadable, onWritable: upstreamWritable, onError: upstreamError,
			});
		}
		catch {
			return false;
		}
		this.#engine.upstreams.add(conn);
		p.upstream = conn;
		p.attempts.push({ server, slot: undefined, id, index: "" });
		p.deadline = Math.min(now + TCP_TIMEOUT, p.end);
		this.counters.forwarded++;
		this.#arm();
		return true;
	}

	/*
	 * An upstream UDP socket for the next attempt: one chosen at random among
	 * those not yet used ROTATE times; one used up is replaced (new random
	 * port) once none of its attempts is in flight.
	 */
	#slot(): Slot | undefined {
		const fresh: Slot[] = [], reopenable: Slot[] = [];
		for (const slot of this.#slots) {
			if (slot.socket && slot.uses < ROTATE)
				fresh.push(slot);
			else if (!slot.inflight)
				reopenable.push(slot);
		}
		// Open another while there is room: queries spread over more ports.
		if (reopenable.length && fresh.length < SLOTS) {
			const slot = reopenable[Platform.random() % reopenable.length];
			if (this.#openSlot(slot))
				return slot;
		}
		if (fresh.length)
			return fresh[Platform.random() % fresh.length];
		// Every socket used up and busy: reuse one rather than fail.
		const open = this.#slots.filter((s) => s.socket);
		return open.length ? open[Platform.random() % open.length] : undefined;
	}

	#openSlot(slot: Slot): boolean {
		this.#closeSlot(slot);
		for (let i = 0; i < 8; i++) {
			try {
				const socket = new Udp({
					port: randomPort(),
					interface: "wan",
					onReadable: (count) => { this.#upstreamReadable(slot, socket, count); },
				});
				slot.socket = socket;
				slot.port = socket.port;
				slot.uses = 0;
				return true;
			}
			catch {
				// that port is taken (or no socket is free): another, a few times
			}
		}
		return false;
	}

	#closeSlot(slot: Slot): void {
		try {
			slot.socket?.close();
		}
		catch {
			// already closed
		}
		slot.socket = undefined;
	}

	#upstreamReadable(slot: Slot, socket: UdpSocket, count: number): void {
		for (let i = 0; i < count; i++) {
			const datagram = socket.read();
			if (!datagram)
				return;
			if (slot.socket !== socket)
				continue;
			try {
				this.#udpAnswer(slot, datagram);
			}
			catch {
				this.counters.ignored++;
			}
		}
	}

	#udpAnswer(slot: Slot, datagram: ArrayBuffer & Datagram): void {
		const m = new Uint8Array(datagram);
		const p = datagram.port === PORT && m.length >= 12 ? this.#index.get(`${slot.port}/${messageId(m)}`) : undefined;
		const attempt = p?.attempts.find((a) => a.slot === slot && a.id === messageId(m) && a.server === datagram.address);
		const answer = p && attempt ? readAnswer(m, p.question) : undefined;
		if (!p || !attempt || !answer) {
			this.counters.ignored++;
			return;
		}
		if (answer.truncated) {
			// The whole answer over TCP from the same server; the truncated one if that fails.
			this.counters.tcpFallbacks++;
			p.truncated = m;
			p.tcp = true;
			p.upstream?.close();
			p.upstream = undefined;
			if (this.#engine.upstreams.size >= MAX_UPSTREAM_TCP || !this.#tcpAttempt(p, attempt.server, Date.now()))
				this.#complete(p, m, answer);
			return;
		}
		this.#answered(p, m, answer);
	}

	#upstreamDone(conn: UpstreamConn, message: Uint8Array | undefined): void {
		let p: Pending | undefined;
		for (const candidate of this.#pending.values())
			if (candidate.upstream === conn) {
				p = candidate;
				break;
			}
		if (!p)
			return;
		p.upstream = undefined;
		const answer = message && messageId(message) === conn.id ? readAnswer(message, p.question) : undefined;
		if (!message || !answer) {
			if (message)
				this.counters.ignored++;
			// Refused, reset or garbled: the next server at once rather than at the deadline.
			this.#attempt(p);
			return;
		}
		this.#answered(p, message, answer);
	}

	/* An answer that matched: SERVFAIL or REFUSED try the next server while there is one; the rest goes to the clients. */
	#answered(p: Pending, m: Uint8Array, answer: Answer): void {
		if ((answer.rcode === SERVFAIL || answer.rcode === REFUSED) && p.tries < p.maxTries && Date.now() < p.end) {
			p.upstream?.close();
			p.upstream = undefined;
			this.#attempt(p);
			return;
		}
		this.#complete(p, m, answer);
	}

	/* Take a question out of flight: its index entries, its socket uses, its TCP connection. */
	#finish(p: Pending): void {
		this.#pending.delete(p.key);
		for (const a of p.attempts) {
			if (a.slot) {
				a.slot.inflight--;
				this.#index.delete(a.index);
			}
		}
		p.attempts = [];
		p.upstream?.close();
		p.upstream = undefined;
	}

	#complete(p: Pending, m: Uint8Array, answer: Answer): void {
		this.#finish(p);
		if (!answer.truncated && (answer.rcode === NOERROR || answer.rcode === NXDOMAIN))
			this.cache.put(p.key, m, answer.ttlOffsets, answer.ttl, answer.negative, Date.now());
		for (const w of p.waiters)
			this.#deliver(w, forClient(m, w.query));
	}

	/* No server answered in time: SERVFAIL (or the truncated answer, if that was all that came). */
	#fail(p: Pending): void {
		if (p.truncated) {
			const answer = readAnswer(p.truncated, p.question);
			if (answer) {
				this.#complete(p, p.truncated, answer);
				return;
			}
		}
		this.#finish(p);
		for (const w of p.waiters)
			this.#deliver(w, shortAnswer(w.query, SERVFAIL));
	}

	/* The timer runs while anything is in flight or connected. */
	#arm(): void {
		this.#timer ??= Timer.repeat(() => { this.#tick(); }, TICK);
	}

	#tick(): void {
		const now = Date.now();
		for (const p of [...this.#pending.values()])
			if (now >= p.deadline && this.#pending.get(p.key) === p) {
				this.counters.timeouts++;
				p.upstream?.close();
				p.upstream = undefined;
				this.#attempt(p);
			}
		for (const c of [...this.#engine.clients])
			c.tick(now);
		if (now - this.#lastSweep >= SWEEP) {
			this.#lastSweep = now;
			this.cache.expire(now);
		}
		if (!this.#pending.size && !this.#engine.clients.size && !this.#engine.upstreams.size) {
			Timer.clear(this.#timer);
			this.#timer = undefined;
		}
	}

	/* Empty the cache (the console's dns flush). */
	flush(): void {
		this.cache.clear();
	}

	/* A new cache size (the console's dns cache): takes effect at once. */
	resizeCache(entries: number): void {
		this.cache.resize(entries);
	}
}

/* Take a TCP client on, or cut it at once: not from the LAN subnet, or too many connected. */
function admit(engine: Engine, counters: DnsCounters, lan: { address: string; prefix: number }, from: TCP): void {
	const address = from.remoteAddress ?? "";
	const a = parseAddress(address), l = parseAddress(lan.address);
	if (!a.ok || !l.ok || a.value === l.value || !sameSubnet(a.value, l.value, lan.prefix)) {
		counters.malformed++;
		quietClose(from);
		return;
	}
	let mine = 0;
	for (const c of engine.clients)
		if (c.address === address)
			mine++;
	if (engine.clients.size >= MAX_CLIENT_TCP || mine >= MAX_CLIENT_TCP_PER_HOST) {
		counters.tableFull++;
		quietClose(from);
		return;
	}
	const c = new ClientConn(engine, address, from.remotePort ?? 0);
	c.socket = new TCP({ from, target: c, nodelay: true, onReadable: clientReadable, onWritable: clientWritable, onError: clientError });
	engine.clients.add(c);
	engine.arm();
}

