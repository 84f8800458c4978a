/*
 * IPv4 input hook: every IPv4 packet on either port passes here before
 * lwIP's own processing. It counts packets per port and hands them to NAPT,
 * which translates them in place (lwIP then forwards them) or takes them.
 */
#include "router_hooks.h"
#include "ports.h"
#include "napt_lwip.h"

uint32_t router_hook_ip4_packets[ROUTER_PORT_COUNT];

int router_ip4_input_hook(struct pbuf *p, struct netif *inp)
{
	if (inp == router_port_netif(ROUTER_PORT_WAN))
		router_hook_ip4_packets[ROUTER_PORT_WAN]++;
	else if (inp == router_port_netif(ROUTER_PORT_LAN))
		router_hook_ip4_packets[ROUTER_PORT_LAN]++;
	return napt_lwip_input(p, inp);
}
