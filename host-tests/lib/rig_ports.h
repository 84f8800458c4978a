/*
 * Two netifs without Ethernet standing in for the board's ports (ports.h),
 * for the C programs that drive NAPT behind real lwIP on the host: the
 * lwIP unit test and the benchmark. Each sets the netifs up itself (its
 * own output function) and supplies its own sys_now().
 */
#ifndef RIG_PORTS_H
#define RIG_PORTS_H

#include "lwip/netif.h"
#include "ports.h"

extern struct netif wan_if, lan_if;

#endif
