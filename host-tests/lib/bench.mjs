// The end-to-end test bench: namespaces from bench/netns.sh, the simulator
// in namespace rtr with its console on a pipe, helpers to type commands and
// to run real tools in lan and wan. With { routers: 2 } a second simulator
// runs in rtr2 with its home in lan2, both WAN ports on the ISP's segment
// (bench.routers[1]). Every wait is bounded; stop() removes everything even
// after a failure, and an interrupted run cleans up too.
import { spawn, execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// npm test points this at the sanitized build (ASan + UBSan on our C and lwIP).
export const SIM = process.env.ROUTER_SIM ? path.resolve(process.env.ROUTER_SIM) : path.join(TOP, "build/sim/router-sim");
const NETNS = path.join(TOP, "host-tests/bench/netns.sh");
// BENCH_NS_PREFIX runs this bench in its own namespaces (netns.sh): tests
// still name them rtr, lan, wan and far.
const NS_PREFIX = process.env.BENCH_NS_PREFIX ?? "";
export const nsName = (ns) => `${NS_PREFIX}${ns}`;
// Where netns.sh keeps dnsmasq's files for this bench.
export const BENCH_STATE = process.env.BENCH_STATE ?? `/tmp/natbridge-bench${NS_PREFIX ? `-${NS_PREFIX}` : ""}`;

export const ROUTER_LAN = "192.168.4.1";
export const LAN_HOST = "192.168.4.2";
export const ISP_GATEWAY = "198.51.100.1";
// far, a peer on the Internet behind the ISP (bench/netns.sh): three
// addresses on one host, and the ISP's side of the link.
export const FAR_HOST = "203.0.113.10";
export const FAR_ALT = "203.0.113.11";
export const FAR_THIRD = "203.0.113.12";
export const FAR_GATEWAY = "203.0.113.1";

const PROMPT = "router> ";

function run(cmd, argv, { timeout = 30000, input, env } = {}) {
	return new Promise((resolve) => {
		const child = execFile(cmd, argv, { timeout, maxBuffer: 16 * 1024 * 1024, env: env ? { ...process.env, ...env } : undefined }, (error, stdout, stderr) => {
			resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr, killed: !!error?.killed });
		});
		if (input !== undefined)
			child.stdin.end(input);
	});
}

async function netns(action, routers = 1) {
	const result = await run("bash", [NETNS, action], { timeout: 20000, env: { BENCH_ROUTERS: String(routers) } });
	if (result.code !== 0)
		throw new Error(`netns.sh ${action} failed: ${result.stderr}`);
}

const live = new Set();
function cleanupAtExit() {
	for (const bench of live)
		bench.stopSync();
}
process.once("exit", cleanupAtExit);
for (const signal of ["SIGINT", "SIGTERM"])
	process.once(signal, () => {
		cleanupAtExit();
		process.exit(130);
	});

// The simulator's serial console: everything it printed, and waits on it.
class SimConsole {
	constructor(child) {
		this.child = child;
		this.text = "";
		this.errors = "";
		this.waiters = new Set();
		child.stdout.setEncoding("utf8");
		child.stderr.setEncoding("utf8");
		child.stdout.on("data", (chunk) => {
			this.text += chunk.replace(/\r/g, "");
			this.#poke();
		});
		child.stderr.on("data", (chunk) => {
			this.errors += chunk;
			this.#poke();
		});
		child.on("exit", () => this.#poke());
	}

	#poke() {
		for (const waiter of this.waiters)
			waiter();
	}

	// Resolve with the match once `regex` matches output after `from`.
	waitFor(regex, timeout = 10000, { from = 0, stream = "stdout" } = {}) {
		return new Promise((resolve, reject) => {
			const check = () => {
				const text = (stream === "stderr" ? this.errors : this.text).slice(from);
				const match = regex.exec(text);
				if (match) {
					done();
					resolve(match);
				}
				else if (this.child.exitCode !== null || this.child.signalCode !== null) {
					done();
					reject(new Error(`simulator exited (${this.child.exitCode ?? this.child.signalCode}) before ${regex}\n--- console:\n${this.text}\n--- stderr:\n${this.errors}`));
				}
			};
			const timer = setTimeout(() => {
				done();
				reject(new Error(`timed out after ${timeout} ms waiting for ${regex}\n--- console:\n${this.text.slice(from)}\n--- stderr:\n${this.errors}`));
			}, timeout);
			const done = () => {
				clearTimeout(timer);
				this.waiters.delete(check);
			};
			this.waiters.add(check);
			check();
		});
	}

	send(line) {
		this.child.stdin.write(line + "\n");
	}

	// Type a command; resolve with what it printed before the next prompt.
	async command(line, timeout = 10000) {
		await this.waitFor(/router> $/, timeout, { from: Math.max(0, this.text.length - PROMPT.length) });
		let from = this.text.length;
		this.send(line);
		// Announcements (a DHCP lease, a link change) arrive on their own as
		// "\n<port>: ...\nrouter> "; they are not the command's output.
		for (let i = 0; i < 8; i++) {
			const match = await this.waitFor(/^([\s\S]*?)router> /, timeout, { from });
			if (!/^\n(wan|lan): [^\n]*\n$/.test(match[1]))
				return match[1].replace(/\n$/, "");
			from += match[0].length;
		}
		throw new Error(`command ${line}: no output among the announcements`);
	}
}

// A port's MAC from show interfaces ("wan: tap:rtr-wan mac 02:... link up ...").
export function parseMacs(interfaces) {
	const macs = {};
	for (const m of interfaces.matchAll(/^(wan|lan): \S+ mac ([0-9a-f]{2}(?::[0-9a-f]{2}){5}) /gm))
		macs[m[1]] = m[2];
	return macs;
}

/*
 * The bench. Options: prefs (router 1's preferences file), main (the module
 * to run), attach (move the TAP ports into the namespaces and start the
 * ISP), waitForPrompt, routers (1, or 2 on one ISP segment), mac (router 1's
 * --mac; by default the simulator makes its own from the prefs path).
 */
export async function startBench({ prefs, main = "main", attach = true, waitForPrompt = true, routers: count = 1, mac, heap } = {}) {
	if (!fs.existsSync(SIM))
		throw new Error(`no simulator at ${SIM}: run node tools/build-sim.mjs`);
	if (count !== 1 && count !== 2)
		throw new Error(`startBench: 1 or 2 routers, not ${count}`);
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "natbridge-test-"));
	const bench = {
		dir,
		children: new Set(),
		routers: [],
		stopped: false,
	};
	live.add(bench);

	bench.exec = (ns, argv, options) => run("ip", ["netns", "exec", nsName(ns), ...argv], options);
	bench.spawn = (ns, argv) => {
		const child = spawn("ip", ["netns", "exec", nsName(ns), ...argv], { stdio: ["pipe", "pipe", "pipe"] });
		bench.children.add(child);
		child.on("exit", () => bench.children.delete(child));
		return child;
	};

	// A process in a namespace with everything it printed kept from the
	// start (a line printed between two waits is not lost), bounded waits on
	// that output, and a bounded stop.
	bench.track = (ns, argv) => {
		const child = bench.spawn(ns, argv);
		const tracked = { child, argv, stdout: "", stderr: "" };
		child.stdout.setEncoding("utf8");
		child.stderr.setEncoding("utf8");
		child.stdout.on("data", (chunk) => { tracked.stdout += chunk; });
		child.stderr.on("data", (chunk) => { tracked.stderr += chunk; });
		child.stdin.on("error", () => {}); // writing to one that has exited
		tracked.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
		tracked.output = () => `${argv.join(" ")}\n--- stdout:\n${tracked.stdout}\n--- stderr:\n${tracked.stderr}`;
		// Resolve with the match once `regex` matches stdout (or stderr), from offset `from` on.
		tracked.waitFor = async (regex, ms = 5000, { stream = "stdout", from = 0 } = {}) => {
			const deadline = Date.now() + ms;
			for (;;) {
				const match = regex.exec((stream === "stderr" ? tracked.stderr : tracked.stdout).slice(from));
				if (match)
					return match;
				if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline)
					throw new Error(`no ${regex} ${Date.now() > deadline ? `within ${ms} ms` : "before it exited"} from ${tracked.output()}`);
				await sleep(25);
			}
		};
		tracked.write = (text) => child.stdin.write(text);
		tracked.stop = async (ms = 3000) => {
			if (child.exitCode === null && child.signalCode === null) {
				child.kill("SIGTERM");
				const timer = setTimeout(() => child.kill("SIGKILL"), ms);
				await tracked.exited;
				clearTimeout(timer);
			}
		};
		return tracked;
	};

	// Wait until a socket in `ns` listens on address:port ("tcp" or "udp");
	// a wildcard address counts.
	bench.waitListening = async (ns, proto, address, port, ms = 5000) => {
		const deadline = Date.now() + ms;
		const wanted = new Set([`${address}:${port}`, `0.0.0.0:${port}`, `*:${port}`]);
		let last = "";
		for (;;) {
			const result = await run("ip", ["netns", "exec", nsName(ns), "ss", "-Hln", proto === "udp" ? "-u" : "-t"], { timeout: 5000 });
			last = result.stdout;
			for (const line of last.split("\n"))
				if (wanted.has(line.trim().split(/\s+/)[3]))
					return;
			if (Date.now() > deadline)
				throw new Error(`nothing listens on ${proto} ${address}:${port} in ${ns} within ${ms} ms:\n${last}`);
			await sleep(50);
		}
	};

	// A server in a namespace, once it listens; killed by stop() at the latest.
	bench.serve = async (ns, argv, { proto = "tcp", address, port, timeout = 5000 }) => {
		const tracked = bench.track(ns, argv);
		const outcome = await Promise.race([
			bench.waitListening(ns, proto, address, port, timeout).then(() => "listening", (e) => e.message),
			tracked.exited.then((code) => `exited (${code}) before listening on ${proto} ${address}:${port}`),
		]);
		if (outcome !== "listening") {
			await tracked.stop();
			throw new Error(`${outcome}\n${tracked.output()}`);
		}
		return tracked;
	};

	/*
	 * Router n (0 or 1): its simulator in rtr (rtr2), TAP ports rtr-wan and
	 * rtr-lan (rtr2-wan, rtr2-lan), its home in lan (lan2), its own
	 * preferences file and so its own MAC.
	 */
	const makeRouter = (n) => {
		const tag = n === 0 ? "rtr" : `rtr${n + 1}`;
		const router = {
			index: n,
			ns: tag,
			lan: n === 0 ? "lan" : `lan${n + 1}`,
			wanTap: `${tag}-wan`,
			lanTap: `${tag}-lan`,
			prefs: n === 0 ? (prefs ?? path.join(dir, "router.prefs")) : path.join(dir, `router${n + 1}.prefs`),
			mac: n === 0 ? mac : undefined,
			sim: undefined,
			console: undefined,
		};
		router.startSim = async () => {
			const argv = [SIM, "--wan", router.wanTap, "--lan", router.lanTap, "--prefs", router.prefs, "--main", main];
			if (router.mac)
				argv.push("--mac", router.mac);
			if (heap)
				argv.push("--heap", String(heap));
			const child = spawn("ip", ["netns", "exec", nsName(router.ns), ...argv], { stdio: ["pipe", "pipe", "pipe"] });
			router.sim = child;
			router.console = new SimConsole(child);
			// FASTPATH=off: every router forwards through lwIP alone, as typed at the console on each start.
			if (process.env.FASTPATH === "off" && main === "main") {
				const answer = await router.console.command("set nat fastpath off", 15000);
				if (!/fastpath off/.test(answer))
					throw new Error(`set nat fastpath off: ${answer}`);
			}
			return child;
		};
		// The router's WAN address once DHCP has bound, from the console.
		router.wanAddress = async (timeout = 30000, from = 0) => {
			const match = await router.console.waitFor(/wan: (198\.51\.100\.\d+)\/24 gateway 198\.51\.100\.1/, timeout, { from });
			return match[1];
		};
		// Its ports' MACs, as show interfaces tells them: { wan, lan }.
		router.macs = async () => parseMacs(await router.console.command("show interfaces"));
		router.stopSim = async () => {
			const child = router.sim;
			if (!child || child.exitCode !== null || child.signalCode !== null)
				return;
			const exited = new Promise((resolve) => child.once("exit", resolve));
			child.kill("SIGTERM");
			const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
			await exited;
			clearTimeout(timer);
		};
		/*
		 * A power cut: the simulator killed with SIGKILL (nothing flushed, no
		 * stop), then started again on the same preferences file. Its TAP
		 * ports went with the process; the new ones are put where netns.sh
		 * attach puts them (one router: the WAN port into the ISP, the LAN
		 * port into the home with the PC's address). Resolves at the prompt.
		 */
		router.powerCut = async () => {
			const child = router.sim;
			if (child && child.exitCode === null && child.signalCode === null) {
				const exited = new Promise((resolve) => child.once("exit", resolve));
				child.kill("SIGKILL");
				await exited;
			}
			await router.startSim();
			const ns = nsName(router.ns);
			for (let i = 0; i < 100; i++) {
				const up = await run("ip", ["-n", ns, "link", "show", router.lanTap]);
				const up2 = await run("ip", ["-n", ns, "link", "show", router.wanTap]);
				if (up.code === 0 && up2.code === 0)
					break;
				await sleep(100);
			}
			const ip = async (...argv) => {
				const r = await run("ip", argv);
				if (r.code !== 0)
					throw new Error(`ip ${argv.join(" ")}: ${r.stderr}`);
			};
			if (count === 1) {
				await ip("-n", ns, "link", "set", router.wanTap, "netns", nsName("wan"));
				await ip("-n", nsName("wan"), "addr", "add", "198.51.100.1/24", "dev", router.wanTap);
				await ip("-n", nsName("wan"), "link", "set", router.wanTap, "up");
			}
			await ip("-n", ns, "link", "set", router.lanTap, "netns", nsName(router.lan));
			await ip("-n", nsName(router.lan), "addr", "add", "192.168.4.2/24", "dev", router.lanTap);
			await ip("-n", nsName(router.lan), "link", "set", router.lanTap, "up");
			await ip("-n", nsName(router.lan), "route", "add", "default", "via", "192.168.4.1");
			await router.console.waitFor(/router> /, 15000);
		};
		return router;
	};
	for (let n = 0; n < count; n++)
		bench.routers.push(makeRouter(n));
	// Router 1 is the bench's own, as the single-router tests know it.
	const first = bench.routers[0];
	for (const name of ["prefs", "sim", "console"])
		Object.defineProperty(bench, name, { get: () => first[name], enumerable: true });
	bench.startSim = first.startSim;
	bench.stopSim = first.stopSim;
	bench.powerCut = first.powerCut;
	bench.wanAddress = first.wanAddress;
	bench.macs = first.macs;

	bench.stopSync = () => {
		if (bench.stopped)
			return;
		bench.stopped = true;
		live.delete(bench);
		for (const child of bench.children)
			child.kill("SIGKILL");
		for (const router of bench.routers)
			router.sim?.kill("SIGKILL");
		try {
			execFileSyncQuiet("bash", [NETNS, "down"]);
		}
		catch {
			// best effort at exit
		}
		fs.rmSync(dir, { recursive: true, force: true });
	};

	bench.stop = async () => {
		if (bench.stopped)
			return;
		for (const child of bench.children)
			child.kill("SIGKILL");
		for (const router of bench.routers)
			await router.stopSim();
		await netns("down", count);
		bench.stopped = true;
		live.delete(bench);
		fs.rmSync(dir, { recursive: true, force: true });
		// A sanitizer report anywhere in the run fails the test that ran it.
		for (const router of bench.routers) {
			const report = /^(.*runtime error:.*|==\d+==ERROR: .*Sanitizer.*)$/m.exec(router.console?.errors ?? "");
			if (report)
				throw new Error(`sanitizer report from the simulator in ${router.ns}:\n${router.console.errors}`);
		}
	};

	try {
		await netns("up", count);
		for (const router of bench.routers)
			await router.startSim();
		if (attach)
			await netns("attach", count);
		if (waitForPrompt)
			for (const router of bench.routers)
				await router.console.waitFor(/router> /, 15000);
	}
	catch (e) {
		await bench.stop();
		throw e;
	}
	return bench;
}

export function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function execFileSyncQuiet(cmd, argv) {
	execFileSync(cmd, argv, { stdio: "ignore", timeout: 20000 });
}

// ping from a namespace; true when every echo was answered.
export async function ping(bench, ns, address, count = 3) {
	const result = await bench.exec(ns, ["ping", "-c", String(count), "-i", "0.2", "-W", "2", address], { timeout: 20000 });
	return { ok: result.code === 0 && new RegExp(`${count} received`).test(result.stdout), output: result.stdout + result.stderr };
}

// A console command that must be accepted: its output, or a failed assertion naming it.
export async function accepted(bench, line) {
	const out = await bench.console.command(line);
	assert.doesNotMatch(out, /^error:/m, `${line}\n${out}`);
	return out;
}
