/*
 * HTTP messages as the IGD's parts hand them to each other, and the text
 * conversions they all need: UTF-8 to and from bytes, and XML escaping.
 */

export interface HttpRequest {
	method: string;
	/* the request target as sent, e.g. "/ctl/IPConn" */
	target: string;
	/* "HTTP/1.1" */
	version: string;
	/* names in lower case; a repeated header's values joined with ", " */
	headers: Map<string, string>;
	/* the body decoded as UTF-8; "" when there is none */
	body: string;
	remoteAddress: string;
	remotePort: number;
}

export interface HttpResponse {
	status: number;
	/* besides Content-Length, Server and Connection, which the server adds */
	headers?: readonly (readonly [string, string])[];
	body?: string;
}

export function utf8Encode(text: string): Uint8Array {
	const out: number[] = [];
	for (let i = 0; i < text.length; i++) {
		let c = text.charCodeAt(i);
		if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
			const d = text.charCodeAt(i + 1);
			if (d >= 0xdc00 && d < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
				i++;
			}
		}
		if (c >= 0xd800 && c < 0xe000)
			c = 0xfffd;   // a lone surrogate
		if (c < 0x80)
			out.push(c);
		else if (c < 0x800)
			out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
		else if (c < 0x10000)
			out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
		else
			out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
	}
	return Uint8Array.from(out);
}

/* Bytes to text; a malformed sequence becomes U+FFFD, never an exception. */
export function utf8Decode(bytes: Uint8Array): string {
	let text = "";
	for (let i = 0; i < bytes.length;) {
		const b = bytes[i];
		let need = 0, c = 0, min = 0;
		if (b < 0x80) {
			text += String.fromCharCode(b);
			i++;
			continue;
		}
		if (b >= 0xc2 && b < 0xe0) { need = 1; c = b & 31; min = 0x80; }
		else if (b >= 0xe0 && b < 0xf0) { need = 2; c = b & 15; min = 0x800; }
		else if (b >= 0xf0 && b < 0xf5) { need = 3; c = b & 7; min = 0x10000; }
		else {
			text += "\ufffd";
			i++;
			continue;
		}
		let j = 1;
		for (; j <= need && i + j < bytes.length && (bytes[i + j] & 0xc0) === 0x80; j++)
			c = (c << 6) | (bytes[i + j] & 63);
		if (j <= need || c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) {
			text += "\ufffd";
			i += j;
			continue;
		}
		text += String.fromCodePoint(c);
		i += j;
	}
	return text;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" };

/* Text made safe for XML content and attribute values. */
export function xmlEscape(text: string): string {
	return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}
