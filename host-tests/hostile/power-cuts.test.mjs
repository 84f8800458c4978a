// Power cuts at any instant (issue 15, hostile run): the simulator is killed
// (SIGKILL, nothing flushed) at a random moment while DHCP clients are in
// the middle of their exchange and a `save` is on its way to flash, then
// started again on the same preferences file. After every boot:
//   - the configuration is the one saved last or the one before it: never
//     the defaults, never a warning that it was unreadable;
//   - a new client is offered and ACKed an address within the probe's
//     windows (2 s each), and not one another client was ACKed;
// and over the whole run no address is ACKed to two clients.
// HOSTILE_CUTS sets the number of cuts (10 in the suite; npm run hostile
// makes it 30); HOSTILE_SEED replays a run's instants (printed as a diagnostic).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench } from "../lib/bench.mjs";
import { LAN_IF, probe } from "../lib/dhcp.mjs";
import { cutsOf, seededRandom } from "../lib/hostile.mjs";

const CUTS = cutsOf(10);
const random = seededRandom();

let bench;
before(async () => {
	bench = await startBench();
});
after(async () => {
	await bench?.stop();
});

const show = () => bench.console.command("show dhcp");

// One client's DISCOVER and REQUEST; its ACKed address, if it got one.
async function dora(mac, wait) {
	const [offers, acks] = await probe(bench, "lan", LAN_IF, [{ op: "dora", mac, wait }]);
	return { mac, offered: offers?.find((r) => r.type === 2)?.yiaddr, acked: acks?.find((r) => r.type === 5)?.yiaddr };
}

test(`${CUTS} power cuts at random instants: the saved configuration, a lease for a new client after each, no address handed out twice`, { timeout: 60000 + CUTS * 15000 }, async (t) => {
	t.diagnostic(`seed ${random.seed}`);
	for (const line of ["dhcp on", "dhcp pool 192.168.4.10 192.168.4.250", "dhcp leases clear", "dhcp domain r0.example"])
		assert.doesNotMatch(await bench.console.command(line), /^error:/m, line);
	assert.equal(await bench.console.command("save"), "saved");

	const holder = new Map();   // address -> the MAC it was ACKed to
	const duplicates = [];
	const take = (client, when) => {
		if (!client.acked)
			return;
		const had = holder.get(client.acked);
		if (had && had !== client.mac)
			duplicates.push(`${client.acked} to ${had} and then ${client.mac} (${when})`);
		holder.set(client.acked, client.mac);
	};
	let saved = "r0.example";
	for (let cut = 1; cut <= CUTS; cut++) {
		// A new domain in RAM; `save` sent a random moment into three clients' exchanges, the cut a moment after.
		const domain = `r${cut}.example`;
		assert.doesNotMatch(await bench.console.command(`dhcp domain ${domain}`), /^error:/m);
		const busy = (async () => {
			const out = [];
			for (let k = 0; k < 3; k++)
				out.push(await dora(`02:00:00:7d:${cut.toString(16).padStart(2, "0")}:0${k}`, 0.4));
			return out;
		})();
		await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 1500)));
		bench.console.send("save");
		await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 15)));
		const from = bench.console.text.length;
		await bench.powerCut();
		for (const client of await busy)
			take(client, `around cut ${cut}`);

		const boot = bench.console.text.slice(from);
		assert.doesNotMatch(boot, /warning: configuration/, `cut ${cut}: the configuration survived:\n${boot}`);
		const config = await bench.console.command("show config");
		const now = /dhcp domain (\S+)/.exec(config)?.[1];
		assert.ok(now === domain || now === saved, `cut ${cut}: the domain is ${now}, not ${domain} (being saved) or ${saved} (saved before)\n${config}`);
		saved = now;

		// Legitimate traffic right after the boot: a new client gets its lease.
		const fresh = await dora(`02:00:00:7e:${cut.toString(16).padStart(2, "0")}:00`, 2);
		assert.ok(fresh.acked, `cut ${cut}: a new client got no lease:\n${JSON.stringify(fresh)}\n${await show()}`);
		take(fresh, `after cut ${cut}`);
	}
	t.diagnostic(`${holder.size} addresses ACKed over ${CUTS} cuts, ${duplicates.length} handed out twice`);
	t.diagnostic((await show()).split("\n").filter((l) => /^(dhcp|leases|counters|stored)/.test(l)).join("\n"));
	assert.deepEqual(duplicates, [], "no address handed out twice");
});
