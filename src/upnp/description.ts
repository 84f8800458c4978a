/*
 * The device description (/rootDesc.xml) and each service's SCPD, written
 * from the tables in services.ts on every request: a few kilobytes of text
 * made when asked cost less heap than keeping them, and follow the LAN
 * address and port if those change.
 */
import type { IgdContext } from "upnp/context";
import { xmlEscape } from "upnp/message";
import { DEVICES, SERVICES } from "upnp/services";
import type { Device, DeviceKey, Service } from "upnp/services";
import { PRODUCT, VERSION } from "version";

const HEAD = "<?xml version=\"1.0\"?>\r\n";
/* UDA 1.0: IGDv1 as Windows and consoles expect it. */
const SPEC = "<specVersion><major>1</major><minor>0</minor></specVersion>";

function element(name: string, text: string | number): string {
	return `<${name}>${typeof text === "number" ? text : xmlEscape(text)}</${name}>`;
}

function device(ctx: IgdContext, d: Device): string {
	let xml = `<device>${element("deviceType", d.type)}${element("friendlyName", d.friendlyName)}`
		+ `${element("manufacturer", PRODUCT)}${element("modelName", `${PRODUCT} router`)}${element("modelNumber", VERSION)}`
		+ `${element("UDN", `uuid:${ctx.uuids[d.key]}`)}<serviceList>`;
	for (const s of SERVICES)
		if (s.device === d.key)
			xml += `<service>${element("serviceType", s.type)}${element("serviceId", s.id)}${element("SCPDURL", s.scpdPath)}`
				+ `${element("controlURL", s.controlPath)}${element("eventSubURL", s.eventPath)}</service>`;
	xml += "</serviceList>";
	if (d.children.length) {
		xml += "<deviceList>";
		for (const key of d.children)
			xml += device(ctx, byKey(key));
		xml += "</deviceList>";
	}
	if (d.key === "root")
		xml += element("presentationURL", `http://${ctx.lanAddress()}:${ctx.httpPort()}/`);
	return `${xml}</device>`;
}

function byKey(key: DeviceKey): Device {
	const found = DEVICES.find((d) => d.key === key);
	if (!found)
		throw new RangeError(`no device ${key}`);
	return found;
}

/* The root device description with its embedded devices and their services. */
export function rootDescription(ctx: IgdContext): string {
	return `${HEAD}<root xmlns="urn:schemas-upnp-org:device-1-0">${SPEC}${device(ctx, byKey("root"))}</root>\r\n`;
}

/* A service's description: its actions with their arguments, and its state variables. */
export function scpd(service: Service): string {
	// pieces joined once: += on a growing string copies it each time
	const xml = [`${HEAD}<scpd xmlns="urn:schemas-upnp-org:service-1-0">${SPEC}<actionList>`];
	for (const action of service.actions) {
		xml.push(`<action>${element("name", action.name)}`);
		if (action.in.length || action.out.length) {
			xml.push("<argumentList>");
			for (const [direction, args] of [["in", action.in], ["out", action.out]] as const)
				for (const a of args)
					xml.push(`<argument>${element("name", a.name)}${element("direction", direction)}${element("relatedStateVariable", a.variable)}</argument>`);
			xml.push("</argumentList>");
		}
		xml.push("</action>");
	}
	xml.push("</actionList><serviceStateTable>");
	for (const v of service.variables) {
		xml.push(`<stateVariable sendEvents="${v.evented ? "yes" : "no"}">${element("name", v.name)}${element("dataType", v.type)}`);
		if (v.allowed) {
			xml.push("<allowedValueList>");
			for (const value of v.allowed)
				xml.push(element("allowedValue", value));
			xml.push("</allowedValueList>");
		}
		if (v.range)
			xml.push(`<allowedValueRange>${element("minimum", v.range[0])}${element("maximum", v.range[1])}</allowedValueRange>`);
		xml.push("</stateVariable>");
	}
	xml.push("</serviceStateTable></scpd>\r\n");
	return xml.join("");
}
