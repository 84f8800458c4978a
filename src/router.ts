/*
 * The running router: the configuration in force, what differs from the
 * saved one, and applying it to the ports. WAN settings apply at once; the
 * LAN address applies at the next restart, so a change typed at the console
 * never cuts the LAN off mid-session (save, then restart).
 */
import Net from "net";
import type { PortStatus, Role } from "net";
import Platform from "platform";
import * as Config from "config";
import type { RouterConfig } from "config";
import type { WanConfig } from "wan/wan-config";
import { netmaskToPrefix, prefixToNetmask } from "net/ipv4";
import { Nat } from "nat/nat";
import { Upnp } from "upnp/upnp";
import { PmpServer } from "natpmp/server";
import { DhcpServer } from "lan/dhcp-server";
import { DnsForwarder } from "lan/dns-forwarder";
import SipAlg from "sipalg";

export type Print = (line: string) => void;

export class Router {
	running: RouterConfig;
	/* The LAN settings the ports actually carry (running.lan may be pending). */
	activeLan: RouterConfig["lan"];
	saved: RouterConfig | undefined;
	/* NAPT: its table, and changes to running.nat. */
	readonly nat: Nat;
	/* The UPnP gateway (started after the ports, stopped before a restart). */
	readonly upnp: Upnp;
	/* The NAT-PMP and PCP server (started after UPnP, stopped before it). */
	readonly pmp: PmpServer;
	/* The LAN's DHCP server and DNS forwarder (started after the ports). */
	readonly dhcp: DhcpServer;
	readonly dns: DnsForwarder;
	/* Where announcements go (the console). */
	print: Print = () => undefined;
	/* Called just before the platform reboots. */
	onRestart: () => void = () => {};
	/* What was last reported per port, so only real changes are announced. */
	#reported: Record<Role, string> = { wan: "", lan: "" };
	/* The link state last reported per port: a cable pulled leaves the address as it was. */
	#link: Record<Role, boolean> = { wan: true, lan: true };

	constructor(loaded: Config.Loaded) {
		this.running = loaded.config;
		this.activeLan = { ...loaded.config.lan };
		this.saved = loaded.saved ? Config.clone(loaded.config) : undefined;
		// The SIP ALG's pinholes are NAPT forwards: the pool has room for them from the start.
		this.nat = new Nat(() => this.running.nat, loaded.config.upnp.limits.mappings, SipAlg.forwardRoom());
		this.upnp = new Upnp(this);
		this.pmp = new PmpServer(this);
		this.dhcp = new DhcpServer(this);
		this.dns = new DnsForwarder(this);
	}

	/* Before the ports come up, so no packet crosses untranslated; returns warnings for the console. */
	startNat(): string[] {
		return this.nat.start();
	}

	start(): void {
		Net.onChange((role) => { this.portChanged(role); });
		Net.configure("lan", {
			mode: "static",
			address: this.activeLan.address,
			netmask: prefixToNetmask(this.activeLan.prefix),
		});
		this.applyWan(this.running.wan);
		// What the banner shows need not be announced again.
		this.#reported.lan = Router.cidr(this.status("lan"));
		this.#reported.wan = this.describeWan();
		this.#link.lan = this.status("lan").link;
		this.#link.wan = this.status("wan").link;
	}

	applyWan(wan: WanConfig): void {
		if (wan.mode === "dhcp")
			Net.configure("wan", { mode: "dhcp" });
		else
			Net.configure("wan", {
				mode: "static",
				address: wan.address,
				netmask: prefixToNetmask(wan.prefix),
				gateway: wan.gateway,
				dns: wan.dns,
			});
	}

	setWan(wan: WanConfig): void {
		this.running.wan = wan;
		this.applyWan(wan);
	}

	setLan(address: string, prefix: number): void {
		this.running.lan = { address, prefix };
	}

	lanPending(): boolean {
		return this.running.lan.address !== this.activeLan.address || this.running.lan.prefix !== this.activeLan.prefix;
	}

	unsaved(): boolean {
		return !this.saved || JSON.stringify(this.saved) !== JSON.stringify(this.running);
	}

	describeSaved(): string {
		if (!this.unsaved())
			return "saved";
		if (!this.saved && JSON.stringify(this.running) === JSON.stringify(Config.defaults()))
			return "factory defaults (nothing saved)";
		return "unsaved changes: type save to keep them across restarts";
	}

	save(): void {
		Config.save(this.running);
		this.saved = Config.clone(this.running);
	}

	restart(): void {
		this.dhcp.stop();   // leases not yet written go to flash first
		this.dns.stop();
		this.pmp.stop();
		this.upnp.stop();   // byebye, so control points forget us now rather than in 30 minutes
		this.onRestart();
		Platform.restart();
	}

	factoryReset(): void {
		this.dhcp.stop();   // its last lease write goes before the erase, not after it
		Platform.erasePreferences();
		this.restart();
	}

	status(role: Role): PortStatus {
		return Net.status(role);
	}

	/* "198.51.100.7/24" or "none" */
	static cidr(status: PortStatus): string {
		if (status.address === "0.0.0.0")
			return "none";
		return `${status.address}/${netmaskToPrefix(status.netmask) ?? status.netmask}`;
	}

	describeWan(): string {
		const wan = this.status("wan");
		const mode = this.running.wan.mode;
		if (wan.address === "0.0.0.0")
			return mode === "dhcp" ? `no address (dhcp ${wan.dhcp})` : "no address";
		const parts = [Router.cidr(wan)];
		if (wan.gateway !== "0.0.0.0")
			parts.push(`gateway ${wan.gateway}`);
		if (wan.dns.length)
			parts.push(`dns ${wan.dns.join(",")}`);
		if (mode === "static")
			parts.push("(static)");
		else if (wan.dhcp !== "bound" || wan.leaseSeconds === undefined)
			parts.push(`(dhcp ${wan.dhcp})`);   // rebooting after a link change, renewing, rebinding
		else
			parts.push(`(dhcp from ${wan.dhcpServer ?? "?"}, lease ${wan.leaseSeconds}s)`);
		return parts.join(" ");
	}

	portChanged(role: Role): void {
		if (role === "wan")
			this.pmp.wanChanged();
		// The address text does not change when only the link does; that is news too.
		const link = this.status(role).link;
		if (link !== this.#link[role]) {
			this.#link[role] = link;
			this.print(`${role}: link ${link ? "up" : "down"}`);
		}
		const text = role === "wan" ? this.describeWan() : Router.cidr(this.status("lan"));
		if (text === this.#reported[role])
			return;
		this.#reported[role] = text;
		this.print(`${role}: ${text}`);
	}
}
