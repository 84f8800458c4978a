/*
 * The "net" module: addresses, routes, DHCP client and DNS servers of the
 * router's two ports, over lwIP's netif API. Board-independent: the board
 * supplies the netifs (ports.h). Status changes arrive from lwIP and are
 * posted to the machine, so JavaScript never runs inside an lwIP callback.
 */
#include "router_host.h"
#include "ports.h"
#include "router_hooks.h"

#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/ip4_addr.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/prot/dhcp.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"

#include <string.h>

static xsMachine *gNetMachine;
static xsSlot gNetCallback;
static int gNetCallbackSet;

/*
 * lwIP 2.1.3 tells nobody when a lease is confirmed without the address
 * changing (the INIT-REBOOT after a link comes back): no status callback
 * runs, and the port would stay "rebooting" to the control plane. A look
 * once a second at each port's DHCP state catches such a bind: BOUND
 * entered, or BOUND with a new transaction id (REBOOTING takes a new one
 * and lasts only a round trip). A renewal cannot be seen this way: lwIP
 * reuses the transaction id and puts every timer back as it was.
 */
#define NET_DHCP_POLL_MS 1000
static struct {
	u8_t state;
	u32_t xid;
} gLease[ROUTER_PORT_COUNT];
static u8_t gPolling;

static enum router_port_role role_arg(xsMachine *the, int index)
{
	char name[8];
	xsToStringBuffer(xsArg(index), name, sizeof(name));
	if (!strcmp(name, "wan"))
		return ROUTER_PORT_WAN;
	if (!strcmp(name, "lan"))
		return ROUTER_PORT_LAN;
	xsRangeError("net: no port %s (wan or lan)", name);
	return ROUTER_PORT_COUNT; /* not reached */
}

static struct netif *port_arg(xsMachine *the, int index)
{
	struct netif *netif = router_port_netif(role_arg(the, index));
	if (!netif)
		xsUnknownError("net: this board has no such port");
	return netif;
}

static int get_address(xsMachine *the, xsSlot *object, const char *name, ip4_addr_t *out)
{
	char text[20];
	xsSlot value = xsGet(*object, xsID(name));
	if (xsTypeOf(value) == xsUndefinedType) {
		ip4_addr_set_zero(out);
		return 0;
	}
	xsToStringBuffer(value, text, sizeof(text));
	if (!ip4addr_aton(text, out))
		xsRangeError("net: %s is not an IPv4 address: %s", name, text);
	return 1;
}

static void deliver_change(void *the_, void *refcon, uint8_t *message, uint16_t length)
{
	xsMachine *the = the_;
	(void)refcon;
	if (!gNetCallbackSet || length != 1)
		return;
	xsBeginHost(the);
	{
		xsCallFunction1(gNetCallback, xsGlobal, xsString(message[0] == ROUTER_PORT_WAN ? "wan" : "lan"));
	}
	xsEndHost(the);
}

static void status_changed(struct netif *netif)
{
	uint8_t role = netif == router_port_netif(ROUTER_PORT_WAN) ? ROUTER_PORT_WAN : ROUTER_PORT_LAN;
	if (gNetMachine)
		modMessagePostToMachine(gNetMachine, &role, 1, deliver_change, NULL);
}

static void dhcp_poll(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUTER_PORT_COUNT; r++) {
		struct netif *netif = router_port_netif((enum router_port_role)r);
		struct dhcp *dhcp = netif ? netif_dhcp_data(netif) : NULL;
		u8_t state = dhcp ? dhcp->state : DHCP_STATE_OFF;
		if (state == DHCP_STATE_BOUND && (gLease[r].state != DHCP_STATE_BOUND || dhcp->xid != gLease[r].xid))
			status_changed(netif);
		gLease[r].state = state;
		gLease[r].xid = dhcp ? dhcp->xid : 0;
	}
	sys_timeout(NET_DHCP_POLL_MS, dhcp_poll, NULL);
}

#if !LWIP_NETIF_LINK_CALLBACK
/*
 * ESP-IDF builds lwIP without the per-netif link callback (and changing the
 * option would change struct netif under its prebuilt code), but always with
 * the extended status callback: link changes come through that instead.
 */
static netif_ext_callback_t gExtCallback;

static void ext_status_changed(struct netif *netif, netif_nsc_reason_t reason, const netif_ext_callback_args_t *args)
{
	(void)args;
	if ((reason & LWIP_NSC_LINK_CHANGED) && (netif == router_port_netif(ROUTER_PORT_WAN) || netif == router_port_netif(ROUTER_PORT_LAN)))
		status_changed(netif);
}
#endif

/* xs_net_on_change(callback(role)) */
void xs_net_on_change(xsMachine *the)
{
	if (gNetCallbackSet)
		xsForget(gNetCallback);
	gNetMachine = the;
	gNetCallback = xsArg(0);
	gNetCallbackSet = 1;
	xsRemember(gNetCallback);
	ROUTER_LWIP_LOCK();
	for (int r = 0; r < ROUTER_PORT_COUNT; r++) {
		struct netif *netif = router_port_netif((enum router_port_role)r);
		if (netif) {
			netif_set_status_callback(netif, status_changed);
#if LWIP_NETIF_LINK_CALLBACK
			netif_set_link_callback(netif, status_changed);
#endif
		}
	}
#if !LWIP_NETIF_LINK_CALLBACK
	netif_remove_ext_callback(&gExtCallback);   /* a second call must not link it twice */
	netif_add_ext_callback(&gExtCallback, ext_status_changed);
#endif
	if (!gPolling) {
		gPolling = 1;
		sys_timeout(NET_DHCP_POLL_MS, dhcp_poll, NULL);
	}
	ROUTER_LWIP_UNLOCK();
}

/*
 * xs_net_configure(role, { mode: "static" | "dhcp" | "off",
 *                          address, netmask, gateway, dns: [a, b] })
 */
void xs_net_configure(xsMachine *the)
{
	enum router_port_role role = role_arg(the, 0);
	struct netif *netif = port_arg(the, 0);
	char mode[8];
	ip4_addr_t address, netmask, gateway, dns[DNS_MAX_SERVERS];
	int dns_count = 0;
	xsVars(2);
	xsVar(0) = xsArg(1);
	xsToStringBuffer(xsGet(xsVar(0), xsID("mode")), mode, sizeof(mode));
	get_address(the, &xsVar(0), "address", &address);
	get_address(the, &xsVar(0), "netmask", &netmask);
	get_address(the, &xsVar(0), "gateway", &gateway);
	xsVar(1) = xsGet(xsVar(0), xsID("dns"));
	if (xsTypeOf(xsVar(1)) == xsReferenceType) {
		int n = xsToInteger(xsGet(xsVar(1), xsID("length")));
		for (int i = 0; i < n && dns_count < DNS_MAX_SERVERS; i++) {
			char text[20];
			xsToStringBuffer(xsGetIndex(xsVar(1), i), text, sizeof(text));
			if (!ip4addr_aton(text, &dns[dns_count]))
				xsRangeError("net: dns server is not an IPv4 address: %s", text);
			dns_count++;
		}
	}
	if (strcmp(mode, "static") && strcmp(mode, "dhcp") && strcmp(mode, "off"))
		xsRangeError("net: mode %s (static, dhcp or off)", mode);

	ROUTER_LWIP_LOCK();
	netif_set_hostname(netif, "natbridge");
	if (netif_dhcp_data(netif))
		dhcp_release_and_stop(netif);
	if (!strcmp(mode, "off")) {
		netif_set_down(netif);
		netif_set_addr(netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4);
	}
	else if (!strcmp(mode, "static")) {
		netif_set_addr(netif, &address, &netmask, &gateway);
		netif_set_up(netif);
	}
	else {
		netif_set_addr(netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4);
		netif_set_up(netif);
		dhcp_start(netif);
	}
	if (role == ROUTER_PORT_WAN) {
		/* Everything not on the LAN goes out the WAN. */
		netif_set_default(netif);
		for (int i = 0; i < DNS_MAX_SERVERS; i++) {
			ip_addr_t server;
			if (i < dns_count)
				ip_addr_copy_from_ip4(server, dns[i]);
			else
				ip_addr_set_zero(&server);
			/* With DHCP the lease supplies these unless they are set here. */
			if (strcmp(mode, "dhcp") || i < dns_count)
				dns_setserver((u8_t)i, &server);
		}
	}
	ROUTER_LWIP_UNLOCK();
}

static const char *dhcp_state_name(struct netif *netif)
{
	struct dhcp *dhcp = netif_dhcp_data(netif);
	if (!dhcp)
		return "off";
	switch (dhcp->state) {
	case DHCP_STATE_OFF: return "off";
	case DHCP_STATE_REQUESTING: return "requesting";
	case DHCP_STATE_INIT: return "init";
	case DHCP_STATE_REBOOTING: return "rebooting";
	case DHCP_STATE_REBINDING: return "rebinding";
	case DHCP_STATE_RENEWING: return "renewing";
	case DHCP_STATE_SELECTING: return "selecting";
	case DHCP_STATE_INFORMING: return "informing";
	case DHCP_STATE_CHECKING: return "checking";
	case DHCP_STATE_BOUND: return "bound";
	case DHCP_STATE_BACKING_OFF: return "backing-off";
	default: return "unknown";
	}
}

static void set_address(xsMachine *the, const char *name, const ip4_addr_t *a)
{
	char text[IP4ADDR_STRLEN_MAX];
	ip4addr_ntoa_r(a, text, sizeof(text));
	xsSet(xsResult, xsID(name), xsString(text));
}

/* xs_net_status(role) -> { device, mac, link, up, address, netmask, gateway, dhcp, dns, counters } */
void xs_net_status(xsMachine *the)
{
	enum router_port_role role = role_arg(the, 0);
	struct netif *netif = port_arg(the, 0);
	struct dhcp *dhcp;
	struct router_port_counters c;
	char mac[18];
	xsVars(2);
	xsResult = xsNewObject();
	ROUTER_LWIP_LOCK();
	xsSet(xsResult, xsID("device"), xsString(router_port_device(role)));
	for (int i = 0; i < 6; i++) {
		static const char hex[] = "0123456789abcdef";
		mac[i * 3] = hex[netif->hwaddr[i] >> 4];
		mac[i * 3 + 1] = hex[netif->hwaddr[i] & 15];
		mac[i * 3 + 2] = i < 5 ? ':' : 0;
	}
	xsSet(xsResult, xsID("mac"), xsString(mac));
	xsSet(xsResult, xsID("link"), xsBoolean(netif_is_link_up(netif)));
	xsSet(xsResult, xsID("up"), xsBoolean(netif_is_up(netif)));
	xsSet(xsResult, xsID("mtu"), xsInteger(netif->mtu));
	set_address(the, "address", netif_ip4_addr(netif));
	set_address(the, "netmask", netif_ip4_netmask(netif));
	set_address(the, "gateway", netif_ip4_gw(netif));
	xsSet(xsResult, xsID("dhcp"), xsString(dhcp_state_name(netif)));
	dhcp = netif_dhcp_data(netif);
	if (dhcp && dhcp->state == DHCP_STATE_BOUND) {
		char text[IP4ADDR_STRLEN_MAX];
		ip4addr_ntoa_r(ip_2_ip4(&dhcp->server_ip_addr), text, sizeof(text));
		xsSet(xsResult, xsID("dhcpServer"), xsString(text));
		xsSet(xsResult, xsID("leaseSeconds"), xsNumber((double)dhcp->offered_t0_lease));
	}
	xsVar(0) = xsNewArray(0);
	if (role == ROUTER_PORT_WAN) {
		int n = 0;
		for (u8_t i = 0; i < DNS_MAX_SERVERS; i++) {
			const ip_addr_t *server = dns_getserver(i);
			char text[IP4ADDR_STRLEN_MAX];
			if (ip_addr_isany(server))
				continue;
			ip4addr_ntoa_r(ip_2_ip4(server), text, sizeof(text));
			xsSetIndex(xsVar(0), n++, xsString(text));
		}
	}
	xsSet(xsResult, xsID("dns"), xsVar(0));
	router_port_counters(role, &c);
	xsVar(1) = xsNewObject();
	xsSet(xsVar(1), xsID("rxFrames"), xsNumber((double)c.rx_frames));
	xsSet(xsVar(1), xsID("rxBytes"), xsNumber((double)c.rx_bytes));
	xsSet(xsVar(1), xsID("txFrames"), xsNumber((double)c.tx_frames));
	xsSet(xsVar(1), xsID("txBytes"), xsNumber((double)c.tx_bytes));
	xsSet(xsVar(1), xsID("rxDropped"), xsNumber((double)c.rx_dropped));
	xsSet(xsVar(1), xsID("txErrors"), xsNumber((double)c.tx_errors));
	xsSet(xsVar(1), xsID("ip4Input"), xsNumber((double)router_hook_ip4_packets[role]));
	xsSet(xsResult, xsID("counters"), xsVar(1));
	ROUTER_LWIP_UNLOCK();
}

/* Pool names, in lwIP's own order (the same X-macro lwIP builds its pools with). */
static const char *const gPoolNames[] = {
#define LWIP_MEMPOOL(name, num, size, desc) #name,
#include "lwip/priv/memp_std.h"
};

/* xs_net_pools() -> [{ name, used, max, available, errors }] including "HEAP" */
void xs_net_pools(xsMachine *the)
{
	int n = 0;
	xsVars(1);
	xsResult = xsNewArray(0);
	ROUTER_LWIP_LOCK();
	xsVar(0) = xsNewObject();
	xsSet(xsVar(0), xsID("name"), xsString("HEAP"));
	xsSet(xsVar(0), xsID("used"), xsNumber(lwip_stats.mem.used));
	xsSet(xsVar(0), xsID("max"), xsNumber(lwip_stats.mem.max));
	xsSet(xsVar(0), xsID("available"), xsNumber(lwip_stats.mem.avail));
	xsSet(xsVar(0), xsID("errors"), xsNumber((double)lwip_stats.mem.err));
	xsSetIndex(xsResult, n++, xsVar(0));
	for (int i = 0; i < MEMP_MAX; i++) {
		const struct stats_mem *m = lwip_stats.memp[i];
		if (!m)
			continue;
		xsVar(0) = xsNewObject();
		xsSet(xsVar(0), xsID("name"), xsString(gPoolNames[i]));
		xsSet(xsVar(0), xsID("used"), xsNumber(m->used));
		xsSet(xsVar(0), xsID("max"), xsNumber(m->max));
		xsSet(xsVar(0), xsID("available"), xsNumber(m->avail));
		xsSet(xsVar(0), xsID("errors"), xsNumber((double)m->err));
		xsSetIndex(xsResult, n++, xsVar(0));
	}
	ROUTER_LWIP_UNLOCK();
}
