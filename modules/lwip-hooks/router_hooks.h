/*
 * The hook every IPv4 packet received on any port passes through, before
 * lwIP's own processing. Shared by the simulator and the ESP32 build; what
 * calls it differs: in the simulator lwIP itself, from ip4_input()
 * (LWIP_HOOK_IP4_INPUT in boards/sim/lwip/lwipopts.h), on the ESP32 the
 * ports' input function, router_ethernet_input() (router_ethernet.h),
 * because ESP-IDF's prebuilt lwIP has no such hook.
 */
#ifndef ROUTER_HOOKS_H
#define ROUTER_HOOKS_H

#include <stdint.h>
#include "ports.h"

struct pbuf;
struct netif;

/* IPv4 packets seen by the hook, per port (enum router_port_role). */
extern uint32_t router_hook_ip4_packets[ROUTER_PORT_COUNT];

/* The router's own TCP connections in TIME_WAIT ended early for a client's new SYN (router_hooks.c). */
extern uint32_t router_hook_timewait_reopened;

/*
 * Return 0 to let lwIP go on with the packet; non-zero when the hook took
 * it (forwarded or dropped it, and freed the pbuf).
 */
int router_ip4_input_hook(struct pbuf *p, struct netif *inp);

#endif
