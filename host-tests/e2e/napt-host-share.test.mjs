// The per-host share of the flow table (issue 15 item 2) at the console:
// set nat host-share 8, then 20 UDP flows from lan to far: at most 8 live
// at once; each of the other 12 replaced one of the host's own unanswered
// flows (counted as evicted; a host whose own flows are all in use is
// refused instead, counted as host-share: napt_test's test_flow_share);
// show nat reports the share and
// show config keeps it; auto goes back to a quarter of the table.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, FAR_HOST, LAN_HOST, accepted } from "../lib/bench.mjs";

let bench;
before(async () => {
	bench = await startBench();
	await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

const router = (line) => accepted(bench, line);

const SEND = `
import socket
for i in range(20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("${LAN_HOST}", 31000 + i))
    s.sendto(b"x", ("${FAR_HOST}", 9))
    s.close()
print("sent", flush=True)
`;

test("set nat host-share bounds one LAN host's flows, counted and reported", async () => {
	const before = await router("show nat");
	assert.match(before, /^host share: 256 flows per LAN host/m, before);
	const refused0 = Number(/host-share (\d+)/.exec(before)[1]);
	const evicted0 = Number(/evicted (\d+)/.exec(before)[1]);

	await router("set nat host-share 8");
	const sent = await bench.exec("lan", ["python3", "-c", SEND], { timeout: 20000 });
	assert.equal(sent.code, 0, sent.stderr);

	const flows = await router("show nat flows 100");
	const mine = flows.split("\n").filter((l) => l.startsWith(`udp ${LAN_HOST}:31`));
	assert.ok(mine.length <= 8, flows);
	const after = await router("show nat");
	assert.match(after, /^host share: 8 flows per LAN host/m, after);
	const refused = Number(/host-share (\d+)/.exec(after)[1]) - refused0;
	const evicted = Number(/evicted (\d+)/.exec(after)[1]) - evicted0;
	// Its own unanswered flows can always make room (the eviction looks among its flows, not in a window of slots that may hold none).
	assert.ok(evicted >= 12 && refused === 0, after);
	assert.match(await router("show config"), /^set nat host-share 8$/m);

	await router("set nat host-share auto");
	assert.match(await router("show nat"), /^host share: 256 flows per LAN host/m);
	assert.doesNotMatch(await router("show config"), /host-share/);
});
