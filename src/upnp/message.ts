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

/*
 * A body made piece by piece as the socket takes it: each call gives the
 * next piece, undefined at the end. A large answer (a listing of every
 * mapping, a service description) then holds the XS heap for a piece at a
 * time, never the whole.
 */
export type Pieces = () => string | undefined;

export interface HttpResponse {
	status: number;
	/* besides Content-Length, Transfer-Encoding, Server and Connection, which the server adds */
	headers?: readonly (readonly [string, string])[];
	body?: string | Pieces;
}

/*
 * Text and bytes in linear time and without a byte-per-slot array: XS finds
 * a string's i-th character by walking it from the start, so a charCodeAt
 * loop is quadratic, and a number[] costs a slot per byte (16 bytes on the
 * board). XS's own conversions (ArrayBuffer.fromString, String.fromArrayBuffer,
 * in XS 13 and 17 alike) are native; only what they would get wrong is
 * replaced first (encoding) or goes the slow way (decoding).
 */
/* Lone surrogates (U+FFFD) and NUL (never valid in a message): XS would write CESU-8 and C0 80. */
const NOT_UTF8 = /[\0\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function utf8Encode(text: string): Uint8Array {
	return new Uint8Array(ArrayBuffer.fromString(text.replace(NOT_UTF8, "\ufffd")));
}

/* ASCII without NUL natively (String.fromArrayBuffer accepts overlong and surrogate forms, and stops at NUL); else the careful decoder. */
export function utf8Decode(bytes: Uint8Array): string {
	for (let i = 0; i < bytes.length; i++)
		if (bytes[i] === 0 || bytes[i] > 0x7f)
			return utf8DecodeSlow(bytes);
	const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
	return String.fromArrayBuffer(whole ? bytes.buffer : bytes.slice().buffer);
}

/* Bytes to text; a malformed sequence becomes U+FFFD, never an exception. */
function utf8DecodeSlow(bytes: Uint8Array): string {
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
