/*
 * embedded:io/socket/udp for the simulator, over lwIP's raw UDP API.
 * Datagrams wait in a short ring until JavaScript reads them. Each one pins
 * the pbuf the port driver received it in, taken from the pool every port
 * receives into, so a reader that falls behind loses its own datagrams
 * (counted) instead of starving the router's ports.
 *
 * Beyond ECMA-419, `interface` ("lan" or "wan") ties a socket to one of the
 * router's ports: it hears only datagrams that arrived on that port, sends
 * by that port whatever the destination (multicast included), and joins its
 * multicast group there alone. SSDP uses it so that nothing of it is heard
 * or said on the WAN. NAPT leaves such a port free on the WAN (napt_lwip.c).
 */
#include "io_notify.h"
#include "ports.h"
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

static void maybe_free(struct udp_socket *u)
{
	if (io_notify_unreferenced(&u->notify))
		free(u);
}

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	struct udp_socket *u = arg;
	struct udp_datagram *d;
	(void)pcb;
	if (!u || u->count == UDP_QUEUE_MAX) {
		if (u)
			u->dropped++;
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

static void deliver(void *owner)
{
	struct udp_socket *u = owner;
	io_notify_deliver_count(&u->notify, u->count);
	maybe_free(u);
}

static void udp_socket_destructor(void *data)
{
	struct udp_socket *u = data;
	if (!u)
		return;
	io_notify_collected(&u->notify);
	socket_close(u);
	maybe_free(u);
}

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

/* xs_udp_open(notify, port, address, multicast, timeToLive, interface) -> handle */
void xs_udp_open(xsMachine *the)
{
	ip_addr_t local;
	ip4_addr_t group;
	int port = xsToInteger(xsArg(1));
	int multicast = xsTypeOf(xsArg(3)) != xsUndefinedType;
	int role = interface_arg(the, 5);
	struct netif *netif = NULL;
	struct udp_socket *u;
	err_t err;

	ip_addr_set_any(0, &local);
	if (xsTypeOf(xsArg(2)) != xsUndefinedType)
		address_arg(the, 2, ip_2_ip4(&local), "address");
	if (port < 0 || port > 65535)
		xsRangeError("udp: port %d out of range", port);
	if (multicast) {
		address_arg(the, 3, &group, "multicast");
		if (!ip4_addr_ismulticast(&group))
			xsRangeError("udp: multicast %s is not a multicast group", ip4addr_ntoa(&group));
	}
	if (role >= 0) {
		netif = router_port_netif((enum router_port_role)role);
		if (!netif)
			xsUnknownError("udp: this board has no %s port", role == ROUTER_PORT_LAN ? "lan" : "wan");
	}

	xsResult = xsNewHostObject(udp_socket_destructor);
	u = calloc(1, sizeof(*u));
	if (!u)
		xsUnknownError("udp: no memory");
	xsSetHostData(xsResult, u);
	io_notify_init(&u->notify, the, deliver, u);
	u->notify.wrapped = 1;
	u->role = (int8_t)role;
	u->pcb = udp_new();
	if (!u->pcb)
		xsUnknownError("udp: no free socket (lwIP UDP_PCB pool)");
	err = udp_bind(u->pcb, &local, (u16_t)port);
	if (err != ERR_OK) {
		socket_close(u);
		if (err == ERR_USE)
			xsUnknownError("udp: port %d in use", port);
		xsUnknownError("udp: cannot bind port %d (lwIP error %d)", port, (int)err);
	}
	/* Before any datagram can arrive: nothing runs between the two binds. */
	if (netif)
		udp_bind_netif(u->pcb, netif);
	if (multicast) {
		err = netif ? igmp_joingroup_netif(netif, &group) : igmp_joingroup(IP4_ADDR_ANY4, &group);
		if (err != ERR_OK) {
			socket_close(u);
			xsUnknownError("udp: cannot join %s", ip4addr_ntoa(&group));
		}
		u->joined = 1;
		u->group = group;
		udp_set_multicast_ttl(u->pcb, (u8_t)xsToInteger(xsArg(4)));
	}
	udp_recv(u->pcb, on_recv, u);
	io_notify_set(&u->notify, the, xsArg(0));
}

/* xs_udp_read(handle) -> ArrayBuffer with .address and .port, or undefined */
void xs_udp_read(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 1);
	struct udp_datagram *d;
	char text[IP4ADDR_STRLEN_MAX];
	if (!u->count)
		return;
	d = &u->queue[u->head];
	xsResult = xsArrayBuffer(NULL, d->p->tot_len);
	pbuf_copy_partial(d->p, xsToArrayBuffer(xsResult), d->p->tot_len, 0);
	ip4addr_ntoa_r(&d->from, text, sizeof(text));
	xsSet(xsResult, xsID("address"), xsString(text));
	xsSet(xsResult, xsID("port"), xsInteger(d->port));
	/* Only once JavaScript holds a copy: a throw above keeps the datagram. */
	drop_head(u);
}

/* xs_udp_write(handle, ArrayBuffer, offset, length, address, port) */
void xs_udp_write(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 1);
	xsIntegerValue size = xsGetArrayBufferLength(xsArg(1));
	xsIntegerValue offset = xsToInteger(xsArg(2));
	xsIntegerValue length = xsToInteger(xsArg(3));
	int port = xsToInteger(xsArg(5));
	ip_addr_t to;
	struct pbuf *p;
	err_t err;

	if (offset < 0 || length < 0 || offset > size || length > size - offset)
		xsRangeError("udp: write outside the buffer");
	if (length > UDP_PAYLOAD_MAX)
		xsRangeError("udp: %d bytes do not fit one datagram", (int)length);
	ip_addr_set_any(0, &to);
	address_arg(the, 4, ip_2_ip4(&to), "address");
	if (port < 1 || port > 65535)
		xsRangeError("udp: port %d out of range", port);
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)length, PBUF_RAM);
	if (!p) {
		/* Datagrams may be lost anyway; a full heap is one more way. */
		u->unsent++;
		return;
	}
	pbuf_take(p, (const uint8_t *)xsToArrayBuffer(xsArg(1)) + offset, (u16_t)length);
	err = udp_sendto(u->pcb, p, &to, (u16_t)port);
	pbuf_free(p);
	if (err == ERR_RTE)
		xsUnknownError("udp: no route to %s", ip4addr_ntoa(ip_2_ip4(&to)));
	if (err != ERR_OK)
		u->unsent++;
}

/* xs_udp_close(handle): idempotent */
void xs_udp_close(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 0);
	if (!u)
		return;
	io_notify_release(&u->notify);
	socket_close(u);
}

/* xs_udp_info(handle) -> { port, dropped, unsent } */
void xs_udp_info(xsMachine *the)
{
	struct udp_socket *u = handle_arg(the, 1);
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("port"), xsInteger(u->pcb->local_port));
	xsSet(xsResult, xsID("dropped"), xsNumber(u->dropped));
	xsSet(xsResult, xsID("unsent"), xsNumber(u->unsent));
}
