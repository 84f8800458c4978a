/*
 * Moddable's "preference" module for the simulator: the same calls and
 * limits as on the ESP32 (NVS), kept in the --prefs file.
 */
type Value = string | boolean | number | ArrayBuffer;

const get = native("xs_preference_get") as (domain: string, key: string) => Value | undefined;
const set = native("xs_preference_set") as (domain: string, key: string, value: Value) => void;
const remove = native("xs_preference_delete") as (domain: string, key: string) => void;
const keys = native("xs_preference_keys") as (domain: string) => string[];

const Preference = Object.freeze({
	get(domain: string, key: string): Value | undefined {
		return get(domain, key);
	},
	set(domain: string, key: string, value: Value): void {
		set(domain, key, value);
	},
	delete(domain: string, key: string): void {
		remove(domain, key);
	},
	keys(domain: string): string[] {
		return keys(domain);
	},
});

export default Preference;
