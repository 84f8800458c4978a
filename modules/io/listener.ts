/*
 * embedded:io/socket/listener (ECMA-419) for the simulator and the ESP32,
 * over lwIP's raw TCP API (listener.c). read() hands out accepted connections as TCP
 * sockets without callbacks; give them some with new TCP({ from, ... }).
 */
import TCP from "embedded:io/socket/tcp";
import { checkFormat, checkPort, countNotify } from "router/io-options";

type Handle = object;

const open = native("xs_router_listener_open") as (notify: ((count: number) => void) | undefined, port: number, address: string) => Handle;
const accept = native("xs_router_listener_read") as (handle: Handle) => object | undefined;
const port = native("xs_router_listener_port") as (handle: Handle) => number;
const close = native("xs_router_listener_close") as (handle: Handle) => void;

export interface Options {
	port?: number;
	address?: string;
	onReadable?: (this: Listener, requests: number) => void;
	format?: "socket/tcp";
	target?: unknown;
}

export default class Listener {
	#handle: Handle;
	target: unknown;

	constructor(options: Options) {
		const { onReadable } = options;
		checkFormat("listener", options.format, "socket/tcp");
		if (options.port !== undefined)
			checkPort("listener", options.port);
		this.target = options.target;
		this.#handle = open(countNotify(this, onReadable), options.port ?? 0, options.address ?? "");
	}

	get port(): number {
		return port(this.#handle);
	}

	get format(): "socket/tcp" {
		return "socket/tcp";
	}

	set format(value: "socket/tcp") {
		checkFormat("listener", value, "socket/tcp");
	}

	read(): TCP | undefined {
		const handle = accept(this.#handle);
		return handle ? new TCP({ from: handle as TCP }) : undefined;
	}

	close(): void {
		close(this.#handle);
	}
}
