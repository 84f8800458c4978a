// RFC 5780 NAT behaviour discovery through the router: coturn's turnserver
// in far as a plain STUN server on two addresses (203.0.113.10 and .11,
// ports 3478 and 3479), and coturn's turnutils_natdiscovery in lan. The
// router must show endpoint-independent mapping, address-dependent
// filtering by default and endpoint-independent filtering after
// `set nat filtering eif`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startBench, FAR_HOST, FAR_ALT } from "../lib/bench.mjs";

let bench;
let wan;
let stun;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	stun = await bench.serve("far", [
		"turnserver", "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls",
		"--listening-ip", FAR_HOST, "--listening-ip", FAR_ALT, "--listening-port", "3478", "--alt-listening-port", "3479",
		"--log-file", "stdout", "--simple-log",
		"--pidfile", path.join(bench.dir, "turnserver.pid"), "--userdb", path.join(bench.dir, "turndb"),
	], { proto: "udp", address: FAR_ALT, port: 3479, timeout: 10000 });
	await bench.waitListening("far", "udp", FAR_HOST, 3478, 5000);
});
after(async () => {
	await stun?.stop();
	await bench?.stop();
});

async function natdiscovery() {
	const result = await bench.exec("lan", ["turnutils_natdiscovery", "-m", "-f", FAR_HOST], { timeout: 60000 });
	const output = `turnutils_natdiscovery -m -f ${FAR_HOST} (exit ${result.code}${result.killed ? ", killed" : ""}):\n${result.stdout}\n${result.stderr}\n--- turnserver:\n${stun.stdout.slice(-4000)}`;
	const verdicts = [...result.stdout.matchAll(/^(No NAT! \(Endpoint Independent Mapping\)|NAT with .*(?:Mapping|Filtering)!)$/gm)].map((m) => m[1]);
	const reflexive = [...result.stdout.matchAll(/UDP reflexive addr: (\S+):(\d+)/g)].map((m) => m[1]);
	return { verdicts, reflexive, output };
}

test("natdiscovery: endpoint-independent mapping, address-dependent filtering (the default)", async () => {
	const { verdicts, reflexive, output } = await natdiscovery();
	assert.ok(reflexive.length >= 2, output);
	assert.deepEqual([...new Set(reflexive)], [wan], `every reflexive address is the WAN address:\n${output}`);
	assert.deepEqual(verdicts, ["NAT with Endpoint Independent Mapping!", "NAT with Address Dependent Filtering!"], output);
});

test("natdiscovery after set nat filtering eif: endpoint-independent filtering", async () => {
	const set = await bench.console.command("set nat filtering eif");
	assert.doesNotMatch(set, /^error:/m, set);
	try {
		const { verdicts, reflexive, output } = await natdiscovery();
		assert.deepEqual([...new Set(reflexive)], [wan], output);
		assert.deepEqual(verdicts, ["NAT with Endpoint Independent Mapping!", "NAT with Endpoint Independent Filtering!"], output);
	}
	finally {
		await bench.console.command("set nat filtering adf");
	}
});
