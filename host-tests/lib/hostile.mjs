// What the hostile run (host-tests/hostile/) shares: how long it runs and
// where its random instants come from.
//
// The suite runs it short; `npm run hostile` sets HOSTILE_CUTS (and the
// flood tests' own variables) higher. HOSTILE_SEED replays the instants of
// an earlier run: every test prints the seed it used.

// The number of power cuts: HOSTILE_CUTS, else `fallback`.
export function cutsOf(fallback) {
	const n = Number(process.env.HOSTILE_CUTS ?? fallback);
	if (!Number.isInteger(n) || n < 1 || n > 1000)
		throw new Error(`HOSTILE_CUTS must be a whole number from 1 to 1000, not ${process.env.HOSTILE_CUTS}`);
	return n;
}

// A repeatable random source in [0, 1) (mulberry32), seeded by HOSTILE_SEED or the clock; .seed says which.
export function seededRandom(seed = Number(process.env.HOSTILE_SEED ?? Date.now() % 0x100000000)) {
	let s = seed >>> 0;
	const next = () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let x = s;
		x = Math.imul(x ^ (x >>> 15), x | 1);
		x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
		return ((x ^ (x >>> 14)) >>> 0) / 0x100000000;
	};
	next.seed = seed >>> 0;
	return next;
}

// How long each attack lasts, in seconds: HOSTILE_SECONDS, else `fallback`.
export function secondsOf(fallback) {
	const n = Number(process.env.HOSTILE_SECONDS ?? fallback);
	if (!Number.isFinite(n) || n < 5 || n > 3600)
		throw new Error(`HOSTILE_SECONDS must be from 5 to 3600, not ${process.env.HOSTILE_SECONDS}`);
	return n;
}
