/*
 * The router's two Ethernet ports as lwIP netifs. Each board provides
 * these (TAP devices in the simulator, EMAC and W5500 on the ESP32); the
 * net module configures addresses and DHCP on top without knowing which.
 */
#ifndef ROUTER_PORTS_H
#define ROUTER_PORTS_H

#include <stdint.h>

struct netif;

enum router_port_role {
	ROUTER_PORT_WAN = 0,
	ROUTER_PORT_LAN = 1,
	ROUTER_PORT_COUNT
};

/* The netif for a role, or NULL when the board has no such port. */
struct netif *router_port_netif(enum router_port_role role);

/* A short name for the hardware behind the port ("tap:rtr-wan", "emac"). */
const char *router_port_device(enum router_port_role role);

/* Frames and bytes seen by the driver, for "show interfaces". */
struct router_port_counters {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, rx_dropped, tx_errors;
};
void router_port_counters(enum router_port_role role, struct router_port_counters *out);

#endif
