/*
 * libFuzzer harness for the SIP ALG's message layer (modules/sipalg).
 *
 * Input: [ctl][ports][offset][rest...]
 *   ctl bit 0: direction (1 = inbound); bit 1: structured mode; bits 2-3:
 *   which streams the media callback refuses (none, odd, all, even);
 *   bits 4-6: out_cap (from far too small to plenty).
 *   ports: low nibble the inside SIP port, high nibble the outside one
 *   (from a table with the defaults in it); offset: ext = port + 1000*offset.
 *
 * Raw mode: rest is the message. Every buffer is malloc'd at exactly its
 * length (ASan sees any access outside), and:
 *   - sip_message_length() agrees with itself (stream or not) and with what
 *     sip_rewrite() accepts: a measured message is rewritten, SIP_TOO_BIG or
 *     SIP_NO_MEDIA (a stream refused, or too many streams), never refused;
 *     a rewritten buffer is exactly one measured message;
 *   - the result is <= out_cap, negative when nothing could be parsed, and
 *     the callback never ran for a negative result but SIP_NO_MEDIA;
 *   - an unchanged output is a copy; a changed one frames again with a
 *     Content-Length equal to its body (also as a stream);
 *   - outbound never adds an inside address literal, inbound never adds an
 *     outside one; a second rewrite the same way changes nothing;
 *   - an inbound rewrite of an outbound rewrite restores the Request-URI it
 *     rewrote (and the top Via, checked in structured mode).
 * Structured mode: rest are choices for a generator that writes a message
 * (headers in every form the rules cover, SDP with up to 10 streams) and,
 * separately, the exact output the rules in sip_msg.h call for; the rewrite
 * must produce it byte for byte and call the callback for exactly the
 * streams the rules name.
 */
#include "sip_msg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint16_t port_table[16] = {
	5060, 5060, 5060, 40000, 5062, 5061, 1, 65535, 5060, 10000, 40001, 5080, 2, 5060, 33333, 5061,
};

static const char INSIDE_TXT[] = "192.168.4.2";
static const char OUTSIDE_TXT[] = "198.51.100.10";

static uint32_t addr_of(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

/* ---- the media callback ---- */

struct cb {
	int calls;
	unsigned refuse;   /* stream bits */
	uint16_t offset;
	unsigned streams;  /* bits of the streams it was called for */
};

static int media_cb(void *ctx, const struct sip_info *info, struct sip_media *m)
{
	struct cb *c = ctx;
	if (m < info->media || m >= info->media + SIP_MEDIA_MAX || m->index >= info->media_count
	    || m != &info->media[m->index] || m->port == 0)
		abort();   /* called for something that is not one of the message's streams */
	c->calls++;
	c->streams |= 1u << m->index;
	if (c->refuse & (1u << m->index))
		return -1;
	m->ext_port = (uint16_t)(m->port + c->offset);
	m->ext_rtcp_port = m->rtcp_port ? (uint16_t)(m->rtcp_port + c->offset) : 0;
	return m->ext_port ? 0 : -1;
}

static unsigned refuse_mask(unsigned sel)
{
	static const unsigned masks[4] = { 0, 0xaa, 0xff, 0x55 };
	return masks[sel & 3];
}

struct setup {
	struct sip_rewrite_params p;
	struct cb cb;
	size_t slack_sel;
};

static void params_for(struct setup *s, enum sip_dir dir)
{
	memset(&s->p, 0, sizeof(s->p));
	s->p.dir = dir;
	s->p.inside.addr = addr_of(192, 168, 4, 2);
	s->p.outside.addr = addr_of(198, 51, 100, 10);
	s->p.media = media_cb;
	s->p.media_ctx = &s->cb;
}

static uint8_t *copy(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		abort();
	memcpy(b, p, n);
	return b;
}

static size_t count(const uint8_t *b, size_t n, const char *s)
{
	size_t k = strlen(s), i, c = 0;
	for (i = 0; i + k <= n; i++)
		if (!memcmp(b + i, s, k))
			c++;
	return c;
}

static size_t lead(const uint8_t *b, size_t n)
{
	size_t i = 0;
	while (i < n && (b[i] == '\r' || b[i] == '\n'))
		i++;
	return i;
}

/* The first line after any leading CR/LF: [*s, *s + return) */
static size_t first_line(const uint8_t *b, size_t n, size_t *s)
{
	const uint8_t *lf;
	*s = lead(b, n);
	lf = memchr(b + *s, '\n', n - *s);
	return lf ? (size_t)(lf - b) - *s : n - *s;
}

/* The header starting at line 2 (after the start line) up to its last fold: [*s, *s + return). */
static size_t second_header(const uint8_t *b, size_t n, size_t *s)
{
	size_t p;
	*s = 0;
	p = *s + first_line(b, n, s) + 1;
	*s = p;
	for (; p < n; p++)
		if (b[p] == '\n' && (p + 1 >= n || (b[p + 1] != ' ' && b[p + 1] != '\t')))
			return p - *s;
	return n - *s;
}

/*
 * a[sa..+na) is x[sx..+nx) restored: equal, or with ":<port>" inserted once
 * (a port-less literal came back with the inside port written out).
 */
static int restored(const uint8_t *a, size_t na, const uint8_t *x, size_t nx, uint16_t port)
{
	char ins[8];
	size_t k, i;
	if (na == nx)
		return memcmp(a, x, na) == 0;
	k = (size_t)snprintf(ins, sizeof(ins), ":%u", port);
	if (na != nx + k)
		return 0;
	for (i = 0; i < nx && a[i] == x[i]; i++)
		;
	return memcmp(a + i, ins, k) == 0 && memcmp(a + i + k, x + i, nx - i) == 0;
}

/*
 * The rewrite of in[0..n) into a buffer of exactly cap bytes, with every
 * check that needs no knowledge of the message. Returns the result; the
 * output in *outp (freed by the caller) when >= 0.
 */
static long checked_rewrite(const uint8_t *in, size_t n, size_t cap, struct setup *s, struct sip_info *info, uint8_t **outp)
{
	uint8_t *out = malloc(cap ? cap : 1);
	long r, ml;
	const char *own = s->p.dir == SIP_OUTBOUND ? INSIDE_TXT : OUTSIDE_TXT;
	if (!out)
		abort();
	s->cb.calls = 0;
	s->cb.streams = 0;
	r = sip_rewrite(in, n, out, cap, &s->p, info);
	if (r > (long)cap || r < SIP_NO_MEDIA)
		abort();
	if (r < 0 && r != SIP_NO_MEDIA && s->cb.calls)
		abort();   /* pinholes opened for a rewrite that was not made */
	if (r == SIP_NO_MEDIA && (!s->p.media || s->p.dir != SIP_OUTBOUND || !info->has_sdp))
		abort();   /* no media callback ran or could have */
	if (info->media_count > SIP_MEDIA_MAX || info->call_id_len > SIP_CALL_ID_MAX)
		abort();
	if (info->call_id && (info->call_id < in || info->call_id + info->call_id_len > in + n))
		abort();
	ml = sip_message_length(in, n, 0);
	if (r >= 0 && ml != (long)n)
		abort();   /* rewrote something that is not exactly one message */
	if (ml == (long)n && (r == SIP_INCOMPLETE || r == SIP_UNPARSEABLE))
		abort();   /* refused a message sip_message_length() accepted */
	if (r >= 0) {
		if (!info->changed && (r != (long)n || memcmp(out, in, n)))
			abort();
		if (info->changed) {
			if (sip_message_length(out, (size_t)r, 0) != r || sip_message_length(out, (size_t)r, 1) != r)
				abort();   /* the output does not frame, or its Content-Length is wrong */
			if (count(out, (size_t)r, own) > count(in, n, own))
				abort();   /* a literal of the side being hidden was added */
		}
		if ((s->cb.streams & ~((1u << info->media_count) - 1)) != 0)
			abort();
	}
	*outp = out;
	return r;
}

/* A second rewrite the same way must change nothing. */
static void check_idempotent(const uint8_t *out, size_t n, struct setup *s)
{
	struct sip_info info;
	uint8_t *in2 = copy(out, n), *out2;
	long r = checked_rewrite(in2, n, n + 64, s, &info, &out2);
	if (r != (long)n || info.changed || s->cb.calls)
		abort();
	free(in2);
	free(out2);
}

/* Outbound then inbound: the Request-URI (request) or top Via (response) the outbound rewrite changed comes back. */
static void check_round_trip(const uint8_t *x, size_t xn, const uint8_t *y, size_t yn, struct setup *s, int via_too)
{
	struct setup back = *s;
	struct sip_info info;
	uint8_t *yin = copy(y, yn), *z;
	size_t xs, ys, zs, xl, yl, zl;
	long r;
	params_for(&back, SIP_INBOUND);
	back.p.inside = s->p.inside;
	back.p.outside = s->p.outside;
	r = checked_rewrite(yin, yn, yn + 256, &back, &info, &z);
	if (r == SIP_TOO_BIG) {   /* more outside literals than edits: refused whole, fine */
		free(yin);
		free(z);
		return;
	}
	if (r < 0)
		abort();   /* the outbound output must be readable */
	xl = first_line(x, xn, &xs);
	yl = first_line(y, yn, &ys);
	zl = first_line(z, (size_t)r, &zs);
	if (info.is_request && (xl != yl || memcmp(x + xs, y + ys, xl))
	    && !restored(z + zs, zl, x + xs, xl, s->p.inside.port))
		abort();
	if (via_too && !info.is_request) {
		xl = second_header(x, xn, &xs);
		yl = second_header(y, yn, &ys);
		zl = second_header(z, (size_t)r, &zs);
		if ((xl != yl || memcmp(x + xs, y + ys, xl)) && !restored(z + zs, zl, x + xs, xl, s->p.inside.port))
			abort();
	}
	free(yin);
	free(z);
}

static size_t cap_for(size_t n, unsigned sel)
{
	static const int slack[8] = { -100, -10, -1, 0, 3, 20, 200, 4000 };
	long c = (long)n + slack[sel & 7];
	return c < 0 ? 0 : (size_t)c;
}

static void raw(const uint8_t *data, size_t size, struct setup *s, unsigned cap_sel)
{
	uint8_t *in = copy(data, size), *out;
	struct sip_info info;
	long l0 = sip_message_length(in, size, 0), l1 = sip_message_length(in, size, 1), r;
	if (l0 > (long)size || l1 > (long)size || l0 == 0 || l1 == 0)
		abort();
	if (l1 > 0 && l0 != l1)
		abort();   /* a stream-framed message frames the same way as a datagram */
	if (l1 > 0) {
		/* every prefix of a framed message is incomplete, or a keep-alive unit */
		size_t cut = (size_t)l1 * (size > 0 ? data[size - 1] : 0) / 256;
		if (cut && cut < (size_t)l1) {
			uint8_t *pre = copy(in, cut);
			long lp = sip_message_length(pre, cut, 1);
			if (lp != SIP_INCOMPLETE && !(lp == (long)cut && lead(pre, cut) == cut))
				abort();
			free(pre);
		}
	}
	r = checked_rewrite(in, size, cap_for(size, cap_sel), s, &info, &out);
	if (r >= 0) {
		check_idempotent(out, (size_t)r, s);
		if (s->p.dir == SIP_OUTBOUND)
			check_round_trip(in, size, out, (size_t)r, s, 0);
	}
	free(out);
	if (l0 > 0 && l0 < (long)size) {
		/* the measured message alone is what the rewrite accepts */
		uint8_t *msg = copy(in, (size_t)l0);
		r = checked_rewrite(msg, (size_t)l0, (size_t)l0 + 4096, s, &info, &out);
		if (r < 0 && r != SIP_TOO_BIG && r != SIP_NO_MEDIA)
			abort();
		free(out);
		free(msg);
	}
	free(in);
}

/* ---- structured mode: a message and the output the rules call for ---- */

struct gen {
	const uint8_t *d;
	size_t n, i;
	/* the message X and the expected output Y */
	char x[8192], y[8192];
	size_t xn, yn;
	int overflow;
	int changed;
	/* the endpoint rewritten, and what it becomes */
	const char *from_addr, *to_addr;
	uint16_t from_port, to_port;
	int outbound;
	struct cb expect;
	/* bounds on the replacements the rewrite needs (SIP_EDIT_MAX applies) */
	unsigned edits_min, edits_max;
	/* SIP_NO_MEDIA expected: a stream refused (the callback stops there), or one past SIP_MEDIA_MAX needing a pinhole */
	int refused, beyond;
};

static unsigned pick(struct gen *g, unsigned k)
{
	if (g->i >= g->n)
		return 0;
	return g->d[g->i++] % k;
}

/* Whether to add one more of something (never once the choices have run out). */
static int more(struct gen *g, unsigned k, unsigned *left)
{
	if (g->i >= g->n || !*left)
		return 0;
	--*left;
	return pick(g, k) == 0;
}

static void put(char *b, size_t *n, int *overflow, const char *s, size_t k)
{
	if (*n + k > 8192) {
		*overflow = 1;
		return;
	}
	memcpy(b + *n, s, k);
	*n += k;
}

static void both(struct gen *g, const char *s)
{
	put(g->x, &g->xn, &g->overflow, s, strlen(s));
	put(g->y, &g->yn, &g->overflow, s, strlen(s));
}

static void two(struct gen *g, const char *xs, const char *ys)
{
	put(g->x, &g->xn, &g->overflow, xs, strlen(xs));
	put(g->y, &g->yn, &g->overflow, ys, strlen(ys));
	if (strcmp(xs, ys))
		g->changed = 1;
}

static void bothf(struct gen *g, const char *fmt, unsigned v)
{
	char t[64];
	snprintf(t, sizeof(t), fmt, v);
	both(g, t);
}

/*
 * host[:port]. rewritable: this place is one the rules rewrite. Returns
 * whether the rules rewrite it (it names the endpoint).
 */
static int hostport(struct gen *g, int rewritable, uint16_t dflt, int spaced)
{
	static const char *const others[] = { "203.0.113.10", "pbx.example.com", "192.168.4.20", "198.51.100.100", "10.0.0.1" };
	unsigned h = pick(g, 4), pc = pick(g, 4);
	const char *host = h == 0 ? g->from_addr : h == 1 ? g->to_addr : others[pick(g, 5)];
	unsigned port = pc == 1 ? g->from_port : pc == 2 ? g->to_port : 5070;
	const char *colon = spaced ? " : " : ":";
	char xs[64], ys[64];
	int match = rewritable && h == 0 && ((pc != 0 && port == g->from_port) || (pc == 0 && g->from_port == dflt));
	if (pc)
		snprintf(xs, sizeof(xs), "%s%s%u", host, colon, port);
	else
		snprintf(xs, sizeof(xs), "%s", host);
	if (!match) {
		two(g, xs, xs);
		return 0;
	}
	g->edits_min += 1;
	g->edits_max += 2;
	if (pc)
		snprintf(ys, sizeof(ys), "%s%s%u", g->to_addr, colon, g->to_port);
	else if (g->to_port != dflt)
		snprintf(ys, sizeof(ys), "%s:%u", g->to_addr, g->to_port);
	else
		snprintf(ys, sizeof(ys), "%s", g->to_addr);
	two(g, xs, ys);
	return 1;
}

/* A SIP URI. */
static int sip_uri(struct gen *g, int rewritable)
{
	int sips = pick(g, 6) == 0, m;
	both(g, sips ? "sips:" : "sip:");
	if (pick(g, 3))
		both(g, pick(g, 2) ? "alice@" : "192.168.4.2@");
	m = hostport(g, rewritable, sips ? 5061 : 5060, 0);
	switch (pick(g, 4)) {
	case 1: both(g, ";transport=udp"); break;
	case 2: both(g, ";maddr=192.168.4.2;lr"); break;
	case 3: both(g, "?subject=x"); break;
	default: break;
	}
	return m;
}

/* A Contact/From/To value: name-addr or addr-spec, with header params. */
static void name_addr(struct gen *g, int rewritable, int expires)
{
	unsigned form = pick(g, 3);
	if (form == 0) {
		/* addr-spec: what follows a ';' would be a header param, so no URI params */
		both(g, "sip:alice@");
		(void)hostport(g, rewritable, 5060, 0);
	} else {
		both(g, form == 1 ? "\"Al, <ice>\" <" : "Alice <");
		(void)sip_uri(g, rewritable);
		both(g, ">");
	}
	if (expires && pick(g, 2))
		bothf(g, ";expires=%u", pick(g, 200));
	if (pick(g, 2))
		both(g, ";tag=a1");
}

static const char *const via_names[] = { "Via: ", "v: ", "VIA : ", "via:", "Via:\r\n " };
static const char *const contact_names[] = { "Contact: ", "m: ", "CONTACT:", "contact :\r\n\t" };

static void via_value(struct gen *g, int top, int response)
{
	unsigned t = pick(g, 3);
	int m;
	both(g, t == 0 ? "SIP/2.0/UDP" : t == 1 ? "SIP / 2.0 / TCP" : "SIP/2.0/TLS");
	both(g, pick(g, 3) ? " " : "\r\n ");
	m = hostport(g, top && (g->outbound || response), t == 2 ? 5061 : 5060, pick(g, 5) == 0);
	bothf(g, ";branch=z9hG4bK%u", pick(g, 100));
	switch (pick(g, 4)) {
	case 1:
		both(g, ";rport");
		break;
	case 2:
		if (g->outbound) {
			both(g, ";rport=5070;received=203.0.113.10");
		} else {
			/* what the server saw: restored only with the sent-by */
			char xs[64], ys[64];
			snprintf(xs, sizeof(xs), ";rport=%u", g->from_port);
			snprintf(ys, sizeof(ys), ";rport=%u", m ? g->to_port : g->from_port);
			two(g, xs, ys);
			g->edits_min += m ? 2 : 0;
			g->edits_max += m ? 2 : 0;
			snprintf(xs, sizeof(xs), ";received=%s", g->from_addr);
			snprintf(ys, sizeof(ys), ";received=%s", m ? g->to_addr : g->from_addr);
			two(g, xs, ys);
		}
		break;
	case 3:
		both(g, ";received=203.0.113.10");
		break;
	default:
		break;
	}
}

static const char *const sdp_others[] = { "203.0.113.10", "192.168.4.20", "198.51.100.10", "10.0.0.1", "192.168.4.2.example" };

/* An SDP address: 0 the inside address (rewritten outbound), else another. */
static unsigned addr_choice(struct gen *g)
{
	return pick(g, 3) == 0 ? 0 : 1 + pick(g, 5);
}

static void emit_addr(struct gen *g, unsigned a)
{
	if (a == 0) {
		two(g, INSIDE_TXT, g->outbound ? OUTSIDE_TXT : INSIDE_TXT);
		g->edits_min += g->outbound;
		g->edits_max += g->outbound;
	} else
		both(g, sdp_others[a - 1]);
}

/* "<x>" in X and "<y>" in Y, printed from numbers. */
static void two_u(struct gen *g, const char *fmt, unsigned x, unsigned y)
{
	char xs[32], ys[32];
	snprintf(xs, sizeof(xs), fmt, x);
	snprintf(ys, sizeof(ys), fmt, y);
	two(g, xs, ys);
}

/* The SDP body, and in g->expect.streams the streams the callback must see. */
static void sdp(struct gen *g)
{
	unsigned n = pick(g, 11), k, sess = 0, a;
	both(g, "v=0\r\no=- 1 1 IN IP4 ");
	emit_addr(g, addr_choice(g));
	both(g, "\r\ns=-\r\n");
	switch (pick(g, 3)) {
	case 0:
		both(g, "c=IN IP4 ");
		a = addr_choice(g);
		emit_addr(g, a);
		sess = a == 0 ? 1 : 2;
		if (pick(g, 2))
			both(g, "/127");
		both(g, "\r\n");
		break;
	case 1:
		both(g, "c=IN IP6 2001:db8::2\r\n");
		sess = 2;
		break;
	default:
		break;
	}
	both(g, "t=0 0\r\n");
	for (k = 0; k < n; k++) {
		/* every choice first: the rules for the ports depend on the lines after m= */
		unsigned port = pick(g, 5) == 0 ? 0 : 1000u + 2 * pick(g, 250) + (k << 10);
		int count = pick(g, 4) == 0;
		int has_conn = (int)pick(g, 2);
		unsigned conn_a = has_conn ? addr_choice(g) : 0;
		unsigned rtcp = pick(g, 3);   /* none, port only, port and address */
		unsigned rtcp_port = 1u + pick(g, 250) * 257u;
		unsigned rtcp_a = rtcp == 2 ? addr_choice(g) : 0;
		int mux = pick(g, 3) == 0;
		unsigned conn = has_conn ? (conn_a == 0 ? 1 : 2) : sess;
		int eligible = g->outbound && k < SIP_MEDIA_MAX && port && conn == 1;
		uint16_t ext = (uint16_t)(port + g->expect.offset);
		int granted = eligible && !(g->expect.refuse & (1u << k)) && ext != 0;
		int called = eligible && !g->refused;
		uint16_t ext_rtcp = (uint16_t)(rtcp_port + g->expect.offset);
		int rtcp_here = rtcp == 1 || (rtcp == 2 && rtcp_a == 0);
		if (called)
			g->expect.streams |= 1u << k;
		if (called && !granted)
			g->refused = 1;   /* the rewrite stops at the first refusal: the message goes on unchanged */
		if (g->outbound && k >= SIP_MEDIA_MAX && port && conn == 1)
			g->beyond = 1;
		if (g->outbound && k < SIP_MEDIA_MAX)
			g->edits_max += 2;   /* the m= and a=rtcp ports may be placeholders */
		both(g, k & 1 ? "m=video " : "m=audio ");
		two_u(g, "%u", port, granted ? ext : port);
		both(g, count ? "/2 RTP/AVP 0\r\n" : " RTP/AVP 0 101\r\n");
		if (has_conn) {
			both(g, "c=IN IP4 ");
			emit_addr(g, conn_a);
			both(g, "\r\n");
		}
		both(g, "a=rtpmap:101 telephone-event/8000\r\n");
		if (rtcp) {
			two_u(g, "a=rtcp:%u", rtcp_port, granted && rtcp_here && ext_rtcp ? ext_rtcp : rtcp_port);
			if (rtcp == 2) {
				both(g, " IN IP4 ");
				emit_addr(g, rtcp_a);
			}
			both(g, "\r\n");
		}
		if (mux)
			both(g, "a=rtcp-mux\r\n");
	}
}

static void structured(const uint8_t *data, size_t size, struct setup *s, unsigned dir)
{
	static struct gen g;
	char xb[8192], yb[8192], len[48];
	size_t hx, hy, bx, by;
	int response, has_sdp, clen;
	unsigned left, contacts;
	uint8_t *in, *out;
	struct sip_info info;
	long r;
	memset(&g, 0, sizeof(g));
	g.d = data;
	g.n = size;
	g.outbound = dir == SIP_OUTBOUND;
	g.from_addr = g.outbound ? INSIDE_TXT : OUTSIDE_TXT;
	g.to_addr = g.outbound ? OUTSIDE_TXT : INSIDE_TXT;
	g.from_port = g.outbound ? s->p.inside.port : s->p.outside.port;
	g.to_port = g.outbound ? s->p.outside.port : s->p.inside.port;
	g.expect.refuse = s->cb.refuse;
	g.expect.offset = s->cb.offset;

	response = pick(&g, 2);
	if (response) {
		both(&g, pick(&g, 2) ? "SIP/2.0 200 OK\r\n" : "SIP/2.0 183 Session Progress\r\n");
	} else {
		both(&g, pick(&g, 2) ? "INVITE " : "REGISTER ");
		(void)sip_uri(&g, 1);
		both(&g, " SIP/2.0\r\n");
	}
	/* the top Via comes first: the round trip finds it there */
	both(&g, via_names[pick(&g, 5)]);
	via_value(&g, 1, response);
	left = 4;
	while (more(&g, 3, &left)) {
		both(&g, ", ");
		via_value(&g, 0, response);
	}
	both(&g, "\r\n");
	if (pick(&g, 2)) {
		both(&g, "Via: ");
		via_value(&g, 0, response);
		both(&g, "\r\n");
	}
	both(&g, pick(&g, 2) ? "From: " : "f: ");
	name_addr(&g, 1, 0);
	both(&g, "\r\n");
	both(&g, pick(&g, 2) ? "To: " : "t: ");
	name_addr(&g, 1, 0);
	both(&g, "\r\n");
	bothf(&g, "Call-ID: fz%u@192.168.4.2\r\nCSeq: %u INVITE\r\n", pick(&g, 1000));
	contacts = 4;
	while (more(&g, 2, &contacts)) {
		both(&g, contact_names[pick(&g, 4)]);
		name_addr(&g, 1, 1);
		left = 4;
		while (more(&g, 3, &left)) {
			both(&g, ", ");
			name_addr(&g, 1, 1);
		}
		both(&g, "\r\n");
	}
	if (pick(&g, 3) == 0) {
		both(&g, "Record-Route: <sip:");
		(void)hostport(&g, 0, 5060, 0);
		both(&g, ";lr>\r\n");
	}
	has_sdp = pick(&g, 4) != 0;
	if (has_sdp)
		both(&g, pick(&g, 2) ? "Content-Type: application/sdp\r\n" : "c: Application / SDP ; charset=x\r\n");
	clen = (int)pick(&g, 3);   /* 0: none, 1: long form, 2: compact */
	/* headers done: keep them aside while the body is made */
	if (g.overflow)
		return;
	hx = g.xn;
	hy = g.yn;
	memcpy(xb, g.x, hx);
	memcpy(yb, g.y, hy);
	g.xn = g.yn = 0;
	if (has_sdp)
		sdp(&g);
	if (g.overflow || hx + hy + g.xn + g.yn + 200 > 8192)
		return;
	bx = g.xn;
	by = g.yn;
	/* X: headers, length, blank line, body; Y likewise with its own length */
	memmove(g.x + hx + 48, g.x, bx);
	memmove(g.y + hy + 48, g.y, by);
	memcpy(g.x, xb, hx);
	memcpy(g.y, yb, hy);
	{
		size_t lx = 0, ly = 0;
		if (clen) {
			lx = (size_t)snprintf(len, sizeof(len), "%s%zu\r\n", clen == 1 ? "Content-Length: " : "l: ", bx);
			memcpy(g.x + hx, len, lx);
			ly = (size_t)snprintf(len, sizeof(len), "%s%zu\r\n", clen == 1 ? "Content-Length: " : "l: ", by);
			memcpy(g.y + hy, len, ly);
		} else if (g.changed) {
			ly = (size_t)snprintf(len, sizeof(len), "Content-Length: %zu\r\n", by);
			memcpy(g.y + hy, len, ly);
		}
		memcpy(g.x + hx + lx, "\r\n", 2);
		memcpy(g.y + hy + ly, "\r\n", 2);
		memmove(g.x + hx + lx + 2, g.x + hx + 48, bx);
		memmove(g.y + hy + ly + 2, g.y + hy + 48, by);
		g.xn = hx + lx + 2 + bx;
		g.yn = hy + ly + 2 + by;
	}

	in = copy((const uint8_t *)g.x, g.xn);
	r = checked_rewrite(in, g.xn, g.yn + 256, s, &info, &out);
	g.edits_min++;   /* Content-Length */
	g.edits_max++;
	if (r == SIP_TOO_BIG && g.edits_max > SIP_EDIT_MAX) {
		free(in);
		free(out);
		return;
	}
	if (g.edits_min > SIP_EDIT_MAX)
		abort();   /* the rewrite did more than it can have had room for */
	if (g.refused || g.beyond) {
		/* All streams or none: unchanged, no pinhole asked for past a refusal, none at all for too many streams. */
		if (r != SIP_NO_MEDIA || s->cb.streams != (g.beyond ? 0u : g.expect.streams)) {
			fprintf(stderr, "--- message\n%.*s\n--- expected SIP_NO_MEDIA, got %ld\n", (int)g.xn, g.x, r);
			abort();
		}
		free(in);
		free(out);
		return;
	}
	if (r != (long)g.yn || memcmp(out, g.y, g.yn)) {
		fprintf(stderr, "--- message\n%.*s\n--- expected\n%.*s\n--- got (%ld)\n%.*s\n", (int)g.xn, g.x,
		        (int)g.yn, g.y, r, r > 0 ? (int)r : 0, r > 0 ? (const char *)out : "");
		abort();
	}
	if (s->cb.streams != g.expect.streams || !!info.changed != !!g.changed)
		abort();
	check_idempotent(out, (size_t)r, s);
	if (g.outbound)
		check_round_trip(in, g.xn, out, (size_t)r, s, 1);
	free(in);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct setup s;
	unsigned ctl;
	if (size < 3)
		return 0;
	ctl = data[0];
	memset(&s, 0, sizeof(s));
	params_for(&s, (ctl & 1) ? SIP_INBOUND : SIP_OUTBOUND);
	s.p.inside.port = port_table[data[1] & 15];
	s.p.outside.port = port_table[data[1] >> 4];
	s.cb.refuse = refuse_mask(ctl >> 2);
	s.cb.offset = (uint16_t)(1000u * data[2]);
	if (ctl & 2)
		structured(data + 3, size - 3, &s, ctl & 1);
	else
		raw(data + 3, size - 3, &s, (ctl >> 4) & 7);
	return 0;
}
