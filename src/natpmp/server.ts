/*
 * The NAT-PMP (RFC 6886) and PCP (RFC 6887) server: one UDP socket on
 * port 5351 of the LAN address, tied to the LAN port (nothing is heard
 * from or said on the WAN). A datagram's first byte picks the protocol
 * (0 NAT-PMP, 2 PCP; another version is answered with the highest we
 * speak). Mappings are UPnP's (see natpmp/mappings), under UPnP's rules,
 * secure mode and limit, with a cap per LAN host, and each LAN host may
 * make PER_HOST_RATE requests a second, followed in a fixed table.
 * Announcements of the external address go to 224.0.0.1:5350 on start
 * and whenever it changes, ten times at doubling intervals.
 */
import Net from "net";
import Platform from "platform";
import Timer from "timer";
import Napt from "napt";
import type { Flow, ForwardProto } from "napt";
import { PortUdp } from "net/port-udp";
import type { Datagram, PortUdpSocket } from "net/port-udp";
import { parseAddress } from "net/ipv4";
import type { Router } from "router";
import { onLan } from "upnp/context";
import * as Mappings from "upnp/mappings";
import { secureAllows } from "upnp/permissions";
import * as Pmp from "natpmp/mappings";
import * as W from "natpmp/wire";
import { MAX_LIFETIME, MIN_LIFETIME, PER_CLIENT_MAPPINGS, PER_HOST_RATE, RATE_SLOTS } from "natpmp/natpmp-config";

export interface PmpCounters {
	natpmp: number;
	pcp: number;
	answered: number;
	/* dropped unanswered: malformed beyond answering, not from the LAN, a response */
	dropped: number;
	/* dropped over a host's request rate */
	rateLimited: number;
	refused: number;
	noResources: number;
	mapped: number;
	deleted: number;
	announcements: number;
}

function newCounters(): PmpCounters {
	return { natpmp: 0, pcp: 0, answered: 0, dropped: 0, rateLimited: 0, refused: 0, noResources: 0, mapped: 0, deleted: 0, announcements: 0 };
}

/* Announcements after a start or an address change, the first 250 ms after it, each interval twice the last. */
const ANNOUNCE_TIMES = 10;
const ANNOUNCE_FIRST_MS = 250;
/* How long an error holds, for the client (PCP's lifetime of an error answer). */
const LONG_ERROR = 1800;
const SHORT_ERROR = 30;

function clampLifetime(seconds: number): number {
	return Math.max(MIN_LIFETIME, Math.min(MAX_LIFETIME, seconds));
}

export class PmpServer {
	readonly #router: Router;
	readonly counters: PmpCounters = newCounters();
	#socket: PortUdpSocket | undefined;
	#announceTimer: Timer | undefined;
	#announceLeft = 0;
	#announceDelay = 0;
	/* seconds of uptime when the mapping table (our part of it) started */
	#epochStart = 0;
	#external = "";
	/*
	 * The request-rate table, one array: per slot the host's address, the
	 * second its count is for (-1: free) and the count. Made at start.
	 */
	#rate: Int32Array | undefined;

	constructor(router: Router) {
		this.#router = router;
	}

	get running(): boolean {
		return this.#socket !== undefined;
	}

	#config() {
		return this.#router.running.pmp;
	}

	#now(): number {
		return Math.floor(Platform.uptime() / 1000);
	}

	epoch(): number {
		return (this.#now() - this.#epochStart) >>> 0;
	}

	#externalAddress(): string {
		const address = Net.status("wan").address;
		return address === "0.0.0.0" ? "" : address;
	}

	/* Start if either protocol is on; why it could not, if it could not. */
	start(): string | undefined {
		const c = this.#config();
		if (this.running || (!c.natpmp && !c.pcp))
			return undefined;
		if (!Mappings.running())
			return "natpmp: not started, the NAPT table is not running";
		try {
			this.#socket = new PortUdp({
				port: W.SERVER_PORT,
				address: this.#router.activeLan.address,
				interface: "lan",
				onReadable: (count) => { this.#readable(count); },
			});
		}
		catch (e) {
			this.#socket = undefined;
			return `natpmp: not started (${e instanceof Error ? e.message : String(e)})`;
		}
		this.#rate = new Int32Array(3 * RATE_SLOTS);
		for (let i = 0; i < RATE_SLOTS; i++)
			this.#rate[3 * i + 1] = -1;
		this.#epochStart = this.#now();
		this.#external = this.#externalAddress();
		this.#startAnnouncing();
		return undefined;
	}

	/* Close the socket and take every NAT-PMP and PCP mapping out of the table. */
	stop(): void {
		if (this.#announceTimer !== undefined)
			Timer.clear(this.#announceTimer);
		this.#announceTimer = undefined;
		this.#socket?.close();
		this.#socket = undefined;
		this.#rate = undefined;
		Pmp.removeAll(undefined, undefined);
	}

	/* After natpmp on|off or pcp on|off: run while either is on. */
	apply(): string | undefined {
		const c = this.#config();
		if (!c.natpmp && !c.pcp) {
			this.stop();
			return undefined;
		}
		if (this.running) {
			this.#startAnnouncing();
			return undefined;
		}
		return this.start();
	}

	/* The router's word that the WAN port changed (Net.onChange): announce a new address. */
	wanChanged(): void {
		if (!this.running)
			return;
		const external = this.#externalAddress();
		if (external !== this.#external) {
			this.#external = external;
			this.#startAnnouncing();
		}
	}

	#startAnnouncing(): void {
		if (this.#announceTimer !== undefined)
			Timer.clear(this.#announceTimer);
		this.#announceTimer = undefined;
		this.#announceLeft = ANNOUNCE_TIMES;
		this.#announceDelay = ANNOUNCE_FIRST_MS;
		this.#announce();
	}

	/* One announcement of each protocol that is on, and the next one scheduled. */
	#announce(): void {
		const c = this.#config();
		if (this.#announceLeft <= 0 || !this.#socket)
			return;
		this.#announceLeft--;
		if (c.natpmp && this.#external && this.#send(W.pmpAddressAnswer(W.PMP_SUCCESS, this.epoch(), this.#external), W.ALL_HOSTS, W.CLIENT_PORT))
			this.counters.announcements++;
		if (c.pcp && this.#send(W.pcpAnnounce(this.epoch()), W.ALL_HOSTS, W.CLIENT_PORT))
			this.counters.announcements++;
		if (this.#announceLeft > 0) {
			this.#announceTimer = Timer.set(() => {
				this.#announceTimer = undefined;
				this.#announce();
			}, this.#announceDelay);
			this.#announceDelay *= 2;
		}
	}

	#send(bytes: Uint8Array, address: string, port: number): boolean {
		try {
			this.#socket?.write(bytes, address, port);
			return this.#socket !== undefined;
		}
		catch {
			return false;
		}
	}

	#readable(count: number): void {
		for (let i = 0; i < count; i++) {
			const datagram = this.#socket?.read();
			if (!datagram)
				return;
			try {
				this.#received(datagram);
			}
			catch {
				// Nothing a datagram holds may stop the server.
				this.counters.dropped++;
			}
		}
	}

	/* Within this host's rate: a slot per host, the least recent taken over for a new one. */
	#withinRate(address: number): boolean {
		const rate = this.#rate;
		if (!rate)
			return false;
		const now = this.#now(), host = address | 0;
		let slot = -1, oldest = 0;
		for (let i = 0; i < RATE_SLOTS; i++) {
			if (rate[3 * i + 1] >= 0 && rate[3 * i] === host) {
				slot = i;
				break;
			}
			if (rate[3 * i + 1] < rate[3 * oldest + 1])
				oldest = i;
		}
		if (slot < 0) {
			slot = oldest;
			rate[3 * slot] = host;
			rate[3 * slot + 1] = now;
			rate[3 * slot + 2] = 0;
		}
		if (rate[3 * slot + 1] !== now) {
			rate[3 * slot + 1] = now;
			rate[3 * slot + 2] = 0;
		}
		if (rate[3 * slot + 2] >= PER_HOST_RATE)
			return false;
		rate[3 * slot + 2]++;
		return true;
	}

	#received(datagram: ArrayBuffer & Datagram): void {
		const { address, port } = datagram;
		const b = new Uint8Array(datagram);
		const source = parseAddress(address);
		if (!source.ok || port === 0 || !onLan(this.#router.upnp.context, address) || b.length < 2) {
			this.counters.dropped++;
			return;
		}
		if (!this.#withinRate(source.value)) {
			this.counters.rateLimited++;
			return;
		}
		const c = this.#config();
		const version = b[0];
		let answer: Uint8Array | undefined;
		if (version === W.PMP_VERSION && c.natpmp) {
			this.counters.natpmp++;
			answer = this.#natpmp(b, address);
		}
		else if (version === W.PCP_VERSION && c.pcp) {
			this.counters.pcp++;
			answer = this.#pcp(b, address);
		}
		else if (b[1] & 0x80)
			answer = undefined;   // someone's answer, not a request
		else if (c.pcp)
			answer = W.pcpAnswer(b.subarray(0, 2), W.PCP_UNSUPP_VERSION, LONG_ERROR, this.epoch());
		else
			answer = W.pmpError(b[1], W.PMP_UNSUPP_VERSION, this.epoch());
		if (!answer) {
			this.counters.dropped++;
			return;
		}
		if (this.#send(answer, address, port))
			this.counters.answered++;
	}

	/* ---- NAT-PMP ---- */

	#natpmp(b: Uint8Array, client: string): Uint8Array | undefined {
		const op = b[1];
		if (op >= 128)
			return undefined;
		if (op === W.PMP_OP_ADDRESS) {
			if (b.length < 2)
				return undefined;
			const external = this.#externalAddress();
			return W.pmpAddressAnswer(external ? W.PMP_SUCCESS : W.PMP_NETWORK_FAILURE, this.epoch(), external);
		}
		if (op !== W.PMP_OP_MAP_UDP && op !== W.PMP_OP_MAP_TCP)
			return W.pmpError(op, W.PMP_UNSUPP_OPCODE, this.epoch());
		if (b.length < 12)
			return undefined;
		const r = W.pmpMapRequest(b);
		const proto: ForwardProto = op === W.PMP_OP_MAP_UDP ? "udp" : "tcp";
		const answer = (result: number, externalPort: number, lifetime: number, internalPort = r.internalPort) => {
			if (result === W.PMP_REFUSED)
				this.counters.refused++;
			if (result === W.PMP_NO_RESOURCES)
				this.counters.noResources++;
			return W.pmpMapAnswer(op, result, this.epoch(), internalPort, externalPort, lifetime);
		};
		if (r.lifetime === 0) {
			if (r.internalPort === 0) {
				this.counters.deleted += Pmp.removeAll(client, proto);
				return answer(W.PMP_SUCCESS, 0, 0, 0);
			}
			const f = Pmp.clientMapping(client, proto, r.internalPort);
			if (f && Mappings.remove(f.proto, f.externalPort))
				this.counters.deleted++;
			return answer(W.PMP_SUCCESS, 0, 0);
		}
		if (r.internalPort === 0)
			return answer(W.PMP_REFUSED, 0, 0);
		const lifetime = clampLifetime(r.lifetime);
		const outcome = this.#map(client, proto, r.internalPort, r.suggestedPort, lifetime, Pmp.PMP_DESCRIPTION, false, undefined);
		switch (outcome.result) {
		case "ok": return answer(W.PMP_SUCCESS, outcome.port, lifetime);
		case "refused": return answer(W.PMP_REFUSED, 0, 0);
		default: return answer(W.PMP_NO_RESOURCES, 0, 0);
		}
	}

	/*
	 * Make or renew a mapping of `client`'s internal port. `nonce` (PCP) is
	 * the description the existing mapping must carry when it is PCP's.
	 */
	#map(client: string, proto: ForwardProto, internalPort: number, suggested: number, lifetime: number, description: string,
		preferFailure: boolean, nonceMustMatch: string | undefined, remote = ""):
		{ result: "ok"; port: number } | { result: "refused" | "full" | "cannot" | "nonce" } {
		const ctx = this.#router.upnp.context;
		const existing = Pmp.clientMapping(client, proto, internalPort);
		if (existing && nonceMustMatch !== undefined && existing.description.startsWith(Pmp.PCP_PREFIX) && existing.description !== nonceMustMatch)
			return { result: "nonce" };
		let port: number;
		if (existing)
			port = existing.externalPort;
		else {
			if (Pmp.clientCount(client) >= PER_CLIENT_MAPPINGS || Mappings.count() >= ctx.config().limits.mappings)
				return { result: "full" };
			const want = suggested || internalPort;
			const chosen = Pmp.choosePort(ctx.config().rules, proto, client, internalPort, want);
			if (chosen.refused)
				return { result: "refused" };
			if (chosen.port === undefined)
				return { result: preferFailure ? "cannot" : "full" };
			if (preferFailure && chosen.port !== want)
				return { result: "cannot" };
			port = chosen.port;
		}
		const added = Mappings.add(ctx, { proto, externalPort: port, address: client, port: internalPort, remote, owner: client, lease: lifetime, description, origin: "pmp" });
		if (!added.ok)
			return { result: added.code === 728 || added.code === 718 ? "full" : "cannot" };
		if (added.created)
			this.counters.mapped++;
		return { result: "ok", port };
	}

	/* ---- PCP ---- */

	#pcp(b: Uint8Array, source: string): Uint8Array | undefined {
		if (b[1] & 0x80)
			return undefined;   // an answer
		const error = (code: number) => {
			if (code === W.PCP_NOT_AUTHORIZED)
				this.counters.refused++;
			if (code === W.PCP_NO_RESOURCES)
				this.counters.noResources++;
			const long = code !== W.PCP_NO_RESOURCES && code !== W.PCP_CANNOT_PROVIDE_EXTERNAL && code !== W.PCP_NETWORK_FAILURE;
			return W.pcpAnswer(b, code, long ? LONG_ERROR : SHORT_ERROR, this.epoch());
		};
		// Answered with the header and the opcode's body alone: never more than 80 bytes.
		if (b.length < W.PCP_HEADER || (b.length & 3) !== 0 || b.length > W.PCP_MAX)
			return error(W.PCP_MALFORMED_REQUEST);
		const r = W.pcpRequest(b);
		if (r.client !== source)
			return error(W.PCP_ADDRESS_MISMATCH);
		switch (r.op) {
		case W.PCP_OP_ANNOUNCE: {
			const opts = W.pcpOptions(b, W.PCP_HEADER, r.op);
			if (opts.problem !== W.PCP_SUCCESS)
				return error(opts.problem);
			return W.pcpAnswer(b, W.PCP_SUCCESS, 0, this.epoch());
		}
		case W.PCP_OP_MAP:
			return this.#pcpMap(b, r.lifetime, source, error);
		case W.PCP_OP_PEER:
			return this.#pcpPeer(b, r.lifetime, source, error);
		default:
			return error(W.PCP_UNSUPP_OPCODE);
		}
	}

	#pcpMap(b: Uint8Array, requested: number, source: string, error: (code: number) => Uint8Array): Uint8Array {
		if (b.length < W.PCP_HEADER + W.PCP_MAP_BODY)
			return error(W.PCP_MALFORMED_REQUEST);
		const m = W.pcpMapBody(b);
		const opts = W.pcpOptions(b, W.PCP_HEADER + W.PCP_MAP_BODY, W.PCP_OP_MAP);
		if (opts.problem !== W.PCP_SUCCESS)
			return error(opts.problem);
		if (m.protocol !== W.IPPROTO_TCP && m.protocol !== W.IPPROTO_UDP)
			return error(m.protocol === 0 && m.internalPort !== 0 ? W.PCP_MALFORMED_REQUEST : W.PCP_UNSUPP_PROTOCOL);
		if (m.internalPort === 0 || m.suggestedAddress === undefined)
			return error(W.PCP_MALFORMED_REQUEST);
		const ctx = this.#router.upnp.context;
		let client = source;
		if (opts.thirdParty !== undefined) {
			if (!onLan(ctx, opts.thirdParty) || !secureAllows(ctx, source, opts.thirdParty))
				return error(W.PCP_NOT_AUTHORIZED);
			client = opts.thirdParty;
		}
		if (opts.filters > 1)
			return error(W.PCP_EXCESSIVE_REMOTE_PEERS);
		const proto: ForwardProto = m.protocol === W.IPPROTO_TCP ? "tcp" : "udp";
		const description = `${Pmp.PCP_PREFIX}${W.hex(m.nonce)}`;
		const external = this.#externalAddress();
		if (requested === 0) {
			const f = Pmp.clientMapping(client, proto, m.internalPort);
			if (f && f.description.startsWith(Pmp.PCP_PREFIX) && f.description !== description)
				return error(W.PCP_NOT_AUTHORIZED);
			if (f && Mappings.remove(f.proto, f.externalPort))
				this.counters.deleted++;
			return W.pcpAnswer(b, W.PCP_SUCCESS, 0, this.epoch());
		}
		if (opts.preferFailure && m.suggestedAddress !== "" && m.suggestedAddress !== external)
			return error(W.PCP_CANNOT_PROVIDE_EXTERNAL);
		const lifetime = clampLifetime(requested);
		const outcome = this.#map(client, proto, m.internalPort, m.suggestedPort, lifetime, description, opts.preferFailure, description, opts.filter);
		switch (outcome.result) {
		case "ok": return W.pcpAnswer(b, W.PCP_SUCCESS, lifetime, this.epoch(), { port: outcome.port, address: external });
		case "nonce":
		case "refused": return error(W.PCP_NOT_AUTHORIZED);
		case "cannot": return error(W.PCP_CANNOT_PROVIDE_EXTERNAL);
		default: return error(W.PCP_NO_RESOURCES);
		}
	}

	/*
	 * PEER for a flow the host already has: its external port is kept for
	 * that one remote peer, as a forward restricted to it, for the lifetime
	 * asked (the flow itself may idle out meanwhile; the forward is then
	 * what a renewal or deletion finds). A host with no such flow gets
	 * CANNOT_PROVIDE_EXTERNAL: PEER makes no new mappings here.
	 */
	#pcpPeer(b: Uint8Array, requested: number, source: string, error: (code: number) => Uint8Array): Uint8Array {
		if (b.length < W.PCP_HEADER + W.PCP_PEER_BODY)
			return error(W.PCP_MALFORMED_REQUEST);
		const m = W.pcpPeerBody(b);
		const opts = W.pcpOptions(b, W.PCP_HEADER + W.PCP_PEER_BODY, W.PCP_OP_PEER);
		if (opts.problem !== W.PCP_SUCCESS)
			return error(opts.problem);
		if (m.protocol !== W.IPPROTO_TCP && m.protocol !== W.IPPROTO_UDP)
			return error(W.PCP_UNSUPP_PROTOCOL);
		if (m.internalPort === 0 || m.remotePort === 0 || !m.remoteAddress || m.suggestedAddress === undefined)
			return error(W.PCP_MALFORMED_REQUEST);
		const ctx = this.#router.upnp.context;
		let client = source;
		if (opts.thirdParty !== undefined) {
			if (!onLan(ctx, opts.thirdParty) || !secureAllows(ctx, source, opts.thirdParty))
				return error(W.PCP_NOT_AUTHORIZED);
			client = opts.thirdParty;
		}
		const proto: ForwardProto = m.protocol === W.IPPROTO_TCP ? "tcp" : "udp";
		const description = `${Pmp.PEER_PREFIX}${W.hex(m.nonce)}`;
		const external = this.#externalAddress();
		// The flow, or the PEER forward that has kept its port since the flow idled out.
		const kept = Pmp.peerMapping(client, proto, m.internalPort, m.remoteAddress);
		const flow = kept ? undefined : findFlow(proto, client, m.internalPort, m.remoteAddress, m.remotePort);
		const port = kept?.externalPort ?? flow?.externalPort ?? 0;
		const held = port ? Mappings.holder(proto, port) : undefined;
		if (held && held.address === client && held.port === m.internalPort && held.description.startsWith(Pmp.PEER_PREFIX) && held.description !== description)
			return error(W.PCP_NOT_AUTHORIZED);   // another PEER's nonce
		if (requested === 0) {
			if (held && held.description === description && Mappings.remove(held.proto, held.externalPort))
				this.counters.deleted++;
			return W.pcpAnswer(b, W.PCP_SUCCESS, 0, this.epoch());
		}
		if (!port)
			return error(W.PCP_CANNOT_PROVIDE_EXTERNAL);
		const lifetime = clampLifetime(requested);
		if (held && (held.address !== client || held.port !== m.internalPort))
			return error(W.PCP_CANNOT_PROVIDE_EXTERNAL);
		if (held && !held.description.startsWith(Pmp.PEER_PREFIX)) {
			// A mapping of the same endpoint (MAP, UPnP, static) keeps the port already.
			const left = held.leaseLeft || lifetime;
			return W.pcpAnswer(b, W.PCP_SUCCESS, Math.min(left, lifetime), this.epoch(), { port, address: external });
		}
		if (!held && (Pmp.clientCount(client) >= PER_CLIENT_MAPPINGS || Mappings.count() >= ctx.config().limits.mappings))
			return error(W.PCP_NO_RESOURCES);
		const added = Mappings.add(ctx, { proto, externalPort: port, address: client, port: m.internalPort, remote: m.remoteAddress, owner: client, lease: lifetime, description, origin: "pmp" });
		if (!added.ok)
			return error(W.PCP_NO_RESOURCES);
		if (added.created)
			this.counters.mapped++;
		return W.pcpAnswer(b, W.PCP_SUCCESS, lifetime, this.epoch(), { port, address: external });
	}
}

/* The live flow of this inside endpoint to this remote one: a walk of the flow table, bounded by the flows in use. */
function findFlow(proto: ForwardProto, inside: string, insidePort: number, remote: string, remotePort: number): Flow | undefined {
	const stats = Napt.stats();
	let found: Flow | undefined;
	Napt.eachFlow(stats.inUse.tcp + stats.inUse.udp + stats.inUse.icmp, (f) => {
		if (!found && f.proto === proto && f.inside === inside && f.insidePort === insidePort && f.remote === remote && f.remotePort === remotePort)
			found = f;
	});
	return found;
}
