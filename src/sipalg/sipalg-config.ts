/*
 * The SIP ALG part of the configuration: on or off, and the ports SIP
 * traffic uses (UDP and TCP alike). The console checks typed ports with the
 * same function the boot uses on saved ones.
 */

export interface SipAlgConfig {
	enabled: boolean;
	ports: number[];
}

export const SIPALG_MAX_PORTS = 8;

export function sipalgDefaults(): SipAlgConfig {
	return { enabled: true, ports: [5060] };
}

/* Why a list of SIP ports cannot be used, if it cannot: 1 to 8 distinct ports from 1 to 65535. */
export function sipalgPortsProblem(ports: readonly unknown[]): string | undefined {
	if (ports.length < 1 || ports.length > SIPALG_MAX_PORTS)
		return `1 to ${SIPALG_MAX_PORTS} ports, not ${ports.length}`;
	for (const [i, port] of ports.entries()) {
		if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
			return `${String(port)} is not a port (1 to 65535)`;
		if (ports.indexOf(port) !== i)
			return `port ${port} is listed twice`;
	}
	return undefined;
}

export function validateSipalg(value: unknown): string[] {
	if (typeof value !== "object" || value === null || Array.isArray(value))
		return ["sipalg: not an object"];
	const { enabled, ports } = value as Record<string, unknown>;
	const problems: string[] = [];
	if (typeof enabled !== "boolean")
		problems.push("sipalg: enabled must be true or false");
	if (!Array.isArray(ports))
		problems.push("sipalg: ports must be a list");
	else {
		const problem = sipalgPortsProblem(ports);
		if (problem)
			problems.push(`sipalg: ${problem}`);
	}
	return problems;
}

/* A copy of a loaded section, so the running configuration shares nothing with what was read. */
export function loadedSipalg(stored: SipAlgConfig): SipAlgConfig {
	return { enabled: stored.enabled, ports: [...stored.ports] };
}
