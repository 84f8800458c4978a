/*
 * The flow table inside NAPT: shared by napt_table.c (the pool, the four
 * hash indexes, external ports, forwards, expiry) and napt_translate.c (the
 * per-packet path). Not for use outside modules/napt.
 *
 * A flow is 28 bytes: addresses as on the wire, ports in host order, the
 * time it was last refreshed, protocol, state, and one link for each of the
 * four chains it sits on. Links are 16-bit pool indexes. Each index has
 * half as many buckets as the pool has flows (a power of two), so flow plus
 * index is 32 bytes and a lookup walks two entries on average:
 *   out  (proto, inside addr:port, remote addr:port)  outbound packets
 *   in   (proto, external port, remote addr:port)     inbound packets
 *   map  (proto, inside addr:port)                    the mapping, for EIM
 *   ext  (proto, external port)                       the mapping, for filtering
 * The last two are walked only when a flow is made, never per packet.
 */
#ifndef NAPT_TABLE_H
#define NAPT_TABLE_H

#include "napt.h"

#define NAPT_NIL 0xffffu

/* state: the TCP state in the low three bits, then flags. */
#define NAPT_STATE_MASK  0x07u
#define NAPT_F_SEEN_OUT  0x08u   /* the inside sent (TCP: a SYN) */
#define NAPT_F_SEEN_IN   0x10u   /* the remote sent (TCP: a SYN): the flow is replied */
#define NAPT_F_FORWARD   0x20u   /* made by a forward or the DMZ */
#define NAPT_F_FIN_OUT   0x40u
#define NAPT_F_FIN_IN    0x80u

struct napt_flow {
	uint32_t in_addr;
	uint32_t rem_addr;
	uint32_t last;          /* napt clock, seconds */
	uint16_t in_port;
	uint16_t rem_port;      /* 0 for ICMP */
	uint16_t ext_port;      /* the ICMP query id for ICMP */
	uint8_t proto;          /* 0 when free */
	uint8_t state;
	uint16_t next_out, next_in, next_map, next_ext;
};

/* The state napt_translate.c reads on every packet. */
struct napt_table {
	struct napt_flow *flows;
	uint16_t *out_heads, *in_heads, *map_heads, *ext_heads;
	struct napt_forward *forwards;
	uint32_t capacity;
	uint32_t bucket_mask;
	uint32_t forward_capacity;
	uint32_t forward_count;
	uint16_t free_head;
	struct napt_config config;
	struct napt_addresses addr;
	uint32_t dmz;
	napt_local_port_fn local_port;
	struct napt_stats stats;
	int ready;
};

extern struct napt_table napt_t;

/* Hash buckets for each index. */
uint32_t napt_hash_out(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t rem_addr, uint16_t rem_port);
uint32_t napt_hash_in(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint16_t rem_port);

/* Lookups on the per-packet path; an expired flow found here is freed and missed. */
struct napt_flow *napt_lookup_out(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t rem_addr, uint16_t rem_port, uint32_t now);
struct napt_flow *napt_lookup_in(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint16_t rem_port, uint32_t now);

/* Any live flow of the mapping that owns (proto, ext_port); NULL when none. */
struct napt_flow *napt_mapping_by_ext(uint8_t proto, uint16_t ext_port, uint32_t now);

/* Whether the mapping on (proto, ext_port) has sent to rem_addr (address-dependent filtering). */
int napt_mapping_knows(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint32_t now);

/*
 * Make a flow. ext_port 0 picks the external port: the mapping's when the
 * inside endpoint has one (EIM), a forward's when it is a forward's target,
 * else a new one (the inside port when free, same range and parity).
 * Returns NULL and counts the drop reason when there is no room or no port.
 */
struct napt_flow *napt_flow_create(uint8_t proto, uint32_t in_addr, uint16_t in_port,
                                   uint32_t rem_addr, uint16_t rem_port, uint16_t ext_port,
                                   uint8_t flags, uint32_t now);

/* Seconds a flow lives without traffic, by protocol and TCP state. */
uint32_t napt_flow_timeout(const struct napt_flow *flow);

/* The forward whose range holds (proto, ext_port) and admits rem_addr, or NULL. */
const struct napt_forward *napt_forward_match(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint32_t now);

#endif
