// The flood bench (issue 15 item 7; `run.sh flood`): how long a legitimate
// new TCP connection takes to get through the router during a SYN flood.
// Each case runs on a fresh simulator (flows a flood leaves behind last
// 240 s and would carry over): a flood at 0, 1000 and 5000 frames/s, and
// meanwhile FLOOD_BENCH_CONNS connections one after another, each timed
// from connect() to the server's greeting (a handshake and one round trip),
// each given 10 s.
//   lan-*:  one LAN host floods far with SYNs from many source ports, to a
//           listening port (far answers SYN-ACK) or a closed one (RST);
//           "kernel" floods from 192.168.4.2, whose kernel answers far's
//           SYN-ACKs with RST as hping3's host does; "silent" from an
//           address whose frames reach no stack (the flooder answers ARP
//           for it), so nothing resets the router's half-open flows.
//           "spoofed" from 62 LAN addresses nobody has (the router's ARP
//           for them goes unanswered). Another LAN host, 192.168.4.3,
//           connects to far.
//   wan-*:  spoofed sources in 203.0.113.64/26 flood a forwarded port whose
//           LAN server answers; far connects through the forward, and
//           192.168.4.3 connects out to far.
// Prints a Markdown table; run.sh writes it to docs/bench/flood.md.
// FLOOD_BENCH_RATES, FLOOD_BENCH_CONNS, FLOOD_BENCH_WARMUP and
// FLOOD_BENCH_ONLY (a regular expression over the case names) narrow it.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { startBench, sleep, FAR_HOST, FAR_ALT, LAN_HOST, SIM, TOP } from "../lib/bench.mjs";
import { tcpServer } from "../lib/tcp-peers.mjs";
import { startFlood, timeConnections, summarize, LAN_OTHER, LAN_FLOODER, LAN_SPOOFED, FLOODER_MAC, SPOOFED_NET } from "../lib/flood.mjs";

const CONNS = Number(process.env.FLOOD_BENCH_CONNS ?? 50);
const RATES = (process.env.FLOOD_BENCH_RATES ?? "0 1000 5000").split(/\s+/).filter(Boolean).map(Number);
const ONLY = process.env.FLOOD_BENCH_ONLY ? new RegExp(process.env.FLOOD_BENCH_ONLY) : null;
const LIMIT = 10;
// A case stops after this many failed connections (each costs LIMIT seconds).
const MAX_FAILURES = 5;
// The flood runs this long before the first connection: the table is full by then.
const WARMUP = Number(process.env.FLOOD_BENCH_WARMUP ?? 3);
const GAP = 0.1;

const CASES = [
	{ name: "lan-kernel-listening", side: "lan", flooder: "kernel", port: 9000 },
	{ name: "lan-kernel-closed", side: "lan", flooder: "kernel", port: 9001 },
	{ name: "lan-silent-listening", side: "lan", flooder: "silent", port: 9000 },
	{ name: "lan-silent-closed", side: "lan", flooder: "silent", port: 9001 },
	{ name: "lan-spoofed-listening", side: "lan", flooder: "spoofed", port: 9000 },
	{ name: "wan-forward", side: "wan", flooder: "spoofed", port: 8080 },
];

async function runCase(c, rate) {
	const bench = await startBench();
	try {
		const wan = await bench.wanAddress(30000);
		await bench.exec("lan", ["ip", "addr", "add", `${LAN_OTHER}/24`, "dev", "rtr-lan"]);
		await tcpServer(bench, "far", FAR_HOST, 7000);
		await tcpServer(bench, "far", FAR_ALT, 9000);
		const macs = await bench.macs();
		let flood;
		if (c.side === "lan") {
			if (rate)
				flood = await startFlood(bench, {
					ns: "lan", iface: "rtr-lan", dstMac: macs.lan, dst: FAR_ALT, dport: c.port, rate, seconds: 600,
					...(c.flooder === "kernel" ? { src: LAN_HOST }
						: c.flooder === "silent" ? { src: LAN_FLOODER, srcMac: FLOODER_MAC, arp: true }
							: { src: LAN_SPOOFED, srcMac: FLOODER_MAC }),
				});
			if (flood)
				await sleep(WARMUP * 1000);
			const out = await timeConnections(bench, "lan", FAR_HOST, 7000, { source: LAN_OTHER, count: CONNS, limit: LIMIT, gap: GAP, maxFailures: MAX_FAILURES });
			const sent = await flood?.finish();
			return { out, sent, nat: await bench.console.command("show nat") };
		}
		await bench.console.command("forward add tcp 8080 192.168.4.2:8080 bench");
		await tcpServer(bench, "lan", LAN_HOST, 8080);
		if (rate)
			flood = await startFlood(bench, { ns: "wan", iface: "rtr-wan", dstMac: macs.wan, src: SPOOFED_NET, dst: wan, dport: 8080, rate, seconds: 600 });
		if (flood)
			await sleep(WARMUP * 1000);
		const [inward, out] = await Promise.all([
			timeConnections(bench, "far", wan, 8080, { source: FAR_HOST, count: CONNS, limit: LIMIT, gap: GAP, maxFailures: MAX_FAILURES }),
			timeConnections(bench, "lan", FAR_HOST, 7000, { source: LAN_OTHER, count: CONNS, limit: LIMIT, gap: GAP, maxFailures: MAX_FAILURES }),
		]);
		const sent = await flood?.finish();
		return { inward, out, sent, nat: await bench.console.command("show nat") };
	}
	finally {
		await bench.stop();
	}
}

const fmt = (s) => `${s.p50.toFixed(0)} | ${s.p99.toFixed(0)} | ${s.max.toFixed(0)} | ${s.failures} of ${s.n}${s.n < CONNS ? " (stopped)" : ""}`;
const rows = [];
for (const c of CASES) {
	if (ONLY && !ONLY.test(c.name))
		continue;
	for (const rate of RATES) {
		if (rate === 0 && c.name !== "lan-kernel-listening" && c.name !== "wan-forward")
			continue;
		const r = await runCase(c, rate);
		const drops = /drops?[^\n]*/.exec(r.nat)?.[0] ?? "";
		const sent = r.sent ? String(r.sent.rate) : "0";
		if (r.inward) {
			rows.push(`| ${c.name} | ${rate} | ${sent} | far -> forward | ${fmt(summarize(r.inward))} |`);
			process.stderr.write(`${rows.at(-1)}\n`);
		}
		rows.push(`| ${c.name} | ${rate} | ${sent} | ${LAN_OTHER} -> far | ${fmt(summarize(r.out))} |`);
		process.stderr.write(`${rows.at(-1)}\n${drops}\n`);
		if (process.env.FLOOD_BENCH_VERBOSE)
			process.stderr.write(`${JSON.stringify(r.sent)}\n${r.nat}\n${JSON.stringify(r.out.filter((x) => !x.ok || x.ms > 500))}\n`);
	}
}

// The commit the simulator was built from (ROUTER_SIM may be another checkout's).
let rev = "unknown";
try {
	rev = execFileSync("git", ["-C", path.dirname(SIM), "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
}
catch {
	// not a checkout
}
console.log(`Simulator \`${SIM.startsWith(TOP) ? path.relative(TOP, SIM) : SIM}\`, built from commit ${rev}. Per case a fresh simulator; the flood runs ${WARMUP} s, then ${CONNS} connections one after another`);
console.log(`(${GAP} s apart), each given ${LIMIT} s, the case stopped after ${MAX_FAILURES} failures; times in ms from connect() to the server's greeting.`);
console.log("*sent/s*: the flood's measured rate.\n");
console.log("Cases (host-tests/lib/syn-flood.py sends the floods as raw frames, a new source port each):\n");
console.log("- `lan-kernel-*`: 192.168.4.2 floods far; its kernel answers far's SYN-ACKs with RST, as a host running a flood tool does.");
console.log("- `lan-silent-*`: 192.168.4.66 floods far and answers ARP for itself, so its frames reach no stack and nothing resets the half-open flows (a flooder that ignores SYN-ACKs).");
console.log("- `lan-spoofed-*`: 62 LAN sources that no host has (192.168.4.64/26, nothing answers the router's ARP for them), each with a flow share of its own.");
console.log("- `*-listening`: to far's listening port 9000 (far answers SYN-ACK, then SYN cookies); `*-closed`: to closed port 9001 (far answers RST).");
console.log("- `wan-forward`: spoofed sources 203.0.113.64/26 flood `forward add tcp 8080 192.168.4.2:8080`, whose server answers every SYN; far connects through the forward and 192.168.4.3 connects out, both during the flood.");
console.log("- In the `lan-*` cases 192.168.4.3, another LAN host, connects to far:7000.\n");
console.log("| case | SYN frames/s | sent/s | connections | p50 | p99 | max | failed |");
console.log("|---|---:|---:|---|---:|---:|---:|---:|");
for (const row of rows)
	console.log(row);
