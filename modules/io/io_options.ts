/*
 * What our ECMA-419 sockets (udp.ts, listener.ts, tcp.ts)
 * check and build alike, so that they word their errors alike.
 */

/* Each socket has one format; naming another is a RangeError, not a silent default. */
export function checkFormat(who: string, format: unknown, only: string): void {
	if (format !== undefined && format !== only)
		throw new RangeError(`${who}: format ${typeof format === "string" ? format : typeof format} (only "${only}")`);
}

export function checkPort(who: string, port: unknown): asserts port is number {
	if (!Number.isInteger(port))
		throw new RangeError(`${who}: port must be an integer`);
}

/*
 * notify(count) for udp.c and listener.c, which remember it until close():
 * the closure holds the socket (and so its handle), so a socket that
 * reports arrivals is not collected open.
 */
export function countNotify<T>(socket: T, onReadable: ((this: T, count: number) => void) | undefined): ((count: number) => void) | undefined {
	return onReadable ? (count: number) => {
		onReadable.call(socket, count);
	} : undefined;
}
