/*
 * embedded:io/socket/listener for the simulator and the ESP32, over lwIP's
 * raw TCP API.
 * Accepted connections wait in a queue as TCP sockets (tcp.c), already
 * receiving, until JavaScript reads them. They count against lwIP's listen
 * backlog until then (tcp_backlog_delayed), so once the queue is full lwIP
 * ignores new SYNs and clients retry, rather than connections piling up or
 * a burst of clients being reset before JavaScript has even heard of them.
 * The queue is where a server's connections over its own cap wait: a waiting
 * connection costs its pcb and this queue's place, no XS heap. Beyond
 * ECMA-419, JavaScript may look at who waits (waiting) and take or drop any
 * of them, not only the oldest, so a server can let one host's connections
 * wait while another's go ahead.
 *
 * Threads: on_accept runs wherever lwIP does (ESP-IDF's tcpip thread,
 * holding the core lock); everything else runs in the XS task and takes
 * ROUTER_LWIP_LOCK() around lwIP calls and the queue, never across a call
 * into XS (see io_notify.h). Memory: the struct when the listener opens, a
 * TCP socket's struct per accepted connection (tcp.c).
 */
#include "io_notify.h"
#include "router_host.h"
#include "socket_address.h"
#include "tcp_socket.h"

#include "lwip/ip4_addr.h"
#include "lwip/tcp.h"

#include <stdlib.h>

/*
 * Connections accepted and not yet taken, and lwIP's listen backlog (which
 * counts these and those still in their handshake). 24: a burst of clients
 * on top of a server's own 8 open ones waits here instead of on SYN
 * retransmission (a second), even beside one host's 12 waiting (the UPnP
 * server's most); the pcbs for it are in MEMP_NUM_TCP_PCB (sim) and
 * CONFIG_LWIP_MAX_ACTIVE_TCP (ESP32).
 */
#define LISTENER_BACKLOG 24

struct listener {
	struct io_notify notify;    /* notify(count) */
	struct tcp_pcb *pcb;        /* the listening pcb; NULL once closed */
	struct tcp_socket *queue[LISTENER_BACKLOG]; /* a ring: the oldest at head */
	uint8_t head, count;
	uint16_t port;
};

/* lwIP's thread, lock held. */
static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct listener *l = arg;
	struct tcp_socket *s;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	/* Anything but ERR_OK makes lwIP reset the new connection. */
	if (!l || !l->pcb || l->count == LISTENER_BACKLOG)
		return ERR_MEM;
	s = tcp_socket_accepted(l->notify.the, pcb);
	if (!s)
		return ERR_MEM;
#if TCP_LISTEN_BACKLOG
	tcp_backlog_delayed(pcb);
#endif
	l->queue[(l->head + l->count) % LISTENER_BACKLOG] = s;
	l->count++;
	io_notify_readable(&l->notify);
	return ERR_OK;
}

/* The rest: XS task, lock held unless said otherwise. */

static void listener_stop(struct listener *l)
{
	struct tcp_pcb *pcb = l->pcb;
	if (pcb) {
		l->pcb = NULL;
		tcp_arg(pcb, NULL);
		tcp_accept(pcb, NULL);
		tcp_close(pcb); /* a listening pcb closes at once */
	}
	while (l->count) {
		tcp_socket_discard(l->queue[l->head]);
		l->head = (uint8_t)((l->head + 1) % LISTENER_BACKLOG);
		l->count--;
	}
	l->notify.readable = 0;
}

/* Without the lock: from the machine's loop. */
static void deliver(void *owner)
{
	struct listener *l = owner;
	int count, unreferenced;
	ROUTER_LWIP_LOCK();
	count = io_notify_take_count(&l->notify, l->count);
	ROUTER_LWIP_UNLOCK();
	if (count)
		io_notify_call1(&l->notify, count);
	ROUTER_LWIP_LOCK();
	io_notify_count_delivered(&l->notify);
	unreferenced = io_notify_unreferenced(&l->notify);
	ROUTER_LWIP_UNLOCK();
	if (unreferenced)
		free(l);
}

/* Without the lock: from the collector, which XS may not be called in. */
static void listener_destructor(void *data)
{
	struct listener *l = data;
	int unreferenced;
	if (!l)
		return;
	ROUTER_LWIP_LOCK();
	io_notify_collected(&l->notify);
	listener_stop(l);
	unreferenced = io_notify_unreferenced(&l->notify);
	ROUTER_LWIP_UNLOCK();
	if (unreferenced)
		free(l);
}

/* Host functions: XS task, without the lock; they take it only between XS calls. */

/* l->pcb changes only in the XS task: no lock to look at it here. */
static struct listener *handle_arg(xsMachine *the, int open)
{
	struct listener *l = xsGetHostDataValidate(xsArg(0), (void *)listener_destructor);
	if (open && (!l || !l->pcb))
		xsUnknownError("listener: closed");
	return l;
}

/* xs_router_listener_open(notify, port, address) -> handle */
void xs_router_listener_open(xsMachine *the)
{
	char text[IP4ADDR_STRLEN_MAX];
	ip_addr_t address;
	int port = xsToInteger(xsArg(1));
	struct listener *l;
	struct tcp_pcb *pcb, *listening = NULL;
	enum { OPENED, NO_PCB, IN_USE, NO_BIND, NO_LISTEN } failed = OPENED;
	err_t err = ERR_OK;

	ip_addr_set_any(0, &address);
	xsToStringBuffer(xsArg(2), text, sizeof(text));
	if (text[0] && !socket_parse_ipv4(text, ip_2_ip4(&address)))
		xsRangeError("listener: address is not an IPv4 address: %s", text);
	if (port < 0 || port > 65535)
		xsRangeError("listener: port %d out of range", port);

	xsResult = xsNewHostObject(listener_destructor);
	l = calloc(1, sizeof(*l));
	if (!l)
		xsUnknownError("listener: no memory");
	xsSetHostData(xsResult, l);
	io_notify_init(&l->notify, the, deliver, l);
	l->notify.wrapped = 1;

	ROUTER_LWIP_LOCK();
	pcb = tcp_new();
	if (!pcb)
		failed = NO_PCB;
	else {
		/* Connections of an earlier listener in TIME_WAIT must not block a new one. */
		ip_set_option(pcb, SOF_REUSEADDR);
		err = tcp_bind(pcb, &address, (u16_t)port);
		if (err != ERR_OK)
			failed = err == ERR_USE ? IN_USE : NO_BIND;
		else {
			listening = tcp_listen_with_backlog_and_err(pcb, LISTENER_BACKLOG, &err);
			/* With SOF_REUSEADDR, bind allows the port; a second listener on it fails here. */
			if (!listening)
				failed = err == ERR_USE ? IN_USE : NO_LISTEN;
		}
		if (failed)
			tcp_close(pcb);
	}
	if (!failed) {
		l->pcb = listening;
		l->port = listening->local_port;
		tcp_arg(listening, l);
		tcp_accept(listening, on_accept);
	}
	ROUTER_LWIP_UNLOCK();
	/* Thrown only now, the lock released; the closed handle is collected with its struct. */
	if (failed == NO_PCB)
		xsUnknownError("listener: no free connection (lwIP TCP_PCB pool)");
	if (failed == IN_USE)
		xsUnknownError("listener: port %d in use", port);
	if (failed == NO_BIND)
		xsUnknownError("listener: cannot bind port %d (lwIP error %d)", port, (int)err);
	if (failed == NO_LISTEN)
		xsUnknownError("listener: no memory to listen (lwIP TCP_PCB_LISTEN pool)");
	io_notify_set(&l->notify, the, xsArg(0));
}

/* Lock held. The queue's place of its at-th oldest connection. */
static unsigned place(const struct listener *l, unsigned at)
{
	return (l->head + at) % LISTENER_BACKLOG;
}

/* Lock held. Out of the queue, the later ones moving up to close the gap. */
static void unqueue(struct listener *l, unsigned at)
{
	for (unsigned i = at; i + 1 < l->count; i++)
		l->queue[place(l, i)] = l->queue[place(l, i + 1)];
	l->count--;
}

/* The at argument: which waiting connection, oldest first. */
static int at_arg(xsMachine *the)
{
	int at = xsToInteger(xsArg(1));
	if (at < 0 || at >= LISTENER_BACKLOG)
		xsRangeError("listener: no waiting connection %d", at);
	return at;
}

/* xs_router_listener_read(handle, at) -> TCP socket handle, or undefined */
void xs_router_listener_read(xsMachine *the)
{
	struct listener *l = handle_arg(the, 1);
	int at = at_arg(the);
	struct tcp_socket *s = NULL;
	/* Only this task takes connections off the queue: what is there stays put while it is wrapped. */
	ROUTER_LWIP_LOCK();
	if (at < l->count)
		s = l->queue[place(l, (unsigned)at)];
	ROUTER_LWIP_UNLOCK();
	if (!s)
		return;
	/* A throw here (no memory) leaves it queued. */
	tcp_socket_wrap(the, s);
	ROUTER_LWIP_LOCK();
	unqueue(l, (unsigned)at);
	ROUTER_LWIP_UNLOCK();
}

/*
 * xs_router_listener_waiting(handle, at) -> the at-th waiting connection's
 * peer address ("" once it is gone), or undefined past the last
 */
void xs_router_listener_waiting(xsMachine *the)
{
	struct listener *l = handle_arg(the, 1);
	int at = at_arg(the), there;
	uint32_t peer = 0;
	char text[IP4ADDR_STRLEN_MAX] = "";
	ROUTER_LWIP_LOCK();
	there = at < l->count;
	if (there)
		peer = tcp_socket_peer(l->queue[place(l, (unsigned)at)]);
	ROUTER_LWIP_UNLOCK();
	if (!there)
		return;
	if (peer) {
		ip4_addr_t address;
		ip4_addr_set_u32(&address, peer);
		ip4addr_ntoa_r(&address, text, sizeof(text));
	}
	xsResult = xsString(text);
}

/* xs_router_listener_drop(handle, at): reset the at-th waiting connection, unread */
void xs_router_listener_drop(xsMachine *the)
{
	struct listener *l = handle_arg(the, 1);
	int at = at_arg(the);
	ROUTER_LWIP_LOCK();
	if (at < l->count) {
		struct tcp_socket *s = l->queue[place(l, (unsigned)at)];
		unqueue(l, (unsigned)at);
		tcp_socket_discard(s);
	}
	ROUTER_LWIP_UNLOCK();
}

/* xs_router_listener_port(handle) -> the bound port (useful after port 0) */
void xs_router_listener_port(xsMachine *the)
{
	struct listener *l = handle_arg(the, 0);
	xsResult = xsInteger(l ? l->port : 0);
}

/* xs_router_listener_close(handle): idempotent; queued connections are reset */
void xs_router_listener_close(xsMachine *the)
{
	struct listener *l = handle_arg(the, 0);
	if (!l)
		return;
	io_notify_release(&l->notify);
	ROUTER_LWIP_LOCK();
	listener_stop(l);
	ROUTER_LWIP_UNLOCK();
}
