/*
 * What the firmware needs from the board beyond the network: its name,
 * reboot, erasing preferences, uptime, XS memory and random numbers. Each board has its own
 * "platform" module with this shape.
 */
/*
 * heap*: the board's XS heap (the manifest's creation.static): bytes the
 * engine holds of it (chunks and slots reserved, the stack), the most it
 * ever held, its size. live: what of it is in use (after a collection, what
 * is reachable). chunks*, slots*: the engine's own figures, preloaded part
 * included. keys*: property names made at run time and the most there may be.
 * preloaded: what the preloaded modules hold (flash on the board).
 */
export interface XsMemory {
	heapSize: number;
	heapUsed: number;
	heapPeak: number;
	chunksInUse: number;
	chunksPeak: number;
	chunksReserved: number;
	slotsInUse: number;
	slotsPeak: number;
	slotsReserved: number;
	stack: number;
	keysUsed: number;
	keysAvailable: number;
	live: number;
	preloaded: number;
}

const restart = native("xs_platform_restart") as () => void;
const erase = native("xs_platform_erase_preferences") as () => void;
const uptime = native("xs_platform_uptime") as () => number;
const memory = native("xs_platform_memory") as () => XsMemory;
const gc = native("xs_platform_gc") as () => void;
const bootWarnings = native("xs_platform_boot_warnings") as () => string[];
/* A 32-bit unsigned random number (UUIDs, subscription ids, SSDP delays). */
const random = native("xs_platform_random") as () => number;

const Platform = Object.freeze({
	name: "sim",
	description: "host simulator (TAP ports)",
	/* The terminal on stdin echoes what is typed; a UART console must echo itself. */
	consoleEcho: false,
	/* Bring the ports up: the simulator's are up before XS starts. */
	start: (): string[] => [],
	restart,
	erasePreferences: erase,
	uptime,
	memory,
	gc,
	bootWarnings,
	random,
});

export default Platform;
