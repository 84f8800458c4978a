// The serial console changes the configuration; save and restart keep it;
// factory-reset brings the defaults back. Each change is checked by its
// effect on the network too, not only by what the console prints.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startBench, ping } from "../lib/bench.mjs";

let bench;
before(async () => {
	bench = await startBench();
});
after(async () => {
	await bench?.stop();
});

// The sim's preference file as { "domain key": text }: a line per entry, "domain key type hex".
function savedPrefs(file) {
	if (!fs.existsSync(file))
		return {};
	const entries = {};
	for (const line of fs.readFileSync(file, "latin1").split("\n")) {
		const m = /^(\S+) (\S+) \S ([0-9a-f]*)$/.exec(line);
		if (m)
			entries[`${m[1]} ${m[2]}`] = Buffer.from(m[3], "hex").toString("utf8");
	}
	return entries;
}

test("a fresh router runs the factory defaults, nothing saved", async () => {
	const config = await bench.console.command("show config");
	assert.equal(config, "set lan 192.168.4.1/24\nset wan dhcp\n# factory defaults (nothing saved)");
	// Only the UPnP identity (device UUID, SSDP boot id) is kept, never a configuration.
	assert.deepEqual(Object.keys(savedPrefs(bench.prefs)).sort(), ["upnp bootid", "upnp uuid"]);
});

test("set wan static applies at once", async () => {
	const out = await bench.console.command("set wan static 198.51.100.50/24 198.51.100.1 198.51.100.1");
	assert.match(out, /^wan: static 198\.51\.100\.50\/24 \(applied; type save to keep it\)$/);
	const result = await ping(bench, "wan", "198.51.100.50");
	assert.ok(result.ok, result.output);
	const status = await bench.console.command("show interfaces");
	assert.match(status, /address 198\.51\.100\.50\/24 gateway 198\.51\.100\.1 dhcp off/);
});

test("set lan is pending until save and restart", async () => {
	const out = await bench.console.command("set lan 192.168.5.1/24");
	assert.equal(out, "lan: 192.168.5.1/24 (applies after save and restart)");
	const config = await bench.console.command("show config");
	assert.match(config, /^set lan 192\.168\.5\.1\/24 {4}\(applies after save and restart\)$/m);
	assert.match(config, /^set wan static 198\.51\.100\.50\/24 198\.51\.100\.1 198\.51\.100\.1$/m);
	assert.match(config, /unsaved changes/);
	// The port still has the old address.
	const result = await ping(bench, "lan", "192.168.4.1");
	assert.ok(result.ok, result.output);
});

test("save and restart keep the changes", async () => {
	assert.equal(await bench.console.command("save"), "saved");
	assert.ok(fs.existsSync(bench.prefs), "preferences file written");
	const from = bench.console.text.length;
	bench.console.send("restart");
	await bench.console.waitFor(/restarting\n/, 5000, { from });
	// The same process starts over (a reboot): a new banner.
	await bench.console.waitFor(/natbridge \d+\.\d+\.\d+[^\n]*\nlan {2}192\.168\.5\.1\/24 on tap:rtr-lan/, 10000, { from });
	await bench.console.waitFor(/wan {2}198\.51\.100\.50\/24 gateway 198\.51\.100\.1 dns 198\.51\.100\.1 \(static\)/, 10000, { from });
	await bench.console.waitFor(/Type help for commands\.\nrouter> /, 5000, { from });
	const config = await bench.console.command("show config");
	assert.equal(config, "set lan 192.168.5.1/24\nset wan static 198.51.100.50/24 198.51.100.1 198.51.100.1\n# saved");

	// Both ports carry the saved addresses: move the LAN host onto the new subnet.
	await bench.exec("lan", ["ip", "addr", "add", "192.168.5.2/24", "dev", "rtr-lan"]);
	const lan = await ping(bench, "lan", "192.168.5.1");
	assert.ok(lan.ok, lan.output);
	const wan = await ping(bench, "wan", "198.51.100.50");
	assert.ok(wan.ok, wan.output);
});

test("restart without save discards changes", async () => {
	await bench.console.command("set wan dhcp");
	const from = bench.console.text.length;
	bench.console.send("restart");
	await bench.console.waitFor(/restarting; unsaved changes are discarded\n/, 5000, { from });
	await bench.console.waitFor(/Type help for commands\.\nrouter> /, 10000, { from });
	const config = await bench.console.command("show config");
	assert.match(config, /^set wan static 198\.51\.100\.50\/24 198\.51\.100\.1 198\.51\.100\.1$/m);
});

test("factory-reset restores the defaults", async () => {
	const from = bench.console.text.length;
	bench.console.send("factory-reset");
	await bench.console.waitFor(/erasing configuration and restarting with factory defaults\n/, 5000, { from });
	await bench.console.waitFor(/lan {2}192\.168\.4\.1\/24 on tap:rtr-lan/, 10000, { from });
	await bench.console.waitFor(/wan {2}dhcp, waiting for a lease/, 10000, { from });
	const config = await bench.console.command("show config");
	assert.equal(config, "set lan 192.168.4.1/24\nset wan dhcp\n# factory defaults (nothing saved)");
	assert.equal(savedPrefs(bench.prefs)["router config"], undefined, "saved configuration erased");
	// And the defaults are in force: DHCP on the WAN, 192.168.4.1 on the LAN.
	await bench.wanAddress(30000, from);
	const lan = await ping(bench, "lan", "192.168.4.1");
	assert.ok(lan.ok, lan.output);
});

test("UPnP settings survive save and restart; rules are kept as text", async () => {
	for (const line of ["upnp secure off", "upnp deny 30000-30010 192.168.4.0/24 1-65535", "upnp limit mappings 32"])
		assert.match(await bench.console.command(line), /^upnp: .*type save to keep it/);
	assert.equal(await bench.console.command("save"), "saved");
	const saved = JSON.parse(savedPrefs(bench.prefs)["router config"]);
	assert.ok(saved.upnp.rules.includes("deny 30000-30010 192.168.4.0/24 1-65535"), "the rule is saved in its console form");
	const from = bench.console.text.length;
	bench.console.send("restart");
	await bench.console.waitFor(/Type help for commands\.\nrouter> /, 10000, { from });
	const config = await bench.console.command("show config");
	assert.match(config, /^upnp secure off\nupnp rules clear\nupnp deny 0-65535 0\.0\.0\.0\/0 0-65535\nupnp allow 1024-65535 0\.0\.0\.0\/0 1024-65535\nupnp deny 30000-30010 192\.168\.4\.0\/24 1-65535\nupnp limit mappings 32\n# saved$/m);
	const rules = await bench.console.command("show upnp rules");
	assert.equal(rules, "  1 deny 30000-30010 192.168.4.0/24 1-65535\n  2 allow 1024-65535 0.0.0.0/0 1024-65535\n  3 deny 0-65535 0.0.0.0/0 0-65535");
});

test("SIP ALG settings survive save and restart", async () => {
	assert.equal(await bench.console.command("sipalg ports 5060, 5080"), "sipalg: ports 5060,5080 (applied; type save to keep it)");
	assert.equal(await bench.console.command("sipalg off"), "sipalg: off (applied; type save to keep it)");
	assert.match(await bench.console.command("show sipalg"), /^sipalg: off, ports 5060,5080\n/);
	assert.equal(await bench.console.command("save"), "saved");
	const saved = JSON.parse(savedPrefs(bench.prefs)["router config"]);
	assert.deepEqual(saved.sipalg, { enabled: false, ports: [5060, 5080] });
	const from = bench.console.text.length;
	bench.console.send("restart");
	await bench.console.waitFor(/Type help for commands\.\nrouter> /, 10000, { from });
	assert.match(await bench.console.command("show config"), /^sipalg off\nsipalg ports 5060,5080\n# saved$/m);
	assert.match(await bench.console.command("show sipalg"), /^sipalg: off, ports 5060,5080\ndialogs: 0 of 16\n/);
	// Back to the defaults: nothing left in show config.
	assert.equal(await bench.console.command("sipalg on"), "sipalg: on (applied; type save to keep it)");
	assert.equal(await bench.console.command("sipalg ports 5060"), "sipalg: ports 5060 (applied; type save to keep it)");
	assert.equal(await bench.console.command("save"), "saved");
	assert.doesNotMatch(await bench.console.command("show config"), /sipalg/);
	assert.match(await bench.console.command("show sipalg"), /^sipalg: on, ports 5060\n/);
});
