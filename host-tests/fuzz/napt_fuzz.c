/*
 * libFuzzer harness for the NAPT per-packet path. One input is a sequence
 * of packets, so flows made by one are found by the next:
 *   [ctl][len hi][len lo][len bytes of packet] ...
 * ctl bit 0: direction (1 = inbound); bit 1: make the IP header checksum
 * right; bit 2: make the ICMP checksum right; bit 3: source or destination
 * forced onto the LAN host / WAN address for its direction; bits 4-7: the
 * seconds the clock moves first.
 * Each packet sits in a buffer of exactly its length, so ASan sees any read
 * past the end. A translation must keep the IP header checksum right if it
 * was (and wrong if it was not: lwIP drops those after the hook), and put
 * the addresses where the direction says.
 */
#include "napt.h"

#include <stdint.h>
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

static int local_port(uint8_t proto, uint16_t port)
{
	return proto == NAPT_PROTO_UDP && port == 68;
}

static uint32_t gNow = 1;
static uint32_t gWan, gLan, gMask, gHost;

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct napt_stats stats;
	if (!ready) {
		setup();
		ready = 1;
	}
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);
		enum napt_dir dir = (ctl & 1) ? NAPT_INBOUND : NAPT_OUTBOUND;
		enum napt_verdict v;
		uint8_t *packet;
		int was_ok;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		packet = malloc(len ? len : 1);
		if (!packet)
			return 0;
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
		}
		was_ok = header_ok(packet, len);
		v = napt_process(packet, (uint16_t)len, (uint16_t)len, dir, gNow);
		check(packet, len, dir, v, was_ok);
		/* The fast path's gate: only a TCP or UDP packet translated for forwarding, never a fragment. */
		if (napt_last_steady() && (v != NAPT_FORWARD || len < 20 || (packet[9] != NAPT_PROTO_TCP && packet[9] != NAPT_PROTO_UDP)
		                           || ((packet[6] << 8 | packet[7]) & 0x3fff)))
			abort();
		free(packet);
		if ((ctl & 0xf0) == 0xf0)
			napt_tick(gNow);
	}
	napt_get_stats(&stats);
	if (stats.in_use[0] + stats.in_use[1] + stats.in_use[2] > stats.capacity)
		abort();
	return 0;
}
