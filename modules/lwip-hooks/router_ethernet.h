/*
 * The router's IPv4 input hook (router_hooks.h) for ports whose lwIP has no
 * LWIP_HOOK_IP4_INPUT compiled in (ESP-IDF's: its lwIP library is built
 * before the firmware and names no such hook). A port gives lwIP this
 * function as the netif's input, through tcpip_inpkt(), so it runs where
 * ethernet_input() would: in the tcpip thread, or under the core lock.
 *
 * For an untagged IPv4 frame it does what ethernet_input() does before
 * ip4_input() (link-layer broadcast and multicast marks, header removal),
 * runs router_ip4_input_hook(), and hands what the hook leaves to
 * ip4_input(). Everything else goes to ethernet_input() unchanged. Where
 * lwIP does call the hook itself (the simulator's lwipopts.h defines
 * LWIP_HOOK_IP4_INPUT), it is ethernet_input() alone: the hook runs once
 * per packet either way.
 */
#ifndef ROUTER_ETHERNET_H
#define ROUTER_ETHERNET_H

#include "lwip/err.h"

struct pbuf;
struct netif;

/* A netif_input_fn: takes the pbuf in every case, returns ERR_OK. */
err_t router_ethernet_input(struct pbuf *p, struct netif *inp);

#endif
