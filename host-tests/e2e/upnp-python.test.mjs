// UPnP with Debian's python3-miniupnpc in lan, one UPnP object for the
// whole file (discover and selectigd once), as an application would use it:
// learn the external address, map a port to its own server, which far then
// reaches through the WAN address, read the mapping back, walk the table
// until it ends, delete the mapping and see the port closed again. Each step
// is checked against the router's own table.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, ROUTER_LAN, LAN_HOST, FAR_HOST } from "../lib/bench.mjs";
import {
	PY, DESCRIBE_TOOL, DESC_URL, UPNP_PORT, WANIP, WANCFG, L3F, re, upnpState, mappingOn, upnpForwards, miniupnpcClient,
	tcpServer, tcpConnect, soap,
} from "../lib/upnp.mjs";

let bench;
let wan;
let client;
let server;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	client = await miniupnpcClient(bench);
	server = await tcpServer(bench, "lan", LAN_HOST, 41001);
});
after(async () => {
	await client?.stop();
	await server?.stop();
	await bench?.stop();
});

async function call(name, ...args) {
	const r = await client.call(name, ...args);
	assert.ok(r.ok, `${name}(${args.map((a) => JSON.stringify(a)).join(", ")}): ${r.error}`);
	return r.result;
}

test("discover and selectigd find the router's WANIPConnection", async () => {
	const found = await call("discover");
	assert.ok(found >= 1, `discover() found ${found} devices`);
	const control = await call("selectigd");
	assert.match(control, new RegExp(`^http://${re(ROUTER_LAN)}:${UPNP_PORT}/`), control);
	assert.equal(await call("lanaddr"), LAN_HOST);
	const [status, uptime, error] = await call("statusinfo");
	assert.deepEqual([status, error], ["Connected", "ERROR_NONE"]);
	assert.ok(Number.isInteger(uptime) && uptime >= 0, `uptime ${uptime}`);
	assert.equal(await call("connectiontype"), "IP_Routed");
});

test("the descriptions, as a control point reads them: the IGDv1 tree and every action in its SCPD", async () => {
	const r = await bench.exec("lan", [PY, DESCRIBE_TOOL, DESC_URL], { timeout: 20000 });
	assert.equal(r.code, 0, `upnp-describe.py: ${r.stdout}\n${r.stderr}`);
	const { root, scpd, problems } = JSON.parse(r.stdout);
	assert.deepEqual(problems, []);
	const SCHEMA = "urn:schemas-upnp-org";
	assert.equal(root.deviceType, `${SCHEMA}:device:InternetGatewayDevice:1`);
	assert.equal(root.manufacturer, "natbridge");
	assert.equal(root.presentationURL, `http://${ROUTER_LAN}:${UPNP_PORT}/`);
	assert.deepEqual(root.services.map((s) => s.serviceType), [L3F]);
	assert.equal(root.devices.length, 1);
	const wanDevice = root.devices[0];
	assert.equal(wanDevice.deviceType, `${SCHEMA}:device:WANDevice:1`);
	assert.deepEqual(wanDevice.services.map((s) => s.serviceType), [WANCFG]);
	assert.equal(wanDevice.devices.length, 1);
	const conn = wanDevice.devices[0];
	assert.equal(conn.deviceType, `${SCHEMA}:device:WANConnectionDevice:1`);
	assert.deepEqual(conn.services.map((s) => s.serviceType), [WANIP]);
	assert.deepEqual(conn.devices, []);
	const udns = [root.udn, wanDevice.udn, conn.udn];
	assert.equal(new Set(udns).size, 3, `three devices, three UDNs: ${udns}`);
	for (const udn of udns)
		assert.match(udn, /^uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

	const names = (type) => Object.keys(scpd[type].actions).sort();
	assert.deepEqual(names(WANIP), ["AddAnyPortMapping", "AddPortMapping", "DeletePortMapping", "DeletePortMappingRange", "GetConnectionTypeInfo",
		"GetExternalIPAddress", "GetGenericPortMappingEntry", "GetListOfPortMappings", "GetNATRSIPStatus", "GetSpecificPortMappingEntry", "GetStatusInfo"]);
	assert.deepEqual(names(WANCFG), ["GetCommonLinkProperties", "GetTotalBytesReceived", "GetTotalBytesSent", "GetTotalPacketsReceived", "GetTotalPacketsSent"]);
	assert.deepEqual(names(L3F), ["GetDefaultConnectionService"]);
	assert.deepEqual(scpd[WANIP].actions.AddPortMapping.in.map(([name]) => name), ["NewRemoteHost", "NewExternalPort", "NewProtocol",
		"NewInternalPort", "NewInternalClient", "NewEnabled", "NewPortMappingDescription", "NewLeaseDuration"]);
	assert.deepEqual(scpd[WANIP].actions.GetExternalIPAddress, { in: [], out: [["NewExternalIPAddress", "ExternalIPAddress"]] });
	const v = scpd[WANIP].variables;
	for (const name of ["PortMappingNumberOfEntries", "ExternalIPAddress", "ConnectionStatus"])
		assert.equal(v[name].sendEvents, "yes", name);
	assert.equal(v.ExternalPort.sendEvents, "no");
	assert.deepEqual(v.PortMappingProtocol.allowed, ["TCP", "UDP"]);
	assert.equal(v.PortMappingLeaseDuration.dataType, "ui4");
	assert.equal(scpd[WANCFG].variables.PhysicalLinkStatus.sendEvents, "yes");
});

test("externalipaddress is the router's WAN address", async () => {
	assert.equal(await call("externalipaddress"), wan);
	assert.equal((await upnpState(bench)).external, wan);
});

test("WAN totals: bytes and packets both ways", async () => {
	for (const name of ["totalbytesent", "totalbytereceived", "totalpacketsent", "totalpacketreceived"]) {
		const n = await call(name);
		assert.ok(Number.isInteger(n) && n > 0, `${name}() = ${n}`);
	}
});

test("addportmapping to a server in lan, which far reaches through the external port", async () => {
	assert.equal(await call("addportmapping", 41000, "TCP", LAN_HOST, 41001, "python test", ""), true);
	assert.equal(await call("addportmapping", 41002, "UDP", LAN_HOST, 41002, "python udp", "", 600), true);
	const state = await upnpState(bench);
	assert.deepEqual(mappingOn(state, "tcp", 41000),
		{ proto: "tcp", externalPort: 41000, address: LAN_HOST, port: 41001, lease: 0, owner: LAN_HOST, description: "python test", remote: "" }, state.text);
	const udp = mappingOn(state, "udp", 41002);
	assert.ok(udp && udp.lease > 590 && udp.lease <= 600, state.text);
	const result = await tcpConnect(bench, "far", wan, 41000);
	assert.ok(result.ok, `${result.text}\n${server.output()}`);
	assert.match(result.text, new RegExp(`^hello from ${re(LAN_HOST)}:41001 to ${re(FAR_HOST)}:\\d+$`, "m"));
});

test("getspecificportmapping reads the mapping back; none for a port not mapped", async () => {
	assert.deepEqual(await call("getspecificportmapping", 41000, "TCP"), [LAN_HOST, 41001, "python test", true, 0]);
	const udp = await call("getspecificportmapping", 41002, "UDP");
	assert.deepEqual(udp.slice(0, 4), [LAN_HOST, 41002, "python udp", true]);
	assert.ok(udp[4] > 590 && udp[4] <= 600, `lease left: ${udp}`);
	assert.equal(await call("getspecificportmapping", 41003, "TCP"), null);
	assert.equal(await call("getspecificportmapping", 41000, "UDP"), null, "another protocol is another mapping");
});

test("getgenericportmapping walks the table in order until it ends (713)", async () => {
	const entries = [];
	for (let i = 0; i < 70; i++) {
		const entry = await call("getgenericportmapping", i);
		if (entry === null)
			break;
		entries.push(entry);
	}
	const state = await upnpState(bench);
	assert.equal(entries.length, state.mappings.length, `${JSON.stringify(entries)}\n${state.text}`);
	entries.forEach(([externalPort, proto, [address, port], description, enabled, remote], i) => {
		const m = state.mappings[i];
		assert.deepEqual([externalPort, proto.toLowerCase(), address, port, description, enabled, remote],
			[m.externalPort, m.proto, m.address, m.port, m.description, "1", m.remote], `entry ${i}`);
	});
	// The module says only None; the router's answer past the end is fault 713.
	const past = await soap(bench, "GetGenericPortMappingEntry", [["NewPortMappingIndex", String(entries.length)]]);
	assert.equal(past.status, 500, JSON.stringify(past.answer));
	assert.equal(past.fault?.code, 713, past.answer.body);
});

test("deleteportmapping: gone from the table, and the port is closed again", async () => {
	assert.equal(await call("deleteportmapping", 41000, "TCP"), true);
	assert.equal(await call("getspecificportmapping", 41000, "TCP"), null);
	const state = await upnpState(bench);
	assert.equal(mappingOn(state, "tcp", 41000), undefined, state.text);
	assert.ok(!(await upnpForwards(bench)).some((l) => l.startsWith("tcp 41000 ")));
	const peers = server.stdout;
	const gone = await tcpConnect(bench, "far", wan, 41000, { seconds: 3 });
	assert.ok(!gone.ok, `far connected after deleteportmapping: ${gone.text}`);
	assert.equal(server.stdout, peers, "no connection reached the LAN server");

	const again = await client.call("deleteportmapping", 41000, "TCP");
	assert.ok(!again.ok && /NoSuchEntryInArray/.test(again.error), `deleting it again: ${JSON.stringify(again)}`);
	assert.equal(await call("deleteportmapping", 41002, "UDP"), true);
	assert.equal((await upnpState(bench)).mappings.length, 0);
});

test("addanyportmapping and deleteportmappingrange", async () => {
	const port = await call("addanyportmapping", 41010, "TCP", LAN_HOST, 41010, "python any", "");
	assert.equal(port, 41010, "a free port is given as asked");
	assert.equal(mappingOn(await upnpState(bench), "tcp", 41010)?.description, "python any");
	assert.equal(await call("deleteportmappingrange", 41000, 41020, "TCP", 0), true);
	assert.equal((await upnpState(bench)).mappings.length, 0);
});
