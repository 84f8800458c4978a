/*
 * embedded:io/socket/listener for the simulator and the ESP32, over lwIP's
 * raw TCP API.
 * Accepted connections wait in a short queue as TCP sockets (tcp.c), already
 * receiving, until JavaScript reads them. They count against lwIP's listen
 * backlog until then (tcp_backlog_delayed), so once the queue is full lwIP
 * ignores new SYNs and clients retry, rather than connections piling up or
 * a burst of clients being reset before JavaScript has even heard of them.
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

#define LISTENER_BACKLOG 8

struct listener {
	struct io_notify notify;    /* notify(count) */
	struct tcp_pcb *pcb;        /* the listening pcb; NULL once closed */
	struct tcp_socket *queue[LISTENER_BACKLOG];
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

/* xs_router_listener_read(handle) -> TCP socket handle, or undefined */
void xs_router_listener_read(xsMachine *the)
{
	struct listener *l = handle_arg(the, 1);
	struct tcp_socket *s = NULL;
	/* Only this task takes connections off the queue: the head stays put while it is wrapped. */
	ROUTER_LWIP_LOCK();
	if (l->count)
		s = l->queue[l->head];
	ROUTER_LWIP_UNLOCK();
	if (!s)
		return;
	/* A throw here (no memory) leaves it queued. */
	tcp_socket_wrap(the, s);
	ROUTER_LWIP_LOCK();
	l->head = (uint8_t)((l->head + 1) % LISTENER_BACKLOG);
	l->count--;
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
