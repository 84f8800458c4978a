/*
 * What the firmware needs from the board beyond the network: its name,
 * reboot, erasing preferences, uptime, XS memory and random numbers. Each board has its own
 * "platform" module with this shape.
 */
export interface XsMemory {
	chunksInUse: number;
	chunksPeak: number;
	chunksReserved: number;
	slotsInUse: number;
	slotsPeak: number;
	slotsReserved: number;
	stack: number;
}

const restart = native("xs_platform_restart") as () => void;
const erase = native("xs_platform_erase_preferences") as () => void;
const uptime = native("xs_platform_uptime") as () => number;
const memory = native("xs_platform_memory") as () => XsMemory;
const gc = native("xs_platform_gc") as () => void;
const bootWarnings = native("xs_platform_boot_warnings") as () => string[];
/* A 32-bit unsigned random number (UUIDs, subscription ids, SSDP delays). */
const random = native("xs_platform_random") as () => number;

uptime(); // start the clock at boot

const Platform = Object.freeze({
	name: "sim",
	description: "host simulator (TAP ports)",
	/* The terminal on stdin echoes what is typed; a UART console must echo itself. */
	consoleEcho: false,
	restart,
	erasePreferences: erase,
	uptime,
	memory,
	gc,
	bootWarnings,
	random,
});

export default Platform;
