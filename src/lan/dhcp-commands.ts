/*
 * The console's DHCP server commands: on/off, the pool, the lease time, the
 * domain, reservations, and what the server is doing (leases, counters).
 * Each checks all its arguments before it changes anything. Settings apply
 * at once (leases the change strands end at once too) and are kept with
 * save; leases are kept across restarts on their own.
 */
import type { Router } from "router";
import { checked, expectCount, fail } from "console/command";
import type { Command, Print } from "console/command";
import { formatAddress, parseAddress } from "net/ipv4";
import {
	DEFAULT_DOMAIN, DEFAULT_LEASE, MAX_LEASE, MAX_RESERVATIONS, MIN_LEASE,
	defaultPool, domainProblem, parseMac, poolProblem, reservationProblem,
} from "lan/dhcp-config";
import type { DhcpConfig } from "lan/dhcp-config";
import { DhcpServer } from "lan/dhcp-server";
import { active } from "lan/dhcp-leases";

const USAGE = [
	"dhcp on|off",
	"dhcp pool <first> <last>",
	"dhcp lease <seconds>",
	"dhcp domain <name>|none",
	"dhcp reserve <mac> <ip>",
	"dhcp unreserve <mac>",
	"dhcp leases clear",
];

function applied(router: Router): string {
	return router.unsaved() ? "applied; type save to keep it" : "applied";
}

function pending(router: Router): string {
	return router.lanPending() ? "; served after save and restart, with the new LAN" : "";
}

/* The settings replaced, not changed in place: the server notices the new object. */
function update(router: Router, change: Partial<DhcpConfig>): void {
	router.running.dhcp = { ...router.running.dhcp, ...change };
}

function dhcpPool(args: string[], router: Router, print: Print): void {
	expectCount("dhcp pool", args, 2, 2, "dhcp pool <first> <last>");
	const first = formatAddress(checked("dhcp pool", parseAddress(args[0])));
	const last = formatAddress(checked("dhcp pool", parseAddress(args[1])));
	const problem = poolProblem(first, last, router.running.lan);
	if (problem)
		fail(`dhcp pool: ${problem}`);
	update(router, { first, last });
	const size = checked("dhcp pool", parseAddress(last)) - checked("dhcp pool", parseAddress(first)) + 1;
	print(`dhcp: pool ${first}-${last}, ${size} address${size === 1 ? "" : "es"} (${applied(router)}${pending(router)})`);
}

function dhcpLease(args: string[], router: Router, print: Print): void {
	expectCount("dhcp lease", args, 1, 1, "dhcp lease <seconds>");
	if (!/^\d{1,7}$/.test(args[0]) || Number(args[0]) < MIN_LEASE || Number(args[0]) > MAX_LEASE)
		fail(`dhcp lease: '${args[0]}' is not a lease time (${MIN_LEASE} to ${MAX_LEASE} seconds)`);
	update(router, { leaseSeconds: Number(args[0]) });
	print(`dhcp: lease ${Number(args[0])}s for new leases and renewals (${applied(router)})`);
}

function dhcpDomain(args: string[], router: Router, print: Print): void {
	expectCount("dhcp domain", args, 1, 1, "dhcp domain <name>|none");
	const domain = args[0] === "none" ? "" : args[0].toLowerCase();
	const problem = domainProblem(domain);
	if (problem)
		fail(`dhcp domain: ${problem}`);
	update(router, { domain });
	print(`dhcp: domain ${domain || "none"} (${applied(router)})`);
}

function dhcpReserve(args: string[], router: Router, print: Print): void {
	expectCount("dhcp reserve", args, 2, 2, "dhcp reserve <mac> <ip>");
	const mac = checked("dhcp reserve", parseMac(args[0]));
	const address = formatAddress(checked("dhcp reserve", parseAddress(args[1])));
	const problem = reservationProblem(address, router.running.lan);
	if (problem)
		fail(`dhcp reserve: ${problem}`);
	const reservations = router.running.dhcp.reservations;
	const other = reservations.find((r) => r.address === address && r.mac !== mac);
	if (other)
		fail(`dhcp reserve: ${address} is reserved for ${other.mac} (dhcp unreserve ${other.mac} first)`);
	const replaced = reservations.some((r) => r.mac === mac);
	if (!replaced && reservations.length >= MAX_RESERVATIONS)
		fail(`dhcp reserve: already ${MAX_RESERVATIONS} reservations (dhcp unreserve <mac> first)`);
	const next = reservations.filter((r) => r.mac !== mac);
	next.push({ mac, address });
	update(router, { reservations: next });
	print(`dhcp: ${mac} gets ${address}${replaced ? " (instead of before)" : ""} at its next request (${applied(router)}${pending(router)})`);
}

function dhcpUnreserve(args: string[], router: Router, print: Print): void {
	expectCount("dhcp unreserve", args, 1, 1, "dhcp unreserve <mac>");
	const mac = checked("dhcp unreserve", parseMac(args[0]));
	const reservations = router.running.dhcp.reservations;
	const gone = reservations.find((r) => r.mac === mac);
	if (!gone)
		fail(`dhcp unreserve: no reservation for ${mac} (show dhcp lists them)`);
	update(router, { reservations: reservations.filter((r) => r.mac !== mac) });
	print(`dhcp: ${mac} no longer reserved (was ${gone.address}) (${applied(router)})`);
}

export const dhcpCommand: Command = {
	name: "dhcp",
	usage: USAGE,
	synopsis: "dhcp on|off|pool|lease|domain|reserve|unreserve ...",
	summary: "the LAN DHCP server: pool, lease time, domain, reservations",
	detail: [
		"The router hands LAN hosts an address from the pool, itself as gateway",
		"and DNS server, the domain and the lease time. A reservation gives one",
		"MAC address always the same address (in the pool or not). Changes apply",
		"at once: a lease the change strands ends, and its host is refused at its",
		"next renewal and asks again. Settings are kept with save; leases are kept",
		"across restarts by themselves. leases clear forgets every lease.",
	],
	run(args, router, print) {
		if (!args.length)
			fail(`dhcp: missing argument (usage: ${USAGE.join(" | ")})`);
		const rest = args.slice(1);
		switch (args[0]) {
		case "on":
		case "off": {
			expectCount(`dhcp ${args[0]}`, rest, 0, 0, "dhcp on|off");
			const on = args[0] === "on";
			const before = router.running.dhcp;
			update(router, { enabled: on });
			if (on) {
				const problem = router.dhcp.start();
				if (problem) {
					router.running.dhcp = before;
					fail(problem);
				}
			}
			else
				router.dhcp.stop();
			print(`dhcp: ${args[0]} (${applied(router)})`);
			break;
		}
		case "pool": dhcpPool(rest, router, print); break;
		case "lease": dhcpLease(rest, router, print); break;
		case "domain": dhcpDomain(rest, router, print); break;
		case "reserve": dhcpReserve(rest, router, print); break;
		case "unreserve": dhcpUnreserve(rest, router, print); break;
		case "leases":
			expectCount("dhcp leases", rest, 1, 1, "dhcp leases clear");
			if (rest[0] !== "clear")
				fail(`dhcp leases: unknown action '${rest[0]}' (clear)`);
			print(`dhcp: ${router.dhcp.clearLeases()} leases forgotten`);
			break;
		default: fail(`dhcp: unknown action '${args[0]}' (on, off, pool, lease, domain, reserve, unreserve, leases)`);
		}
		// The server takes up the new settings now, so show dhcp reflects them.
		router.dhcp.serving();
	},
};

export function showDhcp(args: string[], router: Router, print: Print): void {
	expectCount("show dhcp", args, 0, 0, "show dhcp");
	const server = router.dhcp;
	const c = router.running.dhcp;
	const s = server.serving();
	const state = !c.enabled ? "off" : server.running ? "on" : "on but not running (see the boot warnings)";
	print(`dhcp: ${state}, pool ${s.config.first}-${s.config.last}, lease ${s.config.leaseSeconds}s, domain ${s.config.domain || "none"}`);
	if (router.lanPending())
		print("  (the LAN changes at restart: until then the settings from before are served)");
	const now = DhcpServer.now();
	// Addresses first, then one lease at a time: never the whole table as objects.
	const addresses: number[] = [];
	let bound = 0;
	server.leases.each((l) => {
		if (l.state !== "free" && active(l, now)) {
			addresses.push(l.address);
			if (l.state === "bound")
				bound++;
		}
	});
	addresses.sort((a, b) => a - b);
	const poolSize = s.last - s.first + 1;
	print(`leases: ${bound} (pool of ${poolSize})`);
	for (const address of addresses) {
		const l = server.leases.at(address);
		if (!l)
			continue;
		const tag = l.state === "bound" ? "" : ` (${l.state})`;
		const reserved = s.reservedBy.get(l.address) === l.mac ? " reserved" : "";
		print(`  ${formatAddress(l.address).padEnd(15)} ${l.mac} ${(l.hostname || "-").padEnd(16)} ${l.expires - now}s left${reserved}${tag}`);
	}
	print(`reservations: ${c.reservations.length} of ${MAX_RESERVATIONS}`);
	for (const r of c.reservations)
		print(`  ${r.mac} ${r.address}`);
	const n = server.counters;
	print(`counters: received ${n.received}, malformed ${n.malformed}, ignored ${n.ignored}, faults ${n.faults}; `
		+ `discover ${n.discovers}, offer ${n.offers}, request ${n.requests}, ack ${n.acks}, nak ${n.naks}, `
		+ `decline ${n.declines}, release ${n.releases}, inform ${n.informs}; no address ${n.noAddress}, send errors ${n.sendErrors}; `
		+ `lease writes ${n.writes}, write errors ${n.writeErrors}`);
	if (server.lastMalformed)
		print(`last malformed: ${server.lastMalformed}`);
	if (server.storeNote)
		print(`stored leases: ${server.storeNote}`);
}

/* The DHCP settings that differ from the defaults, as the commands that make them (show config). */
export function dhcpConfigLines(router: Router): string[] {
	const c = router.running.dhcp;
	const [first, last] = defaultPool(router.running.lan);
	const lines: string[] = [];
	if (!c.enabled)
		lines.push("dhcp off");
	if (c.first !== first || c.last !== last)
		lines.push(`dhcp pool ${c.first} ${c.last}`);
	if (c.leaseSeconds !== DEFAULT_LEASE)
		lines.push(`dhcp lease ${c.leaseSeconds}`);
	if (c.domain !== DEFAULT_DOMAIN)
		lines.push(`dhcp domain ${c.domain || "none"}`);
	for (const r of c.reservations)
		lines.push(`dhcp reserve ${r.mac} ${r.address}`);
	return lines;
}
