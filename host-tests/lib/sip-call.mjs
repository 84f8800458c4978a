// A call through the router with sipp at both ends (Debian sip-tester): a
// phone in lan (192.168.4.2:5060, its private address everywhere, as a phone
// without STUN writes it) calls a callee in far (203.0.113.10:5060), with
// media endpoints (host-tests/sip/udp-peer.py) on the ports each SDP offers.
// Shared by the SIP end-to-end tests and the hostile run.
import { LAN_HOST, FAR_HOST } from "./bench.mjs";
import { sipp, waitForMessage, hangUp, mediaPeer, parseSdp } from "./sip.mjs";
import assert from "node:assert/strict";

export const PHONE = `${LAN_HOST}:5060`;
export const CALLEE = `${FAR_HOST}:5060`;

/*
 * A call from the phone in lan to the callee in far, up to the ACK:
 * sipp at both ends and media endpoints on the ports each SDP offers.
 * `lanPorts`/`farPorts` are the media sockets (RTP, RTCP per stream).
 */
export async function startCall(bench, { callId, av = false, transport = "udp", lanPorts, farPorts }) {
	const keys = (ports) => av ? { audio_port: ports[0], video_port: ports[2], video_rtcp: ports[3] } : { audio_port: ports[0] };
	const call = { procs: [] };
	try {
		call.lanMedia = await mediaPeer(bench, "lan", lanPorts.map((p) => `${LAN_HOST}:${p}`));
		call.procs.push(call.lanMedia);
		call.farMedia = await mediaPeer(bench, "far", farPorts.map((p) => `${FAR_HOST}:${p}`));
		call.procs.push(call.farMedia);
		call.callee = await sipp(bench, "far", { scenario: av ? "uas-answer-av.xml" : "uas-answer.xml", local: CALLEE, transport, keys: keys(farPorts), name: `callee-${callId}` });
		call.procs.push(call.callee);
		call.phone = await sipp(bench, "lan", { scenario: av ? "uac-call-av.xml" : "uac-call.xml", local: PHONE, remote: CALLEE, transport, keys: keys(lanPorts), callId, name: `phone-${callId}` });
		call.procs.push(call.phone);
		await waitForMessage(call.callee, (m) => m.dir === "received" && m.method === "ACK", "ACK", 8000);
		// What each end received: the INVITE at the callee, the 200 at the phone.
		call.invite = call.callee.messages().find((m) => m.dir === "received" && m.method === "INVITE");
		call.ok = await waitForMessage(call.phone, (m) => m.dir === "received" && m.status === 200 && m.method === "INVITE", "200 to the INVITE", 3000);
		call.offer = parseSdp(call.invite.body);
		call.answer = parseSdp(call.ok.body);
	}
	catch (e) {
		await stopCall(call);
		throw e;
	}
	return call;
}

// Hang up (the phone sends BYE); both sipp must finish the scenario.
export async function endCall(bench, call, callId, transport = "udp") {
	await hangUp(bench, "lan", PHONE, callId, transport);
	const [phoneCode, calleeCode] = await Promise.all([call.phone.finish(10000), call.callee.finish(10000)]);
	assert.equal(phoneCode, 0, call.phone.report());
	assert.equal(calleeCode, 0, call.callee.report());
}

export async function stopCall(call) {
	for (const proc of call.procs.reverse())
		await proc.stop();
}

// Send `count` tagged packets from far's socket i to host:port; what arrived in lan.
export async function farToLan(call, i, host, port, tag, { count = 5, want = 3, ms = 2000 } = {}) {
	await call.farMedia.send(i, host, port, tag, count);
	return call.lanMedia.waitGot(tag, want, ms);
}

