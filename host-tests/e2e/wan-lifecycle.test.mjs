// The WAN DHCP client's life with a real ISP (dnsmasq in wan, restarted
// here with a 2-minute lease and other options) and real peers in lan and
// far: the WAN cable pulled and put back, the ISP handing the router a new
// address (everything that names the WAN address follows: NAPT flushes its
// flows, static forwards and UPnP mappings answer on the new address,
// GetExternalIPAddress and a GENA event tell the new one), the lease lost
// to a NAK (nothing passes out meanwhile) and regained, and a renewal.
//
// lwIP 2.1.3's lease timers run on DHCP_COARSE_TIMER_SECS = 60 s ticks
// counted from lwIP's start: T1 of a 2-minute lease (60 s) rounds to one
// tick, so the RENEW goes out at the first tick after the last bind, i.e.
// at 60 s of the simulator's uptime. The tests before it fill that minute;
// the others make lwIP send a DHCPREQUEST at once by bouncing the link
// (INIT-REBOOT, RFC 2131 3.2), which is also what a real cable does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, ping, sleep, LAN_HOST, FAR_HOST } from "../lib/bench.mjs";
import { re, router, upnpc, tcpServer, tcpConnect, genaListener, subscribeRequest, httpOne, deviceDescription, soap, upnpState, pollUntil, WANIP } from "../lib/upnp.mjs";
import { restartIsp, wanLink, dhcpCapture, waitLog } from "../lib/wan-isp.mjs";

// The address the ISP moves the router to: one it does not have. dnsmasq picks
// the first address from a hash of the MAC, and the MAC from the preferences
// path, so on some checkouts the router starts on 198.51.100.150 already.
function addressOtherThan(old) {
	return old === "198.51.100.150" ? "198.51.100.151" : "198.51.100.150";
}
// A UDP sink: prints "<source> <text>" for each datagram.
const UDP_SINK = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, (h, p) = s.recvfrom(2048)
    print(h, data.decode(errors="replace"), flush=True)
`;
const COARSE_TICK_MS = 60000;

let bench;
let started; // Date.now() when the simulator started: lwIP's coarse ticks count from there
let capture; // tcpdump on the WAN link, in wan
let isp; // the dnsmasq running now
let wan; // the router's WAN address now
let mac; // the router's WAN MAC (its own: the simulator makes it from its preferences path)

before(async () => {
	started = Date.now();
	bench = await startBench();
	await bench.wanAddress(30000);
	mac = (await bench.macs()).wan;
	assert.ok(mac, "show interfaces names the WAN MAC");
	capture = await dhcpCapture(bench);
	// A 2-minute lease (dnsmasq's shortest): T1 60 s, T2 105 s.
	isp = await restartIsp(bench, { lease: "2m" });
	const from = bench.console.text.length;
	await router(bench, "set wan dhcp");
	const m = await bench.console.waitFor(/wan: (198\.51\.100\.\d+)\/24 gateway 198\.51\.100\.1 dns 198\.51\.100\.1 \(dhcp from 198\.51\.100\.1, lease 120s\)/, 15000, { from });
	wan = m[1];
});
after(async () => {
	await capture?.stop();
	await bench?.stop();
});

// The console's WAN line from show status.
async function wanStatus() {
	const out = await router(bench, "show status");
	const line = out.split("\n").find((l) => l.startsWith("wan "));
	assert.ok(line, out);
	return line;
}

async function wanInterface() {
	const out = await router(bench, "show interfaces");
	const m = /^wan: \S+ mac (\S+) link (up|down) \S+ mtu \d+\n {2}address (\S+)(?: gateway (\S+))? dhcp (\S+)/m.exec(out);
	assert.ok(m, out);
	return { mac: m[1], link: m[2], address: m[3], gateway: m[4], dhcp: m[5], text: out };
}

function natHead(out) {
	const m = /^nat: (\d+) flows in use/.exec(out);
	assert.ok(m, out);
	return Number(m[1]);
}

// One UDP datagram from lan (from port `sport`) to far: makes a flow.
async function udpOut(sport, port = 7777) {
	const code = `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("${LAN_HOST}", ${sport})); s.sendto(b"x", ("${FAR_HOST}", ${port}))`;
	const r = await bench.exec("lan", ["python3", "-c", code]);
	assert.equal(r.code, 0, r.stderr);
}

// The DHCP packets tcpdump saw since `from` (an offset in its output), one string each.
function dhcpPackets(from = 0) {
	return capture.stdout.slice(from).split(/\n(?=\d\d:\d\d:\d\d\.\d+ IP )/).filter((p) => /BOOTP\/DHCP/.test(p));
}

test("the WAN cable pulled and put back: announced both ways, the lease confirmed (INIT-REBOOT), traffic resumes", async () => {
	assert.ok((await ping(bench, "lan", FAR_HOST)).ok, "lan reaches far before");
	let from = bench.console.text.length;
	const sniffed = capture.stdout.length;
	await wanLink(bench, false);
	await bench.console.waitFor(/\nwan: link down\n/, 3000, { from });
	const down = await wanInterface();
	assert.equal(down.link, "down", down.text);
	const cut = await ping(bench, "lan", FAR_HOST, 2);
	assert.ok(!cut.ok, `lan reached far with the WAN cable out:\n${cut.output}`);

	from = bench.console.text.length;
	await wanLink(bench, true);
	await bench.console.waitFor(/\nwan: link up\n/, 3000, { from });
	// The same address back, confirmed by the ISP: the console settles on the bound lease.
	await bench.console.waitFor(new RegExp(`\\nwan: ${re(wan)}/24 gateway 198\\.51\\.100\\.1 dns 198\\.51\\.100\\.1 \\(dhcp from 198\\.51\\.100\\.1, lease 120s\\)\\n`), 8000, { from });
	const up = await wanInterface();
	assert.deepEqual([up.link, up.address, up.dhcp], ["up", `${wan}/24`, "bound"], up.text);
	// INIT-REBOOT: a broadcast DHCPREQUEST for the address it had, answered with an ACK.
	const packets = dhcpPackets(sniffed);
	assert.ok(packets.some((p) => /> 255\.255\.255\.255\.67:/.test(p) && /DHCP-Message.*Request/.test(p) && new RegExp(`Requested-IP.*${re(wan)}`).test(p)),
		`no INIT-REBOOT request:\n${packets.join("\n")}`);
	assert.ok(packets.some((p) => /DHCP-Message.*ACK/.test(p)), packets.join("\n"));
	const back = await ping(bench, "lan", FAR_HOST);
	assert.ok(back.ok, `lan reaches far after the link came back:\n${back.output}`);
});

test("the ISP hands out a new address: announced, NAPT flushed, forwards and UPnP mappings on the new address, GENA and GetExternalIPAddress tell it", async () => {
	const old = wan;
	const NEW_ADDRESS = addressOtherThan(old);
	const servers = [];
	const listener = await genaListener(bench, LAN_HOST, 4000);
	try {
		// What names the old address: a flow, a static forward, a UPnP mapping, a subscriber.
		servers.push(await tcpServer(bench, "lan", LAN_HOST, 40100));
		servers.push(await tcpServer(bench, "lan", LAN_HOST, 40200));
		const farServer = await tcpServer(bench, "far", FAR_HOST, 8080);
		servers.push(farServer);
		await router(bench, `forward add tcp 40100 ${LAN_HOST} wan-lifecycle`);
		const add = await upnpc(bench, ["-e", "wan-lifecycle", "-a", LAN_HOST, "40200", "40200", "TCP"]);
		assert.equal(add.code, 0, add.text);
		const services = (await deviceDescription(bench)).services;
		const sub = await httpOne(bench, subscribeRequest(services[WANIP].eventSubURL, { callback: `<http://${LAN_HOST}:4000/wanip>` }));
		assert.equal(sub.status, 200, JSON.stringify(sub));
		const sid = sub.headers.sid;
		const initial = await listener.event((e) => e.sid === sid && e.seq === "0");
		assert.equal(initial.props.ExternalIPAddress, old, JSON.stringify(initial));
		await udpOut(5555);
		let flows = await router(bench, "show nat flows");
		assert.match(flows, new RegExp(`^udp ${re(LAN_HOST)}:5555 -> ${re(FAR_HOST)}:7777 via :\\d+ `, "m"), flows);
		const before = natHead(await router(bench, "show nat"));
		assert.ok(before >= 1, `flows before: ${before}`);
		const open = await tcpConnect(bench, "far", old, 40100, { seconds: 3 });
		assert.ok(open.ok, `the forward on the old address: ${open.text}`);

		// The ISP now has a fixed address for the router and has forgotten its lease;
		// the cable goes out and back: INIT-REBOOT asks for the old address, NAK, DISCOVER.
		isp = await restartIsp(bench, { lease: "2m", extra: [`--dhcp-host=${mac},${NEW_ADDRESS}`] });
		const from = bench.console.text.length;
		await wanLink(bench, false);
		await sleep(800);
		await wanLink(bench, true);
		await waitLog(isp, new RegExp(`DHCPNAK\\(rtr-wan\\) ${re(old)} ${mac}`), 8000);
		await waitLog(isp, new RegExp(`DHCPACK\\(rtr-wan\\) ${re(NEW_ADDRESS)} ${mac}`), 10000);
		await bench.console.waitFor(new RegExp(`\\nwan: ${re(NEW_ADDRESS)}/24 gateway 198\\.51\\.100\\.1 dns 198\\.51\\.100\\.1 \\(dhcp from 198\\.51\\.100\\.1, lease 120s\\)\\n`), 10000, { from });
		wan = NEW_ADDRESS;

		// UPnP: the event and the action both tell the new address.
		const event = await listener.event((e) => e.sid === sid && e.props.ExternalIPAddress === NEW_ADDRESS, 5000);
		assert.equal(event.error, null, JSON.stringify(event));
		const r = await soap(bench, "GetExternalIPAddress");
		assert.equal(r.out.NewExternalIPAddress, NEW_ADDRESS, r.answer.body);
		assert.equal((await upnpState(bench)).external, NEW_ADDRESS);

		// Outbound: far sees the new address; the flow made on the old one is gone.
		const out = await tcpConnect(bench, "lan", FAR_HOST, 8080, { seconds: 3 });
		assert.ok(out.ok, out.text);
		await farServer.waitFor(new RegExp(`^peer ${re(NEW_ADDRESS)}:\\d+$`, "m"), 3000);
		assert.doesNotMatch(farServer.stdout, new RegExp(`^peer (?!${re(NEW_ADDRESS)}:)`, "m"), "every connection came from the new address");
		flows = await router(bench, "show nat flows");
		assert.doesNotMatch(flows, new RegExp(`^udp ${re(LAN_HOST)}:5555 `, "m"), `the old flow outlived the address:\n${flows}`);
		const after = await router(bench, "show nat");
		assert.ok(natHead(after) < before + 1, `flows after the change (before ${before}):\n${after}`);

		// Inbound: the static forward and the UPnP mapping answer on the new address, not the old.
		for (const port of [40100, 40200]) {
			const inbound = await tcpConnect(bench, "far", NEW_ADDRESS, port, { seconds: 3 });
			assert.ok(inbound.ok, `far -> ${NEW_ADDRESS}:${port}: ${inbound.text}`);
			assert.match(inbound.text, new RegExp(`^hello from ${re(LAN_HOST)}:${port} to ${re(FAR_HOST)}:`, "m"));
		}
		const stale = await tcpConnect(bench, "far", old, 40100, { seconds: 2 });
		assert.ok(!stale.ok, `the old address still forwards: ${stale.text}`);
		await httpOne(bench, subscribeRequest(services[WANIP].eventSubURL, { method: "UNSUBSCRIBE", sid, nt: null, timeout: null }));
	}
	finally {
		await router(bench, "forward del tcp 40100");
		await upnpc(bench, ["-d", "40200", "TCP"]);
		for (const s of servers)
			await s.stop();
		await listener.stop();
	}
});

test("the lease lost to a NAK: no address, nothing passes out, and the address back when the ISP serves again", async () => {
	// An ISP that knows nobody: it NAKs the router's request and offers nothing.
	isp = await restartIsp(bench, { range: "198.51.100.0,static" });
	let from = bench.console.text.length;
	await wanLink(bench, false);
	await sleep(800);
	await wanLink(bench, true);
	await waitLog(isp, new RegExp(`DHCPNAK\\(rtr-wan\\) ${re(wan)} ${mac}`), 8000);
	await bench.console.waitFor(/\nwan: no address \(dhcp (selecting|backing-off)\)\n/, 5000, { from });
	const none = await wanInterface();
	assert.equal(none.address, "none", none.text);
	assert.equal((await soap(bench, "GetExternalIPAddress")).out.NewExternalIPAddress, "");

	// Meanwhile nothing from the LAN leaves the WAN port: dropped for want of an
	// address and counted, no flow made; far hears nothing.
	const noPort = async () => Number(/ no-port (\d+) /.exec(await router(bench, "show nat"))[1]);
	const dropsBefore = await noPort();
	const farListener = await bench.serve("far", ["python3", "-u", "-c", UDP_SINK, FAR_HOST, "7778"], { proto: "udp", address: FAR_HOST, port: 7778 });
	try {
		const lost = await ping(bench, "lan", FAR_HOST, 2);
		assert.ok(!lost.ok, lost.output);
		await udpOut(5556, 7778);
		await sleep(500);
		assert.ok(await noPort() >= dropsBefore + 3, "show nat counts the pings and the datagram as dropped (no-port)");
		assert.doesNotMatch(await router(bench, "show nat flows"), /^udp 192\.168\.4\.2:5556 /m, "no flow without an address");
		assert.equal(farListener.stdout, "", "far heard nothing");
	}
	finally {
		await farListener.stop();
	}

	// The ISP serves again: the next DISCOVER gets an address.
	isp = await restartIsp(bench, { lease: "2m" });
	from = bench.console.text.length;
	const m = await bench.console.waitFor(/\nwan: (198\.51\.100\.\d+)\/24 gateway 198\.51\.100\.1 dns 198\.51\.100\.1 \(dhcp from 198\.51\.100\.1, lease 120s\)\n/, 40000, { from });
	wan = m[1];
	const back = await ping(bench, "lan", FAR_HOST);
	assert.ok(back.ok, back.output);
});

test("the lease is renewed at T1: a unicast DHCPREQUEST to the server, ACKed, the address kept, nothing announced", async () => {
	// The first coarse tick after now (60 s multiples of the simulator's uptime), and a margin.
	const elapsed = Date.now() - started;
	const nextTick = (Math.floor(elapsed / COARSE_TICK_MS) + 1) * COARSE_TICK_MS;
	const wait = nextTick - elapsed + 8000;
	const before = await wanStatus();
	const sniffed = capture.stdout.length;
	const log = isp.log().length;
	const mark = bench.console.text.length;
	// RENEWING: from the leased address straight to the server that granted it (RFC 2131 4.4.5).
	await pollUntil(async () => dhcpPackets(sniffed), (ps) => ps.some((p) => /DHCP-Message.*ACK/.test(p)), { ms: wait, every: 500 });
	const packets = dhcpPackets(sniffed);
	const request = packets.find((p) => /DHCP-Message.*Request/.test(p));
	assert.ok(request, `no DHCPREQUEST within ${wait} ms:\n${packets.join("\n")}`);
	assert.match(request, new RegExp(`\\s${re(wan)}\\.68 > 198\\.51\\.100\\.1\\.67:`), request);
	assert.match(request, new RegExp(`Client-IP ${re(wan)}`), request);
	assert.ok(packets.some((p) => /DHCP-Message.*ACK/.test(p)), packets.join("\n"));
	assert.match(isp.log().slice(log), new RegExp(`DHCPREQUEST\\(rtr-wan\\) ${re(wan)} ${mac}[\\s\\S]*DHCPACK\\(rtr-wan\\) ${re(wan)} ${mac}`));
	// Nothing changed, so nothing is announced (lwIP 2.1.3 leaves no trace of a
	// renewal but the packets: same transaction id, timers as they were).
	await sleep(1500);
	assert.equal(await wanStatus(), before);
	assert.doesNotMatch(bench.console.text.slice(mark), /\nwan: /, "a renewal is not news");
	const iface = await wanInterface();
	assert.deepEqual([iface.address, iface.dhcp], [`${wan}/24`, "bound"], iface.text);
	assert.ok((await ping(bench, "lan", FAR_HOST)).ok);
});
