/*
 * What the project's native modules may use from their host, on the ESP32
 * (the simulator's is boards/sim/router_host.h). Moddable's xsHost.h
 * supplies modMessagePostToMachine() and modMilliseconds(); lwIP runs in
 * ESP-IDF's tcpip thread, so the JavaScript task takes the core lock
 * (CONFIG_LWIP_TCPIP_CORE_LOCKING=y) around every call into lwIP or NAPT.
 */
#ifndef ROUTER_HOST_H
#define ROUTER_HOST_H

#include <stdint.h>
#include "xs.h"   /* the xs* macros our modules use; xsmc.h would #undef them */
#include "xsHost.h"
#include "lwip/tcpip.h"

#define ROUTER_LWIP_LOCK()   LOCK_TCPIP_CORE()
#define ROUTER_LWIP_UNLOCK() UNLOCK_TCPIP_CORE()

#endif
