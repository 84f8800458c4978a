/*
 * The ESP32's two Ethernet ports: the internal EMAC with its RMII PHY and a
 * W5500 on SPI, each through ESP-IDF v6.0's esp_eth driver (the PHY and
 * W5500 drivers from Espressif's esp-eth-drivers components), each attached
 * to an lwIP netif of our own (not esp_netif's), so that the net module,
 * NAPT and the IPv4 hook see the same ports.h interface as in the simulator.
 */
#ifndef ESP32_PORTS_H
#define ESP32_PORTS_H

#include "ports.h"

enum esp32_port_hw {
	ESP32_PORT_EMAC = 0,
	ESP32_PORT_W5500 = 1,
	ESP32_PORT_HW_COUNT
};

/*
 * Bring both ports up (once; later calls return the first result). Must be
 * called from a task other than lwIP's, before JavaScript configures the
 * ports. Returns 0, or -1 with a reason in esp32_ports_error(); a port that
 * failed is absent (router_port_netif() returns NULL for its role).
 */
int esp32_ports_start(void);
const char *esp32_ports_error(void);

/*
 * Which hardware is the WAN port: the board's default (MODDEF_BOARD_WAN_ON_W5500)
 * unless NVS namespace "board", key "wan" holds the string "emac" or "w5500"
 * (what Moddable's Preference.set("board", "wan", "w5500") writes). A change
 * applies at the next restart; factory reset (erasing NVS) restores the
 * board's default.
 */
enum esp32_port_hw esp32_ports_wan_hw(void);
int esp32_ports_set_wan_hw(enum esp32_port_hw hw);

#endif
