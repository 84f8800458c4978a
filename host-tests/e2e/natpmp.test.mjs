// NAT-PMP (RFC 6886) with Debian's natpmpc in lan, and datagrams built here
// from the RFC's formats where natpmpc cannot say it (versions, opcodes,
// another host): the external address, UDP and TCP mappings that carry
// far's traffic, renewal, deletion, deleting all of a host's mappings, the
// permission rules, the per-host cap, UPnP seeing NAT-PMP's mappings and the
// reverse, the announcement on the LAN after a WAN address change, nothing
// on the WAN side, and one host's flood not starving another.
// (Debian 12's python3-libnatpmp cannot be imported by Python 3: its module
// is built with Python 2's Py_InitModule3, so natpmpc is the real client.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, ROUTER_LAN, LAN_HOST, FAR_HOST } from "../lib/bench.mjs";
import { re, router, upnpc, upnpState, mappingOn, tcpServer, tcpConnect, addOtherHost, OTHER_HOST, PY, soap, mappingArgs } from "../lib/upnp.mjs";
import { natpmpc, exchange, one, pmpAddressRequest, pmpMapRequest, pmpAnswer, pmpState, udpEcho, udpAsk, PROBE } from "../lib/pmp.mjs";

let bench;
let wan;
let tcp; // TCP server in lan on 41000
let udp; // UDP echo in lan on 41001
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	await addOtherHost(bench);
	tcp = await tcpServer(bench, "lan", LAN_HOST, 41000);
	udp = await udpEcho(bench, "lan", LAN_HOST, 41001);
});
after(async () => {
	await tcp?.stop();
	await udp?.stop();
	await bench?.stop();
});

test("natpmpc: the external address and the epoch", async () => {
	const r = await natpmpc(bench, []);
	assert.equal(r.code, 0, r.text);
	assert.match(r.stdout, new RegExp(`^Public IP address : ${re(wan)}$`, "m"), r.text);
	const epoch = /^epoch = (\d+)$/m.exec(r.stdout);
	assert.ok(epoch, r.text);
	const state = await pmpState(bench);
	assert.equal(state.listening, `${ROUTER_LAN}:5351`, state.text);
	assert.ok(state.epoch >= Number(epoch[1]), `the epoch counts on from the start of the table:\n${state.text}\n${r.text}`);
	// The raw answer: version 0, opcode 128, success, 12 bytes.
	const a = pmpAnswer(await one(bench, pmpAddressRequest()));
	assert.deepEqual({ version: a.version, op: a.op, result: a.result, external: a.external, length: a.length },
		{ version: 0, op: 128, result: 0, external: wan, length: 12 });
});

// natpmpc's line for a mapping it got (libnatpmp spells it "liftime").
function mappedLine(r) {
	const m = /^Mapped public port (\d+) protocol (TCP|UDP) to local port (\d+) lif(?:e)?time (\d+)$/m.exec(r.stdout);
	assert.ok(m, r.text);
	return { externalPort: Number(m[1]), proto: m[2].toLowerCase(), port: Number(m[3]), lifetime: Number(m[4]) };
}

test("natpmpc -a: a TCP and a UDP mapping, in show natpmp and show upnp, carry far's traffic", async () => {
	const t = await natpmpc(bench, ["-a", "41000", "41000", "tcp", "3600"]);
	assert.equal(t.code, 0, t.text);
	assert.deepEqual(mappedLine(t), { externalPort: 41000, proto: "tcp", port: 41000, lifetime: 3600 });
	const u = await natpmpc(bench, ["-a", "41011", "41001", "udp", "600"]);
	assert.equal(u.code, 0, u.text);
	assert.deepEqual(mappedLine(u), { externalPort: 41011, proto: "udp", port: 41001, lifetime: 600 });

	const state = await pmpState(bench);
	const tm = state.mappings.find((m) => m.proto === "tcp" && m.externalPort === 41000);
	assert.ok(tm && tm.address === LAN_HOST && tm.port === 41000 && tm.via === "natpmp" && tm.lease > 3500, state.text);
	assert.ok(state.mappings.some((m) => m.proto === "udp" && m.externalPort === 41011 && m.port === 41001), state.text);
	const upnp = await upnpState(bench);
	const listed = mappingOn(upnp, "tcp", 41000);
	assert.ok(listed && listed.owner === LAN_HOST && listed.description === "NAT-PMP" && listed.lease > 3500, upnp.text);
	const forwards = await router(bench, "show forwards");
	assert.match(forwards, new RegExp(`^tcp 41000 -> ${re(LAN_HOST)}:41000 pmp lease \\d+s from ${re(LAN_HOST)} "NAT-PMP"$`, "m"), forwards);

	const c = await tcpConnect(bench, "far", wan, 41000);
	assert.ok(c.ok, c.text);
	assert.match(c.text, new RegExp(`^hello from ${re(LAN_HOST)}:41000 to ${re(FAR_HOST)}:\\d+$`, "m"));
	const echo = await udpAsk(bench, "far", wan, 41011, "ping over nat-pmp");
	assert.equal(echo, `echo ${FAR_HOST} ping over nat-pmp`);
});

test("renewal keeps the port and restarts the lifetime; a suggested port that is taken gets another", async () => {
	const again = await natpmpc(bench, ["-a", "41999", "41000", "tcp", "7200"]);
	assert.equal(again.code, 0, again.text);
	assert.deepEqual(mappedLine(again), { externalPort: 41000, proto: "tcp", port: 41000, lifetime: 7200 }, "the same mapping, renewed");
	let state = await pmpState(bench);
	const tm = state.mappings.find((m) => m.proto === "tcp" && m.externalPort === 41000);
	assert.ok(tm.lease > 7000, state.text);
	assert.equal(state.mappings.filter((m) => m.proto === "tcp" && m.port === 41000).length, 1, state.text);

	// Another host holds 41050 by UPnP: NAT-PMP gives this one another port.
	const other = await soap(bench, "AddPortMapping", mappingArgs({ external: 41050, client: OTHER_HOST, description: "other" }), { source: OTHER_HOST });
	assert.equal(other.status, 200, JSON.stringify(other.answer));
	const moved = mappedLine(await natpmpc(bench, ["-a", "41050", "41002", "tcp", "600"]));
	assert.notEqual(moved.externalPort, 41050);
	state = await pmpState(bench);
	assert.ok(state.mappings.some((m) => m.externalPort === moved.externalPort && m.port === 41002), state.text);
	assert.equal(mappingOn(await upnpState(bench), "tcp", 41050).address, OTHER_HOST);
});

test("lifetime 0 deletes one mapping; far can no longer reach it", async () => {
	const d = await natpmpc(bench, ["-a", "0", "41000", "tcp", "0"]);
	assert.equal(d.code, 0, d.text);
	const state = await pmpState(bench);
	assert.ok(!state.mappings.some((m) => m.proto === "tcp" && m.port === 41000), state.text);
	assert.equal(mappingOn(await upnpState(bench), "tcp", 41000), undefined);
	const gone = await tcpConnect(bench, "far", wan, 41000, { seconds: 2 });
	assert.ok(!gone.ok, gone.text);
	// The raw answer: internal port echoed, external port and lifetime 0.
	const a = pmpAnswer(await one(bench, pmpMapRequest("udp", 41999, 0, 0)));
	assert.deepEqual([a.op, a.result, a.internalPort, a.externalPort, a.lifetime], [129, 0, 41999, 0, 0]);
});

test("internal port and lifetime 0 delete all of a host's mappings of that protocol, not another host's", async () => {
	const answers = await exchange(bench, [pmpMapRequest("udp", 41020, 41020, 600), pmpMapRequest("udp", 41021, 41021, 600), pmpMapRequest("tcp", 41022, 41022, 600)]);
	for (const a of answers)
		assert.equal(pmpAnswer(a).result, 0);
	const theirs = pmpAnswer(await one(bench, pmpMapRequest("udp", 41030, 41030, 600), { source: OTHER_HOST }));
	assert.equal(theirs.result, 0);
	const all = pmpAnswer(await one(bench, pmpMapRequest("udp", 0, 0, 0)));
	assert.deepEqual([all.op, all.result, all.internalPort, all.externalPort, all.lifetime], [129, 0, 0, 0, 0]);
	const state = await pmpState(bench);
	assert.ok(!state.mappings.some((m) => m.proto === "udp" && m.address === LAN_HOST), state.text);
	assert.ok(state.mappings.some((m) => m.proto === "tcp" && m.port === 41022), `TCP stays:\n${state.text}`);
	assert.ok(state.mappings.some((m) => m.proto === "udp" && m.address === OTHER_HOST && m.port === 41030), `the other host's stays:\n${state.text}`);
});

test("the permission rules: ports below 1024 refused (result 2), as UPnP's defaults; a deny rule refuses", async () => {
	const low = pmpAnswer(await one(bench, pmpMapRequest("tcp", 80, 80, 600)));
	assert.deepEqual([low.op, low.result, low.externalPort, low.lifetime], [130, 2, 0, 0]);
	const r = await natpmpc(bench, ["-a", "80", "80", "tcp", "600"]);
	assert.doesNotMatch(r.stdout, /^Mapped public port/m, r.text);
	await router(bench, `upnp deny 1024-65535 ${LAN_HOST} 42000-42010`);
	try {
		const denied = pmpAnswer(await one(bench, pmpMapRequest("udp", 42005, 42005, 600)));
		assert.equal(denied.result, 2);
		const state = await pmpState(bench);
		assert.ok(state.counters.refused >= 2, state.text);
		assert.ok(!state.mappings.some((m) => m.port === 42005), state.text);
	}
	finally {
		await router(bench, "upnp rule del 1");
	}
	// A low suggested port for a high internal one: given a port the rules allow instead.
	const moved = pmpAnswer(await one(bench, pmpMapRequest("udp", 42006, 53, 600)));
	assert.equal(moved.result, 0);
	assert.ok(moved.externalPort >= 1024, `${moved.externalPort}`);
});

test("unsupported version (1) and opcode (5) are answered; answers and short requests are dropped", async () => {
	const [v, op, resp, short] = await exchange(bench, [Buffer.from([1, 0]), Buffer.from([0, 9, 0, 0]), Buffer.from([0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0, 1, 0, 0])], { wait: 1 });
	// Version 1 is neither NAT-PMP nor PCP: PCP is on, so PCP's UNSUPP_VERSION naming version 2.
	assert.ok(v && v[0] === 2 && v[3] === 1, v?.toString("hex"));
	const o = pmpAnswer(op);
	assert.deepEqual([o.version, o.op, o.result, o.length], [0, 137, 5, 8]);
	assert.equal(resp, null);
	assert.equal(short, null);
	// With PCP off, a version other than 0 gets NAT-PMP's "unsupported version".
	await router(bench, "pcp off");
	try {
		const a = pmpAnswer(await one(bench, Buffer.from([2, 0, 0, 0, 0, 0, 0, 0])));
		assert.deepEqual([a.version, a.op, a.result, a.length], [0, 128, 1, 8]);
	}
	finally {
		await router(bench, "pcp on");
	}
});

test("a mapping made by UPnP is one NAT-PMP's client cannot take, and UPnP's client lists NAT-PMP's (GetGenericPortMappingEntry)", async () => {
	const add = mappedLine(await natpmpc(bench, ["-a", "41040", "41040", "udp", "900"]));
	assert.equal(add.externalPort, 41040);
	const list = await upnpc(bench, ["-l"]);
	assert.match(list.stdout, new RegExp(`^\\s*\\d+ UDP\\s+41040->${re(LAN_HOST)}:41040\\s+'NAT-PMP' '' \\d+$`, "m"), list.text);
	// UPnP's own from another host on 41060: NAT-PMP's request for it gets another port.
	const other = await soap(bench, "AddPortMapping", mappingArgs({ external: 41060, proto: "UDP", client: OTHER_HOST, description: "upnp other" }), { source: OTHER_HOST });
	assert.equal(other.status, 200);
	const a = pmpAnswer(await one(bench, pmpMapRequest("udp", 41061, 41060, 600)));
	assert.equal(a.result, 0);
	assert.notEqual(a.externalPort, 41060);
	// And UPnP's DeletePortMapping from the owner removes a NAT-PMP mapping like its own.
	const del = await upnpc(bench, ["-d", "41040", "UDP"]);
	assert.match(del.stdout, /^UPNP_DeletePortMapping\(\) returned : 0$/m, del.text);
	assert.ok(!(await pmpState(bench)).mappings.some((m) => m.externalPort === 41040 && m.proto === "udp"));
});

test("a host may hold 16 mappings, the 17th out of resources (4); so is one past UPnP's limit in total", async () => {
	await one(bench, pmpMapRequest("tcp", 0, 0, 0), { source: OTHER_HOST });
	await one(bench, pmpMapRequest("udp", 0, 0, 0), { source: OTHER_HOST });
	const requests = [];
	for (let i = 0; i < 17; i++)
		requests.push(pmpMapRequest("tcp", 43000 + i, 43000 + i, 600));
	const answers = [];
	// Below the per-host rate: in two batches a second apart.
	answers.push(...await exchange(bench, requests.slice(0, 9), { source: OTHER_HOST }));
	await new Promise((r) => setTimeout(r, 1100));
	answers.push(...await exchange(bench, requests.slice(9), { source: OTHER_HOST }));
	const results = answers.map((a) => pmpAnswer(a).result);
	const held = (await pmpState(bench)).mappings.filter((m) => m.address === OTHER_HOST).length;
	assert.equal(held, 16, JSON.stringify(results));
	assert.equal(results[16], 4, JSON.stringify(results));
	await one(bench, pmpMapRequest("tcp", 0, 0, 0), { source: OTHER_HOST });
	// The cap in total is UPnP's mapping limit: at it, a new mapping is out of resources.
	assert.equal(pmpAnswer(await one(bench, pmpMapRequest("udp", 43100, 43100, 600), { source: OTHER_HOST })).result, 0);
	const total = (await upnpState(bench)).mappings.length;
	await router(bench, `upnp limit mappings ${total}`);
	try {
		const full = pmpAnswer(await one(bench, pmpMapRequest("udp", 43101, 43101, 600), { source: OTHER_HOST }));
		assert.equal(full.result, 4, `at the limit of ${total}`);
	}
	finally {
		await router(bench, "upnp limit mappings 64");
		await one(bench, pmpMapRequest("udp", 0, 0, 0), { source: OTHER_HOST });
	}
});

test("nothing answers on the WAN side", async () => {
	const r = await bench.exec("far", [PY, PROBE, "send", FAR_HOST, wan, "1", "0000"], { timeout: 10000 });
	assert.equal(JSON.parse(r.stdout.trim()).answer, null, r.stdout + r.stderr);
	const n = await bench.exec("wan", [PY, PROBE, "send", "0.0.0.0", wan, "1", "0000"], { timeout: 10000 });
	assert.equal(JSON.parse(n.stdout.trim()).answer, null, n.stdout + n.stderr);
});

test("a flood from one LAN host is cut at its rate; another host is still answered", async () => {
	const before = (await pmpState(bench)).counters.rateLimited;
	const flood = bench.exec("lan", [PY, PROBE, "flood", OTHER_HOST, ROUTER_LAN, "3000", "0000"], { timeout: 60000 });
	const answers = [];
	for (let i = 0; i < 5; i++)
		answers.push(await one(bench, pmpAddressRequest(), { wait: 2 }));
	const f = await flood;
	const state = await pmpState(bench);
	assert.ok(answers.filter(Boolean).length >= 4, `the other host answered ${answers.filter(Boolean).length} of 5\n${f.stdout}`);
	assert.ok(state.counters.rateLimited > before, state.text);
	const summary = JSON.parse(f.stdout.trim());
	assert.ok(summary.answers < summary.sent / 2, `the flooder got ${summary.answers} answers of ${summary.sent}`);
});

test("a WAN address change is announced to 224.0.0.1:5350 with the new address; the epoch goes on", async () => {
	const before = (await pmpState(bench)).epoch;
	const listener = bench.track("lan", [PY, "-u", PROBE, "listen", "20"]);
	await listener.waitFor(/^"ready"$/m, 5000);
	const moved = "198.51.100.77";
	await router(bench, `set wan static ${moved}/24 198.51.100.1`);
	const m = await listener.waitFor(/^\{"from": "192\.168\.4\.1:5351", "data": "(0080[0-9a-f]{20})"\}$/m, 10000);
	const a = pmpAnswer(Buffer.from(m[1], "hex"));
	assert.equal(a.external, moved);
	assert.equal(a.result, 0);
	assert.ok(a.epoch >= before, `epoch ${a.epoch} after ${before}`);
	// PCP's unsolicited ANNOUNCE too: version 2, opcode 128.
	await listener.waitFor(/"data": "0280/m, 5000);
	await listener.stop();
	const r = await natpmpc(bench, []);
	assert.match(r.stdout, new RegExp(`^Public IP address : ${re(moved)}$`, "m"), r.text);
	await router(bench, "set wan dhcp");
});

test("natpmp off: no answer to NAT-PMP, its mappings gone; on again answers; settings saved", async () => {
	const a = pmpAnswer(await one(bench, pmpMapRequest("udp", 41070, 41070, 600)));
	assert.equal(a.result, 0);
	await router(bench, "natpmp off");
	await router(bench, "pcp off");
	assert.equal(await one(bench, pmpAddressRequest(), { wait: 1 }), null);
	let state = await pmpState(bench);
	assert.equal(state.natpmp, false);
	assert.equal(state.mappings.length, 0, state.text);
	const config = await router(bench, "show config");
	assert.match(config, /^natpmp off$/m);
	assert.match(config, /^pcp off$/m);
	await router(bench, "natpmp on");
	await router(bench, "pcp on");
	state = await pmpState(bench);
	assert.equal(state.listening, `${ROUTER_LAN}:5351`, state.text);
	assert.equal(pmpAnswer(await one(bench, pmpAddressRequest())).result, 0);
});
