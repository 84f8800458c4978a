/*
 * The router's configuration: its shape, the factory defaults, validation,
 * and keeping it in preferences (one JSON value, so a save is one atomic
 * write). Whatever is read back is validated again: a value that is
 * unreadable or wrong gives defaults and a warning, never a half config.
 */
import Preference from "preference";
import { parseHostCidr } from "net/ipv4";
import { natDefaults, validateNat } from "nat/nat-config";
import type { NatConfig } from "nat/nat-config";
import { loadedUpnp, storedUpnp, upnpDefaults, validateUpnp } from "upnp/upnp-config";
import type { StoredUpnp, UpnpConfig } from "upnp/upnp-config";
import { dhcpDefaults, validateDhcp } from "lan/dhcp-config";
import type { DhcpConfig } from "lan/dhcp-config";
import { dnsDefaults, validateDns } from "lan/dns-config";
import type { DnsConfig } from "lan/dns-config";
import { pmpDefaults, validatePmp } from "natpmp/natpmp-config";
import type { PmpConfig } from "natpmp/natpmp-config";
import { loadedSipalg, sipalgDefaults, validateSipalg } from "sipalg/sipalg-config";
import type { SipAlgConfig } from "sipalg/sipalg-config";
import { validateWan, wanDefaults, wanOverlapsLan } from "wan/wan-config";
import type { WanConfig } from "wan/wan-config";

export interface LanConfig {
	address: string;
	prefix: number;
}

/*
 * version stays 1 while sections are only added: a configuration saved
 * before a section existed loads with that section's defaults.
 */
export interface RouterConfig {
	version: 1;
	lan: LanConfig;
	wan: WanConfig;
	nat: NatConfig;
	upnp: UpnpConfig;
	sipalg: SipAlgConfig;
	dhcp: DhcpConfig;
	dns: DnsConfig;
	pmp: PmpConfig;
}

const DOMAIN = "router";
const KEY = "config";

export function defaults(): RouterConfig {
	return {
		version: 1,
		lan: { address: "192.168.4.1", prefix: 24 },
		wan: wanDefaults(),
		nat: natDefaults(),
		upnp: upnpDefaults(),
		sipalg: sipalgDefaults(),
		dhcp: dhcpDefaults(),
		dns: dnsDefaults(),
		pmp: pmpDefaults(),
	};
}

export function clone(config: RouterConfig): RouterConfig {
	return JSON.parse(JSON.stringify(config)) as RouterConfig;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkCidr(where: string, address: unknown, prefix: unknown): string | undefined {
	if (typeof address !== "string" || typeof prefix !== "number" || !Number.isInteger(prefix))
		return `${where}: address and prefix required`;
	const parsed = parseHostCidr(`${address}/${prefix}`);
	return parsed.ok ? undefined : `${where}: ${parsed.error}`;
}

/*
 * Every problem with a candidate configuration; empty when it is good. A
 * missing nat, upnp, sipalg, dhcp, dns or pmp section is not a problem (saved before it
 * existed); load() fills in its defaults.
 */
export function validate(value: unknown): string[] {
	const problems: string[] = [];
	if (!isObject(value))
		return ["not an object"];
	if (value.version !== 1)
		problems.push(`unknown version ${String(value.version)}`);
	const lan = value.lan;
	const wan = value.wan;
	let goodLan: LanConfig | undefined;
	if (!isObject(lan))
		problems.push("lan: missing");
	else {
		const problem = checkCidr("lan", lan.address, lan.prefix);
		if (problem)
			problems.push(problem);
		else
			goodLan = { address: String(lan.address), prefix: Number(lan.prefix) };
	}
	problems.push(...validateWan(wan));
	if (!problems.length && goodLan && wanOverlapsLan(wan as WanConfig, goodLan))
		problems.push("lan and wan subnets overlap");
	if (value.nat !== undefined)
		problems.push(...validateNat(value.nat, goodLan));
	if (value.upnp !== undefined)
		problems.push(...validateUpnp(value.upnp));
	if (value.sipalg !== undefined)
		problems.push(...validateSipalg(value.sipalg));
	if (value.dhcp !== undefined)
		problems.push(...validateDhcp(value.dhcp, goodLan));
	if (value.dns !== undefined)
		problems.push(...validateDns(value.dns));
	if (value.pmp !== undefined)
		problems.push(...validatePmp(value.pmp));
	return problems;
}

export interface Loaded {
	config: RouterConfig;
	saved: boolean;
	warning?: string;
}

export function load(): Loaded {
	let stored: unknown;
	try {
		stored = Preference.get(DOMAIN, KEY);
	}
	catch (e) {
		return { config: defaults(), saved: false, warning: `configuration unreadable (${String(e)}); using defaults` };
	}
	if (stored === undefined)
		return { config: defaults(), saved: false };
	if (typeof stored !== "string")
		return { config: defaults(), saved: false, warning: "configuration has the wrong type; using defaults" };
	let parsed: unknown;
	try {
		parsed = JSON.parse(stored);
	}
	catch {
		return { config: defaults(), saved: false, warning: "configuration is not valid JSON; using defaults" };
	}
	const problems = validate(parsed);
	if (problems.length)
		return { config: defaults(), saved: false, warning: `configuration rejected (${problems.join("; ")}); using defaults` };
	const config = parsed as Omit<RouterConfig, "nat" | "upnp" | "sipalg" | "dhcp" | "dns" | "pmp">
		& { nat?: NatConfig; upnp?: StoredUpnp; sipalg?: SipAlgConfig; dhcp?: DhcpConfig; dns?: DnsConfig; pmp?: PmpConfig };
	return {
		config: {
			...config,
			nat: config.nat ?? natDefaults(),
			upnp: config.upnp ? loadedUpnp(config.upnp) : upnpDefaults(),
			sipalg: config.sipalg ? loadedSipalg(config.sipalg) : sipalgDefaults(),
			dhcp: config.dhcp ?? dhcpDefaults(config.lan),
			dns: config.dns ?? dnsDefaults(),
			pmp: config.pmp ? { natpmp: config.pmp.natpmp, pcp: config.pmp.pcp } : pmpDefaults(),
		},
		saved: true,
	};
}

export function save(config: RouterConfig): void {
	const stored = { ...config, upnp: storedUpnp(config.upnp) };
	const problems = validate(stored);
	if (problems.length)
		throw new Error(`refusing to save an invalid configuration: ${problems.join("; ")}`);
	Preference.set(DOMAIN, KEY, JSON.stringify(stored));
}
