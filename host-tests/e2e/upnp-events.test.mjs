// UPnP leases and GENA events: a mapping with a short lease leaves the
// table and the NAPT when it runs out (far can no longer connect), adding it
// again refreshes the lease; a subscriber in lan (gena-listener.py, SUBSCRIBE
// by raw HTTP) gets the initial event and one on each change, with SEQ
// counting up; renew, UNSUBSCRIBE, the caps and the CallStranger defence (a
// callback must be the subscriber's own address).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, sleep, LAN_HOST, FAR_HOST } from "../lib/bench.mjs";
import {
	WANIP, WANCFG, L3F, OTHER_HOST, re, router, upnpState, mappingOn, upnpForwards, upnpc, tcpServer, tcpConnect,
	httpOne, subscribeRequest, genaListener, deviceDescription, addOtherHost, pollUntil, soap,
} from "../lib/upnp.mjs";

let bench;
let wan;
let listener; // in lan on 192.168.4.2:4000
let services; // from the device description
let sid; // the subscription followed through the file
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	await addOtherHost(bench);
	listener = await genaListener(bench, LAN_HOST, 4000);
	services = (await deviceDescription(bench)).services;
});
after(async () => {
	await listener?.stop();
	await bench?.stop();
});

const CALLBACK = `http://${LAN_HOST}:4000/wanip`;
const eventPath = (type) => services[type].eventSubURL;

async function subscribe(type, options, httpOptions) {
	return httpOne(bench, subscribeRequest(eventPath(type), options), httpOptions);
}

// The next event of our subscription: SEQ one more than the last one seen.
let lastSeq = -1;
async function nextEvent(ms = 5000) {
	const want = String(lastSeq + 1);
	const event = await listener.event((e) => e.sid === sid && e.seq === want, ms);
	lastSeq++;
	assert.equal(event.error, null, JSON.stringify(event));
	return event;
}

// Our subscription's events in SEQ order until one has PortMappingNumberOfEntries `n`
// (a refresh may send the same count again first).
async function entriesEvent(n, ms = 8000) {
	const deadline = Date.now() + ms;
	for (let i = 0; i < 6; i++) {
		const event = await nextEvent(Math.max(100, deadline - Date.now()));
		if (event.props.PortMappingNumberOfEntries === String(n))
			return event;
	}
	assert.fail(`no event with PortMappingNumberOfEntries ${n}:\n${listener.events().map((e) => JSON.stringify(e)).join("\n")}`);
}

test("SUBSCRIBE: 200 with a SID and the granted timeout; the initial event (SEQ 0) has every evented variable", async () => {
	const r = await subscribe(WANIP, { callback: `<${CALLBACK}>`, timeout: "Second-300" });
	assert.equal(r.status, 200, JSON.stringify(r));
	assert.match(r.headers.sid ?? "", /^uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, JSON.stringify(r.headers));
	assert.equal(r.headers.timeout, "Second-300", JSON.stringify(r.headers));
	sid = r.headers.sid;
	const event = await nextEvent();
	assert.deepEqual([event.method, event.path, event.nt, event.nts], ["NOTIFY", "/wanip", "upnp:event", "upnp:propchange"], JSON.stringify(event));
	assert.match(event.content_type ?? "", /^text\/xml/, JSON.stringify(event));
	assert.deepEqual(event.props, {
		PossibleConnectionTypes: "IP_Routed",
		ConnectionStatus: "Connected",
		ExternalIPAddress: wan,
		PortMappingNumberOfEntries: "0",
	});
	const state = await upnpState(bench);
	assert.equal(state.subscribers.length, 1, state.text);
	const s = state.subscribers[0];
	assert.deepEqual([s.service, s.sid, s.callback], ["wanip", sid, CALLBACK], state.text);
	assert.ok(s.expiresIn > 280 && s.expiresIn <= 300, state.text);
	assert.ok(state.counters.eventsSent >= 1, state.text);
});

test("the other services' initial events: PhysicalLinkStatus and DefaultConnectionService", async () => {
	const cfg = await subscribe(WANCFG, { callback: `<http://${LAN_HOST}:4000/wancfg>` });
	const l3f = await subscribe(L3F, { callback: `<http://${LAN_HOST}:4000/l3f>` });
	assert.equal(cfg.status, 200, JSON.stringify(cfg));
	assert.equal(l3f.status, 200, JSON.stringify(l3f));
	const e1 = await listener.event((e) => e.sid === cfg.headers.sid && e.seq === "0");
	assert.deepEqual([e1.path, e1.props], ["/wancfg", { PhysicalLinkStatus: "Up" }], JSON.stringify(e1));
	const e2 = await listener.event((e) => e.sid === l3f.headers.sid && e.seq === "0");
	assert.equal(e2.path, "/l3f");
	assert.match(e2.props.DefaultConnectionService ?? "", /^uuid:[0-9a-f-]{36}:WANConnectionDevice:1,urn:upnp-org:serviceId:WANIPConn1$/, JSON.stringify(e2));
	for (const [type, r] of [[WANCFG, cfg], [L3F, l3f]]) {
		const u = await httpOne(bench, subscribeRequest(eventPath(type), { method: "UNSUBSCRIBE", sid: r.headers.sid, nt: null, timeout: null }));
		assert.equal(u.status, 200, JSON.stringify(u));
	}
	assert.equal((await upnpState(bench)).subscribers.length, 1);
});

test("events on add and delete: PortMappingNumberOfEntries follows the table, SEQ counts up", async () => {
	const add = await upnpc(bench, ["-a", LAN_HOST, "42000", "42000", "TCP"]);
	assert.equal(add.code, 0, add.text);
	await entriesEvent(1);
	const del = await upnpc(bench, ["-d", "42000", "TCP"]);
	assert.equal(del.code, 0, del.text);
	await entriesEvent(0);
});

test("a lease runs out: the mapping leaves the table and the NAPT, and the subscriber hears of it", async () => {
	const server = await tcpServer(bench, "lan", LAN_HOST, 42010);
	try {
		const started = Date.now();
		const add = await upnpc(bench, ["-e", "short", "-a", LAN_HOST, "42010", "42010", "TCP", "4"]);
		assert.equal(add.code, 0, add.text);
		const state = await upnpState(bench);
		const m = mappingOn(state, "tcp", 42010);
		assert.ok(m && m.lease >= 1 && m.lease <= 4, `lease 4 s:\n${state.text}`);
		const open = await tcpConnect(bench, "far", wan, 42010, { seconds: 2 });
		assert.ok(open.ok, `while the lease lasts: ${open.text}`);
		assert.match(open.text, new RegExp(`^hello from ${re(LAN_HOST)}:42010 to ${re(FAR_HOST)}:`, "m"));
		await entriesEvent(1);

		const gone = await pollUntil(() => upnpState(bench), (s) => !mappingOn(s, "tcp", 42010), { ms: 9000, every: 250 });
		assert.equal(mappingOn(gone, "tcp", 42010), undefined, `still there after ${Date.now() - started} ms:\n${gone.text}`);
		const took = Date.now() - started;
		assert.ok(took >= 3000 && took < 7000, `expired after ${took} ms (lease 4 s)`);
		assert.ok(!(await upnpForwards(bench)).some((l) => l.startsWith("tcp 42010 ")));
		await entriesEvent(0);
		const peers = server.stdout;
		const closed = await tcpConnect(bench, "far", wan, 42010, { seconds: 3 });
		assert.ok(!closed.ok, `far connected after the lease ran out: ${closed.text}`);
		assert.equal(server.stdout, peers, "no connection reached the LAN server");
	}
	finally {
		await server.stop();
	}
});

test("adding the same mapping again refreshes its lease", async () => {
	const started = Date.now();
	const first = await upnpc(bench, ["-a", LAN_HOST, "42020", "42020", "UDP", "6"]);
	assert.equal(first.code, 0, first.text);
	await entriesEvent(1);
	await sleep(3000 - (Date.now() - started));
	const again = await upnpc(bench, ["-a", LAN_HOST, "42020", "42020", "UDP", "6"]);
	assert.equal(again.code, 0, again.text);
	const refreshed = mappingOn(await upnpState(bench), "udp", 42020);
	assert.ok(refreshed && refreshed.lease >= 5, `lease back to 6 s: ${JSON.stringify(refreshed)}`);
	// Past the first lease (6 s and a tick), within the second.
	await sleep(7500 - (Date.now() - started));
	const state = await upnpState(bench);
	assert.ok(mappingOn(state, "udp", 42020), `gone at ${Date.now() - started} ms although refreshed at 3 s:\n${state.text}`);
	const gone = await pollUntil(() => upnpState(bench), (s) => !mappingOn(s, "udp", 42020), { ms: 5000, every: 250 });
	assert.equal(mappingOn(gone, "udp", 42020), undefined, gone.text);
	await entriesEvent(0);
});

test("renew: the SID alone gives a new timeout; an unknown SID is 412; SID with NT or CALLBACK is 400", async () => {
	const r = await subscribe(WANIP, { sid, nt: null, timeout: "Second-120" });
	assert.equal(r.status, 200, JSON.stringify(r));
	assert.equal(r.headers.sid, sid);
	assert.equal(r.headers.timeout, "Second-120");
	const state = await upnpState(bench);
	assert.ok(state.subscribers[0].expiresIn > 110 && state.subscribers[0].expiresIn <= 120, state.text);

	const unknown = await subscribe(WANIP, { sid: "uuid:00000000-0000-4000-8000-000000000000", nt: null });
	assert.equal(unknown.status, 412, JSON.stringify(unknown));
	const withNt = await subscribe(WANIP, { sid, nt: "upnp:event" });
	assert.equal(withNt.status, 400, JSON.stringify(withNt));
	const withCallback = await subscribe(WANIP, { sid, nt: null, callback: `<${CALLBACK}>` });
	assert.equal(withCallback.status, 400, JSON.stringify(withCallback));
	assert.equal((await upnpState(bench)).subscribers.length, 1);
});

test("the callback must be the subscriber's own address (412 otherwise) and nothing is sent elsewhere", async () => {
	const other = await genaListener(bench, OTHER_HOST, 4001);
	try {
		for (const callback of [`<http://${OTHER_HOST}:4001/x>`, `<http://${FAR_HOST}:4001/x>`, "<http://localhost:4000/x>", "<http://router.example:4000/x>"]) {
			const r = await subscribe(WANIP, { callback });
			assert.equal(r.status, 412, `${callback}: ${JSON.stringify(r)}`);
		}
		for (const [what, options] of [["no NT", { callback: `<${CALLBACK}>`, nt: null }], ["another NT", { callback: `<${CALLBACK}>`, nt: "upnp:propchange" }], ["no CALLBACK", {}]]) {
			const r = await subscribe(WANIP, options);
			assert.equal(r.status, 412, `${what}: ${JSON.stringify(r)}`);
		}
		let state = await upnpState(bench);
		assert.equal(state.subscribers.length, 1, state.text);

		// That host subscribing for itself is fine.
		const own = await subscribe(WANIP, { callback: `<http://${OTHER_HOST}:4001/own>` }, { source: OTHER_HOST });
		assert.equal(own.status, 200, JSON.stringify(own));
		const initial = await other.event((e) => e.sid === own.headers.sid && e.seq === "0");
		assert.equal(initial.path, "/own");
		const u = await httpOne(bench, subscribeRequest(eventPath(WANIP), { method: "UNSUBSCRIBE", sid: own.headers.sid, nt: null, timeout: null }), { source: OTHER_HOST });
		assert.equal(u.status, 200, JSON.stringify(u));
		state = await upnpState(bench);
		assert.equal(state.subscribers.length, 1, state.text);
		assert.deepEqual(other.events().map((e) => e.path), ["/own"], "the refused callbacks got nothing");
	}
	finally {
		await other.stop();
	}
});

test("TIMEOUT: a short one is raised to 60 s, a long or infinite one cut to 1800 s", async () => {
	const sids = [];
	try {
		for (const [asked, granted] of [["Second-5", /^Second-60$/], ["Second-100000", /^Second-1800$/], ["infinite", /^Second-1800$/], [null, /^Second-(\d+)$/]]) {
			const r = await subscribe(WANIP, { callback: `<http://${LAN_HOST}:4000/timeout>`, timeout: asked });
			assert.equal(r.status, 200, `${asked}: ${JSON.stringify(r)}`);
			sids.push(r.headers.sid);
			const m = granted.exec(r.headers.timeout ?? "");
			assert.ok(m, `${asked}: ${JSON.stringify(r.headers)}`);
			if (m[1])
				assert.ok(Number(m[1]) >= 60 && Number(m[1]) <= 1800, `no TIMEOUT: ${r.headers.timeout}`);
		}
	}
	finally {
		for (const s of sids)
			await httpOne(bench, subscribeRequest(eventPath(WANIP), { method: "UNSUBSCRIBE", sid: s, nt: null, timeout: null }));
	}
	assert.equal((await upnpState(bench)).subscribers.length, 1);
});

test("subscriber limit: the one over it is refused (503) and counted", async () => {
	await router(bench, "upnp limit subscribers 2");
	let extra;
	try {
		const before = (await upnpState(bench)).counters.subscriberLimit;
		extra = await subscribe(WANIP, { callback: `<http://${LAN_HOST}:4000/extra>` });
		assert.equal(extra.status, 200, JSON.stringify(extra));
		const over = await subscribe(WANIP, { callback: `<http://${LAN_HOST}:4000/over>` });
		assert.equal(over.status, 503, JSON.stringify(over));
		const state = await upnpState(bench);
		assert.equal(state.subscribers.length, 2, state.text);
		assert.equal(state.subscriberLimit, 2, state.text);
		assert.equal(state.counters.subscriberLimit, before + 1, state.text);
	}
	finally {
		if (extra?.headers.sid)
			await httpOne(bench, subscribeRequest(eventPath(WANIP), { method: "UNSUBSCRIBE", sid: extra.headers.sid, nt: null, timeout: null }));
		await router(bench, "upnp limit subscribers 16");
	}
});

test("an event nobody takes is counted as failed", async () => {
	const before = (await upnpState(bench)).counters.eventsFailed;
	const r = await subscribe(WANIP, { callback: `<http://${LAN_HOST}:4999/nobody>` });
	assert.equal(r.status, 200, JSON.stringify(r));
	try {
		const state = await pollUntil(() => upnpState(bench), (s) => s.counters.eventsFailed > before, { ms: 8000, every: 250 });
		assert.ok(state.counters.eventsFailed > before, state.text);
	}
	finally {
		await httpOne(bench, subscribeRequest(eventPath(WANIP), { method: "UNSUBSCRIBE", sid: r.headers.sid, nt: null, timeout: null }));
	}
});

test("a new external address is announced to subscribers and answered by GetExternalIPAddress", async () => {
	await router(bench, "set wan static 198.51.100.60/24 198.51.100.1");
	try {
		const event = await listener.event((e) => e.sid === sid && e.props.ExternalIPAddress === "198.51.100.60", 8000);
		assert.equal(event.error, null, JSON.stringify(event));
		const r = await soap(bench, "GetExternalIPAddress");
		assert.equal(r.out.NewExternalIPAddress, "198.51.100.60", r.answer.body);
	}
	finally {
		await router(bench, "set wan dhcp");
	}
	const from = bench.console.text.length;
	const address = await bench.wanAddress(30000, from);
	await listener.event((e) => e.sid === sid && e.props.ExternalIPAddress === address, 8000);
	// Every event of the subscription came in order, none lost.
	const seqs = listener.events().filter((e) => e.sid === sid).map((e) => Number(e.seq));
	assert.deepEqual(seqs, seqs.map((_, i) => i), `SEQ 0, 1, 2, ...: ${seqs}`);
	lastSeq = seqs.length - 1;
});

test("UNSUBSCRIBE: 200, then no more events; again: 412", async () => {
	const r = await httpOne(bench, subscribeRequest(eventPath(WANIP), { method: "UNSUBSCRIBE", sid, nt: null, timeout: null }));
	assert.equal(r.status, 200, JSON.stringify(r));
	assert.equal((await upnpState(bench)).subscribers.length, 0);
	const count = listener.events().filter((e) => e.sid === sid).length;
	const add = await upnpc(bench, ["-a", LAN_HOST, "42030", "42030", "TCP"]);
	assert.equal(add.code, 0, add.text);
	await sleep(2500);
	assert.equal(listener.events().filter((e) => e.sid === sid).length, count, "no event after UNSUBSCRIBE");
	const again = await httpOne(bench, subscribeRequest(eventPath(WANIP), { method: "UNSUBSCRIBE", sid, nt: null, timeout: null }));
	assert.equal(again.status, 412, JSON.stringify(again));
});
