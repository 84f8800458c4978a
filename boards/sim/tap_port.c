/*
 * The simulator's Ethernet ports: one Linux TAP device per port, attached
 * to an lwIP netif. A port attaches to the named TAP device in the
 * simulator's network namespace, creating it if absent; the open file
 * descriptor keeps working after the device is moved to another namespace,
 * and is inherited across a restart (exec) so the port survives a reboot.
 */
#define _GNU_SOURCE 1   /* setns(), before any header */
#include "tap_port.h"
#include "sim_loop.h"
#include "ports.h"
#include "router_ethernet.h"

#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/snmp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAP_FRAME_MAX 1518
#define TAP_READS_PER_WAKE 64
/* How often a port looks at its device's state: a cable pulled shows within this. */
#define TAP_LINK_POLL_MS 500

struct tap_port {
	int fd;
	char device[IFNAMSIZ];
	char label[IFNAMSIZ + 8];
	struct netif netif;
	struct router_port_counters counters;
	/* A socket in the namespace the device is in now (it moves after attach), to read its flags. */
	int flags_sock;
	ino_t flags_ns;
	uint8_t mac[ETH_HWADDR_LEN];
};

static struct tap_port gPorts[ROUTER_PORT_COUNT];

int tap_port_open(const char *device)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "sim: cannot open /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", device);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "sim: cannot attach TAP device %s: %s\n", device, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static err_t tap_linkoutput(struct netif *netif, struct pbuf *p)
{
	struct tap_port *port = netif->state;
	uint8_t frame[TAP_FRAME_MAX];
	u16_t len;
	if (p->tot_len > sizeof(frame)) {
		port->counters.tx_errors++;
		return ERR_BUF;
	}
	len = pbuf_copy_partial(p, frame, p->tot_len, 0);
	if (write(port->fd, frame, len) != (ssize_t)len) {
		port->counters.tx_errors++;
		return ERR_IF;
	}
	port->counters.tx_frames++;
	port->counters.tx_bytes += len;
	return ERR_OK;
}

static err_t tap_netif_init(struct netif *netif)
{
	struct tap_port *port = netif->state;
	int role = (int)(port - gPorts);
	netif->name[0] = role == ROUTER_PORT_WAN ? 'w' : 'l';
	netif->name[1] = '0';
	netif->output = etharp_output;
	netif->linkoutput = tap_linkoutput;
	netif->mtu = 1500;
	netif->hwaddr_len = ETH_HWADDR_LEN;
	/* The instance's own (main.c: --mac or made from its preferences path): stable leases across restarts. */
	memcpy(netif->hwaddr, port->mac, ETH_HWADDR_LEN);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP;
	return ERR_OK;
}

/*
 * The link of a port is the state of its TAP device on the host side: the
 * device set down there (ip link set <tap> down) is the cable pulled. The
 * device may live in another network namespace than ours (the bench moves
 * it), so the flags are read through a socket made in the device's own
 * namespace (TUNGETDEVNETNS), remade only when the device moves.
 * Returns 1 up, 0 down, -1 unknown.
 */
static int device_up(struct tap_port *port)
{
	struct ifreq ifr;
	struct stat st;
	int up = -1;
	int ns = ioctl(port->fd, TUNGETDEVNETNS);
	if (ns < 0)
		return -1;
	if (fstat(ns, &st) == 0 && (port->flags_sock < 0 || st.st_ino != port->flags_ns)) {
		int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self >= 0 && setns(ns, CLONE_NEWNET) == 0) {
			int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (setns(self, CLONE_NEWNET) != 0)
				fprintf(stderr, "sim: cannot return to our network namespace: %s\n", strerror(errno));
			if (s >= 0) {
				if (port->flags_sock >= 0)
					close(port->flags_sock);
				port->flags_sock = s;
				port->flags_ns = st.st_ino;
			}
		}
		if (self >= 0)
			close(self);
	}
	close(ns);
	if (port->flags_sock < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", port->device);
	if (ioctl(port->flags_sock, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) != 0;
	return up;
}

static void follow_link(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUTER_PORT_COUNT; r++) {
		struct tap_port *port = &gPorts[r];
		int up;
		if (!port->netif.state)
			continue;
		up = device_up(port);
		if (up == 1 && !netif_is_link_up(&port->netif))
			netif_set_link_up(&port->netif);
		else if (up == 0 && netif_is_link_up(&port->netif))
			netif_set_link_down(&port->netif);
	}
	sys_timeout(TAP_LINK_POLL_MS, follow_link, NULL);
}

static void tap_readable(void *ctx)
{
	struct tap_port *port = ctx;
	uint8_t frame[TAP_FRAME_MAX + 4];
	for (int i = 0; i < TAP_READS_PER_WAKE; i++) {
		ssize_t n = read(port->fd, frame, sizeof(frame));
		struct pbuf *p;
		if (n <= 0)
			return;
		port->counters.rx_frames++;
		port->counters.rx_bytes += (uint64_t)n;
		p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_POOL);
		if (!p) {
			port->counters.rx_dropped++;
			continue;
		}
		pbuf_take(p, frame, (u16_t)n);
		if (port->netif.input(p, &port->netif) != ERR_OK) {
			port->counters.rx_dropped++;
			pbuf_free(p);
		}
	}
}

int tap_port_attach(enum router_port_role role, const char *device, int inherited_fd, const uint8_t mac[6])
{
	struct tap_port *port = &gPorts[role];
	int fd = inherited_fd >= 0 ? inherited_fd : tap_port_open(device);
	if (fd < 0)
		return -1;
	memcpy(port->mac, mac, ETH_HWADDR_LEN);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	port->fd = fd;
	port->flags_sock = -1;
	snprintf(port->device, sizeof(port->device), "%s", device);
	snprintf(port->label, sizeof(port->label), "tap:%s", device);
	if (!netif_add_noaddr(&port->netif, port, tap_netif_init, router_ethernet_input)) {
		fprintf(stderr, "sim: cannot add netif for %s\n", device);
		return -1;
	}
	/* Up until the first look says otherwise (a device we cannot read stays up). */
	netif_set_link_up(&port->netif);
	if (role == ROUTER_PORT_COUNT - 1 || !gPorts[ROUTER_PORT_COUNT - 1].netif.state) {
		sys_untimeout(follow_link, NULL);
		sys_timeout(TAP_LINK_POLL_MS, follow_link, NULL);
	}
	return sim_watch_fd(fd, tap_readable, port);
}

int tap_port_fd(enum router_port_role role)
{
	return gPorts[role].netif.state ? gPorts[role].fd : -1;
}

struct netif *router_port_netif(enum router_port_role role)
{
	if (role >= ROUTER_PORT_COUNT || !gPorts[role].netif.state)
		return NULL;
	return &gPorts[role].netif;
}

const char *router_port_device(enum router_port_role role)
{
	if (role >= ROUTER_PORT_COUNT || !gPorts[role].netif.state)
		return "none";
	return gPorts[role].label;
}

void router_port_counters(enum router_port_role role, struct router_port_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (role < ROUTER_PORT_COUNT)
		*out = gPorts[role].counters;
}
