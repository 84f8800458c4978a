// Hostile LAN hosts against the router's own services (issue 15, hostile
// run), each while a legitimate client on another LAN address uses the same
// service and must get through within a stated time:
//   - slowloris against the UPnP HTTP server: two hosts keep 8 connections
//     each open, sending a request a byte a second and reconnecting as soon
//     as they are cut, while upnpc (miniupnpc) adds and deletes mappings;
//   - tiny segments: one host's 16 connections to UPnP each sending a byte
//     per segment as fast as it can, while lan pings far and upnpc works;
//   - junk INVITEs: two hosts send INVITEs with SDP to a far address where
//     nothing answers, 40 a second each, while the phone makes real calls
//     and far's media must reach it through the pinholes.
// HOSTILE_SECONDS sets how long each attack lasts (15 in the suite; npm run
// hostile makes it longer).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, ping, LAN_HOST, FAR_HOST, ROUTER_LAN, sleep } from "../lib/bench.mjs";
import { upnpc, upnpState, UPNP_PORT } from "../lib/upnp.mjs";
import { requireTools, showSipalg, SIPP, PY } from "../lib/sip.mjs";
import { startCall, endCall, stopCall, farToLan } from "../lib/sip-call.mjs";
import { secondsOf } from "../lib/hostile.mjs";

const SECONDS = secondsOf(15);
// Two attacking hosts, neither of them the legitimate client's 192.168.4.2.
const ATTACKERS = ["192.168.4.3", "192.168.4.4"];

let bench;
let wan;
before(async () => {
	requireTools(SIPP, PY);
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	for (const a of ATTACKERS) {
		const r = await bench.exec("lan", ["ip", "addr", "add", `${a}/24`, "dev", "rtr-lan"]);
		assert.equal(r.code, 0, r.stderr);
	}
});
after(async () => {
	await bench?.stop();
});

// Slowloris: per source, `per` connections that each send a request's bytes
// one a second and never finish it; a connection cut is opened again the next
// second. Prints "opened N cut M" at the end.
const SLOWLORIS = `
import socket, sys, time
host, port, seconds, per = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
sources = sys.argv[5].split(",")
line = b"GET /rootDesc.xml HTTP/1.1\\r\\nHost: " + host.encode() + b"\\r\\nX-Padding: " + b"a" * 4000
slots = [[src, None, 0] for src in sources for _ in range(per)]
opened = cut = 0
print("started", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    for slot in slots:
        src, s, sent = slot
        if s is None:
            s = socket.socket()
            s.setblocking(False)
            s.bind((src, 0))
            s.connect_ex((host, port))
            slot[1], slot[2] = s, 0
            opened += 1
            continue
        try:
            s.send(line[sent:sent + 1])
            slot[2] = (sent + 1) % len(line)
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            slot[1] = None
            cut += 1
    time.sleep(1)
print("opened", opened, "cut", cut, flush=True)
`;

test(`slowloris from two hosts for ${SECONDS} s: upnpc on a third adds and deletes mappings, each run answered within 4 s`, { timeout: (SECONDS + 60) * 1000 }, async (t) => {
	const attack = bench.track("lan", [PY, "-u", "-c", SLOWLORIS, ROUTER_LAN, String(UPNP_PORT), String(SECONDS), "8", ATTACKERS.join(",")]);
	await attack.waitFor(/^started$/m, 5000);
	await sleep(2000);   // every slot taken and trickling before the first legitimate request
	const end = Date.now() + (SECONDS - 3) * 1000;
	const times = [];
	for (let round = 0; Date.now() < end && round < 200; round++) {
		const port = String(44000 + round);
		for (const args of [["-a", LAN_HOST, port, port, "TCP"], ["-d", port, "TCP"]]) {
			const started = Date.now();
			const r = await upnpc(bench, args, { timeout: 15000 });
			const took = Date.now() - started;
			times.push(took);
			assert.equal(r.code, 0, `round ${round}, under slowloris:\n${r.text}`);
			assert.doesNotMatch(r.stdout, /failed|error/i, r.text);
			assert.ok(took < 4000, `round ${round}: upnpc ${args.join(" ")} took ${took} ms under slowloris`);
		}
	}
	const report = await attack.waitFor(/^opened (\d+) cut (\d+)$/m, (SECONDS + 10) * 1000);
	times.sort((a, b) => a - b);
	t.diagnostic(`${times.length} upnpc runs, slowest ${times.at(-1)} ms, median ${times[times.length >> 1]} ms; slowloris opened ${report[1]}, cut ${report[2]}`);
	t.diagnostic((await upnpState(bench)).text.split("\n").filter((l) => /counters|limit/.test(l)).join(" | "));
	assert.ok(times.length >= 4, `only ${times.length} runs in ${SECONDS} s`);
	// The attack was real: it kept its connections coming back.
	assert.ok(Number(report[1]) > 16, `slowloris opened only ${report[1]} connections`);
});

// Tiny segments: `per` connections from `source` sending one byte per
// segment as fast as they can, for `seconds`. Prints "held N" and "sent N".
const TINY = `
import socket, sys, time
host, port, source, per, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
socks = []
for i in range(per):
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((source, 0))
    s.settimeout(2)
    try:
        s.connect((host, port))
        s.setblocking(False)
        socks.append(s)
    except OSError:
        pass
print("held", len(socks), flush=True)
end = time.monotonic() + seconds
sent = 0
while time.monotonic() < end:
    for s in socks:
        try:
            sent += s.send(b"G")
        except OSError:
            pass
    time.sleep(0.001)
print("sent", sent, flush=True)
`;

// The PBUF_POOL line of show memory: in use, peak, size, errors.
async function receivePool() {
	const m = /^ {2}PBUF_POOL +(\d+) +(\d+) +(\d+) +(\d+)$/m.exec(await bench.console.command("show memory"));
	assert.ok(m, "show memory lists PBUF_POOL");
	return { used: Number(m[1]), peak: Number(m[2]), size: Number(m[3]), errors: Number(m[4]) };
}

test(`a byte per segment on 16 connections for ${SECONDS} s: forwarding and UPnP go on, the receive pool never runs dry`, { timeout: (SECONDS + 60) * 1000 }, async (t) => {
	const before = await receivePool();
	const from = bench.console.text.length;
	const attack = bench.track("lan", [PY, "-u", "-c", TINY, ROUTER_LAN, String(UPNP_PORT), ATTACKERS[0], "16", String(SECONDS)]);
	await attack.waitFor(/^held 16$/m, 10000);
	await sleep(2000);
	const end = Date.now() + (SECONDS - 4) * 1000;
	let rounds = 0;
	for (; Date.now() < end && rounds < 50; rounds++) {
		// Legitimate traffic within 2 s: a ping through the NAPT, a mapping added and deleted.
		const p = await ping(bench, "lan", FAR_HOST, 2);
		assert.ok(p.ok, `round ${rounds}: lan to far under tiny segments:\n${p.output}`);
		const port = String(45000 + rounds);
		for (const args of [["-a", LAN_HOST, port, port, "TCP"], ["-d", port, "TCP"]]) {
			const r = await upnpc(bench, args, { timeout: 15000 });
			assert.equal(r.code, 0, r.text);
			assert.doesNotMatch(r.stdout, /failed|error/i, r.text);
		}
	}
	const sent = Number((await attack.waitFor(/^sent (\d+)$/m, (SECONDS + 10) * 1000))[1]);
	const after = await receivePool();
	t.diagnostic(`${rounds} rounds; ${sent} one-byte segments sent; receive pool peak ${after.peak} of ${after.size}, errors ${after.errors - before.errors}`);
	assert.ok(sent > 1000, `the attack sent only ${sent} bytes`);
	assert.equal(after.errors, before.errors, "no frame was refused a receive buffer");
	assert.doesNotMatch(bench.console.text.slice(from), /fatal|restarted/, "no XS abort");
});

// Junk INVITEs from `source`, `rate` a second for `seconds`, each its own
// Call-ID with an SDP, to a far address where nothing answers.
const JUNK = `
import socket, sys, time
source, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((source, 5070))
print("started", flush=True)
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    for _ in range(rate // 10):
        sdp = ("v=0\\r\\no=x 1 1 IN IP4 %s\\r\\ns=-\\r\\nc=IN IP4 %s\\r\\nt=0 0\\r\\n"
               "m=audio %d RTP/AVP 0\\r\\n" % (source, source, 30000 + 2 * (i % 100)))
        msg = ("INVITE sip:nobody@203.0.113.11 SIP/2.0\\r\\n"
               "Via: SIP/2.0/UDP %s:5070;branch=z9hG4bKjunk%d\\r\\n"
               "From: <sip:junk@%s>;tag=j%d\\r\\nTo: <sip:nobody@203.0.113.11>\\r\\n"
               "Call-ID: junk-%d@%s\\r\\nCSeq: 1 INVITE\\r\\nContact: <sip:junk@%s:5070>\\r\\n"
               "Content-Type: application/sdp\\r\\nContent-Length: %d\\r\\n\\r\\n%s") % (
                   source, i, source, i, i, source, source, len(sdp), sdp)
        s.sendto(msg.encode(), ("203.0.113.11", 5060))
        i += 1
    time.sleep(0.1)
print("sent", i, flush=True)
`;

test(`junk INVITEs from two hosts for ${SECONDS} s: the phone's calls each get their pinhole, far's media reaches the phone`, { timeout: (SECONDS + 90) * 1000 }, async (t) => {
	const attacks = ATTACKERS.map((a) => bench.track("lan", [PY, "-u", "-c", JUNK, a, "40", String(SECONDS)]));
	for (const a of attacks)
		await a.waitFor(/^started$/m, 5000);
	await sleep(2000);   // the pool full of junk before the first call
	const full = await showSipalg(bench);
	assert.ok(full.dialogs.filter((d) => d.callId.startsWith("junk-")).length >= 8, `junk holds the pool:\n${full.text}`);
	const end = Date.now() + (SECONDS - 4) * 1000;
	const setups = [];
	for (let n = 0; Date.now() < end && n < 200; n++) {
		const callId = `hostile-call-${n}`;
		const started = Date.now();
		const call = await startCall(bench, { callId, lanPorts: [40100 + 2 * n, 40101 + 2 * n], farPorts: [50100 + 2 * n, 50101 + 2 * n] });
		try {
			setups.push(Date.now() - started);
			const [audio] = call.offer.media;
			assert.equal(audio.address, wan, call.invite.body);
			// Media within 2 s of the answer: 3 of 5 of far's packets reach the phone.
			const rtp = await farToLan(call, 0, audio.address, audio.port, `far-rtp-h${n}`);
			assert.ok(rtp.length >= 3, `call ${n}: ${rtp.length} of 5 of far's RTP reached the phone\n${(await showSipalg(bench)).text}`);
			await endCall(bench, call, callId);
		}
		finally {
			await stopCall(call);
		}
	}
	const sent = [];
	for (const a of attacks)
		sent.push(Number((await a.waitFor(/^sent (\d+)$/m, (SECONDS + 15) * 1000))[1]));
	t.diagnostic(`${setups.length} calls, setup (INVITE to ACK) at most ${Math.max(...setups)} ms; junk INVITEs sent ${sent.join(" + ")}`);
	t.diagnostic((await showSipalg(bench)).text.split("\n").filter((l) => /counters|dialogs|pool/.test(l)).join(" | "));
	assert.ok(setups.length >= 2, `only ${setups.length} calls in ${SECONDS} s`);
});
