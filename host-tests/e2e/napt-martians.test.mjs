// Impossible sources on the WAN (issue 15 item 4, RFC 1812 5.3.7): echo
// requests to the router's WAN address from 127.0.0.1, 0.0.0.0, the LAN host's
// own address, a multicast and the limited-broadcast address, sent as raw
// frames from the ISP's side, get no answer on either port; show nat counts
// them as martian. A real ping from the ISP is still answered, the same way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startBench, TOP, ISP_GATEWAY } from "../lib/bench.mjs";

const PROBE = path.join(TOP, "host-tests/lib/icmp-probe.py");
const SPOOFED = ["127.0.0.1", "0.0.0.0", "192.168.4.2", "192.168.4.77", "224.0.0.1", "255.255.255.255"];

let bench, wan;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

function martians(out) {
	const m = /martian (\d+)/.exec(out);
	assert.ok(m, out);
	return Number(m[1]);
}

// Probes from the ISP's side with these sources; the echo replies seen on the WAN and on the LAN.
async function probe(sources, ident) {
	const macs = await bench.macs();
	const lan = bench.track("lan", ["python3", "-u", PROBE, "listen", "rtr-lan", String(ident), "4"]);
	await lan.waitFor(/^ready$/m, 5000);
	const sent = await bench.exec("wan", ["python3", "-u", PROBE, "send", "rtr-wan", macs.wan, wan, String(ident), sources.join(","), "2"], { timeout: 20000 });
	assert.equal(sent.code, 0, sent.stderr);
	await lan.exited;
	const replies = (text) => [...text.matchAll(/^reply (\S+) (\S+) (\d+)$/gm)].map((m) => ({ src: m[1], dst: m[2], seq: Number(m[3]) }));
	return { wan: replies(sent.stdout), lan: replies(lan.stdout) };
}

test("echo requests from impossible sources on the WAN get no answer and are counted as martian", async () => {
	const before = martians(await bench.console.command("show nat"));
	// The probe itself works: the ISP's own address gets its answer from the router's WAN address.
	const control = await probe([ISP_GATEWAY], 0x5151);
	assert.deepEqual(control.wan.map((r) => [r.src, r.dst]), [[wan, ISP_GATEWAY]], JSON.stringify(control));
	const spoofed = await probe(SPOOFED, 0x5252);
	assert.deepEqual(spoofed.wan, [], `answered on the WAN: ${JSON.stringify(spoofed.wan)}`);
	assert.deepEqual(spoofed.lan, [], `answered into the LAN: ${JSON.stringify(spoofed.lan)}`);
	const after = martians(await bench.console.command("show nat"));
	assert.equal(after - before, SPOOFED.length, `martian ${before} -> ${after}`);
});
