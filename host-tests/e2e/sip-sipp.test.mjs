// The SIP ALG end to end with sipp (Debian sip-tester): a phone in lan
// (192.168.4.2, writing its own private address everywhere, as a phone
// without STUN does) calls a callee in far (203.0.113.10) through the
// router, and far calls the phone after it registered. What is checked is
// what really crossed: the messages as sipp logged them at each end, and
// RTP-like packets (host-tests/sip/udp-peer.py) sent by far to the address
// and port the phone's SDP advertised, counted where they arrive in lan.
// Nothing routes 192.168.4.0/24 from far, so a packet that arrives came
// through the router. The last test turns the ALG off and shows the call
// failing the way the seeds describe: far answers into nowhere.
//
// Each call is bounded: sipp runs with -m 1 and -timeout, the caller holds
// the call only until the test pokes it (sip-poke.py) or 15 s pass, and
// every process is stopped in `finally` and again by bench.stop().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, LAN_HOST, FAR_HOST, accepted } from "../lib/bench.mjs";
import {
	sipp, waitForMessage, hangUp, mediaPeer, showSipalg, hasSipalg, flowExternalPort,
	parseSdp, uriHostPort, viaSentBy, lengthConsistent, requireTools, SIPP, PY,
} from "../lib/sip.mjs";
import { PHONE, CALLEE, startCall, endCall, stopCall, farToLan } from "../lib/sip-call.mjs";


let bench;
let wan; // the router's WAN address
before(async () => {
	requireTools(SIPP, PY);
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	assert.ok(await hasSipalg(bench), "the router has no sipalg command");
	// On by default.
	assert.equal((await showSipalg(bench)).enabled, true);
});
after(async () => {
	await bench?.stop();
});

const router = (line) => accepted(bench, line);

// Every message one end received carries none of the phone's private address.
function assertNoPrivate(run, what) {
	for (const m of run.messages().filter((x) => x.dir === "received"))
		assert.doesNotMatch(m.text, /192\.168\.4\./, `${what}: ${m.startLine}\n${m.text}`);
}

// The checks of the rewritten INVITE as far saw it: the WAN address in Via,
// Contact, From, SDP o= and c=, and where it says so, the SIP flow's port.
async function assertInviteRewritten(call, transport) {
	const invite = call.invite;
	const via = viaSentBy(invite.header("via"));
	const contact = uriHostPort(invite.header("contact"));
	assert.equal(via?.host, wan, `Via: ${invite.text}`);
	assert.equal(contact?.host, wan, `Contact: ${invite.text}`);
	assert.equal(uriHostPort(invite.header("from"))?.host, wan, `From: ${invite.text}`);
	assert.equal(call.offer.origin, wan, `o=: ${invite.body}`);
	assert.equal(call.offer.connection, wan, `c=: ${invite.body}`);
	for (const m of call.offer.media) {
		assert.equal(m.address, wan, `${m.media} c=: ${invite.body}`);
		assert.ok(m.port > 0 && m.port < 65536, `${m.media} port: ${invite.body}`);
	}
	assert.ok(lengthConsistent(invite), `Content-Length after the rewrite:\n${invite.text}`);
	// The port far sees in Via and Contact is where the router's flow for
	// the phone's signalling really is.
	const ext = await flowExternalPort(bench, transport, PHONE, CALLEE);
	assert.ok(ext, `no ${transport} flow ${PHONE} -> ${CALLEE}:\n${await bench.console.command("show nat flows 200")}`);
	assert.equal(via.port, ext, `Via port vs the flow's external port: ${invite.header("via")}`);
	assert.equal(contact.port, ext, `Contact port vs the flow's external port: ${invite.header("contact")}`);
	// And what far sent back was turned back into the phone's own address.
	assert.deepEqual(viaSentBy(call.ok.header("via")), { host: LAN_HOST, port: 5060 }, `the 200's Via at the phone:\n${call.ok.text}`);
}

test("UDP call lan -> far: far sees the WAN address everywhere, media flows both ways through the pinholes, BYE closes them", { timeout: 60000 }, async (t) => {
	const callId = "e2e-1-udp-audio";
	const call = await startCall(bench, { callId, lanPorts: [40000, 40001], farPorts: [50000, 50001] });
	try {
		await assertInviteRewritten(call, "udp");
		assertNoPrivate(call.callee, "far");
		const [audio] = call.offer.media;
		assert.equal(call.offer.media.length, 1);

		// far sends first: nothing went out from the phone's media port yet,
		// so only the pinhole can let these in.
		const rtp = await farToLan(call, 0, audio.address, audio.port, "far-rtp");
		assert.ok(rtp.length >= 3, `RTP from far to ${audio.address}:${audio.port} (the offer's): ${rtp.length} of 5 reached lan\n${call.lanMedia.tracked.stdout}\n${call.invite.text}`);
		for (const p of rtp)
			assert.deepEqual([p.local, p.from, p.length], [`${LAN_HOST}:40000`, `${FAR_HOST}:50000`, 172]);
		const rtcp = await farToLan(call, 1, audio.rtcpAddress, audio.rtcpPort, "far-rtcp");
		assert.ok(rtcp.length >= 3, `RTCP from far to ${audio.rtcpAddress}:${audio.rtcpPort}: ${rtcp.length} of 5 reached lan`);
		assert.ok(rtcp.every((p) => p.local === `${LAN_HOST}:40001`), JSON.stringify(rtcp));

		// The phone sends to the answer's address (as the phone received
		// it); far sees it come from the port the offer advertised.
		const [farAudio] = call.answer.media;
		assert.deepEqual([farAudio.address, farAudio.port], [FAR_HOST, 50000], call.ok.text);
		await call.lanMedia.send(0, farAudio.address, farAudio.port, "lan-rtp");
		const back = await call.farMedia.waitGot("lan-rtp", 3);
		assert.ok(back.length >= 3, `RTP from lan reached far ${back.length} of 5 times`);
		assert.ok(back.every((p) => p.from === `${wan}:${audio.port}`), `symmetric RTP leaves by the advertised port ${audio.port}: ${JSON.stringify(back)}`);

		const during = await showSipalg(bench);
		t.diagnostic(`the INVITE as far received it:\n${call.invite.text}`);
		t.diagnostic(`show sipalg during the call:\n${during.text}`);
		const dialog = during.dialog(callId);
		assert.ok(dialog, `show sipalg during the call lists the dialog:\n${during.text}`);
		assert.deepEqual([dialog.inside, dialog.remote, dialog.state], [LAN_HOST, FAR_HOST, "confirmed"], dialog.line);
		assert.deepEqual(dialog.media, [{ inside: 40000, ext: audio.port }], dialog.line);
		const pinhole = during.pinhole(audio.port);
		assert.ok(pinhole, `show sipalg lists the pinhole ${audio.port}:\n${during.text}`);
		assert.deepEqual([pinhole.proto, pinhole.inside, pinhole.port], ["udp", LAN_HOST, 40000], pinhole.line);
		assert.ok(during.pinhole(audio.rtcpPort), `the RTCP port ${audio.rtcpPort} has its pinhole too:\n${during.text}`);

		await endCall(bench, call, callId);
		assertNoPrivate(call.callee, "far, BYE included");
		const bye = call.callee.messages().find((m) => m.dir === "received" && m.method === "BYE");
		assert.equal(viaSentBy(bye.header("via"))?.host, wan, bye.text);

		const afterBye = await showSipalg(bench);
		assert.equal(afterBye.dialog(callId), undefined, `the dialog is gone after BYE:\n${afterBye.text}`);
		assert.equal(afterBye.pinhole(audio.port), undefined, `the pinhole ${audio.port} is gone after BYE:\n${afterBye.text}`);
		assert.equal(afterBye.pinhole(audio.rtcpPort), undefined, `the pinhole ${audio.rtcpPort} is gone after BYE:\n${afterBye.text}`);
		const late = await farToLan(call, 0, audio.address, audio.port, "far-after-bye", { want: 1, ms: 1000 });
		assert.equal(late.length, 0, `RTP to the old external port ${audio.port} still reaches lan after BYE: ${JSON.stringify(late)}`);
	}
	finally {
		await stopCall(call);
	}
});

test("audio and video: four ports rewritten (a=rtcp too), every pinhole passes media from far", { timeout: 60000 }, async (t) => {
	const callId = "e2e-2-udp-av";
	const lanPorts = [40010, 40011, 40012, 40013];
	// The phone's own ports are taken on the WAN side (a static forward to
	// another LAN host), so the ALG must pick other external ports and
	// rewrite every m= and a=rtcp port, not just the addresses.
	await router("forward add udp 40010-40013 192.168.4.99 e2e-taken");
	let call;
	try {
		call = await startCall(bench, { callId, av: true, lanPorts, farPorts: [50010, 50011, 50012, 50013] });
		await assertInviteRewritten(call, "udp");
		assertNoPrivate(call.callee, "far");
		assert.deepEqual(call.offer.media.map((m) => m.media), ["audio", "video"], call.invite.body);
		const [audio, video] = call.offer.media;
		assert.equal(video.rtcp !== undefined, true, `the video stream keeps its a=rtcp line: ${call.invite.body}`);
		assert.equal(video.rtcpAddress, wan, `a=rtcp address: ${call.invite.body}`);
		const ports = [audio.port, audio.rtcpPort, video.port, video.rtcpPort];
		assert.equal(new Set(ports).size, 4, `four distinct external ports: ${ports}`);
		for (const port of ports)
			assert.ok(port < 40010 || port > 40013, `port ${port} is one of the phone's, which the WAN side cannot have: ${call.invite.body}`);

		const targets = [[audio.address, audio.port], [audio.rtcpAddress, audio.rtcpPort], [video.address, video.port], [video.rtcpAddress, video.rtcpPort]];
		for (const [i, [host, port]] of targets.entries()) {
			const got = await farToLan(call, i, host, port, `far-av-${i}`);
			assert.ok(got.length >= 3, `far -> ${host}:${port} (stream ${i >> 1}, ${i & 1 ? "RTCP" : "RTP"}): ${got.length} of 5 reached lan\n${call.invite.body}`);
			assert.ok(got.every((p) => p.local === `${LAN_HOST}:${lanPorts[i]}`), `arrived on ${JSON.stringify(got.map((p) => p.local))}, not ${lanPorts[i]}`);
		}
		// And both streams' RTP out to far.
		for (const [i, stream] of [[0, 0], [2, 1]]) {
			const farStream = call.answer.media[stream];
			await call.lanMedia.send(i, farStream.address, farStream.port, `lan-av-${i}`);
			const got = await call.farMedia.waitGot(`lan-av-${i}`, 3);
			assert.ok(got.length >= 3, `lan -> far ${farStream.media}: ${got.length} of 5`);
			const advertised = call.offer.media[stream].port;
			assert.ok(got.every((p) => p.from === `${wan}:${advertised}`), `${farStream.media} leaves by the advertised ${advertised}: ${JSON.stringify(got)}`);
		}
		const during = await showSipalg(bench);
		t.diagnostic(`the SDP as far received it:\n${call.invite.body}`);
		t.diagnostic(`show sipalg during the call:\n${during.text}`);
		assert.deepEqual(during.dialog(callId)?.media, [{ inside: 40010, ext: audio.port }, { inside: 40012, ext: video.port }], during.text);
		for (const port of ports)
			assert.ok(during.pinhole(port), `a pinhole for ${port}:\n${during.text}`);

		await endCall(bench, call, callId);
		const afterBye = await showSipalg(bench);
		assert.equal(afterBye.dialog(callId), undefined, afterBye.text);
		for (const port of ports)
			assert.equal(afterBye.pinhole(port), undefined, `pinhole ${port} after BYE:\n${afterBye.text}`);
		const late = await farToLan(call, 2, video.address, video.port, "far-av-after-bye", { want: 1, ms: 1000 });
		assert.equal(late.length, 0, `video pinhole ${video.port} still open after BYE`);
	}
	finally {
		if (call)
			await stopCall(call);
		await router("forward del udp 40010");
	}
});

test("inbound: the phone registers with a registrar in far, which then calls the Contact it saw and gets through", { timeout: 60000 }, async (t) => {
	const procs = [];
	try {
		// REGISTER: the registrar answers 200 with the binding for 60 s.
		const registrar = await sipp(bench, "far", { scenario: "registrar.xml", local: CALLEE, keys: { expires: 60 }, name: "registrar" });
		procs.push(registrar);
		const register = await sipp(bench, "lan", { scenario: "register.xml", local: PHONE, remote: CALLEE, keys: { expires: 60 }, callId: "e2e-3-register", name: "register" });
		procs.push(register);
		assert.equal(await register.finish(10000), 0, register.report());
		assert.equal(await registrar.finish(5000), 0, registrar.report());
		assertNoPrivate(registrar, "registrar");
		const seen = registrar.messages().find((m) => m.dir === "received" && m.method === "REGISTER");
		const binding = uriHostPort(seen.header("contact"));
		assert.equal(binding?.host, wan, `the registrar's binding: ${seen.header("contact")}`);
		const ext = await flowExternalPort(bench, "udp", PHONE, CALLEE);
		assert.equal(binding.port, ext, `binding port vs the flow's external port ${ext}`);
		// The 200 lists the binding as the registrar saw it; the phone gets its own back.
		const ok = register.messages().find((m) => m.dir === "received" && m.status === 200);
		assert.deepEqual(uriHostPort(ok.header("contact")), { host: LAN_HOST, port: 5060 }, `the 200's Contact at the phone:\n${ok.text}`);
		const state = await showSipalg(bench);
		t.diagnostic(`the REGISTER as the registrar received it:\n${seen.text}`);
		t.diagnostic(`show sipalg after the registration:\n${state.text}`);
		const registration = state.registrations.find((r) => r.ext === binding.port);
		assert.ok(registration, `show sipalg lists the registration (external port ${binding.port}):\n${state.text}`);
		assert.deepEqual([registration.inside, registration.insidePort, registration.registrar], [LAN_HOST, 5060, FAR_HOST], registration.line);
		assert.ok(registration.expires > 0 && registration.expires <= 120, registration.line);

		// The phone now waits for calls on its SIP port; far calls the binding.
		const lanMedia = await mediaPeer(bench, "lan", [`${LAN_HOST}:40020`, `${LAN_HOST}:40021`]);
		procs.push(lanMedia);
		const farMedia = await mediaPeer(bench, "far", [`${FAR_HOST}:50020`, `${FAR_HOST}:50021`]);
		procs.push(farMedia);
		const phone = await sipp(bench, "lan", { scenario: "uas-answer.xml", local: PHONE, keys: { audio_port: 40020 }, name: "phone-inbound" });
		procs.push(phone);
		const callId = "e2e-3-inbound";
		const caller = await sipp(bench, "far", { scenario: "uac-call.xml", local: CALLEE, remote: `${binding.host}:${binding.port}`, service: "phone", keys: { audio_port: 50020 }, callId, name: "caller-inbound" });
		procs.push(caller);
		const invite = await waitForMessage(phone, (m) => m.dir === "received" && m.method === "INVITE", "INVITE at the phone", 8000);
		assert.equal(uriHostPort(invite.uri)?.host, LAN_HOST, `the Request-URI is the phone's own again: ${invite.startLine}`);
		await waitForMessage(phone, (m) => m.dir === "received" && m.method === "ACK", "ACK at the phone", 8000);
		const answer = await waitForMessage(caller, (m) => m.dir === "received" && m.status === 200 && m.method === "INVITE", "200 at the caller", 3000);
		assertNoPrivate(caller, "caller in far");
		const [audio] = parseSdp(answer.body).media;
		assert.equal(audio.address, wan, answer.body);
		await farMedia.send(0, audio.address, audio.port, "far-in-rtp");
		const got = await lanMedia.waitGot("far-in-rtp", 3);
		assert.ok(got.length >= 3, `RTP from the caller to the answer's ${audio.address}:${audio.port}: ${got.length} of 5 reached the phone`);
		assert.ok(got.every((p) => p.local === `${LAN_HOST}:40020`), JSON.stringify(got));

		// far hangs up: its BYE reaches the phone, which answers it.
		await hangUp(bench, "far", CALLEE, callId);
		const [callerCode, phoneCode] = await Promise.all([caller.finish(10000), phone.finish(10000)]);
		assert.equal(callerCode, 0, caller.report());
		assert.equal(phoneCode, 0, phone.report());
		const afterBye = await showSipalg(bench);
		assert.equal(afterBye.dialog(callId), undefined, afterBye.text);
		assert.equal(afterBye.pinhole(audio.port), undefined, afterBye.text);
	}
	finally {
		for (const proc of procs.reverse())
			await proc.stop();
	}
});

// Issue 15 item 9: the callee sent RTP and RTCP before its 200 went out
// (as baresip does between the 180 and the 200), so its media ports have
// mappings already; its RTP port's external twin is taken (a static forward
// to another LAN host), so its early RTP got another external port E while
// its early RTCP kept 40031. The answer announces the pair (E, E + 1): from
// the moment the answer left, far must see the phone's RTP from E and its
// RTCP from E + 1 (before the fix, RTCP still came from 40031).
test("the callee's media: after its answer, RTP and RTCP leave by the pair its SDP announces", { timeout: 60000 }, async (t) => {
	const procs = [];
	await router("forward add udp 40030 192.168.4.99 e2e-callee-taken");
	try {
		const registrar = await sipp(bench, "far", { scenario: "registrar.xml", local: CALLEE, keys: { expires: 60 }, name: "registrar-9" });
		procs.push(registrar);
		const register = await sipp(bench, "lan", { scenario: "register.xml", local: PHONE, remote: CALLEE, keys: { expires: 60 }, callId: "e2e-9-register", name: "register-9" });
		procs.push(register);
		assert.equal(await register.finish(10000), 0, register.report());
		assert.equal(await registrar.finish(5000), 0, registrar.report());
		const seen = registrar.messages().find((m) => m.dir === "received" && m.method === "REGISTER");
		const binding = uriHostPort(seen.header("contact"));

		const lanMedia = await mediaPeer(bench, "lan", [`${LAN_HOST}:40030`, `${LAN_HOST}:40031`]);
		procs.push(lanMedia);
		const farMedia = await mediaPeer(bench, "far", [`${FAR_HOST}:50030`, `${FAR_HOST}:50031`]);
		procs.push(farMedia);
		// Early media, before any SDP: the mappings the phone's ports get.
		await lanMedia.send(0, FAR_HOST, 50030, "early-rtp", 1);
		await lanMedia.send(1, FAR_HOST, 50031, "early-rtcp", 1);
		const [earlyRtp] = await farMedia.waitGot("early-rtp", 1);
		const [earlyRtcp] = await farMedia.waitGot("early-rtcp", 1);
		assert.ok(earlyRtp && earlyRtcp, "the early packets reached far");
		t.diagnostic(`early RTP from ${earlyRtp.from}, early RTCP from ${earlyRtcp.from}`);
		assert.notEqual(earlyRtp.from, `${wan}:40030`, "40030 is taken outside: the early RTP moved");

		const phone = await sipp(bench, "lan", { scenario: "uas-answer.xml", local: PHONE, keys: { audio_port: 40030 }, name: "phone-9" });
		procs.push(phone);
		const callId = "e2e-9-callee-media";
		const caller = await sipp(bench, "far", { scenario: "uac-call.xml", local: CALLEE, remote: `${binding.host}:${binding.port}`, service: "phone", keys: { audio_port: 50030 }, callId, name: "caller-9" });
		procs.push(caller);
		await waitForMessage(phone, (m) => m.dir === "received" && m.method === "ACK", "ACK at the phone", 8000);
		const answer = await waitForMessage(caller, (m) => m.dir === "received" && m.status === 200 && m.method === "INVITE", "200 at the caller", 3000);
		const [audio] = parseSdp(answer.body).media;
		assert.equal(audio.address, wan, answer.body);
		assert.equal(audio.rtcp, undefined, `no a=rtcp: RTCP is announced at ${audio.port} + 1\n${answer.body}`);
		t.diagnostic(`announced ${audio.address}:${audio.port} (RTCP ${audio.port + 1})\n${(await showSipalg(bench)).text}`);

		// The phone's media after the answer, to the same far sockets as before.
		await lanMedia.send(0, FAR_HOST, 50030, "rtp-after", 3);
		await lanMedia.send(1, FAR_HOST, 50031, "rtcp-after", 3);
		const rtp = await farMedia.waitGot("rtp-after", 3);
		const rtcp = await farMedia.waitGot("rtcp-after", 3);
		t.diagnostic(`after the answer: RTP from ${[...new Set(rtp.map((p) => p.from))]}, RTCP from ${[...new Set(rtcp.map((p) => p.from))]}`);
		assert.equal(rtp.length, 3, "RTP after the answer reached far");
		assert.equal(rtcp.length, 3, "RTCP after the answer reached far");
		assert.ok(rtp.every((p) => p.from === `${wan}:${audio.port}`), `RTP leaves by the announced ${audio.port}: ${JSON.stringify(rtp)}`);
		assert.ok(rtcp.every((p) => p.from === `${wan}:${audio.port + 1}`), `RTCP leaves by the announced ${audio.port + 1}: ${JSON.stringify(rtcp)}`);
		// And far's media to the announced pair reaches the phone's ports.
		await farMedia.send(0, wan, audio.port, "far-rtp-9");
		await farMedia.send(1, wan, audio.port + 1, "far-rtcp-9");
		assert.ok((await lanMedia.waitGot("far-rtp-9", 3)).every((p) => p.local === `${LAN_HOST}:40030`));
		assert.ok((await lanMedia.waitGot("far-rtcp-9", 3)).every((p) => p.local === `${LAN_HOST}:40031`));
		assert.ok((await lanMedia.waitGot("far-rtp-9", 3)).length >= 3 && (await lanMedia.waitGot("far-rtcp-9", 3)).length >= 3);

		await hangUp(bench, "far", CALLEE, callId);
		const [callerCode, phoneCode] = await Promise.all([caller.finish(10000), phone.finish(10000)]);
		assert.equal(callerCode, 0, caller.report());
		assert.equal(phoneCode, 0, phone.report());
	}
	finally {
		for (const proc of procs.reverse())
			await proc.stop();
		await router("forward del udp 40030");
	}
});

// Issue 15 item 6: junk INVITEs from the phone's host (to 203.0.113.11:5060, where
// nothing answers, each with its own Call-ID and an SDP) fill more than the
// 16-dialog pool. The host holds at most its share (8) of early dialogs that
// never had an answer, the oldest making way, so the real call after them
// still gets its dialog and its pinhole, and far's media reaches the phone.
// Before the fix the junk took all 16 and the real INVITE advertised the WAN
// address with a port that had no pinhole: none of far's RTP arrived.
const JUNK = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.4.2", 5070))
for i in range(int(sys.argv[1])):
    sdp = ("v=0\\r\\no=x 1 1 IN IP4 192.168.4.2\\r\\ns=-\\r\\nc=IN IP4 192.168.4.2\\r\\nt=0 0\\r\\n"
           "m=audio %d RTP/AVP 0\\r\\n" % (30000 + 2 * (i % 16)))
    msg = ("INVITE sip:nobody@203.0.113.11 SIP/2.0\\r\\n"
           "Via: SIP/2.0/UDP 192.168.4.2:5070;branch=z9hG4bKjunk%d\\r\\n"
           "From: <sip:junk@192.168.4.2>;tag=j%d\\r\\nTo: <sip:nobody@203.0.113.10>\\r\\n"
           "Call-ID: junk-%d@192.168.4.2\\r\\nCSeq: 1 INVITE\\r\\nContact: <sip:junk@192.168.4.2:5070>\\r\\n"
           "Content-Type: application/sdp\\r\\nContent-Length: %d\\r\\n\\r\\n%s") % (i, i, i, len(sdp), sdp)
    s.sendto(msg.encode(), ("203.0.113.11", 5060))
print("sent")
`;
test("junk INVITEs: a host holds its share of unanswered dialogs, and a real call after them gets its pinhole", { timeout: 60000 }, async (t) => {
	const junk = await bench.exec("lan", [PY, "-c", JUNK, "40"], { timeout: 20000 });
	assert.match(junk.stdout, /sent/, junk.stderr);
	await new Promise((resolve) => setTimeout(resolve, 500));   // the last of them through the router
	const full = await showSipalg(bench);
	t.diagnostic(`after 40 junk INVITEs:\n${full.text}`);
	assert.equal(full.dialogs.filter((d) => d.callId.startsWith("junk-")).length, 8, `the host's share of unanswered dialogs:\n${full.text}`);
	const callId = "e2e-6-after-junk";
	const call = await startCall(bench, { callId, lanPorts: [40040, 40041], farPorts: [50040, 50041] });
	try {
		const [audio] = call.offer.media;
		assert.equal(audio.address, wan, call.invite.body);
		const rtp = await farToLan(call, 0, audio.address, audio.port, "far-rtp-6");
		assert.ok(rtp.length >= 3, `RTP from far to ${audio.address}:${audio.port}: ${rtp.length} of 5 reached the phone\n${(await showSipalg(bench)).text}`);
		assert.ok(rtp.every((p) => p.local === `${LAN_HOST}:40040`), JSON.stringify(rtp));
		await endCall(bench, call, callId);
	}
	finally {
		await stopCall(call);
	}
});

test("SIP over TCP: far sees the rewritten addresses and the call completes (sequence numbers moved with the length changes)", { timeout: 60000 }, async (t) => {
	const callId = "e2e-4-tcp";
	const before = await showSipalg(bench);
	const call = await startCall(bench, { callId, transport: "tcp", lanPorts: [40030, 40031], farPorts: [50030, 50031] });
	try {
		await assertInviteRewritten(call, "tcp");
		assertNoPrivate(call.callee, "far");
		await endCall(bench, call, callId, "tcp");
		// Every message at both ends, after the first that changed length,
		// arrived whole, in order, with a Content-Length that fits.
		for (const run of [call.callee, call.phone]) {
			const received = run.messages().filter((m) => m.dir === "received");
			for (const m of received) {
				assert.equal(m.transport, "TCP");
				assert.ok(lengthConsistent(m), `${run.label}: ${m.startLine}\n${m.text}`);
			}
			// far: INVITE, ACK, BYE; the phone: 180, 200, the test's INFO, the 200 to BYE.
			const seen = received.map((m) => m.isRequest ? m.method : `${m.status} ${m.method}`);
			assert.deepEqual(seen, run === call.callee ? ["INVITE", "ACK", "BYE"] : ["180 INVITE", "200 INVITE", "INFO", "200 BYE"], run.report());
		}
		const bye = call.callee.messages().find((m) => m.dir === "received" && m.method === "BYE");
		assert.equal(viaSentBy(bye.header("via"))?.host, wan, bye.text);
		// The router says so too: segments whose sequence or acknowledgement
		// numbers it moved, and nothing it could not read.
		const state = await showSipalg(bench);
		t.diagnostic(`show sipalg after the TCP call:\n${state.text}`);
		const delta = (name) => state.counters[name] - before.counters[name];
		assert.ok(delta("tcp-adjusted") > 0, `tcp-adjusted did not grow:\n${before.text}\n${state.text}`);
		assert.ok(delta("rewritten") >= 4, `rewritten: ${delta("rewritten")}\n${state.text}`);
		assert.equal(delta("unparseable"), 0, state.text);
	}
	finally {
		await stopCall(call);
	}
});

test("ALG off: the same call carries 192.168.4.2 to far, and far's media goes nowhere", { timeout: 60000 }, async () => {
	await router("sipalg off");
	const callId = "e2e-5-alg-off";
	let call;
	try {
		call = await startCall(bench, { callId, lanPorts: [40040, 40041], farPorts: [50040, 50041] });
		const contact = uriHostPort(call.invite.header("contact"));
		assert.deepEqual(contact, { host: LAN_HOST, port: 5060 }, `Contact as far sees it: ${call.invite.text}`);
		assert.equal(viaSentBy(call.invite.header("via"))?.host, LAN_HOST, call.invite.text);
		const [audio] = call.offer.media;
		assert.deepEqual([call.offer.origin, audio.address, audio.port], [LAN_HOST, LAN_HOST, 40040], call.invite.body);
		// far does what the SDP says: sends to 192.168.4.2:40040, an address
		// that means nothing on the Internet.
		const lost = await farToLan(call, 0, audio.address, audio.port, "far-to-private", { want: 1, ms: 1000 });
		assert.equal(lost.length, 0, `media to the private address reached lan: ${JSON.stringify(lost)}`);
		// Nor does a far end that guesses the WAN address and that port get in:
		// no pinhole, nothing has gone out from that port.
		const guessed = await farToLan(call, 0, wan, audio.port, "far-guessing", { want: 1, ms: 1000 });
		assert.equal(guessed.length, 0, `media to ${wan}:${audio.port} reached lan: ${JSON.stringify(guessed)}`);
		const state = await showSipalg(bench);
		assert.equal(state.enabled, false, state.text);
		assert.equal(state.dialog(callId), undefined, `no dialog with the ALG off:\n${state.text}`);
		await endCall(bench, call, callId);
	}
	finally {
		if (call)
			await stopCall(call);
		await router("sipalg on");
	}
});
