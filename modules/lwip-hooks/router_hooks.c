/*
 * IPv4 input hook. Until the NAPT module claims packets here, every packet
 * goes on to lwIP unchanged (local delivery, or plain forwarding).
 */
#include "router_hooks.h"

int router_ip4_input_hook(struct pbuf *p, struct netif *inp)
{
	(void)p;
	(void)inp;
	return 0;
}
