// Malformed UDP is not forwarded (issue 15 item 10): datagrams whose UDP
// length field is below 8 or beyond the IP payload, and a header cut short,
// hand-made on raw sockets (lib/udp-raw.py), are dropped by the router and
// counted as malformed, from the WAN through a port forward and from the
// LAN to far; a raw socket on the far side sees only the good ones. A UDP
// length below the IP payload (trailing bytes) is forwarded as Linux
// forwards it. Each probe is told apart by its IP id, which NAPT keeps.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startBench, FAR_HOST, LAN_HOST, TOP, sleep, accepted } from "../lib/bench.mjs";

const RAW = path.join(TOP, "host-tests/lib/udp-raw.py");

let bench, wan;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

const router = (line) => accepted(bench, line);

const malformed = (out) => Number(/^dropped: malformed (\d+) /m.exec(out)[1]);

// [IP id offset, UDP length field, payload bytes, UDP header bytes sent (undefined: all 8), delivered]
const PROBES = [
	[2, 4, 10, undefined, false],     // length below the header, before any flow
	[1, 18, 10, undefined, true],     // good: makes the flow
	[3, 0, 10, undefined, false],     // length 0
	[4, 7, 10, undefined, false],     // length 7
	[5, 118, 10, undefined, false],   // length beyond the IP payload, on the flow's fast path
	[6, 19, 10, undefined, false],    // one byte beyond
	[7, 8, 0, 6, false],              // header cut short
	[8, 12, 10, undefined, true],     // trailing bytes after the datagram: Linux forwards it
	[9, 18, 10, undefined, true],     // good again: the flow still works
];

async function probeThrough(fromNs, src, dst, sport, dport, toNs, listenOn, idBase) {
	const sniff = bench.track(toNs, ["python3", "-u", RAW, "sniff", listenOn, "8"]);
	await sniff.waitFor(/^ready$/m, 5000);
	for (const [id, ulen, payload, header] of PROBES) {
		const argv = ["python3", RAW, "probe", src, dst, String(sport), String(dport), String(idBase + id), String(ulen), String(payload)];
		if (header !== undefined)
			argv.push(String(header));
		const r = await bench.exec(fromNs, argv, { timeout: 10000 });
		assert.equal(r.code, 0, r.stderr);
		await sleep(100);
	}
	await sniff.waitFor(/^done$/m, 15000);
	const seen = new Set([...sniff.stdout.matchAll(/^udp id=(\d+) /gm)].map((m) => Number(m[1]) - idBase));
	return { seen, text: sniff.stdout };
}

function check({ seen, text }, what) {
	const expected = PROBES.filter((p) => p[4]).map((p) => p[0]).sort((a, b) => a - b);
	assert.deepEqual([...seen].sort((a, b) => a - b), expected, `${what}: probes seen (by IP id) ${[...seen].join(" ")}\n${text}`);
}

test("UDP with a bad length field or a short header is dropped both ways, counted as malformed", async () => {
	await router("forward add udp 7500 192.168.4.2:7500 length");
	const m0 = malformed(await router("show nat"));
	const inbound = await probeThrough("far", FAR_HOST, wan, 6000, 7500, "lan", LAN_HOST, 1000);
	const m1 = malformed(await router("show nat"));
	console.log(`inbound: probes seen in lan ${[...inbound.seen].sort((a, b) => a - b).join(" ")}; malformed +${m1 - m0}`);

	const outbound = await probeThrough("lan", LAN_HOST, FAR_HOST, 7600, 9999, "far", FAR_HOST, 2000);
	const m2 = malformed(await router("show nat"));
	console.log(`outbound: probes seen in far ${[...outbound.seen].sort((a, b) => a - b).join(" ")}; malformed +${m2 - m1}`);
	check(inbound, "from the WAN");
	assert.equal(m1 - m0, PROBES.filter((p) => !p[4]).length);
	check(outbound, "from the LAN");
	assert.equal(m2 - m1, PROBES.filter((p) => !p[4]).length);
	await router("forward del udp 7500");
});
