// The heaviest legitimate state and load of issue 13 (point 4), on a started
// bench (bench.mjs startBench), with the XS heap read (`show memory`) at each
// phase: what the heap test asserts on and the heap benchmark reports.
//
//   boot   the defaults, settled after boot
//   state  built, all of it at once:
//          - DNS: a dnsmasq in far (203.0.113.10) with TXT records of ~400
//            bytes and a TTL of 300 s, behind a first server that does not
//            answer (203.0.113.12): set wan static with the leased address
//            and those two servers (the ISP's dnsmasq answers with TTL 0,
//            which nothing caches). 64 names asked, 20 ms apart: the cache
//            full, 64 of 64 entries and ~31 of its 32 KB;
//          - DHCP: the default pool (.100-.199) full, 100 clients
//            (dhcp-probe.py: distinct MACs, 19-byte client-ids, 32-character
//            host names);
//          - UPnP: 16 GENA subscribers (the cap), 8 from each of two LAN
//            hosts to real listeners (gena-listener.py), each with its
//            initial event; then 64 mappings (the cap), TCP, 64-character
//            descriptions, leases of an hour, 32 from each host (secure
//            mode: each maps to itself); their events go to the 16;
//          - SIP: 16 confirmed dialogs (the cap) through the ALG, lan to far
//            (sipp uac-hold.xml / uas-hold.xml, 16 calls at once, each with
//            its own media port);
//   load   the UPnP part and the DNS waves side by side, the console in a
//          loop until both are done:
//          - UPnP, in turn: 8 GetListOfPortMappings of every mapping (0-65535,
//            Manage 1, NewNumberOfPorts 0 or 1000) with all 8 in flight at
//            once (upnp-http.py parallel), SUBSCRIBE churn (per round and
//            host: one SUBSCRIBE over the cap, 4 renewals, 4 UNSUBSCRIBEs,
//            4 new SUBSCRIBEs), the 8 lists again;
//          - DNS: 2 waves of 192 questions 2 ms apart: 64 new names (the
//            in-flight table full for 2 s: each waits out the dead server
//            first), 64 more the full table refuses, 64 cache hits (what a
//            socket's queue of 8 cannot hold of the burst is dropped, as
//            on the board);
//          - the console: show upnp, dhcp, dns, nat flows, sipalg, config in
//            a loop;
//   after  the state removed (dialogs hung up, subscribers unsubscribed,
//          mappings deleted, dns flush, dhcp leases clear, set wan dhcp
//          again), settled.
//
// Every wait and loop is bounded; everything runs in the bench's namespaces
// on documentation addresses. heapRun() gives back the readings, what was
// built (so a caller can tell it was), and, if the router aborted (an XS
// abort reboots it, losing the state), in which phase.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { TOP, LAN_HOST, FAR_HOST, FAR_THIRD, ISP_GATEWAY, ROUTER_LAN, sleep } from "./bench.mjs";
import { memory, boardCreation } from "./memory.mjs";
import {
	WANIP, OTHER_HOST, PY, addOtherHost, genaListener, deviceDescription, httpSend, httpParallel, soapRequest,
	mappingArgs, subscribeRequest, upnpState, router, pollUntil,
} from "./upnp.mjs";
import { LAN_IF, probe } from "./dhcp.mjs";
import { sipp, hangUp, showSipalg, requireTools, SIPP } from "./sip.mjs";

export const HEAVIEST = Object.freeze({
	mappings: 64,
	descriptionLength: 64,
	subscribers: 16,
	dhcpPool: 100,
	dnsCache: 64,
	dialogs: 16,
	lists: 8,
	listRounds: 2,
	churnRounds: 4,
	churnPerHost: 4,
	dnsWaves: 2,
	consoleRounds: 200,
});

// What the heap test asserts and the benchmark reports against. The peak
// may take this share of creation.static (20% to spare):
export const PEAK_SHARE = 0.8;
// What may stay live once the state is gone: state made once on first use
// and bounded whatever the load (the DNS forwarder's upstream sockets, up
// to 4, opened when first needed; the DHCP server's first answer; the
// tables Maps keep at the size they grew to; keys named at run time),
// about 7 KB on the 64-bit simulator. The state itself is ~140 KB live.
export const IDLE_TOLERANCE = 8192;

const HOSTS = [LAN_HOST, OTHER_HOST];
const DNS_LIVE = FAR_HOST;        // dnsmasq with the records
const DNS_DEAD = FAR_THIRD;       // an address with no DNS server
const DNS_DOMAIN = "heap.test";
const FIRST_PORT = 50000;
const LISTENER_PORT = 4000;
const PHONE = `${LAN_HOST}:5060`;
const CALLEE = `${FAR_HOST}:5060`;
const CALL_ID = "heap-%u";
// Two TXT strings: an answer of ~405 bytes, a cache entry of ~495, 64 of them ~31 KB of the cache's 32 KB.
const TXT = ["a", "b"].map((c, i) => `${c}${String(i)}`.padEnd(180, c));
const CONSOLE = ["show upnp", "show dhcp", "show dns", "show nat flows", "show sipalg", "show config"];
const DNS_FLOOD = path.join(TOP, "host-tests/lib/dns-flood.py");

const cacheName = (i) => `c${i}.${DNS_DOMAIN}`;
const waveName = (wave, i) => `w${wave}n${i}.${DNS_DOMAIN}`;
const overflowName = (wave, i) => `w${wave}x${i}.${DNS_DOMAIN}`;
const hex2 = (n) => n.toString(16).padStart(2, "0");

// A 64-character description, distinct in its first 47 (what the table keeps).
export function mappingDescription(i) {
	return `heap test mapping ${String(i).padStart(2, "0")} `.padEnd(HEAVIEST.descriptionLength, "abcdefghijklmnopqrstuvwxyz0123456789");
}

// --- reading the router ------------------------------------------------------

export function abortLine(bench) {
	return /^fatal: XS abort: (.*)$/m.exec(bench.console?.text ?? "")?.[1];
}

// Boots the console has seen ("Type help for commands." ends each banner).
export function bootCount(bench) {
	return (bench.console?.text.match(/Type help for commands\./g) ?? []).length;
}

function uptimeSeconds(status) {
	const m = /, up (?:(\d+)d )?(\d+)h (\d+)m (\d+)s$/m.exec(status);
	assert.ok(m, `show status: no uptime\n${status}`);
	return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

export async function uptime(bench) {
	return uptimeSeconds(await bench.console.command("show status"));
}

// One show memory: held, peak and live, against the creation.
function figures(m) {
	return { held: m.used, peak: m.peak, live: m.live, size: m.size, keys: m.keysUsed, text: m.text };
}

// A settled reading: the lowest live of `n` (one taken while a timer's work
// is live reads high); held and peak only grow, so the last ones.
export async function settledReading(bench, n = 3) {
	let low;
	let last;
	for (let i = 0; i < n; i++) {
		if (i)
			await sleep(250);
		last = figures(await memory(bench));
		if (!low || last.live < low.live)
			low = last;
	}
	return { ...last, live: low.live };
}

// A reading between the steps of a phase (one show memory): where the heap went.
async function step(bench, run, name) {
	const m = figures(await memory(bench));
	run.steps.push({ step: name, held: m.held, peak: m.peak, live: m.live });
}

async function dnsState(bench) {
	const text = await router(bench, "show dns");
	const cache = /^cache: (\d+) of (\d+) entries, (\d+) of (\d+) bytes$/m.exec(text);
	const inFlight = /^in flight: (\d+) of (\d+);/m.exec(text);
	const counters = {};
	for (const m of (/^counters: (.*)$/m.exec(text)?.[1] ?? "").matchAll(/([a-z ]+?) (\d+)(?: \(tcp \d+\))?(?:, |$)/g))
		counters[m[1].trim()] = Number(m[2]);
	assert.ok(cache && inFlight, `show dns:\n${text}`);
	return { text, entries: Number(cache[1]), maxEntries: Number(cache[2]), bytes: Number(cache[3]), maxBytes: Number(cache[4]), inFlight: Number(inFlight[1]), maxInFlight: Number(inFlight[2]), counters };
}

function dhcpLeases(text) {
	const m = /^leases: (\d+) \(pool of (\d+)\)$/m.exec(text);
	assert.ok(m, `show dhcp:\n${text}`);
	return { leases: Number(m[1]), pool: Number(m[2]) };
}

// --- peers -------------------------------------------------------------------

async function startDnsServer(bench) {
	const conf = path.join(bench.dir, "heap-dnsmasq.conf");
	const names = [];
	for (let i = 0; i < HEAVIEST.dnsCache; i++)
		names.push(cacheName(i));
	for (let wave = 0; wave < HEAVIEST.dnsWaves; wave++)
		for (let i = 0; i < HEAVIEST.dnsCache; i++)
			names.push(waveName(wave, i));
	fs.writeFileSync(conf, [
		"no-resolv", "no-hosts", `listen-address=${DNS_LIVE}`, "bind-interfaces", "except-interface=lo",
		`local=/${DNS_DOMAIN}/`, "local-ttl=300",
		...names.map((name) => `txt-record=${name},${TXT.join(",")}`),
	].join("\n") + "\n");
	return bench.serve("far", ["dnsmasq", "--keep-in-foreground", `--conf-file=${conf}`, `--pid-file=${bench.dir}/heap-dnsmasq.pid`, "--log-facility=-"],
		{ proto: "udp", address: DNS_LIVE, port: 53 });
}

// Questions from lan to the router; { sent, answers: [{ id, rcode, ancount, bytes }] }.
async function askDns(bench, questions, { gapMs = 2, wait = 10 } = {}) {
	const r = await bench.exec("lan", [PY, DNS_FLOOD, ROUTER_LAN, String(gapMs), String(wait)], {
		input: JSON.stringify(questions), timeout: (questions.length * gapMs) + (wait + 10) * 1000,
	});
	assert.equal(r.code, 0, `dns-flood.py: ${r.stdout}\n${r.stderr}`);
	return JSON.parse(r.stdout);
}

// --- UPnP --------------------------------------------------------------------

function assertAll200(answers, what) {
	const bad = answers.filter((a) => a.status !== 200);
	assert.equal(bad.length, 0, `${what}: ${bad.length} of ${answers.length} not 200, e.g. ${JSON.stringify(bad[0])?.slice(0, 600)}`);
}

function subscribe(state, host, pathname) {
	return subscribeRequest(state.eventPath, { callback: `<http://${host}:${LISTENER_PORT}${pathname}>`, timeout: "Second-1800" });
}

function unsubscribe(state, sid) {
	return subscribeRequest(state.eventPath, { method: "UNSUBSCRIBE", sid, nt: null, timeout: null });
}

function renew(state, sid) {
	return subscribeRequest(state.eventPath, { sid, nt: null, timeout: "Second-1800" });
}

function listRequest(i) {
	return soapRequest("GetListOfPortMappings", [
		["NewStartPort", "0"], ["NewEndPort", "65535"], ["NewProtocol", "TCP"], ["NewManage", "1"], ["NewNumberOfPorts", i % 2 ? "1000" : "0"],
	]);
}

// The external ports a GetListOfPortMappings answer lists.
export function listedPorts(answer) {
	return [...(answer.body ?? "").matchAll(/<p:PortMappingEntry>[\s\S]*?<p:NewExternalPort>(\d+)<\/p:NewExternalPort>[\s\S]*?<\/p:PortMappingEntry>/g)]
		.map((m) => Number(m[1]));
}

// 8 GetListOfPortMappings, all in flight at once; each must list every mapping.
async function listAll(bench, run) {
	const requests = Array.from({ length: HEAVIEST.lists }, (_, i) => ({ raw: listRequest(i), source: HOSTS[i % HOSTS.length] }));
	const r = await httpParallel(bench, requests, { timeout: 30 });
	assertAll200(r.answers, "GetListOfPortMappings");
	const listed = r.answers.map((a) => listedPorts(a).length);
	const want = Array.from({ length: HEAVIEST.mappings }, (_, i) => FIRST_PORT + i).join(",");
	for (const a of r.answers)
		assert.equal(listedPorts(a).sort((x, y) => x - y).join(","), want, `a listing without every mapping:\n${a.body.slice(0, 2000)}`);
	run.evidence.lists.push({ connected: r.connected, sent: r.sent, answeredEarly: r.answeredEarly, listed, bytes: r.answers.map((a) => a.bytes) });
}

// SUBSCRIBE churn, bounded: per round and host one SUBSCRIBE over the cap
// (refused), 4 renewals, 4 UNSUBSCRIBEs, then those 4 subscribed anew.
async function churn(bench, state, run) {
	const c = run.evidence.churn;
	for (let round = 0; round < HEAVIEST.churnRounds; round++)
		for (const host of HOSTS) {
			const mine = state.subs.filter((s) => s.host === host).slice(0, HEAVIEST.churnPerHost);
			const first = await httpSend(bench, [
				subscribe(state, host, `/over${round}`),
				...mine.map((s) => renew(state, s.sid)),
				...mine.map((s) => unsubscribe(state, s.sid)),
			], { source: host });
			assert.equal(first[0].status, 503, `a SUBSCRIBE over the cap of ${HEAVIEST.subscribers}: ${JSON.stringify(first[0]).slice(0, 400)}`);
			c.refused++;
			assertAll200(first.slice(1), "renewals and UNSUBSCRIBEs");
			c.renewed += mine.length;
			c.unsubscribed += mine.length;
			const again = await httpSend(bench, mine.map((s) => subscribe(state, host, s.path)), { source: host });
			assertAll200(again, "SUBSCRIBEs anew");
			mine.forEach((s, k) => {
				s.sid = again[k].headers.sid;
			});
			c.subscribed += mine.length;
			// The subscriber that was the oldest is now the newest: the next round takes others.
			state.subs = [...state.subs.filter((s) => !mine.includes(s)), ...mine];
		}
}

// Every current subscriber has had its initial event (SEQ 0).
async function assertInitialEvents(state) {
	for (const s of state.subs) {
		const listener = state.listeners[HOSTS.indexOf(s.host)];
		const event = await listener.event((e) => e.sid === s.sid && e.seq === "0", 10000);
		assert.equal(event.path, s.path, JSON.stringify(event));
	}
}

// --- the phases --------------------------------------------------------------

async function buildState(bench, state, run, log) {
	const ev = run.evidence;
	state.wan = await bench.wanAddress(30000);

	log("state: DNS cache full");
	state.dnsServer = await startDnsServer(bench);
	await router(bench, `set wan static ${state.wan}/24 ${ISP_GATEWAY} ${DNS_DEAD} ${DNS_LIVE}`);
	await router(bench, "dns flush");
	// 20 ms apart: a socket of the router queues 8 datagrams, and what a burst
	// brings beyond them is dropped (the flood below is). A name that got no
	// answer is asked again, three rounds at most.
	// In batches no larger than the forwarder's in-flight table (show dns says
	// how large), so that every name is asked upstream and its answer cached.
	const batch = (await dnsState(bench)).maxInFlight;
	const answered = new Set();
	let last;
	for (let round = 0; round < 3 && answered.size < HEAVIEST.dnsCache; round++) {
		const ask = Array.from({ length: HEAVIEST.dnsCache }, (_, i) => i).filter((i) => !answered.has(i));
		for (let from = 0; from < ask.length; from += batch) {
			last = await askDns(bench, ask.slice(from, from + batch).map((i) => [100 * round + i + 1, cacheName(i), "TXT"]), { gapMs: 20, wait: 6 });
			for (const a of last.answers)
				if (a.rcode === 0 && a.ancount === 1)
					answered.add((a.id - 1) % 100);
		}
	}
	assert.equal(answered.size, HEAVIEST.dnsCache, `the names for the cache, answered: ${JSON.stringify(last.answers)}`);
	const dns = await dnsState(bench);
	ev.dnsCache = { entries: dns.entries, maxEntries: dns.maxEntries, bytes: dns.bytes, maxBytes: dns.maxBytes };
	ev.dnsInFlightMax = dns.maxInFlight;
	// Full: at its count of entries, or with no room for another answer of this size in its bytes.
	const entryCost = dns.entries ? dns.bytes / dns.entries : 0;
	assert.ok(dns.entries === dns.maxEntries || (dns.entries > 0 && dns.bytes + entryCost > dns.maxBytes), `the cache full:\n${dns.text}`);
	assert.equal(dns.maxEntries, HEAVIEST.dnsCache, dns.text);
	await step(bench, run, "state: DNS cache full");

	log("state: DHCP pool full");
	const clients = Array.from({ length: HEAVIEST.dhcpPool }, (_, i) => ({
		op: "dora",
		mac: `02:48:50:00:${hex2(i >> 8)}:${hex2(i & 255)}`,
		// RFC 4361: ff, IAID, DUID-LLT (type 1, Ethernet, time, MAC)
		client_id: `ff${i.toString(16).padStart(8, "0")}00010001${(0x2f000000 + i).toString(16)}024850${i.toString(16).padStart(6, "0")}`,
		hostname: `heap-host-${String(i).padStart(3, "0")}-`.padEnd(32, "x"),
		wait: 1,
	}));
	const replies = await probe(bench, "lan", LAN_IF, clients);
	const acked = new Set(replies.flat().filter((r) => r.type === 5).map((r) => r.yiaddr));
	const leases = dhcpLeases(await router(bench, "show dhcp"));
	ev.dhcp = { acked: acked.size, ...leases };
	assert.equal(acked.size, HEAVIEST.dhcpPool, "every pool address acknowledged once");
	assert.deepEqual(leases, { leases: HEAVIEST.dhcpPool, pool: HEAVIEST.dhcpPool }, "show dhcp: the pool full");
	await step(bench, run, "state: + DHCP pool full");

	log("state: 16 UPnP subscribers");
	await addOtherHost(bench);
	state.eventPath = (await deviceDescription(bench)).services[WANIP].eventSubURL;
	state.listeners = [];
	for (const host of HOSTS)
		state.listeners.push(await genaListener(bench, host, LISTENER_PORT));
	state.subs = [];
	const perHost = HEAVIEST.subscribers / HOSTS.length;
	for (const host of HOSTS) {
		const paths = Array.from({ length: perHost }, (_, j) => `/s${j}`);
		const answers = await httpSend(bench, paths.map((p) => subscribe(state, host, p)), { source: host });
		assertAll200(answers, `SUBSCRIBE from ${host}`);
		answers.forEach((a, j) => state.subs.push({ host, path: paths[j], sid: a.headers.sid }));
	}
	await assertInitialEvents(state);
	await step(bench, run, "state: + 16 subscribers");
	log("state: 64 UPnP mappings");
	state.mappings = Array.from({ length: HEAVIEST.mappings }, (_, i) => ({
		port: FIRST_PORT + i, host: HOSTS[i < HEAVIEST.mappings / 2 ? 0 : 1], description: mappingDescription(i),
	}));
	for (const host of HOSTS) {
		const mine = state.mappings.filter((m) => m.host === host);
		const answers = await httpSend(bench, mine.map((m) => soapRequest("AddPortMapping",
			mappingArgs({ external: m.port, internal: m.port, client: host, description: m.description, lease: 3600 }))), { source: host });
		assertAll200(answers, `AddPortMapping from ${host}`);
	}
	const upnp = await upnpState(bench);
	ev.upnp = { mappings: upnp.mappings.length, mappingLimit: upnp.mappingLimit, subscribers: upnp.subscribers.length, subscriberLimit: upnp.subscriberLimit };
	assert.equal(upnp.mappings.length, HEAVIEST.mappings, upnp.text);
	assert.equal(upnp.mappingLimit, HEAVIEST.mappings, upnp.text);
	assert.equal(upnp.subscribers.length, HEAVIEST.subscribers, upnp.text);
	assert.equal(upnp.subscriberLimit, HEAVIEST.subscribers, upnp.text);
	for (const m of state.mappings) {
		const listed = upnp.mappings.find((x) => x.externalPort === m.port);
		assert.equal(listed?.description, m.description.slice(0, 47), `mapping ${m.port}:\n${upnp.text}`);
		assert.equal(listed.owner, m.host, upnp.text);
	}
	await step(bench, run, "state: + 64 mappings");

	log("state: 16 SIP dialogs");
	requireTools(SIPP, PY);
	state.callee = await sipp(bench, "far", { scenario: "uas-hold.xml", local: CALLEE, calls: HEAVIEST.dialogs, mediaPort: 52000, timeout: 150, name: "heap-callee" });
	state.phone = await sipp(bench, "lan", {
		scenario: "uac-hold.xml", local: PHONE, remote: CALLEE, calls: HEAVIEST.dialogs, mediaPort: 42000, callId: CALL_ID, timeout: 150, name: "heap-phone",
	});
	const acks = await pollUntil(() => state.callee.messages().filter((m) => m.dir === "received" && m.method === "ACK").length,
		(n) => n >= HEAVIEST.dialogs, { ms: 20000, every: 200 });
	assert.equal(acks, HEAVIEST.dialogs, `every call answered and acknowledged\n${state.callee.report().slice(-3000)}\n${state.phone.report().slice(-3000)}`);
	const sip = await showSipalg(bench);
	ev.sip = { dialogs: sip.dialogs.length, max: sip.counts.dialogs?.max, confirmed: sip.dialogs.filter((d) => d.state === "confirmed").length, pinholes: sip.counts.pinholes?.n };
	assert.equal(sip.dialogs.length, HEAVIEST.dialogs, sip.text);
	assert.equal(sip.counts.dialogs.n, HEAVIEST.dialogs, sip.text);
	assert.equal(ev.sip.confirmed, HEAVIEST.dialogs, sip.text);
	const ports = new Set(sip.dialogs.flatMap((d) => d.media.map((x) => x.inside)));
	assert.equal(ports.size, HEAVIEST.dialogs, `each dialog its own media port:\n${sip.text}`);
	await step(bench, run, "state: + 16 SIP dialogs");
}

// The console in a loop until `stop.done` (at least one round, at most consoleRounds).
async function consoleUse(bench, stop, run) {
	const c = run.evidence.console;
	while (c.rounds < 1 || (!stop.done && c.rounds < HEAVIEST.consoleRounds)) {
		for (const line of CONSOLE) {
			const out = await bench.console.command(line, 30000);
			assert.doesNotMatch(out, /^error:/m, `${line}\n${out}`);
			c.commands++;
			if (line === "show dns")
				c.maxInFlight = Math.max(c.maxInFlight, Number(/^in flight: (\d+) of/m.exec(out)?.[1] ?? 0));
			if (line === "show sipalg")
				c.minDialogs = Math.min(c.minDialogs, Number(/^dialogs: (\d+) of/m.exec(out)?.[1] ?? 0));
		}
		c.rounds++;
	}
}

// DNS waves: 64 new names (the table full for 2 s), 64 more it refuses, 64 cache hits.
async function dnsLoad(bench, run) {
	const d = run.evidence.dnsFlood;
	for (let wave = 0; wave < HEAVIEST.dnsWaves; wave++) {
		const questions = [];
		let id = 1000 * (wave + 1);
		for (let i = 0; i < HEAVIEST.dnsCache; i++)
			questions.push([id++, waveName(wave, i), "TXT"], [id++, cacheName(i), "TXT"]);
		for (let i = 0; i < HEAVIEST.dnsCache; i++)
			questions.push([id++, overflowName(wave, i), "TXT"]);
		const r = await askDns(bench, questions, { gapMs: 2, wait: 12 });
		d.sent += r.sent;
		d.answered += r.answers.length;
		for (const a of r.answers)
			d.rcodes[a.rcode] = (d.rcodes[a.rcode] ?? 0) + 1;
	}
}

async function upnpLoad(bench, state, run) {
	for (let round = 0; round < HEAVIEST.listRounds; round++) {
		// Let the DNS wave fill the in-flight table first.
		await sleep(round ? 0 : 300);
		await listAll(bench, run);
		if (!round)
			await churn(bench, state, run);
	}
}

async function runLoad(bench, state, run, log) {
	log("load: lists, churn, DNS flood, console");
	const before = await dnsState(bench);
	const stop = { done: false };
	const consoleLoop = consoleUse(bench, stop, run);
	const results = await Promise.allSettled([dnsLoad(bench, run), upnpLoad(bench, state, run)]);
	stop.done = true;
	results.push(...await Promise.allSettled([consoleLoop]));
	const failed = results.find((r) => r.status === "rejected");
	if (failed)
		throw failed.reason;
	await assertInitialEvents(state);
	const after = await dnsState(bench);
	const flood = run.evidence.dnsFlood;
	flood.tableFull = after.counters["table full"] - before.counters["table full"];
	flood.received = after.counters.queries - before.counters.queries;
	flood.cacheAfter = after.entries;
	// A burst beyond a socket's queue is dropped before the forwarder sees it;
	// every question it did see has its answer (NOERROR, or SERVFAIL at once when the table is full).
	assert.equal(flood.answered, flood.received, `the forwarder answered every question it received:\n${JSON.stringify(flood)}\n${after.text}`);
	const upnp = await upnpState(bench);
	assert.equal(upnp.subscribers.length, HEAVIEST.subscribers, upnp.text);
	assert.equal(upnp.mappings.length, HEAVIEST.mappings, upnp.text);
}

async function removeState(bench, state, run, log) {
	log("after: removing the state");
	for (let n = 1; n <= HEAVIEST.dialogs; n++)
		await hangUp(bench, "lan", PHONE, CALL_ID.replace("%u", String(n)));
	const [phone, callee] = await Promise.all([state.phone.finish(30000), state.callee.finish(30000)]);
	assert.equal(phone, 0, state.phone.report().slice(-4000));
	assert.equal(callee, 0, state.callee.report().slice(-4000));
	const sip = await pollUntil(() => showSipalg(bench), (s) => s.dialogs.length === 0, { ms: 10000, every: 250 });
	assert.equal(sip.dialogs.length, 0, sip.text);

	for (const host of HOSTS) {
		assertAll200(await httpSend(bench, state.subs.filter((s) => s.host === host).map((s) => unsubscribe(state, s.sid)), { source: host }), "UNSUBSCRIBE");
		const mine = state.mappings.filter((m) => m.host === host);
		assertAll200(await httpSend(bench, mine.map((m) => soapRequest("DeletePortMapping",
			[["NewRemoteHost", ""], ["NewExternalPort", String(m.port)], ["NewProtocol", "TCP"]])), { source: host }), "DeletePortMapping");
	}
	const upnp = await upnpState(bench);
	assert.equal(upnp.mappings.length, 0, upnp.text);
	assert.equal(upnp.subscribers.length, 0, upnp.text);

	await router(bench, "dns flush");
	assert.equal((await dnsState(bench)).entries, 0);
	await router(bench, "dhcp leases clear");
	assert.equal(dhcpLeases(await router(bench, "show dhcp")).leases, 0);
	const from = bench.console.text.length;
	await router(bench, "set wan dhcp");
	assert.equal(await bench.wanAddress(30000, from), state.wan, "the WAN lease back");

	for (const listener of state.listeners)
		await listener.stop();
	await state.dnsServer.stop();
	state.listeners = [];
	state.dnsServer = undefined;
}

/*
 * Build the heaviest state, run the heaviest load, remove the state; the XS
 * heap at each phase. Resolves with
 *   { creation, readings: { boot, state, load, after } (each { held, peak,
 *     live, size, keys, text }), evidence (what was built and done),
 *     seconds (per phase), uptime { boot, end (show status, s), wall (s
 *     between the two) }, boots (banners on the console),
 *     aborted: undefined or { phase, during (what was being done), reason,
 *     error } }.
 * An XS abort ends the run where it happened (the router restarted without
 * its state): the readings so far and the phase. Any other failure throws.
 */
export async function heapRun(bench, { log: print = () => {} } = {}) {
	const run = {
		creation: boardCreation(),
		readings: {},
		steps: [],
		seconds: {},
		evidence: {
			lists: [],
			churn: { refused: 0, renewed: 0, unsubscribed: 0, subscribed: 0 },
			dnsFlood: { sent: 0, answered: 0, rcodes: {}, tableFull: 0 },
			console: { rounds: 0, commands: 0, maxInFlight: 0, minDialogs: Infinity },
		},
		aborted: undefined,
	};
	// What was being done last: where an abort came.
	const log = (line) => {
		run.doing = line;
		print(line);
	};
	const state = { listeners: [] };
	let phase = "boot";
	let mark = Date.now();
	const done = (name) => {
		run.seconds[name] = (Date.now() - mark) / 1000;
		mark = Date.now();
	};
	try {
		log("boot: waiting for the WAN lease");
		await bench.wanAddress(30000);
		// The start-up NOTIFYs and the first timers go before the idle figure.
		await sleep(3000);
		run.readings.boot = await settledReading(bench);
		run.uptime = { boot: await uptime(bench) };
		const bootAt = Date.now();
		done("boot");

		phase = "state";
		await buildState(bench, state, run, log);
		run.readings.state = await settledReading(bench);
		done("state");

		phase = "load";
		await runLoad(bench, state, run, log);
		run.readings.load = figures(await memory(bench));
		done("load");

		phase = "after";
		await removeState(bench, state, run, log);
		await sleep(1000);
		run.readings.after = await settledReading(bench);
		done("after");
		run.uptime.end = await uptime(bench);
		run.uptime.wall = (Date.now() - bootAt) / 1000;
	}
	catch (e) {
		const reason = abortLine(bench);
		if (!reason)
			throw e;
		run.aborted = { phase, during: run.doing, reason, error: String(e?.stack ?? e).slice(0, 3000) };
	}
	finally {
		for (const listener of state.listeners)
			await listener.stop();
		await state.dnsServer?.stop();
		await state.phone?.stop();
		await state.callee?.stop();
	}
	run.evidence.console.minDialogs = Number.isFinite(run.evidence.console.minDialogs) ? run.evidence.console.minDialogs : undefined;
	run.boots = bootCount(bench);
	if (!run.aborted && abortLine(bench))
		run.aborted = { phase: "unknown", during: run.doing, reason: abortLine(bench), error: "" };
	return run;
}

// For messages: the readings as one line each, the state's steps after boot.
export function describeReadings(run) {
	const size = run.creation.static;
	const pct = (n) => `${((100 * n) / size).toFixed(1)}%`;
	const line = (name, r) => `${name}: held ${r.held} (${pct(r.held)}), peak ${r.peak} (${pct(r.peak)}), live ${r.live} (${pct(r.live)})`;
	const lines = [];
	for (const [phase, r] of Object.entries(run.readings)) {
		lines.push(`${line(phase, r)}, keys ${r.keys}`);
		if (phase === "boot")
			lines.push(...run.steps.map((x) => `  ${line(x.step, x)}`));
	}
	return lines.join("\n");
}

