/*
 * The device description (/rootDesc.xml) and each service's SCPD, written
 * from the tables in services.ts on every request: a few kilobytes of text
 * made when asked cost less heap than keeping them, and follow the LAN
 * address and port if those change.
 */
import type { IgdContext } from "upnp/context";
import { xmlEscape } from "upnp/message";
import type { Pieces } from "upnp/message";
import { DEVICES, SERVICES } from "upnp/services";
import type { Action, Device, DeviceKey, Service, StateVariable } from "upnp/services";
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
/* A service description, made an action or a variable at a time as it is sent (the largest is 11 KB). */
export function scpd(service: Service): Pieces {
	let stage = 0, index = 0;
	return () => {
		switch (stage) {
		case 0:
			stage = 1;
			return `${HEAD}<scpd xmlns="urn:schemas-upnp-org:service-1-0">${SPEC}<actionList>`;
		case 1:
			if (index < service.actions.length)
				return actionXml(service.actions[index++]);
			stage = 2;
			index = 0;
			return "</actionList><serviceStateTable>";
		case 2:
			if (index < service.variables.length)
				return variableXml(service.variables[index++]);
			stage = 3;
			return "</serviceStateTable></scpd>\r\n";
		default:
			return undefined;
		}
	};
}

function actionXml(action: Action): string {
	let xml = `<action>${element("name", action.name)}`;
	if (action.in.length || action.out.length) {
		xml += "<argumentList>";
		for (const [direction, args] of [["in", action.in], ["out", action.out]] as const)
			for (const a of args)
				xml += `<argument>${element("name", a.name)}${element("direction", direction)}${element("relatedStateVariable", a.variable)}</argument>`;
		xml += "</argumentList>";
	}
	return `${xml}</action>`;
}

function variableXml(v: StateVariable): string {
	let xml = `<stateVariable sendEvents="${v.evented ? "yes" : "no"}">${element("name", v.name)}${element("dataType", v.type)}`;
	if (v.allowed) {
		xml += "<allowedValueList>";
		for (const value of v.allowed)
			xml += element("allowedValue", value);
		xml += "</allowedValueList>";
	}
	if (v.range)
		xml += `<allowedValueRange>${element("minimum", v.range[0])}${element("maximum", v.range[1])}</allowedValueRange>`;
	return `${xml}</stateVariable>`;
}
