/*
 * Boot: configuration, NAT, SIP ALG, ports, DHCP server, DNS forwarder, UPnP, NAT-PMP and PCP, banner, console.
 * The work is in the default export, which the runtime calls: the module
 * itself is preloaded (built at build time, kept in flash), and nothing
 * runs on the board until it boots.
 */
import Platform from "platform";
import * as Config from "config";
import { Router } from "router";
import { LineConsole } from "console/line-console";
import { execute } from "console/commands";
import { startSipAlg } from "sipalg/sipalg-commands";
import { PRODUCT, VERSION } from "version";

export default function main(): void {
	const portWarnings = Platform.start();
	const loaded = Config.load();
	const router = new Router(loaded);
	const console = new LineConsole(Platform.consoleEcho, (line) => {
		execute(line, router, (text) => { console.print(text); });
	});
	router.print = (line) => { console.notify(line); };
	router.onRestart = () => { console.hold(); };
	const natWarnings = router.startNat();
	// After NAT (its pinholes are NAT forwards), before the ports: no SIP crosses unrewritten.
	const sipWarnings = startSipAlg(router);

	console.print("");
	console.print(`${PRODUCT} ${VERSION} (${Platform.name}: ${Platform.description})`);
	for (const warning of [...portWarnings, ...Platform.bootWarnings()])
		console.print(`warning: ${warning}`);
	if (loaded.warning)
		console.print(`warning: ${loaded.warning}`);
	for (const warning of [...natWarnings, ...sipWarnings])
		console.print(`warning: ${warning}`);
	router.start();
	for (const problem of [router.dhcp.start(), router.dns.start(), router.upnp.start(), router.pmp.start()])
		if (problem)
			console.print(`warning: ${problem}`);
	const lan = router.status("lan");
	console.print(`lan  ${Router.cidr(lan)} on ${lan.device} (${lan.mac})`);
	const wan = router.status("wan");
	console.print(`wan  ${loaded.config.wan.mode === "dhcp" ? "dhcp, waiting for a lease" : router.describeWan()} on ${wan.device} (${wan.mac})`);
	console.print("Type help for commands.");
	console.prompt();
}
