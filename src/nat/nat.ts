/*
 * NAPT as the router runs it: started from the configuration at boot, and
 * every later change made both to the running configuration (so save keeps
 * it) and to the table. If the table could not start (no memory for its
 * pool) the configuration still changes, so the owner can fix it and save.
 */
import Napt from "napt";
import type { Forward, ForwardProto, OriginFilter, TimeoutName } from "napt";
import type { Filtering, ForwardConfig, NatConfig } from "nat/nat-config";
import { MAX_FORWARDS, TIMEOUT_RULES, forwardText } from "nat/nat-config";

export class Nat {
	#config: () => NatConfig;
	/* Whether the table runs (Napt.start succeeded at boot). */
	running = false;
	/* The pool size the table was started with; a changed config.flows waits for a restart. */
	readonly activeFlows: number;

	/*
	 * Forward pool size: the static forwards, the UPnP mappings allowed at
	 * boot, and the SIP ALG's pinholes (SipAlg.forwardRoom(): 2 per dialog
	 * plus one per registration, 40 by default), each kind capped by its
	 * owner so that none takes the others' room.
	 */
	readonly forwardPool: number;

	constructor(config: () => NatConfig, upnpMappings: number, sipPinholes: number) {
		this.#config = config;
		this.activeFlows = config().flows;
		this.forwardPool = MAX_FORWARDS + upnpMappings + sipPinholes;
	}

	/* Start the table with the saved forwards and DMZ host; the warnings, if any, for the console. */
	start(): string[] {
		const c = this.#config();
		try {
			this.running = Napt.start({ flows: c.flows, forwards: this.forwardPool, filtering: c.filtering, timeouts: c.timeouts, hostShare: Math.min(c.hostShare ?? 0, c.flows) });
		}
		catch (e) {
			return [`nat did not start (${e instanceof Error ? e.message : String(e)}); packets are forwarded untranslated`];
		}
		if (!this.running)
			return [`nat did not start (no memory for ${c.flows} flows?); packets are forwarded untranslated`];
		const warnings: string[] = [];
		for (const f of c.forwards) {
			const result = Napt.forwardAdd({ ...f, origin: "static" });
			if (result !== "ok")
				warnings.push(`forward ${forwardText(f)} not installed (${result})`);
		}
		if (c.dmz)
			Napt.setDmz(c.dmz);
		Napt.setFastpath(c.fastpath ?? true);
		return warnings;
	}

	flowsPending(): boolean {
		return this.#config().flows !== this.activeFlows;
	}

	setFlows(flows: number): void {
		this.#config().flows = flows;
	}

	setFiltering(filtering: Filtering): void {
		this.#config().filtering = filtering;
		if (this.running)
			Napt.setFiltering(filtering);
	}

	/* 0: a quarter of the table. */
	setHostShare(flows: number): void {
		this.#config().hostShare = flows;
		if (this.running)
			Napt.setHostShare(Math.min(flows, this.activeFlows));
	}

	setFastpath(on: boolean): void {
		if (on)
			delete this.#config().fastpath;
		else
			this.#config().fastpath = false;
		Napt.setFastpath(on);
	}

	setTimeout(name: TimeoutName, seconds: number): void {
		const rule = TIMEOUT_RULES.find((r) => r.name === name);
		if (!rule)
			throw new RangeError(`no timeout ${name}`);
		this.#config().timeouts[rule.key] = seconds;
		if (this.running)
			Napt.setTimeout(name, seconds);
	}

	/*
	 * Add static forwards, all or none: the reason when the table refuses
	 * one (the ones already added are taken out again), else undefined.
	 */
	addForwards(forwards: ForwardConfig[]): string | undefined {
		const added: ForwardConfig[] = [];
		if (this.running)
			for (const f of forwards) {
				const result = Napt.forwardAdd({ ...f, origin: "static" });
				if (result !== "ok") {
					for (const a of added)
						Napt.forwardRemove(a.proto, a.externalPort);
					return result === "full" ? "no room for more forwards" : `${forwardText(f)}: ${result}`;
				}
				added.push(f);
			}
		this.#config().forwards.push(...forwards);
		return undefined;
	}

	/* Remove the forward on (proto, externalPort), static or UPnP (never a SIP pinhole); false when there is none. */
	removeForward(proto: ForwardProto, externalPort: number): boolean {
		const config = this.#config();
		const index = config.forwards.findIndex((f) => f.proto === proto && f.externalPort === externalPort);
		const held = this.running ? this.findForward((f) => f.proto === proto && f.externalPort === externalPort) : undefined;
		const removed = held !== undefined && held.origin !== "sip" && Napt.forwardRemove(proto, externalPort) === "ok";
		if (index >= 0)
			config.forwards.splice(index, 1);
		return removed || index >= 0;
	}

	setDmz(address: string): void {
		this.#config().dmz = address;
		if (this.running)
			Napt.setDmz(address);
	}

	/* Every forward in force: the table's (UPnP ones and SIP pinholes too), or the configured ones when it is off. */
	forwards(): Forward[] {
		if (this.running)
			return Napt.forwards();
		return this.#config().forwards.map((f) => ({ ...f, remote: "", owner: "", leaseLeft: 0, origin: "static" }));
	}

	/*
	 * The forwards in force of one origin (all: undefined), a copy at a time:
	 * a listing on the console never holds the whole table in the XS heap.
	 * Returns how many there were.
	 */
	eachForward(origin: OriginFilter | undefined, f: (forward: Forward) => void): number {
		if (!this.running) {
			const all = this.forwards().filter((g) => origin === undefined || g.origin === origin);
			all.forEach(f);
			return all.length;
		}
		let n = 0;
		for (let g = Napt.forwardAt(0, origin); g; g = Napt.forwardAt(++n, origin))
			f(g);
		return n;
	}

	/* The first forward in force that pred accepts, looked at a copy at a time. */
	findForward(pred: (forward: Forward) => boolean): Forward | undefined {
		if (!this.running)
			return this.forwards().find(pred);
		for (let i = 0, g = Napt.forwardAt(0); g; g = Napt.forwardAt(++i))
			if (pred(g))
				return g;
		return undefined;
	}

	forwardCount(origin?: OriginFilter): number {
		return this.running ? Napt.forwardCount(origin) : this.forwards().filter((g) => origin === undefined || g.origin === origin).length;
	}

	dmz(): string {
		return this.running ? Napt.dmz() : this.#config().dmz;
	}
}
