// npm run bench, heap part (issue 13): the XS heap against the board's
// creation under the heaviest legitimate state and load. The simulator holds
// the board's heap (manifest.json "creation"), so these are the figures the
// board would see, as far as the simulator's build matches the board's
// (a 32-bit build: slots of 16 bytes, as on the ESP32). Runs the simulator on
// the test bench (bench.mjs namespaces, so as root) and the driver the heap
// test uses (host-tests/lib/heap-load.mjs); reads `show memory` at boot,
// with the state, after the load and after the state is gone, and between
// the steps that build the state. Writes Markdown to docs/bench/heap.md (and
// prints it). Never fails on a missed target or an XS abort (both are
// results, written down); fails if the bench itself does.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startBench, TOP, SIM } from "../lib/bench.mjs";
import { HEAVIEST, PEAK_SHARE, IDLE_TOLERANCE, heapRun } from "../lib/heap-load.mjs";

const OUT = path.join(TOP, "docs/bench/heap.md");

const log = (...args) => console.error("bench:", ...args);

function quiet(cmd, argv) {
	try {
		return execFileSync(cmd, argv, { cwd: TOP, encoding: "utf8" }).trim();
	}
	catch {
		return "";
	}
}

function gitRevision() {
	const rev = quiet("git", ["rev-parse", "--short", "HEAD"]) || "unknown";
	const dirty = quiet("git", ["status", "--porcelain", "--", "src", "modules", "boards", "manifest.json", "host-tests/lib", "host-tests/bench"]);
	return dirty ? `${rev} + uncommitted changes` : rev;
}

// What `file` says of the simulator, and its word size.
function buildOf(binary) {
	const text = quiet("file", ["-b", "-L", binary]);
	const bits = /ELF (32|64)-bit/.exec(text)?.[1];
	return { text: text.split(",").slice(0, 3).join(",").trim(), bits: bits ? Number(bits) : undefined };
}

async function main() {
	const build = buildOf(SIM);
	log(`heap: starting ${path.relative(TOP, SIM)} (${build.text || "file(1) said nothing"}) on the test bench`);
	const bench = await startBench();
	let run;
	try {
		run = await heapRun(bench, { log: (line) => log(`heap: ${line}`) });
	}
	finally {
		await bench.stop();
	}

	const c = run.creation;
	const size = c.static;
	const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
	const pct = (n) => `${((100 * n) / size).toFixed(0)}%`;
	const cell = (n) => (n === undefined ? "–" : `${kb(n)} (${pct(n)})`);
	const r = run.readings;
	const missing = run.aborted ? `– (XS abort in the ${run.aborted.phase} phase)` : "–";
	const row = (what, reading) => (reading
		? `| ${what} | ${cell(reading.held)} | ${cell(reading.peak)} | ${cell(reading.live)} |`
		: `| ${what} | ${missing} | | |`);
	const peak = Math.max(0, ...Object.values(r).map((x) => x.peak));
	const peakOk = !run.aborted && r.load && peak <= PEAK_SHARE * size;
	const back = r.after && r.boot ? r.after.live - r.boot.live : undefined;
	const backOk = back !== undefined && Math.abs(back) <= IDLE_TOLERANCE;
	const met = (ok) => (ok ? "met" : "**not met**");
	const ev = run.evidence;
	const lists = ev.lists.map((l) => `${l.listed.length} answers of ${l.listed[0]} entries (${Math.min(...l.bytes)}–${Math.max(...l.bytes)} bytes), ${l.answeredEarly} answered before all were sent`);
	const rcodes = Object.entries(ev.dnsFlood.rcodes).map(([code, n]) => `${n} ${{ 0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED" }[code] ?? `rcode ${code}`}`).join(", ");

	const lines = [
		"# XS heap benchmark",
		"",
		`\`npm run bench\` (host-tests/bench/heap-bench.mjs), ${new Date().toISOString().slice(0, 10)}, commit ${gitRevision()}, ${os.arch()}, node ${process.version}.`,
		"",
		`Simulator: \`${path.relative(TOP, SIM)}\`, ${build.text || "unknown"} — **${build.bits ? `${build.bits}-bit` : "word size unknown"}**`
			+ `${build.bits === 64 ? " (a slot is 32 bytes, 16 on the ESP32: the slot share of these figures is twice the board's)" : ""}.`,
		`Creation (manifest.json): static ${size} bytes (${kb(size)}), stack ${c.stack} slots, chunks +${c.chunk?.incremental} bytes, slots +${c.heap?.incremental}, keys ${c.keys?.available}.`,
		"",
		"*held*: what the engine holds of the board's heap (it never shrinks, as on the board);",
		"*peak*: its high-water mark since boot; *live*: what is in use after a garbage collection",
		"(`show memory` collects first). Percentages are of creation.static.",
		"",
		"| phase | held | peak | live |",
		"|---|---:|---:|---:|",
		row("at boot (defaults, settled)", r.boot),
		row("with the heaviest state", r.state),
		row("peak under the heaviest load (read when it ended)", r.load),
		row("after (the state removed)", r.after),
		"",
		"The heaviest state: the DNS cache full (64 answers of ~400 bytes: ~31 of its 32 KB), the",
		"DHCP pool full (100 clients, 32-character host names), 16 GENA subscribers, 64 UPnP",
		"mappings with 64-character descriptions, 16 confirmed SIP dialogs through the ALG. The",
		`heaviest load, side by side: ${HEAVIEST.listRounds} rounds of ${HEAVIEST.lists} GetListOfPortMappings of every mapping all in`,
		`flight at once with SUBSCRIBE churn between them, ${HEAVIEST.dnsWaves} DNS waves (new names filling the`,
		"in-flight table behind a dead first server, names the full table refuses, cache hits),",
		"the console in a loop. host-tests/lib/heap-load.mjs says how each is made.",
		"",
		"## While the state was built",
		"",
		"| step | held | peak | live |",
		"|---|---:|---:|---:|",
		...run.steps.map((s) => `| ${s.step.replace(/^state: /, "")} | ${cell(s.held)} | ${cell(s.peak)} | ${cell(s.live)} |`),
		"",
		"## The load, as it ran",
		"",
		...(r.state ? [
			...(ev.lists.length ? lists.map((l, i) => `- lists, round ${i + 1}: ${l}`) : ["- lists: none ran"]),
			`- SUBSCRIBE churn: ${ev.churn.renewed} renewals, ${ev.churn.unsubscribed} UNSUBSCRIBEs, ${ev.churn.subscribed} new SUBSCRIBEs, ${ev.churn.refused} over the cap refused`,
			`- DNS: ${ev.dnsFlood.sent} questions sent, ${ev.dnsFlood.received ?? "?"} reached the forwarder (a burst beyond a socket's queue of 8 is dropped), ${ev.dnsFlood.answered} answered (${rcodes || "none"}); ${ev.dnsFlood.tableFull} refused with the in-flight table full`,
			`- console: ${ev.console.rounds} rounds, ${ev.console.commands} commands; in flight at most ${ev.console.maxInFlight} DNS questions; dialogs at least ${ev.console.minDialogs ?? "?"}`,
		] : ["- not reached"]),
		"",
		"## Targets (issue 13)",
		"",
		"| target | result | |",
		"|---|---|---|",
		`| no XS abort | ${run.aborted ? `XS abort (${run.aborted.reason}) in the ${run.aborted.phase} phase: ${run.aborted.during}` : "none"} | ${met(!run.aborted)} |`,
		`| peak at most ${PEAK_SHARE * 100}% of creation.static (${kb(PEAK_SHARE * size)}) | ${run.aborted ? `at least ${kb(size)} (${pct(size)}): aborted` : `${kb(peak)} (${pct(peak)})`} | ${met(peakOk)} |`,
		`| live back at the idle figure after boot (within ${IDLE_TOLERANCE} bytes) | ${back === undefined ? "not reached" : `${back >= 0 ? "+" : ""}${back} bytes`} | ${met(backOk)} |`,
		"",
		`Phase times: ${Object.entries(run.seconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ")}.`,
	];
	if (run.aborted)
		lines.push("", "The simulator restarted after the abort, without the state: the phases after it have no figures.");
	const text = `${lines.join("\n")}\n`;
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, text);
	process.stdout.write(text);
	log(`written to ${path.relative(TOP, OUT)}`);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
