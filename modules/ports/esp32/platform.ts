/*
 * The "platform" module for the ESP32 boards: the same shape as the
 * simulator's (boards/sim/platform.ts). Loading it brings the two Ethernet
 * ports up (modules/ports/esp32), before the router configures them.
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

const startPorts = native("xs_esp32_ports_start") as () => string | undefined;
const board = native("xs_platform_board") as () => string;
const restart = native("xs_platform_restart") as () => void;
const erase = native("xs_platform_erase_preferences") as () => void;
const uptime = native("xs_platform_uptime") as () => number;
const memory = native("xs_platform_memory") as () => XsMemory;
const gc = native("xs_platform_gc") as () => void;
const random = native("xs_platform_random") as () => number;

const portError = startPorts();
const warnings: string[] = portError ? [`ports: ${portError}`] : [];

const Platform = Object.freeze({
	name: board(),
	description: "ESP32, EMAC + W5500 Ethernet ports",
	/* A UART console: the terminal does not echo, so the console must. */
	consoleEcho: true,
	restart,
	erasePreferences: erase,
	uptime,
	memory,
	gc,
	bootWarnings: (): string[] => warnings.slice(),
	random,
});

export default Platform;
