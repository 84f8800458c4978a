// SYN floods on the bench and legitimate connections timed through them,
// shared by the hostile tests (host-tests/hostile/) and the flood bench
// (host-tests/bench/flood-bench.mjs).
import path from "node:path";
import { TOP } from "./bench.mjs";

const FLOOD_PY = path.join(TOP, "host-tests/lib/syn-flood.py");
const TIMER_PY = path.join(TOP, "host-tests/lib/connect-timer.py");

// A second host on the home network, besides LAN_HOST (192.168.4.2) which floods.
export const LAN_OTHER = "192.168.4.3";
// A LAN address no interface has: the ARP-answering flooder's own.
export const LAN_FLOODER = "192.168.4.66";
export const FLOODER_MAC = "02:00:00:00:04:42";
// Spoofed LAN sources: 62 addresses no host has, so nothing answers the router's ARP for them.
export const LAN_SPOOFED = "192.168.4.64/26";
// Spoofed Internet sources: the far range past far's own three addresses.
export const SPOOFED_NET = "203.0.113.64/26";

/*
 * A SYN flood from `ns` on `iface` to the router's MAC `dstMac`, `rate`
 * frames a second for `seconds`; resolves once its frames are built and it
 * sends. `done` resolves with { sent, rate } when it ends.
 */
export async function startFlood(bench, { ns, iface, dstMac, src, dst, dport, rate, seconds, arp = false, srcMac, linger = 0 }) {
	const argv = ["env", `SYN_FLOOD_LINGER=${linger}`, "python3", "-u", FLOOD_PY, "--iface", iface, "--dst-mac", dstMac, "--src", src,
		"--dst", dst, "--dport", String(dport), "--rate", String(rate), "--seconds", String(seconds)];
	if (arp)
		argv.push("--arp");
	if (srcMac)
		argv.push("--src-mac", srcMac);
	const flood = bench.track(ns, argv);
	await flood.waitFor(/^ready$/m, 30000);
	const summary = /^sent (\d+) in ([\d.]+) s \((\d+)\/s\), (\d+) send errors$/m;
	const result = (m) => ({ sent: Number(m[1]), seconds: Number(m[2]), rate: Number(m[3]), errors: Number(m[4]) });
	// Ends it now (SIGTERM: it stops sending and prints its summary).
	flood.finish = async () => {
		flood.child.kill("SIGTERM");
		const m = await flood.waitFor(summary, 5000).catch(() => null);
		await flood.stop();
		return m ? result(m) : null;
	};
	// Waits for it to end by itself.
	flood.done = async () => {
		const m = await flood.waitFor(summary, (seconds + linger + 15) * 1000);
		await flood.stop();
		return result(m);
	};
	return flood;
}

/*
 * `count` new connections from `ns` (from `source`, or any) to host:port, one
 * after another, each given `limit` seconds to get the server's greeting,
 * stopping after `maxFailures`: [{ ok, ms, reason }].
 */
export async function timeConnections(bench, ns, host, port, { source = "-", count = 20, limit = 10, gap = 0.05, maxFailures = count } = {}) {
	const result = await bench.exec(ns, ["python3", "-u", TIMER_PY, host, String(port), source, String(count), String(limit), String(gap), String(maxFailures)],
		{ timeout: Math.ceil(count * (limit + gap + 1) * 1000) + 10000 });
	const conns = [...result.stdout.matchAll(/^conn (\d+) (ok|fail) ([\d.]+)(?: (\S+))?$/gm)]
		.map((m) => ({ ok: m[2] === "ok", ms: Number(m[3]), reason: m[4] }));
	if (!/^done$/m.test(result.stdout) || (conns.length !== count && conns.filter((c) => !c.ok).length < maxFailures))
		throw new Error(`connect-timer did not finish (${result.code}):\n${result.stdout}\n${result.stderr}`);
	return conns;
}

// p50, p99 and max of the times, and how many failed.
export function summarize(conns) {
	const times = conns.map((c) => c.ms).sort((a, b) => a - b);
	const at = (q) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)];
	return { n: conns.length, failures: conns.filter((c) => !c.ok).length, p50: at(0.5), p99: at(0.99), max: times[times.length - 1] };
}

export function formatSummary(s) {
	return `${s.n} connections: p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, max ${s.max.toFixed(0)} ms, ${s.failures} failed`;
}
