// TCP peers for the namespaces, shared by the NAPT and UPnP tests: a server
// that names both ends to whoever connects, and a one-shot client.

// Each connection gets "hello from <local> to <peer>\n" and is closed;
// stdout says "peer <host>:<port>" for each.
const TCP_SERVER = `
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(8)
while True:
    c, (h, p) = s.accept()
    print(f"peer {h}:{p}", flush=True)
    c.sendall(f"hello from {host}:{port} to {h}:{p}\\n".encode())
    c.close()
`;

export function tcpServer(bench, ns, host, port) {
	return bench.serve(ns, ["python3", "-u", "-c", TCP_SERVER, host, String(port)], { proto: "tcp", address: host, port });
}

// Connects (from `source` if given) within `seconds`, prints what the server
// sent, or "error <exception>" and exits 2.
const TCP_CLIENT = `
import socket, sys
host, port, source, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
try:
    s = socket.create_connection((host, port), timeout=seconds, source_address=(source, 0) if source != "-" else None)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print(data.decode(), end="", flush=True)
except Exception as e:
    print("error", type(e).__name__, e, flush=True)
    sys.exit(2)
`;

export async function tcpConnect(bench, ns, host, port, { source = "-", seconds = 5 } = {}) {
	const result = await bench.exec(ns, ["python3", "-c", TCP_CLIENT, host, String(port), source, String(seconds)], { timeout: (seconds + 5) * 1000 });
	return { ok: result.code === 0, text: result.stdout + result.stderr };
}

// Echoes each line back, upper-cased, to every connection (a thread each).
const ECHO_SERVER = `
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
def serve(c):
    f = c.makefile("rwb", buffering=0)
    for line in f:
        f.write(line.upper())
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

export function echoServer(bench, ns, host, port) {
	return bench.serve(ns, ["python3", "-c", ECHO_SERVER, host, String(port)], { address: host, port });
}

// One connection (from `source` if not "-"); prints "connected <local port>",
// then sends each stdin line and prints "echo <answer>".
const ECHO_CLIENT = `
import socket, sys
source = sys.argv[3]
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30, source_address=(source, 0) if source != "-" else None)
print("connected", c.getsockname()[1], flush=True)
f = c.makefile("rwb", buffering=0)
for line in sys.stdin:
    f.write(line.encode())
    print("echo", f.readline().decode().strip(), flush=True)
`;

export function echoClient(bench, ns, host, port, source = "-") {
	return bench.track(ns, ["python3", "-u", "-c", ECHO_CLIENT, host, String(port), source]);
}
