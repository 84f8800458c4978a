/*
 * `set wan`: the console's way to the WAN configuration. A change applies
 * at once (the ISP side can be moved without a restart) and is kept only
 * when saved. Every argument is checked before anything changes.
 */
import type { Router } from "router";
import { parseAddress, parseHostCidr, parseUnicast, sameSubnet } from "net/ipv4";
import { checked, expectCount, fail } from "console/command";
import type { Print } from "console/command";
import { WAN_DNS_MAX, wanOverlapsLan } from "wan/wan-config";
import type { WanConfig } from "wan/wan-config";

export const SET_WAN_USAGE = ["set wan dhcp", "set wan static <ip/len> <gateway> [dns [dns]]"];

function parseWan(args: string[], router: Router): WanConfig {
	const usage = SET_WAN_USAGE.join(" | ");
	if (!args.length)
		fail(`set wan: missing argument (usage: ${usage})`);
	if (args[0] === "dhcp") {
		expectCount("set wan dhcp", args.slice(1), 0, 0, usage);
		return { mode: "dhcp" };
	}
	if (args[0] !== "static")
		fail(`set wan: unknown mode '${args[0]}' (dhcp or static)`);
	expectCount("set wan static", args.slice(1), 2, 2 + WAN_DNS_MAX, usage);
	const cidr = checked("set wan static", parseHostCidr(args[1]));
	const gateway = checked("set wan static: gateway", parseUnicast(args[2]));
	const dns = args.slice(3).map((server) => checked("set wan static: dns", parseUnicast(server)));
	const a = checked("set wan static", parseAddress(cidr.address));
	const g = checked("set wan static", parseAddress(gateway));
	if (!sameSubnet(a, g, cidr.prefix))
		fail(`set wan static: gateway ${gateway} is not on ${cidr.address}/${cidr.prefix}`);
	if (a === g)
		fail("set wan static: the gateway cannot be the router's own address");
	const wan: WanConfig = { mode: "static", address: cidr.address, prefix: cidr.prefix, gateway, dns };
	const lan = router.running.lan;
	if (wanOverlapsLan(wan, lan))
		fail(`set wan static: ${cidr.address}/${cidr.prefix} overlaps the LAN ${lan.address}/${lan.prefix}`);
	return wan;
}

export function setWan(args: string[], router: Router, print: Print): void {
	const wan = parseWan(args, router);
	router.setWan(wan);
	print(`wan: ${wan.mode === "dhcp" ? "dhcp" : `static ${wan.address}/${wan.prefix}`} (applied; type save to keep it)`);
}
