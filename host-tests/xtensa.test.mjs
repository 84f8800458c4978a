// The Xtensa check in the suite: the platform-independent C compiles for
// the ESP32's CPU family (Debian's gcc-xtensa-lx106, -Os -Wall -Wextra
// -Werror -mlongcalls) against lwIP 2.1.3 with ESP-IDF-like options, stays
// under the per-module size budget (tools/xtensa-check.mjs, docs/memory.md),
// and the ESP-IDF configuration in the repo says what those options say.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { BUDGET, IO_BUDGET, TOTAL_BUDGET, TOP, check, checkIo, toolsPresent } from "../tools/xtensa-check.mjs";

test("xtensa-lx106 compile, sizes under budget, hook wired into lwIP", { timeout: 60000 }, async () => {
	assert.ok(await toolsPresent(), "gcc-xtensa-lx106 and picolibc-xtensa-lx106-elf are not installed (bash tools/setup.sh)");
	const started = Date.now();
	const result = await check(path.join(TOP, "build/xtensa"));
	assert.deepEqual(result.errors, [], result.errors.join("\n"));
	assert.deepEqual(result.problems, []);
	assert.ok(result.hooked);
	for (const m of result.modules)
		console.log(`# ${m.module}: .text ${m.text} .data ${m.data} .bss ${m.bss}`);
	assert.ok(result.modules.length >= Object.keys(BUDGET).length - 1, "modules missing from the check");
	// The tables' sizes at default configurations, as docs/memory.md budgets them.
	assert.equal(result.memory.napt_flows, 1024);
	assert.ok(result.memory.napt_memory <= 48 * 1024, `NAPT table ${result.memory.napt_memory} bytes`);
	assert.ok(result.memory.sip_dialog_memory + result.memory.sip_tcp_memory + result.memory.sip_packet_buffers <= 16 * 1024);
	assert.ok(Date.now() - started < 30000, "the check takes 30 s or more");
});

// The sockets both builds share (modules/io), as the board compiles them
// (io_notify.c is left out: IO_PENDING says why).
test("modules/io sockets compile for xtensa-lx106 under budget", {
	timeout: 60000,
}, async () => {
	assert.ok(await toolsPresent(), "gcc-xtensa-lx106 and picolibc-xtensa-lx106-elf are not installed (bash tools/setup.sh)");
	const result = await checkIo(path.join(TOP, "build/xtensa-io"));
	assert.deepEqual(result.errors, [], result.errors.join("\n"));
	assert.deepEqual(result.problems, []);
	assert.equal(result.modules.length, Object.keys(IO_BUDGET).length);
	for (const m of result.modules)
		console.log(`# ${m.module}: .text ${m.text} .data ${m.data} .bss ${m.bss}`);
});

// Kconfig lines that make ESP-IDF's lwIP match boards/esp32/lwip/lwipopts.h.
function sdkconfig() {
	const text = fs.readFileSync(path.join(TOP, "boards/esp32/sdkconfig.defaults"), "utf8");
	const values = new Map();
	for (const line of text.split("\n")) {
		let m = line.match(/^(CONFIG_[A-Z0-9_]+)=(.*)$/);
		if (m) values.set(m[1], m[2]);
		m = line.match(/^# (CONFIG_[A-Z0-9_]+) is not set/);
		if (m) values.set(m[1], "n");
	}
	return values;
}

test("sdkconfig.defaults: forwarding on, ESP-IDF's NAPT off, what our code needs from lwIP", () => {
	const c = sdkconfig();
	const opts = fs.readFileSync(path.join(TOP, "boards/esp32/lwip/lwipopts.h"), "utf8");
	const opt = (name) => Number(opts.match(new RegExp(`#define ${name}\\s+(\\d+)`))?.[1]);
	const pairs = [
		["CONFIG_LWIP_IP_FORWARD", "IP_FORWARD"],
		["CONFIG_LWIP_IPV4_NAPT", "IP_NAPT"],
		["CONFIG_LWIP_IP4_REASSEMBLY", "IP_REASSEMBLY"],
		["CONFIG_LWIP_IP4_FRAG", "IP_FRAG"],
		["CONFIG_LWIP_TCPIP_CORE_LOCKING", "LWIP_TCPIP_CORE_LOCKING"],
		["CONFIG_LWIP_NETIF_STATUS_CALLBACK", "LWIP_NETIF_STATUS_CALLBACK"],
		["CONFIG_LWIP_STATS", "LWIP_STATS"],
	];
	for (const [kconfig, define] of pairs)
		assert.equal(c.get(kconfig) === "y" ? 1 : 0, opt(define), `${kconfig} vs ${define}`);
	assert.equal(c.get("CONFIG_LWIP_IP_FORWARD"), "y");
	assert.equal(c.get("CONFIG_LWIP_IPV4_NAPT"), "n");
	assert.equal(Number(c.get("CONFIG_LWIP_IP_REASS_MAX_PBUFS")), opt("IP_REASS_MAX_PBUFS"));
	assert.equal(c.get("CONFIG_ETH_USE_ESP32_EMAC"), "y");
	assert.equal(c.get("CONFIG_ETH_SPI_ETHERNET_W5500"), "y");
});

test("the ESP-IDF hook wiring names the header the check compiles", () => {
	const cmake = fs.readFileSync(path.join(TOP, "modules/lwip-hooks/esp-idf/CMakeLists.txt"), "utf8");
	assert.match(cmake, /ESP_IDF_LWIP_HOOK_FILENAME=\\"router_lwip_hooks\.h\\"/);
	assert.match(cmake, /idf_component_get_property\(\s*lwip\s+lwip\s+COMPONENT_LIB\s*\)/);
	const header = fs.readFileSync(path.join(TOP, "modules/lwip-hooks/esp-idf/router_lwip_hooks.h"), "utf8");
	assert.match(header, /#define LWIP_HOOK_IP4_INPUT\(p, inp\) router_ip4_input_hook/);
});

test("every board file names every pin, and the budget is documented", () => {
	const keys = ["name", "wan_on_w5500", "emac_phy", "emac_phy_address", "emac_mdc", "emac_mdio", "emac_phy_reset",
		"emac_phy_power", "emac_clock_out", "emac_clock_gpio", "w5500_spi_host", "w5500_sclk", "w5500_mosi",
		"w5500_miso", "w5500_cs", "w5500_int", "w5500_reset", "w5500_mhz", "console_baud"];
	for (const board of ["wt32-eth01", "olimex-esp32-poe", "esp32-ethernet-kit"]) {
		const manifest = JSON.parse(fs.readFileSync(path.join(TOP, "boards", board, "manifest.json"), "utf8"));
		const b = manifest.defines.board;
		assert.deepEqual(Object.keys(b).sort(), [...keys].sort(), board);
		assert.ok(["lan87xx", "ip101"].includes(b.emac_phy), `${board}: emac_phy`);
		assert.deepEqual(manifest.include, ["../../manifest.json"]);
		const used = ["emac_mdc", "emac_mdio", "emac_phy_reset", "emac_phy_power", "w5500_sclk", "w5500_mosi", "w5500_miso",
			"w5500_cs", "w5500_int", "w5500_reset"].map((k) => b[k]).filter((g) => g >= 0);
		used.push(b.emac_clock_gpio, 19, 21, 22, 25, 26, 27);   /* the RMII data pins are fixed */
		assert.equal(new Set(used).size, used.length, `${board}: a GPIO is used twice`);
	}
	const doc = fs.readFileSync(path.join(TOP, "docs/memory.md"), "utf8");
	assert.match(doc, new RegExp(`${TOTAL_BUDGET.dram}`), "docs/memory.md: the .data+.bss budget");
});
