/*
 * The console's DNS forwarder commands: on and off, the cache's size,
 * emptying the cache, and what it is doing (show dns). Each checks all its
 * arguments before it changes anything.
 */
import type { Router } from "router";
import { expectCount, fail } from "console/command";
import type { Command, Print } from "console/command";
import { CACHE_BYTES } from "lan/dns-cache";
import { CACHE_MAX, CACHE_MIN, dnsDefaults } from "lan/dns-config";
import { MAX_INFLIGHT } from "lan/dns-forwarder";

const USAGE = ["dns on|off", "dns cache <entries>", "dns flush"];

function applied(router: Router): string {
	return router.unsaved() ? "applied; type save to keep it" : "applied";
}

export const dnsCommand: Command = {
	name: "dns",
	usage: USAGE,
	synopsis: "dns on|off|cache|flush",
	summary: "the LAN DNS forwarder: on/off, cache size, empty the cache",
	detail: [
		"LAN hosts ask the router (its LAN address, UDP and TCP port 53); it",
		"answers from its cache or asks the WAN's DNS servers (from the DHCP",
		"lease, or set wan static ... <dns> [dns]), the next one when one does",
		"not answer within 2 s, and answers SERVFAIL when none did.",
		`dns cache <entries>: answers kept (${CACHE_MIN} to ${CACHE_MAX}, 0 is no cache; default ${dnsDefaults().cacheEntries}),`,
		`at most ${CACHE_BYTES} bytes in all. dns flush empties it. Everything applies at once.`,
	],
	run(args, router, print) {
		if (!args.length)
			fail(`dns: missing argument (usage: ${USAGE.join(" | ")})`);
		const rest = args.slice(1);
		const config = router.running.dns;
		switch (args[0]) {
		case "on":
		case "off": {
			expectCount(`dns ${args[0]}`, rest, 0, 0, "dns on|off");
			config.enabled = args[0] === "on";
			if (!config.enabled) {
				router.dns.stop();
				print(`dns: off (${applied(router)})`);
				break;
			}
			const problem = router.dns.start();
			if (problem) {
				config.enabled = false;
				fail(problem);
			}
			print(`dns: on (${applied(router)})`);
			break;
		}
		case "cache": {
			expectCount("dns cache", rest, 1, 1, "dns cache <entries>");
			const text = rest[0];
			if (!/^\d{1,4}$/.test(text) || Number(text) < CACHE_MIN || Number(text) > CACHE_MAX)
				fail(`dns cache: '${text}' is not a number of entries (${CACHE_MIN} to ${CACHE_MAX})`);
			config.cacheEntries = Number(text);
			router.dns.resizeCache(config.cacheEntries);
			print(`dns: cache ${config.cacheEntries} entries${config.cacheEntries ? "" : " (no cache)"} (${applied(router)})`);
			break;
		}
		case "flush":
			expectCount("dns flush", rest, 0, 0, "dns flush");
			router.dns.flush();
			print("dns: cache emptied");
			break;
		default:
			fail(`dns: unknown action '${args[0]}' (on, off, cache, flush)`);
		}
	},
};

export function showDns(args: string[], router: Router, print: Print): void {
	expectCount("show dns", args, 0, 0, "show dns");
	const dns = router.dns;
	const config = router.running.dns;
	if (dns.running)
		print(`dns: on, listening on ${dns.address}:53 (udp, tcp)`);
	else
		print(config.enabled ? "dns: on but not running (see the boot warnings)" : "dns: off");
	const servers = dns.servers();
	const from = router.running.wan.mode === "dhcp" ? "from the WAN's DHCP lease" : "static";
	print(`upstream: ${servers.length ? servers.join(" ") : "none"} (${from})`);
	print(`in flight: ${dns.inFlight} of ${MAX_INFLIGHT}; tcp connections: ${dns.clientConnections} from clients, ${dns.upstreamConnections} upstream`);
	const cache = dns.cache;
	print(`cache: ${cache.size} of ${cache.maxEntries} entries, ${cache.bytes} of ${CACHE_BYTES} bytes`);
	const n = dns.counters;
	print(`counters: queries ${n.queries} (tcp ${n.tcpQueries}), cache hits ${n.cacheHits}, forwarded ${n.forwarded}, answered ${n.answered}, `
		+ `timeouts ${n.timeouts}, servfail ${n.servfail}, tcp fallbacks ${n.tcpFallbacks}, malformed ${n.malformed}, `
		+ `table full ${n.tableFull}, ignored ${n.ignored}`);
}

/* The DNS settings that differ from the defaults, as the commands that make them (show config). */
export function dnsConfigLines(router: Router): string[] {
	const c = router.running.dns;
	const d = dnsDefaults();
	const lines: string[] = [];
	if (c.enabled !== d.enabled)
		lines.push(`dns ${c.enabled ? "on" : "off"}`);
	if (c.cacheEntries !== d.cacheEntries)
		lines.push(`dns cache ${c.cacheEntries}`);
	return lines;
}
