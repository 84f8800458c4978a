// Running out of the board's XS heap (issue 13): on the board that is an XS
// abort and a restart, so the simulator must do the same, not grow its heap.
// The router is started with a heap smaller than the heaviest legitimate
// state needs (48 KB against the ~61 KB docs/bench/heap.md measures) and
// that state is built with real peers (host-tests/lib/heap-load.mjs), until
// the heap runs out. Asserted: the abort is reported on the console with its
// reason, the router restarts in the same process and answers again with
// the same limit, and the configuration saved before it is still there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { accepted, startBench } from "../lib/bench.mjs";
import { abortLine, bootCount, heapRun } from "../lib/heap-load.mjs";

const HEAP = 48 * 1024;

let bench;
let run;
before(async () => {
	bench = await startBench({ heap: HEAP });
	await accepted(bench, "set nat timeout udp 301");
	await accepted(bench, "save");
	run = await heapRun(bench, { log: (line) => console.error(`heap-abort: ${line}`) });
}, { timeout: 110000 });
after(async () => {
	await bench?.stop();
});

test("the heaviest state does not fit 48 KB: an XS abort, reported on the console with its reason", () => {
	assert.ok(run.aborted, `no abort: the state fit ${HEAP} bytes (readings: ${JSON.stringify(run.readings)})`);
	assert.notEqual(run.aborted.phase, "boot", "the router did not even boot in 48 KB");
	assert.equal(abortLine(bench), "not enough memory");
});

test("then the router restarts and answers, with the same limit and the saved configuration", { timeout: 60000 }, async () => {
	assert.ok(run.aborted);
	const deadline = Date.now() + 30000;
	while (bootCount(bench) < 2 && Date.now() < deadline)
		await new Promise((resolve) => setTimeout(resolve, 200));
	assert.equal(bootCount(bench), 2, "no second boot after the abort");
	const memory = await bench.console.command("show memory");
	assert.match(memory, new RegExp(`^xs heap: \\d+ of ${HEAP} bytes held`, "m"));
	const config = await bench.console.command("show config");
	assert.match(config, /^set nat timeout udp 301$/m);
	assert.match(config, /^# saved/m);
	await bench.wanAddress(30000, bench.console.text.lastIndexOf("Type help for commands."));
});
