#!/usr/bin/env node
// The Xtensa check: every C file of ours that does not need ESP-IDF's
// headers, compiled for the ESP32's CPU family with Debian's gcc-xtensa-lx106
// and picolibc, against lwIP 2.1.3 and the ESP-IDF-like options in
// boards/esp32/lwip, in C23 (-std=gnu2x: ESP-IDF v6.0's GCC 15 defaults to
// gnu23). That is the packet path (NAPT, SIP ALG, the IPv4 hook and the
// ports' Ethernet input) and the host modules JavaScript calls (napt,
// sipalg, net and the embedded:io sockets), the latter against the ESP32's
// own router_host.h and third_party's XS headers. It prints .text/.data/.bss
// per module and holds each under the budget below (docs/memory.md explains
// the numbers). lwIP's ip4.c is compiled too with the same options, to show
// that lwIP itself calls no hook of ours there (ESP-IDF's does not), so the
// ports' input function is where the hook runs, exactly once.
//   node tools/xtensa-check.mjs [--json]
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

export const FLAGS = ["-Os", "-std=gnu2x", "-Wall", "-Wextra", "-Werror", "-mlongcalls", "-ffunction-sections", "-fdata-sections"];
const XS = "third_party/xsnap/moddable/xs";
const INCLUDES = ["boards/esp32/lwip", "third_party/lwip/src/include", "modules/lwip-hooks", "modules/net", "modules/napt",
	"modules/sipalg", "modules/io", "modules/ports/esp32", `${XS}/includes`, `${XS}/platforms`];

// Bytes, per module: about 1.5 times what it measured when the budget was
// set, so that ordinary growth passes and a blow-up (a table made static,
// a debug buffer left in) does not. .data and .bss are DRAM; .text is flash.
// The packet path: what runs per packet in the tcpip thread.
export const BUDGET = {
	"modules/napt/napt_table.c": { text: 7000, data: 64, bss: 512 },
	"modules/napt/napt_translate.c": { text: 12000, data: 64, bss: 64 },
	"modules/napt/napt_lwip.c": { text: 4000, data: 64, bss: 128 },
	"modules/napt/napt_fastpath.c": { text: 1500, data: 64, bss: 768 },
	"modules/sipalg/sip_msg.c": { text: 14500, data: 64, bss: 64 },
	"modules/sipalg/sip_dialog.c": { text: 8500, data: 64, bss: 128 },
	"modules/sipalg/sip_tcp.c": { text: 6000, data: 64, bss: 128 },
	"modules/sipalg/sipalg_lwip.c": { text: 6000, data: 64, bss: 384 },
	"modules/lwip-hooks/router_hooks.c": { text: 512, data: 16, bss: 16 },
	"modules/lwip-hooks/router_ethernet.c": { text: 400, data: 16, bss: 16 },
};
export const TOTAL_BUDGET = { text: 56 * 1024, dram: 2048 };

// The host modules: what JavaScript calls, in the XS task, under the tcpip
// core lock where they touch lwIP. Compiled against the ESP32's
// router_host.h, as the board compiles them.
export const HOST_BUDGET = {
	"modules/napt/napt.c": { text: 15500, data: 64, bss: 64 },
	"modules/sipalg/sipalg.c": { text: 10000, data: 64, bss: 64 },
	"modules/net/net.c": { text: 8700, data: 64, bss: 64 },
	"modules/io/io_notify.c": { text: 1500, data: 64, bss: 64 },
	"modules/io/udp.c": { text: 6600, data: 64, bss: 64 },
	"modules/io/tcp.c": { text: 8800, data: 64, bss: 64 },
	"modules/io/listener.c": { text: 3300, data: 64, bss: 64 },
};
export const HOST_TOTAL_BUDGET = { text: 54 * 1024, dram: 512 };

// Our C that the check cannot compile, and why: each needs ESP-IDF's headers
// (or Moddable's ESP32 platform headers, which need them), which are not
// here and are never imitated. The board build is the only compiler of these.
export const NEEDS_ESP_IDF = {
	"modules/ports/esp32/esp32_ports.c": "esp_eth (EMAC, LAN87xx, IP101, W5500), esp_event, esp_mac, driver/gpio, driver/spi_master, FreeRTOS, nvs",
	"modules/ports/esp32/platform.c": "Moddable's xsHost.h (FreeRTOS), esp_random, esp_system, esp_timer, nvs_flash",
	"modules/ports/esp32/xs_memory.c": "XS's internal xsAll.h, which includes Moddable's ESP32 xsPlatform.h (FreeRTOS, ESP-IDF)",
};

export async function toolsPresent() {
	try {
		await run(CC, ["--version"]);
		return fs.existsSync(SPECS);
	} catch {
		return false;
	}
}

async function compile(src, obj) {
	const args = ["-specs=" + SPECS, ...FLAGS, ...INCLUDES.map((d) => `-I${path.join(TOP, d)}`), "-c", path.join(TOP, src), "-o", obj];
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

function objectFor(src, out) {
	return path.join(out, src.replace(/[/\\]/g, "_").replace(/\.c$/, ".o"));
}

// .text/.data/.bss of each object, and what is over its budget.
async function measure(sources, out, budgets) {
	const objects = sources.map((s) => objectFor(s, out));
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
	const total = modules.reduce((t, m) => ({ text: t.text + m.text, dram: t.dram + m.data + m.bss }), { text: 0, dram: 0 });
	return { modules, problems, total };
}

function overTotal(name, total, budget) {
	const problems = [];
	if (total.text > budget.text)
		problems.push(`${name}: .text ${total.text} bytes, over ${budget.text}`);
	if (total.dram > budget.dram)
		problems.push(`${name}: .data + .bss ${total.dram} bytes, over ${budget.dram}`);
	return problems;
}

async function undefinedSymbols(obj) {
	const { stdout } = await run(NM, ["-u", obj]);
	return new Set(stdout.split("\n").map((l) => l.trim().split(/\s+/).pop()).filter(Boolean));
}

export async function check(out = path.join(TOP, "build/xtensa")) {
	fs.mkdirSync(out, { recursive: true });
	const sources = [...Object.keys(BUDGET), ...Object.keys(HOST_BUDGET)];
	const ip4 = path.join(out, "lwip_ip4.o");
	// lwIP is third-party: built as it is (-w), only to see which hook it calls.
	const errors = (await Promise.all([
		...sources.map((s) => compile(s, objectFor(s, out))),
		run(CC, ["-specs=" + SPECS, "-Os", "-w", "-mlongcalls", ...INCLUDES.map((d) => `-I${path.join(TOP, d)}`),
			"-c", path.join(TOP, "third_party/lwip/src/core/ipv4/ip4.c"), "-o", ip4]).then(() => null, (e) => `ip4.c:\n${e.stderr}`),
	])).filter(Boolean);
	if (errors.length)
		return { ok: false, errors, modules: [], hostModules: [], problems: errors.map((e) => e.split("\n")[0] + " does not compile") };
	const packet = await measure(Object.keys(BUDGET), out, BUDGET);
	const host = await measure(Object.keys(HOST_BUDGET), out, HOST_BUDGET);
	const problems = [...packet.problems, ...host.problems, ...overTotal("packet path", packet.total, TOTAL_BUDGET),
		...overTotal("host modules", host.total, HOST_TOTAL_BUDGET)];

	// The hook runs once per IPv4 packet: not from lwIP's ip4_input() (as in
	// ESP-IDF's lwIP), but from the ports' input, which then hands on to lwIP.
	const ip4Calls = await undefinedSymbols(ip4);
	const ethCalls = await undefinedSymbols(objectFor("modules/lwip-hooks/router_ethernet.c", out));
	const hookPath = {
		lwipCallsHook: ip4Calls.has("router_ip4_input_hook"),
		portInputCallsHook: ethCalls.has("router_ip4_input_hook"),
		portInputCallsIp4Input: ethCalls.has("ip4_input"),
		portInputCallsEthernetInput: ethCalls.has("ethernet_input"),
	};
	if (hookPath.lwipCallsHook)
		problems.push("lwIP's ip4.c calls router_ip4_input_hook with the ESP32 options: the hook would run twice");
	if (!hookPath.portInputCallsHook || !hookPath.portInputCallsIp4Input || !hookPath.portInputCallsEthernetInput)
		problems.push("router_ethernet.c does not hand IPv4 to router_ip4_input_hook and then ip4_input (or the rest to ethernet_input)");
	const memory = await memorySizes(out);
	return {
		ok: problems.length === 0, errors: [], modules: packet.modules, total: packet.total, hostModules: host.modules,
		hostTotal: host.total, hookPath, memory, problems,
	};
}

function print(result) {
	const pad = (s, n) => String(s).padStart(n);
	const rows = (list) => {
		for (const m of list)
			console.log(`${m.module.padEnd(38)} ${pad(m.text, 7)} ${pad(m.data, 6)} ${pad(m.bss, 6)}   ${m.budget.text}/${m.budget.data}/${m.budget.bss}`);
	};
	console.log(`${"packet path".padEnd(38)} ${pad(".text", 7)} ${pad(".data", 6)} ${pad(".bss", 6)}   budget (text/data/bss)`);
	rows(result.modules);
	if (result.total)
		console.log(`${"total".padEnd(38)} ${pad(result.total.text, 7)} ${pad(result.total.dram, 13)} (.data+.bss)   ${TOTAL_BUDGET.text}/${TOTAL_BUDGET.dram}`);
	console.log(`${"host modules".padEnd(38)}`);
	rows(result.hostModules);
	if (result.hostTotal)
		console.log(`${"total".padEnd(38)} ${pad(result.hostTotal.text, 7)} ${pad(result.hostTotal.dram, 13)} (.data+.bss)   ${HOST_TOTAL_BUDGET.text}/${HOST_TOTAL_BUDGET.dram}`);
	if (result.memory) {
		const m = result.memory;
		console.log(`tables at default sizes: NAPT ${m.napt_memory} bytes (${m.napt_flows} flows x ${m.napt_per_flow} + ${m.napt_forwards} forwards x ${m.napt_per_forward}),` +
			` SIP dialogs ${m.sip_dialog_memory}, SIP TCP ${m.sip_tcp_memory}, SIP packet buffers ${m.sip_packet_buffers}`);
	}
	if (result.hookPath)
		console.log(`IPv4 hook: lwIP's ip4.c calls it ${result.hookPath.lwipCallsHook ? "yes" : "no"}; the ports' input calls it ${result.hookPath.portInputCallsHook ? "yes" : "no"}`);
	for (const [what, why] of Object.entries(NEEDS_ESP_IDF))
		console.log(`not compiled here: ${what}: needs ${why}`);
	for (const e of result.errors) console.error(e);
	for (const p of result.problems) console.error(`xtensa-check: ${p}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	if (!(await toolsPresent())) {
		console.error("xtensa-check: needs gcc-xtensa-lx106 and picolibc-xtensa-lx106-elf (bash tools/setup.sh)");
		process.exit(2);
	}
	const started = Date.now();
	const result = await check(path.join(TOP, "build/xtensa"));
	if (process.argv.includes("--json"))
		console.log(JSON.stringify(result, null, "\t"));
	else
		print(result);
	console.log(`xtensa-check: ${result.ok ? "ok" : "FAILED"} in ${((Date.now() - started) / 1000).toFixed(1)} s (${os.cpus().length} cpus)`);
	process.exit(result.ok ? 0 : 1);
}
