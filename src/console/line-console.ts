/*
 * The serial console's line discipline: bytes in, complete lines out, with
 * backspace and CR/LF handled the way a terminal on a UART sends them, and
 * a bound on line length so a stuck sender cannot grow the heap.
 */
import Serial from "embedded:io/serial";

const MAX_LINE = 256;
const PROMPT = "router> ";

export class LineConsole {
	#serial: Serial;
	#line = "";
	#overflow = false;
	#lastWasCR = false;
	#echo: boolean;
	#held = false;
	#onLine: (line: string) => void;

	constructor(echo: boolean, onLine: (line: string) => void) {
		this.#echo = echo;
		this.#onLine = onLine;
		// eslint-disable-next-line @typescript-eslint/no-this-alias
		const self = this;
		this.#serial = new Serial({
			port: 0,
			receive: 3,
			transmit: 1,
			baud: 115200,
			format: "buffer",
			onReadable() {
				const data = this.read();
				if (data instanceof ArrayBuffer)
					self.#receive(new Uint8Array(data));
			},
		});
	}

	#receive(bytes: Uint8Array): void {
		if (this.#held)
			return;
		for (const byte of bytes) {
			if (byte === 13 || byte === 10) {
				// CR LF from a terminal is one line end, not two.
				if (byte === 10 && this.#lastWasCR) {
					this.#lastWasCR = false;
					continue;
				}
				this.#lastWasCR = byte === 13;
				const line = this.#line, overflow = this.#overflow;
				this.#line = "";
				this.#overflow = false;
				if (this.#echo)
					this.write("\r\n");
				if (overflow)
					this.print(`error: line longer than ${MAX_LINE} characters; ignored`);
				else
					this.#onLine(line);
				this.prompt();
				continue;
			}
			this.#lastWasCR = false;
			if (byte === 8 || byte === 127) {
				if (this.#line.length) {
					this.#line = this.#line.slice(0, -1);
					if (this.#echo)
						this.write("\b \b");
				}
				continue;
			}
			if (byte < 32 || byte > 126)
				continue; // control and non-ASCII bytes have no place in a command
			if (this.#line.length >= MAX_LINE) {
				this.#overflow = true;
				continue;
			}
			this.#line += String.fromCharCode(byte);
			if (this.#echo)
				this.write(String.fromCharCode(byte));
		}
	}

	write(text: string): void {
		this.#serial.write(ArrayBuffer.fromString(text));
	}

	print(line: string): void {
		this.write(line + "\r\n");
	}

	prompt(): void {
		if (!this.#held)
			this.write(PROMPT);
	}

	/* Going down (restart): no more prompts, input is ignored. */
	hold(): void {
		this.#held = true;
	}

	/* A message that arrives on its own (a DHCP lease, a link change): keep the typed line. */
	notify(line: string): void {
		this.write("\r\n" + line + "\r\n" + PROMPT + this.#line);
	}
}
