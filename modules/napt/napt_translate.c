/*
 * The per-packet path: check the IPv4 header, find or make the flow, and
 * rewrite addresses, ports and ICMP query ids in place with incremental
 * checksum updates (RFC 1624). ICMP errors are translated with the header
 * they quote (RFC 5508). Fields are read and written byte by byte or with
 * memcpy: nothing assumes alignment.
 *
 * The IP header checksum is checked wherever a packet could make state (a
 * new flow, ICMP, hairpinning). A packet that matches a flow is rewritten
 * without it: lwIP checks the header right after the input hook, and the
 * incremental update keeps a wrong checksum wrong, so such a packet is
 * still dropped, having done no more than a forged valid one could.
 */
#include "napt_table.h"

#include <string.h>

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_ACK 0x10u

#define ICMP_ECHO_REPLY   0
#define ICMP_UNREACHABLE  3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_ECHO         8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETER    12

/* One parsed packet. The addresses and ports follow the rewrites. */
struct pkt {
	uint8_t *ip;
	uint8_t *l4;
	uint16_t len;       /* bytes at ip that may be read: min(contiguous, datagram) */
	uint16_t dlen;      /* the datagram's length */
	uint16_t ihl;
	uint8_t proto;
	uint32_t src, dst;
	uint16_t sport, dport;   /* TCP/UDP ports; for an ICMP query, the id in both */
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* The one's complement sum of 16-bit words, folded; 0xffff over a correct checksum. */
static uint16_t sum16(const uint8_t *p, uint32_t n)
{
	uint32_t s = 0;
	uint32_t i;
	for (i = 0; i + 1 < n; i += 2)
		s += rd16(p + i);
	if (n & 1u)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/*
 * Incremental updates (RFC 1624 eqn. 3) are done in the host's byte order:
 * one's complement sums do not depend on it (RFC 1071 section 2(B)), so
 * checksum fields, addresses and ports are loaded and stored as they lie
 * in the packet (memcpy: no alignment assumed) and never byte-swapped.
 */
static uint32_t delta32(uint32_t old, uint32_t new_)
{
	/* One 32-bit one's complement addition (end-around carry), then its halves (RFC 1071 2(C)). */
	uint32_t d = ~old + new_;
	d += d < new_;
	return (d & 0xffffu) + (d >> 16);
}

/* Ports in wire order (see wire16()). */
static uint32_t delta16(uint16_t old, uint16_t new_)
{
	return (uint32_t)(uint16_t)~old + new_;
}

/* A host-order port as it lies in the packet, loaded natively. */
static uint16_t wire16(uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	uint16_t w;
	memcpy(&w, b, 2);
	return w;
}

/* HC' = ~(~HC + delta) */
static inline __attribute__((always_inline)) void csum_apply(uint8_t *field, uint32_t delta)
{
	uint16_t c;
	uint32_t s;
	memcpy(&c, field, 2);
	s = (uint32_t)(uint16_t)~c + delta;
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	c = (uint16_t)~s;
	memcpy(field, &c, 2);
}

/*
 * Whether an IP header (a multiple of 4 bytes, at most 60) sums to 0xffff:
 * 32-bit words in host order added into 64 bits, then folded. The usual
 * 20 bytes unrolled.
 */
static uint32_t word(const uint8_t *p)
{
	uint32_t w;
	memcpy(&w, p, 4);
	return w;
}

static int header_ok(const uint8_t *p, uint32_t n)
{
	uint64_t s = (uint64_t)word(p) + word(p + 4) + word(p + 8) + word(p + 12) + word(p + 16);
	for (uint32_t i = 20; i < n; i += 4)
		s += word(p + i);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return s == 0xffffu;
}

/* A zero UDP checksum means "none" and stays zero; a computed zero is sent as 0xffff. */
static inline __attribute__((always_inline)) void udp_csum_apply(uint8_t *field, uint32_t delta)
{
	if (!rd16(field))
		return;
	csum_apply(field, delta);
	if (!rd16(field))
		wr16(field, 0xffffu);
}

static void csum_fill(uint8_t *field, const uint8_t *start, uint32_t n)
{
	wr16(field, 0);
	wr16(field, (uint16_t)~sum16(start, n));
}

/*
 * Rewrite the source (which 0) or destination (which 1) address and port of
 * a TCP, UDP or ICMP query packet, with every checksum that covers them.
 */
static inline __attribute__((always_inline)) void rewrite(struct pkt *k, int which, uint32_t addr, uint16_t port)
{
	uint32_t *a = which ? &k->dst : &k->src;
	uint16_t *p = which ? &k->dport : &k->sport;
	uint32_t da = delta32(*a, addr);
	csum_apply(k->ip + 10, da);
	wr32(k->ip + (which ? 16 : 12), addr);
	switch (k->proto) {
	case NAPT_PROTO_TCP:
		csum_apply(k->l4 + 16, da + delta16(wire16(*p), wire16(port)));
		wr16(k->l4 + (which ? 2 : 0), port);
		break;
	case NAPT_PROTO_UDP:
		udp_csum_apply(k->l4 + 6, da + delta16(wire16(*p), wire16(port)));
		wr16(k->l4 + (which ? 2 : 0), port);
		break;
	default:   /* ICMP query: the id, no pseudo-header */
		csum_apply(k->l4 + 2, delta16(wire16(*p), wire16(port)));
		wr16(k->l4 + 4, port);
		k->sport = k->dport = port;
		break;
	}
	*a = addr;
	*p = port;
}

static enum napt_verdict drop(enum napt_drop why)
{
	napt_t.stats.dropped[why]++;
	return NAPT_DROP;
}

static enum napt_verdict pass(void)
{
	napt_t.stats.passed++;
	return NAPT_PASS;
}

static int in_lan(uint32_t addr)
{
	return (addr & napt_t.lan_net_mask) == napt_t.lan_net;
}

/* Not to be forwarded to the Internet: this network, loopback, multicast, broadcast, the LAN. */
static int local_destination(uint32_t dst)
{
	uint8_t first;
	memcpy(&first, &dst, 1);
	return first == 0 || first == 127 || first >= 224 || in_lan(dst);
}

/*
 * A source no packet from the WAN can truly have (RFC 1812 5.3.7): this
 * network (0/8), loopback (127/8), multicast and the reserved range above it
 * (224/3, limited broadcast included), and the LAN's own subnet. One compare
 * of the first octet and one masked compare: no cost worth a branch predictor.
 */
static int martian_source(uint32_t src)
{
	uint8_t first;
	memcpy(&first, &src, 1);
	return first == 0 || first == 127 || first >= 224 || in_lan(src);
}

/*
 * How far from the inside's highest ACK an RST or FIN from the remote may
 * fall and still count: one unscaled window either way. The remote sends
 * from its snd_nxt, at most a window ahead of what the inside acknowledged;
 * a blind attacker hits this by chance once in 32768 tries. An RST or FIN
 * outside it is still forwarded (the inside's stack judges it, RFC 5961,
 * and its challenge ACK brings a genuine RST back in the window), but
 * does not move the flow's state.
 */
#define TCP_WINDOW 65536u

static uint32_t rd32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A fresh SYN on a closed connection: it reuses the flow for a new one. */
static int reopens(const struct napt_flow *f, uint8_t flags)
{
	uint8_t st = f->state & NAPT_STATE_MASK;
	return (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN && (st == NAPT_TCP_CLOSING || st == NAPT_TCP_RESET);
}

/* TCP state from the flags of a segment going one way. */
static void tcp_track(struct napt_flow *f, const uint8_t *tcp, int inbound)
{
	uint8_t flags = tcp[13];
	uint8_t st = f->state & NAPT_STATE_MASK;
	uint8_t fl = f->state & (uint8_t)~NAPT_STATE_MASK;
	if (!inbound && (flags & TCP_ACK)) {
		/* The inside's ACK only moves forward (serial arithmetic, RFC 1982). */
		uint32_t a = rd32be(tcp + 8);
		if (!f->ack || a - f->ack < 0x80000000u)
			f->ack = a;
	}
	else if (inbound && (flags & (TCP_RST | TCP_FIN)) && f->ack
	         && rd32be(tcp + 4) - f->ack + TCP_WINDOW >= 2u * TCP_WINDOW)
		return;   /* out of the window: blind, or too old to matter */
	if (flags & TCP_RST)
		st = NAPT_TCP_RESET;
	else if (flags & TCP_SYN) {
		/* A fresh SYN on a closed connection reuses the flow for a new one. */
		if (reopens(f, flags)) {
			fl &= NAPT_F_FORWARD;
			st = NAPT_TCP_SYN_SENT;
			f->ack = 0;
		}
		fl |= inbound ? NAPT_F_SEEN_IN : NAPT_F_SEEN_OUT;
		if (st == NAPT_TCP_SYN_SENT && (fl & NAPT_F_SEEN_IN) && (fl & NAPT_F_SEEN_OUT)) {
			/*
			 * SYN both ways: the handshake waits for its ACKs (ACK_IN and
			 * ACK_OUT below). The remote's SYN coming last means the inside
			 * opened it: its ACK alone completes it. The inside's coming
			 * last means the remote opened it: a blind remote can send an
			 * ACK, so the inside's own ACK after it is needed too.
			 */
			st = NAPT_TCP_SYN_RCVD;
			if (inbound)
				fl |= NAPT_F_ACK_IN;
		}
	}
	else if (st == NAPT_TCP_SYN_RCVD && !(flags & TCP_FIN)) {
		if (flags & TCP_ACK)
			fl |= inbound ? NAPT_F_ACK_IN : NAPT_F_ACK_OUT;
		if ((fl & NAPT_F_ACK_IN) && (fl & NAPT_F_ACK_OUT)) {
			fl &= (uint8_t)~(NAPT_F_ACK_IN | NAPT_F_ACK_OUT);
			st = NAPT_TCP_ESTABLISHED;
		}
	}
	else if (flags & TCP_FIN) {
		if (st == NAPT_TCP_SYN_RCVD)
			fl &= (uint8_t)~(NAPT_F_ACK_IN | NAPT_F_ACK_OUT);
		fl |= inbound ? NAPT_F_FIN_IN : NAPT_F_FIN_OUT;
		st = (fl & NAPT_F_FIN_IN) && (fl & NAPT_F_FIN_OUT) ? NAPT_TCP_CLOSING : NAPT_TCP_FIN_WAIT;
	}
	f->state = (uint8_t)(st | fl);
}

static inline __attribute__((always_inline)) void refresh(struct napt_flow *f, const struct pkt *k, int inbound, uint32_t now)
{
	f->last = now;
	if (k->proto == NAPT_PROTO_TCP)
		tcp_track(f, k->l4, inbound);
	else
		f->state |= inbound ? NAPT_F_SEEN_IN : NAPT_F_SEEN_OUT;
}

/*
 * Whether the packet napt_process() last translated for forwarding belongs
 * to a flow past its handshake (napt_last_steady()). Set where the flow is
 * at hand, cleared on every call: reading it costs the glue one load.
 */
static uint8_t steady;

static inline __attribute__((always_inline)) void note_steady(const struct napt_flow *f)
{
	if (f->proto == NAPT_PROTO_TCP)
		steady = (f->state & (NAPT_STATE_MASK | NAPT_F_FIN_OUT | NAPT_F_FIN_IN)) == NAPT_TCP_ESTABLISHED;
	else if (f->proto == NAPT_PROTO_UDP)
		steady = (f->state & (NAPT_F_SEEN_OUT | NAPT_F_SEEN_IN)) == (NAPT_F_SEEN_OUT | NAPT_F_SEEN_IN);
}

int napt_last_steady(void)
{
	return steady;
}

static int local_port(uint8_t proto, uint16_t port)
{
	return proto != NAPT_PROTO_ICMP && napt_t.local_port && napt_t.local_port(proto, port);
}

/* ------------------------------------------------------------------ */
/* TCP, UDP and ICMP queries.                                          */

static inline __attribute__((always_inline)) enum napt_verdict outbound(struct pkt *k, uint32_t now)
{
	struct napt_flow *f = napt_lookup_out(k->proto, k->src, k->sport, k->dst, k->dport, now);
	if (!f) {
		uint8_t flags = NAPT_F_SEEN_OUT;
		if (!header_ok(k->ip, k->ihl))
			return drop(NAPT_DROP_MALFORMED);
		if (k->proto == NAPT_PROTO_TCP) {
			if ((k->l4[13] & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN)
				return drop(NAPT_DROP_NOT_SYN);
			flags |= NAPT_TCP_SYN_SENT;
		}
		f = napt_flow_create(k->proto, k->src, k->sport, k->dst, k->dport, 0, flags, now);
		if (!f)
			return NAPT_DROP;
	}
	else {
		refresh(f, k, 0, now);
		note_steady(f);
	}
	rewrite(k, 0, napt_t.addr.wan_addr, f->ext_port);
	napt_t.stats.translated[NAPT_OUTBOUND]++;
	return NAPT_FORWARD;
}

/*
 * An inbound packet that matches no flow: a forward, the router itself, a
 * mapping that admits the sender (filtering), or the DMZ host; else dropped
 * without an answer (RFC 5382 REQ-4: an unsolicited SYN is not answered).
 */
static struct napt_flow *inbound_new(struct pkt *k, uint32_t now, enum napt_verdict *verdict)
{
	const struct napt_forward *fw;
	struct napt_flow *m;
	int syn = k->proto != NAPT_PROTO_TCP || (k->l4[13] & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;
	uint8_t tcp = k->proto == NAPT_PROTO_TCP ? NAPT_TCP_SYN_SENT : 0;
	*verdict = NAPT_DROP;
	fw = napt_forward_match(k->proto, k->dport, k->src, now);
	/* The router's own TCP connections come first: a forward only ever opens new ones. */
	if (!syn && fw && local_port(k->proto, k->dport)) {
		*verdict = pass();
		return NULL;
	}
	if (fw) {
		if (!syn) {
			drop(NAPT_DROP_NOT_SYN);
			return NULL;
		}
		return napt_flow_create(k->proto, fw->in_addr, (uint16_t)(fw->in_port + (k->dport - fw->ext_port)),
		                        k->src, k->sport, k->dport, (uint8_t)(NAPT_F_FORWARD | NAPT_F_SEEN_IN | tcp), now);
	}
	if (local_port(k->proto, k->dport)) {
		*verdict = pass();
		return NULL;
	}
	m = napt_mapping_own(k->proto, k->dport, now);
	if (m) {
		if (napt_t.config.filtering == NAPT_FILTER_ADDRESS && !napt_mapping_knows(k->proto, k->dport, k->src, now)) {
			drop(NAPT_DROP_FILTERED);
			return NULL;
		}
		if (!syn) {
			drop(NAPT_DROP_NOT_SYN);
			return NULL;
		}
		return napt_flow_create(k->proto, m->in_addr, m->in_port, k->src, k->sport, k->dport,
		                        (uint8_t)(NAPT_F_SEEN_IN | tcp), now);
	}
	if (napt_t.dmz && syn)
		return napt_flow_create(k->proto, napt_t.dmz, k->dport, k->src, k->sport, k->dport,
		                        (uint8_t)(NAPT_F_FORWARD | NAPT_F_SEEN_IN | tcp), now);
	drop(NAPT_DROP_UNSOLICITED);
	return NULL;
}

static inline __attribute__((always_inline)) enum napt_verdict inbound(struct pkt *k, uint32_t now)
{
	struct napt_flow *f = napt_lookup_in(k->proto, k->dport, k->src, k->sport, now);
	if (f && (f->state & NAPT_F_FORWARD) && k->proto == NAPT_PROTO_TCP && reopens(f, k->l4[13])
	    && !napt_forward_match(k->proto, k->dport, k->src, now) && napt_t.dmz != f->in_addr)
		return drop(NAPT_DROP_UNSOLICITED);   /* a new connection on a removed forward's closed flow */
	if (!f) {
		enum napt_verdict verdict;
		if (!header_ok(k->ip, k->ihl))
			return drop(NAPT_DROP_MALFORMED);
		f = inbound_new(k, now, &verdict);
		if (!f)
			return verdict;
	}
	else {
		refresh(f, k, 1, now);
		note_steady(f);
	}
	rewrite(k, 1, f->in_addr, f->in_port);
	napt_t.stats.translated[NAPT_INBOUND]++;
	return NAPT_FORWARD;
}

/*
 * A LAN host reaching the WAN address: when a forward, mapping or the DMZ
 * owns that port, translate both ends (the target sees the external source,
 * RFC 4787 REQ-9) and send it back into the LAN. Otherwise it is for the
 * router itself.
 */
static __attribute__((noinline, cold)) enum napt_verdict hairpin_both(struct pkt *k, uint32_t now)
{
	enum napt_verdict v;
	if (!header_ok(k->ip, k->ihl))
		return drop(NAPT_DROP_MALFORMED);
	if (k->proto != NAPT_PROTO_TCP && k->proto != NAPT_PROTO_UDP)
		return pass();
	if (!napt_forward_match(k->proto, k->dport, k->dst, now)
	    && (local_port(k->proto, k->dport) || (!napt_mapping_by_ext(k->proto, k->dport, now) && !napt_t.dmz)))
		return pass();
	v = outbound(k, now);
	if (v != NAPT_FORWARD)
		return v;
	v = inbound(k, now);
	if (v == NAPT_PASS)   /* the router took the port meanwhile: nothing to deliver */
		return drop(NAPT_DROP_UNSOLICITED);
	if (v != NAPT_FORWARD)
		return v;
	napt_t.stats.hairpinned++;
	return NAPT_HAIRPIN;
}

/* Its two halves each note a steady flow; a hairpin is never one (napt_last_steady()). */
static enum napt_verdict hairpin(struct pkt *k, uint32_t now)
{
	enum napt_verdict v = hairpin_both(k, now);
	steady = 0;
	return v;
}

/* ------------------------------------------------------------------ */
/* ICMP errors: the quoted packet went the other way.                  */

static int icmp_is_error(uint8_t type)
{
	return type == ICMP_UNREACHABLE || type == ICMP_SOURCE_QUENCH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETER;
}

/*
 * Translate an ICMP error in place. Inbound: it quotes a packet we sent
 * from the WAN address; outbound: one we delivered to a LAN host. The outer
 * address, the quoted address and port (or query id), the quoted IP and
 * transport checksums, and the ICMP checksum are all made consistent.
 * An error never refreshes or ends a flow (RFC 5508 REQ-9/10).
 */
static enum napt_verdict icmp_error(struct pkt *k, int inbound_dir, uint32_t now)
{
	uint8_t *icmp = k->l4;
	uint32_t icmp_len = (uint32_t)k->dlen - k->ihl;
	uint8_t *q;
	uint16_t qihl, qsport, qdport;
	uint32_t qsrc, qdst, da, dq;
	uint8_t qproto;
	uint8_t *ql4;
	uint32_t quoted;
	struct napt_flow *f;

	if (k->len != k->dlen)   /* errors are at most 576 bytes: always in one buffer */
		return drop(NAPT_DROP_MALFORMED);
	if (sum16(icmp, icmp_len) != 0xffffu)
		return drop(NAPT_DROP_CHECKSUM);
	q = icmp + 8;
	if (icmp_len < 8 + 20 || (q[0] >> 4) != 4)
		return inbound_dir ? pass() : drop(NAPT_DROP_ICMP_ERROR);
	qihl = (uint16_t)((q[0] & 15u) * 4u);
	if (qihl < 20 || icmp_len < 8u + qihl + 8u || (rd16(q + 6) & 0x1fffu))
		return inbound_dir ? pass() : drop(NAPT_DROP_ICMP_ERROR);
	quoted = icmp_len - 8u - qihl;   /* transport bytes quoted */
	qproto = q[9];
	qsrc = rd32(q + 12);
	qdst = rd32(q + 16);
	ql4 = q + qihl;
	if (qproto == NAPT_PROTO_TCP || qproto == NAPT_PROTO_UDP) {
		qsport = rd16(ql4);
		qdport = rd16(ql4 + 2);
	}
	else if (qproto == NAPT_PROTO_ICMP && (ql4[0] == ICMP_ECHO || ql4[0] == ICMP_ECHO_REPLY))
		qsport = qdport = rd16(ql4 + 4);
	else
		return inbound_dir ? pass() : drop(NAPT_DROP_ICMP_ERROR);

	if (inbound_dir) {
		/* Quoted: WAN:ext -> remote. Becomes inside -> remote. */
		if (qsrc != napt_t.addr.wan_addr)
			return pass();
		f = napt_lookup_in(qproto, qsport, qdst, qproto == NAPT_PROTO_ICMP ? 0 : qdport, now);
		if (!f)
			return pass();   /* about the router's own traffic */
	}
	else {
		/* Quoted: remote -> inside. Becomes remote -> WAN:ext. */
		f = napt_lookup_out(qproto, qdst, qdport, qsrc, qproto == NAPT_PROTO_ICMP ? 0 : qsport, now);
		if (!f)
			return drop(NAPT_DROP_ICMP_ERROR);
	}

	{
		uint32_t new_outer = inbound_dir ? f->in_addr : napt_t.addr.wan_addr;
		uint32_t new_quoted = inbound_dir ? f->in_addr : napt_t.addr.wan_addr;
		uint16_t new_port = inbound_dir ? f->in_port : f->ext_port;
		uint16_t old_port = inbound_dir ? qsport : qdport;
		uint8_t *outer_field = k->ip + (inbound_dir ? 16 : 12);
		uint8_t *quoted_field = q + (inbound_dir ? 12 : 16);
		uint32_t port_at = inbound_dir ? 0 : 2;

		csum_apply(k->ip + 10, delta32(rd32(outer_field), new_outer));
		wr32(outer_field, new_outer);

		da = delta32(rd32(quoted_field), new_quoted);
		csum_apply(q + 10, da);
		wr32(quoted_field, new_quoted);

		dq = delta16(wire16(old_port), wire16(new_port));
		if (qproto == NAPT_PROTO_UDP) {
			udp_csum_apply(ql4 + 6, da + dq);
			wr16(ql4 + port_at, new_port);
		}
		else if (qproto == NAPT_PROTO_TCP) {
			if (quoted >= 18)
				csum_apply(ql4 + 16, da + dq);
			wr16(ql4 + port_at, new_port);
		}
		else {
			csum_apply(ql4 + 2, dq);
			wr16(ql4 + 4, new_port);
		}
	}
	csum_fill(icmp + 2, icmp, icmp_len);
	if (inbound_dir)
		k->dst = f->in_addr;
	else
		k->src = napt_t.addr.wan_addr;
	napt_t.stats.icmp_errors++;
	return NAPT_FORWARD;
}

/* ICMP and hairpinning are off the TCP/UDP fast path: kept out of line. */
static __attribute__((noinline, cold)) enum napt_verdict icmp_outbound(struct pkt *k, uint32_t now)
{
	uint8_t type = k->l4[0];
	if (k->dst == napt_t.addr.wan_addr)
		return pass();   /* pinging the router's WAN address */
	if (!header_ok(k->ip, k->ihl))
		return drop(NAPT_DROP_MALFORMED);
	if (type == ICMP_ECHO) {
		if (k->len == k->dlen && sum16(k->l4, (uint32_t)k->dlen - k->ihl) != 0xffffu)
			return drop(NAPT_DROP_CHECKSUM);
		return outbound(k, now);
	}
	if (icmp_is_error(type))
		return icmp_error(k, 0, now);
	return drop(NAPT_DROP_UNSUPPORTED);
}

static __attribute__((noinline, cold)) enum napt_verdict icmp_inbound(struct pkt *k, uint32_t now)
{
	uint8_t type = k->l4[0];
	struct napt_flow *f;
	if (!header_ok(k->ip, k->ihl))
		return drop(NAPT_DROP_MALFORMED);
	if (type == ICMP_ECHO_REPLY) {
		if (k->len == k->dlen && sum16(k->l4, (uint32_t)k->dlen - k->ihl) != 0xffffu)
			return drop(NAPT_DROP_CHECKSUM);
		f = napt_lookup_in(NAPT_PROTO_ICMP, k->dport, k->src, 0, now);
		if (!f)
			return pass();
		refresh(f, k, 1, now);
		rewrite(k, 1, f->in_addr, f->in_port);
		napt_t.stats.translated[NAPT_INBOUND]++;
		return NAPT_FORWARD;
	}
	if (icmp_is_error(type))
		return icmp_error(k, 1, now);
	return pass();   /* echo requests and the rest: the router's own */
}

/* ------------------------------------------------------------------ */

/* napt_process() and napt_process_plain(): `plain` (a constant in each) skips the header checks the caller made. */
static inline __attribute__((always_inline)) enum napt_verdict process(uint8_t *ip, uint16_t len, uint16_t tot_len,
                                                                       enum napt_dir dir, uint32_t now, int plain)
{
	struct pkt k;
	uint32_t l4len;

	steady = 0;
	if (!napt_t.ready)
		return NAPT_PASS;
	k.ip = ip;
	if (plain) {
		k.ihl = 20;
		k.dlen = len;
	}
	else {
		if (len < 20 || (ip[0] >> 4) != 4)
			return drop(NAPT_DROP_MALFORMED);
		k.ihl = (uint16_t)((ip[0] & 15u) * 4u);
		k.dlen = rd16(ip + 2);
		if (k.ihl < 20 || k.ihl > len || k.dlen < k.ihl || k.dlen > tot_len)
			return drop(NAPT_DROP_MALFORMED);
	}
	k.len = len < k.dlen ? len : k.dlen;
	k.proto = ip[9];
	k.src = rd32(ip + 12);
	k.dst = rd32(ip + 16);
	k.l4 = ip + k.ihl;
	l4len = (uint32_t)k.len - k.ihl;

	if (dir == NAPT_OUTBOUND) {
		if (local_destination(k.dst))
			return pass();
		if (!in_lan(k.src) || k.src == napt_t.addr.lan_addr)
			return drop(NAPT_DROP_UNSUPPORTED);   /* not ours to send to the Internet */
		if (!napt_t.addr.wan_addr)
			return drop(NAPT_DROP_NO_PORT);        /* no external address yet */
	}
	else {
		if (martian_source(k.src))
			return drop(NAPT_DROP_MARTIAN);        /* spoofed: not even the router answers it */
		if (in_lan(k.dst))
			return drop(NAPT_DROP_UNSOLICITED);    /* nothing routes into the LAN from outside */
		if (k.dst != napt_t.addr.wan_addr || !napt_t.addr.wan_addr)
			return pass();
	}
	if (!plain && (rd16(ip + 6) & 0x3fffu))   /* a fragment: the caller reassembles first */
		return drop(NAPT_DROP_UNSUPPORTED);

	switch (k.proto) {
	case NAPT_PROTO_TCP:
		if (l4len < 20 || (k.l4[12] >> 4) < 5)
			return drop(NAPT_DROP_MALFORMED);
		break;
	case NAPT_PROTO_UDP: {
		/*
		 * The UDP length must cover its header and stay within the IP
		 * payload (RFC 768), checked against the datagram, not the bytes
		 * contiguous here. Beyond it, the receiver would read past the
		 * datagram; below 8, it has no header. A length short of the payload
		 * leaves trailing bytes, which Linux forwards and delivers without
		 * them: forwarded here too.
		 */
		uint16_t ulen;
		if (l4len < 8)
			return drop(NAPT_DROP_MALFORMED);
		ulen = rd16(k.l4 + 4);
		if (ulen < 8 || ulen > k.dlen - k.ihl)
			return drop(NAPT_DROP_MALFORMED);
		break;
	}
	case NAPT_PROTO_ICMP:
		if (l4len < 8)
			return drop(NAPT_DROP_MALFORMED);
		k.sport = k.dport = rd16(k.l4 + 4);
		if (dir == NAPT_OUTBOUND) {
			k.dport = 0;   /* a query flow's remote port */
			return icmp_outbound(&k, now);
		}
		return icmp_inbound(&k, now);
	default:
		return dir == NAPT_OUTBOUND ? drop(NAPT_DROP_UNSUPPORTED) : pass();
	}
	k.sport = rd16(k.l4);
	k.dport = rd16(k.l4 + 2);
	if (dir == NAPT_OUTBOUND)
		return k.dst == napt_t.addr.wan_addr ? hairpin(&k, now) : outbound(&k, now);
	return inbound(&k, now);
}

enum napt_verdict napt_process(uint8_t *ip, uint16_t len, uint16_t tot_len, enum napt_dir dir, uint32_t now)
{
	return process(ip, len, tot_len, dir, now, 0);
}

enum napt_verdict napt_process_plain(uint8_t *ip, uint16_t len, enum napt_dir dir, uint32_t now)
{
	return process(ip, len, len, dir, now, 1);
}
