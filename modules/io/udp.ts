/*
 * embedded:io/socket/udp (ECMA-419) for the simulator and the ESP32, over
 * lwIP's raw UDP API (udp.c). read() takes the oldest waiting datagram, an
 * ArrayBuffer carrying its sender's address and port. A few datagrams wait
 * at most; later ones are dropped and counted (dropped).
 *
 * Not ECMA-419: `interface: "lan" | "wan"` ties the socket to that router
 * port. It receives only what arrived there, every write leaves by that
 * port (multicast too), and `multicast` joins the group on that port alone.
 * Any other value is a RangeError.
 */
import { checkFormat, checkPort, countNotify } from "router/io-options";

type Handle = object;
type Bytes = ArrayBuffer | ArrayBufferView;
export type Datagram = ArrayBuffer & { address: string; port: number };
export type Interface = "lan" | "wan";

const open = native("xs_router_udp_open") as (notify: ((count: number) => void) | undefined, port: number, address: string | undefined, multicast: string | undefined, ttl: number, iface: Interface | undefined) => Handle;
const read = native("xs_router_udp_read") as (handle: Handle) => Datagram | undefined;
const write = native("xs_router_udp_write") as (handle: Handle, buffer: ArrayBuffer, offset: number, length: number, address: string, port: number) => void;
const close = native("xs_router_udp_close") as (handle: Handle) => void;
const info = native("xs_router_udp_info") as (handle: Handle) => { port: number; dropped: number; unsent: number };

export interface Options {
	port?: number;
	address?: string;
	multicast?: string;
	timeToLive?: number;
	interface?: Interface;
	onReadable?: (this: UDP, packets: number) => void;
	onError?: (this: UDP) => void; // accepted; lwIP's raw UDP reports no errors
	format?: "buffer";
	target?: unknown;
}

export default class UDP {
	#handle: Handle;
	target: unknown;

	constructor(options: Options) {
		const { onReadable } = options;
		checkFormat("udp", options.format, "buffer");
		if (options.port !== undefined)
			checkPort("udp", options.port);
		this.target = options.target;
		this.#handle = open(countNotify(this, onReadable), options.port ?? 0, options.address, options.multicast, options.timeToLive ?? 1, options.interface);
	}

	get port(): number {
		return info(this.#handle).port;
	}

	/* Not ECMA-419: datagrams lost to a full receive queue, and sends lwIP refused. */
	get dropped(): number {
		return info(this.#handle).dropped;
	}

	get unsent(): number {
		return info(this.#handle).unsent;
	}

	get format(): "buffer" {
		return "buffer";
	}

	set format(value: "buffer") {
		checkFormat("udp", value, "buffer");
	}

	read(): Datagram | undefined {
		return read(this.#handle);
	}

	write(data: Bytes, address: string, port: number): void {
		let buffer: ArrayBuffer, offset = 0, length: number;
		if (data instanceof ArrayBuffer) {
			buffer = data;
			length = data.byteLength;
		}
		else if (ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer) {
			buffer = data.buffer;
			offset = data.byteOffset;
			length = data.byteLength;
		}
		else
			throw new TypeError("udp: needs an ArrayBuffer or a view of one");
		checkPort("udp", port);
		write(this.#handle, buffer, offset, length, address, port);
	}

	close(): void {
		close(this.#handle);
	}
}
