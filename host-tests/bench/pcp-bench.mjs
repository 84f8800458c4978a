// npm run bench, NAT-PMP and PCP part (issue 16): the XS heap the server
// uses and how fast the simulator answers, beside the UPnP figures
// (docs/bench/upnp.md). Runs the simulator on the test bench and drives it
// from lan with pmp-probe.py (datagrams built by host-tests/lib/pmp.mjs).
// Measures
//   - XS heap in use with NAT-PMP and PCP off, on and idle, with 64
//     mappings made over PCP (four LAN hosts, sixteen each: the per-host
//     cap), and the peak sampled during the request load;
//   - requests per second, closed loop (each request once the last is
//     answered): PCP MAP renewals and NAT-PMP address requests from one
//     host, and from eight at once. Each host is held to 20 requests a
//     second by the server's per-host rate; what is over it goes unanswered.
// Writes Markdown to docs/bench/pcp.md (and prints it).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startBench, sleep, TOP, ROUTER_LAN } from "../lib/bench.mjs";
import { PY, router, heapInUse, heapLowest } from "../lib/upnp.mjs";
import { PROBE, exchange, pcpMap, pcpAnswer, pmpState, PCP } from "../lib/pmp.mjs";

const OUT = path.join(TOP, "docs/bench/pcp.md");
const UPNP = path.join(TOP, "docs/bench/upnp.md");
const SECONDS = Number(process.env.PCP_BENCH_SECONDS ?? 5);
const HOSTS = Array.from({ length: 8 }, (_, i) => `192.168.4.${20 + i}`);

const log = (...args) => console.error("bench:", ...args);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const signedKb = (bytes) => `${bytes >= 0 ? "+" : "−"}${kb(Math.abs(bytes))}`;

const heap = (bench) => heapLowest(bench);

// Closed-loop rate from each of `hosts` at once; summed.
async function rate(bench, hosts, datagramsOf) {
	const runs = hosts.map((host) => bench.exec("lan", [PY, PROBE, "rate", host, ROUTER_LAN, String(SECONDS), ...datagramsOf(host).map((d) => d.toString("hex"))],
		{ timeout: (SECONDS + 20) * 1000 }));
	const results = (await Promise.all(runs)).map((r) => {
		assert.equal(r.code, 0, r.stderr);
		return JSON.parse(r.stdout.trim());
	});
	const answered = results.reduce((n, r) => n + r.answered, 0);
	const sent = results.reduce((n, r) => n + r.sent, 0);
	const seconds = Math.max(...results.map((r) => r.seconds));
	return { answered, sent, seconds, perSecond: Math.round(answered / seconds) };
}

// The UPnP figures to set beside ours, from the UPnP bench's last report.
function upnpFigures() {
	let text = "";
	try {
		text = fs.readFileSync(UPNP, "utf8");
	}
	catch {
		return { mappings: "not measured (npm run bench writes docs/bench/upnp.md)", rps: "–", rps8: "–" };
	}
	const m = /^\| 64 mappings[^|]*\| ([^|]+) \| ([^|]+) \|$/m.exec(text);
	const r = /^\| GetExternalIPAddress \| ([^|]+) \| ([^|]+) \|$/m.exec(text);
	return { mappings: m ? `${m[1].trim()} (${m[2].trim()} vs off)` : "–", rps: r ? r[1].trim() : "–", rps8: r ? r[2].trim() : "–" };
}

const bench = await startBench();
try {
	await bench.wanAddress(30000);
	for (const host of HOSTS)
		await bench.exec("lan", ["ip", "addr", "add", `${host}/24`, "dev", "rtr-lan"]);
	log("heap with NAT-PMP and PCP off");
	await router(bench, "natpmp off");
	await router(bench, "pcp off");
	const off = await heap(bench);
	await router(bench, "natpmp on");
	await router(bench, "pcp on");
	await sleep(500);
	const idle = await heap(bench);

	log("64 mappings over PCP");
	for (let h = 0; h < 4; h++) {
		const host = HOSTS[h];
		const requests = Array.from({ length: 16 }, (_, i) => pcpMap({ nonce: crypto.randomBytes(12), proto: i % 2 ? "udp" : "tcp", internalPort: 50000 + h * 100 + i, client: host, lifetime: 3600 }));
		// Under the per-host rate: eight, then a second, then eight.
		const answers = [...await exchange(bench, requests.slice(0, 8), { source: host }), ...(await sleep(1100), await exchange(bench, requests.slice(8), { source: host }))];
		for (const a of answers)
			assert.equal(pcpAnswer(a).result, PCP.SUCCESS);
	}
	const state = await pmpState(bench);
	assert.equal(state.mappings.length, 64, state.text);
	const mapped = await heap(bench);

	log("requests per second");
	const renewals = (host) => Array.from({ length: 4 }, (_, i) => pcpMap({ nonce: crypto.randomBytes(12), internalPort: 51000 + i, client: host, lifetime: 600 }));
	const address = () => [Buffer.from([0, 0])];
	let peak = mapped.inUse;
	const sampling = (async () => {
		const deadline = Date.now() + SECONDS * 1000;
		while (Date.now() < deadline) {
			peak = Math.max(peak, (await heapInUse(bench)).inUse);
			await sleep(300);
		}
	})();
	const pcp8 = await rate(bench, HOSTS, renewals);
	await sampling;
	const pcp1 = await rate(bench, [HOSTS[4]], renewals);
	const pmp1 = await rate(bench, [HOSTS[5]], address);
	const pmp8 = await rate(bench, HOSTS, address);
	const after = await heap(bench);
	const memory = (await router(bench, "show memory")).split("\n")[0];

	const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: TOP, encoding: "utf8" }).trim();
	const upnp = upnpFigures();
	const row = (r) => `${r.perSecond} (${r.answered} of ${r.sent} in ${r.seconds.toFixed(1)} s)`;
	const md = `# NAT-PMP and PCP benchmark

\`npm run bench\` (host-tests/bench/pcp-bench.mjs), ${new Date().toISOString().slice(0, 10)}, commit ${commit}, ${os.arch()}, node ${process.version}; the simulator 32-bit.

The simulator on the test bench; clients in \`lan\` (\`host-tests/lib/pmp-probe.py\`, datagrams built from
RFC 6886 and RFC 6887 by \`host-tests/lib/pmp.mjs\`). *XS heap in use*: \`show memory\` after its garbage
collection, the lowest of three readings. Wall-time figures are from a shared machine and only indicative.

## XS heap

| state | XS heap in use | NAT-PMP and PCP's share (vs off) |
|---|---:|---:|
| NAT-PMP and PCP off | ${kb(off.inUse)} | – |
| on, idle | ${kb(idle.inUse)} | ${signedKb(idle.inUse - off.inUse)} |
| 64 mappings made over PCP (4 hosts × 16) | ${kb(mapped.inUse)} | ${signedKb(mapped.inUse - off.inUse)} |
| peak sampled during 8 hosts' MAP renewals | ${kb(peak)} | ${signedKb(peak - off.inUse)} |
| after the load | ${kb(after.inUse)} | ${signedKb(after.inUse - off.inUse)} |
| UPnP, 64 mappings (docs/bench/upnp.md) | ${upnp.mappings} | |

Per mapping: 0 bytes of XS heap (mappings are forwards of origin pmp in the NAPT table; the nonce is in
the forward's description). \`${memory}\`

## Requests per second (simulator, wall time, closed loop)

Each host is held to 20 requests a second by the server's per-host rate: the figures are the
rate, not the server's limit.

| request | 1 host | 8 hosts at once |
|---|---:|---:|
| PCP MAP renewal (4 mappings in turn) | ${row(pcp1)} | ${row(pcp8)} |
| NAT-PMP external address | ${row(pmp1)} | ${row(pmp8)} |
| UPnP GetExternalIPAddress, 1 and 8 clients (docs/bench/upnp.md) | ${upnp.rps} | ${upnp.rps8} |
`;
	fs.writeFileSync(OUT, md);
	console.log(md);
}
finally {
	await bench.stop();
}
