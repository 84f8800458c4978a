/*
 * The WAN part of the configuration: DHCP from the ISP, or a static
 * address with its gateway and DNS servers. The console checks typed
 * values with the same function the boot uses on saved ones.
 */
import { parseAddress, parseHostCidr, parseUnicast, sameSubnet } from "net/ipv4";
import type { Cidr } from "net/ipv4";

export type WanConfig =
	| { mode: "dhcp" }
	| { mode: "static"; address: string; prefix: number; gateway: string; dns: string[] };

export const WAN_DNS_MAX = 2;

export function wanDefaults(): WanConfig {
	return { mode: "dhcp" };
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/* Every problem with a stored or typed WAN section; empty when it is good. */
export function validateWan(value: unknown): string[] {
	if (!isObject(value))
		return ["wan: missing"];
	if (value.mode === "dhcp")
		return [];
	if (value.mode !== "static")
		return [`wan: mode ${String(value.mode)} (dhcp or static)`];
	const problems: string[] = [];
	const { address, prefix } = value;
	let cidr: string | undefined;
	if (typeof address !== "string" || typeof prefix !== "number" || !Number.isInteger(prefix))
		cidr = "wan: address and prefix required";
	else {
		const parsed = parseHostCidr(`${address}/${prefix}`);
		cidr = parsed.ok ? undefined : `wan: ${parsed.error}`;
	}
	if (cidr)
		problems.push(cidr);
	const gateway = typeof value.gateway === "string" ? parseUnicast(value.gateway) : undefined;
	if (!gateway)
		problems.push("wan: gateway missing");
	else if (!gateway.ok)
		problems.push(`wan: gateway ${gateway.error}`);
	else if (!cidr) {
		const a = parseAddress(address as string), g = parseAddress(gateway.value);
		if (a.ok && g.ok && !sameSubnet(a.value, g.value, prefix as number))
			problems.push(`wan: gateway ${gateway.value} is not on ${String(address)}/${String(prefix)}`);
		if (a.ok && g.ok && a.value === g.value)
			problems.push("wan: gateway is the router's own address");
	}
	if (!Array.isArray(value.dns) || value.dns.length > WAN_DNS_MAX)
		problems.push(`wan: dns must be a list of at most ${WAN_DNS_MAX} servers`);
	else
		for (const server of value.dns) {
			const parsed = typeof server === "string" ? parseUnicast(server) : undefined;
			if (!parsed)
				problems.push("wan: dns server is not text");
			else if (!parsed.ok)
				problems.push(`wan: dns ${parsed.error}`);
		}
	return problems;
}

/* Whether a static WAN subnet and the LAN's overlap (neither side could reach the other's hosts). */
export function wanOverlapsLan(wan: WanConfig, lan: Cidr): boolean {
	if (wan.mode !== "static")
		return false;
	const w = parseAddress(wan.address), l = parseAddress(lan.address);
	return w.ok && l.ok && sameSubnet(w.value, l.value, Math.min(wan.prefix, lan.prefix));
}

/* The configuration as the console command that makes it. */
export function wanConfigLine(wan: WanConfig): string {
	if (wan.mode === "dhcp")
		return "set wan dhcp";
	return `set wan static ${wan.address}/${wan.prefix} ${wan.gateway}${wan.dns.length ? " " + wan.dns.join(" ") : ""}`;
}
