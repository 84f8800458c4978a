/* The simulator's MAC addresses: parsed, checked, made per instance, derived (sim_mac.h). */
#include "sim_mac.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sim_mac_parse(const char *text, uint8_t mac[SIM_MAC_LEN])
{
	uint8_t out[SIM_MAC_LEN];
	if (!text || strlen(text) != SIM_MAC_TEXT - 1)
		return -1;
	for (int i = 0; i < SIM_MAC_LEN; i++) {
		const char *p = text + i * 3;
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (i < SIM_MAC_LEN - 1 && p[2] != ':')
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, out, sizeof(out));
	return 0;
}

const char *sim_mac_unusable(const uint8_t mac[SIM_MAC_LEN])
{
	static const uint8_t zero[SIM_MAC_LEN];
	if (mac[0] & 0x01)
		return "a multicast address (the first octet is odd)";
	if (!memcmp(mac, zero, SIM_MAC_LEN))
		return "all zero";
	return NULL;
}

void sim_mac_from_key(const char *key, uint8_t mac[SIM_MAC_LEN])
{
	/* FNV-1a, 64 bits. */
	uint64_t h = 0xcbf29ce484222325u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3u;
	}
	mac[0] = 0x02;
	for (int i = 1; i < SIM_MAC_LEN; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}

void sim_mac_derive_local(uint8_t local[SIM_MAC_LEN], const uint8_t base[SIM_MAC_LEN])
{
	/* As ESP-IDF's esp_derive_local_mac(), whose first try differs from a universal base. */
	memcpy(local, base, SIM_MAC_LEN);
	for (unsigned idx = 0; idx < 64; idx++) {
		local[0] = (uint8_t)((base[0] | 0x02) ^ (idx << 2));
		if (memcmp(local, base, SIM_MAC_LEN))
			break;
	}
}

void sim_mac_format(const uint8_t mac[SIM_MAC_LEN], char text[SIM_MAC_TEXT])
{
	snprintf(text, SIM_MAC_TEXT, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

int sim_mac_key_for_path(const char *path, char *out, size_t size)
{
	char dir[PATH_MAX], resolved[PATH_MAX], cwd[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dirlen = slash ? (size_t)(slash - path) : 0;
	int n;
	if (dirlen >= sizeof(dir))
		return -1;
	if (slash && dirlen == 0)
		snprintf(dir, sizeof(dir), "/");
	else if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)dirlen, path);
	else
		snprintf(dir, sizeof(dir), ".");
	if (realpath(dir, resolved))
		n = snprintf(out, size, "%s%s%s", resolved, strcmp(resolved, "/") ? "/" : "", base);
	else if (path[0] == '/')
		n = snprintf(out, size, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, size, "%s/%s", cwd, path);
	else
		return -1;
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
