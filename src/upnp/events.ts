/*
 * GENA eventing: SUBSCRIBE, renew and UNSUBSCRIBE on a service's event URL,
 * and the NOTIFY messages sent to each subscriber's callback: the initial
 * event with every evented variable, then one whenever the router says a
 * service changed. A subscriber has at most one NOTIFY connection open and
 * changes made meanwhile are sent together after it; only a few connections
 * are open at once, so events cannot use up the TCP PCBs HTTP needs.
 */
import TCP from "embedded:io/socket/tcp";
import Platform from "platform";
import Timer from "timer";
import { parseAddress } from "net/ipv4";
import type { IgdContext } from "upnp/context";
import { utf8Encode, xmlEscape } from "upnp/message";
import type { HttpRequest, HttpResponse } from "upnp/message";
import type { Service, ServiceKey } from "upnp/services";

/* Subscription timeouts granted, in seconds. */
const MAX_TIMEOUT = 1800;
const MIN_TIMEOUT = 60;
/* Seconds a NOTIFY may take, connection to status line. */
const NOTIFY_WAIT = 5;
/* NOTIFY connections open at once, all subscribers together. */
const MAX_SENDING = 4;
/* Longest callback path kept. */
const MAX_PATH = 256;
/* Delay before an initial event, so the SUBSCRIBE answer (with the SID) is out first. */
const INITIAL_DELAY = 100;

/* One NOTIFY in flight. */
interface Delivery {
	socket: TCP | undefined;
	message: Uint8Array;
	written: number;
	/* the answer so far, up to its status line */
	answer: string;
	deadline: number;
}

interface Subscription {
	service: Service;
	sid: string;
	address: string;
	port: number;
	path: string;
	/* ctx.now() seconds */
	expires: number;
	/* the SEQ of the next event */
	seq: number;
	/* a change not yet sent */
	pending: boolean;
	delivery: Delivery | undefined;
}

export interface SubscriberInfo {
	service: ServiceKey;
	sid: string;
	callback: string;
	expiresIn: number;
	seq: number;
}

function hex(value: number): string {
	return (value >>> 0).toString(16).padStart(8, "0");
}

/* "uuid:" and a random (version 4) UUID. */
function newSid(): string {
	const a = hex(Platform.random()), b = hex((Platform.random() & 0xffff0fff) | 0x4000);
	const c = hex((Platform.random() & 0x3fffffff) | 0x80000000), d = hex(Platform.random());
	return `uuid:${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
}

/* TIMEOUT "Second-N" or "infinite": what we grant. A missing or odd one gets the most. */
function granted(header: string | undefined): number {
	const m = /^\s*second-(\d{1,10})\s*$/i.exec(header ?? "");
	const asked = m ? Number(m[1]) : MAX_TIMEOUT;
	return Math.max(MIN_TIMEOUT, Math.min(asked, MAX_TIMEOUT));
}

function answer(status: number, text: string, headers?: readonly (readonly [string, string])[]): HttpResponse {
	return headers ? { status, headers } : { status, headers: [["Content-Type", "text/plain"]], body: `${text}\n` };
}

export class Events {
	readonly #ctx: IgdContext;
	readonly #values: (service: Service) => [string, string][];
	#subscriptions: Subscription[] = [];
	#sending = 0;
	#timer: Timer | undefined;

	constructor(ctx: IgdContext, values: (service: Service) => [string, string][]) {
		this.#ctx = ctx;
		this.#values = values;
	}

	/* SUBSCRIBE or UNSUBSCRIBE on this service's event URL. */
	handle(service: Service, request: HttpRequest): HttpResponse {
		const h = request.headers;
		const sid = h.get("sid"), nt = h.get("nt"), callback = h.get("callback");
		if (request.method !== "SUBSCRIBE" && request.method !== "UNSUBSCRIBE")
			return { status: 405, headers: [["Allow", "SUBSCRIBE, UNSUBSCRIBE"]], body: "Method Not Allowed\n" };
		if (sid !== undefined && (nt !== undefined || callback !== undefined))
			return answer(400, "Bad Request: SID with NT or CALLBACK");
		if (request.method === "UNSUBSCRIBE") {
			const found = sid !== undefined ? this.#find(service, sid) : undefined;
			if (!found)
				return answer(412, "Precondition Failed: no such subscription");
			this.#drop(found);
			return { status: 200 };
		}
		const seconds = granted(h.get("timeout"));
		if (sid !== undefined) {
			const found = this.#find(service, sid);
			if (!found)
				return answer(412, "Precondition Failed: no such subscription");
			found.expires = this.#ctx.now() + seconds;
			return answer(200, "", [["SID", found.sid], ["TIMEOUT", `Second-${seconds}`]]);
		}
		if (nt?.trim() !== "upnp:event")
			return answer(412, "Precondition Failed: NT must be upnp:event");
		const target = this.#callback(callback ?? "", request.remoteAddress);
		if (!target)
			return answer(412, "Precondition Failed: CALLBACK must be an http URL on your own numeric address");
		if (this.#subscriptions.length >= this.#ctx.config().limits.subscribers) {
			this.#ctx.counters.subscriberLimit++;
			return answer(503, "Service Unavailable: too many subscribers");
		}
		const subscription: Subscription = {
			service,
			sid: newSid(),
			...target,
			expires: this.#ctx.now() + seconds,
			seq: 0,
			pending: true,
			delivery: undefined,
		};
		this.#subscriptions.push(subscription);
		this.#kick(INITIAL_DELAY);
		return answer(200, "", [["SID", subscription.sid], ["TIMEOUT", `Second-${seconds}`]]);
	}

	/* Send every subscriber of this service its current evented values. */
	changed(service: Service): void {
		let any = false;
		for (const s of this.#subscriptions)
			if (s.service === service) {
				s.pending = true;
				any = true;
			}
		if (any)
			this.#kick(0);
	}

	/* Once a second: expire subscriptions and give up on NOTIFYs that take too long. */
	tick(): void {
		const now = this.#ctx.now();
		for (const s of [...this.#subscriptions]) {
			if (s.expires <= now)
				this.#drop(s);
			else if (s.delivery && now >= s.delivery.deadline)
				this.#finish(s, s.delivery, false);
		}
	}

	list(): SubscriberInfo[] {
		const now = this.#ctx.now();
		return this.#subscriptions.map((s) => ({
			service: s.service.key,
			sid: s.sid,
			callback: `http://${s.address}:${s.port}${s.path}`,
			expiresIn: Math.max(0, s.expires - now),
			seq: s.seq,
		}));
	}

	close(): void {
		Timer.clear(this.#timer);
		this.#timer = undefined;
		for (const s of [...this.#subscriptions])
			this.#drop(s);
	}

	#find(service: Service, sid: string): Subscription | undefined {
		const wanted = sid.trim();
		return this.#subscriptions.find((s) => s.service === service && s.sid === wanted);
	}

	/* The first URL of a CALLBACK header, if it is http://<the requester's own address>[:port][/path]. */
	#callback(header: string, requester: string): { address: string; port: number; path: string } | undefined {
		const m = /^\s*<http:\/\/([0-9.]+)(?::(\d{1,5}))?(\/[^>]*)?>/i.exec(header);
		if (!m)
			return undefined;
		const [, hostText, portText, pathText] = m as (string | undefined)[];
		const host = parseAddress(hostText ?? ""), from = parseAddress(requester);
		const port = portText !== undefined ? Number(portText) : 80;
		const path = pathText ?? "/";
		if (!host.ok || !from.ok || host.value !== from.value || port < 1 || port > 65535)
			return undefined;
		// It goes into a request line as it is: printable, no spaces, bounded.
		if (path.length > MAX_PATH || !/^\/[\x21-\x7e]*$/.test(path))
			return undefined;
		return { address: requester, port, path };
	}

	#drop(s: Subscription): void {
		const index = this.#subscriptions.indexOf(s);
		if (index >= 0)
			this.#subscriptions.splice(index, 1);
		const d = s.delivery;
		if (d) {
			s.delivery = undefined;
			this.#sending--;
			d.socket?.close();
		}
	}

	#kick(delay: number): void {
		this.#timer ??= Timer.set(() => {
			this.#timer = undefined;
			this.#pump();
		}, delay);
	}

	#pump(): void {
		for (const s of this.#subscriptions) {
			if (this.#sending >= MAX_SENDING)
				return;
			if (s.pending && !s.delivery)
				this.#send(s);
		}
	}

	#message(s: Subscription, seq: number): Uint8Array {
		let body = "<?xml version=\"1.0\"?>\n<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\">\n";
		for (const [name, value] of this.#values(s.service))
			body += `<e:property><${name}>${xmlEscape(value)}</${name}></e:property>\n`;
		const content = utf8Encode(`${body}</e:propertyset>\n`);
		const head = utf8Encode(`NOTIFY ${s.path} HTTP/1.1\r\nHOST: ${s.address}:${s.port}\r\n`
			+ "CONTENT-TYPE: text/xml; charset=\"utf-8\"\r\nNT: upnp:event\r\nNTS: upnp:propchange\r\n"
			+ `SID: ${s.sid}\r\nSEQ: ${seq}\r\nCONTENT-LENGTH: ${content.length}\r\nConnection: close\r\n\r\n`);
		const message = new Uint8Array(head.length + content.length);
		message.set(head);
		message.set(content, head.length);
		return message;
	}

	/* Open a NOTIFY connection carrying the values as they are now. */
	#send(s: Subscription): void {
		const seq = s.seq;
		s.seq = seq >= 0xffffffff ? 1 : seq + 1;   // 0 is the initial event's alone
		s.pending = false;
		const d: Delivery = { socket: undefined, message: this.#message(s, seq), written: 0, answer: "", deadline: this.#ctx.now() + NOTIFY_WAIT };
		s.delivery = d;
		this.#sending++;
		let socket: TCP;
		try {
			socket = new TCP({
				address: s.address,
				port: s.port,
				onWritable: (count) => { this.#write(s, d, count); },
				onReadable: (count) => { this.#read(s, d, count); },
				onError: () => { this.#finish(s, d, false); },
			});
		}
		catch {
			this.#finish(s, d, false);
			return;
		}
		if (s.delivery === d)
			d.socket = socket;
		else
			socket.close();   // it failed before the constructor returned
	}

	#write(s: Subscription, d: Delivery, count: number): void {
		if (s.delivery !== d || !d.socket || d.written >= d.message.length)
			return;
		const n = Math.min(count, d.message.length - d.written);
		try {
			d.socket.write(d.message.subarray(d.written, d.written + n));
			d.written += n;
		}
		catch {
			this.#finish(s, d, false);
		}
	}

	/* Read until the status line; its code says whether the event arrived. */
	#read(s: Subscription, d: Delivery, count: number): void {
		if (s.delivery !== d || !d.socket)
			return;
		let data: ArrayBuffer | number | undefined;
		try {
			data = d.socket.read(count);
		}
		catch {
			data = undefined;
		}
		if (data instanceof ArrayBuffer)
			for (const b of new Uint8Array(data)) {
				if (b === 10) {
					this.#finish(s, d, /^HTTP\/1\.[01] 2\d\d/.test(d.answer));
					return;
				}
				if (d.answer.length < 64)
					d.answer += String.fromCharCode(b);
			}
	}

	#finish(s: Subscription, d: Delivery, delivered: boolean): void {
		if (s.delivery !== d)
			return;
		s.delivery = undefined;
		this.#sending--;
		try {
			d.socket?.close();
		}
		catch {
			// already gone
		}
		if (delivered)
			this.#ctx.counters.eventsSent++;
		else
			this.#ctx.counters.eventsFailed++;
		// Changes that came meanwhile, or subscribers waiting for a free connection.
		if (this.#subscriptions.some((x) => x.pending && !x.delivery))
			this.#kick(0);
	}
}
