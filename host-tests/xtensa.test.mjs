// The Xtensa check in the suite: every C file of ours that does not need
// ESP-IDF's headers compiles for the ESP32's CPU family (Debian's
// gcc-xtensa-lx106, -Os -std=gnu2x -Wall -Wextra -Werror -mlongcalls)
// against lwIP 2.1.3 with ESP-IDF-like options, stays under the per-module
// size budget (tools/xtensa-check.mjs, docs/memory.md), and the IPv4 hook
// runs from the ports' input, not from lwIP (as with ESP-IDF's lwIP).
// The ESP-IDF configuration itself is checked in board-config.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { BUDGET, HOST_BUDGET, NEEDS_ESP_IDF, TOP, TOTAL_BUDGET, check, toolsPresent } from "../tools/xtensa-check.mjs";

test("xtensa-lx106 compile, sizes under budget, IPv4 hook on the ports' input", { timeout: 60000 }, async () => {
	assert.ok(await toolsPresent(), "gcc-xtensa-lx106 and picolibc-xtensa-lx106-elf are not installed (bash tools/setup.sh)");
	const started = Date.now();
	const result = await check(path.join(TOP, "build/xtensa"));
	assert.deepEqual(result.errors, [], result.errors.join("\n"));
	assert.deepEqual(result.problems, []);
	for (const m of [...result.modules, ...result.hostModules])
		console.log(`# ${m.module}: .text ${m.text} .data ${m.data} .bss ${m.bss}`);
	assert.equal(result.modules.length, Object.keys(BUDGET).length, "packet-path modules missing from the check");
	assert.equal(result.hostModules.length, Object.keys(HOST_BUDGET).length, "host modules missing from the check");
	assert.deepEqual(result.hookPath, {
		lwipCallsHook: false, portInputCallsHook: true, portInputCallsIp4Input: true, portInputCallsEthernetInput: true,
	});
	// The tables' sizes at default configurations, as docs/memory.md budgets them.
	assert.equal(result.memory.napt_flows, 1024);
	assert.ok(result.memory.napt_memory <= 48 * 1024, `NAPT table ${result.memory.napt_memory} bytes`);
	assert.ok(result.memory.sip_dialog_memory + result.memory.sip_tcp_memory + result.memory.sip_packet_buffers <= 16 * 1024);
	assert.ok(Date.now() - started < 30000, "the check takes 30 s or more");
});

// "Every file that does not need ESP-IDF": each C file under modules/ is
// either compiled by the check or listed, with its reason, as needing
// ESP-IDF; and a listed file really includes an ESP-IDF or Moddable ESP32
// header, while a compiled one includes none.
test("the check covers every C file of ours that does not need ESP-IDF", () => {
	const all = [];
	const walk = (dir) => {
		for (const e of fs.readdirSync(path.join(TOP, dir), { withFileTypes: true })) {
			const rel = path.posix.join(dir, e.name);
			if (e.isDirectory()) walk(rel);
			else if (e.name.endsWith(".c")) all.push(rel);
		}
	};
	walk("modules");
	const compiled = new Set([...Object.keys(BUDGET), ...Object.keys(HOST_BUDGET)]);
	const espOnly = new Set(Object.keys(NEEDS_ESP_IDF));
	for (const file of all.sort())
		assert.ok(compiled.has(file) !== espOnly.has(file), `${file}: compiled by the check, or listed in NEEDS_ESP_IDF, exactly once`);
	for (const file of [...compiled, ...espOnly])
		assert.ok(all.includes(file), `${file}: no such file`);
	// Headers only ESP-IDF (or Moddable's ESP32 platform, which needs it) provides.
	const espHeader = /#include\s+"(esp_[^"]+|driver\/[^"]+|freertos\/[^"]+|nvs[^"]*|xsHost\.h|xsAll\.h)"/;
	for (const file of all) {
		const text = fs.readFileSync(path.join(TOP, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
		// #if-guarded ESP32 lines (napt.c's hardware random) are the board's; the check compiles the rest.
		const unguarded = text.replace(/#if(def)? [^\n]*(ESP_PLATFORM|ESP32|NAPT_HARDWARE_RANDOM)[^\n]*\n[\s\S]*?#endif/g, "");
		if (espOnly.has(file))
			assert.match(text, espHeader, `${file} is listed as needing ESP-IDF but includes none of its headers`);
		else
			assert.doesNotMatch(unguarded, espHeader, `${file} includes an ESP-IDF header: the check cannot compile it honestly`);
	}
});

test("docs/memory.md states the budgets the check enforces", () => {
	const doc = fs.readFileSync(path.join(TOP, "docs/memory.md"), "utf8");
	assert.match(doc, new RegExp(`${TOTAL_BUDGET.dram}`), "docs/memory.md: the .data+.bss budget");
	for (const file of [...Object.keys(BUDGET), ...Object.keys(HOST_BUDGET)])
		assert.ok(doc.includes(file), `docs/memory.md: no row for ${file}`);
});
