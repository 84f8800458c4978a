/*
 * What the project's native modules may use from their host, on the
 * simulator. The ESP32 build supplies the same names from the Moddable SDK
 * (modMessagePostToMachine is Moddable's own API, mirrored here), so module
 * C code includes this header and nothing board-specific.
 */
#ifndef ROUTER_HOST_H
#define ROUTER_HOST_H

#include <stdint.h>
#include "xs.h"

typedef void (*modMessageDeliver)(void *the, void *refcon, uint8_t *message, uint16_t messageLength);

/*
 * Run callback later on the machine's own loop, outside any lwIP callback.
 * The message bytes are copied. Returns 0 on success, -1 when the queue is
 * full (the message is dropped).
 */
int modMessagePostToMachine(xsMachine *the, uint8_t *message, uint16_t messageLength,
                            modMessageDeliver callback, void *refcon);

uint32_t modMilliseconds(void);

/* lwIP core access from the JavaScript thread: nothing to lock in NO_SYS. */
#define ROUTER_LWIP_LOCK()   do { } while (0)
#define ROUTER_LWIP_UNLOCK() do { } while (0)

#endif
