/*
 * What every console command is made of, and the checks they share. A
 * command throws CommandError with one line of explanation before it
 * changes anything; the console prints it as "error: ...".
 */
import type { Router } from "router";
import type { Parsed } from "net/ipv4";

export type Print = (line: string) => void;

export class CommandError extends Error {}

export interface Command {
	name: string;
	usage: string[];
	/* What "help" lists for it when usage[0] is too long for the list. */
	synopsis?: string;
	summary: string;
	detail?: string[];
	run(args: string[], router: Router, print: Print): void;
}

export function fail(message: string): never {
	throw new CommandError(message);
}

export function expectCount(command: string, args: string[], min: number, max: number, usage: string): void {
	if (args.length < min)
		fail(`${command}: missing argument (usage: ${usage})`);
	if (args.length > max)
		fail(`${command}: too many arguments (usage: ${usage})`);
}

export function checked<T>(where: string, parsed: Parsed<T>): T {
	if (!parsed.ok)
		fail(`${where}: ${parsed.error}`);
	return parsed.value;
}
