// A preferences file that is truncated, garbage, or holds a configuration
// that fails validation: the router boots with defaults and says why.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { startBench } from "../lib/bench.mjs";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "natbridge-prefs-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const DEFAULTS = "set lan 192.168.4.1/24\nset wan dhcp\n# factory defaults (nothing saved)";

// The simulator's file format, written independently of its C code.
function prefsFile(records) {
	let text = "NBPREFS 1\n";
	for (const [domain, key, type, value] of records)
		text += `${domain} ${key} ${type} ${Buffer.from(value).toString("hex")}\n`;
	return text + `END ${records.length} ${zlib.crc32(Buffer.from(text)).toString(16).padStart(8, "0")}\n`;
}

async function bootWith(contents) {
	const prefs = path.join(dir, `p-${crypto.randomUUID()}.prefs`);
	if (contents !== undefined)
		fs.writeFileSync(prefs, contents);
	const bench = await startBench({ prefs, attach: false });
	return { bench, prefs };
}

async function savedConfigFile() {
	const { bench, prefs } = await bootWith(undefined);
	try {
		await bench.console.command("set lan 10.1.1.1/24");
		assert.equal(await bench.console.command("save"), "saved");
	}
	finally {
		await bench.stop();
	}
	return fs.readFileSync(prefs);
}

test("a saved file written by the router is read back", async () => {
	const good = await savedConfigFile();
	const { bench } = await bootWith(good);
	try {
		assert.match(await bench.console.command("show config"), /^set lan 10\.1\.1\.1\/24\nset wan dhcp\n# saved$/);
		assert.equal(bench.console.errors, "");
	}
	finally {
		await bench.stop();
	}
});

test("a truncated file boots with defaults and a warning", async () => {
	const good = await savedConfigFile();
	for (const length of [good.length - 1, Math.floor(good.length / 2), 5]) {
		const { bench } = await bootWith(good.subarray(0, length));
		try {
			// On the console, where the owner looks, and in the log.
			await bench.console.waitFor(/warning: preferences .* are corrupt \(.+\); using defaults/, 5000);
			await bench.console.waitFor(/warning: preferences .* are corrupt \(.+\); using defaults/, 5000, { stream: "stderr" });
			assert.equal(await bench.console.command("show config"), DEFAULTS);
		}
		finally {
			await bench.stop();
		}
	}
});

test("a garbage file boots with defaults and a warning", async () => {
	for (const garbage of [crypto.randomBytes(700), Buffer.from("\0\0\0\0"), Buffer.from("NBPREFS 1\nrouter config s zz\nEND 1 00000000\n")]) {
		const { bench } = await bootWith(garbage);
		try {
			await bench.console.waitFor(/warning: preferences .* are corrupt/, 5000);
			assert.equal(await bench.console.command("show config"), DEFAULTS);
		}
		finally {
			await bench.stop();
		}
	}
});

test("a stored configuration that fails validation boots with defaults and a warning", async () => {
	const bad = [
		["not JSON", "{lan:", /warning: configuration is not valid JSON; using defaults/],
		["wrong shape", JSON.stringify({ version: 1, lan: { address: "192.168.4.1" }, wan: { mode: "dhcp" } }), /warning: configuration rejected \(lan: address and prefix required\); using defaults/],
		["bad address", JSON.stringify({ version: 1, lan: { address: "192.168.4.300", prefix: 24 }, wan: { mode: "dhcp" } }), /warning: configuration rejected \(lan: '192\.168\.4\.300' is not an IPv4 address/],
		["unknown mode", JSON.stringify({ version: 1, lan: { address: "192.168.4.1", prefix: 24 }, wan: { mode: "pppoe" } }), /warning: configuration rejected \(wan: mode pppoe/],
		["wrong type", null, /warning: configuration has the wrong type; using defaults/],
	];
	for (const [name, json, warning] of bad) {
		const record = json === null ? ["router", "config", "b", "\x01"] : ["router", "config", "s", json];
		const { bench } = await bootWith(prefsFile([record]));
		try {
			await bench.console.waitFor(warning, 5000);
			assert.equal(await bench.console.command("show config"), DEFAULTS, name);
		}
		finally {
			await bench.stop();
		}
	}
});
