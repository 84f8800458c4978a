/*
 * IPv4 input hook. Until the NAPT module claims packets here, every packet
 * goes on to lwIP unchanged (local delivery, or plain forwarding); the hook
 * only counts IPv4 packets per port, which also shows it is wired in.
 */
#include "router_hooks.h"
#include "ports.h"

uint32_t router_hook_ip4_packets[ROUTER_PORT_COUNT];

int router_ip4_input_hook(struct pbuf *p, struct netif *inp)
{
	(void)p;
	if (inp == router_port_netif(ROUTER_PORT_WAN))
		router_hook_ip4_packets[ROUTER_PORT_WAN]++;
	else if (inp == router_port_netif(ROUTER_PORT_LAN))
		router_hook_ip4_packets[ROUTER_PORT_LAN]++;
	return 0;
}
