// The firmware's TypeScript type-checks against @moddable/typings (strict)
// and the whole tree is eslint-clean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { TOP } from "./lib/bench.mjs";

function run(bin, args) {
	return spawnSync(path.join(TOP, "node_modules/.bin", bin), args, { cwd: TOP, encoding: "utf8", timeout: 300000 });
}

test("tsc --noEmit (strict, @moddable/typings)", () => {
	const result = run("tsc", ["--noEmit", "-p", "tsconfig.json"]);
	assert.equal(result.status, 0, result.stdout + result.stderr);
});

test("eslint", () => {
	const result = run("eslint", ["."]);
	assert.equal(result.status, 0, result.stdout + result.stderr);
});
