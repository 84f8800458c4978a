/*
 * SIP over TCP: per-connection sequence/acknowledgement adjustment for the
 * ALG (sip_tcp.h). Nothing here allocates after sip_tcp_init(): the pool of
 * connections and its hash index are carved out of the memory given.
 *
 * ---- Sequence arithmetic ----
 *
 * Each direction (dir's stream, bytes sent by one end) has an original
 * space O (what the sender numbers) and a new space N (what the receiver
 * sees). An edit is recorded as
 *     pos  the original sequence number where the edited bytes begin
 *     len  how many original bytes it covers (pos .. pos+len)
 *     cum  the total growth of the stream, mod 2^32, after those bytes
 *          (the sum of new_len - old_len of this edit and all before it)
 * in a ring of SIP_TCP_EDITS, oldest first, positions strictly increasing.
 * When the ring is full the oldest is dropped and its cum becomes `base`,
 * the growth assumed before the oldest remembered edit. All comparisons are
 * in sequence space: a is before b when (int32_t)(a - b) < 0.
 *
 *   offset_at(s) = cum of the newest edit with pos before s (strictly),
 *                  base when there is none.
 *   new_seq      = seq + offset_at(seq)
 *
 * A segment starting exactly at an edit's pos is that edit's segment (or a
 * retransmission of it) and moves only by the edits before it: so it gets
 * the same new sequence number every time. Anything after it moves by cum.
 *
 * The other end acknowledges dir's stream in N. For edit e (with prev the
 * cum before it, base for the oldest) its bytes sit in N at
 *     [pos + prev, pos + len + cum)
 * and the acknowledgement is taken back to O by the newest edit whose new
 * start is before ack (strictly):
 *     ack at or past the edit's new end:  orig_ack = ack - cum
 *     ack inside a resized edit:          orig_ack = pos
 *     no such edit:                       orig_ack = ack - base
 * An ack inside a resized edit cannot be said in O (the bytes differ), so
 * it means "none of it": the sender repeats the segment from pos, which is
 * rewritten again to the very same bytes.
 *
 * A retransmission older than the ring (more than SIP_TCP_EDITS edits back)
 * is moved by `base`, as if after them: wrong, but only for data that old,
 * which a peer has long acknowledged.
 *
 * ---- Where an edit is put ----
 *
 * sip_tcp_edited() is told about every segment with payload. `high` is the
 * end of the furthest data seen in the direction (everything before it has
 * gone out with the offsets known when it passed). A new length difference
 * (new_len - old_len minus what edits already recorded inside the segment
 * account for) can only be put where nothing has gone out yet: at the
 * segment's seq when it starts at or after high, at high when it straddles
 * it (a retransmission merged with new data), and nowhere when it ends
 * before high: the bytes are already at the receiver with another length
 * (edit_conflicts). The same reason makes sip_tcp_boundary() say no to the
 * expected boundary once data beyond it has passed (a segment overtaken by
 * a later one): editing there would move bytes already delivered.
 *
 * ---- Boundaries and resync ----
 *
 * A direction's first boundary is its ISN + 1 (from its SYN or SYN-ACK).
 * A segment at the boundary holding whole messages moves it to its end; a
 * message cut at a segment's end, or data passing beyond the boundary
 * without being rewritten, makes it unknown. Each segment the layer
 * rewrote at a boundary is remembered in the ring (with no growth if its
 * length did not change) so that its retransmission is known as a message
 * start and rewritten again, same as the first time.
 *
 * Getting a boundary back (sip_tcp_resync()) is deliberately strict, as a
 * wrong guess would rewrite text in the middle of a body (a sipfrag in a
 * NOTIFY is a whole SIP start line) and break the message: the segment must
 * be the next in order (seq == high, no gap and not a retransmission), and
 * its payload must open with a request line "METHOD sip:...(or sips:) SIP/2.0"
 * (METHOD in A-Z) or a status line "SIP/2.0 NNN ", followed by a header
 * section that ends within the segment and has a Content-Length (long or
 * compact form; RFC 3261 requires it on TCP, and a sipfrag body rarely has
 * one).
 *
 * ---- Connections ----
 *
 * A SYN without ACK makes a connection, replacing one of the same key; a
 * SYN repeating the sequence number of the SYN that opened the current
 * connection is its retransmission and keeps it. When the pool is full a
 * closed (FIN both ways, or RST) or expired connection is reused, the one
 * quiet longest; a live one is never taken. A closed connection is kept
 * until it has been quiet for CLOSED_HOLD (late retransmissions and the
 * last ACKs still need moving; a bogus RST on a live connection does not
 * free it while segments flow), one that never saw both SYNs for as long
 * (RFC 5382's transitory timeout), any other for the idle timeout.
 */
#include "sip_tcp.h"

#include <string.h>

#define CONNS_MIN 1u
#define CONNS_MAX 256u
#define IDLE_MIN 60u
#define IDLE_MAX 86400u
/* Seconds a closed or never-established connection is kept after its last segment. */
#define CLOSED_HOLD 240u
/* How far into a payload resync looks for the start line and the header section. */
#define RESYNC_LINE_MAX 1024u

#define NIL 0xffffu

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_ACK 0x10u

#define OPT_EOL 0u
#define OPT_NOP 1u
#define OPT_SACK_PERM 4u

/* struct half.flags */
#define H_ISN  0x01u   /* SYN seen: the stream's start is known */
#define H_NEXT 0x02u   /* next boundary known */
#define H_HIGH 0x04u   /* high known */
#define H_FIN  0x08u

struct edit {
	uint32_t pos;
	uint32_t cum;
	uint16_t len;
	uint8_t start;   /* pos is a message start the layer rewrote at */
};

/* One direction's stream. */
struct half {
	struct edit edit[SIP_TCP_EDITS];
	uint32_t base;
	uint32_t next;    /* next message boundary (original space) */
	uint32_t high;    /* end of the furthest data seen (original space) */
	uint8_t head;     /* the oldest edit's slot */
	uint8_t count;
	uint8_t flags;
};

struct sip_tcp_conn {
	struct sip_tcp_key key;
	struct half half[2];
	uint32_t open_seq;    /* the opening SYN's sequence number */
	uint32_t last_seen;
	uint16_t chain;       /* next in the bucket, or in the free list */
	uint8_t in_use;
	uint8_t closed;       /* FIN both ways, or RST */
};

static struct {
	struct sip_tcp_config config;
	struct sip_tcp_conn *conns;
	uint16_t *heads;
	uint32_t bucket_mask;
	uint16_t free_head;
	uint8_t ready;
	struct sip_tcp_stats stats;
} T;

/* ---- bytes and sequence numbers ---- */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static int after(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) < 0;
}

/*
 * RFC 1624 eqn. 3 over the 16-bit words [from, to) of the header (from
 * and to even), whose old contents are in `old`: HC' = ~(~HC + ~m + m').
 * Called after the bytes were changed.
 */
static void csum_fix(uint8_t *tcp, const uint8_t *old, unsigned from, unsigned to)
{
	uint32_t sum = (uint16_t)~((uint32_t)tcp[16] << 8 | tcp[17]);
	for (unsigned i = from; i < to; i += 2) {
		uint16_t m = (uint16_t)((uint32_t)old[i - from] << 8 | old[i - from + 1]);
		uint16_t m2 = (uint16_t)((uint32_t)tcp[i] << 8 | tcp[i + 1]);
		sum += (uint16_t)~m;
		sum += m2;
	}
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	sum = (uint16_t)~sum;
	tcp[16] = (uint8_t)(sum >> 8);
	tcp[17] = (uint8_t)sum;
}

/* ---- the edit ring ---- */

static struct edit *edit_at(struct half *h, unsigned k)
{
	return &h->edit[(h->head + k) % SIP_TCP_EDITS];
}

static const struct edit *cedit_at(const struct half *h, unsigned k)
{
	return &h->edit[(h->head + k) % SIP_TCP_EDITS];
}

static uint32_t newest_cum(const struct half *h)
{
	return h->count ? cedit_at(h, h->count - 1u)->cum : h->base;
}

static uint32_t offset_at(const struct half *h, uint32_t seq)
{
	for (unsigned k = h->count; k-- > 0;) {
		const struct edit *e = cedit_at(h, k);
		if (before(e->pos, seq))
			return e->cum;
	}
	return h->base;
}

static uint32_t orig_ack(const struct half *h, uint32_t ack)
{
	for (unsigned k = h->count; k-- > 0;) {
		const struct edit *e = cedit_at(h, k);
		uint32_t prev = k ? cedit_at(h, k - 1u)->cum : h->base;
		if (!after(ack, e->pos + prev))
			continue;
		if (e->cum != prev && before(ack, e->pos + e->len + e->cum))
			return e->pos;
		return ack - e->cum;
	}
	return ack - h->base;
}

static void push_edit(struct half *h, uint32_t pos, uint16_t len, uint32_t cum, int start)
{
	struct edit *e;
	if (h->count == SIP_TCP_EDITS) {
		h->base = edit_at(h, 0)->cum;
		h->head = (uint8_t)((h->head + 1u) % SIP_TCP_EDITS);
		h->count--;
	}
	e = edit_at(h, h->count++);
	e->pos = pos;
	e->len = len;
	e->cum = cum;
	e->start = (uint8_t)(start != 0);
}

static int is_start(const struct half *h, uint32_t seq)
{
	for (unsigned k = h->count; k-- > 0;) {
		const struct edit *e = cedit_at(h, k);
		if (e->pos == seq)
			return e->start;
		if (before(e->pos, seq))
			break;
	}
	return 0;
}

static void half_open(struct half *h, uint32_t isn)
{
	h->next = h->high = isn + 1u;
	h->flags = (uint8_t)(h->flags | H_ISN | H_NEXT | H_HIGH);
}

/* ---- the pool ---- */

static uint32_t buckets_for(uint32_t conns)
{
	uint32_t b = 1;
	while (b < conns)
		b <<= 1;
	return b;
}

static int config_ok(const struct sip_tcp_config *c)
{
	return c && c->max_conns >= CONNS_MIN && c->max_conns <= CONNS_MAX
	       && c->idle_timeout >= IDLE_MIN && c->idle_timeout <= IDLE_MAX;
}

void sip_tcp_default_config(struct sip_tcp_config *config)
{
	memset(config, 0, sizeof(*config));
	config->max_conns = 16;
	config->idle_timeout = 7440;
}

size_t sip_tcp_memory_size(const struct sip_tcp_config *config)
{
	if (!config_ok(config))
		return 0;
	return (size_t)config->max_conns * sizeof(struct sip_tcp_conn) + buckets_for(config->max_conns) * sizeof(uint16_t);
}

int sip_tcp_init(const struct sip_tcp_config *config, void *memory)
{
	uint32_t buckets;
	if (!config_ok(config) || !memory)
		return -1;
	memset(&T, 0, sizeof(T));
	T.config = *config;
	buckets = buckets_for(config->max_conns);
	T.bucket_mask = buckets - 1u;
	T.conns = memory;
	T.heads = (uint16_t *)(void *)((uint8_t *)memory + (size_t)config->max_conns * sizeof(struct sip_tcp_conn));
	T.stats.conns_max = config->max_conns;
	T.ready = 1;
	sip_tcp_flush();
	return 0;
}

static uint32_t key_hash(const struct sip_tcp_key *k)
{
	uint32_t h = k->inside_addr * 0x9e3779b1u;
	h ^= k->remote_addr * 0x85ebca6bu;
	h ^= ((uint32_t)k->inside_port << 16 | k->remote_port) * 0xc2b2ae35u;
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return h & T.bucket_mask;
}

static int key_eq(const struct sip_tcp_key *a, const struct sip_tcp_key *b)
{
	return a->inside_addr == b->inside_addr && a->remote_addr == b->remote_addr
	       && a->inside_port == b->inside_port && a->remote_port == b->remote_port;
}

static void unlink_conn(uint16_t idx)
{
	uint16_t *link = &T.heads[key_hash(&T.conns[idx].key)];
	for (uint32_t guard = 0; *link != NIL && guard <= T.config.max_conns; guard++) {
		if (*link == idx) {
			*link = T.conns[idx].chain;
			return;
		}
		link = &T.conns[*link].chain;
	}
}

static void free_conn(uint16_t idx)
{
	struct sip_tcp_conn *c = &T.conns[idx];
	unlink_conn(idx);
	memset(c, 0, sizeof(*c));
	c->chain = T.free_head;
	T.free_head = idx;
	T.stats.conns--;
}

static int expired(const struct sip_tcp_conn *c, uint32_t now)
{
	/* A clock that went back counts as no time at all. */
	uint32_t quiet = (int32_t)(now - c->last_seen) > 0 ? now - c->last_seen : 0;
	int established = (c->half[0].flags & c->half[1].flags & H_ISN) != 0;
	if ((c->closed || !established) && quiet > CLOSED_HOLD)
		return 1;
	return quiet > T.config.idle_timeout;
}

/* A slot for a new connection: a free one, else the closed or expired one quiet longest. */
static int take_slot(uint32_t now)
{
	uint16_t idx = T.free_head, best = NIL;
	if (idx != NIL) {
		T.free_head = T.conns[idx].chain;
		T.stats.conns++;
		return idx;
	}
	for (uint16_t i = 0; i < T.config.max_conns; i++) {
		const struct sip_tcp_conn *c = &T.conns[i];
		if (!c->closed && !expired(c, now))
			continue;
		if (best == NIL || (now - c->last_seen) > (now - T.conns[best].last_seen))
			best = i;
	}
	if (best == NIL)
		return -1;
	unlink_conn(best);
	return best;
}

static void conn_start(struct sip_tcp_conn *c, const struct sip_tcp_key *key, uint32_t syn_seq, uint32_t now)
{
	uint16_t chain = c->chain;
	memset(c, 0, sizeof(*c));
	c->key = *key;
	c->chain = chain;
	c->open_seq = syn_seq;
	c->last_seen = now;
	c->in_use = 1;
}

struct sip_tcp_conn *sip_tcp_lookup(const struct sip_tcp_key *key, const uint8_t *tcp, uint32_t now)
{
	struct sip_tcp_conn *c = NULL;
	uint32_t bucket, seq;
	uint16_t idx;
	int slot;
	if (!T.ready || !key)
		return NULL;
	bucket = key_hash(key);
	idx = T.heads[bucket];
	for (uint32_t guard = 0; idx != NIL && guard < T.config.max_conns; guard++) {
		if (key_eq(&T.conns[idx].key, key)) {
			c = &T.conns[idx];
			break;
		}
		idx = T.conns[idx].chain;
	}
	if (!tcp || (tcp[13] & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN) {
		if (c)
			c->last_seen = now;
		return c;
	}
	seq = rd32(tcp + 4);
	if (c) {
		if (!c->closed && c->open_seq == seq) {
			c->last_seen = now;
			return c;
		}
		conn_start(c, key, seq, now);
		return c;
	}
	slot = take_slot(now);
	if (slot < 0) {
		T.stats.pool_full++;
		return NULL;
	}
	c = &T.conns[slot];
	conn_start(c, key, seq, now);
	c->chain = T.heads[bucket];
	T.heads[bucket] = (uint16_t)slot;
	return c;
}

/* ---- per segment ---- */

/*
 * Replaces SACK-permitted options by two NOPs. The options are walked once
 * to check they are well formed (every length at least 2 and inside the
 * header, up to EOL or the end); a malformed list is left as it is, as the
 * ends would not agree on what it means anyway.
 */
static void strip_sack_perm(uint8_t *tcp, unsigned doff)
{
	unsigned i = 20;
	while (i < doff) {
		uint8_t kind = tcp[i];
		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1u >= doff || tcp[i + 1] < 2u || i + tcp[i + 1] > doff)
			return;
		i += tcp[i + 1];
	}
	i = 20;
	while (i < doff && tcp[i] != OPT_EOL) {
		if (tcp[i] == OPT_NOP) {
			i++;
			continue;
		}
		if (tcp[i] == OPT_SACK_PERM && tcp[i + 1] == 2u) {
			/* The two bytes may straddle 16-bit words: fix the words they touch. */
			unsigned from = i & ~1u, to = (i + 3u) & ~1u;
			uint8_t old[4];
			memcpy(old, tcp + from, to - from);
			tcp[i] = OPT_NOP;
			tcp[i + 1] = OPT_NOP;
			csum_fix(tcp, old, from, to);
			T.stats.sack_stripped++;
			i += 2;
			continue;
		}
		if (tcp[i + 1] < 2u)   /* cannot be after the check above; never loop on it */
			break;
		i += tcp[i + 1];
	}
}

uint32_t sip_tcp_adjust(struct sip_tcp_conn *c, enum sip_dir dir, uint8_t *tcp, uint16_t header_len, uint32_t now)
{
	struct half *h, *o;
	uint32_t seq, ack, nseq, nack;
	uint8_t flags, old[8];
	unsigned doff;
	if (!tcp || header_len < 20)
		return 0;
	seq = rd32(tcp + 4);
	if (!c || (dir != SIP_OUTBOUND && dir != SIP_INBOUND))
		return seq;
	h = &c->half[dir];
	o = &c->half[dir == SIP_OUTBOUND ? SIP_INBOUND : SIP_OUTBOUND];
	ack = rd32(tcp + 8);
	flags = tcp[13];
	c->last_seen = now;

	if (flags & TCP_SYN) {
		/* A SYN-ACK is the only SYN a stream gets in an ordinary open;
		 * a repeated one must not undo what the stream has done since. */
		if (!(h->flags & H_ISN) && !(flags & TCP_RST))
			half_open(h, seq);
		doff = (unsigned)(tcp[12] >> 4) * 4u;
		if (doff > 20u && doff <= header_len)
			strip_sack_perm(tcp, doff);
	}

	nseq = seq + offset_at(h, seq);
	nack = (flags & TCP_ACK) ? orig_ack(o, ack) : ack;
	if (nseq != seq || nack != ack) {
		memcpy(old, tcp + 4, 8);
		wr32(tcp + 4, nseq);
		wr32(tcp + 8, nack);
		csum_fix(tcp, old, 4, 12);
		T.stats.adjusted++;
	}

	if (flags & TCP_RST)
		c->closed = 1;
	if (flags & TCP_FIN) {
		h->flags |= H_FIN;
		if (o->flags & H_FIN)
			c->closed = 1;
	}
	return seq;
}

int sip_tcp_boundary(const struct sip_tcp_conn *c, enum sip_dir dir, uint32_t seq)
{
	const struct half *h;
	if (!c || (dir != SIP_OUTBOUND && dir != SIP_INBOUND))
		return 0;
	h = &c->half[dir];
	if ((h->flags & H_NEXT) && seq == h->next && !after(h->high, h->next))
		return 1;
	return is_start(h, seq);
}

void sip_tcp_edited(struct sip_tcp_conn *c, enum sip_dir dir, uint32_t seq, uint16_t old_len, uint16_t new_len, int whole)
{
	struct half *h;
	uint32_t end, extra;
	int at_start;
	if (!c || old_len == 0 || (dir != SIP_OUTBOUND && dir != SIP_INBOUND))
		return;
	h = &c->half[dir];
	if (!(h->flags & H_HIGH)) {
		h->high = seq;
		h->flags |= H_HIGH;
	}
	end = seq + old_len;
	at_start = sip_tcp_boundary(c, dir, seq);
	if (!at_start)
		T.stats.not_at_boundary++;

	/* What this segment grew by that the edits inside it do not already say. */
	extra = (uint32_t)new_len - old_len - (offset_at(h, end) - offset_at(h, seq));
	if (extra != 0) {
		uint32_t pos = before(seq, h->high) ? h->high : seq;
		if (after(end, pos))
			push_edit(h, pos, (uint16_t)(end - pos), newest_cum(h) + extra, at_start && pos == seq);
		else
			T.stats.edit_conflicts++;
	} else if (at_start && !before(seq, h->high)) {
		/* No growth, but remember the message start for a retransmission. */
		push_edit(h, seq, old_len, newest_cum(h), 1);
	}

	if (after(end, h->high)) {
		if (at_start && whole) {
			h->next = end;
			h->flags |= H_NEXT;
		} else if (at_start || ((h->flags & H_NEXT) && after(end, h->next))) {
			/* Cut message, or data passed beyond the boundary unrewritten. */
			h->flags &= (uint8_t)~H_NEXT;
		}
		h->high = end;
	}
}

/* ---- resync ---- */

static int upper(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z';
}

static int digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

static uint8_t lower(uint8_t ch)
{
	return (uint8_t)(upper(ch) ? ch + ('a' - 'A') : ch);
}

static int prefix_ci(const uint8_t *p, size_t n, const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (i >= n || lower(p[i]) != (uint8_t)s[i])
			return 0;
	return (int)i;
}

/* Length of the line at p without its end (CRLF or LF), or -1 when it has none within n. */
static long line_len(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n')
			return (long)(i && p[i - 1] == '\r' ? i - 1 : i);
	return -1;
}

static int start_line_ok(const uint8_t *p, size_t n)
{
	static const char version[] = "SIP/2.0";
	size_t i = 0;
	if (n >= 12 && memcmp(p, "SIP/2.0 ", 8) == 0)
		return digit(p[8]) && digit(p[9]) && digit(p[10]) && p[11] == ' ';
	while (i < n && i < 32 && upper(p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ' ')
		return 0;
	i++;
	if (!prefix_ci(p + i, n - i, "sip:") && !prefix_ci(p + i, n - i, "sips:"))
		return 0;
	while (i < n && p[i] != ' ')
		i++;
	return n - i == sizeof(version) && p[i] == ' ' && memcmp(p + i + 1, version, sizeof(version) - 1) == 0;
}

/* A header line naming Content-Length (or its compact form l) before its colon. */
static int content_length_line(const uint8_t *p, size_t n)
{
	size_t i = (size_t)prefix_ci(p, n, "content-length");
	if (!i) {
		if (n == 0 || lower(p[0]) != 'l')
			return 0;
		i = 1;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

static int message_start(const uint8_t *p, size_t n)
{
	size_t at;
	int has_length = 0;
	long len = line_len(p, n < RESYNC_LINE_MAX ? n : RESYNC_LINE_MAX);
	if (len <= 0 || !start_line_ok(p, (size_t)len))
		return 0;
	at = (size_t)len + (p[len] == '\r' ? 2u : 1u);
	/* Header lines up to the empty one; every step consumes a line, so this ends. */
	while (at < n) {
		len = line_len(p + at, n - at);
		if (len < 0)
			return 0;
		if (len == 0)
			return has_length;
		if (content_length_line(p + at, (size_t)len))
			has_length = 1;
		at += (size_t)len + (p[at + (size_t)len] == '\r' ? 2u : 1u);
	}
	return 0;
}

int sip_tcp_resync(struct sip_tcp_conn *c, enum sip_dir dir, uint32_t seq, const uint8_t *payload, uint16_t len)
{
	struct half *h;
	if (!c || !payload || len == 0 || (dir != SIP_OUTBOUND && dir != SIP_INBOUND))
		return 0;
	h = &c->half[dir];
	if ((h->flags & H_NEXT) || !(h->flags & H_HIGH) || seq != h->high)
		return 0;
	if (!message_start(payload, len))
		return 0;
	h->next = seq;
	h->flags |= H_NEXT;
	T.stats.resynced++;
	return 1;
}

/* ---- housekeeping ---- */

void sip_tcp_tick(uint32_t now)
{
	if (!T.ready)
		return;
	for (uint16_t i = 0; i < T.config.max_conns; i++)
		if (T.conns[i].in_use && expired(&T.conns[i], now))
			free_conn(i);
}

void sip_tcp_flush(void)
{
	if (!T.ready)
		return;
	memset(T.conns, 0, (size_t)T.config.max_conns * sizeof(struct sip_tcp_conn));
	memset(T.heads, 0xff, (T.bucket_mask + 1u) * sizeof(uint16_t));
	for (uint16_t i = 0; i < T.config.max_conns; i++)
		T.conns[i].chain = (uint16_t)(i + 1u < T.config.max_conns ? i + 1u : NIL);
	T.free_head = 0;
	T.stats.conns = 0;
}

void sip_tcp_get_stats(struct sip_tcp_stats *stats)
{
	if (!T.ready) {
		memset(stats, 0, sizeof(*stats));
		return;
	}
	*stats = T.stats;
}
