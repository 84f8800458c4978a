/*
 * How the simulator's sockets (udp.c, listener.c, tcp.c) tell JavaScript
 * that something happened. lwIP callbacks must not run JavaScript, so they
 * only post a message to the machine's loop, one at most per socket, and
 * the socket struct outlives its JavaScript handle while that message still
 * refers to it. Each socket struct embeds one of these and keeps what is
 * its own: what to report, and what else may keep it alive (tcp.c).
 */
#ifndef SIM_IO_NOTIFY_H
#define SIM_IO_NOTIFY_H

#include <stdint.h>
#include "xs.h"

struct io_notify {
	xsMachine *the;
	xsSlot callback;               /* remembered while set */
	void (*deliver)(void *owner);  /* from the machine's loop: tell JavaScript */
	void *owner;                   /* the socket struct this is embedded in */
	uint8_t set;                   /* JavaScript wants to hear */
	uint8_t wrapped;               /* a JavaScript handle still owns the owner */
	uint8_t posted;                /* a message for the owner is queued or being delivered */
	uint8_t readable;              /* counting owners: JavaScript has not heard about the latest arrivals */
};

/* For a zeroed struct: no callback, no handle yet. */
void io_notify_init(struct io_notify *n, xsMachine *the, void (*deliver)(void *owner), void *owner);

/* Replace the callback with callback (undefined: none), a function of machine the. */
void io_notify_set(struct io_notify *n, xsMachine *the, xsSlot callback);

/* Forget the callback, letting its closure (and so the handle) be collected. */
void io_notify_release(struct io_notify *n);

/*
 * From the owner's host destructor. The callback's closure holds the
 * handle, so a collected handle has none remembered: nothing to forget,
 * which is as well, since XS may not be called there.
 */
static inline void io_notify_collected(struct io_notify *n)
{
	n->set = 0;
	n->wrapped = 0;
}

/* Have the loop call the owner's deliver, unless a message is already out. */
void io_notify_post(struct io_notify *n);

/* Call callback(kind, value) from the loop, then the promise jobs it queued. */
void io_notify_call2(struct io_notify *n, int kind, int value);

/*
 * Owners that report notify(count) of what waits to be read (udp.c,
 * listener.c): mark new arrivals, and from the owner's deliver, tell
 * JavaScript how many wait.
 */
void io_notify_readable(struct io_notify *n);
void io_notify_deliver_count(struct io_notify *n, int count);

/* Neither the handle nor a message refers to the owner: it may be freed. */
static inline int io_notify_unreferenced(const struct io_notify *n)
{
	return !n->wrapped && !n->posted;
}

#endif
