/*
 * The "platform" module for the ESP32 boards: the same shape as the
 * simulator's (boards/sim/platform.ts). It is preloaded (built at build
 * time), so it calls no native code when loaded: start() brings the two
 * Ethernet ports up (modules/ports/esp32) at boot, before the router
 * configures them.
 */
import type { XsMemory } from "../../../boards/sim/platform";
export type { XsMemory };

const startPorts = native("xs_esp32_ports_start") as () => string | undefined;
const board = native("xs_platform_board") as () => string;
const restart = native("xs_platform_restart") as () => void;
const erase = native("xs_platform_erase_preferences") as () => void;
const uptime = native("xs_platform_uptime") as () => number;
const memory = native("xs_platform_memory") as () => XsMemory;
const gc = native("xs_platform_gc") as () => void;
const random = native("xs_platform_random") as () => number;

let warnings: string[] | undefined;

/* Once per boot; what went wrong, for the banner. */
function start(): string[] {
	if (!warnings) {
		const portError = startPorts();
		warnings = portError ? [`ports: ${portError}`] : [];
	}
	return warnings.slice();
}

const Platform = Object.freeze({
	get name(): string { return board(); },
	description: "ESP32, EMAC + W5500 Ethernet ports",
	/* A UART console: the terminal does not echo, so the console must. */
	consoleEcho: true,
	restart,
	erasePreferences: erase,
	uptime,
	memory,
	gc,
	start,
	/* The ports' problems come from start(); nothing else is found before JavaScript runs. */
	bootWarnings: (): string[] => [],
	random,
});

export default Platform;
