// Helpers for the SIP end-to-end tests: sipp (Debian sip-tester) and
// baresip runs in the bench's namespaces, their message logs read back as
// SIP messages and SDP, RTP-like media endpoints (host-tests/sip/udp-peer.py)
// and the router's `show sipalg`. Every process has a bounded life (sipp's
// -timeout, the peer's own minute) and is also killed by bench.stop().
import fs from "node:fs";
import path from "node:path";
import { TOP, sleep } from "./bench.mjs";

export const SIP_DIR = path.join(TOP, "host-tests/sip");
export const PY = "/usr/bin/python3";
export const SIPP = "/usr/bin/sipp";
export const BARESIP = "/usr/bin/baresip";
export const KAMAILIO = "/usr/sbin/kamailio";
const UDP_PEER = path.join(SIP_DIR, "udp-peer.py");
const POKE = path.join(SIP_DIR, "sip-poke.py");

export const re = (s) => String(s).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// The Debian package each tool comes from (tools/setup.sh installs them).
const PACKAGES = { [SIPP]: "sip-tester", [BARESIP]: "baresip-core", [KAMAILIO]: "kamailio", [PY]: "python3" };

// Throw, naming the package, when a tool the tests run is not installed.
export function requireTools(...tools) {
	const missing = tools.filter((tool) => !fs.existsSync(tool));
	if (missing.length)
		throw new Error(`not installed: ${missing.map((tool) => `${tool} (Debian ${PACKAGES[tool] ?? "?"})`).join(", ")}; run tools/setup.sh`);
}

// ---------------------------------------------------------------- sipp

/*
 * Start sipp in `ns` with a scenario of host-tests/sip. `remote` ("host:port")
 * makes it a client; without, it waits for calls on local. Call-IDs are
 * `${callId}` for a client (sipp's -cid_str), so a test knows the call's.
 * Resolves once it listens on its SIP port. `timeout` (s) bounds its life;
 * sipp then exits non-zero (-timeout_error). `calls` > 1 makes that many
 * calls (a client starts them all at once, 16 a second; a server takes them
 * side by side); `mediaPort` is sipp's -mp, the first [auto_media_port].
 */
export async function sipp(bench, ns, { scenario, local, remote, transport = "udp", keys = {}, callId = "e2e-%u", service = "callee", timeout = 25, name, calls = 1, mediaPort }) {
	const label = name ?? `${ns}-${path.basename(scenario, ".xml")}`;
	const log = path.join(bench.dir, `${label}.messages.log`);
	const errors = path.join(bench.dir, `${label}.errors.log`);
	const [host, port] = local.split(":");
	const argv = [SIPP];
	if (remote)
		argv.push(remote);
	argv.push("-sf", path.join(SIP_DIR, scenario), "-i", host, "-p", port, "-t", transport === "tcp" ? "t1" : "u1",
		"-m", String(calls), ...(calls > 1 ? ["-l", String(calls), "-r", "16"] : []), ...(mediaPort ? ["-mp", String(mediaPort)] : []),
		"-timeout", `${timeout}s`, "-timeout_error", "-nostdin", "-max_retrans", "4",
		"-trace_msg", "-message_file", log, "-trace_err", "-error_file", errors, "-cid_str", callId, "-s", service);
	for (const [key, value] of Object.entries(keys))
		argv.push("-key", key, String(value));
	const tracked = bench.track(ns, argv);
	const run = {
		tracked, log, errors, label,
		messages: () => parseMessageLog(readIfThere(log)),
		errorText: () => readIfThere(errors),
		report: () => `--- sipp ${label}: ${argv.join(" ")}\n--- exit: ${tracked.child.exitCode ?? tracked.child.signalCode}\n--- errors:\n${readIfThere(errors)}\n--- messages:\n${readIfThere(log)}\n--- stdout (tail):\n${tracked.stdout.slice(-1500)}\n--- stderr:\n${tracked.stderr}`,
		// The exit code once it exits within ms; killed (and null) otherwise.
		finish: async (ms = (timeout + 5) * 1000) => {
			let timer;
			const code = await Promise.race([tracked.exited, new Promise((resolve) => { timer = setTimeout(() => resolve("timeout"), ms); })]);
			clearTimeout(timer);
			if (code === "timeout") {
				await tracked.stop(1000);
				return null;
			}
			return code;
		},
		stop: () => tracked.stop(1000),
	};
	const outcome = await Promise.race([
		bench.waitListening(ns, transport, host, Number(port), 5000).then(() => "listening", (e) => e.message),
		tracked.exited.then((code) => `sipp exited (${code}) before listening`),
	]);
	if (outcome !== "listening") {
		await tracked.stop(1000);
		throw new Error(`${outcome}\n${run.report()}`);
	}
	return run;
}

function readIfThere(file) {
	try {
		return fs.readFileSync(file, "utf8");
	}
	catch {
		return "";
	}
}

// Wait (bounded) until a sipp log holds a message that `predicate` accepts.
export async function waitForMessage(run, predicate, what, ms = 8000) {
	const deadline = Date.now() + ms;
	for (;;) {
		const found = run.messages().find(predicate);
		if (found)
			return found;
		if (run.tracked.child.exitCode !== null || run.tracked.child.signalCode !== null || Date.now() > deadline)
			throw new Error(`no ${what} in ${run.label}'s log ${Date.now() > deadline ? `within ${ms} ms` : "before it exited"}\n${run.report()}`);
		await sleep(50);
	}
}

// Have a caller of uac-call*.xml hang up (sip-poke.py, inside its own namespace).
export async function hangUp(bench, ns, local, callId, transport = "udp") {
	const [host, port] = local.split(":");
	const r = await bench.exec(ns, [PY, POKE, transport, host, port, callId], { timeout: 5000 });
	if (r.code !== 0)
		throw new Error(`sip-poke.py: ${r.stdout}${r.stderr}`);
}

// ---------------------------------------------------------------- messages

const COMPACT = { v: "via", m: "contact", l: "content-length", i: "call-id", f: "from", t: "to", c: "content-type", e: "content-encoding", s: "subject", k: "supported" };

/*
 * One SIP message from its text: start line, headers (name lower-cased,
 * compact forms expanded, folded lines joined, in order) and body.
 */
export function parseSip(text) {
	const split = /\r?\n\r?\n/.exec(text);
	const head = split ? text.slice(0, split.index) : text;
	const body = split ? text.slice(split.index + split[0].length) : "";
	const lines = head.split(/\r?\n/);
	const startLine = lines.shift() ?? "";
	const headers = [];
	for (const line of lines) {
		if (/^[ \t]/.test(line) && headers.length)
			headers[headers.length - 1][1] += ` ${line.trim()}`;
		else {
			const colon = line.indexOf(":");
			if (colon < 0)
				continue;
			const name = line.slice(0, colon).trim().toLowerCase();
			headers.push([COMPACT[name] ?? name, line.slice(colon + 1).trim()]);
		}
	}
	const response = /^SIP\/2\.0 (\d{3})/.exec(startLine);
	const request = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(startLine);
	return {
		text, startLine, headers, body,
		status: response ? Number(response[1]) : 0,
		method: request ? request[1] : (/^\d+ ([A-Z]+)$/.exec(headerOf(headers, "cseq") ?? "")?.[1] ?? ""),
		isRequest: !!request,
		uri: request ? request[2] : "",
		header: (name) => headerOf(headers, name),
		all: (name) => headers.filter(([n]) => n === name).map(([, v]) => v),
	};
}

function headerOf(headers, name) {
	return headers.find(([n]) => n === name)?.[1];
}

/*
 * sipp's -trace_msg log: each entry a dashed line with a time, "UDP message
 * sent (n bytes):" or "TCP message received [n] bytes :", a blank line and
 * the n bytes of the message as they went (CRLFs kept). Returns
 * [{ dir: "sent"|"received", transport, bytes, ...parseSip }].
 */
export function parseMessageLog(text) {
	const out = [];
	for (const chunk of text.split(/^-{20,} .*\n/m)) {
		const m = /^(UDP|TCP) message (sent|received) (?:\[(\d+)\] bytes|\((\d+) bytes\)) ?:\n\n/.exec(chunk);
		if (!m)
			continue;
		const bytes = Number(m[3] ?? m[4]);
		const message = chunk.slice(m[0].length, m[0].length + bytes);
		if (!message.trim())
			continue;
		out.push({ dir: m[2], transport: m[1], bytes, ...parseSip(message) });
	}
	return out;
}

/*
 * An SDP body: o= address, session c=, and per m= line its media, port,
 * connection address (media c=, else session) and a=rtcp (port, address).
 */
export function parseSdp(body) {
	const sdp = { origin: undefined, connection: undefined, media: [], lines: body.split(/\r?\n/).filter((l) => l.length) };
	let current;
	for (const line of sdp.lines) {
		const [type, value] = [line[0], line.slice(2)];
		if (type === "o")
			sdp.origin = value.split(/\s+/)[5];
		else if (type === "c") {
			const address = value.split(/\s+/)[2];
			if (current)
				current.connection = address;
			else
				sdp.connection = address;
		}
		else if (type === "m") {
			const [media, port, proto] = value.split(/\s+/);
			current = { media, port: Number(port), proto, connection: undefined, rtcp: undefined, rtcpAddress: undefined };
			sdp.media.push(current);
		}
		else if (type === "a" && current && value.startsWith("rtcp:")) {
			const words = value.slice(5).split(/\s+/);
			current.rtcp = Number(words[0]);
			current.rtcpAddress = words[3];
		}
	}
	for (const m of sdp.media) {
		m.address = m.connection ?? sdp.connection;
		m.rtcpPort = m.rtcp ?? m.port + 1;
		m.rtcpAddress ??= m.address;
	}
	return sdp;
}

// The address and port of a SIP URI in a header value (<sip:user@host:port;...>).
export function uriHostPort(value) {
	const m = /sips?:(?:[^@<>;\s]*@)?([^:;>\s]+)(?::(\d+))?/.exec(value ?? "");
	return m ? { host: m[1], port: m[2] ? Number(m[2]) : 5060 } : undefined;
}

// The topmost Via's sent-by.
export function viaSentBy(value) {
	const m = /^SIP\/2\.0\/[A-Z]+\s+([^:;\s]+)(?::(\d+))?/i.exec(value ?? "");
	return m ? { host: m[1], port: m[2] ? Number(m[2]) : 5060 } : undefined;
}

// Whether Content-Length matches the body's bytes (the message arrived whole and consistent).
export function lengthConsistent(message) {
	const declared = message.header("content-length");
	return declared !== undefined && Number(declared) === Buffer.byteLength(message.body);
}

// ---------------------------------------------------------------- media

/*
 * RTP-like endpoints in a namespace (udp-peer.py): socket i bound to
 * endpoints[i]. send() sends count packets tagged `tag`; got(tag) lists
 * what arrived with it: [{ local, from, length, payload }].
 */
export async function mediaPeer(bench, ns, endpoints) {
	const tracked = bench.track(ns, [PY, "-u", UDP_PEER, ...endpoints]);
	await tracked.waitFor(/^ready$/m, 5000);
	const got = (tag) => [...tracked.stdout.matchAll(/^recv (\S+) (\S+) (\d+) (\S+) (\d+)$/gm)]
		.filter((m) => m[4] === tag)
		.map((m) => ({ local: m[1], from: m[2], length: Number(m[3]), payload: `${m[4]} ${m[5]}` }));
	return {
		tracked,
		got,
		send: async (i, host, port, tag, count = 5) => {
			tracked.write(`send ${i} ${host} ${port} ${count} ${tag}\n`);
			await tracked.waitFor(new RegExp(`^sent ${i} ${count} ${re(tag)}$`, "m"), 5000);
		},
		// Wait until `n` packets tagged `tag` arrived (or ms passed); what arrived.
		waitGot: async (tag, n, ms = 3000) => {
			const deadline = Date.now() + ms;
			while (got(tag).length < n && Date.now() < deadline)
				await sleep(25);
			return got(tag);
		},
		stop: async () => {
			tracked.write("quit\n");
			await tracked.stop(1000);
		},
	};
}

// ---------------------------------------------------------------- router

/*
 * `show sipalg`, read by the form its help documents (src/sipalg/sipalg-commands.ts):
 *   sipalg: on|off, ports <port>[,<port>...]
 *   dialogs: <n> of <max>
 *     <call-id> inside <ip> remote <ip> early|confirmed media <in>-><ext>[,...]|none expires <s>s
 *   registrations: <n> of <max>
 *     <ip>:<port> via :<ext-port> registrar <ip> expires <s>s
 *   pinholes: <n> of <max>
 *     udp <ext>[-<end>] -> <ip>:<port>[-<end>] [lease <s>s] [remote <ip>]
 *   tcp: <n> connections of <max>
 *   counters: <name> <n> ... (over one or more lines)
 */
export function parseShowSipalg(text) {
	const state = { text, enabled: undefined, ports: [], dialogs: [], registrations: [], pinholes: [], counters: {}, counts: {} };
	let section = "";
	for (const raw of text.split("\n")) {
		const line = raw.trim();
		let m;
		if ((m = /^sipalg: (on|off), ports ([\d,]+)/.exec(line))) {
			state.enabled = m[1] === "on";
			state.ports = m[2].split(",").map(Number);
			section = "";
		}
		else if ((m = /^(dialogs|registrations|pinholes): (\d+) of (\d+)/.exec(line))) {
			section = m[1];
			state.counts[section] = { n: Number(m[2]), max: Number(m[3]) };
		}
		else if ((m = /^tcp: (\d+) connections of (\d+)/.exec(line))) {
			section = "";
			state.counts.tcp = { n: Number(m[1]), max: Number(m[2]) };
		}
		else if (/^counters:/.test(line) || section === "counters") {
			section = "counters";
			for (const c of line.replace(/^counters:/, "").matchAll(/([a-z][a-z-]*) (\d+)/g))
				state.counters[c[1]] = Number(c[2]);
		}
		else if (section === "dialogs" && (m = /^(\S+) inside (\S+) remote (\S+) (early|confirmed) media (\S+) expires (\d+)s/.exec(line))) {
			const media = m[5] === "none" ? [] : m[5].split(",").map((pair) => {
				const [inside, ext] = pair.split("->").map(Number);
				return { inside, ext };
			});
			state.dialogs.push({ callId: m[1], inside: m[2], remote: m[3], state: m[4], media, expires: Number(m[6]), line });
		}
		else if (section === "registrations" && (m = /^(\S+):(\d+) via :(\d+) registrar (\S+) expires (\d+)s/.exec(line)))
			state.registrations.push({ inside: m[1], insidePort: Number(m[2]), ext: Number(m[3]), registrar: m[4], expires: Number(m[5]), line });
		else if (section === "pinholes" && (m = /^(udp|tcp) (\d+)(?:-(\d+))? -> (\S+):(\d+)(?:-(\d+))?(?: lease (\d+)s)?(?: remote (\S+))?/.exec(line))) {
			const ext = Number(m[2]);
			state.pinholes.push({
				proto: m[1], ext, extEnd: m[3] ? Number(m[3]) : ext, inside: m[4], port: Number(m[5]), portEnd: m[6] ? Number(m[6]) : Number(m[5]),
				lease: m[7] ? Number(m[7]) : undefined, remote: m[8], line,
			});
		}
	}
	// A dialog is listed by the first 39 bytes of its Call-ID.
	state.dialog = (callId) => state.dialogs.find((d) => d.callId === callId.slice(0, 39));
	// The pinhole whose external range holds this port.
	state.pinhole = (port) => state.pinholes.find((p) => p.ext <= port && port <= p.extEnd);
	return state;
}

export async function showSipalg(bench) {
	return parseShowSipalg(await bench.console.command("show sipalg"));
}

// Whether the router has the `sipalg` command (the ALG glue is in).
export async function hasSipalg(bench) {
	const out = await bench.console.command("help sipalg");
	return !/^error:/m.test(out) && /sipalg/.test(out);
}

// The external port of the router's UDP or TCP flow from inside to remote (show nat flows).
export async function flowExternalPort(bench, proto, inside, remote) {
	const out = await bench.console.command("show nat flows 200");
	const m = new RegExp(`^${proto} ${re(inside)} -> ${re(remote)} via :(\\d+)`, "m").exec(out);
	return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------- baresip

/*
 * A baresip user agent in `ns` on addr:5060, from the templates in
 * host-tests/sip/baresip (no sound card: ausine as the source, no player),
 * answering calls at once, commands on stdin. Resolves once it is ready and
 * listens. It quits by itself after `life` seconds in any case. With
 * `registrar` (an address) its account registers there as user@registrar
 * (accounts-registrar.in); without, it registers nowhere and is dialled by
 * address.
 */
export async function baresip(bench, ns, { addr, user, rtpPorts, life = 40, name, registrar }) {
	const dir = path.join(bench.dir, `baresip-${name ?? user}`);
	fs.mkdirSync(dir, { recursive: true });
	const fill = (file) => fs.readFileSync(path.join(SIP_DIR, "baresip", file), "utf8")
		.replaceAll("{{ADDR}}", addr).replaceAll("{{USER}}", user).replaceAll("{{RTP_PORTS}}", rtpPorts)
		.replaceAll("{{REGISTRAR}}", registrar ?? "");
	fs.writeFileSync(path.join(dir, "config"), fill("config.in"));
	fs.writeFileSync(path.join(dir, "accounts"), fill(registrar ? "accounts-registrar.in" : "accounts.in"));
	const argv = [BARESIP, "-f", dir, "-t", String(life)];
	const tracked = bench.track(ns, argv);
	const agent = {
		tracked,
		// What it printed, without colours and without the echo of typed commands.
		text: () => tracked.stdout.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "").replace(/(\/\/[^\n]*?)+(?=\n|$)/g, ""),
		command: (line) => tracked.write(`${line}\n`),
		waitFor: async (regex, ms = 8000) => {
			const deadline = Date.now() + ms;
			for (;;) {
				const m = regex.exec(agent.text());
				if (m)
					return m;
				if (tracked.child.exitCode !== null || tracked.child.signalCode !== null || Date.now() > deadline)
					throw new Error(`baresip ${name ?? user}: no ${regex} ${Date.now() > deadline ? `within ${ms} ms` : "before it exited"}\n${agent.report()}`);
				await sleep(50);
			}
		},
		/*
		 * The RTP summary baresip prints when a call ends:
		 *   audio  Transmit: Receive: / packets: <tx> <rx> / ...
		 */
		summary: () => {
			const m = /audio\s+Transmit:\s+Receive:\s*\npackets:\s+(\d+)\s+(\d+)/.exec(agent.text());
			return m ? { sent: Number(m[1]), received: Number(m[2]) } : undefined;
		},
		report: () => `--- baresip ${name ?? user}: ${argv.join(" ")}\n--- stdout:\n${agent.text().slice(-6000)}\n--- stderr:\n${tracked.stderr}`,
		stop: async () => {
			agent.command("/quit");
			let timer;
			await Promise.race([tracked.exited, new Promise((resolve) => { timer = setTimeout(resolve, 2000); })]);
			clearTimeout(timer);
			await tracked.stop(1000);
		},
	};
	try {
		await agent.waitFor(/baresip is ready\./, 8000);
		await bench.waitListening(ns, "udp", addr, 5060, 5000);
	}
	catch (e) {
		await agent.stop();
		throw e;
	}
	return agent;
}

// ---------------------------------------------------------------- kamailio

/*
 * Debian's kamailio in `ns` with host-tests/sip/<cfg> (a registrar and
 * proxy on addr:5060, UDP), in the foreground (-DD), logging to stderr (-E),
 * its runtime files in the bench's directory. Resolves once it listens;
 * stop() ends it (and bench.stop() at the latest, with its namespace).
 */
export async function kamailio(bench, ns, { addr, cfg = "kamailio.cfg" }) {
	const run = path.join(bench.dir, "kamailio");
	fs.mkdirSync(run, { recursive: true });
	const argv = [KAMAILIO, "-f", path.join(SIP_DIR, cfg), "-DD", "-E", "-m", "32", "-M", "4", "-Y", run, "-P", path.join(run, "kamailio.pid")];
	const tracked = await bench.serve(ns, argv, { proto: "udp", address: addr, port: 5060, timeout: 10000 });
	return {
		tracked,
		log: () => tracked.stderr,
		report: () => `--- kamailio: ${argv.join(" ")}\n--- stderr (tail):\n${tracked.stderr.slice(-6000)}`,
		stop: () => tracked.stop(3000),
	};
}
