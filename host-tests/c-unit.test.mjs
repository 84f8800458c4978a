// C unit tests: each host-tests/unit/*_test.c built 32-bit (-m32, as the
// simulator: the ESP32's pointer, size_t and struct sizes) with
// AddressSanitizer and UBSan (alignment included: Xtensa faults where x86
// does not) and run.
// Tests that link lwIP get its core and IPv4 sources (the same list as
// tools/sim.mk) compiled once, with the same sanitizers, into build/unit/lwip/
// and reused while sources, options and flags are unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { TOP } from "./lib/bench.mjs";

const unitDir = path.join(TOP, "host-tests/unit");
const outDir = path.join(TOP, "build/unit");
fs.mkdirSync(outDir, { recursive: true });

const LWIP_SRC = "third_party/lwip/src";
// Headers lwIP is built against: the sim's options and arch, our hook.
const LWIP_INCLUDES = ["boards/sim/lwip", `${LWIP_SRC}/include`, "modules/lwip-hooks", "modules/net"];
const NAPT_CORE = ["modules/napt/napt_table.c", "modules/napt/napt_translate.c"];

// What each test links besides itself, where its headers are, extra flags,
// and whether it links lwIP.
const units = {
	preference_store_test: { sources: ["boards/sim/preference_store.c"], includes: ["boards/sim"] },
	sim_mac_test: { sources: ["boards/sim/sim_mac.c"], includes: ["boards/sim"] },
	napt_test: { sources: NAPT_CORE, includes: ["modules/napt"] },
	sip_msg_test: { sources: ["modules/sipalg/sip_msg.c"], includes: ["modules/sipalg"] },
	sip_dialog_test: { sources: [...NAPT_CORE, "modules/sipalg/sip_msg.c", "modules/sipalg/sip_dialog.c"], includes: ["modules/sipalg", "modules/napt"] },
	sip_tcp_test: { sources: ["modules/sipalg/sip_tcp.c"], includes: ["modules/sipalg"] },
	napt_lwip_test: {
		sources: [...NAPT_CORE, "modules/napt/napt_lwip.c", "modules/napt/napt_fastpath.c", "modules/lwip-hooks/router_hooks.c", "modules/lwip-hooks/router_ethernet.c", "host-tests/lib/rig_ports.c",
			"modules/sipalg/sip_msg.c", "modules/sipalg/sip_dialog.c", "modules/sipalg/sip_tcp.c", "modules/sipalg/sipalg_lwip.c"],
		includes: ["modules/napt", "modules/sipalg", "host-tests/lib", ...LWIP_INCLUDES],
		cflags: ["-Wno-missing-field-initializers"],
		lwip: true,
	},
};

const ARCH = ["-m32"];
const SANITIZE = ["-fsanitize=address,undefined,alignment", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"];

// lwIP's COREFILES and CORE4FILES from its Filelists.mk, plus netif/ethernet.c (as tools/sim.mk).
function lwipSources() {
	const mk = fs.readFileSync(path.join(TOP, LWIP_SRC, "Filelists.mk"), "utf8");
	const files = [];
	for (const name of ["COREFILES", "CORE4FILES"]) {
		const start = mk.indexOf(`\n${name}=`);
		assert.ok(start >= 0, `${name} not in lwIP's Filelists.mk`);
		let block = "";
		for (const line of mk.slice(start + 1).split("\n")) {
			block += line + "\n";
			if (!line.trimEnd().endsWith("\\")) break;
		}
		for (const m of block.matchAll(/\$\(LWIPDIR\)\/(\S+\.c)/g)) files.push(`${LWIP_SRC}/${m[1]}`);
	}
	files.push(`${LWIP_SRC}/netif/ethernet.c`);
	return files;
}

function run(cmd, args) {
	return new Promise((resolve) => {
		const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
		let stderr = "";
		child.stderr.on("data", (d) => (stderr += d));
		child.on("close", (status) => resolve({ status, stderr }));
	});
}

// Compile lwIP once; objects are rebuilt only when out of date.
let lwipObjects;
async function buildLwip() {
	if (lwipObjects) return lwipObjects;
	const dir = path.join(outDir, "lwip");
	fs.mkdirSync(dir, { recursive: true });
	const flags = ["-g", "-O1", "-w", ...ARCH, ...SANITIZE, ...LWIP_INCLUDES.map((d) => `-I${path.join(TOP, d)}`)];
	const stamp = path.join(dir, "flags");
	const sameFlags = fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === JSON.stringify(flags);
	const deps = ["boards/sim/lwip/lwipopts.h", "boards/sim/lwip/arch/cc.h", "modules/lwip-hooks/router_hooks.h", "modules/net/ports.h"]
		.map((f) => fs.statSync(path.join(TOP, f)).mtimeMs);
	const newestDep = Math.max(...deps);
	const jobs = lwipSources().map((src) => {
		const obj = path.join(dir, path.relative(LWIP_SRC, src).replace(/[/\\]/g, "_").replace(/\.c$/, ".o"));
		const srcPath = path.join(TOP, src);
		const fresh = sameFlags && fs.existsSync(obj)
			&& fs.statSync(obj).mtimeMs >= Math.max(newestDep, fs.statSync(srcPath).mtimeMs);
		return { src: srcPath, obj, fresh };
	});
	const todo = jobs.filter((j) => !j.fresh);
	const width = Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length);
	const failures = [];
	for (let i = 0; i < todo.length; i += width) {
		const results = await Promise.all(todo.slice(i, i + width).map((j) => run("cc", [...flags, "-c", j.src, "-o", j.obj])));
		results.forEach((r, k) => { if (r.status !== 0) failures.push(`${todo[i + k].src}:\n${r.stderr}`); });
	}
	assert.deepEqual(failures, [], `lwIP does not build:\n${failures.join("\n")}`);
	fs.writeFileSync(stamp, JSON.stringify(flags));
	lwipObjects = jobs.map((j) => j.obj);
	return lwipObjects;
}

for (const [name, unit] of Object.entries(units)) {
	test(`${name} (32-bit, ASan + UBSan)`, async () => {
		const exe = path.join(outDir, name);
		const objects = unit.lwip ? await buildLwip() : [];
		const build = spawnSync("cc", [
			"-std=c11", "-D_DEFAULT_SOURCE", "-g", "-O1", "-Wall", "-Wextra", "-Werror", ...ARCH, ...SANITIZE, ...(unit.cflags ?? []),
			...unit.includes.map((d) => `-I${path.join(TOP, d)}`),
			path.join(unitDir, `${name}.c`), ...unit.sources.map((s) => path.join(TOP, s)), ...objects,
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
