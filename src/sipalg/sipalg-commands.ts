/*
 * The SIP ALG as the router runs it and as the console sees it: started
 * from the configuration at boot (after NAT, whose forward pool has room
 * for its pinholes), turned on and off, its ports changed, and what it is
 * doing shown. Each command checks all of its arguments before it changes
 * anything; every change goes to the running configuration (save keeps it)
 * and to the ALG at once.
 */
import SipAlg from "sipalg";
import type { Router } from "router";
import { expectCount, fail } from "console/command";
import type { Command, Print } from "console/command";
import { SIPALG_MAX_PORTS, sipalgDefaults, sipalgPortsProblem } from "sipalg/sipalg-config";
import { forwardText } from "nat/nat-config";

const USAGE = ["sipalg on|off", "sipalg ports <port>[,<port>...]"];

/* What show sipalg prints; tests and scripts read it, so it keeps this form. */
const SHOW_SIPALG_FORMAT = [
	"  sipalg: on|off, ports <port>[,<port>...]",
	"  dialogs: <n> of <max>",
	"    <call-id> inside <ip> remote <ip> early|confirmed media <in>-><ext>[,...]|none expires <s>s",
	"  registrations: <n> of <max>",
	"    <ip>:<port> via :<ext-port> registrar <ip> expires <s>s",
	"  pinholes: <n> of <max>",
	"    udp <ext>[-<end>] -> <ip>:<port>[-<end>] [lease <s>s] [remote <ip>]",
	"  tcp: <n> connections of <max>",
	"  counters: messages <n> rewritten <n> unparseable <n> too-big <n> tcp-split <n>",
	"    not-at-boundary <n> tcp-adjusted <n> pool-full <n> pinhole-failed <n>",
	"    no-pinhole <n> dialogs-created <n> dialogs-ended <n>   (one line)",
	"unparseable messages and those too big for the MTU once rewritten are",
	"forwarded unchanged; tcp-split counts TCP segments passed unchanged because",
	"a message was split across segments; pool-full, calls or pinholes refused;",
	"no-pinhole, messages sent on as the phone wrote them because a stream of",
	"their SDP got no pinhole (or they have more than 8 streams): never half rewritten.",
];

/* Start the ALG from the configuration; the warnings, if any, for the console. */
export function startSipAlg(router: Router): string[] {
	const c = router.running.sipalg;
	if (!router.nat.running)
		return c.enabled ? ["sipalg did not start: nat is not running"] : [];
	try {
		if (!SipAlg.start({ enabled: c.enabled, ports: c.ports }))
			return ["sipalg did not start (no memory for its pools?); SIP passes unrewritten"];
	}
	catch (e) {
		return [`sipalg did not start (${e instanceof Error ? e.message : String(e)}); SIP passes unrewritten`];
	}
	return [];
}

function applied(router: Router): string {
	if (!SipAlg.running())
		return "the ALG is not running; type save to keep it";
	return router.unsaved() ? "applied; type save to keep it" : "applied";
}

function portsText(ports: readonly number[]): string {
	return ports.join(",");
}

/* "5060", "5060,5080", "5060 5080", "5060, 5080": 1 to 8 distinct ports. */
export function parseSipPorts(words: string[]): number[] {
	const where = "sipalg ports";
	const text = words.join(" ");
	const pieces = text.split(/\s*,\s*|\s+/);
	if (pieces.some((p) => !p.length))
		fail(`${where}: empty entry in '${text}' (usage: ${USAGE[1]})`);
	if (pieces.length > SIPALG_MAX_PORTS)
		fail(`${where}: at most ${SIPALG_MAX_PORTS} ports, not ${pieces.length}`);
	const ports = pieces.map((p) => {
		if (!/^[1-9][0-9]{0,4}$/.test(p) || Number(p) > 65535)
			fail(`${where}: '${p}' is not a port (1 to 65535)`);
		return Number(p);
	});
	const problem = sipalgPortsProblem(ports);
	if (problem)
		fail(`${where}: ${problem}`);
	return ports;
}

export const sipalgCommand: Command = {
	name: "sipalg",
	usage: USAGE,
	synopsis: "sipalg on|off|ports <list>",
	summary: "the SIP ALG: on/off, the SIP ports",
	detail: [
		"Rewrites the LAN addresses in SIP and SDP (UDP and TCP) passing the NAT",
		"and opens pinholes for each call's RTP and RTCP. off ends every call's",
		"pinholes and forgets its dialogs; SIP then passes untouched. ports lists",
		"1 to 8 ports (comma or space separated) whose traffic is SIP, both",
		"protocols (default 5060). Applies at once; lost at restart unless saved.",
		"show sipalg shows what it is doing, in lines that keep this form:",
		...SHOW_SIPALG_FORMAT,
	],
	run(args, router, print) {
		if (!args.length)
			fail(`sipalg: missing argument (usage: ${USAGE.join(" | ")})`);
		const rest = args.slice(1);
		const c = router.running.sipalg;
		switch (args[0]) {
		case "on":
		case "off": {
			expectCount(`sipalg ${args[0]}`, rest, 0, 0, USAGE[0]);
			const on = args[0] === "on";
			const before = SipAlg.running() ? SipAlg.stats() : undefined;
			c.enabled = on;
			if (SipAlg.running())
				SipAlg.setEnabled(on);
			const ended = !on && before?.enabled && before.dialogs + before.registrations
				? `; ${before.dialogs} dialogs and ${before.registrations} registrations ended, their pinholes closed`
				: "";
			print(`sipalg: ${args[0]}${ended} (${applied(router)})`);
			break;
		}
		case "ports": {
			if (!rest.length)
				fail(`sipalg ports: missing argument (usage: ${USAGE[1]})`);
			const ports = parseSipPorts(rest);
			c.ports = ports;
			if (SipAlg.running())
				SipAlg.setPorts(ports);
			print(`sipalg: ports ${portsText(ports)} (${applied(router)})`);
			break;
		}
		default:
			fail(`sipalg: unknown action '${args[0]}' (on, off or ports)`);
		}
	},
};


export function showSipalg(args: string[], router: Router, print: Print): void {
	expectCount("show sipalg", args, 0, 0, "show sipalg");
	const c = router.running.sipalg;
	if (!SipAlg.running()) {
		print(`sipalg: ${c.enabled ? "on" : "off"}, ports ${portsText(c.ports)}; not running (${router.nat.running ? "see the boot warnings" : "nat is not running"})`);
		return;
	}
	const s = SipAlg.stats();
	print(`sipalg: ${s.enabled ? "on" : "off"}, ports ${portsText(s.ports)}`);
	const dialogs = SipAlg.dialogs();
	print(`dialogs: ${dialogs.length} of ${s.dialogsMax}`);
	for (const d of dialogs) {
		const media = d.streams.length ? d.streams.map((m) => `${m.insidePort}->${m.externalPort}`).join(",") : "none";
		print(`  ${d.callId} inside ${d.inside} remote ${d.remote} ${d.confirmed ? "confirmed" : "early"} media ${media} expires ${d.expiresIn}s`);
	}
	const registrations = SipAlg.registrations();
	print(`registrations: ${registrations.length} of ${s.registrationsMax}`);
	for (const r of registrations)
		print(`  ${r.inside}:${r.insidePort} via :${r.externalPort} registrar ${r.registrar} expires ${r.expiresIn}s`);
	print(`pinholes: ${router.nat.forwardCount("sip")} of ${s.pinholesMax}`);
	router.nat.eachForward("sip", (f) => {
		print(`  ${forwardText(f)}${f.leaseLeft ? ` lease ${f.leaseLeft}s` : ""}${f.remote ? ` remote ${f.remote}` : ""}`);
	});
	print(`tcp: ${s.tcpConnections} connections of ${s.tcpConnectionsMax}`);
	print(`counters: messages ${s.messages} rewritten ${s.rewritten} unparseable ${s.unparseable} too-big ${s.tooBig}`
		+ ` tcp-split ${s.tcpSplit} not-at-boundary ${s.notAtBoundary} tcp-adjusted ${s.tcpAdjusted}`
		+ ` pool-full ${s.poolFull} pinhole-failed ${s.pinholeFailed} no-pinhole ${s.noPinhole} dialogs-created ${s.dialogsCreated} dialogs-ended ${s.dialogsEnded}`);
}

/* The SIP ALG settings that differ from the defaults, as the commands that make them (show config). */
export function sipalgConfigLines(router: Router): string[] {
	const c = router.running.sipalg;
	const d = sipalgDefaults();
	const lines: string[] = [];
	if (c.enabled !== d.enabled)
		lines.push(`sipalg ${c.enabled ? "on" : "off"}`);
	if (portsText(c.ports) !== portsText(d.ports))
		lines.push(`sipalg ports ${portsText(c.ports)}`);
	return lines;
}
