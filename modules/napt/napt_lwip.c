/*
 * NAPT on lwIP. The IPv4 input hook passes every packet from either port
 * here: fragments are reassembled first (lwIP's own ip4_reass, bounded by
 * IP_REASS_MAX_PBUFS), then napt_process() translates in place and lwIP's
 * ip4_forward() sends the result on, fragmenting it again when it must.
 * What ip4_forward() cannot do right after a translation is done here:
 * time-exceeded and fragmentation-needed errors quote the packet as it
 * arrived, and a hairpinned packet goes back out the port it came in on.
 */
#include "napt_lwip.h"
#include "napt_fastpath_frame.h"
#include "ports.h"

#include "lwip/etharp.h"
#include "lwip/icmp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip4.h"
#include "lwip/ip4_frag.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/prot/ip4.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "lwip/prot/tcp.h"
#include "lwip/priv/tcp_priv.h"

#include <stdlib.h>
#include <string.h>

#define TICK_MS 1000u
/* IP header (with options) plus the 8 bytes an ICMP error quotes. */
#define QUOTE_MAX (60 + 8)

static void *gMemory;
static int gRunning;
static uint32_t gSeconds;
static uint32_t gLastMs;
static uint32_t gWanAddr, gLanAddr, gLanMask;
static const struct napt_alg *gAlg;

/*
 * Addresses on the LAN that ARP has ever resolved, by their last octet (a
 * /24, as the per-host shares count them), and the budget for resolving the
 * others. A LAN host can send from addresses nobody has; every answer from
 * far to one of them makes lwIP ARP for it, and those unanswered requests
 * (each holding a table entry and a queued packet for seconds) pushed the
 * real hosts out of the ARP table and its queue: nothing could connect.
 * So a translated packet to an address never resolved may start at most
 * UNRESOLVED_PER_SECOND resolutions a second (UNRESOLVED_BURST at once); a
 * host that once answered ARP is never held back. Real hosts ARP for the
 * router before they talk, which resolves them already.
 */
#define UNRESOLVED_PER_SECOND 2u
#define UNRESOLVED_BURST 4u
static uint8_t gResolved[256 / 8];
static uint32_t gUnresolvedTokens = UNRESOLVED_BURST, gUnresolvedAt;

/*
 * Whether a pcb takes packets sent to the WAN address: bound to it or to
 * any address, and tied to no netif or to the WAN's. One tied to the LAN
 * netif (SSDP) does not, so its port number stays free on the WAN: a packet
 * to it there is unsolicited, dropped without an answer, and NAPT may hand
 * the number out as an external port.
 */
static int bound_here(const ip_addr_t *local, u8_t netif_idx)
{
	if (netif_idx != NETIF_NO_INDEX) {
		struct netif *wan = router_port_netif(ROUTER_PORT_WAN);
		if (!wan || netif_idx != netif_get_index(wan))
			return 0;
	}
	return ip_addr_isany(local) || ip4_addr_get_u32(ip_2_ip4(local)) == gWanAddr;
}

static int tcp_list_has(struct tcp_pcb *pcb, uint16_t port)
{
	for (; pcb; pcb = pcb->next)
		if (pcb->local_port == port && bound_here(&pcb->local_ip, pcb->netif_idx))
			return 1;
	return 0;
}

/* Whether the router itself uses this port on its WAN address. */
static int local_port(uint8_t proto, uint16_t port)
{
	if (proto == NAPT_PROTO_UDP) {
		for (struct udp_pcb *pcb = udp_pcbs; pcb; pcb = pcb->next)
			if (pcb->local_port == port && bound_here(&pcb->local_ip, pcb->netif_idx))
				return 1;
		return 0;
	}
	if (proto == NAPT_PROTO_TCP) {
		for (struct tcp_pcb_listen *l = tcp_listen_pcbs.listen_pcbs; l; l = l->next)
			if (l->local_port == port && bound_here(&l->local_ip, l->netif_idx))
				return 1;
		return tcp_list_has(tcp_active_pcbs, port) || tcp_list_has(tcp_tw_pcbs, port) || tcp_list_has(tcp_bound_pcbs, port);
	}
	return 0;
}

static void tick(void *arg)
{
	uint32_t ms = sys_now();
	(void)arg;
	/* Whole seconds since the last tick, however late the tick ran. */
	while (ms - gLastMs >= 1000u) {
		gLastMs += 1000u;
		gSeconds++;
	}
	napt_tick(gSeconds);
	if (gAlg && gAlg->tick)
		gAlg->tick(gSeconds);
	sys_timeout(TICK_MS, tick, NULL);
}

void napt_lwip_set_alg(const struct napt_alg *alg)
{
	gAlg = alg;
}

uint32_t napt_lwip_now(void)
{
	return gSeconds;
}

int napt_lwip_running(void)
{
	return gRunning;
}

int napt_lwip_start(const struct napt_config *config)
{
	size_t size = napt_memory_size(config);
	if (gRunning || !size)
		return -1;
	gMemory = malloc(size);
	if (!gMemory)
		return -1;
	if (napt_init(config, gMemory)) {
		free(gMemory);
		gMemory = NULL;
		return -1;
	}
	napt_set_local_port_fn(local_port);
	gSeconds = 1;   /* 0 would read as "long ago" nowhere, but 1 keeps it obvious */
	gLastMs = sys_now();
	sys_timeout(TICK_MS, tick, NULL);
	gRunning = 1;
	return 0;
}

/* Follow the ports' addresses; a new WAN address ends every flow (they named the old one). */
static void addresses_changed(uint32_t w, uint32_t l, uint32_t m);

static inline void follow_addresses(struct netif *wan, struct netif *lan)
{
	uint32_t w = ip4_addr_get_u32(netif_ip4_addr(wan));
	uint32_t l = ip4_addr_get_u32(netif_ip4_addr(lan));
	uint32_t m = ip4_addr_get_u32(netif_ip4_netmask(lan));
	if (w != gWanAddr || l != gLanAddr || m != gLanMask)
		addresses_changed(w, l, m);
}

static void addresses_changed(uint32_t w, uint32_t l, uint32_t m)
{
	struct napt_addresses a;
	if (w != gWanAddr && gWanAddr) {
		napt_flush();
		if (gAlg && gAlg->wan_changed)
			gAlg->wan_changed();
	}
	gWanAddr = w;
	gLanAddr = l;
	gLanMask = m;
	a.wan_addr = w;
	a.lan_addr = l;
	a.lan_mask = m;
	napt_set_addresses(&a);
}

/* Send a hairpinned packet back into the LAN: what ip4_forward() would do. */
static void send_back(struct pbuf *p, struct netif *lan)
{
	uint8_t *ip = p->payload;
	ip4_addr_t dst;
	uint32_t sum;
	ip[8]--;   /* TTL > 1 was checked before translation */
	sum = (uint32_t)(ip[10] << 8 | ip[11]) + 0x100u;
	sum = (sum & 0xffffu) + (sum >> 16);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	memcpy(&dst.addr, ip + 16, 4);
	if (lan->mtu && p->tot_len > lan->mtu)
		ip4_frag(p, lan, &dst);
	else
		lan->output(lan, p, &dst);
}

/*
 * An ICMP error about a packet the router cannot forward, sent to its
 * source and quoting its whole IP header (options too) and 8 bytes, as it
 * arrived (RFC 792, RFC 1812 4.3.2.3); lwIP's own helpers quote a fixed 28
 * bytes. `word` is the second half of the ICMP header: for fragmentation
 * needed, the next-hop MTU (RFC 1191 section 4), which lwIP leaves 0 and
 * hosts then read as "fall back to the minimum".
 */
static void icmp_error_to_sender(struct pbuf *p, uint8_t type, uint8_t code, uint16_t word)
{
	const uint8_t *ip = p->payload;
	uint16_t quote = (uint16_t)((ip[0] & 15u) * 4u + 8u);
	struct pbuf *q;
	struct netif *netif;
	ip4_addr_t to;
	uint8_t *icmp;
	uint16_t sum;
	if (quote > p->tot_len)
		quote = p->tot_len;
	q = pbuf_alloc(PBUF_IP, (u16_t)(8u + quote), PBUF_RAM);
	if (!q)
		return;
	icmp = q->payload;
	memset(icmp, 0, 8);
	icmp[0] = type;
	icmp[1] = code;
	icmp[6] = (uint8_t)(word >> 8);
	icmp[7] = (uint8_t)word;
	pbuf_copy_partial(p, icmp + 8, quote, 0);
	sum = inet_chksum(icmp, q->len);
	memcpy(icmp + 2, &sum, 2);
	memcpy(&to.addr, ip + 12, 4);
	netif = ip4_route(&to);
	if (netif)
		ip4_output_if(q, NULL, &to, ICMP_TTL, 0, IP_PROTO_ICMP, netif);
	pbuf_free(q);
}

static int lan_resolvable_slow(struct netif *lan, const uint8_t *dst);

/* Whether a packet to LAN address `dst` (network order bytes) may go to ARP now. */
static inline int lan_resolvable(struct netif *lan, const uint8_t *dst)
{
	return (gResolved[dst[3] >> 3] & (1u << (dst[3] & 7u))) || lan_resolvable_slow(lan, dst);
}

static int lan_resolvable_slow(struct netif *lan, const uint8_t *dst)
{
	uint8_t host = dst[3], bit = (uint8_t)(1u << (host & 7u));
	ip4_addr_t addr;
	struct eth_addr *eth;
	const ip4_addr_t *found;
	if (!(lan->flags & NETIF_FLAG_ETHARP))
		return 1;
	memcpy(&addr.addr, dst, 4);
	if (etharp_find_addr(lan, &addr, &eth, &found) >= 0) {
		gResolved[host >> 3] |= bit;
		return 1;
	}
	if (gSeconds != gUnresolvedAt) {
		uint32_t refill = (gSeconds - gUnresolvedAt) * UNRESOLVED_PER_SECOND;
		gUnresolvedTokens = refill >= UNRESOLVED_BURST - gUnresolvedTokens ? UNRESOLVED_BURST : gUnresolvedTokens + refill;
		gUnresolvedAt = gSeconds;
	}
	if (!gUnresolvedTokens)
		return 0;
	gUnresolvedTokens--;
	return 1;
}

static int is_icmp_error(const uint8_t *ip, uint16_t ihl, uint16_t len)
{
	uint8_t type;
	if (ip[9] != IP_PROTO_ICMP || len < ihl + 1)
		return 0;
	type = ip[ihl];
	return type == ICMP_DUR || type == ICMP_SQ || type == ICMP_TE || type == ICMP_PP;
}

/*
 * What becomes of a packet napt_process() did not translate for forwarding
 * (and no error is owed for): 0 lwIP goes on with it, 1 taken. A hairpin
 * (checked as TTL > 1 and not too big before) goes back into the LAN.
 */
static int verdict_taken(struct pbuf *p, enum napt_verdict verdict, struct netif *lan)
{
	switch (verdict) {
	case NAPT_PASS:
	case NAPT_FORWARD:
		return 0;
	case NAPT_DROP:
		break;
	case NAPT_HAIRPIN:
		send_back(p, lan);
		break;
	}
	pbuf_free(p);
	return 1;
}

int napt_lwip_input(struct pbuf *p, struct netif *inp)
{
	struct netif *wan = router_port_netif(ROUTER_PORT_WAN);
	struct netif *lan = router_port_netif(ROUTER_PORT_LAN);
	struct netif *out;
	enum napt_dir dir;
	enum napt_verdict verdict;
	uint8_t *ip = p->payload;
	uint8_t quote[QUOTE_MAX];
	uint16_t ihl, datagram_len, saved = 0;
	int ttl_expired, too_big, alg = 0;
	struct napt_alg_packet before;

	if (!gRunning || !wan || !lan)
		return 0;
	if (inp == lan) {
		dir = NAPT_OUTBOUND;
		out = wan;
	}
	else if (inp == wan) {
		dir = NAPT_INBOUND;
		out = lan;
	}
	else
		return 0;
	follow_addresses(wan, lan);
	if (p->len < IP_HLEN)
		return 0;   /* lwIP drops it */
	ihl = (uint16_t)((ip[0] & 15u) * 4u);
	if (ihl < IP_HLEN || ihl > p->len)
		return 0;
	/*
	 * Trim Ethernet padding now, as ip4_input() does only after this hook:
	 * ip4_reass() takes a fragment's data as the whole pbuf past the header,
	 * so a padded fragment would put the padding inside the datagram.
	 */
	datagram_len = (uint16_t)(ip[2] << 8 | ip[3]);
	if (datagram_len < ihl || datagram_len > p->tot_len)
		return 0;   /* lwIP drops it */
	if (datagram_len < p->tot_len)
		pbuf_realloc(p, datagram_len);

	if ((ip[6] << 8 | ip[7]) & (IP_OFFMASK | IP_MF)) {
		/* ip4_reass() trusts the header: check it first, as ip4_input() would. */
		struct pbuf *whole;
		if (inet_chksum(ip, ihl) != 0)
			return 0;
		whole = ip4_reass(p);
		if (whole) {
#ifndef LWIP_HOOK_IP4_INPUT
			/* lwIP calls no hook from ip4_input() (ESP-IDF, router_ethernet.h): translate the whole here. */
			if (napt_lwip_input(whole, inp))
				return 1;
#endif
			ip4_input(whole, inp);   /* with the hook compiled into lwIP, comes back through it in one piece */
		}
		return 1;
	}

	ttl_expired = ip[8] <= 1;
	if (dir == NAPT_OUTBOUND && !memcmp(ip + 16, &gWanAddr, 4))
		out = lan;   /* a hairpin goes back out the LAN */
	too_big = (ip[6] & (IP_DF >> 8)) && out->mtu && p->tot_len > out->mtu;
	if (ttl_expired || too_big) {
		/* Rare: keep the header as it came, for the error we may owe its sender. */
		saved = (uint16_t)(ihl + 8u <= p->len ? ihl + 8u : p->len);
		memcpy(quote, ip, saved);
	}
	/*
	 * What an ALG needs and translation overwrites: the endpoints as they
	 * came. The ports are there whenever napt_process() can translate them.
	 */
	if (gAlg && (ip[9] == NAPT_PROTO_TCP || ip[9] == NAPT_PROTO_UDP) && p->len >= ihl + 4u) {
		alg = 1;
		before.dir = dir;
		before.proto = ip[9];
		memcpy(&before.src, ip + 12, 4);
		memcpy(&before.dst, ip + 16, 4);
		before.sport = (uint16_t)(ip[ihl] << 8 | ip[ihl + 1]);
		before.dport = (uint16_t)(ip[ihl + 2] << 8 | ip[ihl + 3]);
	}

	verdict = napt_process(ip, p->len, p->tot_len, dir, gSeconds);
	if (verdict == NAPT_PASS || verdict == NAPT_DROP)
		return verdict_taken(p, verdict, lan);
	if (saved) {
		memcpy(ip, quote, saved);
		if (ttl_expired) {
			/* Never an error about an error (RFC 1812 4.3.2.7); echo requests do get one. */
			if (!is_icmp_error(ip, ihl, p->len))
				icmp_error_to_sender(p, ICMP_TE, ICMP_TE_TTL, 0);
		}
		else
			icmp_error_to_sender(p, ICMP_DUR, ICMP_DUR_FRAG, out->mtu);
		pbuf_free(p);
		return 1;
	}
	if (out == lan && !lan_resolvable(lan, ip + 16)) {
		napt_count_drop(NAPT_DROP_UNRESOLVED);
		pbuf_free(p);
		return 1;
	}
	/* The ALG sends a packet it rebuilt itself; else ip4_forward() routes it by its new destination. */
	if (verdict == NAPT_FORWARD)
		return alg && gAlg->forward(p, out, &before);
	return verdict_taken(p, verdict, lan);
}

/*
 * The fast path's way in (napt_lwip.h): what router_ethernet_input() and
 * router_ip4_input_hook() would do with a frame of a plain TCP or UDP
 * datagram, and then napt_lwip_input()'s work for it, with each check made
 * once: a frame in one pbuf, IPv4, unicast on the link, a plain header
 * (napt_fp_plain_ip()), not a hairpin, not too big for the out port, not a
 * SYN that might end one of the router's TIME_WAITs (the hook's job).
 */
int napt_fastpath_input(struct pbuf *p, struct netif *inp)
{
	struct netif *wan, *lan, *out;
	uint8_t *frame = p->payload, *ip = frame + SIZEOF_ETH_HDR;
	enum napt_dir dir;
	enum napt_verdict verdict;
	struct napt_alg_packet before;
	uint16_t len;
	int port;

	if (!gRunning || !napt_fastpath_enabled || p->len != p->tot_len || p->len < SIZEOF_ETH_HDR + IP_HLEN
	    || frame[12] != 0x08 || frame[13] != 0x00 || (frame[0] & 1) || !(inp->flags & NETIF_FLAG_ETHARP))
		return 0;
	wan = router_port_netif(ROUTER_PORT_WAN);
	lan = router_port_netif(ROUTER_PORT_LAN);
	if (inp == lan && wan) {
		dir = NAPT_OUTBOUND;
		out = wan;
		port = 0;
	}
	else if (inp == wan && lan) {
		dir = NAPT_INBOUND;
		out = lan;
		port = NAPT_FP_WAN;
	}
	else
		return 0;
	len = napt_fp_plain_ip(ip, (uint16_t)(p->len - SIZEOF_ETH_HDR));
	if (!len || (out->mtu && len > out->mtu))
		return 0;
	if (ip[9] == IP_PROTO_TCP && tcp_tw_pcbs && (len < IP_HLEN + 14u || (ip[IP_HLEN + 13] & TCP_SYN)))
		return 0;
	follow_addresses(wan, lan);
	if (dir == NAPT_OUTBOUND && !memcmp(ip + 16, &gWanAddr, 4))
		return 0;

	/* Ours from here: the Ethernet header off (as ethernet_input() does), the padding trimmed. */
	p->payload = ip;
	p->len = len;
	p->tot_len = len;
	if (gAlg) {
		before.dir = dir;
		before.proto = ip[9];
		memcpy(&before.src, ip + 12, 4);
		memcpy(&before.dst, ip + 16, 4);
		before.sport = (uint16_t)(ip[20] << 8 | ip[21]);
		before.dport = (uint16_t)(ip[22] << 8 | ip[23]);
	}
	verdict = napt_process_plain(ip, len, dir, gSeconds);
	if (verdict == NAPT_PASS || verdict == NAPT_DROP)
		return port | (verdict_taken(p, verdict, lan) ? NAPT_FP_TAKEN : NAPT_FP_LWIP);
	if ((out == lan || verdict == NAPT_HAIRPIN) && !lan_resolvable(lan, ip + 16)) {
		napt_count_drop(NAPT_DROP_UNRESOLVED);
		pbuf_free(p);
		return port | NAPT_FP_TAKEN;
	}
	if (verdict == NAPT_HAIRPIN)
		return port | (verdict_taken(p, verdict, lan) ? NAPT_FP_TAKEN : NAPT_FP_LWIP);
	if ((gAlg && gAlg->forward(p, out, &before)) || (napt_last_steady() && napt_fastpath_send(p, inp, out, gSeconds)))
		return port | NAPT_FP_TAKEN;
	return port | NAPT_FP_LWIP;   /* translated: ip4_forward() sends it */
}
