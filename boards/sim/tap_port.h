#ifndef SIM_TAP_PORT_H
#define SIM_TAP_PORT_H

#include "ports.h"

/*
 * Attach a port to the TAP device named device. inherited_fd >= 0 is an
 * already attached descriptor (kept across a restart); -1 opens the device.
 */
int tap_port_attach(enum router_port_role role, const char *device, int inherited_fd);
int tap_port_fd(enum router_port_role role);

#endif
