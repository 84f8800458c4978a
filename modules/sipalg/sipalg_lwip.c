/*
 * The SIP ALG on NAPT's packet path (sipalg.h). napt_lwip_input() hands
 * over each TCP and UDP packet it translated for forwarding, with the
 * endpoints it had before; this file decides whether it is SIP traffic,
 * runs the message layer over it and sends what changed size itself.
 *
 * Packets are copied into a flat buffer before they are parsed: a
 * datagram may lie in a pbuf chain, and the message layer wants bytes in
 * one piece. Only SIP-port traffic is copied, and at most
 * SIPALG_PACKET_MAX bytes of it; the copy is also what makes every field
 * access here byte-wise.
 */
#include "sipalg.h"
#include "napt.h"
#include "napt_lwip.h"
#include "sip_msg.h"

#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"

#include <stdlib.h>
#include <string.h>

#define UDP_HLEN 8u
#define TCP_MIN_HLEN 20u

static struct sipalg_config gConfig;
static int gRunning;
static void *gMemory;
/* The packet as it came (headers and all), and the one being built. */
static uint8_t *gIn, *gOut;
static struct sipalg_stats gStats;   /* the glue's own counters; the layers keep theirs */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The Internet checksum's running sum over big-endian 16-bit words (odd length padded). */
static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1u)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Finish a packet built in `ip` (total bytes): the lengths, the TTL
 * ip4_forward() would have taken off (more than 1 was checked before
 * translation), and both checksums computed afresh.
 */
static void finish_packet(uint8_t *ip, uint16_t ihl, uint16_t total)
{
	uint16_t l4_len = (uint16_t)(total - ihl);
	uint8_t *l4 = ip + ihl;
	uint8_t pseudo[4];
	uint32_t sum;
	uint16_t check;
	put16(ip + 2, total);
	ip[8]--;
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~fold(sum_bytes(0, ip, ihl)));

	pseudo[0] = 0;
	pseudo[1] = ip[9];
	put16(pseudo + 2, l4_len);
	sum = sum_bytes(sum_bytes(0, ip + 12, 8), pseudo, 4);
	if (ip[9] == NAPT_PROTO_UDP) {
		put16(l4 + 4, l4_len);
		put16(l4 + 6, 0);
		check = (uint16_t)~fold(sum_bytes(sum, l4, l4_len));
		put16(l4 + 6, check ? check : 0xffffu);   /* 0 would mean "no checksum" */
	}
	else {
		put16(l4 + 16, 0);
		put16(l4 + 16, (uint16_t)~fold(sum_bytes(sum, l4, l4_len)));
	}
}

/*
 * Send a packet built in gOut out `out`, as send_back() in napt_lwip.c
 * does: the netif's output resolves the next hop. 0 when no pbuf could be
 * had (the caller lets the original go on instead).
 */
static int send_built(struct netif *out, uint16_t total)
{
	struct pbuf *q = pbuf_alloc(PBUF_LINK, total, PBUF_RAM);
	ip4_addr_t dst;
	if (!q) {
		gStats.send_failed++;
		return 0;
	}
	memcpy(q->payload, gOut, total);   /* PBUF_RAM: one piece */
	memcpy(&dst.addr, gOut + 16, 4);
	out->output(out, q, &dst);
	pbuf_free(q);
	gStats.sent++;
	return 1;
}

/* The most a packet leaving by `out` may have: its MTU, and our buffer. */
static uint16_t packet_limit(const struct netif *out)
{
	return out->mtu && out->mtu < SIPALG_PACKET_MAX ? out->mtu : SIPALG_PACKET_MAX;
}

static void rewrite_params(struct sip_rewrite_params *params, struct sip_dialog_msg *msg, uint32_t wan)
{
	params->dir = msg->dir;
	params->inside.addr = msg->inside_addr;
	params->inside.port = msg->inside_port;
	params->outside.addr = wan;
	params->outside.port = msg->ext_port;
	/* Inbound SDP is the far end's: nothing of ours in it, no pinholes from it. */
	params->media = msg->dir == SIP_OUTBOUND ? sip_dialog_media : NULL;
	params->media_ctx = msg;
}

/*
 * One UDP datagram: one SIP message (RFC 3261 18.3: bytes after its
 * Content-Length are not part of it, and go on untouched).
 */
static int udp_packet(struct pbuf *p, struct netif *out, struct sip_dialog_msg *msg, uint32_t wan)
{
	const uint8_t *ip = p->payload;
	uint16_t ihl = (uint16_t)((ip[0] & 15u) * 4u);
	uint16_t tot = p->tot_len, udp_len, payload, tail, limit, cap, total;
	struct sip_rewrite_params params;
	struct sip_info info;
	const uint8_t *in;
	long length, n;

	if (tot < ihl + UDP_HLEN)
		return 0;
	udp_len = pbuf_get_at(p, (u16_t)(ihl + 4u)) << 8 | pbuf_get_at(p, (u16_t)(ihl + 5u));
	if (udp_len <= UDP_HLEN || udp_len > tot - ihl)
		return 0;   /* empty, or lengths that disagree: not ours to judge */
	payload = (uint16_t)(udp_len - UDP_HLEN);
	gStats.messages++;
	if (ihl + udp_len > SIPALG_PACKET_MAX) {
		gStats.too_big++;
		return 0;
	}
	pbuf_copy_partial(p, gIn, (u16_t)(ihl + udp_len), 0);
	in = gIn + ihl + UDP_HLEN;
	length = sip_message_length(in, payload, 0);
	if (length <= 0) {
		gStats.unparseable++;
		return 0;
	}
	tail = (uint16_t)(payload - length);
	limit = packet_limit(out);
	if ((uint32_t)ihl + UDP_HLEN + tail >= limit) {
		gStats.too_big++;
		return 0;
	}
	cap = (uint16_t)(limit - ihl - UDP_HLEN - tail);
	rewrite_params(&params, msg, wan);
	memset(&info, 0, sizeof(info));
	n = sip_rewrite(in, (size_t)length, gOut + ihl + UDP_HLEN, cap, &params, &info);
	if (n == SIP_TOO_BIG || n == SIP_NO_MEDIA) {
		/* It goes on as it is, and still means what it says (a BYE still ends the call). */
		if (n == SIP_TOO_BIG)
			gStats.too_big++;
		else
			gStats.no_media++;
		sip_dialog_after(msg, &info);
		return 0;
	}
	if (n < 0) {
		gStats.unparseable++;
		return 0;
	}
	if (!info.changed) {
		sip_dialog_after(msg, &info);
		return 0;
	}
	memcpy(gOut, gIn, ihl + UDP_HLEN);
	memcpy(gOut + ihl + UDP_HLEN + n, in + length, tail);
	total = (uint16_t)(ihl + UDP_HLEN + (uint16_t)n + tail);
	finish_packet(gOut, ihl, total);
	sip_dialog_after(msg, &info);
	if (!send_built(out, total))
		return 0;
	gStats.rewritten++;
	pbuf_free(p);
	return 1;
}

/*
 * One TCP segment of a SIP-port connection. Every segment (pure ACKs too)
 * has its sequence and acknowledgement moved through the edits made so
 * far; one that starts at a message boundary has its whole messages
 * rewritten, and what follows the last whole one goes on unchanged.
 */
static int tcp_packet(struct pbuf *p, struct netif *out, struct sip_dialog_msg *msg, uint32_t wan)
{
	const uint8_t *ip = p->payload;
	uint16_t ihl = (uint16_t)((ip[0] & 15u) * 4u);
	uint16_t tot = p->tot_len, thl, payload, limit, room, off = 0, out_len = 0, total;
	struct sip_tcp_key key;
	struct sip_tcp_conn *c;
	struct sip_rewrite_params params;
	enum sip_dir dir = msg->dir;
	unsigned rewritten = 0;
	int whole = 1, fits = 1;
	uint32_t seq;
	uint8_t *in, *o;

	if (tot < ihl + TCP_MIN_HLEN)
		return 0;
	thl = (uint16_t)((pbuf_get_at(p, (u16_t)(ihl + 12u)) >> 4) * 4u);
	if (thl < TCP_MIN_HLEN || ihl + thl > tot)
		return 0;
	/* The headers, into the buffer: seq/ack moves are made there and copied back. */
	pbuf_copy_partial(p, gIn, (u16_t)(ihl + thl), 0);
	key.inside_addr = msg->inside_addr;
	key.inside_port = msg->inside_port;
	key.remote_addr = msg->remote_addr;
	key.remote_port = msg->remote_port;
	c = sip_tcp_lookup(&key, gIn + ihl, msg->now);
	if (!c)
		return 0;   /* began before the ALG, or no room: passes as it is */
	seq = sip_tcp_adjust(c, dir, gIn + ihl, thl, msg->now);
	payload = (uint16_t)(tot - ihl - thl);
	if (!payload)
		goto as_is;
	if (tot > SIPALG_PACKET_MAX) {
		gStats.too_big++;
		sip_tcp_edited(c, dir, seq, payload, payload, 0);
		goto as_is;
	}
	pbuf_copy_partial(p, gIn + ihl + thl, payload, (u16_t)(ihl + thl));
	in = gIn + ihl + thl;
	if (!sip_tcp_boundary(c, dir, seq) && !sip_tcp_resync(c, dir, seq, in, payload)) {
		/* In the middle of a message, or after one it lost track of: as it is (sip_tcp counts it). */
		sip_tcp_edited(c, dir, seq, payload, payload, 0);
		goto as_is;
	}
	o = gOut + ihl + thl;
	limit = packet_limit(out);
	room = limit > ihl + thl ? (uint16_t)(limit - ihl - thl) : 0;
	rewrite_params(&params, msg, wan);
	while (off < payload) {
		struct sip_info info;
		long length = sip_message_length(in + off, payload - off, 1), n;
		if (length == SIP_INCOMPLETE) {
			/* Its end is in a later segment: the rest of this one goes as it is. */
			gStats.tcp_split++;
			whole = 0;
			break;
		}
		gStats.messages++;
		if (length <= 0) {
			gStats.unparseable++;
			whole = 0;
			break;
		}
		memset(&info, 0, sizeof(info));
		n = fits ? sip_rewrite(in + off, (size_t)length, o + out_len, room - out_len, &params, &info) : SIP_TOO_BIG;
		if (n >= 0) {
			sip_dialog_after(msg, &info);
			rewritten += info.changed;
			out_len = (uint16_t)(out_len + n);
		}
		else {
			if (n == SIP_TOO_BIG || n == SIP_NO_MEDIA) {
				if (n == SIP_TOO_BIG)
					gStats.too_big++;
				else
					gStats.no_media++;
				sip_dialog_after(msg, &info);
			}
			else
				gStats.unparseable++;
			/* This one goes unchanged; the messages after it may still be rewritten. */
			if (out_len + length > room)
				fits = 0;
			else {
				memcpy(o + out_len, in + off, (size_t)length);
				out_len = (uint16_t)(out_len + length);
			}
		}
		off = (uint16_t)(off + length);
	}
	if (fits && out_len + (payload - off) > room) {
		gStats.too_big++;
		fits = 0;
	}
	if (!rewritten || !fits) {
		/* Unchanged, or too big rewritten: the original bytes, at the moved sequence number. */
		sip_tcp_edited(c, dir, seq, payload, payload, whole);
		goto as_is;
	}
	memcpy(o + out_len, in + off, (size_t)(payload - off));
	out_len = (uint16_t)(out_len + (payload - off));
	memcpy(gOut, gIn, ihl + thl);
	total = (uint16_t)(ihl + thl + out_len);
	finish_packet(gOut, ihl, total);
	if (!send_built(out, total)) {
		sip_tcp_edited(c, dir, seq, payload, payload, whole);
		goto as_is;
	}
	sip_tcp_edited(c, dir, seq, payload, out_len, whole);
	gStats.rewritten += rewritten;
	pbuf_free(p);
	return 1;

as_is:
	/* The moved seq/ack, the options and the checksum go back into the packet lwIP forwards. */
	pbuf_take_at(p, gIn + ihl, thl, ihl);
	return 0;
}

static int listed(uint16_t port)
{
	for (unsigned i = 0; i < gConfig.port_count; i++)
		if (gConfig.ports[i] == port)
			return 1;
	return 0;
}

static int alg_forward(struct pbuf *p, struct netif *out, const struct napt_alg_packet *pkt)
{
	const uint8_t *ip = p->payload;
	uint16_t ihl = (uint16_t)((ip[0] & 15u) * 4u);
	/* Coming in, the inside port is known only now: the destination after translation. */
	uint16_t translated = get16(ip + ihl + (pkt->dir == NAPT_OUTBOUND ? 0u : 2u));
	struct sip_dialog_msg msg;
	uint32_t wan;

	/* Every forwarded TCP and UDP packet comes here (RTP too): out as soon as it is not SIP's. */
	if (!gConfig.enabled || (!listed(pkt->sport) && !listed(pkt->dport) && !listed(translated)))
		return 0;
	if (!netif_is_up(out))
		return 0;   /* ip4_forward() deals with it */
	memset(&msg, 0, sizeof(msg));
	msg.proto = pkt->proto;
	msg.now = napt_lwip_now();
	/* The inside end is the source going out, the destination coming in; the other, the remote. */
	if (pkt->dir == NAPT_OUTBOUND) {
		msg.dir = SIP_OUTBOUND;
		msg.inside_addr = pkt->src;
		msg.inside_port = pkt->sport;
		msg.remote_addr = pkt->dst;
		msg.remote_port = pkt->dport;
		msg.ext_port = translated;
		memcpy(&wan, ip + 12, 4);
	}
	else {
		msg.dir = SIP_INBOUND;
		msg.remote_addr = pkt->src;
		msg.remote_port = pkt->sport;
		msg.ext_port = pkt->dport;
		wan = pkt->dst;
		memcpy(&msg.inside_addr, ip + 16, 4);
		msg.inside_port = translated;
	}
	if (pkt->proto == NAPT_PROTO_UDP)
		return udp_packet(p, out, &msg, wan);
	return tcp_packet(p, out, &msg, wan);
}

static void alg_tick(uint32_t now)
{
	sip_dialog_tick(now);
	sip_tcp_tick(now);
}

/* Pinholes and TCP offsets named the old address; the calls cannot survive it anyway. */
static void alg_flush(void)
{
	sip_dialog_flush();
	sip_tcp_flush();
}

static const struct napt_alg gAlg = {
	.forward = alg_forward,
	.tick = alg_tick,
	.wan_changed = alg_flush,
};

void sipalg_default_config(struct sipalg_config *config)
{
	memset(config, 0, sizeof(*config));
	config->enabled = 1;
	config->port_count = 1;
	config->ports[0] = SIPALG_DEFAULT_PORT;
	sip_dialog_default_config(&config->dialog);
	sip_tcp_default_config(&config->tcp);
	config->dialog.max_pinholes = (uint16_t)(2u * config->dialog.max_dialogs);
}

uint32_t sipalg_forward_room(const struct sipalg_config *config)
{
	return (uint32_t)config->dialog.max_pinholes + config->dialog.max_registrations;
}

static int ports_ok(const uint16_t *ports, unsigned count)
{
	if (count < 1 || count > SIPALG_PORTS_MAX)
		return 0;
	for (unsigned i = 0; i < count; i++)
		if (!ports[i])
			return 0;
	return 1;
}

/* Rounded so that each part of the one block stays aligned for uint64_t. */
static size_t round8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

int sipalg_lwip_start(const struct sipalg_config *config)
{
	size_t dialogs, conns;
	uint8_t *block;
	if (gRunning || !napt_lwip_running() || !ports_ok(config->ports, config->port_count) || !config->dialog.max_pinholes)
		return -1;
	dialogs = round8(sip_dialog_memory_size(&config->dialog));
	conns = round8(sip_tcp_memory_size(&config->tcp));
	if (!dialogs || !conns)
		return -1;
	block = malloc(dialogs + conns + 2u * SIPALG_PACKET_MAX);
	if (!block)
		return -1;
	if (sip_dialog_init(&config->dialog, block) || sip_tcp_init(&config->tcp, block + dialogs)) {
		free(block);
		return -1;
	}
	gMemory = block;
	gIn = block + dialogs + conns;
	gOut = gIn + SIPALG_PACKET_MAX;
	gConfig = *config;
	memset(&gStats, 0, sizeof(gStats));
	napt_lwip_set_alg(&gAlg);
	gRunning = 1;
	return 0;
}

int sipalg_lwip_running(void)
{
	return gRunning;
}

void sipalg_set_enabled(int enabled)
{
	if (gRunning && !enabled && gConfig.enabled)
		alg_flush();
	gConfig.enabled = enabled ? 1 : 0;
}

int sipalg_enabled(void)
{
	return gConfig.enabled;
}

int sipalg_set_ports(const uint16_t *ports, unsigned count)
{
	if (!ports_ok(ports, count))
		return -1;
	memset(gConfig.ports, 0, sizeof(gConfig.ports));
	memcpy(gConfig.ports, ports, count * sizeof(ports[0]));
	gConfig.port_count = (uint8_t)count;
	return 0;
}

unsigned sipalg_ports(uint16_t *ports)
{
	memcpy(ports, gConfig.ports, gConfig.port_count * sizeof(ports[0]));
	return gConfig.port_count;
}

uint32_t sipalg_max_pinholes(void)
{
	return gConfig.dialog.max_pinholes;
}

void sipalg_get_stats(struct sipalg_stats *stats)
{
	*stats = gStats;
	if (gRunning) {
		sip_dialog_get_stats(&stats->dialog);
		sip_tcp_get_stats(&stats->tcp);
	}
	else {
		memset(&stats->dialog, 0, sizeof(stats->dialog));
		memset(&stats->tcp, 0, sizeof(stats->tcp));
	}
}
