/* The board's port functions (ports.h) over the rig's two netifs. */
#include "rig_ports.h"

#include <string.h>

struct netif wan_if, lan_if;

struct netif *router_port_netif(enum router_port_role role)
{
	return role == ROUTER_PORT_WAN ? &wan_if : role == ROUTER_PORT_LAN ? &lan_if : NULL;
}

const char *router_port_device(enum router_port_role role)
{
	return role == ROUTER_PORT_WAN ? "rig:wan" : "rig:lan";
}

void router_port_counters(enum router_port_role role, struct router_port_counters *out)
{
	(void)role;
	memset(out, 0, sizeof(*out));
}
