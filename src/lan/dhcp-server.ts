/*
 * The DHCP server on the LAN port (RFC 2131, options RFC 2132). Its UDP
 * socket is tied to the LAN port, so nothing from the WAN reaches it and
 * nothing it says leaves by the WAN. It hands out the router as gateway and
 * DNS server (or the WAN's DNS servers when the forwarder is off), the
 * domain, the subnet mask and the lease time; reservations by MAC give
 * their fixed address. It is authoritative for the LAN: a client asking for
 * an address it may not have is told no (NAK) at once.
 *
 * Replies go to ciaddr when the client has an address, otherwise to the
 * broadcast address: lwIP cannot send to an address it has no ARP entry
 * for, which RFC 2131 4.1 allows for ("MAY be sent as an IP broadcast").
 * Relayed requests (giaddr set) are not ours to answer: one LAN, no relays.
 *
 * Every malformed datagram is counted and dropped; a fault while handling
 * one is counted too, and the server goes on.
 */
import { PortUdp as PortSocket } from "net/port-udp";
import type { Datagram, PortUdpSocket as Socket } from "net/port-udp";
import Platform from "platform";
import Preference from "preference";
import Timer from "timer";
import type { Router } from "router";
import type { LanConfig } from "config";
import { formatAddress, parseAddress, prefixToNetmask } from "net/ipv4";
import type { DhcpConfig } from "lan/dhcp-config";
import { MAX_POOL, MAX_RESERVATIONS, networkOf } from "lan/dhcp-config";
import { CLIENT_ID_KEPT, LeaseTable, active, hash16, hash32, pack, unpack } from "lan/dhcp-leases";
import type { Client, Lease } from "lan/dhcp-leases";
import {
	ACK, CLIENT_PORT, DECLINE, DISCOVER, INFORM, NAK, OFFER, RELEASE, REQUEST, SERVER_PORT,
	OPT_BROADCAST, OPT_CLIENT_ID, OPT_DNS, OPT_DOMAIN, OPT_HOSTNAME, OPT_LEASE, OPT_MESSAGE, OPT_PARAMS,
	OPT_REQUESTED, OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK, OPT_T1, OPT_T2,
	addressBytes, asciiBytes, buildReply, hexText, optionAddress, parseRequest, u32Bytes,
} from "lan/dhcp-packet";
import type { Request } from "lan/dhcp-packet";

const PREF_DOMAIN = "dhcp";
const PREF_KEY = "leases";
/*
 * The allocation mark: the highest pool address that may have been handed
 * out from the never-used ones, written before an offer goes past it (a
 * power cut loses at most the leases since the last write of the table,
 * never the mark). Moved MARK_STEP addresses at a time: one flash write per
 * MARK_STEP new clients.
 */
const PREF_MARK = "mark";
const MARK_STEP = 4;
/*
 * An address another client had is handed out only with the table on flash
 * before its ACK (a write each); at most one such offer per this many ms, so
 * a LAN host making up MACs cannot wear the flash (360 writes an hour at most).
 */
const REUSE_GAP = 10000;
/* Who holds an address lost in a power cut: nobody known (a REQUEST for it claims it). */
export const LOST_MAC = "00:00:00:00:00:00";
/* Lease writes are batched: at most one per this many ms, and one at stop. */
export const WRITE_INTERVAL = 60000;
/* Seconds an offered address waits for the client's REQUEST. */
const OFFER_HOLD = 60;
/* Seconds a declined address (in use by someone we do not know) is not handed out. */
export const DECLINE_HOLD = 600;
/* Hostnames (option 12) kept for show dhcp. */
const HOSTNAME_MAX = 32;
const BROADCAST = 0xffffffff;
/* What a client gets when it sends no parameter request list. */
const DEFAULT_PARAMS = [OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_DOMAIN];

export interface DhcpCounters {
	received: number;
	malformed: number;
	ignored: number;
	discovers: number;
	offers: number;
	requests: number;
	acks: number;
	naks: number;
	declines: number;
	releases: number;
	informs: number;
	noAddress: number;
	sendErrors: number;
	faults: number;
	writes: number;
	writeErrors: number;
}


/* The settings being served, with the numbers every request needs. */
export interface Serving {
	config: DhcpConfig;
	lan: LanConfig;
	router: number;
	network: number;
	broadcast: number;
	mask: number;
	first: number;
	last: number;
	/* mac -> address, address -> mac */
	reserved: Map<string, number>;
	reservedBy: Map<number, string>;
}

function address(text: string): number {
	const parsed = parseAddress(text);
	return parsed.ok ? parsed.value : 0;
}

function serving(config: DhcpConfig, lan: LanConfig): Serving {
	const router = address(lan.address);
	const network = networkOf(router, lan.prefix);
	const mask = address(prefixToNetmask(lan.prefix));
	const reserved = new Map<string, number>(), reservedBy = new Map<number, string>();
	for (const r of config.reservations) {
		reserved.set(r.mac, address(r.address));
		reservedBy.set(address(r.address), r.mac);
	}
	return {
		config, lan, router, network, mask, reserved, reservedBy,
		broadcast: network + (2 ** (32 - lan.prefix) - 1),
		first: address(config.first),
		last: address(config.last),
	};
}

function sanitizeHostname(bytes: Uint8Array | undefined): string {
	if (!bytes)
		return "";
	let name = "";
	for (const b of bytes) {
		if (name.length >= HOSTNAME_MAX)
			break;
		const c = String.fromCharCode(b);
		if (/[A-Za-z0-9._-]/.test(c))
			name += c;
	}
	return name;
}

/* A client-id as its lease keeps it: whole when short, else its first bytes and a hash of all. */
function clientIdKept(id: Uint8Array): Uint8Array {
	if (id.length <= CLIENT_ID_KEPT)
		return id;
	const kept = new Uint8Array(CLIENT_ID_KEPT);
	kept.set(id.subarray(0, CLIENT_ID_KEPT - 4));
	const h = hash32(id);
	kept.set([h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255], CLIENT_ID_KEPT - 4);
	return kept;
}

function clientOf(request: Request): Client {
	const id = request.options.get(OPT_CLIENT_ID);
	if (id && id.length >= 2)
		return { key: `c:${hexText(clientIdKept(id))}`, restoredKey: `h:${request.mac}:${hash16(id)}`, mac: request.mac };
	return { key: `m:${request.mac}`, restoredKey: `m:${request.mac}`, mac: request.mac };
}

function owns(lease: Lease, client: Client): boolean {
	return lease.key === client.key || (lease.key === client.restoredKey && lease.mac === client.mac);
}

export class DhcpServer {
	readonly #router: Router;
	readonly leases = new LeaseTable(MAX_POOL + MAX_RESERVATIONS);
	readonly counters: DhcpCounters = {
		received: 0, malformed: 0, ignored: 0, discovers: 0, offers: 0, requests: 0, acks: 0, naks: 0,
		declines: 0, releases: 0, informs: 0, noAddress: 0, sendErrors: 0, faults: 0, writes: 0, writeErrors: 0,
	};
	/* Why the last malformed datagram was dropped, and what became of the stored leases at start. */
	lastMalformed = "";
	storeNote = "";
	#socket: Socket | undefined;
	#serving: Serving | undefined;
	#loaded = false;
	#dirty = false;
	#writeTimer: Timer | undefined;
	#lastWrite = -Infinity;
	#mark = 0;
	#lastReuse = -Infinity;

	constructor(router: Router) {
		this.#router = router;
	}

	get running(): boolean {
		return this.#socket !== undefined;
	}

	/* Seconds of uptime, the clock of every lease. */
	static now(): number {
		return Math.floor(Platform.uptime() / 1000);
	}

	/*
	 * What is being served: the running settings, except while a LAN change
	 * waits for the restart; then the ones from before it, which match the
	 * LAN the port still has. A change drops the entries it strands.
	 */
	serving(): Serving {
		const router = this.#router;
		const config = router.running.dhcp;
		const lan = router.activeLan;
		const s = this.#serving;
		if (s && (router.lanPending() || (s.config === config && s.lan.address === lan.address && s.lan.prefix === lan.prefix)))
			return s;
		const next = serving(config, lan);
		this.#serving = next;
		if (s)
			this.#prune(next);
		return next;
	}

	/* Start if the configuration says so; a reason when it could not. */
	start(): string | undefined {
		if (!this.#router.running.dhcp.enabled || this.#socket)
			return undefined;
		const s = this.serving();
		if (!this.#loaded) {
			this.#loaded = true;
			this.#load(s);
		}
		try {
			this.#socket = new PortSocket({
				port: SERVER_PORT,
				interface: "lan",
				onReadable: (count) => {
					this.#readable(count);
				},
			});
		}
		catch (e) {
			return `dhcp server: cannot listen on the LAN port (${e instanceof Error ? e.message : String(e)})`;
		}
		return undefined;
	}

	/* Stop answering; pending lease writes are flushed first. */
	stop(): void {
		Timer.clear(this.#writeTimer);
		this.#writeTimer = undefined;
		this.#flush();
		this.#markBack();
		const socket = this.#socket;
		this.#socket = undefined;
		socket?.close();
	}

	/* Forget every lease (all clients must ask again); written at once. */
	clearLeases(): number {
		const n = this.leases.size;
		this.leases.clear();
		this.#dirty = true;
		this.#flush();
		// Forgotten on purpose: the mark goes too (the pool is handed out from its start again).
		if (this.#mark) {
			try {
				Preference.set(PREF_DOMAIN, PREF_MARK, 0);
				this.counters.writes++;
				this.#mark = 0;
			}
			catch {
				this.counters.writeErrors++;
			}
		}
		return n;
	}

	/* Whether an entry may stay under these settings. */
	#allowed(s: Serving, lease: Lease): boolean {
		const a = lease.address;
		if (a <= s.network || a >= s.broadcast || a === s.router)
			return false;
		const owner = s.reservedBy.get(a);
		if (lease.state === "declined")
			return owner !== undefined || (a >= s.first && a <= s.last);
		if (owner !== undefined)
			return owner === lease.mac;
		return !s.reserved.has(lease.mac) && a >= s.first && a <= s.last;
	}

	#prune(s: Serving): void {
		this.leases.each((lease) => {
			if (!this.#allowed(s, lease)) {
				this.leases.delete(lease.address);
				this.#changed();
			}
		});
	}

	#load(s: Serving): void {
		let stored: unknown;
		try {
			stored = Preference.get(PREF_DOMAIN, PREF_KEY);
		}
		catch (e) {
			this.storeNote = `stored leases unreadable (${e instanceof Error ? e.message : String(e)})`;
			return;
		}
		this.#loadMark(s);
		if (stored === undefined) {
			this.#holdLost(s);
			return;
		}
		const result = unpack(stored, this.leases, s.network, s.lan.prefix, DhcpServer.now(), (a, mac) =>
			this.#allowed(s, { address: a, key: "", mac, hostname: "", expires: 0, state: "bound" }));
		this.storeNote = typeof result === "number" ? `${result} restored at start` : `${result}; not used`;
		this.#holdLost(s);
	}

	/*
	 * A clean stop with the table on flash: the mark back to the highest pool
	 * address the table has, so the addresses it ran ahead are not held
	 * after the restart.
	 */
	#markBack(): void {
		if (this.#dirty || !this.#mark || !this.#serving)
			return;
		const s = this.#serving;
		let hi = s.network;
		this.leases.each((lease) => {
			if (lease.address >= s.first && lease.address <= s.last && lease.address > hi)
				hi = lease.address;
		});
		if (hi >= this.#mark)
			return;
		try {
			Preference.set(PREF_DOMAIN, PREF_MARK, hi - s.network);
			this.counters.writes++;
			this.#mark = hi >= s.first ? hi : 0;
		}
		catch {
			this.counters.writeErrors++;
		}
	}

	#loadMark(s: Serving): void {
		try {
			// Kept as the host part (a preference integer is 32-bit signed).
			const host = Preference.get(PREF_DOMAIN, PREF_MARK);
			const mark = typeof host === "number" ? s.network + host : 0;
			this.#mark = mark >= s.first && mark <= s.last ? mark : 0;
		}
		catch {
			this.#mark = 0;
		}
	}

	/*
	 * After a restart, the pool addresses up to the mark that the stored
	 * table does not have may be held by clients whose leases were lost with
	 * the power: held for a lease time, offered to nobody; the client that
	 * holds one gets it back by asking for it (REQUEST: renewing, rebinding,
	 * rebooting).
	 */
	#holdLost(s: Serving): void {
		if (!this.#mark)
			return;
		const until = DhcpServer.now() + s.config.leaseSeconds;
		let held = 0;
		for (let a = s.first; a <= this.#mark; a++) {
			if (this.leases.at(a) || s.reservedBy.has(a) || a === s.router)
				continue;
			this.leases.set({ address: a, key: "", mac: LOST_MAC, hostname: "", expires: until, state: "declined" });
			held++;
		}
		if (held)
			this.storeNote += `${this.storeNote ? "; " : ""}${held} held after a power cut`;
	}

	/*
	 * Before a never-used address `a` is offered: the mark past it, on
	 * flash, first. False when it could not be written (nothing is offered).
	 */
	#markPast(s: Serving, a: number): boolean {
		if (a <= this.#mark)
			return true;
		const mark = Math.min(a + MARK_STEP - 1, s.last);
		try {
			Preference.set(PREF_DOMAIN, PREF_MARK, mark - s.network);
			this.counters.writes++;
		}
		catch {
			this.counters.writeErrors++;
			return false;
		}
		this.#mark = mark;
		return true;
	}

	/* Something to write: now if the last write was long enough ago, else when it will have been. */
	#changed(): void {
		this.#dirty = true;
		if (this.#writeTimer || !this.#socket)
			return;
		const wait = Math.max(0, this.#lastWrite + WRITE_INTERVAL - Platform.uptime());
		this.#writeTimer = Timer.set(() => {
			this.#writeTimer = undefined;
			this.#flush();
		}, wait);
	}

	#flush(): void {
		if (!this.#dirty)
			return;
		const s = this.serving();
		this.#lastWrite = Platform.uptime();
		try {
			Preference.set(PREF_DOMAIN, PREF_KEY, pack(this.leases, s.network, s.lan.prefix, DhcpServer.now()));
			this.#dirty = false;
			this.counters.writes++;
		}
		catch {
			// Kept dirty: the next change or stop tries again.
			this.counters.writeErrors++;
		}
	}

	#readable(count: number): void {
		for (let i = 0; i < count; i++) {
			const datagram = this.#socket?.read();
			if (!datagram)
				return;
			this.counters.received++;
			try {
				this.#received(datagram);
			}
			catch {
				this.counters.faults++;
			}
		}
	}

	#received(datagram: ArrayBuffer & Datagram): void {
		const request = parseRequest(datagram);
		if (typeof request === "string") {
			this.counters.malformed++;
			this.lastMalformed = `${request} from ${datagram.address}`;
			return;
		}
		if (request.giaddr !== 0) {
			this.counters.ignored++;
			return;
		}
		const s = this.serving();
		const client = clientOf(request);
		switch (request.type) {
		case DISCOVER: this.#discover(s, request, client); break;
		case REQUEST: this.#request(s, request, client); break;
		case DECLINE: this.#decline(s, request, client); break;
		case RELEASE: this.#release(s, request, client); break;
		case INFORM: this.#inform(s, request, datagram); break;
		default: this.counters.ignored++;
		}
	}

	/* Whether `client` may have address `a` now; `claim`: it asks for it by REQUEST (it says it holds it). */
	#usable(s: Serving, a: number, client: Client, now: number, claim = false): boolean {
		if (a <= s.network || a >= s.broadcast || a === s.router)
			return false;
		const lease = this.leases.at(a);
		const lost = lease !== undefined && lease.state === "declined" && lease.mac === LOST_MAC;
		if (lease && active(lease, now) && !owns(lease, client) && !(claim && lost))
			return false;
		const owner = s.reservedBy.get(a);
		if (owner !== undefined)
			return owner === client.mac;
		return !s.reserved.has(client.mac) && a >= s.first && a <= s.last;
	}

	/*
	 * The address to offer: the client's reservation; else the address it
	 * has or had; else the one it asks for; else one never handed out; else
	 * the one free the longest.
	 */
	#choose(s: Serving, client: Client, requested: number | undefined, now: number): number | undefined {
		const reserved = s.reserved.get(client.mac);
		if (reserved !== undefined)
			return this.#usable(s, reserved, client, now) ? reserved : undefined;
		const current = this.leases.find(client);
		if (current && this.#usable(s, current.address, client, now))
			return current.address;
		if (requested !== undefined && this.#usable(s, requested, client, now))
			return requested;
		for (let a = s.first; a <= s.last; a++)
			if (!this.leases.at(a) && this.#usable(s, a, client, now))
				return this.#markPast(s, a) ? a : undefined;
		let oldest: Lease | undefined;
		this.leases.each((lease) => {
			if (!active(lease, now) && (!oldest || lease.expires < oldest.expires) && this.#usable(s, lease.address, client, now))
				oldest = lease;
		});
		if (!oldest)
			return undefined;
		// Another client's: written before the ACK (see #bind), one such offer per REUSE_GAP.
		if (Platform.uptime() - this.#lastReuse < REUSE_GAP)
			return undefined;
		this.#lastReuse = Platform.uptime();
		return oldest.address;
	}

	#discover(s: Serving, request: Request, client: Client): void {
		this.counters.discovers++;
		const now = DhcpServer.now();
		const a = this.#choose(s, client, optionAddress(request.options, OPT_REQUESTED), now);
		if (a === undefined) {
			this.counters.noAddress++;
			return;
		}
		const lease = this.leases.find(client);
		const hostname = sanitizeHostname(request.options.get(OPT_HOSTNAME)) || (lease?.hostname ?? "");
		// A client that holds this address keeps its lease while it asks again.
		if (!(lease && lease.address === a && lease.state === "bound" && active(lease, now)))
			this.leases.assign(client, a, "offered", now + OFFER_HOLD, hostname);
		if (this.#reply(s, request, OFFER, 0, a, true))
			this.counters.offers++;
	}

	#request(s: Serving, request: Request, client: Client): void {
		this.counters.requests++;
		const o = request.options;
		const requested = optionAddress(o, OPT_REQUESTED);
		if (o.has(OPT_SERVER_ID)) {
			// SELECTING: the client answers an OFFER, ours or another server's.
			if (optionAddress(o, OPT_SERVER_ID) !== s.router) {
				const lease = this.leases.find(client);
				if (lease && lease.state === "offered")
					this.leases.delete(lease.address);
				this.counters.ignored++;
				return;
			}
			const a = requested ?? request.ciaddr;
			if (!a) {
				this.counters.ignored++;
				return;
			}
			this.#bind(s, request, client, a, 0);
			return;
		}
		if (requested !== undefined) {
			// INIT-REBOOT: the client checks the address it remembers.
			this.#bind(s, request, client, requested, 0);
			return;
		}
		if (request.ciaddr) {
			// RENEWING (unicast) or REBINDING (broadcast): the client has the address.
			this.#bind(s, request, client, request.ciaddr, request.ciaddr);
			return;
		}
		this.counters.ignored++;
	}

	/* ACK with a lease when the client may have the address, NAK when it may not. */
	#bind(s: Serving, request: Request, client: Client, a: number, ciaddr: number): void {
		const now = DhcpServer.now();
		if (!this.#usable(s, a, client, now, true)) {
			const lease = this.leases.find(client);
			if (lease && lease.address === a && lease.state !== "declined") {
				this.leases.delete(a);
				this.#changed();
			}
			if (this.#reply(s, request, NAK, 0, 0, false, a > s.network && a < s.broadcast ? "address not available" : "wrong network"))
				this.counters.naks++;
			return;
		}
		// An address past the mark, or one another client had: on flash before the ACK leaves
		// (a power cut must not make it look free); every other change waits for the batched write.
		const prev = this.leases.at(a);
		const beyond = a > this.#mark && a >= s.first && a <= s.last && !s.reservedBy.has(a);
		if (beyond && !this.#markPast(s, a))
			return;
		const old = this.leases.find(client);
		const hostname = sanitizeHostname(request.options.get(OPT_HOSTNAME)) || (old?.hostname ?? "");
		this.leases.assign(client, a, "bound", now + s.config.leaseSeconds, hostname);
		this.#changed();
		if (prev && !owns(prev, client) && !(prev.state === "declined" && prev.mac === LOST_MAC))
			this.#flush();
		if (this.#reply(s, request, ACK, ciaddr, a, true))
			this.counters.acks++;
	}

	#decline(s: Serving, request: Request, client: Client): void {
		this.counters.declines++;
		const a = optionAddress(request.options, OPT_REQUESTED);
		const lease = this.leases.find(client);
		if (optionAddress(request.options, OPT_SERVER_ID) !== s.router || a === undefined || !lease || lease.address !== a || lease.state === "free") {
			this.counters.ignored++;
			return;
		}
		this.leases.set({ address: a, key: "", mac: client.mac, hostname: "", expires: DhcpServer.now() + DECLINE_HOLD, state: "declined" });
		this.#changed();
	}

	#release(s: Serving, request: Request, client: Client): void {
		this.counters.releases++;
		const sid = optionAddress(request.options, OPT_SERVER_ID);
		const lease = this.leases.find(client);
		if ((sid !== undefined && sid !== s.router) || !lease || lease.address !== request.ciaddr || lease.state !== "bound") {
			this.counters.ignored++;
			return;
		}
		// Kept as a free record: the client gets the same address if it comes back.
		this.leases.set({ ...lease, state: "free", expires: DhcpServer.now() });
		this.#changed();
	}

	#inform(s: Serving, request: Request, datagram: Datagram): void {
		this.counters.informs++;
		const from = address(datagram.address);
		const a = request.ciaddr || from;
		if (a <= s.network || a >= s.broadcast) {
			this.counters.ignored++;
			return;
		}
		if (this.#reply(s, request, ACK, a, 0, false))
			this.counters.acks++;
	}

	/* The options a client asked for (or the usual ones), those we have. */
	#parameters(s: Serving, request: Request): [number, Uint8Array][] {
		const have = new Map<number, Uint8Array>();
		have.set(OPT_SUBNET_MASK, addressBytes(s.mask));
		have.set(OPT_ROUTER, addressBytes(s.router));
		const dns = this.#dnsServers(s);
		if (dns.length)
			have.set(OPT_DNS, addressBytes(...dns));
		if (s.config.domain)
			have.set(OPT_DOMAIN, asciiBytes(s.config.domain));
		have.set(OPT_BROADCAST, addressBytes(s.broadcast));
		const asked = request.options.get(OPT_PARAMS);
		const out: [number, Uint8Array][] = [];
		const seen = new Set<number>();
		for (const code of asked ?? DEFAULT_PARAMS) {
			const value = have.get(code);
			if (value && !seen.has(code)) {
				seen.add(code);
				out.push([code, value]);
			}
		}
		return out;
	}

	/* The router itself while the DNS forwarder runs; else the WAN's servers. */
	#dnsServers(s: Serving): number[] {
		const router = this.#router;
		if (router.running.dns.enabled)
			return [s.router];
		return router.status("wan").dns.map(address).filter((a) => a !== 0).slice(0, 2);
	}

	/* Send a reply; false when it could not go. */
	#reply(s: Serving, request: Request, type: number, ciaddr: number, yiaddr: number, lease: boolean, message?: string): boolean {
		const options: [number, Uint8Array][] = [[OPT_SERVER_ID, addressBytes(s.router)]];
		if (lease) {
			const t = s.config.leaseSeconds;
			options.push([OPT_LEASE, u32Bytes(t)], [OPT_T1, u32Bytes(Math.floor(t / 2))], [OPT_T2, u32Bytes(Math.floor(t * 7 / 8))]);
		}
		if (message)
			options.push([OPT_MESSAGE, asciiBytes(message)]);
		const required = options.length;
		if (type !== NAK)
			options.push(...this.#parameters(s, request));
		const bytes = buildReply(request, { type, ciaddr, yiaddr, options, required });
		// A NAK is broadcast (RFC 2131 4.3.2); a client with an address gets its reply there.
		const to = type !== NAK && ciaddr > s.network && ciaddr < s.broadcast ? ciaddr : BROADCAST;
		const socket = this.#socket;
		if (!socket)
			return false;
		try {
			socket.write(bytes, formatAddress(to), CLIENT_PORT);
			return true;
		}
		catch {
			this.counters.sendErrors++;
			return false;
		}
	}
}
