/*
 * SSDP, how control points on the LAN find the IGD: NOTIFY ssdp:alive for
 * each device and service when it starts and every ~15 minutes after,
 * ssdp:byebye when it stops, and answers to M-SEARCH from LAN hosts. The
 * socket is tied to the LAN port, so nothing is heard from or said on the
 * WAN, and the answers waiting out their MX delay are bounded, so a flood
 * of searches cannot grow memory.
 */
import { PortUdp as PortSocket } from "net/port-udp";
import type { Datagram, PortUdpSocket as Socket } from "net/port-udp";
import Platform from "platform";
import Preference from "preference";
import Timer from "timer";
import { onLan } from "upnp/context";
import type { IgdContext } from "upnp/context";
import { utf8Decode, utf8Encode } from "upnp/message";
import { DEVICES, SERVICES } from "upnp/services";

const GROUP = "239.255.255.250";
const PORT = 1900;
const HOST = `${GROUP}:${PORT}`;
/* Seconds an announcement is good for (CACHE-CONTROL). */
const MAX_AGE = 1800;
/* Announcements are repeated within half of MAX_AGE, minus up to this many seconds of jitter. */
const JITTER = 90;
/* Milliseconds between the NOTIFYs of an announcement; each goes twice, ~100 ms apart. */
const SPACING = 10;
/* Seconds an MX may ask us to spread our answers over. */
const MX_CAP = 5;
/* Answer datagrams waiting for their delay, all searches together. */
const MAX_PENDING = 32;
/*
 * Answers to searches per second, all sources together: a search is a
 * hundred bytes and its answers (ssdp:all) some thirty times that, so a LAN
 * host spoofing another's address could otherwise aim a stream at it.
 */
const MAX_ANSWERS_PER_SECOND = 64;
/* Longer datagrams are not searches. */
const MAX_DATAGRAM = 2048;
const CONFIGID = 1;
/* BOOTID.UPNP.ORG is a 31-bit number. */
const BOOTID_MAX = 0x7fffffff;
const PREF_DOMAIN = "upnp";
const PREF_BOOTID = "bootid";

/* One thing announced and searchable: its NT (or ST) and its USN. */
interface Target {
	nt: string;
	usn: string;
	/* the UUID it belongs to, for USNs of a searched type */
	uuid: string;
}


/* An M-SEARCH: what it looks for, and how long the sender lets us take to answer. */
export interface Search {
	st: string;
	/* seconds, capped; undefined for a unicast search (no MX) */
	mx: number | undefined;
}

/*
 * An M-SEARCH datagram's text as a search, or undefined when it is not one
 * we may answer: another method, not `* HTTP/1.1`, MAN other than
 * "ssdp:discover", no ST, an MX that is not a whole number of seconds >= 1,
 * or one of those headers twice.
 */
export function parseSearch(text: string): Search | undefined {
	const lines = text.split(/\r?\n/);
	if (!/^M-SEARCH \* HTTP\/1\.1$/.test(lines[0]))
		return undefined;
	const headers = new Map<string, string>();
	for (let i = 1; i < lines.length && lines[i] !== ""; i++) {
		const colon = lines[i].indexOf(":");
		if (colon <= 0)
			return undefined;
		const name = lines[i].slice(0, colon).trim().toLowerCase();
		if ((name === "man" || name === "st" || name === "mx") && headers.has(name))
			return undefined;
		headers.set(name, lines[i].slice(colon + 1).trim());
	}
	const st = headers.get("st");
	const mx = headers.get("mx");
	if (headers.get("man") !== "\"ssdp:discover\"" || !st)
		return undefined;
	if (mx === undefined)
		return { st, mx: undefined };
	if (!/^\d{1,9}$/.test(mx) || Number(mx) < 1)
		return undefined;
	return { st, mx: Math.min(Number(mx), MX_CAP) };
}

/* A type URN split into its name and version: "urn:...:WANDevice:1" → ["urn:...:WANDevice", 1]. */
function splitType(type: string): [string, number] | undefined {
	const m = /^(urn:[^\s]+):(\d{1,9})$/.exec(type);
	return m ? [m[1], Number(m[2])] : undefined;
}

/* The ten things announced, in the order NOTIFYs go out. */
export function targets(ctx: IgdContext): Target[] {
	const root = ctx.uuids.root;
	const list: Target[] = [{ nt: "upnp:rootdevice", usn: `uuid:${root}::upnp:rootdevice`, uuid: root }];
	for (const device of DEVICES) {
		const uuid = ctx.uuids[device.key];
		list.push({ nt: `uuid:${uuid}`, usn: `uuid:${uuid}`, uuid });
	}
	for (const device of DEVICES) {
		const uuid = ctx.uuids[device.key];
		list.push({ nt: device.type, usn: `uuid:${uuid}::${device.type}`, uuid });
	}
	for (const service of SERVICES) {
		const uuid = ctx.uuids[service.device];
		list.push({ nt: service.type, usn: `uuid:${uuid}::${service.type}`, uuid });
	}
	return list;
}

/*
 * What answers a search target, as [ST, USN] pairs: every target for
 * ssdp:all (each with its own NT as ST); otherwise the one that matches,
 * a device or service type matching by name and a version up to ours,
 * answered with the version asked for.
 */
export function matches(all: readonly Target[], st: string): [string, string][] {
	if (st === "ssdp:all")
		return all.map((t) => [t.nt, t.usn]);
	if (st === "upnp:rootdevice" || st.startsWith("uuid:"))
		return all.filter((t) => t.nt === st).map((t) => [st, t.usn]);
	const asked = splitType(st);
	if (!asked || asked[1] < 1)
		return [];
	for (const t of all) {
		const ours = splitType(t.nt);
		if (ours && ours[0] === asked[0] && asked[1] <= ours[1])
			return [[st, `uuid:${t.uuid}::${st}`]];
	}
	return [];
}

/* The next BOOTID, kept in preferences: one more at each start. */
function nextBootId(): number {
	let stored: unknown;
	try {
		stored = Preference.get(PREF_DOMAIN, PREF_BOOTID);
	}
	catch {
		stored = undefined;
	}
	const last = typeof stored === "number" && Number.isInteger(stored) && stored >= 0 && stored < BOOTID_MAX ? stored : 0;
	const next = last + 1;
	try {
		Preference.set(PREF_DOMAIN, PREF_BOOTID, next);
	}
	catch {
		// Not kept: control points may see an old BOOTID again after a restart; still announced.
	}
	return next;
}

function message(startLine: string, headers: readonly (readonly [string, string | number])[]): Uint8Array {
	const lines = headers.map(([name, value]) => (value === "" ? `${name}:\r\n` : `${name}: ${value}\r\n`));
	return utf8Encode(`${startLine}\r\n${lines.join("")}\r\n`);
}

export class Ssdp {
	readonly #ctx: IgdContext;
	#socket: Socket | undefined;
	#bootId = 0;
	/* the next announcement */
	#refresh: Timer | undefined;
	/* datagrams on their way out, paced (announcements, answers) */
	#runs = new Set<Timer>();
	/* answers waiting, all searches together */
	#pending = 0;
	/* the second (of uptime) answers were last counted in, and how many went in it */
	#second = -1;
	#answeredThisSecond = 0;

	constructor(ctx: IgdContext) {
		this.#ctx = ctx;
	}

	/* Open the socket (throws when it cannot) and announce. */
	start(): void {
		if (this.#socket)
			return;
		this.#socket = new PortSocket({
			port: PORT,
			multicast: GROUP,
			timeToLive: 2,
			interface: "lan",
			onReadable: (count) => {
				this.#readable(count);
			},
		});
		this.#bootId = nextBootId();
		this.#announce();
	}

	/* Say byebye for everything, drop what waits to go out, close the socket. */
	stop(): void {
		const socket = this.#socket;
		if (!socket)
			return;
		Timer.clear(this.#refresh);
		this.#refresh = undefined;
		for (const timer of this.#runs)
			Timer.clear(timer);
		this.#runs.clear();
		this.#pending = 0;
		// At once, the socket closes next; multicast waits for no ARP.
		for (const t of targets(this.#ctx))
			this.#notify(message("NOTIFY * HTTP/1.1", [
				["HOST", HOST],
				["NT", t.nt],
				["NTS", "ssdp:byebye"],
				["USN", t.usn],
				["BOOTID.UPNP.ORG", this.#bootId],
				["CONFIGID.UPNP.ORG", CONFIGID],
			]));
		this.#socket = undefined;
		socket.close();
	}

	#location(): string {
		return `http://${this.#ctx.lanAddress()}:${this.#ctx.httpPort()}/rootDesc.xml`;
	}

	#server(): string {
		return `${this.#ctx.product} UPnP/1.1 ${this.#ctx.product}`;
	}

	/*
	 * send(0), send(1), ... send(count - 1): the first after `delay` ms, the
	 * rest SPACING ms apart. Spaced, so that a host whose MAC lwIP must ask
	 * for first gets every answer (ARP holds only a few datagrams meanwhile),
	 * and so that a burst does not overrun a small receiver.
	 */
	#pace(count: number, delay: number, send: (index: number) => void): void {
		let index = 0;
		if (count <= 0)
			return;
		const timer = Timer.set(() => {
			send(index++);
			if (index >= count) {
				Timer.clear(timer);
				this.#runs.delete(timer);
			}
		}, delay, SPACING);
		this.#runs.add(timer);
	}

	/* ssdp:alive for each target, twice, then again in about a quarter of an hour. */
	#announce(): void {
		const all = targets(this.#ctx);
		// Ten targets SPACING ms apart: each second copy goes 100 ms after the first.
		this.#pace(all.length * 2, 0, (i) => {
			const t = all[i % all.length];
			this.#notify(message("NOTIFY * HTTP/1.1", [
				["HOST", HOST],
				["CACHE-CONTROL", `max-age=${MAX_AGE}`],
				["LOCATION", this.#location()],
				["NT", t.nt],
				["NTS", "ssdp:alive"],
				["SERVER", this.#server()],
				["USN", t.usn],
				["BOOTID.UPNP.ORG", this.#bootId],
				["CONFIGID.UPNP.ORG", CONFIGID],
			]));
		});
		const seconds = MAX_AGE / 2 - (Platform.random() % (JITTER + 1));
		Timer.clear(this.#refresh);
		this.#refresh = Timer.set(() => {
			this.#refresh = undefined;
			this.#announce();
		}, seconds * 1000);
	}

	#notify(bytes: Uint8Array): void {
		if (this.#send(bytes, GROUP, PORT))
			this.#ctx.counters.notifies++;
	}

	/* A datagram out; false when it could not go (no LAN address yet, no memory). */
	#send(bytes: Uint8Array, address: string, port: number): boolean {
		const socket = this.#socket;
		if (!socket)
			return false;
		try {
			socket.write(bytes, address, port);
			return true;
		}
		catch {
			return false;
		}
	}

	#readable(count: number): void {
		for (let i = 0; i < count; i++) {
			const datagram = this.#socket?.read();
			if (!datagram)
				return;
			this.#received(datagram);
		}
	}

	#received(datagram: ArrayBuffer & Datagram): void {
		const ctx = this.#ctx;
		const text = datagram.byteLength <= MAX_DATAGRAM ? utf8Decode(new Uint8Array(datagram)) : "";
		if (!text.startsWith("M-SEARCH "))
			return;   // others' NOTIFYs and answers: not for us
		const search = onLan(ctx, datagram.address) && datagram.port > 0 ? parseSearch(text) : undefined;
		if (!search) {
			ctx.counters.ssdpIgnored++;
			return;
		}
		ctx.counters.searches++;
		const answers = matches(targets(ctx), search.st);
		if (!answers.length)
			return;
		const second = Math.floor(Platform.uptime() / 1000);
		if (second !== this.#second) {
			this.#second = second;
			this.#answeredThisSecond = 0;
		}
		if (this.#pending + answers.length > MAX_PENDING || this.#answeredThisSecond + answers.length > MAX_ANSWERS_PER_SECOND) {
			ctx.counters.ssdpIgnored++;
			return;
		}
		this.#answeredThisSecond += answers.length;
		ctx.counters.searchesAnswered++;
		this.#pending += answers.length;
		// Within MX seconds, the last of them too; a unicast search (no MX) at once.
		const span = search.mx === undefined ? 0 : search.mx * 1000 - SPACING * (answers.length - 1);
		const { address, port } = datagram;
		this.#pace(answers.length, span > 0 ? Platform.random() % span : 0, (i) => {
			this.#pending--;
			this.#send(message("HTTP/1.1 200 OK", [
				["CACHE-CONTROL", `max-age=${MAX_AGE}`],
				["EXT", ""],
				["LOCATION", this.#location()],
				["SERVER", this.#server()],
				["ST", answers[i][0]],
				["USN", answers[i][1]],
				["BOOTID.UPNP.ORG", this.#bootId],
				["CONFIGID.UPNP.ORG", CONFIGID],
			]), address, port);
		});
	}
}
