/*
 * Which answer each HTTP request gets: descriptions, the presentation page,
 * SOAP control and GENA subscriptions, by path and method. The actions and
 * the subscriptions are the router's (Handlers); this only routes, and turns
 * control requests and their results into SOAP.
 */
import type { IgdContext } from "upnp/context";
import { rootDescription, scpd } from "upnp/description";
import * as Mappings from "upnp/mappings";
import type { HttpRequest, HttpResponse, Pieces } from "upnp/message";
import { xmlEscape } from "upnp/message";
import { SERVICES } from "upnp/services";
import type { Action, ActionResult, Service } from "upnp/services";
import { actionResponse, faultResponse, parseControl } from "upnp/soap";

export interface Handlers {
	invoke(service: Service, action: Action, args: Map<string, string>, requester: string): ActionResult;
	subscription(service: Service, request: HttpRequest): HttpResponse;
}

const XML = "text/xml; charset=\"utf-8\"";

function text(status: number, body: string, headers: readonly (readonly [string, string])[] = []): HttpResponse {
	return { status, headers: [["Content-Type", "text/plain; charset=\"utf-8\""], ...headers], body: `${body}\r\n` };
}

/* GET and HEAD only (the server leaves the body out of HEAD answers). */
function document(request: HttpRequest, type: string, make: () => string | Pieces): HttpResponse {
	if (request.method !== "GET" && request.method !== "HEAD")
		return text(405, "method not allowed", [["Allow", "GET, HEAD"]]);
	return { status: 200, headers: [["Content-Type", type]], body: make() };
}

function statusPage(ctx: IgdContext): string {
	const external = ctx.externalAddress();
	return "<!DOCTYPE html>\r\n<html><head><title>natbridge</title></head><body>"
		+ `<h1>${xmlEscape(ctx.product)}</h1><p>UPnP Internet Gateway Device</p>`
		+ `<p>External address: ${external ? xmlEscape(external) : "none"}</p>`
		+ `<p>Port mappings: ${Mappings.count()}</p></body></html>\r\n`;
}

function control(ctx: IgdContext, handlers: Handlers, service: Service, request: HttpRequest): HttpResponse {
	if (request.method !== "POST")
		return text(405, "method not allowed", [["Allow", "POST"]]);
	const parsed = parseControl(service, request);
	let result: ActionResult;
	if (!parsed.ok) {
		if (parsed.code === undefined)
			return text(parsed.status, parsed.description);
		result = { ok: false, code: parsed.code, description: parsed.description };
	}
	else {
		ctx.counters.actions++;
		result = handlers.invoke(service, parsed.action, parsed.args, request.remoteAddress);
		if (result.ok)
			return actionResponse(service, parsed.action.name, result.out);
	}
	ctx.counters.faults++;
	return faultResponse(result.code, result.description);
}

/* The answer to one request from a LAN host. */
export function route(ctx: IgdContext, handlers: Handlers, request: HttpRequest): HttpResponse {
	const query = request.target.indexOf("?");
	const path = query < 0 ? request.target : request.target.slice(0, query);
	if (path === "/rootDesc.xml")
		return document(request, XML, () => rootDescription(ctx));
	if (path === "/")
		return document(request, "text/html; charset=\"utf-8\"", () => statusPage(ctx));
	for (const service of SERVICES) {
		if (path === service.scpdPath)
			return document(request, XML, () => scpd(service));
		if (path === service.controlPath)
			return control(ctx, handlers, service, request);
		if (path === service.eventPath) {
			if (request.method !== "SUBSCRIBE" && request.method !== "UNSUBSCRIBE")
				return text(405, "method not allowed", [["Allow", "SUBSCRIBE, UNSUBSCRIBE"]]);
			return handlers.subscription(service, request);
		}
	}
	return text(404, "not found");
}
