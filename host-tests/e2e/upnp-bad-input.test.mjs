// Bad HTTP, XML and SOAP to the router's UPnP server from lan, byte for
// byte (upnp-http.py): each gets the right status or UPnP fault, the
// connection is closed, no mapping is half made, and the next client is
// served (a normal GetExternalIPAddress right after each). Then the caps:
// request size and header lines (configurable), the header deadline for an
// idle half-sent request and for one trickled a byte a second, 16 clients
// at once (over the cap of 8, and 4 a host: the rest wait their turn), and
// a connection flood past what one host may have waiting.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, ROUTER_LAN, LAN_HOST } from "../lib/bench.mjs";
import {
	PY, HTTP_TOOL, UPNP_PORT, WANIP, router, upnpState, upnpForwards, httpSend, httpOne, httpGet, httpClients, soapRequest, soapBody,
	soapResult, mappingArgs, assertServes, pollUntil,
} from "../lib/upnp.mjs";

let bench;
let wan;
let slow; // a request that never ends, started first
let slowStarted;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
	slowStarted = Date.now();
	slow = bench.track("lan", [PY, "-u", "-c", SLOW_CLIENT, ROUTER_LAN, String(UPNP_PORT)]);
	await slow.waitFor(/^sent$/m, 5000);
});
after(async () => {
	await slow?.stop();
	await bench?.stop();
});

// Sends half a request and waits (20 s at most) for the server to close.
const SLOW_CLIENT = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET /rootDesc.xml HTTP/1.1\\r\\nHost: 192.168.4.1:5000\\r\\n")
print("sent", flush=True)
start = time.monotonic()
s.settimeout(20)
try:
    data = s.recv(4096)
    print("closed" if not data else f"answered {data[:40]!r}", f"after {time.monotonic() - start:.1f}", flush=True)
except socket.timeout:
    print("still open after 20 s", flush=True)
except OSError as e:
    print("reset", f"after {time.monotonic() - start:.1f}", e, flush=True)
`;

const GOOD = soapRequest("GetExternalIPAddress");
const endOfHeaders = (text) => text.indexOf("\r\n\r\n") + 4;
const ADD = mappingArgs({ external: 46000, client: LAN_HOST });
const withArg = (args, name, value) => args.map(([n, v]) => [n, n === name ? value : v]);
const withoutArg = (args, name) => args.filter(([n]) => n !== name);
const ENVELOPE = (inner) => `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${inner}</s:Body></s:Envelope>`;
const range = (start, end) => [["NewStartPort", String(start)], ["NewEndPort", String(end)], ["NewProtocol", "TCP"], ["NewManage", "0"]];

// Malformed HTTP: a 4xx/5xx status (no fault), and the connection closed.
const httpCases = [
	["a request over the size limit (Content-Length past 4096)", (() => {
		const raw = soapRequest("GetExternalIPAddress", [], { body: soapBody("GetExternalIPAddress", WANIP) + " ".repeat(5000) });
		return { raw, split: endOfHeaders(raw), pause: 1 };
	})(), 413, "requestLimit"],
	["a header section over 4096 bytes", (() => {
		const raw = soapRequest("GetExternalIPAddress", [], { extraHeaders: [`X-Pad: ${"a".repeat(5000)}`] });
		return { raw, split: 4400, pause: 1 };
	})(), 431, "requestLimit"],
	["more than 32 header lines", soapRequest("GetExternalIPAddress", [], { extraHeaders: Array.from({ length: 40 }, (_, i) => `X-Line-${i}: ${i}`) }), 431, "requestLimit"],
	["unterminated XML", soapRequest("GetExternalIPAddress", [], { body: ENVELOPE(`<u:GetExternalIPAddress xmlns:u="${WANIP}">`).replace("</s:Body></s:Envelope>", "") }), 400, "bad"],
	["an envelope in another namespace than SOAP 1.1's", soapRequest("GetExternalIPAddress", [], { body: ENVELOPE(`<u:GetExternalIPAddress xmlns:u="${WANIP}"></u:GetExternalIPAddress>`).replace("http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope") }), 400, "bad"],
	["mismatched XML tags", soapRequest("GetExternalIPAddress", [], { body: ENVELOPE(`<u:GetExternalIPAddress xmlns:u="${WANIP}"></u:GetExternalIPAddresz>`) }), 400, "bad"],
	["a DOCTYPE with entities (billion laughs)", soapRequest("GetExternalIPAddress", [], {
		body: `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`
			+ ENVELOPE(`<u:GetExternalIPAddress xmlns:u="${WANIP}">&c;</u:GetExternalIPAddress>`).replace('<?xml version="1.0"?>', ""),
	}), 400, "bad"],
	["a missing SOAPAction", soapRequest("GetExternalIPAddress", [], { soapAction: null }), 400, "bad"],
	["a non-numeric Content-Length", soapRequest("GetExternalIPAddress", [], { contentLength: "abc" }), 400, "bad"],
	["a negative Content-Length", soapRequest("GetExternalIPAddress", [], { contentLength: "-5" }), 400, "bad"],
	["two different Content-Lengths", soapRequest("GetExternalIPAddress", [], { extraHeaders: ["Content-Length: 7"] }), 400, "bad"],
	["a POST without Content-Length", soapRequest("GetExternalIPAddress", [], { contentLength: null }), 411, "bad"],
	["Transfer-Encoding: chunked", soapRequest("GetExternalIPAddress", [], { extraHeaders: ["Transfer-Encoding: chunked"] }), 501, "bad"],
	["HTTP/2.0", httpGet("/rootDesc.xml").replace("HTTP/1.1", "HTTP/2.0"), 505, "bad"],
	["a garbage request line", "HELLO\r\n\r\n", 400, "bad"],
	["a header line without a colon", httpGet("/rootDesc.xml", { headers: ["this is not a header"] }), 400, "bad"],
	["a host name in Host (DNS rebinding)", soapRequest("GetExternalIPAddress", [], { host: "router.example:5000" }), 403, "bad"],
	["a numeric-looking host name in Host", httpGet("/rootDesc.xml", { host: "192.168.4.1.nip.io:5000" }), 403, "bad"],
	["no Host with HTTP/1.1", soapRequest("GetExternalIPAddress", [], { host: null }), 400, "bad"],
	// Well-formed requests for what is not there: not counted as bad.
	["an unknown path", httpGet("/etc/passwd"), 404, null],
	["GET on a control URL", httpGet("/ctl/IPConn"), 405, null],
];

for (const [name, request, status, counter] of httpCases) {
	test(`${name}: ${status}, closed, and the next client is served`, async () => {
		const before = await upnpState(bench);
		const [r, good] = await httpSend(bench, [request, GOOD]);
		assert.equal(r.status, status, `${name}: ${JSON.stringify(r)}`);
		assert.ok(r.closed, `closed after the answer: ${JSON.stringify(r)}`);
		assert.ok("content-length" in r.headers, `the answer has a Content-Length: ${JSON.stringify(r.headers)}`);
		assert.doesNotMatch(r.body, /errorCode/, "an HTTP error, not a fault");
		const ok = soapResult(good);
		assert.equal(ok.out.NewExternalIPAddress, wan, `the next client: ${JSON.stringify(good)}`);
		const after = await upnpState(bench);
		if (counter)
			assert.ok(after.counters[counter] > before.counters[counter], `counted as ${counter}:\n${before.text}\n---\n${after.text}`);
		assert.equal(after.mappings.length, 0, after.text);
	});
}

// Bad SOAP or arguments: HTTP 500 with the UPnP fault, nothing changed.
const faultCases = [
	["an unknown action", soapRequest("FrobnicatePortMapping"), 401],
	["an action element other than SOAPAction's", soapRequest("GetExternalIPAddress", [], { body: soapBody("GetStatusInfo", WANIP) }), 401],
	["another service's type in SOAPAction", soapRequest("GetExternalIPAddress", [], { soapAction: '"urn:schemas-upnp-org:service:WANPPPConnection:1#GetExternalIPAddress"' }), 401],
	["a newer service version than ours", soapRequest("GetExternalIPAddress", [], { soapAction: '"urn:schemas-upnp-org:service:WANIPConnection:3#GetExternalIPAddress"' }), 401],
	["a body without an Envelope", soapRequest("GetExternalIPAddress", [], { body: '<?xml version="1.0"?><GetExternalIPAddress/>' }), 401],
	["the action element in another service's namespace", soapRequest("GetExternalIPAddress", [], { body: soapBody("GetExternalIPAddress", "urn:schemas-upnp-org:service:WANPPPConnection:1") }), 401],
	["the action element in no namespace", soapRequest("GetExternalIPAddress", [], { body: soapBody("GetExternalIPAddress", WANIP).replace(/<u:GetExternalIPAddress xmlns:u="[^"]*"><\/u:GetExternalIPAddress>/, "<GetExternalIPAddress></GetExternalIPAddress>") }), 401],
	["an action of another service at this control URL", soapRequest("GetTotalBytesSent", [], { service: WANIP }), 401],
	["a missing argument", soapRequest("AddPortMapping", withoutArg(ADD, "NewProtocol")), 402],
	["an unknown argument", soapRequest("AddPortMapping", [...ADD, ["NewColour", "blue"]]), 402],
	["a non-numeric external port", soapRequest("AddPortMapping", withArg(ADD, "NewExternalPort", "abc")), 402],
	["an external port with a sign", soapRequest("AddPortMapping", withArg(ADD, "NewExternalPort", "+46000")), 402],
	["an external port over 65535", soapRequest("AddPortMapping", withArg(ADD, "NewExternalPort", "70000")), 402],
	["external port 0 (wildcard)", soapRequest("AddPortMapping", withArg(ADD, "NewExternalPort", "0")), 716],
	["protocol SCTP", soapRequest("AddPortMapping", withArg(ADD, "NewProtocol", "SCTP")), 402],
	["internal port 0", soapRequest("AddPortMapping", withArg(ADD, "NewInternalPort", "0")), 402],
	["a disabled mapping", soapRequest("AddPortMapping", withArg(ADD, "NewEnabled", "0")), 402],
	["a negative lease", soapRequest("AddPortMapping", withArg(ADD, "NewLeaseDuration", "-1")), 402],
	["a lease over 32 bits", soapRequest("AddPortMapping", withArg(ADD, "NewLeaseDuration", "4294967296")), 402],
	["a remote host that is not an address", soapRequest("AddPortMapping", withArg(ADD, "NewRemoteHost", "far.example")), 402],
	["a non-numeric index", soapRequest("GetGenericPortMappingEntry", [["NewPortMappingIndex", "x"]]), 402],
	["an index past the end", soapRequest("GetGenericPortMappingEntry", [["NewPortMappingIndex", "0"]]), 713],
	["no such mapping to read", soapRequest("GetSpecificPortMappingEntry", [["NewRemoteHost", ""], ["NewExternalPort", "46000"], ["NewProtocol", "TCP"]]), 714],
	["no such mapping to delete", soapRequest("DeletePortMapping", [["NewRemoteHost", ""], ["NewExternalPort", "46000"], ["NewProtocol", "TCP"]]), 714],
	["a range that runs backwards (delete)", soapRequest("DeletePortMappingRange", range(2000, 1000)), 733],
	["a range with nothing in it (delete)", soapRequest("DeletePortMappingRange", range(1000, 2000)), 730],
	["a range that runs backwards (list)", soapRequest("GetListOfPortMappings", [...range(2000, 1000), ["NewNumberOfPorts", "0"]]), 733],
	["a range with nothing in it (list)", soapRequest("GetListOfPortMappings", [...range(1000, 2000), ["NewNumberOfPorts", "0"]]), 730],
];

for (const [name, request, code] of faultCases) {
	test(`${name}: fault ${code}, nothing half made, and the next client is served`, async () => {
		const before = await upnpState(bench);
		const [r, good] = await httpSend(bench, [request, GOOD]);
		const result = soapResult(r);
		assert.equal(r.status, 500, `${name}: ${JSON.stringify(r)}`);
		assert.equal(result.fault?.code, code, `${name}: ${r.body}`);
		assert.match(r.headers["content-type"] ?? "", /^text\/xml/, JSON.stringify(r.headers));
		assert.match(r.body, /<(\w+:)?faultcode>(\w+:)?Client<\/(\w+:)?faultcode>/, r.body);
		assert.match(r.body, /<(\w+:)?faultstring>UPnPError<\/(\w+:)?faultstring>/, r.body);
		assert.match(r.body, /<UPnPError xmlns="urn:schemas-upnp-org:control-1-0">/, r.body);
		assert.equal(soapResult(good).out.NewExternalIPAddress, wan, `the next client: ${JSON.stringify(good)}`);
		const after = await upnpState(bench);
		assert.equal(after.mappings.length, 0, `nothing half made:\n${after.text}`);
		assert.deepEqual(await upnpForwards(bench), []);
		assert.ok(after.counters.faults > before.counters.faults, `counted as a fault:\n${after.text}`);
	});
}

test("a good answer: 200, text/xml, a Server header with UPnP/1.1, Content-Length, closed", async () => {
	const r = await httpOne(bench, GOOD);
	assert.equal(r.status, 200, JSON.stringify(r));
	assert.match(r.headers["content-type"] ?? "", /^text\/xml; charset="utf-8"$/, JSON.stringify(r.headers));
	assert.match(r.headers.server ?? "", /UPnP\/1\.1/, JSON.stringify(r.headers));
	assert.equal(Number(r.headers["content-length"]), Buffer.byteLength(r.body), JSON.stringify(r.headers));
	assert.ok(r.closed);
	// Quotes around SOAPAction are optional; lower versions than ours are fine.
	for (const soapAction of [`${WANIP}#GetExternalIPAddress`, '"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress"']) {
		const again = soapResult(await httpOne(bench, soapRequest("GetExternalIPAddress", [], { soapAction })));
		assert.equal(again.out.NewExternalIPAddress, wan, soapAction);
	}
});

test("request and header caps are configurable (upnp limit) and counted", async () => {
	const before = await upnpState(bench);
	await router(bench, "upnp limit request 1024");
	try {
		const raw = soapRequest("GetExternalIPAddress", [], { body: soapBody("GetExternalIPAddress", WANIP) + " ".repeat(1200) });
		const [big, good] = await httpSend(bench, [{ raw, split: endOfHeaders(raw), pause: 1 }, GOOD]);
		assert.equal(big.status, 413, JSON.stringify(big));
		assert.equal(soapResult(good).out.NewExternalIPAddress, wan, "a small request still fits");
	}
	finally {
		await router(bench, "upnp limit request 4096");
	}
	await router(bench, "upnp limit headers 8");
	try {
		const [many, good] = await httpSend(bench, [soapRequest("GetExternalIPAddress", [], { extraHeaders: ["X-A: 1", "X-B: 2", "X-C: 3", "X-D: 4"] }), GOOD]);
		assert.equal(many.status, 431, JSON.stringify(many));
		assert.equal(soapResult(good).out.NewExternalIPAddress, wan, "5 header lines still fit");
	}
	finally {
		await router(bench, "upnp limit headers 32");
	}
	const after = await upnpState(bench);
	assert.equal(after.counters.requestLimit, before.counters.requestLimit + 2, after.text);
});

test("an idle, half-sent request is closed by the router at the header deadline (5 s)", async () => {
	const match = await slow.waitFor(/^(closed|reset|answered.*|still open.*) after ([\d.]+)/m, Math.max(1000, 22000 - (Date.now() - slowStarted)));
	assert.ok(match[1] === "closed" || match[1] === "reset" || match[1].startsWith("answered"), slow.output());
	const seconds = Number(match[2]);
	assert.ok(seconds >= 4 && seconds <= 9, `closed after ${seconds} s: ${slow.output()}`);
});

// Sends a request's header section a byte a second (never idle; 40 s to
// send it all) and reports when the server cut it, and how much had gone.
const TRICKLE_CLIENT = `
import select, socket, sys, time
head = b"GET /rootDesc.xml HTTP/1.1\\r\\nHost: 192.168.4.1:5000\\r\\nX-Pad: " + b"a" * 40
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
start = time.monotonic()
sent = 0
how = "still open"
while sent < len(head) and time.monotonic() - start < 30:
    try:
        s.send(head[sent:sent + 1])
        sent += 1
    except OSError:
        how = "reset"
        break
    r = select.select([s], [], [], 1)[0]
    if r:
        try:
            how = "closed" if not s.recv(4096) else "answered"
        except OSError:
            how = "reset"
        break
print(how, f"after {time.monotonic() - start:.1f}", f"sent {sent} of {len(head)}", flush=True)
`;

test("a request trickled a byte a second is cut at the header deadline, not kept alive by each byte", async () => {
	const before = await upnpState(bench);
	const r = await bench.exec("lan", [PY, "-c", TRICKLE_CLIENT, ROUTER_LAN, String(UPNP_PORT)], { timeout: 40000 });
	const match = /^(closed|reset|answered|still open) after ([\d.]+) sent (\d+) of (\d+)$/m.exec(r.stdout);
	assert.ok(match, r.stdout + r.stderr);
	assert.ok(match[1] === "closed" || match[1] === "reset", `cut, not answered or left open: ${r.stdout}`);
	assert.ok(Number(match[3]) < Number(match[4]), `cut before the headers were all sent: ${r.stdout}`);
	const seconds = Number(match[2]);
	// The header deadline (5 s), not the whole request's (10 s).
	assert.ok(seconds >= 4 && seconds <= 9, `cut after ${seconds} s: ${r.stdout}`);
	const after = await upnpState(bench);
	assert.ok(after.counters.bad > before.counters.bad, `counted as bad:\n${after.text}`);
	await assertServes(bench, wan, "the trickle");
});

test("16 clients at once from one host (over the cap of 8 and the host's 4): every one answered 200, none refused or reset", async () => {
	for (let round = 0; round < 3; round++) {
		const answers = await httpClients(bench, GOOD, 16, 1);
		assert.equal(answers.length, 16);
		const bad = answers.filter((a) => a.status !== 200 || a.error);
		assert.deepEqual(bad, [], `round ${round}: ${bad.length} of 16 not answered: ${JSON.stringify(bad.slice(0, 3))}`);
	}
	const state = await upnpState(bench);
	assert.equal(state.connections.waiting, 0, state.text);
});

test("a connection flood past what one host may have waiting: 4 served, 12 wait, the rest reset at once, counted, and service goes on", async () => {
	const before = await upnpState(bench);
	const result = await bench.exec("lan", [PY, HTTP_TOOL, "flood", ROUTER_LAN, String(UPNP_PORT), "24", "2"], { timeout: 15000 });
	assert.equal(result.code, 0, result.stderr);
	const flood = JSON.parse(result.stdout);
	assert.ok(flood.connected > 16, `more than one host may hold (4 + 12) connected: ${result.stdout}`);
	assert.ok(flood.open <= 16 && flood.open >= 8, `4 open and 12 waiting stayed: ${result.stdout}`);
	const after = await upnpState(bench);
	assert.ok(after.counters.connectionLimit >= before.counters.connectionLimit + flood.connected - 16,
		`connections past the host's waiting places counted (${result.stdout}):\n${after.text}`);
	// The flood's sockets are closed; the router serves again at once.
	const served = await pollUntil(() => httpOne(bench, GOOD), (r) => r.status === 200, { ms: 5000, every: 250 });
	assert.equal(soapResult(served).out.NewExternalIPAddress, wan, JSON.stringify(served));
	await assertServes(bench, wan, "the flood");
});

test("after all of it: nothing mapped, the router still answers upnpc-style requests", async () => {
	const state = await upnpState(bench);
	assert.equal(state.mappings.length, 0, state.text);
	assert.ok(state.on, state.text);
	const add = soapResult(await httpOne(bench, soapRequest("AddPortMapping", ADD)));
	assert.equal(add.status, 200, add.answer.body);
	const del = soapResult(await httpOne(bench, soapRequest("DeletePortMapping", ADD.slice(0, 3))));
	assert.equal(del.status, 200, del.answer.body);
});
