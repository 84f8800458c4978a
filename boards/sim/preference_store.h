/*
 * The simulator's flash: preferences kept in one file, written whole and
 * atomically (temporary file, fsync, rename) on every change, and checked
 * with a CRC-32 when read. A missing file is an empty store; a truncated or
 * corrupt one is an empty store and a warning on stderr.
 */
#ifndef SIM_PREFERENCE_STORE_H
#define SIM_PREFERENCE_STORE_H

#include <stddef.h>
#include <stdint.h>

enum pref_type { PREF_BOOLEAN = 'b', PREF_INTEGER = 'i', PREF_STRING = 's', PREF_BUFFER = 'x' };

#define PREF_NAME_MAX 15       /* as ESP32 NVS: 15 characters for a domain or key */
#define PREF_VALUE_MAX 4000    /* as ESP32 NVS strings */

void preference_store_open(const char *path);
/* Why the file was not used at open, or NULL. */
const char *preference_store_warning(void);
/* Returns 0 and fills type/value/length, or -1 when absent. */
int preference_store_get(const char *domain, const char *key, enum pref_type *type,
                         const uint8_t **value, size_t *length);
int preference_store_set(const char *domain, const char *key, enum pref_type type,
                         const void *value, size_t length);
int preference_store_delete(const char *domain, const char *key);
/* Call fn for every key in domain. */
void preference_store_keys(const char *domain, void (*fn)(void *ctx, const char *key), void *ctx);
/* Remove the file and every key: a factory reset. */
int preference_store_erase(void);

#endif
