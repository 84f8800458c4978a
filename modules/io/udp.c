/*
 * embedded:io/socket/udp for the simulator and the ESP32, over lwIP's raw
 * UDP API. Datagrams wait in a short ring until JavaScript reads them. Each
 * one pins the pbuf the port driver received it in, taken from the pool
 * every port receives into, so a reader that falls behind loses its own
 * datagrams (counted) instead of starving the router's ports.
 *
 * Beyond ECMA-419, `interface` ("lan" or "wan") ties a socket to one of the
 * router's ports: it hears only datagrams that arrived on that port, sends
 * by that port whatever the destination (multicast included), and joins its
 * multicast group there alone. SSDP uses it so that nothing of it is heard
 * or said on the WAN. NAPT leaves such a port free on the WAN (napt_lwip.c).
 *
 * Threads: on_recv runs wherever lwIP does (ESP-IDF's tcpip thread, holding
 * the core lock); everything else runs in the XS task and takes
 * ROUTER_LWIP_LOCK() around lwIP calls and the ring, never across a call
 * into XS (see io_notify.h). Memory: the struct is allocated when the socket
 * is opened; per datagram, only the pbuf lwIP itself takes to send one.
 */
#include "io_notify.h"
#include "ports.h"
#include "router_host.h"
#include "socket_address.h"

#include "lwip/igmp.h"
#include "lwip/ip4_addr.h"
#include "lwip/udp.h"

#include <stdlib.h>
#include <string.h>

#define UDP_QUEUE_MAX 8
/* The largest payload one IPv4 datagram carries. */
#define UDP_PAYLOAD_MAX (0xFFFF - 20 - 8)

struct udp_datagram {
	struct pbuf *p;
	ip4_addr_t from;
	uint16_t port;
};

struct udp_socket {
	struct io_notify notify;     /* notify(count) */
	struct udp_pcb *pcb;         /* NULL once closed */
	struct udp_datagram queue[UDP_QUEUE_MAX];
	uint8_t head, count;
	uint8_t joined;
	int8_t role;                 /* enum router_port_role bound to, or -1 */
	ip4_addr_t group;
	uint32_t dropped;            /* arrived with the queue full */
	uint32_t unsent;             /* write() that lwIP had no memory or route for */
};

/* lwIP's thread, lock held. */
/* Datagrams every socket together dropped with its queue full (under the lwIP lock). */
static uint32_t gDropped;

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	struct udp_socket *u = arg;
	struct udp_datagram *d;
	(void)pcb;
	if (!u || u->count == UDP_QUEUE_MAX) {
		if (u)
			u->dropped++;
		gDropped++;
		pbuf_free(p);
		return;
	}
	d = &u->queue[(u->head + u->count) % UDP_QUEUE_MAX];
	d->p = p;
	ip4_addr_copy(d->from, *ip_2_ip4(addr));
	d->port = port;
	u->count++;
	io_notify_readable(&u->notify);
}

/* The rest: XS task, lock held unless said otherwise. */

static void drop_head(struct udp_socket *u)
{
	pbuf_free(u->queue[u->head].p);
	u->queue[u->head].p = NULL;
	u->head = (uint8_t)((u->head + 1) % UDP_QUEUE_MAX);
	u->count--;
}

static void socket_close(struct udp_socket *u)
{
	if (u->pcb) {
		udp_remove(u->pcb);
		u->pcb = NULL;
	}
	if (u->joined) {
		if (u->role < 0)
			igmp_leavegroup(IP4_ADDR_ANY4, &u->group);
		else if (router_port_netif((enum router_port_role)u->role))
			igmp_leavegroup_netif(router_port_netif((enum router_port_role)u->role), &u->group);
		u->joined = 0;
	}
	while (u->count)
		drop_head(u);
	u->notify.readable = 0;
}

/* Without the lock: from the machine's loop. */
static void deliver(void *owner)
{
	struct udp_socket *u = owner;
	int count, unreferenced;
	ROUTER_LWIP_LOCK();
	count = io_notify_take_count(&u->notify, u->count);
	ROUTER_LWIP_UNLOCK();
	if (count)
		io_notify_call1(&u->notify, count);
	ROUTER_LWIP_LOCK();
	io_notify_count_delivered(&u->notify);
	unreferenced = io_notify_unreferenced(&u->notify);
	ROUTER_LWIP_UNLOCK();
	if (unreferenced)
		free(u);
}

/* Without the lock: from the collector, which XS may not be called in. */
static void udp_socket_destructor(void *data)
{
	struct udp_socket *u = data;
	int unreferenced;
	if (!u)
		return;
	ROUTER_LWIP_LOCK();
	io_notify_collected(&u->notify);
	socket_close(u);
	unreferenced = io_notify_unreferenced(&u->notify);
	ROUTER_LWIP_UNLOCK();
	if (unreferenced)
		free(u);
}

/* Host functions: XS task, without the lock; they take it only between XS calls. */

/* u->pcb changes only in the XS task: no lock to look at it here. */
static struct udp_socket *handle_arg(xsMachine *the, int open)
{
	struct udp_socket *u = xsGetHostDataValidate(xsArg(0), (void *)udp_socket_destructor);
	if (open && (!u || !u->pcb))
		xsUnknownError("udp: socket is closed");
	return u;
}

static void address_arg(xsMachine *the, int index, ip4_addr_t *out, const char *what)
{
	char text[IP4ADDR_STRLEN_MAX];
	xsToStringBuffer(xsArg(index), text, sizeof(text));
	if (!socket_parse_ipv4(text, out))
		xsRangeError("udp: %s is not an IPv4 address: %s", what, text);
}

/* The port an `interface` option names: -1 for none (undefined), else a role. */
static int interface_arg(xsMachine *the, int index)
{
	if (xsTypeOf(xsArg(index)) == xsUndefinedType)
		return -1;
	if (xsTypeOf(xsArg(index)) == xsStringType) {
		/* Compared at once: the collector cannot run in between. */
		const char *text = xsToString(xsArg(index));
		if (!strcmp(text, "lan"))
			return ROUTER_PORT_LAN;
		if (!strcmp(text, "wan"))
			return ROUTER_PORT_WAN;
	}
	xsRangeError("udp: interface must be \"lan\" or \"wan\"");
	return -1;
}

/* xs_router_udp_open(notify, port, address, multicast, timeToLive, interface) -> handle */
void xs_router_udp_open(xsMachine *the)
{
	ip_addr_t local;
	ip4_addr_t group;
	char text[IP4ADDR_STRLEN_MAX];
	int port = xsToInteger(xsArg(1));
	int multicast = xsTypeOf(xsArg(3)) != xsUndefinedType;
	int role = interface_arg(the, 5);
	int ttl = xsToInteger(xsArg(4));
	struct netif *netif = NULL;
	struct udp_socket *u;
	enum { OPENED, NO_PCB, IN_USE, NO_BIND, NO_JOIN } failed = OPENED;
	err_t err = ERR_OK;

	ip_addr_set_any(0, &local);
	if (xsTypeOf(xsArg(2)) != xsUndefinedType)
		address_arg(the, 2, ip_2_ip4(&local), "address");
	if (port < 0 || port > 65535)
		xsRangeError("udp: port %d out of range", port);
	if (multicast) {
		address_arg(the, 3, &group, "multicast");
		if (!ip4_addr_ismulticast(&group))
			xsRangeError("udp: multicast %s is not a multicast group", ip4addr_ntoa_r(&group, text, sizeof(text)));
	}
	if (role >= 0) {
		ROUTER_LWIP_LOCK();
		netif = router_port_netif((enum router_port_role)role);
		ROUTER_LWIP_UNLOCK();
		if (!netif)
			xsUnknownError("udp: this board has no %s port", role == ROUTER_PORT_LAN ? "lan" : "wan");
	}

	/* The one allocation of a socket's life: its struct, ring included. */
	xsResult = xsNewHostObject(udp_socket_destructor);
	u = calloc(1, sizeof(*u));
	if (!u)
		xsUnknownError("udp: no memory");
	xsSetHostData(xsResult, u);
	io_notify_init(&u->notify, the, deliver, u);
	u->notify.wrapped = 1;
	u->role = (int8_t)role;

	ROUTER_LWIP_LOCK();
	u->pcb = udp_new();
	if (!u->pcb)
		failed = NO_PCB;
	else if ((err = udp_bind(u->pcb, &local, (u16_t)port)) != ERR_OK)
		failed = err == ERR_USE ? IN_USE : NO_BIND;
	else {
		/* Before udp_recv: no datagram is queued that arrived on the other port. */
		if (netif)
			udp_bind_netif(u->pcb, netif);
		if (multicast) {
			err = netif ? igmp_joingroup_netif(netif, &group) : igmp_joingroup(IP4_ADDR_ANY4, &group);
			if (err != ERR_OK)
				failed = NO_JOIN;
			else {
				u->joined = 1;
				u->group = group;
				udp_set_multicast_ttl(u->pcb, (u8_t)ttl);
			}
		}
		if (!failed)
			udp_recv(u->pcb, on_recv, u);
	}
	if (failed)
		socket_close(u);
	ROUTER_LWIP_UNLOCK();
	/* Thrown only now, the lock released; the closed handle is collected with its struct. */
	if (failed == NO_PCB)
		xsUnknownError("udp: no free socket (lwIP UDP_PCB pool)");
	if (failed == IN_USE)
		xsUnknownError("udp: port %d in use", port);
	if (failed == NO_BIND)
		xsUnknownError("udp: cannot bind port %d (lwIP error %d)", port, (int)err);
	if (failed == NO_JOIN)
		xsUnknownError("udp: cannot join %s", ip4addr_ntoa_r(&group, text, sizeof(text)));
	io_notify_set(&u->notify, the, xsArg(0));
}

/* xs_router_udp_read(handle) -> ArrayBuffer with .address and .port, or undefined */
void xs_router_udp_read(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 1);
	struct pbuf *p = NULL;
	ip4_addr_t from = { 0 };
	uint16_t port = 0, length = 0;
	char text[IP4ADDR_STRLEN_MAX];

	/* Only this task takes datagrams off the ring: the head stays put while the buffer is made. */
	ROUTER_LWIP_LOCK();
	if (u->count)
		p = u->queue[u->head].p;
	if (p)
		length = p->tot_len;
	ROUTER_LWIP_UNLOCK();
	if (!p)
		return;
	xsResult = xsArrayBuffer(NULL, length);
	{
		/* No XS call from here to the copy: a collection could move the buffer. */
		void *bytes = xsToArrayBuffer(xsResult);
		ROUTER_LWIP_LOCK();
		if (u->count && u->queue[u->head].p == p) {
			pbuf_copy_partial(p, bytes, length, 0);
			from = u->queue[u->head].from;
			port = u->queue[u->head].port;
		}
		else
			p = NULL;  /* cannot happen: only close() empties the ring, and nothing ran it */
		ROUTER_LWIP_UNLOCK();
	}
	if (!p) {
		xsResult = xsUndefined;
		return;
	}
	ip4addr_ntoa_r(&from, text, sizeof(text));
	xsSet(xsResult, xsID("address"), xsString(text));
	xsSet(xsResult, xsID("port"), xsInteger(port));
	/* Only once JavaScript holds a copy: a throw above keeps the datagram. A
	   setter on ArrayBuffer.prototype may have closed the socket meanwhile. */
	ROUTER_LWIP_LOCK();
	if (u->count && u->queue[u->head].p == p)
		drop_head(u);
	ROUTER_LWIP_UNLOCK();
}

/* xs_router_udp_write(handle, ArrayBuffer, offset, length, address, port) */
void xs_router_udp_write(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 1);
	xsIntegerValue size = xsGetArrayBufferLength(xsArg(1));
	xsIntegerValue offset = xsToInteger(xsArg(2));
	xsIntegerValue length = xsToInteger(xsArg(3));
	int port = xsToInteger(xsArg(5));
	const uint8_t *data;
	ip_addr_t to;
	struct pbuf *p;
	err_t err = ERR_OK;
	int closed = 0;
	char text[IP4ADDR_STRLEN_MAX];

	if (offset < 0 || length < 0 || offset > size || length > size - offset)
		xsRangeError("udp: write outside the buffer");
	if (length > UDP_PAYLOAD_MAX)
		xsRangeError("udp: %d bytes do not fit one datagram", (int)length);
	ip_addr_set_any(0, &to);
	address_arg(the, 4, ip_2_ip4(&to), "address");
	if (port < 1 || port > 65535)
		xsRangeError("udp: port %d out of range", port);
	/* Last: no XS call may come between this and the copy below. */
	data = (const uint8_t *)xsToArrayBuffer(xsArg(1)) + offset;

	ROUTER_LWIP_LOCK();
	/* A valueOf or toString above may have closed it. */
	if (!u->pcb)
		closed = 1;
	/* lwIP's own memory for the datagram, as every sender on it takes. */
	else if (!(p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)length, PBUF_RAM)))
		err = ERR_MEM;  /* datagrams may be lost anyway; a full heap is one more way */
	else {
		pbuf_take(p, data, (u16_t)length);
		err = udp_sendto(u->pcb, p, &to, (u16_t)port);
		pbuf_free(p);
	}
	ROUTER_LWIP_UNLOCK();
	if (closed)
		xsUnknownError("udp: socket is closed");
	if (err == ERR_RTE)
		xsUnknownError("udp: no route to %s", ip4addr_ntoa_r(ip_2_ip4(&to), text, sizeof(text)));
	if (err != ERR_OK)
		u->unsent++;
}

/* xs_router_udp_close(handle): idempotent */
void xs_router_udp_close(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 0);
	if (!u)
		return;
	io_notify_release(&u->notify);
	ROUTER_LWIP_LOCK();
	socket_close(u);
	ROUTER_LWIP_UNLOCK();
}

/* xs_router_udp_info(handle) -> { port, dropped, unsent } */
void xs_router_udp_info(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 1);
	uint16_t port;
	uint32_t dropped;
	ROUTER_LWIP_LOCK();
	port = u->pcb->local_port;
	dropped = u->dropped;
	ROUTER_LWIP_UNLOCK();
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("port"), xsInteger(port));
	xsSet(xsResult, xsID("dropped"), xsNumber(dropped));
	/* unsent is counted in this task alone. */
	xsSet(xsResult, xsID("unsent"), xsNumber(u->unsent));
}

/* xs_router_udp_stats() -> { dropped }: every socket's datagrams dropped with its queue full, since boot */
void xs_router_udp_stats(xsMachine *the)
{
	uint32_t dropped;
	ROUTER_LWIP_LOCK();
	dropped = gDropped;
	ROUTER_LWIP_UNLOCK();
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("dropped"), xsNumber(dropped));
}
