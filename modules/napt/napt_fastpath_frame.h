/*
 * The forwarding fast path's checks and header writes, over bytes only (no
 * lwIP), so that the fuzz harness (host-tests/fuzz/napt_fuzz.c) drives the
 * very code napt_fastpath.c and napt_lwip.c run. Static inline: on the
 * real path it compiles into its callers.
 *
 * Byte-wise and memcpy access only (Xtensa faults on unaligned loads).
 * Addresses and masks are in network order, as lwIP keeps them.
 */
#ifndef NAPT_FASTPATH_FRAME_H
#define NAPT_FASTPATH_FRAME_H

#include <stdint.h>
#include <string.h>

#define NAPT_FP_ETH_HLEN 14u

/* A port as the fast path sees it. */
struct napt_fp_port {
	uint32_t addr, mask;   /* its address and netmask */
	uint32_t gw;           /* its gateway when it is the default route, else 0 */
	uint16_t mtu;          /* 0: none */
	const uint8_t *mac;    /* its own MAC */
};

/*
 * The 20-byte header's checksum: lwIP's inet_chksum() is written for any
 * length and alignment and costs three times as much. Ones' complement sums
 * do not care for byte order (RFC 1071): native 16-bit halfwords, read as
 * such when the header is 2-aligned (a received frame's, 14 bytes into a
 * word-aligned buffer), byte by byte otherwise. No memcpy() of the header:
 * on the lx106 that is a call into the C library.
 */
static inline int napt_fp_header_sum_ok(const uint8_t *ip)
{
	uint32_t sum;
	if (!((uintptr_t)ip & 1u)) {
		const uint8_t *a = __builtin_assume_aligned(ip, 2);
		uint16_t h[10];
		memcpy(h, a, 20);
		sum = (uint32_t)h[0] + h[1] + h[2] + h[3] + h[4] + h[5] + h[6] + h[7] + h[8] + h[9];
	}
	else {
		sum = 0;
		for (unsigned i = 0; i < 20; i += 2)
			sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	}
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return sum == 0xffffu;
}

/*
 * What ip4_input() would check of a received packet `ip` (`avail` bytes in
 * one piece) before the fast path may take it: a plain header (version 4,
 * no options) with a right checksum, a datagram length no more than the
 * bytes hold (the rest is Ethernet padding), not a fragment, a TTL left to
 * decrement, TCP or UDP (the only steady flows). Returns the datagram's
 * length, or 0: then lwIP's normal path takes the packet as it came.
 * (Link-layer broadcast and multicast are the caller's: pbuf flags.)
 */
static inline uint16_t napt_fp_plain_ip(const uint8_t *ip, uint16_t avail)
{
	uint16_t len;
	if (avail < 20u || ip[0] != 0x45)
		return 0;
	len = (uint16_t)(ip[2] << 8 | ip[3]);
	if (len < 20u || len > avail || ((ip[6] & 0x3fu) | ip[7]) || ip[8] <= 1 || (ip[9] != 6 && ip[9] != 17)
	    || !napt_fp_header_sum_ok(ip))
		return 0;
	return len;
}

/*
 * The next hop for a translated packet `ip` (a plain header, `len` bytes)
 * arriving on `in` and leaving by `out`, or 0 when lwIP must forward it:
 * too big for the out port, what lwIP never forwards (0/8, 127/8, class D
 * and E; from class D or E), to anything on the in port's subnet or from
 * its broadcast, the out port's own address or broadcast, not on the out
 * port's subnet when the out port is not the default route.
 */
static inline uint32_t napt_fp_next_hop(const uint8_t *ip, uint16_t len, const struct napt_fp_port *in,
                                        const struct napt_fp_port *out)
{
	uint32_t src, dst;
	if ((out->mtu && len > out->mtu) || ip[16] == 0 || ip[16] == 127 || ip[16] >= 224 || ip[12] >= 224)
		return 0;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	if (((dst ^ in->addr) & in->mask) == 0 || (src | in->mask) == 0xffffffffu)
		return 0;
	if (((dst ^ out->addr) & out->mask) == 0) {
		if ((dst | out->mask) == 0xffffffffu || dst == out->addr)
			return 0;
		return dst;
	}
	return out->gw;
}

/*
 * The frame as it leaves: the Ethernet header at `frame` (the 14 bytes
 * before the IP header), TTL - 1 and the header checksum updated by
 * RFC 1624 (the TTL is the high byte of its 16-bit word).
 */
static inline void napt_fp_write(uint8_t *frame, const uint8_t *dst_mac, const uint8_t *src_mac)
{
	uint8_t *ip = frame + NAPT_FP_ETH_HLEN;
	uint32_t sum;
	/* In pieces of 4 and 2: one memcpy() of 6 would be a library call on the lx106. */
	memcpy(frame, dst_mac, 4);
	memcpy(frame + 4, dst_mac + 4, 2);
	memcpy(frame + 6, src_mac, 4);
	memcpy(frame + 10, src_mac + 4, 2);
	frame[12] = 0x08;
	frame[13] = 0x00;
	ip[8]--;
	sum = (uint32_t)(ip[10] << 8 | ip[11]) + 0x100u;
	sum = (sum & 0xffffu) + (sum >> 16);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
}

#endif
