/*
 * Test fixture, not firmware: services over the simulator's ECMA-419
 * sockets for host-tests/e2e/sockets.test.mjs. Run it with
 * `router-sim ... --main test/socket-echo`. The LAN port is 192.168.4.1/24,
 * the WAN port 198.51.100.2/24 (no NAPT runs here).
 *   udp 7007  echoes each datagram to its sender
 *   tcp 7007  echoes each connection, in order; closes after the peer does
 *   udp 7008  member of 239.255.0.7; echoes to the sender, unicast
 *   udp 7009  reads nothing until "drain udp" (the receive queue's bound)
 *   tcp 7009  reads nothing until "drain tcp" (acknowledged only as read)
 *   tcp 7010  sends 16 KB of a pattern to each connection, then closes
 *   udp 7011  interface "lan", member of 239.255.0.11 there: echoes to the
 *             sender; "mcast <text>" sends to the group (TTL 2)
 * Console commands are in execute(); outbound TCP is "connect".
 */
import Net from "net";
import Platform from "platform";
import UDP from "embedded:io/socket/udp";
import TCP from "embedded:io/socket/tcp";
import Listener from "embedded:io/socket/listener";
import { LineConsole } from "console/line-console";

const PORT = 7007;

/* Beyond @moddable/typings 5.6.0: close() (ECMA-419 has it, the typings miss it), UDP's counters. */
type SimUDP = UDP & { close(): void; readonly port: number; readonly dropped: number };
type SimListener = Listener & { close(): void; readonly port: number };
/* read() gives undefined when nothing waits; the typings say it never does. */
type Datagram = ArrayBuffer & { address: string; port: number };
/* The simulator's `interface` option, which the typings do not know. */
type UDPOptions = ConstructorParameters<typeof UDP>[0] & { interface?: unknown };
const PortUDP = UDP as unknown as new (options: UDPOptions) => SimUDP;

Net.configure("lan", { mode: "static", address: "192.168.4.1", netmask: "255.255.255.0" });
Net.configure("wan", { mode: "static", address: "198.51.100.2", netmask: "255.255.255.0", gateway: "198.51.100.1" });

const stats = { accepted: 0, open: 0, echoed: 0 };
/* tcp.c's counts of its rare paths: writes that waited for lwIP memory, closes that waited on them. */
const tcpStats = native("xs_router_tcp_stats") as () => { deferred: number; lingered: number };

function echoDatagrams(this: UDP, count: number): void {
	for (let i = 0; i < count; i++) {
		const datagram = this.read() as Datagram | undefined;
		if (!datagram)
			break;
		this.write(datagram, datagram.address, datagram.port);
	}
}

const udpEcho = new UDP({ port: PORT, onReadable: echoDatagrams }) as SimUDP;
new UDP({ port: PORT + 1, multicast: "239.255.0.7", timeToLive: 1, onReadable: echoDatagrams });
const udpHeld = new UDP({ port: PORT + 2, onReadable() {} }) as SimUDP;
const LAN_GROUP = "239.255.0.11";
const udpLan = new PortUDP({ port: PORT + 4, multicast: LAN_GROUP, timeToLive: 2, interface: "lan", onReadable: echoDatagrams });

/* Echo one connection: move min(readable, writable) bytes whenever either grows. */
function echo(from: TCP): void {
	let readable = 0, writable = 0;
	stats.accepted++;
	stats.open++;
	const pump = (socket: TCP) => {
		while (readable > 0 && writable > 0) {
			const data = socket.read(Math.min(readable, writable)) as ArrayBuffer | undefined;
			if (!data)
				break;
			socket.write(data);
			readable -= data.byteLength;
			writable -= data.byteLength;
			stats.echoed += data.byteLength;
		}
	};
	new TCP({
		from,
		nodelay: true,
		onReadable(count) {
			readable = count;
			pump(this);
		},
		onWritable(count) {
			writable = count;
			pump(this);
		},
		onError() {
			// The peer closed (after everything it sent was read) or reset.
			this.close();
			stats.open--;
		},
	});
}

new Listener({
	port: PORT,
	onReadable(count) {
		for (let i = 0; i < count; i++) {
			const socket = this.read();
			if (socket)
				echo(socket);
		}
	},
});

/* tcp 7009: count what arrives without reading it, until drained. */
const held = { readableMax: 0, readable: 0, draining: false, received: 0 };
new Listener({
	port: PORT + 2,
	onReadable() {
		const socket = this.read();
		if (!socket)
			return;
		heldSocket = new TCP({
			from: socket,
			onReadable(count) {
				held.readable = count;
				held.readableMax = Math.max(held.readableMax, count);
				if (held.draining)
					drainHeld(this, count);
			},
			onError() {
				console.notify(`tcp ${PORT + 2}: received ${held.received} bytes, max readable ${held.readableMax}`);
				this.close();
			},
		});
	},
});
let heldSocket: TCP | undefined;

function drainHeld(socket: TCP, count: number): void {
	const data = socket.read(count) as ArrayBuffer | undefined;
	if (data)
		held.received += data.byteLength;
	held.readable = 0;
}

/*
 * tcp 7010: send BLAST bytes of a pattern, then close at once. With clients
 * that read slowly, many of these exhaust lwIP's shared memory, so writes
 * wait in tcp.c and close() must still deliver them before the FIN.
 */
const BLAST = 16384;
new Listener({
	port: PORT + 3,
	onReadable(count) {
		for (let i = 0; i < count; i++) {
			const from = this.read();
			if (!from)
				break;
			let sent = 0;
			new TCP({
				from,
				onWritable(writable) {
					while (writable > 0 && sent < BLAST) {
						const n = Math.min(writable, BLAST - sent);
						const chunk = new Uint8Array(n);
						for (let j = 0; j < n; j++)
							chunk[j] = (sent + j) % 251;
						this.write(chunk);
						sent += n;
						writable -= n;
					}
					if (sent === BLAST)
						this.close();
				},
				onError() {
					this.close();
				},
			});
		}
	},
});

/* Outbound: connect, send one line, print what came back when the peer ends. */
function connect(address: string, port: number, text: string): void {
	let received = "";
	let sent = false;
	new TCP({
		address,
		port,
		onWritable() {
			if (sent)
				return;
			sent = true;
			this.write(ArrayBuffer.fromString(text + "\n"));
		},
		onReadable(count) {
			const data = this.read(count) as ArrayBuffer | undefined;
			if (data)
				received += String.fromArrayBuffer(data);
		},
		onError(...args: unknown[]) {
			const error = args[0] as Error | undefined;
			console.notify(`client ${address}:${port}: ${JSON.stringify(received)} ${error?.message ?? "error"} (remote ${this.remoteAddress}:${this.remotePort})`);
			this.close();
		},
	});
}

/* Every misuse must throw a clear error or do nothing; none may crash. */
function misuse(): string[] {
	const results: string[] = [];
	const attempt = (name: string, action: () => unknown) => {
		try {
			results.push(`${name}: ok ${String(action())}`);
		}
		catch (e) {
			results.push(`${name}: ${(e as Error).name}: ${(e as Error).message}`);
		}
	};
	const one = new ArrayBuffer(1);
	const udp = new UDP({ port: 0 }) as SimUDP;
	attempt("udp port", () => udp.port > 0);
	attempt("udp close", () => {
		udp.close();
	});
	attempt("udp close again", () => {
		udp.close();
	});
	attempt("udp write after close", () => {
		udp.write(one, "192.168.4.2", 9);
	});
	attempt("udp read after close", () => udp.read());
	attempt("udp port in use", () => new UDP({ port: PORT }));
	attempt("udp bad address", () => {
		new UDP({ port: 0 }).write(one, "192.168.4", 9);
	});
	attempt("udp bad port", () => {
		new UDP({ port: 0 }).write(one, "192.168.4.2", 0);
	});
	attempt("udp too large", () => {
		new UDP({ port: 0 }).write(new ArrayBuffer(70000), "192.168.4.2", 9);
	});
	attempt("udp bad multicast", () => new UDP({ port: 0, multicast: "192.168.4.9", timeToLive: 1 }));
	attempt("udp format", () => new UDP({ port: 0, format: "number" as "buffer" }));
	attempt("udp bad interface", () => new PortUDP({ port: 0, interface: "dmz" }));
	attempt("udp interface not text", () => new PortUDP({ port: 0, interface: 1 }));
	attempt("listener port in use", () => new Listener({ port: PORT }));
	const listener = new Listener({ port: 0 }) as SimListener;
	attempt("listener port", () => listener.port > 0);
	attempt("listener close", () => {
		listener.close();
	});
	attempt("listener close again", () => {
		listener.close();
	});
	attempt("listener read after close", () => listener.read());
	attempt("tcp bad address", () => new TCP({ address: "1.2.3", port: 80 }));
	attempt("tcp host name", () => new TCP({ host: "example.com", port: 80 }));
	attempt("tcp bad port", () => new TCP({ address: "192.168.4.2", port: 0 }));
	const tcp = new TCP({ address: "192.168.4.2", port: 9, onError() {} });
	attempt("tcp write before connect", () => {
		tcp.write(one);
	});
	attempt("tcp read before connect", () => tcp.read());
	attempt("tcp close", () => {
		tcp.close();
	});
	attempt("tcp close again", () => {
		tcp.close();
	});
	attempt("tcp write after close", () => {
		tcp.write(one);
	});
	attempt("tcp read after close", () => tcp.read());
	attempt("tcp from closed", () => new TCP({ from: tcp }));
	const first = new TCP({ address: "192.168.4.2", port: 9 });
	const second = new TCP({ from: first });
	attempt("tcp write after handover", () => {
		first.write(one);
	});
	attempt("tcp from handed over", () => new TCP({ from: first }));
	attempt("tcp from junk", () => new TCP({ from: Object.freeze({}) as unknown as TCP }));
	second.close();
	return results;
}

/* Sockets nobody keeps and nobody closed: only the collector frees them. */
function churn(): void {
	for (let i = 0; i < 5; i++)
		new UDP({ port: 0 });
	for (let i = 0; i < 2; i++)
		new Listener({ port: 0 });
	// Nobody has this address: the connections stay in SYN_SENT until collected.
	for (let i = 0; i < 3; i++)
		new TCP({ address: "192.168.4.3", port: 9 });
}

function pools(): string {
	const wanted = ["HEAP", "UDP_PCB", "TCP_PCB", "TCP_PCB_LISTEN", "TCP_SEG", "PBUF_POOL"];
	return Net.pools().filter((p) => wanted.includes(p.name)).map((p) => `${p.name}=${p.used}`).join(" ");
}

function execute(line: string): void {
	try {
		run(line.trim().split(/\s+/));
	}
	catch (e) {
		console.print(`error: ${(e as Error).name}: ${(e as Error).message}`);
	}
}

function run(words: string[]): void {
	switch (words[0]) {
	case "":
		return;
	case "stats":
		console.print(`tcp accepted ${stats.accepted} open ${stats.open} echoed ${stats.echoed}; udp ${PORT} dropped ${udpEcho.dropped}`);
		return;
	case "tcpstats": {
		const { deferred, lingered } = tcpStats();
		console.print(`tcp deferred ${deferred} lingered ${lingered}`);
	}
		return;
	case "pools":
		console.print(pools());
		return;
	case "gc":
		Platform.gc();
		console.print("collected");
		return;
	case "churn":
		churn();
		console.print("churned");
		return;
	case "misuse":
		for (const result of misuse())
			console.print(result);
		return;
	case "held":
		console.print(`tcp ${PORT + 2}: readable ${held.readable} max ${held.readableMax}`);
		return;
	case "drain":
		if (words[1] === "udp") {
			const texts: string[] = [];
			for (let datagram = udpHeld.read() as Datagram | undefined; datagram; datagram = udpHeld.read() as Datagram | undefined)
				texts.push(String.fromArrayBuffer(datagram));
			console.print(`udp ${PORT + 2}: ${texts.length} [${texts.join(",")}] dropped ${udpHeld.dropped}`);
		}
		else {
			held.draining = true;
			if (heldSocket && held.readable)
				drainHeld(heldSocket, held.readable);
			console.print(`tcp ${PORT + 2}: draining`);
		}
		return;
	case "mcast":
		udpLan.write(ArrayBuffer.fromString(words.slice(1).join(" ")), LAN_GROUP, PORT + 4);
		console.print("sent");
		return;
	case "connect":
		if (words.length < 4)
			console.print("usage: connect <address> <port> <text>");
		else
			connect(words[1], Number(words[2]), words.slice(3).join(" "));
		return;
	default:
		console.print(`unknown: ${words[0]}`);
	}
}

const console = new LineConsole(Platform.consoleEcho, execute);
console.print(`socket-echo: udp and tcp echo on 192.168.4.1:${PORT}`);
console.prompt();
