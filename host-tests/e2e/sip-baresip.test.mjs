// A real user agent through the SIP ALG: baresip (Debian baresip-core) in
// lan calls baresip in far by address (no registrar), both answering at
// once, with a 440 Hz tone as the microphone (ausine) and G.711. baresip's
// own RTP counters, printed when the call ends, say how many packets each
// end sent and received: with the ALG both receive a steady stream; with it
// off, far's audio goes to 192.168.4.2, an address that means nothing on
// the Internet, and the phone in lan hears nothing (one-way audio, the
// seeds' complaint). Each agent quits by itself after 40 s at the latest.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, sleep, LAN_HOST, FAR_HOST, accepted } from "../lib/bench.mjs";
import { baresip, showSipalg, hasSipalg, re, requireTools, BARESIP } from "../lib/sip.mjs";

let bench;
let wan;
before(async () => {
	requireTools(BARESIP);
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	assert.ok(await hasSipalg(bench), "the router has no sipalg command");
});
after(async () => {
	await bench?.stop();
});

const router = (line) => accepted(bench, line);

/*
 * One call, lan -> far, held for `hold` ms of media, hung up by the phone.
 * Resolves with both agents (their output kept) once both report the end.
 */
async function call(hold, check) {
	const agents = [];
	try {
		const callee = await baresip(bench, "far", { addr: FAR_HOST, user: "callee", rtpPorts: "50200-50299" });
		agents.push(callee);
		const phone = await baresip(bench, "lan", { addr: LAN_HOST, user: "phone", rtpPorts: "40200-40299" });
		agents.push(phone);
		phone.command(`/dial sip:callee@${FAR_HOST}`);
		await phone.waitFor(/Call established: sip:callee@/, 10000);
		await callee.waitFor(/Call established: sip:phone@/, 5000);
		await sleep(hold);
		await check?.(phone, callee);
		phone.command("/hangup");
		await phone.waitFor(/audio\s+Transmit:\s+Receive:\s*\npackets:\s+\d+\s+\d+/, 5000);
		await callee.waitFor(/audio\s+Transmit:\s+Receive:\s*\npackets:\s+\d+\s+\d+/, 5000);
		return { phone, callee };
	}
	finally {
		for (const agent of agents.reverse())
			await agent.stop();
	}
}

test("baresip in lan calls baresip in far through the ALG: established, RTP both ways, hung up cleanly", { timeout: 60000 }, async (t) => {
	let pinholes = [];
	const { phone, callee } = await call(2500, async () => {
		const state = await showSipalg(bench);
		t.diagnostic(`show sipalg during the call:\n${state.text}`);
		const dialog = state.dialogs.find((d) => d.inside === LAN_HOST && d.remote === FAR_HOST);
		assert.ok(dialog && dialog.state === "confirmed" && dialog.media.length === 1, `show sipalg lists the call:\n${state.text}`);
		pinholes = dialog.media.map((m) => m.ext);
		assert.ok(pinholes.every((port) => state.pinhole(port)), state.text);
	});
	// far saw the phone by the router's address, in From and in its RTP.
	assert.match(callee.text(), new RegExp(`answering call on line \\d+ from sip:phone@${re(wan)}`), callee.report());
	assert.match(callee.text(), new RegExp(`incoming rtp for 'audio' established, receiving from ${re(wan)}:\\d+`), callee.report());
	// and the phone received far's audio, at the address its SDP gave.
	assert.match(phone.text(), new RegExp(`incoming rtp for 'audio' established, receiving from ${re(FAR_HOST)}:\\d+`), phone.report());
	const p = phone.summary();
	const c = callee.summary();
	t.diagnostic(`RTP packets, phone: ${JSON.stringify(p)}, callee: ${JSON.stringify(c)}`);
	// 2.5 s of 20 ms packets is 125 each way; allow for the call's start.
	assert.ok(p && p.sent >= 60 && p.received >= 60, `phone: ${JSON.stringify(p)}\n${phone.report()}`);
	assert.ok(c && c.sent >= 60 && c.received >= 60, `callee: ${JSON.stringify(c)}\n${callee.report()}`);
	assert.match(phone.text(), /Call with sip:callee@\S+ terminated/);
	assert.match(callee.text(), /Call with sip:phone@\S+ terminated/);
	const afterCall = await showSipalg(bench);
	assert.equal(afterCall.dialogs.length, 0, afterCall.text);
	assert.ok(pinholes.every((port) => !afterCall.pinhole(port)), `the call's pinholes are gone:\n${afterCall.text}`);
});

test("ALG off: the same call is one-way, far's audio never reaches the phone", { timeout: 60000 }, async (t) => {
	await router("sipalg off");
	try {
		const { phone, callee } = await call(1500);
		assert.match(callee.text(), new RegExp(`answering call on line \\d+ from sip:phone@${re(LAN_HOST)}`), callee.report());
		const p = phone.summary();
		const c = callee.summary();
		t.diagnostic(`RTP packets, phone: ${JSON.stringify(p)}, callee: ${JSON.stringify(c)}`);
		assert.ok(c && c.sent >= 30 && c.received >= 30, `far sends and hears the phone: ${JSON.stringify(c)}\n${callee.report()}`);
		assert.ok(p && p.sent >= 30, `the phone sends: ${JSON.stringify(p)}`);
		assert.equal(p.received, 0, `the phone hears nothing: ${JSON.stringify(p)}\n${phone.report()}`);
	}
	finally {
		await router("sipalg on");
	}
});
