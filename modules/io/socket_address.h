/*
 * Socket addresses as ECMA-419 gives them: dotted-quad IPv4 strings.
 * Stricter than ip4addr_aton, which takes "1.2.3" as 1.2.0.3 the way
 * inet_aton does; a typo should be an error, not another host.
 */
#ifndef ROUTER_SOCKET_ADDRESS_H
#define ROUTER_SOCKET_ADDRESS_H

#include "lwip/ip4_addr.h"

static inline int socket_parse_ipv4(const char *text, ip4_addr_t *out)
{
	uint32_t octets[4];
	for (int i = 0; i < 4; i++) {
		uint32_t value = 0;
		int digits = 0;
		while (*text >= '0' && *text <= '9' && digits < 4) {
			value = value * 10 + (uint32_t)(*text++ - '0');
			digits++;
		}
		if (!digits || value > 255 || *text != (i < 3 ? '.' : 0))
			return 0;
		octets[i] = value;
		if (i < 3)
			text++;
	}
	IP4_ADDR(out, octets[0], octets[1], octets[2], octets[3]);
	return 1;
}

#endif
