/*
 * NAPT: the router's translation table and the per-packet path.
 *
 * One external address (the WAN port's), many inside hosts. A *flow* is one
 * session: (protocol, inside address:port, remote address:port) and the
 * external port it is translated to. Flows of the same inside endpoint share
 * one external port (endpoint-independent mapping, RFC 4787 REQ-1, RFC 5382
 * REQ-1, RFC 5508 REQ-1); a *mapping* is that set of flows.
 *
 * Everything here is plain C on byte buffers: no lwIP types, no allocation
 * after napt_init(), packet fields read and written byte-wise (Xtensa faults
 * on unaligned loads). napt_lwip.c connects it to lwIP's input hook.
 *
 * Addresses are kept as they are on the wire (network byte order, read with
 * memcpy into a uint32_t); ports in the API are host order.
 */
#ifndef NAPT_H
#define NAPT_H

#include <stddef.h>
#include <stdint.h>

#define NAPT_PROTO_ICMP 1
#define NAPT_PROTO_TCP  6
#define NAPT_PROTO_UDP  17

/* Which port a packet arrived on. */
enum napt_dir {
	NAPT_OUTBOUND = 0,    /* from the LAN */
	NAPT_INBOUND = 1,     /* from the WAN */
};

/* What the caller does with the packet after napt_process(). */
enum napt_verdict {
	NAPT_PASS = 0,        /* not translated: lwIP handles it as it is (local, or not NAT's) */
	NAPT_FORWARD,         /* translated in place: forward it by its new destination */
	NAPT_HAIRPIN,         /* translated in place (both ends): send it back out the LAN */
	NAPT_DROP,            /* drop it (counted under a reason) */
};

enum napt_timeout {
	NAPT_TIMEOUT_UDP = 0,
	NAPT_TIMEOUT_TCP,             /* established */
	NAPT_TIMEOUT_TCP_TRANSITORY,  /* opening, closing, reset */
	NAPT_TIMEOUT_ICMP,            /* query (echo) */
	NAPT_TIMEOUT_COUNT
};

/* The RFC minimums: RFC 4787 REQ-5, RFC 5382 REQ-5, RFC 5508 REQ-1. */
#define NAPT_MIN_UDP_TIMEOUT            120
#define NAPT_MIN_TCP_TIMEOUT            7440
#define NAPT_MIN_TCP_TRANSITORY_TIMEOUT 240
#define NAPT_MIN_ICMP_TIMEOUT           60
#define NAPT_MAX_TIMEOUT                604800   /* a week */

enum napt_filtering {
	NAPT_FILTER_ADDRESS = 0,   /* address-dependent (default): replies only from hosts the inside has sent to */
	NAPT_FILTER_ENDPOINT = 1,  /* endpoint-independent: anyone may reach a live mapping */
};

/* Why packets were dropped: "show nat" prints these. */
enum napt_drop {
	NAPT_DROP_MALFORMED = 0,   /* short, bad IHL, bad lengths (IP, a UDP length < 8 or past the IP payload), bad IP header checksum */
	NAPT_DROP_CHECKSUM,        /* ICMP with a bad checksum */
	NAPT_DROP_UNSOLICITED,     /* inbound, matching no flow, forward, DMZ or local service */
	NAPT_DROP_FILTERED,        /* inbound to a mapping, from a remote it has not sent to */
	NAPT_DROP_TABLE_FULL,      /* no flow free and none evictable */
	NAPT_DROP_NO_PORT,         /* no external port free in the range */
	NAPT_DROP_NOT_SYN,         /* TCP without SYN and without a flow */
	NAPT_DROP_ICMP_ERROR,      /* ICMP error about no known flow */
	NAPT_DROP_UNSUPPORTED,     /* outbound protocol NAPT cannot translate (not TCP, UDP, ICMP) */
	NAPT_DROP_MARTIAN,         /* inbound from an impossible source (RFC 1812 5.3.7): 0/8, 127/8, 224/3, the LAN's subnet */
	NAPT_DROP_HOST_SHARE,      /* the LAN host (or the forward's target) holds its share and none of it is evictable */
	NAPT_DROP_UNRESOLVED,      /* to a LAN address never resolved by ARP, past the rate of such resolutions (napt_lwip.c) */
	NAPT_DROP_COUNT
};

struct napt_config {
	uint32_t max_flows;                  /* flow pool size: 16 .. 32768 */
	uint32_t max_forwards;               /* forward (static + UPnP) pool size: 1 .. 1024 */
	uint32_t timeout[NAPT_TIMEOUT_COUNT];/* seconds */
	enum napt_filtering filtering;
	uint32_t hash_seed;                  /* random at boot: remote hosts cannot aim at one bucket */
	uint32_t host_share;                 /* most flows one LAN host opens, and most forwards and the DMZ make
	                                        to one LAN host: 1 .. max_flows; 0 = a quarter of max_flows */
};

/*
 * Most UDP flows one mapping (one external port: a forward's, the DMZ's or
 * an inside endpoint's) holds that inbound packets made and its LAN host has
 * not answered. A new sender past it takes over the oldest such flow, so a
 * spray of spoofed senders churns these 16 and nothing else.
 */
#define NAPT_UNANSWERED_PER_MAPPING 16u

/* The defaults: 1024 flows, 64 forwards, UDP 300 s, TCP 7440/240 s, ICMP 60 s, ADF. */
void napt_default_config(struct napt_config *config);

/* Bytes napt_init() needs for a configuration (the flow table, its indexes, forwards). */
size_t napt_memory_size(const struct napt_config *config);

/*
 * Set up the table in `memory` (napt_memory_size() bytes, aligned for
 * uint32_t; the caller owns it). Returns 0, or -1 when the configuration is
 * out of range. All flows and forwards start empty.
 */
int napt_init(const struct napt_config *config, void *memory);

/* Change the filtering or one timeout of the running table; -1 when out of range. */
int napt_set_filtering(enum napt_filtering filtering);
int napt_set_timeout(enum napt_timeout which, uint32_t seconds);
int napt_set_host_share(uint32_t flows);

/* Count a packet the glue (napt_lwip.c) dropped after translation. */
void napt_count_drop(enum napt_drop why);
const struct napt_config *napt_config(void);

/*
 * The router's addresses, as NAPT sees them. Packets from lan_net/lan_mask
 * arriving on the LAN are translated to wan_addr; inbound packets to
 * wan_addr are translated back. wan_addr 0 (no WAN address yet) passes
 * everything untranslated.
 */
struct napt_addresses {
	uint32_t wan_addr;
	uint32_t lan_addr;
	uint32_t lan_mask;
};
void napt_set_addresses(const struct napt_addresses *addresses);

/*
 * Whether the router itself has a socket on this port of its WAN address
 * (lwIP's PCBs): such a port is never handed out as an external port, and
 * unsolicited packets to it go to the router. Supplied by the glue.
 */
typedef int (*napt_local_port_fn)(uint8_t proto, uint16_t port);
void napt_set_local_port_fn(napt_local_port_fn fn);

/*
 * Translate one IPv4 packet in place. `ip` holds the whole IP header and
 * transport header (for ICMP errors, the quoted header too) in its first
 * `len` bytes; `tot_len` is the datagram's length (>= len when the rest
 * lies elsewhere, as in a pbuf chain). `now` is in seconds.
 * The packet must not be a fragment (the glue reassembles first).
 */
enum napt_verdict napt_process(uint8_t *ip, uint16_t len, uint16_t tot_len, enum napt_dir dir, uint32_t now);

/*
 * napt_process() for a datagram the caller has checked already (the fast
 * path's napt_fp_plain_ip()): `len` bytes, all of it, a 20-byte header of
 * version 4 whose length field is `len`, not a fragment, TCP or UDP. The
 * same result as napt_process(ip, len, len, dir, now), without its header
 * checks.
 */
enum napt_verdict napt_process_plain(uint8_t *ip, uint16_t len, enum napt_dir dir, uint32_t now);

/*
 * Whether the packet napt_process() last returned NAPT_FORWARD for is a TCP
 * or UDP packet of a flow past its handshake: TCP established with no FIN
 * or RST seen (this packet's flags included), UDP answered both ways. The
 * glue's fast path takes only those; anything else goes through lwIP.
 */
int napt_last_steady(void);

/* Expire old flows and forward leases; call about once a second. */
void napt_tick(uint32_t now);

/* Forget every flow (the WAN address changed). Forwards stay. */
void napt_flush(void);

/* ------------------------------------------------------------------ */
/* Forwards: static port forwards, UPnP mappings, and one DMZ host.     */

#define NAPT_DESCRIPTION_MAX 48   /* including the terminating NUL */

enum napt_forward_origin {
	NAPT_ORIGIN_STATIC = 0,   /* the console / saved configuration */
	NAPT_ORIGIN_UPNP = 1,     /* a UPnP AddPortMapping */
	NAPT_ORIGIN_SIP = 2,      /* a SIP ALG pinhole (media, or a registration's signalling) */
	NAPT_ORIGIN_PMP = 3,      /* a NAT-PMP or PCP mapping (UPnP's rules and limit, listed with UPnP's) */
};

struct napt_forward {
	uint8_t proto;            /* NAPT_PROTO_TCP or NAPT_PROTO_UDP */
	uint8_t origin;           /* enum napt_forward_origin */
	uint16_t ext_port;        /* first external port */
	uint16_t ext_end;         /* last external port (== ext_port for one) */
	uint16_t in_port;         /* inside port for ext_port; the range maps one to one */
	uint32_t in_addr;         /* inside host */
	uint32_t remote;          /* only this remote host may use it; 0 = any */
	uint32_t owner;           /* who made it (UPnP requester); 0 = the console */
	uint32_t expires;         /* absolute seconds (napt's clock); 0 = never */
	char description[NAPT_DESCRIPTION_MAX];
};

enum napt_forward_result {
	NAPT_FORWARD_OK = 0,
	NAPT_FORWARD_REFRESHED,   /* the same forward existed: lease and description updated */
	NAPT_FORWARD_CONFLICT,    /* overlaps another forward (UPnP 718) */
	NAPT_FORWARD_FULL,        /* no room (UPnP 728) */
	NAPT_FORWARD_INVALID,     /* bad protocol, port 0, range reversed or off 65535 */
	NAPT_FORWARD_NOT_FOUND,   /* remove: nothing there (UPnP 714) */
};

/*
 * Add a forward. A forward with the same protocol, external range, inside
 * host and port as an existing one refreshes it. Flows already made to an
 * external port of the new forward are left alone.
 */
enum napt_forward_result napt_forward_add(const struct napt_forward *forward);

/*
 * Remove the forward whose range holds (proto, ext_port). New connections
 * through it are refused at once; its TCP flows past the handshake and the
 * UDP flows the inside answered live on until they close or time out, the
 * rest go with it.
 */
enum napt_forward_result napt_forward_remove(uint8_t proto, uint16_t ext_port);

/* The forward whose range holds (proto, ext_port), or NULL. */
const struct napt_forward *napt_forward_find(uint8_t proto, uint16_t ext_port);

/* Forwards in order of (proto, ext_port); index from 0; NULL past the end. */
const struct napt_forward *napt_forward_at(uint32_t index);
uint32_t napt_forward_count(void);

/*
 * Whether an external port is free for a new forward: no forward holds it,
 * no live mapping uses it and the router itself has no socket on it.
 */
int napt_port_free(uint8_t proto, uint16_t ext_port, uint32_t now);

/*
 * The same for a forward to (in_addr, in_port): free, or used only by that
 * inside endpoint's own mapping (a forward there keeps its one external
 * port, RFC 4787 REQ-1).
 */
int napt_port_free_for(uint8_t proto, uint16_t ext_port, uint32_t in_addr, uint16_t in_port, uint32_t now);

/* The external port of the live mapping of (proto, in_addr, in_port), or 0 when it has none. */
uint16_t napt_mapping_port(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t now);

/*
 * Let go the flows of (proto, in_addr, in_port) whose external port is not
 * ext_port: a forward to that endpoint now names ext_port, and its next
 * packet makes a flow there (one inside port, one external port). Returns
 * how many went.
 */
uint32_t napt_mapping_move(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint16_t ext_port);

/* Bumped whenever a forward is added, removed, refreshed or expires. */
uint32_t napt_forward_generation(void);

/* Unsolicited inbound TCP and UDP go to this inside host; 0 = none. */
void napt_set_dmz(uint32_t in_addr);
uint32_t napt_dmz(void);

/* ------------------------------------------------------------------ */
/* Looking at the table.                                               */

struct napt_stats {
	uint32_t capacity;
	uint32_t in_use[3];                  /* by protocol: 0 TCP, 1 UDP, 2 ICMP */
	uint32_t peak;
	uint64_t created;
	uint64_t expired;
	uint64_t evicted;
	uint64_t unanswered_reused;          /* unanswered inbound UDP flows taken over by a newer sender (NAPT_UNANSWERED_PER_MAPPING) */
	uint64_t translated[2];              /* by direction: outbound, inbound */
	uint64_t hairpinned;
	uint64_t icmp_errors;                /* ICMP errors translated */
	uint64_t passed;                     /* left to lwIP untranslated */
	uint64_t dropped[NAPT_DROP_COUNT];
	uint32_t bytes_per_flow;             /* table and index memory over capacity */
	uint32_t host_share;                 /* the share in force (napt_config's, 0 resolved) */
	uint32_t unanswered_per_mapping;     /* NAPT_UNANSWERED_PER_MAPPING */
};
void napt_get_stats(struct napt_stats *stats);

struct napt_flow_info {
	uint8_t proto;
	uint8_t tcp_state;        /* enum napt_tcp_state; 0 for UDP and ICMP */
	uint8_t replied;          /* a packet came back from the remote */
	uint8_t forwarded;        /* made by a forward or the DMZ */
	uint32_t in_addr, rem_addr;
	uint16_t in_port, ext_port, rem_port;
	uint32_t idle;            /* seconds since the last packet that refreshed it */
	uint32_t expires_in;      /* seconds left */
};

enum napt_tcp_state {
	NAPT_TCP_NONE = 0,
	NAPT_TCP_SYN_SENT,        /* SYN from one side only */
	NAPT_TCP_ESTABLISHED,     /* the initiator acknowledged the SYN-ACK (from outside: ACKs seen both ways) */
	NAPT_TCP_FIN_WAIT,        /* FIN from one side */
	NAPT_TCP_CLOSING,         /* FIN from both sides */
	NAPT_TCP_RESET,           /* RST seen */
	NAPT_TCP_SYN_RCVD,        /* SYN from both sides, the handshake not yet acknowledged */
};
const char *napt_tcp_state_name(uint8_t state);

/*
 * Walk live flows: `cursor` starts at 0; returns 1 and fills `info` while
 * there are more, 0 at the end.
 */
int napt_flow_next(uint32_t *cursor, uint32_t now, struct napt_flow_info *info);

#endif
