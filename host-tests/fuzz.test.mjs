// The libFuzzer harnesses, each for a bounded number of runs with a fixed
// seed (repeatable); `npm run fuzz` runs them for longer with fresh seeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { harnesses, run } from "./fuzz/run.mjs";

for (const [name, h] of Object.entries(harnesses)) {
	test(`fuzz ${name}: ${h.runs} inputs under ASan and UBSan, no finding`, () => {
		// The time bound only keeps a slow machine from hanging the suite; the count is the test.
		const output = run(name, { seconds: 240, runs: h.runs, seed: 1 });
		const done = /Done (\d+) runs/.exec(output);
		assert.ok(done, output.slice(-2000));
		assert.equal(Number(done[1]), h.runs, "every input ran");
		if (name === "napt") {
			// The fast path's frame building was reached, not only its gate.
			const fast = /fast path checked=(\d+) routed=(\d+) sent=(\d+)/.exec(output);
			assert.ok(fast && Number(fast[3]) > 0, "the fuzzer sent frames by the fast path");
		}
	});
}
