/*
 * The LAN DHCP server's settings: on/off, the pool, the lease time, the
 * domain name handed out, and the reservations by MAC address. Shared by
 * the boot (saved values, checked against the saved LAN) and the console
 * (typed values, checked against the running LAN), so both refuse the same
 * things in the same words.
 */
import type { LanConfig } from "config";
import { formatAddress, parseAddress, sameSubnet } from "net/ipv4";
import type { Parsed } from "net/ipv4";

export interface DhcpReservation {
	mac: string;        /* "aa:bb:cc:dd:ee:ff", lower case */
	address: string;
}

export interface DhcpConfig {
	enabled: boolean;
	first: string;      /* the pool's first and last address, on the LAN subnet */
	last: string;
	leaseSeconds: number;
	domain: string;     /* option 15; "" for none */
	reservations: DhcpReservation[];
}

/* The lease table holds one entry per address: the pool bounds it. */
export const MAX_POOL = 253;
/*
 * Reservations live in the one configuration value (4000 bytes, shared with
 * forwards and UPnP rules): 16 of about 55 bytes each stay well inside it.
 */
export const MAX_RESERVATIONS = 16;
export const MIN_LEASE = 60;
export const MAX_LEASE = 604800;
export const DEFAULT_LEASE = 86400;
export const DEFAULT_DOMAIN = "lan";
/* A domain that fits the configuration comfortably and any client's buffer. */
export const MAX_DOMAIN = 63;
/* The default pool, as host numbers on the LAN: .100 to .199 on a /24. */
const DEFAULT_FIRST_HOST = 100;
const DEFAULT_LAST_HOST = 199;

const DEFAULT_LAN: LanConfig = { address: "192.168.4.1", prefix: 24 };

function hostMask(prefix: number): number {
	return prefix >= 32 ? 0 : prefix <= 0 ? 0xffffffff : (2 ** (32 - prefix)) - 1;
}

export function networkOf(address: number, prefix: number): number {
	return address - (address % (hostMask(prefix) + 1));
}

/*
 * The default pool on a LAN: .100-.199 of its subnet where that fits, else
 * as much of the subnet as there is (a /25 or smaller).
 */
export function defaultPool(lan: LanConfig): [string, string] {
	const parsed = parseAddress(lan.address);
	const address = parsed.ok ? parsed.value : 0xc0a80401;
	const network = networkOf(address, lan.prefix);
	const broadcast = network + hostMask(lan.prefix);
	let first = network + DEFAULT_FIRST_HOST, last = network + DEFAULT_LAST_HOST;
	if (last >= broadcast) {
		first = network + 1;
		last = Math.min(broadcast - 1, first + MAX_POOL - 1);
	}
	// Never starting on the router itself.
	if (first === address && last > first)
		first++;
	else if (last === address && last > first)
		last--;
	return [formatAddress(first), formatAddress(last)];
}

export function dhcpDefaults(lan: LanConfig = DEFAULT_LAN): DhcpConfig {
	const [first, last] = defaultPool(lan);
	return { enabled: true, first, last, leaseSeconds: DEFAULT_LEASE, domain: DEFAULT_DOMAIN, reservations: [] };
}

/* "aa:bb:cc:dd:ee:ff" (or with dashes, any case) as lower-case colon form. */
export function parseMac(text: string): Parsed<string> {
	const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(text);
	if (!m)
		return { ok: false, error: `'${text}' is not a MAC address (aa:bb:cc:dd:ee:ff)` };
	const mac = [m[1], m[3], m[4], m[5], m[6], m[7]].join(":").toLowerCase();
	if (parseInt(m[1], 16) & 1)
		return { ok: false, error: `${mac} is a multicast MAC address` };
	if (mac === "00:00:00:00:00:00")
		return { ok: false, error: "00:00:00:00:00:00 is not a host's MAC address" };
	return { ok: true, value: mac };
}

/* Why an address cannot be handed out on this LAN, if it cannot. */
export function lanHostProblem(text: string, lan: LanConfig): string | undefined {
	const a = parseAddress(text);
	const l = parseAddress(lan.address);
	if (!a.ok)
		return a.error;
	if (!l.ok)
		return l.error;
	if (!sameSubnet(a.value, l.value, lan.prefix))
		return `${text} is not on the LAN ${lan.address}/${lan.prefix}`;
	const host = a.value - networkOf(a.value, lan.prefix);
	if (host === 0)
		return `${text} is the LAN's network address`;
	if (host === hostMask(lan.prefix))
		return `${text} is the LAN's broadcast address`;
	return undefined;
}

/* Why a pool cannot be used on this LAN (or on any LAN when lan is undefined), if it cannot. */
export function poolProblem(first: string, last: string, lan: LanConfig | undefined): string | undefined {
	const f = parseAddress(first), l = parseAddress(last);
	if (!f.ok)
		return f.error;
	if (!l.ok)
		return l.error;
	if (f.value > l.value)
		return `pool ${first}-${last} runs backwards`;
	if (l.value - f.value + 1 > MAX_POOL)
		return `pool ${first}-${last} has ${l.value - f.value + 1} addresses (at most ${MAX_POOL})`;
	if (lan) {
		const problem = lanHostProblem(first, lan) ?? lanHostProblem(last, lan);
		if (problem)
			return `pool ${problem}`;
		const router = parseAddress(lan.address);
		if (router.ok && f.value === router.value && l.value === router.value)
			return `pool ${first}-${last} is only the router's own address`;
	}
	return undefined;
}

/* Why an address cannot be reserved on this LAN, if it cannot. */
export function reservationProblem(address: string, lan: LanConfig | undefined): string | undefined {
	const a = parseAddress(address);
	if (!a.ok)
		return a.error;
	if (!lan)
		return undefined;
	const router = parseAddress(lan.address);
	if (router.ok && a.value === router.value)
		return `${address} is the router's own address`;
	return lanHostProblem(address, lan);
}

export function leaseProblem(seconds: unknown): string | undefined {
	if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < MIN_LEASE || seconds > MAX_LEASE)
		return `lease time must be ${MIN_LEASE} to ${MAX_LEASE} seconds`;
	return undefined;
}

/* A domain name for option 15: dot-separated labels of letters, digits and inner hyphens. */
export function domainProblem(domain: unknown): string | undefined {
	if (typeof domain !== "string")
		return "domain must be text";
	if (domain === "")
		return undefined;
	if (domain.length > MAX_DOMAIN)
		return `domain longer than ${MAX_DOMAIN} characters`;
	const labels = domain.split(".");
	for (const label of labels)
		if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
			return `'${domain}' is not a domain name (labels of letters, digits and inner hyphens)`;
	// RFC 3696 2: a top-level label is never all digits (so an address is never taken for a name).
	if (/^[0-9]+$/.test(labels[labels.length - 1]))
		return `'${domain}' is not a domain name: its last label is all digits`;
	return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/* Every problem with a stored DHCP section, given the LAN it serves. */
export function validateDhcp(value: unknown, lan: LanConfig | undefined): string[] {
	if (!isObject(value))
		return ["dhcp: not an object"];
	const problems: string[] = [];
	if (typeof value.enabled !== "boolean")
		problems.push("dhcp: enabled must be true or false");
	if (typeof value.first !== "string" || typeof value.last !== "string")
		problems.push("dhcp: pool first and last required");
	else {
		const problem = poolProblem(value.first, value.last, lan);
		if (problem)
			problems.push(`dhcp: ${problem}`);
	}
	const lease = leaseProblem(value.leaseSeconds);
	if (lease)
		problems.push(`dhcp: ${lease}`);
	const domain = domainProblem(value.domain);
	if (domain)
		problems.push(`dhcp: ${domain}`);
	if (!Array.isArray(value.reservations))
		problems.push("dhcp: reservations must be a list");
	else if (value.reservations.length > MAX_RESERVATIONS)
		problems.push(`dhcp: more than ${MAX_RESERVATIONS} reservations`);
	else {
		const macs = new Set<string>(), addresses = new Set<string>();
		value.reservations.forEach((r: unknown, i) => {
			const where = `dhcp: reservation ${i + 1}`;
			if (!isObject(r) || typeof r.mac !== "string" || typeof r.address !== "string") {
				problems.push(`${where}: mac and address required`);
				return;
			}
			const mac = parseMac(r.mac);
			if (!mac.ok || mac.value !== r.mac)
				problems.push(`${where}: ${mac.ok ? `${r.mac} is not in lower-case colon form` : mac.error}`);
			const problem = reservationProblem(r.address, lan);
			if (problem)
				problems.push(`${where}: ${problem}`);
			if (macs.has(r.mac))
				problems.push(`${where}: ${r.mac} is reserved twice`);
			if (addresses.has(r.address))
				problems.push(`${where}: ${r.address} is reserved twice`);
			macs.add(r.mac);
			addresses.add(r.address);
		});
	}
	return problems;
}

/*
 * The DHCP settings moved to a new LAN (set lan): each address keeps its
 * host part on the new subnet. What no longer fits falls back: the pool to
 * the new LAN's default, a reservation is dropped. Returns the new settings
 * and what was changed beyond the move, for the console.
 */
export function dhcpForLan(dhcp: DhcpConfig, from: LanConfig, to: LanConfig): { config: DhcpConfig; notes: string[] } {
	const notes: string[] = [];
	const fromAddr = parseAddress(from.address), toAddr = parseAddress(to.address);
	if (!fromAddr.ok || !toAddr.ok)
		return { config: { ...dhcpDefaults(to), enabled: dhcp.enabled, leaseSeconds: dhcp.leaseSeconds, domain: dhcp.domain }, notes };
	const toNet = networkOf(toAddr.value, to.prefix);
	const move = (text: string): string => {
		const a = parseAddress(text);
		const host = a.ok ? (a.value - networkOf(a.value, from.prefix)) % (hostMask(to.prefix) + 1) : 0;
		return formatAddress(toNet + host);
	};
	let first = move(dhcp.first), last = move(dhcp.last);
	if (poolProblem(first, last, to)) {
		[first, last] = defaultPool(to);
		notes.push(`dhcp pool is now ${first}-${last}`);
	}
	const reservations: DhcpReservation[] = [];
	for (const r of dhcp.reservations) {
		const address = move(r.address);
		if (reservationProblem(address, to) || reservations.some((o) => o.address === address))
			notes.push(`dhcp reservation ${r.mac} ${r.address} dropped`);
		else
			reservations.push({ mac: r.mac, address });
	}
	return { config: { ...dhcp, first, last, reservations }, notes };
}
