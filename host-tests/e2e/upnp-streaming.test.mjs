// Large UPnP answers are made piece by piece as the socket takes them, so
// the XS heap never holds one whole: chunked to HTTP/1.1 clients, ended by
// the close for HTTP/1.0 ones. Checked byte for byte (upnp-http.py): the
// framing is strict HTTP/1.1 chunking with its last chunk, and both
// encodings carry the same document; a listing of every mapping holds all
// of them, each once, in the table's order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, LAN_HOST } from "../lib/bench.mjs";
import { httpSend, httpGet, soapRequest, soapResult, mappingArgs } from "../lib/upnp.mjs";

let bench;
before(async () => {
	bench = await startBench();
	await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

// RFC 9112 §7.1: size in hex, CRLF, data, CRLF; "0" CRLF CRLF ends it.
function dechunk(raw) {
	const bytes = Buffer.from(raw, "utf8");
	const parts = [];
	let at = 0;
	for (let n = 0; n < 10000; n++) {
		const eol = bytes.indexOf("\r\n", at);
		assert.ok(eol > at, `a chunk size line at byte ${at}`);
		const size = bytes.subarray(at, eol).toString("latin1");
		assert.match(size, /^[0-9a-f]+$/, `chunk size line ${JSON.stringify(size)}`);
		const length = parseInt(size, 16);
		at = eol + 2;
		if (length === 0) {
			assert.equal(bytes.subarray(at).toString("latin1"), "\r\n", "nothing after the last chunk but its CRLF");
			return Buffer.concat(parts).toString("utf8");
		}
		parts.push(bytes.subarray(at, at + length));
		at += length;
		assert.equal(bytes.subarray(at, at + 2).toString("latin1"), "\r\n", "a chunk ends with CRLF");
		at += 2;
	}
	assert.fail("more than 10000 chunks");
}

const http10 = (request) => request.replace(/^(\S+ \S+) HTTP\/1\.1\r\n/, "$1 HTTP/1.0\r\n");

test("a service description goes chunked to HTTP/1.1 and close-delimited to HTTP/1.0, the same document", async () => {
	const [v11, v10] = await httpSend(bench, [httpGet("/WANIPCn.xml"), http10(httpGet("/WANIPCn.xml"))]);
	assert.equal(v11.status, 200);
	assert.equal(v11.headers["transfer-encoding"], "chunked");
	assert.equal(v11.headers["content-length"], undefined, "no length beside chunking");
	assert.ok(v11.closed, "closed after the last chunk");
	const document = dechunk(v11.body);
	assert.match(document, /^<\?xml version="1\.0"\?>\r?\n<scpd xmlns="urn:schemas-upnp-org:service-1-0">/);
	assert.match(document, /<\/serviceStateTable><\/scpd>\r\n$/);
	assert.equal((document.match(/<action>/g) ?? []).length, (document.match(/<\/action>/g) ?? []).length);
	assert.ok(document.length > 8000, `the whole WANIPConnection SCPD (${document.length} bytes)`);

	assert.equal(v10.status, 200);
	assert.equal(v10.headers["transfer-encoding"], undefined, "no chunking for HTTP/1.0");
	assert.equal(v10.headers["content-length"], undefined);
	assert.ok(v10.closed, "the close ends the body");
	assert.equal(v10.body, document);
});

test("HEAD of a description made in pieces: the head alone", async () => {
	const [head] = await httpSend(bench, [httpGet("/WANIPCn.xml", { method: "HEAD" })]);
	assert.equal(head.status, 200);
	assert.equal(head.headers["transfer-encoding"], "chunked");
	assert.equal(head.body, "");
});

test("GetListOfPortMappings of 40 mappings with long descriptions: every entry once, in order, in both encodings", async () => {
	const count = 40;
	const description = (i) => `streamed ${String(i).padStart(2, "0")} ${"x".repeat(30)}`;
	const adds = [];
	for (let i = 0; i < count; i++)
		adds.push(soapRequest("AddPortMapping", mappingArgs({ external: 43000 + i, internal: 43000 + i, client: LAN_HOST, description: description(i) })));
	for (const answer of await httpSend(bench, adds))
		assert.equal(soapResult(answer).status, 200, answer.body);

	const list = soapRequest("GetListOfPortMappings", [
		["NewStartPort", "1024"], ["NewEndPort", "65535"], ["NewProtocol", "TCP"], ["NewManage", "1"], ["NewNumberOfPorts", "0"],
	]);
	const [v11, v10] = await httpSend(bench, [list, http10(list)]);
	assert.equal(v11.status, 200, v11.body);
	assert.equal(v11.headers["transfer-encoding"], "chunked");
	const envelope = dechunk(v11.body);
	assert.equal(v10.status, 200);
	assert.equal(v10.body, envelope, "HTTP/1.0 gets the same envelope, ended by the close");

	const listing = /<NewPortListing><!\[CDATA\[([\s\S]*)\]\]><\/NewPortListing>/.exec(envelope);
	assert.ok(listing, envelope.slice(0, 400));
	assert.match(listing[1], /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<p:PortMappingList /);
	assert.match(listing[1], /<\/p:PortMappingList>$/);
	const ports = [...listing[1].matchAll(/<p:NewExternalPort>(\d+)<\/p:NewExternalPort>/g)].map((m) => Number(m[1]));
	const expected = Array.from({ length: count }, (_, i) => 43000 + i);
	assert.deepEqual(ports.filter((p) => p >= 43000 && p < 43000 + count), expected);
	for (let i = 0; i < count; i++)
		assert.ok(listing[1].includes(`<p:NewDescription>${description(i)}</p:NewDescription>`), `entry ${i}'s description`);

	// NewNumberOfPorts cuts the list: the first ten, and the document still closes.
	const [ten] = await httpSend(bench, [soapRequest("GetListOfPortMappings", [
		["NewStartPort", "43000"], ["NewEndPort", "65535"], ["NewProtocol", "TCP"], ["NewManage", "1"], ["NewNumberOfPorts", "10"],
	])]);
	const cut = dechunk(ten.body);
	assert.equal((cut.match(/<p:PortMappingEntry>/g) ?? []).length, 10);
	assert.match(cut, /<\/p:PortMappingList>\]\]><\/NewPortListing>/);
});
