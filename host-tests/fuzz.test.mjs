// The libFuzzer harnesses, each for a bounded number of runs with a fixed
// seed (repeatable); `npm run fuzz` runs them for longer with fresh seeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { harnesses, run } from "./fuzz/run.mjs";

for (const name of Object.keys(harnesses)) {
	test(`fuzz ${name}: 2000000 inputs under ASan and UBSan, no finding`, () => {
		const output = run(name, { seconds: 60, runs: 2000000, seed: 1 });
		assert.match(output, /Done \d+ runs/);
	});
}
