/*
 * The simulator's preference file under AddressSanitizer and UBSan: values
 * round-trip, every truncation and every flipped byte of a good file is
 * refused (empty store plus a warning) without a read past the end, limits
 * hold, and a save leaves no temporary file behind.
 */
#include "check.h"
#include "preference_store.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[256], tmp[270];

static size_t count_keys;
static void count_key(void *ctx, const char *key)
{
	(void)ctx;
	(void)key;
	count_keys++;
}

static int has(const char *domain, const char *key)
{
	enum pref_type type;
	const uint8_t *value;
	size_t length;
	return preference_store_get(domain, key, &type, &value, &length) == 0;
}

static unsigned char *slurp(size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n);
	if (fread(data, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	fclose(f);
	*size = (size_t)n;
	return data;
}

static void spit(const unsigned char *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, size, f);
	fclose(f);
}

int main(void)
{
	enum pref_type type;
	const uint8_t *value;
	size_t length, size;
	unsigned char *good;
	uint8_t blob[300];
	char big[PREF_VALUE_MAX + 2];

	snprintf(path, sizeof(path), "/tmp/prefs-test-%d.prefs", (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(path);

	/* A missing file is an empty store, not a problem. */
	preference_store_open(path);
	CHECK(preference_store_warning() == NULL);
	CHECK(!has("router", "config"));

	/* Values of every type round-trip through the file. */
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 7);
	CHECK(preference_store_set("router", "config", PREF_STRING, "{\"a\": \"b c\"}", 12) == 0);
	CHECK(preference_store_set("router", "blob", PREF_BUFFER, blob, sizeof(blob)) == 0);
	CHECK(preference_store_set("upnp", "uuid", PREF_STRING, "", 0) == 0);
	CHECK(access(tmp, F_OK) != 0);
	preference_store_open(path);
	CHECK(preference_store_warning() == NULL);
	CHECK(preference_store_get("router", "config", &type, &value, &length) == 0);
	CHECK(type == PREF_STRING && length == 12 && !memcmp(value, "{\"a\": \"b c\"}", 12));
	CHECK(preference_store_get("router", "blob", &type, &value, &length) == 0);
	CHECK(type == PREF_BUFFER && length == sizeof(blob) && !memcmp(value, blob, sizeof(blob)));
	CHECK(preference_store_get("upnp", "uuid", &type, &value, &length) == 0 && length == 0);
	count_keys = 0;
	preference_store_keys("router", count_key, NULL);
	CHECK(count_keys == 2);

	/* Every truncation of a good file is refused without harm. */
	good = slurp(&size);
	CHECK(good && size > 100);
	for (size_t cut = 0; cut < size; cut++) {
		spit(good, cut);
		preference_store_open(path);
		CHECK(preference_store_warning() != NULL);
		CHECK(!has("router", "config") && !has("router", "blob"));
	}
	/* Every single flipped byte too. */
	for (size_t at = 0; at < size; at++) {
		unsigned char *bad = malloc(size);
		memcpy(bad, good, size);
		bad[at] ^= 0x01;
		spit(bad, size);
		free(bad);
		preference_store_open(path);
		CHECK(preference_store_warning() != NULL);
		CHECK(!has("router", "config"));
	}
	/* And the good file is still good. */
	spit(good, size);
	preference_store_open(path);
	CHECK(preference_store_warning() == NULL && has("router", "blob"));
	free(good);

	/* Limits: names of 1 to 15 characters, values up to PREF_VALUE_MAX. */
	CHECK(preference_store_set("router", "a-key-too-long-x", PREF_STRING, "x", 1) != 0);
	CHECK(preference_store_set("", "k", PREF_STRING, "x", 1) != 0);
	CHECK(preference_store_set("router", "has space", PREF_STRING, "x", 1) != 0);
	memset(big, 'v', sizeof(big));
	CHECK(preference_store_set("router", "big", PREF_STRING, big, PREF_VALUE_MAX + 1) != 0);
	CHECK(preference_store_set("router", "big", PREF_STRING, big, PREF_VALUE_MAX) == 0);
	preference_store_open(path);
	CHECK(preference_store_get("router", "big", &type, &value, &length) == 0 && length == PREF_VALUE_MAX);

	/* Delete, then erase everything (factory reset). */
	CHECK(preference_store_delete("router", "big") == 0);
	CHECK(!has("router", "big") && has("router", "config"));
	CHECK(preference_store_erase() == 0);
	CHECK(access(path, F_OK) != 0);
	CHECK(!has("router", "config"));
	preference_store_open(path);
	CHECK(preference_store_warning() == NULL && !has("router", "config"));

	unlink(path);
	return check_report("preference_store");
}
