/*
 * The notify machinery the simulator's sockets share (io_notify.h).
 * No host functions: listed in manifest.json only to be compiled.
 */
#include "io_notify.h"
#include "router_host.h"
#include "sim_xs_host.h"

void io_notify_init(struct io_notify *n, xsMachine *the, void (*deliver)(void *owner), void *owner)
{
	n->the = the;
	n->deliver = deliver;
	n->owner = owner;
}

void io_notify_set(struct io_notify *n, xsMachine *the, xsSlot callback)
{
	io_notify_release(n);
	n->the = the;
	if (xsTypeOf(callback) == xsUndefinedType)
		return;
	n->callback = callback;
	n->set = 1;
	xsRemember(n->callback);
}

void io_notify_release(struct io_notify *n)
{
	xsMachine *the = n->the;
	if (!n->set)
		return;
	n->set = 0;
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
		sim_run_promise_jobs(the);
	}
	xsEndHost(n->the);
}

void io_notify_call2(struct io_notify *n, int kind, int value)
{
	call(n, 2, kind, value);
}

static void schedule_readable(struct io_notify *n)
{
	/* A full queue leaves readable set: the next arrival posts again. */
	if (n->readable && n->set)
		io_notify_post(n);
}

void io_notify_readable(struct io_notify *n)
{
	n->readable = 1;
	schedule_readable(n);
}

void io_notify_deliver_count(struct io_notify *n, int count)
{
	/* posted stays set while JavaScript runs: a close() and a collection in
	   the callback must not free the owner under us. */
	if (n->readable && n->set && count) {
		n->readable = 0;
		call(n, 1, count, 0);
	}
	n->posted = 0;
	schedule_readable(n);
}
