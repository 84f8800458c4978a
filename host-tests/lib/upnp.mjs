// What the UPnP end-to-end tests and the UPnP benchmark share: the router's
// own view of UPnP from the console (show upnp, show forwards, show memory)
// parsed, raw HTTP and SOAP from a namespace through upnp-http.py, upnpc and
// the python3-miniupnpc driver in lan, and TCP servers and clients to prove
// that a mapping carries traffic. Every wait here is bounded.
import assert from "node:assert/strict";
import { memory } from "./memory.mjs";
import path from "node:path";
import { TOP, ROUTER_LAN, sleep, accepted as router } from "./bench.mjs";

// Debian's python3: it has the miniupnpc module (a pyenv python3 on PATH may not).
export const PY = "/usr/bin/python3";
const LIB = path.join(TOP, "host-tests/lib");
export const HTTP_TOOL = path.join(LIB, "upnp-http.py");
export const GENA_LISTENER = path.join(LIB, "gena-listener.py");
export const CLIENT_TOOL = path.join(LIB, "upnp-client.py");
export const SSDP_PROBE = path.join(LIB, "ssdp-probe.py");
export const DESCRIBE_TOOL = path.join(LIB, "upnp-describe.py");

export const UPNP_PORT = 5000;
export const DESC_URL = `http://${ROUTER_LAN}:${UPNP_PORT}/rootDesc.xml`;
const SCHEMA = "urn:schemas-upnp-org";
export const WANIP = `${SCHEMA}:service:WANIPConnection:1`;
export const WANCFG = `${SCHEMA}:service:WANCommonInterfaceConfig:1`;
export const L3F = `${SCHEMA}:service:Layer3Forwarding:1`;

export const re = (s) => String(s).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// A console command that must be accepted.
export { router };

// show upnp, parsed; throws on a line of a shape it does not know.
export function parseShowUpnp(text) {
	const lines = text.split("\n");
	const state = { text, mappings: [], subscribers: [] };
	let i = 0;
	const next = (regex, what) => {
		const match = regex.exec(lines[i] ?? "");
		assert.ok(match, `show upnp, line ${i + 1} (${what}): ${JSON.stringify(lines[i])}\n${text}`);
		i++;
		return match;
	};
	const head = next(/^upnp: (?:(off)|on, secure mode (on|off), (\S+)|(on but not running.*))$/, "state");
	state.on = !head[1] && !head[4];
	state.secure = head[2] === "on";
	state.url = head[3];
	const ext = next(/^external address (\S+)( \(not publicly routable\))?$/, "external address");
	state.external = ext[1] === "none" ? "" : ext[1];
	state.notRoutable = !!ext[2];
	const m = next(/^mappings: (\d+) of (\d+)$/, "mappings");
	state.mappingLimit = Number(m[2]);
	while (i < lines.length && lines[i].startsWith("  ")) {
		const e = next(/^ {2}(tcp|udp) (\d+) -> (\S+):(\d+) (?:lease (\d+)s|(permanent)) from (\S+) "(.*)"(?: remote (\S+))?$/, "mapping");
		state.mappings.push({
			proto: e[1], externalPort: Number(e[2]), address: e[3], port: Number(e[4]),
			lease: e[6] ? 0 : Number(e[5]), owner: e[7], description: e[8], remote: e[9] ?? "",
		});
	}
	assert.equal(state.mappings.length, Number(m[1]), `mappings: ${m[1]} lines follow\n${text}`);
	const s = next(/^subscribers: (\d+) of (\d+)$/, "subscribers");
	state.subscriberLimit = Number(s[2]);
	while (i < lines.length && lines[i].startsWith("  ")) {
		const e = next(/^ {2}(\w+) (uuid:\S+) -> (\S+) expires in (\d+)s seq (\d+)$/, "subscriber");
		state.subscribers.push({ service: e[1], sid: e[2], callback: e[3], expiresIn: Number(e[4]), seq: Number(e[5]) });
	}
	assert.equal(state.subscribers.length, Number(s[1]), `subscribers: ${s[1]} lines follow\n${text}`);
	const k = next(/^connections: (\d+) of (\d+) open, (\d+) waiting$/, "connections");
	state.connections = { open: Number(k[1]), limit: Number(k[2]), waiting: Number(k[3]) };
	const c = next(new RegExp("^counters: searches (\\d+) answered (\\d+), notifies (\\d+), ignored (\\d+); "
		+ "requests (\\d+), bad (\\d+), connection limit (\\d+), slow cut (\\d+), request limit (\\d+); "
		+ "actions (\\d+), faults (\\d+), refused (\\d+), mapping limit (\\d+); "
		+ "events sent (\\d+) failed (\\d+), subscriber limit (\\d+)$"), "counters");
	const names = ["searches", "answered", "notifies", "ignored", "requests", "bad", "connectionLimit", "slowCut", "requestLimit",
		"actions", "faults", "refused", "mappingLimit", "eventsSent", "eventsFailed", "subscriberLimit"];
	state.counters = Object.fromEntries(names.map((name, k) => [name, Number(c[k + 1])]));
	assert.equal(i, lines.length, `nothing after the counters:\n${text}`);
	return state;
}

export async function upnpState(bench) {
	return parseShowUpnp(await router(bench, "show upnp"));
}

// The UPnP mapping on (proto, external port) in show upnp, or undefined.
export function mappingOn(state, proto, externalPort) {
	return state.mappings.find((m) => m.proto === proto.toLowerCase() && m.externalPort === Number(externalPort));
}

// show forwards lines of origin upnp: `tcp 40000 -> 192.168.4.2:40000 upnp [lease Ns] [from A] "desc"`.
export async function upnpForwards(bench) {
	const out = await router(bench, "show forwards");
	return out.split("\n").filter((line) => / upnp( |$)/.test(line));
}

// The XS heap after the garbage collection show memory runs: what is live
// (inUse) and what the engine holds of the board's heap (held, peak).
export async function heapInUse(bench) {
	const m = await memory(bench);
	return { inUse: m.live, held: m.used, peak: m.peak, size: m.size, text: m.text };
}

// The lowest of a few heapInUse readings: one taken while a timer's work is live reads high.
export async function heapLowest(bench, readings = 3) {
	let best;
	for (let i = 0; i < readings; i++) {
		const h = await heapInUse(bench);
		if (!best || h.inUse < best.inUse)
			best = h;
		await sleep(100);
	}
	return best;
}

// Poll `probe` until `done(value)`; give back the last value either way.
export async function pollUntil(probe, done, { ms = 5000, every = 200 } = {}) {
	const deadline = Date.now() + ms;
	for (;;) {
		const value = await probe();
		if (done(value) || Date.now() > deadline)
			return value;
		await sleep(every);
	}
}

// --- raw HTTP -------------------------------------------------------------

// Send each request (text, or { raw, split, pause }) on its own connection
// from namespace `ns` (from address `source` if given); the answers, parsed
// ({ status, headers, body, closed, error }).
export async function httpSend(bench, requests, { ns = "lan", host = ROUTER_LAN, port = UPNP_PORT, timeout = 5, source } = {}) {
	const list = requests.map((r) => (typeof r === "string" ? { raw: r } : r));
	const result = await bench.exec(ns, [PY, HTTP_TOOL, "send", host, String(port), String(timeout), ...(source ? [source] : [])], {
		input: JSON.stringify(list), timeout: (timeout + 2) * list.length * 1000 + 5000,
	});
	const lines = result.stdout.split("\n").filter(Boolean);
	assert.equal(lines.length, list.length, `upnp-http.py send (${result.code}): ${result.stdout}\n${result.stderr}`);
	return lines.map((line) => JSON.parse(line));
}

// Every request ({ raw, source }) on its own connection from `ns`, all in
// flight at once: every connection opened, then every request sent, then
// every answer read. { answers (as httpSend's), connected, sent,
// answeredEarly: answers or closes that came before the last request was sent }.
export async function httpParallel(bench, requests, { ns = "lan", host = ROUTER_LAN, port = UPNP_PORT, timeout = 10 } = {}) {
	const result = await bench.exec(ns, [PY, HTTP_TOOL, "parallel", host, String(port), String(timeout)], {
		input: JSON.stringify(requests), timeout: (timeout + 10) * 1000,
	});
	const lines = result.stdout.split("\n").filter(Boolean);
	assert.equal(lines.length, requests.length + 1, `upnp-http.py parallel (${result.code}): ${result.stdout}\n${result.stderr}`);
	const summary = JSON.parse(lines.pop());
	return { answers: lines.map((line) => JSON.parse(line)), connected: summary.connected, sent: summary.sent, answeredEarly: summary.answered_early };
}

// `clients` real HTTP clients (Python's http.client) in `ns`, released at
// once, each sending `request` `each` times on a new connection: a list of
// { status, ms (connect to the whole answer), error }.
export async function httpClients(bench, request, clients, each, { ns = "lan", host = ROUTER_LAN, port = UPNP_PORT, timeout = 10 } = {}) {
	const result = await bench.exec(ns, [PY, HTTP_TOOL, "clients", host, String(port), String(clients), String(each), String(timeout)], {
		input: JSON.stringify({ raw: request }), timeout: (each * (timeout + 1) + 20) * 1000,
	});
	assert.equal(result.code, 0, `upnp-http.py clients: ${result.stdout}\n${result.stderr}`);
	return JSON.parse(result.stdout).results.map(([status, ms, error]) => ({ status, ms, error }));
}

export async function httpOne(bench, request, options) {
	return (await httpSend(bench, [request], options))[0];
}

export function httpGet(pathname, { host = `${ROUTER_LAN}:${UPNP_PORT}`, method = "GET", headers = [] } = {}) {
	return [`${method} ${pathname} HTTP/1.1`, `Host: ${host}`, ...headers, "Connection: close", "", ""].join("\r\n");
}

const xmlEscape = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function soapBody(action, serviceType, args = []) {
	const inner = args.map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`).join("");
	return '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
		+ 's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
		+ `<u:${action} xmlns:u="${serviceType}">${inner}</u:${action}></s:Body></s:Envelope>\r\n`;
}

// A SOAP control request as text. Options replace parts to make it wrong:
// soapAction (null: no header), body, contentLength, host, extraHeaders.
export function soapRequest(action, args = [], options = {}) {
	const { service = WANIP, path: controlPath = "/ctl/IPConn", host = `${ROUTER_LAN}:${UPNP_PORT}`, extraHeaders = [] } = options;
	const body = options.body ?? soapBody(action, service, args);
	const soapAction = options.soapAction === undefined ? `"${service}#${action}"` : options.soapAction;
	const length = options.contentLength === undefined ? String(Buffer.byteLength(body)) : options.contentLength;
	const headers = [
		`POST ${controlPath} HTTP/1.1`,
		...(host === null ? [] : [`Host: ${host}`]),
		'Content-Type: text/xml; charset="utf-8"',
		...(soapAction === null ? [] : [`SOAPAction: ${soapAction}`]),
		...(length === null ? [] : [`Content-Length: ${length}`]),
		...extraHeaders,
		"Connection: close",
	];
	return `${headers.join("\r\n")}\r\n\r\n${body}`;
}

// An HTTP answer to a SOAP request: out arguments or the UPnP fault.
export function soapResult(answer) {
	const out = {};
	let fault = null;
	const body = answer.body ?? "";
	const code = /<(?:\w+:)?errorCode>\s*(\d+)\s*<\/(?:\w+:)?errorCode>/.exec(body);
	if (code) {
		const description = /<(?:\w+:)?errorDescription>([^<]*)<\/(?:\w+:)?errorDescription>/.exec(body);
		fault = { code: Number(code[1]), description: description ? description[1] : "" };
	}
	const response = /<(?:\w+:)?(\w+)Response\b[^>]*>([\s\S]*?)<\/(?:\w+:)?\1Response>/.exec(body);
	if (response)
		for (const m of response[2].matchAll(/<(\w+)>([^<]*)<\/\1>|<(\w+)\s*\/>/g))
			out[m[1] ?? m[3]] = m[1] ? unescapeXml(m[2]) : "";
	return { status: answer.status, fault, out, answer };
}

export function unescapeXml(s) {
	return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&apos;/g, "'")
		.replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n))).replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
		.replace(/&amp;/g, "&");
}

// One SOAP action from lan; { status, fault, out, answer }.
export async function soap(bench, action, args = [], options = {}) {
	return soapResult(await httpOne(bench, soapRequest(action, args, options), { ns: options.ns ?? "lan", source: options.source, timeout: options.timeout }));
}

// The arguments of AddPortMapping (and AddAnyPortMapping) in order.
export function mappingArgs({ remote = "", external, proto = "TCP", internal, client, enabled = "1", description = "test", lease = "0" }) {
	return [
		["NewRemoteHost", remote], ["NewExternalPort", String(external)], ["NewProtocol", proto],
		["NewInternalPort", String(internal ?? external)], ["NewInternalClient", client],
		["NewEnabled", enabled], ["NewPortMappingDescription", description], ["NewLeaseDuration", String(lease)],
	];
}

// A second host on the LAN: another address on lan's port, for requests
// "from another host" (httpSend's source).
export const OTHER_HOST = "192.168.4.3";
export async function addOtherHost(bench) {
	const r = await bench.exec("lan", ["ip", "addr", "add", `${OTHER_HOST}/24`, "dev", "rtr-lan"]);
	assert.equal(r.code, 0, r.stderr);
}

// A normal GetExternalIPAddress: the proof the router still serves.
export async function assertServes(bench, wan, why = "") {
	const r = await soap(bench, "GetExternalIPAddress");
	assert.equal(r.status, 200, `GetExternalIPAddress after ${why}: ${JSON.stringify(r.answer)}`);
	assert.equal(r.out.NewExternalIPAddress, wan, `GetExternalIPAddress after ${why}: ${r.answer.body}`);
}

// The device description's services: { [serviceType]: { controlURL, eventSubURL, SCPDURL } }.
export async function deviceDescription(bench) {
	const answer = await httpOne(bench, httpGet("/rootDesc.xml"));
	assert.equal(answer.status, 200, `GET /rootDesc.xml: ${JSON.stringify(answer)}`);
	const services = {};
	for (const m of answer.body.matchAll(/<service>([\s\S]*?)<\/service>/g)) {
		const field = (name) => (new RegExp(`<${name}>([^<]*)</${name}>`).exec(m[1]) ?? [])[1];
		services[field("serviceType")] = { controlURL: field("controlURL"), eventSubURL: field("eventSubURL"), SCPDURL: field("SCPDURL") };
	}
	return { services, text: answer.body };
}

// --- SSDP -----------------------------------------------------------------

export const SSDP_GROUP = "239.255.255.250";

// M-SEARCH from `ns` (from address `from`) to `target`:1900, one per ST,
// each followed by `wait` s of listening: { answers: [{ st, from, status, headers }], errors }.
export async function ssdpSearch(bench, ns, target, from, sts, { wait = 2, mx = "1" } = {}) {
	const result = await bench.exec(ns, [PY, SSDP_PROBE, target, from, String(wait), String(mx), ...sts], { timeout: (wait + 2) * sts.length * 1000 + 5000 });
	assert.equal(result.code, 0, `ssdp-probe.py: ${result.stdout}\n${result.stderr}`);
	return JSON.parse(result.stdout);
}

// --- GENA -----------------------------------------------------------------

export function subscribeRequest(eventPath, { callback, nt = "upnp:event", timeout = "Second-300", sid, host = `${ROUTER_LAN}:${UPNP_PORT}`, method = "SUBSCRIBE" } = {}) {
	return [
		`${method} ${eventPath} HTTP/1.1`, `Host: ${host}`,
		...(callback ? [`CALLBACK: ${callback}`] : []),
		...(nt ? [`NT: ${nt}`] : []),
		...(sid ? [`SID: ${sid}`] : []),
		...(timeout ? [`TIMEOUT: ${timeout}`] : []),
		"Content-Length: 0", "Connection: close", "", "",
	].join("\r\n");
}

// The GENA listener in lan: its events, parsed, and waits on them.
export async function genaListener(bench, host, port) {
	const listener = bench.track("lan", [PY, "-u", GENA_LISTENER, host, String(port)]);
	await listener.waitFor(/^"ready"$/m, 5000);
	listener.events = () => listener.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
	// The first event (after `skip` of them) that `match` accepts.
	listener.event = async (match, ms = 5000) => {
		const deadline = Date.now() + ms;
		for (;;) {
			const found = listener.events().find(match);
			if (found)
				return found;
			if (Date.now() > deadline || listener.child.exitCode !== null)
				assert.fail(`no matching event within ${ms} ms; events so far:\n${listener.events().map((e) => JSON.stringify(e)).join("\n")}\n${listener.stderr}`);
			await sleep(50);
		}
	};
	return listener;
}

// --- real clients -----------------------------------------------------------

// upnpc in lan (or `ns`); `discover` false skips SSDP (-u with the description URL).
export async function upnpc(bench, args, { discover = false, timeout = 20000, ns = "lan" } = {}) {
	const argv = ["upnpc", ...(discover ? [] : ["-u", DESC_URL]), ...args];
	const result = await bench.exec(ns, argv, { timeout });
	result.text = `${argv.join(" ")} (exit ${result.code}):\n${result.stdout}${result.stderr}`;
	return result;
}

// python3-miniupnpc in lan, one call at a time: await client.call("addportmapping", ...args).
export async function miniupnpcClient(bench) {
	const driver = bench.track("lan", [PY, "-u", CLIENT_TOOL]);
	await driver.waitFor(/^"ready"$/m, 5000);
	let id = 0;
	driver.call = async (call, ...args) => {
		id++;
		driver.write(`${JSON.stringify({ id, call, args })}\n`);
		const match = await driver.waitFor(new RegExp(`^(\\{"id": ${id}, .*)$`, "m"), 15000);
		return JSON.parse(match[1]);
	};
	return driver;
}

export { tcpServer, tcpConnect } from "./tcp-peers.mjs";
