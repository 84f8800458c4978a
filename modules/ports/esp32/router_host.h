/*
 * What the project's native modules (modules/io, modules/net, modules/napt,
 * modules/sipalg) may use from their host, on the ESP32; the simulator's is
 * boards/sim/router_host.h. Three things, none of them ESP-IDF's:
 *
 * - XS's C API (xs.h). Not xsmc.h: it undefines the xs* macros these
 *   modules use.
 * - Moddable's modMessagePostToMachine(), to run a callback later on the XS
 *   task. It is declared here with the exact prototype of Moddable 8.2.3's
 *   xs/platforms/esp/xsHost.h rather than by including that header, which
 *   needs ESP-IDF's FreeRTOS headers: so these modules compile for Xtensa
 *   without ESP-IDF (tools/xtensa-check.mjs). platform.c includes both
 *   declarations, so the board build fails if they ever disagree. On the
 *   ESP32 it returns 0 when queued, -1 without memory, -2 when the queue is
 *   full after MODDEF_TASK_QUEUEWAIT ticks (the manifest sets 0: the tcpip
 *   thread, which posts while holding the core lock, never waits on the XS
 *   task, which may itself be waiting for that lock).
 * - The tcpip core lock (lwIP's LOCK_TCPIP_CORE, CONFIG_LWIP_TCPIP_CORE_LOCKING=y):
 *   lwIP runs in ESP-IDF's tcpip thread, so the XS task takes it around
 *   every call into lwIP, NAPT or the SIP ALG.
 */
#ifndef ROUTER_HOST_H
#define ROUTER_HOST_H

#include <stddef.h>   /* before xs.h, which uses size_t without including it */
#include <stdint.h>
#include "xs.h"
#include "lwip/tcpip.h"

#if !LWIP_TCPIP_CORE_LOCKING
#error "the ESP32 build needs CONFIG_LWIP_TCPIP_CORE_LOCKING=y (boards/esp32/sdkconfig.defaults)"
#endif

int modMessagePostToMachine(xsMachine *the, uint8_t *message, uint16_t messageLength,
                            void (*callback)(void *the, void *refcon, uint8_t *message, uint16_t messageLength),
                            void *refcon);

#define ROUTER_LWIP_LOCK()   LOCK_TCPIP_CORE()
#define ROUTER_LWIP_UNLOCK() UNLOCK_TCPIP_CORE()

#endif
