/*
 * IPv4 addresses as the console and configuration write them: parsing with
 * a reason when the text is wrong, prefixes and netmasks, and which
 * addresses a router port may take.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Cidr {
	address: string;
	prefix: number;
}

export function parseAddress(text: string): Parsed<number> {
	const parts = text.split(".");
	if (parts.length !== 4)
		return { ok: false, error: `'${text}' is not an IPv4 address (a.b.c.d)` };
	let value = 0;
	for (const part of parts) {
		if (!/^[0-9]{1,3}$/.test(part) || (part.length > 1 && part[0] === "0"))
			return { ok: false, error: `'${text}' is not an IPv4 address (a.b.c.d)` };
		const n = Number(part);
		if (n > 255)
			return { ok: false, error: `'${text}' is not an IPv4 address (${n} is over 255)` };
		value = value * 256 + n;
	}
	return { ok: true, value };
}

export function formatAddress(value: number): string {
	return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

export function prefixToNetmask(prefix: number): string {
	return formatAddress(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

export function netmaskToPrefix(netmask: string): number | undefined {
	const parsed = parseAddress(netmask);
	if (!parsed.ok)
		return undefined;
	for (let prefix = 0; prefix <= 32; prefix++)
		if (prefixToNetmask(prefix) === netmask)
			return prefix;
	return undefined;
}

export function parsePrefix(text: string): Parsed<number> {
	if (!/^[0-9]{1,2}$/.test(text) || Number(text) > 32)
		return { ok: false, error: `'/${text}' is not a prefix length (0 to 32)` };
	return { ok: true, value: Number(text) };
}

/* Why an address cannot be a host address on a router port, if it cannot. */
export function hostAddressProblem(value: number, prefix: number): string | undefined {
	const first = value >>> 24;
	if (first === 0)
		return "is in 0.0.0.0/8";
	if (first === 127)
		return "is a loopback address";
	if (first >= 224)
		return first < 240 ? "is a multicast address" : "is a reserved or broadcast address";
	if (prefix < 8 || prefix > 30)
		return `needs a prefix from /8 to /30, not /${prefix}`;
	const hostBits = 32 - prefix;
	const host = value % 2 ** hostBits;
	if (host === 0)
		return "is the network address of its subnet";
	if (host === 2 ** hostBits - 1)
		return "is the broadcast address of its subnet";
	return undefined;
}

/* "a.b.c.d/len" for a router port. */
export function parseHostCidr(text: string): Parsed<Cidr> {
	const slash = text.indexOf("/");
	if (slash < 0)
		return { ok: false, error: `'${text}' needs a prefix length, as in 192.168.4.1/24` };
	const address = parseAddress(text.slice(0, slash));
	if (!address.ok)
		return address;
	const prefix = parsePrefix(text.slice(slash + 1));
	if (!prefix.ok)
		return prefix;
	const problem = hostAddressProblem(address.value, prefix.value);
	if (problem)
		return { ok: false, error: `${text.slice(0, slash)}/${prefix.value} ${problem}` };
	return { ok: true, value: { address: formatAddress(address.value), prefix: prefix.value } };
}

export function sameSubnet(a: number, b: number, prefix: number): boolean {
	const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
	return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/* A unicast host address that is not ours to refuse (gateway, DNS server). */
export function parseUnicast(text: string): Parsed<string> {
	const parsed = parseAddress(text);
	if (!parsed.ok)
		return parsed;
	const first = parsed.value >>> 24;
	if (first === 0 || first === 127 || first >= 224 || parsed.value === 0xffffffff)
		return { ok: false, error: `${text} is not a unicast address` };
	return { ok: true, value: formatAddress(parsed.value) };
}

/* Special-purpose blocks (RFC 6890 and friends) that the Internet does not route to. */
const NOT_PUBLIC: readonly (readonly [number, number])[] = [
	[0x00000000, 8], [0x0a000000, 8], [0x64400000, 10], [0x7f000000, 8], [0xa9fe0000, 16],
	[0xac100000, 12], [0xc0000000, 24], [0xc0000200, 24], [0xc0a80000, 16], [0xc6120000, 15],
	[0xc6336400, 24], [0xcb007100, 24], [0xe0000000, 4], [0xf0000000, 4],
];

/* Whether an address is publicly routable (not private, shared, documentation, ...). */
export function isPublic(value: number): boolean {
	return !NOT_PUBLIC.some(([block, prefix]) => sameSubnet(value, block, prefix));
}
