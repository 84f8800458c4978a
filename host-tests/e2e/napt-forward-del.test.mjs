// Removing a forward keeps its connections (issue 15 item 8): far opens a
// TCP connection through a port forward to a server in lan and exchanges a
// line; `forward del` removes the forward mid-connection; the connection
// still carries data both ways (as miniupnpd with Linux conntrack keeps it)
// while a new connection to the same port from far is refused, and the
// connection still works after that attempt too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, LAN_HOST, FAR_HOST, accepted } from "../lib/bench.mjs";
import { echoClient, echoServer } from "../lib/tcp-peers.mjs";
import * as Peers from "../lib/tcp-peers.mjs";

let bench, wan;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

const router = (line) => accepted(bench, line);

test("forward del keeps an established connection through it and refuses new ones", async () => {
	await echoServer(bench, "lan", LAN_HOST, 9000);
	await router("forward add tcp 9090 192.168.4.2:9000 xfer");
	const client = echoClient(bench, "far", wan, 9090, FAR_HOST);
	try {
		await client.waitFor(/^connected \d+$/m, 10000);
		client.write("before\n");
		await client.waitFor(/^echo BEFORE$/m, 10000);

		await router("forward del tcp 9090");
		client.write("after-del\n");
		await client.waitFor(/^echo AFTER-DEL$/m, 5000);
		const flows = await router("show nat flows 100");
		assert.match(flows, /^tcp .*:9000 .*via :9090 .*established/m, flows);

		const fresh = await Peers.tcpConnect(bench, "far", wan, 9090, { source: FAR_HOST, seconds: 3 });
		assert.ok(!fresh.ok, `a new connection got through the removed forward: ${fresh.text}`);

		client.write("still\n");
		await client.waitFor(/^echo STILL$/m, 5000);
	}
	finally {
		await client.stop();
		await bench.console.command("forward del tcp 9090");
	}
});
