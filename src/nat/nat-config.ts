/*
 * The NAT part of the configuration: its shape, the factory defaults and
 * validation. The console checks typed values with the same functions the
 * boot uses on saved ones, so what can be typed can be saved and read back.
 */
import type { Filtering, ForwardProto, TimeoutName, Timeouts } from "napt";
import { formatAddress, hostAddressProblem, parseAddress, sameSubnet } from "net/ipv4";
import type { Cidr } from "net/ipv4";

export type { Filtering, ForwardProto, TimeoutName, Timeouts };

export interface ForwardConfig {
	proto: ForwardProto;
	externalPort: number;
	externalEnd: number;
	address: string;
	/* inside port for externalPort; a range maps one to one */
	port: number;
	description: string;
}

export interface NatConfig {
	/* flow table size; fixed at boot */
	flows: number;
	filtering: Filtering;
	timeouts: Timeouts;
	forwards: ForwardConfig[];
	/* the DMZ host, "" for none */
	dmz: string;
	/* most flows one LAN host opens, and most forwards and the DMZ make to one host; absent or 0: a quarter of flows */
	hostShare?: number;
	/* the forwarding fast path for steady flows; absent: on */
	fastpath?: boolean;
}

export const MIN_FLOWS = 16;
export const MAX_FLOWS = 32768;
export const MAX_TIMEOUT = 604800;
/*
 * The configuration is one preference value of at most 4000 bytes (the
 * ESP32 NVS limit); 16 forwards with the longest descriptions and addresses
 * stay well inside it. UPnP mappings are not saved and do not count.
 */
export const MAX_FORWARDS = 16;
/* napt.h's NAPT_DESCRIPTION_MAX less the NUL. */
export const DESCRIPTION_MAX = 47;

export interface TimeoutRule {
	name: TimeoutName;
	key: keyof Timeouts;
	minimum: number;
	rfc: string;
}

/* The console's names for the timeouts, and the minimum each RFC asks for. */
export const TIMEOUT_RULES: readonly TimeoutRule[] = [
	{ name: "udp", key: "udp", minimum: 120, rfc: "RFC 4787 REQ-5" },
	{ name: "tcp", key: "tcp", minimum: 7440, rfc: "RFC 5382 REQ-5" },
	{ name: "tcp-transitory", key: "tcpTransitory", minimum: 240, rfc: "RFC 5382 REQ-5" },
	{ name: "icmp", key: "icmp", minimum: 60, rfc: "RFC 5508 REQ-1" },
];

export function natDefaults(): NatConfig {
	return {
		flows: 1024,
		filtering: "adf",
		timeouts: { udp: 300, tcp: 7440, tcpTransitory: 240, icmp: 60 },
		forwards: [],
		dmz: "",
	};
}

/* Where a forward sits: its protocol and external ports. */
export type ForwardPlace = Pick<ForwardConfig, "proto" | "externalPort" | "externalEnd">;

/* "tcp 8080 -> 192.168.4.2:80", "udp 5000-5009 -> 192.168.4.3:6000-6009" */
export function forwardText(f: ForwardPlace & Pick<ForwardConfig, "address" | "port">): string {
	const range = f.externalEnd - f.externalPort;
	return `${f.proto} ${f.externalPort}${range ? `-${f.externalEnd}` : ""} -> ${f.address}:${f.port}${range ? `-${f.port + range}` : ""}`;
}

/* "8080" or "8000-8010" */
export function externalText(f: ForwardPlace): string {
	return f.externalEnd !== f.externalPort ? `${f.externalPort}-${f.externalEnd}` : String(f.externalPort);
}

export function forwardsOverlap(a: ForwardPlace, b: ForwardPlace): boolean {
	return a.proto === b.proto && a.externalPort <= b.externalEnd && b.externalPort <= a.externalEnd;
}

/* Why an address cannot be a host that forwards or the DMZ send to, if it cannot. */
export function lanHostProblem(address: string, lan: Cidr): string | undefined {
	const parsed = parseAddress(address);
	if (!parsed.ok)
		return parsed.error;
	const l = parseAddress(lan.address);
	if (!l.ok)
		return l.error;
	const text = formatAddress(parsed.value);
	if (!sameSubnet(parsed.value, l.value, lan.prefix))
		return `${text} is not on the LAN ${lan.address}/${lan.prefix}`;
	if (parsed.value === l.value)
		return `${text} is the router's own LAN address`;
	const problem = hostAddressProblem(parsed.value, lan.prefix);
	return problem ? `${text} ${problem}` : undefined;
}

export function descriptionProblem(text: string): string | undefined {
	if (text.length > DESCRIPTION_MAX)
		return `description longer than ${DESCRIPTION_MAX} characters`;
	if (!/^[\x20-\x7e]*$/.test(text) || text.includes("\""))
		return "description may hold printable ASCII only, without \"";
	return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPort(value: unknown): value is number {
	return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/* Problems of one forward, apart from where its host is. */
export function forwardShapeProblem(f: ForwardConfig): string | undefined {
	if (!isPort(f.externalPort) || !isPort(f.externalEnd) || !isPort(f.port))
		return "ports must be 1 to 65535";
	if (f.externalEnd < f.externalPort)
		return `range ${f.externalPort}-${f.externalEnd} is reversed`;
	const insideEnd = f.port + f.externalEnd - f.externalPort;
	if (insideEnd > 65535)
		return `inside ports ${f.port}-${insideEnd} run past 65535`;
	return descriptionProblem(f.description);
}

function checkForward(value: unknown, index: number, lan: Cidr | undefined, problems: string[]): ForwardConfig | undefined {
	const where = `nat: forward ${index + 1}`;
	if (!isObject(value) || (value.proto !== "tcp" && value.proto !== "udp") || typeof value.address !== "string" ||
		typeof value.description !== "string") {
		problems.push(`${where}: proto, externalPort, externalEnd, address, port and description required`);
		return undefined;
	}
	const f: ForwardConfig = {
		proto: value.proto,
		externalPort: value.externalPort as number,
		externalEnd: value.externalEnd as number,
		address: value.address,
		port: value.port as number,
		description: value.description,
	};
	const problem = forwardShapeProblem(f) ?? (lan ? lanHostProblem(f.address, lan) : undefined);
	if (problem) {
		problems.push(`${where}: ${problem}`);
		return undefined;
	}
	return f;
}

function checkTimeouts(value: unknown, problems: string[]): void {
	if (!isObject(value)) {
		problems.push("nat: timeouts missing");
		return;
	}
	for (const rule of TIMEOUT_RULES) {
		const seconds = value[rule.key];
		if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TIMEOUT)
			problems.push(`nat: ${rule.name} timeout must be 1 to ${MAX_TIMEOUT} seconds`);
	}
}

/*
 * Every problem with a candidate nat section; `lan` is the configuration's
 * LAN when that is valid (forwards and the DMZ must be on it).
 */
export function validateNat(value: unknown, lan: Cidr | undefined): string[] {
	const problems: string[] = [];
	if (!isObject(value))
		return ["nat: not an object"];
	const flows = value.flows;
	if (typeof flows !== "number" || !Number.isInteger(flows) || flows < MIN_FLOWS || flows > MAX_FLOWS)
		problems.push(`nat: flows must be ${MIN_FLOWS} to ${MAX_FLOWS}`);
	if (value.filtering !== "adf" && value.filtering !== "eif")
		problems.push(`nat: filtering ${String(value.filtering)} (adf or eif)`);
	const share = value.hostShare;
	if (share !== undefined && (typeof share !== "number" || !Number.isInteger(share) || share < 0 || share > MAX_FLOWS))
		problems.push(`nat: hostShare must be 0 (a quarter of flows) to ${MAX_FLOWS}`);
	if (value.fastpath !== undefined && typeof value.fastpath !== "boolean")
		problems.push("nat: fastpath must be true or false");
	checkTimeouts(value.timeouts, problems);
	if (!Array.isArray(value.forwards))
		problems.push("nat: forwards must be a list");
	else if (value.forwards.length > MAX_FORWARDS)
		problems.push(`nat: more than ${MAX_FORWARDS} forwards`);
	else {
		const good: ForwardConfig[] = [];
		value.forwards.forEach((item: unknown, index) => {
			const f = checkForward(item, index, lan, problems);
			if (!f)
				return;
			const other = good.find((g) => forwardsOverlap(f, g));
			if (other)
				problems.push(`nat: forward ${forwardText(f)} overlaps ${forwardText(other)}`);
			good.push(f);
		});
	}
	if (typeof value.dmz !== "string")
		problems.push("nat: dmz must be an address or \"\"");
	else if (value.dmz && lan) {
		const problem = lanHostProblem(value.dmz, lan);
		if (problem)
			problems.push(`nat: dmz ${problem}`);
	}
	return problems;
}

/* Forwards and DMZ host that a LAN would leave off its subnet. */
export function natLanProblems(nat: NatConfig, lan: Cidr): string[] {
	const problems: string[] = [];
	for (const f of nat.forwards) {
		const problem = lanHostProblem(f.address, lan);
		if (problem)
			problems.push(`forward ${forwardText(f)}: ${problem}`);
	}
	if (nat.dmz) {
		const problem = lanHostProblem(nat.dmz, lan);
		if (problem)
			problems.push(`dmz: ${problem}`);
	}
	return problems;
}
