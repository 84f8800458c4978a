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
