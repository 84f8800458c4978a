/*
 * embedded:io/serial (ECMA-419) for the simulator: stdin and stdout stand
 * in for the console UART. Pin and baud options are accepted and ignored.
 */
const open = native("xs_serial_open") as (self: object, onReadable: unknown) => void;
const close = native("xs_serial_close") as () => void;
const read = native("xs_serial_read") as () => ArrayBuffer | undefined;
const write = native("xs_serial_write") as (data: ArrayBuffer | number) => void;

interface Options {
	onReadable?: (this: Serial, bytes: number) => void;
	target?: unknown;
	format?: "buffer";
	[other: string]: unknown;
}

export default class Serial {
	target: unknown;
	constructor(options: Options) {
		this.target = options.target;
		open(this, options.onReadable);
	}
	get format(): "buffer" {
		return "buffer";
	}
	set format(value: string) {
		if (value !== "buffer")
			throw new RangeError("serial: only the buffer format");
	}
	read(): ArrayBuffer | undefined {
		return read();
	}
	write(data: ArrayBuffer | ArrayBufferView | number): void {
		if (typeof data === "number")
			write(data);
		else if (data instanceof ArrayBuffer)
			write(data);
		else
		{
			const copy = new Uint8Array(data.byteLength);
			copy.set(new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength));
			write(copy.buffer);
		}
	}
	close(): void {
		close();
	}
}
