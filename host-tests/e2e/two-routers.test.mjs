// Two routers on one ISP segment, the seeds' hardest case: two homes on the
// same cable network, each behind its own natbridge, both using the same
// private range (a PC at 192.168.4.2 behind 192.168.4.1 in lan and in lan2).
// The ISP (wan) bridges both WAN ports and one dnsmasq serves them both.
//
//   - Each router has its own MAC, so the ISP sees two clients and hands
//     out two addresses.
//   - A file goes from one home to the other through a UPnP mapping the
//     receiving PC asked its own router for with Debian's upnpc, each way.
//   - A phone in each home (baresip) registers with a registrar on the
//     Internet (Debian's kamailio in far, signalling only, no NAT help of
//     its own) and calls the other: RTP counted by both phones, each way
//     round. The media goes router to router through the SIP ALGs' pinholes.
//
// Every process is bounded (baresip's -t, file-xfer.py's timeouts, the
// tracked processes' stops) and bench.stop() removes the namespaces and
// everything left in them, also after a failure.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startBench, sleep, TOP, BENCH_STATE, LAN_HOST, FAR_HOST, ROUTER_LAN } from "../lib/bench.mjs";
import { upnpc, upnpState, mappingOn, re } from "../lib/upnp.mjs";
import { baresip, kamailio, showSipalg, requireTools, BARESIP, KAMAILIO, PY } from "../lib/sip.mjs";

const FILE_XFER = path.join(TOP, "host-tests/lib/file-xfer.py");
const REGISTRAR = FAR_HOST;

let bench;
let routers; // [A, B]: bench.routers with their WAN addresses
before(async () => {
	requireTools(BARESIP, KAMAILIO, PY);
	bench = await startBench({ routers: 2 });
	routers = bench.routers.map((r, i) => Object.assign(r, { name: "AB"[i] }));
	for (const r of routers)
		r.wan = await r.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

async function router(r, line) {
	const out = await r.console.command(line);
	assert.doesNotMatch(out, /^error:/m, `router ${r.name}: ${line}\n${out}`);
	return out;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

test("each router has its own MAC, and the ISP's one dnsmasq gives each its own WAN address", async () => {
	const [a, b] = routers;
	const macs = [];
	for (const r of routers) {
		const m = await r.macs();
		assert.match(m.wan, MAC, JSON.stringify(m));
		assert.match(m.lan, MAC, JSON.stringify(m));
		// Locally administered and unicast; the LAN port's derived from the
		// WAN port's as ESP-IDF derives the W5500's from the efuse MAC.
		assert.equal(parseInt(m.wan.slice(0, 2), 16) & 3, 2, m.wan);
		assert.equal(m.lan, `${(parseInt(m.wan.slice(0, 2), 16) ^ 4).toString(16).padStart(2, "0")}${m.wan.slice(2)}`);
		macs.push(m);
	}
	assert.notEqual(macs[0].wan, macs[1].wan);
	assert.notEqual(macs[0].lan, macs[1].lan);

	assert.notEqual(a.wan, b.wan, "two leases, not one");
	const leases = fs.readFileSync(path.join(BENCH_STATE, "dnsmasq.leases"), "utf8");
	routers.forEach((r, i) => assert.match(leases, new RegExp(`^\\d+ ${macs[i].wan} ${re(r.wan)} `, "m"), leases));
	const status = [await router(a, "show interfaces"), await router(b, "show interfaces")];
	routers.forEach((r, i) => assert.match(status[i], new RegExp(`address ${re(r.wan)}/24 gateway 198\\.51\\.100\\.1 dhcp bound`), status[i]));

	// Each home reaches the other's WAN address across the ISP's segment.
	for (const [from, to] of [[a, b], [b, a]]) {
		const r = await bench.exec(from.lan, ["ping", "-c", "3", "-i", "0.2", "-W", "2", to.wan], { timeout: 15000 });
		assert.match(r.stdout, /3 received/, `${from.lan} -> ${to.wan}:\n${r.stdout}${r.stderr}`);
	}
});

/*
 * The PC behind `server` asks its router for a TCP mapping (upnpc, finding
 * the router by SSDP), listens on the internal port, and the PC behind
 * `client` sends it a file to the server's WAN address and mapped port.
 */
async function transfer(t, server, client, { internal, external, size }) {
	const file = path.join(bench.dir, `from-${client.name}.bin`);
	const received = path.join(bench.dir, `at-${server.name}.bin`);
	const data = crypto.randomBytes(size);
	fs.writeFileSync(file, data);
	const sha256 = crypto.createHash("sha256").update(data).digest("hex");

	const description = `file from ${client.name}`;
	const add = await upnpc(bench, ["-i", "-e", description, "-a", LAN_HOST, String(internal), String(external), "TCP"], { ns: server.lan, discover: true });
	assert.equal(add.code, 0, add.text);
	assert.match(add.stdout, new RegExp(`^ desc: http://${re(ROUTER_LAN)}:5000/rootDesc\\.xml$`, "m"), add.text);
	assert.match(add.stdout, new RegExp(`^external ${re(server.wan)}:${external} TCP is redirected to internal ${re(LAN_HOST)}:${internal}`, "m"), add.text);
	const state = await upnpState(server);
	assert.deepEqual(mappingOn(state, "tcp", external),
		{ proto: "tcp", externalPort: external, address: LAN_HOST, port: internal, lease: 0, owner: LAN_HOST, description, remote: "" }, state.text);
	// The other router has no such mapping: each home asked its own router.
	assert.equal(mappingOn(await upnpState(client), "tcp", external), undefined);

	const receiver = await bench.serve(server.lan, [PY, "-u", FILE_XFER, "recv", LAN_HOST, String(internal), received, "20"], { proto: "tcp", address: LAN_HOST, port: internal });
	try {
		const started = Date.now();
		const sent = await bench.exec(client.lan, [PY, FILE_XFER, "send", server.wan, String(external), file, "20"], { timeout: 25000 });
		t.diagnostic(`${size} bytes ${client.lan} -> ${server.wan}:${external} -> ${server.lan} ${LAN_HOST}:${internal} in ${Date.now() - started} ms`);
		assert.equal(sent.code, 0, `${sent.stdout}${sent.stderr}`);
		const answer = JSON.parse(sent.stdout);
		assert.equal(answer.answer, `ok ${size} ${sha256}`, sent.stdout);
		assert.equal(answer.local.split(":")[0], LAN_HOST, sent.stdout);
		const line = await receiver.waitFor(/^\{.*\}$/m, 10000);
		const got = JSON.parse(line[0]);
		// The PC behind the server's router saw the client's router's address:
		// the file left one NAPT and came in through the other's mapping.
		assert.equal(got.peer.split(":")[0], client.wan, line[0]);
		assert.equal(got.bytes, size, line[0]);
		assert.equal(got.sha256, sha256, line[0]);
		assert.equal(crypto.createHash("sha256").update(fs.readFileSync(received)).digest("hex"), sha256);
	}
	finally {
		await receiver.stop();
	}

	const del = await upnpc(bench, ["-i", "-d", String(external), "TCP"], { ns: server.lan, discover: true });
	assert.equal(del.code, 0, del.text);
	assert.equal(mappingOn(await upnpState(server), "tcp", external), undefined, "the mapping is gone");
}

test("a file from B's home to A's through the UPnP mapping A's PC opened with upnpc", { timeout: 60000 }, async (t) => {
	const [a, b] = routers;
	await transfer(t, a, b, { internal: 40100, external: 41000, size: 384 * 1024 });
});

test("and the other way: a file from A's home to B's through B's mapping", { timeout: 60000 }, async (t) => {
	const [a, b] = routers;
	await transfer(t, b, a, { internal: 40100, external: 41000, size: 384 * 1024 });
});

// ---------------------------------------------------------------- SIP

let registrar; // kamailio in far
let phones; // [alice behind A, bob behind B]

const SUMMARY = /audio\s+Transmit:\s+Receive:\s*\npackets:\s+(\d+)\s+(\d+)/;

test("a phone in each home registers with kamailio in far through its router's SIP ALG", { timeout: 60000 }, async () => {
	registrar = await kamailio(bench, "far", { addr: REGISTRAR });
	phones = [];
	for (const [r, user] of [[routers[0], "alice"], [routers[1], "bob"]]) {
		const phone = await baresip(bench, r.lan, { addr: LAN_HOST, user, rtpPorts: "40200-40299", registrar: REGISTRAR, life: 90 });
		phones.push(Object.assign(phone, { user, router: r }));
	}
	for (const phone of phones) {
		await phone.waitFor(new RegExp(`${phone.user}@${re(REGISTRAR)}: \\{0/UDP/v4\\} 200 OK`), 10000);
		// The router holds the phone's SIP port open to the registrar.
		const state = await showSipalg(phone.router);
		assert.ok(state.registrations.some((reg) => reg.inside === LAN_HOST && reg.insidePort === 5060 && reg.registrar === REGISTRAR),
			`router ${phone.router.name}:\n${state.text}`);
	}
});

// Both routers while a call is up: its dialog, its pinhole, and the phone's media by the ports its SDP names.
async function duringCall(t, caller, callee) {
	for (const r of [caller.router, callee.router]) {
		const state = await showSipalg(r);
		const flows = await router(r, "show nat flows 200");
		t.diagnostic(`router ${r.name} during the call:\n${state.text}\n${flows}`);
		const dialog = state.dialogs.find((d) => d.inside === LAN_HOST && d.remote === REGISTRAR);
		assert.ok(dialog && dialog.state === "confirmed" && dialog.media.length === 1, `router ${r.name}: a confirmed call with one stream:\n${state.text}`);
		const [{ inside, ext }] = dialog.media;
		assert.ok(state.pinhole(ext), state.text);
		// One inside port, one external port: the phone's RTP and RTCP leave
		// by the ports its SDP names, also when (as baresip does when it
		// answers) it sent before its SDP went out. Nothing else on either
		// router holds 40200-40299, so those are the phone's own.
		assert.equal(ext, inside, `router ${r.name}: the pinhole is the phone's own pair:\n${state.text}`);
		for (const [port, external] of [[inside, ext], [inside + 1, ext + 1]]) {
			const used = [...flows.matchAll(new RegExp(`^udp ${re(LAN_HOST)}:${port} -> \\S+ via :(\\d+)`, "gm"))].map((m) => Number(m[1]));
			assert.ok(used.every((p) => p === external), `router ${r.name}: ${LAN_HOST}:${port} leaves by :${used.join(", :")}, its SDP says :${external}\n${flows}`);
		}
	}
}

/*
 * caller dials callee's address of record at the registrar; the callee
 * answers at once; `hold` ms of G.711 each way, then the caller hangs up.
 * The RTP counters each phone prints when the call ends, and what each
 * printed during the call.
 */
async function call(t, caller, callee, hold = 2500) {
	assert.ok(phones?.length === 2, "both phones registered");
	const from = [caller.text().length, callee.text().length];
	const since = (i) => [caller, callee][i].text().slice(from[i]);
	const wait = async (i, regex, ms) => {
		const agent = [caller, callee][i];
		const deadline = Date.now() + ms;
		for (;;) {
			const m = regex.exec(since(i));
			if (m)
				return m;
			if (Date.now() > deadline)
				throw new Error(`${agent.user}: no ${regex} within ${ms} ms\n${agent.report()}\n${registrar.report()}`);
			await sleep(50);
		}
	};
	caller.command(`/dial sip:${callee.user}@${REGISTRAR}`);
	let hungUp = false;
	try {
		await wait(0, /Call established: sip:/, 10000);
		await wait(1, /Call established: sip:/, 5000);
		await sleep(hold);
		await duringCall(t, caller, callee);
		caller.command("/hangup");
		hungUp = true;
	}
	finally {
		// A failed check leaves no call up for the next test (each phone takes one call at a time).
		if (!hungUp) {
			caller.command("/hangup");
			callee.command("/hangup");
			await sleep(500);
		}
	}
	const sums = [await wait(0, SUMMARY, 5000), await wait(1, SUMMARY, 5000)].map((m) => ({ sent: Number(m[1]), received: Number(m[2]) }));
	await wait(0, new RegExp(`Call with sip:${callee.user}@\\S+ terminated`), 5000);
	await wait(1, new RegExp(`Call with sip:${caller.user}@\\S+ terminated`), 5000);
	return { caller: sums[0], callee: sums[1], text: [since(0), since(1)] };
}

async function checkCall(t, caller, callee) {
	const result = await call(t, caller, callee);
	t.diagnostic(`RTP packets, ${caller.user}: ${JSON.stringify(result.caller)}, ${callee.user}: ${JSON.stringify(result.callee)}`);
	// The callee was reached through the registrar, as the caller's router's address.
	assert.match(result.text[1], new RegExp(`from sip:${caller.user}@${re(REGISTRAR)}`), callee.report());
	// Media came straight from the other router's WAN address (not from far,
	// which only relays signalling), to the pinhole its own router opened.
	assert.match(result.text[0], new RegExp(`incoming rtp for 'audio' established, receiving from ${re(callee.router.wan)}:\\d+`), caller.report());
	assert.match(result.text[1], new RegExp(`incoming rtp for 'audio' established, receiving from ${re(caller.router.wan)}:\\d+`), callee.report());
	// 2.5 s of 20 ms packets is 125 each way; allow for the call's start.
	for (const [phone, sum] of [[caller, result.caller], [callee, result.callee]])
		assert.ok(sum.sent >= 60 && sum.received >= 60, `${phone.user}: ${JSON.stringify(sum)}\n${phone.report()}`);
	// The call's pinholes are gone from both routers; the registrations' stay.
	for (const r of routers) {
		const state = await showSipalg(r);
		assert.equal(state.dialogs.length, 0, `router ${r.name}:\n${state.text}`);
		assert.deepEqual(state.pinholes.map((p) => `${p.ext} -> ${p.inside}:${p.port} ${p.remote}`), [`5060 -> ${LAN_HOST}:5060 ${REGISTRAR}`], `router ${r.name}:\n${state.text}`);
	}
}

test("alice (behind A) calls bob (behind B) through kamailio: RTP both ways", { timeout: 60000 }, async (t) => {
	const [alice, bob] = phones ?? [];
	await checkCall(t, alice, bob);
});

test("bob (behind B) calls alice (behind A) through kamailio: RTP both ways", { timeout: 60000 }, async (t) => {
	const [alice, bob] = phones ?? [];
	try {
		await checkCall(t, bob, alice);
	}
	finally {
		for (const phone of phones ?? [])
			await phone.stop();
		await registrar?.stop();
	}
});
