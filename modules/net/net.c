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

/* What xs_net_status reports, copied under the lock; JavaScript values are made after it. */
struct port_snapshot {
	const char *device;
	const char *dhcp_state;
	u8_t hwaddr[6];
	u8_t link, up, bound;
	u16_t mtu;
	ip4_addr_t address, netmask, gateway, dhcp_server;
	u32_t lease_seconds;
	ip4_addr_t dns[DNS_MAX_SERVERS];
	int dns_count;
	struct router_port_counters counters;
	uint32_t ip4_input;
};

static void snapshot(enum router_port_role role, struct netif *netif, struct port_snapshot *s)
{
	struct dhcp *dhcp = netif_dhcp_data(netif);
	s->device = router_port_device(role);
	s->dhcp_state = dhcp_state_name(netif);
	memcpy(s->hwaddr, netif->hwaddr, sizeof(s->hwaddr));
	s->link = netif_is_link_up(netif) ? 1 : 0;
	s->up = netif_is_up(netif) ? 1 : 0;
	s->mtu = netif->mtu;
	ip4_addr_copy(s->address, *netif_ip4_addr(netif));
	ip4_addr_copy(s->netmask, *netif_ip4_netmask(netif));
	ip4_addr_copy(s->gateway, *netif_ip4_gw(netif));
	s->bound = dhcp && dhcp->state == DHCP_STATE_BOUND;
	if (s->bound) {
		ip4_addr_copy(s->dhcp_server, *ip_2_ip4(&dhcp->server_ip_addr));
		s->lease_seconds = dhcp->offered_t0_lease;
	}
	s->dns_count = 0;
	if (role == ROUTER_PORT_WAN) {
		for (u8_t i = 0; i < DNS_MAX_SERVERS; i++) {
			const ip_addr_t *server = dns_getserver(i);
			if (!ip_addr_isany(server))
				ip4_addr_copy(s->dns[s->dns_count++], *ip_2_ip4(server));
		}
	}
	router_port_counters(role, &s->counters);
	s->ip4_input = router_hook_ip4_packets[role];
}

/*
 * xs_net_status(role) -> { device, mac, link, up, address, netmask, gateway, dhcp, dns, counters }
 * Nothing calls into XS under the lock: an allocation may collect, and a
 * collected socket's destructor takes the lock itself.
 */
void xs_net_status(xsMachine *the)
{
	enum router_port_role role = role_arg(the, 0);
	struct netif *netif = port_arg(the, 0);
	struct port_snapshot s;
	char mac[18];
	ROUTER_LWIP_LOCK();
	snapshot(role, netif, &s);
	ROUTER_LWIP_UNLOCK();

	xsVars(2);
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("device"), xsString(s.device));
	for (int i = 0; i < 6; i++) {
		static const char hex[] = "0123456789abcdef";
		mac[i * 3] = hex[s.hwaddr[i] >> 4];
		mac[i * 3 + 1] = hex[s.hwaddr[i] & 15];
		mac[i * 3 + 2] = i < 5 ? ':' : 0;
	}
	xsSet(xsResult, xsID("mac"), xsString(mac));
	xsSet(xsResult, xsID("link"), xsBoolean(s.link));
	xsSet(xsResult, xsID("up"), xsBoolean(s.up));
	xsSet(xsResult, xsID("mtu"), xsInteger(s.mtu));
	set_address(the, "address", &s.address);
	set_address(the, "netmask", &s.netmask);
	set_address(the, "gateway", &s.gateway);
	xsSet(xsResult, xsID("dhcp"), xsString(s.dhcp_state));
	if (s.bound) {
		set_address(the, "dhcpServer", &s.dhcp_server);
		xsSet(xsResult, xsID("leaseSeconds"), xsNumber((double)s.lease_seconds));
	}
	xsVar(0) = xsNewArray(0);
	for (int i = 0; i < s.dns_count; i++) {
		char text[IP4ADDR_STRLEN_MAX];
		ip4addr_ntoa_r(&s.dns[i], text, sizeof(text));
		xsSetIndex(xsVar(0), i, xsString(text));
	}
	xsSet(xsResult, xsID("dns"), xsVar(0));
	xsVar(1) = xsNewObject();
	xsSet(xsVar(1), xsID("rxFrames"), xsNumber((double)s.counters.rx_frames));
	xsSet(xsVar(1), xsID("rxBytes"), xsNumber((double)s.counters.rx_bytes));
	xsSet(xsVar(1), xsID("txFrames"), xsNumber((double)s.counters.tx_frames));
	xsSet(xsVar(1), xsID("txBytes"), xsNumber((double)s.counters.tx_bytes));
	xsSet(xsVar(1), xsID("rxDropped"), xsNumber((double)s.counters.rx_dropped));
	xsSet(xsVar(1), xsID("txErrors"), xsNumber((double)s.counters.tx_errors));
	xsSet(xsVar(1), xsID("ip4Input"), xsNumber((double)s.ip4_input));
	xsSet(xsResult, xsID("counters"), xsVar(1));
}

/*
 * lwIP counts its heap only where it manages one (MEM_STATS: not with
 * MEM_LIBC_MALLOC, as in ESP-IDF) and its pools only where they are its own
 * (MEMP_STATS: not with MEMP_MEM_MALLOC, as in ESP-IDF). The simulator has
 * both; the board reports what it has, and an empty list otherwise.
 */
#if LWIP_STATS && MEMP_STATS
/* Pool names, in lwIP's own order (the same X-macro lwIP builds its pools with). */
static const char *const gPoolNames[] = {
#define LWIP_MEMPOOL(name, num, size, desc) #name,
#include "lwip/priv/memp_std.h"
};
#endif

#if LWIP_STATS && (MEM_STATS || MEMP_STATS)
#define NET_POOLS_MAX (1 + MEMP_MAX)

struct pool_snapshot {
	const char *name;
	struct stats_mem m;
};

static void push_pool(xsMachine *the, int index, const struct pool_snapshot *p)
{
	xsVar(0) = xsNewObject();
	xsSet(xsVar(0), xsID("name"), xsString(p->name));
	xsSet(xsVar(0), xsID("used"), xsNumber(p->m.used));
	xsSet(xsVar(0), xsID("max"), xsNumber(p->m.max));
	xsSet(xsVar(0), xsID("available"), xsNumber(p->m.avail));
	xsSet(xsVar(0), xsID("errors"), xsNumber((double)p->m.err));
	xsSetIndex(xsResult, index, xsVar(0));
}
#endif

/* xs_net_timewait_reopened() -> the router's TIME_WAIT connections a client's new SYN ended (router_hooks.c) */
void xs_net_timewait_reopened(xsMachine *the)
{
	uint32_t n;
	ROUTER_LWIP_LOCK();
	n = router_hook_timewait_reopened;
	ROUTER_LWIP_UNLOCK();
	xsResult = xsNumber(n);
}

/* xs_net_pools() -> [{ name, used, max, available, errors }] including "HEAP", where lwIP counts them */
void xs_net_pools(xsMachine *the)
{
	xsVars(1);
	xsResult = xsNewArray(0);
#if LWIP_STATS && (MEM_STATS || MEMP_STATS)
	static struct pool_snapshot pools[NET_POOLS_MAX];   /* XS task only; too big for its stack */
	int n = 0;
	ROUTER_LWIP_LOCK();
#if MEM_STATS
	pools[n].name = "HEAP";
	pools[n++].m = lwip_stats.mem;
#endif
#if MEMP_STATS
	for (int i = 0; i < MEMP_MAX; i++) {
		if (lwip_stats.memp[i]) {
			pools[n].name = gPoolNames[i];
			pools[n++].m = *lwip_stats.memp[i];
		}
	}
#endif
	ROUTER_LWIP_UNLOCK();
	for (int i = 0; i < n; i++)
		push_pool(the, i, &pools[i]);
#endif
}
