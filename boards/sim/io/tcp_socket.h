/*
 * What listener.c needs from tcp.c: a connection the listener accepted is a
 * TCP socket from its first byte (data that arrives before JavaScript reads
 * the listener must be held, not lost), but it has no JavaScript object until
 * the listener's read() wraps it.
 */
#ifndef SIM_TCP_SOCKET_H
#define SIM_TCP_SOCKET_H

#include "xs.h"

struct tcp_pcb;
struct tcp_socket;

/* Take over an accepted pcb. NULL when out of memory (the caller refuses it). */
struct tcp_socket *tcp_socket_accepted(xsMachine *the, struct tcp_pcb *pcb);

/* Reset and free a socket no JavaScript object ever owned. */
void tcp_socket_discard(struct tcp_socket *s);

/* xsResult = a new handle that owns s (its destructor frees it). */
void tcp_socket_wrap(xsMachine *the, struct tcp_socket *s);

#endif
