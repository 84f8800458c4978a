/*
 * NAPT on lwIP: the part of the IPv4 input hook that hands packets between
 * the ports to the translation table (napt.h). Board-independent: the board
 * supplies the two netifs (ports.h).
 */
#ifndef NAPT_LWIP_H
#define NAPT_LWIP_H

#include "napt.h"

struct pbuf;
struct netif;

/*
 * Allocate the table for `config` and start it (once, at boot: the pool is
 * sized by configuration and never grows). Returns 0, or -1 when the
 * configuration is out of range or the memory cannot be had; NAPT then
 * stays off and packets are forwarded untranslated.
 */
int napt_lwip_start(const struct napt_config *config);

/* Whether napt_lwip_start() succeeded. */
int napt_lwip_running(void);

/* napt's clock: seconds since boot. */
uint32_t napt_lwip_now(void);

/*
 * The IPv4 input hook's NAPT step: 0 when lwIP goes on with the packet
 * (translated in place, or not NAPT's), 1 when NAPT took it (sent it, held
 * it for reassembly, or dropped it; the pbuf is no longer the caller's).
 */
int napt_lwip_input(struct pbuf *p, struct netif *inp);

/*
 * An application-level gateway on the NAPT path (the SIP ALG's glue
 * registers one). NAPT knows nothing of what it does: it shows the ALG each
 * TCP and UDP packet it translated for forwarding (not hairpinned, not
 * passed or dropped) together with the endpoints the packet had before
 * translation, which the ALG cannot read back afterwards.
 */
struct napt_alg_packet {
	enum napt_dir dir;
	uint8_t proto;            /* NAPT_PROTO_TCP or NAPT_PROTO_UDP */
	uint32_t src, dst;        /* before translation, network order */
	uint16_t sport, dport;    /* before translation, host order */
};

struct napt_alg {
	/*
	 * The packet `p` (whole, not a fragment; translated in place; IP and
	 * transport headers in its first pbuf) is about to leave by `out`.
	 * 0: lwIP forwards p as it now is (the ALG may have edited it in
	 * place); 1: the ALG sent what it had to and freed p.
	 */
	int (*forward)(struct pbuf *p, struct netif *out, const struct napt_alg_packet *pkt);
	/* Once a second, after NAPT's own tick (seconds on napt's clock). */
	void (*tick)(uint32_t now);
	/* The WAN address changed: whatever the ALG holds named the old one. */
	void (*wan_changed)(void);
};

/* Register the ALG (NULL: none). Once NAPT runs; the struct must outlive it. */
void napt_lwip_set_alg(const struct napt_alg *alg);

/*
 * The forwarding fast path (napt_fastpath.c): a packet NAPT translated for
 * forwarding, of a steady flow (napt_last_steady()), goes straight to the
 * out port's linkoutput with the next hop's MAC from lwIP's ARP table,
 * when nothing about it needs lwIP. Called by napt_fastpath_input() only:
 * the header was checked before translation (napt_fp_plain_ip()), p is
 * one pbuf, `out` is the port other than `inp`. Returns 1 when it sent (and freed) p, 0 when lwIP forwards it
 * as before (p untouched). `now` is napt's clock.
 */
int napt_fastpath_send(struct pbuf *p, struct netif *inp, struct netif *out, uint32_t now);

/*
 * The fast path's way in, from the ports' input (router_ethernet_input())
 * before anything of lwIP's: `p` a received Ethernet frame on `inp`. 0: not
 * a frame for it, p untouched (lwIP's input takes it as usual). Otherwise
 * it did what the IPv4 input hook would have, and more: NAPT_FP_TAKEN, p
 * was sent, dropped or otherwise taken (no longer the caller's);
 * NAPT_FP_LWIP, p is now the IP datagram (Ethernet header removed) and NAPT
 * has done with it what the hook does: ip4_input() goes on with it, the
 * hook must not see it again. NAPT_FP_WAN is or-ed in when it came on the
 * WAN port (else the LAN), for the hook's per-port counts.
 */
#define NAPT_FP_TAKEN 1
#define NAPT_FP_LWIP 2
#define NAPT_FP_WAN 4
int napt_fastpath_input(struct pbuf *p, struct netif *inp);

/* `set nat fastpath on|off` (on at boot), and packets it sent; napt_fastpath_enabled is what napt_fastpath_on() reads. */
extern int napt_fastpath_enabled;
void napt_fastpath_set(int on);
int napt_fastpath_on(void);
uint32_t napt_fastpath_count(void);

#endif
