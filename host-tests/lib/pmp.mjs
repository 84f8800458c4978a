// What the NAT-PMP and PCP tests share: natpmpc in lan, raw datagrams
// through pmp-probe.py (built and read here from RFC 6886's and RFC 6887's
// message formats), show natpmp parsed, and a UDP echo in lan that far's
// datagrams reach through a mapping. Every wait is bounded.
import assert from "node:assert/strict";
import path from "node:path";
import { TOP, ROUTER_LAN, LAN_HOST } from "./bench.mjs";
import { PY, router } from "./upnp.mjs";

export const PROBE = path.join(TOP, "host-tests/lib/pmp-probe.py");

// natpmpc (Debian's, libnatpmp 20230423) in lan, aimed at the router.
export async function natpmpc(bench, args, { ns = "lan", timeout = 40000 } = {}) {
	const argv = ["natpmpc", "-g", ROUTER_LAN, ...args];
	const result = await bench.exec(ns, argv, { timeout });
	result.text = `${argv.join(" ")} (exit ${result.code}):\n${result.stdout}${result.stderr}`;
	return result;
}

// Each hex datagram from `source` to the router's 5351, one answer each (hex or null).
export async function exchange(bench, datagrams, { source = LAN_HOST, ns = "lan", wait = 2, to = ROUTER_LAN } = {}) {
	const r = await bench.exec(ns, [PY, PROBE, "send", source, to, String(wait), ...datagrams.map((d) => Buffer.from(d).toString("hex"))],
		{ timeout: (wait + 2) * datagrams.length * 1000 + 5000 });
	const lines = r.stdout.split("\n").filter(Boolean);
	assert.equal(lines.length, datagrams.length, `pmp-probe.py send: ${r.stdout}\n${r.stderr}`);
	return lines.map((l) => {
		const o = JSON.parse(l);
		return o.answer === null ? null : Buffer.from(o.answer, "hex");
	});
}

export async function one(bench, datagram, options) {
	return (await exchange(bench, [datagram], options))[0];
}

// --- NAT-PMP (RFC 6886) ---

export const pmpAddressRequest = () => Buffer.from([0, 0]);

export function pmpMapRequest(proto, internalPort, suggested, lifetime, { version = 0 } = {}) {
	const b = Buffer.alloc(12);
	b[0] = version;
	b[1] = proto === "udp" ? 1 : 2;
	b.writeUInt16BE(internalPort, 4);
	b.writeUInt16BE(suggested, 6);
	b.writeUInt32BE(lifetime, 8);
	return b;
}

export function pmpAnswer(b) {
	assert.ok(b && b.length >= 8, `a NAT-PMP answer: ${b?.toString("hex")}`);
	const a = { version: b[0], op: b[1], result: b.readUInt16BE(2), epoch: b.readUInt32BE(4), length: b.length };
	if (b.length === 12)
		a.external = `${b[8]}.${b[9]}.${b[10]}.${b[11]}`;
	if (b.length === 16) {
		a.internalPort = b.readUInt16BE(8);
		a.externalPort = b.readUInt16BE(10);
		a.lifetime = b.readUInt32BE(12);
	}
	return a;
}

// --- PCP (RFC 6887) ---

export const PCP = Object.freeze({
	SUCCESS: 0, UNSUPP_VERSION: 1, NOT_AUTHORIZED: 2, MALFORMED_REQUEST: 3, UNSUPP_OPCODE: 4, UNSUPP_OPTION: 5,
	MALFORMED_OPTION: 6, NETWORK_FAILURE: 7, NO_RESOURCES: 8, UNSUPP_PROTOCOL: 9, USER_EX_QUOTA: 10,
	CANNOT_PROVIDE_EXTERNAL: 11, ADDRESS_MISMATCH: 12, EXCESSIVE_REMOTE_PEERS: 13,
});

// ::ffff:a.b.c.d, or all zero for ""
export function mapped(address) {
	const b = Buffer.alloc(16);
	if (address) {
		b[10] = 0xff;
		b[11] = 0xff;
		address.split(".").forEach((o, i) => { b[12 + i] = Number(o); });
	}
	return b;
}

function unmapped(b, at) {
	return b.subarray(at, at + 10).every((x) => x === 0) && b[at + 10] === 0xff && b[at + 11] === 0xff
		? `${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}` : b.subarray(at, at + 16).toString("hex");
}

export function pcpHeader(op, lifetime, client = LAN_HOST, { version = 2 } = {}) {
	const b = Buffer.alloc(24);
	b[0] = version;
	b[1] = op;
	b.writeUInt32BE(lifetime, 4);
	mapped(client).copy(b, 8);
	return b;
}

export function pcpOption(code, data = Buffer.alloc(0)) {
	const h = Buffer.alloc(4);
	h[0] = code;
	h.writeUInt16BE(data.length, 2);
	const pad = Buffer.alloc((4 - (data.length % 4)) % 4);
	return Buffer.concat([h, data, pad]);
}

export const THIRD_PARTY = (address) => pcpOption(1, mapped(address));
export const PREFER_FAILURE = () => pcpOption(2);
export const FILTER = (prefix, port, address) => {
	const d = Buffer.alloc(20);
	d[1] = prefix;
	d.writeUInt16BE(port, 2);
	mapped(address).copy(d, 4);
	return pcpOption(3, d);
};

export function pcpMap({ nonce, proto = "tcp", internalPort, suggestedPort = 0, suggestedAddress = "", lifetime = 3600, client = LAN_HOST, options = [], version = 2 }) {
	const body = Buffer.alloc(36);
	nonce.copy(body, 0);
	body[12] = proto === "tcp" ? 6 : proto === "udp" ? 17 : proto;
	body.writeUInt16BE(internalPort, 16);
	body.writeUInt16BE(suggestedPort, 18);
	mapped(suggestedAddress).copy(body, 20);
	return Buffer.concat([pcpHeader(1, lifetime, client, { version }), body, ...options]);
}

export function pcpAnswer(b) {
	assert.ok(b && b.length >= 24, `a PCP answer: ${b?.toString("hex")}`);
	const a = { version: b[0], r: b[1] >> 7, op: b[1] & 0x7f, result: b[3], lifetime: b.readUInt32BE(4), epoch: b.readUInt32BE(8), length: b.length };
	if ((a.op === 1 && b.length >= 60) || (a.op === 2 && b.length >= 80)) {
		a.nonce = b.subarray(24, 36).toString("hex");
		a.protocol = b[36];
		a.internalPort = b.readUInt16BE(40);
		a.externalPort = b.readUInt16BE(42);
		a.externalAddress = unmapped(b, 44);
	}
	if (a.op === 2 && b.length >= 80) {
		a.remotePort = b.readUInt16BE(60);
		a.remoteAddress = unmapped(b, 64);
	}
	return a;
}

// --- the router's view ---

// show natpmp, parsed.
export async function pmpState(bench) {
	const text = await router(bench, "show natpmp");
	const head = /^natpmp: (on|off), pcp: (on|off), (?:listening on (\S+), epoch (\d+)s|not running)$/m.exec(text);
	assert.ok(head, text);
	const mappings = [...text.matchAll(/^ {2}(tcp|udp) (\d+) -> ([\d.]+):(\d+) lease (\d+)s (natpmp|pcp (peer )?nonce ([0-9a-f]{24})(?: remote ([\d.]+))?)$/gm)].map((m) => ({
		proto: m[1], externalPort: Number(m[2]), address: m[3], port: Number(m[4]), lease: Number(m[5]),
		via: m[7] ? "peer" : m[6].startsWith("pcp") ? "pcp" : "natpmp", nonce: m[8], remote: m[9] ?? "",
	}));
	const c = /^counters: natpmp (\d+), pcp (\d+), answered (\d+), dropped (\d+), rate limited (\d+); mapped (\d+), deleted (\d+), refused (\d+), no resources (\d+); announcements (\d+)$/m.exec(text);
	assert.ok(c, text);
	const names = ["natpmp", "pcp", "answered", "dropped", "rateLimited", "mapped", "deleted", "refused", "noResources", "announcements"];
	return {
		text, natpmp: head[1] === "on", pcp: head[2] === "on", listening: head[3], epoch: head[4] === undefined ? undefined : Number(head[4]),
		mappings, counters: Object.fromEntries(names.map((n, i) => [n, Number(c[i + 1])])),
	};
}

// A UDP echo in `ns`: answers each datagram with "echo <source> <text>".
const UDP_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, (h, p) = s.recvfrom(2048)
    s.sendto(b"echo " + h.encode() + b" " + data, (h, p))
`;
export function udpEcho(bench, ns, host, port) {
	return bench.serve(ns, [PY, "-u", "-c", UDP_ECHO, host, String(port)], { proto: "udp", address: host, port });
}

// One datagram from `ns` to host:port; the answer's text or null within `seconds`.
const UDP_ASK = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[4]))
for _ in range(3):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recvfrom(2048)[0].decode(), flush=True)
        break
    except socket.timeout:
        pass
else:
    print("no answer", flush=True)
`;
export async function udpAsk(bench, ns, host, port, text, seconds = 1) {
	const r = await bench.exec(ns, [PY, "-c", UDP_ASK, host, String(port), text, String(seconds)], { timeout: seconds * 3000 + 5000 });
	const line = r.stdout.trim();
	return line === "no answer" ? null : line;
}
