/*
 * The UPnP part of the configuration: its shape, the factory defaults and
 * validation, shared by the boot (saved values) and the console (typed
 * ones). Rules are saved as the text the console shows ("allow 1024-65535
 * 0.0.0.0/0 1024-65535"): a third of the size of the objects, which matters
 * in a configuration that must stay under 4000 bytes. Mappings themselves
 * are not saved: UPnP clients add them again.
 */
import { parseAddress, parsePrefix } from "net/ipv4";
import type { Parsed } from "net/ipv4";

export interface UpnpRule {
	action: "allow" | "deny";
	/* external ports */
	extFirst: number;
	extLast: number;
	/* LAN hosts: address/prefix */
	address: string;
	prefix: number;
	/* internal ports */
	intFirst: number;
	intLast: number;
}

export interface UpnpLimits {
	/* bytes of one HTTP request, headers and body */
	request: number;
	/* header lines in one request */
	headers: number;
	/* HTTP connections open at once */
	connections: number;
	/* GENA subscriptions, all services together */
	subscribers: number;
	/* UPnP port mappings; the pool is sized from this at boot */
	mappings: number;
}

export interface UpnpConfig {
	enabled: boolean;
	/* a client may map only to itself */
	secure: boolean;
	/* the HTTP port for descriptions, control and events on the LAN address */
	port: number;
	/* first match wins; a request no rule matches is refused */
	rules: UpnpRule[];
	limits: UpnpLimits;
}

/* The section as it is saved: rules as text. */
export type StoredUpnp = Omit<UpnpConfig, "rules"> & { rules: string[] };

export type LimitName = keyof UpnpLimits;

/* Each limit's bounds. */
export const LIMITS: Readonly<Record<LimitName, readonly [number, number]>> = {
	request: [1024, 16384],
	headers: [8, 64],
	connections: [1, 16],
	subscribers: [1, 64],
	mappings: [1, 256],
};

/* Rules count against the one preference value (4000 bytes); eight is plenty. */
export const MAX_RULES = 8;

export const DEFAULT_PORT = 5000;

export function defaultRules(): UpnpRule[] {
	// Like miniupnpd's shipped rules: nothing below 1024 on either side.
	return [
		{ action: "allow", extFirst: 1024, extLast: 65535, address: "0.0.0.0", prefix: 0, intFirst: 1024, intLast: 65535 },
		{ action: "deny", extFirst: 0, extLast: 65535, address: "0.0.0.0", prefix: 0, intFirst: 0, intLast: 65535 },
	];
}

export function upnpDefaults(): UpnpConfig {
	return {
		enabled: true,
		secure: true,
		port: DEFAULT_PORT,
		rules: defaultRules(),
		limits: { request: 4096, headers: 32, connections: 8, subscribers: 16, mappings: 64 },
	};
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPort(value: unknown, min = 0): value is number {
	return typeof value === "number" && Number.isInteger(value) && value >= min && value <= 65535;
}

export function ruleText(rule: UpnpRule): string {
	const span = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);
	return `${rule.action} ${span(rule.extFirst, rule.extLast)} ${rule.address}/${rule.prefix} ${span(rule.intFirst, rule.intLast)}`;
}

function parsePorts(what: string, text: string): Parsed<[number, number]> {
	const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
	const first = m ? Number(m[1]) : NaN;
	const last = m?.[2] !== undefined ? Number(m[2]) : first;
	if (!(first <= 65535 && last <= 65535))
		return { ok: false, error: `${what} '${text}' is not a port or a range (N or N-M, 0-65535)` };
	if (first > last)
		return { ok: false, error: `${what} ${text} runs backwards` };
	return { ok: true, value: [first, last] };
}

/* "allow|deny <ext-ports> <address[/len]> <int-ports>", as the console types and shows it. */
export function parseRule(text: string): Parsed<UpnpRule> {
	const words = text.trim().split(/\s+/);
	if (words.length !== 4)
		return { ok: false, error: "a rule is allow|deny <ext-ports> <address[/len]> <int-ports>" };
	const [action, extText, hosts, intText] = words;
	if (action !== "allow" && action !== "deny")
		return { ok: false, error: `'${action}' is not allow or deny` };
	const ext = parsePorts("external ports", extText);
	if (!ext.ok)
		return ext;
	const parts = hosts.split("/");
	const address = parseAddress(parts[0]);
	if (parts.length > 2 || !address.ok)
		return { ok: false, error: `'${hosts}' is not an address or address/len` };
	const prefix = parts.length === 1 ? { ok: true as const, value: 32 } : parsePrefix(parts[1]);
	if (!prefix.ok)
		return prefix;
	const int = parsePorts("internal ports", intText);
	if (!int.ok)
		return int;
	return {
		ok: true,
		value: { action, extFirst: ext.value[0], extLast: ext.value[1], address: parts[0], prefix: prefix.value, intFirst: int.value[0], intLast: int.value[1] },
	};
}

export function storedUpnp(config: UpnpConfig): StoredUpnp {
	return { ...config, rules: config.rules.map(ruleText) };
}

/* A stored section that validateUpnp() passed, as the router uses it. */
export function loadedUpnp(stored: StoredUpnp): UpnpConfig {
	const rules: UpnpRule[] = [];
	for (const text of stored.rules) {
		const rule = parseRule(text);
		if (rule.ok)
			rules.push(rule.value);
	}
	return { ...stored, rules, limits: { ...stored.limits } };
}

/* Every problem with a candidate upnp section, in its stored form. */
export function validateUpnp(value: unknown): string[] {
	const problems: string[] = [];
	if (!isObject(value))
		return ["upnp: not an object"];
	if (typeof value.enabled !== "boolean")
		problems.push("upnp: enabled must be true or false");
	if (typeof value.secure !== "boolean")
		problems.push("upnp: secure must be true or false");
	if (!isPort(value.port, 1))
		problems.push("upnp: port must be 1 to 65535");
	if (!Array.isArray(value.rules))
		problems.push("upnp: rules must be a list");
	else if (value.rules.length > MAX_RULES)
		problems.push(`upnp: more than ${MAX_RULES} rules`);
	else
		value.rules.forEach((rule: unknown, index) => {
			const parsed = typeof rule === "string" ? parseRule(rule) : undefined;
			if (!parsed || !parsed.ok)
				problems.push(`upnp: rule ${index + 1}: ${parsed ? parsed.error : "not text"}`);
		});
	const limits = value.limits;
	if (!isObject(limits))
		problems.push("upnp: limits missing");
	else
		for (const [name, [min, max]] of Object.entries(LIMITS)) {
			const n = limits[name];
			if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max)
				problems.push(`upnp: limit ${name} must be ${min} to ${max}`);
		}
	return problems;
}
