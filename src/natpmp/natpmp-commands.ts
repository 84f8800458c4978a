/*
 * The console's NAT-PMP and PCP commands: each protocol on or off, and
 * what the server is doing (its mappings, the hosts holding them, counters).
 */
import type { Router } from "router";
import { expectCount, fail } from "console/command";
import type { Command, Print } from "console/command";
import * as Pmp from "natpmp/mappings";
import { MAX_LIFETIME, MIN_LIFETIME, PER_CLIENT_MAPPINGS, PER_HOST_RATE, pmpDefaults } from "natpmp/natpmp-config";
import type { PmpConfig } from "natpmp/natpmp-config";
import { ALL_HOSTS, CLIENT_PORT, SERVER_PORT } from "natpmp/wire";

function applied(router: Router): string {
	return router.unsaved() ? "applied; type save to keep it" : "applied";
}

function toggle(name: "natpmp" | "pcp", args: string[], router: Router, print: Print): void {
	expectCount(name, args, 1, 1, `${name} on|off`);
	if (args[0] !== "on" && args[0] !== "off")
		fail(`${name}: expected on or off, not '${args[0]}'`);
	router.running.pmp[name] = args[0] === "on";
	const problem = router.pmp.apply();
	if (problem)
		fail(problem);
	print(`${name}: ${args[0]} (${applied(router)})`);
}

const DETAIL = [
	`NAT-PMP (RFC 6886) and PCP (RFC 6887) on UDP ${SERVER_PORT} of the LAN address.`,
	"Their mappings are UPnP's: the same rules (show upnp rules), secure mode,",
	"mapping limit and listing (show upnp). A LAN host may hold",
	`${PER_CLIENT_MAPPINGS} of them and make ${PER_HOST_RATE} requests a second; lifetimes are`,
	`held to ${MIN_LIFETIME}-${MAX_LIFETIME} s. The external address is announced to`,
	`${ALL_HOSTS}:${CLIENT_PORT} at start and when it changes. Turning both off`,
	"removes their mappings.",
];

export const natpmpCommand: Command = {
	name: "natpmp",
	usage: ["natpmp on|off"],
	summary: "the NAT-PMP server: on/off",
	detail: DETAIL,
	run(args, router, print) {
		toggle("natpmp", args, router, print);
	},
};

export const pcpCommand: Command = {
	name: "pcp",
	usage: ["pcp on|off"],
	summary: "the PCP server: on/off",
	detail: DETAIL,
	run(args, router, print) {
		toggle("pcp", args, router, print);
	},
};

export function showNatpmp(args: string[], router: Router, print: Print): void {
	expectCount("show natpmp", args, 0, 0, "show natpmp");
	const c = router.running.pmp;
	const server = router.pmp;
	print(`natpmp: ${c.natpmp ? "on" : "off"}, pcp: ${c.pcp ? "on" : "off"}, ${server.running ? `listening on ${router.activeLan.address}:${SERVER_PORT}, epoch ${server.epoch()}s` : "not running"}`);
	const clients: string[] = [];
	const held: number[] = [];
	const count = router.nat.forwardCount("mapped");
	router.nat.eachForward("pmp", (f) => {
		const i = clients.indexOf(f.address);
		if (i < 0) {
			clients.push(f.address);
			held.push(1);
		}
		else
			held[i]++;
	});
	const mine = held.reduce((a, b) => a + b, 0);
	print(`mappings: ${mine} (of ${count} with UPnP's, limit ${router.running.upnp.limits.mappings}; ${PER_CLIENT_MAPPINGS} per client)`);
	router.nat.eachForward("pmp", (f) => {
		const via = f.description.startsWith(Pmp.PEER_PREFIX) ? `pcp peer nonce ${f.description.slice(Pmp.PEER_PREFIX.length)} remote ${f.remote}`
			: f.description.startsWith(Pmp.PCP_PREFIX) ? `pcp nonce ${f.description.slice(Pmp.PCP_PREFIX.length)}${f.remote ? ` remote ${f.remote}` : ""}`
				: "natpmp";
		print(`  ${f.proto} ${f.externalPort} -> ${f.address}:${f.port} lease ${f.leaseLeft}s ${via}`);
	});
	print(`clients: ${clients.length}`);
	clients.forEach((client, i) => { print(`  ${client} ${held[i]} mappings`); });
	const n = server.counters;
	print(`counters: natpmp ${n.natpmp}, pcp ${n.pcp}, answered ${n.answered}, dropped ${n.dropped}, rate limited ${n.rateLimited}; `
		+ `mapped ${n.mapped}, deleted ${n.deleted}, refused ${n.refused}, no resources ${n.noResources}; announcements ${n.announcements}`);
}

/* The settings that differ from the defaults, as commands (show config). */
export function pmpConfigLines(router: Router): string[] {
	const c: PmpConfig = router.running.pmp;
	const d = pmpDefaults();
	const lines: string[] = [];
	if (c.natpmp !== d.natpmp)
		lines.push(`natpmp ${c.natpmp ? "on" : "off"}`);
	if (c.pcp !== d.pcp)
		lines.push(`pcp ${c.pcp ? "on" : "off"}`);
	return lines;
}
