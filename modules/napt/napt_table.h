/*
 * The flow table inside NAPT: shared by napt_table.c (the pool, the four
 * hash indexes, external ports, forwards, expiry) and napt_translate.c (the
 * per-packet path). Not for use outside modules/napt.
 *
 * A flow is 32 bytes: addresses as on the wire, ports in host order, the
 * time it was last refreshed, for TCP the inside's highest ACK (the window
 * an RST or FIN from the remote must fall in), protocol, state, and one link
 * for each of the four chains it sits on. Links are 16-bit pool indexes.
 * Each index has half as many buckets as the pool has flows (a power of
 * two), so flow plus index is 36 bytes and a lookup walks two entries on
 * average:
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
/* In syn-received (no FIN yet), the FIN bits say which side has acknowledged the handshake. */
#define NAPT_F_ACK_OUT   NAPT_F_FIN_OUT
#define NAPT_F_ACK_IN    NAPT_F_FIN_IN

struct napt_flow {
	uint32_t in_addr;
	uint32_t rem_addr;
	uint32_t last;          /* napt clock, seconds */
	uint32_t ack;           /* TCP: the inside's highest ACK, the remote's next sequence number; 0 = none yet */
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
	uint32_t lan_net;         /* lan_addr & lan_mask; with no LAN address, a mask that matches only 0.0.0.0 */
	uint32_t lan_net_mask;
	uint32_t dmz;
	uint16_t *share_own, *share_fwd;   /* flows per LAN host (by its address's last octet): opened by it, made to it by forwards/DMZ */
	uint32_t host_share;
	napt_local_port_fn local_port;
	struct napt_stats stats;
	int ready;
};

extern struct napt_table napt_t;

/* Hashing: a seeded multiply-xorshift over the key's words. */
static inline uint32_t napt_mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x9e3779b1u;
	return h ^ (h >> 15);
}

static inline uint32_t napt_finish(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h & napt_t.bucket_mask;
}

static inline uint32_t napt_hash_out(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t rem_addr, uint16_t rem_port)
{
	uint32_t h = napt_mix(napt_t.config.hash_seed, in_addr);
	h = napt_mix(h, rem_addr);
	return napt_finish(napt_mix(h, ((uint32_t)in_port << 16 | rem_port) ^ ((uint32_t)proto << 8)));
}

static inline uint32_t napt_hash_in(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint16_t rem_port)
{
	uint32_t h = napt_mix(napt_t.config.hash_seed ^ 0x1u, rem_addr);
	return napt_finish(napt_mix(h, ((uint32_t)ext_port << 16 | rem_port) ^ ((uint32_t)proto << 8)));
}

/* Seconds a flow lives without traffic, by protocol and TCP state. */
static inline uint32_t napt_flow_timeout(const struct napt_flow *f)
{
	const uint32_t *t = napt_t.config.timeout;
	if (f->proto == NAPT_PROTO_UDP)
		return t[NAPT_TIMEOUT_UDP];
	if (f->proto == NAPT_PROTO_ICMP)
		return t[NAPT_TIMEOUT_ICMP];
	return (f->state & NAPT_STATE_MASK) == NAPT_TCP_ESTABLISHED ? t[NAPT_TIMEOUT_TCP] : t[NAPT_TIMEOUT_TCP_TRANSITORY];
}

static inline int napt_flow_expired(const struct napt_flow *f, uint32_t now)
{
	return now - f->last >= napt_flow_timeout(f);
}

/* Free a flow whose time is up (counted as expired). */
void napt_flow_expire(struct napt_flow *f);

/*
 * The per-packet lookups, inline in the packet path. A flow found expired
 * is freed and missed, so behaviour never depends on when the sweep ran.
 */
static inline struct napt_flow *napt_lookup_out(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t rem_addr, uint16_t rem_port, uint32_t now)
{
	uint16_t i = napt_t.out_heads[napt_hash_out(proto, in_addr, in_port, rem_addr, rem_port)];
	while (i != NAPT_NIL) {
		struct napt_flow *f = &napt_t.flows[i];
		if (f->in_addr == in_addr && f->rem_addr == rem_addr && f->in_port == in_port && f->rem_port == rem_port && f->proto == proto) {
			if (napt_flow_expired(f, now)) {
				napt_flow_expire(f);
				return NULL;
			}
			return f;
		}
		i = f->next_out;
	}
	return NULL;
}

static inline struct napt_flow *napt_lookup_in(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint16_t rem_port, uint32_t now)
{
	uint16_t i = napt_t.in_heads[napt_hash_in(proto, ext_port, rem_addr, rem_port)];
	while (i != NAPT_NIL) {
		struct napt_flow *f = &napt_t.flows[i];
		if (f->rem_addr == rem_addr && f->ext_port == ext_port && f->rem_port == rem_port && f->proto == proto) {
			if (napt_flow_expired(f, now)) {
				napt_flow_expire(f);
				return NULL;
			}
			return f;
		}
		i = f->next_in;
	}
	return NULL;
}

/* Any live flow of the mapping that owns (proto, ext_port); NULL when none. */
struct napt_flow *napt_mapping_by_ext(uint8_t proto, uint16_t ext_port, uint32_t now);

/*
 * A live flow of that mapping the inside opened itself (not a forward's or
 * the DMZ's): what admits new inbound flows once no forward matches. A
 * removed forward's flows that live on admit nothing new.
 */
struct napt_flow *napt_mapping_own(uint8_t proto, uint16_t ext_port, uint32_t now);

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

/* The forward whose range holds (proto, ext_port) and admits rem_addr, or NULL. */
const struct napt_forward *napt_forward_match(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint32_t now);

#endif
