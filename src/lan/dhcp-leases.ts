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

export interface Lease {
	address: number;
	/* "c:<client-id hex>", "m:<mac>", or "h:<mac>:<hash>" when restored from flash; "" when declined */
	key: string;
	mac: string;
	hostname: string;
	/* seconds of uptime when it ends (bound, offered, declined) or ended (free) */
	expires: number;
	state: LeaseState;
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

export class LeaseTable {
	readonly #byAddress = new Map<number, Lease>();

	get size(): number {
		return this.#byAddress.size;
	}

	entries(): Lease[] {
		return [...this.#byAddress.values()];
	}

	at(address: number): Lease | undefined {
		return this.#byAddress.get(address);
	}

	/* The client's entry (at most one: a client holds one address); a restored one takes its full key. */
	find(client: Client): Lease | undefined {
		for (const lease of this.#byAddress.values()) {
			if (lease.key === client.key)
				return lease;
			if (lease.key === client.restoredKey && lease.mac === client.mac) {
				lease.key = client.key;
				return lease;
			}
		}
		return undefined;
	}

	/* Put the client at `address`, leaving any other address it had; returns the entry. */
	assign(client: Client, address: number, state: LeaseState, expires: number, hostname: string): Lease {
		const old = this.find(client);
		if (old && old.address !== address)
			this.#byAddress.delete(old.address);
		const lease: Lease = { address, key: client.key, mac: client.mac, hostname, expires, state };
		this.#byAddress.set(address, lease);
		return lease;
	}

	set(lease: Lease): void {
		this.#byAddress.set(lease.address, lease);
	}

	delete(address: number): boolean {
		return this.#byAddress.delete(address);
	}

	clear(): void {
		this.#byAddress.clear();
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

interface Packed {
	lease: Lease;
	flags: number;
	hash: number;
	name: string;
}

/*
 * The table as one preference value, at most VALUE_MAX bytes: bound leases
 * first, then free records, most recently ended first; hostnames while room
 * is left. Offers and declines are not kept.
 */
export function pack(table: LeaseTable, network: number, prefix: number, now: number): ArrayBuffer {
	const bound: Lease[] = [], free: Lease[] = [];
	for (const lease of table.entries()) {
		if (lease.state === "bound" && lease.expires > now)
			bound.push(lease);
		else if (lease.state === "free" || lease.state === "bound")
			free.push(lease);
	}
	free.sort((a, b) => b.expires - a.expires);
	const chosen: Packed[] = [];
	let size = HEADER;
	for (const lease of [...bound, ...free]) {
		const hash = keyHash(lease.key);
		const entry = FIXED + (hash === undefined ? 0 : 2);
		if (size + entry > VALUE_MAX)
			break;
		size += entry;
		chosen.push({ lease, flags: (lease.state === "bound" && lease.expires > now ? 0 : FREE) | (hash === undefined ? 0 : HASHED), hash: hash ?? 0, name: "" });
	}
	for (const c of chosen) {
		const name = c.lease.hostname;
		if (name && size + 1 + name.length <= VALUE_MAX) {
			c.name = name;
			c.flags |= NAMED;
			size += 1 + name.length;
		}
	}
	const out = new Uint8Array(size);
	out[0] = VERSION;
	put(out, 1, network, 4);
	out[5] = prefix;
	let at = HEADER;
	for (const c of chosen) {
		const l = c.lease;
		out[at] = c.flags;
		put(out, at + 1, l.address - network, 3);
		const mac = l.mac.split(":");
		for (let i = 0; i < 6; i++)
			out[at + 4 + i] = parseInt(mac[i], 16);
		const seconds = c.flags & FREE ? now - l.expires : l.expires - now;
		put(out, at + 10, Math.max(0, Math.min(SECONDS_MAX, Math.ceil(seconds))), 3);
		at += FIXED;
		if (c.flags & HASHED) {
			put(out, at, c.hash, 2);
			at += 2;
		}
		if (c.flags & NAMED) {
			out[at] = c.name.length;
			for (let i = 0; i < c.name.length; i++)
				out[at + 1 + i] = c.name.charCodeAt(i) & 0x7f;
			at += 1 + c.name.length;
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
