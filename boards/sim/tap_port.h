#ifndef SIM_TAP_PORT_H
#define SIM_TAP_PORT_H

#include "ports.h"

#include <stdint.h>

/*
 * Attach a port to the TAP device named device, with the port's own MAC
 * address. inherited_fd >= 0 is an already attached descriptor (kept
 * across a restart); -1 opens the device.
 */
int tap_port_attach(enum router_port_role role, const char *device, int inherited_fd, const uint8_t mac[6]);
int tap_port_fd(enum router_port_role role);

#endif
