// DHCP clients for the tests: busybox udhcpc and ISC dhclient in a bench
// namespace, each with a script that only records what it was given (the
// namespace's own addresses stay as they are, unless a test asks for the
// leased address to be added so that a RELEASE can be sent from it), and
// dhcp-probe.py for hand-made messages. Every run is bounded in time.
import fs from "node:fs";
import path from "node:path";
import { TOP } from "./bench.mjs";

const PROBE = path.join(TOP, "host-tests/lib/dhcp-probe.py");
export const LAN_IF = "rtr-lan";
export const WAN_IF = "rtr-wan";

// The MAC address of an interface in a namespace.
export async function macOf(bench, ns, dev) {
	const r = await bench.exec(ns, ["cat", `/sys/class/net/${dev}/address`]);
	if (r.code !== 0)
		throw new Error(`no MAC for ${dev} in ${ns}: ${r.stderr}`);
	return r.stdout.trim();
}

// The scripts udhcpc and dhclient call, writing each event as one JSON line.
function scripts(bench) {
	const dir = bench.dir;
	const udhcpc = path.join(dir, "udhcpc.sh");
	if (!fs.existsSync(udhcpc)) {
		fs.writeFileSync(udhcpc, `#!/bin/sh
printf '{"event":"%s","ip":"%s","subnet":"%s","router":"%s","dns":"%s","domain":"%s","lease":"%s","serverid":"%s"}\\n' \\
	"$1" "$ip" "$subnet" "$router" "$dns" "$domain" "$lease" "$serverid" >> "${dir}/udhcpc.events"
if [ "$1" = bound ] && [ -n "$ASSIGN" ]; then ip addr add "$ip/32" dev "$interface"; fi
exit 0
`, { mode: 0o755 });
		fs.writeFileSync(path.join(dir, "dhclient.sh"), `#!/bin/sh
printf '{"event":"%s","ip":"%s","subnet":"%s","router":"%s","dns":"%s","domain":"%s","lease":"%s","serverid":"%s"}\\n' \\
	"$reason" "$new_ip_address" "$new_subnet_mask" "$new_routers" "$new_domain_name_servers" "$new_domain_name" \\
	"$new_dhcp_lease_time" "$new_dhcp_server_identifier" >> "${dir}/dhclient.events"
exit 0
`, { mode: 0o755 });
	}
	return { udhcpc, dhclient: path.join(dir, "dhclient.sh") };
}

function events(bench, name) {
	const file = path.join(bench.dir, `${name}.events`);
	if (!fs.existsSync(file))
		return [];
	return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

function udhcpcArgv(bench, extra) {
	return ["busybox", "udhcpc", "-i", LAN_IF, "-f", "-n", "-t", "4", "-T", "1", "-A", "1", "-s", scripts(bench).udhcpc, ...extra];
}

// udhcpc until it has a lease, then exit (-q, no RELEASE); the lease it got.
export async function udhcpc(bench, extra = []) {
	const before = events(bench, "udhcpc").length;
	const r = await bench.exec("lan", udhcpcArgv(bench, ["-q", ...extra]), { timeout: 20000 });
	const bound = events(bench, "udhcpc").slice(before).filter((e) => e.event === "bound");
	if (r.code !== 0 || !bound.length)
		throw new Error(`udhcpc got no lease (exit ${r.code}):\n${r.stdout}${r.stderr}`);
	return { ...bound[bound.length - 1], log: r.stderr };
}

// udhcpc that keeps its lease, with the address on the interface, and
// releases it (RELEASE from that address) when it is stopped.
export async function udhcpcHolding(bench, extra = []) {
	scripts(bench);
	const argv = ["env", "ASSIGN=1", ...udhcpcArgv(bench, ["-R", ...extra])];
	const tracked = bench.track("lan", argv);
	await tracked.waitFor(/lease of [\d.]+ obtained/, 15000, { stream: "stderr" });
	const bound = events(bench, "udhcpc").filter((e) => e.event === "bound").pop();
	return {
		lease: bound,
		tracked,
		// SIGUSR1: renew now (a unicast REQUEST from the leased address).
		renew() {
			tracked.child.kill("SIGUSR1");
		},
		async release() {
			await tracked.stop();
			await bench.exec("lan", ["ip", "addr", "del", `${bound.ip}/32`, "dev", LAN_IF]);
			return tracked.stderr;
		},
	};
}

// dhclient until bound, stopped without a RELEASE; its lease file stays for the next run.
export async function dhclient(bench) {
	const { dhclient: script } = scripts(bench);
	const files = ["-lf", path.join(bench.dir, "dhclient.leases"), "-pf", path.join(bench.dir, "dhclient.pid"), "-sf", script];
	const before = events(bench, "dhclient").length;
	const tracked = bench.track("lan", ["dhclient", "-4", "-d", "-1", "-v", ...files, LAN_IF]);
	try {
		await tracked.waitFor(/bound to [\d.]+/, 15000, { stream: "stderr" });
	}
	finally {
		await tracked.stop();
	}
	const got = events(bench, "dhclient").slice(before).filter((e) => /^(BOUND|REBOOT|RENEW)$/.test(e.event));
	return { ...got.pop(), log: tracked.stderr };
}

// dhclient -r: RELEASE of the lease in its lease file.
export async function dhclientRelease(bench) {
	const { dhclient: script } = scripts(bench);
	const files = ["-lf", path.join(bench.dir, "dhclient.leases"), "-pf", path.join(bench.dir, "dhclient.pid"), "-sf", script];
	return bench.exec("lan", ["dhclient", "-4", "-r", "-v", ...files, LAN_IF], { timeout: 15000 });
}

// dhcp-probe.py's program in a namespace; its replies per step.
export async function probe(bench, ns, dev, program) {
	const r = await bench.exec(ns, ["python3", PROBE, dev, JSON.stringify(program)], { timeout: 30000 });
	if (r.code !== 0)
		throw new Error(`dhcp-probe.py failed (${r.code}): ${r.stderr}`);
	return JSON.parse(r.stdout);
}

// The DHCP counters from show dhcp, by name.
export function counters(showDhcp) {
	const line = /^counters: (.*)$/m.exec(showDhcp);
	if (!line)
		throw new Error(`no counters in:\n${showDhcp}`);
	const out = {};
	for (const m of line[1].matchAll(/([a-z][a-z ]*?) (\d+)/g))
		out[m[1]] = Number(m[2]);
	return out;
}

// A request's bytes laid out by hand, for malformed variants.
export function rawRequest({ op = 1, htype = 1, hlen = 6, mac = "02:00:00:00:00:99", cookie = [99, 130, 83, 99], options = [53, 1, 1, 255], sname, file } = {}) {
	const b = Buffer.alloc(240);
	b[0] = op;
	b[1] = htype;
	b[2] = hlen;
	b.writeUInt32BE(0x12345678, 4);
	Buffer.from(mac.split(":").map((x) => parseInt(x, 16))).copy(b, 28);
	if (sname)
		Buffer.from(sname).copy(b, 44, 0, 64);
	if (file)
		Buffer.from(file).copy(b, 108, 0, 128);
	Buffer.from(cookie).copy(b, 236);
	return Buffer.concat([b, Buffer.from(options)]).toString("hex");
}
