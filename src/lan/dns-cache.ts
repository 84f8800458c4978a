/*
 * The forwarder's answer cache: a few whole answers keyed by question
 * (name in lower case, type, class, and the flags that change the answer),
 * each kept no longer than its smallest TTL. Bounded in entries (the
 * configuration) and in bytes; when either is full the least recently used
 * entry goes. An answer handed out counts its TTLs down by the seconds it
 * has been kept, so a client never holds a record past its owner's TTL.
 */
import { ageTtls } from "lan/dns-message";

/* The longest an answer is kept, whatever its TTL says: a stale record in a small cache is cheap to ask again. */
export const MAX_TTL = 3600;
/* The longest a negative answer is kept (RFC 2308 5 suggests at most hours; a typo should heal fast). */
export const MAX_NEGATIVE_TTL = 300;
/*
 * The XS heap all entries may take, and one entry at most: the board's
 * heap is 64 KB for everything, so the cache gets an eighth of it.
 */
export const CACHE_BYTES = 8192;
export const ENTRY_BYTES = 2048;
/*
 * What an entry costs the 32-bit XS heap beyond its answer's bytes and its
 * key's characters: the Map's entry, the entry object, the answer's
 * Uint8Array and ArrayBuffer and the offsets' array (about 22 slots of 16
 * bytes and the chunks' headers), and a slot per TTL offset.
 */
const OVERHEAD = 360;
const PER_OFFSET = 16;

interface Entry {
	answer: Uint8Array;
	ttlOffsets: number[];
	/* milliseconds (uptime) when stored and when it goes */
	stored: number;
	expires: number;
	cost: number;
}

export interface Hit {
	/* a copy, TTLs counted down: the caller sets the id and question */
	answer: Uint8Array;
	negative: boolean;
}

export class DnsCache {
	/* in least recently used first order: a Map keeps insertion order, and a hit is inserted again */
	readonly #entries = new Map<string, Entry & { negative: boolean }>();
	#bytes = 0;
	#maxEntries: number;

	constructor(maxEntries: number) {
		this.#maxEntries = maxEntries;
	}

	get size(): number {
		return this.#entries.size;
	}

	get bytes(): number {
		return this.#bytes;
	}

	get maxEntries(): number {
		return this.#maxEntries;
	}

	/*
	 * The flags that change what an answer may say are part of the key: DO
	 * (DNSSEC records wanted), CD (unvalidated data accepted) and RD (no
	 * recursion wanted), so one client's answer never reaches a client that
	 * asked differently.
	 */
	static key(lowerName: string, qtype: number, qclass: number, flags: { dnssec: boolean; checkingDisabled: boolean; recursion: boolean }): string {
		return `${lowerName}/${qtype}/${qclass}${flags.dnssec ? "/do" : ""}${flags.checkingDisabled ? "/cd" : ""}${flags.recursion ? "" : "/nord"}`;
	}

	get(key: string, now: number): Hit | undefined {
		const e = this.#entries.get(key);
		if (!e)
			return undefined;
		this.#entries.delete(key);
		if (now >= e.expires) {
			this.#bytes -= e.cost;
			return undefined;
		}
		this.#entries.set(key, e);
		const answer = e.answer.slice();
		ageTtls(answer, e.ttlOffsets, Math.floor((now - e.stored) / 1000));
		return { answer, negative: e.negative };
	}

	/* Keep an answer for `ttl` seconds (capped); not when the cache is off, the TTL zero or the answer too big. */
	put(key: string, answer: Uint8Array, ttlOffsets: number[], ttl: number, negative: boolean, now: number): boolean {
		const seconds = Math.min(ttl, negative ? MAX_NEGATIVE_TTL : MAX_TTL);
		const cost = answer.length + ttlOffsets.length * PER_OFFSET + key.length + OVERHEAD;
		if (this.#maxEntries <= 0 || seconds <= 0 || cost > ENTRY_BYTES)
			return false;
		this.remove(key);
		while (this.#entries.size >= this.#maxEntries || this.#bytes + cost > CACHE_BYTES)
			if (!this.#evictOldest())
				break;
		this.#entries.set(key, { answer: answer.slice(), ttlOffsets, stored: now, expires: now + seconds * 1000, cost, negative });
		this.#bytes += cost;
		return true;
	}

	remove(key: string): void {
		const e = this.#entries.get(key);
		if (!e)
			return;
		this.#entries.delete(key);
		this.#bytes -= e.cost;
	}

	/* A new entry cap: the oldest go until it fits. */
	resize(maxEntries: number): void {
		this.#maxEntries = maxEntries;
		while (this.#entries.size > maxEntries)
			this.#evictOldest();
	}

	clear(): void {
		this.#entries.clear();
		this.#bytes = 0;
	}

	/* Drop what has expired (a timer calls this now and then, so dead entries do not hold memory). */
	expire(now: number): void {
		for (const [key, e] of this.#entries)
			if (now >= e.expires) {
				this.#entries.delete(key);
				this.#bytes -= e.cost;
			}
	}

	#evictOldest(): boolean {
		for (const [key, e] of this.#entries) {
			this.#entries.delete(key);
			this.#bytes -= e.cost;
			return true;
		}
		return false;
	}
}
