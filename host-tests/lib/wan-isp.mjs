// The ISP side of the WAN for the WAN lifecycle tests: restart the bench's
// dnsmasq (namespace wan) with other DHCP options, stop it, read what it
// logged since a restart, watch the WAN link's DHCP packets with tcpdump,
// and pull the WAN cable (the router's TAP set down in wan). Everything
// stays in the bench's namespaces; every wait is bounded.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { BENCH_STATE, sleep } from "./bench.mjs";

export const WAN_TAP = "rtr-wan";

const PID_FILE = path.join(BENCH_STATE, "dnsmasq.pid");
let generation = 0;

function pidOf() {
	try {
		const pid = Number(fs.readFileSync(PID_FILE, "utf8").trim());
		return pid > 0 ? pid : undefined;
	}
	catch {
		return undefined;
	}
}

function alive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	}
	catch {
		return false;
	}
}

// Stop the ISP's dnsmasq (the one netns.sh or restartIsp started); bounded.
export async function stopIsp() {
	const pid = pidOf();
	if (!pid)
		return;
	try {
		process.kill(pid, "SIGTERM");
	}
	catch {
		// already gone
	}
	for (let i = 0; i < 50 && alive(pid); i++)
		await sleep(50);
	if (alive(pid))
		process.kill(pid, "SIGKILL");
	fs.rmSync(PID_FILE, { force: true });
}

// Restart the ISP's dnsmasq as netns.sh starts it, with the range, lease
// time and extra options given, a lease file of its own (leases are
// forgotten unless `keepLeases`) and a log of its own: { log(), since }.
// The pid file is netns.sh's, so `netns.sh down` still stops it.
export async function restartIsp(bench, { range = "198.51.100.100,198.51.100.199", lease = "1h", extra = [], keepLeases = false } = {}) {
	await stopIsp();
	generation++;
	const leases = path.join(BENCH_STATE, keepLeases ? "dnsmasq.leases" : `wan-isp-${generation}.leases`);
	const log = path.join(BENCH_STATE, `wan-isp-${generation}.log`);
	if (!keepLeases)
		fs.writeFileSync(leases, "");
	fs.writeFileSync(log, "");
	const rangeArg = range.endsWith(",static") ? `${range},255.255.255.0` : `${range},255.255.255.0,${lease}`;
	const argv = [
		"dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
		`--interface=${WAN_TAP}`, "--except-interface=lo",
		`--dhcp-range=${rangeArg}`,
		"--dhcp-option=option:router,198.51.100.1",
		"--dhcp-option=option:dns-server,198.51.100.1",
		`--dhcp-leasefile=${leases}`,
		"--dhcp-authoritative",
		"--address=/isp.example/198.51.100.53",
		`--pid-file=${PID_FILE}`,
		`--log-facility=${log}`, "--log-dhcp",
		...extra,
	];
	const r = await bench.exec("wan", argv, { timeout: 10000 });
	assert.equal(r.code, 0, `dnsmasq ${argv.join(" ")}:\n${r.stdout}${r.stderr}`);
	for (let i = 0; i < 40 && !pidOf(); i++)
		await sleep(50);
	assert.ok(pidOf(), "dnsmasq wrote no pid file");
	return { log: () => fs.readFileSync(log, "utf8"), path: log };
}

// Wait until `regex` matches the ISP log; the match.
export async function waitLog(isp, regex, ms) {
	const deadline = Date.now() + ms;
	for (;;) {
		const m = regex.exec(isp.log());
		if (m)
			return m;
		if (Date.now() > deadline)
			assert.fail(`no ${regex} in dnsmasq's log within ${ms} ms:\n${isp.log()}`);
		await sleep(100);
	}
}

// The WAN cable: the router's TAP set down or up on the ISP's side.
export async function wanLink(bench, up) {
	const r = await bench.exec("wan", ["ip", "link", "set", WAN_TAP, up ? "up" : "down"]);
	assert.equal(r.code, 0, r.stderr);
	if (up) {
		// Setting a device down drops its addresses' routes, not the addresses: the route comes back with it.
		const addr = await bench.exec("wan", ["ip", "-4", "addr", "show", "dev", WAN_TAP]);
		assert.match(addr.stdout, /inet 198\.51\.100\.1\/24/, addr.stdout);
	}
}

// DHCP on the WAN link as tcpdump sees it from the ISP's side: one line per
// packet, "<src>.68 > <dst>.67: ... DHCP-Message ... Request" and so on.
export async function dhcpCapture(bench) {
	const tcpdump = bench.track("wan", ["tcpdump", "-l", "-n", "-v", "-i", WAN_TAP, "udp", "and", "(port", "67", "or", "port", "68)"]);
	await tcpdump.waitFor(/listening on/, 5000, { stream: "stderr" });
	return tcpdump;
}
