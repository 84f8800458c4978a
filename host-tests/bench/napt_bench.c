/*
 * NAPT per-packet cost (npm run bench; host-tests/bench/run.sh drives it).
 *
 *   napt_bench core <flows> <packets> count   for callgrind: translate only
 *   napt_bench core <flows> <packets> time    native: ns per packet
 *   napt_bench lwip <flows> <packets> count   the whole lwIP path (ip4_input + hook + NAPT + forward)
 *   napt_bench lwip <flows> <packets> time
 *   napt_bench eth|eth-off <flows> <packets> count|time
 *                                             the same on Ethernet netifs, as the
 *                                             boards' ports: ethernet_input() to the
 *                                             driver's linkoutput, with the fast path
 *                                             (napt_fastpath.c) on or off
 *
 * <flows> live UDP flows are made first (distinct inside hosts and ports,
 * random remotes), the table sized to exactly that many. Then <packets>
 * packets go to flows picked uniformly at random (fixed-seed xorshift),
 * each outbound packet followed by its inbound reply. The packet is copied
 * from a per-flow template before each call (napt translates in place);
 * that preparation is outside what is measured:
 *  - count: the calls go through bench_out()/bench_in() (lwip_out()/lwip_in()),
 *    which run.sh hands to callgrind's --toggle-collect; it subtracts the
 *    wrappers' own instructions, leaving napt_process() (ip4_input()) inclusive.
 *  - time: the same loop with the calls, minus the same loop calling a
 *    function that does nothing; best of several runs.
 * Prints one line of key=value pairs.
 *
 * On Ethernet the inside hosts are 30 (.2-.31), not 250: lwIP's ARP table
 * holds 32 entries (the gateway's and theirs, all resolved before the
 * loop), and each flow is answered once before it, so that every packet
 * measured belongs to a steady flow, as in a long transfer.
 */
#include "rig_ports.h"
#include "napt.h"
#include "napt_lwip.h"
#include "ports.h"
#include "router_hooks.h"

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "netif/ethernet.h"
#include "router_ethernet.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PKT 48   /* IP 20 + UDP 8 + 20 bytes of payload */
#define NOW 1000u

static uint32_t A(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

#define WAN  A(198, 51, 100, 10)
#define LAN  A(192, 168, 4, 1)
#define MASK A(255, 255, 255, 0)

static uint32_t rng = 0x2545f491u;
static inline uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* ------------------------------------------------------------------ */
/* Packets.                                                            */

static uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)~s;
}

static void udp_packet(uint8_t *b, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, unsigned seed)
{
	uint8_t ph[12];
	uint16_t c;
	memset(b, 0, PKT);
	b[0] = 0x45;
	b[2] = 0;
	b[3] = PKT;
	b[4] = (uint8_t)(seed >> 8);
	b[5] = (uint8_t)seed;
	b[8] = 64;
	b[9] = NAPT_PROTO_UDP;
	memcpy(b + 12, &src, 4);
	memcpy(b + 16, &dst, 4);
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	b[24] = 0;
	b[25] = PKT - 20;
	for (unsigned i = 28; i < PKT; i++)
		b[i] = (uint8_t)(seed * 31u + i);
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = NAPT_PROTO_UDP;
	ph[10] = 0;
	ph[11] = PKT - 20;
	c = fold(sum(sum(0, ph, 12), b + 20, PKT - 20));
	if (!c)
		c = 0xffff;
	b[26] = (uint8_t)(c >> 8);
	b[27] = (uint8_t)c;
	c = fold(sum(0, b, 20));
	b[10] = (uint8_t)(c >> 8);
	b[11] = (uint8_t)c;
}

/* A public address: not 0/8, 10/8, 127/8, 192.168/16, 224/3, and not ours. */
static uint32_t rnd_public(void)
{
	for (;;) {
		uint32_t v = rnd();
		uint8_t a = (uint8_t)(v >> 24), b = (uint8_t)(v >> 16);
		uint32_t addr;
		if (a == 0 || a == 10 || a == 127 || a >= 224 || (a == 192 && b == 168))
			continue;
		addr = A(a, b, (v >> 8) & 255, v & 255);
		if (addr != WAN)
			return addr;
	}
}

struct tmpl {
	uint8_t out[PKT];
	uint8_t in[PKT];
};
static struct tmpl *T;
static uint32_t N;

/* The flows' endpoints: inside hosts .2-.251, random distinct ports per host; random remotes. */
struct ends {
	uint32_t in_addr, rem_addr;
	uint16_t in_port, rem_port;
};

static uint32_t hosts = 250;

static struct ends *make_ends(uint32_t n)
{
	static const uint16_t services[] = { 53, 123, 443, 3478, 5060, 500, 4500, 19302 };
	struct ends *e = calloc(n, sizeof(*e));
	uint8_t *used = calloc(250, 65536 / 8);
	for (uint32_t j = 0; j < n; j++) {
		uint32_t host = j % hosts;
		uint16_t port;
		do
			port = (uint16_t)(1024 + rnd() % (65536 - 1024));
		while (used[host * 8192 + port / 8] & (1u << (port & 7)));
		used[host * 8192 + port / 8] |= (uint8_t)(1u << (port & 7));
		e[j].in_addr = A(192, 168, 4, 2 + host);
		e[j].in_port = port;
		e[j].rem_addr = rnd_public();
		e[j].rem_port = (rnd() & 3) ? services[rnd() % 8] : (uint16_t)(1024 + rnd() % 60000);
	}
	free(used);
	return e;
}

static uint16_t sport_of(const uint8_t *b)
{
	return (uint16_t)(b[20] << 8 | b[21]);
}

/* ------------------------------------------------------------------ */
/* The measured calls.                                                 */

static volatile int sink;

__attribute__((noinline)) void bench_out(uint8_t *b)
{
	sink = napt_process(b, PKT, PKT, NAPT_OUTBOUND, NOW);
}

__attribute__((noinline)) void bench_in(uint8_t *b)
{
	sink = napt_process(b, PKT, PKT, NAPT_INBOUND, NOW);
}

__attribute__((noinline)) void bench_none(uint8_t *b)
{
	sink = b[0];
}

#ifdef __XTENSA__
/* No floating point on the lx106 (Debian's libgcc has no soft-float either): ticks. */
typedef uint32_t btime;

/*
 * Under qemu-system-xtensa -icount, CCOUNT follows the instruction count;
 * xtensa_calibrate() finds how many instructions one tick is.
 */
static inline uint32_t ccount(void)
{
	uint32_t c;
	__asm__ volatile("rsr.ccount %0" : "=a"(c));
	return c;
}

static btime now_ns(void)
{
	return ccount();
}

/* Ticks for 1000 x `inner` iterations of a two-instruction loop. */
static uint32_t ticks_for(uint32_t inner)
{
	uint32_t c0, c1;
	c0 = ccount();
	__asm__ volatile(
		"movi a9, 1000\n"
		"1: mov a8, %0\n"
		"2: addi a8, a8, -1\n"
		"bnez a8, 2b\n"
		"addi a9, a9, -1\n"
		"bnez a9, 1b\n"
		: : "a"(inner) : "a8", "a9");
	c1 = ccount();
	return c1 - c0;
}

static uint32_t xt_ticks[2];
static uint32_t xt_empty_ticks;
__attribute__((noinline)) void xt_empty(struct pbuf *p)
{
	sink = p != NULL;
}
#else
typedef double btime;

static btime now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
#endif

static uint64_t failures;

/*
 * The loop: `packets` packets, out and in alternating. Either call may be
 * bench_none for the timing baselines. Returns the elapsed ns.
 */
static btime core_loop(uint32_t packets, void (*out)(uint8_t *), void (*in)(uint8_t *))
{
	static uint8_t buf[PKT] __attribute__((aligned(8)));
	uint32_t mask = N - 1;
	btime t0;
	rng = 0x12345678u;
	t0 = now_ns();
	for (uint32_t i = 0; i < packets / 2; i++) {
		const struct tmpl *t = &T[rnd() & mask];
		memcpy(buf, t->out, PKT);
		out(buf);
		failures += out == bench_out && sink != NAPT_FORWARD;
		memcpy(buf, t->in, PKT);
		in(buf);
		failures += in == bench_in && sink != NAPT_FORWARD;
	}
	return now_ns() - t0;
}

static void *table_memory;
static size_t table_size;

static void core_setup(uint32_t flows)
{
	struct napt_config c;
	struct napt_addresses a = { WAN, LAN, MASK };
	struct napt_stats s;
	struct ends *e;
	uint8_t b[PKT];
	napt_default_config(&c);
	c.max_flows = flows;
	c.max_forwards = 64;
	table_size = napt_memory_size(&c);
	table_memory = aligned_alloc(64, (table_size + 63) & ~(size_t)63);
	if (!table_size || !table_memory || napt_init(&c, table_memory)) {
		fprintf(stderr, "napt_init failed for %u flows\n", flows);
		exit(1);
	}
	napt_set_addresses(&a);
	e = make_ends(flows);
	for (uint32_t j = 0; j < flows; j++) {
		udp_packet(T[j].out, e[j].in_addr, e[j].in_port, e[j].rem_addr, e[j].rem_port, j);
		memcpy(b, T[j].out, PKT);
		if (napt_process(b, PKT, PKT, NAPT_OUTBOUND, NOW) != NAPT_FORWARD) {
			fprintf(stderr, "flow %u not made\n", j);
			exit(1);
		}
		udp_packet(T[j].in, e[j].rem_addr, e[j].rem_port, WAN, sport_of(b), j + 1);
	}
	free(e);
	napt_get_stats(&s);
	if (s.in_use[1] != flows) {
		fprintf(stderr, "%u flows live, wanted %u\n", s.in_use[1], flows);
		exit(1);
	}
}

/* ------------------------------------------------------------------ */
/* The whole lwIP path: two netifs without Ethernet, as napt_lwip_test. */

static uint8_t last_out[PKT];
static uint64_t sent[2];

u32_t sys_now(void)
{
	return 1000u * 100u;
}

/* The "driver": count the packet and keep its first bytes (read once, as a NIC's DMA would). */
static err_t if_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
	(void)dst;
	sent[netif == &wan_if]++;
	memcpy(last_out, p->payload, 24);
	return ERR_OK;
}

static err_t if_init(struct netif *n)
{
	n->output = if_output;
	n->mtu = 1500;
	n->flags = NETIF_FLAG_BROADCAST;
	n->name[0] = n == &wan_if ? 'w' : 'l';
	n->name[1] = '0';
	return ERR_OK;
}

/* Ethernet: the driver's linkoutput, and each port's and its peers' MACs. */
static int eth;
static const uint8_t MAC_WAN[6] = { 0x02, 0, 0, 0, 0, 0x0a }, MAC_LAN[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC_PEER[6] = { 0x02, 0, 0, 0, 0x01, 0x00 };

static err_t eth_linkoutput(struct netif *netif, struct pbuf *p)
{
	sent[netif == &wan_if]++;
	memcpy(last_out, (const uint8_t *)p->payload + 14, 24);
	return ERR_OK;
}

static err_t eth_init(struct netif *n)
{
	n->output = etharp_output;
	n->linkoutput = eth_linkoutput;
	n->mtu = 1500;
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	n->hwaddr_len = 6;
	memcpy(n->hwaddr, n == &wan_if ? MAC_WAN : MAC_LAN, 6);
	n->name[0] = n == &wan_if ? 'w' : 'l';
	n->name[1] = '0';
	return ERR_OK;
}

/* `host` on `n` answers the router's ARP request. */
static void arp_answer(struct netif *n, uint32_t host)
{
	uint8_t arp[28];
	struct pbuf *q = pbuf_alloc(PBUF_RAW, sizeof(arp), PBUF_POOL);
	memset(arp, 0, sizeof(arp));
	arp[1] = 1;
	arp[2] = 0x08;
	arp[4] = 6;
	arp[5] = 4;
	arp[7] = 2;
	memcpy(arp + 8, MAC_PEER, 6);
	memcpy(arp + 13, (const uint8_t *)&host + 3, 1);
	memcpy(arp + 14, &host, 4);
	memcpy(arp + 18, n->hwaddr, 6);
	memcpy(arp + 24, &n->ip_addr, 4);
	pbuf_take(q, arp, sizeof(arp));
	etharp_input(q, n);
}

__attribute__((noinline)) void lwip_out(struct pbuf *p)
{
	sink = lan_if.input(p, &lan_if);
}

__attribute__((noinline)) void lwip_in(struct pbuf *p)
{
	sink = wan_if.input(p, &wan_if);
}

__attribute__((noinline)) void lwip_none(struct pbuf *p)
{
	pbuf_free(p);
	sink = 0;
}

/* The packet as received: a pool pbuf, behind an Ethernet header to the port on Ethernet. */
static struct pbuf *packet_to(const uint8_t *b, const struct netif *n)
{
	unsigned hdr = eth ? 14u : 0u;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(PKT + hdr), PBUF_POOL);
	uint8_t *f;
	if (!p) {
		fprintf(stderr, "pbuf pool empty\n");
		exit(1);
	}
	f = p->payload;
	if (eth) {
		memcpy(f, n->hwaddr, 6);
		memcpy(f + 6, MAC_PEER, 6);
		f[12] = 0x08;
		f[13] = 0x00;
	}
	memcpy(f + hdr, b, PKT);
	return p;
}

static btime lwip_loop(uint32_t packets, void (*out)(struct pbuf *), void (*in)(struct pbuf *))
{
	uint32_t mask = N - 1;
	uint64_t before = sent[0] + sent[1];
	btime t0, t;
	rng = 0x12345678u;
	t0 = now_ns();
	for (uint32_t i = 0; i < packets / 2; i++) {
		const struct tmpl *tp = &T[rnd() & mask];
#ifdef __XTENSA__
		/* Ticks inside the calls only, and the same for a call that does nothing (subtracted). */
		struct pbuf *p = packet_to(tp->out, &lan_if);
		uint32_t c0 = ccount();
		out(p);
		xt_ticks[0] += ccount() - c0;
		p = packet_to(tp->in, &wan_if);
		c0 = ccount();
		in(p);
		xt_ticks[1] += ccount() - c0;
		c0 = ccount();
		xt_empty(NULL);
		xt_empty_ticks += ccount() - c0;
#else
		out(packet_to(tp->out, &lan_if));
		in(packet_to(tp->in, &wan_if));
#endif
	}
	t = now_ns() - t0;
	if (out == lwip_out && in == lwip_in)
		failures += (uint64_t)packets / 2 * 2 - (sent[0] + sent[1] - before);
	return t;
}

static void lwip_setup(uint32_t flows)
{
	ip4_addr_t a, m, g;
	struct napt_config c;
	struct napt_stats s;
	struct ends *e;
	lwip_init();
	IP4_ADDR(&m, 255, 255, 255, 0);
	IP4_ADDR(&a, 198, 51, 100, 10);
	IP4_ADDR(&g, 198, 51, 100, 1);
	netif_add(&wan_if, &a, &m, &g, NULL, eth ? eth_init : if_init, eth ? router_ethernet_input : ip4_input);
	IP4_ADDR(&a, 192, 168, 4, 1);
	netif_add(&lan_if, &a, &m, IP4_ADDR_ANY4, NULL, eth ? eth_init : if_init, eth ? router_ethernet_input : ip4_input);
	netif_set_default(&wan_if);
	netif_set_up(&wan_if);
	netif_set_up(&lan_if);
	netif_set_link_up(&wan_if);
	netif_set_link_up(&lan_if);
	napt_default_config(&c);
	c.max_flows = flows;
	if (napt_lwip_start(&c)) {
		fprintf(stderr, "napt_lwip_start failed\n");
		exit(1);
	}
	if (eth) {
		hosts = 30;
		arp_answer(&wan_if, A(198, 51, 100, 1));
		for (uint32_t h = 0; h < hosts; h++)
			arp_answer(&lan_if, A(192, 168, 4, 2 + h));
	}
	e = make_ends(flows);
	for (uint32_t j = 0; j < flows; j++) {
		uint64_t before = sent[1];
		udp_packet(T[j].out, e[j].in_addr, e[j].in_port, e[j].rem_addr, e[j].rem_port, j);
		lan_if.input(packet_to(T[j].out, &lan_if), &lan_if);
		if (sent[1] != before + 1) {
			fprintf(stderr, "flow %u not forwarded\n", j);
			exit(1);
		}
		udp_packet(T[j].in, e[j].rem_addr, e[j].rem_port, WAN, sport_of(last_out), j + 1);
		if (eth) {
			before = sent[0];
			wan_if.input(packet_to(T[j].in, &wan_if), &wan_if);
			if (sent[0] != before + 1) {
				fprintf(stderr, "flow %u not answered\n", j);
				exit(1);
			}
		}
	}
	free(e);
	napt_get_stats(&s);
	if (s.in_use[1] != flows) {
		fprintf(stderr, "%u flows live, wanted %u\n", s.in_use[1], flows);
		exit(1);
	}
}

/* ------------------------------------------------------------------ */

static uint32_t P;

#ifndef __XTENSA__
static double best_of(int runs, double (*fn)(void))
{
	double best = 1e30;
	for (int i = 0; i < runs; i++) {
		double t = fn();
		if (t < best)
			best = t;
	}
	return best;
}

static double t_core_both(void) { return core_loop(P, bench_out, bench_in); }
static double t_core_out(void) { return core_loop(P, bench_out, bench_none); }
static double t_core_in(void) { return core_loop(P, bench_none, bench_in); }
static double t_core_base(void) { return core_loop(P, bench_none, bench_none); }
static double t_lwip_both(void) { return lwip_loop(P, lwip_out, lwip_in); }
static double t_lwip_base(void) { return lwip_loop(P, lwip_none, lwip_none); }
static double t_lwip_out(void) { return lwip_loop(P, lwip_out, lwip_none); }
static double t_lwip_in(void) { return lwip_loop(P, lwip_none, lwip_in); }
#endif

int main(int argc, char **argv)
{
	int lwip, timing;
	struct napt_stats s;
	if (argc != 5 || (strcmp(argv[1], "core") && strcmp(argv[1], "lwip") && strcmp(argv[1], "eth") && strcmp(argv[1], "eth-off"))
	    || (strcmp(argv[4], "count") && strcmp(argv[4], "time"))) {
		fprintf(stderr, "usage: napt_bench core|lwip|eth|eth-off <flows> <packets> count|time\n");
		return 2;
	}
	eth = !strncmp(argv[1], "eth", 3);
	lwip = eth || !strcmp(argv[1], "lwip");
	napt_fastpath_set(!strcmp(argv[1], "eth"));
	timing = !strcmp(argv[4], "time");
	N = (uint32_t)strtoul(argv[2], NULL, 10);
	P = (uint32_t)strtoul(argv[3], NULL, 10) & ~1u;
	if (N < 16 || (N & (N - 1))) {
		fprintf(stderr, "flows: a power of two, at least 16\n");
		return 2;
	}
	T = aligned_alloc(64, (N * sizeof(struct tmpl) + 63) & ~(size_t)63);
	if (lwip)
		lwip_setup(N);
	else
		core_setup(N);

	if (!timing) {
		/* One pass: callgrind counts inside the toggled wrappers. */
		if (lwip)
			lwip_loop(P, lwip_out, lwip_in);
		else
			core_loop(P, bench_out, bench_in);
		printf("flows=%u packets=%u failures=%llu\n", N, P, (unsigned long long)failures);
#ifdef __XTENSA__
		/* run.sh: (ticks - empty) over calls, times 2,000,000 over (calib_b - calib_a) instructions per tick. */
		if (lwip)
			printf("xt_ticks_out=%lu xt_ticks_in=%lu xt_ticks_empty=%lu xt_calls=%lu xt_calib_a=%lu xt_calib_b=%lu\n",
			       (unsigned long)xt_ticks[0], (unsigned long)xt_ticks[1], (unsigned long)xt_empty_ticks,
			       (unsigned long)(P / 2), (unsigned long)ticks_for(1000), (unsigned long)ticks_for(2000));
#endif
	}
#ifndef __XTENSA__
	else {
		const int runs = 5;
		double base, out, in, both;
		if (lwip) {
			t_lwip_both();   /* warm up */
			base = best_of(runs, t_lwip_base);
			out = best_of(runs, t_lwip_out);
			in = best_of(runs, t_lwip_in);
			both = best_of(runs, t_lwip_both);
		}
		else {
			t_core_both();
			base = best_of(runs, t_core_base);
			out = best_of(runs, t_core_out);
			in = best_of(runs, t_core_in);
			both = best_of(runs, t_core_both);
		}
		/* Each loop makes P/2 calls per direction. */
		printf("flows=%u packets=%u ns_out=%.1f ns_in=%.1f ns_avg=%.1f failures=%llu\n", N, P,
		       (out - base) / (P / 2), (in - base) / (P / 2), (both - base) / P, (unsigned long long)failures);
	}
#endif
	napt_get_stats(&s);
	printf("fastpath=%u\n", napt_fastpath_count());
	printf("bytes_per_flow=%u memory=%zu dropped_table_full=%llu evicted=%llu live=%u\n", s.bytes_per_flow,
	       lwip ? (size_t)0 : table_size, (unsigned long long)s.dropped[NAPT_DROP_TABLE_FULL],
	       (unsigned long long)s.evicted, s.in_use[1]);
	return failures ? 1 : 0;
}
