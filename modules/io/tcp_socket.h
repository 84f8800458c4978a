/*
 * What listener.c needs from tcp.c: a connection the listener accepted is a
 * TCP socket from its first byte (data that arrives before JavaScript reads
 * the listener must be held, not lost), but it has no JavaScript object until
 * the listener's read() wraps it.
 */
#ifndef ROUTER_TCP_SOCKET_H
#define ROUTER_TCP_SOCKET_H

#include "xs.h"

#include <stdint.h>

struct tcp_pcb;
struct tcp_socket;

/*
 * From lwIP's accept callback (lock held). Take over an accepted pcb. NULL
 * when out of memory (the caller refuses it).
 */
struct tcp_socket *tcp_socket_accepted(xsMachine *the, struct tcp_pcb *pcb);

/* With ROUTER_LWIP_LOCK() held. Reset and free a socket no JavaScript object ever owned. */
void tcp_socket_discard(struct tcp_socket *s);

/*
 * With ROUTER_LWIP_LOCK() held. The peer's IPv4 address (network order, as
 * ip4_addr_t holds it); 0 once the connection is gone (reset or timed out
 * while waiting), so the listener's owner can drop it.
 */
uint32_t tcp_socket_peer(const struct tcp_socket *s);

/*
 * Without the lock (it calls XS, then takes the lock). xsResult = a new
 * handle that owns s (its destructor frees it); a throw leaves s unowned.
 */
void tcp_socket_wrap(xsMachine *the, struct tcp_socket *s);

#endif
