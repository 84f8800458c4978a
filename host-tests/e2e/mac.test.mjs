// One board, one MAC. A board has its own base MAC in efuse; a simulator
// instance has --mac, or by default one made from its preferences file's
// absolute path (its flash), so two instances differ and one instance keeps
// its MAC across restart and across runs. The WAN port has the base MAC,
// the LAN port the one ESP-IDF's esp_derive_local_mac() derives from it
// (the ESP32 boards give the W5500 that). show interfaces tells both; the
// ISP's dnsmasq is the judge on the wire.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startBench, BENCH_STATE, SIM } from "../lib/bench.mjs";

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const re = (s) => String(s).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// Preferences files that outlive one bench (the "flash" of one board across power cycles).
const flash = fs.mkdtempSync(path.join(os.tmpdir(), "natbridge-mac-"));
after(() => fs.rmSync(flash, { recursive: true, force: true }));

// esp_derive_local_mac(): the locally administered bit set, and bit 2 flipped when that changed nothing.
function derived(mac) {
	const first = parseInt(mac.slice(0, 2), 16);
	let local = first | 2;
	if (local === first)
		local ^= 4;
	return `${local.toString(16).padStart(2, "0")}${mac.slice(2)}`;
}

function leaseOf(mac) {
	const leases = fs.readFileSync(path.join(BENCH_STATE, "dnsmasq.leases"), "utf8");
	return new RegExp(`^\\d+ ${re(mac)} (\\S+) `, "m").exec(leases)?.[1];
}

async function withBench(options, body) {
	const bench = await startBench(options);
	try {
		return await body(bench);
	}
	finally {
		await bench.stop();
	}
}

let first; // the default MAC of the instance whose flash is `flash`/board.prefs

test("by default: locally administered, unicast, the LAN port's derived; kept across restart, and so is the lease", { timeout: 60000 }, async () => {
	await withBench({ prefs: path.join(flash, "board.prefs") }, async (bench) => {
		const wan = await bench.wanAddress(30000);
		const macs = await bench.macs();
		assert.match(macs.wan, MAC, JSON.stringify(macs));
		assert.equal(parseInt(macs.wan.slice(0, 2), 16) & 3, 2, `locally administered, unicast: ${macs.wan}`);
		assert.equal(macs.lan, derived(macs.wan));
		assert.notEqual(macs.wan, "02:4e:42:00:00:01", "not the one MAC every simulator used to share");
		// The banner says the same.
		assert.match(bench.console.text, new RegExp(`^wan .* on tap:rtr-wan \\(${re(macs.wan)}\\)$`, "m"));
		assert.equal(leaseOf(macs.wan), wan, "dnsmasq's lease names this MAC");
		first = macs.wan;

		const from = bench.console.text.length;
		bench.console.send("restart");
		await bench.console.waitFor(/restarting/, 5000, { from });
		const again = await bench.wanAddress(30000, from);
		assert.deepEqual(await bench.macs(), macs, "the same MACs after restart");
		assert.equal(again, wan, "the ISP knows the router again: the same lease");
		assert.match(fs.readFileSync(path.join(BENCH_STATE, "dnsmasq.log"), "utf8"), new RegExp(`DHCPACK\\(rtr-wan\\) ${re(wan)} ${re(macs.wan)}`));
	});
});

test("the same flash in a new process: the same MAC; two instances side by side: two MACs", { timeout: 60000 }, async () => {
	assert.ok(first, "the first test ran");
	await withBench({ prefs: path.join(flash, "board.prefs"), routers: 2, attach: false }, async (bench) => {
		const [a, b] = await Promise.all(bench.routers.map((r) => r.macs()));
		assert.equal(a.wan, first, "a power cycle keeps the board's MAC");
		assert.match(b.wan, MAC);
		assert.notEqual(b.wan, a.wan);
		assert.notEqual(b.lan, a.lan);
		assert.equal(b.lan, derived(b.wan));
	});
});

test("--mac is the WAN port's MAC, the LAN port's derived from it, on the wire and across restart", { timeout: 60000 }, async () => {
	// A universally administered base, as an Espressif efuse MAC is: the LAN port gets the local bit.
	await withBench({ mac: "24:0A:C4:12:34:56" }, async (bench) => {
		const wan = await bench.wanAddress(30000);
		assert.deepEqual(await bench.macs(), { wan: "24:0a:c4:12:34:56", lan: "26:0a:c4:12:34:56" });
		assert.equal(leaseOf("24:0a:c4:12:34:56"), wan);
		const from = bench.console.text.length;
		bench.console.send("restart");
		await bench.console.waitFor(/restarting/, 5000, { from });
		await bench.console.waitFor(/Type help for commands\.\nrouter> /, 10000, { from });
		assert.deepEqual(await bench.macs(), { wan: "24:0a:c4:12:34:56", lan: "26:0a:c4:12:34:56" });
	});
	// A locally administered one: the LAN port's flips bit 2 (esp_derive_local_mac's second try).
	await withBench({ mac: "02:00:5e:10:00:01", attach: false }, async (bench) => {
		assert.deepEqual(await bench.macs(), { wan: "02:00:5e:10:00:01", lan: "06:00:5e:10:00:01" });
	});
});

test("a malformed or unusable --mac is refused with a clear error, before any port is made", { timeout: 60000 }, async () => {
	await withBench({ attach: false }, async (bench) => {
		const cases = [
			["zz", /not a MAC address; six two-digit hex octets separated by colons/],
			["02:00:5e:10:00", /not a MAC address/],
			["02:00:5e:10:00:1", /not a MAC address/],
			["02:00:5e:10:00:0g", /not a MAC address/],
			["02-00-5e-10-00-01", /not a MAC address/],
			["02:00:5e:10:00:01:02", /not a MAC address/],
			["", /not a MAC address/],
			["01:00:5e:00:00:01", /a multicast address/],
			["ff:ff:ff:ff:ff:ff", /a multicast address/],
			["00:00:00:00:00:00", /all zero/],
		];
		for (const [mac, why] of cases) {
			const r = await bench.exec("rtr", [SIM, "--wan", "bad-wan", "--lan", "bad-lan", "--prefs", path.join(bench.dir, "bad.prefs"), "--mac", mac], { timeout: 10000 });
			assert.equal(r.code, 2, `--mac '${mac}': exit ${r.code}\n${r.stdout}${r.stderr}`);
			assert.match(r.stderr, new RegExp(`^router-sim: --mac ${re(mac)}: `, "m"), r.stderr);
			assert.match(r.stderr, why, r.stderr);
		}
		const links = await bench.exec("rtr", ["ip", "-br", "link"]);
		assert.doesNotMatch(links.stdout, /bad-/, `no TAP device was made:\n${links.stdout}`);
		// And the help names the option.
		const help = await bench.exec("rtr", [SIM, "--help"]);
		assert.match(help.stdout, /--mac <mac> +the board's base MAC/, help.stdout);
	});
});
