/*
 * The SOAP actions of the three services: each checks its arguments'
 * values (the SOAP layer has checked they are all there), asks permission,
 * and answers from the router's state or changes the mappings. Every check
 * comes before the first change, so a refused request changes nothing.
 * Also the evented variables' values, which GENA sends.
 */
import { formatAddress, hostAddressProblem, parseAddress } from "net/ipv4";
import type { Forward, ForwardProto } from "napt";
import { onLan } from "upnp/context";
import type { IgdContext } from "upnp/context";
import { xmlEscape } from "upnp/message";
import * as Mappings from "upnp/mappings";
import { allowedPorts, permitted, secureAllows } from "upnp/permissions";
import type { Action, ActionResult, Service, ServiceKey } from "upnp/services";

/* GetListOfPortMappings answers at most this many entries (IGDv2 lets the gateway cut the list). */
export const LIST_MAX = 64;

type Values = Record<string, string>;

interface Call {
	ctx: IgdContext;
	action: Action;
	args: Map<string, string>;
	requester: string;
}

/* A UPnP error; its description is the standard name, with the reason after it. */
class Refusal extends Error {
	constructor(readonly code: number, readonly description: string) {
		super(description);
	}
}

function invalid(why: string): Refusal {
	return new Refusal(402, `Invalid Args (${why})`);
}

/* The out arguments in the order services.ts gives them. */
function reply(action: Action, values: Values): ActionResult {
	return { ok: true, out: action.out.map((a) => [a.name, values[a.name] ?? ""] as const) };
}

function arg(call: Call, name: string): string {
	return (call.args.get(name) ?? "").trim();
}

/* A decimal number (digits only, no sign, exponent or hex) of at most `max`. */
function decimal(call: Call, name: string, max: number): number {
	const text = arg(call, name);
	if (!/^\d{1,10}$/.test(text) || Number(text) > max)
		throw invalid(`${name} must be a decimal number 0 to ${max}`);
	return Number(text);
}

function protocol(call: Call): ForwardProto {
	const text = arg(call, "NewProtocol").toUpperCase();
	if (text !== "TCP" && text !== "UDP")
		throw invalid("NewProtocol must be TCP or UDP");
	return text === "TCP" ? "tcp" : "udp";
}

function boolean(call: Call, name: string): boolean {
	const text = arg(call, name).toLowerCase();
	if (text === "1" || text === "true" || text === "yes")
		return true;
	if (text === "0" || text === "false" || text === "no")
		return false;
	throw invalid(`${name} must be 0 or 1`);
}

/* "" (any remote host) or an IPv4 address, in its usual spelling. */
function remoteHost(call: Call): string {
	const text = arg(call, "NewRemoteHost");
	if (text === "")
		return "";
	const a = parseAddress(text);
	if (!a.ok)
		throw invalid("NewRemoteHost must be empty or an IPv4 address");
	return a.value === 0 ? "" : formatAddress(a.value);
}

/* The internal client: the requester when empty, else a host on the LAN. */
function internalClient(call: Call): string {
	const text = arg(call, "NewInternalClient");
	if (text === "")
		return call.requester;
	const a = parseAddress(text);
	if (!a.ok || !onLan(call.ctx, text) || hostAddressProblem(a.value, call.ctx.lanPrefix()) !== undefined)
		throw invalid("NewInternalClient must be a host on the LAN");
	return formatAddress(a.value);
}

function requireRunning(): void {
	if (!Mappings.running())
		throw new Refusal(501, "Action Failed (NAT is not running)");
}

function notAuthorized(call: Call, why: string): Refusal {
	call.ctx.counters.refused++;
	return new Refusal(606, `Action not authorized (${why})`);
}

/* Whether a mapping is the requester's: it maps to the requester, or the requester made it. */
function owns(requester: string, f: Forward): boolean {
	return f.address === requester || f.owner === requester;
}

function protocolName(f: Forward): string {
	return f.proto === "tcp" ? "TCP" : "UDP";
}

function status(ctx: IgdContext): string {
	return ctx.externalAddress() ? "Connected" : "Disconnected";
}

function defaultConnectionService(ctx: IgdContext): string {
	return `uuid:${ctx.uuids.wanconn}:WANConnectionDevice:1,urn:upnp-org:serviceId:WANIPConn1`;
}

/* ui4 counters wrap at 2^32. */
function ui4(n: number): string {
	return String(n % 4294967296);
}

/* ---- WANIPConnection: adding ---- */

/* Everything AddPortMapping and AddAnyPortMapping check before they look at the table. */
function addRequest(call: Call): Mappings.MappingSpec {
	const remote = remoteHost(call);
	const externalPort = decimal(call, "NewExternalPort", 65535);
	if (externalPort === 0)
		throw new Refusal(716, "WildCardNotPermittedInExtPort");
	const proto = protocol(call);
	const port = decimal(call, "NewInternalPort", 65535);
	if (port === 0)
		throw invalid("NewInternalPort must be 1 to 65535");
	const address = internalClient(call);
	if (!boolean(call, "NewEnabled"))
		throw invalid("NewEnabled 0: disabled mappings are not kept");
	const lease = decimal(call, "NewLeaseDuration", 4294967295);
	const description = call.args.get("NewPortMappingDescription") ?? "";
	if (!secureAllows(call.ctx, call.requester, address))
		throw notAuthorized(call, "secure mode: a client may map only to itself");
	return { proto, externalPort, address, port, remote, owner: call.requester, lease, description };
}

function added(outcome: Mappings.AddOutcome): void {
	if (!outcome.ok)
		throw new Refusal(outcome.code, outcome.description);
}

function addPortMapping(call: Call): ActionResult {
	const spec = addRequest(call);
	if (!permitted(call.ctx.config().rules, { externalPort: spec.externalPort, address: spec.address, internalPort: spec.port }))
		throw notAuthorized(call, "refused by the permission rules");
	added(Mappings.add(call.ctx, spec));
	return reply(call.action, {});
}

/*
 * A port for AddAnyPortMapping: the asked one, else the next one up (then
 * from the bottom) that the rules allow and that is free. Jumps over whole
 * spans, so it takes a few steps per forward and rule, never one per port.
 */
function freePort(spans: [number, number][], spec: Mappings.MappingSpec): number | undefined {
	const start = spec.externalPort;
	let port = start, wrapped = false;
	for (let steps = 4 * (Mappings.forwardCount() + spans.length) + 8; steps > 0; steps--) {
		const span = spans.find(([, last]) => last >= port);
		if (!span) {
			if (wrapped)
				return undefined;
			wrapped = true;
			port = 1;
			continue;
		}
		if (port < span[0])
			port = span[0];
		if (wrapped && port >= start)
			return undefined;
		// The asked port may be the client's own mapping, updated as Add
		// would; any other port must be free, or we would repoint a mapping
		// the client still uses.
		const held = Mappings.holder(spec.proto, port);
		if (!held || (port === start && Mappings.isMapping(held) && held.address === spec.address))
			return port;
		port = held.externalEnd + 1;
	}
	return undefined;
}

function addAnyPortMapping(call: Call): ActionResult {
	const spec = addRequest(call);
	const spans = allowedPorts(call.ctx.config().rules, spec.address, spec.port);
	if (!spans.length)
		throw notAuthorized(call, "refused by the permission rules");
	requireRunning();
	const port = freePort(spans, spec);
	if (port === undefined)
		throw new Refusal(728, "NoPortMapsAvailable");
	added(Mappings.add(call.ctx, { ...spec, externalPort: port }));
	return reply(call.action, { NewReservedPort: String(port) });
}

/* ---- WANIPConnection: finding, deleting, listing ---- */

interface Key {
	remote: string;
	port: number;
	proto: ForwardProto;
}

/* (NewRemoteHost, NewExternalPort, NewProtocol), which name a mapping. */
function key(call: Call): Key {
	return { remote: remoteHost(call), port: decimal(call, "NewExternalPort", 65535), proto: protocol(call) };
}

/* The UPnP mapping a key names; "" as remote host names any. */
function named(k: Key): Forward {
	const f = k.port ? Mappings.find(k.proto, k.port) : undefined;
	if (!f || (k.remote !== "" && f.remote !== k.remote))
		throw new Refusal(714, "NoSuchEntryInArray");
	return f;
}

function deletePortMapping(call: Call): ActionResult {
	const k = key(call);
	requireRunning();
	const f = named(k);
	if (call.ctx.config().secure && !owns(call.requester, f))
		throw notAuthorized(call, "secure mode: a client may remove only its own mappings");
	if (!Mappings.remove(f.proto, f.externalPort))
		throw new Refusal(714, "NoSuchEntryInArray");
	return reply(call.action, {});
}

interface Range {
	first: number;
	last: number;
	proto: ForwardProto;
	manage: boolean;
}

function range(call: Call): Range {
	const first = decimal(call, "NewStartPort", 65535);
	const last = decimal(call, "NewEndPort", 65535);
	const proto = protocol(call);
	const manage = boolean(call, "NewManage");
	return { first, last, proto, manage };
}

function inRange(r: Range, f: Forward): boolean {
	return f.proto === r.proto && f.externalPort >= r.first && f.externalPort <= r.last;
}

function deletePortMappingRange(call: Call): ActionResult {
	const r = range(call);
	if (r.first > r.last)
		throw new Refusal(733, "InconsistentParameters");
	requireRunning();
	const all = r.manage && !call.ctx.config().secure;
	let removed = 0;
	// Removing shifts the ones after it down: stay on the index that was removed.
	for (let i = 0, f = Mappings.at(0); f; f = Mappings.at(i)) {
		if (inRange(r, f) && (all || owns(call.requester, f)) && Mappings.remove(f.proto, f.externalPort))
			removed++;
		else
			i++;
	}
	if (!removed)
		throw new Refusal(730, "PortMappingNotFound");
	return reply(call.action, {});
}

const LISTING_HEAD = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	+ "<p:PortMappingList xmlns:p=\"urn:schemas-upnp-org:gw:WANIPConnection\""
	+ " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
	+ " xsi:schemaLocation=\"urn:schemas-upnp-org:gw:WANIPConnection http://www.upnp.org/schemas/gw/WANIPConnection-v2.xsd\">\n";

function listingEntry(f: Forward): string {
	const fields: [string, string][] = [
		["NewRemoteHost", f.remote],
		["NewExternalPort", String(f.externalPort)],
		["NewProtocol", protocolName(f)],
		["NewInternalPort", String(f.port)],
		["NewInternalClient", f.address],
		["NewEnabled", "1"],
		["NewDescription", f.description],
		["NewLeaseTime", String(f.leaseLeft)],
	];
	let text = "<p:PortMappingEntry>\n";
	for (const [name, value] of fields)
		text += `<p:${name}>${xmlEscape(value)}</p:${name}>\n`;
	return text + "</p:PortMappingEntry>\n";
}

/*
 * IGDv2's listing: the mappings in the range (all, or with NewManage 0 the
 * requester's own). It is made an entry at a time as the answer goes out,
 * walking the table by index: a mapping added or removed meanwhile may be
 * missed or listed at its new place, as any listing of a changing table.
 */
function getListOfPortMappings(call: Call): ActionResult {
	const r = range(call);
	const wanted = decimal(call, "NewNumberOfPorts", 65535);
	if (r.first > r.last)
		throw new Refusal(733, "InconsistentParameters");
	const most = wanted === 0 ? LIST_MAX : Math.min(wanted, LIST_MAX);
	const requester = call.requester;
	const listed = (f: Forward): boolean => inRange(r, f) && (r.manage || owns(requester, f));
	let index = 0;
	while (Mappings.at(index) && !listed(Mappings.at(index) as Forward))
		index++;
	if (!Mappings.at(index))
		throw new Refusal(730, "PortMappingNotFound");
	let n = 0, started = false, ended = false;
	const pieces = (): string | undefined => {
		if (ended)
			return undefined;
		if (!started) {
			started = true;
			return LISTING_HEAD;
		}
		for (let f = Mappings.at(index); f && n < most; f = Mappings.at(index)) {
			index++;
			if (listed(f)) {
				n++;
				return listingEntry(f);
			}
		}
		ended = true;
		return "</p:PortMappingList>";
	};
	return { ok: true, out: call.action.out.map((a) => [a.name, a.name === "NewPortListing" ? pieces : ""] as const) };
}

function entryValues(f: Forward): Values {
	return {
		NewRemoteHost: f.remote,
		NewExternalPort: String(f.externalPort),
		NewProtocol: protocolName(f),
		NewInternalPort: String(f.port),
		NewInternalClient: f.address,
		NewEnabled: "1",
		NewPortMappingDescription: f.description,
		NewLeaseDuration: String(f.leaseLeft),
	};
}

function getGenericPortMappingEntry(call: Call): ActionResult {
	const text = arg(call, "NewPortMappingIndex");
	if (!/^\d+$/.test(text))
		throw invalid("NewPortMappingIndex must be a decimal number");
	const f = Number(text) <= 65535 ? Mappings.at(Number(text)) : undefined;
	if (!f)
		throw new Refusal(713, "SpecifiedArrayIndexInvalid");
	return reply(call.action, entryValues(f));
}

function getSpecificPortMappingEntry(call: Call): ActionResult {
	return reply(call.action, entryValues(named(key(call))));
}

/* ---- the table of actions ---- */

type Handler = (call: Call) => ActionResult;

const HANDLERS: Readonly<Record<string, readonly [ServiceKey, Handler]>> = {
	GetDefaultConnectionService: ["l3f", (c) => reply(c.action, { NewDefaultConnectionService: defaultConnectionService(c.ctx) })],
	GetCommonLinkProperties: ["wancfg", (c) => reply(c.action, {
		NewWANAccessType: "Ethernet",
		NewLayer1UpstreamMaxBitRate: "100000000",
		NewLayer1DownstreamMaxBitRate: "100000000",
		NewPhysicalLinkStatus: c.ctx.wanLinkUp() ? "Up" : "Down",
	})],
	GetTotalBytesSent: ["wancfg", (c) => reply(c.action, { NewTotalBytesSent: ui4(c.ctx.wanTotals().bytesSent) })],
	GetTotalBytesReceived: ["wancfg", (c) => reply(c.action, { NewTotalBytesReceived: ui4(c.ctx.wanTotals().bytesReceived) })],
	GetTotalPacketsSent: ["wancfg", (c) => reply(c.action, { NewTotalPacketsSent: ui4(c.ctx.wanTotals().packetsSent) })],
	GetTotalPacketsReceived: ["wancfg", (c) => reply(c.action, { NewTotalPacketsReceived: ui4(c.ctx.wanTotals().packetsReceived) })],
	GetConnectionTypeInfo: ["wanip", (c) => reply(c.action, { NewConnectionType: "IP_Routed", NewPossibleConnectionTypes: "IP_Routed" })],
	GetStatusInfo: ["wanip", (c) => reply(c.action, {
		NewConnectionStatus: status(c.ctx),
		NewLastConnectionError: "ERROR_NONE",
		NewUptime: ui4(c.ctx.wanUptime()),
	})],
	GetNATRSIPStatus: ["wanip", (c) => reply(c.action, { NewRSIPAvailable: "0", NewNATEnabled: "1" })],
	GetExternalIPAddress: ["wanip", (c) => reply(c.action, { NewExternalIPAddress: c.ctx.externalAddress() })],
	AddPortMapping: ["wanip", addPortMapping],
	AddAnyPortMapping: ["wanip", addAnyPortMapping],
	DeletePortMapping: ["wanip", deletePortMapping],
	DeletePortMappingRange: ["wanip", deletePortMappingRange],
	GetGenericPortMappingEntry: ["wanip", getGenericPortMappingEntry],
	GetSpecificPortMappingEntry: ["wanip", getSpecificPortMappingEntry],
	GetListOfPortMappings: ["wanip", getListOfPortMappings],
};

export function invoke(ctx: IgdContext, service: Service, action: Action, args: Map<string, string>, requester: string): ActionResult {
	const entry = Object.hasOwn(HANDLERS, action.name) ? HANDLERS[action.name] : undefined;
	if (!entry || entry[0] !== service.key)
		return { ok: false, code: 401, description: "Invalid Action" };
	try {
		return entry[1]({ ctx, action, args, requester });
	}
	catch (e) {
		if (e instanceof Refusal)
			return { ok: false, code: e.code, description: e.description };
		// The table refused something we checked (it should not): say so, keep serving.
		return { ok: false, code: 501, description: `Action Failed (${e instanceof Error ? e.message : String(e)})` };
	}
}

/* The current value of each evented variable of a service, for GENA. */
export function eventedValues(ctx: IgdContext, service: Service): [string, string][] {
	const values: Values = {};
	switch (service.key) {
	case "l3f":
		values.DefaultConnectionService = defaultConnectionService(ctx);
		break;
	case "wancfg":
		values.PhysicalLinkStatus = ctx.wanLinkUp() ? "Up" : "Down";
		break;
	case "wanip":
		values.PossibleConnectionTypes = "IP_Routed";
		values.ConnectionStatus = status(ctx);
		values.ExternalIPAddress = ctx.externalAddress();
		values.PortMappingNumberOfEntries = String(Mappings.count());
		break;
	}
	return service.variables.filter((v) => v.evented).map((v) => [v.name, values[v.name] ?? ""]);
}
