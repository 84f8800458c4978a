/*
 * The LAN DNS forwarder's settings: on or off, and how many answers its
 * cache keeps. The upstream servers are not here: they are the WAN's (from
 * its DHCP lease, or the static WAN configuration's dns list).
 */
export interface DnsConfig {
	enabled: boolean;
	/* answers the cache keeps; 0 turns it off */
	cacheEntries: number;
}

/* The cache's entry bounds (bytes are bounded apart: dns-cache.ts). */
export const CACHE_MIN = 0;
export const CACHE_MAX = 512;

export function dnsDefaults(): DnsConfig {
	return { enabled: true, cacheEntries: 64 };
}

/* Every problem with a stored DNS section. */
export function validateDns(value: unknown): string[] {
	if (typeof value !== "object" || value === null || Array.isArray(value))
		return ["dns: not an object"];
	const v = value as Record<string, unknown>;
	const problems: string[] = [];
	if (typeof v.enabled !== "boolean")
		problems.push("dns: enabled must be true or false");
	const n = v.cacheEntries;
	if (typeof n !== "number" || !Number.isInteger(n) || n < CACHE_MIN || n > CACHE_MAX)
		problems.push(`dns: cacheEntries must be ${CACHE_MIN} to ${CACHE_MAX}`);
	return problems;
}
