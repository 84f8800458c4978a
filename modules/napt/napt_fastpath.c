/*
 * The forwarding fast path (napt_lwip.h). A frame comes in on a port;
 * router_ethernet_input() hands it first to napt_fastpath_input()
 * (napt_lwip.c), which checks once what ethernet_input(), ip4_input(), the
 * IPv4 hook and NAPT's glue would (napt_fastpath_frame.h: a plain TCP or
 * UDP datagram, unicast, a right header checksum, TTL > 1, not a fragment,
 * not too big), and NAPT translates it. For a steady flow lwIP would now
 * look for a netif it is addressed to, route it, check it may be
 * forwarded, decrement the TTL, look its next hop up in the ARP table and
 * build the Ethernet header. For the plain case all of that reduces to a
 * few compares, so it is done here, in the frame's own pbuf, and the frame
 * goes straight to the out port's linkoutput. Whatever is not plain returns
 * 0 before anything in the packet changed, and lwIP does it all as before:
 * broadcast and multicast destinations, the router's own addresses, a next
 * hop not on a directly reachable route, a port down, a next hop ARP has
 * not resolved, no room for the header in the pbuf.
 *
 * The next hop's MAC is read from lwIP's ARP table on every packet, through
 * an index remembered per next hop and checked against the entry (address,
 * netif, state): an entry that changes its MAC (a host moved) is read as it
 * now is, one that expired or went to another address is looked up afresh.
 * Once a second per next hop a packet goes through lwIP anyway, so that
 * etharp_output() sees the entry used and refreshes it before it expires.
 */
#include "napt_lwip.h"
#include "napt_fastpath_frame.h"

#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/prot/ethernet.h"

#include <string.h>

/* Next hops remembered: one per ARP table entry at most, picked by the address's last octet. */
#define HOPS 32u

struct hop {
	uint32_t addr;            /* network order; 0 = none */
	struct netif *netif;
	uint32_t used;            /* second of the last packet sent through lwIP for it */
	int32_t arp;              /* index in lwIP's ARP table */
};

static struct hop gHops[HOPS];
int napt_fastpath_enabled = 1;
#define gOn napt_fastpath_enabled
static uint32_t gCount;

void napt_fastpath_set(int on)
{
	gOn = on != 0;
	if (!gOn)
		memset(gHops, 0, sizeof(gHops));
}

int napt_fastpath_on(void)
{
	return gOn;
}

uint32_t napt_fastpath_count(void)
{
	return gCount;
}

/* The MAC for `next` on `out`, or NULL: then lwIP sends this packet (and resolves it if it must). */
static const struct eth_addr *next_hop_mac(struct netif *out, uint32_t next, uint32_t now)
{
	uint8_t octets[4];
	struct hop *h;
	ip4_addr_t *addr;
	struct netif *netif;
	struct eth_addr *mac;
	memcpy(octets, &next, 4);
	h = &gHops[octets[3] & (HOPS - 1u)];
	if (h->addr == next && h->netif == out && h->used == now && etharp_get_entry((size_t)h->arp, &addr, &netif, &mac)
	    && ip4_addr_get_u32(addr) == next && netif == out)
		return mac;
	if (h->addr == next && h->netif == out && h->used != now) {
		/* lwIP's turn, once a second: etharp_output() refreshes an entry in use before it expires. */
		h->used = now;
		return NULL;
	}
	{
		ip4_addr_t want;
		const ip4_addr_t *found;
		ssize_t i;
		ip4_addr_set_u32(&want, next);
		i = etharp_find_addr(out, &want, &mac, &found);
		if (i < 0) {
			h->addr = 0;
			return NULL;
		}
		h->addr = next;
		h->netif = out;
		h->arp = (int32_t)i;
		h->used = now;
		return mac;
	}
}

int napt_fastpath_send(struct pbuf *p, struct netif *inp, struct netif *out, uint32_t now)
{
	struct napt_fp_port in_port, out_port;
	const struct eth_addr *mac;
	uint32_t next;
	uint8_t *frame;

	/*
	 * The header was checked before translation (napt_fp_plain_ip()), p is
	 * one pbuf, out the other port: what is left is the out port and the route.
	 */
	if ((out->flags & (NETIF_FLAG_UP | NETIF_FLAG_LINK_UP | NETIF_FLAG_ETHARP))
	        != (NETIF_FLAG_UP | NETIF_FLAG_LINK_UP | NETIF_FLAG_ETHARP)
	    || !out->linkoutput)
		return 0;
	in_port.addr = ip4_addr_get_u32(netif_ip4_addr(inp));
	in_port.mask = ip4_addr_get_u32(netif_ip4_netmask(inp));
	out_port.addr = ip4_addr_get_u32(netif_ip4_addr(out));
	out_port.mask = ip4_addr_get_u32(netif_ip4_netmask(out));
	out_port.gw = out == netif_default ? ip4_addr_get_u32(netif_ip4_gw(out)) : 0;
	out_port.mtu = out->mtu;
	next = napt_fp_next_hop(p->payload, p->tot_len, &in_port, &out_port);
	if (!next)
		return 0;
	/*
	 * Room for the Ethernet header in front, in the pbuf's own memory: where
	 * the received frame's was (what pbuf_add_header() checks, inline).
	 */
	frame = (uint8_t *)p->payload - SIZEOF_ETH_HDR;
	if (!(p->type_internal & PBUF_TYPE_FLAG_STRUCT_DATA_CONTIGUOUS)
	    || frame < (uint8_t *)p + LWIP_MEM_ALIGN_SIZE(sizeof(struct pbuf)))
		return 0;   /* lwIP's ethernet_output() would allocate one */
	mac = next_hop_mac(out, next, now);
	if (!mac)
		return 0;

	/* From here on the packet is ours to send. */
	napt_fp_write(frame, mac->addr, out->hwaddr);
	p->payload = frame;
	p->len = (u16_t)(p->len + SIZEOF_ETH_HDR);
	p->tot_len = p->len;
	IP_STATS_INC(ip.fw);
	IP_STATS_INC(ip.xmit);
	MIB2_STATS_INC(mib2.ipforwdatagrams);
	gCount++;
	out->linkoutput(out, p);
	pbuf_free(p);
	return 1;
}
