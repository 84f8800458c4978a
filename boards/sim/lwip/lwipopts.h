/*
 * lwIP options for the host simulator. The ESP32 build uses ESP-IDF's own
 * lwIP configuration; what matters for behaviour is the same on both: IPv4
 * forwarding between the two ports, our input hook, DHCP client, raw API.
 */
#ifndef SIM_LWIPOPTS_H
#define SIM_LWIPOPTS_H

#define NO_SYS                      1
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define SYS_LIGHTWEIGHT_PROT        0
#define LWIP_SINGLE_NETIF           0

/*
 * Memory: sized like a small board, so pool pressure shows up here too.
 * Aligned to the pointer size: 4 in the 32-bit simulator, as ESP-IDF's lwIP
 * on the ESP32, so heap and pool element sizes are the board's; 8 in a
 * 64-bit build (build-sim.mjs --m64, the NAPT bench).
 */
#define MEM_ALIGNMENT               __SIZEOF_POINTER__
#define MEM_SIZE                    (48 * 1024)
#define MEMP_NUM_PBUF               32
#define MEMP_NUM_UDP_PCB            16
#define MEMP_NUM_TCP_PCB            48  /* see README, UPnP limits: 8 open + 24 waiting, DNS, NOTIFY */
#define MEMP_NUM_TCP_PCB_LISTEN     8
#define MEMP_NUM_TCP_SEG            64
#define MEMP_NUM_REASSDATA          8
#define MEMP_NUM_FRAG_PBUF          16
#define MEMP_NUM_ARP_QUEUE          16
#define MEMP_NUM_SYS_TIMEOUT        (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)
#define PBUF_POOL_SIZE              64
/*
 * A whole Ethernet frame (1500 + 14) in one receive buffer, as each of the
 * board's drivers hands lwIP one buffer a frame. lwIP's default follows
 * TCP_MSS, and with an MSS below 1460 (the board's is 1440) a full-size
 * frame comes in two chained buffers, which the forwarding fast path
 * (rightly) leaves to lwIP.
 */
#define PBUF_POOL_BUFSIZE           LWIP_MEM_ALIGN_SIZE(1500 + 14)

#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define ARP_TABLE_SIZE              32
#define ARP_QUEUEING                1

#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define IP_FORWARD                  1
#define IP_REASSEMBLY               1
#define IP_FRAG                     1
#define LWIP_ICMP                   1
#define LWIP_RAW                    1
#define LWIP_UDP                    1
#define LWIP_TCP                    1
#define LWIP_DHCP                   1
#define LWIP_DNS                    1
#define LWIP_IGMP                   1
#define DNS_MAX_SERVERS             2
#define LWIP_DHCP_PROVIDE_DNS_SERVERS 1

#define TCP_MSS                     1460
#define TCP_WND                     (4 * TCP_MSS)
#define TCP_SND_BUF                 (4 * TCP_MSS)
#define TCP_SND_QUEUELEN            (4 * TCP_SND_BUF / TCP_MSS)
/*
 * Out-of-order segments a connection to the router may queue, each in a
 * receive buffer: as the board (ESP-IDF's CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS,
 * boards/esp32/sdkconfig.defaults). Unbounded, one host sending a byte per
 * segment past a gap took the whole PBUF_POOL, which every port receives into.
 */
#define TCP_OOSEQ_MAX_PBUFS         4
#define LWIP_TCP_KEEPALIVE          1
/* Listeners count queued, unread connections (tcp_backlog_delayed) and
   ignore SYNs past the backlog, so clients retry instead of being reset. */
#define TCP_LISTEN_BACKLOG          1
#define SO_REUSE                    1

#define LWIP_NETIF_STATUS_CALLBACK  1
#define LWIP_NETIF_LINK_CALLBACK    1
#define LWIP_NETIF_HOSTNAME         1

#define LWIP_STATS                  1
#define LWIP_STATS_DISPLAY          0
#define MEM_STATS                   1
#define MEMP_STATS                  1
#define LINK_STATS                  1
#define IP_STATS                    1
#define LWIP_STATS_LARGE            1

/* Every IPv4 packet on either port passes our hook first (NAPT). */
#define LWIP_HOOK_FILENAME          "router_hooks.h"
#define LWIP_HOOK_IP4_INPUT(p, inp) router_ip4_input_hook((p), (inp))

#define LWIP_DEBUG                  0

/* The C library (pulled in by XS headers) already defines htonl and friends. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1

#endif
