/*
 * The DHCP server's lease table: one entry per address it has handed out,
 * offered or seen declined, so it is bounded by the pool and the
 * reservations. Entries whose time has run out stay as "free" records: the
 * same client gets its old address back, and new clients get addresses
 * never used before, then the ones free the longest (oldest first).
 *
 * Leases are state, not configuration: they are kept across restarts in
 * their own preference value (domain "dhcp", key "leases"), written whole
 * in one Preference.set, so a reset mid-write leaves the old table or the
 * new one, never half of each. The value is packed binary to fit a full
 * pool in the 4000 bytes one value may hold:
 *
 *   header   version 1, the LAN's network address (4), its prefix (1)
 *   entry    flags (1: 0x01 free, 0x02 client-id hash, 0x04 hostname)
 *            host part of the address on the LAN (3), MAC (6),
 *            seconds left, or for a free entry seconds since it ended (3),
 *            [16-bit hash of the client-id (2)], [hostname length (1), hostname]
 *
 * Seconds left are counted from the write: time the router spends off does
 * not run leases down, so a restored lease never ends before the client's.
 * A client keyed by client-id is recognised after a restart by its MAC and
 * the hash of its client-id.
 */
import { formatAddress } from "net/ipv4";

export type LeaseState = "offered" | "bound" | "free" | "declined";

/* A copy of an entry: the table keeps none of these (see LeaseTable). */
export interface Lease {
	readonly address: number;
	/* "c:<client-id hex>", "m:<mac>", or "h:<mac>:<hash>" when restored from flash; "" when declined */
	readonly key: string;
	readonly mac: string;
	readonly hostname: string;
	/* seconds of uptime when it ends (bound, offered, declined) or ended (free) */
	readonly expires: number;
	readonly state: LeaseState;
}

/* Who asks: its table key, and the key its lease had if it was restored from flash. */
export interface Client {
	key: string;
	restoredKey: string;
	mac: string;
}

export const VALUE_MAX = 4000;
const VERSION = 1;
const HEADER = 6;
const FIXED = 13;
const FREE = 0x01, HASHED = 0x02, NAMED = 0x04;
const SECONDS_MAX = 0xffffff;

/* FNV-1a, folded to 16 bits. */
export function hash16(bytes: Uint8Array): number {
	let h = 0x811c9dc5;
	for (const b of bytes) {
		h ^= b;
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return ((h >>> 16) ^ h) & 0xffff;
}

/*
 * The table keeps each entry as a fixed record of bytes, BLOCK records to a
 * buffer, buffers added as the table grows (never copied into a larger one,
 * which would hold both at once) up to the pool's bound, and never as
 * objects: a full pool of 253 leases would otherwise take some 30 KB of the
 * board's 64 KB XS heap in objects and strings. Leases handed out are copies, made one
 * at a time as asked: changing one changes nothing until it is set() back.
 *
 *   0  address (4)        4  expires, seconds of uptime, signed (4)
 *   8  state (1)          9  MAC (6)
 *  15  key kind (1)      16  key length (1)   17  key bytes (KEY_BYTES)
 *  41  hostname length   42  hostname (HOSTNAME_BYTES)
 */
const RECORD = 74, BLOCK = 32;
const KEY_BYTES = 24, HOSTNAME_BYTES = 32;
const STATES: readonly (LeaseState | "")[] = ["", "offered", "bound", "free", "declined"];
const KEY_NONE = 0, KEY_MAC = 1, KEY_ID = 2, KEY_HASHED = 3;

/* Client-ids longer than this become their first 20 bytes and a 32-bit hash of all: a key fits its record. */
export const CLIENT_ID_KEPT = KEY_BYTES;

/* FNV-1a over all of it, 32 bits. */
export function hash32(bytes: Uint8Array): number {
	let h = 0x811c9dc5;
	for (const b of bytes) {
		h ^= b;
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h;
}

const hexDigit = (c: number): number => (c <= 57 ? c - 48 : (c | 32) - 87);

export class LeaseTable {
	#blocks: Uint8Array[] = [];
	#count = 0;
	readonly #capacity: number;

	/* capacity: the most entries there may be (the pool and the reservations). */
	constructor(capacity: number) {
		this.#capacity = capacity;
	}

	get size(): number {
		return this.#count;
	}

	/* Each entry as a Lease, one copy at a time; f may delete the one it is given. */
	each(f: (lease: Lease) => void): void {
		for (let i = 0; i < this.#count;) {
			const address = this.#address(i);
			f(this.#lease(i));
			if (i < this.#count && this.#address(i) === address)
				i++;
		}
	}

	at(address: number): Lease | undefined {
		const i = this.#index(address);
		return i < 0 ? undefined : this.#lease(i);
	}

	/* The client's entry (at most one: a client holds one address); a restored one takes its full key. */
	find(client: Client): Lease | undefined {
		for (let i = 0; i < this.#count; i++) {
			const key = this.#key(i);
			if (key === client.key)
				return this.#lease(i);
			if (key === client.restoredKey && this.#mac(i) === client.mac) {
				this.#setKey(i, client.key, client.mac);
				return this.#lease(i);
			}
		}
		return undefined;
	}

	/* Put the client at `address`, leaving any other address it had; returns the entry. */
	assign(client: Client, address: number, state: LeaseState, expires: number, hostname: string): Lease {
		const old = this.find(client);
		if (old && old.address !== address)
			this.delete(old.address);
		const lease: Lease = { address, key: client.key, mac: client.mac, hostname, expires, state };
		this.set(lease);
		return this.at(address) as Lease;
	}

	set(lease: Lease): void {
		let i = this.#index(lease.address);
		if (i < 0) {
			if (this.#count >= this.#capacity)
				throw new Error("dhcp: lease table full");
			if (this.#count >= this.#blocks.length * BLOCK)
				this.#blocks.push(new Uint8Array(BLOCK * RECORD));
			i = this.#count++;
		}
		const r = this.#block(i), at = this.#at(i);
		r.fill(0, at, at + RECORD);
		put(r, at, lease.address >>> 0, 4);
		put(r, at + 4, lease.expires | 0, 4);
		r[at + 8] = STATES.indexOf(lease.state);
		const mac = lease.mac.split(":");
		for (let k = 0; k < 6; k++)
			r[at + 9 + k] = parseInt(mac[k] ?? "0", 16) & 255;
		this.#setKey(i, lease.key, lease.mac);
		const name = lease.hostname.slice(0, HOSTNAME_BYTES);
		r[at + 41] = name.length;
		for (let k = 0; k < name.length; k++)
			r[at + 42 + k] = name.charCodeAt(k) & 0x7f;
	}

	delete(address: number): boolean {
		const i = this.#index(address);
		if (i < 0)
			return false;
		// The last record takes the hole: order means nothing to the table.
		const last = --this.#count;
		if (i !== last)
			this.#block(i).set(this.#block(last).subarray(this.#at(last), this.#at(last) + RECORD), this.#at(i));
		if (this.#count <= (this.#blocks.length - 1) * BLOCK)
			this.#blocks.pop();
		return true;
	}

	clear(): void {
		this.#count = 0;
		this.#blocks = [];
	}

	#block(i: number): Uint8Array {
		return this.#blocks[Math.floor(i / BLOCK)];
	}

	#at(i: number): number {
		return (i % BLOCK) * RECORD;
	}

	#index(address: number): number {
		for (let i = 0; i < this.#count; i++)
			if (this.#address(i) === address >>> 0)
				return i;
		return -1;
	}

	#address(i: number): number {
		return get(this.#block(i), this.#at(i), 4);
	}

	#mac(i: number): string {
		const r = this.#block(i), at = this.#at(i) + 9;
		let mac = "";
		for (let k = 0; k < 6; k++)
			mac += (k ? ":" : "") + (r[at + k] < 16 ? "0" : "") + r[at + k].toString(16);
		return mac;
	}

	#key(i: number): string {
		const r = this.#block(i), at = this.#at(i);
		switch (r[at + 15]) {
		case KEY_MAC:
			return `m:${this.#mac(i)}`;
		case KEY_HASHED:
			return `h:${this.#mac(i)}:${get(r, at + 17, 2)}`;
		case KEY_ID: {
			let hex = "c:";
			for (let k = 0; k < r[at + 16]; k++)
				hex += (r[at + 17 + k] < 16 ? "0" : "") + r[at + 17 + k].toString(16);
			return hex;
		}
		default:
			return "";
		}
	}

	/* Keys are those clientKey() makes: "m:<mac>", "h:<mac>:<hash>", "c:<hex of at most KEY_BYTES>", or "". */
	#setKey(i: number, key: string, mac: string): void {
		const r = this.#block(i), at = this.#at(i);
		r[at + 16] = 0;
		if (key === `m:${mac}`)
			r[at + 15] = KEY_MAC;
		else if (key.startsWith(`h:${mac}:`)) {
			r[at + 15] = KEY_HASHED;
			put(r, at + 17, Number(key.slice(key.lastIndexOf(":") + 1)) & 0xffff, 2);
		}
		else if (key.startsWith("c:") && key.length <= 2 + 2 * KEY_BYTES && !(key.length & 1)) {
			r[at + 15] = KEY_ID;
			r[at + 16] = (key.length - 2) >> 1;
			for (let k = 0; k < r[at + 16]; k++)
				r[at + 17 + k] = (hexDigit(key.charCodeAt(2 + 2 * k)) << 4) | hexDigit(key.charCodeAt(3 + 2 * k));
		}
		else
			r[at + 15] = KEY_NONE;
	}

	#lease(i: number): Lease {
		const r = this.#block(i), at = this.#at(i);
		let hostname = "";
		for (let k = 0; k < r[at + 41]; k++)
			hostname += String.fromCharCode(r[at + 42 + k]);
		const expires = get(r, at + 4, 4);
		return {
			address: this.#address(i),
			key: this.#key(i),
			mac: this.#mac(i),
			hostname,
			expires: expires >= 0x80000000 ? expires - 0x100000000 : expires,
			state: (STATES[r[at + 8]] || "free"),
		};
	}
}

/* Whether the entry holds its address now (an offer, a lease, a decline not yet over). */
export function active(lease: Lease, now: number): boolean {
	return lease.state !== "free" && lease.expires > now;
}

/* The client-id hash kept for a lease keyed by client-id; undefined for one keyed by MAC. */
function keyHash(key: string): number | undefined {
	if (key.startsWith("h:"))
		return Number(key.slice(key.lastIndexOf(":") + 1));
	if (!key.startsWith("c:"))
		return undefined;
	const hex = key.slice(2);
	const bytes = new Uint8Array(hex.length >> 1);
	for (let i = 0; i < bytes.length; i++)
		bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
	return hash16(bytes);
}

/*
 * The table as one preference value, at most VALUE_MAX bytes: bound leases
 * first, then free records, most recently ended first; hostnames while room
 * is left. Offers and declines are not kept.
 */
export function pack(table: LeaseTable, network: number, prefix: number, now: number): ArrayBuffer {
	// The order, as addresses: bound first, then free, most recently ended first. Leases are
	// looked up again as each is written: the table is never copied out whole.
	const bound: number[] = [], free: number[] = [], ended: number[] = [];
	table.each((lease) => {
		if (lease.state === "bound" && lease.expires > now)
			bound.push(lease.address);
		else if (lease.state === "free" || lease.state === "bound") {
			free.push(lease.address);
			ended.push(lease.expires);
		}
	});
	const rank = free.map((_, k) => k).sort((a, b) => ended[b] - ended[a]);
	const order = [...bound, ...rank.map((k) => free[k])];
	let size = HEADER, kept = 0;
	for (; kept < order.length; kept++) {
		const lease = table.at(order[kept]) as Lease;
		const entry = FIXED + (keyHash(lease.key) === undefined ? 0 : 2);
		if (size + entry > VALUE_MAX)
			break;
		size += entry;
	}
	// Hostnames while room is left, in the same order.
	const named = new Uint8Array(kept);
	for (let k = 0; k < kept; k++) {
		const name = (table.at(order[k]) as Lease).hostname;
		if (name && size + 1 + name.length <= VALUE_MAX) {
			named[k] = 1;
			size += 1 + name.length;
		}
	}
	const out = new Uint8Array(size);
	out[0] = VERSION;
	put(out, 1, network, 4);
	out[5] = prefix;
	let at = HEADER;
	for (let k = 0; k < kept; k++) {
		const l = table.at(order[k]) as Lease;
		const hash = keyHash(l.key);
		const flags = (l.state === "bound" && l.expires > now ? 0 : FREE) | (hash === undefined ? 0 : HASHED) | (named[k] ? NAMED : 0);
		out[at] = flags;
		put(out, at + 1, l.address - network, 3);
		const mac = l.mac.split(":");
		for (let i = 0; i < 6; i++)
			out[at + 4 + i] = parseInt(mac[i], 16);
		const seconds = flags & FREE ? now - l.expires : l.expires - now;
		put(out, at + 10, Math.max(0, Math.min(SECONDS_MAX, Math.ceil(seconds))), 3);
		at += FIXED;
		if (hash !== undefined) {
			put(out, at, hash, 2);
			at += 2;
		}
		if (flags & NAMED) {
			out[at] = l.hostname.length;
			for (let i = 0; i < l.hostname.length; i++)
				out[at + 1 + i] = l.hostname.charCodeAt(i) & 0x7f;
			at += 1 + l.hostname.length;
		}
	}
	return out.buffer;
}

function put(out: Uint8Array, at: number, value: number, bytes: number): void {
	for (let i = bytes - 1; i >= 0; i--) {
		out[at + i] = value & 255;
		value = Math.floor(value / 256);
	}
}

function get(b: Uint8Array, at: number, bytes: number): number {
	let value = 0;
	for (let i = 0; i < bytes; i++)
		value = value * 256 + b[at + i];
	return value;
}

const NAME_CHARS = /^[A-Za-z0-9._-]*$/;

/*
 * Leases read back from a preference value into `table`, checked entry by
 * entry: an address that is not wanted (`keep` says no) or given twice is
 * skipped. Returns how many were restored, or why the value was not used
 * (another LAN, unreadable).
 */
export function unpack(value: unknown, table: LeaseTable, network: number, prefix: number, now: number, keep: (address: number, mac: string) => boolean): number | string {
	if (!(value instanceof ArrayBuffer))
		return "stored leases are not binary";
	const b = new Uint8Array(value);
	if (b.length < HEADER || b[0] !== VERSION)
		return "stored leases have an unknown format";
	if (get(b, 1, 4) !== network || b[5] !== prefix)
		return `stored leases are for another LAN (${formatAddress(get(b, 1, 4))}/${b[5]})`;
	let at = HEADER, restored = 0;
	while (at < b.length) {
		if (at + FIXED > b.length)
			return "stored leases are cut short";
		const flags = b[at];
		const address = network + get(b, at + 1, 3);
		const macBytes: string[] = [];
		for (let i = 0; i < 6; i++)
			macBytes.push((b[at + 4 + i] < 16 ? "0" : "") + b[at + 4 + i].toString(16));
		const mac = macBytes.join(":");
		const seconds = get(b, at + 10, 3);
		at += FIXED;
		let hash: number | undefined, name = "";
		if (flags & HASHED) {
			if (at + 2 > b.length)
				return "stored leases are cut short";
			hash = get(b, at, 2);
			at += 2;
		}
		if (flags & NAMED) {
			const length = at < b.length ? b[at] : 0;
			if (at + 1 + length > b.length)
				return "stored leases are cut short";
			for (let i = 0; i < length; i++)
				name += String.fromCharCode(b[at + 1 + i]);
			at += 1 + length;
			if (!NAME_CHARS.test(name))
				name = "";
		}
		if (flags & ~(FREE | HASHED | NAMED) || table.at(address) || !keep(address, mac))
			continue;
		table.set({
			address,
			key: hash === undefined ? `m:${mac}` : `h:${mac}:${hash}`,
			mac,
			hostname: name,
			expires: flags & FREE ? now - seconds : now + seconds,
			state: flags & FREE ? "free" : "bound",
		});
		restored++;
	}
	return restored;
}
