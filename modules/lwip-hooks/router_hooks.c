/*
 * IPv4 input hook: every IPv4 packet on either port passes here before
 * lwIP's own processing. It counts packets per port, lets a client's new
 * SYN end the router's TIME_WAIT for the same connection, and hands packets
 * to NAPT, which translates them in place (lwIP then forwards them) or
 * takes them.
 */
#include "router_hooks.h"
#include "ports.h"
#include "napt_lwip.h"
#include "router_ethernet.h"

#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h"

#include <string.h>

uint32_t router_hook_ip4_packets[ROUTER_PORT_COUNT];
uint32_t router_hook_timewait_reopened;

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

static uint32_t get32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/*
 * The router closes first (every HTTP answer, DNS over TCP), so it holds
 * TIME_WAIT for 2 MSL. lwIP answers a SYN for a connection in TIME_WAIT with
 * an ACK and ignores the client's RST (RFC 1337), so a client reusing its
 * source port within those two minutes could not connect at all. RFC 1122
 * 4.2.2.13 lets a SYN whose sequence number is past the old connection's
 * end reopen it, as Linux and the BSDs do: that TIME_WAIT ends here, and
 * the SYN goes on to the listener. Only SYNs to this port's own address are
 * looked at; the walk is over TIME_WAIT PCBs, bounded by lwIP's pool.
 */
static void reopen_timewait(struct pbuf *p, struct netif *inp)
{
	const uint8_t *ip = p->payload;
	uint8_t tcp[14];
	uint16_t ihl, sport, dport;
	uint32_t src, dst, seq;
	struct tcp_pcb *pcb;
	/* what every forwarded packet meets: a few byte compares, nothing copied */
	if (!tcp_tw_pcbs || p->len < 20 || ip[9] != IP_PROTO_TCP)
		return;
	memcpy(&dst, ip + 16, 4);   /* network order, as lwIP keeps addresses */
	if (dst != ip4_addr_get_u32(netif_ip4_addr(inp)))
		return;
	ihl = (uint16_t)((ip[0] & 0x0f) * 4);
	/* a first (or only) fragment with a TCP header past the IP one */
	if ((ip[0] >> 4) != 4 || ihl < 20 || (get16(ip + 6) & 0x3fff) != 0)
		return;
	if (pbuf_copy_partial(p, tcp, sizeof(tcp), ihl) != sizeof(tcp))
		return;
	if ((tcp[13] & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN)
		return;
	memcpy(&src, ip + 12, 4);
	sport = get16(tcp);
	dport = get16(tcp + 2);
	seq = get32(tcp + 4);
	for (pcb = tcp_tw_pcbs; pcb; pcb = pcb->next) {
		if (pcb->local_port != dport || pcb->remote_port != sport
		    || ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)) != src || ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip)) != dst)
			continue;
		if (TCP_SEQ_GT(seq, pcb->rcv_nxt)) {
			tcp_abort(pcb);   /* a TIME_WAIT PCB is freed without a RST */
			router_hook_timewait_reopened++;
		}
		return;
	}
}

int router_ip4_input_hook(struct pbuf *p, struct netif *inp)
{
#ifdef LWIP_HOOK_IP4_INPUT
	if (p == router_hook_seen) {
		router_hook_seen = NULL;   /* router_ethernet_input() ran this already */
		return 0;
	}
#endif
	if (inp == router_port_netif(ROUTER_PORT_WAN))
		router_hook_ip4_packets[ROUTER_PORT_WAN]++;
	else if (inp == router_port_netif(ROUTER_PORT_LAN))
		router_hook_ip4_packets[ROUTER_PORT_LAN]++;
	reopen_timewait(p, inp);
	return napt_lwip_input(p, inp);
}
