/*
 * The router's configuration: its shape, the factory defaults, validation,
 * and keeping it in preferences (one JSON value, so a save is one atomic
 * write). Whatever is read back is validated again: a value that is
 * unreadable or wrong gives defaults and a warning, never a half config.
 */
import Preference from "preference";
import { parseAddress, parseHostCidr, parseUnicast, sameSubnet } from "ipv4";
import { natDefaults, validateNat } from "nat-config";
import type { NatConfig } from "nat-config";
import { loadedUpnp, storedUpnp, upnpDefaults, validateUpnp } from "upnp/upnp-config";
import type { StoredUpnp, UpnpConfig } from "upnp/upnp-config";

export interface LanConfig {
	address: string;
	prefix: number;
}

export type WanConfig =
	| { mode: "dhcp" }
	| { mode: "static"; address: string; prefix: number; gateway: string; dns: string[] };

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
}

const DOMAIN = "router";
const KEY = "config";

export function defaults(): RouterConfig {
	return {
		version: 1,
		lan: { address: "192.168.4.1", prefix: 24 },
		wan: { mode: "dhcp" },
		nat: natDefaults(),
		upnp: upnpDefaults(),
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
 * missing nat or upnp section is not a problem (saved before it existed);
 * load() fills in its defaults.
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
	if (!isObject(wan))
		problems.push("wan: missing");
	else if (wan.mode === "static") {
		const problem = checkCidr("wan", wan.address, wan.prefix);
		if (problem)
			problems.push(problem);
		const gateway = typeof wan.gateway === "string" ? parseUnicast(wan.gateway) : undefined;
		if (!gateway)
			problems.push("wan: gateway missing");
		else if (!gateway.ok)
			problems.push(`wan: gateway ${gateway.error}`);
		else if (!problem && typeof wan.address === "string" && typeof wan.prefix === "number") {
			const a = parseAddress(wan.address), g = parseAddress(gateway.value);
			if (a.ok && g.ok && !sameSubnet(a.value, g.value, wan.prefix))
				problems.push(`wan: gateway ${gateway.value} is not on ${wan.address}/${wan.prefix}`);
			if (a.ok && g.ok && a.value === g.value)
				problems.push("wan: gateway is the router's own address");
		}
		if (!Array.isArray(wan.dns) || wan.dns.length > 2)
			problems.push("wan: dns must be a list of at most 2 servers");
		else
			for (const server of wan.dns) {
				const parsed = typeof server === "string" ? parseUnicast(server) : undefined;
				if (!parsed)
					problems.push("wan: dns server is not text");
				else if (!parsed.ok)
					problems.push(`wan: dns ${parsed.error}`);
			}
	}
	else if (wan.mode !== "dhcp")
		problems.push(`wan: mode ${String(wan.mode)} (dhcp or static)`);
	if (!problems.length && isObject(lan) && isObject(wan) && wan.mode === "static") {
		const l = parseAddress(String(lan.address)), w = parseAddress(String(wan.address));
		const widest = Math.min(Number(lan.prefix), Number(wan.prefix));
		if (l.ok && w.ok && sameSubnet(l.value, w.value, widest))
			problems.push("lan and wan subnets overlap");
	}
	if (value.nat !== undefined)
		problems.push(...validateNat(value.nat, goodLan));
	if (value.upnp !== undefined)
		problems.push(...validateUpnp(value.upnp));
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
	const config = parsed as Omit<RouterConfig, "nat" | "upnp"> & { nat?: NatConfig; upnp?: StoredUpnp };
	return { config: { ...config, nat: config.nat ?? natDefaults(), upnp: config.upnp ? loadedUpnp(config.upnp) : upnpDefaults() }, saved: true };
}

export function save(config: RouterConfig): void {
	const stored = { ...config, upnp: storedUpnp(config.upnp) };
	const problems = validate(stored);
	if (problems.length)
		throw new Error(`refusing to save an invalid configuration: ${problems.join("; ")}`);
	Preference.set(DOMAIN, KEY, JSON.stringify(stored));
}
