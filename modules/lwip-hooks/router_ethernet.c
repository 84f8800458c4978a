/* See router_ethernet.h. Only lwIP's public API: 2.1.x and 2.2.x alike. */
#include "router_ethernet.h"
#include "router_hooks.h"

#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/ip.h"
#include "lwip/prot/ip4.h"
#include "netif/ethernet.h"

#include <string.h>

#ifdef LWIP_HOOK_IP4_INPUT

err_t router_ethernet_input(struct pbuf *p, struct netif *inp)
{
	return ethernet_input(p, inp);
}

#else

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

err_t router_ethernet_input(struct pbuf *p, struct netif *inp)
{
	const struct eth_hdr *eth = p->payload;
	if (p->len < SIZEOF_ETH_HDR + IP_HLEN || eth->type != PP_HTONS(ETHTYPE_IP) || !(inp->flags & NETIF_FLAG_ETHARP))
		return ethernet_input(p, inp);
	mark_link_layer(p, eth);
	if (pbuf_remove_header(p, SIZEOF_ETH_HDR)) {
		pbuf_free(p);
		return ERR_OK;
	}
	/* ip4_input() drops what is not version 4; the hook must not see it. */
	if (IPH_V((const struct ip_hdr *)p->payload) == 4 && router_ip4_input_hook(p, inp))
		return ERR_OK;
	ip4_input(p, inp);
	return ERR_OK;
}

#endif
