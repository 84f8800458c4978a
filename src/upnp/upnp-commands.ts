/*
 * The console's UPnP commands: turn the IGD on and off, secure mode, the
 * permission rules and limits, and what it is doing (mappings with their
 * owners and leases, subscribers, counters). Each checks all its arguments
 * before it changes anything.
 */
import Napt from "napt";
import type { Router } from "router";
import { checked, expectCount, fail } from "console/command";
import type { Command, Print } from "console/command";
import { isPublic, parseAddress } from "net/ipv4";
import { LIMITS, MAX_RULES, defaultRules, parseRule, ruleText, upnpDefaults } from "upnp/upnp-config";
import type { LimitName, UpnpRule } from "upnp/upnp-config";

const USAGE = [
	"upnp on|off",
	"upnp secure on|off",
	"upnp del <port> <tcp|udp>",
	"upnp allow|deny <ext-ports> <address[/len]> <int-ports>",
	"upnp rule del <n>",
	"upnp rules default|clear",
	"upnp limit request|headers|connections|subscribers|mappings <n>",
];

function applied(router: Router): string {
	return router.unsaved() ? "applied; type save to keep it" : "applied";
}

function onOff(command: string, word: string | undefined): boolean {
	if (word !== "on" && word !== "off")
		fail(`${command}: expected on or off${word === undefined ? "" : `, not '${word}'`}`);
	return word === "on";
}

function parsePort(where: string, text: string, min = 0): number {
	if (!/^\d{1,5}$/.test(text) || Number(text) < min || Number(text) > 65535)
		fail(`${where}: '${text}' is not a port (${min}-65535)`);
	return Number(text);
}

function rulesEqual(a: UpnpRule[], b: UpnpRule[]): boolean {
	return JSON.stringify(a) === JSON.stringify(b);
}

function addRule(action: "allow" | "deny", args: string[], router: Router, print: Print): void {
	const usage = `upnp ${action} <ext-ports> <address[/len]> <int-ports>`;
	expectCount(`upnp ${action}`, args, 3, 3, usage);
	const rule = checked(`upnp ${action}`, parseRule([action, ...args].join(" ")));
	const rules = router.running.upnp.rules;
	if (rules.length >= MAX_RULES)
		fail(`upnp ${action}: already ${MAX_RULES} rules (upnp rule del <n> first)`);
	rules.unshift(rule);
	print(`upnp: rule 1 ${ruleText(rule)} (first match wins; ${applied(router)})`);
}

function upnpRule(args: string[], router: Router, print: Print): void {
	expectCount("upnp rule", args, 2, 2, "upnp rule del <n>");
	if (args[0] !== "del")
		fail(`upnp rule: unknown action '${args[0]}' (del)`);
	const rules = router.running.upnp.rules;
	if (!/^\d+$/.test(args[1]) || Number(args[1]) < 1 || Number(args[1]) > rules.length)
		fail(`upnp rule del: no rule '${args[1]}' (show upnp rules lists ${rules.length})`);
	const [removed] = rules.splice(Number(args[1]) - 1, 1);
	print(`upnp: removed rule ${args[1]} ${ruleText(removed)} (${applied(router)})`);
}

function upnpRules(args: string[], router: Router, print: Print): void {
	expectCount("upnp rules", args, 1, 1, "upnp rules default|clear");
	if (args[0] === "default")
		router.running.upnp.rules = defaultRules();
	else if (args[0] === "clear")
		router.running.upnp.rules = [];
	else
		fail(`upnp rules: unknown action '${args[0]}' (default or clear)`);
	print(`upnp: ${args[0] === "clear" ? "no rules: every mapping is refused" : "default rules"} (${applied(router)})`);
}

function upnpLimit(args: string[], router: Router, print: Print): void {
	const names = Object.keys(LIMITS) as LimitName[];
	const usage = `upnp limit ${names.join("|")} <n>`;
	expectCount("upnp limit", args, 2, 2, usage);
	const name = names.find((n) => n === args[0]);
	if (!name)
		fail(`upnp limit: unknown limit '${args[0]}' (${names.join(", ")})`);
	const [min, max] = LIMITS[name];
	if (!/^\d+$/.test(args[1]) || Number(args[1]) < min || Number(args[1]) > max)
		fail(`upnp limit ${name}: must be ${min} to ${max}`);
	const n = Number(args[1]);
	router.running.upnp.limits[name] = n;
	const pool = router.nat.forwardPool;
	const later = name === "mappings" && n > router.upnp.bootMappings
		? `; the table has room for ${router.upnp.bootMappings} until save and restart (${pool} forwards in all)`
		: "";
	print(`upnp: limit ${name} ${n} (${applied(router)}${later})`);
}

function upnpDel(args: string[], router: Router, print: Print): void {
	const usage = "upnp del <port> <tcp|udp>";
	expectCount("upnp del", args, 2, 2, usage);
	const port = parsePort("upnp del", args[0], 1);
	const proto = args[1];
	if (proto !== "tcp" && proto !== "udp")
		fail(`upnp del: protocol '${proto}' (tcp or udp)`);
	const mapping = router.nat.findForward((f) => f.proto === proto && f.externalPort === port);
	if (!mapping || (mapping.origin !== "upnp" && mapping.origin !== "pmp"))
		fail(`upnp del: no UPnP mapping on ${proto} ${port}${mapping ? ` (that is a ${mapping.origin === "sip" ? "SIP ALG pinhole" : "static forward: forward del"})` : ""}`);
	Napt.forwardRemove(proto, port);
	print(`upnp: removed ${proto} ${port} -> ${mapping.address}:${mapping.port}`);
}

export const upnpCommand: Command = {
	name: "upnp",
	usage: USAGE,
	synopsis: "upnp on|off|secure|del|allow|deny|...",
	summary: "the UPnP gateway: on/off, secure mode, rules, limits",
	detail: [
		"Applications on the LAN open their own port mappings through UPnP.",
		"secure on (the default): a host may map ports only to itself.",
		"Rules (show upnp rules) are tried in order, first match wins; a mapping",
		"no rule allows is refused. allow and deny insert a rule at the top.",
		"upnp del removes one mapping. off removes them all. Everything applies",
		"at once; mappings are never saved, settings only with save.",
	],
	run(args, router, print) {
		if (!args.length)
			fail(`upnp: missing argument (usage: ${USAGE.join(" | ")})`);
		const rest = args.slice(1);
		switch (args[0]) {
		case "on":
		case "off": {
			expectCount(`upnp ${args[0]}`, rest, 0, 0, "upnp on|off");
			const problem = router.upnp.setEnabled(args[0] === "on");
			if (problem)
				fail(problem);
			print(`upnp: ${args[0]} (${applied(router)})`);
			break;
		}
		case "secure":
			expectCount("upnp secure", rest, 1, 1, "upnp secure on|off");
			router.running.upnp.secure = onOff("upnp secure", rest[0]);
			print(`upnp: secure mode ${rest[0]} (${applied(router)})`);
			break;
		case "del": upnpDel(rest, router, print); break;
		case "allow":
		case "deny": addRule(args[0], rest, router, print); break;
		case "rule": upnpRule(rest, router, print); break;
		case "rules": upnpRules(rest, router, print); break;
		case "limit": upnpLimit(rest, router, print); break;
		default: fail(`upnp: unknown action '${args[0]}' (on, off, secure, del, allow, deny, rule, rules, limit)`);
		}
	},
};

function leaseText(seconds: number): string {
	return seconds ? `lease ${seconds}s` : "permanent";
}

export function showUpnp(args: string[], router: Router, print: Print): void {
	expectCount("show upnp", args, 0, 1, "show upnp [rules]");
	const c = router.running.upnp;
	if (args.length) {
		if (args[0] !== "rules")
			fail(`show upnp: unknown topic '${args[0]}' (rules)`);
		if (!c.rules.length)
			print("no rules: every mapping is refused");
		c.rules.forEach((rule, i) => { print(`  ${i + 1} ${ruleText(rule)}`); });
		return;
	}
	const upnp = router.upnp;
	const ctx = upnp.context;
	if (!upnp.running)
		print(c.enabled ? "upnp: on but not running (see the boot warnings)" : "upnp: off");
	else
		print(`upnp: on, secure mode ${c.secure ? "on" : "off"}, http://${ctx.lanAddress()}:${ctx.httpPort()}/rootDesc.xml`);
	const external = ctx.externalAddress();
	const parsed = parseAddress(external);
	print(`external address ${external || "none"}${parsed.ok && !isPublic(parsed.value) ? " (not publicly routable)" : ""}`);
	print(`mappings: ${router.nat.forwardCount("mapped")} of ${c.limits.mappings}`);
	router.nat.eachForward("mapped", (m) => {
		print(`  ${m.proto} ${m.externalPort} -> ${m.address}:${m.port} ${leaseText(m.leaseLeft)} from ${m.owner || "console"} "${m.description}"${m.remote ? ` remote ${m.remote}` : ""}`);
	});
	const subscribers = upnp.subscribers();
	print(`subscribers: ${subscribers.length} of ${c.limits.subscribers}`);
	for (const s of subscribers)
		print(`  ${s.service} ${s.sid} -> ${s.callback} expires in ${s.expiresIn}s seq ${s.seq}`);
	print(`connections: ${upnp.connections()} of ${c.limits.connections} open, ${upnp.queued()} waiting`);
	const n = upnp.counters;
	print(`counters: searches ${n.searches} answered ${n.searchesAnswered}, notifies ${n.notifies}, ignored ${n.ssdpIgnored}; `
		+ `requests ${n.requests}, bad ${n.badRequests}, connection limit ${n.connectionLimit}, slow cut ${n.slowCut}, request limit ${n.requestLimit}; `
		+ `actions ${n.actions}, faults ${n.faults}, refused ${n.refused}, mapping limit ${n.mappingLimit}; `
		+ `events sent ${n.eventsSent} failed ${n.eventsFailed}, subscriber limit ${n.subscriberLimit}`);
}

/* The UPnP settings that differ from the defaults, as the commands that make them (show config). */
export function upnpConfigLines(router: Router): string[] {
	const c = router.running.upnp;
	const d = upnpDefaults();
	const lines: string[] = [];
	if (c.enabled !== d.enabled)
		lines.push(`upnp ${c.enabled ? "on" : "off"}`);
	if (c.secure !== d.secure)
		lines.push(`upnp secure ${c.secure ? "on" : "off"}`);
	if (!rulesEqual(c.rules, d.rules)) {
		lines.push("upnp rules clear");
		// allow/deny insert at the top: the last rule goes in first.
		for (const rule of [...c.rules].reverse())
			lines.push(`upnp ${ruleText(rule)}`);
	}
	for (const name of Object.keys(LIMITS) as LimitName[])
		if (c.limits[name] !== d.limits[name])
			lines.push(`upnp limit ${name} ${c.limits[name]}`);
	return lines;
}
