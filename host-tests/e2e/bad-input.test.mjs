// Bad console input gets one line saying what is wrong, and changes nothing:
// not the running configuration, not the saved one, not the ports.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { startBench, ping } from "../lib/bench.mjs";

let bench;
let savedBefore;
before(async () => {
	bench = await startBench({ attach: true });
	// A saved, non-default configuration, so "unchanged" means something.
	await bench.console.command("set wan static 198.51.100.60/24 198.51.100.1");
	await bench.console.command("save");
	savedBefore = fs.readFileSync(bench.prefs);
});
after(async () => {
	await bench?.stop();
});

const cases = [
	["unknown command", "frobnicate now", /^error: unknown command 'frobnicate' \(type help for the list\)$/],
	["bad address", "set lan 192.168.300.1/24", /^error: set lan: '192\.168\.300\.1' is not an IPv4 address \(300 is over 255\)$/],
	["address with too few parts", "set wan static 198.51.100/24 198.51.100.1", /^error: set wan static: '198\.51\.100' is not an IPv4 address/],
	["bad prefix length", "set lan 192.168.4.1/33", /^error: set lan: '\/33' is not a prefix length \(0 to 32\)$/],
	["prefix too wide for a port", "set lan 10.0.0.1/4", /^error: set lan: 10\.0\.0\.1\/4 needs a prefix from \/8 to \/30, not \/4$/],
	["missing prefix", "set lan 192.168.4.1", /^error: set lan: '192\.168\.4\.1' needs a prefix length/],
	["network address", "set lan 192.168.4.0/24", /^error: set lan: 192\.168\.4\.0\/24 is the network address of its subnet$/],
	["missing argument to set lan", "set lan", /^error: set lan: missing argument \(usage: set lan <ip\/len>\)$/],
	["missing gateway", "set wan static 198.51.100.7/24", /^error: set wan static: missing argument/],
	["gateway off the subnet", "set wan static 198.51.100.7/24 203.0.113.1", /^error: set wan static: gateway 203\.0\.113\.1 is not on 198\.51\.100\.7\/24$/],
	["bad dns server", "set wan static 198.51.100.7/24 198.51.100.1 1.2.3", /^error: set wan static: dns: '1\.2\.3' is not an IPv4 address/],
	["overlapping subnets", "set lan 198.51.100.9/24", /^error: set lan: 198\.51\.100\.9\/24 overlaps the WAN 198\.51\.100\.60\/24$/],
	["unknown wan mode", "set wan pppoe", /^error: set wan: unknown mode 'pppoe' \(dhcp or static\)$/],
	["unknown setting", "set dmz 1.2.3.4", /^error: set: unknown setting 'dmz' \(wan, lan or nat\)$/],
	["show without topic", "show", /^error: show: missing argument/],
	["unknown show topic", "show everything", /^error: show: unknown topic 'everything'/],
	["extra argument", "save please", /^error: save: too many arguments \(usage: save\)$/],
	["help for nothing", "help frobnicate", /^error: help: no command 'frobnicate'/],
	["upnp without action", "upnp", /^error: upnp: missing argument/],
	["upnp unknown action", "upnp maybe", /^error: upnp: unknown action 'maybe'/],
	["upnp secure neither on nor off", "upnp secure sometimes", /^error: upnp secure: expected on or off, not 'sometimes'$/],
	["upnp rule with a bad port", "upnp allow 70000 0.0.0.0/0 1-65535", /^error: upnp allow: external ports '70000' is not a port or a range/],
	["upnp rule range backwards", "upnp deny 2000-1000 0.0.0.0/0 1-65535", /^error: upnp deny: external ports 2000-1000 runs backwards$/],
	["upnp rule with a bad address", "upnp allow 1024-65535 192.168.4.300/24 1024-65535", /^error: upnp allow: '192\.168\.4\.300\/24' is not an address or address\/len$/],
	["upnp rule missing a part", "upnp allow 1024-65535 0.0.0.0/0", /^error: upnp allow: missing argument/],
	["upnp rule del out of range", "upnp rule del 7", /^error: upnp rule del: no rule '7' \(show upnp rules lists 2\)$/],
	["upnp limit unknown", "upnp limit sockets 4", /^error: upnp limit: unknown limit 'sockets'/],
	["upnp limit out of range", "upnp limit connections 0", /^error: upnp limit connections: must be 1 to 16$/],
	["upnp del of nothing", "upnp del 40000 tcp", /^error: upnp del: no UPnP mapping on tcp 40000$/],
	["upnp del bad protocol", "upnp del 40000 sctp", /^error: upnp del: protocol 'sctp' \(tcp or udp\)$/],
	["show upnp unknown topic", "show upnp everything", /^error: show upnp: unknown topic 'everything' \(rules\)$/],
	["natpmp without a word", "natpmp", /^error: natpmp: missing argument \(usage: natpmp on\|off\)$/],
	["natpmp neither on nor off", "natpmp maybe", /^error: natpmp: expected on or off, not 'maybe'$/],
	["pcp with an extra word", "pcp on please", /^error: pcp: too many arguments \(usage: pcp on\|off\)$/],
	["show natpmp with an extra word", "show natpmp clients", /^error: show natpmp: too many arguments \(usage: show natpmp\)$/],
	["sipalg without action", "sipalg", /^error: sipalg: missing argument \(usage: sipalg on\|off \| sipalg ports <port>\[,<port>\.\.\.\]\)$/],
	["sipalg unknown action", "sipalg maybe", /^error: sipalg: unknown action 'maybe' \(on, off or ports\)$/],
	["sipalg on with an extra word", "sipalg on please", /^error: sipalg on: too many arguments \(usage: sipalg on\|off\)$/],
	["sipalg ports without ports", "sipalg ports", /^error: sipalg ports: missing argument/],
	["sipalg port over 65535", "sipalg ports 5060,70000", /^error: sipalg ports: '70000' is not a port \(1 to 65535\)$/],
	["sipalg port zero", "sipalg ports 0", /^error: sipalg ports: '0' is not a port \(1 to 65535\)$/],
	["sipalg port not a number", "sipalg ports sip", /^error: sipalg ports: 'sip' is not a port \(1 to 65535\)$/],
	["sipalg port with a sign", "sipalg ports +5060", /^error: sipalg ports: '\+5060' is not a port \(1 to 65535\)$/],
	["sipalg nine ports", "sipalg ports 5060 5061 5062 5063 5064 5065 5066 5067 5068", /^error: sipalg ports: at most 8 ports, not 9$/],
	["sipalg port twice", "sipalg ports 5060, 5080,5060", /^error: sipalg ports: port 5060 is listed twice$/],
	["sipalg empty entry", "sipalg ports 5060,,5080", /^error: sipalg ports: empty entry in '5060,,5080'/],
	["sipalg trailing comma", "sipalg ports 5060,", /^error: sipalg ports: empty entry in '5060,'/],
	["show sipalg with an extra word", "show sipalg dialogs", /^error: show sipalg: too many arguments \(usage: show sipalg\)$/],
	["overlong line", "x".repeat(300), /^error: line longer than 256 characters; ignored$/],
];

for (const [name, line, expected] of cases) {
	test(`${name}: explained in one line, nothing changes`, async () => {
		const running = await bench.console.command("show config");
		const out = await bench.console.command(line);
		assert.match(out, expected);
		assert.equal(out.split("\n").length, 1, `one line: ${JSON.stringify(out)}`);
		assert.equal(await bench.console.command("show config"), running);
		assert.deepEqual(fs.readFileSync(bench.prefs), savedBefore);
	});
}

test("after all that, the ports still carry the saved addresses", async () => {
	const wan = await ping(bench, "wan", "198.51.100.60");
	assert.ok(wan.ok, wan.output);
	const lan = await ping(bench, "lan", "192.168.4.1");
	assert.ok(lan.ok, lan.output);
});

test("help explains a command", async () => {
	const out = await bench.console.command("help set");
	assert.match(out, /^usage: set wan dhcp$/m);
	assert.match(out, /^usage: set wan static <ip\/len> <gateway> \[dns \[dns\]\]$/m);
	assert.match(out, /set wan \.\.\. applies at once; set lan \.\.\. applies after save and restart\./);
	const list = await bench.console.command("help");
	for (const name of ["help", "show", "set", "save", "restart", "factory-reset"])
		assert.match(list, new RegExp(`^  ${name}\\b`, "m"));
});

test("help sipalg documents what show sipalg prints", async () => {
	const out = await bench.console.command("help sipalg");
	assert.match(out, /^usage: sipalg on\|off$/m);
	assert.match(out, /^usage: sipalg ports <port>\[,<port>\.\.\.\]$/m);
	assert.match(out, /^ {4}sipalg: on\|off, ports <port>\[,<port>\.\.\.\]$/m);
	assert.match(out, /^ {4}counters: messages <n> rewritten <n> unparseable <n> too-big <n> tcp-split <n>$/m);
	// And show sipalg prints in that form, the factory settings here.
	const show = await bench.console.command("show sipalg");
	assert.match(show, /^sipalg: on, ports 5060\ndialogs: 0 of 16\nregistrations: 0 of 8\npinholes: 0 of 40\ntcp: 0 connections of 16\ncounters: messages \d+ rewritten \d+ unparseable \d+ too-big \d+ tcp-split \d+ not-at-boundary \d+ tcp-adjusted \d+ pool-full \d+ pinhole-failed \d+ no-pinhole \d+ dialogs-created \d+ dialogs-ended \d+$/);
});

test("binary noise on the serial line is survived", async () => {
	const running = await bench.console.command("show config");
	// Bytes a noisy UART delivers: control characters, high bytes, no line ends.
	const noise = crypto.randomBytes(8192).map((b) => (b === 10 || b === 13 ? 0 : b));
	bench.sim.stdin.write(noise);
	// One line end finishes whatever the noise left in the line buffer.
	const out = await bench.console.command("");
	assert.match(out, /^(error: .*)?$/);
	assert.equal(await bench.console.command("show config"), running);
	assert.match(await bench.console.command("show version"), /^natbridge \d+\.\d+\.\d+ \(sim/);
});
