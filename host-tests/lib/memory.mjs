// The XS heap as `show memory` reports it: the board's creation.static and
// what the engine holds of it, with the peak, what is live, the keys made at
// run time and what the preloaded modules hold (flash on the board).
import assert from "node:assert/strict";
import { TOP } from "./bench.mjs";
import { boardMemory } from "../../tools/manifest.mjs";

export function parseMemory(text) {
	const heap = /^xs heap: (\d+) of (\d+) bytes held \(\d+%\), peak (\d+) \(\d+%\); live (\d+) \(stack (\d+)\)$/m.exec(text);
	const keys = /^xs keys: (\d+) made at run time of (\d+); preloaded modules (\d+) bytes \(flash\)$/m.exec(text);
	const engine = /^xs engine: chunks (\d+) in use of (\d+) \(peak (\d+)\); slots (\d+) in use of (\d+) \(peak (\d+)\)$/m.exec(text);
	assert.ok(heap && keys && engine, `show memory:\n${text}`);
	return {
		used: Number(heap[1]), size: Number(heap[2]), peak: Number(heap[3]), live: Number(heap[4]), stack: Number(heap[5]),
		keysUsed: Number(keys[1]), keysAvailable: Number(keys[2]), preloaded: Number(keys[3]),
		chunks: Number(engine[1]), chunksReserved: Number(engine[2]), slots: Number(engine[4]), slotsReserved: Number(engine[5]),
	};
}

// show memory on the bench's console, parsed.
export async function memory(bench) {
	const text = await bench.console.command("show memory");
	return { ...parseMemory(text), text };
}

// The board's creation as the build reads it from manifest.json.
export function boardCreation() {
	return boardMemory(TOP, "sim").creation;
}
