#!/usr/bin/env node
// The Xtensa check: the platform-independent C (NAPT, SIP ALG, the lwIP
// input hook) compiled for the ESP32's CPU family with Debian's
// gcc-xtensa-lx106 and picolibc, against lwIP 2.1.3 and the ESP-IDF-like
// options in boards/esp32/lwip. It prints .text/.data/.bss per module and
// holds each under the budget below (docs/memory.md explains the numbers).
// lwIP's ip4.c is compiled too, with the hook header injected the way the
// ESP-IDF build injects it, to show the hook reaches ip4_input().
// --io also compiles the socket modules both builds share (modules/io), which
// are not yet part of the check: see IO_PENDING below.
//   node tools/xtensa-check.mjs [--json] [--io]
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CC = "xtensa-lx106-elf-gcc";
const SIZE = "xtensa-lx106-elf-size";
const NM = "xtensa-lx106-elf-nm";
const SPECS = "/usr/lib/xtensa-lx106-elf/picolibc.specs";

export const FLAGS = ["-Os", "-std=c11", "-Wall", "-Wextra", "-Werror", "-mlongcalls", "-ffunction-sections", "-fdata-sections"];
const INCLUDES = ["boards/esp32/lwip", "third_party/lwip/src/include", "modules/lwip-hooks", "modules/lwip-hooks/esp-idf",
	"modules/net", "modules/napt", "modules/sipalg"];

// Bytes, per module: about 1.5 times what it measured when the budget was
// set, so that ordinary growth passes and a blow-up (a table made static,
// a debug buffer left in) does not. .data and .bss are DRAM; .text is flash.
export const BUDGET = {
	"modules/napt/napt_table.c": { text: 7000, data: 64, bss: 512 },
	"modules/napt/napt_translate.c": { text: 12000, data: 64, bss: 64 },
	"modules/napt/napt_lwip.c": { text: 4000, data: 64, bss: 128 },
	"modules/sipalg/sip_msg.c": { text: 14500, data: 64, bss: 64 },
	"modules/sipalg/sip_dialog.c": { text: 8500, data: 64, bss: 128 },
	"modules/sipalg/sip_tcp.c": { text: 6000, data: 64, bss: 128 },
	"modules/sipalg/sipalg_lwip.c": { text: 6000, data: 64, bss: 384 },
	"modules/lwip-hooks/router_hooks.c": { text: 256, data: 16, bss: 16 },
};
export const TOTAL_BUDGET = { text: 56 * 1024, dram: 2048 };

// The embedded:io sockets (modules/io), compiled as the board compiles them:
// against the ESP32's router_host.h (LOCK_TCPIP_CORE from lwIP's tcpip.h)
// and third_party's XS headers. Budgets as above, with room over the sizes
// measured.
export const IO_BUDGET = {
	"modules/io/udp.c": { text: 6600, data: 64, bss: 64 },
	"modules/io/tcp.c": { text: 8800, data: 64, bss: 64 },
	"modules/io/listener.c": { text: 3300, data: 64, bss: 64 },
};
const XS = "third_party/xsnap/moddable/xs";
const IO_INCLUDES = ["modules/io", "modules/ports/esp32", `${XS}/includes`, `${XS}/platforms`];
// What of modules/io is not compiled for Xtensa here, and why.
export const IO_PENDING = {
	"modules/io/io_notify.c": "calls modMessagePostToMachine, which only Moddable's ESP32 xsHost.h " +
		"(xs/platforms/esp) declares; that header needs ESP-IDF's FreeRTOS headers and is not in third_party",
};

export async function toolsPresent() {
	try {
		await run(CC, ["--version"]);
		return fs.existsSync(SPECS);
	} catch {
		return false;
	}
}

async function compile(src, obj, extra = [], includes = INCLUDES) {
	const args = ["-specs=" + SPECS, ...FLAGS, ...extra, ...includes.map((d) => `-I${path.join(TOP, d)}`),
		"-c", path.join(TOP, src), "-o", obj];
	try {
		await run(CC, args);
		return null;
	} catch (e) {
		return `${src}:\n${e.stderr || e.message}`;
	}
}

// Measure the DRAM the tables take at their default sizes (host build,
// 32-bit as the simulator and the board).
async function memorySizes(out) {
	const exe = path.join(out, "memsize");
	await run("cc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-m32", "-Imodules/napt", "-Imodules/sipalg",
		"tools/xtensa/memsize.c", "modules/napt/napt_table.c", "modules/napt/napt_translate.c",
		"modules/sipalg/sip_msg.c", "modules/sipalg/sip_dialog.c", "modules/sipalg/sip_tcp.c", "-o", exe], { cwd: TOP });
	const { stdout } = await run(exe);
	const sizes = {};
	for (const line of stdout.trim().split("\n")) {
		const [key, value] = line.split(/\s+/);
		sizes[key] = Number(value);
	}
	return sizes;
}

function objectsFor(sources, out) {
	return sources.map((s) => path.join(out, s.replace(/[/\\]/g, "_").replace(/\.c$/, ".o")));
}

// .text/.data/.bss of each object, and what is over its budget.
async function measure(sources, objects, budgets) {
	const { stdout } = await run(SIZE, objects);
	const modules = [];
	const problems = [];
	for (const line of stdout.trim().split("\n").slice(1)) {
		const [text, data, bss, , , file] = line.trim().split(/\s+/);
		const src = sources[objects.indexOf(file)];
		const budget = budgets[src];
		const m = { module: src, text: Number(text), data: Number(data), bss: Number(bss), budget };
		for (const k of ["text", "data", "bss"])
			if (m[k] > budget[k])
				problems.push(`${src}: .${k} ${m[k]} bytes, over its budget of ${budget[k]}`);
		modules.push(m);
	}
	return { modules, problems };
}

// The socket modules of IO_BUDGET, compiled and measured apart from the check.
export async function checkIo(out = path.join(TOP, "build/xtensa")) {
	fs.mkdirSync(out, { recursive: true });
	const sources = Object.keys(IO_BUDGET);
	const objects = objectsFor(sources, out);
	const errors = (await Promise.all(sources.map((s, i) => compile(s, objects[i], [], [...INCLUDES, ...IO_INCLUDES])))).filter(Boolean);
	if (errors.length)
		return { ok: false, errors, modules: [], problems: errors.map((e) => e.split("\n")[0] + " does not compile") };
	const { modules, problems } = await measure(sources, objects, IO_BUDGET);
	return { ok: problems.length === 0, errors: [], modules, problems };
}

export async function check(out = path.join(TOP, "build/xtensa")) {
	fs.mkdirSync(out, { recursive: true });
	const sources = Object.keys(BUDGET).filter((s) => fs.existsSync(path.join(TOP, s)));
	const objects = objectsFor(sources, out);
	const ip4 = path.join(out, "lwip_ip4.o");
	// lwIP is third-party: built as it is (-w), only to see the hook reach it.
	const errors = (await Promise.all([
		...sources.map((s, i) => compile(s, objects[i])),
		run(CC, ["-specs=" + SPECS, "-Os", "-w", "-mlongcalls", ...INCLUDES.map((d) => `-I${path.join(TOP, d)}`),
			"-c", path.join(TOP, "third_party/lwip/src/core/ipv4/ip4.c"), "-o", ip4]).then(() => null, (e) => `ip4.c:\n${e.stderr}`),
	])).filter(Boolean);
	if (errors.length)
		return { ok: false, errors, modules: [], problems: errors.map((e) => e.split("\n")[0] + " does not compile") };
	const { modules, problems } = await measure(sources, objects, BUDGET);
	const total = modules.reduce((t, m) => ({ text: t.text + m.text, dram: t.dram + m.data + m.bss }), { text: 0, dram: 0 });
	if (total.text > TOTAL_BUDGET.text)
		problems.push(`all modules: .text ${total.text} bytes, over ${TOTAL_BUDGET.text}`);
	if (total.dram > TOTAL_BUDGET.dram)
		problems.push(`all modules: .data + .bss ${total.dram} bytes, over ${TOTAL_BUDGET.dram}`);
	const { stdout: syms } = await run(NM, [ip4]);
	const hooked = /\bU router_ip4_input_hook\b/.test(syms);
	if (!hooked)
		problems.push("lwIP's ip4.c does not call router_ip4_input_hook: the ESP-IDF hook header is not wired");
	const memory = await memorySizes(out);
	return { ok: problems.length === 0, errors: [], modules, total, hooked, memory, problems };
}

function print(result) {
	const pad = (s, n) => String(s).padStart(n);
	console.log(`${"module".padEnd(36)} ${pad(".text", 7)} ${pad(".data", 6)} ${pad(".bss", 6)}   budget (text/data/bss)`);
	for (const m of result.modules)
		console.log(`${m.module.padEnd(36)} ${pad(m.text, 7)} ${pad(m.data, 6)} ${pad(m.bss, 6)}   ${m.budget.text}/${m.budget.data}/${m.budget.bss}`);
	if (result.total)
		console.log(`${"total".padEnd(36)} ${pad(result.total.text, 7)} ${pad(result.total.dram, 13)} (.data+.bss)   ${TOTAL_BUDGET.text}/${TOTAL_BUDGET.dram}`);
	if (result.memory) {
		const m = result.memory;
		console.log(`tables at default sizes: NAPT ${m.napt_memory} bytes (${m.napt_flows} flows x ${m.napt_per_flow} + ${m.napt_forwards} forwards x ${m.napt_per_forward}),` +
			` SIP dialogs ${m.sip_dialog_memory}, SIP TCP ${m.sip_tcp_memory}, SIP packet buffers ${m.sip_packet_buffers}`);
	}
	console.log(`lwIP ip4.c calls the hook: ${result.hooked ? "yes" : "no"}`);
	for (const e of result.errors) console.error(e);
	for (const p of result.problems) console.error(`xtensa-check: ${p}`);
}

function printIo(io) {
	const pad = (s, n) => String(s).padStart(n);
	for (const m of io.modules)
		console.log(`${m.module.padEnd(36)} ${pad(m.text, 7)} ${pad(m.data, 6)} ${pad(m.bss, 6)}   ${m.budget.text}/${m.budget.data}/${m.budget.bss}`);
	for (const e of io.errors) console.error(e);
	for (const p of io.problems) console.error(`xtensa-check --io: ${p}`);
	console.log(`not in the check: modules/io/io_notify.c: ${IO_PENDING["modules/io/io_notify.c"]}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	if (!(await toolsPresent())) {
		console.error("xtensa-check: needs gcc-xtensa-lx106 and picolibc-xtensa-lx106-elf (bash tools/setup.sh)");
		process.exit(2);
	}
	const started = Date.now();
	const result = await check(path.join(TOP, "build/xtensa"));
	if (process.argv.includes("--io"))
		result.io = await checkIo(path.join(TOP, "build/xtensa"));
	if (process.argv.includes("--json"))
		console.log(JSON.stringify(result, null, "\t"));
	else {
		print(result);
		if (result.io)
			printIo(result.io);
		else
			for (const [what, why] of Object.entries(IO_PENDING))
				console.log(`not in the check: ${what}: ${why}`);
	}
	const ok = result.ok && (!result.io || result.io.ok);
	console.log(`xtensa-check: ${ok ? "ok" : "FAILED"} in ${((Date.now() - started) / 1000).toFixed(1)} s (${os.cpus().length} cpus)`);
	process.exit(ok ? 0 : 1);
}
