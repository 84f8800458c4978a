// C unit tests: each host-tests/unit/*_test.c built with AddressSanitizer and
// UBSan (alignment included: Xtensa faults where x86 does not) and run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { TOP } from "./lib/bench.mjs";

const unitDir = path.join(TOP, "host-tests/unit");
const outDir = path.join(TOP, "build/unit");
fs.mkdirSync(outDir, { recursive: true });

// What each test links besides itself, and where its headers are.
const units = {
	preference_store_test: { sources: ["boards/sim/preference_store.c"], includes: ["boards/sim"] },
};

const SANITIZE = ["-fsanitize=address,undefined,alignment", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"];

for (const [name, unit] of Object.entries(units)) {
	test(`${name} (ASan + UBSan)`, () => {
		const exe = path.join(outDir, name);
		const build = spawnSync("cc", [
			"-std=c11", "-D_DEFAULT_SOURCE", "-g", "-O1", "-Wall", "-Wextra", "-Werror", ...SANITIZE,
			...unit.includes.map((d) => `-I${path.join(TOP, d)}`),
			path.join(unitDir, `${name}.c`), ...unit.sources.map((s) => path.join(TOP, s)),
			"-o", exe,
		], { encoding: "utf8" });
		assert.equal(build.status, 0, `${name} does not build:\n${build.stderr}`);
		const run = spawnSync(exe, [], { encoding: "utf8", timeout: 120000, env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1", UBSAN_OPTIONS: "print_stacktrace=1" } });
		assert.equal(run.status, 0, `${name} failed:\n${run.stdout}\n${run.stderr}`);
		assert.match(run.stdout, /\d+ checks, 0 failed/);
	});
}

test("every unit test file is listed", () => {
	const files = fs.readdirSync(unitDir).filter((f) => f.endsWith("_test.c")).map((f) => f.replace(/\.c$/, ""));
	assert.deepEqual(files.sort(), Object.keys(units).sort());
});
