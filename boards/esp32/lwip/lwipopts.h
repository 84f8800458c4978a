/*
 * lwIP options as ESP-IDF v6.0 builds them for this firmware, for the
 * Xtensa compile check (tools/xtensa-check.mjs) only. On a board ESP-IDF
 * uses its own lwipopts.h (components/lwip/port/include), driven by
 * sdkconfig; boards/esp32/sdkconfig.defaults sets the options below, and
 * host-tests/board-config.test.mjs compares the two so they cannot drift
 * apart. The check compiles against lwIP 2.1.3 (third_party/lwip); ESP-IDF
 * v6.0's is esp-lwip 2.2: docs/esp32.md lists what our C uses of either.
 *
 * What is mirrored is what changes our code's view of lwIP: 32-bit
 * pointers and MEM_ALIGNMENT 4, an OS (NO_SYS 0, the tcpip thread and its
 * core lock), heap-backed heap and pools (so no MEM_STATS or MEMP_STATS),
 * IPv4 only, which netif callbacks exist, forwarding and fragments, and no
 * IPv4 input hook in lwIP itself: ESP-IDF's lwIP library is built without
 * one, so the ports run it (modules/lwip-hooks/router_ethernet.c).
 */
#ifndef ESP32_CHECK_LWIPOPTS_H
#define ESP32_CHECK_LWIPOPTS_H

#include <string.h>
#include <stdlib.h>

#define NO_SYS                      0
#define LWIP_TCPIP_CORE_LOCKING     1   /* CONFIG_LWIP_TCPIP_CORE_LOCKING=y */
#define SYS_LIGHTWEIGHT_PROT        1
#define LWIP_NETCONN                0   /* ESP-IDF has them; nothing of ours uses them */
#define LWIP_SOCKET                 0

/* ESP-IDF takes every pool from the heap (MEMP_MEM_MALLOC); nothing is static. */
#define MEM_LIBC_MALLOC             1
#define MEMP_MEM_MALLOC             1
#define MEM_ALIGNMENT               4

#define LWIP_IPV4                   1
#define LWIP_IPV6                   0   /* CONFIG_LWIP_IPV6=n */
#define IP_FORWARD                  1   /* CONFIG_LWIP_IP_FORWARD=y */
#define IP_NAPT                     0   /* CONFIG_LWIP_IPV4_NAPT is not set: ours does it */
#define IP_REASSEMBLY               1   /* CONFIG_LWIP_IP4_REASSEMBLY=y */
#define IP_FRAG                     1   /* CONFIG_LWIP_IP4_FRAG=y */
#define IP_REASS_MAX_PBUFS          10  /* CONFIG_LWIP_IP_REASS_MAX_PBUFS=10 */
#define IP_REASS_MAXAGE             3

#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define ARP_QUEUEING                1
#define LWIP_ICMP                   1
#define LWIP_RAW                    1
#define LWIP_UDP                    1
#define LWIP_TCP                    1
#define LWIP_DHCP                   1
#define LWIP_DNS                    1
#define LWIP_IGMP                   1
#define DNS_MAX_SERVERS             3
#define LWIP_DHCP_PROVIDE_DNS_SERVERS 1

#define TCP_MSS                     1440  /* CONFIG_LWIP_TCP_MSS default */
#define TCP_WND                     5760
#define TCP_SND_BUF                 2920
#define TCP_LISTEN_BACKLOG          1
#define TCP_OVERSIZE                TCP_MSS
#define TCP_QUEUE_OOSEQ             1   /* CONFIG_LWIP_TCP_QUEUE_OOSEQ=y */
#define TCP_OOSEQ_MAX_PBUFS         4   /* CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS=4 */
#define LWIP_TCP_KEEPALIVE          1
#define SO_REUSE                    1

#define LWIP_NETIF_HOSTNAME         1
#define LWIP_NETIF_STATUS_CALLBACK  1   /* CONFIG_LWIP_NETIF_STATUS_CALLBACK=y */
#define LWIP_NETIF_EXT_STATUS_CALLBACK 1  /* always on in ESP-IDF */
/* ESP-IDF's lwipopts.h leaves LWIP_NETIF_LINK_CALLBACK at lwIP's default (0). */
#define LWIP_NETIF_LINK_CALLBACK    0
#define LWIP_NETIF_TX_SINGLE_PBUF   1
#define LWIP_HAVE_LOOPIF            1
#define LWIP_NETIF_LOOPBACK         1

#define LWIP_STATS                  1   /* CONFIG_LWIP_STATS=y: "show memory" reads lwip_stats */
#define LWIP_STATS_DISPLAY          0
/*
 * MEM_STATS and MEMP_STATS are left to lwIP's opt.h, which turns both off
 * with MEM_LIBC_MALLOC and MEMP_MEM_MALLOC, as ESP-IDF builds it.
 * LWIP_HOOK_IP4_INPUT is not defined: nothing of ESP-IDF's lwIP calls it.
 */

#define LWIP_DEBUG                  0

#endif
