/*
 * Packet building and checking for the NAPT unit tests (napt_test.c,
 * napt_lwip_test.c). The checksum here is written from RFC 1071 directly:
 * a full one's complement sum, byte by byte, independent of napt's own
 * incremental updates, so that a wrong update cannot hide behind a shared
 * helper. Every packet handed to the code under test is malloc'd at exactly
 * its length, so AddressSanitizer catches any read past its end.
 */
#ifndef NAPT_PKT_H
#define NAPT_PKT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T_ICMP 1
#define T_TCP 6
#define T_UDP 17

#define T_FIN 0x01
#define T_SYN 0x02
#define T_RST 0x04
#define T_PSH 0x08
#define T_ACK 0x10

static inline uint32_t A(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static inline uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void s16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t g32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void s32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* A number (TCP sequence and acknowledgment) in network order. */
static inline void s32be(uint8_t *p, uint32_t v)
{
	s16(p, (uint16_t)(v >> 16));
	s16(p + 2, (uint16_t)v);
}

/* RFC 1071: the 16-bit one's complement sum, big-endian words, odd byte padded with zero. */
static inline uint32_t ck_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static inline uint16_t ck_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/* Whether the region with its checksum in place sums to 0xffff. */
static inline int ck_ok(const uint8_t *p, size_t n)
{
	return ck_fold(ck_add(0, p, n)) == 0xffffu;
}

static inline uint32_t ck_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];
	s32(ph, src);
	s32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	s16(ph + 10, len);
	return ck_add(0, ph, 12);
}

static inline uint16_t ck_compute(uint32_t init, const uint8_t *p, size_t n)
{
	return (uint16_t)~ck_fold(ck_add(init, p, n));
}

/* ------------------------------------------------------------------ */
/* Reading a packet.                                                   */

static inline unsigned ihl_of(const uint8_t *b) { return (b[0] & 15u) * 4u; }
static inline uint32_t src_of(const uint8_t *b) { return g32(b + 12); }
static inline uint32_t dst_of(const uint8_t *b) { return g32(b + 16); }
static inline uint8_t proto_of(const uint8_t *b) { return b[9]; }
static inline uint16_t sport_of(const uint8_t *b) { return g16(b + ihl_of(b)); }
static inline uint16_t dport_of(const uint8_t *b) { return g16(b + ihl_of(b) + 2); }
static inline uint16_t icmp_id_of(const uint8_t *b) { return g16(b + ihl_of(b) + 4); }
static inline uint16_t l4_csum_field(const uint8_t *b)
{
	unsigned off = proto_of(b) == T_TCP ? 16 : proto_of(b) == T_UDP ? 6 : 2;
	return g16(b + ihl_of(b) + off);
}

/* The IP header checksum verifies. */
static inline int ip_ok(const uint8_t *b, size_t n)
{
	return n >= 20 && ihl_of(b) >= 20 && ihl_of(b) <= n && ck_ok(b, ihl_of(b));
}

/*
 * The transport checksum of a whole (unquoted) datagram of n bytes verifies.
 * A UDP checksum of 0 ("none") passes.
 */
static inline int l4_ok(const uint8_t *b, size_t n)
{
	unsigned ihl = ihl_of(b);
	size_t l4 = n - ihl;
	if (n < ihl || l4 < (proto_of(b) == T_TCP ? 20u : proto_of(b) == T_UDP ? 8u : 4u))
		return 0;
	switch (proto_of(b)) {
	case T_TCP:
		return ck_fold(ck_add(ck_pseudo(src_of(b), dst_of(b), T_TCP, (uint16_t)l4), b + ihl, l4)) == 0xffffu;
	case T_UDP:
		if (g16(b + ihl + 6) == 0)
			return 1;
		return ck_fold(ck_add(ck_pseudo(src_of(b), dst_of(b), T_UDP, (uint16_t)l4), b + ihl, l4)) == 0xffffu;
	case T_ICMP:
		return ck_ok(b + ihl, l4);
	default:
		return 1;
	}
}

/*
 * For an ICMP error: the quoted IP header checksum verifies, and when the
 * quoted datagram is quoted whole, its transport checksum too (`whole` is
 * set to whether it was).
 */
static inline int quoted_ok(const uint8_t *b, size_t n, int *whole)
{
	unsigned ihl = ihl_of(b);
	const uint8_t *q = b + ihl + 8;
	size_t qn = n - ihl - 8;
	unsigned qihl;
	uint16_t qlen;
	*whole = 0;
	if (qn < 20)
		return 0;
	qihl = ihl_of(q);
	if (qihl < 20 || qihl > qn || !ck_ok(q, qihl))
		return 0;
	qlen = g16(q + 2);
	if (qlen <= qn) {
		*whole = 1;
		return l4_ok(q, qlen);
	}
	return 1;
}

static inline int is_icmp_error_pkt(const uint8_t *b, size_t n)
{
	uint8_t t;
	if (proto_of(b) != T_ICMP || n < ihl_of(b) + 8u)
		return 0;
	t = b[ihl_of(b)];
	return t == 3 || t == 4 || t == 11 || t == 12;
}

/* Every checksum in the packet verifies (for an ICMP error, the quoted ones as far as quoted). */
static inline int all_ok(const uint8_t *b, size_t n)
{
	int whole;
	if (!ip_ok(b, n) || g16(b + 2) != n || !l4_ok(b, n))
		return 0;
	if (is_icmp_error_pkt(b, n))
		return quoted_ok(b, n, &whole);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Building.                                                           */

struct pk {
	uint8_t *b;
	uint16_t n;
};

/* Builders are called from hundreds of places: kept out of line (compile time under ASan). */
#define PKT_BUILDER static __attribute__((noinline, unused))

static inline struct pk pk_exact(const uint8_t *src, size_t n)
{
	struct pk p;
	p.b = malloc(n ? n : 1);
	p.n = (uint16_t)n;
	memcpy(p.b, src, n);
	return p;
}

static inline void pk_free(struct pk *p)
{
	free(p->b);
	p->b = NULL;
	p->n = 0;
}

static inline void ip_fill_csum(uint8_t *b)
{
	s16(b + 10, 0);
	s16(b + 10, ck_compute(0, b, ihl_of(b)));
}

/* An IPv4 header: `opt` option bytes (a multiple of 4, NOPs), DF set, TTL 64. */
static inline void ip_hdr(uint8_t *b, unsigned opt, uint16_t tot, uint8_t proto, uint32_t src, uint32_t dst)
{
	memset(b, 0, 20 + opt);
	b[0] = (uint8_t)(0x40 | (5 + opt / 4));
	s16(b + 2, tot);
	s16(b + 4, 0x4d2e);
	s16(b + 6, 0x4000);
	b[8] = 64;
	b[9] = proto;
	s32(b + 12, src);
	s32(b + 16, dst);
	for (unsigned i = 0; i < opt; i++)
		b[20 + i] = 1;   /* NOP */
}

/* Recompute the transport checksum of a whole datagram (UDP: 0 stays 0 when zero_ok). */
static inline void l4_fill_csum(uint8_t *b, size_t n, int udp_zero)
{
	unsigned ihl = ihl_of(b);
	size_t l4 = n - ihl;
	uint8_t *t = b + ihl;
	switch (proto_of(b)) {
	case T_TCP:
		s16(t + 16, 0);
		s16(t + 16, ck_compute(ck_pseudo(src_of(b), dst_of(b), T_TCP, (uint16_t)l4), t, l4));
		break;
	case T_UDP: {
		uint16_t c;
		s16(t + 6, 0);
		if (udp_zero)
			break;
		c = ck_compute(ck_pseudo(src_of(b), dst_of(b), T_UDP, (uint16_t)l4), t, l4);
		s16(t + 6, c ? c : 0xffff);
		break;
	}
	case T_ICMP:
		s16(t + 2, 0);
		s16(t + 2, ck_compute(0, t, l4));
		break;
	}
}

static inline void fill_payload(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7u + seed * 13u + 3u);
}

PKT_BUILDER struct pk mk_udp_opt(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, size_t payload, int zero_csum, unsigned opt)
{
	uint8_t b[4096];
	size_t n = 20 + opt + 8 + payload;
	if (n > sizeof(b))
		abort();
	ip_hdr(b, opt, (uint16_t)n, T_UDP, src, dst);
	uint8_t *u = b + 20 + opt;
	s16(u, sport);
	s16(u + 2, dport);
	s16(u + 4, (uint16_t)(8 + payload));
	fill_payload(u + 8, payload, sport ^ dport);
	l4_fill_csum(b, n, zero_csum);
	ip_fill_csum(b);
	return pk_exact(b, n);
}

PKT_BUILDER struct pk mk_udp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	return mk_udp_opt(src, sport, dst, dport, 13, 0, 0);
}

PKT_BUILDER struct pk mk_tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags, size_t payload)
{
	uint8_t b[2048];
	size_t n = 20 + 20 + payload;
	ip_hdr(b, 0, (uint16_t)n, T_TCP, src, dst);
	uint8_t *t = b + 20;
	s16(t, sport);
	s16(t + 2, dport);
	s32be(t + 4, 0x11223344u ^ sport);
	/* One side's ACK is the other side's sequence number: both derive from the port. */
	s32be(t + 8, (flags & T_ACK) ? 0x11223344u ^ dport : 0);
	t[12] = 5 << 4;
	t[13] = flags;
	s16(t + 14, 65535);
	s16(t + 18, 0);
	fill_payload(t + 20, payload, sport);
	l4_fill_csum(b, n, 0);
	ip_fill_csum(b);
	return pk_exact(b, n);
}

PKT_BUILDER struct pk mk_echo(uint32_t src, uint32_t dst, uint8_t type, uint16_t id, uint16_t seq, size_t payload)
{
	uint8_t b[2048];
	size_t n = 20 + 8 + payload;
	ip_hdr(b, 0, (uint16_t)n, T_ICMP, src, dst);
	uint8_t *t = b + 20;
	t[0] = type;
	t[1] = 0;
	s16(t + 4, id);
	s16(t + 6, seq);
	fill_payload(t + 8, payload, id);
	l4_fill_csum(b, n, 0);
	ip_fill_csum(b);
	return pk_exact(b, n);
}

/* An ICMP error from src to dst quoting the first `qlen` bytes of `quoted`. */
PKT_BUILDER struct pk mk_icmp_err(uint32_t src, uint32_t dst, uint8_t type, uint8_t code, const uint8_t *quoted, size_t qlen)
{
	uint8_t b[2048];
	size_t n = 20 + 8 + qlen;
	ip_hdr(b, 0, (uint16_t)n, T_ICMP, src, dst);
	b[6] = 0;   /* errors go without DF */
	uint8_t *t = b + 20;
	t[0] = type;
	t[1] = code;
	memset(t + 2, 0, 6);
	memcpy(t + 8, quoted, qlen);
	l4_fill_csum(b, n, 0);
	ip_fill_csum(b);
	return pk_exact(b, n);
}

#endif
