/*
 * NAPT behind real lwIP 2.1.3 (the sim's lwipopts.h, our input hook
 * router_hooks.c and napt_lwip.c as they are), under AddressSanitizer and
 * UBSan. Two netifs without Ethernet: input is ip4_input, output captures
 * the IP packet. Shows what the glue adds to the core: TTL handling,
 * reassembly and refragmentation, ICMP errors quoting the packet as it
 * arrived, hairpinning out the LAN port, and no pbuf leaked.
 */
#include "rig_ports.h"
#include "check.h"
#include "napt_pkt.h"
#include "napt_lwip.h"
#include "ports.h"
#include "router_hooks.h"

#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAN  A(198, 51, 100, 10)
#define GW   A(198, 51, 100, 1)
#define LAN  A(192, 168, 4, 1)
#define H2   A(192, 168, 4, 2)
#define H3   A(192, 168, 4, 3)
#define R1   A(203, 0, 113, 5)

/* ------------------------------------------------------------------ */
/* What the board would provide.                                       */

static uint32_t now_ms = 10000;

u32_t sys_now(void)
{
	return now_ms;
}

/* ------------------------------------------------------------------ */
/* Capture what lwIP sends.                                            */

#define CAP_MAX 64
struct cap {
	struct netif *netif;
	uint8_t *b;
	uint16_t n;
};
static struct cap caps[CAP_MAX];
static int ncap;

static err_t capture(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
	(void)dst;
	CHECK(ncap < CAP_MAX);
	if (ncap < CAP_MAX) {
		caps[ncap].netif = netif;
		caps[ncap].n = p->tot_len;
		caps[ncap].b = malloc(p->tot_len);
		CHECK(pbuf_copy_partial(p, caps[ncap].b, p->tot_len, 0) == p->tot_len);
		ncap++;
	}
	return ERR_OK;
}

static void cap_clear(void)
{
	for (int i = 0; i < ncap; i++)
		free(caps[i].b);
	ncap = 0;
}

static int count_on(struct netif *n)
{
	int c = 0;
	for (int i = 0; i < ncap; i++)
		c += caps[i].netif == n;
	return c;
}

static err_t if_init(struct netif *n)
{
	n->output = capture;
	n->mtu = 1500;
	n->flags = NETIF_FLAG_BROADCAST;   /* no NETIF_FLAG_ETHARP: IP in, IP out */
	n->name[0] = n == &wan_if ? 'w' : 'l';
	n->name[1] = '0';
	return ERR_OK;
}

/* Hand `len` bytes to lwIP as received on `n`, in a pool pbuf of `bufsize` bytes (padding zero). */
static void inject_padded(struct netif *n, const uint8_t *b, size_t len, size_t bufsize)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)bufsize, PBUF_POOL);
	uint8_t *tmp = calloc(1, bufsize);
	CHECK(p != NULL);
	if (!p) {
		free(tmp);
		return;
	}
	memcpy(tmp, b, len);
	CHECK(pbuf_take(p, tmp, (u16_t)bufsize) == ERR_OK);
	free(tmp);
	n->input(p, n);   /* ip4_input always takes the pbuf */
}

static void inject(struct netif *n, const uint8_t *b, size_t len)
{
	inject_padded(n, b, len, len);
}

/* Let time pass in 100 ms steps: lwIP's cyclic timers run once per call, they do not catch up. */
static void advance(uint32_t ms)
{
	for (uint32_t t = 0; t < ms; t += 100) {
		now_ms += 100;
		sys_check_timeouts();
	}
}

/* ------------------------------------------------------------------ */
/* Fragments.                                                          */

/* Split a datagram (20-byte header) into fragments of at most `data` payload bytes (a multiple of 8). */
static int fragment(const uint8_t *b, size_t n, size_t data, struct pk *out, int max)
{
	size_t payload = n - 20;
	int count = 0;
	for (size_t off = 0; off < payload && count < max; off += data) {
		size_t chunk = payload - off < data ? payload - off : data;
		uint8_t f[1600];
		memcpy(f, b, 20);
		memcpy(f + 20, b + 20 + off, chunk);
		s16(f + 2, (uint16_t)(20 + chunk));
		s16(f + 6, (uint16_t)((off / 8) | (off + chunk < payload ? 0x2000 : 0)));
		ip_fill_csum(f);
		out[count++] = pk_exact(f, 20 + chunk);
	}
	return count;
}

/*
 * Put the fragments captured on `n` back together (the test's own
 * reassembly): each must have a good header checksum and fit the MTU.
 * Returns the datagram (malloc'd) and its length, or NULL.
 */
static uint8_t *reassemble(struct netif *n, size_t *out_len, int *frags)
{
	static uint8_t buf[65536];
	static uint8_t have[65536 / 8];
	size_t end = 0;
	int last_seen = 0, count = 0;
	uint8_t hdr[20];
	int have_hdr = 0;
	memset(have, 0, sizeof(have));
	for (int i = 0; i < ncap; i++) {
		const uint8_t *f = caps[i].b;
		if (caps[i].netif != n)
			continue;
		count++;
		CHECK(ip_ok(f, caps[i].n) && g16(f + 2) == caps[i].n && ihl_of(f) == 20);
		CHECK(caps[i].n <= n->mtu);
		uint16_t fo = g16(f + 6);
		size_t off = (size_t)(fo & 0x1fff) * 8, len = caps[i].n - 20u;
		memcpy(buf + 20 + off, f + 20, len);
		for (size_t k = off / 8; k < (off + len + 7) / 8; k++)
			have[k] = 1;
		if (!(fo & 0x2000)) {
			last_seen = 1;
			end = off + len;
		}
		if (off == 0) {
			memcpy(hdr, f, 20);
			have_hdr = 1;
		}
	}
	*frags = count;
	if (!last_seen || !have_hdr)
		return NULL;
	for (size_t k = 0; k < (end + 7) / 8; k++)
		if (!have[k])
			return NULL;
	memcpy(buf, hdr, 20);
	s16(buf + 2, (uint16_t)(20 + end));
	s16(buf + 6, (uint16_t)(g16(hdr + 6) & 0x4000));
	ip_fill_csum(buf);
	*out_len = 20 + end;
	uint8_t *r = malloc(20 + end);
	memcpy(r, buf, 20 + end);
	return r;
}

/* A UDP datagram without DF, random payload of `payload` bytes. */
static struct pk big_udp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, size_t payload, unsigned seed)
{
	struct pk p = mk_udp_opt(src, sport, dst, dport, payload, 0, 0);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 28; i < p.n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p.b[i] = (uint8_t)x;
	}
	s16(p.b + 4, (uint16_t)(0x7000 + seed));   /* IP id */
	s16(p.b + 6, 0);                            /* DF off */
	l4_fill_csum(p.b, p.n, 0);
	ip_fill_csum(p.b);
	return p;
}

/* Check a reassembled datagram against the one sent, with new source or destination. */
static void check_translated(const uint8_t *got, size_t n, const struct pk *sent,
                             uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	CHECK(n == sent->n);
	if (n != sent->n)
		return;
	CHECK(all_ok(got, n));
	CHECK(src_of(got) == src && sport_of(got) == sport && dst_of(got) == dst && dport_of(got) == dport);
	CHECK(got[8] == sent->b[8] - 1);                       /* TTL decremented once */
	CHECK(memcmp(got + 28, sent->b + 28, n - 28) == 0);    /* payload intact */
}

/* ------------------------------------------------------------------ */

static void test_udp_through(void)
{
	cap_clear();
	struct pk p = mk_udp(H2, 5000, R1, 53);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b;
		CHECK(caps[0].n == p.n && all_ok(o, caps[0].n));
		CHECK(src_of(o) == WAN && sport_of(o) == 5000 && dst_of(o) == R1 && dport_of(o) == 53);
		CHECK(o[8] == 63);
		CHECK(memcmp(o + 28, p.b + 28, p.n - 28) == 0);
	}
	pk_free(&p);
	cap_clear();
	p = mk_udp(R1, 53, WAN, 5000);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b;
		CHECK(all_ok(o, caps[0].n) && src_of(o) == R1 && dst_of(o) == H2 && dport_of(o) == 5000 && o[8] == 63);
	}
	pk_free(&p);
	/* Ethernet padding after a small datagram: still translated, sent at its own length. */
	cap_clear();
	p = mk_udp_opt(H2, 5000, R1, 53, 2, 0, 0);
	inject_padded(&lan_if, p.b, p.n, 46);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		CHECK(caps[0].n == p.n && all_ok(caps[0].b, caps[0].n) && src_of(caps[0].b) == WAN);
	pk_free(&p);
	/* Unsolicited inbound: dropped, nothing sent. */
	cap_clear();
	p = mk_udp(R1, 53, WAN, 5999);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 0);
	pk_free(&p);
	/* An unsolicited SYN: no answer at all (no RST from lwIP). */
	p = mk_tcp(R1, 1234, WAN, 5999, T_SYN, 0);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 0);
	pk_free(&p);
	/* TCP through, and back. */
	p = mk_tcp(H2, 40000, R1, 443, T_SYN, 0);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1 && all_ok(caps[0].b, caps[0].n) && src_of(caps[0].b) == WAN);
	pk_free(&p);
	cap_clear();
	p = mk_tcp(R1, 443, WAN, 40000, T_SYN | T_ACK, 0);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1 && all_ok(caps[0].b, caps[0].n) && dst_of(caps[0].b) == H2);
	pk_free(&p);
	cap_clear();
}

static void send_frags(struct netif *n, struct pk *f, int count, const int *order)
{
	for (int i = 0; i < count; i++)
		inject(n, f[order[i]].b, f[order[i]].n);
	for (int i = 0; i < count; i++)
		pk_free(&f[i]);
}

static void test_fragments(void)
{
	struct pk f[8];
	size_t len;
	int nf, got;
	uint8_t *d;

	/* Outbound, out of order (last, first, middle): reassembled, translated, refragmented for MTU 1500. */
	cap_clear();
	struct pk big = big_udp(H2, 5000, R1, 5001, 3000, 1);
	nf = fragment(big.b, big.n, 1480, f, 8);
	CHECK(nf == 3);
	send_frags(&lan_if, f, nf, (int[]){ 2, 0, 1 });
	CHECK(count_on(&lan_if) == 0);
	d = reassemble(&wan_if, &len, &got);
	CHECK(d != NULL && got == 3);
	if (d)
		check_translated(d, len, &big, WAN, 5000, R1, 5001);
	free(d);
	pk_free(&big);

	/* Inbound, out of order, back to the LAN host. */
	cap_clear();
	big = big_udp(R1, 5001, WAN, 5000, 2500, 2);
	nf = fragment(big.b, big.n, 800, f, 8);
	CHECK(nf == 4);
	send_frags(&wan_if, f, nf, (int[]){ 3, 1, 2, 0 });
	CHECK(count_on(&wan_if) == 0);
	d = reassemble(&lan_if, &len, &got);
	CHECK(d != NULL && got == 2);
	if (d)
		check_translated(d, len, &big, R1, 5001, H2, 5000);
	free(d);
	pk_free(&big);

	/* Small fragments that fit whole: reassembled and sent as one datagram. */
	cap_clear();
	big = big_udp(H2, 5000, R1, 5001, 300, 3);
	nf = fragment(big.b, big.n, 96, f, 8);
	CHECK(nf == 4);
	send_frags(&lan_if, f, nf, (int[]){ 1, 3, 0, 2 });
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		CHECK(g16(caps[0].b + 6) == 0);
		check_translated(caps[0].b, caps[0].n, &big, WAN, 5000, R1, 5001);
	}
	pk_free(&big);

	/*
	 * A tiny first fragment (8 bytes of data: the UDP header) arrives padded
	 * to Ethernet's 46-byte minimum: the padding must not end up inside the
	 * reassembled datagram.
	 */
	cap_clear();
	big = big_udp(H2, 5000, R1, 5001, 200, 4);
	nf = fragment(big.b, big.n, 8, f, 2);
	CHECK(nf == 2 && f[0].n == 28);
	{
		/* f[1] is only the second 8 bytes: make it the whole rest instead. */
		uint8_t rest[400];
		size_t rn = big.n - 28;
		memcpy(rest, big.b, 20);
		memcpy(rest + 20, big.b + 28, rn);
		s16(rest + 2, (uint16_t)(20 + rn));
		s16(rest + 6, 1);   /* offset 8, last */
		ip_fill_csum(rest);
		pk_free(&f[1]);
		f[1] = pk_exact(rest, 20 + rn);
	}
	inject(&lan_if, f[1].b, f[1].n);
	inject_padded(&lan_if, f[0].b, f[0].n, 46);
	pk_free(&f[0]);
	pk_free(&f[1]);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		check_translated(caps[0].b, caps[0].n, &big, WAN, 5000, R1, 5001);
	pk_free(&big);

	/* WAN MTU 576: a 1400-byte datagram (DF clear) is translated, then fragmented to fit. */
	cap_clear();
	wan_if.mtu = 576;
	big = big_udp(H2, 5000, R1, 5001, 1372, 5);
	CHECK(big.n == 1400);
	inject(&lan_if, big.b, big.n);
	d = reassemble(&wan_if, &len, &got);
	CHECK(d != NULL && got == 3);
	if (d)
		check_translated(d, len, &big, WAN, 5000, R1, 5001);
	free(d);
	pk_free(&big);
	/* Fragments in, reassembled, translated, and refragmented smaller still. */
	cap_clear();
	big = big_udp(H2, 5000, R1, 5001, 2000, 6);
	nf = fragment(big.b, big.n, 1480, f, 8);
	send_frags(&lan_if, f, nf, (int[]){ 1, 0 });
	d = reassemble(&wan_if, &len, &got);
	CHECK(d != NULL && got == 4);
	if (d)
		check_translated(d, len, &big, WAN, 5000, R1, 5001);
	free(d);
	pk_free(&big);
	wan_if.mtu = 1500;

	/* A datagram never completed: lwIP lets it go after IP_REASS_MAXAGE; nothing goes out the WAN. */
	cap_clear();
	big = big_udp(H2, 5000, R1, 5001, 2000, 7);
	nf = fragment(big.b, big.n, 1480, f, 8);
	inject(&lan_if, f[0].b, f[0].n);
	pk_free(&f[0]);
	pk_free(&f[1]);
	CHECK(lwip_stats.memp[MEMP_REASSDATA]->used == 1);
	advance(20000);
	CHECK(lwip_stats.memp[MEMP_REASSDATA]->used == 0);
	CHECK(count_on(&wan_if) == 0);
	pk_free(&big);
	cap_clear();
}

static void test_ttl(void)
{
	/* TTL 1 outbound: time exceeded to the LAN host, quoting the packet as it was sent. */
	cap_clear();
	struct pk p = mk_udp(H2, 5002, R1, 53);
	p.b[8] = 1;
	ip_fill_csum(p.b);
	inject(&lan_if, p.b, p.n);
	CHECK(count_on(&wan_if) == 0);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	if (ncap == 1) {
		const uint8_t *e = caps[0].b;
		size_t n = caps[0].n;
		CHECK(all_ok(e, n) && proto_of(e) == T_ICMP && e[20] == 11 && e[21] == 0);
		CHECK(src_of(e) == LAN && dst_of(e) == H2);
		CHECK(n == 20 + 8 + 28 && memcmp(e + 28, p.b, 28) == 0);   /* the original: H2:5002, TTL 1 */
	}
	pk_free(&p);
	/* TTL 1 inbound on a live flow: time exceeded to the remote, quoting what it sent (WAN address). */
	cap_clear();
	p = mk_udp(R1, 53, WAN, 5000);
	p.b[8] = 1;
	ip_fill_csum(p.b);
	inject(&wan_if, p.b, p.n);
	CHECK(count_on(&lan_if) == 0);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		const uint8_t *e = caps[0].b;
		CHECK(all_ok(e, caps[0].n) && e[20] == 11 && src_of(e) == WAN && dst_of(e) == R1);
		CHECK(memcmp(e + 28, p.b, 28) == 0);
	}
	pk_free(&p);
	/* With IP options the quote is the whole header and 8 bytes (RFC 792), not a fixed 28. */
	cap_clear();
	p = mk_udp_opt(H2, 5003, R1, 53, 13, 0, 8);
	p.b[8] = 1;
	ip_fill_csum(p.b);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1 && count_on(&wan_if) == 0);
	if (ncap == 1) {
		const uint8_t *e = caps[0].b;
		CHECK(all_ok(e, caps[0].n) && e[20] == 11 && dst_of(e) == H2);
		CHECK(caps[0].n == 20 + 8 + 28 + 8 && memcmp(e + 28, p.b, 36) == 0);
	}
	pk_free(&p);
	/* An echo request with TTL 1 gets time exceeded too (traceroute -I), unlike lwIP's forwarding. */
	cap_clear();
	p = mk_echo(H2, R1, 8, 77, 1, 0);
	p.b[8] = 1;
	ip_fill_csum(p.b);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1 && caps[0].b[20] == 11 && count_on(&wan_if) == 0);
	pk_free(&p);
	/* TTL 2 goes through with TTL 1. */
	cap_clear();
	p = mk_udp(H2, 5002, R1, 53);
	p.b[8] = 2;
	ip_fill_csum(p.b);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1 && caps[0].b[8] == 1 && all_ok(caps[0].b, caps[0].n));
	pk_free(&p);
	/* No error about an ICMP error. */
	cap_clear();
	{
		struct pk q = mk_udp(R1, 53, H2, 5002);
		p = mk_icmp_err(H2, R1, 3, 3, q.b, 28);
		p.b[8] = 1;
		ip_fill_csum(p.b);
		inject(&lan_if, p.b, p.n);
		CHECK(ncap == 0);
		pk_free(&q);
		pk_free(&p);
	}
	cap_clear();
}

static void test_df(void)
{
	cap_clear();
	wan_if.mtu = 576;
	struct pk p = mk_udp_opt(H2, 5003, R1, 53, 972, 0, 0);   /* 1000 bytes, DF set */
	inject(&lan_if, p.b, p.n);
	CHECK(count_on(&wan_if) == 0);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	if (ncap == 1) {
		const uint8_t *e = caps[0].b;
		CHECK(all_ok(e, caps[0].n) && e[20] == 3 && e[21] == 4);
		CHECK(src_of(e) == LAN && dst_of(e) == H2);
		CHECK(memcmp(e + 28, p.b, 28) == 0);   /* quoting the original */
		CHECK(g16(e + 26) == 576);              /* RFC 1191: the next-hop MTU */
	}
	pk_free(&p);
	/* Fits: goes through. */
	cap_clear();
	p = mk_udp_opt(H2, 5003, R1, 53, 548, 0, 0);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	pk_free(&p);
	wan_if.mtu = 1500;
	cap_clear();
}

static void test_hairpin(void)
{
	cap_clear();
	struct napt_forward f;
	memset(&f, 0, sizeof(f));
	f.proto = T_TCP;
	f.ext_port = f.ext_end = 8080;
	f.in_port = 80;
	f.in_addr = H2;
	CHECK(napt_forward_add(&f) == NAPT_FORWARD_OK);
	struct pk p = mk_tcp(H3, 40000, WAN, 8080, T_SYN, 0);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	uint16_t ext3 = 0;
	if (ncap == 1) {
		const uint8_t *o = caps[0].b;
		CHECK(all_ok(o, caps[0].n) && src_of(o) == WAN && dst_of(o) == H2 && dport_of(o) == 80 && o[8] == 63);
		ext3 = sport_of(o);
	}
	pk_free(&p);
	cap_clear();
	p = mk_tcp(H2, 80, WAN, ext3, T_SYN | T_ACK, 0);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b;
		CHECK(all_ok(o, caps[0].n) && src_of(o) == WAN && sport_of(o) == 8080 && dst_of(o) == H3 && dport_of(o) == 40000 && o[8] == 63);
	}
	pk_free(&p);
	/* From outside, the same forward. */
	cap_clear();
	p = mk_tcp(R1, 50000, WAN, 8080, T_SYN, 0);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1 && dst_of(caps[0].b) == H2 && dport_of(caps[0].b) == 80);
	pk_free(&p);
	cap_clear();
}

/* The router's own traffic is left to lwIP: a ping to its WAN address is answered. */
static void test_local(void)
{
	cap_clear();
	struct pk p = mk_echo(R1, WAN, 8, 99, 1, 16);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		CHECK(all_ok(caps[0].b, caps[0].n) && caps[0].b[20] == 0 && dst_of(caps[0].b) == R1 && src_of(caps[0].b) == WAN);
	pk_free(&p);
	cap_clear();
	p = mk_echo(H2, LAN, 8, 99, 1, 16);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	pk_free(&p);
	cap_clear();
	CHECK(router_hook_ip4_packets[ROUTER_PORT_WAN] > 0 && router_hook_ip4_packets[ROUTER_PORT_LAN] > 0);
}

/* Datagrams the router's own pcbs received, by the port they were for. */
static int heard[3];

static void on_heard(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	(void)arg;
	(void)addr;
	(void)port;
	if (pcb->local_port >= 1900 && pcb->local_port <= 1902)
		heard[pcb->local_port - 1900]++;
	pbuf_free(p);
}

static struct udp_pcb *listen_udp(uint16_t port, struct netif *netif)
{
	struct udp_pcb *pcb = udp_new();
	CHECK(pcb != NULL);
	if (!pcb)
		return NULL;
	CHECK(udp_bind(pcb, IP_ANY_TYPE, port) == ERR_OK);
	udp_bind_netif(pcb, netif);
	udp_recv(pcb, on_heard, NULL);
	return pcb;
}

static uint64_t unsolicited(void)
{
	struct napt_stats s;
	napt_get_stats(&s);
	return s.dropped[NAPT_DROP_UNSOLICITED];
}

/*
 * A pcb tied to the LAN netif (SSDP on 1900) is not the router's on the WAN:
 * a datagram to that port there is unsolicited and dropped without a port
 * unreachable, and the port number is free for NAPT to hand out. Tied to
 * the WAN netif or to none, the port is the router's on the WAN.
 */
static void test_local_port(void)
{
	struct udp_pcb *lan_pcb = listen_udp(1900, &lan_if);
	struct udp_pcb *wan_pcb = listen_udp(1901, &wan_if);
	struct udp_pcb *any_pcb = listen_udp(1902, NULL);
	uint64_t dropped = unsolicited();
	struct pk p;
	cap_clear();

	p = mk_udp(R1, 1900, WAN, 1900);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 0 && heard[0] == 0 && unsolicited() == dropped + 1);
	pk_free(&p);
	p = mk_udp(H2, 1900, LAN, 1900);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 0 && heard[0] == 1);
	pk_free(&p);
	/* A LAN host keeps its own port 1900 outside; the reply is its, not the router's. */
	p = mk_udp(H3, 1900, R1, 1900);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1 && sport_of(caps[0].b) == 1900);
	pk_free(&p);
	cap_clear();
	p = mk_udp(R1, 1900, WAN, 1900);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1 && dst_of(caps[0].b) == H3 && dport_of(caps[0].b) == 1900 && heard[0] == 1);
	pk_free(&p);
	cap_clear();

	/* The WAN's or no netif: the router's port; reached from the WAN, never handed out. */
	for (uint16_t port = 1901; port <= 1902; port++) {
		p = mk_udp(R1, 1900, WAN, port);
		inject(&wan_if, p.b, p.n);
		CHECK(ncap == 0 && heard[port - 1900] == 1);
		pk_free(&p);
		p = mk_udp(H2, port, R1, 1900);
		inject(&lan_if, p.b, p.n);
		CHECK(ncap == 1 && count_on(&wan_if) == 1 && sport_of(caps[0].b) != port);
		pk_free(&p);
		cap_clear();
	}
	CHECK(unsolicited() == dropped + 1);
	struct udp_pcb *pcbs[] = { lan_pcb, wan_pcb, any_pcb };
	for (size_t i = 0; i < sizeof(pcbs) / sizeof(pcbs[0]); i++)
		if (pcbs[i])
			udp_remove(pcbs[i]);
}

static void check_no_leak(const char *when)
{
	static const int pools[] = { MEMP_PBUF, MEMP_PBUF_POOL, MEMP_REASSDATA, MEMP_FRAG_PBUF };
	for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
		if (lwip_stats.memp[pools[i]]->used != 0)
			fprintf(stderr, "%s: pool %d has %u in use\n", when, pools[i], (unsigned)lwip_stats.memp[pools[i]]->used);
		CHECK(lwip_stats.memp[pools[i]]->used == 0);
		CHECK(lwip_stats.memp[pools[i]]->err == 0);
	}
	CHECK(lwip_stats.mem.used == 0);
}

int main(void)
{
	ip4_addr_t a, m, g;
	struct napt_config c;

	lwip_init();
	IP4_ADDR(&m, 255, 255, 255, 0);
	IP4_ADDR(&a, 198, 51, 100, 10);
	IP4_ADDR(&g, 198, 51, 100, 1);
	CHECK(netif_add(&wan_if, &a, &m, &g, NULL, if_init, ip4_input) != NULL);
	IP4_ADDR(&a, 192, 168, 4, 1);
	CHECK(netif_add(&lan_if, &a, &m, IP4_ADDR_ANY4, NULL, if_init, ip4_input) != NULL);
	netif_set_default(&wan_if);
	netif_set_up(&wan_if);
	netif_set_up(&lan_if);
	netif_set_link_up(&wan_if);
	netif_set_link_up(&lan_if);

	napt_default_config(&c);
	CHECK(!napt_lwip_running());
	CHECK(napt_lwip_start(&c) == 0);
	CHECK(napt_lwip_running() && napt_lwip_start(&c) == -1);
	CHECK(napt_lwip_now() == 1);
	check_no_leak("start");

	test_udp_through();
	check_no_leak("udp");
	test_fragments();
	check_no_leak("fragments");
	test_ttl();
	check_no_leak("ttl");
	test_df();
	check_no_leak("df");
	test_hairpin();
	check_no_leak("hairpin");
	test_local();
	check_no_leak("local");
	test_local_port();
	check_no_leak("local port");
	advance(5000);
	CHECK(napt_lwip_now() >= 26);
	check_no_leak("end");
	cap_clear();
	return check_report("napt_lwip_test");
}
