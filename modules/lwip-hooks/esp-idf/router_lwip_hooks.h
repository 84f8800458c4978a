/*
 * The hook header ESP-IDF's lwIP includes through ESP_IDF_LWIP_HOOK_FILENAME
 * (lwip_default_hooks.h includes it; CMakeLists.txt here puts the define on
 * the lwip component). ESP-IDF has no Kconfig option for an IPv4 input
 * hook, so this is the only way in: every IPv4 packet on any netif reaches
 * router_ip4_input_hook() (modules/lwip-hooks/router_hooks.c) before
 * ip4_input() looks at it, exactly as in the simulator.
 *
 * Only lwIP's own sources see this file; the firmware's C is compiled by
 * Moddable's build and never needs it.
 */
#ifndef ROUTER_LWIP_HOOKS_H
#define ROUTER_LWIP_HOOKS_H

#include "router_hooks.h"

#ifdef LWIP_HOOK_IP4_INPUT
#error "LWIP_HOOK_IP4_INPUT is already defined: another component hooks IPv4 input"
#endif
#define LWIP_HOOK_IP4_INPUT(p, inp) router_ip4_input_hook((p), (inp))

#endif
