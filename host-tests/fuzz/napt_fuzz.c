/*
 * libFuzzer harness for the NAPT per-packet path. One input is a sequence
 * of packets, so flows made by one are found by the next:
 *   [ctl][len hi][len lo][len bytes of packet] ...
 * ctl bit 0: direction (1 = inbound); bit 1: make the IP header checksum
 * right; bit 2: make the ICMP, TCP or UDP checksum right; bit 3: source or
 * destination forced onto the LAN host / WAN address for its direction;
 * bits 4-7: the seconds the clock moves first.
 * Each packet ends its buffer, so ASan sees any read past the end (the 14
 * bytes before it are the received frame's Ethernet header, as on a port).
 * A translation must keep the IP header checksum right if it was (and wrong
 * if it was not: lwIP drops those after the hook), and put the addresses
 * where the direction says.
 *
 * The forwarding fast path (napt_fastpath_frame.h, the code napt_lwip.c
 * and napt_fastpath.c run): a packet its input check (napt_fp_plain_ip)
 * takes is translated as the fast path's entry does (napt_process_plain(),
 * padding trimmed), and one
 * translated for forwarding of a steady flow goes through its route check
 * (napt_fp_next_hop) and, when that gives a next hop, its header writes
 * (napt_fp_write). On every input: what the input check takes is checked
 * independently; a rejected packet is left untouched; a frame that leaves
 * has the right MACs and type, a right IPv4 header checksum, TTL one less,
 * nothing else in the header or payload changed, its length unchanged, a
 * next hop the route allows, and its TCP or UDP checksum still right
 * (summed here over the pseudo-header) if it was right when it came.
 */
#include "napt.h"
#include "napt_fastpath_frame.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static uint32_t be_addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t bytes[4] = { a, b, c, d };
	uint32_t v;
	memcpy(&v, bytes, 4);
	return v;
}

static uint16_t sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void fill(uint8_t *field, const uint8_t *p, size_t n)
{
	uint16_t s;
	field[0] = field[1] = 0;
	s = (uint16_t)~sum(p, n);
	field[0] = (uint8_t)(s >> 8);
	field[1] = (uint8_t)s;
}

/* One's complement sum of the TCP/UDP pseudo-header and the `n` bytes of segment after the IP header, folded. */
static uint32_t l4_sum(const uint8_t *ip, size_t ihl, size_t n)
{
	uint8_t pseudo[12];
	uint32_t s;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = ip[9];
	pseudo[10] = (uint8_t)(n >> 8);
	pseudo[11] = (uint8_t)n;
	s = (uint32_t)sum(pseudo, 12) + sum(ip + ihl, n);
	return (s & 0xffff) + (s >> 16);
}

/* The TCP or UDP checksum of a datagram `ip` of `dlen` bytes: 1 right, 0 wrong, -1 none (UDP 0) or no such header. */
static int l4_state(const uint8_t *ip, size_t dlen)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4, n;
	uint32_t s;
	if (ip[9] == NAPT_PROTO_TCP) {
		if (dlen < ihl + 20)
			return -1;
		n = dlen - ihl;
	}
	else if (ip[9] == NAPT_PROTO_UDP) {
		if (dlen < ihl + 8)
			return -1;
		n = (size_t)(ip[ihl + 4] << 8 | ip[ihl + 5]);
		if (n < 8 || n > dlen - ihl)
			return -1;
		if (!ip[ihl + 6] && !ip[ihl + 7])
			return -1;
	}
	else
		return -1;
	s = l4_sum(ip, ihl, n);
	return s == 0xffff;
}

/* Make the TCP or UDP checksum right (a UDP sum of 0 goes as 0xffff). */
static void fill_l4(uint8_t *ip, size_t dlen)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4, n;
	uint8_t *field;
	uint32_t s;
	if (ip[9] == NAPT_PROTO_TCP && dlen >= ihl + 20) {
		n = dlen - ihl;
		field = ip + ihl + 16;
	}
	else if (ip[9] == NAPT_PROTO_UDP && dlen >= ihl + 8) {
		n = (size_t)(ip[ihl + 4] << 8 | ip[ihl + 5]);
		if (n < 8 || n > dlen - ihl)
			return;
		field = ip + ihl + 6;
	}
	else
		return;
	field[0] = field[1] = 0;
	s = l4_sum(ip, ihl, n);
	s = (uint16_t)~s;
	if (!s && ip[9] == NAPT_PROTO_UDP)
		s = 0xffff;
	field[0] = (uint8_t)(s >> 8);
	field[1] = (uint8_t)s;
}

static int local_port(uint8_t proto, uint16_t port)
{
	return proto == NAPT_PROTO_UDP && port == 68;
}

static uint32_t gNow = 1;
static uint32_t gWan, gLan, gMask, gHost, gGw;
static const uint8_t MAC_WAN[6] = { 0x02, 0, 0, 0, 0, 0x0a }, MAC_LAN[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static uint64_t gFastSent, gFastRouted, gFastChecked, gFastL4;

static void setup(void)
{
	static uint32_t memory[64 * 1024];
	struct napt_config config;
	struct napt_addresses a;
	struct napt_forward fw;
	napt_default_config(&config);
	config.max_flows = 64;   /* small: eviction and table-full paths run too */
	config.max_forwards = 8;
	if (napt_memory_size(&config) > sizeof(memory) || napt_init(&config, memory))
		abort();
	gWan = be_addr(198, 51, 100, 10);
	gLan = be_addr(192, 168, 4, 1);
	gMask = be_addr(255, 255, 255, 0);
	gHost = be_addr(192, 168, 4, 2);
	gGw = be_addr(198, 51, 100, 1);
	a.wan_addr = gWan;
	a.lan_addr = gLan;
	a.lan_mask = gMask;
	napt_set_addresses(&a);
	napt_set_local_port_fn(local_port);
	memset(&fw, 0, sizeof(fw));
	fw.proto = NAPT_PROTO_TCP;
	fw.ext_port = 8080;
	fw.ext_end = 8081;
	fw.in_port = 80;
	fw.in_addr = gHost;
	if (napt_forward_add(&fw) != NAPT_FORWARD_OK)
		abort();
	napt_set_dmz(be_addr(192, 168, 4, 3));
}

static int header_ok(const uint8_t *ip, size_t len)
{
	size_t ihl = len >= 20 ? (size_t)(ip[0] & 15) * 4 : 0;
	return ihl >= 20 && ihl <= len && sum(ip, ihl) == 0xffff;
}

/* was_ok: whether the header checksum was right before translation. */
static void check(const uint8_t *ip, size_t len, enum napt_dir dir, enum napt_verdict v, int was_ok)
{
	uint32_t src, dst;
	if (v != NAPT_FORWARD && v != NAPT_HAIRPIN)
		return;
	if (len < 20 || header_ok(ip, len) != was_ok)
		abort();   /* a translation made a right header checksum wrong, or a wrong one right */
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	if (v == NAPT_HAIRPIN && (src != gWan || ((dst ^ gLan) & gMask)))
		abort();
	if (v == NAPT_FORWARD && dir == NAPT_OUTBOUND && src != gWan)
		abort();   /* a private source address would leak */
	if (v == NAPT_FORWARD && dir == NAPT_INBOUND && ((dst ^ gLan) & gMask))
		abort();
}

static uint8_t first_octet(uint32_t a)
{
	uint8_t b[4];
	memcpy(b, &a, 4);
	return b[0];
}

/* What napt_fp_plain_ip() took, checked without it: `dlen` bytes of a datagram in `avail`. */
static void check_plain(const uint8_t *ip, size_t avail, size_t dlen)
{
	if (dlen < 20 || dlen > avail || ip[0] != 0x45 || (size_t)(ip[2] << 8 | ip[3]) != dlen || !header_ok(ip, 20)
	    || ((ip[6] << 8 | ip[7]) & 0x3fff) || ip[8] <= 1 || (ip[9] != NAPT_PROTO_TCP && ip[9] != NAPT_PROTO_UDP))
		abort();
}

/* The fast path's ports for a direction: LAN 192.168.4.1/24; WAN 198.51.100.10/24, the default route. */
static void ports(enum napt_dir dir, uint16_t mtu, struct napt_fp_port *in, struct napt_fp_port *out)
{
	struct napt_fp_port lan = { gLan, gMask, 0, mtu, MAC_LAN }, wan = { gWan, gMask, gGw, mtu, MAC_WAN };
	*in = dir == NAPT_OUTBOUND ? lan : wan;
	*out = dir == NAPT_OUTBOUND ? wan : lan;
}

/* napt_fp_next_hop() on `ip` (`dlen` bytes): it writes nothing, and a next hop it gives is one lwIP would route to. */
static uint32_t route(const uint8_t *ip, size_t dlen, const struct napt_fp_port *in, const struct napt_fp_port *out)
{
	uint8_t before[64];
	uint32_t next, src, dst;
	memcpy(before, ip, 20);
	gFastChecked++;
	next = napt_fp_next_hop(ip, (uint16_t)dlen, in, out);
	if (memcmp(before, ip, 20))
		abort();   /* the check wrote to the packet */
	if (!next)
		return 0;   /* lwIP forwards it as it is */
	gFastRouted++;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	/* Never to or from what lwIP does not forward, never back to the in side, never too big. */
	if ((out->mtu && dlen > out->mtu) || first_octet(dst) == 0 || first_octet(dst) == 127 || first_octet(dst) >= 224
	    || first_octet(src) >= 224 || !((dst ^ in->addr) & in->mask) || (src | in->mask) == 0xffffffffu)
		abort();
	if (!((dst ^ out->addr) & out->mask)) {
		if (next != dst || dst == out->addr || (dst | out->mask) == 0xffffffffu)
			abort();
	}
	else if (next != out->gw || !out->gw)
		abort();
	return next;
}

/*
 * The fast path after a translation for forwarding of a steady flow: `ip`
 * (`dlen` bytes, translated) with the frame's 14 bytes before it; `l4` the
 * TCP/UDP checksum's state before translation (l4_state()).
 */
static void fast_path(uint8_t *ip, size_t dlen, enum napt_dir dir, uint16_t mtu, int l4)
{
	struct napt_fp_port in, out;
	uint8_t before[1600], mac[6];
	uint32_t next;
	uint8_t *frame = ip - NAPT_FP_ETH_HLEN;
	if (dlen > sizeof(before))
		abort();
	memcpy(before, ip, dlen);
	ports(dir, mtu, &in, &out);
	next = route(ip, dlen, &in, &out);
	if (memcmp(before, ip, dlen))
		abort();
	if (!next)
		return;
	/* The next hop's MAC, as an ARP table would hold it. */
	mac[0] = 0x02;
	memcpy(mac + 1, &next, 4);
	mac[5] = 0x99;
	napt_fp_write(frame, mac, out.mac);
	gFastSent++;
	if (memcmp(frame, mac, 6) || memcmp(frame + 6, out.mac, 6) || frame[12] != 0x08 || frame[13] != 0x00)
		abort();
	if (!header_ok(ip, 20) || ip[8] != (uint8_t)(before[8] - 1))
		abort();
	if (memcmp(ip, before, 8) || ip[9] != before[9] || memcmp(ip + 12, before + 12, dlen - 12))
		abort();   /* anything but TTL and checksum changed (the length too) */
	if (l4 == 1 && l4_state(ip, dlen) != 1)
		abort();   /* a TCP or UDP checksum that was right is wrong */
	gFastL4 += l4 == 1;
	if (l4 == -1 && ip[9] == NAPT_PROTO_UDP && dlen >= 28 && (ip[26] || ip[27]) && l4_state(before, dlen) == -1)
		abort();   /* a UDP datagram without a checksum got one */
}

/* How far the fast path got, for the suite to see it was reached (fuzz.test.mjs). */
static void report(void)
{
	fprintf(stderr, "napt_fuzz: fast path checked=%llu routed=%llu sent=%llu l4_verified=%llu\n",
	        (unsigned long long)gFastChecked, (unsigned long long)gFastRouted, (unsigned long long)gFastSent,
	        (unsigned long long)gFastL4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct napt_stats stats;
	if (!ready) {
		setup();
		atexit(report);
		ready = 1;
	}
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);
		enum napt_dir dir = (ctl & 1) ? NAPT_INBOUND : NAPT_OUTBOUND;
		enum napt_verdict v;
		uint8_t *packet, *frame;
		int was_ok, l4 = -1, fast;
		uint16_t plain, mtu = (ctl & 0x10) ? 576 : 1500;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		frame = malloc(NAPT_FP_ETH_HLEN + (len ? len : 1));
		if (!frame)
			return 0;
		packet = frame + NAPT_FP_ETH_HLEN;
		memcpy(frame, MAC_LAN, 6);
		memcpy(packet, data, len);
		data += len;
		size -= len;
		gNow += ctl >> 4;
		if (len >= 20) {
			size_t ihl = (size_t)(packet[0] & 15) * 4;
			if (ctl & 8) {
				if (dir == NAPT_OUTBOUND)
					memcpy(packet + 12, &gHost, 4);
				else
					memcpy(packet + 16, &gWan, 4);
			}
			if ((ctl & 2) && ihl >= 20 && ihl <= len)
				fill(packet + 10, packet, ihl);
			if ((ctl & 4) && ihl >= 20 && ihl + 4 <= len && packet[9] == NAPT_PROTO_ICMP)
				fill(packet + ihl + 2, packet + ihl, len - ihl);
			if ((ctl & 4) && ihl >= 20 && ihl <= len) {
				size_t dlen = (size_t)(packet[2] << 8 | packet[3]);
				fill_l4(packet, dlen < len ? dlen : len);
				if ((ctl & 2) && ihl <= len)
					fill(packet + 10, packet, ihl);   /* addresses forced above: the header again */
			}
		}
		was_ok = header_ok(packet, len);
		/* As napt_lwip_input() does: what the fast path's input check takes is translated trimmed to its length. */
		plain = napt_fp_plain_ip(packet, (uint16_t)len);
		if (plain) {
			struct napt_fp_port in, out;
			check_plain(packet, len, plain);
			l4 = l4_state(packet, plain);
			/* The route check on what came, untranslated: its rejections run too. */
			ports(dir, mtu, &in, &out);
			route(packet, plain, &in, &out);
		}
		fast = plain && plain <= mtu && !(dir == NAPT_OUTBOUND && !memcmp(packet + 16, &gWan, 4));
		v = fast ? napt_process_plain(packet, plain, dir, gNow) : napt_process(packet, (uint16_t)len, (uint16_t)len, dir, gNow);
		check(packet, fast ? plain : len, dir, v, was_ok);
		if (fast && v == NAPT_FORWARD && napt_last_steady())
			fast_path(packet, plain, dir, mtu, l4);
		/* The fast path's gate: only a TCP or UDP packet translated for forwarding, never a fragment. */
		if (napt_last_steady() && (v != NAPT_FORWARD || len < 20 || (packet[9] != NAPT_PROTO_TCP && packet[9] != NAPT_PROTO_UDP)
		                           || ((packet[6] << 8 | packet[7]) & 0x3fff)))
			abort();
		free(frame);
		if ((ctl & 0xf0) == 0xf0)
			napt_tick(gNow);
	}
	napt_get_stats(&stats);
	if (stats.in_use[0] + stats.in_use[1] + stats.in_use[2] > stats.capacity)
		abort();
	return 0;
}
