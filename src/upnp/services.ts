/*
 * The IGDv1 device tree this router serves, as data: its three devices,
 * its three services with their URLs, and each service's actions and state
 * variables. The descriptions (SCPDs) are written from this table and the
 * SOAP layer checks arguments against it, so the two cannot disagree.
 */
import type { Pieces } from "upnp/message";

export type ServiceKey = "l3f" | "wancfg" | "wanip";
export type DeviceKey = "root" | "wan" | "wanconn";

export type VariableType = "string" | "ui2" | "ui4" | "boolean";

export interface StateVariable {
	name: string;
	type: VariableType;
	/* sent in GENA events */
	evented?: boolean;
	allowed?: readonly string[];
	/* [minimum, maximum] for numbers */
	range?: readonly [number, number];
}

export interface Argument {
	name: string;
	/* the state variable that gives its type */
	variable: string;
}

export interface Action {
	name: string;
	in: readonly Argument[];
	out: readonly Argument[];
}

export interface Service {
	key: ServiceKey;
	/* the device that carries it */
	device: DeviceKey;
	type: string;
	id: string;
	scpdPath: string;
	controlPath: string;
	eventPath: string;
	actions: readonly Action[];
	variables: readonly StateVariable[];
}

export interface Device {
	key: DeviceKey;
	type: string;
	friendlyName: string;
	/* the devices inside this one */
	children: readonly DeviceKey[];
}

const SCHEMA = "urn:schemas-upnp-org";

export const DEVICES: readonly Device[] = [
	{ key: "root", type: `${SCHEMA}:device:InternetGatewayDevice:1`, friendlyName: "natbridge router", children: ["wan"] },
	{ key: "wan", type: `${SCHEMA}:device:WANDevice:1`, friendlyName: "WANDevice", children: ["wanconn"] },
	{ key: "wanconn", type: `${SCHEMA}:device:WANConnectionDevice:1`, friendlyName: "WANConnectionDevice", children: [] },
];

function arg(name: string, variable: string): Argument {
	return { name, variable };
}

const MAPPING_KEY = [arg("NewRemoteHost", "RemoteHost"), arg("NewExternalPort", "ExternalPort"), arg("NewProtocol", "PortMappingProtocol")];
const MAPPING_TARGET = [
	arg("NewInternalPort", "InternalPort"),
	arg("NewInternalClient", "InternalClient"),
	arg("NewEnabled", "PortMappingEnabled"),
	arg("NewPortMappingDescription", "PortMappingDescription"),
	arg("NewLeaseDuration", "PortMappingLeaseDuration"),
];
const RANGE = [
	arg("NewStartPort", "ExternalPort"),
	arg("NewEndPort", "ExternalPort"),
	arg("NewProtocol", "PortMappingProtocol"),
	arg("NewManage", "A_ARG_TYPE_Manage"),
];

const L3F: Service = {
	key: "l3f",
	device: "root",
	type: `${SCHEMA}:service:Layer3Forwarding:1`,
	id: "urn:upnp-org:serviceId:L3Forwarding1",
	scpdPath: "/L3F.xml",
	controlPath: "/ctl/L3F",
	eventPath: "/evt/L3F",
	actions: [
		{ name: "GetDefaultConnectionService", in: [], out: [arg("NewDefaultConnectionService", "DefaultConnectionService")] },
	],
	variables: [
		{ name: "DefaultConnectionService", type: "string", evented: true },
	],
};

const WANCFG: Service = {
	key: "wancfg",
	device: "wan",
	type: `${SCHEMA}:service:WANCommonInterfaceConfig:1`,
	id: "urn:upnp-org:serviceId:WANCommonIFC1",
	scpdPath: "/WANCfg.xml",
	controlPath: "/ctl/CmnIfCfg",
	eventPath: "/evt/CmnIfCfg",
	actions: [
		{
			name: "GetCommonLinkProperties",
			in: [],
			out: [
				arg("NewWANAccessType", "WANAccessType"),
				arg("NewLayer1UpstreamMaxBitRate", "Layer1UpstreamMaxBitRate"),
				arg("NewLayer1DownstreamMaxBitRate", "Layer1DownstreamMaxBitRate"),
				arg("NewPhysicalLinkStatus", "PhysicalLinkStatus"),
			],
		},
		{ name: "GetTotalBytesSent", in: [], out: [arg("NewTotalBytesSent", "TotalBytesSent")] },
		{ name: "GetTotalBytesReceived", in: [], out: [arg("NewTotalBytesReceived", "TotalBytesReceived")] },
		{ name: "GetTotalPacketsSent", in: [], out: [arg("NewTotalPacketsSent", "TotalPacketsSent")] },
		{ name: "GetTotalPacketsReceived", in: [], out: [arg("NewTotalPacketsReceived", "TotalPacketsReceived")] },
	],
	variables: [
		{ name: "WANAccessType", type: "string", allowed: ["DSL", "POTS", "Cable", "Ethernet"] },
		{ name: "Layer1UpstreamMaxBitRate", type: "ui4" },
		{ name: "Layer1DownstreamMaxBitRate", type: "ui4" },
		{ name: "PhysicalLinkStatus", type: "string", evented: true, allowed: ["Up", "Down"] },
		{ name: "TotalBytesSent", type: "ui4" },
		{ name: "TotalBytesReceived", type: "ui4" },
		{ name: "TotalPacketsSent", type: "ui4" },
		{ name: "TotalPacketsReceived", type: "ui4" },
	],
};

const WANIP: Service = {
	key: "wanip",
	device: "wanconn",
	type: `${SCHEMA}:service:WANIPConnection:1`,
	id: "urn:upnp-org:serviceId:WANIPConn1",
	scpdPath: "/WANIPCn.xml",
	controlPath: "/ctl/IPConn",
	eventPath: "/evt/IPConn",
	actions: [
		{
			name: "GetConnectionTypeInfo",
			in: [],
			out: [arg("NewConnectionType", "ConnectionType"), arg("NewPossibleConnectionTypes", "PossibleConnectionTypes")],
		},
		{
			name: "GetStatusInfo",
			in: [],
			out: [arg("NewConnectionStatus", "ConnectionStatus"), arg("NewLastConnectionError", "LastConnectionError"), arg("NewUptime", "Uptime")],
		},
		{ name: "GetNATRSIPStatus", in: [], out: [arg("NewRSIPAvailable", "RSIPAvailable"), arg("NewNATEnabled", "NATEnabled")] },
		{ name: "GetExternalIPAddress", in: [], out: [arg("NewExternalIPAddress", "ExternalIPAddress")] },
		{ name: "AddPortMapping", in: [...MAPPING_KEY, ...MAPPING_TARGET], out: [] },
		{ name: "DeletePortMapping", in: MAPPING_KEY, out: [] },
		{
			name: "GetGenericPortMappingEntry",
			in: [arg("NewPortMappingIndex", "PortMappingNumberOfEntries")],
			out: [...MAPPING_KEY, ...MAPPING_TARGET],
		},
		{ name: "GetSpecificPortMappingEntry", in: MAPPING_KEY, out: MAPPING_TARGET },
		{ name: "AddAnyPortMapping", in: [...MAPPING_KEY, ...MAPPING_TARGET], out: [arg("NewReservedPort", "ExternalPort")] },
		{ name: "DeletePortMappingRange", in: RANGE, out: [] },
		{
			name: "GetListOfPortMappings",
			in: [...RANGE, arg("NewNumberOfPorts", "PortMappingNumberOfEntries")],
			out: [arg("NewPortListing", "A_ARG_TYPE_PortListing")],
		},
	],
	variables: [
		{ name: "ConnectionType", type: "string" },
		{ name: "PossibleConnectionTypes", type: "string", evented: true, allowed: ["Unconfigured", "IP_Routed", "IP_Bridged"] },
		{ name: "ConnectionStatus", type: "string", evented: true, allowed: ["Unconfigured", "Connecting", "Connected", "PendingDisconnect", "Disconnecting", "Disconnected"] },
		{ name: "Uptime", type: "ui4" },
		{ name: "LastConnectionError", type: "string", allowed: ["ERROR_NONE"] },
		{ name: "RSIPAvailable", type: "boolean" },
		{ name: "NATEnabled", type: "boolean" },
		{ name: "ExternalIPAddress", type: "string", evented: true },
		{ name: "PortMappingNumberOfEntries", type: "ui2", evented: true },
		{ name: "PortMappingEnabled", type: "boolean" },
		{ name: "PortMappingLeaseDuration", type: "ui4", range: [0, 604800] },
		{ name: "RemoteHost", type: "string" },
		{ name: "ExternalPort", type: "ui2" },
		{ name: "InternalPort", type: "ui2", range: [1, 65535] },
		{ name: "PortMappingProtocol", type: "string", allowed: ["TCP", "UDP"] },
		{ name: "InternalClient", type: "string" },
		{ name: "PortMappingDescription", type: "string" },
		{ name: "A_ARG_TYPE_Manage", type: "boolean" },
		{ name: "A_ARG_TYPE_PortListing", type: "string" },
	],
};

export const SERVICES: readonly Service[] = [L3F, WANCFG, WANIP];

export function serviceByKey(key: ServiceKey): Service {
	const found = SERVICES.find((s) => s.key === key);
	if (!found)
		throw new RangeError(`no service ${key}`);
	return found;
}

export function findAction(service: Service, name: string): Action | undefined {
	return service.actions.find((a) => a.name === name);
}

export function findVariable(service: Service, name: string): StateVariable | undefined {
	return service.variables.find((v) => v.name === name);
}

/* What an action gives back: its out arguments in order, or a UPnP error. */
/* An out argument's value: text, or (for a long one) its pieces, made as the answer is sent. */
export type OutValue = string | Pieces;

export type ActionResult =
	| { ok: true; out: readonly (readonly [string, OutValue])[] }
	| { ok: false; code: number; description: string };
