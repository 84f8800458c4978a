// A blind RST from the Internet (issue 15 item 3): while lan has a TCP
// connection open to far, RST segments with far's address and ports but a
// sequence number far from the window are sent as raw frames from the ISP's
// side. The connection's flow stays established with the long timeout, and
// the connection still echoes. (The in-window case is napt_test's
// test_blind_rst.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, FAR_HOST } from "../lib/bench.mjs";
import { echoClient, echoServer } from "../lib/tcp-peers.mjs";

let bench, wan;
before(async () => {
	bench = await startBench();
	wan = await bench.wanAddress(30000);
});
after(async () => {
	await bench?.stop();
});

// RST frames (seq given) from far:7000 to WAN:ext, sent on the ISP's TAP port to the router's MAC.
const RST = `
import socket, struct, sys
iface, mac, src, dst, sport, dport = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((iface, 0))
for seq in sys.argv[7:]:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, int(seq) & 0xFFFFFFFF, 0, 5 << 4, 0x04, 0, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 7, 0, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    sock.send(mac + sock.getsockname()[4] + b"\\x08\\x00" + ip + tcp)
print("sent", len(sys.argv) - 7, flush=True)
`;

async function flowOf(port) {
	const flows = await bench.console.command("show nat flows 100");
	const m = new RegExp(`^tcp 192\\.168\\.4\\.2:${port} -> ${FAR_HOST.replace(/\./g, "\\.")}:7000 via :(\\d+) idle \\d+s expires (\\d+)s (\\S+)`, "m").exec(flows);
	assert.ok(m, flows);
	return { ext: Number(m[1]), expires: Number(m[2]), state: m[3] };
}

async function sendRst(ext, seqs) {
	const macs = await bench.macs();
	const r = await bench.exec("wan", ["python3", "-c", RST, "rtr-wan", macs.wan, FAR_HOST, wan, "7000", String(ext), ...seqs.map(String)], { timeout: 10000 });
	assert.equal(r.code, 0, r.stderr);
}

test("a blind RST from the Internet does not demote an established flow", async () => {
	await echoServer(bench, "far", FAR_HOST, 7000);
	const client = echoClient(bench, "lan", FAR_HOST, 7000);
	try {
		const port = Number((await client.waitFor(/^connected (\d+)$/m, 10000))[1]);
		client.write("before\n");
		await client.waitFor(/^echo BEFORE$/m, 10000);
		const open = await flowOf(port);
		assert.equal(open.state, "established");

		// Sequence numbers nowhere near the connection's (Linux picks its ISN at random: these are 2^31 apart).
		await sendRst(open.ext, [1, 0x80000001]);
		await new Promise((resolve) => setTimeout(resolve, 300));
		const after = await flowOf(port);
		assert.equal(after.state, "established", `after a blind RST: ${JSON.stringify(after)}`);
		assert.ok(after.expires > 7000, `after a blind RST: ${JSON.stringify(after)}`);
		client.write("after\n");
		await client.waitFor(/^echo AFTER$/m, 5000);
	}
	finally {
		await client.stop();
	}
});
