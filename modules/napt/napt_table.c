/*
 * The NAPT flow table: a fixed pool of flows with four hash indexes
 * (napt_table.h), external port choice, expiry and eviction, and the
 * forwards (static, UPnP) and DMZ host. Nothing here allocates: napt_init()
 * carves every structure out of the memory it is given.
 */
#include "napt_table.h"

#include <string.h>

struct napt_table napt_t;

#define FLOW_SIZE_MIN 16u
#define FLOW_SIZE_MAX 32768u
#define FORWARDS_MAX 1024u
/* Entries looked at for a victim when the pool is empty. */
#define EVICT_WINDOW 64u
/* Ports tried for a new mapping after the preferred one. */
#define PORT_TRIES 128u
/* A replied UDP or ICMP flow idle this long may be evicted for a new one. */
#define IDLE_EVICTABLE 30u

static uint32_t gSweepHand;
static uint32_t gEvictHand;
static uint32_t gForwardGeneration;

void napt_default_config(struct napt_config *config)
{
	memset(config, 0, sizeof(*config));
	config->max_flows = 1024;
	config->max_forwards = 64;
	config->timeout[NAPT_TIMEOUT_UDP] = 300;
	config->timeout[NAPT_TIMEOUT_TCP] = 7440;
	config->timeout[NAPT_TIMEOUT_TCP_TRANSITORY] = 240;
	config->timeout[NAPT_TIMEOUT_ICMP] = 60;
	config->filtering = NAPT_FILTER_ADDRESS;
	config->hash_seed = 0x6e617074u;
}

static uint32_t buckets_for(uint32_t flows)
{
	uint32_t b = 1;
	while (b < flows / 2)
		b <<= 1;
	return b;
}

static size_t align4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

#define SHARE_SLOTS 256u

static int config_ok(const struct napt_config *c)
{
	if (c->host_share > c->max_flows)
		return 0;
	if (c->max_flows < FLOW_SIZE_MIN || c->max_flows > FLOW_SIZE_MAX)
		return 0;
	if (c->max_forwards < 1 || c->max_forwards > FORWARDS_MAX)
		return 0;
	for (int i = 0; i < NAPT_TIMEOUT_COUNT; i++)
		if (c->timeout[i] < 1 || c->timeout[i] > NAPT_MAX_TIMEOUT)
			return 0;
	return c->filtering == NAPT_FILTER_ADDRESS || c->filtering == NAPT_FILTER_ENDPOINT;
}

size_t napt_memory_size(const struct napt_config *c)
{
	if (!config_ok(c))
		return 0;
	return align4((size_t)c->max_flows * sizeof(struct napt_flow) + 4u * buckets_for(c->max_flows) * sizeof(uint16_t))
	       + (size_t)c->max_forwards * sizeof(struct napt_forward) + 2u * SHARE_SLOTS * sizeof(uint16_t);
}

int napt_init(const struct napt_config *c, void *memory)
{
	uint8_t *m = memory;
	uint32_t buckets;
	if (!config_ok(c) || !memory)
		return -1;
	memset(&napt_t, 0, sizeof(napt_t));
	napt_t.lan_net_mask = 0xffffffffu;   /* no LAN yet: only 0.0.0.0 is "on" it */
	napt_t.config = *c;
	napt_t.capacity = c->max_flows;
	buckets = buckets_for(c->max_flows);
	napt_t.bucket_mask = buckets - 1;
	napt_t.flows = (struct napt_flow *)(void *)m;
	m += (size_t)c->max_flows * sizeof(struct napt_flow);
	napt_t.out_heads = (uint16_t *)(void *)m;
	napt_t.in_heads = napt_t.out_heads + buckets;
	napt_t.map_heads = napt_t.in_heads + buckets;
	napt_t.ext_heads = napt_t.map_heads + buckets;
	m = (uint8_t *)memory + align4((size_t)c->max_flows * sizeof(struct napt_flow) + 4u * buckets * sizeof(uint16_t));
	napt_t.forwards = (struct napt_forward *)(void *)m;
	napt_t.forward_capacity = c->max_forwards;
	napt_t.share_own = (uint16_t *)(void *)(m + (size_t)c->max_forwards * sizeof(struct napt_forward));
	napt_t.share_fwd = napt_t.share_own + SHARE_SLOTS;
	memset(napt_t.share_own, 0, 2u * SHARE_SLOTS * sizeof(uint16_t));
	napt_t.host_share = c->host_share ? c->host_share : (c->max_flows + 3u) / 4u;
	napt_t.stats.host_share = napt_t.host_share;
	napt_t.stats.unanswered_per_mapping = NAPT_UNANSWERED_PER_MAPPING;
	memset(napt_t.out_heads, 0xff, 4u * buckets * sizeof(uint16_t));
	for (uint32_t i = 0; i < napt_t.capacity; i++) {
		memset(&napt_t.flows[i], 0, sizeof(struct napt_flow));
		napt_t.flows[i].next_out = (uint16_t)(i + 1 < napt_t.capacity ? i + 1 : NAPT_NIL);
	}
	napt_t.free_head = 0;
	napt_t.stats.capacity = napt_t.capacity;
	napt_t.stats.bytes_per_flow = (uint32_t)((napt_t.capacity * sizeof(struct napt_flow) + 4u * buckets * sizeof(uint16_t) + napt_t.capacity - 1) / napt_t.capacity);
	gSweepHand = gEvictHand = 0;
	gForwardGeneration++;
	napt_t.ready = 1;
	return 0;
}

const struct napt_config *napt_config(void)
{
	return &napt_t.config;
}

int napt_set_filtering(enum napt_filtering filtering)
{
	if (filtering != NAPT_FILTER_ADDRESS && filtering != NAPT_FILTER_ENDPOINT)
		return -1;
	napt_t.config.filtering = filtering;
	return 0;
}

int napt_set_timeout(enum napt_timeout which, uint32_t seconds)
{
	if ((unsigned)which >= NAPT_TIMEOUT_COUNT || seconds < 1 || seconds > NAPT_MAX_TIMEOUT)
		return -1;
	napt_t.config.timeout[which] = seconds;
	return 0;
}

void napt_count_drop(enum napt_drop why)
{
	if (why < NAPT_DROP_COUNT)
		napt_t.stats.dropped[why]++;
}

int napt_set_host_share(uint32_t flows)
{
	if (flows < 1 || flows > napt_t.capacity)
		return -1;
	napt_t.config.host_share = flows;
	napt_t.host_share = flows;
	napt_t.stats.host_share = flows;
	return 0;
}

void napt_set_addresses(const struct napt_addresses *addresses)
{
	napt_t.addr = *addresses;
	napt_t.lan_net_mask = addresses->lan_addr ? addresses->lan_mask : 0xffffffffu;
	napt_t.lan_net = addresses->lan_addr & napt_t.lan_net_mask;
}

void napt_set_local_port_fn(napt_local_port_fn fn)
{
	napt_t.local_port = fn;
}

/* ------------------------------------------------------------------ */
/* Hashing (napt_mix, napt_finish, the per-packet two in napt_table.h). */

static uint32_t hash_map(uint8_t proto, uint32_t in_addr, uint16_t in_port)
{
	uint32_t h = napt_mix(napt_t.config.hash_seed ^ 0x2u, in_addr);
	h = napt_mix(h, (uint32_t)in_port | (uint32_t)proto << 16);
	return napt_finish(h);
}

static uint32_t hash_ext(uint8_t proto, uint16_t ext_port)
{
	return napt_finish(napt_mix(napt_t.config.hash_seed ^ 0x3u, (uint32_t)ext_port | (uint32_t)proto << 16));
}

/* ------------------------------------------------------------------ */
/* Flows.                                                              */

static int proto_slot(uint8_t proto)
{
	return proto == NAPT_PROTO_TCP ? 0 : proto == NAPT_PROTO_UDP ? 1 : 2;
}

static int expired(const struct napt_flow *f, uint32_t now)
{
	return napt_flow_expired(f, now);
}

/* Unlink `index` from the chain starting at *head whose links live at `offset` in each flow. */
static void unlink_chain(uint16_t *head, uint16_t index, size_t offset)
{
	uint16_t *link = head;
	while (*link != NAPT_NIL) {
		uint16_t *next = (uint16_t *)(void *)((uint8_t *)&napt_t.flows[*link] + offset);
		if (*link == index) {
			*link = *next;
			return;
		}
		link = next;
	}
}

/* The share counter a flow of in_addr (made by a forward or the DMZ, or not) counts against. */
static uint16_t *share_slot(uint32_t in_addr, int forwarded)
{
	uint8_t b[4];
	memcpy(b, &in_addr, 4);
	return (forwarded ? napt_t.share_fwd : napt_t.share_own) + b[3];
}

static void flow_free(struct napt_flow *f)
{
	uint16_t index = (uint16_t)(f - napt_t.flows);
	uint16_t *share = share_slot(f->in_addr, (f->state & NAPT_F_FORWARD) != 0);
	if (*share)
		(*share)--;
	unlink_chain(&napt_t.out_heads[napt_hash_out(f->proto, f->in_addr, f->in_port, f->rem_addr, f->rem_port)], index, offsetof(struct napt_flow, next_out));
	unlink_chain(&napt_t.in_heads[napt_hash_in(f->proto, f->ext_port, f->rem_addr, f->rem_port)], index, offsetof(struct napt_flow, next_in));
	unlink_chain(&napt_t.map_heads[hash_map(f->proto, f->in_addr, f->in_port)], index, offsetof(struct napt_flow, next_map));
	unlink_chain(&napt_t.ext_heads[hash_ext(f->proto, f->ext_port)], index, offsetof(struct napt_flow, next_ext));
	napt_t.stats.in_use[proto_slot(f->proto)]--;
	memset(f, 0, sizeof(*f));
	f->next_out = napt_t.free_head;
	napt_t.free_head = index;
}

void napt_flow_expire(struct napt_flow *f)
{
	napt_t.stats.expired++;
	flow_free(f);
}

static void expire(struct napt_flow *f)
{
	napt_flow_expire(f);
}

/*
 * Walk the flows on the ext chain of (proto, ext_port), freeing expired
 * ones on the way; `visit` returns non-zero to stop with that flow.
 */
static struct napt_flow *walk_mapping(uint8_t proto, uint16_t ext_port, uint32_t now,
                                      int (*visit)(const struct napt_flow *, uint32_t), uint32_t arg)
{
	uint16_t i = napt_t.ext_heads[hash_ext(proto, ext_port)];
	while (i != NAPT_NIL) {
		struct napt_flow *f = &napt_t.flows[i];
		uint16_t next = f->next_ext;
		if (f->ext_port == ext_port && f->proto == proto) {
			if (expired(f, now))
				expire(f);
			else if (visit(f, arg))
				return f;
		}
		i = next;
	}
	return NULL;
}

static int visit_any(const struct napt_flow *f, uint32_t arg)
{
	(void)f;
	(void)arg;
	return 1;
}

static int visit_remote(const struct napt_flow *f, uint32_t rem_addr)
{
	/* A flow the remote opened itself (through a forward or the DMZ) does not admit it. */
	return f->rem_addr == rem_addr && (f->state & NAPT_F_SEEN_OUT) && !(f->state & NAPT_F_FORWARD);
}

static int visit_own(const struct napt_flow *f, uint32_t arg)
{
	(void)arg;
	return !(f->state & NAPT_F_FORWARD);
}

struct napt_flow *napt_mapping_by_ext(uint8_t proto, uint16_t ext_port, uint32_t now)
{
	return walk_mapping(proto, ext_port, now, visit_any, 0);
}

struct napt_flow *napt_mapping_own(uint8_t proto, uint16_t ext_port, uint32_t now)
{
	return walk_mapping(proto, ext_port, now, visit_own, 0);
}

int napt_mapping_knows(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint32_t now)
{
	return walk_mapping(proto, ext_port, now, visit_remote, rem_addr) != NULL;
}

static struct napt_flow *mapping_by_inside(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t now)
{
	uint16_t i = napt_t.map_heads[hash_map(proto, in_addr, in_port)];
	while (i != NAPT_NIL) {
		struct napt_flow *f = &napt_t.flows[i];
		uint16_t next = f->next_map;
		if (f->in_addr == in_addr && f->in_port == in_port && f->proto == proto) {
			if (expired(f, now))
				expire(f);
			else
				return f;
		}
		i = next;
	}
	return NULL;
}

/* Lower is evicted sooner; EVICT_NEVER is kept. */
#define EVICT_NEVER 3
static int evict_class(const struct napt_flow *f, uint32_t now)
{
	uint8_t tcp = f->state & NAPT_STATE_MASK;
	if (expired(f, now))
		return 0;
	if (f->proto == NAPT_PROTO_TCP) {
		if (tcp == NAPT_TCP_ESTABLISHED)
			return EVICT_NEVER;
		return tcp == NAPT_TCP_FIN_WAIT ? 2 : 1;
	}
	if (!(f->state & NAPT_F_SEEN_IN) || !(f->state & NAPT_F_SEEN_OUT))
		return 1;
	return now - f->last >= IDLE_EVICTABLE ? 2 : EVICT_NEVER;
}

/*
 * Look at the next EVICT_WINDOW flows that could be taken, from a clock
 * hand, and free the one that matters least (expired, then half-open or unreplied, then closing or
 * idle, oldest first). Established TCP and active flows are never taken, so
 * a flood of new flows cannot push them out. Used when the pool is empty
 * (any flow: own 0), and when a LAN host (or a forward's target) is at its
 * share (own 1: only its own flows of that kind, so its new flow replaces
 * one of its own). 0 when none is found and the new flow is refused.
 */
static int evict(int own, uint32_t in_addr, int forwarded, uint32_t now)
{
	struct napt_flow *best = NULL;
	int best_class = EVICT_NEVER;
	uint32_t window = napt_t.capacity < EVICT_WINDOW ? napt_t.capacity : EVICT_WINDOW;
	uint32_t seen = 0;
	/*
	 * The window counts the flows that could be taken, not the slots: a
	 * host's share is a quarter of the table, so 64 slots often held none
	 * of its flows (free slots, other hosts') and its new flow was refused
	 * though it had half-open ones to give up: under a SYN flood through a
	 * forward, a legitimate SYN to it was refused and waited for its
	 * retransmission (host-flood bench, docs/bench/flood.md). At most a lap
	 * of the table, a byte or two compared per slot.
	 */
	for (uint32_t n = 0; n < napt_t.capacity && seen < window; n++) {
		struct napt_flow *f = &napt_t.flows[gEvictHand];
		int c;
		gEvictHand = gEvictHand + 1 == napt_t.capacity ? 0 : gEvictHand + 1;
		if (!f->proto)
			continue;
		if (own && (f->in_addr != in_addr || ((f->state & NAPT_F_FORWARD) != 0) != forwarded))
			continue;
		seen++;
		c = evict_class(f, now);
		if (c < best_class || (c == best_class && best && now - f->last > now - best->last)) {
			best = f;
			best_class = c;
			if (c == 0)
				break;
		}
	}
	if (!best)
		return 0;
	/*
	 * The hand stops just past the victim, not at the end of the window:
	 * the new flow takes the victim's slot, just behind the hand, and is
	 * looked at again only after a lap of the flows that may be taken. With
	 * ages in whole seconds, a flood's half-open flows all tie; stopping at
	 * the window's end took the window's first flow each time, and a lap
	 * of a host's 256 flows was four windows, so a new flow was taken four
	 * flood frames after it was made, before a handshake could finish.
	 */
	gEvictHand = (uint32_t)(best - napt_t.flows) + 1 == napt_t.capacity ? 0 : (uint32_t)(best - napt_t.flows) + 1;
	if (best_class == 0)
		napt_t.stats.expired++;
	else
		napt_t.stats.evicted++;
	flow_free(best);
	return 1;
}

/* Whether ext_port of proto is taken: a live mapping, a forward, or the router itself. */
static int port_taken(uint8_t proto, uint16_t port, uint32_t now)
{
	if (port == 0)
		return 1;
	if (napt_mapping_by_ext(proto, port, now))
		return 1;
	if (proto == NAPT_PROTO_ICMP)
		return 0;
	if (napt_forward_find(proto, port))
		return 1;
	return napt_t.local_port && napt_t.local_port(proto, port);
}

int napt_port_free(uint8_t proto, uint16_t ext_port, uint32_t now)
{
	return napt_t.ready && (proto == NAPT_PROTO_TCP || proto == NAPT_PROTO_UDP) && !port_taken(proto, ext_port, now);
}

int napt_port_free_for(uint8_t proto, uint16_t ext_port, uint32_t in_addr, uint16_t in_port, uint32_t now)
{
	uint16_t i;
	if (!napt_t.ready || (proto != NAPT_PROTO_TCP && proto != NAPT_PROTO_UDP) || ext_port == 0)
		return 0;
	if (napt_forward_find(proto, ext_port) || (napt_t.local_port && napt_t.local_port(proto, ext_port)))
		return 0;
	i = napt_t.ext_heads[hash_ext(proto, ext_port)];
	while (i != NAPT_NIL) {
		struct napt_flow *f = &napt_t.flows[i];
		uint16_t next = f->next_ext;
		if (f->ext_port == ext_port && f->proto == proto) {
			if (expired(f, now))
				expire(f);
			else if (f->in_addr != in_addr || f->in_port != in_port)
				return 0;
		}
		i = next;
	}
	return 1;
}

uint16_t napt_mapping_port(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t now)
{
	const struct napt_flow *m = napt_t.ready ? mapping_by_inside(proto, in_addr, in_port, now) : NULL;
	return m ? m->ext_port : 0;
}

uint32_t napt_mapping_move(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint16_t ext_port)
{
	uint32_t n = 0;
	uint16_t i;
	if (!napt_t.ready)
		return 0;
	i = napt_t.map_heads[hash_map(proto, in_addr, in_port)];
	while (i != NAPT_NIL) {
		struct napt_flow *f = &napt_t.flows[i];
		uint16_t next = f->next_map;
		if (f->in_addr == in_addr && f->in_port == in_port && f->proto == proto && f->ext_port != ext_port) {
			expire(f);
			n++;
		}
		i = next;
	}
	return n;
}

/*
 * A new external port for (in_addr, in_port): the inside port itself when
 * free (RFC 4787 REQ-3/4: same range, same parity), else a pseudo-random
 * walk over the same range and parity. 0 when none is found.
 */
static uint16_t choose_port(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint32_t now)
{
	uint32_t low, high, span, start;
	if (!port_taken(proto, in_port, now))
		return in_port;
	if (proto == NAPT_PROTO_ICMP) {
		low = 1;
		high = 65535;
	}
	else if (in_port < 1024) {
		low = 1;
		high = 1023;
	}
	else {
		low = 1024;
		high = 65535;
	}
	span = (high - low + 1) / 2;   /* candidates of the right parity */
	start = napt_mix(napt_mix(napt_t.config.hash_seed, in_addr), (uint32_t)in_port * 2654435761u + (uint32_t)napt_t.stats.created);
	for (uint32_t n = 0; n < PORT_TRIES; n++) {
		uint32_t k = (start + n * 7919u) % span;
		uint32_t port = low + 2 * k;
		if ((port & 1u) != (in_port & 1u))
			port++;
		if (port > high)
			port -= 2;
		if (!port_taken(proto, (uint16_t)port, now))
			return (uint16_t)port;
	}
	return 0;
}

/* The external port a forward gives its target (proto, in_addr, in_port), or 0. */
static uint16_t forward_port_for(uint8_t proto, uint32_t in_addr, uint16_t in_port)
{
	for (uint32_t i = 0; i < napt_t.forward_count; i++) {
		const struct napt_forward *fw = &napt_t.forwards[i];
		uint32_t span = (uint32_t)fw->ext_end - fw->ext_port;
		if (fw->proto == proto && fw->in_addr == in_addr && in_port >= fw->in_port && (uint32_t)(in_port - fw->in_port) <= span)
			return (uint16_t)(fw->ext_port + (in_port - fw->in_port));
	}
	return 0;
}

/*
 * The oldest of the UDP flows of one mapping (proto, ext_port) to one inside
 * endpoint that inbound packets made and the inside has not answered, once
 * there are NAPT_UNANSWERED_PER_MAPPING of them; else NULL. Forwarded ones
 * and the mapping's own are told apart, so a flow taken over stays on the
 * same share. The walk is the ext chain a new inbound flow's filtering has
 * just walked: only when a flow would be made, never per packet of a flow.
 */
static struct napt_flow *unanswered_oldest(uint8_t proto, uint32_t in_addr, uint16_t in_port, uint16_t ext_port,
                                           uint8_t forwarded, uint32_t now)
{
	struct napt_flow *oldest = NULL;
	uint32_t n = 0;
	uint16_t i = napt_t.ext_heads[hash_ext(proto, ext_port)];
	while (i != NAPT_NIL) {
		struct napt_flow *f = &napt_t.flows[i];
		uint16_t next = f->next_ext;
		if (f->ext_port == ext_port && f->proto == proto && f->in_addr == in_addr && f->in_port == in_port
		    && (f->state & (NAPT_F_SEEN_IN | NAPT_F_SEEN_OUT | NAPT_F_FORWARD)) == (NAPT_F_SEEN_IN | forwarded)) {
			if (expired(f, now))
				expire(f);
			else {
				n++;
				if (!oldest || now - f->last > now - oldest->last)
					oldest = f;
			}
		}
		i = next;
	}
	return n >= NAPT_UNANSWERED_PER_MAPPING ? oldest : NULL;
}

/* Give a flow a new remote: the same mapping, inside endpoint and share; only the out and in keys change. */
static struct napt_flow *flow_rekey(struct napt_flow *f, uint32_t rem_addr, uint16_t rem_port, uint8_t flags, uint32_t now)
{
	uint16_t index = (uint16_t)(f - napt_t.flows);
	uint16_t *h;
	unlink_chain(&napt_t.out_heads[napt_hash_out(f->proto, f->in_addr, f->in_port, f->rem_addr, f->rem_port)], index, offsetof(struct napt_flow, next_out));
	unlink_chain(&napt_t.in_heads[napt_hash_in(f->proto, f->ext_port, f->rem_addr, f->rem_port)], index, offsetof(struct napt_flow, next_in));
	f->rem_addr = rem_addr;
	f->rem_port = rem_port;
	f->state = flags;
	f->last = now;
	f->ack = 0;
	h = &napt_t.out_heads[napt_hash_out(f->proto, f->in_addr, f->in_port, rem_addr, rem_port)];
	f->next_out = *h;
	*h = index;
	h = &napt_t.in_heads[napt_hash_in(f->proto, f->ext_port, rem_addr, rem_port)];
	f->next_in = *h;
	*h = index;
	napt_t.stats.unanswered_reused++;
	return f;
}

struct napt_flow *napt_flow_create(uint8_t proto, uint32_t in_addr, uint16_t in_port,
                                   uint32_t rem_addr, uint16_t rem_port, uint16_t ext_port,
                                   uint8_t flags, uint32_t now)
{
	struct napt_flow *f;
	uint16_t index;
	/*
	 * Each new sender to a UDP mapping makes a flow: bounded per mapping,
	 * or one spoofing sender takes the host's share (and other hosts' room)
	 * a datagram at a time. The LAN host's answer is what makes a flow worth
	 * keeping; one it never answered is as good to the next sender. Taking
	 * it over loses nothing: a later answer to its old sender goes out
	 * through the same external port (EIM) and makes its flow again.
	 */
	if (proto == NAPT_PROTO_UDP && ext_port && (flags & (NAPT_F_SEEN_IN | NAPT_F_SEEN_OUT)) == NAPT_F_SEEN_IN) {
		f = unanswered_oldest(proto, in_addr, in_port, ext_port, (uint8_t)(flags & NAPT_F_FORWARD), now);
		if (f)
			return flow_rekey(f, rem_addr, rem_port, flags, now);
	}
	if (!ext_port && proto != NAPT_PROTO_ICMP)
		ext_port = forward_port_for(proto, in_addr, in_port);
	if (!ext_port) {
		struct napt_flow *m = mapping_by_inside(proto, in_addr, in_port, now);
		ext_port = m ? m->ext_port : choose_port(proto, in_addr, in_port, now);
	}
	if (!ext_port) {
		napt_t.stats.dropped[NAPT_DROP_NO_PORT]++;
		return NULL;
	}
	uint16_t *share = share_slot(in_addr, (flags & NAPT_F_FORWARD) != 0);
	if (*share >= napt_t.host_share && !evict(1, in_addr, (flags & NAPT_F_FORWARD) != 0, now)) {
		napt_t.stats.dropped[NAPT_DROP_HOST_SHARE]++;
		return NULL;
	}
	if (napt_t.free_head == NAPT_NIL && !evict(0, 0, 0, now)) {
		napt_t.stats.dropped[NAPT_DROP_TABLE_FULL]++;
		return NULL;
	}
	(*share)++;
	index = napt_t.free_head;
	f = &napt_t.flows[index];
	napt_t.free_head = f->next_out;
	f->in_addr = in_addr;
	f->rem_addr = rem_addr;
	f->in_port = in_port;
	f->rem_port = rem_port;
	f->ext_port = ext_port;
	f->proto = proto;
	f->state = flags;
	f->last = now;
	f->ack = 0;
	uint16_t *h = &napt_t.out_heads[napt_hash_out(proto, in_addr, in_port, rem_addr, rem_port)];
	f->next_out = *h;
	*h = index;
	h = &napt_t.in_heads[napt_hash_in(proto, ext_port, rem_addr, rem_port)];
	f->next_in = *h;
	*h = index;
	h = &napt_t.map_heads[hash_map(proto, in_addr, in_port)];
	f->next_map = *h;
	*h = index;
	h = &napt_t.ext_heads[hash_ext(proto, ext_port)];
	f->next_ext = *h;
	*h = index;
	napt_t.stats.created++;
	napt_t.stats.in_use[proto_slot(proto)]++;
	{
		uint32_t used = napt_t.stats.in_use[0] + napt_t.stats.in_use[1] + napt_t.stats.in_use[2];
		if (used > napt_t.stats.peak)
			napt_t.stats.peak = used;
	}
	return f;
}

/* ------------------------------------------------------------------ */
/* Forwards, kept sorted by (proto, ext_port) for a binary search.      */

static int forward_cmp(uint8_t proto, uint16_t port, const struct napt_forward *fw)
{
	if (proto != fw->proto)
		return proto < fw->proto ? -1 : 1;
	if (port < fw->ext_port)
		return -1;
	return port > fw->ext_end ? 1 : 0;
}

/* Index of the forward holding (proto, port), or -(insertion point) - 1. */
static int32_t forward_search(uint8_t proto, uint16_t port)
{
	int32_t lo = 0, hi = (int32_t)napt_t.forward_count - 1;
	while (lo <= hi) {
		int32_t mid = (lo + hi) / 2;
		int c = forward_cmp(proto, port, &napt_t.forwards[mid]);
		if (!c)
			return mid;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -lo - 1;
}

const struct napt_forward *napt_forward_find(uint8_t proto, uint16_t ext_port)
{
	int32_t i = forward_search(proto, ext_port);
	return i >= 0 ? &napt_t.forwards[i] : NULL;
}

const struct napt_forward *napt_forward_match(uint8_t proto, uint16_t ext_port, uint32_t rem_addr, uint32_t now)
{
	const struct napt_forward *fw = napt_forward_find(proto, ext_port);
	if (!fw || (fw->remote && fw->remote != rem_addr) || (fw->expires && (int32_t)(now - fw->expires) >= 0))
		return NULL;
	return fw;
}

const struct napt_forward *napt_forward_at(uint32_t index)
{
	return index < napt_t.forward_count ? &napt_t.forwards[index] : NULL;
}

uint32_t napt_forward_count(void)
{
	return napt_t.forward_count;
}

uint32_t napt_forward_generation(void)
{
	return gForwardGeneration;
}

enum napt_forward_result napt_forward_add(const struct napt_forward *forward)
{
	struct napt_forward fw = *forward;
	int32_t i;
	if (!napt_t.ready)
		return NAPT_FORWARD_FULL;
	if ((fw.proto != NAPT_PROTO_TCP && fw.proto != NAPT_PROTO_UDP) || !fw.ext_port || !fw.in_port || !fw.in_addr
	    || fw.ext_end < fw.ext_port || (uint32_t)fw.in_port + (fw.ext_end - fw.ext_port) > 65535u
	    || fw.origin > NAPT_ORIGIN_PMP)
		return NAPT_FORWARD_INVALID;
	fw.description[NAPT_DESCRIPTION_MAX - 1] = 0;
	i = forward_search(fw.proto, fw.ext_port);
	if (i >= 0) {
		struct napt_forward *old = &napt_t.forwards[i];
		if (old->ext_port == fw.ext_port && old->ext_end == fw.ext_end && old->in_addr == fw.in_addr
		    && old->in_port == fw.in_port && old->remote == fw.remote) {
			old->expires = fw.expires;
			old->owner = fw.owner;
			memcpy(old->description, fw.description, sizeof(old->description));
			gForwardGeneration++;
			return NAPT_FORWARD_REFRESHED;
		}
		return NAPT_FORWARD_CONFLICT;
	}
	i = -i - 1;
	/* The range must not reach into the next forward. */
	if ((uint32_t)i < napt_t.forward_count && napt_t.forwards[i].proto == fw.proto && napt_t.forwards[i].ext_port <= fw.ext_end)
		return NAPT_FORWARD_CONFLICT;
	if (napt_t.forward_count == napt_t.forward_capacity)
		return NAPT_FORWARD_FULL;
	memmove(&napt_t.forwards[i + 1], &napt_t.forwards[i], (napt_t.forward_count - (uint32_t)i) * sizeof(fw));
	napt_t.forwards[i] = fw;
	napt_t.forward_count++;
	gForwardGeneration++;
	return NAPT_FORWARD_OK;
}

/*
 * A flow a removed forward made that lives on until it closes or times out:
 * a TCP connection past its handshake (established or closing), a UDP flow
 * the inside has answered. New ones are refused once the forward is gone
 * (nothing matches inbound_new() any more), as with miniupnpd and Linux
 * conntrack: a DeletePortMapping does not cut a transfer in progress.
 * A SIP pinhole is the exception: the ALG removes it when the call ends
 * (BYE, CANCEL, the dialog's expiry), and its media goes with it.
 */
static int outlives_forward(const struct napt_flow *f)
{
	uint8_t tcp = f->state & NAPT_STATE_MASK;
	if (f->proto == NAPT_PROTO_TCP)
		return tcp == NAPT_TCP_ESTABLISHED || tcp == NAPT_TCP_FIN_WAIT || tcp == NAPT_TCP_CLOSING;
	return (f->state & NAPT_F_SEEN_IN) && (f->state & NAPT_F_SEEN_OUT);
}

/* Free the flows a forward made, but those that outlive it (none of a SIP pinhole). */
static void drop_forward_flows(const struct napt_forward *fw)
{
	for (uint32_t i = 0; i < napt_t.capacity; i++) {
		struct napt_flow *f = &napt_t.flows[i];
		if (f->proto == fw->proto && (f->state & NAPT_F_FORWARD) && f->in_addr == fw->in_addr
		    && f->ext_port >= fw->ext_port && f->ext_port <= fw->ext_end
		    && (fw->origin == NAPT_ORIGIN_SIP || !outlives_forward(f)))
			flow_free(f);
	}
}

static void forward_delete(int32_t i)
{
	struct napt_forward fw = napt_t.forwards[i];
	memmove(&napt_t.forwards[i], &napt_t.forwards[i + 1], (napt_t.forward_count - (uint32_t)i - 1) * sizeof(fw));
	napt_t.forward_count--;
	drop_forward_flows(&fw);
	gForwardGeneration++;
}

enum napt_forward_result napt_forward_remove(uint8_t proto, uint16_t ext_port)
{
	int32_t i = napt_t.ready ? forward_search(proto, ext_port) : -1;
	if (i < 0)
		return NAPT_FORWARD_NOT_FOUND;
	forward_delete(i);
	return NAPT_FORWARD_OK;
}

void napt_set_dmz(uint32_t in_addr)
{
	napt_t.dmz = in_addr;
}

uint32_t napt_dmz(void)
{
	return napt_t.dmz;
}

/* ------------------------------------------------------------------ */
/* Time.                                                               */

void napt_tick(uint32_t now)
{
	uint32_t slice;
	if (!napt_t.ready)
		return;
	/* A quarter of the pool a tick: every flow looked at every four seconds. */
	slice = (napt_t.capacity + 3) / 4;
	for (uint32_t n = 0; n < slice; n++) {
		struct napt_flow *f = &napt_t.flows[gSweepHand];
		gSweepHand = gSweepHand + 1 == napt_t.capacity ? 0 : gSweepHand + 1;
		if (f->proto && expired(f, now))
			expire(f);
	}
	for (uint32_t i = 0; i < napt_t.forward_count;) {
		const struct napt_forward *fw = &napt_t.forwards[i];
		if (fw->expires && (int32_t)(now - fw->expires) >= 0)
			forward_delete((int32_t)i);
		else
			i++;
	}
}

void napt_flush(void)
{
	if (!napt_t.ready)
		return;
	for (uint32_t i = 0; i < napt_t.capacity; i++)
		if (napt_t.flows[i].proto)
			flow_free(&napt_t.flows[i]);
}

/* ------------------------------------------------------------------ */
/* Looking at the table.                                               */

void napt_get_stats(struct napt_stats *stats)
{
	*stats = napt_t.stats;
}

const char *napt_tcp_state_name(uint8_t state)
{
	static const char *const names[] = { "", "syn-sent", "established", "fin-wait", "closing", "reset", "syn-received" };
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

int napt_flow_next(uint32_t *cursor, uint32_t now, struct napt_flow_info *info)
{
	while (napt_t.ready && *cursor < napt_t.capacity) {
		const struct napt_flow *f = &napt_t.flows[(*cursor)++];
		uint32_t timeout, idle;
		if (!f->proto)
			continue;
		timeout = napt_flow_timeout(f);
		idle = now - f->last;
		if (idle >= timeout)
			continue;
		memset(info, 0, sizeof(*info));
		info->proto = f->proto;
		info->tcp_state = f->proto == NAPT_PROTO_TCP ? (uint8_t)(f->state & NAPT_STATE_MASK) : 0;
		info->replied = (f->state & NAPT_F_SEEN_IN) && (f->state & NAPT_F_SEEN_OUT);
		info->forwarded = !!(f->state & NAPT_F_FORWARD);
		info->in_addr = f->in_addr;
		info->rem_addr = f->rem_addr;
		info->in_port = f->in_port;
		info->ext_port = f->ext_port;
		info->rem_port = f->rem_port;
		info->idle = idle;
		info->expires_in = timeout - idle;
		return 1;
	}
	return 0;
}
