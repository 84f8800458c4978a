/*
 * The notify machinery our sockets share (io_notify.h).
 * No host functions: listed in manifest.json only to be compiled.
 *
 * Promise jobs a callback queues are not run here: the host runs them from
 * its loop after the message (the simulator's loop after each round of
 * messages, Moddable's fxQueuePromiseJobs by posting a message of its own).
 */
#include "io_notify.h"
#include "router_host.h"

void io_notify_init(struct io_notify *n, xsMachine *the, void (*deliver)(void *owner), void *owner)
{
	n->the = the;
	n->deliver = deliver;
	n->owner = owner;
}

static void schedule_readable(struct io_notify *n)
{
	/* A full queue leaves readable set: the next arrival posts again. */
	if (n->readable && n->set)
		io_notify_post(n);
}

void io_notify_set(struct io_notify *n, xsMachine *the, xsSlot callback)
{
	io_notify_release(n);
	if (xsTypeOf(callback) == xsUndefinedType) {
		ROUTER_LWIP_LOCK();
		n->the = the;
		ROUTER_LWIP_UNLOCK();
		return;
	}
	n->callback = callback;
	xsRemember(n->callback);
	ROUTER_LWIP_LOCK();
	n->the = the;
	n->set = 1;
	/* Datagrams or connections that arrived before there was anyone to tell. */
	schedule_readable(n);
	ROUTER_LWIP_UNLOCK();
}

void io_notify_release(struct io_notify *n)
{
	xsMachine *the = n->the;
	uint8_t was;
	ROUTER_LWIP_LOCK();
	was = n->set;
	n->set = 0;
	ROUTER_LWIP_UNLOCK();
	if (was)
		xsForget(n->callback);
}

static void deliver(void *the, void *refcon, uint8_t *message, uint16_t length)
{
	struct io_notify *n = refcon;
	(void)the;
	(void)message;
	(void)length;
	n->deliver(n->owner);
}

void io_notify_post(struct io_notify *n)
{
	if (n->posted)
		return;
	/* A full queue leaves posted clear, so the owner's next event tries again. */
	if (!modMessagePostToMachine(n->the, NULL, 0, deliver, n))
		n->posted = 1;
}

static void call(struct io_notify *n, int argc, int a, int b)
{
	xsBeginHost(n->the);
	{
		if (argc == 1)
			xsCallFunction1(n->callback, xsUndefined, xsInteger(a));
		else
			xsCallFunction2(n->callback, xsUndefined, xsInteger(a), xsInteger(b));
	}
	xsEndHost(n->the);
}

void io_notify_call1(struct io_notify *n, int a)
{
	call(n, 1, a, 0);
}

void io_notify_call2(struct io_notify *n, int kind, int value)
{
	call(n, 2, kind, value);
}

void io_notify_readable(struct io_notify *n)
{
	n->readable = 1;
	schedule_readable(n);
}

int io_notify_take_count(struct io_notify *n, int count)
{
	if (!n->readable || !n->set || !count)
		return 0;
	n->readable = 0;
	return count;
}

void io_notify_count_delivered(struct io_notify *n)
{
	/* posted stayed set while JavaScript ran: a close() and a collection in
	   the callback must not free the owner under us. */
	n->posted = 0;
	schedule_readable(n);
}
