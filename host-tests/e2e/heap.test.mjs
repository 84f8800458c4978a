// The XS heap under the heaviest legitimate state and load (issue 13): the
// simulator holds the board's heap (manifest.json "creation"), so what does
// not fit aborts here as it would on the board. With the defaults, boot;
// build the heaviest state (64 UPnP mappings with 64-character descriptions,
// 16 GENA subscribers, the DHCP pool full, the DNS cache full, 16 SIP
// dialogs) and run the heaviest load (8 GetListOfPortMappings of every
// mapping at once, SUBSCRIBE churn, a DNS flood, the console) with real
// peers (host-tests/lib/heap-load.mjs); then remove the state. Asserted: no
// XS abort and no restart; the state really built and the load really run;
// the peak within 80% of creation.static at every phase; what is live
// afterwards back at the idle figure after boot.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench } from "../lib/bench.mjs";
import { HEAVIEST, PEAK_SHARE, IDLE_TOLERANCE, heapRun, describeReadings } from "../lib/heap-load.mjs";

let bench;
let run;
let failure;
before(async () => {
	bench = await startBench();
	try {
		run = await heapRun(bench, { log: (line) => console.error(`heap: ${line}`) });
	}
	catch (e) {
		failure = e;
	}
}, { timeout: 110000 });
after(async () => {
	await bench?.stop();
});

// The run, or why there is none.
function finished() {
	if (failure)
		throw failure;
	assert.ok(run, "the heap run did not finish");
	return run;
}

test("no XS abort and no restart under the heaviest state and load", () => {
	const r = finished();
	const summary = describeReadings(r);
	assert.equal(r.aborted, undefined, `XS abort (${r.aborted?.reason}) in the ${r.aborted?.phase} phase (${r.aborted?.during}) with creation.static ${r.creation.static}; readings before it:\n${summary}\n${r.aborted?.error}`);
	assert.doesNotMatch(bench.console.text, /^fatal: XS abort/m);
	assert.doesNotMatch(bench.console.text, /restarted after/);
	assert.equal(r.boots, 1, "one boot on the console");
	assert.ok(r.uptime.end >= r.uptime.boot + Math.floor(r.uptime.wall) - 2,
		`uptime ran on: ${r.uptime.boot} s at boot, ${r.uptime.end} s ${r.uptime.wall.toFixed(1)} s later`);
});

test("the state was built and the load was run", () => {
	const r = finished();
	assert.equal(r.aborted, undefined, "aborted: nothing to check");
	const ev = r.evidence;
	assert.deepEqual(ev.upnp, { mappings: HEAVIEST.mappings, mappingLimit: HEAVIEST.mappings, subscribers: HEAVIEST.subscribers, subscriberLimit: HEAVIEST.subscribers });
	assert.deepEqual(ev.dhcp, { acked: HEAVIEST.dhcpPool, leases: HEAVIEST.dhcpPool, pool: HEAVIEST.dhcpPool });
	// Full by its bytes (each answer ~400 bytes and what the entry costs the heap), so fewer than 64 entries.
	assert.ok(ev.dnsCache.entries > 0 && ev.dnsCache.entries <= HEAVIEST.dnsCache, JSON.stringify(ev.dnsCache));
	assert.ok(ev.dnsCache.bytes > 0.85 * ev.dnsCache.maxBytes, `the cache full by bytes: ${JSON.stringify(ev.dnsCache)}`);
	assert.equal(ev.sip.dialogs, HEAVIEST.dialogs);
	assert.equal(ev.sip.confirmed, HEAVIEST.dialogs);
	// Every round of lists: 8 connections, 8 requests sent before any answer, each listing all 64.
	assert.equal(ev.lists.length, HEAVIEST.listRounds);
	for (const round of ev.lists) {
		assert.equal(round.connected, HEAVIEST.lists, JSON.stringify(round));
		assert.equal(round.sent, HEAVIEST.lists, JSON.stringify(round));
		assert.equal(round.answeredEarly, 0, `all ${HEAVIEST.lists} in flight at once: ${JSON.stringify(round)}`);
		assert.deepEqual(round.listed, Array(HEAVIEST.lists).fill(HEAVIEST.mappings), JSON.stringify(round));
	}
	const churned = HEAVIEST.churnRounds * 2 * HEAVIEST.churnPerHost;
	assert.deepEqual(ev.churn, { refused: HEAVIEST.churnRounds * 2, renewed: churned, unsubscribed: churned, subscribed: churned });
	assert.ok(ev.dnsFlood.received > 2 * HEAVIEST.dnsCache, `the flood reached the forwarder: ${JSON.stringify(ev.dnsFlood)}`);
	assert.ok(ev.dnsFlood.tableFull > 0, `the in-flight table was full: ${JSON.stringify(ev.dnsFlood)}`);
	assert.ok(ev.dnsFlood.cacheAfter >= ev.dnsCache.entries, "the cache still full after the flood");
	assert.equal(ev.console.maxInFlight, ev.dnsInFlightMax, `show dns saw the in-flight table full: ${JSON.stringify(ev.console)}`);
	assert.equal(ev.console.minDialogs, HEAVIEST.dialogs, "the dialogs lasted through the load");
	assert.ok(ev.console.rounds >= 1, JSON.stringify(ev.console));
});

test(`the peak stays within ${PEAK_SHARE * 100}% of creation.static at every phase`, () => {
	const r = finished();
	const limit = PEAK_SHARE * r.creation.static;
	const summary = describeReadings(r);
	for (const phase of ["boot", "state", "load", "after"]) {
		const reading = r.readings[phase];
		assert.ok(reading, `no reading for the ${phase} phase${r.aborted ? ` (XS abort during ${r.aborted.phase})` : ""}:\n${summary}`);
		assert.equal(reading.size, r.creation.static, "the heap is the manifest's creation.static");
		assert.ok(reading.peak <= limit, `${phase}: peak ${reading.peak} over ${limit} (${PEAK_SHARE * 100}% of ${r.creation.static}):\n${summary}`);
	}
});

test(`afterwards what is live is back at the idle figure after boot (within ${IDLE_TOLERANCE} bytes)`, () => {
	const r = finished();
	const summary = describeReadings(r);
	assert.ok(r.readings.boot && r.readings.after, `no readings to compare${r.aborted ? ` (XS abort during ${r.aborted.phase})` : ""}:\n${summary}`);
	const grew = r.readings.after.live - r.readings.boot.live;
	assert.ok(Math.abs(grew) <= IDLE_TOLERANCE, `live ${r.readings.boot.live} after boot, ${r.readings.after.live} after the state went (${grew >= 0 ? "+" : ""}${grew}):\n${summary}`);
	// The state was live while it stood: the comparison is not vacuous.
	assert.ok(r.readings.state.live - r.readings.boot.live > 2 * IDLE_TOLERANCE, summary);
});
