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

#endif
