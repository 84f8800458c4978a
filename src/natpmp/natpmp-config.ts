/*
 * The NAT-PMP and PCP part of the configuration: each protocol on or off.
 * Everything else (permission rules, secure mode, the mapping limit) is
 * UPnP's, shared, so one set of settings governs every way a LAN host can
 * ask for a port.
 */

export interface PmpConfig {
	/* NAT-PMP (RFC 6886) */
	natpmp: boolean;
	/* PCP version 2 (RFC 6887) */
	pcp: boolean;
}

/* Mappings one LAN host may hold through NAT-PMP and PCP together. */
export const PER_CLIENT_MAPPINGS = 16;
/* Requests a second one LAN host may make; more are dropped unanswered. */
export const PER_HOST_RATE = 20;
/* LAN hosts whose request rate is followed at once (a fixed table). */
export const RATE_SLOTS = 8;
/* Lifetimes asked for are clamped to this range (seconds); 0 deletes. */
export const MIN_LIFETIME = 120;
export const MAX_LIFETIME = 86400;

export function pmpDefaults(): PmpConfig {
	return { natpmp: true, pcp: true };
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function validatePmp(value: unknown): string[] {
	if (!isObject(value))
		return ["pmp: not an object"];
	const problems: string[] = [];
	if (typeof value.natpmp !== "boolean")
		problems.push("pmp: natpmp must be true or false");
	if (typeof value.pcp !== "boolean")
		problems.push("pmp: pcp must be true or false");
	return problems;
}
