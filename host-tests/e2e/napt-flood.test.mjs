// A flood of new flows from the LAN (more than the table holds) while a TCP
// connection to far is open: the new flows push out each other, never the
// established connection (issue 3: "a flood of new flows never breaks
// established ones"), and show nat counts the evictions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, FAR_HOST } from "../lib/bench.mjs";
import { echoClient, echoServer } from "../lib/tcp-peers.mjs";

let bench;
before(async () => {
	bench = await startBench();
	await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

function counters(out) {
	const head = /^nat: (\d+) flows in use of (\d+) /m.exec(out);
	const counts = /created (\d+) expired (\d+) evicted (\d+);/.exec(out);
	const full = /table-full (\d+)/.exec(out);
	assert.ok(head && counts && full, out);
	return { inUse: Number(head[1]), capacity: Number(head[2]), created: Number(counts[1]), evicted: Number(counts[3]), tableFull: Number(full[1]) };
}

// One datagram from each of `count` source ports, paced so the TAP queue keeps up.
const FLOOD = `
import socket, sys, time
count = int(sys.argv[1])
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.168.4.2", 20000 + i))
    s.sendto(b"x", ("${FAR_HOST}", 9))
    s.close()
    if i % 100 == 99:
        time.sleep(0.005)
print("sent", count, flush=True)
`;

test("a flood of new flows evicts unreplied ones and leaves an established TCP connection working", async () => {
	const server = await echoServer(bench, "far", FAR_HOST, 7000);
	const client = echoClient(bench, "lan", FAR_HOST, 7000);
	try {
		await client.waitFor(/^connected \d+$/m, 10000);
		client.child.stdin.write("before\n");
		await client.waitFor(/^echo BEFORE$/m, 10000);

		const before = counters(await bench.console.command("show nat"));
		// The whole table for this one host (the per-host share, a quarter by default,
		// would stop the flood before the table fills: napt-host-share.test.mjs).
		await bench.console.command(`set nat host-share ${before.capacity}`);
		const floodSize = before.capacity * 3;
		const flood = await bench.exec("lan", ["python3", "-c", FLOOD, String(floodSize)], { timeout: 60000 });
		assert.equal(flood.code, 0, flood.stderr);
		assert.match(flood.stdout, new RegExp(`sent ${floodSize}`));

		const after = counters(await bench.console.command("show nat"));
		// More flows were made than the table holds: room came from evicting.
		assert.ok(after.created - before.created > before.capacity, `created ${after.created - before.created} of ${floodSize}\n${JSON.stringify(after)}`);
		assert.ok(after.evicted > before.evicted, JSON.stringify(after));
		assert.ok(after.inUse <= after.capacity);

		// The connection made before the flood still carries data both ways.
		client.child.stdin.write("after the flood\n");
		await client.waitFor(/^echo AFTER THE FLOOD$/m, 10000);
		const flows = await bench.console.command(`show nat flows ${after.capacity}`);
		assert.match(flows, /^tcp 192\.168\.4\.2:\d+ -> 203\.0\.113\.10:7000 via :\d+ idle \d+s expires \d+s established replied$/m);
	}
	finally {
		await bench.console.command("set nat host-share auto");
		await client.stop();
		await server.stop();
	}
});
