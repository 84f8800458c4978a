// npm run bench, UPnP part (issue 4): the XS heap the UPnP IGD uses and how
// fast the simulator answers SOAP. Runs the simulator on the test bench
// (bench.mjs namespaces), drives it from lan with upnp-http.py, and reads
// the heap with `show memory` (which collects garbage first, so "in use" is
// what is live). Measures
//   - XS heap in use with UPnP off, on and idle, and with 64 mappings;
//   - the peak of live heap sampled while 8 clients send SOAP at once;
//   - SOAP requests per second, one client and 8 at once (wall time);
//   - heap before and after 1000 AddPortMapping/DeletePortMapping cycles;
//   - SOAP latency (connect to the whole answer) p50/p99/max with 1, 8 and
//     16 clients released at once, each sending LATENCY_EACH requests, and
//     how many were not answered 200;
//   - the same 8 clients x 9 requests while another LAN host holds 16
//     connections sending a byte a second (tcp-hold.py): how many answered.
// UPNP_BENCH_ONLY=latency measures only the latency and writes it as JSON
// to UPNP_BENCH_JSON (to measure an older build: ROUTER_SIM=...);
// UPNP_BENCH_BEFORE=<that JSON> puts those figures beside this build's.
// Writes Markdown to docs/bench/upnp.md (and prints it). Never fails on a
// missed target; fails if the bench itself does (a request refused).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startBench, sleep, TOP, SIM, LAN_HOST, ROUTER_LAN } from "../lib/bench.mjs";
import {
	PY, HTTP_TOOL, UPNP_PORT, OTHER_HOST, addOtherHost, router, upnpState, heapInUse, heapLowest, httpSend, httpClients, soapRequest, soapResult, mappingArgs,
} from "../lib/upnp.mjs";

const OUT = path.join(TOP, "docs/bench/upnp.md");
const SECONDS = Number(process.env.UPNP_BENCH_SECONDS ?? 5);
const CYCLES = Number(process.env.UPNP_BENCH_CYCLES ?? 1000);
const MAPPINGS = 64;
const TARGET_HEAP = 64 * 1024;
const LATENCY_CLIENTS = [1, 8, 16];
const LATENCY_EACH = Number(process.env.UPNP_BENCH_LATENCY_EACH ?? 20);

const log = (...args) => console.error("bench:", ...args);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const signedKb = (bytes) => `${bytes >= 0 ? "+" : "−"}${kb(Math.abs(bytes))}`;

const heap = (bench) => heapLowest(bench);

async function sendAll(bench, requests, chunk = 200) {
	const answers = [];
	for (let i = 0; i < requests.length; i += chunk)
		answers.push(...await httpSend(bench, requests.slice(i, i + chunk), { timeout: 5 }));
	return answers;
}

function assertAll(answers, what) {
	const bad = answers.filter((a) => a.status !== 200);
	assert.equal(bad.length, 0, `${what}: ${bad.length} of ${answers.length} not 200, e.g. ${JSON.stringify(bad[0])}`);
}

// CLIENTS threads in lan sending `request` for SECONDS; { ok, failed, per_second, ... }.
async function load(bench, request, clients, seconds = SECONDS) {
	const result = await bench.exec("lan", [PY, HTTP_TOOL, "load", ROUTER_LAN, String(UPNP_PORT), String(clients), String(seconds)], {
		input: JSON.stringify({ raw: request }), timeout: (seconds + 30) * 1000,
	});
	assert.equal(result.code, 0, `upnp-http.py load: ${result.stderr}`);
	return JSON.parse(result.stdout);
}

// The highest live heap seen while `clients` send `request` for `seconds`.
async function peakDuring(bench, request, clients, seconds = 4) {
	const running = load(bench, request, clients, seconds);
	const samples = [];
	const deadline = Date.now() + seconds * 1000;
	await sleep(300);
	while (Date.now() < deadline - 200) {
		samples.push((await heapInUse(bench)).inUse);
		await sleep(150);
	}
	const result = await running;
	return { peak: Math.max(...samples), samples: samples.length, result };
}

// The p-th percentile (nearest rank) of sorted values.
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

// For 1, 8 and 16 clients at once, each sending `request` LATENCY_EACH
// times: p50, p99 and max in ms over every request (failed ones at the time
// they failed), and what did not come back 200.
async function latency(bench, request) {
	const out = {};
	for (const clients of LATENCY_CLIENTS) {
		const results = await httpClients(bench, request, clients, LATENCY_EACH);
		const ms = results.map((x) => x.ms).sort((a, b) => a - b);
		const failed = results.filter((x) => x.status !== 200);
		out[clients] = {
			requests: results.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms[ms.length - 1],
			failed: failed.length, example: failed[0]?.error ?? (failed[0] ? `status ${failed[0].status}` : undefined),
		};
		log(`UPnP: latency with ${clients} clients: ${JSON.stringify(out[clients])}`);
		await sleep(500);
	}
	return out;
}

// 8 clients x 9 GetExternalIPAddress from lan's host while OTHER_HOST holds
// 16 connections a byte a second: { answered, requests, p50, p99 }.
async function besideSlowHost(bench, request) {
	await addOtherHost(bench);
	const slow = bench.track("lan", [PY, "-u", path.join(TOP, "host-tests/lib/tcp-hold.py"), ROUTER_LAN, String(UPNP_PORT), OTHER_HOST, "16", "15", "GET /rootDesc.xml HTTP/1.1"]);
	try {
		await slow.waitFor(/^held \d+$/m, 40000);
		await sleep(500);
		const results = await httpClients(bench, request, 8, 9);
		const ms = results.map((x) => x.ms).sort((a, b) => a - b);
		const out = { requests: results.length, answered: results.filter((x) => x.status === 200).length, p50: percentile(ms, 50), p99: percentile(ms, 99) };
		log(`UPnP: beside a slow host: ${JSON.stringify(out)}`);
		return out;
	}
	finally {
		await slow.stop();
	}
}

async function latencyOnly() {
	const bench = await startBench();
	try {
		await bench.wanAddress(30000);
		await sleep(3000);
		const getIp = soapRequest("GetExternalIPAddress");
		const result = { commit: gitRevision(path.resolve(path.dirname(SIM), "../..")), latency: await latency(bench, getIp), slowHost: await besideSlowHost(bench, getIp) };
		const file = process.env.UPNP_BENCH_JSON;
		if (file)
			fs.writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
		process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
	}
	finally {
		await bench.stop();
	}
}

// The commit of the tree at `top` (by default this one; the simulator's own for UPNP_BENCH_ONLY).
function gitRevision(top = TOP) {
	try {
		const rev = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: top, encoding: "utf8" }).trim();
		const dirty = execFileSync("git", ["status", "--porcelain", "--", "src/upnp", "modules/io", "host-tests/bench"], { cwd: top, encoding: "utf8" }).trim();
		return dirty ? `${rev} + uncommitted changes` : rev;
	}
	catch {
		return "unknown";
	}
}

// The simulator's width, from its ELF header (EI_CLASS: 1 is 32-bit, 2 is
// 64-bit): the heap figures are in that width's slot and pointer sizes.
function simWidth() {
	const header = Buffer.alloc(5);
	const fd = fs.openSync(SIM, "r");
	try {
		fs.readSync(fd, header, 0, 5, 0);
	}
	finally {
		fs.closeSync(fd);
	}
	return header[4] === 1 ? "32-bit" : header[4] === 2 ? "64-bit" : "unknown width";
}

function latencyTable(after, before) {
	const cell = (x) => `${x.p50.toFixed(1)} / ${x.p99.toFixed(1)} / ${x.max.toFixed(1)} ms, ${x.failed} of ${x.requests} not 200`;
	const rows = LATENCY_CLIENTS.map((n) => `| ${n} | ${before ? `${cell(before.latency[n])} | ` : ""}${cell(after[n])} |`);
	return [
		"",
		before ? `| clients | before (commit ${before.commit}): p50 / p99 / max | this build: p50 / p99 / max |` : "| clients | p50 / p99 / max |",
		before ? "|---:|---|---|" : "|---:|---|",
		...rows,
	];
}

const before = process.env.UPNP_BENCH_BEFORE ? JSON.parse(fs.readFileSync(process.env.UPNP_BENCH_BEFORE, "utf8")) : undefined;

async function main() {
	log(`UPnP: starting ${path.relative(TOP, SIM)} on the test bench`);
	const bench = await startBench();
	const r = {};
	try {
		const wan = await bench.wanAddress(30000);
		// Let the start-up NOTIFYs go out before reading an idle heap.
		await sleep(3000);
		r.on = await heap(bench);
		await router(bench, "upnp off");
		await sleep(500);
		r.off = await heap(bench);
		await router(bench, "upnp on");
		await sleep(3000);
		r.onAgain = await heap(bench);
		const idle = Math.min(r.on.inUse, r.onAgain.inUse);

		log(`UPnP: ${MAPPINGS} mappings`);
		const adds = Array.from({ length: MAPPINGS }, (_, i) => soapRequest("AddPortMapping",
			mappingArgs({ external: 50000 + i, internal: 50000 + i, proto: i % 2 ? "UDP" : "TCP", client: LAN_HOST, description: `bench mapping ${i}`, lease: 3600 })));
		assertAll(await sendAll(bench, adds), "adding the mappings");
		const state = await upnpState(bench);
		assert.equal(state.mappings.length, MAPPINGS, state.text);
		r.mappings = await heap(bench);

		const getIp = soapRequest("GetExternalIPAddress");
		const check = soapResult((await httpSend(bench, [getIp]))[0]);
		assert.equal(check.out.NewExternalIPAddress, wan, JSON.stringify(check.answer));
		const list = soapRequest("GetListOfPortMappings", [["NewStartPort", "0"], ["NewEndPort", "65535"], ["NewProtocol", "TCP"], ["NewManage", "0"], ["NewNumberOfPorts", "0"]]);
		const listed = (await httpSend(bench, [list]))[0];
		assert.equal(listed.status, 200, JSON.stringify(listed));
		r.listBytes = listed.bytes;

		log("UPnP: requests per second");
		r.seqIp = await load(bench, getIp, 1);
		r.parIp = await load(bench, getIp, 8);
		r.seqList = await load(bench, list, 1);
		r.parList = await load(bench, list, 8);
		for (const x of [r.seqIp, r.parIp, r.seqList, r.parList])
			assert.equal(x.failed, 0, `a request failed under load: ${JSON.stringify(x)}`);

		log("UPnP: latency");
		r.latency = await latency(bench, getIp);
		r.slowHost = await besideSlowHost(bench, getIp);
		await sleep(6000);   // the slow host's connections past their deadlines

		log("UPnP: heap during 8 concurrent clients");
		r.peakIp = await peakDuring(bench, getIp, 8);
		r.peakList = await peakDuring(bench, list, 8);
		await sleep(1000);
		r.afterLoad = await heap(bench);

		log(`UPnP: ${CYCLES} add/delete cycles`);
		// The table holds 64 UPnP mappings (the limit sizes the pool at
		// boot): one of the 64 makes room for the one that comes and goes.
		const last = 50000 + MAPPINGS - 1;
		assertAll(await httpSend(bench, [soapRequest("DeletePortMapping", [["NewRemoteHost", ""], ["NewExternalPort", String(last)], ["NewProtocol", last % 2 ? "UDP" : "TCP"]])]), "making room");
		const cycle = (n) => [
			soapRequest("AddPortMapping", mappingArgs({ external: 51000, client: LAN_HOST, description: `cycle ${n}`, lease: 600 })),
			soapRequest("DeletePortMapping", [["NewRemoteHost", ""], ["NewExternalPort", "51000"], ["NewProtocol", "TCP"]]),
		];
		assertAll(await sendAll(bench, Array.from({ length: 50 }, (_, n) => cycle(n)).flat()), "warm-up cycles");
		r.beforeCycles = await heap(bench);
		const started = Date.now();
		assertAll(await sendAll(bench, Array.from({ length: CYCLES }, (_, n) => cycle(n)).flat()), "add/delete cycles");
		r.cycleSeconds = (Date.now() - started) / 1000;
		r.afterCycles = await heap(bench);
		const end = await upnpState(bench);
		assert.equal(end.mappings.length, MAPPINGS - 1, end.text);
		r.counters = end.counters;

		r.upnpIdle = idle - r.off.inUse;
		r.upnp64 = r.mappings.inUse - r.off.inUse;
		r.perMapping = (r.mappings.inUse - idle) / MAPPINGS;
		r.growth = r.afterCycles.inUse - r.beforeCycles.inUse;
		r.memoryText = r.mappings.text.split("\n")[0];
	}
	finally {
		await bench.stop();
	}

	const met = (ok) => (ok ? "met" : "**not met**");
	const cpu = (os.cpus()[0]?.model ?? "unknown").trim();
	const rate = (x) => `${x.per_second.toFixed(0)} (${x.ok} in ${x.seconds.toFixed(1)} s)`;
	const lines = [
		"# UPnP IGD benchmark",
		"",
		`\`npm run bench\` (host-tests/bench/upnp-bench.mjs), ${new Date().toISOString().slice(0, 10)}, commit ${gitRevision()}, ${os.arch()}, ${cpu}, node ${process.version}; the simulator ${simWidth()}.`,
		"",
		"The simulator (the firmware's TypeScript on XS with lwIP, as `npm start` runs it) on the test",
		"bench; clients in the `lan` namespace (`host-tests/lib/upnp-http.py`, one HTTP/1.1 connection per",
		"request, as miniupnpc does). *XS heap in use*: `show memory` after its garbage collection,",
		"chunks + slots in use, the lowest of three readings. Wall-time figures are from a shared machine",
		"and only indicative.",
		"",
		"## XS heap",
		"",
		"| state | XS heap in use | UPnP's share (vs off) |",
		"|---|---:|---:|",
		`| UPnP off | ${kb(r.off.inUse)} | – |`,
		`| UPnP on, idle (after boot) | ${kb(r.on.inUse)} | ${signedKb(r.on.inUse - r.off.inUse)} |`,
		`| UPnP on, idle (after off and on) | ${kb(r.onAgain.inUse)} | ${signedKb(r.onAgain.inUse - r.off.inUse)} |`,
		`| ${MAPPINGS} mappings (descriptions "bench mapping N", leases) | ${kb(r.mappings.inUse)} | ${signedKb(r.upnp64)} |`,
		`| peak sampled during 8 concurrent GetExternalIPAddress (${r.peakIp.samples} samples) | ${kb(r.peakIp.peak)} | ${signedKb(r.peakIp.peak - r.off.inUse)} |`,
		`| peak sampled during 8 concurrent GetListOfPortMappings of ${MAPPINGS / 2} (${r.peakList.samples} samples) | ${kb(r.peakList.peak)} | ${signedKb(r.peakList.peak - r.off.inUse)} |`,
		`| after the load | ${kb(r.afterLoad.inUse)} | ${signedKb(r.afterLoad.inUse - r.off.inUse)} |`,
		"",
		`Per mapping: ${r.perMapping.toFixed(0)} bytes of XS heap (mappings live in the NAPT forward table in C; the`,
		"heap holds only what the UPnP code keeps about them). The rest of the heap is the router's",
		`own (console, configuration, NAPT and DHCP state): \`${r.memoryText}\`.`,
		"",
		"## SOAP requests per second (simulator, wall time)",
		"",
		"| request | 1 client | 8 clients at once |",
		"|---|---:|---:|",
		`| GetExternalIPAddress | ${rate(r.seqIp)} | ${rate(r.parIp)} |`,
		`| GetListOfPortMappings, ${MAPPINGS / 2} TCP entries (${r.listBytes} bytes answered) | ${rate(r.seqList)} | ${rate(r.parList)} |`,
		`| AddPortMapping + DeletePortMapping, one client, ${CYCLES} cycles | ${((2 * CYCLES) / r.cycleSeconds).toFixed(0)} (${2 * CYCLES} in ${r.cycleSeconds.toFixed(1)} s) | – |`,
		"",
		"## SOAP latency under concurrent clients (simulator, wall time)",
		"",
		`Clients (Python's http.client in \`lan\`) released at once, each sending GetExternalIPAddress ${LATENCY_EACH} times,`,
		"one connection per request; the time from connect to the whole answer, over every request. A",
		"request not answered 200 (refused, reset, closed unanswered) counts at the time it failed.",
		...latencyTable(r.latency, before),
		"",
		"While another LAN host holds 16 connections sending its request a byte a second",
		"(`host-tests/lib/tcp-hold.py`), 8 clients each sending GetExternalIPAddress 9 times:",
		"",
		before ? `| | before (commit ${before.commit}) | this build |` : "| | this build |",
		before ? "|---|---|---|" : "|---|---|",
		`| answered 200 | ${before ? `${before.slowHost.answered} of ${before.slowHost.requests} | ` : ""}${r.slowHost.answered} of ${r.slowHost.requests} |`,
		`| p50 / p99 | ${before ? `${before.slowHost.p50.toFixed(1)} / ${before.slowHost.p99.toFixed(1)} ms | ` : ""}${r.slowHost.p50.toFixed(1)} / ${r.slowHost.p99.toFixed(1)} ms |`,
		"",
		`## Heap across ${CYCLES} add/delete cycles`,
		"",
		"| | XS heap in use |",
		"|---|---:|",
		`| before (${MAPPINGS - 1} mappings standing, after 50 warm-up cycles) | ${kb(r.beforeCycles.inUse)} |`,
		`| after ${CYCLES} cycles | ${kb(r.afterCycles.inUse)} |`,
		`| growth | ${r.growth} bytes |`,
		"",
		`Counters at the end: requests ${r.counters.requests}, actions ${r.counters.actions}, faults ${r.counters.faults}, connection limit ${r.counters.connectionLimit}.`,
		"",
		"## Targets (issue 4)",
		"",
		"| target | result | |",
		"|---|---|---|",
		`| at most 64 KB of XS heap with ${MAPPINGS} mappings (UPnP's share: with ${MAPPINGS} mappings minus UPnP off) | ${kb(r.upnp64)} | ${met(r.upnp64 <= TARGET_HEAP)} |`,
		`| no growth across ${CYCLES} add/delete cycles (within 1 KB of collection noise) | ${r.growth} bytes | ${met(r.growth <= 1024)} |`,
		"",
		`The whole XS heap in use with ${MAPPINGS} mappings is ${kb(r.mappings.inUse)}; most of it is the rest of the router`,
		`(UPnP off reads ${kb(r.off.inUse)}), so the target is read as UPnP's share: what turning it on and`,
		"adding the mappings costs. The modules themselves are not in it: they are preloaded (flash on",
		"the device) and the simulator charges only what the router builds after. Transient heap while",
		"answering is a part of each answer at a time (answers are made in pieces, at most 4 at once),",
		"bounded by the connection limit (8 at once).",
	];
	const text = `${lines.join("\n")}\n`;
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, text);
	process.stdout.write(text);
	log(`written to ${path.relative(TOP, OUT)}`);
}

(process.env.UPNP_BENCH_ONLY === "latency" ? latencyOnly() : main()).catch((e) => {
	console.error(e);
	process.exit(1);
});
