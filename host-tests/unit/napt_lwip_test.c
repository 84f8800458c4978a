/*
 * NAPT behind real lwIP 2.1.3 (the sim's lwipopts.h, our input hook
 * router_hooks.c and napt_lwip.c as they are), under AddressSanitizer and
 * UBSan. Two netifs without Ethernet: input is ip4_input, output captures
 * the IP packet. Shows what the glue adds to the core: TTL handling,
 * reassembly and refragmentation, ICMP errors quoting the packet as it
 * arrived, hairpinning out the LAN port, and no pbuf leaked.
 *
 * Then the SIP ALG on the same path (sipalg_lwip.c behind napt_lwip.c's ALG
 * hook, with the real message, dialog and TCP layers): the bytes that
 * leave for a SIP message each way, pinholes in the table, messages left
 * alone (too big once rewritten, unparseable), SIP over TCP with lengths
 * changing and sequence numbers kept consistent, and the ALG switched off.
 */
#include "rig_ports.h"
#include "check.h"
#include "napt_pkt.h"
#include "napt_lwip.h"
#include "sipalg.h"
#include "ports.h"
#include "router_hooks.h"
#include "router_ethernet.h"

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

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

/*
 * A ping to the WAN address from an impossible source (RFC 1812 5.3.7) is
 * dropped in the hook, before lwIP can answer it, and counted as martian.
 */
static void test_martians(void)
{
	const uint32_t bad[] = { A(127, 0, 0, 1), A(0, 0, 0, 0), A(192, 168, 4, 7), A(224, 0, 0, 1), A(255, 255, 255, 255) };
	struct napt_stats s0, s1;
	napt_get_stats(&s0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cap_clear();
		struct pk p = mk_echo(bad[i], WAN, 8, 99, 1, 16);
		inject(&wan_if, p.b, p.n);
		CHECK(ncap == 0);
		pk_free(&p);
	}
	napt_get_stats(&s1);
	CHECK(s1.dropped[NAPT_DROP_MARTIAN] == s0.dropped[NAPT_DROP_MARTIAN] + sizeof bad / sizeof bad[0]);
	/* A real remote still gets its answer. */
	cap_clear();
	struct pk p = mk_echo(R1, WAN, 8, 99, 2, 16);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	pk_free(&p);
	cap_clear();
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

/* ------------------------------------------------------------------ */
/* The SIP ALG.                                                        */

/* Where `needle` first is in n bytes of `h`, or NULL. */
static const uint8_t *find(const uint8_t *h, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (!memcmp(h + i, needle, k))
			return h + i;
	return NULL;
}

static int has_text(const uint8_t *h, size_t n, const char *needle)
{
	return find(h, n, needle) != NULL;
}

/* The number after `label` (as "m=audio "), or -1. */
static long number_after(const uint8_t *h, size_t n, const char *label)
{
	const uint8_t *p = find(h, n, label);
	long v = 0;
	int digits = 0;
	if (!p)
		return -1;
	for (p += strlen(label); p < h + n && *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
		v = v * 10 + (*p - '0');
	return digits ? v : -1;
}

/* A SIP message: the start line and headers, a Content-Length for the body, the body. */
static size_t sip_text(char *out, size_t cap, const char *head, const char *body)
{
	int n = snprintf(out, cap, "%sContent-Length: %zu\r\n\r\n%s", head, strlen(body), body);
	CHECK(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* A UDP datagram carrying `len` bytes of `payload` (DF set, TTL 64). */
static struct pk mk_udp_data(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, const void *payload, size_t len)
{
	uint8_t b[4096];
	size_t n = 28 + len;
	CHECK(n <= sizeof(b));
	ip_hdr(b, 0, (uint16_t)n, T_UDP, src, dst);
	s16(b + 20, sport);
	s16(b + 22, dport);
	s16(b + 24, (uint16_t)(8 + len));
	memcpy(b + 28, payload, len);
	l4_fill_csum(b, n, 0);
	ip_fill_csum(b);
	return pk_exact(b, n);
}

/* Sequence numbers: big-endian (napt_pkt.h's g32/s32 keep addresses as they lie). */
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A TCP segment with a 20-byte header, or 24 with SACK-permitted (on a SYN). */
static struct pk mk_tcp_data(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq, uint32_t ack,
                             uint8_t flags, const void *payload, size_t len)
{
	uint8_t b[4096];
	unsigned thl = (flags & T_SYN) ? 24 : 20;
	size_t n = 20 + thl + len;
	CHECK(n <= sizeof(b));
	ip_hdr(b, 0, (uint16_t)n, T_TCP, src, dst);
	uint8_t *t = b + 20;
	memset(t, 0, thl);
	s16(t, sport);
	s16(t + 2, dport);
	put_be32(t + 4, seq);
	put_be32(t + 8, ack);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	s16(t + 14, 65535);
	if (thl == 24) {
		t[20] = 4;   /* SACK permitted */
		t[21] = 2;
		t[22] = 1;   /* NOP NOP */
		t[23] = 1;
	}
	if (len)
		memcpy(t + thl, payload, len);
	l4_fill_csum(b, n, 0);
	ip_fill_csum(b);
	return pk_exact(b, n);
}

static unsigned tcp_hlen(const uint8_t *b)
{
	return (unsigned)(b[20 + 12] >> 4) * 4u;
}

static struct sipalg_stats alg_stats(void)
{
	struct sipalg_stats s;
	sipalg_get_stats(&s);
	return s;
}

/* The SIP forward (pinhole) on a UDP port, or NULL. */
static const struct napt_forward *pinhole(long port)
{
	const struct napt_forward *f = port > 0 && port < 65536 ? napt_forward_find(T_UDP, (uint16_t)port) : NULL;
	return f && f->origin == NAPT_ORIGIN_SIP ? f : NULL;
}

static unsigned sip_forwards(void)
{
	unsigned n = 0;
	for (uint32_t i = 0; napt_forward_at(i); i++)
		n += napt_forward_at(i)->origin == NAPT_ORIGIN_SIP;
	return n;
}

/* The body's length matches its Content-Length. */
static int content_length_ok(const uint8_t *m, size_t n)
{
	const uint8_t *end = find(m, n, "\r\n\r\n");
	long cl = number_after(m, n, "Content-Length: ");
	return end && cl >= 0 && (size_t)cl == n - (size_t)(end + 4 - m);
}

#define INVITE_SDP \
	"v=0\r\n" \
	"o=alice 2890844526 2890844526 IN IP4 192.168.4.2\r\n" \
	"s=-\r\n" \
	"c=IN IP4 192.168.4.2\r\n" \
	"t=0 0\r\n" \
	"m=audio 8000 RTP/AVP 0\r\n" \
	"a=rtpmap:0 PCMU/8000\r\n" \
	"m=video 8002 RTP/AVP 31\r\n" \
	"a=rtpmap:31 H261/90000\r\n"

static size_t invite_via(char *out, size_t cap, const char *call_id, const char *branch, const char *transport, unsigned port)
{
	char head[1024];
	snprintf(head, sizeof(head),
	         "INVITE sip:bob@203.0.113.5 SIP/2.0\r\n"
	         "Via: SIP/2.0/%s 192.168.4.2:%u;branch=%s;rport\r\n"
	         "Max-Forwards: 70\r\n"
	         "To: <sip:bob@203.0.113.5>\r\n"
	         "From: <sip:alice@192.168.4.2>;tag=1928301774\r\n"
	         "Call-ID: %s\r\n"
	         "CSeq: 1 INVITE\r\n"
	         "Contact: <sip:alice@192.168.4.2:%u>\r\n"
	         "Content-Type: application/sdp\r\n",
	         transport, port, branch, call_id, port);
	return sip_text(out, cap, head, INVITE_SDP);
}

static size_t invite(char *out, size_t cap, const char *call_id, const char *branch)
{
	return invite_via(out, cap, call_id, branch, "UDP", 5060);
}

/* The Via line of a captured message, CRLF excluded, into out. */
static void via_line(const uint8_t *m, size_t n, char *out, size_t cap)
{
	const uint8_t *v = find(m, n, "Via: "), *e;
	out[0] = 0;
	if (!v)
		return;
	e = find(v, n - (size_t)(v - m), "\r\n");
	if (e && (size_t)(e - v) < cap) {
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = 0;
	}
}

/*
 * A connection to the router (UPnP, DNS over TCP) whose peer sends past a
 * gap: lwIP queues what arrives out of order, a receive buffer per segment.
 * Unbounded, one LAN host sending a byte per segment after a loss took the
 * whole PBUF_POOL (every port receives into it) and stopped all forwarding;
 * the board's ESP-IDF caps it at CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS (4) per
 * connection, and the simulator's lwipopts.h must do the same.
 */
static struct tcp_pcb *gAccepted;
static unsigned gReceived;

static err_t ooseq_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p) {
		gReceived += p->tot_len;
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
	}
	return ERR_OK;
}

static err_t ooseq_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	(void)err;
	gAccepted = pcb;
	tcp_recv(pcb, ooseq_recv);
	return ERR_OK;
}

static unsigned ooseq_pbufs(const struct tcp_pcb *pcb)
{
	unsigned n = 0;
	for (const struct tcp_seg *s = pcb->ooseq; s; s = s->next)
		n += pbuf_clen(s->p);
	return n;
}

static void test_tcp_ooseq_bound(void)
{
	struct tcp_pcb *l = tcp_new();
	ip_addr_t lan;
	ip_addr_set_ip4_u32(&lan, LAN);
	CHECK(l && tcp_bind(l, &lan, 5000) == ERR_OK);
	struct tcp_pcb *listener = l ? tcp_listen(l) : NULL;
	CHECK(listener != NULL);
	if (!listener)
		return;
	tcp_accept(listener, ooseq_accept);
	cap_clear();

	struct pk p = mk_tcp_data(H2, 40000, LAN, 5000, 1000, 0, T_SYN, NULL, 0);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && ncap && (caps[0].b[33] & (T_SYN | T_ACK)) == (T_SYN | T_ACK));
	uint32_t iss = ncap ? be32(caps[0].b + 24) : 0;
	cap_clear();
	p = mk_tcp_data(H2, 40000, LAN, 5000, 1001, iss + 1, T_ACK, NULL, 0);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(gAccepted != NULL);
	if (!gAccepted) {
		tcp_close(listener);
		return;
	}

	/* The byte at 1001 is lost; 40 one-byte segments after it arrive. */
	unsigned pool_before = lwip_stats.memp[MEMP_PBUF_POOL]->used;
	for (uint32_t i = 1; i <= 40; i++) {
		p = mk_tcp_data(H2, 40000, LAN, 5000, 1001 + i, iss + 1, T_ACK | T_PSH, "x", 1);
		inject(&lan_if, p.b, p.n);
		pk_free(&p);
	}
	CHECK(ooseq_pbufs(gAccepted) <= 4);
	CHECK(lwip_stats.memp[MEMP_PBUF_POOL]->used <= pool_before + 4);
	/* The lost byte arrives: it and what was kept after it are delivered in order. */
	p = mk_tcp_data(H2, 40000, LAN, 5000, 1001, iss + 1, T_ACK | T_PSH, "x", 1);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(gReceived >= 1 && gReceived <= 5 && gAccepted->ooseq == NULL);
	tcp_abort(gAccepted);
	gAccepted = NULL;
	tcp_close(listener);
	cap_clear();
}

static uint16_t gSipExt;       /* the phone's external SIP port */
static long gAudioExt;          /* the external port its INVITE's audio got */

/* LAN -> WAN: an INVITE with audio and video leaves with the WAN address, its media ports pinholes. */
/*
 * An Ethernet LAN: a translated packet to an address ARP has never resolved
 * may start only a few resolutions a second (4 at once, 2 a second after);
 * once the address answers ARP it is never held back again.
 */
static void test_unresolved(void)
{
	const uint32_t host = A(192, 168, 4, 77);
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x4d, 0x77 };
	struct napt_forward f;
	struct napt_stats before, after;
	uint8_t arp[28];
	struct pbuf *q;
	int passed = 0;
	cap_clear();
	memset(&f, 0, sizeof(f));
	f.proto = T_UDP;
	f.ext_port = f.ext_end = 7777;
	f.in_port = 7777;
	f.in_addr = host;
	CHECK(napt_forward_add(&f) == NAPT_FORWARD_OK);
	lan_if.flags |= NETIF_FLAG_ETHARP;
	lan_if.hwaddr_len = 6;
	napt_get_stats(&before);
	for (int i = 0; i < 10; i++) {
		struct pk p = mk_udp(R1, (uint16_t)(40000 + i), WAN, 7777);
		cap_clear();
		inject(&wan_if, p.b, p.n);
		passed += count_on(&lan_if);
		pk_free(&p);
	}
	napt_get_stats(&after);
	CHECK(passed == 4);
	CHECK(after.dropped[NAPT_DROP_UNRESOLVED] - before.dropped[NAPT_DROP_UNRESOLVED] == 6);

	/* The host answers the router's ARP: an entry, and from then on everything passes. */
	memset(arp, 0, sizeof(arp));
	arp[1] = 1;                  /* Ethernet */
	arp[2] = 0x08;               /* IPv4 */
	arp[4] = 6;
	arp[5] = 4;
	arp[7] = 2;                  /* reply */
	memcpy(arp + 8, mac, 6);
	memcpy(arp + 14, &host, 4);
	memcpy(arp + 18, lan_if.hwaddr, 6);
	memcpy(arp + 24, &lan_if.ip_addr, 4);
	q = pbuf_alloc(PBUF_RAW, sizeof(arp), PBUF_POOL);
	CHECK(q != NULL);
	if (q) {
		pbuf_take(q, arp, sizeof(arp));
		etharp_input(q, &lan_if);
	}
	passed = 0;
	for (int i = 0; i < 10; i++) {
		struct pk p = mk_udp(R1, (uint16_t)(41000 + i), WAN, 7777);
		cap_clear();
		inject(&wan_if, p.b, p.n);
		passed += count_on(&lan_if);
		pk_free(&p);
	}
	CHECK(passed == 10);
	/* Its entry gone (it times out, or is pushed out): still not held back. */
	etharp_cleanup_netif(&lan_if);
	passed = 0;
	for (int i = 0; i < 10; i++) {
		struct pk p = mk_udp(R1, (uint16_t)(42000 + i), WAN, 7777);
		cap_clear();
		inject(&wan_if, p.b, p.n);
		passed += count_on(&lan_if);
		pk_free(&p);
	}
	CHECK(passed == 10);
	lan_if.flags &= (u8_t)~NETIF_FLAG_ETHARP;
	CHECK(napt_forward_remove(T_UDP, 7777) == NAPT_FORWARD_OK);
	cap_clear();
}

static void test_sip_invite_out(void)
{
	char text[2048];
	size_t len = invite(text, sizeof(text), "a84b4c76e66710@192.168.4.2", "z9hG4bK776asdhds");
	struct sipalg_stats before = alg_stats();
	cap_clear();
	struct pk p = mk_udp_data(H2, 5060, R1, 5060, text, len);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b, *m = o + 28;
		size_t n = caps[0].n - 28u;
		CHECK(all_ok(o, caps[0].n));                 /* IP and UDP checksums */
		CHECK(g16(o + 2) == caps[0].n && g16(o + 24) == n + 8);
		CHECK(o[8] == 63);                           /* TTL taken down, as ip4_forward would */
		CHECK(src_of(o) == WAN && dst_of(o) == R1 && dport_of(o) == 5060);
		gSipExt = sport_of(o);
		CHECK(n > len);                              /* 192.168.4.2 -> 198.51.100.10, several times */
		CHECK(has_text(m, n, "Call-ID: a84b4c76e66710@192.168.4.2\r\n"));   /* opaque: never rewritten */
		CHECK(!has_text(find(m, n, "CSeq:"), n - (size_t)(find(m, n, "CSeq:") - m), "192.168.4.2"));
		CHECK(has_text(m, n, "Via: SIP/2.0/UDP 198.51.100.10"));
		CHECK(has_text(m, n, "Contact: <sip:alice@198.51.100.10"));
		CHECK(has_text(m, n, "From: <sip:alice@198.51.100.10>;tag=1928301774"));
		CHECK(has_text(m, n, "o=alice 2890844526 2890844526 IN IP4 198.51.100.10\r\n"));
		CHECK(has_text(m, n, "c=IN IP4 198.51.100.10\r\n"));
		CHECK(has_text(m, n, "INVITE sip:bob@203.0.113.5 SIP/2.0\r\n"));   /* a public address: left alone */
		CHECK(content_length_ok(m, n));
		long audio = number_after(m, n, "m=audio "), video = number_after(m, n, "m=video ");
		const struct napt_forward *fa = pinhole(audio), *fv = pinhole(video);
		CHECK(fa != NULL && fv != NULL);
		if (fa)
			CHECK(fa->ext_port == audio && fa->in_addr == H2 && fa->in_port == 8000 && fa->expires != 0);
		if (fv)
			CHECK(fv->ext_port == video && fv->in_addr == H2 && fv->in_port == 8002);
		gAudioExt = audio;
	}
	struct sipalg_stats after = alg_stats();
	CHECK(after.messages == before.messages + 1 && after.rewritten == before.rewritten + 1);
	CHECK(after.dialog.dialogs == 1 && after.dialog.pinholes >= 2);
	pk_free(&p);
	cap_clear();

	/* The same call from H3, the datagram split over a pbuf chain (the headers alone in the first). */
	len = invite(text, sizeof(text), "chained@192.168.4.3", "z9hG4bKchain");
	for (char *q = text; (q = strstr(q, "192.168.4.2")) != NULL; q++)
		q[10] = '3';
	p = mk_udp_data(H3, 5060, R1, 5060, text, len);
	struct pbuf *head = pbuf_alloc(PBUF_RAW, 28, PBUF_RAM), *rest = pbuf_alloc(PBUF_RAW, (u16_t)(p.n - 28), PBUF_RAM);
	CHECK(head && rest);
	if (head && rest) {
		pbuf_cat(head, rest);
		CHECK(pbuf_take(head, p.b, p.n) == ERR_OK);
		lan_if.input(head, &lan_if);
		CHECK(ncap == 1 && count_on(&wan_if) == 1);
		if (ncap == 1) {
			const uint8_t *m = caps[0].b + 28;
			size_t n = caps[0].n - 28u;
			CHECK(all_ok(caps[0].b, caps[0].n) && n > len && has_text(m, n, "c=IN IP4 198.51.100.10\r\n"));
			const struct napt_forward *f = pinhole(number_after(m, n, "m=audio "));
			CHECK(f && f->in_addr == H3 && f->in_port == 8000 && f->ext_port != 8000);   /* H2 holds 8000 */
		}
	}
	else {
		if (head)
			pbuf_free(head);
		if (rest)
			pbuf_free(rest);
	}
	pk_free(&p);
	cap_clear();
}

/* WAN -> LAN: the 200 OK names the WAN address; the phone gets its own back. Media then reaches it. */
static void test_sip_ok_in(void)
{
	char head[1024], text[2048];
	char via[256];
	struct pk p;
	/* What the far end echoes: the Via as the INVITE left (sent again to see it). */
	{
		char inv[2048];
		size_t len = invite(inv, sizeof(inv), "a84b4c76e66710@192.168.4.2", "z9hG4bK776asdhds");
		cap_clear();
		p = mk_udp_data(H2, 5060, R1, 5060, inv, len);
		inject(&lan_if, p.b, p.n);
		pk_free(&p);
		CHECK(ncap == 1);
		if (ncap != 1)
			return;
		via_line(caps[0].b + 28, caps[0].n - 28u, via, sizeof(via));
		CHECK(has_text((const uint8_t *)via, strlen(via), "198.51.100.10"));
		/* A retransmission: the same external media ports again. */
		CHECK(number_after(caps[0].b + 28, caps[0].n - 28u, "m=audio ") == gAudioExt);
	}
	snprintf(head, sizeof(head),
	         "SIP/2.0 200 OK\r\n"
	         "%s\r\n"
	         "To: <sip:bob@203.0.113.5>;tag=a6c85cf\r\n"
	         "From: <sip:alice@198.51.100.10>;tag=1928301774\r\n"
	         "Call-ID: a84b4c76e66710@192.168.4.2\r\n"
	         "CSeq: 1 INVITE\r\n"
	         "Contact: <sip:bob@203.0.113.5>\r\n"
	         "Content-Type: application/sdp\r\n",
	         via);
	size_t len = sip_text(text, sizeof(text), head,
	                      "v=0\r\no=bob 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
	                      "m=audio 9000 RTP/AVP 0\r\nm=video 9002 RTP/AVP 31\r\n");
	cap_clear();
	p = mk_udp_data(R1, 5060, WAN, gSipExt, text, len);
	inject(&wan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b, *m = o + 28;
		size_t n = caps[0].n - 28u;
		CHECK(all_ok(o, caps[0].n) && o[8] == 63);
		CHECK(src_of(o) == R1 && dst_of(o) == H2 && dport_of(o) == 5060);
		CHECK(has_text(m, n, "Via: SIP/2.0/UDP 192.168.4.2"));
		CHECK(has_text(m, n, "From: <sip:alice@192.168.4.2>;tag=1928301774"));
		CHECK(!has_text(m, n, "198.51.100.10"));
		CHECK(has_text(m, n, "c=IN IP4 203.0.113.5\r\n") && has_text(m, n, "m=audio 9000 "));   /* their SDP: untouched */
		CHECK(content_length_ok(m, n));
	}
	pk_free(&p);
	uint32_t cursor = 0;
	struct sip_dialog_info d;
	int found = 0, dialogs = 0;
	while (dialogs < 16 && sip_dialog_next(&cursor, napt_lwip_now(), &d)) {
		dialogs++;
		if (!strcmp(d.call_id, "a84b4c76e66710@192.168.4.2")) {
			found++;
			CHECK(d.confirmed && d.inside_addr == H2 && d.remote_addr == R1 && d.streams == 2);
		}
		else
			CHECK(!d.confirmed && d.inside_addr == H3);   /* the chained one: no answer yet */
	}
	CHECK(found == 1 && dialogs == 2);

	/* RTP from the far end to the advertised port reaches the phone's own port. */
	cap_clear();
	if (gAudioExt > 0) {
		p = mk_udp(R1, 9000, WAN, (uint16_t)gAudioExt);
		inject(&wan_if, p.b, p.n);
		CHECK(ncap == 1 && count_on(&lan_if) == 1);
		if (ncap == 1)
			CHECK(all_ok(caps[0].b, caps[0].n) && dst_of(caps[0].b) == H2 && dport_of(caps[0].b) == 8000);
		pk_free(&p);
	}
	cap_clear();
}

/* A rewrite that would no longer fit the WAN's MTU is not made: the message leaves as it came. */
static void test_sip_too_big(void)
{
	char text[2048];
	size_t len = invite(text, sizeof(text), "bigcall-1@192.168.4.2", "z9hG4bKbig");
	struct sipalg_stats before = alg_stats();
	unsigned forwards = sip_forwards();
	struct pk p = mk_udp_data(H2, 5060, R1, 5060, text, len);
	cap_clear();
	wan_if.mtu = p.n;   /* fits as it is, DF and all; two bytes more per address would not */
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		CHECK(caps[0].n == p.n && all_ok(caps[0].b, caps[0].n));
		CHECK(memcmp(caps[0].b + 28, p.b + 28, len) == 0);
		CHECK(src_of(caps[0].b) == WAN && caps[0].b[8] == 63);
	}
	struct sipalg_stats after = alg_stats();
	CHECK(after.too_big == before.too_big + 1 && after.rewritten == before.rewritten);
	CHECK(sip_forwards() == forwards);   /* no pinholes for media the far end will not hear of */
	wan_if.mtu = 1500;
	pk_free(&p);
	cap_clear();
}

/* What the ALG cannot read goes on byte for byte. */
static void test_sip_malformed(void)
{
	static const char *const bad[] = {
		"INVITE sip:bob@203.0.113.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.4.2:5060\rCall-ID: x\r\n\r\n",   /* bare CR */
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 192.168.4.2 not SIP at all",
		"INVITE sip:bob@203.0.113.5 SIP/2.0\r\nContent-Length: 500\r\n\r\nv=0\r\nc=IN IP4 192.168.4.2\r\n",   /* body cut short */
		"SIP/2.0 2000 OK\r\nVia: SIP/2.0/UDP 192.168.4.2\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sipalg_stats before = alg_stats();
		size_t len = strlen(bad[i]);
		struct pk p = mk_udp_data(H2, 5060, R1, 5060, bad[i], len);
		cap_clear();
		inject(&lan_if, p.b, p.n);
		CHECK(ncap == 1 && count_on(&wan_if) == 1);
		if (ncap == 1)
			CHECK(caps[0].n == p.n && all_ok(caps[0].b, caps[0].n) && memcmp(caps[0].b + 28, p.b + 28, len) == 0);
		struct sipalg_stats after = alg_stats();
		CHECK(after.unparseable == before.unparseable + 1);
		pk_free(&p);
	}
	/* A UDP length that disagrees with the IP length: NAPT's to judge, the ALG leaves it alone. */
	cap_clear();
	static const char options[] = "OPTIONS sip:x SIP/2.0\r\n\r\n";
	struct pk p = mk_udp_data(H2, 5060, R1, 5060, options, sizeof(options) - 1);
	s16(p.b + 24, 2000);
	l4_fill_csum(p.b, p.n, 1);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap <= 1 && count_on(&lan_if) == 0);
	if (ncap == 1)
		CHECK(caps[0].n == p.n && memcmp(caps[0].b + 28, p.b + 28, sizeof(options) - 1) == 0);
	pk_free(&p);
	cap_clear();
}

/*
 * SIP over TCP: a SYN with SACK-permitted (taken out), an INVITE and a
 * second request that grow, a response that shrinks; every sequence and
 * acknowledgement number each end sees is consistent with what it sent.
 */
static void test_sip_tcp(void)
{
	const uint32_t isn = 1000000, risn = 7000000;
	char m1[2048], m2[1024], m3[1024], head[1024];
	size_t l1, l2, l3;
	uint16_t ext = 0;
	uint32_t out1_len = 0, out2_len = 0;
	struct pk p;

	/* The phone names the connection's own port in Via and Contact: only that is its endpoint. */
	l1 = invite_via(m1, sizeof(m1), "tcpcall-1", "z9hG4bKtcp1", "TCP", 40000);
	l2 = sip_text(m2, sizeof(m2),
	              "OPTIONS sip:bob@203.0.113.5 SIP/2.0\r\n"
	              "Via: SIP/2.0/TCP 192.168.4.2:40000;branch=z9hG4bKtcp2\r\n"
	              "From: <sip:alice@192.168.4.2>;tag=9\r\nTo: <sip:bob@203.0.113.5>\r\n"
	              "Call-ID: tcpopt-1@192.168.4.2\r\nCSeq: 2 OPTIONS\r\n", "");

	/* SYN out: SACK-permitted gone (NOPs), checksum still right. */
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, isn, 0, T_SYN, NULL, 0);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b;
		CHECK(all_ok(o, caps[0].n) && be32(o + 24) == isn && o[40] == 1 && o[41] == 1);
		ext = sport_of(o);
	}
	cap_clear();
	p = mk_tcp_data(R1, 5060, WAN, ext, risn, isn + 1, T_SYN | T_ACK, NULL, 0);
	inject(&wan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, isn + 1, risn + 1, T_ACK, NULL, 0);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1);

	/* The INVITE grows; it keeps its sequence number (the first edit). */
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, isn + 1, risn + 1, T_ACK | T_PSH, m1, l1);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b, *m = o + 40;
		size_t n = caps[0].n - 40u;
		CHECK(all_ok(o, caps[0].n) && o[8] == 63 && tcp_hlen(o) == 20);
		CHECK(be32(o + 24) == isn + 1 && be32(o + 28) == risn + 1);
		/* From names no port, so the default 5060: not this connection's endpoint, left alone. */
		CHECK(n > l1 && has_text(m, n, "Via: SIP/2.0/TCP 198.51.100.10:") && has_text(m, n, "Contact: <sip:alice@198.51.100.10:"));
		CHECK(has_text(m, n, "c=IN IP4 198.51.100.10\r\n") && !has_text(m + n - 190, 190, "192.168.4.2"));
		CHECK(content_length_ok(m, n) && number_after(m, n, "Content-Length: ") == 190);
		CHECK(pinhole(number_after(m, n, "m=audio ")) != NULL && pinhole(number_after(m, n, "m=video ")) != NULL);
		out1_len = (uint32_t)n;
	}
	/* The far end acknowledges what it got; the phone sees its own bytes acknowledged. */
	cap_clear();
	p = mk_tcp_data(R1, 5060, WAN, ext, risn + 1, isn + 1 + out1_len, T_ACK, NULL, 0);
	inject(&wan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	if (ncap == 1)
		CHECK(all_ok(caps[0].b, caps[0].n) && be32(caps[0].b + 28) == isn + 1 + l1);
	/* The next request follows at the moved sequence number. */
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, isn + 1 + (uint32_t)l1, risn + 1, T_ACK | T_PSH, m2, l2);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b;
		size_t n = caps[0].n - 40u;
		CHECK(all_ok(o, caps[0].n) && be32(o + 24) == isn + 1 + out1_len);
		CHECK(n > l2 && has_text(o + 40, n, "Via: SIP/2.0/TCP 198.51.100.10:"));
		out2_len = (uint32_t)n;
	}
	/* A retransmission of the INVITE: the same bytes at the same sequence number. */
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, isn + 1, risn + 1, T_ACK | T_PSH, m1, l1);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		CHECK(all_ok(caps[0].b, caps[0].n) && be32(caps[0].b + 24) == isn + 1 && caps[0].n - 40u == out1_len);

	/* The far end answers naming the WAN address: shorter for the phone. */
	snprintf(head, sizeof(head),
	         "SIP/2.0 200 OK\r\n"
	         "Via: SIP/2.0/TCP 198.51.100.10:%u;branch=z9hG4bKtcp2\r\n"
	         "From: <sip:alice@198.51.100.10>;tag=9\r\nTo: <sip:bob@203.0.113.5>;tag=5\r\n"
	         "Call-ID: tcpopt-1@192.168.4.2\r\nCSeq: 2 OPTIONS\r\n", ext);
	l3 = sip_text(m3, sizeof(m3), head, "");
	cap_clear();
	p = mk_tcp_data(R1, 5060, WAN, ext, risn + 1, isn + 1 + out1_len + out2_len, T_ACK | T_PSH, m3, l3);
	inject(&wan_if, p.b, p.n);
	pk_free(&p);
	uint32_t in_len = 0;
	CHECK(ncap == 1 && count_on(&lan_if) == 1);
	if (ncap == 1) {
		const uint8_t *o = caps[0].b;
		size_t n = caps[0].n - 40u;
		CHECK(all_ok(o, caps[0].n) && dst_of(o) == H2 && dport_of(o) == 40000);
		CHECK(be32(o + 24) == risn + 1 && be32(o + 28) == isn + 1 + l1 + l2);
		CHECK(n < l3 && has_text(o + 40, n, "Via: SIP/2.0/TCP 192.168.4.2:40000;"));
		in_len = (uint32_t)n;
	}
	/* The phone acknowledges the shorter response; the far end sees its own length acknowledged. */
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, isn + 1 + (uint32_t)(l1 + l2), risn + 1 + in_len, T_ACK, NULL, 0);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		CHECK(all_ok(caps[0].b, caps[0].n) && be32(caps[0].b + 24) == isn + 1 + out1_len + out2_len
		      && be32(caps[0].b + 28) == risn + 1 + l3);

	/* A message cut across two segments goes as it is; the stream stays whole. */
	size_t half = l2 / 2;
	uint32_t s0 = isn + 1 + (uint32_t)(l1 + l2);
	struct sipalg_stats before = alg_stats();
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, s0, risn + 1 + in_len, T_ACK, m2, half);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	p = mk_tcp_data(H2, 40000, R1, 5060, s0 + (uint32_t)half, risn + 1 + in_len, T_ACK | T_PSH, m2 + half, l2 - half);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 2 && count_on(&wan_if) == 2);
	if (ncap == 2) {
		CHECK(all_ok(caps[0].b, caps[0].n) && all_ok(caps[1].b, caps[1].n));
		CHECK(caps[0].n - 40u == half && memcmp(caps[0].b + 40, m2, half) == 0);
		CHECK(caps[1].n - 40u == l2 - half && memcmp(caps[1].b + 40, m2 + half, l2 - half) == 0);
		CHECK(be32(caps[0].b + 24) == s0 + out1_len + out2_len - (uint32_t)(l1 + l2));
		CHECK(be32(caps[1].b + 24) == be32(caps[0].b + 24) + half);
	}
	CHECK(alg_stats().tcp_split == before.tcp_split + 1);

	/*
	 * The next message starts a segment again (found by its start line), but
	 * rewritten it would not fit the WAN's MTU: its own bytes go, still at
	 * the moved sequence number, and so does what follows.
	 */
	char m4[2048];
	size_t l4 = invite_via(m4, sizeof(m4), "tcpcall-2", "z9hG4bKtcp4", "TCP", 40000);
	uint32_t s1 = s0 + (uint32_t)l2, shift = out1_len + out2_len - (uint32_t)(l1 + l2);
	before = alg_stats();
	cap_clear();
	wan_if.mtu = (uint16_t)(40 + l4);
	p = mk_tcp_data(H2, 40000, R1, 5060, s1, risn + 1 + in_len, T_ACK | T_PSH, m4, l4);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		CHECK(all_ok(caps[0].b, caps[0].n) && caps[0].n - 40u == l4 && memcmp(caps[0].b + 40, m4, l4) == 0
		      && be32(caps[0].b + 24) == s1 + shift && be32(caps[0].b + 28) == risn + 1 + l3);
	CHECK(alg_stats().too_big == before.too_big + 1);
	wan_if.mtu = 1500;
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, s1 + (uint32_t)l4, risn + 1 + in_len, T_ACK, NULL, 0);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		CHECK(all_ok(caps[0].b, caps[0].n) && be32(caps[0].b + 24) == s1 + (uint32_t)l4 + shift);

	/* The end: a RST; the connection's state goes in time, and nothing leaks. */
	cap_clear();
	p = mk_tcp_data(H2, 40000, R1, 5060, s1 + (uint32_t)l4, risn + 1 + in_len, T_ACK | T_RST, NULL, 0);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	cap_clear();
}

/* Off: SIP passes untouched and every pinhole closes; on again, it rewrites again. */
static void test_sip_off(void)
{
	char text[2048];
	size_t len = invite(text, sizeof(text), "offcall@192.168.4.2", "z9hG4bKoff");
	CHECK(sip_forwards() > 0);
	sipalg_set_enabled(0);
	CHECK(!sipalg_enabled() && sip_forwards() == 0 && alg_stats().dialog.dialogs == 0);
	struct pk p = mk_udp_data(H2, 5060, R1, 5060, text, len);
	cap_clear();
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && count_on(&wan_if) == 1);
	if (ncap == 1)
		CHECK(caps[0].n == p.n && memcmp(caps[0].b + 28, p.b + 28, len) == 0);
	sipalg_set_enabled(1);
	cap_clear();
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && caps[0].n > p.n && sip_forwards() > 0);
	pk_free(&p);
	cap_clear();

	/* Other ports: the ALG looks at 5080 only now. */
	uint16_t ports[] = { 5080 };
	CHECK(sipalg_set_ports(ports, 1) == 0);
	CHECK(sipalg_set_ports(ports, 0) == -1);
	len = invite(text, sizeof(text), "portcall@192.168.4.2", "z9hG4bKport");
	p = mk_udp_data(H2, 5062, R1, 5060, text, len);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && caps[0].n == p.n);
	pk_free(&p);
	cap_clear();
	p = mk_udp_data(H2, 5062, R1, 5080, text, len);
	inject(&lan_if, p.b, p.n);
	CHECK(ncap == 1 && caps[0].n > p.n);
	pk_free(&p);
	cap_clear();
	ports[0] = 5060;
	CHECK(sipalg_set_ports(ports, 1) == 0);

	/* A new WAN address: every dialog named the old one; their pinholes go. */
	ip4_addr_t a;
	CHECK(sip_forwards() > 0);
	IP4_ADDR(&a, 198, 51, 100, 11);
	netif_set_ipaddr(&wan_if, &a);
	p = mk_udp(H2, 5000, R1, 53);
	inject(&lan_if, p.b, p.n);
	pk_free(&p);
	CHECK(sip_forwards() == 0 && alg_stats().dialog.dialogs == 0);
	IP4_ADDR(&a, 198, 51, 100, 10);
	netif_set_ipaddr(&wan_if, &a);
	cap_clear();
}

/* ------------------------------------------------------------------ */
/* The forwarding fast path (napt_fastpath.c), on Ethernet netifs.     */

#define FRAME_MAX 16
static struct cap frames[FRAME_MAX];
static int nframes;

static err_t link_capture(struct netif *netif, struct pbuf *p)
{
	CHECK(nframes < FRAME_MAX);
	if (nframes < FRAME_MAX) {
		frames[nframes].netif = netif;
		frames[nframes].n = p->tot_len;
		frames[nframes].b = malloc(p->tot_len);
		CHECK(pbuf_copy_partial(p, frames[nframes].b, p->tot_len, 0) == p->tot_len);
		nframes++;
	}
	return ERR_OK;
}

static void frames_clear(void)
{
	for (int i = 0; i < nframes; i++)
		free(frames[i].b);
	nframes = 0;
	cap_clear();
}

static const uint8_t MAC_GW1[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
static const uint8_t MAC_GW2[6] = { 0x02, 0, 0, 0, 0x01, 0x02 };
static const uint8_t MAC_H2[6] = { 0x02, 0, 0, 0, 0x04, 0x02 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* A received Ethernet frame carrying `ip`, to `dmac` (the port's own MAC when NULL), through the ports' input (router_ethernet_input()). */
static void inject_eth(struct netif *n, const uint8_t *dmac, const uint8_t *ip, size_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(14 + len), PBUF_POOL);
	uint8_t *tmp = malloc(14 + len);
	CHECK(p != NULL && tmp != NULL);
	if (!p || !tmp) {
		free(tmp);
		if (p)
			pbuf_free(p);
		return;
	}
	memcpy(tmp, dmac ? dmac : n->hwaddr, 6);
	memcpy(tmp + 6, n == &wan_if ? MAC_GW1 : MAC_H2, 6);
	tmp[12] = 0x08;
	tmp[13] = 0x00;
	memcpy(tmp + 14, ip, len);
	CHECK(pbuf_take(p, tmp, (u16_t)(14 + len)) == ERR_OK);
	free(tmp);
	router_ethernet_input(p, n);
}

/* `host` answers ARP on `n` with `mac` (the router asked: the entry is made or updated). */
static void arp_reply(struct netif *n, uint32_t host, const uint8_t *mac)
{
	uint8_t arp[28];
	struct pbuf *q;
	memset(arp, 0, sizeof(arp));
	arp[1] = 1;
	arp[2] = 0x08;
	arp[4] = 6;
	arp[5] = 4;
	arp[7] = 2;
	memcpy(arp + 8, mac, 6);
	memcpy(arp + 14, &host, 4);
	memcpy(arp + 18, n->hwaddr, 6);
	memcpy(arp + 24, &n->ip_addr, 4);
	q = pbuf_alloc(PBUF_RAW, sizeof(arp), PBUF_POOL);
	CHECK(q != NULL);
	if (q) {
		pbuf_take(q, arp, sizeof(arp));
		etharp_input(q, n);
	}
}

/* IPv4 frames captured on `n`; the last one's IP packet in *ip (NULL when none). */
static int ip_frames_on(struct netif *n, const uint8_t **ip, size_t *len, const uint8_t **eth)
{
	int c = 0;
	*ip = NULL;
	for (int i = 0; i < nframes; i++)
		if (frames[i].netif == n && frames[i].n >= 34 && frames[i].b[12] == 0x08 && frames[i].b[13] == 0x00) {
			c++;
			*eth = frames[i].b;
			*ip = frames[i].b + 14;
			*len = frames[i].n - 14u;
		}
	return c;
}

/*
 * Send `p` on `from`; returns how many packets the fast path took (0 or 1)
 * and checks what left on `to`: one IPv4 frame (when `expect_out`) from
 * the port's MAC to `mac`, its TTL one less with a good checksum. Either
 * way, lwIP's counters and the hook's count the packet once: received, and
 * forwarded when it left at once.
 */
static uint32_t through(struct netif *from, const uint8_t *dmac, const struct pk *p, struct netif *to, int expect_out,
                        const uint8_t *mac)
{
	uint32_t before = napt_fastpath_count();
	enum router_port_role role = from == &wan_if ? ROUTER_PORT_WAN : ROUTER_PORT_LAN;
	uint32_t hook = router_hook_ip4_packets[role];
	u32_t recv = lwip_stats.ip.recv, fw = lwip_stats.ip.fw;
	const uint8_t *ip, *eth;
	size_t len;
	frames_clear();
	inject_eth(from, dmac, p->b, p->n);
	int n = ip_frames_on(to, &ip, &len, &eth);
	CHECK(n == (expect_out ? 1 : 0));
	if (n == 1 && expect_out) {
		CHECK(!memcmp(eth, mac, 6) && !memcmp(eth + 6, to->hwaddr, 6));
		CHECK(all_ok(ip, len) && ip[8] == p->b[8] - 1 && len == p->n);
		CHECK(lwip_stats.ip.fw == fw + 1);
	}
	CHECK(lwip_stats.ip.recv == recv + 1);
	CHECK(router_hook_ip4_packets[role] == hook + 1);
	return napt_fastpath_count() - before;
}

static void test_fastpath(void)
{
	netif_output_fn out_w = wan_if.output, out_l = lan_if.output;
	static const uint8_t wan_mac[6] = { 0x02, 0xaa, 0, 0, 0, 0x0a }, lan_mac[6] = { 0x02, 0xbb, 0, 0, 0, 0x01 };
	struct pk p, q;
	uint16_t ext;
	const uint8_t *ip, *eth;
	size_t len;
	uint8_t first[1600];
	size_t first_n;

	memcpy(wan_if.hwaddr, wan_mac, 6);
	memcpy(lan_if.hwaddr, lan_mac, 6);
	for (struct netif *n = &wan_if; n; n = n == &wan_if ? &lan_if : NULL) {
		n->hwaddr_len = 6;
		n->flags |= NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
		n->linkoutput = link_capture;
		n->output = etharp_output;
	}
	advance(1000);
	arp_reply(&wan_if, GW, MAC_GW1);
	arp_reply(&lan_if, H2, MAC_H2);

	/* UDP: the first packet makes the flow (lwIP sends it); the answer makes it steady. */
	p = mk_udp(H2, 6000, R1, 53);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 0);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1);
	ext = ip ? sport_of(ip) : 0;
	q = mk_udp(R1, 53, WAN, ext);
	CHECK(through(&wan_if, NULL, &q, &lan_if, 1, MAC_H2) == 1);   /* seen both ways now */
	CHECK(ip_frames_on(&lan_if, &ip, &len, &eth) == 1 && ip && dst_of(ip) == H2 && dport_of(ip) == 6000);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 1);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1 && ip && src_of(ip) == WAN && sport_of(ip) == ext);
	first_n = len;
	memcpy(first, eth, 14 + len);

	/* Off, the same packet leaves as the same bytes through lwIP. */
	napt_fastpath_set(0);
	CHECK(!napt_fastpath_on());
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 0);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1 && len == first_n && !memcmp(eth, first, 14 + first_n));
	napt_fastpath_set(1);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 1);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1 && len == first_n && !memcmp(eth, first, 14 + first_n));

	/* The gateway's MAC changes mid-flow: the next packet goes to the new one. */
	arp_reply(&wan_if, GW, MAC_GW2);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW2) == 1);
	/* Its entry gone: lwIP asks ARP again and holds the packet; the answer sends it. */
	etharp_cleanup_netif(&wan_if);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 0, NULL) == 0);
	CHECK(nframes == 1 && frames[0].netif == &wan_if && frames[0].b[12] == 0x08 && frames[0].b[13] == 0x06);
	frames_clear();
	arp_reply(&wan_if, GW, MAC_GW1);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1 && !memcmp(eth, MAC_GW1, 6));
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 1);

	/* Once a second lwIP sends one (ARP sees its entry used); the rest take the fast path. */
	advance(1000);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 0);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 1);

	/* The WAN link down: nothing leaves; up again, the flow goes on. */
	netif_set_link_down(&wan_if);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 0, NULL) == 0);
	netif_set_link_up(&wan_if);
	arp_reply(&wan_if, GW, MAC_GW1);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) + through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) >= 1);

	/* TTL 1: time exceeded to the sender, from lwIP's path. */
	p.b[8] = 1;
	ip_fill_csum(p.b);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 0, NULL) == 0);
	CHECK(ip_frames_on(&lan_if, &ip, &len, &eth) == 1 && ip && proto_of(ip) == T_ICMP && ip[20] == 11);
	/* A bad header checksum: dropped by lwIP, as without the fast path. */
	p.b[8] = 64;
	ip_fill_csum(p.b);
	p.b[10] ^= 0x40;
	CHECK(through(&lan_if, NULL, &p, &wan_if, 0, NULL) == 0);
	pk_free(&p);
	/* UDP to the router itself: the fast path's entry gives it to ip4_input() once (no hook again): port unreachable. */
	{
		struct pk u = mk_udp(H2, 6001, LAN, 9);
		CHECK(through(&lan_if, NULL, &u, &wan_if, 0, NULL) == 0);
		CHECK(ip_frames_on(&lan_if, &ip, &len, &eth) == 1 && ip && proto_of(ip) == T_ICMP && ip[20] == 3 && ip[21] == 3);
		pk_free(&u);
	}
	/* IP options: forwarded by lwIP, options kept. */
	p = mk_udp_opt(H2, 6000, R1, 53, 8, 0, 4);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 0);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1 && ip && ihl_of(ip) == 24);
	pk_free(&p);
	/* DF and too big for the WAN: fragmentation needed, with the MTU. */
	wan_if.mtu = 576;
	p = mk_udp_opt(H2, 6000, R1, 53, 1000, 0, 0);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 0, NULL) == 0);
	CHECK(ip_frames_on(&lan_if, &ip, &len, &eth) == 1 && ip && proto_of(ip) == T_ICMP && ip[20] == 3 && ip[21] == 4
	      && g16(ip + 26) == 576);
	/* Without DF: fragmented by lwIP. */
	p.b[6] = 0;
	ip_fill_csum(p.b);
	frames_clear();
	inject_eth(&lan_if, NULL, p.b, p.n);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 2);
	wan_if.mtu = 1500;
	pk_free(&p);
	/* A link-layer broadcast: lwIP forwards none. */
	p = mk_udp(H2, 6000, R1, 53);
	CHECK(through(&lan_if, BCAST, &p, &wan_if, 0, NULL) == 0);
	pk_free(&p);
	/* To the router itself: not forwarded at all. */
	p = mk_udp(H2, 6000, LAN, 9);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 0, NULL) == 0);
	pk_free(&p);

	/* TCP: the handshake through lwIP, data on the fast path, the FIN through lwIP again. */
	p = mk_tcp(H2, 6001, R1, 80, T_SYN, 0);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 0);
	CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1);
	ext = ip ? sport_of(ip) : 0;
	pk_free(&p);
	p = mk_tcp(R1, 80, WAN, ext, T_SYN | T_ACK, 0);
	CHECK(through(&wan_if, NULL, &p, &lan_if, 1, MAC_H2) == 0);
	pk_free(&p);
	p = mk_tcp(H2, 6001, R1, 80, T_ACK, 0);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 1);   /* this ACK completes it */
	pk_free(&p);
	p = mk_tcp(R1, 80, WAN, ext, T_ACK | T_PSH, 100);
	CHECK(through(&wan_if, NULL, &p, &lan_if, 1, MAC_H2) == 1);
	pk_free(&p);
	/* H2 moves to another MAC: the next packet to it follows. */
	arp_reply(&lan_if, H2, MAC_GW2);
	p = mk_tcp(R1, 80, WAN, ext, T_ACK | T_PSH, 100);
	CHECK(through(&wan_if, NULL, &p, &lan_if, 1, MAC_GW2) == 1);
	pk_free(&p);
	p = mk_tcp(R1, 80, WAN, ext, T_ACK | T_FIN, 0);
	CHECK(through(&wan_if, NULL, &p, &lan_if, 1, MAC_GW2) == 0);
	pk_free(&p);
	p = mk_tcp(H2, 6001, R1, 80, T_ACK, 0);
	CHECK(through(&lan_if, NULL, &p, &wan_if, 1, MAC_GW1) == 0);   /* closing */
	pk_free(&p);
	pk_free(&q);

	/* SIP on a steady flow: the ALG still sees and rewrites what the fast path would send. */
	{
		char text[2048];
		size_t len = invite_via(text, sizeof(text), "fast@192.168.4.2", "z9hG4bKfast1", "UDP", 5070);
		uint16_t sext;
		p = mk_udp_data(H2, 5070, R1, 5060, text, len);
		frames_clear();
		inject_eth(&lan_if, NULL, p.b, p.n);   /* a new flow */
		CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1);
		if (ip)
			CHECK(has_text(ip + 28, len - 28, "Via: SIP/2.0/UDP 198.51.100.10"));
		sext = ip ? sport_of(ip) : 0;
		pk_free(&p);
		p = mk_udp_data(R1, 5060, WAN, sext, "not sip", 7);
		frames_clear();
		inject_eth(&wan_if, NULL, p.b, p.n);   /* the answer: the flow is steady */
		pk_free(&p);
		len = invite_via(text, sizeof(text), "fast2@192.168.4.2", "z9hG4bKfast2", "UDP", 5070);
		p = mk_udp_data(H2, 5070, R1, 5060, text, len);
		frames_clear();
		inject_eth(&lan_if, NULL, p.b, p.n);
		CHECK(ip_frames_on(&wan_if, &ip, &len, &eth) == 1 && ip && !memcmp(eth, MAC_GW1, 6));
		if (ip) {
			CHECK(all_ok(ip, len) && src_of(ip) == WAN && sport_of(ip) == sext);
			CHECK(has_text(ip + 28, len - 28, "Via: SIP/2.0/UDP 198.51.100.10"));
			CHECK(has_text(ip + 28, len - 28, "Contact: <sip:alice@198.51.100.10"));
		}
		pk_free(&p);
	}

	frames_clear();
	etharp_cleanup_netif(&wan_if);
	etharp_cleanup_netif(&lan_if);
	for (struct netif *n = &wan_if; n; n = n == &wan_if ? &lan_if : NULL) {
		n->flags &= (u8_t)~(NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET);
		n->linkoutput = NULL;
	}
	wan_if.output = out_w;
	lan_if.output = out_l;
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
	{
		/* The ALG rides along from the start: the tests above must not notice it. */
		struct sipalg_config sc;
		sipalg_default_config(&sc);
		CHECK(sipalg_forward_room(&sc) == 40);
		CHECK(sipalg_lwip_start(&sc) == 0 && sipalg_lwip_running() && sipalg_lwip_start(&sc) == -1);
	}
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
	test_martians();
	check_no_leak("local");
	test_local_port();
	check_no_leak("local port");
	test_tcp_ooseq_bound();
	check_no_leak("tcp ooseq");
	test_sip_invite_out();
	check_no_leak("sip invite");
	test_sip_ok_in();
	check_no_leak("sip 200");
	test_sip_too_big();
	check_no_leak("sip too big");
	test_sip_malformed();
	check_no_leak("sip malformed");
	test_sip_tcp();
	check_no_leak("sip tcp");
	test_sip_off();
	test_unresolved();
	check_no_leak("sip off");
	test_fastpath();
	check_no_leak("fastpath");
	advance(5000);
	CHECK(napt_lwip_now() >= 26);
	check_no_leak("end");
	cap_clear();
	return check_report("napt_lwip_test");
}
