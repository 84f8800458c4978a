// The LAN DNS forwarder with real peers: dig in lan asks the router
// (192.168.4.1); upstream are the ISP's dnsmasq (its address from the WAN's
// DHCP lease) and two dnsmasq servers of our own in far (203.0.113.10 and
// .11, logging every query they get), plus 203.0.113.12 where nothing
// answers on port 53. Malformed queries go from python in lan.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startBench, TOP, ROUTER_LAN, FAR_HOST, FAR_ALT, FAR_THIRD, sleep } from "../lib/bench.mjs";

const STATIC_WAN = "198.51.100.2";
const SERVER_A = FAR_HOST;    // 203.0.113.10
const SERVER_B = FAR_ALT;     // 203.0.113.11
const DEAD = FAR_THIRD;       // 203.0.113.12: an address, but no DNS server
const SERVER_PY = "203.0.113.13";  // host-tests/lib/dns-upstream.py: crafted answers
// Four strings of 200 bytes: over 512 bytes, so dnsmasq truncates it over UDP without EDNS.
const TXT_STRINGS = ["a", "b", "c", "d"].map((c) => c.repeat(200));

let bench;
const servers = {};

// A dnsmasq in far on one address, with the names the tests ask for; its
// log (stderr) records every query.
async function startServer(address) {
	return bench.serve("far", [
		"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		`--listen-address=${address}`, "--bind-interfaces", "--except-interface=lo",
		`--pid-file=${bench.dir}/dnsmasq-${address}.pid`, "--log-queries", "--log-facility=-",
		"--local=/example.test/", "--local-ttl=300",
		"--host-record=www.example.test,203.0.113.80,300",
		"--host-record=short.example.test,203.0.113.81,3",
		"--host-record=second.example.test,203.0.113.82,300",
		"--host-record=again.example.test,203.0.113.83,300",
		`--txt-record=big.example.test,${TXT_STRINGS.join(",")}`,
	], { proto: "udp", address, port: 53 });
}

// How many queries for `name` (of `type`) a server has logged.
function asked(server, name, type = "A") {
	const re = new RegExp(`query\\[${type}\\] ${name.replace(/\./g, "\\.")} from `, "g");
	return (server.stderr.match(re) ?? []).length;
}

// How many queries for `name` the test server has printed.
function asks(server, name) {
	return server.stdout.split("\n").filter((line) => line === `query ${name}`).length;
}

// dig in a namespace; its answer parsed: status, flags, answer records, how long it took.
async function dig(args, { ns = "lan", server = ROUTER_LAN } = {}) {
	const started = Date.now();
	const r = await bench.exec(ns, ["dig", `@${server}`, "+tries=1", "+time=3", ...args], { timeout: 30000 });
	const text = r.stdout + r.stderr;
	const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(text);
	const answers = section ? section[1].split("\n").map((line) => {
		const f = line.split(/\s+/);
		return { name: f[0], ttl: Number(f[1]), type: f[3], data: f.slice(4).join(" ") };
	}) : [];
	return {
		status: /status: (\w+)/.exec(text)?.[1],
		flags: (/;; flags: ([a-z ]*);/.exec(text)?.[1] ?? "").split(" ").filter(Boolean),
		answers,
		timedOut: /connection timed out|no servers could be reached|communications error/.test(text),
		ms: Date.now() - started,
		text,
	};
}

// show dns, its counters as numbers.
async function dnsState() {
	const text = await bench.console.command("show dns");
	const counters = {};
	const line = /^counters: (.*)$/m.exec(text)?.[1] ?? "";
	for (const m of line.matchAll(/([a-z ]+?) (\d+)(?: \(tcp (\d+)\))?(?:, |$)/g)) {
		counters[m[1].trim()] = Number(m[2]);
		if (m[3] !== undefined)
			counters.tcp = Number(m[3]);
	}
	const cache = /^cache: (\d+) of (\d+) entries/m.exec(text);
	return { text, counters, cacheEntries: cache ? Number(cache[1]) : -1, upstream: /^upstream: (.*)$/m.exec(text)?.[1] ?? "" };
}

async function setWanDns(...dns) {
	const out = await bench.console.command(`set wan static ${STATIC_WAN}/24 198.51.100.1 ${dns.join(" ")}`);
	assert.doesNotMatch(out, /error:/, out);
	await bench.console.command("dns flush");
}

// Raw DNS messages from lan (python): each sent alone over UDP, or over TCP
// with its length; what came back (hex), or "none" within the wait.
const RAW = `
import socket, sys, time
proto, hexes = sys.argv[1], sys.argv[2:]
for h in hexes:
    data = bytes.fromhex(h)
    if proto not in ("udp", "tcp"):
        break
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        s.sendto(data, ("${ROUTER_LAN}", 53))
        try:
            print(s.recv(4096).hex())
        except socket.timeout:
            print("none")
    else:
        s = socket.create_connection(("${ROUTER_LAN}", 53), timeout=2.0)
        s.sendall(len(data).to_bytes(2, "big") + data)
        try:
            got = s.recv(4096)
            print(got[2:].hex() if got else "closed")
        except (socket.timeout, ConnectionResetError):
            print("none")
    s.close()
if proto == "flood":
    # every message from one socket, 2 ms apart; then "<id> <rcode>" for each answer within 8 s
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for h in hexes:
        s.sendto(bytes.fromhex(h), ("${ROUTER_LAN}", 53))
        time.sleep(0.002)
    s.settimeout(8.0)
    for _ in hexes:
        try:
            got = s.recv(4096)
        except socket.timeout:
            break
        print(int.from_bytes(got[0:2], "big"), got[3] & 15)
if proto == "pipeline":
    # every message on one connection in one write; the answers' ids as they come
    s = socket.create_connection(("${ROUTER_LAN}", 53), timeout=4.0)
    s.sendall(b"".join(len(bytes.fromhex(h)).to_bytes(2, "big") + bytes.fromhex(h) for h in hexes))
    data = b""
    while len(hexes):
        while len(data) >= 2 and len(data) >= 2 + int.from_bytes(data[0:2], "big"):
            n = int.from_bytes(data[0:2], "big")
            print(int.from_bytes(data[2:4], "big"), data[5] & 15)
            data = data[2 + n:]
            hexes = hexes[1:]
        if not hexes:
            break
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
`;

async function raw(proto, messages) {
	const r = await bench.exec("lan", ["python3", "-c", RAW, proto, ...messages.map((m) => Buffer.from(m).toString("hex"))], { timeout: 30000 });
	assert.equal(r.code, 0, r.stderr);
	return r.stdout.trim().split("\n").filter(Boolean);
}

// A header: id, flags, counts.
function header(id, flags, qd, an = 0, ns = 0, ar = 0) {
	const b = Buffer.alloc(12);
	b.writeUInt16BE(id, 0);
	b.writeUInt16BE(flags, 2);
	b.writeUInt16BE(qd, 4);
	b.writeUInt16BE(an, 6);
	b.writeUInt16BE(ns, 8);
	b.writeUInt16BE(ar, 10);
	return b;
}
function name(text) {
	return Buffer.concat([...text.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
}
const A_IN = Buffer.from([0, 1, 0, 1]);
function query(id, text, flags = 0x0100) {
	return Buffer.concat([header(id, flags, 1), name(text), A_IN]);
}

before(async () => {
	bench = await startBench();
	await bench.wanAddress(30000);
	servers.a = await startServer(SERVER_A);
	servers.b = await startServer(SERVER_B);
	const added = await bench.exec("far", ["ip", "addr", "add", `${SERVER_PY}/24`, "dev", "far-wan"]);
	assert.equal(added.code, 0, added.stderr);
	servers.py = await bench.serve("far", ["python3", path.join(TOP, "host-tests/lib/dns-upstream.py"), SERVER_PY], { proto: "udp", address: SERVER_PY, port: 53 });
});
after(async () => {
	await servers.a?.stop();
	await servers.b?.stop();
	await servers.py?.stop();
	await bench?.stop();
});

test("a name resolves through the router, over UDP and TCP, from the DNS server the WAN's DHCP lease named", async () => {
	const state = await dnsState();
	assert.match(state.text, /^dns: on, listening on 192\.168\.4\.1:53 \(udp, tcp\)$/m, state.text);
	assert.match(state.upstream, /^198\.51\.100\.1 \(from the WAN's DHCP lease\)$/, state.text);
	const udp = await dig(["isp.example"]);
	assert.equal(udp.status, "NOERROR", udp.text);
	assert.deepEqual(udp.answers.map((a) => a.data), ["198.51.100.53"], udp.text);
	assert.ok(udp.flags.includes("ra") && udp.flags.includes("qr"), udp.text);
	const tcp = await dig(["+tcp", "isp.example"]);
	assert.equal(tcp.status, "NOERROR", tcp.text);
	assert.deepEqual(tcp.answers.map((a) => a.data), ["198.51.100.53"], tcp.text);
	const after = await dnsState();
	assert.equal(after.counters.queries - state.counters.queries, 2, after.text);
	assert.equal(after.counters.tcp - state.counters.tcp, 1, after.text);
});

test("a second query is answered from the cache, its TTL counted down", async () => {
	await setWanDns(SERVER_A);
	const before = await dnsState();
	assert.match(before.upstream, /^203\.0\.113\.10 \(static\)$/, before.text);
	const first = await dig(["www.example.test"]);
	assert.equal(first.status, "NOERROR", first.text);
	assert.deepEqual(first.answers.map((a) => [a.data, a.ttl]), [["203.0.113.80", 300]], first.text);
	await sleep(1100);
	// Other letter case, same question: the client gets its own spelling back.
	const second = await dig(["WWW.Example.TEST"]);
	assert.equal(second.status, "NOERROR", second.text);
	assert.equal(second.answers.length, 1, second.text);
	assert.equal(second.answers[0].name, "WWW.Example.TEST.", second.text);
	assert.equal(second.answers[0].data, "203.0.113.80", second.text);
	assert.ok(second.answers[0].ttl < 300 && second.answers[0].ttl >= 295, `TTL counted down: ${second.text}`);
	const viaTcp = await dig(["+tcp", "www.example.test"]);
	assert.equal(viaTcp.answers[0]?.data, "203.0.113.80", viaTcp.text);
	assert.equal(asked(servers.a, "www.example.test"), 1, servers.a.stderr);
	const after = await dnsState();
	assert.equal(after.counters["cache hits"] - before.counters["cache hits"], 2, after.text);
	assert.equal(after.counters.forwarded - before.counters.forwarded, 1, after.text);
	assert.ok(after.cacheEntries >= 1, after.text);
});

test("a short TTL is honoured: after it runs out the name is asked upstream again", async () => {
	const first = await dig(["short.example.test"]);
	assert.equal(first.answers[0]?.data, "203.0.113.81", first.text);
	assert.equal(first.answers[0].ttl, 3, first.text);
	const cached = await dig(["short.example.test"]);
	assert.equal(cached.answers[0]?.data, "203.0.113.81", cached.text);
	assert.equal(asked(servers.a, "short.example.test"), 1, servers.a.stderr);
	await sleep(3300);
	const again = await dig(["short.example.test"]);
	assert.equal(again.answers[0]?.data, "203.0.113.81", again.text);
	assert.equal(again.answers[0].ttl, 3, again.text);
	assert.equal(asked(servers.a, "short.example.test"), 2, servers.a.stderr);
});

test("NXDOMAIN: relayed; kept for its SOA's minimum, and not at all without an SOA", async () => {
	// dnsmasq's own NXDOMAIN for a --local domain carries no SOA: nothing says how long to keep it.
	for (let i = 0; i < 2; i++) {
		const r = await dig(["nothing.example.test"]);
		assert.equal(r.status, "NXDOMAIN", r.text);
	}
	assert.equal(asked(servers.a, "nothing.example.test"), 2, servers.a.stderr);
	// The test server's carries one with MINIMUM 2: kept 2 s.
	await setWanDns(SERVER_PY);
	const first = await dig(["neg.example.test"]);
	assert.equal(first.status, "NXDOMAIN", first.text);
	const cached = await dig(["neg.example.test"]);
	assert.equal(cached.status, "NXDOMAIN", cached.text);
	assert.match(cached.text, /AUTHORITY: 1/, cached.text);
	assert.equal(asks(servers.py, "neg.example.test"), 1, servers.py.stdout);
	await sleep(2300);
	const again = await dig(["neg.example.test"]);
	assert.equal(again.status, "NXDOMAIN", again.text);
	assert.equal(asks(servers.py, "neg.example.test"), 2, servers.py.stdout);
});

test("upstream answers that do not match (id, question, source port) or are malformed are ignored", async () => {
	const before = await dnsState();
	const r = await dig(["spoof.example.test"]);
	assert.equal(r.status, "NOERROR", r.text);
	assert.deepEqual(r.answers.map((a) => a.data), ["203.0.113.90"], r.text);
	const after = await dnsState();
	assert.equal(after.counters.ignored - before.counters.ignored, 5, after.text);
	assert.equal(after.counters.timeouts - before.counters.timeouts, 0, after.text);
	await setWanDns(SERVER_A);
});

test("a truncated UDP answer is asked again over TCP and arrives whole", async () => {
	const before = await dnsState();
	// No EDNS: dnsmasq truncates at 512 bytes; the router fetches it over TCP and, the client
	// having said 512 too, answers TC, and dig asks again over TCP: the whole record, from the cache.
	const plain = await dig(["+noedns", "big.example.test", "TXT"]);
	assert.equal(plain.status, "NOERROR", plain.text);
	assert.match(plain.text, /Truncated, retrying in TCP mode/, plain.text);
	assert.equal(plain.answers.length, 1, plain.text);
	assert.equal(plain.answers[0].data, TXT_STRINGS.map((s) => `"${s}"`).join(" "), plain.text);
	const mid = await dnsState();
	assert.equal(mid.counters["tcp fallbacks"] - before.counters["tcp fallbacks"], 1, mid.text);
	// UDP, then TCP: the router asked twice; dig's TCP retry came from the cache.
	assert.equal(asked(servers.a, "big.example.test", "TXT"), 2, servers.a.stderr);
	assert.equal(mid.counters["cache hits"] - before.counters["cache hits"], 1, mid.text);
	// TC answered as such when the client will not retry (+ignore), whole over TCP, whole over UDP with EDNS.
	const ignored = await dig(["+noedns", "+ignore", "big.example.test", "TXT"]);
	assert.ok(ignored.flags.includes("tc"), ignored.text);
	assert.equal(ignored.answers.length, 0, ignored.text);
	const tcp = await dig(["+tcp", "big.example.test", "TXT"]);
	assert.equal(tcp.answers[0]?.data, plain.answers[0].data, tcp.text);
	await bench.console.command("dns flush");
	const edns = await dig(["+bufsize=1232", "big.example.test", "TXT"]);
	assert.ok(!edns.flags.includes("tc"), edns.text);
	assert.equal(edns.answers[0]?.data, plain.answers[0].data, edns.text);
	assert.doesNotMatch(edns.text, /Truncated/, edns.text);
});

test("a dead first server: the second is asked after the timeout", async () => {
	await setWanDns(DEAD, SERVER_B);
	const before = await dnsState();
	const r = await dig(["+time=8", "second.example.test"]);
	assert.equal(r.status, "NOERROR", r.text);
	assert.equal(r.answers[0]?.data, "203.0.113.82", r.text);
	assert.ok(r.ms >= 1500 && r.ms < 6000, `answered after one timeout, ${r.ms} ms`);
	assert.equal(asked(servers.b, "second.example.test"), 1, servers.b.stderr);
	const after = await dnsState();
	assert.equal(after.counters.timeouts - before.counters.timeouts, 1, after.text);
});

test("a dead upstream gives SERVFAIL in bounded time", async () => {
	await setWanDns(DEAD);
	const before = await dnsState();
	const r = await dig(["+time=10", "www.example.test"]);
	assert.equal(r.status, "SERVFAIL", r.text);
	assert.ok(!r.timedOut, r.text);
	assert.ok(r.ms < 7000, `SERVFAIL within ${r.ms} ms`);
	const after = await dnsState();
	assert.equal(after.counters.servfail - before.counters.servfail, 1, after.text);
	assert.equal(after.counters.timeouts - before.counters.timeouts, 2, after.text);
	assert.equal(after.counters.answered - before.counters.answered, 1, after.text);
	// SERVFAIL is never cached: with a live server again, the name resolves.
	await setWanDns(SERVER_A);
	const good = await dig(["again.example.test"]);
	assert.equal(good.answers[0]?.data, "203.0.113.83", good.text);
});

test("bounded: a flood of questions to a dead server fills the table, the rest get SERVFAIL at once; a question asked twice goes up once", async () => {
	await setWanDns(DEAD);
	const before = await dnsState();
	// 80 different names, and one name asked by 8 clients (ids 200-207) while it is in flight,
	// third among the questions, so that it is in the table.
	const messages = [];
	for (let i = 0; i < 80; i++)
		messages.push(query(1000 + i, `flood-${i}.example.test`));
	for (let i = 0; i < 8; i++)
		messages.splice(2 + i, 0, query(200 + i, "same.example.test"));
	const flood = raw("flood", messages);
	await sleep(1000);
	const during = await dnsState();
	// the table's bound, as show dns gives it; the flood fills it
	const max = Number(/^in flight: \d+ of (\d+);/m.exec(during.text)?.[1]);
	assert.ok(max >= 3 && max < 80, during.text);
	assert.match(during.text, new RegExp(`^in flight: ${max} of ${max};`, "m"), during.text);
	const replies = (await flood).map((line) => line.split(" ").map(Number));
	const after = await dnsState();
	assert.match(after.text, new RegExp(`^in flight: 0 of ${max};`, "m"), after.text);
	assert.ok(replies.every(([, rcode]) => rcode === 2), `all SERVFAIL: ${replies.join(" ")}`);
	const ids = new Set(replies.map(([id]) => id));
	for (let i = 0; i < 8; i++)
		assert.ok(ids.has(200 + i), `client ${200 + i} of the shared question answered: ${[...ids].join(" ")}`);
	const received = after.counters.queries - before.counters.queries;
	assert.equal(replies.length, received, `every question that arrived was answered (${received} arrived)\n${after.text}`);
	assert.ok(received > max, after.text);
	// the shared question is the 3rd: in the table, its 7 other clients waiting on it
	assert.equal(after.counters["table full"] - before.counters["table full"], received - max - 7, after.text);
	// two attempts per question in the table, none for the clients that shared one
	assert.equal(after.counters.forwarded - before.counters.forwarded, 2 * max, after.text);
	await setWanDns(SERVER_A);
	const ok = await dig(["www.example.test"]);
	assert.equal(ok.answers[0]?.data, "203.0.113.80", ok.text);
});

test("TCP: queries sent together on one connection are all answered", async () => {
	const ids = await raw("pipeline", [query(301, "www.example.test"), query(302, "second.example.test"), query(303, "nothing.example.test")]);
	assert.deepEqual(ids.map((line) => line.split(" ").map(Number)).sort((a, b) => a[0] - b[0]), [[301, 0], [302, 0], [303, 3]], ids.join("\n"));
});

test("malformed queries get FORMERR or nothing, and the forwarder goes on answering", async () => {
	const before = await dnsState();
	const question = Buffer.concat([name("www.example.test"), A_IN]);
	// Compression loop: a pointer to itself; a pointer forward, beyond the end; a label of 64; a name of 300 bytes.
	const loop = Buffer.concat([header(0x1003, 0x0100, 1), Buffer.from([0xc0, 12]), A_IN]);
	const forward = Buffer.concat([header(0x1004, 0x0100, 1), Buffer.from([0xc0, 200]), A_IN]);
	const label64 = Buffer.concat([header(0x1005, 0x0100, 1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0]), A_IN]);
	const long = Buffer.concat([header(0x1006, 0x0100, 1), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x62)])), Buffer.from([0]), A_IN]);
	// Two pointers that point at each other (the second to the first, the first forward).
	const pair = Buffer.concat([header(0x1007, 0x0100, 1), Buffer.from([0xc0, 14, 0xc0, 12]), A_IN]);
	const messages = [
		Buffer.from([0x12, 0x34, 0x01]),                              // short: dropped
		header(0x1001, 0x0100, 0),                                     // QDCOUNT 0
		Buffer.concat([header(0x1002, 0x0100, 2), question, question]), // QDCOUNT 2
		loop, forward, label64, long, pair,
		Buffer.concat([header(0x1008, 0x0100, 1), name("www.example.test")]), // question cut short
		Buffer.concat([header(0x1009, 0x8100, 1), question]),         // an answer, not a query: dropped
	];
	const replies = await raw("udp", messages);
	assert.equal(replies.length, messages.length, replies.join("\n"));
	assert.equal(replies[0], "none");
	assert.equal(replies[replies.length - 1], "none");
	for (let i = 1; i < messages.length - 1; i++) {
		const reply = Buffer.from(replies[i], "hex");
		assert.ok(reply.length >= 12, `message ${i}: ${replies[i]}`);
		assert.equal(reply.readUInt16BE(0), messages[i].readUInt16BE(0), `message ${i}: the id`);
		assert.equal(reply[2] & 0x80, 0x80, `message ${i}: QR`);
		assert.equal(reply[3] & 0x0f, 1, `message ${i}: FORMERR, got ${replies[i]}`);
	}
	// Over TCP too: a compression loop gets FORMERR, a length under a header cuts the connection.
	const tcp = await raw("tcp", [loop, Buffer.from([1, 2, 3])]);
	assert.equal(Buffer.from(tcp[0], "hex")[3] & 0x0f, 1, tcp.join("\n"));
	assert.match(tcp[1], /^(closed|none)$/, tcp.join("\n"));
	const after = await dnsState();
	assert.equal(after.counters.malformed - before.counters.malformed, messages.length + 2, after.text);
	const ok = await dig(["www.example.test"]);
	assert.equal(ok.answers[0]?.data, "203.0.113.80", ok.text);
	assert.equal(bench.sim.exitCode, null);
});

test("one host holding TCP connections open does not shut another out of DNS over TCP", async () => {
	const other = "192.168.4.3";
	await bench.exec("lan", ["ip", "addr", "add", `${other}/24`, "dev", "rtr-lan"]);
	try {
		const holder = bench.track("lan", ["python3", "-u", path.join(TOP, "host-tests/lib/tcp-hold.py"), ROUTER_LAN, "53", "192.168.4.2", "4", "8"]);
		await holder.waitFor(/^held \d+$/m, 10000);
		const answer = await dig(["+tcp", "-b", other, "www.example.test"]);
		assert.equal(answer.answers[0]?.data, "203.0.113.80", `answered over TCP while 192.168.4.2 holds 4 connections:\n${answer.text}`);
		await holder.stop();
	}
	finally {
		await bench.exec("lan", ["ip", "addr", "del", `${other}/24`, "dev", "rtr-lan"]);
	}
});

test("never open on the WAN: a query to the WAN address gets no answer, over UDP or TCP", async () => {
	const before = await dnsState();
	const udp = await dig(["+time=2", "www.example.test"], { ns: "wan", server: STATIC_WAN });
	assert.ok(udp.timedOut && !udp.status, udp.text);
	const tcp = await dig(["+tcp", "+time=2", "www.example.test"], { ns: "wan", server: STATIC_WAN });
	assert.ok(!tcp.status, tcp.text);
	const after = await dnsState();
	assert.equal(after.counters.queries, before.counters.queries, after.text);
});

test("console: dns off and on, cache size, config lines, one error line per bad argument", async () => {
	for (const bad of ["dns", "dns maybe", "dns on now", "dns cache", "dns cache -1", "dns cache 513", "dns cache x", "dns flush all", "show dns more"]) {
		const out = await bench.console.command(bad);
		assert.match(out, /^error: .+$/, `${bad}: ${out}`);
		assert.equal(out.split("\n").length, 1, `${bad}: ${out}`);
	}
	assert.match(await bench.console.command("dns cache 16"), /^dns: cache 16 entries/);
	assert.match(await bench.console.command("show dns"), /^cache: \d+ of 16 entries/m);
	assert.match(await bench.console.command("dns off"), /^dns: off/);
	const config = await bench.console.command("show config");
	assert.match(config, /^dns off$/m, config);
	assert.match(config, /^dns cache 16$/m, config);
	const off = await dig(["+time=1", "www.example.test"]);
	assert.ok(off.timedOut && !off.status, off.text);
	assert.match(await bench.console.command("show dns"), /^dns: off$/m);
	assert.match(await bench.console.command("dns on"), /^dns: on/);
	assert.match(await bench.console.command("dns cache 64"), /^dns: cache 64 entries/);
	const on = await dig(["www.example.test"]);
	assert.equal(on.answers[0]?.data, "203.0.113.80", on.text);
	assert.doesNotMatch(await bench.console.command("show config"), /^dns /m);
});

test("settings survive save and restart, and the forwarder is back on port 53 after it", async () => {
	assert.match(await bench.console.command("dns cache 16"), /^dns: cache 16 entries/);
	assert.equal(await bench.console.command("save"), "saved");
	const asked0 = asked(servers.a, "www.example.test");
	const from = bench.console.text.length;
	bench.console.send("restart");
	await bench.console.waitFor(/Type help for commands\.\nrouter> /, 15000, { from });
	assert.doesNotMatch(bench.console.text.slice(from), /warning: dns/);
	const config = await bench.console.command("show config");
	assert.match(config, /^dns cache 16$/m, config);
	assert.match(await bench.console.command("show dns"), /^cache: 0 of 16 entries/m);
	const r = await dig(["www.example.test"]);
	assert.equal(r.answers[0]?.data, "203.0.113.80", r.text);
	assert.equal(asked(servers.a, "www.example.test"), asked0 + 1, servers.a.stderr);
});
