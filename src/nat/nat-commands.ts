/*
 * The console's NAT commands: show nat, show nat flows, show forwards,
 * forward add/del, dmz, set nat ..., and the lines show config prints for
 * them. Like every command, each checks all of its arguments before it
 * changes anything.
 */
import Napt from "napt";
import type { Flow, Forward, ForwardProto } from "napt";
import type { Router } from "router";
import { checked, expectCount, fail } from "console/command";
import type { Command, Print } from "console/command";
import { formatAddress, parseAddress } from "net/ipv4";
import type { Parsed } from "net/ipv4";
import {
	MAX_FLOWS, MAX_FORWARDS, MAX_TIMEOUT, MIN_FLOWS, TIMEOUT_RULES,
	externalText, forwardShapeProblem, forwardText, forwardsOverlap, lanHostProblem, natDefaults, validateNat,
} from "nat/nat-config";
import type { Filtering, ForwardConfig, ForwardPlace } from "nat/nat-config";

const FILTERING_NAMES: Record<Filtering, string> = {
	adf: "address-dependent",
	eif: "endpoint-independent",
};

const PENDING = "    (applies after save and restart)";
const MAX_LISTED_FLOWS = 10000;

function applied(router: Router): string {
	// Without a table the change is only to the configuration, for the next boot.
	return router.nat.running ? "applied; type save to keep it" : "nat is not running; type save to keep it";
}

interface PortRange {
	first: number;
	last: number;
}

function parsePort(text: string): Parsed<number> {
	if (!/^[1-9][0-9]{0,4}$/.test(text) || Number(text) > 65535)
		return { ok: false, error: `'${text}' is not a port (1 to 65535)` };
	return { ok: true, value: Number(text) };
}

/* "8080" or "8000-8010" */
function parsePortRange(text: string): Parsed<PortRange> {
	const dash = text.indexOf("-");
	const first = parsePort(dash < 0 ? text : text.slice(0, dash));
	if (!first.ok)
		return first;
	const last = dash < 0 ? first : parsePort(text.slice(dash + 1));
	if (!last.ok)
		return last;
	if (last.value < first.value)
		return { ok: false, error: `port range ${text} is reversed` };
	return { ok: true, value: { first: first.value, last: last.value } };
}

function parseCount(text: string, min: number, max: number, what: string): Parsed<number> {
	if (!/^[0-9]{1,7}$/.test(text) || Number(text) < min || Number(text) > max)
		return { ok: false, error: `'${text}' is not ${what} (${min} to ${max})` };
	return { ok: true, value: Number(text) };
}

function protocols(where: string, text: string): ForwardProto[] {
	switch (text) {
	case "tcp": return ["tcp"];
	case "udp": return ["udp"];
	case "both": return ["tcp", "udp"];
	default: fail(`${where}: unknown protocol '${text}' (tcp, udp or both)`);
	}
}

/* A LAN host for a forward or the DMZ, in its canonical form. */
function lanHost(where: string, router: Router, text: string): string {
	const parsed = checked(where, parseAddress(text));
	const address = formatAddress(parsed);
	const problem = lanHostProblem(address, router.running.lan);
	if (problem)
		fail(`${where}: ${problem}`);
	return address;
}

/* ---- show ---- */

function flowsInUse(): number {
	const s = Napt.stats();
	return s.inUse.tcp + s.inUse.udp + s.inUse.icmp;
}

function showNatSummary(router: Router, print: Print): void {
	if (!router.nat.running) {
		print("nat: off (did not start at boot; packets are forwarded untranslated)");
		return;
	}
	const s = Napt.stats();
	const t = s.timeouts, d = s.dropped;
	print(`nat: ${s.inUse.tcp + s.inUse.udp + s.inUse.icmp} flows in use of ${s.capacity} (tcp ${s.inUse.tcp}, udp ${s.inUse.udp}, icmp ${s.inUse.icmp}), peak ${s.peak}; filtering ${FILTERING_NAMES[s.filtering]}`);
	print(`timeouts: udp ${t.udp}s tcp ${t.tcp}s tcp-transitory ${t.tcpTransitory}s icmp ${t.icmp}s`);
	print(`created ${s.created} expired ${s.expired} evicted ${s.evicted}; translated out ${s.translated.out} in ${s.translated.in}; hairpinned ${s.hairpinned}; icmp errors ${s.icmpErrors}; passed ${s.passed}`);
	print(`dropped: malformed ${d.malformed} checksum ${d.checksum} unsolicited ${d.unsolicited} filtered ${d.filtered} table-full ${d.tableFull} no-port ${d.noPort} not-syn ${d.notSyn} icmp-error ${d.icmpError} unsupported ${d.unsupported} martian ${d.martian} host-share ${d.hostShare} unresolved ${d.unresolved}`);
	print(`udp: at most ${s.unansweredPerMapping} unanswered inbound flows per mapping; unanswered-reused ${s.unansweredReused}`);
	print(`host share: ${s.hostShare} flows per LAN host, and ${s.hostShare} made by forwards and the DMZ to each`);
	print(`fastpath: ${s.fastpathOn ? "on" : "off"}; ${s.fastpath} packets`);
	print(`memory: ${s.bytesPerFlow} bytes per flow`);
}

function flowLine(f: Flow): string {
	const flags = [f.state, f.replied ? "replied" : "", f.forwarded ? "forwarded" : ""].filter((w) => w.length);
	return `${f.proto} ${f.inside}:${f.insidePort} -> ${f.remote}:${f.remotePort} via :${f.externalPort} idle ${f.idle}s expires ${f.expiresIn}s${flags.map((w) => ` ${w}`).join("")}`;
}

function showNatFlows(args: string[], router: Router, print: Print): void {
	const usage = "show nat flows [n]";
	expectCount("show nat flows", args, 0, 1, usage);
	const max = args.length ? checked("show nat flows", parseCount(args[0], 1, MAX_LISTED_FLOWS, "a number of flows")) : 20;
	if (!router.nat.running)
		fail("show nat flows: nat is not running");
	const listed = Napt.eachFlow(max, (f) => { print(flowLine(f)); });
	print(`${listed} of ${flowsInUse()} flows`);
}

/* show nat [flows [n]] */
export function showNat(args: string[], router: Router, print: Print): void {
	if (!args.length) {
		showNatSummary(router, print);
		return;
	}
	if (args[0] !== "flows")
		fail(`show nat: unknown topic '${args[0]}' (show nat, or show nat flows [n])`);
	showNatFlows(args.slice(1), router, print);
}

/*
 * Static and UPnP forwards first; the SIP ALG's pinholes after them, marked
 * sip, with the one remote host each admits when it admits only one (show
 * sipalg says which call they belong to).
 */
export function showForwards(args: string[], router: Router, print: Print): void {
	expectCount("show forwards", args, 0, 0, "show forwards");
	const line = (f: Forward): void => {
		print(`${forwardText(f)} ${f.origin}${f.leaseLeft ? ` lease ${f.leaseLeft}s` : ""}${f.owner ? ` from ${f.owner}` : ""}${f.origin === "sip" && f.remote ? ` remote ${f.remote}` : ""} "${f.description}"`);
	};
	const listed = router.nat.eachForward("static", line) + router.nat.eachForward("upnp", line) + router.nat.eachForward("pmp", line)
		+ router.nat.eachForward("sip", line);
	if (!listed)
		print("no forwards");
	const dmz = router.nat.dmz();
	print(dmz ? `dmz ${dmz}` : "dmz off");
}

/* The lines of show config that recreate the NAT settings: those not at their defaults. */
export function natConfigLines(router: Router): string[] {
	const c = router.running.nat, d = natDefaults();
	const lines: string[] = [];
	const pending = router.nat.flowsPending();
	if (c.flows !== d.flows || pending)
		lines.push(`set nat flows ${c.flows}${pending ? PENDING : ""}`);
	if (c.filtering !== d.filtering)
		lines.push(`set nat filtering ${c.filtering}`);
	if (c.hostShare)
		lines.push(`set nat host-share ${c.hostShare}`);
	if (c.fastpath === false)
		lines.push("set nat fastpath off");
	for (const rule of TIMEOUT_RULES) {
		const seconds = c.timeouts[rule.key];
		if (seconds !== d.timeouts[rule.key])
			lines.push(`set nat timeout ${rule.name} ${seconds}${seconds < rule.minimum ? " force" : ""}`);
	}
	for (const f of c.forwards)
		lines.push(`forward add ${f.proto} ${externalText(f)} ${f.address}:${f.port}${f.description ? ` ${f.description}` : ""}`);
	if (c.dmz)
		lines.push(`dmz ${c.dmz}`);
	return lines;
}

/* ---- set nat ---- */

export const SET_NAT_USAGE = [
	"set nat filtering adf|eif",
	"set nat timeout udp|tcp|tcp-transitory|icmp <seconds> [force]",
	"set nat flows <n>",
	"set nat host-share <n>|auto",
	"set nat fastpath on|off",
];

function setNatTimeout(args: string[], router: Router, print: Print): void {
	const usage = SET_NAT_USAGE[1];
	expectCount("set nat timeout", args, 2, 3, usage);
	const rule = TIMEOUT_RULES.find((r) => r.name === args[0]);
	if (!rule)
		fail(`set nat timeout: no timeout '${args[0]}' (udp, tcp, tcp-transitory or icmp)`);
	const seconds = checked("set nat timeout", parseCount(args[1], 1, MAX_TIMEOUT, "a number of seconds"));
	if (args.length === 3 && args[2] !== "force")
		fail(`set nat timeout: '${args[2]}' is not force (usage: ${usage})`);
	if (seconds < rule.minimum && args.length < 3)
		fail(`set nat timeout: ${rule.name} ${seconds}s is below ${rule.rfc}'s minimum of ${rule.minimum}s (add force to use it anyway)`);
	router.nat.setTimeout(rule.name, seconds);
	print(`nat: ${rule.name} timeout ${seconds}s (${applied(router)})`);
}

export function setNat(args: string[], router: Router, print: Print): void {
	if (!args.length)
		fail(`set nat: missing argument (usage: ${SET_NAT_USAGE.join(" | ")})`);
	const rest = args.slice(1);
	switch (args[0]) {
	case "filtering": {
		expectCount("set nat filtering", rest, 1, 1, SET_NAT_USAGE[0]);
		const filtering = rest[0];
		if (filtering !== "adf" && filtering !== "eif")
			fail(`set nat filtering: '${filtering}' is neither adf (address-dependent) nor eif (endpoint-independent)`);
		router.nat.setFiltering(filtering);
		print(`nat: filtering ${FILTERING_NAMES[filtering]} (${applied(router)})`);
		break;
	}
	case "timeout":
		setNatTimeout(rest, router, print);
		break;
	case "flows": {
		expectCount("set nat flows", rest, 1, 1, SET_NAT_USAGE[2]);
		const flows = checked("set nat flows", parseCount(rest[0], MIN_FLOWS, MAX_FLOWS, "a number of flows"));
		router.nat.setFlows(flows);
		print(`nat: ${flows} flows (${router.nat.flowsPending() ? "applies after save and restart" : "in force; type save to keep it"})`);
		break;
	}
	case "host-share": {
		expectCount("set nat host-share", rest, 1, 1, SET_NAT_USAGE[3]);
		const share = rest[0] === "auto" ? 0 : checked("set nat host-share", parseCount(rest[0], 1, MAX_FLOWS, "a number of flows"));
		router.nat.setHostShare(share);
		print(`nat: host share ${share || "a quarter of the table"} (${applied(router)})`);
		break;
	}
	case "fastpath": {
		expectCount("set nat fastpath", rest, 1, 1, SET_NAT_USAGE[4]);
		if (rest[0] !== "on" && rest[0] !== "off")
			fail(`set nat fastpath: '${rest[0]}' is neither on nor off`);
		router.nat.setFastpath(rest[0] === "on");
		print(`nat: fastpath ${rest[0]} (applied; type save to keep it)`);
		break;
	}
	default:
		fail(`set nat: unknown setting '${args[0]}' (filtering, timeout, flows, host-share or fastpath)`);
	}
}

/* ---- forward, dmz ---- */

const FORWARD_ADD_USAGE = "forward add <tcp|udp|both> <port>[-<end>] <ip>[:<port>] [description]";
const FORWARD_DEL_USAGE = "forward del <tcp|udp|both> <port>";

function description(words: string[]): string {
	const text = words.join(" ");
	// Quotes are allowed around it, as show forwards prints it.
	return text.length >= 2 && text.startsWith("\"") && text.endsWith("\"") ? text.slice(1, -1) : text;
}

function forwardAdd(args: string[], router: Router, print: Print): void {
	const where = "forward add";
	expectCount(where, args, 3, Infinity, FORWARD_ADD_USAGE);
	const protos = protocols(where, args[0]);
	const external = checked(where, parsePortRange(args[1]));
	const colon = args[2].indexOf(":");
	const address = lanHost(where, router, colon < 0 ? args[2] : args[2].slice(0, colon));
	const port = colon < 0 ? external.first : checked(where, parsePort(args[2].slice(colon + 1)));
	const forwards: ForwardConfig[] = protos.map((proto) => ({
		proto,
		externalPort: external.first,
		externalEnd: external.last,
		address,
		port,
		description: description(args.slice(3)),
	}));
	const shape = forwardShapeProblem(forwards[0]);
	if (shape)
		fail(`${where}: ${shape}`);
	for (const f of forwards) {
		const other = router.nat.findForward((g) => forwardsOverlap(f, g));
		if (other)
			fail(`${where}: ${f.proto} ${externalText(f)} conflicts with ${forwardText(other)} (${other.origin})`);
	}
	const nat = router.running.nat;
	if (nat.forwards.length + forwards.length > MAX_FORWARDS)
		fail(`${where}: at most ${MAX_FORWARDS} forwards can be kept (${nat.forwards.length} now)`);
	// What save would refuse is refused here, before anything changes.
	const problems = validateNat({ ...nat, forwards: [...nat.forwards, ...forwards] }, router.running.lan);
	if (problems.length)
		fail(`${where}: ${problems[0]}`);
	const error = router.nat.addForwards(forwards);
	if (error)
		fail(`${where}: ${error}`);
	for (const f of forwards)
		print(`forward: ${forwardText(f)} (${applied(router)})`);
}

function forwardDel(args: string[], router: Router, print: Print): void {
	const where = "forward del";
	expectCount(where, args, 2, 2, FORWARD_DEL_USAGE);
	const protos = protocols(where, args[0]);
	const range = checked(where, parsePortRange(args[1]));
	const single = range.first === range.last;
	// A saved forward the table refused at boot is still the configuration's to remove.
	const known: ForwardPlace[] = [...router.nat.forwards(), ...router.running.nat.forwards];
	const found = protos.map((proto) => {
		const f = known.find((g) => g.proto === proto && (single
			? g.externalPort <= range.first && range.first <= g.externalEnd
			: g.externalPort === range.first && g.externalEnd === range.last));
		if (!f)
			fail(`${where}: no ${proto} forward on ${args[1]}`);
		if ("origin" in f && f.origin === "sip")
			fail(`${where}: ${proto} ${args[1]} is a SIP ALG pinhole (it closes with its call; sipalg off closes them all)`);
		return f;
	});
	for (const f of found) {
		router.nat.removeForward(f.proto, f.externalPort);
		print(`forward: removed ${f.proto} ${externalText(f)}`);
	}
}

export const forwardCommand: Command = {
	name: "forward",
	usage: [FORWARD_ADD_USAGE, FORWARD_DEL_USAGE],
	synopsis: "forward add|del <tcp|udp|both> <port> ...",
	summary: "forward ports of the WAN address to a LAN host",
	detail: [
		"The inside port defaults to the external one; a range maps one to one",
		"(forward add tcp 8000-8009 192.168.4.2:9000 sends 8005 to 9005).",
		"both adds or removes the TCP and the UDP forward together.",
		"Words after the host are the description. Applies at once;",
		"lost at restart unless saved. show forwards lists them, UPnP ones too.",
	],
	run(args, router, print) {
		if (!args.length)
			fail(`forward: missing argument (usage: ${FORWARD_ADD_USAGE} | ${FORWARD_DEL_USAGE})`);
		if (args[0] === "add")
			forwardAdd(args.slice(1), router, print);
		else if (args[0] === "del")
			forwardDel(args.slice(1), router, print);
		else
			fail(`forward: unknown action '${args[0]}' (add or del)`);
	},
};

export const dmzCommand: Command = {
	name: "dmz",
	usage: ["dmz <ip>|off"],
	summary: "send unsolicited inbound TCP and UDP to one LAN host",
	detail: [
		"Packets from the Internet that match no flow and no forward go to this",
		"host instead of being dropped. Applies at once; lost at restart unless saved.",
	],
	run(args, router, print) {
		expectCount("dmz", args, 1, 1, "dmz <ip>|off");
		const address = args[0] === "off" ? "" : lanHost("dmz", router, args[0]);
		router.nat.setDmz(address);
		print(`dmz: ${address || "off"} (${applied(router)})`);
	},
};
