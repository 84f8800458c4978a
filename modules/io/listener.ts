/*
 * embedded:io/socket/listener (ECMA-419) for the simulator and the ESP32,
 * over lwIP's raw TCP API (listener.c). read() hands out accepted connections as TCP
 * sockets without callbacks; give them some with new TCP({ from, ... }).
 * Beyond ECMA-419: waiting(at), read(at) and drop(at) reach any connection
 * still queued (oldest first), for a server that lets some wait and takes
 * others.
 */
import TCP from "embedded:io/socket/tcp";
import { checkFormat, checkPort, countNotify } from "router/io-options";

type Handle = object;

const open = native("xs_router_listener_open") as (notify: ((count: number) => void) | undefined, port: number, address: string) => Handle;
const accept = native("xs_router_listener_read") as (handle: Handle, at: number) => object | undefined;
const waiting = native("xs_router_listener_waiting") as (handle: Handle, at: number) => string | undefined;
const drop = native("xs_router_listener_drop") as (handle: Handle, at: number) => void;
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

	/* The oldest waiting connection, or the at-th oldest (0 to 23). */
	read(at = 0): TCP | undefined {
		const handle = accept(this.#handle, at);
		return handle ? new TCP({ from: handle as TCP }) : undefined;
	}

	/* The at-th oldest waiting connection's peer address: "" once it is gone, undefined past the last. */
	waiting(at: number): string | undefined {
		return waiting(this.#handle, at);
	}

	/* Reset the at-th oldest waiting connection, unread. */
	drop(at: number): void {
		drop(this.#handle, at);
	}

	close(): void {
		close(this.#handle);
	}
}
