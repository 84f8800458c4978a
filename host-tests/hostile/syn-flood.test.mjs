// SYN floods against the router (issue 15 item 7 and the hostile suite):
// while raw SYN frames arrive at HOSTILE_RATE a second (default 1000), each
// from its own source port, legitimate new TCP connections still get
// through, each within BOUND_MS, and a connection opened before the flood
// keeps carrying data.
//   - From the LAN: one host floods far. Once from an address whose frames
//     reach no stack (the flooder answers ARP for it itself), so nothing
//     resets the half-open flows while far's listening port answers each SYN
//     with a SYN-ACK: the case that filled the old router's table with
//     flows it took for established (every new connection failed); once
//     from 192.168.4.2 itself to a closed port, far answering RST.
//     And from 62 LAN addresses nobody has (192.168.4.64/26): far's
//     SYN-ACKs to them made the router ARP for each, and the unanswered
//     requests took lwIP's ARP table and queue from the real hosts.
//     Another LAN host, 192.168.4.3, connects to far meanwhile.
//   - From the Internet: spoofed sources (203.0.113.64/26) flood a
//     forwarded port whose LAN server answers every SYN; far connects
//     through the forward and 192.168.4.3 connects out, both meanwhile.
// HOSTILE_SECONDS (default 4) is how long each flood runs at least; the
// connections go on for as long (at least 20), so `npm run hostile` runs it
// longer by setting it. The time-critical numbers are measured by
// host-tests/bench/flood-bench.mjs (docs/bench/flood.md); here only the
// generous bound is asserted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, sleep, FAR_HOST, FAR_ALT, LAN_HOST } from "../lib/bench.mjs";
import { echoClient, echoServer, tcpServer } from "../lib/tcp-peers.mjs";
import { startFlood, timeConnections, summarize, formatSummary, LAN_OTHER, LAN_FLOODER, LAN_SPOOFED, FLOODER_MAC, SPOOFED_NET } from "../lib/flood.mjs";

const SECONDS = Number(process.env.HOSTILE_SECONDS ?? 4);
const RATE = Number(process.env.HOSTILE_RATE ?? 1000);
/*
 * A connection's handshake and first line within 3 s: Linux retransmits an
 * unanswered SYN after 1 s and again 2 s later, so 3 s allows one SYN lost
 * to the flood (a full TAP queue, say) and not two. The bench measures a few
 * milliseconds at 1000 and 5000 frames/s with the plain build and the ASan
 * one alike; the old router failed every connection under the first flood
 * here (10 s each).
 */
const BOUND_MS = 3000;
// The flood fills the flow table for this long before the first connection.
const WARMUP_MS = 1500;
// Connections one after another, 0.2 s apart, for as long as the flood runs.
const CONNS = Math.max(20, Math.round(SECONDS / 0.2));
const GAP = 0.2;

let bench, wan, macs, echo;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	macs = await bench.macs();
	const added = await bench.exec("lan", ["ip", "addr", "add", `${LAN_OTHER}/24`, "dev", "rtr-lan"]);
	assert.equal(added.code, 0, added.stderr);
	await tcpServer(bench, "far", FAR_HOST, 7000);
	await tcpServer(bench, "far", FAR_ALT, 9000);
	await echoServer(bench, "far", FAR_HOST, 7007);
	// The connection that must live through every flood.
	echo = echoClient(bench, "lan", FAR_HOST, 7007, LAN_HOST);
	await echo.waitFor(/^connected \d+$/m, 10000);
	await echoLine("before");
});
after(async () => {
	await bench?.stop();
});

let lines = 0;
async function echoLine(text) {
	const want = new RegExp(`^echo ${text.toUpperCase()}$`, "m");
	echo.write(`${text}\n`);
	await echo.waitFor(want, 5000);
	lines++;
}

// SYNs NAPT has seen: each made a flow, or was refused (table full, host at its share).
function counters(out) {
	const created = /created (\d+) /.exec(out);
	const full = /table-full (\d+)/.exec(out);
	assert.ok(created && full, out);
	return Number(created[1]) + Number(full[1]) + Number(/host-share (\d+)/.exec(out)?.[1] ?? 0);
}

// Runs `measure` while the flood goes on, for SECONDS at least; checks that the flood reached the router.
async function during(options, measure) {
	const seen0 = counters(await bench.console.command("show nat"));
	const flood = await startFlood(bench, { ...options, rate: RATE, seconds: SECONDS + CONNS * (BOUND_MS / 1000 + GAP) + 10 });
	const started = Date.now();
	let result, sent;
	try {
		await sleep(WARMUP_MS);
		await echoLine(`during ${lines}`);
		result = await measure();
		const left = SECONDS * 1000 - (Date.now() - started);
		if (left > 0)
			await sleep(left);
	}
	finally {
		sent = await flood.finish();
	}
	assert.ok(sent, `the flooder printed no summary\n${flood.output()}`);
	// The sender kept its rate, and the frames reached NAPT.
	assert.ok(sent.rate >= RATE * 0.8, JSON.stringify(sent));
	const seen = counters(await bench.console.command("show nat")) - seen0;
	assert.ok(seen >= sent.sent * 0.5, `${seen} of ${sent.sent} flood SYNs reached NAPT`);
	await echoLine(`after ${lines}`);
	return result;
}

function assertWithin(conns, what) {
	const s = summarize(conns);
	const slow = conns.filter((c) => !c.ok || c.ms > BOUND_MS);
	assert.equal(slow.length, 0, `${what}: ${formatSummary(s)}; over ${BOUND_MS} ms or failed: ${JSON.stringify(slow)}`);
	assert.equal(conns.length, CONNS, what);
}

const connectOut = () => timeConnections(bench, "lan", FAR_HOST, 7000, { source: LAN_OTHER, count: CONNS, limit: BOUND_MS / 1000, gap: GAP, maxFailures: 3 });

test("a LAN host's SYN flood that nothing resets (far answering SYN-ACK): another host's new connections get through", async () => {
	const conns = await during({ ns: "lan", iface: "rtr-lan", dstMac: macs.lan, src: LAN_FLOODER, srcMac: FLOODER_MAC, arp: true, dst: FAR_ALT, dport: 9000 }, connectOut);
	assertWithin(conns, `${LAN_OTHER} -> far during a LAN flood at ${RATE}/s`);
});

test("a LAN host's SYN flood to a closed port (far answering RST): another host's new connections get through", async () => {
	const conns = await during({ ns: "lan", iface: "rtr-lan", dstMac: macs.lan, src: LAN_HOST, dst: FAR_ALT, dport: 9001 }, connectOut);
	assertWithin(conns, `${LAN_OTHER} -> far during a LAN flood at ${RATE}/s`);
});

test("a LAN SYN flood from 62 addresses nobody has (the router's ARP for them unanswered): another host's new connections get through", async () => {
	const conns = await during({ ns: "lan", iface: "rtr-lan", dstMac: macs.lan, src: LAN_SPOOFED, srcMac: FLOODER_MAC, dst: FAR_ALT, dport: 9000 }, connectOut);
	assertWithin(conns, `${LAN_OTHER} -> far during a spoofed LAN flood at ${RATE}/s`);
});

test("a spoofed SYN flood through a forward: far's connections through it and the LAN's out get through", async () => {
	const added = await bench.console.command("forward add tcp 8080 192.168.4.2:8080 flooded");
	assert.doesNotMatch(added, /^error/m, added);
	await tcpServer(bench, "lan", LAN_HOST, 8080);
	const [inward, out] = await during({ ns: "wan", iface: "rtr-wan", dstMac: macs.wan, src: SPOOFED_NET, dst: wan, dport: 8080 }, () => Promise.all([
		timeConnections(bench, "far", wan, 8080, { source: FAR_HOST, count: CONNS, limit: BOUND_MS / 1000, gap: GAP, maxFailures: 3 }),
		connectOut(),
	]));
	assertWithin(inward, `far -> forward during a WAN flood at ${RATE}/s`);
	assertWithin(out, `${LAN_OTHER} -> far during a WAN flood at ${RATE}/s`);
});
