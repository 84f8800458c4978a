/*
 * File format, one record per line, hex so any bytes survive:
 *   NBPREFS 1
 *   <domain> <key> <type> <hex value>
 *   END <count> <crc32 of every byte before this line, hex>
 */
#include "preference_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREF_MAX_ENTRIES 64
#define PREF_MAGIC "NBPREFS 1\n"

struct pref_entry {
	char domain[PREF_NAME_MAX + 1];
	char key[PREF_NAME_MAX + 1];
	enum pref_type type;
	size_t length;
	uint8_t *value;
};

static struct pref_entry gEntries[PREF_MAX_ENTRIES];
static char gWarning[256];
static int gCount;
static char *gPath;

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void clear_entries(void)
{
	for (int i = 0; i < gCount; i++)
		free(gEntries[i].value);
	memset(gEntries, 0, sizeof(gEntries));
	gCount = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PREF_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/* Names are checked by valid_name() first, so they fit. */
static void copy_name(char dst[PREF_NAME_MAX + 1], const char *src)
{
	memcpy(dst, src, strlen(src) + 1);
}

/* Parse the whole file image; on any error leave the store empty. */
static const char *parse(char *text, size_t size)
{
	char *line = text, *end = text + size;
	uint32_t crc;
	int records = 0;
	if (size < sizeof(PREF_MAGIC) - 1 || memcmp(text, PREF_MAGIC, sizeof(PREF_MAGIC) - 1))
		return "bad header";
	line += sizeof(PREF_MAGIC) - 1;
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char domain[64], key[64], type, hex[2 * PREF_VALUE_MAX + 2];
		unsigned count, stored;
		if (!nl)
			return "truncated";
		*nl = 0;
		if (!strncmp(line, "END ", 4)) {
			if (sscanf(line, "END %u %x", &count, &stored) != 2)
				return "bad trailer";
			crc = crc32_update(0, (uint8_t *)text, (size_t)(line - text));
			if (crc != stored)
				return "checksum mismatch";
			if ((int)count != records)
				return "record count mismatch";
			if (nl + 1 != end)
				return "data after trailer";
			*nl = '\n';
			return NULL;
		}
		if (records == PREF_MAX_ENTRIES)
			return "too many records";
		if (sscanf(line, "%63s %63s %c %8001s", domain, key, &type, hex) != 4) {
			if (sscanf(line, "%63s %63s %c", domain, key, &type) != 3)
				return "bad record";
			hex[0] = 0;
		}
		if (!valid_name(domain) || !valid_name(key))
			return "bad name";
		if (type != PREF_BOOLEAN && type != PREF_INTEGER && type != PREF_STRING && type != PREF_BUFFER)
			return "bad type";
		{
			size_t hexlen = strlen(hex);
			struct pref_entry *e = &gEntries[gCount];
			if (hexlen % 2 || hexlen / 2 > PREF_VALUE_MAX)
				return "bad value";
			e->value = malloc(hexlen / 2 + 1);
			if (!e->value)
				return "out of memory";
			for (size_t i = 0; i < hexlen / 2; i++) {
				int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
				if (hi < 0 || lo < 0) {
					free(e->value);
					e->value = NULL;
					return "bad value";
				}
				e->value[i] = (uint8_t)(hi << 4 | lo);
			}
			e->value[hexlen / 2] = 0;
			e->length = hexlen / 2;
			copy_name(e->domain, domain);
			copy_name(e->key, key);
			e->type = (enum pref_type)type;
			gCount++;
		}
		records++;
		*nl = '\n';
		line = nl + 1;
	}
	return "no trailer";
}

static void warn(const char *format, const char *path, const char *detail)
{
	snprintf(gWarning, sizeof(gWarning), format, path, detail);
	fprintf(stderr, "warning: %s\n", gWarning);
}

const char *preference_store_warning(void)
{
	return gWarning[0] ? gWarning : NULL;
}

void preference_store_open(const char *path)
{
	FILE *f;
	char *text;
	long size;
	const char *problem;
	free(gPath);
	gPath = strdup(path);
	gWarning[0] = 0;
	clear_entries();
	f = fopen(path, "rb");
	if (!f) {
		if (errno != ENOENT)
			warn("preferences %s unreadable (%s); using defaults", path, strerror(errno));
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (size < 0 || size > 1024 * 1024) {
		fclose(f);
		warn("preferences %s have a bad size%s; using defaults", path, "");
		return;
	}
	text = malloc((size_t)size + 1);
	if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
		free(text);
		fclose(f);
		warn("preferences %s unreadable%s; using defaults", path, "");
		return;
	}
	fclose(f);
	text[size] = 0;
	problem = parse(text, (size_t)size);
	free(text);
	if (problem) {
		clear_entries();
		warn("preferences %s are corrupt (%s); using defaults", path, problem);
	}
}

static int write_all(int fd, const char *p, size_t n, uint32_t *crc)
{
	if (crc)
		*crc = crc32_update(*crc, (const uint8_t *)p, n);
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int save(void)
{
	char tmp[4096 + 8];
	char line[64 + 2 * PREF_VALUE_MAX + 8];
	uint32_t crc = 0;
	int fd, ok = 0;
	if (!gPath)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", gPath);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "warning: cannot write preferences %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	ok = !write_all(fd, PREF_MAGIC, sizeof(PREF_MAGIC) - 1, &crc);
	for (int i = 0; ok && i < gCount; i++) {
		struct pref_entry *e = &gEntries[i];
		int n = snprintf(line, sizeof(line), "%s %s %c ", e->domain, e->key, (char)e->type);
		for (size_t j = 0; j < e->length; j++)
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", e->value[j]);
		line[n++] = '\n';
		ok = !write_all(fd, line, (size_t)n, &crc);
	}
	if (ok) {
		int n = snprintf(line, sizeof(line), "END %d %08x\n", gCount, crc);
		ok = !write_all(fd, line, (size_t)n, NULL);
	}
	ok = ok && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, gPath) != 0) {
		fprintf(stderr, "warning: cannot write preferences %s: %s\n", gPath, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static struct pref_entry *find(const char *domain, const char *key)
{
	for (int i = 0; i < gCount; i++)
		if (!strcmp(gEntries[i].domain, domain) && !strcmp(gEntries[i].key, key))
			return &gEntries[i];
	return NULL;
}

int preference_store_get(const char *domain, const char *key, enum pref_type *type,
                         const uint8_t **value, size_t *length)
{
	struct pref_entry *e = find(domain, key);
	if (!e)
		return -1;
	*type = e->type;
	*value = e->value;
	*length = e->length;
	return 0;
}

int preference_store_set(const char *domain, const char *key, enum pref_type type,
                         const void *value, size_t length)
{
	struct pref_entry *e = find(domain, key);
	uint8_t *copy;
	if (!valid_name(domain) || !valid_name(key) || length > PREF_VALUE_MAX)
		return -1;
	if (!e) {
		if (gCount == PREF_MAX_ENTRIES)
			return -1;
		e = &gEntries[gCount++];
		copy_name(e->domain, domain);
		copy_name(e->key, key);
		e->value = NULL;
	}
	copy = malloc(length + 1);
	if (!copy)
		return -1;
	memcpy(copy, value, length);
	copy[length] = 0;
	free(e->value);
	e->value = copy;
	e->length = length;
	e->type = type;
	return save();
}

int preference_store_delete(const char *domain, const char *key)
{
	struct pref_entry *e = find(domain, key);
	if (!e)
		return 0;
	free(e->value);
	*e = gEntries[--gCount];
	memset(&gEntries[gCount], 0, sizeof(gEntries[gCount]));
	return save();
}

void preference_store_keys(const char *domain, void (*fn)(void *ctx, const char *key), void *ctx)
{
	for (int i = 0; i < gCount; i++)
		if (!strcmp(gEntries[i].domain, domain))
			fn(ctx, gEntries[i].key);
}

int preference_store_erase(void)
{
	clear_entries();
	if (gPath && unlink(gPath) != 0 && errno != ENOENT)
		return -1;
	return 0;
}
