/*
 * The simulator's MAC addresses (boards/sim/sim_mac.c): --mac is parsed
 * strictly, multicast and all-zero addresses are refused, the default is
 * the same for one preferences path and differs between two, always
 * locally administered and unicast, and the LAN port's MAC is derived as
 * ESP-IDF's esp_derive_local_mac() derives it.
 */
#include "check.h"
#include "sim_mac.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parses_to(const char *text, const uint8_t *want)
{
	uint8_t mac[SIM_MAC_LEN];
	memset(mac, 0xaa, sizeof(mac));
	return sim_mac_parse(text, mac) == 0 && !memcmp(mac, want, SIM_MAC_LEN);
}

static int refused(const char *text)
{
	uint8_t mac[SIM_MAC_LEN] = { 1, 2, 3, 4, 5, 6 };
	static const uint8_t untouched[SIM_MAC_LEN] = { 1, 2, 3, 4, 5, 6 };
	return sim_mac_parse(text, mac) == -1 && !memcmp(mac, untouched, SIM_MAC_LEN);
}

static void test_parse(void)
{
	static const uint8_t a[] = { 0x02, 0x4e, 0x42, 0x00, 0x00, 0x01 };
	static const uint8_t b[] = { 0xde, 0xad, 0xbe, 0xef, 0x0a, 0xff };
	char text[SIM_MAC_TEXT];
	CHECK(parses_to("02:4e:42:00:00:01", a));
	CHECK(parses_to("DE:AD:be:EF:0a:ff", b));
	sim_mac_format(b, text);
	CHECK(!strcmp(text, "de:ad:be:ef:0a:ff"));
	CHECK(refused(NULL));
	CHECK(refused(""));
	CHECK(refused("02:4e:42:00:00"));
	CHECK(refused("02:4e:42:00:00:1"));
	CHECK(refused("02:4e:42:00:00:001"));
	CHECK(refused("02:4e:42:00:00:01:"));
	CHECK(refused("02:4e:42:00:00:01 "));
	CHECK(refused(" 02:4e:42:00:00:01"));
	CHECK(refused("02-4e-42-00-00-01"));
	CHECK(refused("024e.4200.0001xx"));
	CHECK(refused("02:4e:42:00:0g:01"));
	CHECK(refused("2:4e:42:00:00:011"));
	CHECK(refused("+2:4e:42:00:00:01"));
}

static void test_unusable(void)
{
	static const uint8_t zero[SIM_MAC_LEN];
	static const uint8_t multicast[] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static const uint8_t broadcast[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t universal[] = { 0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56 };
	static const uint8_t local[] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	CHECK(sim_mac_unusable(zero) != NULL);
	CHECK(sim_mac_unusable(multicast) != NULL);
	CHECK(sim_mac_unusable(broadcast) != NULL);
	CHECK(sim_mac_unusable(universal) == NULL);
	CHECK(sim_mac_unusable(local) == NULL);
}

static void test_default(void)
{
	uint8_t a[SIM_MAC_LEN], a2[SIM_MAC_LEN], b[SIM_MAC_LEN], c[SIM_MAC_LEN];
	sim_mac_from_key("/tmp/natbridge-test-x/router.prefs", a);
	sim_mac_from_key("/tmp/natbridge-test-x/router.prefs", a2);
	sim_mac_from_key("/tmp/natbridge-test-x/router2.prefs", b);
	sim_mac_from_key("/tmp/natbridge-test-y/router.prefs", c);
	CHECK(!memcmp(a, a2, SIM_MAC_LEN));
	CHECK(memcmp(a, b, SIM_MAC_LEN) != 0);
	CHECK(memcmp(a, c, SIM_MAC_LEN) != 0);
	CHECK(memcmp(b, c, SIM_MAC_LEN) != 0);
	/* Locally administered, unicast. */
	CHECK(a[0] == 0x02 && b[0] == 0x02 && c[0] == 0x02);
	CHECK(sim_mac_unusable(a) == NULL);
	/* 1000 paths, 1000 different addresses. */
	{
		static uint8_t seen[1000][SIM_MAC_LEN];
		int clash = 0;
		for (int i = 0; i < 1000; i++) {
			char key[64];
			snprintf(key, sizeof(key), "/tmp/natbridge-test-%06d/router.prefs", i);
			sim_mac_from_key(key, seen[i]);
			for (int j = 0; j < i; j++)
				clash += !memcmp(seen[i], seen[j], SIM_MAC_LEN);
		}
		CHECK(clash == 0);
	}
}

static void test_derive(void)
{
	/* ESP-IDF: a universal base gets the locally administered bit... */
	static const uint8_t universal[] = { 0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56 };
	static const uint8_t universal_local[] = { 0x26, 0x0a, 0xc4, 0x12, 0x34, 0x56 };
	/* ...and one that has it already gets bit 2 flipped as well. */
	static const uint8_t local[] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t local_local[] = { 0x06, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t local4[] = { 0x06, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t local4_local[] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	uint8_t out[SIM_MAC_LEN];
	sim_mac_derive_local(out, universal);
	CHECK(!memcmp(out, universal_local, SIM_MAC_LEN));
	sim_mac_derive_local(out, local);
	CHECK(!memcmp(out, local_local, SIM_MAC_LEN));
	sim_mac_derive_local(out, local4);
	CHECK(!memcmp(out, local4_local, SIM_MAC_LEN));
	/* Never the base itself, always unicast and locally administered. */
	for (int first = 0; first < 256; first += 2) {
		uint8_t base[SIM_MAC_LEN] = { (uint8_t)first, 1, 2, 3, 4, 5 };
		sim_mac_derive_local(out, base);
		CHECK(memcmp(out, base, SIM_MAC_LEN) != 0);
		CHECK((out[0] & 0x03) == 0x02);
		CHECK(!memcmp(out + 1, base + 1, SIM_MAC_LEN - 1));
	}
}

static void test_key_for_path(void)
{
	char key[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 32], tiny[8];
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	/* A relative path is taken from the working directory. */
	CHECK(sim_mac_key_for_path("router.prefs", key, sizeof(key)) == 0);
	snprintf(want, sizeof(want), "%s/router.prefs", cwd);
	CHECK(!strcmp(key, want));
	CHECK(sim_mac_key_for_path("./router.prefs", key, sizeof(key)) == 0);
	CHECK(!strcmp(key, want));
	/* An existing directory is resolved; a missing one is taken as written. */
	CHECK(sim_mac_key_for_path("/tmp/../tmp/r.prefs", key, sizeof(key)) == 0);
	CHECK(!strcmp(key, "/tmp/r.prefs"));
	CHECK(sim_mac_key_for_path("/nonexistent-natbridge/r.prefs", key, sizeof(key)) == 0);
	CHECK(!strcmp(key, "/nonexistent-natbridge/r.prefs"));
	CHECK(sim_mac_key_for_path("/r.prefs", key, sizeof(key)) == 0);
	CHECK(!strcmp(key, "/r.prefs"));
	CHECK(sim_mac_key_for_path("/tmp/r.prefs", tiny, sizeof(tiny)) == -1);
}

int main(void)
{
	test_parse();
	test_unusable();
	test_default();
	test_derive();
	test_key_for_path();
	return check_report("sim_mac_test");
}
