/*
 * A small, strict, non-validating XML reader: enough for the SOAP bodies
 * control points send. It keeps elements (prefixed names, attributes) and
 * their character data, decodes the five entities, character references and
 * CDATA, and skips comments and processing instructions. A DOCTYPE is
 * refused outright, so no entity is ever defined, let alone expanded (the
 * billion-laughs defence), and depth, nodes and attributes are bounded, so
 * the work is too. Bad input is an error string, never an exception.
 */
import type { Parsed } from "net/ipv4";

export interface XmlElement {
	/* as written, e.g. "s:Envelope" */
	name: string;
	/* without its prefix, e.g. "Envelope" */
	local: string;
	attributes: [string, string][];
	children: XmlElement[];
	/* the character data directly inside, CDATA included, entities decoded */
	text: string;
}

export interface XmlLimits {
	/* elements nested in one another, the root being 1 */
	depth: number;
	/* elements, comments, processing instructions and CDATA sections in the document */
	nodes: number;
}

/* A SOAP request is four levels plus its arguments, and at most a dozen of those. */
export const XML_LIMITS: XmlLimits = { depth: 12, nodes: 128 };
/* Attributes of one element: an envelope has three or four. */
const MAX_ATTRIBUTES = 16;

const NAME = /[A-Za-z_:\u0080-\uffff][\w.:\u0080-\uffff-]*/y;
const SPACE = /[ \t\r\n]*/y;
/* Characters XML 1.0 does not allow anywhere, even escaped. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;
const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: "\"", apos: "'" };

function codePointOk(c: number): boolean {
	return c === 9 || c === 10 || c === 13 || (c >= 0x20 && c < 0xd800) || (c >= 0xe000 && c < 0xfffe) || (c >= 0x10000 && c <= 0x10ffff);
}

const REFERENCE = "(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);";
const BAD_AMPERSAND = new RegExp(`&(?!${REFERENCE})`);
const REFERENCES = new RegExp(`&${REFERENCE}`, "g");

/* Character data with its references replaced; undefined when one is not well formed. */
function decode(raw: string): string | undefined {
	if (!raw.includes("&"))
		return raw;
	if (BAD_AMPERSAND.test(raw))
		return undefined;
	let bad = 0;
	const text = raw.replace(REFERENCES, (_, ref: string) => {
		if (ref[0] !== "#")
			return NAMED[ref];
		const c = ref[1] === "x" ? parseInt(ref.slice(2), 16) : Number(ref.slice(1));
		if (codePointOk(c))
			return String.fromCodePoint(c);
		bad++;
		return "";
	});
	return bad ? undefined : text;
}

function nameAt(source: string, at: number): string | undefined {
	NAME.lastIndex = at;
	return NAME.exec(source)?.[0];
}

function skipSpace(source: string, at: number): number {
	SPACE.lastIndex = at;
	SPACE.exec(source);
	return SPACE.lastIndex;
}

function fail(error: string): Parsed<XmlElement> {
	return { ok: false, error };
}

/* The document's root element, or what is wrong with the document. */
export function parseXml(source: string, limits: XmlLimits = XML_LIMITS): Parsed<XmlElement> {
	if (FORBIDDEN.test(source))
		return fail("a character XML does not allow");
	const stack: XmlElement[] = [];
	let root: XmlElement | undefined;
	let nodes = 0;
	const start = source.startsWith("\ufeff") ? 1 : 0;
	let i = start;
	while (i < source.length) {
		const lt = source.indexOf("<", i);
		const end = lt < 0 ? source.length : lt;
		if (end > i) {
			const raw = source.slice(i, end);
			const top = stack.at(-1);
			if (!top) {
				if (skipSpace(raw, 0) !== raw.length)
					return fail("text outside the root element");
			}
			else {
				const text = raw.includes("]]>") ? undefined : decode(raw);
				if (text === undefined)
					return fail("a bad entity or character reference, or ']]>' in text");
				top.text += text;
			}
		}
		if (lt < 0)
			break;
		// comments and the like count too: they bound the work as elements do
		if (source[lt + 1] !== "/" && ++nodes > limits.nodes)
			return fail(`more than ${limits.nodes} elements`);
		if (source.startsWith("<?", lt)) {
			const close = source.indexOf("?>", lt + 2);
			if (close < 0)
				return fail("an unterminated processing instruction");
			if (/^<\?xml[ \t\r\n?]/i.test(source.slice(lt, lt + 6)) && lt !== start)
				return fail("an XML declaration not at the start");
			i = close + 2;
		}
		else if (source.startsWith("<!--", lt)) {
			const close = source.indexOf("-->", lt + 4);
			if (close < 0)
				return fail("an unterminated comment");
			i = close + 3;
		}
		else if (source.startsWith("<![CDATA[", lt)) {
			const close = source.indexOf("]]>", lt + 9);
			const top = stack.at(-1);
			if (!top)
				return fail("CDATA outside the root element");
			if (close < 0)
				return fail("an unterminated CDATA section");
			top.text += source.slice(lt + 9, close);
			i = close + 3;
		}
		else if (source.startsWith("<!", lt)) {
			return fail(source.startsWith("<!DOCTYPE", lt) ? "a DOCTYPE (not accepted)" : "a markup declaration (not accepted)");
		}
		else if (source.startsWith("</", lt)) {
			const name = nameAt(source, lt + 2);
			const top = stack.pop();
			if (!top || name !== top.name)
				return fail(`a mismatched end tag </${name ?? ""}>`);
			i = skipSpace(source, lt + 2 + name.length);
			if (source[i] !== ">")
				return fail(`an unterminated end tag </${name}>`);
			i++;
		}
		else {
			const name = nameAt(source, lt + 1);
			if (name === undefined)
				return fail("a bad element name");
			if (root && stack.length === 0)
				return fail("more than one root element");
			if (stack.length >= limits.depth)
				return fail(`elements nested deeper than ${limits.depth}`);
			const colon = name.indexOf(":");
			const element: XmlElement = { name, local: name.slice(colon + 1), attributes: [], children: [], text: "" };
			i = lt + 1 + name.length;
			for (;;) {
				const at = skipSpace(source, i);
				if (source[at] === ">" || source.startsWith("/>", at)) {
					i = at;
					break;
				}
				const attribute = nameAt(source, at);
				// attributes are separated from the name and each other by space
				if (at === i || attribute === undefined)
					return fail(at >= source.length ? `an unterminated tag <${name}>` : `a bad attribute in <${name}>`);
				let j = skipSpace(source, at + attribute.length);
				if (source[j] !== "=")
					return fail(`attribute ${attribute} without a value`);
				j = skipSpace(source, j + 1);
				const quote = source[j];
				const close = quote === "\"" || quote === "'" ? source.indexOf(quote, j + 1) : -1;
				if (close < 0)
					return fail(`attribute ${attribute} not quoted or not closed`);
				const raw = source.slice(j + 1, close);
				const value = raw.includes("<") ? undefined : decode(raw);
				if (value === undefined)
					return fail(`a bad value for attribute ${attribute}`);
				if (element.attributes.some((a) => a[0] === attribute))
					return fail(`attribute ${attribute} twice`);
				if (element.attributes.length >= MAX_ATTRIBUTES)
					return fail(`more than ${MAX_ATTRIBUTES} attributes in <${name}>`);
				element.attributes.push([attribute, value]);
				i = close + 1;
			}
			const parent = stack.at(-1);
			if (parent)
				parent.children.push(element);
			else
				root = element;
			if (source[i] === ">") {
				stack.push(element);
				i++;
			}
			else {
				i += 2;
			}
		}
	}
	if (stack.length)
		return fail(`an unterminated element <${stack[stack.length - 1].name}>`);
	if (!root)
		return fail("no root element");
	return { ok: true, value: root };
}

/* The first child element with this local name. */
export function child(element: XmlElement, local: string): XmlElement | undefined {
	return element.children.find((c) => c.local === local);
}
