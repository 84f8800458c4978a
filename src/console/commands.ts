/*
 * The console's commands. Each one checks all of its arguments before it
 * changes anything, so a mistake is explained in one line and leaves the
 * configuration as it was.
 */
import Net from "net";
import Platform from "platform";
import { Router } from "router";
import { parseHostCidr } from "net/ipv4";
import { PRODUCT, VERSION } from "version";
import { CommandError, checked, expectCount, fail } from "console/command";
import type { Command } from "console/command";
import { natLanProblems } from "nat/nat-config";
import { SET_NAT_USAGE, dmzCommand, forwardCommand, natConfigLines, setNat, showForwards, showNat } from "nat/nat-commands";
import { showUpnp, upnpCommand, upnpConfigLines } from "upnp/upnp-commands";
import { natpmpCommand, pcpCommand, pmpConfigLines, showNatpmp } from "natpmp/natpmp-commands";
import { showSipalg, sipalgCommand, sipalgConfigLines } from "sipalg/sipalg-commands";
import { dhcpCommand, dhcpConfigLines, showDhcp } from "lan/dhcp-commands";
import { dhcpForLan } from "lan/dhcp-config";
import { dnsCommand, dnsConfigLines, showDns } from "lan/dns-commands";
import { SET_WAN_USAGE, setWan } from "wan/wan-commands";
import { wanConfigLine, wanOverlapsLan } from "wan/wan-config";

function formatUptime(ms: number): string {
	let s = Math.floor(ms / 1000);
	const d = Math.floor(s / 86400);
	s -= d * 86400;
	const h = Math.floor(s / 3600);
	s -= h * 3600;
	const m = Math.floor(s / 60);
	s -= m * 60;
	return `${d ? `${d}d ` : ""}${h}h ${m}m ${s}s`;
}

function showStatus(router: Router, print: (line: string) => void): void {
	const lan = router.status("lan");
	print(`${PRODUCT} ${VERSION} on ${Platform.name}, up ${formatUptime(Platform.uptime())}`);
	print(`wan  ${router.running.wan.mode.padEnd(6)} ${router.describeWan()}`);
	print(`lan  static ${Router.cidr(lan)}${router.lanPending() ? ` (${router.running.lan.address}/${router.running.lan.prefix} after restart)` : ""}`);
	print(`config ${router.describeSaved()}`);
}

function showInterfaces(router: Router, print: (line: string) => void): void {
	for (const role of ["wan", "lan"] as const) {
		const s = router.status(role);
		const c = s.counters;
		print(`${role}: ${s.device} mac ${s.mac} link ${s.link ? "up" : "down"} ${s.up ? "enabled" : "disabled"} mtu ${s.mtu}`);
		print(`  address ${Router.cidr(s)}${s.gateway !== "0.0.0.0" ? ` gateway ${s.gateway}` : ""}${role === "wan" ? ` dhcp ${s.dhcp}` : ""}`);
		if (role === "wan" && s.dns.length)
			print(`  dns ${s.dns.join(" ")}`);
		print(`  rx ${c.rxFrames} frames ${c.rxBytes} bytes ${c.rxDropped} dropped, ${c.ip4Input} ipv4; tx ${c.txFrames} frames ${c.txBytes} bytes ${c.txErrors} errors`);
	}
}

/* The running configuration as the commands that would recreate it. */
function showConfig(router: Router, print: (line: string) => void): void {
	const c = router.running;
	print(`set lan ${c.lan.address}/${c.lan.prefix}${router.lanPending() ? "    (applies after save and restart)" : ""}`);
	print(wanConfigLine(c.wan));
	for (const line of natConfigLines(router))
		print(line);
	for (const line of [...upnpConfigLines(router), ...pmpConfigLines(router)])
		print(line);
	for (const line of [...dhcpConfigLines(router), ...dnsConfigLines(router)])
		print(line);
	for (const line of sipalgConfigLines(router))
		print(line);
	print(`# ${router.describeSaved()}`);
}

/* Datagrams the router's UDP sockets dropped with their queue (8 each) full: lost, so counted. */
const udpStats = native("xs_router_udp_stats") as () => { dropped: number };

function showMemory(print: (line: string) => void): void {
	Platform.gc();   // what is live, not what garbage happens to be waiting
	const m = Platform.memory();
	const share = (n: number): string => `${Math.round(n * 100 / m.heapSize)}%`;
	print(`xs heap: ${m.heapUsed} of ${m.heapSize} bytes held (${share(m.heapUsed)}), peak ${m.heapPeak} (${share(m.heapPeak)}); live ${m.live} (stack ${m.stack})`);
	print(`xs keys: ${m.keysUsed} made at run time of ${m.keysAvailable}; preloaded modules ${m.preloaded} bytes (flash)`);
	print(`xs engine: chunks ${m.chunksInUse} in use of ${m.chunksReserved} (peak ${m.chunksPeak}); slots ${m.slotsInUse} in use of ${m.slotsReserved} (peak ${m.slotsPeak})`);
	print(`udp: ${udpStats().dropped} datagrams dropped with a socket's queue full`);
	print(`tcp: ${Net.timewaitReopened()} connections in TIME_WAIT reopened by a client's new SYN`);
	print("lwip pools:     used    max  avail  errors");
	for (const pool of Net.pools())
		print(`  ${pool.name.padEnd(14)}${String(pool.used).padStart(5)}${String(pool.max).padStart(7)}${String(pool.available).padStart(7)}${String(pool.errors).padStart(8)}`);
}

const SHOW_TOPICS = ["status", "interfaces", "config", "version", "memory", "nat", "nat flows", "forwards", "upnp", "upnp rules", "natpmp", "sipalg", "dhcp", "dns"];
const SHOW_USAGE = "show status|interfaces|config|version|memory|nat|forwards|upnp|natpmp|sipalg|dhcp|dns";

const commands: Command[] = [
	{
		name: "help",
		usage: ["help [command]"],
		summary: "list the commands, or explain one",
		run(args, _router, print) {
			expectCount("help", args, 0, 1, "help [command]");
			if (args.length) {
				const command = commands.find((c) => c.name === args[0]);
				if (!command)
					fail(`help: no command '${args[0]}' (type help for the list)`);
				for (const usage of command.usage)
					print(`usage: ${usage}`);
				print(`  ${command.summary}`);
				for (const line of command.detail ?? [])
					print(`  ${line}`);
				return;
			}
			for (const command of commands)
				print(`  ${(command.synopsis ?? command.usage[0]).padEnd(46)} ${command.summary}`);
			print("Type help <command> for details.");
		},
	},
	{
		name: "show",
		usage: ["show status|interfaces|config|version|memory", "show nat [flows [n]]", "show forwards", "show upnp [rules]", "show natpmp", "show sipalg", "show dhcp", "show dns"],
		synopsis: "show status|interfaces|config|nat|forwards|upnp|sipalg|dhcp|dns|...",
		summary: "show the router's state",
		detail: [
			"status      addresses, uptime and whether the configuration is saved",
			"interfaces  both ports: device, MAC, link, addresses, counters",
			"config      the running configuration, as the commands that make it",
			"version     firmware version and board",
			"memory      XS heap and lwIP pools in use",
			"nat         the translation table: flows, timeouts, counters, drops",
			"nat flows   the first n flows (20 unless given, up to 10000)",
			"forwards    port forwards (static, UPnP, then SIP ALG pinholes) and the DMZ host",
			"upnp        the UPnP gateway: mappings, subscribers, counters",
			"upnp rules  the UPnP permission rules, in the order they are tried",
			"natpmp      NAT-PMP and PCP: on/off, their mappings, clients, counters",
			"sipalg      the SIP ALG: dialogs, registrations, pinholes, counters",
			"            (help sipalg gives the format)",
			"dhcp        the LAN DHCP server: pool, leases, reservations",
			"dns         the DNS forwarder: upstream servers, cache, counters",
		],
		run(args, router, print) {
			expectCount("show", args, 1, Infinity, SHOW_USAGE);
			if (args[0] === "nat") {
				showNat(args.slice(1), router, print);
				return;
			}
			if (args[0] === "forwards") {
				showForwards(args.slice(1), router, print);
				return;
			}
			if (args[0] === "upnp") {
				showUpnp(args.slice(1), router, print);
				return;
			}
			if (args[0] === "natpmp") {
				showNatpmp(args.slice(1), router, print);
				return;
			}
			if (args[0] === "sipalg") {
				showSipalg(args.slice(1), router, print);
				return;
			}
			if (args[0] === "dhcp") {
				showDhcp(args.slice(1), router, print);
				return;
			}
			if (args[0] === "dns") {
				showDns(args.slice(1), router, print);
				return;
			}
			expectCount("show", args, 1, 1, SHOW_USAGE);
			switch (args[0]) {
			case "status": showStatus(router, print); break;
			case "interfaces": showInterfaces(router, print); break;
			case "config": showConfig(router, print); break;
			case "version": print(`${PRODUCT} ${VERSION} (${Platform.name}: ${Platform.description})`); break;
			case "memory": showMemory(print); break;
			default: fail(`show: unknown topic '${args[0]}' (${SHOW_TOPICS.join(", ")})`);
			}
		},
	},
	{
		name: "set",
		usage: [...SET_WAN_USAGE, "set lan <ip/len>", ...SET_NAT_USAGE],
		synopsis: "set wan|lan|nat ...",
		summary: "change the WAN or LAN address, or NAT settings",
		detail: [
			"set wan ... applies at once; set lan ... applies after save and restart.",
			"set nat filtering and set nat timeout apply at once; set nat flows (the",
			"table size, 16 to 32768) after save and restart.",
			"filtering adf (the default): only hosts a LAN host has sent to may reach",
			"its mapping; eif: any host may (endpoint-independent).",
			"Timeouts below the RFC minimums (udp 120, tcp 7440, tcp-transitory 240,",
			"icmp 60 seconds) need force.",
			"Every change is lost at restart unless saved.",
		],
		run(args, router, print) {
			if (!args.length)
				fail("set: missing argument (set wan ..., set lan ... or set nat ...)");
			if (args[0] === "wan")
				setWan(args.slice(1), router, print);
			else if (args[0] === "lan") {
				expectCount("set lan", args.slice(1), 1, 1, "set lan <ip/len>");
				const cidr = checked("set lan", parseHostCidr(args[1]));
				const wan = router.running.wan;
				if (wan.mode === "static" && wanOverlapsLan(wan, cidr))
					fail(`set lan: ${cidr.address}/${cidr.prefix} overlaps the WAN ${wan.address}/${wan.prefix}`);
				const stranded = natLanProblems(router.running.nat, cidr);
				if (stranded.length)
					fail(`set lan: ${stranded[0]} (change or remove it first)`);
				const dhcp = dhcpForLan(router.running.dhcp, router.running.lan, cidr);
				router.setLan(cidr.address, cidr.prefix);
				router.running.dhcp = dhcp.config;
				print(`lan: ${cidr.address}/${cidr.prefix} (applies after save and restart)${dhcp.notes.map((n) => `; ${n}`).join("")}`);
			}
			else if (args[0] === "nat")
				setNat(args.slice(1), router, print);
			else
				fail(`set: unknown setting '${args[0]}' (wan, lan or nat)`);
		},
	},
	forwardCommand,
	dmzCommand,
	upnpCommand,
	natpmpCommand,
	pcpCommand,
	sipalgCommand,
	dhcpCommand,
	dnsCommand,
	{
		name: "save",
		usage: ["save"],
		summary: "keep the running configuration across restarts",
		run(args, router, print) {
			expectCount("save", args, 0, 0, "save");
			router.save();
			print("saved");
		},
	},
	{
		name: "restart",
		usage: ["restart"],
		summary: "reboot the router (unsaved changes are lost)",
		run(args, router, print) {
			expectCount("restart", args, 0, 0, "restart");
			print(router.unsaved() ? "restarting; unsaved changes are discarded" : "restarting");
			router.restart();
		},
	},
	{
		name: "factory-reset",
		usage: ["factory-reset"],
		summary: "erase the saved configuration and reboot with defaults",
		run(args, router, print) {
			expectCount("factory-reset", args, 0, 0, "factory-reset");
			print("erasing configuration and restarting with factory defaults");
			router.factoryReset();
		},
	},
];

export function execute(line: string, router: Router, print: (line: string) => void): void {
	const words = line.trim().split(/\s+/).filter((w) => w.length);
	if (!words.length)
		return;
	const command = commands.find((c) => c.name === words[0]);
	try {
		if (!command)
			fail(`unknown command '${words[0]}' (type help for the list)`);
		command.run(words.slice(1), router, print);
	}
	catch (e) {
		if (e instanceof CommandError)
			print(`error: ${e.message}`);
		else
			print(`error: ${words[0]}: ${e instanceof Error ? e.message : String(e)}`);
	}
}
