// UPnP's defences: nothing answers from the WAN side (SSDP on the WAN link
// or to the WAN address, HTTP to the WAN address or, routed in from
// outside, to the LAN address); secure mode (a host maps only to itself,
// and deletes only its own) until `upnp secure off`; permission rules (a
// deny range, the default nothing-below-1024, an allow for one host); the
// mapping cap. Each refusal is checked in the router's own table: nothing
// half made.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startBench, TOP, ROUTER_LAN, LAN_HOST, FAR_HOST, ISP_GATEWAY, sleep } from "../lib/bench.mjs";
import {
	DESC_URL, WANIP, OTHER_HOST, SSDP_GROUP, router, upnpState, mappingOn, upnpForwards, upnpc, soap, mappingArgs,
	addOtherHost, httpOne, httpSend, httpGet, ssdpSearch,
} from "../lib/upnp.mjs";

let bench;
let wan;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	await addOtherHost(bench);
});
after(async () => {
	await bench?.stop();
});

const ROOT = "upnp:rootdevice";

test("M-SEARCH from lan is answered: ssdp:all with all 10, a service type echoed, the description URL", async () => {
	const { answers, errors } = await ssdpSearch(bench, "lan", SSDP_GROUP, LAN_HOST, ["ssdp:all", ROOT, WANIP], { wait: 1.5 });
	assert.deepEqual(errors, []);
	const all = answers.filter((a) => a.st === "ssdp:all");
	assert.equal(new Set(all.map((a) => a.headers.usn)).size, 10, `10 distinct USNs for ssdp:all:\n${JSON.stringify(all, null, 1)}`);
	for (const a of answers) {
		assert.equal(a.status, "HTTP/1.1 200 OK", JSON.stringify(a));
		assert.equal(a.from, `${ROUTER_LAN}:1900`, JSON.stringify(a));
		assert.equal(a.headers.location, DESC_URL, JSON.stringify(a));
	}
	const root = answers.filter((a) => a.st === ROOT);
	assert.equal(root.length, 1, JSON.stringify(root));
	assert.match(root[0].headers.usn, /^uuid:[0-9a-f-]{36}::upnp:rootdevice$/, JSON.stringify(root));
	const service = answers.filter((a) => a.st === WANIP);
	assert.equal(service.length, 1, JSON.stringify(service));
	assert.equal(service[0].headers.st, WANIP);
});

// 60 unicast M-SEARCH ssdp:all (no MX: answered at once) 30 ms apart from one socket; how many answers came.
const SEARCH_BURST = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2], 0))
s.setblocking(False)
CRLF = bytes([13, 10])
m = CRLF.join([b"M-SEARCH * HTTP/1.1", b"HOST: 239.255.255.250:1900", b'MAN: "ssdp:discover"', b"ST: ssdp:all", b"", b""])
answers, start = 0, time.monotonic()
sent = 0
while time.monotonic() - start < 4.0:
    if sent < 60 and time.monotonic() - start >= sent * 0.03:
        s.sendto(m, (sys.argv[1], 1900))
        sent += 1
    try:
        while True:
            s.recv(2048)
            answers += 1
    except BlockingIOError:
        time.sleep(0.005)
print(sent, answers, time.monotonic() - start)
`;

test("a burst of searches is answered at a bounded rate: a spoofed source cannot be flooded through the router", async () => {
	const before = await upnpState(bench);
	const r = await bench.exec("lan", ["python3", "-c", SEARCH_BURST, ROUTER_LAN, LAN_HOST], { timeout: 15000 });
	const [sent, answers, seconds] = r.stdout.trim().split(" ").map(Number);
	assert.equal(sent, 60, r.stdout + r.stderr);
	assert.ok(answers > 0, `some answered: ${r.stdout}`);
	// 64 answers a second at most (src/upnp/ssdp.ts), over the 4 s the burst and its answers took.
	assert.ok(answers <= 64 * Math.ceil(seconds + 1), `${answers} answers in ${seconds} s to 60 searches of ~100 bytes`);
	const after = await upnpState(bench);
	assert.ok(after.counters.ignored > before.counters.ignored, "the searches over the rate counted as ignored");
});

test("one host's slow connections leave the others theirs: another host is served at once, its own wait", async () => {
	// 16 connections from one host, each sending its request a byte a second:
	// 4 open (its share of 8), the other 12 waiting in the listener's queue.
	const slow = bench.track("lan", ["python3", "-u", path.join(TOP, "host-tests/lib/tcp-hold.py"), ROUTER_LAN, "5000", LAN_HOST, "16", "6", "GET /rootDesc.xml HTTP/1.1"]);
	await slow.waitFor(/^held 16$/m, 10000);
	await sleep(300);
	const started = Date.now();
	const answers = await httpSend(bench, Array.from({ length: 10 }, () => httpGet("/rootDesc.xml")), { source: OTHER_HOST, timeout: 3 });
	for (const answer of answers)
		assert.equal(answer.status, 200, `${OTHER_HOST} served while ${LAN_HOST} holds 16 slow connections: ${JSON.stringify(answer).slice(0, 300)}`);
	assert.ok(Date.now() - started < 3000 * answers.length);
	const state = await upnpState(bench);
	assert.ok(state.connections.waiting > 0 && state.connections.open <= 8, `the slow host's extra connections wait:\n${state.text}`);
	await slow.stop();
});

test("from wan: M-SEARCH on the WAN link, to the WAN address or to the LAN address gets no answer", async () => {
	const before = await upnpState(bench);
	await bench.exec("wan", ["ip", "route", "add", "192.168.4.0/24", "via", wan]);
	try {
		// All at once: each listens 3 s for answers sent within MX (1 s).
		const targets = [SSDP_GROUP, wan, ROUTER_LAN];
		const results = await Promise.all(targets.map((target) => ssdpSearch(bench, "wan", target, ISP_GATEWAY, ["ssdp:all"], { wait: 3, mx: "1" })));
		results.forEach(({ answers, errors }, i) => {
			assert.deepEqual(answers, [], `M-SEARCH to ${targets[i]} from wan was answered`);
			assert.deepEqual(errors, [], `M-SEARCH to ${targets[i]} from wan drew an ICMP error`);
		});
	}
	finally {
		await bench.exec("wan", ["ip", "route", "del", "192.168.4.0/24"]);
	}
	const after = await upnpState(bench);
	assert.equal(after.counters.answered, before.counters.answered, after.text);
});

test("from wan: HTTP to the WAN address or, routed in, to the LAN address gets no answer", async () => {
	await bench.exec("wan", ["ip", "route", "add", "192.168.4.0/24", "via", wan]);
	try {
		const hosts = [wan, ROUTER_LAN];
		const [results, far] = await Promise.all([
			Promise.all(hosts.map((host) => httpOne(bench, httpGet("/rootDesc.xml", { host: `${ROUTER_LAN}:5000` }), { ns: "wan", host, timeout: 3 }))),
			// far's own SOAP request through the ISP gets nothing either.
			soap(bench, "AddPortMapping", mappingArgs({ external: 44000, client: LAN_HOST }), { ns: "far", timeout: 3 }),
		]);
		results.forEach((r, i) => {
			assert.equal(r.status, null, `HTTP to ${hosts[i]}:5000 from wan was answered: ${JSON.stringify(r)}`);
			assert.equal(r.bytes, undefined, `HTTP to ${hosts[i]}:5000 from wan: ${JSON.stringify(r)}`);
		});
		assert.equal(far.status, null, JSON.stringify(far.answer));
	}
	finally {
		await bench.exec("wan", ["ip", "route", "del", "192.168.4.0/24"]);
	}
	assert.equal((await upnpState(bench)).mappings.length, 0);
});

test("secure mode: a mapping for another host is refused (606), until upnp secure off", async () => {
	let state = await upnpState(bench);
	assert.equal(state.secure, true, `secure mode is on by default:\n${state.text}`);
	const refused = state.counters.refused;
	const r = await upnpc(bench, ["-a", OTHER_HOST, "43000", "43000", "TCP"]);
	assert.match(r.stdout, /^AddPortMapping\(43000, 43000, 192\.168\.4\.3\) failed with code 606 /m, r.text);
	const raw = await soap(bench, "AddPortMapping", mappingArgs({ external: 43000, client: OTHER_HOST }));
	assert.equal(raw.fault?.code, 606, raw.answer.body);
	state = await upnpState(bench);
	assert.equal(state.mappings.length, 0, state.text);
	assert.deepEqual(await upnpForwards(bench), []);
	assert.equal(state.counters.refused, refused + 2, state.text);

	await router(bench, "upnp secure off");
	try {
		assert.equal((await upnpState(bench)).secure, false);
		const ok = await upnpc(bench, ["-e", "for another", "-a", OTHER_HOST, "43000", "43000", "TCP"]);
		assert.equal(ok.code, 0, ok.text);
		assert.match(ok.stdout, /is redirected to internal 192\.168\.4\.3:43000/, ok.text);
	}
	finally {
		await router(bench, "upnp secure on");
	}
	state = await upnpState(bench);
	assert.deepEqual(mappingOn(state, "tcp", 43000),
		{ proto: "tcp", externalPort: 43000, address: OTHER_HOST, port: 43000, lease: 0, owner: LAN_HOST, description: "for another", remote: "" }, state.text);
});

test("secure mode: a host deletes only mappings it owns or that point at it", async () => {
	const own = await soap(bench, "AddPortMapping", mappingArgs({ external: 43001, client: OTHER_HOST }), { source: OTHER_HOST });
	assert.equal(own.status, 200, own.answer.body);
	const key = [["NewRemoteHost", ""], ["NewExternalPort", "43001"], ["NewProtocol", "TCP"]];
	const stranger = await soap(bench, "DeletePortMapping", key);
	assert.equal(stranger.fault?.code, 606, stranger.answer.body);
	assert.ok(mappingOn(await upnpState(bench), "tcp", 43001), "still there after a stranger's delete");
	const owner = await soap(bench, "DeletePortMapping", key, { source: OTHER_HOST });
	assert.equal(owner.status, 200, owner.answer.body);
	// 43000 points at .3 but .2 made it: .2 may delete it, and so may .3.
	const maker = await soap(bench, "DeletePortMapping", [["NewRemoteHost", ""], ["NewExternalPort", "43000"], ["NewProtocol", "TCP"]]);
	assert.equal(maker.status, 200, maker.answer.body);
	assert.equal((await upnpState(bench)).mappings.length, 0);
});

test("a mapping to a host outside the LAN is refused (402) even with secure mode off", async () => {
	await router(bench, "upnp secure off");
	try {
		for (const client of [FAR_HOST, wan, "192.168.5.2", "not-an-address"]) {
			const r = await soap(bench, "AddPortMapping", mappingArgs({ external: 43002, client }));
			assert.equal(r.fault?.code, 402, `${client}: ${r.answer.body}`);
		}
	}
	finally {
		await router(bench, "upnp secure on");
	}
	assert.equal((await upnpState(bench)).mappings.length, 0);
});

test("a deny rule refuses its range (606), both protocols, and nothing else; AddAnyPortMapping steps around it", async () => {
	await router(bench, "upnp deny 30000-30010 0.0.0.0/0 1-65535");
	try {
		const rules = await router(bench, "show upnp rules");
		assert.deepEqual(rules.split("\n"), ["  1 deny 30000-30010 0.0.0.0/0 1-65535", "  2 allow 1024-65535 0.0.0.0/0 1024-65535", "  3 deny 0-65535 0.0.0.0/0 0-65535"]);
		for (const [port, proto] of [[30000, "TCP"], [30010, "TCP"], [30005, "UDP"]]) {
			const r = await upnpc(bench, ["-a", LAN_HOST, String(port), String(port), proto]);
			assert.match(r.stdout, new RegExp(`^AddPortMapping\\(${port}, ${port}, 192\\.168\\.4\\.2\\) failed with code 606 `, "m"), r.text);
		}
		for (const port of [29999, 30011]) {
			const r = await upnpc(bench, ["-a", LAN_HOST, String(port), String(port), "TCP"]);
			assert.equal(r.code, 0, r.text);
		}
		let state = await upnpState(bench);
		assert.deepEqual(state.mappings.map((m) => m.externalPort).sort(), [29999, 30011], state.text);

		const any = await soap(bench, "AddAnyPortMapping", mappingArgs({ external: 30005, internal: 30005, client: LAN_HOST }));
		assert.equal(any.status, 200, any.answer.body);
		const reserved = Number(any.out.NewReservedPort);
		assert.ok(reserved >= 1024 && (reserved < 30000 || reserved > 30011), `reserved ${reserved}: outside the denied range and not taken`);
		state = await upnpState(bench);
		assert.equal(mappingOn(state, "tcp", reserved)?.port, 30005, state.text);

		await router(bench, "upnp rule del 1");
		const now = await upnpc(bench, ["-a", LAN_HOST, "30005", "30005", "TCP"]);
		assert.equal(now.code, 0, `allowed once the rule is gone: ${now.text}`);
	}
	finally {
		await router(bench, "upnp rules default");
		await upnpc(bench, ["-N", "1024", "65535", "TCP"]);
	}
	assert.equal((await upnpState(bench)).mappings.length, 0);
});

test("default rules: nothing below 1024 on either side; an allow rule for one host opens port 80 to it only", async () => {
	for (const [external, internal] of [[80, 80], [8080, 80], [80, 8080], [1023, 1024]]) {
		const r = await soap(bench, "AddPortMapping", mappingArgs({ external, internal, client: LAN_HOST }));
		assert.equal(r.fault?.code, 606, `${external} -> ${internal}: ${r.answer.body}`);
	}
	await router(bench, `upnp allow 80 ${LAN_HOST} 80`);
	try {
		const mine = await soap(bench, "AddPortMapping", mappingArgs({ external: 80, client: LAN_HOST }));
		assert.equal(mine.status, 200, mine.answer.body);
		const other = await soap(bench, "AddPortMapping", mappingArgs({ external: 80, client: OTHER_HOST, proto: "UDP" }), { source: OTHER_HOST });
		assert.equal(other.fault?.code, 606, other.answer.body);
		assert.deepEqual((await upnpState(bench)).mappings.map((m) => `${m.proto} ${m.externalPort} ${m.address}`), [`tcp 80 ${LAN_HOST}`]);
	}
	finally {
		await router(bench, "upnp rules default");
		await bench.console.command("upnp del 80 tcp");
	}
});

test("mapping limit: the one over it is refused (728) and counted; the others work", async () => {
	await router(bench, "upnp limit mappings 3");
	try {
		const before = (await upnpState(bench)).counters.mappingLimit;
		for (const port of [45000, 45001, 45002]) {
			const r = await soap(bench, "AddPortMapping", mappingArgs({ external: port, client: LAN_HOST }));
			assert.equal(r.status, 200, r.answer.body);
		}
		const over = await soap(bench, "AddPortMapping", mappingArgs({ external: 45003, client: LAN_HOST }));
		assert.equal(over.fault?.code, 728, over.answer.body);
		// Updating one that exists is not a new mapping.
		const update = await soap(bench, "AddPortMapping", mappingArgs({ external: 45000, client: LAN_HOST, description: "updated" }));
		assert.equal(update.status, 200, update.answer.body);
		const state = await upnpState(bench);
		assert.equal(state.mappings.length, 3, state.text);
		assert.equal(state.mappingLimit, 3, state.text);
		assert.equal(mappingOn(state, "tcp", 45000).description, "updated", state.text);
		assert.equal(state.counters.mappingLimit, before + 1, state.text);
	}
	finally {
		await router(bench, "upnp limit mappings 64");
		await upnpc(bench, ["-N", "45000", "45003", "TCP"]);
	}
	assert.equal((await upnpState(bench)).mappings.length, 0);
});
