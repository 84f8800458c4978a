// Boot: the router takes its WAN address from the ISP's DHCP server and
// answers ping on both ports.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startBench, ping, ROUTER_LAN, BENCH_STATE } from "../lib/bench.mjs";
import { parseMemory, boardCreation } from "../lib/memory.mjs";

let bench;
before(async () => {
	bench = await startBench();
});
after(async () => {
	await bench?.stop();
});

test("banner shows version and the LAN default", async () => {
	await bench.console.waitFor(/natbridge \d+\.\d+\.\d+ \(sim/);
	await bench.console.waitFor(/lan {2}192\.168\.4\.1\/24 on tap:rtr-lan/);
});

test("WAN address comes from dnsmasq in wan", async () => {
	const address = await bench.wanAddress(30000);
	const octet = Number(address.split(".")[3]);
	assert.ok(octet >= 100 && octet <= 199, `${address} is in dnsmasq's range`);
	// dnsmasq's own record of the lease names the router's WAN MAC.
	const { wan: mac } = await bench.macs();
	assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
	const leases = fs.readFileSync(path.join(BENCH_STATE, "dnsmasq.leases"), "utf8");
	assert.match(leases, new RegExp(`${mac} ${address.replace(/\./g, "\\.")} natbridge`));
	const status = await bench.console.command("show interfaces");
	assert.match(status, new RegExp(`address ${address.replace(/\./g, "\\.")}/24 gateway 198\\.51\\.100\\.1 dhcp bound`));
	assert.match(status, /dns 198\.51\.100\.1/);
});

function lanIpv4Count(interfaces) {
	const match = /^lan:[^\n]*\n[^\n]*\n {2}rx \d+ frames \d+ bytes \d+ dropped, (\d+) ipv4;/m.exec(interfaces);
	assert.ok(match, interfaces);
	return Number(match[1]);
}

test("the LAN host gets ping answers from the router, through the IPv4 input hook", async () => {
	const before = lanIpv4Count(await bench.console.command("show interfaces"));
	const result = await ping(bench, "lan", ROUTER_LAN, 5);
	assert.ok(result.ok, result.output);
	// Every echo request passed LWIP_HOOK_IP4_INPUT on the LAN port.
	const after = lanIpv4Count(await bench.console.command("show interfaces"));
	assert.ok(after - before >= 5, `hook saw ${after - before} packets`);
});

test("the ISP gets ping answers from the router's WAN address", async () => {
	const address = await bench.wanAddress(30000);
	const result = await ping(bench, "wan", address);
	assert.ok(result.ok, result.output);
});

test("show status names the WAN lease and the LAN address", async () => {
	const out = await bench.console.command("show status");
	assert.match(out, /wan {2}dhcp {3}198\.51\.100\.\d+\/24 gateway 198\.51\.100\.1 dns 198\.51\.100\.1 \(dhcp from 198\.51\.100\.1, lease 3600s\)/);
	assert.match(out, /lan {2}static 192\.168\.4\.1\/24/);
});

test("a burst that overflows a UDP socket's queue is counted in show memory", async () => {
	const before = /^udp: (\d+) datagrams dropped with a socket's queue full$/m.exec(await bench.console.command("show memory"));
	assert.ok(before, "show memory has the udp line");
	// 300 M-SEARCHes back to back to the SSDP socket: its queue holds 8.
	await bench.exec("lan", ["python3", "-c", `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"M-SEARCH * HTTP/1.1" + bytes([13, 10, 13, 10]), ("${ROUTER_LAN}", 1900))
`]);
	const after = /^udp: (\d+) datagrams dropped/m.exec(await bench.console.command("show memory"));
	assert.ok(after && Number(after[1]) > Number(before[1]), `dropped datagrams counted: ${before[1]} -> ${after?.[1]}`);
});

test("show memory reports the XS heap and every lwIP pool", async () => {
	const out = await bench.console.command("show memory");
	const xs = parseMemory(out);
	assert.equal(xs.size, boardCreation().static, "the heap is the manifest's creation.static");
	assert.ok(xs.live > 0 && xs.live <= xs.used, "what is live is within what is held");
	assert.ok(xs.used <= xs.peak && xs.peak <= xs.size, "held within the peak, the peak within the heap");
	assert.ok(xs.preloaded > xs.size, "the preloaded modules (flash) are not charged to the heap");
	assert.ok(xs.keysUsed < xs.keysAvailable, "keys made at run time within the creation's");
	assert.ok(xs.chunks > 0 && xs.chunks <= xs.chunksReserved, "chunks in use within what is reserved");
	assert.ok(xs.slots > 0 && xs.slots <= xs.slotsReserved, "slots in use within what is reserved");
	for (const pool of ["HEAP", "UDP_PCB", "TCP_PCB", "PBUF_POOL", "SYS_TIMEOUT"])
		assert.match(out, new RegExp(`^  ${pool} +\\d+ +\\d+ +\\d+ +\\d+$`, "m"));
	// The DHCP client holds a UDP pcb and lwIP's timers are armed.
	assert.match(out, /^ {2}UDP_PCB +[1-9]/m);
	assert.match(out, /^ {2}SYS_TIMEOUT +[1-9]/m);
});
