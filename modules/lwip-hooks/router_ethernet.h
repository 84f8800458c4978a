/*
 * The router's IPv4 input hook (router_hooks.h) for ports whose lwIP has no
 * LWIP_HOOK_IP4_INPUT compiled in (ESP-IDF's: its lwIP library is built
 * before the firmware and names no such hook). A port gives lwIP this
 * function as the netif's input, through tcpip_inpkt(), so it runs where
 * ethernet_input() would: in the tcpip thread, or under the core lock.
 *
 * For an untagged IPv4 frame it does what ethernet_input() does before
 * ip4_input() (link-layer broadcast and multicast marks, header removal),
 * runs router_ip4_input_hook() (NAPT and its forwarding fast path), and
 * hands what the hook leaves to ip4_input(). Everything else goes to
 * ethernet_input() unchanged. The simulator's ports use it too, though its
 * lwIP calls the hook itself (LWIP_HOOK_IP4_INPUT in lwipopts.h): a steady
 * flow's frame then skips ethernet_input() and ip4_input() as on the ESP32,
 * and router_hook_seen keeps the hook from running twice on one packet.
 */
#ifndef ROUTER_ETHERNET_H
#define ROUTER_ETHERNET_H

#include "lwip/err.h"

struct pbuf;
struct netif;

/* A netif_input_fn: takes the pbuf in every case, returns ERR_OK. */
err_t router_ethernet_input(struct pbuf *p, struct netif *inp);

#ifdef LWIP_HOOK_IP4_INPUT
/* The packet router_ethernet_input() ran the hook on and hands to ip4_input(): the hook lets it pass. */
extern struct pbuf *router_hook_seen;
#endif

#endif
