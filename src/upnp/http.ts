/*
 * The IGD's HTTP server on the LAN address. One request per connection,
 * read within bounds (bytes, header lines, open connections, five seconds
 * for the headers and ten for everything),
 * handed whole to the handler and answered with Connection: close. What is
 * malformed or over a bound is answered (or cut) here, so the handler only
 * ever sees complete, well-formed requests from LAN hosts.
 */
import Listener from "embedded:io/socket/listener";
import TCP from "embedded:io/socket/tcp";
import Timer from "timer";
import { parseAddress } from "net/ipv4";
import { onLan } from "upnp/context";
import type { IgdContext } from "upnp/context";
import { utf8Decode, utf8Encode } from "upnp/message";
import type { HttpRequest, HttpResponse, Pieces } from "upnp/message";

/*
 * Deadlines counted from when the server takes a connection, never moved by
 * what arrives: the request line and headers within HEAD_TIME, and the rest
 * (body, answer, last byte out) within DEADLINE. A client sending a byte a
 * second is as cut as a silent one.
 */
const HEAD_TIME = 5000;
const DEADLINE = 10000;
/*
 * Connections over the cap, or from a host at its share of it, wait in the
 * listener's queue (24 places, listener.c: no XS heap) and are taken oldest
 * first as slots free. One host's waiting ones take at most HOST_WAITING of
 * the places, so a host opening connections as fast as it can still leaves
 * room for a burst from the others; past that its new ones are reset at once.
 */
const QUEUE = 24;
const HOST_WAITING = 12;
/*
 * Slowloris from several hosts at once takes every slot within the shares.
 * So while a connection from a host under its share waits and no slot is
 * free, the open connection that has been sending its head longest gives
 * way, once it has had SLOW_HEAD ms: a LAN client sends its whole request
 * at once, and only a client that has not finished its head is cut.
 */
const SLOW_HEAD = 500;
/*
 * After answering before the whole request was read (413, 431, 400...),
 * the rest is read and dropped until the client has been quiet for QUIET ms
 * (LINGER at most), then the connection closes: closing with unread data,
 * or with data still coming, resets it, and a reset can take the answer
 * with it.
 */
const QUIET = 200;
/* The request buffer's least size once a second read comes. */
const FIRST_ROOM = 256;
const NOTHING = new Uint8Array(0);
const LINGER = 2000;

/*
 * ECMA-419 has close(); @moddable/typings leave it out. waiting, read(at)
 * and drop are this firmware's listener's own (modules/io/listener.ts).
 */
type SimListener = Listener & {
	close(): void;
	read(at?: number): TCP | undefined;
	waiting(at: number): string | undefined;
	drop(at: number): void;
};

const REASONS: Record<number, string> = {
	200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
	411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large", 431: "Request Header Fields Too Large",
	500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
};

/* The headers the server writes itself. */
/*
 * A body made in pieces goes out in parts of about this many bytes (fewer
 * writes than pieces: each takes one of lwIP's few queue places), and ends
 * with the last chunk. Small, as eight connections may each hold one.
 */
const PART = 512;
const LAST_CHUNK = Uint8Array.of(48, 13, 10, 13, 10);

const OWN_HEADERS = /^(content-length|transfer-encoding|connection|server)$/i;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/* Connection states. */
const READING = 0, ANSWERING = 1, LINGERING = 2, CLOSED = 3;

/* A request line and headers that passed every check; length is -1 without Content-Length. */
interface Head {
	method: string;
	target: string;
	version: string;
	headers: Map<string, string>;
	length: number;
}

/* An answer the server makes itself: status and a line saying why. */
interface Refusal {
	status: number;
	why: string;
}

function refuse(status: number, why: string): Refusal {
	return { status, why };
}

/* "a.b.c.d" or "a.b.c.d:port": a name here could be a rebinding attack's. */
function numericHost(host: string): boolean {
	const m = /^([0-9.]{7,15})(?::([0-9]{1,5}))?$/.exec(host);
	return !!m && parseAddress(m[1]).ok && (m[2] ? Number(m[2]) <= 65535 : true);
}

/* The header section (up to and with its blank line) as text, checked. */
function parseHead(text: string): Head | Refusal {
	const lines = text.split("\n");
	let n = 0;
	// A client may send a stray blank line before the request line (RFC 9112 2.2).
	while (n < lines.length - 1 && (lines[n] === "" || lines[n] === "\r"))
		n++;
	const request = lines[n].replace(/\r$/, "").split(" ");
	if (request.length !== 3 || !TOKEN.test(request[0]) || !(request[1].startsWith("/") || request[1] === "*") || /[\0-\x20\x7f]/.test(request[1]))
		return refuse(400, "malformed request line");
	const [method, target, version] = request;
	if (!/^HTTP\/[0-9]+\.[0-9]+$/.test(version))
		return refuse(400, "malformed request line");
	if (version !== "HTTP/1.1" && version !== "HTTP/1.0")
		return refuse(505, `${version} is not supported (HTTP/1.0 and HTTP/1.1 are)`);
	const headers = new Map<string, string>();
	for (n++; n < lines.length; n++) {
		const line = lines[n].replace(/\r$/, "");
		if (line === "")
			break;
		const colon = line.indexOf(":");
		const name = line.slice(0, colon).toLowerCase();
		const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
		// no line folding, no space before the colon, no control characters
		// eslint-disable-next-line no-control-regex
		if (colon < 1 || !TOKEN.test(name) || /[\0-\x08\x0a-\x1f\x7f]/.test(value))
			return refuse(400, "malformed header line");
		const seen = headers.get(name);
		headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
	}
	const host = headers.get("host");
	if (host === undefined ? version === "HTTP/1.1" : host.includes(","))
		return refuse(400, "HTTP/1.1 needs one Host header");
	if (host !== undefined && !numericHost(host))
		return refuse(403, "Host must be this router's address");
	if (headers.has("transfer-encoding"))
		return refuse(501, "Transfer-Encoding is not supported; send Content-Length");
	let length = -1;
	const field = headers.get("content-length");
	if (field !== undefined)
		for (const value of field.split(",")) {
			const v = value.trim();
			if (!/^[0-9]+$/.test(v) || (length >= 0 && Number(v) !== length))
				return refuse(400, "bad Content-Length");
			length = Number(v);
		}
	if (length < 0 && method === "POST")
		return refuse(411, "POST needs Content-Length");
	return { method, target, version, headers, length };
}

/* What every connection shares: the server's context, handler, connections and their one timer. */
interface Shared {
	ctx: IgdContext;
	/* undefined once closed */
	listener: SimListener | undefined;
	/* taking connections from the listener now (pump() is not re-entered) */
	pumping: boolean;
	handle: (request: HttpRequest) => HttpResponse;
	connections: Set<Connection>;
	timer: Timer | undefined;
	/* answers made in pieces going out now, and those waiting their turn (in order) */
	streaming: number;
	waiting: Connection[];
}

/*
 * At most this many answers are made in pieces at once: each holds a part
 * and its producer's state in the XS heap while it goes out (about 3 KB), so
 * eight clients listing every mapping at once are answered four at a time.
 */
const STREAMS = 4;

/* How often the shared timer looks for connections past their time (only while some are open). */
const TICK = 100;

/* No private methods: this XS kept instances of classes with them reachable (see tcp.ts). */
class Connection {
	shared: Shared;
	socket: TCP | undefined;
	address: string;
	port: number;
	state = READING;
	/*
	 * The request as received so far, in one buffer grown by doubling: a
	 * client sending a byte per segment is read a byte at a time, and a
	 * buffer object per read would take the XS heap long before the request
	 * limit stops it.
	 */
	buffer: Uint8Array = NOTHING;
	size = 0;
	/* lines ended so far, and whether the current one is blank up to now */
	lines = 0;
	blank = false;
	/* where the body starts, once the blank line came */
	bodyStart = -1;
	head: Head | undefined;
	/* the answer and how much of it is written; what the socket last offered */
	out: Uint8Array | undefined;
	written = 0;
	room = 0;
	/* the rest of a body made in pieces, and whether it goes chunked */
	more: Pieces | undefined;
	chunked = false;
	/* one of the answers made in pieces going out now */
	streaming = false;
	/* the request was read to its end (else the answer lingers, until lingerEnd) */
	whole = false;
	/* Date.now() values: when it was taken; when it is closed whatever its state; the latest a linger may end */
	taken: number;
	deadline: number;
	lingerEnd = 0;

	constructor(shared: Shared, address: string, port: number) {
		this.shared = shared;
		this.address = address;
		this.port = port;
		this.taken = Date.now();
		this.deadline = this.taken + HEAD_TIME;
	}

	/* Past the deadline: reading still, it is a slow or idle client, and a connection cut. */
	expire(): void {
		if (this.state === READING)
			this.shared.ctx.counters.badRequests++;
		this.close();
	}

	readable(): void {
		while (this.state !== CLOSED && this.socket) {
			const data = this.socket.read() as ArrayBuffer | undefined;
			if (!data)
				break;
			// anything after the request, or after an early answer, is dropped
			if (this.state === READING)
				this.received(new Uint8Array(data));
		}
		if (this.state === LINGERING)
			this.deadline = Math.min(Date.now() + QUIET, this.lingerEnd);
	}

	writable(count: number): void {
		this.room = count;
		this.flush();
	}

	/* The peer closed or reset: an answer still going out is left to flush (or the deadline). */
	error(): void {
		if (this.state !== ANSWERING)
			this.close();
	}

	received(chunk: Uint8Array): void {
		const limits = this.shared.ctx.config().limits;
		const start = this.size;
		if (!start)
			this.buffer = chunk;   // most requests come in one read: kept as read
		else if (start + chunk.length > this.buffer.length) {
			let room = Math.max(this.buffer.length * 2, FIRST_ROOM);
			while (room < start + chunk.length)
				room *= 2;
			const grown = new Uint8Array(room);
			grown.set(this.buffer.subarray(0, start));
			this.buffer = grown;
		}
		if (start)
			this.buffer.set(chunk, start);
		this.size += chunk.length;
		if (this.bodyStart < 0) {
			for (let i = 0; i < chunk.length; i++) {
				const b = chunk[i];
				if (b === 10) {
					if (this.blank) {
						this.bodyStart = start + i + 1;
						break;
					}
					this.blank = true;
					// the request line and then header lines
					if (++this.lines > limits.headers + 1) {
						this.tooBig(431, `more than ${limits.headers} header lines`);
						return;
					}
				}
				else if (b !== 13) {
					this.blank = false;
				}
			}
			if (this.bodyStart < 0 ? this.size > limits.request : this.bodyStart > limits.request) {
				this.tooBig(431, `headers over ${limits.request} bytes`);
				return;
			}
			if (this.bodyStart < 0)
				return;
			const head = parseHead(utf8Decode(this.bytes(0, this.bodyStart)));
			if (!("method" in head)) {
				this.refused(head);
				return;
			}
			if (this.bodyStart + Math.max(head.length, 0) > limits.request) {
				this.tooBig(413, `request over ${limits.request} bytes`);
				return;
			}
			this.head = head;
			this.deadline = this.taken + DEADLINE;
		}
		const head = this.head;
		if (!head || this.size < this.bodyStart + Math.max(head.length, 0))
			return;
		this.whole = true;
		const body = head.length > 0 ? utf8Decode(this.bytes(this.bodyStart, this.bodyStart + head.length)) : "";
		this.buffer = NOTHING;
		const ctx = this.shared.ctx;
		ctx.counters.requests++;
		let response: HttpResponse;
		try {
			response = this.shared.handle({
				method: head.method, target: head.target, version: head.version, headers: head.headers,
				body, remoteAddress: this.address, remotePort: this.port,
			});
		}
		catch {
			response = { status: 500, body: "internal error\r\n" };
		}
		if (response.status >= 400 && response.status < 500)
			ctx.counters.badRequests++;
		this.answer(response, head.method === "HEAD");
	}

	tooBig(status: number, why: string): void {
		this.shared.ctx.counters.requestLimit++;
		this.refused(refuse(status, why));
	}

	refused(refusal: Refusal): void {
		this.shared.ctx.counters.badRequests++;
		this.answer({ status: refusal.status, headers: [["Content-Type", "text/plain; charset=\"utf-8\""]], body: `${refusal.why}\r\n` }, false);
	}

	/* Bytes [from, to) of the request as received. */
	bytes(from: number, to: number): Uint8Array {
		return this.buffer.slice(from, to);
	}

	answer(response: HttpResponse, headOnly: boolean): void {
		const status = response.status;
		const given = response.body ?? "";
		const pieces = typeof given === "function" ? given : undefined;
		const body = typeof given === "string" ? utf8Encode(given) : undefined;
		let head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\n`;
		for (const [name, value] of response.headers ?? [])
			if (!OWN_HEADERS.test(name) && !/[\r\n]/.test(name + value))
				head += `${name}: ${value}\r\n`;
		const product = this.shared.ctx.product;
		head += `Server: ${product} UPnP/1.1 ${product}\r\n`;
		// A body made in pieces goes chunked to HTTP/1.1, and to HTTP/1.0 until the close.
		this.chunked = pieces !== undefined && this.head?.version === "HTTP/1.1";
		this.head = undefined;   // the request's headers are done with: eight connections hold eight answers, not eight requests
		if (body)
			head += `Content-Length: ${body.length}\r\n`;
		else if (this.chunked)
			head += "Transfer-Encoding: chunked\r\n";
		head += "Connection: close\r\n\r\n";
		const headBytes = utf8Encode(head);
		let out = headBytes;
		if (body && !headOnly) {
			// one buffer, one write: head and body leave in the same segment when they fit
			out = new Uint8Array(headBytes.length + body.length);
			out.set(headBytes);
			out.set(body, headBytes.length);
		}
		this.buffer = NOTHING;
		this.state = ANSWERING;
		this.deadline = this.taken + DEADLINE;
		this.out = out;
		this.more = headOnly ? undefined : pieces;
		this.written = 0;
		if (this.more) {
			if (this.shared.streaming >= STREAMS) {
				// Its turn comes when a stream ends (see ended()): the head waits with it.
				this.shared.waiting.push(this);
				return;
			}
			this.shared.streaming++;
			this.streaming = true;
		}
		this.flush();
	}

	/* A stream is over (sent or cut): the next waiting answer starts. */
	ended(): void {
		if (!this.streaming)
			return;
		this.streaming = false;
		this.shared.streaming--;
		for (let next = this.shared.waiting.shift(); next; next = this.shared.waiting.shift()) {
			if (next.state !== ANSWERING)
				continue;
			this.shared.streaming++;
			next.streaming = true;
			next.flush();
			break;
		}
	}

	/* The next part of a body made in pieces, framed; undefined once the last went. */
	next(): Uint8Array | undefined {
		const more = this.more;
		if (!more)
			return undefined;
		// Each piece encoded once and copied once into the part: no string is built up.
		const pieces: Uint8Array[] = [];
		let size = 0, ended = false;
		while (size < PART) {
			let piece: string | undefined;
			try {
				piece = more();
			}
			catch {
				piece = undefined;   // a broken producer ends the body; the client sees it short
			}
			if (piece === undefined) {
				ended = true;
				break;
			}
			const bytes = utf8Encode(piece);
			pieces.push(bytes);
			size += bytes.length;
		}
		if (ended)
			this.more = undefined;
		if (!this.chunked && !size)
			return ended ? undefined : new Uint8Array(0);
		const line = this.chunked && size ? `${size.toString(16)}\r\n` : "";
		const framed = new Uint8Array(line.length + size + (line ? 2 : 0) + (this.chunked && ended ? 5 : 0));
		let at = 0;
		for (let i = 0; i < line.length; i++)
			framed[at++] = line.charCodeAt(i);
		for (const bytes of pieces) {
			framed.set(bytes, at);
			at += bytes.length;
		}
		if (line) {
			framed[at++] = 13;
			framed[at++] = 10;
		}
		if (this.chunked && ended)
			framed.set(LAST_CHUNK, at);
		return framed;
	}

	flush(): void {
		if (this.state !== ANSWERING || !this.out || !this.socket || (this.more && !this.streaming))
			return;
		while (this.room > 0) {
			let out: Uint8Array | undefined = this.out;
			if (this.written >= out.length) {
				out = this.next();
				if (!out)
					break;
				this.out = out;
				this.written = 0;
				continue;
			}
			const n = Math.min(this.room, out.length - this.written);
			try {
				this.socket.write(out.subarray(this.written, this.written + n));
			}
			catch {
				// lwIP's queue is fuller than the room said: wait for the next onWritable
				this.room = 0;
				break;
			}
			this.written += n;
			this.room -= n;
		}
		if (this.written < this.out.length || this.more)
			return;
		this.out = undefined;
		this.ended();
		if (this.whole) {
			this.close();
			return;
		}
		this.state = LINGERING;
		this.lingerEnd = Date.now() + LINGER;
		this.deadline = Date.now() + QUIET;
	}

	close(): void {
		if (this.state === CLOSED)
			return;
		this.state = CLOSED;
		this.shared.connections.delete(this);
		this.buffer = NOTHING;
		this.out = undefined;
		this.more = undefined;
		const waiting = this.shared.waiting.indexOf(this);
		if (waiting >= 0)
			this.shared.waiting.splice(waiting, 1);
		this.ended();
		const socket = this.socket;
		this.socket = undefined;
		if (socket)
			try {
				// read what is left, so the close is a FIN and not a reset
				let left = socket.read() as ArrayBuffer | undefined;
				while (left)
					left = socket.read() as ArrayBuffer | undefined;
				socket.close();
			}
			catch {
				// the connection is already gone
			}
		// a slot is free: the next waiting connection may have it
		pump(this.shared);
	}
}

/*
 * Socket and timer callbacks, shared by every connection (a socket's target
 * is its connection), so a connection costs no closures. Nothing thrown
 * escapes them: the connection it came from just closes.
 */
function connectionOf(socket: TCP): Connection {
	return (socket as TCP & { target: Connection }).target;
}

function onReadable(this: TCP): void {
	const c = connectionOf(this);
	try {
		c.readable();
	}
	catch {
		c.close();
	}
}

function onWritable(this: TCP, count: number): void {
	const c = connectionOf(this);
	try {
		c.writable(count);
	}
	catch {
		c.close();
	}
}

function onError(this: TCP): void {
	const c = connectionOf(this);
	try {
		c.error();
	}
	catch {
		c.close();
	}
}

function tick(shared: Shared): void {
	const now = Date.now();
	for (const c of [...shared.connections])
		if (now >= c.deadline)
			try {
				c.expire();
			}
			catch {
				c.close();
			}
	// one waiting may now take a slow head's slot
	if (shared.listener?.waiting(0) !== undefined)
		pump(shared);
	if (!shared.connections.size) {
		Timer.clear(shared.timer);
		shared.timer = undefined;
	}
}

export class HttpServer {
	#listener: SimListener;
	#shared: Shared;

	constructor(options: { ctx: IgdContext; address: string; port: number; handle: (request: HttpRequest) => HttpResponse }) {
		const shared: Shared = {
			ctx: options.ctx, listener: undefined, pumping: false, handle: options.handle, connections: new Set(), timer: undefined, streaming: 0, waiting: [],
		};
		this.#shared = shared;
		this.#listener = new Listener({
			address: options.address,
			port: options.port,
			onReadable() {
				pump(shared);
			},
		}) as SimListener;
		shared.listener = this.#listener;
	}

	/* Stop listening and drop every connection, answered or waiting. */
	close(): void {
		this.#shared.listener = undefined;
		this.#listener.close();
		for (const c of [...this.#shared.connections])
			c.close();
		Timer.clear(this.#shared.timer);
		this.#shared.timer = undefined;
	}

	/* Connections open now. */
	get open(): number {
		return this.#shared.connections.size;
	}

	/* Connections waiting in the listener's queue. */
	get queued(): number {
		const listener = this.#shared.listener;
		let n = 0;
		while (listener && n < QUEUE && listener.waiting(n) !== undefined)
			n++;
		return n;
	}
}

/* Connections open from `address`. */
function openFrom(shared: Shared, address: string): number {
	let n = 0;
	for (const c of shared.connections)
		if (c.address === address)
			n++;
	return n;
}

/*
 * Take waiting connections while there are free slots, oldest first but
 * passing over a host at its share (half the slots): a host holding its
 * share open, slowly sending or not at all, leaves the others theirs, and
 * its own further connections wait their turn. Dropped at once: what is not
 * from the LAN, what went away while waiting, and a host's waiting ones past
 * HOST_WAITING. Runs on each accept and each close.
 */
function pump(shared: Shared): void {
	const listener = shared.listener;
	if (!listener || shared.pumping)
		return;
	shared.pumping = true;
	try {
		const ctx = shared.ctx;
		const limit = ctx.config().limits.connections;
		const share = Math.max(1, Math.ceil(limit / 2));
		const passed: string[] = [];
		let at = 0;
		// Each turn takes, drops or passes over one: the queue holds QUEUE, and a few may come meanwhile.
		for (let turn = 0; turn < 2 * QUEUE; turn++) {
			const address = listener.waiting(at);
			if (address === undefined)
				break;
			if (!address || !onLan(ctx, address)) {
				if (address)
					ctx.counters.badRequests++;
				listener.drop(at);
				continue;
			}
			const under = openFrom(shared, address) < share;
			if (under && shared.connections.size >= limit)
				cutSlowest(shared);
			if (shared.connections.size < limit && under) {
				const from = listener.read(at);
				if (!from)
					break;
				admit(shared, from, address);
				continue;
			}
			let mine = 0;
			for (const p of passed)
				if (p === address)
					mine++;
			if (mine >= HOST_WAITING) {
				ctx.counters.connectionLimit++;
				listener.drop(at);
				continue;
			}
			passed.push(address);
			at++;
		}
	}
	catch {
		// no memory to take one now: it waits for the next accept or close
	}
	finally {
		shared.pumping = false;
	}
}

/* Close the open connection longest at its head, if it has had SLOW_HEAD ms (counted as slow cut). */
function cutSlowest(shared: Shared): void {
	const now = Date.now();
	let slowest: Connection | undefined;
	for (const c of shared.connections)
		if (c.state === READING && !c.head && now - c.taken >= SLOW_HEAD && (!slowest || c.taken < slowest.taken))
			slowest = c;
	if (!slowest)
		return;
	shared.ctx.counters.slowCut++;
	slowest.close();
}

/* Take a connection from the queue on. */
function admit(shared: Shared, from: TCP, address: string): void {
	const c = new Connection(shared, address, from.remotePort ?? 0);
	try {
		// An answer is written whole and then the connection closes: Nagle would only hold its last segment back.
		c.socket = new TCP({ from, target: c, nodelay: true, onReadable, onWritable, onError });
	}
	catch {
		try {
			from.close();
		}
		catch {
			// already gone
		}
		return;
	}
	shared.connections.add(c);
	shared.timer ??= Timer.repeat(() => { tick(shared); }, TICK);
}
