/*
 * embedded:io/socket/tcp for the simulator and the ESP32, over lwIP's raw
 * TCP API.
 *
 * Receive: segments stay in the pbufs lwIP handed us and are acknowledged
 * (tcp_recved) only as JavaScript reads them, so a slow reader holds the
 * peer to the receive window instead of filling the heap.
 * Send: write() takes at most what onWritable offered, which is what fits
 * lwIP's send buffer and segment queue. lwIP can still refuse it when the
 * pools it shares with every other connection are empty; then the bytes
 * wait here (at most one send buffer's worth) and go out later.
 * Events: lwIP callbacks only record what happened and post a message;
 * JavaScript hears about it from the loop, never from inside lwIP, and work
 * that may free a pcb (finishing a close) is done there too.
 *
 * A socket struct lives while anything still refers to it: the JavaScript
 * handle, a queued message, or a pcb that is still sending what JavaScript
 * wrote before close(). The last one to let go frees it.
 *
 * Threads: the on_* callbacks run wherever lwIP does (ESP-IDF's tcpip
 * thread, holding the core lock); everything else runs in the XS task and
 * takes ROUTER_LWIP_LOCK() around lwIP calls and the struct's shared fields,
 * never across a call into XS (see io_notify.h). The struct, gBlocked and
 * the pbufs are the state both sides see; gStats and `closed` change in the
 * XS task alone.
 *
 * Memory: the struct when a socket is made (connect, or accept, in lwIP's
 * thread), and a pending buffer on the rare write lwIP refused for want of
 * memory. Received data stays in lwIP's pbufs; sending copies into lwIP's
 * own segments (TCP_WRITE_FLAG_COPY), as every sender on lwIP does.
 */
#include "io_notify.h"
#include "router_host.h"
#include "socket_address.h"
#include "tcp_socket.h"

#include "lwip/ip4_addr.h"
#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h"   /* tcp_process_refused_data */

#include <stdlib.h>
#include <string.h>

_Static_assert(TCP_WND <= 0xFFFF, "the receive chain's tot_len is 16 bits: keep TCP_WND within it");

enum {
	EV_READABLE = 1,
	EV_WRITABLE = 2,
	EV_ERROR = 4,
	EV_FLUSH = 8, /* internal: try the bytes lwIP refused again */
};

/* Why onError fired; tcp.ts names them. */
enum { WHY_REFUSED = 1, WHY_RESET, WHY_TIMEOUT, WHY_ABORTED, WHY_PEER_CLOSED };

/*
 * Receive buffers one connection may hold unread. The window bounds bytes,
 * not buffers: a peer sending a byte per segment would hold a frame buffer
 * (PBUF_POOL, which every port receives into; heap on the ESP32) per byte,
 * and a few such connections would stop all forwarding. So at TCP_RX_BUFFERS
 * what is held is copied into one exact-size buffer (lwIP's heap) while it is
 * small (TCP_RX_SMALL bytes), else the segment is refused: lwIP keeps that
 * one, drops what follows unacknowledged (the peer sends it again) and offers
 * it again every 250 ms. A socket no JavaScript has taken yet (waiting in a
 * listener's queue) holds at most TCP_RX_SMALL bytes, in one heap buffer, and
 * refuses beyond: lwIP holds that segment, and offers it the moment the
 * socket is taken (tcp_socket_wrap).
 */
#define TCP_RX_BUFFERS 4
#define TCP_RX_SMALL 1024

/* Deliveries per message: bounds the loop if callbacks keep raising events. */
#define TCP_EVENTS_PER_MESSAGE 8
/* lwIP polls each connection every POLL_INTERVAL * 500 ms. */
#define TCP_POLL_INTERVAL 2

struct tcp_socket {
	struct io_notify notify;  /* notify(kind, value) */
	struct tcp_pcb *pcb;      /* NULL once closed or once lwIP freed it (err callback) */
	struct pbuf *rx;          /* received, not yet read, not yet acknowledged */
	uint8_t *pending;         /* written by JavaScript, refused by lwIP for want of memory */
	uint16_t pending_len;
	uint16_t remote_port;
	ip4_addr_t remote;
	struct tcp_socket *blocked_next; /* on gBlocked while pending != NULL */
	uint8_t events;
	uint8_t why;
	uint8_t lingering;        /* closed by JavaScript, pending bytes still to hand to lwIP */
	uint8_t connected;
	uint8_t eof;              /* the peer sent FIN */
	uint8_t eof_reported;
	uint8_t closed;           /* by JavaScript, or by its handle's destructor */
};

/* Sockets whose pending bytes wait for lwIP memory: any ACK may free some. Under the lock. */
static struct tcp_socket *gBlocked;

/* How often the rare paths ran: writes lwIP refused for memory, closes that waited on them. */
static struct {
	uint32_t deferred;
	uint32_t lingered;
} gStats;

static void tcp_socket_destructor(void *data);
static void deliver(void *owner);

/* From here to the host functions: lock held, in either thread. */

static int unreferenced(const struct tcp_socket *s)
{
	return io_notify_unreferenced(&s->notify) && !s->lingering;
}

static void maybe_free(struct tcp_socket *s)
{
	if (unreferenced(s))
		free(s);
}

static uint16_t rx_length(const struct tcp_socket *s)
{
	return s->rx ? s->rx->tot_len : 0;
}

/*
 * Bytes write() accepts now: what lwIP's send buffer has room for, and what
 * its segment queue can hold (one pbuf per segment of at most the MSS
 * tcp_write uses, plus one for topping up the last unsent segment).
 */
static uint16_t write_room(const struct tcp_socket *s)
{
	struct tcp_pcb *pcb = s->pcb;
	uint32_t mss, segments, room;
	if (!pcb || s->closed || !s->connected || s->pending)
		return 0;
	if (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT)
		return 0;
	mss = LWIP_MIN((uint32_t)pcb->mss, (uint32_t)(pcb->snd_wnd_max / 2));
	if (!mss)
		mss = pcb->mss;
	if (tcp_sndqueuelen(pcb) + 2 > TCP_SND_QUEUELEN)
		return 0;
	segments = (uint32_t)(TCP_SND_QUEUELEN - tcp_sndqueuelen(pcb) - 1);
	room = LWIP_MIN((uint32_t)tcp_sndbuf(pcb), segments * mss);
	return (uint16_t)LWIP_MIN(room, 0xFFFFu);
}

static void schedule(struct tcp_socket *s)
{
	/* A full queue leaves the events set; the next lwIP poll posts again. */
	if (s->events & (s->notify.set ? 0xFF : EV_FLUSH))
		io_notify_post(&s->notify);
}

static void unblock(struct tcp_socket *s)
{
	for (struct tcp_socket **p = &gBlocked; *p; p = &(*p)->blocked_next) {
		if (*p == s) {
			*p = s->blocked_next;
			break;
		}
	}
	s->blocked_next = NULL;
}

static void drop_pending(struct tcp_socket *s)
{
	if (!s->pending)
		return;
	unblock(s);
	free(s->pending);
	s->pending = NULL;
	s->pending_len = 0;
}

static void drop_rx(struct tcp_socket *s)
{
	if (s->rx)
		pbuf_free(s->rx);
	s->rx = NULL;
}

/*
 * Let go of the pcb. Graceful is a FIN after what is queued; lwIP itself
 * turns that into a reset when received data was never read, as a socket
 * closed with unread data should. Never call this inside an lwIP callback:
 * tcp_close may free the pcb lwIP is still using.
 */
static void detach_pcb(struct tcp_socket *s, int graceful)
{
	struct tcp_pcb *pcb = s->pcb;
	if (!pcb)
		return;
	s->pcb = NULL;
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_poll(pcb, NULL, 0);
	if (!graceful || tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

static void report_eof(struct tcp_socket *s)
{
	if (s->eof_reported)
		return;
	s->eof_reported = 1;
	s->why = WHY_PEER_CLOSED;
	s->events |= EV_ERROR;
	schedule(s);
}

/*
 * close() and the destructor, each having let go of the callback first: no
 * more events; the pcb goes when it is done.
 */
static void socket_close(struct tcp_socket *s)
{
	int unread = s->rx != NULL;
	if (s->closed)
		return;
	s->closed = 1;
	drop_rx(s);
	s->events &= EV_FLUSH;
	if (s->pcb && s->pending && !unread) {
		/* Written before close(): deliver it, then FIN (flush_pending). */
		s->lingering = 1;
		gStats.lingered++;
		return;
	}
	drop_pending(s);
	detach_pcb(s, 1);
}

/* XS task only (see detach_pcb). */
static void flush_pending(struct tcp_socket *s)
{
	err_t err = ERR_CLSD;
	if (!s->pending)
		return;
	if (s->pcb) {
		err = tcp_write(s->pcb, s->pending, s->pending_len, TCP_WRITE_FLAG_COPY);
		if (err == ERR_MEM)
			return; /* still short; the next ACK or poll tries again */
	}
	drop_pending(s);
	if (err == ERR_OK)
		tcp_output(s->pcb);
	if (s->lingering) {
		s->lingering = 0;
		detach_pcb(s, err == ERR_OK);
	}
	else if (err == ERR_OK) {
		s->events |= EV_WRITABLE;
	}
}

/* Without the lock: from the machine's loop. */
static void deliver(void *owner)
{
	struct tcp_socket *s = owner;
	int free_it;
	/* posted stays set while JavaScript runs: a close() and a collection in
	   a callback must not free s under us. */
	ROUTER_LWIP_LOCK();
	if (s->events & EV_FLUSH) {
		s->events &= (uint8_t)~EV_FLUSH;
		flush_pending(s);
	}
	for (int i = 0; i < TCP_EVENTS_PER_MESSAGE && s->notify.set && !s->closed && s->events; i++) {
		int kind = 0, value = 0, release = 0;
		if (s->events & EV_READABLE) {
			s->events &= (uint8_t)~EV_READABLE;
			if ((value = rx_length(s)))
				kind = EV_READABLE;
		}
		else if (s->events & EV_WRITABLE) {
			s->events &= (uint8_t)~EV_WRITABLE;
			if ((value = write_room(s)))
				kind = EV_WRITABLE;
		}
		else if (s->events & EV_ERROR) {
			s->events &= (uint8_t)~EV_ERROR;
			kind = EV_ERROR;
			value = s->why;
		}
		else
			break;
		if (!kind)
			continue;
		ROUTER_LWIP_UNLOCK();
		io_notify_call2(&s->notify, kind, value);
		if (kind == EV_ERROR) {
			/* Without a pcb nothing more can happen: let the object go. */
			ROUTER_LWIP_LOCK();
			release = !s->pcb && !s->closed;
			ROUTER_LWIP_UNLOCK();
			if (release)
				io_notify_release(&s->notify);
		}
		ROUTER_LWIP_LOCK();
	}
	s->notify.posted = 0;
	if (s->closed)
		s->events &= EV_FLUSH;
	schedule(s);
	free_it = unreferenced(s);
	ROUTER_LWIP_UNLOCK();
	if (free_it)
		free(s);
}

/* lwIP callbacks, in lwIP's thread: record, post, return. */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct tcp_socket *s = arg;
	(void)err;
	if (!p) {
		if (s) {
			s->eof = 1;
			if (!s->rx && !s->closed)
				report_eof(s);
		}
		return ERR_OK;
	}
	if (!s || s->closed) {
		/* Lingering after close(): nobody will read this. */
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	if (!s->notify.wrapped) {
		/*
		 * Waiting in a listener's queue: what arrives is held, while small,
		 * in one exact-size buffer (lwIP's heap; the frame buffer goes back
		 * at once). Refusing it would make lwIP drop every later segment
		 * unacknowledged until the socket is taken (a request's head and
		 * body come in two), for the peer's retransmission timer (200 ms,
		 * doubling) to send again: latency that grew with every connection
		 * waiting behind it.
		 */
		uint16_t held = rx_length(s);
		struct pbuf *one = held + p->tot_len <= TCP_RX_SMALL ? pbuf_alloc(PBUF_RAW, (u16_t)(held + p->tot_len), PBUF_RAM) : NULL;
		if (!one)
			return ERR_MEM;
		if (held)
			pbuf_copy_partial(s->rx, one->payload, held, 0);
		pbuf_copy_partial(p, (uint8_t *)one->payload + held, p->tot_len, 0);
		drop_rx(s);
		pbuf_free(p);
		s->rx = one;
		s->events |= EV_READABLE;
		return ERR_OK;
	}
	if (s->rx) {
		if (pbuf_clen(s->rx) + pbuf_clen(p) > TCP_RX_BUFFERS) {
			uint16_t held = s->rx->tot_len;
			struct pbuf *one = held + p->tot_len <= TCP_RX_SMALL ? pbuf_alloc(PBUF_RAW, (u16_t)(held + p->tot_len), PBUF_RAM) : NULL;
			if (!one)
				return ERR_MEM;
			pbuf_copy_partial(s->rx, one->payload, held, 0);
			pbuf_copy_partial(p, (uint8_t *)one->payload + held, p->tot_len, 0);
			pbuf_free(s->rx);
			pbuf_free(p);
			s->rx = one;
		}
		else
			pbuf_cat(s->rx, p);
	}
	else
		s->rx = p;
	s->events |= EV_READABLE;
	schedule(s);
	return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct tcp_socket *s = arg;
	(void)pcb;
	(void)len;
	/* Acknowledged segments went back to the pools every socket shares. */
	for (struct tcp_socket *b = gBlocked; b; b = b->blocked_next) {
		b->events |= EV_FLUSH;
		schedule(b);
	}
	if (s && !s->closed && write_room(s)) {
		s->events |= EV_WRITABLE;
		schedule(s);
	}
	return ERR_OK;
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
	struct tcp_socket *s = arg;
	(void)pcb;
	if (s) {
		if (s->pending)
			s->events |= EV_FLUSH;
		schedule(s);
	}
	return ERR_OK;
}

/* lwIP has already freed the pcb. */
static void on_err(void *arg, err_t err)
{
	struct tcp_socket *s = arg;
	if (!s)
		return;
	s->pcb = NULL;
	drop_pending(s);
	if (s->lingering) {
		s->lingering = 0;
		maybe_free(s);
		return;
	}
	if (err == ERR_RST)
		s->why = s->connected ? WHY_RESET : WHY_REFUSED;
	else if (err == ERR_ABRT)
		s->why = s->connected ? WHY_ABORTED : WHY_TIMEOUT;
	else
		s->why = WHY_ABORTED;
	s->connected = 0;
	s->events |= EV_ERROR;
	schedule(s);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct tcp_socket *s = arg;
	(void)err;
	if (!s)
		return ERR_OK;
	s->connected = 1;
	ip4_addr_copy(s->remote, *ip_2_ip4(&pcb->remote_ip));
	s->remote_port = pcb->remote_port;
	s->events |= EV_WRITABLE;
	schedule(s);
	return ERR_OK;
}

static void attach_pcb(struct tcp_socket *s, struct tcp_pcb *pcb)
{
	s->pcb = pcb;
	tcp_arg(pcb, s);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	tcp_poll(pcb, on_poll, TCP_POLL_INTERVAL);
}

/* From listener.c's on_accept: lwIP's thread. */
struct tcp_socket *tcp_socket_accepted(xsMachine *the, struct tcp_pcb *pcb)
{
	struct tcp_socket *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	io_notify_init(&s->notify, the, deliver, s);
	s->connected = 1;
	ip4_addr_copy(s->remote, *ip_2_ip4(&pcb->remote_ip));
	s->remote_port = pcb->remote_port;
	attach_pcb(s, pcb);
	return s;
}

uint32_t tcp_socket_peer(const struct tcp_socket *s)
{
	return s->pcb ? ip4_addr_get_u32(&s->remote) : 0;
}

void tcp_socket_discard(struct tcp_socket *s)
{
	drop_rx(s);
	drop_pending(s);
	detach_pcb(s, 0);
	free(s);
}

/* Host functions and the rest: XS task, without the lock; they take it only between XS calls. */

void tcp_socket_wrap(xsMachine *the, struct tcp_socket *s)
{
	xsResult = xsNewHostObject(tcp_socket_destructor);
	xsSetHostData(xsResult, s);
	ROUTER_LWIP_LOCK();
	s->notify.wrapped = 1;
	s->notify.the = the;
#if TCP_LISTEN_BACKLOG
	/* Out of the listener's backlog (see listener.c); lwIP does it if the pcb went first. */
	if (s->pcb)
		tcp_backlog_accepted(s->pcb);
#endif
	/* what arrived while it waited, at once rather than at lwIP's next 250 ms tick */
	if (s->pcb && s->pcb->refused_data)
		tcp_process_refused_data(s->pcb);
	ROUTER_LWIP_UNLOCK();
}

/* From the collector, which XS may not be called in. */
static void tcp_socket_destructor(void *data)
{
	struct tcp_socket *s = data;
	int free_it;
	if (!s)
		return;
	ROUTER_LWIP_LOCK();
	io_notify_collected(&s->notify);
	socket_close(s);
	free_it = unreferenced(s);
	ROUTER_LWIP_UNLOCK();
	if (free_it)
		free(s);
}

/* s->closed changes only in the XS task: no lock to look at it here. */
static struct tcp_socket *handle_arg(xsMachine *the, int open)
{
	struct tcp_socket *s = xsGetHostDataValidate(xsArg(0), (void *)tcp_socket_destructor);
	if (open && (!s || s->closed))
		xsUnknownError("tcp: socket is closed");
	return s;
}

/* xs_router_tcp_connect(notify, address, port, nodelay) -> handle */
void xs_router_tcp_connect(xsMachine *the)
{
	char text[IP4ADDR_STRLEN_MAX];
	ip_addr_t address;
	int port = xsToInteger(xsArg(2));
	int nodelay = xsToBoolean(xsArg(3));
	struct tcp_socket *s;
	struct tcp_pcb *pcb;
	err_t err = ERR_OK;

	xsToStringBuffer(xsArg(1), text, sizeof(text));
	if (!socket_parse_ipv4(text, ip_2_ip4(&address)))
		xsRangeError("tcp: address is not an IPv4 address: %s", text);
	IP_SET_TYPE_VAL(address, IPADDR_TYPE_V4);
	if (port < 1 || port > 65535)
		xsRangeError("tcp: port %d out of range", port);

	/* The handle first: if XS is out of memory nothing else exists yet. */
	xsResult = xsNewHostObject(tcp_socket_destructor);
	s = calloc(1, sizeof(*s));
	if (!s)
		xsUnknownError("tcp: no memory");
	xsSetHostData(xsResult, s);
	io_notify_init(&s->notify, the, deliver, s);
	s->notify.wrapped = 1;
	s->closed = 1; /* until connected below, so a throw leaves only the handle to collect */
	ip4_addr_copy(s->remote, *ip_2_ip4(&address));
	s->remote_port = (uint16_t)port;

	ROUTER_LWIP_LOCK();
	pcb = tcp_new();
	if (pcb) {
		attach_pcb(s, pcb);
		if (nodelay)
			tcp_nagle_disable(pcb);
		err = tcp_connect(pcb, &address, (u16_t)port, on_connected);
		if (err != ERR_OK)
			detach_pcb(s, 0);
		else
			s->closed = 0;
	}
	ROUTER_LWIP_UNLOCK();
	if (!pcb)
		xsUnknownError("tcp: no free connection (lwIP TCP_PCB pool)");
	if (err != ERR_OK)
		xsUnknownError("tcp: cannot connect to %s:%d: %s", text, port,
			err == ERR_RTE ? "no route" : err == ERR_MEM ? "no memory" : "lwIP refused");
	io_notify_set(&s->notify, the, xsArg(0));
	/* What lwIP reported before there was anyone to tell (a fast SYN-ACK, a reset). */
	ROUTER_LWIP_LOCK();
	schedule(s);
	ROUTER_LWIP_UNLOCK();
}

/*
 * xs_router_tcp_adopt(handle, notify, nodelay): a new owner (`from`) for a socket.
 * It hears at once about what happened before it took over.
 */
void xs_router_tcp_adopt(xsMachine *the)
{
	struct tcp_socket *volatile found = NULL;
	volatile int valid = 0;
	struct tcp_socket *s;
	int nodelay;
	/* A `from` that is not ours: a TypeError that says so, not XS's "C: xsGetHostData". */
	xsTry {
		found = xsGetHostDataValidate(xsArg(0), (void *)tcp_socket_destructor);
		valid = 1;
	}
	xsCatch {
	}
	if (!valid)
		xsTypeError("tcp: from must be a TCP socket");
	s = found;
	if (!s || s->closed)
		xsUnknownError("tcp: socket is closed");
	nodelay = xsToBoolean(xsArg(2));
	io_notify_set(&s->notify, the, xsArg(1));
	ROUTER_LWIP_LOCK();
	if (s->pcb && nodelay)
		tcp_nagle_disable(s->pcb);
	if (s->rx)
		s->events |= EV_READABLE;
	if (write_room(s))
		s->events |= EV_WRITABLE;
	if (!s->pcb || (s->eof && !s->rx)) {
		if (!s->why)
			s->why = WHY_PEER_CLOSED;
		s->events |= EV_ERROR;
	}
	schedule(s);
	ROUTER_LWIP_UNLOCK();
}

/* xs_router_tcp_read(handle, count) -> ArrayBuffer of at most count bytes, or undefined */
void xs_router_tcp_read(xsMachine *the)
{
	struct tcp_socket *s = handle_arg(the, 1);
	xsIntegerValue want = -1;
	uint16_t n;
	void *bytes;
	if (xsTypeOf(xsArg(1)) != xsUndefinedType) {
		want = xsToInteger(xsArg(1));
		if (want < 0)
			xsRangeError("tcp: read count %d", (int)want);
	}
	/* A valueOf above may have closed it. */
	if (s->closed)
		xsUnknownError("tcp: socket is closed");
	/* Only this task takes bytes off rx (lwIP only appends): n stay readable while the buffer is made. */
	ROUTER_LWIP_LOCK();
	n = rx_length(s);
	ROUTER_LWIP_UNLOCK();
	if (want >= 0 && want < n)
		n = (uint16_t)want;
	if (!n)
		return;
	xsResult = xsArrayBuffer(NULL, n);
	/* No XS call from here to the copy: a collection could move the buffer. */
	bytes = xsToArrayBuffer(xsResult);
	ROUTER_LWIP_LOCK();
	pbuf_copy_partial(s->rx, bytes, n, 0);
	s->rx = pbuf_free_header(s->rx, n);
	/* Only now does the peer get the window back. */
	if (s->pcb)
		tcp_recved(s->pcb, n);
	if (!s->rx && s->eof)
		report_eof(s);
	ROUTER_LWIP_UNLOCK();
}

/* xs_router_tcp_write(handle, ArrayBuffer, offset, length) */
void xs_router_tcp_write(xsMachine *the)
{
	struct tcp_socket *s = handle_arg(the, 1);
	xsIntegerValue size = xsGetArrayBufferLength(xsArg(1));
	xsIntegerValue offset = xsToInteger(xsArg(2));
	xsIntegerValue length = xsToInteger(xsArg(3));
	enum { WRITTEN, CLOSED, GONE, NOT_CONNECTED, TOO_LONG, NO_MEMORY, REFUSED } failed = WRITTEN;
	uint16_t room = 0;
	const uint8_t *data;
	err_t err = ERR_OK;

	if (offset < 0 || length < 0 || offset > size || length > size - offset)
		xsRangeError("tcp: write outside the buffer");
	/* Last: no XS call may come between this and the copy below. */
	data = (const uint8_t *)xsToArrayBuffer(xsArg(1)) + offset;

	ROUTER_LWIP_LOCK();
	if (s->closed)
		failed = CLOSED;  /* by a valueOf above */
	else if (!s->pcb)
		failed = GONE;
	else if (!s->connected)
		failed = NOT_CONNECTED;
	else if (length && length > (room = write_room(s)))
		failed = TOO_LONG;
	else if (length) {
		err = tcp_write(s->pcb, data, (u16_t)length, TCP_WRITE_FLAG_COPY);
		if (err == ERR_MEM) {
			/* Promised room, but lwIP's shared pools are empty: hold the bytes. */
			s->pending = malloc((size_t)length);
			if (!s->pending)
				failed = NO_MEMORY;
			else {
				memcpy(s->pending, data, (size_t)length);
				s->pending_len = (uint16_t)length;
				s->blocked_next = gBlocked;
				gBlocked = s;
				gStats.deferred++;
			}
		}
		else if (err != ERR_OK)
			failed = REFUSED;
		else
			tcp_output(s->pcb);
	}
	ROUTER_LWIP_UNLOCK();
	if (failed == CLOSED)
		xsUnknownError("tcp: socket is closed");
	if (failed == GONE)
		xsUnknownError("tcp: connection is gone");
	if (failed == NOT_CONNECTED)
		xsUnknownError("tcp: not connected yet (wait for onWritable)");
	if (failed == TOO_LONG)
		xsRangeError("tcp: write of %d bytes, only %d writable", (int)length, (int)room);
	if (failed == NO_MEMORY)
		xsUnknownError("tcp: no memory");
	if (failed == REFUSED)
		xsUnknownError("tcp: write failed (lwIP error %d)", (int)err);
}

/* xs_router_tcp_close(handle): idempotent */
void xs_router_tcp_close(xsMachine *the)
{
	struct tcp_socket *s = handle_arg(the, 0);
	if (!s)
		return;
	io_notify_release(&s->notify);
	ROUTER_LWIP_LOCK();
	socket_close(s);
	ROUTER_LWIP_UNLOCK();
}

/* xs_router_tcp_remote(handle) -> [address, port] */
void xs_router_tcp_remote(xsMachine *the)
{
	struct tcp_socket *s = handle_arg(the, 0);
	char text[IP4ADDR_STRLEN_MAX];
	ip4_addr_t remote;
	uint16_t port;
	if (!s)
		return;
	ROUTER_LWIP_LOCK();
	remote = s->remote;
	port = s->remote_port;
	ROUTER_LWIP_UNLOCK();
	if (!port)
		return;
	ip4addr_ntoa_r(&remote, text, sizeof(text));
	xsResult = xsNewArray(2);
	xsSetIndex(xsResult, 0, xsString(text));
	xsSetIndex(xsResult, 1, xsInteger(port));
}

/* xs_router_tcp_stats() -> { deferred, lingered }: for diagnostics, not ECMA-419 */
void xs_router_tcp_stats(xsMachine *the)
{
	/* Both counted in this task alone. */
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("deferred"), xsNumber(gStats.deferred));
	xsSet(xsResult, xsID("lingered"), xsNumber(gStats.lingered));
}
