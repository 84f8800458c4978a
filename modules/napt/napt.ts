/*
 * The "napt" module: the control plane's view of the translation table
 * (napt.h). Started once at boot with its pool size fixed; after that only
 * filtering, timeouts, forwards and the DMZ host change. Addresses cross as
 * dotted text; times are seconds.
 */
export type Proto = "tcp" | "udp" | "icmp";
export type ForwardProto = "tcp" | "udp";
/* adf: address-dependent filtering (the default); eif: endpoint-independent. */
export type Filtering = "adf" | "eif";
export type TimeoutName = "udp" | "tcp" | "tcp-transitory" | "icmp";
/* Who made a forward: the console, UPnP, the SIP ALG (a pinhole: listed only, never added from here), NAT-PMP or PCP. */
export type Origin = "static" | "upnp" | "sip" | "pmp";
export type AddOrigin = Exclude<Origin, "sip">;
/* Which forwards to list or count: one origin, or "mapped" (upnp and pmp: what LAN hosts asked for). */
export type OriginFilter = Origin | "mapped";
export type ForwardResult = "ok" | "refreshed" | "conflict" | "full" | "invalid";

export interface Timeouts {
	udp: number;
	tcp: number;
	tcpTransitory: number;
	icmp: number;
}

export interface StartConfig {
	/* flow pool size, 16 .. 32768 */
	flows?: number;
	/* forward pool size (static and UPnP together), 1 .. 1024 */
	forwards?: number;
	filtering?: Filtering;
	timeouts?: Partial<Timeouts>;
	/* most flows per LAN host and per forward target, 1 .. flows; 0 = a quarter of flows */
	hostShare?: number;
}

export interface Drops {
	malformed: number;
	checksum: number;
	unsolicited: number;
	filtered: number;
	tableFull: number;
	noPort: number;
	notSyn: number;
	icmpError: number;
	unsupported: number;
	martian: number;
	hostShare: number;
	unresolved: number;
}

export interface Stats {
	capacity: number;
	inUse: { tcp: number; udp: number; icmp: number };
	peak: number;
	created: number;
	expired: number;
	evicted: number;
	/* unanswered inbound UDP flows taken over by a newer sender, at most unansweredPerMapping per mapping */
	unansweredReused: number;
	unansweredPerMapping: number;
	translated: { out: number; in: number };
	hairpinned: number;
	icmpErrors: number;
	passed: number;
	dropped: Drops;
	bytesPerFlow: number;
	/* most flows one LAN host opens, and most forwards and the DMZ make to one LAN host */
	hostShare: number;
	/* packets the forwarding fast path sent, and whether it is on */
	fastpath: number;
	fastpathOn: boolean;
	filtering: Filtering;
	timeouts: Timeouts;
}

export interface Flow {
	proto: Proto;
	/* TCP state name; "" for UDP and ICMP */
	state: string;
	replied: boolean;
	forwarded: boolean;
	inside: string;
	insidePort: number;
	/* the external port, or the ICMP query id */
	externalPort: number;
	remote: string;
	remotePort: number;
	idle: number;
	expiresIn: number;
}

export interface ForwardSpec {
	proto: ForwardProto;
	externalPort: number;
	/* last external port of a range; externalPort when absent */
	externalEnd?: number;
	address: string;
	port: number;
	/* only this remote host may use it; absent or "" for any */
	remote?: string;
	/* who asked for it (UPnP); absent or "" for the console */
	owner?: string;
	/* seconds; absent or 0 for a permanent forward */
	lease?: number;
	description?: string;
	origin?: AddOrigin;
}

export interface Forward {
	proto: ForwardProto;
	externalPort: number;
	externalEnd: number;
	address: string;
	port: number;
	remote: string;
	owner: string;
	/* seconds left; 0 for a permanent forward */
	leaseLeft: number;
	description: string;
	origin: Origin;
}

const start = native("xs_napt_start") as (config: StartConfig) => boolean;
const running = native("xs_napt_running") as () => boolean;
const setFiltering = native("xs_napt_set_filtering") as (filtering: Filtering) => void;
const setTimeout = native("xs_napt_set_timeout") as (name: TimeoutName, seconds: number) => void;
/* 0: a quarter of the table */
const setHostShare = native("xs_napt_set_host_share") as (flows: number) => void;
/* The forwarding fast path for steady flows (on at boot); off, lwIP forwards every packet. */
const setFastpath = native("xs_napt_set_fastpath") as (on: boolean) => void;
const stats = native("xs_napt_stats") as () => Stats;
/* A page of at most max (64) flows from cursor (0 first), and the next page's cursor after them if there may be more. */
const flowPage = native("xs_napt_flows") as (max: number, cursor: number) => (Flow | number)[];

/* Every flow, up to max, a page at a time: the XS heap holds one page. */
function eachFlow(max: number, f: (flow: Flow) => void): number {
	let cursor = 0, n = 0;
	while (n < max) {
		const page = flowPage(Math.min(16, max - n), cursor);
		let next: number | undefined;
		for (const item of page) {
			if (typeof item === "number")
				next = item;
			else {
				f(item);
				n++;
			}
		}
		if (next === undefined)
			break;
		cursor = next;
	}
	return n;
}
const forwardAdd = native("xs_napt_forward_add") as (forward: ForwardSpec) => ForwardResult;
const forwardRemove = native("xs_napt_forward_remove") as (proto: ForwardProto, externalPort: number) => "ok" | "not-found";
/* Every forward (of one origin): for the console; requests take them one at a time. */
const forwards = native("xs_napt_forwards") as (origin?: OriginFilter) => Forward[];
/* The index-th forward (of one origin) in the table's order (protocol, then external port). */
const forwardAt = native("xs_napt_forward_at") as (index: number, origin?: OriginFilter) => Forward | undefined;
const forwardCount = native("xs_napt_forward_count") as (origin?: OriginFilter) => number;
/* The forward whose external range holds the port. */
const forwardHolding = native("xs_napt_forward_holding") as (proto: ForwardProto, port: number) => Forward | undefined;
const setDmz = native("xs_napt_set_dmz") as (address: string) => void;
const dmz = native("xs_napt_dmz") as () => string;
const generation = native("xs_napt_generation") as () => number;

const Napt = Object.freeze({
	start,
	running,
	setFiltering,
	setTimeout,
	setHostShare,
	setFastpath,
	stats,
	eachFlow,
	forwardAdd,
	forwardRemove,
	forwards,
	forwardAt,
	forwardCount,
	forwardHolding,
	setDmz,
	dmz,
	generation,
});
export default Napt;
