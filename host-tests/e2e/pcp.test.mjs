// PCP (RFC 6887) version 2 with a client written here from the RFC's
// message formats (host-tests/lib/pmp.mjs builds and reads them; the
// datagrams go through pmp-probe.py): ANNOUNCE, MAP with its nonce,
// suggested port and address, renewal and deletion, PREFER_FAILURE,
// THIRD_PARTY, FILTER, PEER for an existing flow (kept past the flow's own
// timeout), version negotiation with NAT-PMP both ways, every result code
// the server gives, conflicts with UPnP, the announcement after a restart
// with the epoch starting again, and settings kept across it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startBench, sleep, ROUTER_LAN, LAN_HOST, FAR_HOST } from "../lib/bench.mjs";
import { re, router, upnpState, mappingOn, tcpServer, tcpConnect, addOtherHost, OTHER_HOST, PY, soap, mappingArgs } from "../lib/upnp.mjs";
import {
	exchange, one, pmpAnswer, pmpMapRequest, pmpState, udpEcho, PROBE, PCP, pcpHeader, pcpMap, pcpAnswer, pcpOption, mapped,
	THIRD_PARTY, PREFER_FAILURE, FILTER,
} from "../lib/pmp.mjs";

let bench;
let wan;
let tcp; // TCP server in lan on 44000
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	await addOtherHost(bench);
	tcp = await tcpServer(bench, "lan", LAN_HOST, 44000);
});
after(async () => {
	await tcp?.stop();
	await bench?.stop();
});

const nonce = () => crypto.randomBytes(12);

// One request that must be answered. The tests send from LAN_HOST back to back, and on a
// quick machine may pass its 20 requests a second: then, and only then, once more a second on.
async function pcp(datagram, options) {
	let answer = await one(bench, datagram, options);
	if (answer === null) {
		await sleep(1100);
		answer = await one(bench, datagram, options);
	}
	return pcpAnswer(answer);
}

test("ANNOUNCE: success, lifetime 0, the epoch", async () => {
	const a = await pcp(pcpHeader(0, 0));
	assert.deepEqual([a.version, a.r, a.op, a.result, a.lifetime, a.length], [2, 1, 0, PCP.SUCCESS, 0, 24]);
	const state = await pmpState(bench);
	assert.ok(state.epoch >= a.epoch, state.text);
});

test("MAP: the suggested port, the nonce echoed, the external address; far connects; renew; wrong nonce refused; delete", async () => {
	const n = nonce();
	const a = await pcp(pcpMap({ nonce: n, internalPort: 44000, suggestedPort: 44000, lifetime: 3600 }));
	assert.deepEqual([a.version, a.op, a.result, a.nonce, a.protocol, a.internalPort, a.externalPort, a.externalAddress, a.lifetime],
		[2, 1, PCP.SUCCESS, n.toString("hex"), 6, 44000, 44000, wan, 3600]);
	let state = await pmpState(bench);
	assert.ok(state.mappings.some((m) => m.via === "pcp" && m.nonce === n.toString("hex") && m.externalPort === 44000 && m.address === LAN_HOST), state.text);
	const upnp = mappingOn(await upnpState(bench), "tcp", 44000);
	assert.ok(upnp && upnp.description === `PCP ${n.toString("hex")}` && upnp.owner === LAN_HOST, JSON.stringify(upnp));
	const c = await tcpConnect(bench, "far", wan, 44000);
	assert.ok(c.ok, c.text);
	assert.match(c.text, new RegExp(`^hello from ${re(LAN_HOST)}:44000 to ${re(FAR_HOST)}:\\d+$`, "m"));

	// Renew: same nonce, a different suggested port: the same mapping, the new lifetime.
	const renew = await pcp(pcpMap({ nonce: n, internalPort: 44000, suggestedPort: 45000, lifetime: 7200 }));
	assert.deepEqual([renew.result, renew.externalPort, renew.lifetime], [PCP.SUCCESS, 44000, 7200]);
	// Lifetimes are held to 120..86400 s.
	const short = await pcp(pcpMap({ nonce: n, internalPort: 44000, lifetime: 5 }));
	assert.equal(short.lifetime, 120);
	const long = await pcp(pcpMap({ nonce: n, internalPort: 44000, lifetime: 1000000 }));
	assert.equal(long.lifetime, 86400);

	// Another nonce may neither renew nor delete it.
	const thief = await pcp(pcpMap({ nonce: nonce(), internalPort: 44000, lifetime: 3600 }));
	assert.equal(thief.result, PCP.NOT_AUTHORIZED);
	const badDelete = await pcp(pcpMap({ nonce: nonce(), internalPort: 44000, lifetime: 0 }));
	assert.equal(badDelete.result, PCP.NOT_AUTHORIZED);
	state = await pmpState(bench);
	assert.ok(state.mappings.some((m) => m.externalPort === 44000), state.text);

	const del = await pcp(pcpMap({ nonce: n, internalPort: 44000, lifetime: 0 }));
	assert.deepEqual([del.result, del.lifetime], [PCP.SUCCESS, 0]);
	state = await pmpState(bench);
	assert.ok(!state.mappings.some((m) => m.externalPort === 44000), state.text);
	const gone = await tcpConnect(bench, "far", wan, 44000, { seconds: 2 });
	assert.ok(!gone.ok, gone.text);
});

test("a UPnP mapping and a PCP request for the same port: PCP gets another port, or CANNOT_PROVIDE_EXTERNAL with PREFER_FAILURE; UPnP cannot take PCP's (718)", async () => {
	const other = await soap(bench, "AddPortMapping", mappingArgs({ external: 44100, client: OTHER_HOST, description: "upnp other" }), { source: OTHER_HOST });
	assert.equal(other.status, 200);
	const moved = await pcp(pcpMap({ nonce: nonce(), internalPort: 44100, suggestedPort: 44100 }));
	assert.equal(moved.result, PCP.SUCCESS);
	assert.notEqual(moved.externalPort, 44100);
	const strict = await pcp(pcpMap({ nonce: nonce(), internalPort: 44101, suggestedPort: 44100, options: [PREFER_FAILURE()] }));
	assert.equal(strict.result, PCP.CANNOT_PROVIDE_EXTERNAL);
	assert.equal(strict.lifetime, 30, "a short error");
	// PREFER_FAILURE with a free port: exactly that port.
	const exact = await pcp(pcpMap({ nonce: nonce(), internalPort: 44102, suggestedPort: 44102, options: [PREFER_FAILURE()] }));
	assert.deepEqual([exact.result, exact.externalPort], [PCP.SUCCESS, 44102]);
	// Another external address than ours, with PREFER_FAILURE.
	const elsewhere = await pcp(pcpMap({ nonce: nonce(), internalPort: 44103, suggestedAddress: "198.51.100.254", options: [PREFER_FAILURE()] }));
	assert.equal(elsewhere.result, PCP.CANNOT_PROVIDE_EXTERNAL);
	// Without it, the address is a hint: ours is given.
	const hint = await pcp(pcpMap({ nonce: nonce(), internalPort: 44104, suggestedAddress: "198.51.100.254" }));
	assert.deepEqual([hint.result, hint.externalAddress], [PCP.SUCCESS, wan]);
	// UPnP from the other host on PCP's port: a conflict.
	const upnp = await soap(bench, "AddPortMapping", mappingArgs({ external: 44102, client: OTHER_HOST, description: "take" }), { source: OTHER_HOST });
	assert.equal(upnp.fault?.code, 718, JSON.stringify(upnp.answer));
});

test("THIRD_PARTY: refused in secure mode; with secure mode off, a mapping for another LAN host", async () => {
	const refused = await pcp(pcpMap({ nonce: nonce(), internalPort: 44200, options: [THIRD_PARTY(OTHER_HOST)] }));
	assert.equal(refused.result, PCP.NOT_AUTHORIZED);
	assert.equal(refused.lifetime, 1800, "a long error");
	await router(bench, "upnp secure off");
	try {
		const a = await pcp(pcpMap({ nonce: nonce(), internalPort: 44200, suggestedPort: 44200, options: [THIRD_PARTY(OTHER_HOST)] }));
		assert.deepEqual([a.result, a.externalPort], [PCP.SUCCESS, 44200]);
		const state = await pmpState(bench);
		assert.ok(state.mappings.some((m) => m.externalPort === 44200 && m.address === OTHER_HOST), state.text);
		// A third party off the LAN, never.
		const far = await pcp(pcpMap({ nonce: nonce(), internalPort: 44201, options: [THIRD_PARTY(FAR_HOST)] }));
		assert.equal(far.result, PCP.NOT_AUTHORIZED);
	}
	finally {
		await router(bench, "upnp secure on");
	}
});

test("FILTER: one remote host is kept on the mapping; two are EXCESSIVE_REMOTE_PEERS", async () => {
	const a = await pcp(pcpMap({ nonce: nonce(), internalPort: 44000, suggestedPort: 44300, options: [FILTER(128, 0, FAR_HOST)] }));
	assert.deepEqual([a.result, a.externalPort], [PCP.SUCCESS, 44300]);
	const state = await pmpState(bench);
	assert.ok(state.mappings.some((m) => m.externalPort === 44300 && m.remote === FAR_HOST), state.text);
	const c = await tcpConnect(bench, "far", wan, 44300);
	assert.ok(c.ok, c.text);
	const two = await pcp(pcpMap({ nonce: nonce(), internalPort: 44301, options: [FILTER(128, 0, FAR_HOST), FILTER(128, 0, "203.0.113.11")] }));
	assert.equal(two.result, PCP.EXCESSIVE_REMOTE_PEERS);
});

test("result codes: UNSUPP_VERSION, MALFORMED_REQUEST, UNSUPP_OPCODE, ADDRESS_MISMATCH, NOT_AUTHORIZED, UNSUPP_PROTOCOL, options", async () => {
	const v = await pcp(pcpHeader(0, 0, LAN_HOST, { version: 3 }));
	assert.deepEqual([v.version, v.result], [2, PCP.UNSUPP_VERSION], "the version we speak");
	const odd = await pcp(Buffer.concat([pcpHeader(0, 0), Buffer.alloc(2)]));
	assert.equal(odd.result, PCP.MALFORMED_REQUEST);
	const shortMap = await pcp(Buffer.concat([pcpHeader(1, 3600), Buffer.alloc(12)]));
	assert.equal(shortMap.result, PCP.MALFORMED_REQUEST);
	const port0 = await pcp(pcpMap({ nonce: nonce(), internalPort: 0 }));
	assert.equal(port0.result, PCP.MALFORMED_REQUEST);
	const op = await pcp(pcpHeader(5, 0));
	assert.deepEqual([op.op, op.result], [5, PCP.UNSUPP_OPCODE]);
	const mismatch = await pcp(pcpMap({ nonce: nonce(), internalPort: 44400, client: "192.168.4.99" }));
	assert.equal(mismatch.result, PCP.ADDRESS_MISMATCH);
	const low = await pcp(pcpMap({ nonce: nonce(), internalPort: 22, suggestedPort: 22 }));
	assert.equal(low.result, PCP.NOT_AUTHORIZED, "the 1024-port rule");
	const sctp = await pcp(pcpMap({ nonce: nonce(), proto: 132, internalPort: 44400 }));
	assert.equal(sctp.result, PCP.UNSUPP_PROTOCOL);
	const unknown = await pcp(pcpMap({ nonce: nonce(), internalPort: 44400, options: [pcpOption(99)] }));
	assert.equal(unknown.result, PCP.UNSUPP_OPTION);
	const overrun = Buffer.concat([pcpMap({ nonce: nonce(), internalPort: 44400 }), Buffer.from([2, 0, 0, 40])]);
	assert.equal((await pcp(overrun)).result, PCP.MALFORMED_OPTION);
	// An error answer carries the request's MAP body back (the nonce).
	const n = nonce();
	const echoed = await pcp(pcpMap({ nonce: n, internalPort: 22 }));
	assert.equal(echoed.nonce, n.toString("hex"));
	// Longer than 1100 bytes: MALFORMED_REQUEST, with no more than the header and MAP body back.
	const long = await one(bench, Buffer.concat([pcpMap({ nonce: nonce(), internalPort: 44400 }), Buffer.alloc(1044)]));
	assert.deepEqual([pcpAnswer(long).result, long.length], [PCP.MALFORMED_REQUEST, 60]);
	// Dropped, not answered: one byte, an answer (R set).
	const dropped = await exchange(bench, [Buffer.from([2]), Buffer.concat([Buffer.from([2, 0x81]), Buffer.alloc(22)])], { wait: 1 });
	assert.deepEqual(dropped, [null, null]);
});

test("400 random datagrams (versions 0, 2 and others, every length to 120 bytes): each answered or dropped, and the server goes on", async () => {
	const junk = [];
	for (let i = 0; i < 400; i++) {
		const b = crypto.randomBytes(1 + (i % 120));
		b[0] = [0, 2, 2, 1, 0xff][i % 5];
		if (i % 3 === 0 && b.length >= 24)
			mapped(OTHER_HOST).copy(b, 8);   // a client address that matches, to get further in
		junk.push(b);
	}
	// From OTHER_HOST, 20 at a time a second apart (under its rate), not waiting for answers.
	for (let i = 0; i < junk.length; i += 20) {
		const r = await bench.exec("lan", [PY, PROBE, "send", OTHER_HOST, ROUTER_LAN, "0.05", ...junk.slice(i, i + 20).map((b) => b.toString("hex"))], { timeout: 20000 });
		assert.equal(r.code, 0, r.stderr);
		await sleep(1000);
	}
	const a = await pcp(pcpHeader(0, 0));
	assert.equal(a.result, PCP.SUCCESS, "still answering");
	assert.equal(pmpAnswer(await one(bench, Buffer.from([0, 0]))).external, wan);
	await one(bench, pmpMapRequest("tcp", 0, 0, 0), { source: OTHER_HOST });
	await one(bench, pmpMapRequest("udp", 0, 0, 0), { source: OTHER_HOST });
});

test("NO_RESOURCES: a host's sixteenth mapping is its last", async () => {
	const theirs = [];
	for (let i = 0; i < 17; i++)
		theirs.push(pcpMap({ nonce: nonce(), internalPort: 44500 + i, client: OTHER_HOST }));
	const answers = [...await exchange(bench, theirs.slice(0, 9), { source: OTHER_HOST })];
	await sleep(1100);   // within the per-host rate
	answers.push(...await exchange(bench, theirs.slice(9), { source: OTHER_HOST }));
	const results = answers.map((a) => pcpAnswer(a).result);
	const held = (await pmpState(bench)).mappings.filter((m) => m.address === OTHER_HOST).length;
	assert.equal(held, 16, JSON.stringify(results));
	assert.equal(results[16], PCP.NO_RESOURCES, JSON.stringify(results));
	// NAT-PMP's all-delete clears them (the mappings are shared).
	await one(bench, pmpMapRequest("tcp", 0, 0, 0), { source: OTHER_HOST });
	await one(bench, pmpMapRequest("udp", 0, 0, 0), { source: OTHER_HOST });
});

test("version negotiation: NAT-PMP's request is answered as NAT-PMP; with NAT-PMP off, PCP's UNSUPP_VERSION; with PCP off, NAT-PMP's", async () => {
	const a = pmpAnswer(await one(bench, Buffer.from([0, 0])));
	assert.deepEqual([a.version, a.op, a.result, a.external], [0, 128, 0, wan]);
	await router(bench, "natpmp off");
	try {
		const p = await pcp(Buffer.from([0, 0]));
		assert.deepEqual([p.version, p.result], [2, PCP.UNSUPP_VERSION]);
	}
	finally {
		await router(bench, "natpmp on");
	}
	await router(bench, "pcp off");
	try {
		const n = pmpAnswer(await one(bench, pcpHeader(0, 0)));
		assert.deepEqual([n.version, n.result, n.length], [0, 1, 8]);
	}
	finally {
		await router(bench, "pcp on");
	}
});

test("PEER: an existing UDP flow's port is kept for its peer past the flow's timeout; no flow, CANNOT_PROVIDE_EXTERNAL", async () => {
	const echo = await udpEcho(bench, "far", FAR_HOST, 44600);
	const peer = (internalPort, n, lifetime = 600) => {
		const b = Buffer.alloc(56);
		n.copy(b, 0);
		b[12] = 17;
		b.writeUInt16BE(internalPort, 16);
		b.writeUInt16BE(44600, 36);
		mapped(FAR_HOST).copy(b, 40);
		return Buffer.concat([pcpHeader(2, lifetime), b]);
	};
	try {
		const none = await pcp(peer(44601, nonce()));
		assert.equal(none.result, PCP.CANNOT_PROVIDE_EXTERNAL);
		// A flow: LAN_HOST:44601 -> far:44600, answered.
		await router(bench, "set nat timeout udp 3 force");
		const sock = bench.track("lan", [PY, "-u", "-c", `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${LAN_HOST}", 44601))
s.sendto(b"hello", ("${FAR_HOST}", 44600))
print(s.recvfrom(2048)[0].decode(), flush=True)
s.settimeout(30)
while True:
    data, a = s.recvfrom(2048)
    print("got", a[0], data.decode(), flush=True)
`]);
		const m = await sock.waitFor(/^echo (\S+) hello$/m, 5000);
		assert.equal(m[1], wan);
		const n = nonce();
		const a = await pcp(peer(44601, n));
		assert.deepEqual([a.op, a.result, a.lifetime, a.externalAddress, a.remotePort, a.remoteAddress], [2, PCP.SUCCESS, 600, wan, 44600, FAR_HOST]);
		const state = await pmpState(bench);
		const kept = state.mappings.find((x) => x.via === "peer" && x.port === 44601);
		assert.ok(kept && kept.externalPort === a.externalPort && kept.remote === FAR_HOST, state.text);
		// The flow's own timeout (3 s) passes; far still reaches the host on that port.
		await sleep(5000);
		const flows = await router(bench, "show nat flows");
		assert.doesNotMatch(flows, new RegExp(`udp ${re(LAN_HOST)}:44601 `), flows);
		await bench.exec("far", [PY, "-c", `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("${FAR_HOST}", 44600 + 1)); s.sendto(b"still here", ("${wan}", ${a.externalPort}))`]);
		await sock.waitFor(new RegExp(`^got ${re(FAR_HOST)} still here$`, "m"), 5000);
		// Another nonce may not delete it; its own may.
		assert.equal((await pcp(peer(44601, nonce(), 0))).result, PCP.NOT_AUTHORIZED);
		assert.equal((await pcp(peer(44601, n, 0))).result, PCP.SUCCESS);
		assert.ok(!(await pmpState(bench)).mappings.some((x) => x.via === "peer"));
		await sock.stop();
	}
	finally {
		await router(bench, "set nat timeout udp 300");
		await echo.stop();
	}
});

test("restart: the epoch starts again, ANNOUNCE and NAT-PMP's address go to 224.0.0.1:5350; natpmp off kept when saved", async () => {
	await router(bench, "natpmp off");
	await router(bench, "natpmp on");
	await router(bench, "save");
	const before = (await pmpState(bench)).epoch;
	const listener = bench.track("lan", [PY, "-u", PROBE, "listen", "30"]);
	await listener.waitFor(/^"ready"$/m, 5000);
	const from = bench.console.text.length;
	bench.console.send("restart");
	await bench.console.waitFor(/Type help for commands\.\nrouter> /, 15000, { from });
	const m = await listener.waitFor(/^\{"from": "192\.168\.4\.1:5351", "data": "(0280[0-9a-f]{44})"\}$/m, 15000);
	const a = pcpAnswer(Buffer.from(m[1], "hex"));
	assert.deepEqual([a.version, a.op, a.result], [2, 0, PCP.SUCCESS]);
	assert.ok(a.epoch <= before, `the epoch starts again: ${a.epoch} after ${before}`);
	// NAT-PMP's announcement of the address at start, once the WAN has one again.
	const pmp = await listener.waitFor(/^\{"from": "192\.168\.4\.1:5351", "data": "(0080[0-9a-f]{20})"\}$/m, 20000);
	assert.equal(pmpAnswer(Buffer.from(pmp[1], "hex")).external, await bench.wanAddress(30000));
	await listener.stop();
	let state = await pmpState(bench);
	assert.equal(state.listening, `${ROUTER_LAN}:5351`, state.text);
	assert.equal(state.mappings.length, 0, "mappings are not kept across a restart");

	// natpmp off, saved: still off after a restart, PCP still answering.
	await router(bench, "natpmp off");
	await router(bench, "save");
	const again = bench.console.text.length;
	bench.console.send("restart");
	await bench.console.waitFor(/Type help for commands\.\nrouter> /, 15000, { from: again });
	state = await pmpState(bench);
	assert.deepEqual([state.natpmp, state.pcp], [false, true], state.text);
	assert.match(await router(bench, "show config"), /^natpmp off$/m);
	assert.equal((await pcp(pcpHeader(0, 0))).result, PCP.SUCCESS);
	await router(bench, "natpmp on");
});
