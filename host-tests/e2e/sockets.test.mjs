// The simulator's ECMA-419 sockets (embedded:io/socket/udp, tcp, listener)
// against Linux's own stack in the lan namespace, through the fixture
// boards/sim/test/socket-echo.ts. Every check is on the bytes that came
// back, compared with the bytes sent, and every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startBench, ROUTER_LAN, LAN_HOST, ISP_GATEWAY } from "../lib/bench.mjs";

const PORT = 7007;
// socket-echo's WAN address, and its socket tied to the LAN port.
const ROUTER_WAN = "198.51.100.2";
const LAN_PORT_UDP = PORT + 4;
const LAN_GROUP = "239.255.0.11";
const TCP_WND = 4 * 1460; // boards/sim/lwip/lwipopts.h

let bench;
before(async () => {
	// The fixture writes a 70,000-byte datagram to see it refused: more than
	// the board's whole XS heap, so it runs with a larger one.
	bench = await startBench({ main: "test/socket-echo", heap: 256 * 1024 });
});
after(async () => {
	await bench?.stop();
});

async function python(script, args = [], options = {}, ns = "lan") {
	const result = await bench.exec(ns, ["python3", "-c", script, ...args.map(String)], { timeout: 60000, ...options });
	assert.equal(result.code, 0, `python3 failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
	return result.stdout;
}

// A process in a namespace, with everything it printed kept from the start
// (a line printed between two waits is not lost).
function spawnTracked(ns, argv) {
	const child = bench.spawn(ns, argv);
	const tracked = { child, stdout: "", stderr: "" };
	child.stdout.setEncoding("utf8");
	child.stderr.setEncoding("utf8");
	child.stdout.on("data", (chunk) => { tracked.stdout += chunk; });
	child.stderr.on("data", (chunk) => { tracked.stderr += chunk; });
	tracked.exited = new Promise((resolve) => child.once("exit", resolve));
	return tracked;
}

async function waitForOutput(tracked, regex, ms) {
	for (let waited = 0; waited <= ms; waited += 50) {
		const match = regex.exec(tracked.stdout);
		if (match)
			return match;
		if (tracked.child.exitCode !== null)
			break;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(`no ${regex} within ${ms} ms; stdout: ${tracked.stdout}\nstderr: ${tracked.stderr}`);
}

async function waitForExit(tracked, ms) {
	let timer;
	const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms, "timeout"); });
	const code = await Promise.race([tracked.exited, timeout]);
	clearTimeout(timer);
	if (code === "timeout") {
		tracked.child.kill("SIGKILL");
		throw new Error(`still running after ${ms} ms; stdout: ${tracked.stdout}`);
	}
	assert.equal(code, 0, `exited ${code}: ${tracked.stderr}`);
}

// The pools the fixture prints: { HEAP, UDP_PCB, TCP_PCB, ... } in use.
async function pools() {
	const line = await bench.console.command("pools");
	return Object.fromEntries(line.split(" ").map((pair) => pair.split("=")).map(([k, v]) => [k, Number(v)]));
}

// Sends each payload from argv[3] (default the LAN host) and waits for its echo.
const UDP_CLIENT = `
import json, socket, sys
payloads = [bytes.fromhex(h) for h in json.loads(sys.stdin.read())]
target = (sys.argv[1], int(sys.argv[2]))
local = sys.argv[3] if len(sys.argv) > 3 else "${LAN_HOST}"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((local, 0))
if target[0].startswith("239."):
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
s.settimeout(2)
out = []
for p in payloads:
    s.sendto(p, target)
    try:
        data, peer = s.recvfrom(65535)
        out.append([data.hex(), peer[0], peer[1]])
    except socket.timeout:
        out.append(None)
print(json.dumps(out))
`;

test("UDP echo returns each datagram's exact bytes, from 192.168.4.1:7007", async () => {
	// Empty, tiny, odd, a full Ethernet payload, and one that IP must fragment both ways.
	const sizes = [0, 1, 7, 512, 1472, 4000];
	const payloads = sizes.map((n) => crypto.randomBytes(n));
	const out = JSON.parse(await python(UDP_CLIENT, [ROUTER_LAN, PORT], { input: JSON.stringify(payloads.map((p) => p.toString("hex"))) }));
	assert.equal(out.length, payloads.length);
	out.forEach((reply, i) => {
		assert.ok(reply, `no reply to the ${sizes[i]}-byte datagram`);
		assert.equal(reply[1], ROUTER_LAN);
		assert.equal(reply[2], PORT);
		assert.ok(Buffer.from(reply[0], "hex").equals(payloads[i]), `${sizes[i]}-byte datagram came back different`);
	});
});

test("UDP multicast: a member of 239.255.0.7 hears the group and answers unicast", async () => {
	const payload = crypto.randomBytes(33);
	const out = JSON.parse(await python(UDP_CLIENT, ["239.255.0.7", PORT + 1], { input: JSON.stringify([payload.toString("hex")]) }));
	assert.ok(out[0], "no answer to the multicast datagram");
	assert.deepEqual(out[0], [payload.toString("hex"), ROUTER_LAN, PORT + 1]);
});

// Listens on a group's port in a namespace, joined on the given local
// address; prints "ready", then one JSON line per datagram: text, sender, TTL.
const GROUP_LISTENER = `
import json, socket, struct, sys
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)   # Linux's value; not every Python names it
group, port, local, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", port))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(local)))
s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
s.settimeout(seconds)
print("ready", flush=True)
try:
    while True:
        data, ancillary, flags, peer = s.recvmsg(2048, socket.CMSG_SPACE(4))
        ttl = next((struct.unpack("i", d[:4])[0] for level, kind, d in ancillary if level == socket.IPPROTO_IP and kind == socket.IP_TTL), None)
        print(json.dumps([data.decode(), peer[0], peer[1], ttl]), flush=True)
except socket.timeout:
    pass
print("done", flush=True)
`;

test("UDP interface \"lan\": hears the LAN, unicast and its group, and nothing from the WAN", async () => {
	const hex = (text) => Buffer.from(text).toString("hex");
	const fromLan = JSON.parse(await python(UDP_CLIENT, [LAN_GROUP, LAN_PORT_UDP], { input: JSON.stringify([hex("group")]) }));
	assert.deepEqual(fromLan[0], [hex("group"), ROUTER_LAN, LAN_PORT_UDP], "the group on the LAN");
	const unicast = JSON.parse(await python(UDP_CLIENT, [ROUTER_LAN, LAN_PORT_UDP], { input: JSON.stringify([hex("unicast")]) }));
	assert.deepEqual(unicast[0], [hex("unicast"), ROUTER_LAN, LAN_PORT_UDP], "unicast on the LAN");
	// From the WAN: the plain echo socket answers there (the path works), the tied one does not.
	const control = JSON.parse(await python(UDP_CLIENT, [ROUTER_WAN, PORT, ISP_GATEWAY], { input: JSON.stringify([hex("control")]) }, "wan"));
	assert.deepEqual(control[0], [hex("control"), ROUTER_WAN, PORT], "the unbound echo socket answers from the WAN");
	const probe = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${ISP_GATEWAY}", 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("${ISP_GATEWAY}"))
s.settimeout(1)
out = []
for target in [("${ROUTER_WAN}", ${LAN_PORT_UDP}), ("${LAN_GROUP}", ${LAN_PORT_UDP})]:
    try:
        s.sendto(b"from the wan", target)
        data, peer = s.recvfrom(2048)
        out.append("answered by %s:%d" % peer)
    except socket.timeout:
        out.append("silence")
    except ConnectionRefusedError:
        out.append("refused")
print(" ".join(out))
`;
	const [unicastWan, groupWan] = (await python(probe, [], {}, "wan")).trim().split(" ");
	// No NAPT runs in this fixture, so lwIP may say port unreachable; it must not answer.
	assert.match(unicastWan, /^(silence|refused)$/, "the WAN address");
	assert.equal(groupWan, "silence", "the group from the WAN");
});

test("UDP interface \"lan\": its multicast leaves by the LAN port only, with its TTL", async () => {
	const lan = bench.track("lan", ["python3", "-c", GROUP_LISTENER, LAN_GROUP, String(LAN_PORT_UDP), LAN_HOST, "2"]);
	const wan = bench.track("wan", ["python3", "-c", GROUP_LISTENER, LAN_GROUP, String(LAN_PORT_UDP), ISP_GATEWAY, "2"]);
	await lan.waitFor(/ready/, 5000);
	await wan.waitFor(/ready/, 5000);
	assert.equal(await bench.console.command("mcast hello group"), "sent");
	await lan.waitFor(/done/, 5000);
	await wan.waitFor(/done/, 5000);
	const heard = (t) => t.stdout.split("\n").filter((l) => l.startsWith("[")).map((l) => JSON.parse(l));
	assert.deepEqual(heard(lan), [["hello group", ROUTER_LAN, LAN_PORT_UDP, 2]], lan.output());
	assert.deepEqual(heard(wan), [], wan.output());
});

test("UDP receive queue is bounded: the first 8 wait, the rest are dropped and counted", async () => {
	await python(`
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b"d%02d" % i, ("${ROUTER_LAN}", ${PORT + 2}))
    time.sleep(0.01)
time.sleep(0.3)
`);
	const out = await bench.console.command("drain udp");
	const expected = Array.from({ length: 8 }, (_, i) => `d${String(i).padStart(2, "0")}`).join(",");
	assert.equal(out, `udp ${PORT + 2}: 8 [${expected}] dropped 12`);
	// Drained: the socket takes datagrams again.
	await python(`
import socket, time
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"again", ("${ROUTER_LAN}", ${PORT + 2}))
time.sleep(0.3)
`);
	assert.equal(await bench.console.command("drain udp"), `udp ${PORT + 2}: 1 [again] dropped 12`);
});

// Each connection sends its file while reading the echo, then half-closes;
// the echo server closes once it has read (and so echoed) everything.
const TCP_CLIENTS = `
import json, socket, sys, threading
count, folder = int(sys.argv[1]), sys.argv[2]
results = [None] * count
def run(i):
    data = open("%s/in%d" % (folder, i), "rb").read()
    got = bytearray()
    errors = []
    try:
        s = socket.create_connection(("${ROUTER_LAN}", ${PORT}), timeout=20)
        def send():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except Exception as e:
                errors.append("send: " + repr(e))
        sender = threading.Thread(target=send)
        sender.start()
        while len(got) <= len(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        sender.join(20)
        s.close()
    except Exception as e:
        errors.append(repr(e))
    open("%s/out%d" % (folder, i), "wb").write(got)
    results[i] = {"received": len(got), "errors": errors}
threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
print(json.dumps(results))
`;

async function echoConnections(count, size) {
	const folder = fs.mkdtempSync(path.join(bench.dir, "tcp-"));
	const sent = [];
	for (let i = 0; i < count; i++) {
		sent.push(crypto.randomBytes(size));
		fs.writeFileSync(path.join(folder, `in${i}`), sent[i]);
	}
	const results = JSON.parse(await python(TCP_CLIENTS, [count, folder], { timeout: 90000 }));
	for (let i = 0; i < count; i++) {
		assert.ok(results[i], `connection ${i} did not finish`);
		assert.deepEqual(results[i].errors, [], `connection ${i}`);
		const got = fs.readFileSync(path.join(folder, `out${i}`));
		if (!got.equals(sent[i])) {
			let at = 0;
			while (at < got.length && got[at] === sent[i][at])
				at++;
			assert.fail(`connection ${i}: ${got.length} of ${size} bytes back, first difference at byte ${at}`);
		}
	}
}

test("TCP echo: 200 KB come back intact and in order, then a clean close", async () => {
	await echoConnections(1, 200 * 1024);
});

test("TCP echo: eight connections at once, 64 KB each", async () => {
	await echoConnections(8, 64 * 1024);
	assert.match(await bench.console.command("stats"), /^tcp accepted 9 open \d+ echoed \d+; udp 7007 dropped 0$/);
});

test("a burst of 14 connections in one moment: all are served, none reset", async () => {
	// The listener holds 8 unread; lwIP ignores SYNs past that and the clients retry.
	const out = await python(`
import json, socket, time
socks = []
for i in range(14):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("${ROUTER_LAN}", ${PORT}))
    socks.append(s)
time.sleep(0.5)
answers = []
for i, s in enumerate(socks):
    try:
        s.setblocking(True)
        s.settimeout(10)
        s.sendall(b"c%02d" % i)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(100)
            if not chunk:
                break
            got += chunk
        answers.append(got.decode())
    except Exception as e:
        answers.append(repr(e))
    s.close()
print(json.dumps(answers))
`);
	assert.deepEqual(JSON.parse(out), Array.from({ length: 14 }, (_, i) => `c${String(i).padStart(2, "0")}`));
});

test("TCP to a port nobody listens on is refused (RST)", async () => {
	const out = await python(`
import socket
try:
    socket.create_connection(("${ROUTER_LAN}", 7999), timeout=3)
    print("connected")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
`);
	assert.equal(out.trim(), "refused");
});

test("TCP receive is acknowledged only as read: an unread connection stops at the window", async () => {
	const size = 100 * 1024;
	const client = spawnTracked("lan", ["python3", "-c", `
import socket
s = socket.create_connection(("${ROUTER_LAN}", ${PORT + 2}), timeout=30)
print("connected", flush=True)
s.sendall(bytes(range(256)) * ${size / 256})
s.close()
print("sent", flush=True)
`]);
	await waitForOutput(client, /connected/, 10000);
	// Let the window fill, then see that it stays full while nothing is read.
	let held;
	for (let i = 0; i < 50; i++) {
		held = await bench.console.command("held");
		if (/readable [1-9]/.test(held))
			break;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	await new Promise((resolve) => setTimeout(resolve, 1000));
	held = await bench.console.command("held");
	const [, readable, max] = /readable (\d+) max (\d+)/.exec(held).map(Number);
	assert.ok(readable >= 1460 && readable <= TCP_WND, `holding ${readable} bytes unread (window ${TCP_WND})`);
	assert.equal(max, readable, "nothing more arrived while unread");

	const from = bench.console.text.length;
	await bench.console.command("drain tcp");
	await bench.console.waitFor(new RegExp(`tcp ${PORT + 2}: received ${size} bytes, max readable (\\d+)`), 30000, { from });
	const [, maxAfter] = new RegExp(`max readable (\\d+)`).exec(bench.console.text.slice(from));
	assert.ok(Number(maxAfter) <= TCP_WND, `at most a window unread, saw ${maxAfter}`);
	await waitForExit(client, 30000);
});

test("TCP client: connects out, sends a line, reads the answer until the peer closes", async () => {
	const server = spawnTracked("lan", ["python3", "-c", `
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("${LAN_HOST}", 9000))
srv.listen(1)
srv.settimeout(15)
print("listening", flush=True)
c, peer = srv.accept()
c.settimeout(10)
line = b""
while not line.endswith(b"\\n"):
    chunk = c.recv(100)
    if not chunk:
        break
    line += chunk
c.sendall(b"pong " + line)
c.close()
print("served", peer[0], line, flush=True)
`]);
	await waitForOutput(server, /listening/, 10000);
	let from = bench.console.text.length;
	bench.console.send("connect 192.168.4.2 9000 hello there");
	await bench.console.waitFor(/client 192\.168\.4\.2:9000: "pong hello there\\n" tcp: connection closed by peer \(remote 192\.168\.4\.2:9000\)/, 15000, { from });
	const served = await waitForOutput(server, /served (\S+) (.*)/, 5000);
	assert.equal(served[1], ROUTER_LAN);
	assert.equal(served[2], "b'hello there\\n'");
	await waitForExit(server, 5000);

	from = bench.console.text.length;
	bench.console.send("connect 192.168.4.2 9001 nobody");
	await bench.console.waitFor(/client 192\.168\.4\.2:9001: "" tcp: connection refused/, 15000, { from });
});

test("misuse throws clear errors and never crashes", async () => {
	const lines = (await bench.console.command("misuse")).split("\n");
	const expected = [
		"udp port: ok true",
		"udp close: ok undefined",
		"udp close again: ok undefined",
		"udp write after close: Error: udp: socket is closed",
		"udp read after close: Error: udp: socket is closed",
		"udp port in use: Error: udp: port 7007 in use",
		"udp bad address: RangeError: udp: address is not an IPv4 address: 192.168.4",
		"udp bad port: RangeError: udp: port 0 out of range",
		"udp too large: RangeError: udp: 70000 bytes do not fit one datagram",
		"udp bad multicast: RangeError: udp: multicast 192.168.4.9 is not a multicast group",
		"udp format: RangeError: udp: format number (only \"buffer\")",
		"udp bad interface: RangeError: udp: interface must be \"lan\" or \"wan\"",
		"udp interface not text: RangeError: udp: interface must be \"lan\" or \"wan\"",
		"listener port in use: Error: listener: port 7007 in use",
		"listener port: ok true",
		"listener close: ok undefined",
		"listener close again: ok undefined",
		"listener read after close: Error: listener: closed",
		"tcp bad address: RangeError: tcp: address is not an IPv4 address: 1.2.3",
		"tcp host name: RangeError: tcp: host names need DNS, which these sockets do not do; give an address",
		"tcp bad port: RangeError: tcp: port 0 out of range",
		"tcp write before connect: Error: tcp: not connected yet (wait for onWritable)",
		"tcp read before connect: ok undefined",
		"tcp close: ok undefined",
		"tcp close again: ok undefined",
		"tcp write after close: Error: tcp: socket is closed",
		"tcp read after close: Error: tcp: socket is closed",
		"tcp from closed: Error: tcp: socket is closed",
		"tcp write after handover: Error: tcp: socket was handed over to another (from)",
		"tcp from handed over: Error: tcp: from: that socket was already handed over",
		"tcp from junk: TypeError: tcp: from must be a TCP socket",
	];
	assert.deepEqual(lines, expected);
	assert.equal(bench.console.errors, "", "nothing on stderr");
});

test("everything is freed: connections end, and unreferenced sockets go with the collector", async () => {
	// Connections close on both sides; allow the last FIN/ACK exchanges.
	let now;
	for (let i = 0; i < 50; i++) {
		now = await pools();
		if (now.TCP_PCB === 0)
			break;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	assert.equal(now.TCP_PCB, 0, "no TCP connection left");
	assert.equal(now.TCP_SEG, 0, "no TCP segment left");
	assert.equal(now.PBUF_POOL, 0, "no received pbuf held");

	assert.equal(await bench.console.command("gc"), "collected");
	const base = await pools();
	assert.equal(await bench.console.command("churn"), "churned");
	const churned = await pools();
	assert.equal(churned.UDP_PCB, base.UDP_PCB + 5);
	assert.equal(churned.TCP_PCB_LISTEN, base.TCP_PCB_LISTEN + 2);
	assert.equal(churned.TCP_PCB, base.TCP_PCB + 3);
	assert.equal(await bench.console.command("gc"), "collected");
	const collected = await pools();
	assert.equal(collected.UDP_PCB, base.UDP_PCB, "collected UDP sockets removed their pcbs");
	assert.equal(collected.TCP_PCB_LISTEN, base.TCP_PCB_LISTEN, "collected listeners closed");
	assert.equal(collected.TCP_PCB, base.TCP_PCB, "collected connections closed");
	// The echo services still work after all that.
	const payload = crypto.randomBytes(100);
	const out = JSON.parse(await python(UDP_CLIENT, [ROUTER_LAN, PORT], { input: JSON.stringify([payload.toString("hex")]) }));
	assert.equal(out[0]?.[0], payload.toString("hex"));
	assert.equal(bench.console.errors, "", "nothing on stderr");
});

// Last: the server side closes first here, so its connections sit in
// TIME_WAIT for a while (lwIP reuses those when it runs short).
test("slow readers exhaust lwIP's memory; every byte written before close() still arrives", async (t) => {
	const count = 14;
	const out = await python(`
import json, socket, threading, time
expected = bytes(i % 251 for i in range(16384))
results = [None] * ${count}
def run(i):
    got = bytearray()
    try:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # a small window: data waits in the router
        s.settimeout(20)
        s.connect(("${ROUTER_LAN}", ${PORT + 3}))
        time.sleep(1)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        results[i] = "intact" if got == expected else "%d bytes, differ at %d" % (len(got), next((k for k in range(min(len(got), len(expected))) if got[k] != expected[k]), min(len(got), len(expected))))
    except Exception as e:
        results[i] = "%s after %d bytes" % (repr(e), len(got))
threads = [threading.Thread(target=run, args=(i,)) for i in range(${count})]
for th in threads:
    th.start()
for th in threads:
    th.join(40)
print(json.dumps(results))
`);
	assert.deepEqual(JSON.parse(out), Array(count).fill("intact"));
	const stats = await bench.console.command("tcpstats");
	t.diagnostic(stats);
	const [, deferred] = /tcp deferred (\d+) lingered (\d+)/.exec(stats).map(Number);
	assert.ok(deferred > 0, `lwIP ran out of memory for some write (the case under test): ${stats}`);
	assert.equal(bench.console.errors, "", "nothing on stderr");
});
