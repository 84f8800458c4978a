// The host modules under the firmware (timer, preference, native lookup),
// exercised inside XS by the fixture boards/sim/test/host-api.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startBench } from "../lib/bench.mjs";

test("timer and preference behave as on the board", async () => {
	const bench = await startBench({ main: "test/host-api", attach: false, waitForPrompt: false });
	try {
		const summary = await bench.console.waitFor(/host-api: (\d+) passed, (\d+) failed/, 10000);
		const failures = bench.console.text.split("\n").filter((l) => l.startsWith("FAIL"));
		assert.deepEqual(failures, []);
		assert.equal(summary[2], "0");
		assert.equal(summary[1], "14");
	}
	finally {
		await bench.stop();
	}
});
