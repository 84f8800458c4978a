// Unsolicited UDP sprayed at UDP mappings (issue 15 item 10): one Internet
// sender spoofing many source addresses and ports at the router's external
// port of a static forward (7100), a UPnP mapping (7200) and a mapping the
// LAN host made by sending out (7300, admitting far under the default
// address-dependent filtering), 1000 datagrams each. Each mapping keeps at
// most 16 flows no LAN host has answered: the oldest is reused for the next
// sender (counted as unanswered-reused), so the spray makes at most 16 flows
// per mapping instead of one per datagram, leaves the LAN host's other
// flows alone (an unanswered one of its own stays), and every answered flow
// (far's own client, echoed by the LAN host) stays and still works.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startBench, FAR_HOST, LAN_HOST, TOP, accepted } from "../lib/bench.mjs";
import { upnpc } from "../lib/upnp.mjs";

const RAW = path.join(TOP, "host-tests/lib/udp-raw.py");
const BOUND = 16;
const SPRAY = 1000;
const PORTS = [7100, 7200, 7300];

let bench, wan;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

const router = (line) => accepted(bench, line);

function counters(out) {
	const c = /created (\d+) expired (\d+) evicted (\d+);.* translated out (\d+) in (\d+);/.exec(out);
	const r = /unanswered-reused (\d+)/.exec(out);
	return { created: Number(c[1]), evicted: Number(c[3]), translatedIn: Number(c[5]), reused: r ? Number(r[1]) : 0 };
}

// The LAN host: a server on each port that echoes far's client (port 5555)
// and ignores everyone else; 7300 and 7400 first send to far's discard port,
// making the mapping 7300 and an unanswered flow of its own (7400).
const LAN_SIDE = `
import select, socket
socks = []
for port in (7100, 7200, 7300, 7400):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("${LAN_HOST}", port))
    socks.append(s)
socks[2].sendto(b"out", ("${FAR_HOST}", 9))
socks[3].sendto(b"out", ("${FAR_HOST}", 9))
print("ready", flush=True)
while True:
    for s in select.select(socks, [], [], 1)[0]:
        data, peer = s.recvfrom(2048)
        if peer == ("${FAR_HOST}", 5555):
            s.sendto(b"echo " + data, peer)
`;

// far's own client: one datagram from port 5555 to each port, an answer awaited (3 s each).
const FAR_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${FAR_HOST}", 5555))
s.settimeout(3)
for port in sys.argv[2:]:
    s.sendto(b"hello", (sys.argv[1], int(port)))
    try:
        data, peer = s.recvfrom(2048)
        print("answer", port, data.decode(), flush=True)
    except socket.timeout:
        print("none", port, flush=True)
`;

async function farClient() {
	const r = await bench.exec("far", ["python3", "-c", FAR_CLIENT, wan, ...PORTS.map(String)], { timeout: 20000 });
	assert.equal(r.code, 0, r.stderr);
	return r.stdout;
}

test("a UDP spray at a mapping makes at most 16 unanswered flows; answered flows and the host's own stay", async () => {
	await router("forward add udp 7100 192.168.4.2:7100 spray");
	const added = await upnpc(bench, ["-e", "spray", "-a", LAN_HOST, "7200", "7200", "UDP", "3600"]);
	assert.equal(added.code, 0, added.text);
	const lan = bench.track("lan", ["python3", "-u", "-c", LAN_SIDE]);
	try {
		await lan.waitFor(/^ready$/m, 5000);
		const answers = await farClient();
		for (const port of PORTS)
			assert.match(answers, new RegExp(`^answer ${port} echo hello$`, "m"), answers);
		const flows0 = await router("show nat flows 10000");
		assert.match(flows0, new RegExp(`^udp ${LAN_HOST}:7300 -> ${FAR_HOST}:9 via :7300 `, "m"), flows0);

		const before = counters(await router("show nat"));
		for (const port of PORTS) {
			// The forward and the UPnP mapping from 100 spoofed addresses; the
			// filtered mapping from far's own address (the one it admits).
			const [first, last] = port === 7300 ? [10, 10] : [100, 199];
			const r = await bench.exec("far", ["python3", RAW, "spray", wan, String(port), String(SPRAY), String(first), String(last), "20000"], { timeout: 60000 });
			assert.equal(r.code, 0, r.stderr);
		}
		const stats = await router("show nat");
		const after = counters(stats);
		const flows = await router("show nat flows 10000");
		const created = after.created - before.created;
		const reused = after.reused - before.reused;
		const arrived = after.translatedIn - before.translatedIn;
		const perPort = PORTS.map((port) => flows.split("\n").filter((l) => l.includes(` via :${port} `) && !l.includes(`:${port} -> ${FAR_HOST}:9 `)).length);
		const figures = `${3 * SPRAY} spoofed datagrams, ${arrived} translated in: ${created} flows created, ${reused} unanswered-reused, ${after.evicted - before.evicted} evicted; flows per mapping ${perPort.join(" ")}`;
		console.log(figures);
		assert.ok(arrived >= 0.9 * 3 * SPRAY, `${figures}\n${stats}`);
		// At most BOUND unanswered flows per mapping (and far's answered one).
		for (const n of perPort)
			assert.ok(n <= BOUND + 1, `${figures}\n${flows}`);
		assert.ok(created <= PORTS.length * BOUND, `${figures}\n${stats}`);
		assert.ok(reused >= arrived - PORTS.length * BOUND, `${figures}\n${stats}`);
		assert.equal(after.evicted, before.evicted, `the spray evicted other flows: ${figures}`);
		assert.match(stats, new RegExp(`^udp: at most ${BOUND} unanswered inbound flows per mapping; unanswered-reused \\d+$`, "m"), stats);

		// Far's answered flows are still there and still work; so is the host's own unanswered flow.
		for (const port of PORTS)
			assert.match(flows, new RegExp(`^udp ${LAN_HOST}:${port} -> ${FAR_HOST}:5555 via :${port} .* replied`, "m"), flows);
		assert.match(flows, new RegExp(`^udp ${LAN_HOST}:7400 -> ${FAR_HOST}:9 via :7400 `, "m"), flows);
		const again = await farClient();
		for (const port of PORTS)
			assert.match(again, new RegExp(`^answer ${port} echo hello$`, "m"), again);
	}
	finally {
		await lan.stop();
	}
});
