/*
 * Test fixture (router-sim --main test/host-api): exercises the host modules
 * the firmware stands on, timer and preference, inside XS, and prints one
 * line per check and a closing "host-api: N passed, M failed".
 */
import Timer from "timer";
import Preference from "preference";

let passed = 0, failed = 0;
function check(name: string, ok: boolean, detail = ""): void {
	if (ok)
		passed++;
	else
		failed++;
	trace(`${ok ? "PASS" : "FAIL"} ${name}${ok || !detail ? "" : `: ${detail}`}\n`);
}

function throws(f: () => void): string {
	try {
		f();
	}
	catch (e) {
		return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
	}
	return "";
}

/* preference: every value type round-trips; limits are enforced */
Preference.set("test", "s", "hello world");
Preference.set("test", "i", -123456);
Preference.set("test", "b", true);
Preference.set("test", "x", Uint8Array.of(0, 1, 2, 255).buffer);
check("string round-trips", Preference.get("test", "s") === "hello world");
check("integer round-trips", Preference.get("test", "i") === -123456);
check("boolean round-trips", Preference.get("test", "b") === true);
const x = Preference.get("test", "x");
check("buffer round-trips", x instanceof ArrayBuffer && Array.from(new Uint8Array(x)).join() === "0,1,2,255");
check("missing key is undefined", Preference.get("test", "nothing") === undefined);
check("keys lists the domain", Preference.keys("test").sort().join() === "b,i,s,x", Preference.keys("test").join());
Preference.delete("test", "s");
check("delete removes", Preference.get("test", "s") === undefined);
check("long key refused", /RangeError/.test(throws(() => { Preference.set("test", "a-key-that-is-too-long", 1); })));
check("long value refused", /RangeError/.test(throws(() => { Preference.set("test", "big", "v".repeat(4001)); })));
check("native of an unknown name is a ReferenceError", /ReferenceError/.test(throws(() => native("xs_no_such_function"))));

/* timer: order by due time, repeat, clear, schedule */
const order: string[] = [];
Timer.set(() => order.push("late"), 60);
Timer.set(() => order.push("early"), 10);
Timer.set(() => order.push("zero"));
const cleared = Timer.set(() => order.push("cleared"), 20);
Timer.clear(cleared);
let repeats = 0;
const repeating = Timer.repeat(() => {
	repeats++;
	if (repeats === 3)
		Timer.clear(repeating);
}, 15);
const rescheduled = Timer.set(() => order.push("rescheduled"), 5);
Timer.schedule(rescheduled, 80);
let promiseRan = false;
void Promise.resolve().then(() => { promiseRan = true; });

Timer.set(() => {
	check("promise jobs run", promiseRan);
	check("timers fire in due order", order.join() === "zero,early,late,rescheduled", order.join());
	check("a cleared timer never fires", !order.includes("cleared"));
	check("a repeating timer repeats until cleared", repeats === 3, String(repeats));
	trace(`host-api: ${passed} passed, ${failed} failed\n`);
}, 200);
