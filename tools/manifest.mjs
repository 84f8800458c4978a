// Reads manifest.json the way mcconfig does, for one platform: the global
// "modules" merged with the platform's, each entry a path without extension
// that names a .ts (or .js) module, a .c file, or both.
import fs from "node:fs";
import path from "node:path";

function entries(modules) {
	const list = [];
	for (const [key, value] of Object.entries(modules ?? {})) {
		const paths = Array.isArray(value) ? value : [value];
		for (const p of paths)
			list.push({ key, path: p });
	}
	return list;
}

export function resolveModules(top, platform) {
	const manifest = JSON.parse(fs.readFileSync(path.join(top, "manifest.json"), "utf8"));
	const platformSection = manifest.platforms?.[platform];
	if (!platformSection)
		throw new Error(`manifest.json: no platform "${platform}"`);
	const all = [...entries(manifest.modules), ...entries(platformSection.modules)];
	const seen = new Map();
	const result = [];
	for (const { key, path: p } of all) {
		const base = path.resolve(top, p);
		const specifier = key === "*" ? path.basename(base) : key;
		const script = [".ts", ".js"].map((ext) => base + ext).find((f) => fs.existsSync(f));
		const native = base + ".c";
		const natives = fs.existsSync(native) ? [native] : [];
		if (!script && !natives.length)
			throw new Error(`manifest.json: ${specifier}: no ${p}.ts, .js or .c`);
		if (script && seen.has(specifier))
			throw new Error(`manifest.json: module ${specifier} listed twice (${seen.get(specifier)} and ${p})`);
		if (script)
			seen.set(specifier, p);
		result.push({ specifier, script, natives });
	}
	return result;
}

// The manifest's "creation" with the defaults mcconfig fills in (its
// filterCreation: keys.available is a fixed count, so keys.incremental is 0),
// and its "preload" list of module specifiers (the platform's added).
export function boardMemory(top, platform) {
	const manifest = JSON.parse(fs.readFileSync(path.join(top, "manifest.json"), "utf8"));
	const c = JSON.parse(JSON.stringify(manifest.creation ?? {}));
	c.chunk ??= {};
	c.chunk.initial ||= 32768;
	c.chunk.incremental ??= 1024;
	c.heap ??= {};
	c.heap.initial ||= 2048;
	c.heap.incremental ??= 64;
	c.stack ??= 384;
	c.keys ??= {};
	if (c.keys.initial)
		c.keys.incremental ??= 0;
	else {
		c.keys.initial = c.keys.available || 256;
		c.keys.incremental = 0;
	}
	c.keys.name ||= 127;
	c.keys.symbol ||= 127;
	c.parser ??= {};
	c.parser.buffer ||= 32768;
	c.parser.table ||= 1993;
	c.static ??= 0;
	if (!(c.static > 0))
		throw new Error("manifest.json: creation.static must give the board's XS heap in bytes");
	return { creation: c, preload: new Set([...(manifest.preload ?? []), ...(manifest.platforms?.[platform]?.preload ?? [])]) };
}
