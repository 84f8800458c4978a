// The ESP32 build's configuration, checked against itself: the board
// manifests, boards/esp32/sdkconfig.defaults, the lwIP options the Xtensa
// check compiles with (boards/esp32/lwip/lwipopts.h), the component manifest
// (modules/ports/esp32/idf_component.yml) and manifest.json's esp32 section
// must say the same things: the same options in each place, the esp-eth-drivers
// components with their version ranges, an ESP-IDF component for every
// ESP-IDF header the board code includes, no GPIO used twice. Nothing here
// needs ESP-IDF or the Moddable SDK; what they do with these files is read
// from their sources (docs/esp32.md says which).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { NEEDS_ESP_IDF, TOP } from "../tools/xtensa-check.mjs";

const read = (file) => fs.readFileSync(path.join(TOP, file), "utf8");
const BOARDS = ["wt32-eth01", "olimex-esp32-poe", "esp32-ethernet-kit"];

// sdkconfig.defaults as mcconfig merges it: "CONFIG_X=value" lines only
// (tools/mcmanifest.js skips every line that starts with '#').
function sdkconfig() {
	const values = new Map();
	const comments = [];
	for (const line of read("boards/esp32/sdkconfig.defaults").split("\n")) {
		const m = line.match(/^(CONFIG_[A-Z0-9_]+)=(.*)$/);
		if (m) {
			assert.ok(!values.has(m[1]), `${m[1]} set twice`);
			values.set(m[1], m[2]);
		}
		if (/^# CONFIG_[A-Z0-9_]+ is not set/.test(line)) comments.push(line);
	}
	return { values, comments };
}

function lwipopts(file = "boards/esp32/lwip/lwipopts.h") {
	const text = read(file);
	const defines = new Map();
	for (const m of text.matchAll(/^#define\s+([A-Z0-9_]+)(?:\s+([^\s/]+))?/gm)) defines.set(m[1], m[2]);
	return defines;
}

// The subset of YAML idf_component.yml uses: comments, "key: value", one nested map.
function componentManifest() {
	const result = {};
	let section = null;
	for (const raw of read("modules/ports/esp32/idf_component.yml").split("\n")) {
		const line = raw.replace(/\s+#.*$/, "").replace(/^#.*$/, "");
		if (!line.trim()) continue;
		const m = line.match(/^(\s*)([^:\s]+):\s*(.*)$/);
		assert.ok(m, `idf_component.yml: cannot read "${raw}"`);
		const value = m[3].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
		if (!m[1]) {
			section = value ? null : m[2];
			result[m[2]] = value || {};
		}
		else {
			assert.ok(section, `idf_component.yml: "${raw}" is not under a section`);
			result[section][m[2]] = value;
		}
	}
	return result;
}

const esp32 = () => JSON.parse(read("manifest.json")).platforms.esp32;

test("sdkconfig.defaults: the router's options, each in a form mcconfig merges and ESP-IDF v6.0 knows", () => {
	const { values: c, comments } = sdkconfig();
	assert.deepEqual(comments, [], "an option turned off in a comment is skipped by mcconfig's merge: write CONFIG_X=n");
	const expected = {
		CONFIG_LIBC_NEWLIB: "y",              // Moddable expects newlib; v6.0 defaults to picolibc
		CONFIG_LWIP_IP_FORWARD: "y",
		CONFIG_LWIP_IPV4_NAPT: "n",           // ours does NAPT
		CONFIG_LWIP_IP4_REASSEMBLY: "y",
		CONFIG_LWIP_IP4_FRAG: "y",
		CONFIG_LWIP_TCPIP_CORE_LOCKING: "y",  // router_host.h refuses to build without it
		CONFIG_LWIP_NETIF_STATUS_CALLBACK: "y",
		CONFIG_LWIP_IPV6: "n",
		CONFIG_ETH_USE_ESP32_EMAC: "y",
		CONFIG_ETH_USE_SPI_ETHERNET: "y",     // the w5500 component's header needs esp_eth_mac_spi.h's SPI types
		CONFIG_BT_ENABLED: "n",
		// Moddable's sdkconfig.defaults sets the TCP out-of-order queue to y and its Kconfig default
		// is y: mcconfig's merge turns "=n" into "CONFIG_X=", which leaves the default in force.
		CONFIG_LWIP_TCP_QUEUE_OOSEQ: "y",
		CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS: "4",  // bounds what one connection holds out of order
		// ESP-IDF's console on UART0; Moddable's file selects CONFIG_ESP_CONSOLE_NONE, cleared here.
		CONFIG_ESP_CONSOLE_UART_DEFAULT: "y",
		CONFIG_ESP_CONSOLE_NONE: "n",
	};
	for (const [name, value] of Object.entries(expected))
		assert.equal(c.get(name), value, name);
	// Gone in ESP-IDF v6.0 (docs/en/migration-guides/release-6.x/6.0/networking.rst: RMII clock
	// options; the SPI module drivers moved to esp-eth-drivers), or without a prompt (inert).
	for (const name of ["ETH_PHY_INTERFACE_RMII", "ETH_RMII_CLK_INPUT", "ETH_RMII_CLK_OUTPUT", "ETH_RMII_CLK_IN_GPIO",
		"ETH_RMII_CLK_OUTPUT_GPIO0", "ETH_RMII_CLK_OUT_GPIO", "ETH_SPI_ETHERNET_W5500", "ETH_SPI_ETHERNET_DM9051",
		"ETH_SPI_ETHERNET_KSZ8851SNL", "ETH_ENABLED", "ESP_WIFI_ENABLED",
		// prompt only under CONFIG_ESP_CONSOLE_UART_CUSTOM (components/esp_stdio/Kconfig)
		"ESP_CONSOLE_UART_BAUDRATE"])
		assert.ok(!c.has(`CONFIG_${name}`), `CONFIG_${name}: not an option ESP-IDF v6.0 takes from sdkconfig.defaults`);
	// Ranges from the options' Kconfig (components/lwip/Kconfig, components/esp_eth/Kconfig, both
	// read in v6-era versions; docs/esp32-apis.md names them).
	const ranges = {
		CONFIG_LWIP_IP_REASS_MAX_PBUFS: [10, 100], CONFIG_LWIP_MAX_SOCKETS: [1, 253], CONFIG_LWIP_MAX_ACTIVE_TCP: [1, 1024],
		CONFIG_LWIP_MAX_LISTENING_TCP: [1, 1024], CONFIG_LWIP_MAX_UDP_PCBS: [1, 1024], CONFIG_LWIP_TCP_SND_BUF_DEFAULT: [2440, 65535],
		CONFIG_LWIP_TCP_WND_DEFAULT: [2440, 65535], CONFIG_LWIP_TCPIP_RECVMBOX_SIZE: [6, 64], CONFIG_LWIP_UDP_RECVMBOX_SIZE: [6, 64],
		CONFIG_LWIP_TCP_RECVMBOX_SIZE: [6, 64], CONFIG_LWIP_TCPIP_TASK_STACK_SIZE: [2048, 65536],
		CONFIG_ETH_DMA_BUFFER_SIZE: [256, 1600], CONFIG_ETH_DMA_RX_BUFFER_NUM: [3, 30], CONFIG_ETH_DMA_TX_BUFFER_NUM: [3, 30],
	};
	for (const [name, [min, max]] of Object.entries(ranges)) {
		const v = Number(c.get(name));
		assert.ok(Number.isInteger(v) && v >= min && v <= max, `${name}=${c.get(name)} outside ${min}..${max}`);
	}
	for (const [name, value] of c)
		assert.match(value, /^(y|n|-?\d+|"[^"]*")$/, `${name}=${value}`);
});

test("the Xtensa check's lwipopts.h says what sdkconfig.defaults says", () => {
	const { values: c } = sdkconfig();
	const o = lwipopts();
	const bool = (name) => (c.get(name) === "y" ? "1" : "0");
	const pairs = [
		["CONFIG_LWIP_IP_FORWARD", "IP_FORWARD"], ["CONFIG_LWIP_IPV4_NAPT", "IP_NAPT"],
		["CONFIG_LWIP_IP4_REASSEMBLY", "IP_REASSEMBLY"], ["CONFIG_LWIP_IP4_FRAG", "IP_FRAG"],
		["CONFIG_LWIP_TCPIP_CORE_LOCKING", "LWIP_TCPIP_CORE_LOCKING"], ["CONFIG_LWIP_NETIF_STATUS_CALLBACK", "LWIP_NETIF_STATUS_CALLBACK"],
		["CONFIG_LWIP_STATS", "LWIP_STATS"], ["CONFIG_LWIP_IPV6", "LWIP_IPV6"], ["CONFIG_LWIP_TCP_QUEUE_OOSEQ", "TCP_QUEUE_OOSEQ"],
	];
	for (const [kconfig, define] of pairs)
		assert.equal(o.get(define), bool(kconfig), `${kconfig} vs ${define}`);
	assert.equal(o.get("IP_REASS_MAX_PBUFS"), c.get("CONFIG_LWIP_IP_REASS_MAX_PBUFS"));
	assert.equal(o.get("TCP_WND"), c.get("CONFIG_LWIP_TCP_WND_DEFAULT"));
	assert.equal(o.get("TCP_SND_BUF"), c.get("CONFIG_LWIP_TCP_SND_BUF_DEFAULT"));
	assert.equal(o.get("TCP_OOSEQ_MAX_PBUFS"), c.get("CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS"));
	// ESP-IDF's lwIP: heap and pools from malloc (so lwIP counts neither), no IPv4 input hook.
	assert.equal(o.get("MEM_LIBC_MALLOC"), "1");
	assert.equal(o.get("MEMP_MEM_MALLOC"), "1");
	for (const name of ["MEM_STATS", "MEMP_STATS", "LWIP_HOOK_IP4_INPUT", "LWIP_HOOK_FILENAME", "ESP_IDF_LWIP_HOOK_FILENAME"])
		assert.ok(!o.has(name), `lwipopts.h defines ${name}, which ESP-IDF's lwIP does not`);
});

// The simulator holds the board's memory: what bounds the receive buffers
// one connection to the router can hold is the board's there too.
test("the simulator's lwIP queues out-of-order TCP as the board's does, with the same bound", () => {
	const { values: c } = sdkconfig();
	const sim = lwipopts("boards/sim/lwip/lwipopts.h");
	assert.equal(sim.get("TCP_QUEUE_OOSEQ") ?? "1", c.get("CONFIG_LWIP_TCP_QUEUE_OOSEQ") === "y" ? "1" : "0");
	assert.equal(sim.get("TCP_OOSEQ_MAX_PBUFS"), c.get("CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS"));
});

test("idf_component.yml and manifest.json's esp32 dependency list name the same components and ranges", () => {
	const yml = componentManifest();
	const deps = yml.dependencies;
	assert.equal(deps.idf, ">=6.0", "ESP-IDF v6.0 or later");
	// The drivers ESP-IDF v6.0 dropped, from esp-eth-drivers, each with a range, never "*".
	for (const name of ["espressif/w5500", "espressif/lan87xx", "espressif/ip101"])
		assert.match(deps[name] ?? "", /^(\^|~|>=)\d+\.\d+\.\d+/, `${name}: a version range`);
	assert.match(deps["espressif/w5500"], /^\^2\./, "w5500 2.x: the .base configuration esp32_ports.c writes");
	const registry = {};
	const idf = [];
	for (const dep of esp32().dependency) {
		if (dep.idf) {
			idf.push(dep.idf);
			assert.deepEqual(Object.keys(dep), ["idf"], `${dep.idf}: an ESP-IDF component takes no version`);
		}
		else {
			assert.ok(dep.name && dep.version, `${JSON.stringify(dep)}: name and version`);
			registry[`${dep.namespace ?? "espressif"}/${dep.name}`] = dep.version;
		}
	}
	const fromYml = Object.fromEntries(Object.entries(deps).filter(([k]) => k !== "idf"));
	assert.deepEqual(registry, fromYml, "manifest.json dependency vs idf_component.yml");
	// Every ESP-IDF header the board code includes comes from a component the build requires.
	const provider = [
		[/^esp_eth_(phy|mac)_(lan87xx|ip101|w5500)\.h$/, (m) => `registry:espressif/${m[2]}`],
		[/^esp_eth(_driver|_mac_esp|_phy|_com)?\.h$/, () => "idf:esp_eth"],
		[/^nvs(_flash)?\.h$/, () => "idf:nvs_flash"],
		[/^driver\/gpio\.h$/, () => "idf:esp_driver_gpio"],
		[/^driver\/spi_master\.h$/, () => "idf:esp_driver_spi"],
	];
	const declared = new Set([...idf.map((n) => `idf:${n}`), ...Object.keys(registry).map((n) => `registry:${n}`)]);
	for (const file of Object.keys(NEEDS_ESP_IDF)) {
		for (const [, header] of read(file).matchAll(/#include\s+"([^"]+)"/g)) {
			for (const [re, name] of provider) {
				const m = header.match(re);
				if (m) {
					assert.ok(declared.has(name(m)), `${file} includes ${header}: ${name(m)} is not in the esp32 dependency list`);
					break;
				}
			}
		}
	}
});

test("manifest.json's esp32 section: no Wi-Fi, no Moddable net or sockets, Moddable 8.2.3's module set", () => {
	const e = esp32();
	assert.equal(e.build.SDKCONFIGPATH, "./boards/esp32");
	for (const include of e.include) {
		assert.doesNotMatch(include, /modules\/io\/manifest\.json|manifest_net|modules\/network\/|wifi/,
			`${include}: brings Moddable's Wi-Fi, net or socket modules into a wired router`);
		assert.doesNotMatch(include, /base\/timer\/manifest\.json/, "Moddable 8.2.3 builds the timer in");
	}
	assert.ok(e.include.includes("$(MODDABLE)/modules/io/serial/manifest.json"), "the console's embedded:io/serial");
	assert.ok(e.build.IO && e.build.MODULES, "the serial manifest's $(IO) and $(MODULES)");
	// lwIP's thread posts to the XS task while holding the core lock: it must never wait on it.
	assert.equal(e.defines.task.queueWait, 0);
	assert.ok(e.defines.task.queueLength >= 10);
	for (const specifier of ["udp", "tcp", "listener"])
		assert.equal(e.modules[`embedded:io/socket/${specifier}`], `./modules/io/${specifier}`);
});

// mcconfig puts a module's folder on the include path only when one of the
// module's files is a header (tools/mcmanifest.js, ModulesRule): every
// header of ours that the ESP32 build's C includes must be in such a folder.
test("every header of ours the ESP32 build includes is on mcconfig's include path", () => {
	const m = JSON.parse(read("manifest.json"));
	const entries = [];
	for (const section of [m.modules, esp32().modules])
		for (const [key, value] of Object.entries(section))
			if (key !== "~") entries.push(...(Array.isArray(value) ? value : [value]));
	const local = entries.filter((p) => p.startsWith("./")).map((p) => p.slice(2));
	const folders = new Set(local.filter((p) => fs.existsSync(path.join(TOP, `${p}.h`))).map((p) => path.posix.dirname(p)));
	const sources = local.filter((p) => fs.existsSync(path.join(TOP, `${p}.c`))).map((p) => `${p}.c`);
	const ours = new Map();
	const walk = (dir) => {
		for (const e of fs.readdirSync(path.join(TOP, dir), { withFileTypes: true })) {
			const rel = path.posix.join(dir, e.name);
			if (e.isDirectory()) walk(rel);
			else if (e.name.endsWith(".h")) ours.set(e.name, [...(ours.get(e.name) ?? []), path.posix.dirname(rel)]);
		}
	};
	walk("modules");
	const seen = new Set();
	const visit = (file) => {
		if (seen.has(file)) return;
		seen.add(file);
		for (const [, header] of read(file).matchAll(/#include\s+"([^"/]+\.h)"/g)) {
			const dirs = ours.get(header);
			if (!dirs) continue;   // lwIP's, XS's, ESP-IDF's, Moddable's generated mc.*.h
			const dir = dirs.find((d) => folders.has(d) || d === path.posix.dirname(file));
			assert.ok(dir, `${file} includes ${header} (in ${dirs.join(", ")}), which no module entry puts on the include path`);
			visit(path.posix.join(dir, header));
		}
	};
	for (const source of sources) visit(source);
	for (const file of Object.keys(NEEDS_ESP_IDF))
		assert.ok(sources.includes(file), `${file}: not built by the esp32 manifest`);
});

test("board manifests: every pin, quoted strings, the PHY's component, no GPIO used twice", () => {
	const keys = ["name", "wan_on_w5500", "emac_phy", "emac_phy_address", "emac_mdc", "emac_mdio", "emac_phy_reset",
		"emac_phy_power", "emac_clock_out", "emac_clock_gpio", "w5500_spi_host", "w5500_sclk", "w5500_mosi",
		"w5500_miso", "w5500_cs", "w5500_int", "w5500_reset", "w5500_mhz", "console_baud"];
	const deps = componentManifest().dependencies;
	const names = new Set();
	for (const board of BOARDS) {
		const manifest = JSON.parse(read(`boards/${board}/manifest.json`));
		const b = manifest.defines.board;
		assert.deepEqual(Object.keys(b).sort(), [...keys].sort(), board);
		assert.deepEqual(manifest.include, ["../../manifest.json"]);
		// mcconfig writes a string define unquoted unless it starts with '#' (tools/mcconfig.js, DefinesFile).
		for (const [key, value] of Object.entries(b))
			if (typeof value === "string") assert.match(value, /^#/, `${board}: ${key} must start with '#' to come out as a C string`);
		assert.equal(b.name, `#${board}`);
		names.add(b.name);
		assert.ok(["#lan87xx", "#ip101"].includes(b.emac_phy), `${board}: emac_phy`);
		assert.ok(deps[`espressif/${b.emac_phy.slice(1)}`], `${board}: the ${b.emac_phy.slice(1)} component is not a dependency`);
		for (const key of ["wan_on_w5500", "emac_clock_out"]) assert.equal(typeof b[key], "boolean", `${board}: ${key}`);
		// A board names no subplatform: -p esp32/wt32_eth01 would bring Moddable's own Ethernet module.
		assert.match(manifest.note, /mcconfig -d -m -p esp32 boards\//, `${board}: build with -p esp32`);
		// ESP-IDF's console rate under CONFIG_ESP_CONSOLE_UART_DEFAULT: the Kconfig default on the ESP32.
		assert.equal(b.console_baud, 115200, `${board}: console baud`);
		assert.ok([2, 3].includes(b.w5500_spi_host), `${board}: SPI2 or SPI3`);
		assert.ok(b.w5500_mhz > 0 && b.w5500_mhz <= 33, `${board}: W5500 clock`);
		assert.ok(b.emac_phy_address >= 0 && b.emac_phy_address <= 31, `${board}: PHY address`);
		// ESP32 RMII clock: in on GPIO0 only, out on GPIO0, 16 or 17 (esp_eth_mac_esp.h, emac_periph).
		assert.ok(b.emac_clock_out ? [0, 16, 17].includes(b.emac_clock_gpio) : b.emac_clock_gpio === 0, `${board}: RMII clock GPIO`);
		const outputs = ["emac_mdc", "emac_mdio", "emac_phy_reset", "emac_phy_power", "w5500_sclk", "w5500_mosi", "w5500_cs", "w5500_reset"];
		const inputs = ["w5500_miso", "w5500_int"];
		const used = [...outputs, ...inputs].map((k) => [k, b[k]]).filter(([, g]) => g >= 0);
		used.push(["emac_clock_gpio", b.emac_clock_gpio], ...[19, 21, 22, 25, 26, 27].map((g) => ["RMII data", g]));
		const byPin = new Map();
		for (const [what, gpio] of used) {
			assert.ok(Number.isInteger(gpio) && gpio >= 0 && gpio <= 39, `${board}: ${what} GPIO ${gpio}`);
			assert.ok(gpio < 6 || gpio > 11, `${board}: ${what} on GPIO${gpio}, which the SPI flash uses`);
			assert.ok(!byPin.has(gpio), `${board}: GPIO${gpio} used by ${byPin.get(gpio)} and ${what}`);
			byPin.set(gpio, what);
		}
		for (const key of outputs)
			assert.ok(b[key] < 34, `${board}: ${key} on GPIO${b[key]}, which is input only`);
	}
	assert.equal(names.size, BOARDS.length);
});

// Moddable SDK 8.2.3's mcconfig runs tsc with --target es2025 --lib es2025:
// TypeScript 5.9 (the project's own, package.json) rejects those (TS6046),
// TypeScript 6 takes them. The sources must type-check that way too.
test("the TypeScript sources type-check with TypeScript 6 at es2025, as Moddable 8.2.3 compiles them", { timeout: 120000 }, () => {
	const tsc = path.join(TOP, "build/ts6/node_modules/.bin/tsc");
	assert.ok(fs.existsSync(tsc), "TypeScript 6 is not installed (bash tools/setup.sh, or bash tools/fetch-typescript6.sh)");
	// ignoreDeprecations: tsconfig.json's baseUrl, which TypeScript 6 deprecates, is the project's, not Moddable's.
	const result = spawnSync(tsc, ["--noEmit", "-p", "tsconfig.json", "--target", "es2025", "--lib", "es2025", "--ignoreDeprecations", "6.0"],
		{ cwd: TOP, encoding: "utf8", timeout: 110000 });
	assert.equal(result.status, 0, result.stdout + result.stderr);
});
