/*
 * The UPnP Internet Gateway Device as the router runs it: makes the
 * context its parts share, starts and stops SSDP, HTTP and GENA together,
 * and once a second expires subscriptions and turns changes (mappings
 * added, removed or expired; a new WAN address; the WAN link) into events.
 * Turning it off says byebye and takes its mappings out of the table.
 */
import Net from "net";
import Napt from "napt";
import Platform from "platform";
import Preference from "preference";
import Timer from "timer";
import type { Router } from "router";
import { PRODUCT, VERSION } from "version";
import { newCounters } from "upnp/context";
import type { IgdContext, UpnpCounters, WanTotals } from "upnp/context";
import { eventedValues, invoke } from "upnp/actions";
import { Events } from "upnp/events";
import type { SubscriberInfo } from "upnp/events";
import { HttpServer } from "upnp/http";
import { route } from "upnp/igd";
import type { Handlers } from "upnp/igd";
import * as Mappings from "upnp/mappings";
import { serviceByKey } from "upnp/services";
import { Ssdp } from "upnp/ssdp";
import type { UpnpConfig } from "upnp/upnp-config";

const DOMAIN = "upnp";
const UUID_KEY = "uuid";

function hex(value: number, digits: number): string {
	return (value >>> 0).toString(16).padStart(8, "0").slice(-digits);
}

/* A random (version 4) UUID. */
function randomUuid(): string {
	const r = [Platform.random(), Platform.random(), Platform.random(), Platform.random()];
	const v4 = ((r[1] & 0xffff0fff) | 0x4000) >>> 0;       // version 4 in bits 12-15 of the 3rd group
	const variant = ((r[2] & 0x3fffffff) | 0x80000000) >>> 0;  // variant 10xx
	const a = hex(r[0], 8), b = hex(v4, 8), c = hex(variant, 8), d = hex(r[3], 8);
	return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
}

/*
 * The device UDNs: one UUID made at first start and kept, so control points
 * see the same device across restarts; the two embedded devices differ from
 * it in the last digit.
 */
function deviceUuids(): Record<"root" | "wan" | "wanconn", string> {
	let root: unknown;
	try {
		root = Preference.get(DOMAIN, UUID_KEY);
	}
	catch {
		root = undefined;
	}
	if (typeof root !== "string" || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(root)) {
		root = randomUuid();
		Preference.set(DOMAIN, UUID_KEY, root as string);
	}
	const base = root as string;
	const last = parseInt(base.slice(-1), 16);
	const sibling = (n: number) => base.slice(0, -1) + ((last + n) & 15).toString(16);
	return { root: base, wan: sibling(1), wanconn: sibling(2) };
}

export class Upnp {
	readonly #router: Router;
	readonly counters: UpnpCounters = newCounters();
	readonly context: IgdContext;
	/* The mapping limit at boot, which sized the forward pool. */
	readonly bootMappings: number;
	#http: HttpServer | undefined;
	#ssdp: Ssdp | undefined;
	#events: Events | undefined;
	#timer: Timer | undefined;
	/* what the last tick saw, so only changes become events */
	#generation = -1;
	#external = "";
	#link = false;
	/* when the WAN got its current address (seconds since boot) */
	#wanSince = 0;

	constructor(router: Router) {
		this.#router = router;
		this.bootMappings = router.running.upnp.limits.mappings;
		const uuids = deviceUuids();
		const wan = () => Net.status("wan");
		const now = () => Math.floor(Platform.uptime() / 1000);
		this.context = {
			lanAddress: () => router.activeLan.address,
			lanPrefix: () => router.activeLan.prefix,
			httpPort: () => this.config().port,
			uuids,
			externalAddress: () => {
				const address = wan().address;
				return address === "0.0.0.0" ? "" : address;
			},
			wanLinkUp: () => wan().link,
			wanUptime: () => (this.#external ? now() - this.#wanSince : 0),
			wanTotals: (): WanTotals => {
				const c = wan().counters;
				return { bytesSent: c.txBytes, bytesReceived: c.rxBytes, packetsSent: c.txFrames, packetsReceived: c.rxFrames };
			},
			config: () => this.config(),
			now,
			product: `${PRODUCT}/${VERSION}`,
			counters: this.counters,
		};
	}

	config(): UpnpConfig {
		return this.#router.running.upnp;
	}

	get running(): boolean {
		return this.#http !== undefined;
	}

	/*
	 * Start if the configuration says so. Returns why it could not (the
	 * port taken, no NAPT table); then nothing of it is left running.
	 */
	start(): string | undefined {
		if (this.running || !this.config().enabled)
			return undefined;
		if (!Mappings.running())
			return "upnp: not started, the NAPT table is not running";
		const ctx = this.context;
		const events = new Events(ctx, (service) => eventedValues(ctx, service));
		const handlers: Handlers = {
			invoke: (service, action, args, requester) => invoke(ctx, service, action, args, requester),
			subscription: (service, request) => events.handle(service, request),
		};
		try {
			this.#events = events;
			this.#http = new HttpServer({ ctx, address: ctx.lanAddress(), port: ctx.httpPort(), handle: (request) => route(ctx, handlers, request) });
			this.#ssdp = new Ssdp(ctx);
			this.#ssdp.start();
		}
		catch (e) {
			this.stop();
			return `upnp: not started (${e instanceof Error ? e.message : String(e)})`;
		}
		this.#observeWan();
		this.#link = ctx.wanLinkUp();
		this.#generation = Napt.generation();
		this.#timer = Timer.repeat(() => { this.#tick(); }, 1000);
		return undefined;
	}

	/* Say byebye, close everything and take the UPnP mappings out of the table. */
	stop(): void {
		if (this.#timer !== undefined)
			Timer.clear(this.#timer);
		this.#timer = undefined;
		this.#ssdp?.stop();
		this.#ssdp = undefined;
		this.#http?.close();
		this.#http = undefined;
		this.#events?.close();
		this.#events = undefined;
		// Mappings outlive nothing that made them: a control point that sees us gone re-adds.
		for (let m = Mappings.at(0), n = Mappings.count(); m && n > 0; m = Mappings.at(0), n--)
			Mappings.remove(m.proto, m.externalPort);
	}

	setEnabled(enabled: boolean): string | undefined {
		this.config().enabled = enabled;
		if (!enabled) {
			this.stop();
			return undefined;
		}
		return this.start();
	}

	subscribers(): SubscriberInfo[] {
		return this.#events?.list() ?? [];
	}

	/* Connections the HTTP server has open. */
	connections(): number {
		return this.#http?.open ?? 0;
	}

	/* Connections waiting in the HTTP listener's queue for a slot. */
	queued(): number {
		return this.#http?.queued ?? 0;
	}

	#observeWan(): boolean {
		const external = this.context.externalAddress();
		const changed = external !== this.#external;
		if (changed) {
			this.#external = external;
			this.#wanSince = this.context.now();
		}
		return changed;
	}

	/* Once a second: expire subscriptions, and turn what changed into events. */
	#tick(): void {
		const events = this.#events;
		if (!events)
			return;
		events.tick();
		const generation = Napt.running() ? Napt.generation() : -1;
		let wanip = this.#observeWan();
		if (generation !== this.#generation) {
			this.#generation = generation;
			wanip = true;   // a mapping added, removed or expired: PortMappingNumberOfEntries
		}
		if (this.#link !== this.context.wanLinkUp()) {
			this.#link = !this.#link;
			events.changed(serviceByKey("wancfg"));
			wanip = true;   // ConnectionStatus follows the link
		}
		if (wanip)
			events.changed(serviceByKey("wanip"));
	}
}
