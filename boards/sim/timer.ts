/*
 * Moddable's "timer" module for the simulator, over the loop's timers.
 * The board uses the Moddable SDK's own module with the same shape.
 */
const set = native("xs_timer_set") as (cb: unknown, interval?: number, repeat?: number) => object;
const schedule = native("xs_timer_schedule") as (t: object, interval?: number, repeat?: number) => void;
const clear = native("xs_timer_clear") as (t: unknown) => void;
const delay = native("xs_timer_delay") as (ms: number) => void;

type Callback = (timer: object) => void;

const Timer = Object.freeze({
	set(callback: Callback, interval = 0, repeat = 0): object {
		return set(callback, interval, repeat);
	},
	repeat(callback: Callback, interval: number): object {
		return set(callback, interval, interval);
	},
	schedule(timer: object, interval = 0, repeat = 0): void {
		schedule(timer, interval, repeat);
	},
	clear(timer: object | undefined | null): void {
		if (timer)
			clear(timer);
	},
	delay(ms: number): void {
		delay(ms);
	},
});

export default Timer;
