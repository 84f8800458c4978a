/*
 * The SIP ALG's dialogs, pinholes and registrations (see sip_dialog.h).
 *
 * Dialogs live in a fixed pool, found by a linear scan over a 32-bit hash
 * of (Call-ID, inside host) and then an exact comparison of the Call-ID's
 * stored bytes: the pool is small (at most 256) and SIP messages are rare
 * next to the media they set up, so an index would cost more memory than it
 * saves time. A Call-ID longer than SIP_CALL_ID_MAX is compared on its first
 * SIP_CALL_ID_MAX bytes, its full length and the hash of all of it.
 *
 * Each stream (m= line index) holds the pinholes of the SDP in force (cur)
 * and, while an offer the phone made in a re-INVITE or UPDATE is waiting for
 * its answer, the ones it replaces (old): RFC 3264 8 keeps the old session
 * until the offer is accepted, and a rejected offer leaves it in force, so
 * both stay open until the final response says which one won. An SDP that
 * is an answer (in a response, ACK or PRACK), or an offer before the dialog
 * is confirmed, takes effect at once.
 *
 * Pinholes admit any remote address (remote = 0): the far end's media
 * often comes from another host than its signalling (a media relay, an SBC,
 * a gateway), and the SDP that would name it is not always there when the
 * pinhole must open (an offer goes out before the answer). What limits the
 * exposure is time: the pinhole lives only as long as the dialog.
 *
 * Every forward this layer removes is first checked to still be its own
 * (origin SIP, the same inside host and port, the same external range), so
 * a console or UPnP forward that took the port after ours expired in the
 * table is never touched.
 *
 * Registrations are keyed by (inside host, inside SIP port, registrar): the
 * registrar is the address the phone's REGISTER went to and its 2xx came
 * from. A phone registered with two registrars from the same port shares
 * one external port, and a forward admits one remote only; the first
 * registration gets the forward, the other is kept without one (counted in
 * pinhole_failed) and lives on the SIP flow's own mapping.
 */
#include "sip_dialog.h"

#include <string.h>

#include "napt.h"

#define PORT_PROBES   64u      /* even pairs tried before a stream goes without a pinhole */
#define PORT_LOW      1024u    /* searched pairs stay out of the well-known ports */
#define REG_PENDING   64u      /* seconds a REGISTER waits for its answer (64 * T1, RFC 3261 17.1.2.2) */
#define REG_SLACK     32u      /* the forward outlives the binding a little: re-REGISTER round trips */
#define REG_DEFAULT   3600u    /* no expiry in either message (RFC 3261 10.2.1.1) */
#define MAX_LIFETIME  604800u  /* a week: keeps absolute times far from wrapping */

/* One stream's pinholes. in_port 0: none. */
struct sip_pin {
	uint16_t in_port;     /* inside RTP port */
	uint16_t in_rtcp;     /* inside RTCP port; 0: no RTCP pinhole */
	uint16_t ext_port;
	uint16_t ext_rtcp;
};

#define S_PENDING 0x01u   /* cur comes from an offer not yet answered; old is what it replaces */

struct sip_stream {
	struct sip_pin cur, old;
	uint8_t flags;
};

struct sip_dialog {
	uint32_t hash;
	uint32_t inside_addr, remote_addr;
	uint32_t expires;            /* absolute, napt's clock */
	uint32_t init_cseq;          /* the initial INVITE's CSeq */
	uint32_t pending_cseq;       /* the phone's offer waiting for an answer */
	uint16_t call_id_len;        /* the full length */
	uint8_t used, confirmed, has_init, init_dir, pending;
	uint8_t answered;            /* a response other than 100 was seen: never evicted for room */
	uint32_t born;               /* the order it was made in: the oldest early one goes first */
	uint8_t call_id[SIP_CALL_ID_MAX];
	struct sip_stream streams[SIP_MEDIA_MAX];
};

struct sip_reg {
	uint32_t inside_addr, registrar;
	uint32_t expires;            /* absolute */
	int32_t req_expires;         /* what the last REGISTER asked for; -1: nothing */
	uint16_t inside_port, ext_port;
	uint8_t used, active, fw;    /* active: a 2xx was seen; fw: it holds the forward */
};

static struct {
	uint8_t ready;
	struct sip_dialog_config config;
	struct sip_dialog *dialogs;
	struct sip_reg *regs;
	uint64_t dialogs_created, dialogs_ended, pool_full, pinhole_failed, evicted;
	uint32_t serial;             /* dialogs made so far (wraps: compared as a difference) */
} sd;

void sip_dialog_default_config(struct sip_dialog_config *config)
{
	config->max_dialogs = 16;
	config->max_registrations = 8;
	config->invite_timeout = 180;
	config->session_timeout = 3600;
	config->max_pinholes = 32;
	config->max_per_host = 0;
}

/* A host's share of the pool for early dialogs without an answer: max_per_host, or half the pool (at least 1). */
static unsigned host_share(void)
{
	unsigned n = sd.config.max_per_host ? sd.config.max_per_host : sd.config.max_dialogs / 2u;
	if (n < 1)
		n = 1;
	return n < sd.config.max_dialogs ? n : sd.config.max_dialogs;
}

static int config_ok(const struct sip_dialog_config *c)
{
	return c->max_dialogs >= 1 && c->max_dialogs <= 256 && c->max_registrations >= 1 && c->max_registrations <= 64
	       && c->invite_timeout >= 1 && c->invite_timeout <= MAX_LIFETIME
	       && c->session_timeout >= 1 && c->session_timeout <= MAX_LIFETIME;
}

size_t sip_dialog_memory_size(const struct sip_dialog_config *config)
{
	if (!config_ok(config))
		return 0;
	return (size_t)config->max_dialogs * sizeof(struct sip_dialog)
	       + (size_t)config->max_registrations * sizeof(struct sip_reg);
}

int sip_dialog_init(const struct sip_dialog_config *config, void *memory)
{
	if (!config_ok(config) || !memory)
		return -1;
	memset(&sd, 0, sizeof(sd));
	sd.config = *config;
	/* sizeof(struct sip_dialog) is a multiple of its (uint32_t) alignment, so regs stay aligned. */
	sd.dialogs = memory;
	sd.regs = (struct sip_reg *)(void *)((uint8_t *)memory + (size_t)config->max_dialogs * sizeof(struct sip_dialog));
	memset(memory, 0, sip_dialog_memory_size(config));
	sd.ready = 1;
	return 0;
}

static int passed(uint32_t now, uint32_t t)
{
	return (int32_t)(now - t) >= 0;
}

/* ------------------------------------------------------------------ */
/* Forwards.                                                           */

/* Whether the forward at ext_port is exactly one this layer made for (in_addr, in_port). */
static int fw_ours(uint16_t ext, uint16_t end, uint32_t in_addr, uint16_t in_port)
{
	const struct napt_forward *fw = napt_forward_find(NAPT_PROTO_UDP, ext);
	return fw && fw->origin == NAPT_ORIGIN_SIP && fw->ext_port == ext && fw->ext_end == end
	       && fw->in_addr == in_addr && fw->in_port == in_port;
}

static void fw_remove(uint16_t ext, uint16_t end, uint32_t in_addr, uint16_t in_port)
{
	if (ext && fw_ours(ext, end, in_addr, in_port))
		(void)napt_forward_remove(NAPT_PROTO_UDP, ext);
}

/*
 * Add or refresh one forward; 0 when it is in the table, -2 when the table
 * has no room (no other port would do better), else -1. A forward on the
 * port that is not ours is a failure even when napt_forward_add() would
 * call it the same one (it does not compare origins): it must not take our
 * expiry.
 */
static int fw_put(uint16_t ext, uint16_t end, uint32_t in_addr, uint16_t in_port, uint32_t remote,
                  uint32_t expires, const char *description)
{
	struct napt_forward fw;
	enum napt_forward_result r;
	const struct napt_forward *old = napt_forward_find(NAPT_PROTO_UDP, ext);
	if (old && !fw_ours(ext, end, in_addr, in_port))
		return -1;
	memset(&fw, 0, sizeof(fw));
	fw.proto = NAPT_PROTO_UDP;
	fw.origin = NAPT_ORIGIN_SIP;
	fw.ext_port = ext;
	fw.ext_end = end;
	fw.in_port = in_port;
	fw.in_addr = in_addr;
	fw.remote = remote;
	fw.expires = expires ? expires : 1;   /* 0 would mean never */
	strncpy(fw.description, description, sizeof(fw.description) - 1);
	r = napt_forward_add(&fw);
	if (r == NAPT_FORWARD_OK || r == NAPT_FORWARD_REFRESHED)
		return 0;
	return r == NAPT_FORWARD_FULL ? -2 : -1;
}

/* ------------------------------------------------------------------ */
/* Pinholes.                                                           */

static int pin_paired(const struct sip_pin *p)
{
	return p->in_rtcp && p->in_rtcp == p->in_port + 1 && p->ext_rtcp == p->ext_port + 1;
}

static void describe(const struct sip_dialog *d, char *out, size_t cap)
{
	static const char prefix[] = "sip rtp ";
	size_t n = sizeof(prefix) - 1, i;
	memcpy(out, prefix, n);
	for (i = 0; i < d->call_id_len && i < SIP_CALL_ID_MAX && n + 1 < cap; i++) {
		uint8_t ch = d->call_id[i];
		out[n++] = ch >= 0x21 && ch < 0x7f ? (char)ch : '?';
	}
	out[n] = 0;
}

/* Put a pin's forwards in the table (or refresh them) with the dialog's expiry; all or none (fw_put's result). */
static int pin_put(const struct sip_dialog *d, const struct sip_pin *p)
{
	char desc[NAPT_DESCRIPTION_MAX];
	int r;
	if (!p->in_port || !p->ext_port)
		return -1;
	describe(d, desc, sizeof(desc));
	if (pin_paired(p))
		return fw_put(p->ext_port, p->ext_rtcp, d->inside_addr, p->in_port, 0, d->expires, desc);
	r = fw_put(p->ext_port, p->ext_port, d->inside_addr, p->in_port, 0, d->expires, desc);
	if (r < 0)
		return r;
	if (p->in_rtcp) {
		r = fw_put(p->ext_rtcp, p->ext_rtcp, d->inside_addr, p->in_rtcp, 0, d->expires, desc);
		if (r < 0) {
			fw_remove(p->ext_port, p->ext_port, d->inside_addr, p->in_port);
			return r;
		}
	}
	return 0;
}

static void pin_close(const struct sip_dialog *d, struct sip_pin *p)
{
	if (p->in_port && p->ext_port) {
		if (pin_paired(p))
			fw_remove(p->ext_port, p->ext_rtcp, d->inside_addr, p->in_port);
		else {
			fw_remove(p->ext_port, p->ext_port, d->inside_addr, p->in_port);
			if (p->in_rtcp)
				fw_remove(p->ext_rtcp, p->ext_rtcp, d->inside_addr, p->in_rtcp);
		}
	}
	memset(p, 0, sizeof(*p));
}

static int pin_same(const struct sip_pin *p, uint16_t in_port, uint16_t in_rtcp)
{
	return p->in_port && p->in_port == in_port && p->in_rtcp == in_rtcp;
}

/* Try external ports (e, r) for p (r unused without RTCP); 0 when the forwards are in, -2: table full. */
static int pin_try(const struct sip_dialog *d, struct sip_pin *p, uint32_t e, uint32_t r, uint32_t now)
{
	int res;
	if (e == 0 || e > 65535u || (p->in_rtcp && (r == 0 || r > 65535u || r == e)))
		return -1;
	/* Free, or held by the phone's own mapping of that port (it sent before its SDP went out). */
	if (!napt_port_free_for(NAPT_PROTO_UDP, (uint16_t)e, d->inside_addr, p->in_port, now))
		return -1;
	if (p->in_rtcp && !napt_port_free_for(NAPT_PROTO_UDP, (uint16_t)r, d->inside_addr, p->in_rtcp, now))
		return -1;
	p->ext_port = (uint16_t)e;
	p->ext_rtcp = p->in_rtcp ? (uint16_t)r : 0;
	res = pin_put(d, p);
	if (res == 0) {
		/*
		 * The phone's own mappings of these ports that name other external
		 * ports go: its next RTP or RTCP packet leaves by the pair its SDP
		 * names (the forward gives it that port), from the moment the
		 * rewritten SDP leaves, and one inside port has one external port.
		 */
		(void)napt_mapping_move(NAPT_PROTO_UDP, d->inside_addr, p->in_port, p->ext_port);
		if (p->in_rtcp)
			(void)napt_mapping_move(NAPT_PROTO_UDP, d->inside_addr, p->in_rtcp, p->ext_rtcp);
		return 0;
	}
	p->ext_port = p->ext_rtcp = 0;
	return res;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x9e3779b1u;
	return h ^ (h >> 15);
}

/*
 * External ports for a pin whose inside ports are set: the ports the
 * phone's own mappings have when it sent from them already (one inside
 * port, one external port: RFC 4787 REQ-1, and its media leaves by the
 * ports its SDP names), else the inside ports themselves when free (the
 * inside RTP port must be even to be an RTP/RTCP pair's first), else even
 * pairs (e, e + 1) from a point that depends on
 * the table's secret seed, the dialog and the stream, so the ports are
 * the same for the same call (deterministic, RFC 4787 REQ-11) and not
 * guessable from outside. With RTCP at RTP + 1 the pair is one two-port
 * forward; the far end without an a=rtcp line sends RTCP to ext + 1, so a
 * pair is taken even for RTCP elsewhere inside.
 */
/* Forwards the dialogs' pins stand for (without asking the table: a pin that lost its forward gets it back on its next use). */
static uint32_t held_forwards(void)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < sd.config.max_dialogs; i++) {
		const struct sip_dialog *d = &sd.dialogs[i];
		if (!d->used)
			continue;
		for (unsigned k = 0; k < SIP_MEDIA_MAX; k++) {
			const struct sip_pin *pins[2] = { &d->streams[k].cur, &d->streams[k].old };
			for (unsigned j = 0; j < 2; j++)
				if (pins[j]->in_port && pins[j]->ext_port)
					n += pin_paired(pins[j]) || !pins[j]->in_rtcp ? 1u : 2u;
		}
	}
	return n;
}

static int pin_alloc(const struct sip_dialog *d, unsigned index, struct sip_pin *p, uint32_t now)
{
	const uint32_t span = (65534u - PORT_LOW) / 2u + 1u;   /* even ports PORT_LOW .. 65534 */
	const struct napt_config *nc = napt_config();
	uint32_t start, n;
	uint16_t m_rtp, m_rtcp;
	int r = -1;
	/* New forwards only within the cap; two, so a stream with RTCP apart fits too. */
	if (sd.config.max_pinholes && held_forwards() + 2u > sd.config.max_pinholes)
		return -1;
	m_rtp = napt_mapping_port(NAPT_PROTO_UDP, d->inside_addr, p->in_port, now);
	m_rtcp = p->in_rtcp ? napt_mapping_port(NAPT_PROTO_UDP, d->inside_addr, p->in_rtcp, now) : 0;
	if (!p->in_rtcp)
		r = pin_try(d, p, m_rtp ? m_rtp : p->in_port, 0, now);
	else if (p->in_rtcp != p->in_port + 1)
		r = pin_try(d, p, m_rtp ? m_rtp : p->in_port, m_rtcp ? m_rtcp : p->in_rtcp, now);
	else {
		/* RTCP at RTP + 1: an even pair, where a mapping of either port puts it, else the inside pair. */
		if (m_rtp && !(m_rtp & 1u))
			r = pin_try(d, p, m_rtp, m_rtp + 1u, now);
		if (r == -1 && m_rtcp && (m_rtcp & 1u))
			r = pin_try(d, p, m_rtcp - 1u, m_rtcp, now);
		if (r == -1 && !(p->in_port & 1u))
			r = pin_try(d, p, p->in_port, p->in_rtcp, now);
	}
	if (r != -1)
		return r;
	start = mix(mix(mix(nc ? nc->hash_seed : 0, d->hash), index), (uint32_t)p->in_port << 16 | p->in_rtcp);
	for (n = 0; n < PORT_PROBES; n++) {
		/* 7919 is prime to span (2^9 * 3^2 * 7): the walk visits distinct pairs. */
		uint32_t e = PORT_LOW + 2u * ((start + n * 7919u) % span);
		r = pin_try(d, p, e, e + 1u, now);
		if (r != -1)
			return r;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Dialogs.                                                            */

static uint32_t call_hash(const uint8_t *id, size_t len, uint32_t inside_addr)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= id[i];
		h *= 16777619u;
	}
	return mix(h, inside_addr);
}

static void dialog_end(struct sip_dialog *d)
{
	for (unsigned k = 0; k < SIP_MEDIA_MAX; k++) {
		pin_close(d, &d->streams[k].cur);
		pin_close(d, &d->streams[k].old);
		d->streams[k].flags = 0;
	}
	d->used = 0;
	sd.dialogs_ended++;
}

/* The live dialog of (Call-ID, inside host); one whose time ran out before the tick is ended here. */
static struct sip_dialog *dialog_find(const struct sip_info *info, uint32_t inside_addr, uint32_t now)
{
	size_t len = info->call_id_len;
	size_t keep = len < SIP_CALL_ID_MAX ? len : SIP_CALL_ID_MAX;
	uint32_t h = call_hash(info->call_id, len, inside_addr);
	for (unsigned i = 0; i < sd.config.max_dialogs; i++) {
		struct sip_dialog *d = &sd.dialogs[i];
		if (!d->used || d->hash != h || d->inside_addr != inside_addr || d->call_id_len != len
		    || memcmp(d->call_id, info->call_id, keep) != 0)
			continue;
		if (passed(now, d->expires)) {
			dialog_end(d);
			return NULL;
		}
		return d;
	}
	return NULL;
}

/*
 * The slot for a new dialog of msg->inside_addr: a free one while the host
 * holds fewer early dialogs without an answer than its share, else the
 * oldest early dialog that never had an answer (the host's own when its
 * share is full, anyone's when the pool is), ended to make room. NULL when
 * none can be had (the pool full of answered dialogs).
 */
static struct sip_dialog *dialog_slot(const struct sip_dialog_msg *msg)
{
	struct sip_dialog *free_slot = NULL, *victim = NULL, *own_victim = NULL;
	unsigned own = 0;
	for (unsigned i = 0; i < sd.config.max_dialogs; i++) {
		struct sip_dialog *x = &sd.dialogs[i];
		if (x->used && passed(msg->now, x->expires))
			dialog_end(x);
		if (!x->used) {
			if (!free_slot)
				free_slot = x;
			continue;
		}
		if (x->confirmed || x->answered)
			continue;
		if (x->inside_addr == msg->inside_addr)
			own++;
		if (!victim || (int32_t)(x->born - victim->born) < 0)
			victim = x;
		if (x->inside_addr == msg->inside_addr && (!own_victim || (int32_t)(x->born - own_victim->born) < 0))
			own_victim = x;
	}
	if (own >= host_share())
		victim = own_victim;   /* over its share: only its own early dialogs make way */
	else if (free_slot)
		return free_slot;
	if (!victim)
		return NULL;
	dialog_end(victim);
	sd.evicted++;
	return victim;
}

static struct sip_dialog *dialog_new(const struct sip_dialog_msg *msg, const struct sip_info *info)
{
	struct sip_dialog *d = dialog_slot(msg);
	size_t len = info->call_id_len;
	if (!d) {
		sd.pool_full++;
		return NULL;
	}
	memset(d, 0, sizeof(*d));
	d->used = 1;
	d->hash = call_hash(info->call_id, len, msg->inside_addr);
	d->inside_addr = msg->inside_addr;
	d->remote_addr = msg->remote_addr;
	d->call_id_len = (uint16_t)len;
	memcpy(d->call_id, info->call_id, len < SIP_CALL_ID_MAX ? len : SIP_CALL_ID_MAX);
	d->expires = msg->now + sd.config.invite_timeout;
	d->born = ++sd.serial;
	if (info->is_request && info->method == SIP_M_INVITE) {
		d->has_init = 1;
		d->init_cseq = info->cseq;
		d->init_dir = (uint8_t)msg->dir;
	}
	sd.dialogs_created++;
	return d;
}

/* A message of the dialog went by: it lives on from now, and so do its pinholes. */
static void dialog_touch(struct sip_dialog *d, uint32_t now)
{
	d->expires = now + (d->confirmed ? sd.config.session_timeout : sd.config.invite_timeout);
	for (unsigned k = 0; k < SIP_MEDIA_MAX; k++) {
		struct sip_stream *s = &d->streams[k];
		if (s->cur.in_port)
			(void)pin_put(d, &s->cur);
		if (s->old.in_port)
			(void)pin_put(d, &s->old);
	}
}

/* Methods whose SDP sets up the dialog's media (RFC 3261 13, RFC 3262, RFC 3311). */
static int sdp_method(const struct sip_info *info)
{
	if (!info->is_request && info->status >= 300)
		return 0;
	return info->method == SIP_M_INVITE || info->method == SIP_M_ACK || info->method == SIP_M_PRACK
	       || info->method == SIP_M_UPDATE;
}

/*
 * Whether this outbound message's SDP is an offer to hold back: one the
 * phone makes in a confirmed dialog (re-INVITE, UPDATE). Its pinholes open
 * beside the ones in force until the answer.
 */
static int offer_pending(const struct sip_dialog *d, const struct sip_dialog_msg *msg, const struct sip_info *info)
{
	return d->confirmed && msg->dir == SIP_OUTBOUND && info->is_request
	       && (info->method == SIP_M_INVITE || info->method == SIP_M_UPDATE);
}

static void begin_offer(struct sip_dialog *d, const struct sip_info *info)
{
	d->pending = 1;
	d->pending_cseq = info->cseq;
}

/* The offer was accepted: what it replaced closes. */
static void offer_commit(struct sip_dialog *d)
{
	for (unsigned k = 0; k < SIP_MEDIA_MAX; k++) {
		struct sip_stream *s = &d->streams[k];
		if (s->flags & S_PENDING)
			pin_close(d, &s->old);
		s->flags = 0;
	}
	d->pending = 0;
}

/* The offer was refused: the session stays as it was. */
static void offer_rollback(struct sip_dialog *d)
{
	for (unsigned k = 0; k < SIP_MEDIA_MAX; k++) {
		struct sip_stream *s = &d->streams[k];
		if (s->flags & S_PENDING) {
			pin_close(d, &s->cur);
			s->cur = s->old;
			memset(&s->old, 0, sizeof(s->old));
		}
		s->flags = 0;
	}
	d->pending = 0;
}

/* Stream k is gone from the phone's SDP (port 0 or no m= line). */
static void stream_drop(struct sip_dialog *d, struct sip_stream *s, int pending)
{
	if (!s->cur.in_port)
		return;
	if (pending) {
		if (!(s->flags & S_PENDING)) {
			s->old = s->cur;
			s->flags |= S_PENDING;
			memset(&s->cur, 0, sizeof(s->cur));
		} else
			pin_close(d, &s->cur);
		return;
	}
	pin_close(d, &s->cur);
	if (s->flags & S_PENDING)
		pin_close(d, &s->old);
	s->flags = 0;
}

int sip_dialog_media(void *ctx, const struct sip_info *info, struct sip_media *m)
{
	const struct sip_dialog_msg *msg = ctx;
	struct sip_dialog *d;
	struct sip_stream *s;
	uint16_t in_port, in_rtcp;
	int pending, ok;

	/* Not a message that sets up media (or not one of ours): its ports stay as written. */
	if (!sd.ready || !msg || msg->dir != SIP_OUTBOUND || !info->call_id || !m->port || m->index >= SIP_MEDIA_MAX
	    || !sdp_method(info))
		return 1;
	d = dialog_find(info, msg->inside_addr, msg->now);
	if (!d && !(d = dialog_new(msg, info)))
		return -1;
	pending = offer_pending(d, msg, info);
	if (pending)
		begin_offer(d, info);
	s = &d->streams[m->index];
	in_port = m->port;
	/* RTCP multiplexed on the RTP port (a=rtcp naming it) needs no pinhole of its own. */
	in_rtcp = m->rtcp_port == m->port ? 0 : m->rtcp_port;

	if (pin_same(&s->cur, in_port, in_rtcp)) {
		/* A retransmission, or a stream the new SDP keeps: the same external ports. */
		if (pin_put(d, &s->cur) == 0)
			ok = 1;
		else {
			pin_close(d, &s->cur);
			s->cur.in_port = in_port;
			s->cur.in_rtcp = in_rtcp;
			ok = pin_alloc(d, m->index, &s->cur, msg->now) == 0;
		}
	} else if ((s->flags & S_PENDING) && pin_same(&s->old, in_port, in_rtcp)) {
		/* The offer moves the stream back to where it is in force. */
		pin_close(d, &s->cur);
		s->cur = s->old;
		memset(&s->old, 0, sizeof(s->old));
		s->flags = 0;
		ok = pin_put(d, &s->cur) == 0;
	} else {
		if (pending && !(s->flags & S_PENDING)) {
			s->old = s->cur;
			s->flags |= S_PENDING;
			memset(&s->cur, 0, sizeof(s->cur));
		} else {
			pin_close(d, &s->cur);
			if (!pending && (s->flags & S_PENDING)) {
				pin_close(d, &s->old);
				s->flags = 0;
			}
		}
		s->cur.in_port = in_port;
		s->cur.in_rtcp = in_rtcp;
		ok = pin_alloc(d, m->index, &s->cur, msg->now) == 0;
	}
	if (!ok) {
		memset(&s->cur, 0, sizeof(s->cur));
		sd.pinhole_failed++;
		return -1;
	}
	m->ext_port = s->cur.ext_port;
	m->ext_rtcp_port = in_rtcp ? s->cur.ext_rtcp : (m->rtcp_port == m->port ? s->cur.ext_port : 0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Registrations.                                                      */

static void reg_describe(const struct sip_reg *r, char *out, size_t cap)
{
	uint8_t a[4];
	char *p = out;
	static const char prefix[] = "sip reg ";
	memcpy(a, &r->registrar, 4);
	out[0] = 0;
	if (cap < sizeof(prefix) + 16)
		return;
	memcpy(p, prefix, sizeof(prefix) - 1);
	p += sizeof(prefix) - 1;
	for (unsigned i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		if (i < 3)
			*p++ = '.';
	}
	*p = 0;
}

static void reg_fw_remove(struct sip_reg *r)
{
	if (r->fw)
		fw_remove(r->ext_port, r->ext_port, r->inside_addr, r->inside_port);
	r->fw = 0;
}

static void reg_end(struct sip_reg *r)
{
	reg_fw_remove(r);
	r->used = 0;
}

static struct sip_reg *reg_find(const struct sip_dialog_msg *msg)
{
	for (unsigned i = 0; i < sd.config.max_registrations; i++) {
		struct sip_reg *r = &sd.regs[i];
		if (r->used && r->inside_addr == msg->inside_addr && r->inside_port == msg->inside_port
		    && r->registrar == msg->remote_addr)
			return r;
	}
	return NULL;
}

static struct sip_reg *reg_new(const struct sip_dialog_msg *msg)
{
	for (unsigned i = 0; i < sd.config.max_registrations; i++) {
		struct sip_reg *r = &sd.regs[i];
		if (r->used && passed(msg->now, r->expires))
			reg_end(r);
		if (!r->used) {
			memset(r, 0, sizeof(*r));
			r->used = 1;
			r->inside_addr = msg->inside_addr;
			r->inside_port = msg->inside_port;
			r->registrar = msg->remote_addr;
			r->req_expires = -1;
			r->expires = msg->now + REG_PENDING;
			return r;
		}
	}
	sd.pool_full++;
	return NULL;
}

static void reg_after(const struct sip_dialog_msg *msg, const struct sip_info *info)
{
	struct sip_reg *r;
	uint32_t life;
	int32_t exp;
	char desc[NAPT_DESCRIPTION_MAX];

	if (msg->proto != NAPT_PROTO_UDP || !msg->inside_addr || !msg->inside_port)
		return;
	r = reg_find(msg);
	if (r && passed(msg->now, r->expires)) {
		reg_end(r);
		r = NULL;
	}
	if (info->is_request) {
		if (msg->dir != SIP_OUTBOUND)
			return;
		if (!r && !(r = reg_new(msg)))
			return;
		r->req_expires = info->expires;
		return;
	}
	if (msg->dir != SIP_INBOUND || info->status < 200 || info->status >= 300)
		return;
	exp = info->expires >= 0 ? info->expires : (r && r->req_expires >= 0 ? r->req_expires : (int32_t)REG_DEFAULT);
	if (exp == 0) {
		if (r)
			reg_end(r);
		return;
	}
	if (!r && !(r = reg_new(msg)))
		return;
	life = (uint32_t)exp < MAX_LIFETIME ? (uint32_t)exp : MAX_LIFETIME;
	if (r->fw && r->ext_port != msg->ext_port)
		reg_fw_remove(r);   /* the SIP flow's mapping moved */
	r->ext_port = msg->ext_port;
	r->active = 1;
	r->expires = msg->now + life + REG_SLACK;
	reg_describe(r, desc, sizeof(desc));
	if (msg->ext_port
	    && fw_put(msg->ext_port, msg->ext_port, r->inside_addr, r->inside_port, r->registrar, r->expires, desc) == 0)
		r->fw = 1;
	else {
		r->fw = 0;
		sd.pinhole_failed++;
	}
}

/* ------------------------------------------------------------------ */
/* After a message.                                                    */

void sip_dialog_after(const struct sip_dialog_msg *msg, const struct sip_info *info)
{
	struct sip_dialog *d;
	if (!sd.ready || !msg || !info || !info->call_id)
		return;
	if (info->method == SIP_M_REGISTER) {
		reg_after(msg, info);
		return;
	}
	d = dialog_find(info, msg->inside_addr, msg->now);
	if (info->is_request) {
		switch (info->method) {
		case SIP_M_BYE:
			if (d)
				dialog_end(d);
			return;
		case SIP_M_CANCEL:
			/* A CANCEL of a re-INVITE (confirmed dialog) ends only that transaction: its 487 rolls back. */
			if (d && !d->confirmed)
				dialog_end(d);
			return;
		case SIP_M_INVITE:
			if (!d && !(d = dialog_new(msg, info)))
				return;
			if (!d->confirmed && !d->has_init) {
				d->has_init = 1;
				d->init_cseq = info->cseq;
				d->init_dir = (uint8_t)msg->dir;
			}
			break;
		default:
			if (!d)
				return;
			break;
		}
	} else {
		if (!d)
			return;
		if (info->status > 100)
			d->answered = 1;   /* ringing, session progress, a final answer: a live call, not junk */
		if (info->method == SIP_M_INVITE && info->status >= 300) {
			if (!d->confirmed) {
				/* The initial INVITE failed (when we know which one it was, only its response counts). */
				if (!d->has_init || (info->cseq == d->init_cseq && (uint8_t)msg->dir != d->init_dir)) {
					dialog_end(d);
					return;
				}
			}
		}
		if ((info->method == SIP_M_INVITE || info->method == SIP_M_UPDATE) && info->status >= 200) {
			if (info->method == SIP_M_INVITE && info->status < 300)
				d->confirmed = 1;
			if (d->pending && msg->dir == SIP_INBOUND && info->cseq == d->pending_cseq) {
				if (info->status < 300)
					offer_commit(d);
				else
					offer_rollback(d);
			}
		}
	}
	/* The phone's SDP: streams it no longer has close (or, in an offer, will close when accepted). */
	if (msg->dir == SIP_OUTBOUND && info->has_sdp && sdp_method(info)) {
		int pending = offer_pending(d, msg, info);
		if (pending)
			begin_offer(d, info);
		for (unsigned k = 0; k < SIP_MEDIA_MAX; k++) {
			if (k >= info->media_count || info->media[k].port == 0)
				stream_drop(d, &d->streams[k], pending);
		}
	}
	dialog_touch(d, msg->now);
}

/* ------------------------------------------------------------------ */
/* Time, flush, looking.                                               */

void sip_dialog_tick(uint32_t now)
{
	if (!sd.ready)
		return;
	for (unsigned i = 0; i < sd.config.max_dialogs; i++) {
		struct sip_dialog *d = &sd.dialogs[i];
		if (d->used && passed(now, d->expires))
			dialog_end(d);
	}
	for (unsigned i = 0; i < sd.config.max_registrations; i++) {
		struct sip_reg *r = &sd.regs[i];
		if (r->used && passed(now, r->expires))
			reg_end(r);
	}
}

void sip_dialog_flush(void)
{
	if (!sd.ready)
		return;
	for (unsigned i = 0; i < sd.config.max_dialogs; i++)
		if (sd.dialogs[i].used)
			dialog_end(&sd.dialogs[i]);
	for (unsigned i = 0; i < sd.config.max_registrations; i++)
		if (sd.regs[i].used)
			reg_end(&sd.regs[i]);
}

static uint32_t pin_forwards(const struct sip_dialog *d, const struct sip_pin *p)
{
	if (!p->in_port || !p->ext_port)
		return 0;
	if (pin_paired(p))
		return (uint32_t)fw_ours(p->ext_port, p->ext_rtcp, d->inside_addr, p->in_port);
	return (uint32_t)fw_ours(p->ext_port, p->ext_port, d->inside_addr, p->in_port)
	       + (uint32_t)(p->in_rtcp && fw_ours(p->ext_rtcp, p->ext_rtcp, d->inside_addr, p->in_rtcp));
}

void sip_dialog_get_stats(struct sip_dialog_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	if (!sd.ready)
		return;
	stats->dialogs_max = sd.config.max_dialogs;
	stats->registrations_max = sd.config.max_registrations;
	for (unsigned i = 0; i < sd.config.max_dialogs; i++) {
		const struct sip_dialog *d = &sd.dialogs[i];
		if (!d->used)
			continue;
		stats->dialogs++;
		for (unsigned k = 0; k < SIP_MEDIA_MAX; k++)
			stats->pinholes += pin_forwards(d, &d->streams[k].cur) + pin_forwards(d, &d->streams[k].old);
	}
	for (unsigned i = 0; i < sd.config.max_registrations; i++) {
		const struct sip_reg *r = &sd.regs[i];
		/* A REGISTER still waiting for its answer holds a slot but is not a registration yet. */
		if (!r->used || !r->active)
			continue;
		stats->registrations++;
		if (r->fw && fw_ours(r->ext_port, r->ext_port, r->inside_addr, r->inside_port))
			stats->pinholes++;
	}
	stats->dialogs_created = sd.dialogs_created;
	stats->dialogs_ended = sd.dialogs_ended;
	stats->pool_full = sd.pool_full;
	stats->pinhole_failed = sd.pinhole_failed;
	stats->evicted = sd.evicted;
}

static uint32_t left(uint32_t now, uint32_t expires)
{
	return passed(now, expires) ? 0 : expires - now;
}

int sip_dialog_next(uint32_t *cursor, uint32_t now, struct sip_dialog_info *info)
{
	if (!sd.ready)
		return 0;
	for (uint32_t i = *cursor; i < sd.config.max_dialogs; i++) {
		const struct sip_dialog *d = &sd.dialogs[i];
		size_t n;
		if (!d->used)
			continue;
		memset(info, 0, sizeof(*info));
		n = d->call_id_len < sizeof(info->call_id) - 1 ? d->call_id_len : sizeof(info->call_id) - 1;
		if (n > SIP_CALL_ID_MAX)
			n = SIP_CALL_ID_MAX;
		memcpy(info->call_id, d->call_id, n);
		info->call_id[n] = 0;
		info->inside_addr = d->inside_addr;
		info->remote_addr = d->remote_addr;
		info->confirmed = d->confirmed;
		for (unsigned k = 0; k < SIP_MEDIA_MAX; k++) {
			const struct sip_pin *p = &d->streams[k].cur;
			if (!p->in_port || !p->ext_port)
				continue;
			info->streams++;
			info->ext_ports[k] = p->ext_port;
			info->inside_ports[k] = p->in_port;
		}
		info->expires_in = left(now, d->expires);
		*cursor = i + 1;
		return 1;
	}
	*cursor = sd.config.max_dialogs;
	return 0;
}

int sip_registration_next(uint32_t *cursor, uint32_t now, struct sip_registration_info *info)
{
	if (!sd.ready)
		return 0;
	for (uint32_t i = *cursor; i < sd.config.max_registrations; i++) {
		const struct sip_reg *r = &sd.regs[i];
		if (!r->used || !r->active)
			continue;
		memset(info, 0, sizeof(*info));
		info->inside_addr = r->inside_addr;
		info->registrar = r->registrar;
		info->inside_port = r->inside_port;
		info->ext_port = r->ext_port;
		info->expires_in = left(now, r->expires);
		*cursor = i + 1;
		return 1;
	}
	*cursor = sd.config.max_registrations;
	return 0;
}
