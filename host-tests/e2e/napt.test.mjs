// NAPT end to end: the LAN host (192.168.4.2) reaches far (203.0.113.0/24,
// one hop behind the ISP) through the router, with real tools on both ends.
// Nothing routes 192.168.4.0/24 back from wan or far, so every answer that
// arrives came through the router's translation. Port forwards, the DMZ and
// hairpinning are set at the console and checked from far and from lan.
// Every wait is bounded; servers are stopped in `finally` and by bench.stop().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startBench, ping, sleep, ROUTER_LAN, LAN_HOST, ISP_GATEWAY, FAR_HOST, FAR_ALT, FAR_THIRD, accepted } from "../lib/bench.mjs";
import * as Peers from "../lib/tcp-peers.mjs";

let bench;
let wan; // the router's WAN address, from dnsmasq
let start; // show nat before any test
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	start = natStats(await router("show nat"));
});
after(async () => {
	await bench?.stop();
});

// A console command that must be accepted.
const router = (line) => accepted(bench, line);

function natStats(out) {
	const first = out.split("\n")[0];
	const head = /^nat: (\d+) flows in use of (\d+) \(tcp (\d+), udp (\d+), icmp (\d+)\), peak (\d+); filtering (address-dependent|endpoint-independent)$/.exec(first);
	const counts = /^\s*created (\d+) expired (\d+) evicted (\d+); translated out (\d+) in (\d+); hairpinned (\d+); icmp errors (\d+); passed (\d+)$/m.exec(out);
	assert.ok(head, `show nat, first line:\n${out}`);
	assert.ok(counts, `show nat, counters:\n${out}`);
	const n = (s) => Number(s);
	return {
		inUse: n(head[1]), capacity: n(head[2]), tcp: n(head[3]), udp: n(head[4]), icmp: n(head[5]), peak: n(head[6]), filtering: head[7],
		created: n(counts[1]), expired: n(counts[2]), evicted: n(counts[3]), out: n(counts[4]), in: n(counts[5]),
		hairpinned: n(counts[6]), icmpErrors: n(counts[7]), passed: n(counts[8]), text: out,
	};
}

// show interfaces' counters per port: { wan: { rxBytes, txBytes, txFrames }, lan: ... }.
function portCounters(out) {
	const ports = {};
	for (const role of ["wan", "lan"]) {
		const m = new RegExp(`^${role}:[\\s\\S]*?^ {2}rx (\\d+) frames (\\d+) bytes \\d+ dropped, \\d+ ipv4; tx (\\d+) frames (\\d+) bytes`, "m").exec(out);
		assert.ok(m, `show interfaces, ${role}:\n${out}`);
		ports[role] = { rxFrames: Number(m[1]), rxBytes: Number(m[2]), txFrames: Number(m[3]), txBytes: Number(m[4]) };
	}
	return ports;
}

// show nat's fast path line: on or off, and the packets it sent.
function fastpath(out) {
	const m = /^fastpath: (on|off); (\d+) packets$/m.exec(out);
	assert.ok(m, `show nat, fastpath line:\n${out}`);
	return { on: m[1] === "on", packets: Number(m[2]) };
}

const re = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// A UDP endpoint set: binds every host:port given, prints "ready", then
// "recv <local> <source> <text>" for each datagram; stdin lines
// "send <socket index> <host> <port> <text>" send from that socket.
const UDP_NODE = `
import os, select, socket, sys
socks = []
for ep in sys.argv[1:]:
    host, port = ep.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    socks.append(s)
print("ready", flush=True)
pending = b""
while True:
    ready, _, _ = select.select(socks + [0], [], [])
    for r in ready:
        if r == 0:
            chunk = os.read(0, 4096)
            if not chunk:
                sys.exit(0)
            pending += chunk
            while b"\\n" in pending:
                line, pending = pending.split(b"\\n", 1)
                _, i, host, port, text = line.decode().split()
                socks[int(i)].sendto(text.encode(), (host, int(port)))
                print("sent", i, host, port, text, flush=True)
        else:
            data, (h, p) = r.recvfrom(65535)
            l = r.getsockname()
            print(f"recv {l[0]}:{l[1]} {h}:{p} {data.decode(errors='replace')}", flush=True)
`;

async function udpNode(ns, endpoints) {
	const node = bench.track(ns, ["python3", "-u", "-c", UDP_NODE, ...endpoints]);
	await node.waitFor(/^ready$/m, 5000);
	node.send = (index, host, port, text) => node.write(`send ${index} ${host} ${port} ${text}\n`);
	// The source ("host:port") a datagram with `text` came from, at `local`.
	node.received = async (text, ms = 3000) => {
		const match = await node.waitFor(new RegExp(`^recv (\\S+) (\\S+):(\\d+) ${re(text)}$`, "m"), ms);
		return { local: match[1], host: match[2], port: Number(match[3]) };
	};
	node.has = (text) => new RegExp(`^recv \\S+ \\S+ ${re(text)}$`, "m").test(node.stdout);
	return node;
}

function tcpServer(ns, host, port) {
	return Peers.tcpServer(bench, ns, host, port);
}

function tcpConnect(ns, host, port, options) {
	return Peers.tcpConnect(bench, ns, host, port, options);
}

test("bench: far has no route back to the LAN, only translation brings answers", async () => {
	const result = await bench.exec("far", ["ping", "-c", "1", "-W", "1", LAN_HOST], { timeout: 10000 });
	assert.notEqual(result.code, 0, `far reached ${LAN_HOST} without the router:\n${result.stdout}`);
	const route = await bench.exec("wan", ["ip", "route", "get", LAN_HOST], { timeout: 5000 });
	assert.notEqual(route.code, 0, `wan has a route to ${LAN_HOST}: ${route.stdout}`);
});

test("ping from lan to far is answered, through an ICMP flow", async () => {
	const result = await ping(bench, "lan", FAR_HOST, 3);
	assert.ok(result.ok, result.output);
	const stats = natStats(await router("show nat"));
	assert.ok(stats.icmp >= 1, `an icmp flow is in use:\n${stats.text}`);
	assert.ok(stats.out - start.out >= 3 && stats.in - start.in >= 3, `translated out/in grew by 3:\n${start.text}\n---\n${stats.text}`);
	const flows = await router("show nat flows");
	assert.match(flows, new RegExp(`^icmp ${re(LAN_HOST)}:\\d+ -> ${re(FAR_HOST)}:\\d+ via :\\d+ idle \\d+s expires \\d+s`, "m"));
});

// python3 -m http.server, less its server_bind's getfqdn(): a reverse DNS
// lookup that cannot be answered inside the namespaces and stalls start-up.
const HTTP_SERVER = `
import functools, http.server, socketserver, sys
class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])
Server((sys.argv[1], int(sys.argv[2])), handler).serve_forever()
`;

test("fragments both ways: a 4000-byte ping (DF clear) is reassembled, translated and fragmented again", async () => {
	// Linux in lan fragments the request; far fragments the reply. Each
	// direction crosses the router as three fragments and leaves as three.
	const result = await bench.exec("lan", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "-s", "4000", "-M", "dont", FAR_HOST], { timeout: 20000 });
	assert.equal(result.code, 0, result.stdout + result.stderr);
	assert.match(result.stdout, /3 received/);
	assert.match(result.stdout, /4008 bytes from 203\.0\.113\.10/);
});

test("curl in lan fetches 1 MB from an HTTP server in far, which sees the WAN address", async () => {
	const www = path.join(bench.dir, "www");
	fs.mkdirSync(www);
	const blob = crypto.randomBytes(1 << 20);
	fs.writeFileSync(path.join(www, "blob"), blob);
	const got = path.join(bench.dir, "got");
	const fastBefore = fastpath(await router("show nat"));
	const portsBefore = portCounters(await router("show interfaces"));
	const server = await bench.serve("far", ["python3", "-u", "-c", HTTP_SERVER, FAR_HOST, "8000", www], { proto: "tcp", address: FAR_HOST, port: 8000 });
	try {
		const result = await bench.exec("lan", ["curl", "-sS", "--fail", "--connect-timeout", "5", "--max-time", "30", "-o", got, `http://${FAR_HOST}:8000/blob`], { timeout: 40000 });
		assert.equal(result.code, 0, `curl: ${result.stderr}\n${server.output()}`);
		const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");
		assert.equal(sha(fs.readFileSync(got)), sha(blob), "the bytes that arrived are the bytes served");
		const log = await server.waitFor(/^(\S+) - - \[[^\]]*\] "GET \/blob HTTP\/1\.1" 200/m, 3000, { stream: "stderr" });
		assert.equal(log[1], wan, `the server saw the router's WAN address:\n${server.stderr}`);
		assert.doesNotMatch(server.stderr, /192\.168\./, "no LAN address reached far");
		// FASTPATH=off (run-all.sh's second run): lwIP forwarded all of it; else the fast path most of it.
		const fastAfter = fastpath(await router("show nat"));
		// The ports' counters see every frame, whichever path sent it: 1 MiB left by the LAN port.
		const portsAfter = portCounters(await router("show interfaces"));
		assert.ok(portsAfter.lan.txBytes - portsBefore.lan.txBytes > blob.length, `lan tx bytes ${portsBefore.lan.txBytes} -> ${portsAfter.lan.txBytes}`);
		assert.ok(portsAfter.wan.rxBytes - portsBefore.wan.rxBytes > blob.length, `wan rx bytes ${portsBefore.wan.rxBytes} -> ${portsAfter.wan.rxBytes}`);
		assert.ok(portsAfter.lan.txFrames - portsBefore.lan.txFrames >= blob.length / 1500, "lan tx frames");
		if (process.env.FASTPATH === "off")
			assert.deepEqual([fastAfter.on, fastAfter.packets], [false, fastBefore.packets], "fast path off: it sent nothing");
		else
			assert.ok(fastAfter.on && fastAfter.packets - fastBefore.packets > 500, `the fast path carried the transfer: ${fastBefore.packets} -> ${fastAfter.packets}`);
	}
	finally {
		await server.stop();
	}
});

test("iperf3 TCP and UDP from lan to far", async () => {
	const server = await bench.serve("far", ["iperf3", "-s", "-B", FAR_HOST, "-p", "5201"], { proto: "tcp", address: FAR_HOST, port: 5201 });
	try {
		const client = async (extra) => {
			const result = await bench.exec("lan", ["iperf3", "-c", FAR_HOST, "-p", "5201", "-t", "2", "-J", "--connect-timeout", "3000", ...extra], { timeout: 30000 });
			let json;
			try {
				json = JSON.parse(result.stdout);
			}
			catch {
				assert.fail(`iperf3 ${extra.join(" ")} printed no JSON (${result.code}):\n${result.stdout}\n${result.stderr}`);
			}
			assert.equal(result.code, 0, `iperf3 ${extra.join(" ")}: ${json.error ?? result.stderr}`);
			return json;
		};
		const tcp = await client([]);
		assert.ok(tcp.end.sum_received.bytes > 0, `TCP bytes received: ${JSON.stringify(tcp.end.sum_received)}`);
		const udp = await client(["-u", "-b", "10M", "-l", "1200"]);
		const sum = udp.end.sum;
		assert.ok(sum.packets > 0 && udp.end.sum_received.bytes > 0, `UDP received: ${JSON.stringify(udp.end)}`);
		assert.ok(sum.lost_percent < 20, `UDP lost ${sum.lost_packets} of ${sum.packets} (${sum.lost_percent}%)`);
		// The server's control and data connections came from the WAN address.
		assert.match(server.stdout, new RegExp(`Accepted connection from ${re(wan)}, port`), server.output());
		assert.doesNotMatch(server.stdout, /192\.168\./, server.output());
	}
	finally {
		await server.stop();
	}
});

function hops(output) {
	const list = [];
	for (const line of output.split("\n")) {
		const match = /^\s*(\d+)\s+(\S+)/.exec(line);
		if (match)
			list[Number(match[1])] = match[2];
	}
	return list;
}

test("traceroute from lan: the router, the ISP's time-exceeded, then far (UDP and ICMP probes)", async () => {
	const before = natStats(await router("show nat"));
	for (const extra of [[], ["-I"]]) {
		const result = await bench.exec("lan", ["traceroute", ...extra, "-n", "-q", "1", "-w", "2", "-m", "5", FAR_HOST], { timeout: 30000 });
		const list = hops(result.stdout);
		const what = `traceroute ${extra.join(" ")} (${result.code}):\n${result.stdout}\n${result.stderr}`;
		assert.equal(list[1], ROUTER_LAN, what);
		// wan's Linux sends time-exceeded to the WAN address; NAPT turns it
		// back to the LAN host, the quoted probe included.
		assert.equal(list[2], ISP_GATEWAY, what);
		assert.equal(list[3], FAR_HOST, what);
		assert.equal(list.length, 4, `no hops after far: ${what}`);
	}
	const after = natStats(await router("show nat"));
	// ISP time-exceeded for UDP and ICMP, far's port unreachable for UDP.
	assert.ok(after.icmpErrors - before.icmpErrors >= 3, `icmp errors translated:\n${before.text}\n---\n${after.text}`);
});

test("UDP: endpoint-independent mapping, address-dependent filtering, then endpoint-independent filtering", async () => {
	const lan = await udpNode("lan", [`${LAN_HOST}:40000`]);
	const far = await udpNode("far", [`${FAR_HOST}:5001`, `${FAR_ALT}:5002`, `${FAR_HOST}:5003`, `${FAR_THIRD}:5004`]);
	try {
		assert.equal(natStats(await router("show nat")).filtering, "address-dependent", "the default");
		lan.send(0, FAR_HOST, 5001, "to-one");
		const one = await far.received("to-one");
		lan.send(0, FAR_ALT, 5002, "to-two");
		const two = await far.received("to-two");
		assert.equal(one.host, wan, far.output());
		assert.equal(two.host, wan, far.output());
		assert.equal(two.port, one.port, `one external port for ${LAN_HOST}:40000 whatever the destination:\n${far.output()}`);
		const port = one.port;

		// Answers come back to the socket, from the address it sent to.
		far.send(0, wan, port, "reply-one");
		assert.equal((await lan.received("reply-one")).host, FAR_HOST);
		far.send(1, wan, port, "reply-two");
		assert.equal((await lan.received("reply-two")).host, FAR_ALT);

		const flows = await router("show nat flows");
		for (const [host, p] of [[FAR_HOST, 5001], [FAR_ALT, 5002]])
			assert.match(flows, new RegExp(`^udp ${re(LAN_HOST)}:40000 -> ${re(host)}:${p} via :${port} idle \\d+s expires \\d+s`, "m"), flows);

		// Address-dependent: a host the socket never sent to is filtered; the
		// same host from another port is not. The second datagram, sent after
		// the first, shows the path is open when the first is not seen.
		far.send(3, wan, port, "from-third");
		far.send(2, wan, port, "other-port");
		const other = await lan.received("other-port");
		assert.deepEqual([other.host, other.port], [FAR_HOST, 5003]);
		await sleep(500);
		assert.ok(!lan.has("from-third"), `${FAR_THIRD} got through address-dependent filtering:\n${lan.output()}`);

		const set = await router("set nat filtering eif");
		assert.equal(natStats(await router("show nat")).filtering, "endpoint-independent", set);
		far.send(3, wan, port, "third-eif");
		const third = await lan.received("third-eif");
		assert.deepEqual([third.host, third.port], [FAR_THIRD, 5004]);
	}
	finally {
		await bench.console.command("set nat filtering adf");
		await lan.stop();
		await far.stop();
	}
});

test("TCP port forward: far reaches a LAN server through the WAN address; gone after forward del", async () => {
	const server = await tcpServer("lan", LAN_HOST, 80);
	try {
		await router("forward add tcp 8080 192.168.4.2:80 web");
		const result = await tcpConnect("far", wan, 8080, { source: FAR_HOST });
		assert.ok(result.ok, `${result.text}\n${server.output()}`);
		assert.match(result.text, new RegExp(`^hello from ${re(LAN_HOST)}:80 to ${re(FAR_HOST)}:\\d+$`, "m"), "the LAN server saw far's own address");
		await router("forward del tcp 8080");
		const peers = server.stdout;
		const gone = await tcpConnect("far", wan, 8080, { source: FAR_THIRD, seconds: 3 });
		assert.ok(!gone.ok, `connected after forward del: ${gone.text}`);
		assert.equal(server.stdout, peers, "no further connection reached the LAN server");
	}
	finally {
		await bench.console.command("forward del tcp 8080");
		await server.stop();
	}
});

test("UDP port forward range: external 6001 reaches 192.168.4.2:7001, answers leave from 6001", async () => {
	const lan = await udpNode("lan", [`${LAN_HOST}:7000`, `${LAN_HOST}:7001`]);
	const far = await udpNode("far", [`${FAR_HOST}:5005`, `${FAR_THIRD}:5006`]);
	try {
		await router("forward add udp 6000-6001 192.168.4.2:7000");
		far.send(0, wan, 6001, "to-6001");
		const got = await lan.received("to-6001");
		assert.deepEqual([got.local, got.host, got.port], [`${LAN_HOST}:7001`, FAR_HOST, 5005]);
		far.send(0, wan, 6000, "to-6000");
		assert.equal((await lan.received("to-6000")).local, `${LAN_HOST}:7000`);
		lan.send(1, FAR_HOST, 5005, "from-7001");
		const back = await far.received("from-7001");
		assert.deepEqual([back.host, back.port], [wan, 6001], far.output());
		await router("forward del udp 6000");
		far.send(1, wan, 6001, "after-del");
		await sleep(1000);
		assert.ok(!lan.has("after-del"), `reached the LAN after forward del:\n${lan.output()}`);
	}
	finally {
		await bench.console.command("forward del udp 6000");
		await lan.stop();
		await far.stop();
	}
});

test("DMZ: unsolicited TCP from far reaches the DMZ host; not after dmz off", async () => {
	const server = await tcpServer("lan", LAN_HOST, 9000);
	// A port no flow has used: after dmz off nothing but the DMZ could
	// take a connection there.
	const fresh = await tcpServer("lan", LAN_HOST, 9001);
	try {
		await router(`dmz ${LAN_HOST}`);
		const result = await tcpConnect("far", wan, 9000, { source: FAR_HOST });
		assert.ok(result.ok, `${result.text}\n${server.output()}`);
		assert.match(result.text, new RegExp(`^hello from ${re(LAN_HOST)}:9000 to ${re(FAR_HOST)}:\\d+$`, "m"));
		await router("dmz off");
		const gone = await tcpConnect("far", wan, 9001, { source: FAR_HOST, seconds: 3 });
		assert.ok(!gone.ok, `connected after dmz off: ${gone.text}`);
		assert.equal(fresh.stdout, "", "no connection reached the LAN server");
	}
	finally {
		await bench.console.command("dmz off");
		await server.stop();
		await fresh.stop();
	}
});

test("hairpin: lan reaches its own forward at the WAN address and is seen as the WAN address", async () => {
	const server = await tcpServer("lan", LAN_HOST, 80);
	const before = natStats(await router("show nat"));
	try {
		await router("forward add tcp 8080 192.168.4.2:80 web");
		const result = await tcpConnect("lan", wan, 8080, { source: LAN_HOST });
		assert.ok(result.ok, `${result.text}\n${server.output()}`);
		// RFC 4787 REQ-9: the inside peer sees the external source.
		const peer = /^hello from \S+ to (\S+):(\d+)$/m.exec(result.text);
		assert.ok(peer, result.text);
		assert.equal(peer[1], wan, `the LAN server saw ${peer[1]}:\n${server.output()}`);
		const after = natStats(await router("show nat"));
		assert.ok(after.hairpinned > before.hairpinned, `hairpinned grew:\n${before.text}\n---\n${after.text}`);
	}
	finally {
		await bench.console.command("forward del tcp 8080");
		await server.stop();
	}
});

test("show nat reflects the traffic of this file", async () => {
	const stats = natStats(await router("show nat"));
	assert.ok(stats.inUse > 0 && stats.inUse <= stats.capacity, stats.text);
	assert.equal(stats.inUse, stats.tcp + stats.udp + stats.icmp, stats.text);
	assert.ok(stats.peak >= stats.inUse, stats.text);
	assert.ok(stats.created > start.created, stats.text);
	assert.ok(stats.out > start.out + 100 && stats.in > start.in + 100, `translated out/in:\n${start.text}\n---\n${stats.text}`);
	assert.equal(stats.filtering, "address-dependent", "set back after the filtering test");
});

test("set nat fastpath: show nat and show config follow it; a wrong word is refused", async () => {
	const initial = fastpath(await router("show nat")).on;
	try {
		assert.match(await router("set nat fastpath off"), /fastpath off/);
		assert.equal(fastpath(await router("show nat")).on, false);
		assert.match(await router("show config"), /^set nat fastpath off$/m);
		assert.match(await router("set nat fastpath on"), /fastpath on/);
		assert.equal(fastpath(await router("show nat")).on, true);
		assert.doesNotMatch(await router("show config"), /fastpath/, "on is the default: not written");
		assert.match(await bench.console.command("set nat fastpath maybe"), /^error:.*neither on nor off/m);
		assert.equal(fastpath(await router("show nat")).on, true, "unchanged by the refused word");
	}
	finally {
		await bench.console.command(`set nat fastpath ${initial ? "on" : "off"}`);
	}
});
