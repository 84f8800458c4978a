/* See router_ethernet.h. Only lwIP's public API: 2.1.x and 2.2.x alike. */
#include "router_ethernet.h"
#include "router_hooks.h"
#include "napt_lwip.h"

#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/snmp.h"
#include "lwip/stats.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/ip.h"
#include "lwip/prot/ip4.h"
#include "netif/ethernet.h"

#include <string.h>

#ifdef LWIP_HOOK_IP4_INPUT
struct pbuf *router_hook_seen;
#endif

/* The link-layer marks ethernet_input() puts on an IPv4 frame (ip4_forward() reads them). */
static void mark_link_layer(struct pbuf *p, const struct eth_hdr *eth)
{
	static const u8_t broadcast[ETH_HWADDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	if (!(eth->dest.addr[0] & 1))
		return;
	if (eth->dest.addr[0] == LL_IP4_MULTICAST_ADDR_0 && eth->dest.addr[1] == LL_IP4_MULTICAST_ADDR_1 &&
	    eth->dest.addr[2] == LL_IP4_MULTICAST_ADDR_2)
		p->flags |= PBUF_FLAG_LLMCAST;
	else if (!memcmp(eth->dest.addr, broadcast, ETH_HWADDR_LEN))
		p->flags |= PBUF_FLAG_LLBCAST;
}

/* Give p, the IP datagram the hook has seen and left, to ip4_input(). */
static void to_ip4_input(struct pbuf *p, struct netif *inp)
{
	if (p->if_idx == NETIF_NO_INDEX)
		p->if_idx = netif_get_index(inp);   /* as ethernet_input() does */
#ifdef LWIP_HOOK_IP4_INPUT
	router_hook_seen = p;   /* ip4_input() calls the hook again: not for this one */
	ip4_input(p, inp);
	router_hook_seen = NULL;
#else
	ip4_input(p, inp);
#endif
}

err_t router_ethernet_input(struct pbuf *p, struct netif *inp)
{
	const struct eth_hdr *eth = p->payload;
	int fast = napt_fastpath_input(p, inp);
	if (fast) {
		/* NAPT's fast path did the hook's work (napt_lwip.h): its counts, and ip4_input()'s before the hook. */
		router_hook_ip4_packets[(fast & NAPT_FP_WAN) ? ROUTER_PORT_WAN : ROUTER_PORT_LAN]++;
		if (fast & NAPT_FP_LWIP)
			to_ip4_input(p, inp);
		else {
			IP_STATS_INC(ip.recv);
			MIB2_STATS_INC(mib2.ipinreceives);
		}
		return ERR_OK;
	}
	if (p->len < SIZEOF_ETH_HDR + IP_HLEN || eth->type != PP_HTONS(ETHTYPE_IP) || !(inp->flags & NETIF_FLAG_ETHARP))
		return ethernet_input(p, inp);
	mark_link_layer(p, eth);
	/* pbuf_remove_header(), inline: the first pbuf holds the header (its length was checked above). */
	p->payload = (u8_t *)p->payload + SIZEOF_ETH_HDR;
	p->len = (u16_t)(p->len - SIZEOF_ETH_HDR);
	p->tot_len = (u16_t)(p->tot_len - SIZEOF_ETH_HDR);
	/* ip4_input() drops what is not version 4; the hook must not see it. */
	if (IPH_V((const struct ip_hdr *)p->payload) == 4 && router_ip4_input_hook(p, inp)) {
		/* What ip4_input() counts before its hook, for a packet it never saw. */
		IP_STATS_INC(ip.recv);
		MIB2_STATS_INC(mib2.ipinreceives);
		return ERR_OK;
	}
	to_ip4_input(p, inp);
	return ERR_OK;
}
