/*
 * SOAP 1.1 as UPnP control uses it: reading an action request (SOAPAction
 * header, envelope, the action element and its arguments) against the
 * service's table, and writing action responses and UPnP error faults.
 * Only the shape is checked here; what the values mean is the actions' job.
 */
import type { HttpRequest, HttpResponse, Pieces } from "upnp/message";
import { xmlEscape } from "upnp/message";
import { findAction } from "upnp/services";
import type { Action, OutValue, Service } from "upnp/services";
import { child, parseXml } from "upnp/xml";
import type { XmlElement } from "upnp/xml";

export type Control =
	| { ok: true; action: Action; args: Map<string, string> }
	/* an HTTP error (status) or, with a code, a UPnP fault */
	| { ok: false; status: number; code?: number; description: string };

const INVALID_ACTION = "Invalid Action";
const INVALID_ARGS = "Invalid Args";
const XML_TYPE: readonly (readonly [string, string])[] = [["Content-Type", "text/xml; charset=\"utf-8\""], ["EXT", ""]];
const ENVELOPE_OPEN = "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	+ "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>";
const ENVELOPE_CLOSE = "</s:Body></s:Envelope>\r\n";

function fault(code: number, description: string): Control {
	return { ok: false, status: 500, code, description };
}

/* "urn:...:WANIPConnection:2" -> ["urn:...:WANIPConnection", 2] */
function splitVersion(type: string): [string, number] {
	const m = /^(.*):([0-9]{1,4})$/.exec(type);
	return m ? [m[1], Number(m[2])] : [type, NaN];
}

const SOAP_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/";

/* The namespace of an element's name, declared on it or on the elements around it (innermost first). */
function namespaceOf(element: XmlElement, scope: readonly XmlElement[]): string | undefined {
	const colon = element.name.indexOf(":");
	const declaration = colon < 0 ? "xmlns" : `xmlns:${element.name.slice(0, colon)}`;
	for (const e of scope)
		for (const [name, value] of e.attributes)
			if (name === declaration)
				return value;
	return undefined;
}

/* The action a control request asks for and its in arguments, or why it cannot be run. */
export function parseControl(service: Service, request: HttpRequest): Control {
	const header = request.headers.get("soapaction");
	if (header === undefined)
		return { ok: false, status: 400, description: "no SOAPAction header" };
	const quoted = /^"(.*)"$/.exec(header.trim());
	const value = quoted ? quoted[1] : header.trim();
	const hash = value.lastIndexOf("#");
	const [type, version] = splitVersion(value.slice(0, hash < 0 ? 0 : hash));
	const [ours, ourVersion] = splitVersion(service.type);
	if (hash < 0 || type !== ours || !(version >= 1 && version <= ourVersion))
		return fault(401, INVALID_ACTION);
	const name = value.slice(hash + 1);

	const parsed = parseXml(request.body);
	if (!parsed.ok)
		return { ok: false, status: 400, description: `body is not well-formed XML: ${parsed.error}` };
	const envelope = parsed.value;
	const body = envelope.local === "Envelope" ? child(envelope, "Body") : undefined;
	const call = body?.children[0];
	if (!call || call.local !== name)
		return fault(401, INVALID_ACTION);
	// Names are what their namespaces say: a SOAP envelope, and the action in this service's.
	if (namespaceOf(envelope, [envelope]) !== SOAP_ENVELOPE || namespaceOf(body, [body, envelope]) !== SOAP_ENVELOPE)
		return { ok: false, status: 400, description: "not a SOAP 1.1 envelope (its namespace)" };
	const [callType, callVersion] = splitVersion(namespaceOf(call, [call, body, envelope]) ?? "");
	if (callType !== ours || !(callVersion >= 1 && callVersion <= ourVersion))
		return fault(401, INVALID_ACTION);
	const action = findAction(service, name);
	if (!action)
		return fault(401, INVALID_ACTION);

	const args = new Map<string, string>();
	for (const a of call.children) {
		if (a.children.length || !action.in.some((i) => i.name === a.local) || args.has(a.local))
			return fault(402, INVALID_ARGS);
		args.set(a.local, a.text);
	}
	if (args.size !== action.in.length)
		return fault(402, INVALID_ARGS);
	return { ok: true, action, args };
}

/*
 * An out value as element content. One that is an XML document itself (the
 * IGDv2 port listing) goes in a CDATA section, as miniupnpd sends it:
 * miniupnpc decodes no entities, so it could not read the listing escaped.
 */
function content(value: string): string {
	return value.startsWith("<?xml") && !value.includes("]]>") ? `<![CDATA[${value}]]>` : xmlEscape(value);
}

/* A successful action's answer: its out arguments in order. */
export function actionResponse(service: Service, actionName: string, out: readonly (readonly [string, OutValue])[]): HttpResponse {
	const head = `${ENVELOPE_OPEN}<u:${actionName}Response xmlns:u="${xmlEscape(service.type)}">`;
	const tail = `</u:${actionName}Response>${ENVELOPE_CLOSE}`;
	if (!out.some(([, value]) => typeof value === "function")) {
		let body = head;
		for (const [name, value] of out)
			body += `<${name}>${content(value as string)}</${name}>`;
		return { status: 200, headers: XML_TYPE, body: body + tail };
	}
	/*
	 * An argument made in pieces is an XML document (a listing) whose
	 * values are already escaped, so it goes in CDATA like content()'s.
	 */
	const parts: (string | Pieces)[] = [head];
	for (const [name, value] of out) {
		if (typeof value === "function")
			parts.push(`<${name}><![CDATA[`, value, `]]></${name}>`);
		else
			parts.push(`<${name}>${content(value)}</${name}>`);
	}
	parts.push(tail);
	let index = 0;
	const body: Pieces = () => {
		while (index < parts.length) {
			const part = parts[index];
			if (typeof part === "string") {
				index++;
				return part;
			}
			const piece = part();
			if (piece !== undefined)
				return piece;
			index++;
		}
		return undefined;
	};
	return { status: 200, headers: XML_TYPE, body };
}

/* A UPnP error: HTTP 500 with a SOAP Fault carrying the UPnPError. */
export function faultResponse(code: number, description: string): HttpResponse {
	const body = `${ENVELOPE_OPEN}<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>`
		+ `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode>`
		+ `<errorDescription>${xmlEscape(description)}</errorDescription></UPnPError></detail></s:Fault>${ENVELOPE_CLOSE}`;
	return { status: 500, headers: XML_TYPE, body };
}
