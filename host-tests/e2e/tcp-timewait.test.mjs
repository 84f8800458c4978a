// A LAN client that reopens a connection to the router from the source port
// it just used. The router closed first (every UPnP answer does), so it
// holds that connection in TIME_WAIT for two minutes; lwIP answers a SYN
// for it with an ACK and ignores the client's RST (RFC 1337), and before the
// fix the client could not connect until TIME_WAIT ended. Now a SYN whose
// sequence number is past the old connection's end reopens it at once
// (RFC 1122 4.2.2.13, as Linux does), counted in show memory.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBench, LAN_HOST, ROUTER_LAN } from "../lib/bench.mjs";

let bench;
before(async () => {
	bench = await startBench();
});
after(async () => {
	await bench?.stop();
});

// Three requests for the description from one source port, one after another;
// each prints its status line or the error that ended it (3 s to connect).
const SAME_PORT = `
import socket, sys, time
host, port, source, sport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for i in range(3):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((source, sport))
    s.settimeout(3)
    try:
        s.connect((host, port))
        s.sendall(b"GET /rootDesc.xml HTTP/1.1\\r\\nHost: %s:%d\\r\\n\\r\\n" % (host.encode(), port))
        data = b""
        while len(data) < 100000:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        print(i, data.split(b"\\r\\n")[0].decode(), flush=True)
    except OSError as e:
        print(i, "error", e, flush=True)
    s.close()
    time.sleep(0.2)   # our FIN answered: the router's side is in TIME_WAIT, ours closed
`;

test("a LAN client reconnecting from the port it just used is answered at once, not after the router's TIME_WAIT", async () => {
	const reopened = async () => Number(/^tcp: (\d+) connections in TIME_WAIT reopened/m.exec(await bench.console.command("show memory"))?.[1]);
	const before = await reopened();
	const r = await bench.exec("lan", ["python3", "-c", SAME_PORT, ROUTER_LAN, "5000", LAN_HOST, "41234"], { timeout: 20000 });
	assert.equal(r.code, 0, r.stderr);
	assert.deepEqual(r.stdout.trim().split("\n"), ["0 HTTP/1.1 200 OK", "1 HTTP/1.1 200 OK", "2 HTTP/1.1 200 OK"], r.stdout);
	assert.equal(await reopened() - before, 2, "the second and third connections each reopened one");
});
