/*
 * The NAPT core (modules/napt: napt_table.c, napt_translate.c) on crafted
 * packets, under AddressSanitizer and UBSan. After every translation each
 * rewritten field is checked, and every checksum is recomputed from scratch
 * by napt_pkt.h (RFC 1071, not napt's incremental code). Packets are
 * malloc'd at exactly their length: any read past the end is an ASan error.
 *
 * Addresses: WAN 198.51.100.10, LAN 192.168.4.1/24, remotes in 203.0.113.0/24.
 */
#include "check.h"
#include "napt.h"
#include "napt_pkt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAN  A(198, 51, 100, 10)
#define GW   A(198, 51, 100, 1)
#define LAN  A(192, 168, 4, 1)
#define MASK A(255, 255, 255, 0)
#define H2   A(192, 168, 4, 2)
#define H3   A(192, 168, 4, 3)
#define H9   A(192, 168, 4, 9)
#define R1   A(203, 0, 113, 5)
#define R2   A(203, 0, 113, 6)
#define R3   A(203, 0, 113, 7)

static uint64_t memory[1 << 15];   /* 256 KiB, aligned for anything */
static uint32_t now = 1000;

/* The router's own sockets on its WAN address: UDP 68 (DHCP), TCP 22 and 2000. */
static int local_port(uint8_t proto, uint16_t port)
{
	return (proto == T_UDP && port == 68) || (proto == T_TCP && (port == 22 || port == 2000));
}

/* Tests of other things see no per-host share (the whole table); test_flow_share sets this. */
static int default_share;

static void setup(uint32_t max_flows, uint32_t max_forwards)
{
	struct napt_config c;
	struct napt_addresses a = { WAN, LAN, MASK };
	napt_default_config(&c);
	c.max_flows = max_flows;
	c.max_forwards = max_forwards;
	if (!default_share)
		c.host_share = max_flows;
	size_t size = napt_memory_size(&c);
	CHECK(size > 0 && size <= sizeof(memory));
	memset(memory, 0xa5, sizeof(memory));   /* napt_init must not rely on zeroed memory */
	CHECK(napt_init(&c, memory) == 0);
	napt_set_addresses(&a);
	napt_set_local_port_fn(local_port);
	napt_set_dmz(0);
	now = 1000;
}

static struct napt_stats stats(void)
{
	struct napt_stats s;
	napt_get_stats(&s);
	return s;
}

static uint32_t live_flows(void)
{
	struct napt_flow_info info;
	uint32_t cursor = 0, n = 0;
	while (napt_flow_next(&cursor, now, &info))
		n++;
	return n;
}

/* Result of one napt_process() call, the packet checked and freed. */
struct res {
	enum napt_verdict v;
	uint32_t src, dst;
	uint16_t sport, dport;   /* ICMP queries: the id in both */
	int ok;                  /* every checksum verifies */
	int same;                /* the packet was left untouched */
	uint8_t ttl;
};

static struct res run_keep(struct pk *p, enum napt_dir dir)
{
	struct res r;
	uint8_t *before = malloc(p->n + 1u);
	memcpy(before, p->b, p->n);
	r.v = napt_process(p->b, p->n, p->n, dir, now);
	r.same = memcmp(before, p->b, p->n) == 0;
	free(before);
	r.ok = 0;
	r.src = r.dst = 0;
	r.sport = r.dport = 0;
	r.ttl = 0;
	if (p->n >= 20 && ihl_of(p->b) >= 20 && ihl_of(p->b) <= p->n) {
		r.src = src_of(p->b);
		r.dst = dst_of(p->b);
		r.ttl = p->b[8];
		if (proto_of(p->b) == T_ICMP && p->n >= ihl_of(p->b) + 8u)
			r.sport = r.dport = icmp_id_of(p->b);
		else if (p->n >= ihl_of(p->b) + 4u) {
			r.sport = sport_of(p->b);
			r.dport = dport_of(p->b);
		}
		r.ok = all_ok(p->b, p->n);
	}
	/* Translated packets must always verify; and NAPT never touches the TTL. */
	if (r.v == NAPT_FORWARD || r.v == NAPT_HAIRPIN) {
		CHECK(r.ok);
		CHECK(r.ttl == 64);
	}
	if (r.v == NAPT_PASS || r.v == NAPT_DROP)
		CHECK(r.same);
	return r;
}

static struct res run(struct pk p, enum napt_dir dir)
{
	struct res r = run_keep(&p, dir);
	pk_free(&p);
	return r;
}

static struct res udp(enum napt_dir dir, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	return run(mk_udp(src, sport, dst, dport), dir);
}

static struct res tcp(enum napt_dir dir, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags)
{
	return run(mk_tcp(src, sport, dst, dport, flags, flags & T_SYN ? 0 : 11), dir);
}

static int is_fwd(struct res r, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	return r.v == NAPT_FORWARD && r.ok && r.src == src && r.sport == sport && r.dst == dst && r.dport == dport;
}

/* A TCP connection from inside through the three-way handshake; returns its external port. */
static uint16_t tcp_open(uint32_t in, uint16_t in_port, uint32_t rem, uint16_t rem_port)
{
	struct res r = tcp(NAPT_OUTBOUND, in, in_port, rem, rem_port, T_SYN);
	CHECK(r.v == NAPT_FORWARD && r.src == WAN && r.dst == rem && r.dport == rem_port);
	uint16_t ext = r.sport;
	CHECK(is_fwd(tcp(NAPT_INBOUND, rem, rem_port, WAN, ext, T_SYN | T_ACK), rem, rem_port, in, in_port));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, in, in_port, rem, rem_port, T_ACK), WAN, ext, rem, rem_port));
	return ext;
}

/* ------------------------------------------------------------------ */

static void test_config(void)
{
	struct napt_config c;
	napt_default_config(&c);
	CHECK(c.max_flows == 1024 && c.timeout[NAPT_TIMEOUT_UDP] == 300 && c.timeout[NAPT_TIMEOUT_TCP] == 7440
	      && c.timeout[NAPT_TIMEOUT_TCP_TRANSITORY] == 240 && c.timeout[NAPT_TIMEOUT_ICMP] == 60
	      && c.filtering == NAPT_FILTER_ADDRESS);
	CHECK(c.timeout[NAPT_TIMEOUT_UDP] >= NAPT_MIN_UDP_TIMEOUT && c.timeout[NAPT_TIMEOUT_TCP] >= NAPT_MIN_TCP_TIMEOUT
	      && c.timeout[NAPT_TIMEOUT_TCP_TRANSITORY] >= NAPT_MIN_TCP_TRANSITORY_TIMEOUT && c.timeout[NAPT_TIMEOUT_ICMP] >= NAPT_MIN_ICMP_TIMEOUT);
	c.max_flows = 15;
	CHECK(napt_memory_size(&c) == 0 && napt_init(&c, memory) == -1);
	c.max_flows = 32769;
	CHECK(napt_memory_size(&c) == 0);
	c.max_flows = 1024;
	c.max_forwards = 0;
	CHECK(napt_memory_size(&c) == 0);
	c.max_forwards = 64;
	c.timeout[NAPT_TIMEOUT_UDP] = 0;
	CHECK(napt_memory_size(&c) == 0);
	c.timeout[NAPT_TIMEOUT_UDP] = 300;
	c.filtering = (enum napt_filtering)7;
	CHECK(napt_memory_size(&c) == 0);

	setup(1024, 64);
	CHECK(napt_set_timeout(NAPT_TIMEOUT_COUNT, 10) == -1);
	CHECK(napt_set_timeout(NAPT_TIMEOUT_UDP, 0) == -1);
	CHECK(napt_set_timeout(NAPT_TIMEOUT_UDP, NAPT_MAX_TIMEOUT + 1) == -1);
	CHECK(napt_set_filtering((enum napt_filtering)2) == -1);
	CHECK(napt_config()->max_flows == 1024);
	struct napt_stats s = stats();
	CHECK(s.capacity == 1024 && s.bytes_per_flow == 36);   /* 32 of flow, 4 of index */
	CHECK(live_flows() == 0);
}

static void test_udp(void)
{
	setup(1024, 16);
	/* Out: source becomes WAN, port kept (free). */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 53), WAN, 5000, R1, 53));
	/* The reply comes back to the inside host. */
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	/* Odd payload lengths, and a bigger datagram. */
	for (size_t len = 0; len < 40; len++) {
		CHECK(is_fwd(run(mk_udp_opt(H2, 5000, R1, 53, len, 0, 0), NAPT_OUTBOUND), WAN, 5000, R1, 53));
		CHECK(is_fwd(run(mk_udp_opt(R1, 53, WAN, 5000, len, 0, 0), NAPT_INBOUND), R1, 53, H2, 5000));
	}
	CHECK(is_fwd(run(mk_udp_opt(H2, 5000, R1, 53, 1400, 0, 0), NAPT_OUTBOUND), WAN, 5000, R1, 53));
	/* A zero UDP checksum ("none") stays zero both ways. */
	{
		struct pk p = mk_udp_opt(H2, 5000, R1, 53, 9, 1, 0);
		struct res r = run_keep(&p, NAPT_OUTBOUND);
		CHECK(is_fwd(r, WAN, 5000, R1, 53) && l4_csum_field(p.b) == 0);
		pk_free(&p);
		p = mk_udp_opt(R1, 53, WAN, 5000, 9, 1, 0);
		r = run_keep(&p, NAPT_INBOUND);
		CHECK(is_fwd(r, R1, 53, H2, 5000) && l4_csum_field(p.b) == 0);
		pk_free(&p);
	}
	/*
	 * A datagram whose translated checksum computes to zero goes out as
	 * 0xffff, never 0. Search a payload byte that makes it so.
	 */
	{
		int found = 0;
		for (unsigned x = 0; x < 65536 && !found; x++) {
			uint8_t b[20 + 8 + 2];
			ip_hdr(b, 0, sizeof(b), T_UDP, H2, R1);
			s16(b + 20, 5000);
			s16(b + 22, 53);
			s16(b + 24, 10);
			s16(b + 28, (uint16_t)x);
			/* Would the translated one (WAN:5000) compute to 0? */
			s32(b + 12, WAN);
			s16(b + 26, 0);
			if (ck_compute(ck_pseudo(WAN, R1, T_UDP, 10), b + 20, 10) != 0)
				continue;
			found = 1;
			s32(b + 12, H2);
			l4_fill_csum(b, sizeof(b), 0);
			ip_fill_csum(b);
			struct pk p = pk_exact(b, sizeof(b));
			struct res r = run_keep(&p, NAPT_OUTBOUND);
			CHECK(is_fwd(r, WAN, 5000, R1, 53) && l4_csum_field(p.b) == 0xffff);
			pk_free(&p);
		}
		CHECK(found);
	}
	struct napt_stats s = stats();
	CHECK(s.in_use[1] == 1 && s.created == 1 && s.translated[0] > 40 && s.translated[1] > 40);
}

static void test_tcp(void)
{
	setup(1024, 16);
	uint16_t ext = tcp_open(H2, 40000, R1, 443);
	CHECK(ext == 40000);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_ACK | T_PSH), R1, 443, H2, 40000));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 40000, R1, 443, T_ACK | T_PSH), WAN, 40000, R1, 443));
	struct napt_flow_info info;
	uint32_t cursor = 0;
	CHECK(napt_flow_next(&cursor, now, &info) == 1);
	CHECK(info.proto == T_TCP && info.tcp_state == NAPT_TCP_ESTABLISHED && info.replied && !info.forwarded
	      && info.in_addr == H2 && info.in_port == 40000 && info.ext_port == 40000 && info.rem_addr == R1 && info.rem_port == 443
	      && info.expires_in == 7440);
	CHECK(napt_flow_next(&cursor, now, &info) == 0);
	CHECK(strcmp(napt_tcp_state_name(NAPT_TCP_ESTABLISHED), "established") == 0);
	CHECK(strcmp(napt_tcp_state_name(99), "?") == 0);
}

static void test_icmp_echo(void)
{
	setup(1024, 16);
	struct res r = run(mk_echo(H2, R1, 8, 0x1234, 1, 32), NAPT_OUTBOUND);
	CHECK(is_fwd(r, WAN, 0x1234, R1, 0x1234));
	CHECK(is_fwd(run(mk_echo(R1, WAN, 0, 0x1234, 1, 32), NAPT_INBOUND), R1, 0x1234, H2, 0x1234));
	/* (For ICMP queries `struct res` holds the id in both port fields.) */
	/* Odd-length payload. */
	CHECK(is_fwd(run(mk_echo(H2, R1, 8, 0x1234, 2, 33), NAPT_OUTBOUND), WAN, 0x1234, R1, 0x1234));
	/* Another host using the same id gets another one (EIM across remotes too). */
	r = run(mk_echo(H3, R1, 8, 0x1234, 1, 32), NAPT_OUTBOUND);
	CHECK(r.v == NAPT_FORWARD && r.ok && r.src == WAN && r.sport != 0x1234 && r.sport != 0);
	uint16_t id3 = r.sport;
	r = run(mk_echo(R1, WAN, 0, id3, 1, 32), NAPT_INBOUND);
	CHECK(is_fwd(r, R1, 0x1234, H3, 0x1234));
	r = run(mk_echo(H3, R2, 8, 0x1234, 1, 32), NAPT_OUTBOUND);
	CHECK(is_fwd(r, WAN, id3, R2, id3));
	CHECK(is_fwd(run(mk_echo(R2, WAN, 0, id3, 1, 32), NAPT_INBOUND), R2, 0x1234, H3, 0x1234));
	/* An echo reply from a remote that was not pinged with that id: the router's. */
	CHECK(run(mk_echo(R3, WAN, 0, 0x1234, 1, 32), NAPT_INBOUND).v == NAPT_PASS);
	/* Echo requests to the WAN address are the router's to answer. */
	CHECK(run(mk_echo(R1, WAN, 8, 0x1234, 1, 32), NAPT_INBOUND).v == NAPT_PASS);
	/* Pinging the router's WAN address from the LAN is not translated. */
	CHECK(run(mk_echo(H2, WAN, 8, 0x1234, 1, 32), NAPT_OUTBOUND).v == NAPT_PASS);
	/* A bad ICMP checksum is dropped, both ways. */
	{
		uint64_t before = stats().dropped[NAPT_DROP_CHECKSUM];
		struct pk p = mk_echo(H2, R1, 8, 0x1234, 3, 32);
		p.b[30] ^= 1;
		CHECK(run(p, NAPT_OUTBOUND).v == NAPT_DROP);
		p = mk_echo(R1, WAN, 0, 0x1234, 3, 32);
		p.b[30] ^= 1;
		CHECK(run(p, NAPT_INBOUND).v == NAPT_DROP);
		CHECK(stats().dropped[NAPT_DROP_CHECKSUM] == before + 2);
	}
	/* Other ICMP queries outbound (timestamp) are not translated. */
	CHECK(run(mk_echo(H2, R1, 13, 0x77, 1, 12), NAPT_OUTBOUND).v == NAPT_DROP);
	CHECK(stats().in_use[2] == 3);
}

static void test_port_choice(void)
{
	setup(1024, 16);
	/* >= 1024, even: the second host gets another even port >= 1024. */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 53), WAN, 5000, R1, 53));
	struct res r = udp(NAPT_OUTBOUND, H3, 5000, R1, 53);
	CHECK(r.v == NAPT_FORWARD && r.ok && r.src == WAN && r.sport != 5000 && r.sport >= 1024 && (r.sport & 1) == 0);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, r.sport), R1, 53, H3, 5000));
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	/* >= 1024, odd. */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5001, R1, 53), WAN, 5001, R1, 53));
	r = udp(NAPT_OUTBOUND, H3, 5001, R1, 53);
	CHECK(r.v == NAPT_FORWARD && r.sport != 5001 && r.sport >= 1024 && (r.sport & 1) == 1);
	/* < 1024, odd and even: stays below 1024 (RFC 4787 REQ-3), same parity (REQ-4). */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 123, R1, 123), WAN, 123, R1, 123));
	r = udp(NAPT_OUTBOUND, H3, 123, R1, 123);
	CHECK(r.v == NAPT_FORWARD && r.sport != 123 && r.sport > 0 && r.sport < 1024 && (r.sport & 1) == 1);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 123, WAN, r.sport), R1, 123, H3, 123));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 500, R1, 500), WAN, 500, R1, 500));
	r = udp(NAPT_OUTBOUND, H3, 500, R1, 500);
	CHECK(r.v == NAPT_FORWARD && r.sport != 500 && r.sport > 0 && r.sport < 1024 && (r.sport & 1) == 0);
	/* Many hosts on one port: all distinct, all in range and parity. */
	{
		uint16_t seen[40];
		for (unsigned i = 0; i < 40; i++) {
			r = udp(NAPT_OUTBOUND, A(192, 168, 4, 100 + i), 7000, R1, 9);
			CHECK(r.v == NAPT_FORWARD && r.sport >= 1024 && (r.sport & 1) == 0);
			seen[i] = r.sport;
			for (unsigned j = 0; j < i; j++)
				CHECK(seen[j] != seen[i]);
		}
	}
	/* The router's own ports are never handed out. */
	r = udp(NAPT_OUTBOUND, H2, 68, R1, 67);
	CHECK(r.v == NAPT_FORWARD && r.sport != 68 && r.sport < 1024 && (r.sport & 1) == 0);
	r = tcp(NAPT_OUTBOUND, H2, 22, R1, 22, T_SYN);
	CHECK(r.v == NAPT_FORWARD && r.sport != 22 && r.sport < 1024 && (r.sport & 1) == 0);
	r = tcp(NAPT_OUTBOUND, H2, 2000, R1, 80, T_SYN);
	CHECK(r.v == NAPT_FORWARD && r.sport != 2000 && r.sport >= 1024 && (r.sport & 1) == 0);
	/* ... and unsolicited packets to them are the router's. */
	CHECK(udp(NAPT_INBOUND, GW, 67, WAN, 68).v == NAPT_PASS);
	CHECK(tcp(NAPT_INBOUND, R2, 5555, WAN, 22, T_SYN).v == NAPT_PASS);
	/* TCP and UDP ports are separate spaces. */
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H3, 5000, R1, 80, T_SYN), WAN, 5000, R1, 80));
}

static void test_eim(void)
{
	setup(1024, 16);
	CHECK(udp(NAPT_OUTBOUND, H2, 6000, R1, 53).v == NAPT_FORWARD);
	struct res r = udp(NAPT_OUTBOUND, H3, 6000, R1, 53);   /* port taken: a new one */
	uint16_t ext = r.sport;
	CHECK(r.v == NAPT_FORWARD && ext != 6000);
	/* The same inside endpoint to other remotes and ports: the same external port. */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 6000, R2, 53), WAN, ext, R2, 53));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 6000, R2, 54), WAN, ext, R2, 54));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 6000, R3, 3478), WAN, ext, R3, 3478));
	CHECK(is_fwd(udp(NAPT_INBOUND, R2, 54, WAN, ext), R2, 54, H3, 6000));
	CHECK(is_fwd(udp(NAPT_INBOUND, R3, 3478, WAN, ext), R3, 3478, H3, 6000));
	/* TCP too (RFC 5382 REQ-1). */
	uint16_t t1 = tcp_open(H3, 6000, R1, 80);
	CHECK(t1 == 6000);
	uint16_t t2 = tcp_open(H3, 6000, R2, 80);
	CHECK(t2 == t1);
	CHECK(stats().in_use[1] == 5 && stats().in_use[0] == 2);
}

static void test_filtering(void)
{
	setup(1024, 16);
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 3478), WAN, 5000, R1, 3478));
	/* Address-dependent: a remote the inside never sent to is dropped. */
	uint64_t f0 = stats().dropped[NAPT_DROP_FILTERED];
	CHECK(udp(NAPT_INBOUND, R2, 3478, WAN, 5000).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_FILTERED] == f0 + 1);
	CHECK(tcp(NAPT_INBOUND, R2, 3478, WAN, 5000, T_SYN).v == NAPT_DROP);   /* no TCP mapping at all */
	/* The same remote address from another port passes, and makes a flow. */
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 3479, WAN, 5000), R1, 3479, H2, 5000));
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 3479, WAN, 5000), R1, 3479, H2, 5000));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 3479), WAN, 5000, R1, 3479));
	CHECK(stats().in_use[1] == 2);
	/* A port nobody mapped: unsolicited. */
	uint64_t u0 = stats().dropped[NAPT_DROP_UNSOLICITED];
	CHECK(udp(NAPT_INBOUND, R1, 3478, WAN, 5002).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_UNSOLICITED] == u0 + 1);
	/* A flow R1 opened itself does not admit R2 either. */
	CHECK(udp(NAPT_INBOUND, R2, 3479, WAN, 5000).v == NAPT_DROP);
	/* Endpoint-independent: anyone may reach a live mapping. */
	CHECK(napt_set_filtering(NAPT_FILTER_ENDPOINT) == 0);
	CHECK(napt_config()->filtering == NAPT_FILTER_ENDPOINT);
	CHECK(is_fwd(udp(NAPT_INBOUND, R2, 3478, WAN, 5000), R2, 3478, H2, 5000));
	CHECK(is_fwd(udp(NAPT_INBOUND, R3, 1, WAN, 5000), R3, 1, H2, 5000));
	CHECK(udp(NAPT_INBOUND, R3, 1, WAN, 5002).v == NAPT_DROP);   /* still no mapping there */
	/* TCP: an inbound SYN to a live TCP mapping passes under EIF. */
	uint16_t ext = tcp_open(H2, 7000, R1, 80);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R2, 9999, WAN, ext, T_SYN), R2, 9999, H2, 7000));
	/* but a non-SYN from a new remote does not make a flow */
	uint64_t n0 = stats().dropped[NAPT_DROP_NOT_SYN];
	CHECK(tcp(NAPT_INBOUND, R3, 9999, WAN, ext, T_ACK).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_NOT_SYN] == n0 + 1);
	/* Back to address-dependent. */
	CHECK(napt_set_filtering(NAPT_FILTER_ADDRESS) == 0);
	CHECK(tcp(NAPT_INBOUND, R3, 9999, WAN, ext, T_SYN).v == NAPT_DROP);
}

static void test_udp_timeouts(void)
{
	setup(1024, 16);
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 53), WAN, 5000, R1, 53));
	now += 299;
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	now += 299;   /* the reply refreshed it */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 53), WAN, 5000, R1, 53));   /* refreshes */
	now += 299;
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	now += 300;   /* idle for the whole timeout: gone */
	uint64_t e0 = stats().expired;
	CHECK(udp(NAPT_INBOUND, R1, 53, WAN, 5000).v == NAPT_DROP);
	CHECK(stats().expired == e0 + 1 && stats().in_use[1] == 0);
	/* Outbound alone keeps a mapping alive (REQ-6). */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 53), WAN, 5000, R1, 53));
	for (int i = 0; i < 5; i++) {
		now += 250;
		CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 53), WAN, 5000, R1, 53));
	}
	now += 250;
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	/* A configured timeout applies at once. */
	CHECK(napt_set_timeout(NAPT_TIMEOUT_UDP, 120) == 0);
	now += 120;
	CHECK(udp(NAPT_INBOUND, R1, 53, WAN, 5000).v == NAPT_DROP);
	/* The clock wraps without harm. */
	setup(1024, 16);
	now = 0xffffff00u;
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5000, R1, 53), WAN, 5000, R1, 53));
	now += 0x100 + 40;   /* past the wrap, 296 s later */
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	now += 300;
	CHECK(udp(NAPT_INBOUND, R1, 53, WAN, 5000).v == NAPT_DROP);
}

static void test_tcp_timeouts(void)
{
	setup(1024, 16);
	/* Established: the long timeout. */
	uint16_t ext = tcp_open(H2, 40000, R1, 443);
	now += 7439;
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_ACK), R1, 443, H2, 40000));
	now += 7440;
	CHECK(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_ACK).v == NAPT_DROP);
	CHECK(stats().in_use[0] == 0);

	/* SYN only: the transitory timeout. */
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 40001, R1, 443, T_SYN), WAN, 40001, R1, 443));
	now += 239;
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 40001, R1, 443, T_SYN), WAN, 40001, R1, 443));   /* retransmit */
	now += 240;
	CHECK(tcp(NAPT_INBOUND, R1, 443, WAN, 40001, T_SYN | T_ACK).v == NAPT_DROP);
	CHECK(stats().in_use[0] == 0);

	/* FIN both ways: transitory. */
	ext = tcp_open(H2, 40002, R1, 443);
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 40002, R1, 443, T_FIN | T_ACK), WAN, ext, R1, 443));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_FIN | T_ACK), R1, 443, H2, 40002));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 40002, R1, 443, T_ACK), WAN, ext, R1, 443));
	{
		struct napt_flow_info info;
		uint32_t cursor = 0;
		CHECK(napt_flow_next(&cursor, now, &info) && info.tcp_state == NAPT_TCP_CLOSING && info.expires_in == 240);
	}
	now += 240;
	CHECK(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_ACK).v == NAPT_DROP);
	CHECK(stats().in_use[0] == 0);

	/* RST: transitory, from either side. */
	ext = tcp_open(H2, 40003, R1, 443);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_RST), R1, 443, H2, 40003));
	now += 239;
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 40003, R1, 443, T_RST), WAN, ext, R1, 443));
	now += 240;
	CHECK(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_ACK).v == NAPT_DROP);
	/* A new SYN after a reset reuses the four-tuple for a new connection. */
	ext = tcp_open(H2, 40004, R1, 443);
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 40004, R1, 443, T_RST), WAN, ext, R1, 443));
	CHECK(tcp_open(H2, 40004, R1, 443) == ext);
	now += 241;
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext, T_ACK), R1, 443, H2, 40004));
}

static void test_icmp_timeout(void)
{
	setup(1024, 16);
	CHECK(is_fwd(run(mk_echo(H2, R1, 8, 77, 1, 8), NAPT_OUTBOUND), WAN, 77, R1, 77));
	now += 59;
	CHECK(is_fwd(run(mk_echo(R1, WAN, 0, 77, 1, 8), NAPT_INBOUND), R1, 77, H2, 77));
	now += 60;
	CHECK(run(mk_echo(R1, WAN, 0, 77, 1, 8), NAPT_INBOUND).v == NAPT_PASS);   /* gone: the router's */
	CHECK(stats().in_use[2] == 0);
}

static void test_tick(void)
{
	setup(64, 16);
	for (unsigned i = 0; i < 10; i++)
		CHECK(udp(NAPT_OUTBOUND, H2, (uint16_t)(5000 + i), R1, 53).v == NAPT_FORWARD);
	tcp_open(H3, 1234, R1, 80);
	CHECK(live_flows() == 11);
	now += 299;
	for (int i = 0; i < 4; i++)
		napt_tick(now);
	CHECK(stats().in_use[1] == 10);
	now += 1;
	for (int i = 0; i < 4; i++)
		napt_tick(now);
	struct napt_stats s = stats();
	CHECK(s.in_use[1] == 0 && s.in_use[0] == 1 && s.expired == 10 && s.peak == 11);
	CHECK(live_flows() == 1);
	/* napt_flush() forgets every flow. */
	napt_flush();
	CHECK(live_flows() == 0 && stats().in_use[0] == 0);
	CHECK(tcp(NAPT_INBOUND, R1, 80, WAN, 1234, T_ACK).v == NAPT_DROP);
	/* The pool is whole again: 64 new flows fit. */
	for (unsigned i = 0; i < 64; i++)
		CHECK(udp(NAPT_OUTBOUND, H2, (uint16_t)(6000 + i), R2, 53).v == NAPT_FORWARD);
	CHECK(stats().in_use[1] == 64 && stats().dropped[NAPT_DROP_TABLE_FULL] == 0);
}

static void test_tcp_rules(void)
{
	setup(1024, 16);
	/* No flow from a non-SYN outbound packet. */
	uint64_t n0 = stats().dropped[NAPT_DROP_NOT_SYN];
	CHECK(tcp(NAPT_OUTBOUND, H2, 41000, R1, 80, T_ACK).v == NAPT_DROP);
	CHECK(tcp(NAPT_OUTBOUND, H2, 41000, R1, 80, T_SYN | T_ACK).v == NAPT_DROP);
	CHECK(tcp(NAPT_OUTBOUND, H2, 41000, R1, 80, T_RST).v == NAPT_DROP);
	CHECK(tcp(NAPT_OUTBOUND, H2, 41000, R1, 80, T_FIN | T_ACK).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_NOT_SYN] == n0 + 4);
	CHECK(live_flows() == 0);
	/* An unsolicited inbound SYN is dropped, not answered. */
	uint64_t u0 = stats().dropped[NAPT_DROP_UNSOLICITED];
	CHECK(tcp(NAPT_INBOUND, R1, 80, WAN, 41000, T_SYN).v == NAPT_DROP);
	CHECK(tcp(NAPT_INBOUND, R1, 80, WAN, 41001, T_ACK).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_UNSOLICITED] == u0 + 2);
	CHECK(live_flows() == 0);
	/* Simultaneous open: SYN out, then a SYN (no ACK) in from the same remote. */
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 41002, R1, 5001, T_SYN), WAN, 41002, R1, 5001));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5001, WAN, 41002, T_SYN), R1, 5001, H2, 41002));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 41002, R1, 5001, T_SYN | T_ACK), WAN, 41002, R1, 5001));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5001, WAN, 41002, T_SYN | T_ACK), R1, 5001, H2, 41002));
	/* Each side acknowledges the other's SYN. */
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 41002, R1, 5001, T_ACK), WAN, 41002, R1, 5001));
	{
		struct napt_flow_info info;
		uint32_t cursor = 0;
		CHECK(napt_flow_next(&cursor, now, &info) && info.tcp_state == NAPT_TCP_ESTABLISHED);
	}
	/* Established: the long timeout applies. */
	now += 3000;
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5001, WAN, 41002, T_ACK), R1, 5001, H2, 41002));
	/* Data segments on a live flow need no SYN. */
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 41002, R1, 5001, T_ACK | T_PSH), WAN, 41002, R1, 5001));
}

/* A TCP segment with the given sequence and acknowledgment numbers. */
static struct res tcp_seq(enum napt_dir dir, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct pk p = mk_tcp(src, sport, dst, dport, flags, 0);
	s32be(p.b + 24, seq);
	s32be(p.b + 28, ack);
	l4_fill_csum(p.b, p.n, 0);
	return run(p, dir);
}

/* The state of the one TCP flow in the table (0xff: none). */
static uint8_t first_state(void)
{
	struct napt_flow_info info;
	uint32_t cursor = 0;
	while (napt_flow_next(&cursor, now, &info))
		if (info.proto == T_TCP)
			return info.tcp_state;
	return 0xff;
}

/*
 * Blind RST and FIN (RFC 5961's reasoning, as Linux conntrack): from the
 * Internet, one whose sequence number is far from what the inside expects
 * does not end an established flow; it is still passed to the inside host,
 * whose own stack judges it. In the window, it does.
 */
static void test_blind_rst(void)
{
	setup(16, 4);
	uint16_t ext = tcp_open(H2, 41000, R1, 443);
	uint32_t s = 0x11223344u ^ 443;   /* the remote's next sequence number: what the inside last acknowledged */
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);
	/* Far out of the window, either side of it: forwarded, the state kept. */
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_RST, s + 0x40000000u, 0), R1, 443, H2, 41000));
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_RST | T_ACK, s - 0x200000u, 0), R1, 443, H2, 41000));
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_FIN | T_ACK, s + 0x100000u, 0), R1, 443, H2, 41000));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);
	/* Still established after the transitory timeout, and a flood of new flows does not push it out. */
	now += 300;
	for (uint16_t i = 0; i < 40; i++)
		udp(NAPT_OUTBOUND, H3, (uint16_t)(6000 + i), R2, 53);
	CHECK(stats().evicted > 0);
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_ACK, s, 0), R1, 443, H2, 41000));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);
	/* The inside acknowledges 100,000 more bytes: the window moves with it. */
	CHECK(is_fwd(tcp_seq(NAPT_OUTBOUND, H2, 41000, R1, 443, T_ACK, 7, s + 100000u), WAN, ext, R1, 443));
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_RST, s, 0), R1, 443, H2, 41000));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);
	/* An old ACK (reordered) does not move it back. */
	CHECK(is_fwd(tcp_seq(NAPT_OUTBOUND, H2, 41000, R1, 443, T_ACK, 7, s + 50u), WAN, ext, R1, 443));
	/* In the window (data in flight from the remote): the RST ends the flow. */
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_RST, s + 100000u + 1460u, 0), R1, 443, H2, 41000));
	CHECK(first_state() == NAPT_TCP_RESET);

	/* A FIN in the window counts; one out of it does not. */
	setup(16, 4);
	ext = tcp_open(H2, 41001, R1, 443);
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_FIN | T_ACK, s + 0x80000000u, 0), R1, 443, H2, 41001));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 443, WAN, ext, T_FIN | T_ACK, s, 0), R1, 443, H2, 41001));
	CHECK(first_state() == NAPT_TCP_FIN_WAIT);
	/* The inside's own RST is always believed. */
	CHECK(is_fwd(tcp_seq(NAPT_OUTBOUND, H2, 41001, R1, 443, T_RST, 0x99u, 0), WAN, ext, R1, 443));
	CHECK(first_state() == NAPT_TCP_RESET);

	/* Through a forward: the inside's SYN-ACK gives the window; a blind RST does nothing. */
	setup(16, 4);
	struct napt_forward fw = { .proto = T_TCP, .ext_port = 8080, .ext_end = 8080, .in_port = 80, .in_addr = H2 };
	CHECK(napt_forward_add(&fw) == NAPT_FORWARD_OK);
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 5555, WAN, 8080, T_SYN, 1000, 0), R1, 5555, H2, 80));
	CHECK(is_fwd(tcp_seq(NAPT_OUTBOUND, H2, 80, R1, 5555, T_SYN | T_ACK, 90000, 1001), WAN, 8080, R1, 5555));
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 5555, WAN, 8080, T_ACK, 1001, 90001), R1, 5555, H2, 80));
	CHECK(is_fwd(tcp_seq(NAPT_OUTBOUND, H2, 80, R1, 5555, T_ACK, 90001, 1001), WAN, 8080, R1, 5555));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 5555, WAN, 8080, T_RST, 1001u + 0x10000000u, 0), R1, 5555, H2, 80));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);
	CHECK(is_fwd(tcp_seq(NAPT_INBOUND, R1, 5555, WAN, 8080, T_RST, 1001, 0), R1, 5555, H2, 80));
	CHECK(first_state() == NAPT_TCP_RESET);
}

/* ------------------------------------------------------------------ */
/* ICMP errors.                                                        */

/* Send an outbound packet and return it as translated (the caller frees). */
static struct pk out_translated(struct pk p)
{
	CHECK(run_keep(&p, NAPT_OUTBOUND).v == NAPT_FORWARD);
	return p;
}

/*
 * Check an inbound ICMP error translated from `outer_src`: outer dst is the
 * inside host, the quoted packet equals `orig` (the untranslated outbound
 * packet) in its first `qlen` bytes, and every checksum verifies.
 */
static void check_err_in(struct pk *e, uint32_t outer_src, uint32_t inside, const struct pk *orig, size_t qlen)
{
	int whole;
	CHECK(src_of(e->b) == outer_src && dst_of(e->b) == inside);
	CHECK(ip_ok(e->b, e->n) && l4_ok(e->b, e->n));
	CHECK(quoted_ok(e->b, e->n, &whole));
	CHECK(whole == (qlen >= orig->n));
	CHECK(memcmp(e->b + 28, orig->b, qlen) == 0);
}

static void test_icmp_errors_inbound(void)
{
	setup(1024, 16);
	struct pk orig, tr, e;
	struct res r;
	uint64_t errs0 = stats().icmp_errors;

	/* Port unreachable about a UDP datagram, the whole datagram quoted (quoted UDP checksum checked). */
	orig = mk_udp(H3, 5000, R1, 53);
	CHECK(udp(NAPT_OUTBOUND, H2, 5000, R2, 53).v == NAPT_FORWARD);   /* so .3 gets another port */
	tr = out_translated(pk_exact(orig.b, orig.n));
	uint16_t ext = sport_of(tr.b);
	CHECK(ext != 5000 && src_of(tr.b) == WAN);
	e = mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n);
	r = run_keep(&e, NAPT_INBOUND);
	CHECK(r.v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, orig.n);
	CHECK(e.b[20] == 3 && e.b[21] == 3);
	pk_free(&e);
	/* Only 8 bytes of UDP quoted. */
	e = mk_icmp_err(R1, WAN, 3, 3, tr.b, 28);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, 28);
	pk_free(&e);
	/* Time exceeded from a router on the way. */
	e = mk_icmp_err(GW, WAN, 11, 0, tr.b, 28);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, GW, H3, &orig, 28);
	pk_free(&e);
	pk_free(&tr);
	pk_free(&orig);

	/* A UDP datagram without checksum: the quoted zero stays zero. */
	orig = mk_udp_opt(H3, 5100, R1, 53, 5, 1, 0);
	tr = out_translated(pk_exact(orig.b, orig.n));
	e = mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, orig.n);
	CHECK(g16(e.b + 28 + 20 + 6) == 0);
	pk_free(&e);
	pk_free(&tr);
	pk_free(&orig);

	/* TCP, 8 bytes quoted (no checksum in the quote), and the full header. */
	CHECK(tcp(NAPT_OUTBOUND, H2, 6000, R2, 80, T_SYN).v == NAPT_FORWARD);
	orig = mk_tcp(H3, 6000, R1, 80, T_SYN, 0);
	tr = out_translated(pk_exact(orig.b, orig.n));
	CHECK(sport_of(tr.b) != 6000);
	e = mk_icmp_err(R1, WAN, 3, 1, tr.b, 28);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, 28);
	pk_free(&e);
	e = mk_icmp_err(R1, WAN, 3, 1, tr.b, 38);   /* the TCP checksum just quoted */
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, 38);
	pk_free(&e);
	e = mk_icmp_err(R1, WAN, 3, 1, tr.b, tr.n);   /* the whole segment */
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, orig.n);
	pk_free(&e);
	pk_free(&tr);
	pk_free(&orig);

	/* An ICMP echo quoted: id restored, quoted ICMP checksum right. */
	CHECK(run(mk_echo(H2, R2, 8, 0x4242, 1, 16), NAPT_OUTBOUND).v == NAPT_FORWARD);
	orig = mk_echo(H3, R1, 8, 0x4242, 7, 16);
	tr = out_translated(pk_exact(orig.b, orig.n));
	CHECK(icmp_id_of(tr.b) != 0x4242);
	e = mk_icmp_err(GW, WAN, 11, 0, tr.b, tr.n);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, GW, H3, &orig, orig.n);
	pk_free(&e);
	e = mk_icmp_err(GW, WAN, 11, 0, tr.b, 28);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, GW, H3, &orig, 28);
	pk_free(&e);
	pk_free(&tr);
	pk_free(&orig);

	/* Parameter problem and source quench are errors too. */
	orig = mk_udp(H3, 5200, R1, 53);
	tr = out_translated(pk_exact(orig.b, orig.n));
	e = mk_icmp_err(R1, WAN, 12, 0, tr.b, 28);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, 28);
	pk_free(&e);
	e = mk_icmp_err(R1, WAN, 4, 0, tr.b, 28);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, 28);
	pk_free(&e);

	/* A quoted packet with IP options. */
	pk_free(&orig);
	pk_free(&tr);
	orig = mk_udp_opt(H3, 5300, R1, 53, 4, 0, 8);
	tr = out_translated(pk_exact(orig.b, orig.n));
	e = mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n);
	CHECK(run_keep(&e, NAPT_INBOUND).v == NAPT_FORWARD);
	check_err_in(&e, R1, H3, &orig, orig.n);
	pk_free(&e);
	pk_free(&tr);
	pk_free(&orig);

	CHECK(stats().icmp_errors == errs0 + 12);

	/* About the router's own traffic (no flow): left to lwIP. */
	orig = mk_udp(WAN, 33333, R1, 53);
	e = mk_icmp_err(R1, WAN, 3, 3, orig.b, orig.n);
	CHECK(run(e, NAPT_INBOUND).v == NAPT_PASS);
	pk_free(&orig);
	/* Quoting a packet not from our address: passed untouched. */
	orig = mk_udp(R3, 5000, R1, 53);
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, orig.b, orig.n), NAPT_INBOUND).v == NAPT_PASS);
	pk_free(&orig);
}

static void test_icmp_errors_outbound(void)
{
	setup(1024, 16);
	struct pk in, e, orig;
	int whole;
	uint16_t ext;
	/* .3 has mapping ext for port 5000 (.2 took 5000). */
	CHECK(udp(NAPT_OUTBOUND, H2, 5000, R2, 53).v == NAPT_FORWARD);
	struct res r = udp(NAPT_OUTBOUND, H3, 5000, R1, 53);
	ext = r.sport;
	/* R1 sends in; .3 answers with port unreachable about what it received. */
	orig = mk_udp(R1, 53, WAN, ext);          /* as it arrived on the WAN */
	in = pk_exact(orig.b, orig.n);
	CHECK(run_keep(&in, NAPT_INBOUND).v == NAPT_FORWARD);
	CHECK(dst_of(in.b) == H3 && dport_of(in.b) == 5000);
	e = mk_icmp_err(H3, R1, 3, 3, in.b, in.n);
	CHECK(run_keep(&e, NAPT_OUTBOUND).v == NAPT_FORWARD);
	CHECK(src_of(e.b) == WAN && dst_of(e.b) == R1);
	CHECK(ip_ok(e.b, e.n) && l4_ok(e.b, e.n) && quoted_ok(e.b, e.n, &whole) && whole);
	CHECK(memcmp(e.b + 28, orig.b, orig.n) == 0);
	pk_free(&e);
	/* 8 bytes quoted. */
	e = mk_icmp_err(H3, R1, 3, 3, in.b, 28);
	CHECK(run_keep(&e, NAPT_OUTBOUND).v == NAPT_FORWARD);
	CHECK(src_of(e.b) == WAN && ip_ok(e.b, e.n) && l4_ok(e.b, e.n) && quoted_ok(e.b, e.n, &whole) && !whole);
	CHECK(memcmp(e.b + 28, orig.b, 28) == 0);
	pk_free(&e);
	pk_free(&in);
	pk_free(&orig);

	/* TCP segment from a remote, the inside host says unreachable (full header quoted). */
	uint16_t text = tcp_open(H3, 6100, R1, 80);
	orig = mk_tcp(R1, 80, WAN, text, T_ACK | T_PSH, 10);
	in = pk_exact(orig.b, orig.n);
	CHECK(run_keep(&in, NAPT_INBOUND).v == NAPT_FORWARD);
	e = mk_icmp_err(H3, R1, 3, 3, in.b, 40);
	CHECK(run_keep(&e, NAPT_OUTBOUND).v == NAPT_FORWARD);
	CHECK(src_of(e.b) == WAN && ip_ok(e.b, e.n) && l4_ok(e.b, e.n) && quoted_ok(e.b, e.n, &whole));
	CHECK(memcmp(e.b + 28, orig.b, 40) == 0);
	pk_free(&e);
	pk_free(&in);
	pk_free(&orig);

	/* About a packet matching no flow: dropped. */
	uint64_t d0 = stats().dropped[NAPT_DROP_ICMP_ERROR];
	orig = mk_udp(R3, 53, H3, 7777);
	CHECK(run(mk_icmp_err(H3, R3, 3, 3, orig.b, orig.n), NAPT_OUTBOUND).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_ICMP_ERROR] == d0 + 1);
	pk_free(&orig);
	/* An error from a LAN host to a LAN host is not NAPT's. */
	orig = mk_udp(H2, 53, H3, 7777);
	CHECK(run(mk_icmp_err(H3, H2, 3, 3, orig.b, orig.n), NAPT_OUTBOUND).v == NAPT_PASS);
	pk_free(&orig);
}

static void test_icmp_errors_malformed(void)
{
	setup(1024, 16);
	struct pk orig = mk_udp(H2, 5000, R1, 53);
	struct pk tr = out_translated(pk_exact(orig.b, orig.n));
	uint8_t q[64];
	struct pk e;

	/* A bad ICMP checksum: dropped. */
	uint64_t c0 = stats().dropped[NAPT_DROP_CHECKSUM];
	e = mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n);
	e.b[22] ^= 0x40;
	CHECK(run(e, NAPT_INBOUND).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_CHECKSUM] == c0 + 1);
	e = mk_icmp_err(H2, R1, 3, 3, tr.b, tr.n);
	e.b[22] ^= 0x40;
	CHECK(run(e, NAPT_OUTBOUND).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_CHECKSUM] == c0 + 2);

	/* Quoted IP header cut short, every length from 0 to 27: never translated, never read past. */
	for (size_t qlen = 0; qlen < 28; qlen++) {
		struct res r = run(mk_icmp_err(R1, WAN, 3, 3, tr.b, qlen), NAPT_INBOUND);
		CHECK(r.v == NAPT_PASS || r.v == NAPT_DROP);
		r = run(mk_icmp_err(H2, R1, 3, 3, tr.b, qlen), NAPT_OUTBOUND);
		CHECK(r.v == NAPT_DROP);
	}
	/* Quoted IHL 15 (60 bytes) with only 28 or 67 quoted. */
	memcpy(q, tr.b, tr.n);
	q[0] = 0x4f;
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, q, 28), NAPT_INBOUND).v == NAPT_PASS);
	memset(q + 28, 0, sizeof(q) - 28);
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, q, 64), NAPT_INBOUND).v == NAPT_PASS);
	/* Quoted IHL < 5, and a quoted IPv6 version. */
	memcpy(q, tr.b, tr.n);
	q[0] = 0x44;
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, q, tr.n), NAPT_INBOUND).v == NAPT_PASS);
	q[0] = 0x65;
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, q, tr.n), NAPT_INBOUND).v == NAPT_PASS);
	/* A quoted non-first fragment has no transport header to translate. */
	memcpy(q, tr.b, tr.n);
	s16(q + 6, 0x0010);
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, q, tr.n), NAPT_INBOUND).v == NAPT_PASS);
	/* A quoted ICMP error (not a query): passed. */
	{
		struct pk inner = mk_icmp_err(WAN, R1, 3, 3, tr.b, 28);
		CHECK(run(mk_icmp_err(R1, WAN, 3, 3, inner.b, inner.n), NAPT_INBOUND).v == NAPT_PASS);
		pk_free(&inner);
	}
	/* ICMP errors shorter than 8 bytes: malformed. */
	{
		uint8_t b[20 + 4];
		ip_hdr(b, 0, sizeof(b), T_ICMP, R1, WAN);
		b[20] = 3;
		ip_fill_csum(b);
		CHECK(run(pk_exact(b, sizeof(b)), NAPT_INBOUND).v == NAPT_DROP);
	}
	/* An error that does not fit the contiguous bytes (len < tot_len): dropped, no read past len. */
	{
		struct pk e2 = mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n);
		struct pk head = pk_exact(e2.b, 36);
		uint64_t m0 = stats().dropped[NAPT_DROP_MALFORMED];
		CHECK(napt_process(head.b, head.n, e2.n, NAPT_INBOUND, now) == NAPT_DROP);
		CHECK(stats().dropped[NAPT_DROP_MALFORMED] == m0 + 1);
		pk_free(&head);
		pk_free(&e2);
	}
	/* The flow is still fine. */
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	pk_free(&tr);
	pk_free(&orig);
}

/* RFC 5508 REQ-9/10, RFC 4787 REQ-12: errors never refresh, never end a flow. */
static void test_icmp_errors_no_refresh(void)
{
	setup(1024, 16);
	struct pk orig = mk_udp(H2, 5000, R1, 53);
	struct pk tr = out_translated(pk_exact(orig.b, orig.n));
	/* A port unreachable does not end the flow. */
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n), NAPT_INBOUND).v == NAPT_FORWARD);
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n), NAPT_INBOUND).v == NAPT_FORWARD);
	CHECK(live_flows() == 1);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 53, WAN, 5000), R1, 53, H2, 5000));
	/* Errors just before the timeout do not extend it. */
	now += 299;
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, tr.b, tr.n), NAPT_INBOUND).v == NAPT_FORWARD);
	struct pk in = mk_udp(R1, 53, WAN, 5000);
	struct pk delivered = pk_exact(in.b, in.n);
	CHECK(run_keep(&delivered, NAPT_INBOUND).v == NAPT_FORWARD);   /* refreshes (inbound traffic) */
	now += 299;
	/* Outbound errors about the inbound one, late in the life: no refresh either. */
	CHECK(run(mk_icmp_err(H2, R1, 3, 3, delivered.b, delivered.n), NAPT_OUTBOUND).v == NAPT_FORWARD);
	now += 1;
	CHECK(udp(NAPT_INBOUND, R1, 53, WAN, 5000).v == NAPT_DROP);
	CHECK(live_flows() == 0);
	/* Nor does it keep a TCP flow alive or close it. */
	pk_free(&tr);
	pk_free(&orig);
	pk_free(&in);
	pk_free(&delivered);
	CHECK(tcp(NAPT_OUTBOUND, H2, 7000, R1, 80, T_SYN).v == NAPT_FORWARD);
	orig = mk_tcp(WAN, 7000, R1, 80, T_SYN, 0);
	now += 200;
	CHECK(run(mk_icmp_err(R1, WAN, 3, 3, orig.b, 28), NAPT_INBOUND).v == NAPT_FORWARD);
	now += 40;
	CHECK(tcp(NAPT_INBOUND, R1, 80, WAN, 7000, T_SYN | T_ACK).v == NAPT_DROP);
	pk_free(&orig);
}

/* ------------------------------------------------------------------ */

static struct napt_forward fwd(uint8_t proto, uint16_t ext, uint16_t ext_end, uint32_t in, uint16_t in_port)
{
	struct napt_forward f;
	memset(&f, 0, sizeof(f));
	f.proto = proto;
	f.ext_port = ext;
	f.ext_end = ext_end;
	f.in_addr = in;
	f.in_port = in_port;
	strcpy(f.description, "test");
	return f;
}

static void test_hairpin(void)
{
	setup(1024, 16);
	struct napt_forward f = fwd(T_TCP, 8080, 8080, H2, 80);
	CHECK(napt_forward_add(&f) == NAPT_FORWARD_OK);
	f.proto = T_UDP;
	CHECK(napt_forward_add(&f) == NAPT_FORWARD_OK);
	/* .3 has an external port of its own for 40000 (taken by .9 first, so not 40000). */
	CHECK(tcp(NAPT_OUTBOUND, H9, 40000, R1, 80, T_SYN).v == NAPT_FORWARD);
	struct res r = tcp(NAPT_OUTBOUND, H3, 40000, R1, 80, T_SYN);
	uint16_t ext3 = r.sport;
	CHECK(r.v == NAPT_FORWARD && ext3 != 40000);
	/* .3 reaches WAN:8080: hairpinned to .2:80 from WAN:ext3. */
	uint64_t h0 = stats().hairpinned;
	r = tcp(NAPT_OUTBOUND, H3, 40000, WAN, 8080, T_SYN);
	CHECK(r.v == NAPT_HAIRPIN && r.ok && r.src == WAN && r.sport == ext3 && r.dst == H2 && r.dport == 80);
	/* .2 answers WAN:ext3: back to .3 from WAN:8080. */
	r = tcp(NAPT_OUTBOUND, H2, 80, WAN, ext3, T_SYN | T_ACK);
	CHECK(r.v == NAPT_HAIRPIN && r.ok && r.src == WAN && r.sport == 8080 && r.dst == H3 && r.dport == 40000);
	r = tcp(NAPT_OUTBOUND, H3, 40000, WAN, 8080, T_ACK);
	CHECK(r.v == NAPT_HAIRPIN && r.src == WAN && r.sport == ext3 && r.dst == H2 && r.dport == 80);
	r = tcp(NAPT_OUTBOUND, H2, 80, WAN, ext3, T_ACK | T_PSH);
	CHECK(r.v == NAPT_HAIRPIN && r.src == WAN && r.sport == 8080 && r.dst == H3 && r.dport == 40000);
	CHECK(stats().hairpinned == h0 + 4);
	/* UDP the same way. */
	r = udp(NAPT_OUTBOUND, H3, 41000, WAN, 8080);
	CHECK(r.v == NAPT_HAIRPIN && r.ok && r.src == WAN && r.sport == 41000 && r.dst == H2 && r.dport == 80);
	r = udp(NAPT_OUTBOUND, H2, 80, WAN, 41000);
	CHECK(r.v == NAPT_HAIRPIN && r.ok && r.src == WAN && r.sport == 8080 && r.dst == H3 && r.dport == 41000);
	/* Hairpinning to a mapping (not a forward): .2 reaches .3's UDP mapping from outside. */
	CHECK(napt_set_filtering(NAPT_FILTER_ENDPOINT) == 0);
	r = udp(NAPT_OUTBOUND, H3, 42000, R1, 3478);
	uint16_t ext3u = r.sport;
	r = udp(NAPT_OUTBOUND, H2, 42001, WAN, ext3u);
	CHECK(r.v == NAPT_HAIRPIN && r.src == WAN && r.sport == 42001 && r.dst == H3 && r.dport == 42000);
	CHECK(napt_set_filtering(NAPT_FILTER_ADDRESS) == 0);
	/* A WAN port nobody owns: the router's (passed untranslated). */
	CHECK(udp(NAPT_OUTBOUND, H3, 41000, WAN, 9).v == NAPT_PASS);
	/* The router's own service on its WAN address, reached from the LAN: passed. */
	CHECK(tcp(NAPT_OUTBOUND, H3, 41001, WAN, 22, T_SYN).v == NAPT_PASS);
}

static void test_forwards(void)
{
	setup(1024, 4);
	uint32_t g0 = napt_forward_generation();
	struct napt_forward f = fwd(T_TCP, 8080, 8080, H2, 80);
	CHECK(napt_forward_add(&f) == NAPT_FORWARD_OK);
	CHECK(napt_forward_generation() != g0);
	/* The same again: refreshed (description and lease updated). */
	strcpy(f.description, "web");
	f.expires = 0;
	CHECK(napt_forward_add(&f) == NAPT_FORWARD_REFRESHED);
	CHECK(strcmp(napt_forward_find(T_TCP, 8080)->description, "web") == 0);
	/* Same external port to another host: conflict. */
	struct napt_forward g = fwd(T_TCP, 8080, 8080, H3, 80);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_CONFLICT);
	/* A range reaching into it from below: conflict; UDP on the same port: fine. */
	g = fwd(T_TCP, 8000, 8100, H3, 8000);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_CONFLICT);
	g = fwd(T_TCP, 8070, 8080, H3, 8000);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_CONFLICT);
	g = fwd(T_UDP, 8080, 8080, H3, 80);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_OK);
	/* Invalid. */
	g = fwd(T_ICMP, 1, 1, H3, 1);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_INVALID);
	g = fwd(T_TCP, 0, 0, H3, 1);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_INVALID);
	g = fwd(T_TCP, 100, 99, H3, 100);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_INVALID);
	g = fwd(T_TCP, 100, 110, H3, 65530);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_INVALID);
	g = fwd(T_TCP, 100, 100, H3, 0);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_INVALID);
	g = fwd(T_TCP, 100, 100, 0, 100);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_INVALID);
	/* A range: 6000-6009 -> .3:7000-7009, one to one. */
	g = fwd(T_UDP, 6000, 6009, H3, 7000);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_OK);
	CHECK(napt_forward_find(T_UDP, 6005) == napt_forward_find(T_UDP, 6000) && napt_forward_find(T_UDP, 6010) == NULL);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 1111, WAN, 6005), R1, 1111, H3, 7005));
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 1111, WAN, 6009), R1, 1111, H3, 7009));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 7005, R1, 1111), WAN, 6005, R1, 1111));
	/* The target's own outbound traffic leaves from its forwarded port. */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 7007, R2, 2222), WAN, 6007, R2, 2222));
	CHECK(napt_forward_count() == 3);
	g = fwd(T_UDP, 9000, 9000, H3, 9000);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_OK);
	g = fwd(T_UDP, 9001, 9001, H3, 9001);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_FULL);
	/* Listed in (proto, port) order. */
	CHECK(napt_forward_at(0)->proto == T_TCP && napt_forward_at(1)->ext_port == 6000
	      && napt_forward_at(2)->ext_port == 8080 && napt_forward_at(3)->ext_port == 9000 && napt_forward_at(4) == NULL);

	/* Inbound to a forward makes a flow; the reply goes out from the forward's port. */
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 50000, WAN, 8080, T_SYN), R1, 50000, H2, 80));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 50000, T_SYN | T_ACK), WAN, 8080, R1, 50000));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 50000, WAN, 8080, T_ACK), R1, 50000, H2, 80));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 50000, T_ACK), WAN, 8080, R1, 50000));
	{
		struct napt_flow_info info;
		uint32_t cursor = 0;
		int found = 0;
		while (napt_flow_next(&cursor, now, &info))
			if (info.proto == T_TCP && info.ext_port == 8080)
				found = info.forwarded && info.in_addr == H2 && info.in_port == 80 && info.tcp_state == NAPT_TCP_ESTABLISHED;
		CHECK(found);
	}
	/* A non-SYN to a forward makes nothing. */
	CHECK(tcp(NAPT_INBOUND, R2, 50000, WAN, 8080, T_ACK).v == NAPT_DROP);
	/* Removing the forward refuses new connections; the established one stays (test_forward_removed). */
	CHECK(napt_forward_remove(T_TCP, 8080) == NAPT_FORWARD_OK);
	CHECK(napt_forward_remove(T_TCP, 8080) == NAPT_FORWARD_NOT_FOUND);
	CHECK(napt_forward_find(T_TCP, 8080) == NULL && napt_forward_count() == 3);
	CHECK(tcp(NAPT_INBOUND, R1, 50001, WAN, 8080, T_SYN).v == NAPT_DROP);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 50000, WAN, 8080, T_ACK), R1, 50000, H2, 80));
	CHECK(stats().in_use[0] == 1);
	/* Removing by any port of a range. */
	CHECK(napt_forward_remove(T_UDP, 6003) == NAPT_FORWARD_OK);
	CHECK(udp(NAPT_INBOUND, R2, 1111, WAN, 6005).v == NAPT_DROP);
	CHECK(udp(NAPT_INBOUND, R1, 1111, WAN, 6009).v == NAPT_DROP);   /* never answered: went with it */
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 1111, WAN, 6005), R1, 1111, H3, 7005));   /* answered: lives on */

	/* A forward for one remote only. */
	g = fwd(T_UDP, 5060, 5060, H2, 5060);
	g.remote = R1;
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_OK);
	CHECK(udp(NAPT_INBOUND, R2, 5060, WAN, 5060).v == NAPT_DROP);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 5060, WAN, 5060), R1, 5060, H2, 5060));

	/* A lease: gone after napt_tick() at its expiry, with its flows. */
	g = fwd(T_TCP, 3389, 3389, H3, 3389);
	g.origin = NAPT_ORIGIN_UPNP;
	g.expires = now + 100;
	napt_forward_remove(T_UDP, 9000);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_OK);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R2, 1000, WAN, 3389, T_SYN), R2, 1000, H3, 3389));
	now += 99;
	napt_tick(now);
	CHECK(napt_forward_find(T_TCP, 3389) != NULL);
	uint32_t g1 = napt_forward_generation();
	now += 1;
	CHECK(tcp(NAPT_INBOUND, R3, 1000, WAN, 3389, T_SYN).v == NAPT_DROP);   /* expired, even before the tick */
	napt_tick(now);
	CHECK(napt_forward_find(T_TCP, 3389) == NULL && napt_forward_generation() != g1);
	CHECK(tcp(NAPT_INBOUND, R2, 1000, WAN, 3389, T_ACK).v == NAPT_DROP);   /* half-open: went with it */
	CHECK(stats().in_use[0] == 1);   /* the connection through 8080, still established */

	/* NAT-PMP and PCP's origin is a forward's like any; past it, none. */
	g = fwd(T_TCP, 3390, 3390, H3, 3390);
	g.origin = NAPT_ORIGIN_PMP + 1;
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_INVALID);
	g.origin = NAPT_ORIGIN_PMP;
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_OK);
	CHECK(napt_forward_find(T_TCP, 3390)->origin == NAPT_ORIGIN_PMP);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R2, 1001, WAN, 3390, T_SYN), R2, 1001, H3, 3390));
	CHECK(napt_forward_remove(T_TCP, 3390) == NAPT_FORWARD_OK);

	/* A forward's port is never handed to a new mapping. */
	g = fwd(T_UDP, 7100, 7100, H2, 22);
	CHECK(napt_forward_add(&g) == NAPT_FORWARD_OK);
	struct res r = udp(NAPT_OUTBOUND, H3, 7100, R1, 53);
	CHECK(r.v == NAPT_FORWARD && r.sport != 7100);
}

/*
 * Removing a forward (DeletePortMapping, forward del, a lease running out)
 * keeps the connections that came in through it until they close or time
 * out, as miniupnpd with Linux conntrack does; only new ones are refused.
 * Half-open TCP and unanswered UDP flows of the forward go at once.
 */
static void test_forward_removed(void)
{
	setup(1024, 16);
	struct napt_forward t = fwd(T_TCP, 8080, 8080, H2, 80), u = fwd(T_UDP, 5060, 5060, H2, 5060);
	CHECK(napt_forward_add(&t) == NAPT_FORWARD_OK && napt_forward_add(&u) == NAPT_FORWARD_OK);
	/* An established TCP connection in, one half-open, an answered and an unanswered UDP flow. */
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5555, WAN, 8080, T_SYN), R1, 5555, H2, 80));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 5555, T_SYN | T_ACK), WAN, 8080, R1, 5555));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5555, WAN, 8080, T_ACK), R1, 5555, H2, 80));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 5555, T_ACK), WAN, 8080, R1, 5555));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R2, 6666, WAN, 8080, T_SYN), R2, 6666, H2, 80));
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 7000, WAN, 5060), R1, 7000, H2, 5060));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5060, R1, 7000), WAN, 5060, R1, 7000));
	CHECK(is_fwd(udp(NAPT_INBOUND, R2, 7001, WAN, 5060), R2, 7001, H2, 5060));
	CHECK(live_flows() == 4);
	CHECK(napt_forward_remove(T_TCP, 8080) == NAPT_FORWARD_OK);
	CHECK(napt_forward_remove(T_UDP, 5060) == NAPT_FORWARD_OK);
	/* The established connection goes on, both ways, on the same ports. */
	CHECK(live_flows() == 2);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5555, WAN, 8080, T_ACK | T_PSH), R1, 5555, H2, 80));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 5555, T_ACK | T_PSH), WAN, 8080, R1, 5555));
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 7000, WAN, 5060), R1, 7000, H2, 5060));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5060, R1, 7000), WAN, 5060, R1, 7000));
	/* Nothing new gets in: not the half-open one, not the same remote from another port, not a stranger. */
	CHECK(tcp(NAPT_INBOUND, R2, 6666, WAN, 8080, T_ACK).v == NAPT_DROP);
	CHECK(tcp(NAPT_INBOUND, R1, 5556, WAN, 8080, T_SYN).v == NAPT_DROP);
	CHECK(tcp(NAPT_INBOUND, R3, 5556, WAN, 8080, T_SYN).v == NAPT_DROP);
	CHECK(udp(NAPT_INBOUND, R2, 7001, WAN, 5060).v == NAPT_DROP);
	CHECK(udp(NAPT_INBOUND, R1, 7002, WAN, 5060).v == NAPT_DROP);
	CHECK(napt_set_filtering(NAPT_FILTER_ENDPOINT) == 0);
	CHECK(tcp(NAPT_INBOUND, R3, 5557, WAN, 8080, T_SYN).v == NAPT_DROP);
	CHECK(udp(NAPT_INBOUND, R3, 7003, WAN, 5060).v == NAPT_DROP);
	CHECK(napt_set_filtering(NAPT_FILTER_ADDRESS) == 0);
	CHECK(live_flows() == 2);
	/* Its close: FIN both ways; a new SYN on the closed four-tuple does not reopen it. */
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 5555, T_FIN | T_ACK), WAN, 8080, R1, 5555));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5555, WAN, 8080, T_FIN | T_ACK), R1, 5555, H2, 80));
	CHECK(tcp(NAPT_INBOUND, R1, 5555, WAN, 8080, T_SYN).v == NAPT_DROP);
	now += 240;
	CHECK(tcp(NAPT_INBOUND, R1, 5555, WAN, 8080, T_ACK).v == NAPT_DROP);
	CHECK(stats().in_use[0] == 0);
	/* The UDP flow times out as any other. */
	now += 300;
	CHECK(udp(NAPT_INBOUND, R1, 7000, WAN, 5060).v == NAPT_DROP);
	CHECK(live_flows() == 0);
	/* Put back, the forward works again. */
	CHECK(napt_forward_add(&t) == NAPT_FORWARD_OK);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R3, 5558, WAN, 8080, T_SYN), R3, 5558, H2, 80));
	/* A SIP pinhole's media ends with the call: its answered flows go with it. */
	struct napt_forward m = fwd(T_UDP, 10000, 10001, H3, 40000);
	m.origin = NAPT_ORIGIN_SIP;
	CHECK(napt_forward_add(&m) == NAPT_FORWARD_OK);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 50000, WAN, 10000), R1, 50000, H3, 40000));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 40000, R1, 50000), WAN, 10000, R1, 50000));
	CHECK(napt_forward_remove(T_UDP, 10000) == NAPT_FORWARD_OK);
	CHECK(udp(NAPT_INBOUND, R1, 50000, WAN, 10000).v == NAPT_DROP);
}

static uint32_t flows_of(uint32_t in_addr)
{
	struct napt_flow_info info;
	uint32_t cursor = 0, n = 0;
	while (napt_flow_next(&cursor, now, &info))
		n += info.in_addr == in_addr;
	return n;
}

/*
 * The table taken over (issue 15 item 2). Established means the initiator
 * acknowledged the SYN-ACK (data seen both ways for a connection from
 * outside); a flow short of that is transitory and evictable; one LAN host,
 * and one forward's target, hold at most host_share flows.
 */
static void test_flow_share(void)
{
	default_share = 1;
	setup(64, 4);
	struct napt_stats st = stats();
	CHECK(st.host_share == 16);   /* a quarter of the table by default */
	/* From inside: established on the inside's ACK of the SYN-ACK. */
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 42000, R1, 80, T_SYN), WAN, 42000, R1, 80));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 80, WAN, 42000, T_SYN | T_ACK), R1, 80, H2, 42000));
	CHECK(first_state() == NAPT_TCP_SYN_RCVD);
	CHECK(strcmp(napt_tcp_state_name(NAPT_TCP_SYN_RCVD), "syn-received") == 0);
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 42000, R1, 80, T_ACK), WAN, 42000, R1, 80));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);

	/* From outside through a forward: the remote's ACK alone is not enough; the inside's too. */
	setup(64, 4);
	struct napt_forward fw = fwd(T_TCP, 8080, 8080, H2, 80);
	CHECK(napt_forward_add(&fw) == NAPT_FORWARD_OK);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5000, WAN, 8080, T_SYN), R1, 5000, H2, 80));
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 5000, T_SYN | T_ACK), WAN, 8080, R1, 5000));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5000, WAN, 8080, T_ACK), R1, 5000, H2, 80));
	CHECK(first_state() == NAPT_TCP_SYN_RCVD);
	CHECK(is_fwd(tcp(NAPT_OUTBOUND, H2, 80, R1, 5000, T_ACK), WAN, 8080, R1, 5000));
	CHECK(first_state() == NAPT_TCP_ESTABLISHED);

	/* A spoofed SYN flood through the forward, each SYN answered by the LAN server. */
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t rem = A(203, 0, 113, 100 + (i % 50));
		uint16_t port = (uint16_t)(20000 + i);
		if (tcp(NAPT_INBOUND, rem, port, WAN, 8080, T_SYN).v == NAPT_FORWARD)
			tcp(NAPT_OUTBOUND, H2, 80, rem, port, T_SYN | T_ACK);
	}
	CHECK(flows_of(H2) == 16);   /* the forward target's share, the established connection among them */
	/* Other hosts still open connections, and the established one still works. */
	uint64_t refused = stats().dropped[NAPT_DROP_HOST_SHARE];
	for (uint16_t i = 0; i < 16; i++)
		tcp_open(H3, (uint16_t)(43000 + i), R2, 443);
	/* H3 at its own share, all of it established: its next is refused, counted. */
	for (uint16_t i = 16; i < 20; i++)
		CHECK(tcp(NAPT_OUTBOUND, H3, (uint16_t)(43000 + i), R2, 443, T_SYN).v == NAPT_DROP);
	CHECK(flows_of(H3) == 16);
	CHECK(stats().dropped[NAPT_DROP_HOST_SHARE] == refused + 4);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 5000, WAN, 8080, T_ACK), R1, 5000, H2, 80));

	/* A LAN host pinging with many ids, every one answered: it keeps its share, no more. */
	setup(64, 4);
	for (uint16_t id = 1; id <= 100; id++)
		if (run(mk_echo(H2, R1, 8, id, 1, 8), NAPT_OUTBOUND).v == NAPT_FORWARD)
			run(mk_echo(R1, WAN, 0, id, 1, 8), NAPT_INBOUND);
	CHECK(flows_of(H2) == 16);
	for (uint16_t i = 0; i < 10; i++)
		tcp_open(H3, (uint16_t)(44000 + i), R2, 443);
	CHECK(flows_of(H3) == 10);
	/* The share can be set. */
	CHECK(napt_set_host_share(0) == -1 && napt_set_host_share(65) == -1);
	CHECK(napt_set_host_share(4) == 0 && stats().host_share == 4);
	for (uint16_t i = 0; i < 10; i++)
		udp(NAPT_OUTBOUND, H9, (uint16_t)(45000 + i), R2, 53);
	CHECK(flows_of(H9) == 4);
	/* A host's own unanswered flows make room for its next: the oldest goes. */
	now += 1;
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H9, 46000, R2, 53), WAN, 46000, R2, 53));
	CHECK(flows_of(H9) == 4);
	default_share = 0;
}

/* Live flows of (in_addr, ext_port): `replied` counts the answered ones, `rem_port_min` the lowest remote port of the rest. */
static uint32_t mapping_flows(uint32_t in_addr, uint16_t ext_port, uint32_t *replied, uint16_t *rem_port_min)
{
	struct napt_flow_info info;
	uint32_t cursor = 0, n = 0;
	*replied = 0;
	*rem_port_min = 0xffff;
	while (napt_flow_next(&cursor, now, &info)) {
		if (info.in_addr != in_addr || info.ext_port != ext_port)
			continue;
		n++;
		if (info.replied)
			(*replied)++;
		else if (info.rem_port < *rem_port_min)
			*rem_port_min = info.rem_port;
	}
	return n;
}

static int has_flow(uint32_t in_addr, uint16_t ext_port, uint32_t rem_addr, uint16_t rem_port)
{
	struct napt_flow_info info;
	uint32_t cursor = 0;
	while (napt_flow_next(&cursor, now, &info))
		if (info.in_addr == in_addr && info.ext_port == ext_port && info.rem_addr == rem_addr && info.rem_port == rem_port)
			return 1;
	return 0;
}

/*
 * Unsolicited UDP sprayed at a mapping (issue 15 item 10): 1000 datagrams
 * from 100 spoofed addresses and 1000 ports at a forward, and at a mapping
 * the inside made (EIF). Before: 1000 flows made each, up to the host's
 * share, evicting its own. Now: all delivered, 16 flows made, the oldest
 * unanswered reused for each newer sender; answered flows untouched.
 */
static void test_unanswered_bound(void)
{
	uint32_t replied;
	uint16_t low;
	setup(1024, 16);
	CHECK(stats().unanswered_per_mapping == NAPT_UNANSWERED_PER_MAPPING && NAPT_UNANSWERED_PER_MAPPING == 16);
	struct napt_forward f = fwd(T_UDP, 7100, 7100, H2, 7100);
	CHECK(napt_forward_add(&f) == NAPT_FORWARD_OK);
	/* A client the server answers, and an unanswered flow of the host's own. */
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 5555, WAN, 7100), R1, 5555, H2, 7100));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 7100, R1, 5555), WAN, 7100, R1, 5555));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 7400, R2, 9), WAN, 7400, R2, 9));
	struct napt_stats s0 = stats();
	for (uint32_t i = 0; i < 1000; i++) {
		if (i % 10 == 0)
			now++;
		CHECK(is_fwd(udp(NAPT_INBOUND, A(203, 0, 113, 100 + i % 100), (uint16_t)(20000 + i), WAN, 7100),
		             A(203, 0, 113, 100 + i % 100), (uint16_t)(20000 + i), H2, 7100));
	}
	struct napt_stats s1 = stats();
	CHECK(s1.created - s0.created == 16);
	CHECK(s1.unanswered_reused - s0.unanswered_reused == 984);
	CHECK(s1.evicted == s0.evicted && s1.dropped[NAPT_DROP_HOST_SHARE] == s0.dropped[NAPT_DROP_HOST_SHARE]);
	/* The newest senders hold the unanswered flows (to the clock's second); the answered one and the host's own stay. */
	CHECK(mapping_flows(H2, 7100, &replied, &low) == 17 && replied == 1 && low >= 20980);
	CHECK(mapping_flows(H2, 7400, &replied, &low) == 1);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 5555, WAN, 7100), R1, 5555, H2, 7100));
	/* An answer to a sender whose flow was taken over still leaves by the forward's port. */
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 7100, A(203, 0, 113, 100), 20000), WAN, 7100, A(203, 0, 113, 100), 20000));
	/* Answered, a sender's flow is no longer the spray's to take: 16 unanswered plus 2 answered. */
	CHECK(is_fwd(udp(NAPT_INBOUND, A(203, 0, 113, 199), 20999, WAN, 7100), A(203, 0, 113, 199), 20999, H2, 7100));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 7100, A(203, 0, 113, 199), 20999), WAN, 7100, A(203, 0, 113, 199), 20999));
	for (uint32_t i = 0; i < 100; i++) {
		now++;
		CHECK(udp(NAPT_INBOUND, A(203, 0, 113, 50), (uint16_t)(30000 + i), WAN, 7100).v == NAPT_FORWARD);
	}
	/* 16 unanswered (the newest, oldest first out), 2 answered, the one the host sent to 20000. */
	CHECK(mapping_flows(H2, 7100, &replied, &low) == 16 + 3 && replied == 2 && low == 20000);
	CHECK(has_flow(H2, 7100, A(203, 0, 113, 50), 30084) && !has_flow(H2, 7100, A(203, 0, 113, 50), 30083));
	CHECK(has_flow(H2, 7100, A(203, 0, 113, 100), 20000) && has_flow(H2, 7100, R1, 5555));
	/* Taken-over flows sit on their new keys only: each of the newest 16 senders is found, no flow made. */
	s0 = stats();
	for (uint16_t p = 30084; p < 30100; p++)
		CHECK(is_fwd(udp(NAPT_INBOUND, A(203, 0, 113, 50), p, WAN, 7100), A(203, 0, 113, 50), p, H2, 7100));
	CHECK(stats().created == s0.created && stats().unanswered_reused == s0.unanswered_reused);

	/* A mapping the inside made, endpoint-independent filtering: the same bound. */
	CHECK(napt_set_filtering(NAPT_FILTER_ENDPOINT) == 0);
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 7300, R2, 53), WAN, 7300, R2, 53));
	s0 = stats();
	now++;
	for (uint32_t i = 0; i < 1000; i++)
		CHECK(is_fwd(udp(NAPT_INBOUND, A(203, 0, 113, 100 + i % 100), (uint16_t)(20000 + i), WAN, 7300),
		             A(203, 0, 113, 100 + i % 100), (uint16_t)(20000 + i), H3, 7300));
	s1 = stats();
	CHECK(s1.created - s0.created == 16 && s1.unanswered_reused - s0.unanswered_reused == 984);
	CHECK(mapping_flows(H3, 7300, &replied, &low) == 17);
	CHECK(stats().in_use[1] == live_flows());
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H3, 7300, R2, 53), WAN, 7300, R2, 53));
	/* Unanswered flows past their timeout do not count. */
	now += 300;
	s0 = stats();
	CHECK(udp(NAPT_INBOUND, R3, 1, WAN, 7300).v == NAPT_DROP);   /* the mapping itself expired */
	CHECK(is_fwd(udp(NAPT_INBOUND, R3, 2, WAN, 7100), R3, 2, H2, 7100));
	CHECK(stats().created == s0.created + 1 && stats().unanswered_reused == s0.unanswered_reused);
	CHECK(napt_set_filtering(NAPT_FILTER_ADDRESS) == 0);
	napt_flush();
	CHECK(stats().in_use[1] == 0 && live_flows() == 0);
}

/* Another host's new TCP connections (of `n`) that get a flow. */
static int others_open(int n)
{
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok += tcp(NAPT_OUTBOUND, H3, (uint16_t)(43000 + i), R2, 443, T_SYN).v == NAPT_FORWARD;
	return ok;
}

/*
 * The three takeovers at the default 1024 flows and share (256):
 * 1100 spoofed SYNs through a forward to a listening server, one LAN host
 * with 2500 answered SYNs, one with 1100 answered echo ids. Before: another
 * host opened 0 of 20 connections after each; now all 20.
 */
static void test_takeover(void)
{
	default_share = 1;
	setup(1024, 16);
	struct napt_forward fw = fwd(T_TCP, 8080, 8080, H2, 80);
	CHECK(napt_forward_add(&fw) == NAPT_FORWARD_OK);
	for (uint32_t i = 0; i < 1100; i++) {
		uint32_t rem = A(203, 0, 113, 100 + (i % 100));
		uint16_t port = (uint16_t)(20000 + i);
		if (tcp(NAPT_INBOUND, rem, port, WAN, 8080, T_SYN).v == NAPT_FORWARD)
			tcp(NAPT_OUTBOUND, H2, 80, rem, port, T_SYN | T_ACK);
	}
	now += 60;
	CHECK(others_open(20) == 20);
	setup(1024, 16);
	for (uint32_t i = 0; i < 2500; i++) {
		uint16_t p = (uint16_t)(10000 + i);
		uint32_t rem = A(203, 0, 113, 100 + (i % 100));
		if (tcp(NAPT_OUTBOUND, H2, p, rem, 80, T_SYN).v == NAPT_FORWARD)
			tcp(NAPT_INBOUND, rem, 80, WAN, p, T_SYN | T_ACK);
	}
	now += 60;
	CHECK(others_open(20) == 20);
	setup(1024, 16);
	for (uint16_t id = 1; id <= 1100; id++)
		if (run(mk_echo(H2, R1, 8, id, 1, 8), NAPT_OUTBOUND).v == NAPT_FORWARD)
			run(mk_echo(R1, WAN, 0, id, 1, 8), NAPT_INBOUND);
	CHECK(flows_of(H2) == 256);
	CHECK(others_open(20) == 20);
	default_share = 0;
}

static void test_dmz(void)
{
	setup(1024, 16);
	CHECK(udp(NAPT_INBOUND, R1, 1000, WAN, 4444).v == NAPT_DROP);
	napt_set_dmz(H9);
	CHECK(napt_dmz() == H9);
	CHECK(is_fwd(udp(NAPT_INBOUND, R1, 1000, WAN, 4444), R1, 1000, H9, 4444));
	CHECK(is_fwd(udp(NAPT_OUTBOUND, H9, 4444, R1, 1000), WAN, 4444, R1, 1000));
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 1001, WAN, 443, T_SYN), R1, 1001, H9, 443));
	CHECK(tcp(NAPT_INBOUND, R1, 1002, WAN, 444, T_ACK).v == NAPT_DROP);   /* non-SYN: no flow */
	/* Live mappings and the router's own ports come first. */
	CHECK(udp(NAPT_OUTBOUND, H2, 5000, R2, 53).v == NAPT_FORWARD);
	CHECK(udp(NAPT_INBOUND, R1, 53, WAN, 5000).v == NAPT_DROP);   /* filtered, not DMZ */
	CHECK(udp(NAPT_INBOUND, GW, 67, WAN, 68).v == NAPT_PASS);
	CHECK(tcp(NAPT_INBOUND, R1, 1003, WAN, 22, T_SYN).v == NAPT_PASS);
	/* Echo requests stay the router's. */
	CHECK(run(mk_echo(R1, WAN, 8, 1, 1, 8), NAPT_INBOUND).v == NAPT_PASS);
	napt_set_dmz(0);
	CHECK(udp(NAPT_INBOUND, R1, 1000, WAN, 4445).v == NAPT_DROP);
}

/* ------------------------------------------------------------------ */

static void test_table_full(void)
{
	uint16_t ext[16];
	/* 16 established TCP flows fill the pool. */
	setup(16, 4);
	for (unsigned i = 0; i < 16; i++)
		ext[i] = tcp_open(A(192, 168, 4, 10 + i), (uint16_t)(10000 + i), R1, 443);
	CHECK(stats().in_use[0] == 16);
	now += 100;
	/* A flood of new flows is dropped... */
	uint64_t full0 = stats().dropped[NAPT_DROP_TABLE_FULL];
	for (unsigned i = 0; i < 50; i++) {
		CHECK(udp(NAPT_OUTBOUND, A(192, 168, 4, 100 + i % 50), (uint16_t)(20000 + i), R2, 53).v == NAPT_DROP);
		CHECK(tcp(NAPT_OUTBOUND, A(192, 168, 4, 100 + i % 50), (uint16_t)(20000 + i), R2, 80, T_SYN).v == NAPT_DROP);
		CHECK(run(mk_echo(H2, R2, 8, (uint16_t)i, 1, 8), NAPT_OUTBOUND).v == NAPT_DROP);
	}
	CHECK(stats().dropped[NAPT_DROP_TABLE_FULL] == full0 + 150);
	CHECK(stats().evicted == 0);
	/* ... and every established flow still translates both ways. */
	for (unsigned i = 0; i < 16; i++) {
		uint32_t h = A(192, 168, 4, 10 + i);
		CHECK(is_fwd(tcp(NAPT_OUTBOUND, h, (uint16_t)(10000 + i), R1, 443, T_ACK), WAN, ext[i], R1, 443));
		CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext[i], T_ACK), R1, 443, h, (uint16_t)(10000 + i)));
	}

	/* Half established, half transitory (SYN only): new flows evict the transitory ones. */
	setup(16, 4);
	for (unsigned i = 0; i < 8; i++)
		ext[i] = tcp_open(A(192, 168, 4, 10 + i), (uint16_t)(10000 + i), R1, 443);
	for (unsigned i = 8; i < 16; i++)
		CHECK(tcp(NAPT_OUTBOUND, A(192, 168, 4, 10 + i), (uint16_t)(10000 + i), R1, 443, T_SYN).v == NAPT_FORWARD);
	now += 10;
	for (unsigned i = 0; i < 8; i++)
		CHECK(is_fwd(udp(NAPT_OUTBOUND, A(192, 168, 4, 100 + i), (uint16_t)(20000 + i), R2, 53), WAN, (uint16_t)(20000 + i), R2, 53));
	struct napt_stats s = stats();
	CHECK(s.evicted == 8 && s.in_use[0] == 8 && s.in_use[1] == 8);
	/* The transitory ones went, the established stayed. */
	for (unsigned i = 8; i < 16; i++)
		CHECK(tcp(NAPT_INBOUND, R1, 443, WAN, (uint16_t)(10000 + i), T_SYN | T_ACK).v == NAPT_DROP);
	for (unsigned i = 0; i < 8; i++) {
		uint32_t h = A(192, 168, 4, 10 + i);
		CHECK(is_fwd(tcp(NAPT_OUTBOUND, h, (uint16_t)(10000 + i), R1, 443, T_ACK), WAN, ext[i], R1, 443));
		CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext[i], T_ACK), R1, 443, h, (uint16_t)(10000 + i)));
	}
	/* A flood keeps cycling through the unreplied, never the established. */
	for (unsigned i = 0; i < 100; i++)
		CHECK(udp(NAPT_OUTBOUND, A(192, 168, 4, 200 + i % 50), (uint16_t)(30000 + i), R3, 53).v == NAPT_FORWARD);
	CHECK(stats().in_use[0] == 8);
	for (unsigned i = 0; i < 8; i++)
		CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 443, WAN, ext[i], T_ACK), R1, 443, A(192, 168, 4, 10 + i), (uint16_t)(10000 + i)));

	/* Expired flows are taken before anything live. */
	setup(16, 4);
	for (unsigned i = 0; i < 16; i++)
		CHECK(udp(NAPT_OUTBOUND, H2, (uint16_t)(5000 + i), R1, 53).v == NAPT_FORWARD);
	now += 300;
	uint64_t e0 = stats().expired;
	CHECK(udp(NAPT_OUTBOUND, H3, 6000, R1, 53).v == NAPT_FORWARD);
	CHECK(stats().expired == e0 + 1 && stats().evicted == 0);
}

static void test_malformed(void)
{
	setup(1024, 16);
	struct pk good = mk_udp(H2, 5000, R1, 53);
	uint8_t b[128];
	uint64_t m0 = stats().dropped[NAPT_DROP_MALFORMED];
	unsigned expect = 0;
#define MAL(buf, n, dir) do { CHECK(run(pk_exact((buf), (n)), (dir)).v == NAPT_DROP); expect++; } while (0)

	/* Shorter than 20 bytes: every length. */
	for (size_t n = 0; n < 20; n++) {
		MAL(good.b, n, NAPT_OUTBOUND);
		MAL(good.b, n, NAPT_INBOUND);
	}
	/* Bad version. */
	memcpy(b, good.b, good.n);
	b[0] = 0x65;
	ip_fill_csum(b);
	MAL(b, good.n, NAPT_OUTBOUND);
	/* IHL < 5. */
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		memcpy(b, good.b, good.n);
		b[0] = (uint8_t)(0x40 | ihl);
		MAL(b, good.n, NAPT_OUTBOUND);
	}
	/* IHL beyond the buffer. */
	memcpy(b, good.b, good.n);
	b[0] = 0x4f;
	MAL(b, good.n, NAPT_OUTBOUND);
	MAL(b, 24, NAPT_INBOUND);
	/* Total length beyond the buffer's tot_len. */
	memcpy(b, good.b, good.n);
	s16(b + 2, (uint16_t)(good.n + 1));
	ip_fill_csum(b);
	MAL(b, good.n, NAPT_OUTBOUND);
	/* Total length below the IHL. */
	s16(b + 2, 19);
	ip_fill_csum(b);
	MAL(b, good.n, NAPT_OUTBOUND);
	/* Bad IP header checksum: refused where it would make a flow, both ways. */
	memcpy(b, good.b, good.n);
	b[11] ^= 1;
	MAL(b, good.n, NAPT_OUTBOUND);
	{
		struct pk in = mk_udp(R1, 53, WAN, 6000);
		in.b[11] ^= 1;
		MAL(in.b, in.n, NAPT_INBOUND);
		pk_free(&in);
	}
	/* Truncated UDP header (total length says so, too). */
	for (size_t n = 20; n < 28; n++) {
		memcpy(b, good.b, n);
		s16(b + 2, (uint16_t)n);
		ip_fill_csum(b);
		MAL(b, n, NAPT_OUTBOUND);
	}
	/*
	 * A UDP length field below the header or past the IP payload (issue 15
	 * item 10): dropped both ways, making a flow or on one's fast path, and
	 * judged by the datagram's length when the rest lies in another buffer.
	 */
	{
		static const uint16_t bad[] = { 0, 1, 7, 22, 41, 0xffff };   /* good.n 41: its UDP length is 21 */
		CHECK(is_fwd(udp(NAPT_OUTBOUND, H2, 5001, R1, 53), WAN, 5001, R1, 53));
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct pk out = mk_udp_opt(H2, 5001, R1, 53, 13, 0, 0);
			struct pk fresh = mk_udp_opt(H2, 5002, R1, 53, 13, 0, 0);
			struct pk in = mk_udp_opt(R1, 53, WAN, 5001, 13, 0, 0);
			struct pk opt = mk_udp_opt(R1, 53, WAN, 5001, 13, 0, 8);
			s16(out.b + 24, bad[i]);
			s16(fresh.b + 24, bad[i]);
			s16(in.b + 24, bad[i]);
			s16(opt.b + 32, bad[i]);
			MAL(out.b, out.n, NAPT_OUTBOUND);
			MAL(fresh.b, fresh.n, NAPT_OUTBOUND);
			MAL(in.b, in.n, NAPT_INBOUND);
			MAL(opt.b, opt.n, NAPT_INBOUND);
			CHECK(napt_process(in.b, 28, in.n, NAPT_INBOUND, now) == NAPT_DROP);
			expect++;
			pk_free(&out);
			pk_free(&fresh);
			pk_free(&in);
			pk_free(&opt);
		}
		/* Only the header contiguous, the length right: translated. */
		struct pk in = mk_udp_opt(R1, 53, WAN, 5001, 13, 0, 0);
		CHECK(napt_process(in.b, 28, in.n, NAPT_INBOUND, now) == NAPT_FORWARD && dst_of(in.b) == H2);
		pk_free(&in);
		/* Shorter than the payload: trailing bytes, forwarded as Linux does, both ways. */
		for (uint16_t ulen = 8; ulen <= 21; ulen++) {
			struct pk out = mk_udp_opt(H2, 5001, R1, 53, 13, 1, 0);
			s16(out.b + 24, ulen);
			CHECK(is_fwd(run(out, NAPT_OUTBOUND), WAN, 5001, R1, 53));
			in = mk_udp_opt(R1, 53, WAN, 5001, 13, 1, 0);
			s16(in.b + 24, ulen);
			CHECK(is_fwd(run(in, NAPT_INBOUND), R1, 53, H2, 5001));
		}
		CHECK(stats().dropped[NAPT_DROP_MALFORMED] == m0 + expect);
		/* No flow was made for the malformed one that had none. */
		CHECK(!has_flow(H2, 5002, R1, 53));
	}
	/* TCP: truncated header, data offset < 5. */
	{
		struct pk t = mk_tcp(H2, 5000, R1, 80, T_SYN, 0);
		for (size_t n = 20; n < 40; n++) {
			memcpy(b, t.b, n);
			s16(b + 2, (uint16_t)n);
			ip_fill_csum(b);
			MAL(b, n, NAPT_OUTBOUND);
		}
		for (unsigned off = 0; off < 5; off++) {
			memcpy(b, t.b, t.n);
			b[32] = (uint8_t)(off << 4);
			l4_fill_csum(b, t.n, 0);
			MAL(b, t.n, NAPT_OUTBOUND);
		}
		pk_free(&t);
	}
	/* ICMP shorter than its 8-byte header. */
	{
		struct pk e = mk_echo(H2, R1, 8, 1, 1, 0);
		for (size_t n = 20; n < 28; n++) {
			memcpy(b, e.b, n);
			s16(b + 2, (uint16_t)n);
			ip_fill_csum(b);
			MAL(b, n, NAPT_OUTBOUND);
		}
		pk_free(&e);
	}
	CHECK(stats().dropped[NAPT_DROP_MALFORMED] == m0 + expect);
	/*
	 * On a flow's fast path the header checksum is lwIP's to check, right
	 * after the hook: the incremental update must keep a bad one bad.
	 */
	{
		struct pk out = mk_udp(H2, 5000, R1, 53);
		CHECK(run(out, NAPT_OUTBOUND).v == NAPT_FORWARD);
		struct pk again = mk_udp(H2, 5000, R1, 53);
		again.b[11] ^= 1;
		CHECK(napt_process(again.b, (uint16_t)again.n, (uint16_t)again.n, NAPT_OUTBOUND, now) == NAPT_FORWARD);
		CHECK(src_of(again.b) == WAN);
		CHECK(!ck_ok(again.b, 20));
		pk_free(&again);
	}
	/* Headers split from the rest (len < tot_len): a TCP header that is not contiguous is refused. */
	{
		struct pk t = mk_tcp(H2, 5000, R1, 80, T_SYN, 100);
		struct pk head = pk_exact(t.b, 30);
		CHECK(napt_process(head.b, head.n, t.n, NAPT_OUTBOUND, now) == NAPT_DROP);
		pk_free(&head);
		/* With the header contiguous, the rest elsewhere: translated (checksum updated incrementally). */
		head = pk_exact(t.b, 40);
		CHECK(napt_process(head.b, head.n, t.n, NAPT_OUTBOUND, now) == NAPT_FORWARD);
		memcpy(t.b, head.b, 40);
		CHECK(all_ok(t.b, t.n) && src_of(t.b) == WAN);
		pk_free(&head);
		pk_free(&t);
	}
	/* Trailing bytes after the datagram (Ethernet padding) are ignored. */
	{
		uint8_t pad[64];
		memset(pad, 0, sizeof(pad));
		memcpy(pad, good.b, good.n);
		struct pk p = pk_exact(pad, sizeof(pad));
		CHECK(napt_process(p.b, p.n, p.n, NAPT_OUTBOUND, now) == NAPT_FORWARD);
		CHECK(all_ok(p.b, good.n) && src_of(p.b) == WAN);
		pk_free(&p);
	}
	/* Fragments are the glue's to reassemble: not translated here. */
	{
		memcpy(b, good.b, good.n);
		s16(b + 6, 0x2000);   /* MF */
		ip_fill_csum(b);
		CHECK(run(pk_exact(b, good.n), NAPT_OUTBOUND).v == NAPT_DROP);
		s16(b + 6, 0x0001);   /* offset 8 */
		ip_fill_csum(b);
		CHECK(run(pk_exact(b, good.n), NAPT_OUTBOUND).v == NAPT_DROP);
	}
	/* Other protocols: outbound not translatable (dropped), inbound the router's. */
	{
		memcpy(b, good.b, good.n);
		b[9] = 47;   /* GRE */
		ip_fill_csum(b);
		CHECK(run(pk_exact(b, good.n), NAPT_OUTBOUND).v == NAPT_DROP);
		s32(b + 12, R1);
		s32(b + 16, WAN);
		ip_fill_csum(b);
		CHECK(run(pk_exact(b, good.n), NAPT_INBOUND).v == NAPT_PASS);
	}
#undef MAL
	pk_free(&good);
}

static void test_ip_options(void)
{
	setup(1024, 16);
	for (unsigned opt = 4; opt <= 40; opt += 4) {
		CHECK(is_fwd(run(mk_udp_opt(H2, 5000, R1, 53, 21, 0, opt), NAPT_OUTBOUND), WAN, 5000, R1, 53));
		CHECK(is_fwd(run(mk_udp_opt(R1, 53, WAN, 5000, 21, 0, opt), NAPT_INBOUND), R1, 53, H2, 5000));
	}
}

static void test_not_for_napt(void)
{
	setup(1024, 16);
	/* LAN to the router's LAN address, LAN broadcast, limited broadcast, multicast. */
	CHECK(udp(NAPT_OUTBOUND, H2, 5000, LAN, 53).v == NAPT_PASS);
	CHECK(udp(NAPT_OUTBOUND, H2, 5000, A(192, 168, 4, 255), 137).v == NAPT_PASS);
	CHECK(udp(NAPT_OUTBOUND, A(0, 0, 0, 0), 68, A(255, 255, 255, 255), 67).v == NAPT_PASS);
	CHECK(udp(NAPT_OUTBOUND, H2, 5353, A(224, 0, 0, 251), 5353).v == NAPT_PASS);
	CHECK(udp(NAPT_OUTBOUND, H2, 1900, A(239, 255, 255, 250), 1900).v == NAPT_PASS);
	CHECK(run(mk_echo(H2, LAN, 8, 1, 1, 8), NAPT_OUTBOUND).v == NAPT_PASS);
	/* LAN host to another LAN host. */
	CHECK(udp(NAPT_OUTBOUND, H2, 5000, H3, 53).v == NAPT_PASS);
	CHECK(live_flows() == 0);
	/* From the WAN to a LAN address: never routed in. */
	uint64_t u0 = stats().dropped[NAPT_DROP_UNSOLICITED];
	CHECK(udp(NAPT_INBOUND, R1, 53, H2, 5000).v == NAPT_DROP);
	CHECK(tcp(NAPT_INBOUND, R1, 53, H2, 5000, T_SYN).v == NAPT_DROP);
	CHECK(run(mk_echo(R1, H2, 8, 1, 1, 8), NAPT_INBOUND).v == NAPT_DROP);
	CHECK(stats().dropped[NAPT_DROP_UNSOLICITED] == u0 + 3);
	/* From the WAN to another address (not ours): not NAPT's. */
	CHECK(udp(NAPT_INBOUND, R1, 53, R2, 5000).v == NAPT_PASS);
	CHECK(udp(NAPT_INBOUND, GW, 67, A(255, 255, 255, 255), 68).v == NAPT_PASS);
	/* A source outside the LAN, or the router's LAN address itself: not forwarded. */
	CHECK(udp(NAPT_OUTBOUND, A(10, 0, 0, 1), 5000, R1, 53).v == NAPT_DROP);
	CHECK(udp(NAPT_OUTBOUND, LAN, 5000, R1, 53).v == NAPT_DROP);
	/* No WAN address yet: nothing translated. */
	struct napt_addresses a = { 0, LAN, MASK };
	napt_set_addresses(&a);
	CHECK(udp(NAPT_OUTBOUND, H2, 5000, R1, 53).v == NAPT_DROP);
	CHECK(udp(NAPT_INBOUND, R1, 53, A(0, 0, 0, 0), 5000).v == NAPT_PASS);
	CHECK(udp(NAPT_INBOUND, GW, 67, A(255, 255, 255, 255), 68).v == NAPT_PASS);
	CHECK(live_flows() == 0);
}

/* Impossible sources arriving on the WAN (RFC 1812 5.3.7): dropped and counted, to the router too. */
static void test_martians(void)
{
	setup(1024, 16);
	const uint32_t bad[] = {
		A(127, 0, 0, 1), A(0, 0, 0, 0), A(0, 1, 2, 3), A(192, 168, 4, 7), A(192, 168, 4, 1),
		A(224, 0, 0, 1), A(239, 1, 2, 3), A(255, 255, 255, 255),
	};
	uint64_t m0 = stats().dropped[NAPT_DROP_MARTIAN];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		/* A ping to the router's WAN address, a SYN and a datagram to its own ports, and one to a mapping. */
		CHECK(run(mk_echo(bad[i], WAN, 8, 0x4242, 1, 16), NAPT_INBOUND).v == NAPT_DROP);
		CHECK(tcp(NAPT_INBOUND, bad[i], 4000, WAN, 22, T_SYN).v == NAPT_DROP);
		CHECK(udp(NAPT_INBOUND, bad[i], 67, WAN, 68).v == NAPT_DROP);
		/* Even to an address not ours (lwIP would forward or drop it): NAPT says drop. */
		CHECK(udp(NAPT_INBOUND, bad[i], 67, R2, 68).v == NAPT_DROP);
	}
	CHECK(stats().dropped[NAPT_DROP_MARTIAN] == m0 + 4 * (sizeof bad / sizeof bad[0]));
	/* A flow from the LAN is not reachable from a spoofed LAN source either. */
	uint16_t ext = tcp_open(H2, 5000, R1, 80);
	CHECK(tcp(NAPT_INBOUND, H3, 80, WAN, ext, T_ACK).v == NAPT_DROP);
	/* Ordinary sources still pass: the gateway, a remote. */
	CHECK(run(mk_echo(GW, WAN, 8, 0x4242, 1, 16), NAPT_INBOUND).v == NAPT_PASS);
	CHECK(udp(NAPT_INBOUND, GW, 67, A(255, 255, 255, 255), 68).v == NAPT_PASS);
	CHECK(is_fwd(tcp(NAPT_INBOUND, R1, 80, WAN, ext, T_ACK), R1, 80, H2, 5000));
	/* The LAN's subnet follows the configuration. */
	struct napt_addresses a = { WAN, A(10, 1, 0, 1), A(255, 255, 0, 0) };
	napt_set_addresses(&a);
	CHECK(run(mk_echo(A(192, 168, 4, 7), WAN, 8, 0x4242, 1, 16), NAPT_INBOUND).v == NAPT_PASS);
	CHECK(run(mk_echo(A(10, 1, 200, 3), WAN, 8, 0x4242, 1, 16), NAPT_INBOUND).v == NAPT_DROP);
	/* From the LAN, nothing changes: multicast and broadcast destinations pass as before. */
	CHECK(udp(NAPT_OUTBOUND, A(0, 0, 0, 0), 68, A(255, 255, 255, 255), 67).v == NAPT_PASS);
}

/* Seeded xorshift32: the same packets on every run. */
static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* A random public address: not 0/8, 10/8, 127/8, 192.168/16, multicast or above, not ours. */
static uint32_t rnd_public(void)
{
	for (;;) {
		uint32_t v = rnd();
		uint8_t a = (uint8_t)(v >> 24), b = (uint8_t)(v >> 16);
		if (a == 0 || a == 10 || a == 127 || a >= 224 || (a == 192 && b == 168))
			continue;
		uint32_t addr = A(a, b, (v >> 8) & 255, v & 255);
		if (addr != WAN)
			return addr;
	}
}

/*
 * Random traffic: random inside hosts and ports, random remotes, random
 * payloads (so the checksum arithmetic meets every carry), UDP, TCP and
 * ICMP, out and back; every packet verified from scratch.
 */
static void test_random(void)
{
	setup(4096, 16);
	napt_set_filtering(NAPT_FILTER_ADDRESS);
	unsigned translated = 0;
	for (unsigned i = 0; i < 40000; i++) {
		uint32_t in = A(192, 168, 4, 2 + rnd() % 250);
		uint32_t rem = rnd_public();
		uint16_t ip = (uint16_t)(rnd() | 1u), rp = (uint16_t)(rnd() % 65535 + 1);
		size_t len = rnd() % 200;
		unsigned kind = rnd() % 3;
		struct pk p;
		struct res r;
		uint8_t b[20 + 20 + 200];
		if (kind == 0)
			p = mk_udp_opt(in, ip, rem, rp, len, 0, 0);
		else if (kind == 1)
			p = mk_tcp(in, ip, rem, rp, T_SYN, 0);
		else
			p = mk_echo(in, rem, 8, ip, (uint16_t)rnd(), len);
		/* Random payload bytes, random IP id and TOS: fix the checksums up. */
		memcpy(b, p.b, p.n);
		for (unsigned j = (kind == 1 ? 40u : 28u); j < p.n; j++)
			b[j] = (uint8_t)rnd();
		b[1] = (uint8_t)rnd();
		s16(b + 4, (uint16_t)rnd());
		l4_fill_csum(b, p.n, 0);
		ip_fill_csum(b);
		size_t n = p.n;
		pk_free(&p);
		p = pk_exact(b, n);
		r = run_keep(&p, NAPT_OUTBOUND);
		CHECK(r.v == NAPT_FORWARD && r.src == WAN && r.dst == rem);
		uint16_t ext = r.sport;
		pk_free(&p);
		/* The reply. */
		if (kind == 0)
			p = mk_udp_opt(rem, rp, WAN, ext, len, 0, 0);
		else if (kind == 1)
			p = mk_tcp(rem, rp, WAN, ext, T_SYN | T_ACK, 0);
		else
			p = mk_echo(rem, WAN, 0, ext, (uint16_t)rnd(), len);
		memcpy(b, p.b, p.n);
		for (unsigned j = (kind == 1 ? 40u : 28u); j < p.n; j++)
			b[j] = (uint8_t)rnd();
		s16(b + 4, (uint16_t)rnd());
		b[8] = 64;
		l4_fill_csum(b, p.n, 0);
		ip_fill_csum(b);
		pk_free(&p);
		p = pk_exact(b, n);
		r = run_keep(&p, NAPT_INBOUND);
		CHECK(r.v == NAPT_FORWARD && r.dst == in && r.src == rem && r.dport == ip);
		translated += r.v == NAPT_FORWARD;
		pk_free(&p);
		if (i % 1000 == 999)
			napt_flush();
	}
	CHECK(translated == 40000);
}

int main(void)
{
	test_config();
	test_udp();
	test_tcp();
	test_icmp_echo();
	test_port_choice();
	test_eim();
	test_filtering();
	test_udp_timeouts();
	test_tcp_timeouts();
	test_icmp_timeout();
	test_tick();
	test_tcp_rules();
	test_blind_rst();
	test_flow_share();
	test_icmp_errors_inbound();
	test_icmp_errors_outbound();
	test_icmp_errors_malformed();
	test_icmp_errors_no_refresh();
	test_hairpin();
	test_forwards();
	test_forward_removed();
	test_takeover();
	test_unanswered_bound();
	test_dmz();
	test_table_full();
	test_malformed();
	test_ip_options();
	test_not_for_napt();
	test_martians();
	test_random();
	return check_report("napt_test");
}
