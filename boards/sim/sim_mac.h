/*
 * The simulator's MAC addresses. A board has its own base MAC in efuse;
 * a simulator instance has one from --mac, or by default one made from
 * something only that instance has: its preferences file (its flash).
 * The WAN port takes the base MAC and the LAN port the address ESP-IDF's
 * esp_derive_local_mac() makes from it, as modules/ports/esp32 gives the
 * EMAC (WAN by default) the efuse MAC and the W5500 the derived one.
 */
#ifndef SIM_MAC_H
#define SIM_MAC_H

#include <stddef.h>
#include <stdint.h>

#define SIM_MAC_LEN 6
#define SIM_MAC_TEXT 18   /* "aa:bb:cc:dd:ee:ff" and its NUL */

/*
 * "aa:bb:cc:dd:ee:ff": six octets of exactly two hex digits (either case),
 * colon-separated, nothing else. 0 and mac filled, or -1.
 */
int sim_mac_parse(const char *text, uint8_t mac[SIM_MAC_LEN]);

/* Why mac cannot be an Ethernet port's own address (multicast, all zero), or NULL. */
const char *sim_mac_unusable(const uint8_t mac[SIM_MAC_LEN]);

/*
 * The default base MAC of the instance whose preferences file is at the
 * absolute path `key`: 02 (locally administered, unicast) and 40 bits of
 * its FNV-1a hash. The same path always gives the same MAC.
 */
void sim_mac_from_key(const char *key, uint8_t mac[SIM_MAC_LEN]);

/*
 * esp_derive_local_mac(): the first octet with the locally administered bit
 * set; if that changes nothing (base already local), with bit 2 flipped too.
 */
void sim_mac_derive_local(uint8_t local[SIM_MAC_LEN], const uint8_t base[SIM_MAC_LEN]);

void sim_mac_format(const uint8_t mac[SIM_MAC_LEN], char text[SIM_MAC_TEXT]);

/*
 * The absolute form of a preferences path (its directory resolved when it
 * exists, else joined to the working directory), for sim_mac_from_key().
 * 0, or -1 when it does not fit.
 */
int sim_mac_key_for_path(const char *path, char *out, size_t size);

#endif
