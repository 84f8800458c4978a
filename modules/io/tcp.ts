/*
 * embedded:io/socket/tcp (ECMA-419) for the simulator and the ESP32, over
 * lwIP's raw TCP API (tcp.c). A socket either connects out (address and port) or takes
 * over the connection of another socket (`from`), which is how a Listener's
 * accepted connections get their callbacks. Read what onReadable reported
 * and write at most what onWritable offered: the peer is acknowledged only
 * as bytes are read, and a write past the offer throws instead of queueing
 * without bound.
 */
import { checkFormat, checkPort } from "router/io-options";

type Handle = object;
type Notify = (kind: number, value: number) => void;
type Bytes = ArrayBuffer | ArrayBufferView;

const connect = native("xs_router_tcp_connect") as (notify: Notify | undefined, address: string, port: number, nodelay: boolean) => Handle;
const adopt = native("xs_router_tcp_adopt") as (handle: Handle, notify: Notify | undefined, nodelay: boolean) => void;
const read = native("xs_router_tcp_read") as (handle: Handle, count: number | undefined) => ArrayBuffer | undefined;
const write = native("xs_router_tcp_write") as (handle: Handle, buffer: ArrayBuffer, offset: number, length: number) => void;
const close = native("xs_router_tcp_close") as (handle: Handle) => void;
const remote = native("xs_router_tcp_remote") as (handle: Handle) => [string, number] | undefined;

/* Event kinds and onError reasons as tcp.c numbers them. */
const READABLE = 1, WRITABLE = 2, ERROR = 4;
const REASONS = ["error", "connection refused", "connection reset", "connection timed out", "connection aborted", "connection closed by peer"];

export interface Options {
	address?: string;
	host?: string;
	port?: number;
	from?: TCP | object;
	nodelay?: boolean;
	onReadable?: (this: TCP, bytes: number) => void;
	onWritable?: (this: TCP, bytes: number) => void;
	onError?: (this: TCP, error: Error) => void;
	format?: "buffer";
	target?: unknown;
}

function bytes(data: Bytes): [ArrayBuffer, number, number] {
	if (data instanceof ArrayBuffer)
		return [data, 0, data.byteLength];
	if (ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer)
		return [data.buffer, data.byteOffset, data.byteLength];
	throw new TypeError("tcp: needs an ArrayBuffer or a view of one");
}

/*
 * Not a private method: in this XS (13.3, from @agoric/xsnap) an instance of
 * a class with a private method stayed reachable after its last use (found
 * with the fixture's collection test), which would keep its socket open.
 */
function live(handle: Handle | undefined): Handle {
	if (!handle)
		throw new Error("tcp: socket was handed over to another (from)");
	return handle;
}

export default class TCP {
	#handle: Handle | undefined;
	#remote: [string, number] | undefined;
	target: unknown;

	constructor(options: Options) {
		const { onReadable, onWritable, onError } = options;
		const nodelay = !!options.nodelay;
		checkFormat("tcp", options.format, "buffer");
		this.target = options.target;
		// The closure holds `this`, and so the handle: tcp.c remembers it while
		// events can still come, so a socket with callbacks is never collected open.
		const notify = onReadable || onWritable || onError ? (kind: number, value: number) => {
			if (kind === READABLE)
				onReadable?.call(this, value);
			else if (kind === WRITABLE)
				onWritable?.call(this, value);
			else if (kind === ERROR)
				onError?.call(this, new Error(`tcp: ${REASONS[value] ?? REASONS[0]}`));
		} : undefined;
		const from = options.from;
		if (from !== undefined) {
			if (from instanceof TCP) {
				if (!from.#handle)
					throw new Error("tcp: from: that socket was already handed over");
				adopt(from.#handle, notify, nodelay);
				this.#handle = from.#handle;
				from.#handle = undefined;
			}
			else {
				adopt(from, notify, nodelay); // a Listener's accepted connection; tcp.c checks it
				this.#handle = from;
			}
			return;
		}
		const address = options.address ?? options.host;
		if (typeof address !== "string")
			throw new TypeError("tcp: needs address and port, or from");
		if (options.address === undefined && !/^\d+\.\d+\.\d+\.\d+$/.test(address))
			throw new RangeError("tcp: host names need DNS, which these sockets do not do; give an address");
		checkPort("tcp", options.port);
		this.#handle = connect(notify, address, options.port, nodelay);
	}

	get remoteAddress(): string | undefined {
		if (!this.#remote && this.#handle)
			this.#remote = remote(this.#handle);
		return this.#remote?.[0];
	}

	get remotePort(): number | undefined {
		if (!this.#remote && this.#handle)
			this.#remote = remote(this.#handle);
		return this.#remote?.[1];
	}

	get format(): "buffer" {
		return "buffer";
	}

	set format(value: "buffer") {
		checkFormat("tcp", value, "buffer");
	}

	/* read(count?) -> ArrayBuffer or undefined; read(buffer) -> bytes copied into it */
	read(count?: number | Bytes): ArrayBuffer | number | undefined {
		const handle = live(this.#handle);
		if (count === undefined || typeof count === "number")
			return read(handle, count);
		const [buffer, offset, length] = bytes(count);
		const data = read(handle, length);
		if (!data)
			return 0;
		new Uint8Array(buffer, offset, data.byteLength).set(new Uint8Array(data));
		return data.byteLength;
	}

	write(data: Bytes | number): void {
		const handle = live(this.#handle);
		if (typeof data === "number") {
			write(handle, Uint8Array.of(data & 0xff).buffer, 0, 1);
			return;
		}
		const [buffer, offset, length] = bytes(data);
		write(handle, buffer, offset, length);
	}

	close(): void {
		if (this.#handle)
			close(this.#handle);
	}
}
