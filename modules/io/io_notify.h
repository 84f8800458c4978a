/*
 * How our sockets (udp.c, listener.c, tcp.c) tell JavaScript that something
 * happened. lwIP callbacks must not run JavaScript (on the ESP32 they run in
 * ESP-IDF's tcpip thread, not the XS task), so they only post a message to
 * the machine's loop, one at most per socket, and the socket struct outlives
 * its JavaScript handle while that message still refers to it. Each socket
 * struct embeds one of these and keeps what is its own: what to report, and
 * what else may keep it alive (tcp.c).
 *
 * Locking: the flags below are read by lwIP callbacks, so they change only
 * under ROUTER_LWIP_LOCK() (router_host.h), which lwIP's own thread holds
 * whenever it calls back. Each function says whether its caller holds the
 * lock. Those that call into XS must be called without it: JavaScript may
 * call back into a socket (which takes the lock), a throw would leave it
 * held, and a collection runs destructors that take it.
 */
#ifndef ROUTER_IO_NOTIFY_H
#define ROUTER_IO_NOTIFY_H

#include <stddef.h>   /* before xs.h, which uses size_t without including it */
#include <stdint.h>
#include "xs.h"

struct io_notify {
	xsMachine *the;
	xsSlot callback;               /* remembered while set; XS task only */
	void (*deliver)(void *owner);  /* from the machine's loop: tell JavaScript */
	void *owner;                   /* the socket struct this is embedded in */
	uint8_t set;                   /* JavaScript wants to hear */
	uint8_t wrapped;               /* a JavaScript handle still owns the owner */
	uint8_t posted;                /* a message for the owner is queued or being delivered */
	uint8_t readable;              /* counting owners: JavaScript has not heard about the latest arrivals */
};

/* For a zeroed struct no lwIP callback can reach yet: no callback, no handle. */
void io_notify_init(struct io_notify *n, xsMachine *the, void (*deliver)(void *owner), void *owner);

/*
 * Without the lock. Replace the callback with callback (undefined: none), a
 * function of machine the; arrivals it missed while unset are posted now.
 */
void io_notify_set(struct io_notify *n, xsMachine *the, xsSlot callback);

/* Without the lock. Forget the callback, letting its closure (and so the handle) be collected. */
void io_notify_release(struct io_notify *n);

/*
 * With the lock, from the owner's host destructor. The callback's closure
 * holds the handle, so a collected handle has none remembered: nothing to
 * forget, which is as well, since XS may not be called there.
 */
static inline void io_notify_collected(struct io_notify *n)
{
	n->set = 0;
	n->wrapped = 0;
}

/* With the lock. Have the loop call the owner's deliver, unless a message is already out. */
void io_notify_post(struct io_notify *n);

/* Without the lock, from the owner's deliver: callback(a) or callback(kind, value). */
void io_notify_call1(struct io_notify *n, int a);
void io_notify_call2(struct io_notify *n, int kind, int value);

/*
 * Owners that report notify(count) of what waits to be read (udp.c,
 * listener.c). With the lock: mark new arrivals (lwIP callbacks); from the
 * owner's deliver, take how many to report (0: nothing to say) before
 * calling io_notify_call1 without the lock, then io_notify_count_delivered.
 */
void io_notify_readable(struct io_notify *n);
int io_notify_take_count(struct io_notify *n, int count);
void io_notify_count_delivered(struct io_notify *n);

/* With the lock. Neither the handle nor a message refers to the owner: it may be freed. */
static inline int io_notify_unreferenced(const struct io_notify *n)
{
	return !n->wrapped && !n->posted;
}

#endif
