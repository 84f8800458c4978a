/*
 * The forwarding fast path (napt_lwip.h). NAPT has just translated a packet
 * of a steady flow; lwIP would now check its header again, look for a
 * netif it is addressed to, route it, check it may be forwarded, decrement
 * the TTL, look its next hop up in the ARP table and build the Ethernet
 * header. For the plain case all of that reduces to a few compares, so it
 * is done here and the frame goes straight to the out port's linkoutput.
 * Whatever is not plain returns 0 before anything in the packet changed,
 * and lwIP does it all as before: options, TTL 1, too big for the out
 * port, a bad header checksum, broadcast and multicast, the router's own
 * addresses, a next hop not on a directly reachable route, a port down,
 * a next hop ARP has not resolved.
 *
 * The next hop's MAC is read from lwIP's ARP table on every packet, through
 * an index remembered per next hop and checked against the entry (address,
 * netif, state): an entry that changes its MAC (a host moved) is read as it
 * now is, one that expired or went to another address is looked up afresh.
 * Once a second per next hop a packet goes through lwIP anyway, so that
 * etharp_output() sees the entry used and refreshes it before it expires.
 */
#include "napt_lwip.h"

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
static int gOn = 1;
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

/*
 * The 20-byte header's checksum, summed here: lwIP's inet_chksum() is
 * written for any length and alignment and costs three times as much.
 */
static int header_sum_ok(const uint8_t *ip)
{
	/* Ones' complement sums do not care for byte order (RFC 1071): 16-bit halves of native words. */
	uint32_t w[5], sum;
	memcpy(w, ip, 20);
	sum = (w[0] & 0xffffu) + (w[0] >> 16) + (w[1] & 0xffffu) + (w[1] >> 16) + (w[2] & 0xffffu) + (w[2] >> 16)
	      + (w[3] & 0xffffu) + (w[3] >> 16) + (w[4] & 0xffffu) + (w[4] >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return sum == 0xffffu;
}

int napt_fastpath_send(struct pbuf *p, struct netif *inp, struct netif *out, uint32_t now)
{
	uint8_t *ip = p->payload;
	uint32_t dst, src, mask, net, next, sum;
	const struct eth_addr *mac;
	uint8_t *eth;

	if (!gOn || !napt_last_steady())
		return 0;
	/* A plain header: no options, TTL left to decrement, as long as the datagram, fits the port. */
	if (ip[0] != 0x45 || ip[8] <= 1 || p->len < 20 || (uint16_t)(ip[2] << 8 | ip[3]) != p->tot_len
	    || (out->mtu && p->tot_len > out->mtu))
		return 0;
	if ((p->flags & (PBUF_FLAG_LLBCAST | PBUF_FLAG_LLMCAST))
	    || (out->flags & (NETIF_FLAG_UP | NETIF_FLAG_LINK_UP | NETIF_FLAG_ETHARP))
	           != (NETIF_FLAG_UP | NETIF_FLAG_LINK_UP | NETIF_FLAG_ETHARP)
	    || !out->linkoutput || out == inp)
		return 0;
	/* ip4_input() checks it after the hook: a bad one is lwIP's to drop (translation kept it bad). */
	if (!header_sum_ok(ip))
		return 0;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	/* What lwIP never forwards: 0/8, 127/8, multicast and above; from multicast or limited broadcast. */
	if (ip[16] == 0 || ip[16] == 127 || ip[16] >= 224 || ip[12] >= 224)
		return 0;
	/* From the in port's subnet broadcast, or to anything on its subnet (its own address included). */
	mask = ip4_addr_get_u32(netif_ip4_netmask(inp));
	net = ip4_addr_get_u32(netif_ip4_addr(inp)) & mask;
	if ((dst & mask) == net || (src | mask) == 0xffffffffu)
		return 0;
	/* The route: on the out port's subnet (not its address nor its broadcast), or its default gateway. */
	mask = ip4_addr_get_u32(netif_ip4_netmask(out));
	net = ip4_addr_get_u32(netif_ip4_addr(out)) & mask;
	if ((dst & mask) == net) {
		if ((dst | mask) == 0xffffffffu || dst == ip4_addr_get_u32(netif_ip4_addr(out)))
			return 0;
		next = dst;
	}
	else if (out == netif_default && !ip4_addr_isany_val(*netif_ip4_gw(out)))
		next = ip4_addr_get_u32(netif_ip4_gw(out));
	else
		return 0;
	mac = next_hop_mac(out, next, now);
	if (!mac)
		return 0;
	if (pbuf_add_header(p, SIZEOF_ETH_HDR))
		return 0;   /* no room in front: lwIP's ethernet_output() would allocate one */

	/* From here on the packet is ours to send. */
	eth = p->payload;
	memcpy(eth, mac->addr, ETH_HWADDR_LEN);
	memcpy(eth + ETH_HWADDR_LEN, out->hwaddr, ETH_HWADDR_LEN);
	eth[12] = 0x08;   /* IPv4 */
	eth[13] = 0x00;
	ip = eth + SIZEOF_ETH_HDR;
	/* TTL - 1 and the checksum by RFC 1624: the TTL is the high byte of its 16-bit word. */
	ip[8]--;
	sum = (uint32_t)(ip[10] << 8 | ip[11]) + 0x100u;
	sum = (sum & 0xffffu) + (sum >> 16);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	IP_STATS_INC(ip.fw);
	IP_STATS_INC(ip.xmit);
	MIB2_STATS_INC(mib2.ipforwdatagrams);
	gCount++;
	out->linkoutput(out, p);
	pbuf_free(p);
	return 1;
}
