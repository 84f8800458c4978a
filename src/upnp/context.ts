/*
 * What the IGD's parts (SSDP, HTTP, SOAP actions, events) need from the
 * router, in one place: addresses, the WAN's state and counters, the
 * configuration, a clock and the counters they report to the console.
 * upnp.ts makes the one instance; the parts never reach for the router.
 */
import type { UpnpConfig } from "upnp/upnp-config";
import { parseAddress, sameSubnet } from "net/ipv4";

export interface WanTotals {
	bytesSent: number;
	bytesReceived: number;
	packetsSent: number;
	packetsReceived: number;
}

/* Things the console reports: what was refused and why, and the caps hit. */
export interface UpnpCounters {
	/* SSDP */
	searches: number;
	searchesAnswered: number;
	notifies: number;
	ssdpIgnored: number;
	/* HTTP */
	requests: number;
	/* 4xx answers and connections cut (malformed, too big, bad Host) */
	badRequests: number;
	/* connections reset while waiting: their host already had 12 waiting (http.ts) */
	connectionLimit: number;
	/* connections cut, their head unfinished after 500 ms, for one waiting (http.ts) */
	slowCut: number;
	/* requests over `request` bytes or `headers` lines */
	requestLimit: number;
	/* SOAP */
	actions: number;
	faults: number;
	/* AddPortMapping refused by secure mode or a rule (606) */
	refused: number;
	/* mappings refused because `mappings` exist (728) */
	mappingLimit: number;
	/* GENA */
	eventsSent: number;
	eventsFailed: number;
	/* SUBSCRIBE refused because `subscribers` exist */
	subscriberLimit: number;
}

export function newCounters(): UpnpCounters {
	return {
		searches: 0, searchesAnswered: 0, notifies: 0, ssdpIgnored: 0,
		requests: 0, badRequests: 0, connectionLimit: 0, slowCut: 0, requestLimit: 0,
		actions: 0, faults: 0, refused: 0, mappingLimit: 0,
		eventsSent: 0, eventsFailed: 0, subscriberLimit: 0,
	};
}

export interface IgdContext {
	/* The LAN address and prefix HTTP and SSDP serve on. */
	lanAddress(): string;
	lanPrefix(): number;
	/* The HTTP port (config.port). */
	httpPort(): number;
	/* Device UDNs without the "uuid:" prefix, made once and kept in preferences. */
	readonly uuids: Readonly<Record<"root" | "wan" | "wanconn", string>>;
	/* The WAN address as it is (documentation ranges too), or "" when there is none. */
	externalAddress(): string;
	/* The WAN link is up (carrier). */
	wanLinkUp(): boolean;
	/* Seconds the WAN has had its current address; 0 without one. */
	wanUptime(): number;
	wanTotals(): WanTotals;
	config(): UpnpConfig;
	/* Seconds since boot. */
	now(): number;
	/* "natbridge/0.x" for SERVER headers */
	readonly product: string;
	readonly counters: UpnpCounters;
}

/* Whether an address is a host on the LAN subnet, not the router (SSDP and HTTP answer only those). */
export function onLan(ctx: IgdContext, address: string): boolean {
	const a = parseAddress(address), l = parseAddress(ctx.lanAddress());
	return a.ok && l.ok && a.value !== l.value && sameSubnet(a.value, l.value, ctx.lanPrefix());
}
