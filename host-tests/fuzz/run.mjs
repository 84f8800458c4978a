#!/usr/bin/env node
// Builds and runs the libFuzzer harnesses (clang-14 from Debian) with
// ASan and UBSan, 32-bit (-m32, as the simulator and the ESP32: i386
// runtimes from libclang-rt-14-dev, libstdc++ from lib32stdc++-12-dev),
// from a seed corpus of well-formed packet sequences.
//   node host-tests/fuzz/run.mjs [--seconds N] [--runs N] [harness...]
// The suite runs each briefly with a fixed seed; `npm run fuzz` runs longer.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(top, "build/fuzz");

export const harnesses = {
	napt: {
		sources: ["host-tests/fuzz/napt_fuzz.c", "modules/napt/napt_table.c", "modules/napt/napt_translate.c"],
		includes: ["modules/napt"],
		seeds: naptSeeds,
		// inputs the suite runs, with a fixed seed
		runs: 2000000,
	},
	sip: {
		sources: ["host-tests/fuzz/sip_fuzz.c", "modules/sipalg/sip_msg.c"],
		includes: ["modules/sipalg"],
		seeds: sipSeeds,
		runs: 500000,
	},
};

function be16(n) {
	return [(n >> 8) & 255, n & 255];
}

function checksum(bytes) {
	let s = 0;
	for (let i = 0; i + 1 < bytes.length; i += 2)
		s += (bytes[i] << 8) | bytes[i + 1];
	if (bytes.length & 1)
		s += bytes[bytes.length - 1] << 8;
	while (s > 0xffff)
		s = (s & 0xffff) + (s >>> 16);
	return (~s) & 0xffff;
}

function ipv4(proto, src, dst, payload, ttl = 64) {
	const header = [0x45, 0, ...be16(20 + payload.length), 0, 1, 0, 0, ttl, proto, 0, 0, ...src, ...dst];
	const sum = checksum(header);
	header[10] = sum >> 8;
	header[11] = sum & 255;
	return [...header, ...payload];
}

const LAN_HOST = [192, 168, 4, 2];
const LAN_OTHER = [192, 168, 4, 3];
const WAN = [198, 51, 100, 10];
const FAR = [203, 0, 113, 10];

function udp(sport, dport, data = [1, 2, 3, 4]) {
	return [...be16(sport), ...be16(dport), ...be16(8 + data.length), 0, 0, ...data];
}

function tcp(sport, dport, flags) {
	return [...be16(sport), ...be16(dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0];
}

function icmp(type, code, rest) {
	const message = [type, code, 0, 0, ...rest];
	const sum = checksum(message);
	message[2] = sum >> 8;
	message[3] = sum & 255;
	return message;
}

// [ctl][len][packet] records; ctl bit 0 = inbound (see napt_fuzz.c).
function record(inbound, packet, seconds = 0, flags = 0) {
	return [(seconds << 4) | flags | (inbound ? 1 : 0), ...be16(packet.length), ...packet];
}

function naptSeeds() {
	const outUdp = ipv4(17, LAN_HOST, FAR, udp(40000, 5001));
	const inUdp = ipv4(17, FAR, WAN, udp(5001, 40000));
	const echo = ipv4(1, LAN_HOST, FAR, icmp(8, 0, [0x12, 0x34, 0, 1, 9, 9, 9, 9]));
	const echoReply = ipv4(1, FAR, WAN, icmp(0, 0, [0x12, 0x34, 0, 1, 9, 9, 9, 9]));
	const unreachable = ipv4(1, FAR, WAN, icmp(3, 3, [0, 0, 0, 0, ...ipv4(17, WAN, FAR, udp(40000, 5001)).slice(0, 28)]));
	const syn = ipv4(6, LAN_HOST, FAR, tcp(41000, 80, 0x02));
	const synAck = ipv4(6, FAR, WAN, tcp(80, 41000, 0x12));
	const fin = ipv4(6, LAN_HOST, FAR, tcp(41000, 80, 0x11));
	const rst = ipv4(6, FAR, WAN, tcp(80, 41000, 0x04));
	const forwardSyn = ipv4(6, FAR, WAN, tcp(50000, 8080, 0x02));
	const hairpin = ipv4(6, LAN_OTHER, WAN, tcp(42000, 8080, 0x02));
	const dmz = ipv4(17, FAR, WAN, udp(6000, 9999));
	const timeExceeded = ipv4(1, FAR, WAN, icmp(11, 0, [0, 0, 0, 0, ...ipv4(1, WAN, FAR, icmp(8, 0, [0x12, 0x34, 0, 1])).slice(0, 28)]));
	return {
		udp: [...record(false, outUdp), ...record(true, inUdp), ...record(true, unreachable, 1)],
		icmp: [...record(false, echo), ...record(true, echoReply), ...record(true, timeExceeded)],
		tcp: [...record(false, syn), ...record(true, synAck), ...record(false, fin, 2), ...record(true, rst, 15)],
		forward: [...record(true, forwardSyn), ...record(false, hairpin), ...record(true, dmz)],
		// A UDP flow seen both ways, then more of it: steady, the fast path's (checksums right, ctl bit 2).
		steady: [...record(false, outUdp, 0, 4), ...record(true, inUdp, 0, 4), ...record(false, outUdp, 0, 4), ...record(true, inUdp, 1, 4)],
	};
}

// The unit tests' SIP corpus (LF -> CRLF), each outbound, inbound and with a
// tight out_cap, behind sip_fuzz.c's [ctl][ports][offset] prefix; and a few
// choice strings for its structured mode (ctl bit 1).
function sipSeeds() {
	const dir = path.join(top, "host-tests/unit/sip");
	const seeds = {};
	for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".sip")).sort()) {
		const message = [...Buffer.from(fs.readFileSync(path.join(dir, file), "latin1").replace(/\n/g, "\r\n"), "latin1")];
		for (const ctl of [0x00, 0x01, 0x30])
			seeds[`${file}-${ctl}`] = [ctl, 0x30, 10, ...message];
	}
	for (let k = 0; k < 8; k++)
		seeds[`structured-${k}`] = [2 | (k & 1) | ((k & 6) << 1), k * 0x11, k, ...Array.from({ length: 256 }, (_, j) => (k * 37 + j * 11) & 255)];
	return seeds;
}

export function build(name) {
	const h = harnesses[name];
	const exe = path.join(out, `${name}_fuzz`);
	fs.mkdirSync(out, { recursive: true });
	const result = spawnSync("clang-14", [
		"-std=c11", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-m32",
		"-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
		...h.includes.map((d) => `-I${path.join(top, d)}`),
		...h.sources.map((s) => path.join(top, s)),
		"-o", exe,
	], { encoding: "utf8" });
	if (result.status !== 0)
		throw new Error(`fuzz: ${name} does not build:\n${result.stderr}`);
	const seeds = path.join(out, `${name}-seeds`);
	fs.mkdirSync(seeds, { recursive: true });
	for (const [seed, bytes] of Object.entries(h.seeds()))
		fs.writeFileSync(path.join(seeds, seed), Buffer.from(bytes));
	return { exe, seeds };
}

// Run one harness; resolves with libFuzzer's output. Throws on a finding.
export function run(name, { seconds = 20, runs = 0, seed = 1 } = {}) {
	const { exe, seeds } = build(name);
	const corpus = path.join(out, `${name}-corpus`);
	fs.mkdirSync(corpus, { recursive: true });
	const args = [`-max_total_time=${seconds}`, `-seed=${seed}`, "-print_final_stats=1", `-artifact_prefix=${out}/${name}-`];
	if (runs)
		args.push(`-runs=${runs}`);
	// libFuzzer logs every new input: well over spawnSync's 1 MB default for a harness that finds many.
	const result = spawnSync(exe, [...args, corpus, seeds], { encoding: "utf8", timeout: (seconds + 60) * 1000, maxBuffer: 256 * 1024 * 1024 });
	const output = `${result.stdout}${result.stderr}`;
	if (result.status !== 0)
		throw new Error(`fuzz: ${name} found a problem (exit ${result.status}):\n${output.slice(-6000)}`);
	return output;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const argv = process.argv.slice(2);
	const option = (flag, fallback) => {
		const i = argv.indexOf(flag);
		return i >= 0 ? Number(argv.splice(i, 2)[1]) : fallback;
	};
	const seconds = option("--seconds", 300);
	const runs = option("--runs", 0);
	const names = argv.length ? argv : Object.keys(harnesses);
	for (const name of names) {
		const output = run(name, { seconds, runs, seed: Date.now() % 100000 });
		const done = /^(#\d+\s+DONE.*)$/m.exec(output);
		console.log(`fuzz ${name}: ${done ? done[1] : "done"}`);
	}
}
