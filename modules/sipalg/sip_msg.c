/*
 * SIP message layer (sip_msg.h): framing, the headers and SDP lines the ALG
 * cares about, and the rewrite.
 *
 * One pass over the message finds every literal to replace and records it
 * as an edit (offset, length, kind) in message order; ports whose value
 * depends on the media callback are recorded as placeholders. The output
 * length is then known before anything is written: it is checked against
 * out_cap once with every external media port reckoned at 5 digits (so the
 * callback only runs for a rewrite that will be made), once exactly, and
 * the output is written in one copy that skips over the edits.
 *
 * Everything is read with explicit bounds: the input is never assumed to be
 * NUL-terminated, no loop runs past its end, and there is no recursion.
 */
#include "sip_msg.h"

#include <string.h>

#if SIP_MEDIA_MAX > 8
#error "stream bit masks are 8 bits wide"
#endif

enum { ST_OK, ST_MORE, ST_BAD };

/* Lengths are returned as long and edits hold 32-bit offsets: both fit below this on any target. */
#define LEN_MAX 0x7fffffffu

enum kind {
	K_HOST,       /* an address literal: becomes the target address */
	K_PORT,       /* a port: becomes the target port */
	K_PORT_ADD,   /* after a host without a port: ":port" is inserted */
	K_MPORT,      /* an m= port, arg = stream: its external port, if it got one */
	K_RTCP,       /* an a=rtcp port, arg = stream: likewise */
	K_CLEN,       /* Content-Length digits: the new body length, if it changed */
	K_CLEN_ADD,   /* no Content-Length: one is inserted if anything changed */
};

struct edit {
	uint32_t off;
	uint16_t len;   /* bytes of input replaced */
	uint8_t kind;
	uint8_t arg;    /* SIP_RW_* bit, or the stream for K_MPORT/K_RTCP */
};

/* An address or port as text, the way it is matched and written. */
struct lit {
	uint8_t n;
	char s[15];
};

struct frame {
	size_t start;        /* the start line, after leading CR/LF */
	size_t sl_end;       /* end of the start line's text */
	size_t hdr_end;      /* the blank line */
	size_t body;         /* first byte of the body */
	size_t total;        /* the message's length */
	size_t clen_off, clen_n;   /* Content-Length digits */
	uint32_t clen;
	uint8_t has_clen;
	uint8_t blank_crlf;  /* the blank line is CRLF, not a bare LF */
	uint8_t keepalive;   /* nothing but CR and LF */
	uint8_t is_request;
	uint16_t status;
	size_t method, method_end, uri, uri_end;
};

struct ctx {
	const uint8_t *b;
	const struct sip_rewrite_params *p;
	struct sip_info *info;
	struct lit from_addr, to_addr, from_port, to_port;
	uint16_t from_pnum, to_pnum;
	size_t body, body_end;
	uint32_t old_clen;
	uint32_t new_body;       /* body length after the edits (measure()) */
	uint8_t blank_crlf;      /* for an inserted Content-Length: the line end to use */
	uint8_t changed;
	uint8_t seen;            /* SEEN_* */
	uint8_t ct_sdp, encoded;
	int32_t exp_hdr, exp_first, exp_ours;
	uint8_t eligible, granted;   /* stream bits */
	uint8_t beyond;              /* a stream past SIP_MEDIA_MAX would need a pinhole */
	uint8_t overflow;
	uint8_t cl_edit;         /* index of the K_CLEN/K_CLEN_ADD edit, or SIP_EDIT_MAX */
	uint8_t n;
	struct edit e[SIP_EDIT_MAX];
};

#define SEEN_VIA     0x01u
#define SEEN_FROM    0x02u
#define SEEN_TO      0x04u
#define SEEN_CALLID  0x08u
#define SEEN_CSEQ    0x10u
#define SEEN_CTYPE   0x20u
#define SEEN_CONTACT 0x40u
#define SEEN_OURS    0x80u

/* ---- characters ---- */

static uint8_t lower(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
}

/*
 * Character classes, one table lookup per byte: the scanners below run over
 * every header byte, and a chain of comparisons per byte was a quarter of
 * the rewrite's cost.
 */
#define C_DIGIT 0x01u   /* 0-9 */
#define C_ALPHA 0x02u   /* a-z A-Z */
#define C_TOKEN 0x04u   /* RFC 3261 token */
#define C_HOST  0x08u   /* hostname or IPv4 literal: alnum . - */
#define C_LWS   0x10u   /* SP HT CR LF: folds are CRLF + SP, so CR and LF count */
#define C_ITEM  0x20u   /* what item_end() must look at: " < > , */

#define D C_DIGIT | C_TOKEN | C_HOST
#define L C_ALPHA | C_TOKEN | C_HOST
#define T C_TOKEN
static const uint8_t cls[256] = {
	['\t'] = C_LWS, ['\n'] = C_LWS, ['\r'] = C_LWS, [' '] = C_LWS,
	['"'] = C_ITEM, ['<'] = C_ITEM, ['>'] = C_ITEM, [','] = C_ITEM,
	['!'] = T, ['%'] = T, ['\''] = T, ['*'] = T, ['+'] = T, ['-'] = T | C_HOST, ['.'] = T | C_HOST,
	['_'] = T, ['`'] = T, ['~'] = T,
	['0'] = D, ['1'] = D, ['2'] = D, ['3'] = D, ['4'] = D, ['5'] = D, ['6'] = D, ['7'] = D, ['8'] = D, ['9'] = D,
	['A'] = L, ['B'] = L, ['C'] = L, ['D'] = L, ['E'] = L, ['F'] = L, ['G'] = L, ['H'] = L, ['I'] = L,
	['J'] = L, ['K'] = L, ['L'] = L, ['M'] = L, ['N'] = L, ['O'] = L, ['P'] = L, ['Q'] = L, ['R'] = L,
	['S'] = L, ['T'] = L, ['U'] = L, ['V'] = L, ['W'] = L, ['X'] = L, ['Y'] = L, ['Z'] = L,
	['a'] = L, ['b'] = L, ['c'] = L, ['d'] = L, ['e'] = L, ['f'] = L, ['g'] = L, ['h'] = L, ['i'] = L,
	['j'] = L, ['k'] = L, ['l'] = L, ['m'] = L, ['n'] = L, ['o'] = L, ['p'] = L, ['q'] = L, ['r'] = L,
	['s'] = L, ['t'] = L, ['u'] = L, ['v'] = L, ['w'] = L, ['x'] = L, ['y'] = L, ['z'] = L,
};
#undef D
#undef L
#undef T

static int is_digit(uint8_t ch)
{
	return cls[ch] & C_DIGIT;
}

static int is_tok(uint8_t ch)
{
	return cls[ch] & C_TOKEN;
}

static int is_host(uint8_t ch)
{
	return cls[ch] & C_HOST;
}

static int is_lws(uint8_t ch)
{
	return cls[ch] & C_LWS;
}

/* p[0..n) equals the lower-case literal lit[0..litn), ignoring case. */
static int ieq(const uint8_t *p, size_t n, const char *lit, size_t litn)
{
	size_t i;
	if (n != litn)
		return 0;
	for (i = 0; i < n; i++)
		if (lower(p[i]) != (uint8_t)lit[i])
			return 0;
	return 1;
}

#define IEQ(p, n, lit) ieq((p), (n), lit, sizeof(lit) - 1)

static size_t skip_lws(const uint8_t *b, size_t p, size_t e)
{
	while (p < e && is_lws(b[p]))
		p++;
	return p;
}

static size_t skip_tok(const uint8_t *b, size_t p, size_t e)
{
	while (p < e && is_tok(b[p]))
		p++;
	return p;
}

static size_t skip_host(const uint8_t *b, size_t p, size_t e)
{
	while (p < e && is_host(b[p]))
		p++;
	return p;
}

static size_t skip_digits(const uint8_t *b, size_t p, size_t e)
{
	while (p < e && is_digit(b[p]))
		p++;
	return p;
}

/* The offset just past the quoted string opening at p, or 0 if it is not closed. */
static size_t quoted_end(const uint8_t *b, size_t p, size_t e)
{
	for (p++; p < e; p++) {
		if (b[p] == '\\')
			p++;
		else if (b[p] == '"')
			return p + 1;
	}
	return 0;
}

/* The end of the comma-separated value starting at p: commas in quotes or <> do not count. */
static size_t item_end(const uint8_t *b, size_t p, size_t e)
{
	int angle = 0;
	while (p < e) {
		uint8_t ch = b[p];
		if (!(cls[ch] & C_ITEM)) {
			p++;
			continue;
		}
		if (ch == '"') {
			size_t q = quoted_end(b, p, e);
			if (!q)
				return e;
			p = q;
			continue;
		}
		if (ch == '<')
			angle = 1;
		else if (ch == '>')
			angle = 0;
		else if (ch == ',' && !angle)
			return p;
		p++;
	}
	return e;
}

/* Decimal digits [p, e) to *v, saturating at max; 0 if there are none or anything else. */
static int number(const uint8_t *b, size_t p, size_t e, uint32_t max, uint32_t *v)
{
	uint32_t x = 0;
	if (p >= e)
		return 0;
	for (; p < e; p++) {
		if (!is_digit(b[p]))
			return 0;
		x = (x > (max - (uint32_t)(b[p] - '0')) / 10) ? max : x * 10 + (uint32_t)(b[p] - '0');
	}
	*v = x;
	return 1;
}

static uint8_t fmt_u32(uint32_t v, char *s)
{
	char t[10];
	uint8_t n = 0, i;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		s[i] = t[n - 1 - i];
	return n;
}

static void lit_addr(struct lit *l, uint32_t addr)
{
	uint8_t x[4];
	int i;
	memcpy(x, &addr, 4);
	l->n = 0;
	for (i = 0; i < 4; i++) {
		if (i)
			l->s[l->n++] = '.';
		l->n = (uint8_t)(l->n + fmt_u32(x[i], l->s + l->n));
	}
}

static void lit_port(struct lit *l, uint16_t port)
{
	l->n = fmt_u32(port, l->s);
}

static int lit_is(const struct lit *l, const uint8_t *b, size_t p, size_t e)
{
	return e - p == l->n && memcmp(b + p, l->s, l->n) == 0;
}

/* A dotted-quad [p, e) as a network-order address (info only: any spelling). */
static int parse_ipv4(const uint8_t *b, size_t p, size_t e, uint32_t *addr)
{
	uint8_t x[4];
	int i;
	for (i = 0; i < 4; i++) {
		size_t d = p;
		uint32_t v;
		p = skip_digits(b, p, e);
		if (p == d || p - d > 3 || !number(b, d, p, 999, &v) || v > 255)
			return 0;
		x[i] = (uint8_t)v;
		if (i < 3) {
			if (p >= e || b[p] != '.')
				return 0;
			p++;
		}
	}
	if (p != e)
		return 0;
	memcpy(addr, x, 4);
	return 1;
}

/* ---- edits ---- */

static void add(struct ctx *c, size_t off, size_t len, enum kind kind, uint8_t arg)
{
	struct edit *e;
	if (c->n >= SIP_EDIT_MAX) {
		c->overflow = 1;
		return;
	}
	e = &c->e[c->n++];
	e->off = (uint32_t)off;
	e->len = (uint16_t)len;
	e->kind = (uint8_t)kind;
	e->arg = arg;
}

/*
 * A host [h, he) with a port [pp, pe) (pp == pe: none) where dflt is the
 * port meant by none. If it is the endpoint being rewritten, record the
 * edits; returns whether it was.
 */
static int hostport(struct ctx *c, size_t h, size_t he, size_t pp, size_t pe, uint16_t dflt, uint8_t bit)
{
	if (!lit_is(&c->from_addr, c->b, h, he))
		return 0;
	if (pe > pp) {
		if (!lit_is(&c->from_port, c->b, pp, pe))
			return 0;
		add(c, h, he - h, K_HOST, bit);
		add(c, pp, pe - pp, K_PORT, bit);
	} else {
		if (c->from_pnum != dflt)
			return 0;
		add(c, h, he - h, K_HOST, bit);
		if (c->to_pnum != dflt)
			add(c, he, 0, K_PORT_ADD, bit);
	}
	return 1;
}

/* A SIP URI [s, e) (no angle brackets): its host and port, if it is the endpoint. */
static int uri(struct ctx *c, size_t s, size_t e, uint8_t bit)
{
	const uint8_t *b = c->b;
	const uint8_t *at;
	size_t p, h, he, pp, pe;
	uint16_t dflt;
	if (e - s >= 4 && IEQ(b + s, 4, "sip:")) {
		p = s + 4;
		dflt = 5060;
	} else if (e - s >= 5 && IEQ(b + s, 5, "sips:")) {
		p = s + 5;
		dflt = 5061;
	} else {
		return 0;
	}
	/* userinfo cannot hold a raw '@' (RFC 3261 25.1), so the first one ends it */
	at = memchr(b + p, '@', e - p);
	h = at ? (size_t)(at - b) + 1 : p;
	he = skip_host(b, h, e);
	if (he == h)
		return 0;
	pp = pe = he;
	if (he < e && b[he] == ':') {
		pp = he + 1;
		pe = skip_digits(b, pp, e);
		if (pe == pp)
			return 0;
	}
	if (pe < e && b[pe] != ';' && b[pe] != '?')
		return 0;
	return hostport(c, h, he, pp, pe, dflt, bit);
}

/*
 * One name-addr or addr-spec value [s, e) (Contact, From, To): rewrite its
 * URI if it names the endpoint. Returns where its header params start;
 * *matched says whether it named the endpoint.
 */
static size_t name_addr(struct ctx *c, size_t s, size_t e, uint8_t bit, int *matched)
{
	const uint8_t *b = c->b;
	size_t p = skip_lws(b, s, e), q;
	*matched = 0;
	if (p < e && b[p] == '*')
		return e;
	for (q = p; q < e && b[q] != '<'; q++) {
		if (b[q] == '"') {
			size_t r = quoted_end(b, q, e);
			if (!r)
				return e;
			q = r - 1;
		}
	}
	if (q < e) {
		const uint8_t *gt = memchr(b + q + 1, '>', e - q - 1);
		if (!gt)
			return e;
		*matched = uri(c, skip_lws(b, q + 1, (size_t)(gt - b)), (size_t)(gt - b), bit);
		return (size_t)(gt - b) + 1;
	}
	/* a bare addr-spec cannot contain ';' or ',' (RFC 3261 20): params follow them */
	for (q = p; q < e && b[q] != ';' && b[q] != ',' && !is_lws(b[q]); q++)
		;
	*matched = uri(c, p, q, bit);
	return q;
}

/* The value of the "expires" param among the params at [p, e); -1 if none. */
static int32_t param_expires(const uint8_t *b, size_t p, size_t e)
{
	for (;;) {
		size_t n, ne, v = 0, ve = 0;
		uint32_t x;
		p = skip_lws(b, p, e);
		if (p >= e || b[p] != ';')
			return -1;
		n = skip_lws(b, p + 1, e);
		ne = skip_tok(b, n, e);
		p = skip_lws(b, ne, e);
		if (p < e && b[p] == '=') {
			v = skip_lws(b, p + 1, e);
			if (v < e && b[v] == '"') {
				ve = quoted_end(b, v, e);
				if (!ve)
					return -1;
			} else {
				ve = skip_tok(b, v, e);
			}
			p = ve;
		}
		if (ne > n && IEQ(b + n, ne - n, "expires") && ve > v && number(b, v, ve, INT32_MAX, &x))
			return (int32_t)x;
		if (p == n)   /* nothing was consumed: not a param */
			return -1;
	}
}

/* ---- the start line ---- */

static const char sipver[] = "sip/2.0";

/*
 * Checks the start line [s, e); complete says whether its end was seen.
 * A partial line is ST_MORE unless what is there already cannot start a
 * start line, so that garbage is recognised early.
 */
static int start_line(const uint8_t *b, size_t s, size_t e, int complete, struct frame *f)
{
	const int end = complete ? ST_BAD : ST_MORE;
	size_t i = s, k;
	for (k = 0; k < 4 && s + k < e && lower(b[s + k]) == (uint8_t)sipver[k]; k++)
		;
	if (k == 4) {   /* a response: a method cannot contain '/' */
		for (i = s; i < s + 7; i++) {
			if (i == e)
				return end;
			if (lower(b[i]) != (uint8_t)sipver[i - s])
				return ST_BAD;
		}
		if (i == e)
			return end;
		if (b[i++] != ' ')
			return ST_BAD;
		f->status = 0;
		for (k = 0; k < 3; k++, i++) {
			if (i == e)
				return end;
			if (!is_digit(b[i]) || (k == 0 && (b[i] < '1' || b[i] > '6')))
				return ST_BAD;
			f->status = (uint16_t)(f->status * 10 + (b[i] - '0'));
		}
		if (i < e && b[i] != ' ')
			return ST_BAD;
		f->is_request = 0;
		return complete ? ST_OK : ST_MORE;
	}
	f->method = i;
	i = skip_tok(b, i, e);
	if (i == e)
		return end;
	if (i == s || b[i] != ' ')
		return ST_BAD;
	f->method_end = i++;
	f->uri = i;
	while (i < e && b[i] > ' ' && b[i] != 0x7f)
		i++;
	if (i == e)
		return end;
	if (i == f->uri || b[i] != ' ')
		return ST_BAD;
	f->uri_end = i++;
	for (k = 0; k < 7; k++, i++) {
		if (i == e)
			return end;
		if (lower(b[i]) != (uint8_t)sipver[k])
			return ST_BAD;
	}
	if (i != e)
		return ST_BAD;
	f->is_request = 1;
	return complete ? ST_OK : ST_MORE;
}

/*
 * The line at pos: its text is [pos, *end) (without CRLF or LF), the next
 * line starts at *next. ST_MORE if its LF has not arrived yet, ST_BAD if it
 * holds a bare CR.
 */
static int line_at(const uint8_t *b, size_t pos, size_t len, size_t *end, size_t *next)
{
	const uint8_t *lf = memchr(b + pos, '\n', len - pos);
	size_t e = lf ? (size_t)(lf - b) : len;
	*next = lf ? e + 1 : len;
	if (e > pos && b[e - 1] == '\r')
		e--;
	*end = e;
	if (e > pos && memchr(b + pos, '\r', e - pos))
		return ST_BAD;
	return lf ? ST_OK : ST_MORE;
}

/* ---- headers ---- */

enum hdr {
	H_OTHER, H_VIA, H_CONTACT, H_FROM, H_TO, H_CALLID, H_CSEQ,
	H_CLEN, H_CTYPE, H_CENC, H_EXPIRES,
};

static enum hdr header_id(const uint8_t *n, size_t len)
{
	switch (len) {
	case 1:
		switch (lower(n[0])) {
		case 'v': return H_VIA;
		case 'm': return H_CONTACT;
		case 'f': return H_FROM;
		case 't': return H_TO;
		case 'i': return H_CALLID;
		case 'l': return H_CLEN;
		case 'c': return H_CTYPE;
		case 'e': return H_CENC;
		default: return H_OTHER;
		}
	case 2:
		return IEQ(n, len, "to") ? H_TO : H_OTHER;
	case 3:
		return IEQ(n, len, "via") ? H_VIA : H_OTHER;
	case 4:
		if (IEQ(n, len, "from"))
			return H_FROM;
		return IEQ(n, len, "cseq") ? H_CSEQ : H_OTHER;
	case 7:
		if (IEQ(n, len, "contact"))
			return H_CONTACT;
		if (IEQ(n, len, "call-id"))
			return H_CALLID;
		return IEQ(n, len, "expires") ? H_EXPIRES : H_OTHER;
	case 12:
		return IEQ(n, len, "content-type") ? H_CTYPE : H_OTHER;
	case 14:
		return IEQ(n, len, "content-length") ? H_CLEN : H_OTHER;
	case 16:
		return IEQ(n, len, "content-encoding") ? H_CENC : H_OTHER;
	default:
		return H_OTHER;
	}
}

static uint8_t method_id(const uint8_t *m, size_t n)
{
	/* methods are case-sensitive (RFC 3261 7.1) */
	switch (n) {
	case 3:
		if (!memcmp(m, "ACK", 3))
			return SIP_M_ACK;
		if (!memcmp(m, "BYE", 3))
			return SIP_M_BYE;
		break;
	case 5:
		if (!memcmp(m, "PRACK", 5))
			return SIP_M_PRACK;
		break;
	case 6:
		if (!memcmp(m, "INVITE", 6))
			return SIP_M_INVITE;
		if (!memcmp(m, "CANCEL", 6))
			return SIP_M_CANCEL;
		if (!memcmp(m, "UPDATE", 6))
			return SIP_M_UPDATE;
		break;
	case 7:
		if (!memcmp(m, "OPTIONS", 7))
			return SIP_M_OPTIONS;
		break;
	case 8:
		if (!memcmp(m, "REGISTER", 8))
			return SIP_M_REGISTER;
		break;
	default:
		break;
	}
	return SIP_M_OTHER;
}

/* The topmost Via value [v, e): its sent-by, and inbound its received/rport. */
static void via(struct ctx *c, size_t v, size_t e)
{
	const uint8_t *b = c->b;
	size_t ie = item_end(b, v, e), p = skip_lws(b, v, ie), t = p, te = p, h, he, pp, pe;
	uint16_t dflt = 5060;
	int i;
	if (c->p->dir == SIP_INBOUND && c->info->is_request)
		return;   /* the far end's own Via */
	/* sent-protocol: name SLASH version SLASH transport, with SWS around the slashes */
	for (i = 0; i < 3; i++) {
		if (i) {
			if (p >= ie || b[p] != '/')
				return;
			p = skip_lws(b, p + 1, ie);
		}
		t = p;
		p = te = skip_tok(b, p, ie);
		if (te == t)
			return;
		p = skip_lws(b, p, ie);
	}
	if (IEQ(b + t, te - t, "tls"))
		dflt = 5061;
	if (p == te)   /* LWS must separate sent-protocol and sent-by */
		return;
	h = p;
	he = skip_host(b, h, ie);
	if (he == h)
		return;
	pp = pe = he;
	p = skip_lws(b, he, ie);
	if (p < ie && b[p] == ':') {
		pp = skip_lws(b, p + 1, ie);
		pe = skip_digits(b, pp, ie);
		if (pe == pp)
			return;
		p = skip_lws(b, pe, ie);
	}
	if (p < ie && b[p] != ';')
		return;
	if (!hostport(c, h, he, pp, pe, dflt, SIP_RW_VIA) || c->p->dir != SIP_INBOUND)
		return;
	/* RFC 3581: what the server saw is the outside address; the phone sees its own */
	while (p < ie && b[p] == ';') {
		size_t n = skip_lws(b, p + 1, ie), ne = skip_tok(b, n, ie), pv = 0, pve = 0;
		if (ne == n)
			return;
		p = skip_lws(b, ne, ie);
		if (p < ie && b[p] == '=') {
			pv = skip_lws(b, p + 1, ie);
			if (pv < ie && b[pv] == '"') {
				pve = quoted_end(b, pv, ie);
				if (!pve)
					return;
			} else {
				pve = skip_tok(b, pv, ie);
			}
			p = skip_lws(b, pve, ie);
		}
		if (p < ie && b[p] != ';')
			return;
		if (IEQ(b + n, ne - n, "received") && lit_is(&c->from_addr, b, pv, pve))
			add(c, pv, pve - pv, K_HOST, SIP_RW_VIA);
		else if (IEQ(b + n, ne - n, "rport") && lit_is(&c->from_port, b, pv, pve))
			add(c, pv, pve - pv, K_PORT, SIP_RW_VIA);
	}
}

static void contacts(struct ctx *c, size_t v, size_t e)
{
	size_t p = v;
	while (p < e) {
		size_t ie = item_end(c->b, p, e), ps;
		int matched;
		int32_t x;
		ps = name_addr(c, p, ie, SIP_RW_CONTACT, &matched);
		x = param_expires(c->b, ps, ie);
		if (!(c->seen & SEEN_CONTACT)) {
			c->seen |= SEEN_CONTACT;
			c->exp_first = x;
		}
		if (matched && !(c->seen & SEEN_OURS)) {
			c->seen |= SEEN_OURS;
			c->exp_ours = x;
		}
		p = ie + 1;
	}
}

static void header(struct ctx *c, const struct frame *f, enum hdr id, size_t v, size_t e)
{
	const uint8_t *b = c->b;
	struct sip_info *info = c->info;
	int matched;
	size_t p, q;
	uint32_t x;
	switch (id) {
	case H_VIA:
		if (!(c->seen & SEEN_VIA)) {
			c->seen |= SEEN_VIA;
			via(c, v, e);
		}
		break;
	case H_CONTACT:
		contacts(c, v, e);
		break;
	case H_FROM:
		if (!(c->seen & SEEN_FROM)) {
			c->seen |= SEEN_FROM;
			(void)name_addr(c, v, item_end(b, v, e), SIP_RW_FROM, &matched);
		}
		break;
	case H_TO:
		if (!(c->seen & SEEN_TO)) {
			c->seen |= SEEN_TO;
			(void)name_addr(c, v, item_end(b, v, e), SIP_RW_TO, &matched);
		}
		break;
	case H_CALLID:
		if (!(c->seen & SEEN_CALLID)) {
			c->seen |= SEEN_CALLID;
			p = skip_lws(b, v, e);
			for (q = e; q > p && is_lws(b[q - 1]); q--)
				;
			info->call_id = b + p;
			info->call_id_len = (uint16_t)(q - p > SIP_CALL_ID_MAX ? SIP_CALL_ID_MAX : q - p);
		}
		break;
	case H_CSEQ:
		if (!(c->seen & SEEN_CSEQ)) {
			c->seen |= SEEN_CSEQ;
			p = skip_lws(b, v, e);
			q = skip_digits(b, p, e);
			if (q - p > 10 || !number(b, p, q, UINT32_MAX, &x))
				break;
			info->cseq = x;
			p = skip_lws(b, q, e);
			if (p == q)
				break;
			q = skip_tok(b, p, e);
			if (q > p && !info->is_request)
				info->method = method_id(b + p, q - p);
		}
		break;
	case H_CLEN:
		c->cl_edit = c->n;
		add(c, f->clen_off, f->clen_n, K_CLEN, 0);
		break;
	case H_CTYPE:
		if (!(c->seen & SEEN_CTYPE)) {
			c->seen |= SEEN_CTYPE;
			p = skip_lws(b, v, e);
			q = skip_tok(b, p, e);
			if (!IEQ(b + p, q - p, "application"))
				break;
			p = skip_lws(b, q, e);
			if (p >= e || b[p] != '/')
				break;
			p = skip_lws(b, p + 1, e);
			q = skip_tok(b, p, e);
			if (!IEQ(b + p, q - p, "sdp"))
				break;
			p = skip_lws(b, q, e);
			c->ct_sdp = p == e || b[p] == ';';
		}
		break;
	case H_CENC:
		p = skip_lws(b, v, e);
		for (q = e; q > p && is_lws(b[q - 1]); q--)
			;
		if (q > p && !IEQ(b + p, q - p, "identity"))
			c->encoded = 1;
		break;
	case H_EXPIRES:
		p = skip_lws(b, v, e);
		for (q = e; q > p && is_lws(b[q - 1]); q--)
			;
		if (c->exp_hdr < 0 && number(b, p, q, INT32_MAX, &x))
			c->exp_hdr = (int32_t)x;
		break;
	default:
		break;
	}
}

/* A whole header [n, e): Content-Length is framing, the rest is for the rewrite. */
static int flush(const uint8_t *b, struct frame *f, struct ctx *c, size_t n, size_t nl, size_t v, size_t e)
{
	enum hdr id = header_id(b + n, nl);
	if (id == H_CLEN) {
		size_t p = skip_lws(b, v, e), q = skip_digits(b, p, e);
		if (f->has_clen || q == p || q - p > 9 || skip_lws(b, q, e) != e)
			return -1;   /* two lengths, or none we can read: framing would be a guess */
		(void)number(b, p, q, UINT32_MAX, &f->clen);
		f->clen_off = p;
		f->clen_n = q - p;
		f->has_clen = 1;
	}
	if (c)
		header(c, f, id, v, e);
	return 0;
}

/*
 * Frames the message at the start of b: start line, headers (handed to the
 * rewrite when c is given), body. Returns its length or a sip_result.
 */
static long frame(const uint8_t *b, size_t len, int stream, struct frame *f, struct ctx *c)
{
	size_t pos = 0, end, next, n = 0, nl = 0, hl = 0, v = 0, ve = 0;
	int have = 0, r, s;
	memset(f, 0, sizeof(*f));
	if (len > LEN_MAX)
		return SIP_UNPARSEABLE;
	while (pos < len && (b[pos] == '\r' || b[pos] == '\n'))
		pos++;
	if (pos == len) {
		if (!len)
			return SIP_INCOMPLETE;
		f->keepalive = 1;
		f->total = len;
		return (long)len;
	}
	f->start = pos;
	r = line_at(b, pos, len, &end, &next);
	if (r == ST_BAD)
		return SIP_UNPARSEABLE;
	s = start_line(b, pos, end, r == ST_OK, f);
	if (s == ST_BAD)
		return SIP_UNPARSEABLE;
	if (s == ST_MORE)
		return SIP_INCOMPLETE;
	f->sl_end = end;
	if (c) {
		struct sip_info *info = c->info;
		info->is_request = f->is_request;
		info->status = f->status;
		if (f->is_request) {
			info->method = method_id(b + f->method, f->method_end - f->method);
			(void)uri(c, f->uri, f->uri_end, SIP_RW_URI);
		}
	}
	for (pos = next;; pos = next) {
		size_t i;
		r = line_at(b, pos, len, &end, &next);
		if (r == ST_BAD)
			return SIP_UNPARSEABLE;
		if (end == pos) {
			if (r == ST_MORE)
				return SIP_INCOMPLETE;
			break;   /* the blank line */
		}
		if (b[pos] == ' ' || b[pos] == '\t') {
			/* a fold: part of the header above, and not blank (that would be ambiguous) */
			if (!have || (r == ST_OK && skip_lws(b, pos, end) == end))
				return SIP_UNPARSEABLE;
			ve = end;
			if (r == ST_MORE)
				return SIP_INCOMPLETE;
			continue;
		}
		i = skip_tok(b, pos, end);
		nl = i - pos;
		if (i < end && i > pos)
			while (i < end && (b[i] == ' ' || b[i] == '\t'))
				i++;
		if (i == end && r == ST_MORE)
			return SIP_INCOMPLETE;
		if (i == pos || i == end || b[i] != ':')
			return SIP_UNPARSEABLE;
		if (r == ST_MORE)
			return SIP_INCOMPLETE;
		if (have && flush(b, f, c, n, hl, v, ve))
			return SIP_UNPARSEABLE;
		n = pos;
		hl = nl;
		v = i + 1;
		ve = end;
		have = 1;
	}
	if (have && flush(b, f, c, n, hl, v, ve))
		return SIP_UNPARSEABLE;
	f->hdr_end = pos;
	f->body = next;
	f->blank_crlf = next - pos == 2;
	if (f->has_clen) {
		if (f->clen > len - next)
			return SIP_INCOMPLETE;
		f->total = next + f->clen;
	} else if (stream) {
		return SIP_UNPARSEABLE;   /* RFC 3261 18.3: required on a stream, or framing is lost */
	} else {
		f->total = len;
	}
	return (long)f->total;
}

long sip_message_length(const uint8_t *buf, size_t len, int stream)
{
	struct frame f;
	return frame(buf, len, stream, &f, NULL);
}

/* ---- SDP ---- */

/* The next SP/HT-separated field of [*p, e). */
static int field(const uint8_t *b, size_t *p, size_t e, size_t *fs, size_t *fe)
{
	size_t i = *p;
	while (i < e && (b[i] == ' ' || b[i] == '\t'))
		i++;
	*fs = i;
	while (i < e && b[i] != ' ' && b[i] != '\t')
		i++;
	*fe = i;
	*p = i;
	return i > *fs;
}

enum { CONN_NONE, CONN_INSIDE, CONN_OTHER };

/*
 * "IN IP4 address..." at [p, e): CONN_INSIDE if the address is the one
 * being rewritten, with its span in [*as, *ae); *addr gets an IPv4
 * address, else 0. With slash set, the address ends at '/' (c= TTL and
 * count).
 */
static int sdp_address(const struct ctx *c, size_t p, size_t e, int slash, uint32_t *addr,
                       size_t *as, size_t *ae)
{
	const uint8_t *b = c->b;
	size_t fs, fe, a;
	*addr = 0;
	if (!field(b, &p, e, &fs, &fe) || !IEQ(b + fs, fe - fs, "in"))
		return CONN_OTHER;
	if (!field(b, &p, e, &fs, &fe) || !IEQ(b + fs, fe - fs, "ip4"))
		return CONN_OTHER;
	if (!field(b, &p, e, &fs, &fe))
		return CONN_OTHER;
	if (slash)
		for (a = fs; a < fe; a++)
			if (b[a] == '/') {
				fe = a;
				break;
			}
	if (!parse_ipv4(b, fs, fe, addr))
		*addr = 0;
	*as = fs;
	*ae = fe;
	return lit_is(&c->from_addr, b, fs, fe) ? CONN_INSIDE : CONN_OTHER;
}

/* The same, rewriting the address (outbound) where it is the inside one. */
static int sdp_conn(struct ctx *c, size_t p, size_t e, int slash, uint32_t *addr)
{
	size_t as, ae;
	int r = sdp_address(c, p, e, slash, addr, &as, &ae);
	if (r == CONN_INSIDE && c->p->dir == SIP_OUTBOUND)
		add(c, as, ae - as, K_HOST, SIP_RW_SDP);
	return r;
}

/* m=<media> <port>[/<count>] ...: stream k */
static void sdp_media(struct ctx *c, size_t p, size_t le, unsigned k)
{
	const uint8_t *b = c->b;
	struct sip_media *m = &c->info->media[k];
	size_t fs, fe, d;
	uint32_t port;
	m->index = (uint8_t)k;
	if (!field(b, &p, le, &fs, &fe) || !field(b, &p, le, &fs, &fe))
		return;
	d = skip_digits(b, fs, fe);
	if (d - fs > 5 || (d < fe && b[d] != '/') || !number(b, fs, d, UINT32_MAX, &port) || port > 65535)
		return;
	m->port = (uint16_t)port;
	m->rtcp_port = (uint16_t)(port + 1);
	if (port && c->p->dir == SIP_OUTBOUND)
		add(c, fs, d - fs, K_MPORT, (uint8_t)k);
}

/* a=rtcp:<port> [IN IP4 <address>] (RFC 3605) in stream k; first says it is the stream's first. */
static void sdp_rtcp(struct ctx *c, size_t p, size_t le, unsigned k, int first)
{
	const uint8_t *b = c->b;
	size_t d = skip_digits(b, p, le), q = d, fs, fe, as = 0, ae = 0;
	uint32_t port, a;
	int where = CONN_NONE;
	if (d - p > 5 || !number(b, p, d, UINT32_MAX, &port) || port > 65535
	    || (d < le && b[d] != ' ' && b[d] != '\t'))
		return;
	if (field(b, &q, le, &fs, &fe))
		where = sdp_address(c, d, le, 0, &a, &as, &ae);
	if (first && k < SIP_MEDIA_MAX) {
		struct sip_media *m = &c->info->media[k];
		m->explicit_rtcp = 1;
		if (where == CONN_OTHER) {
			m->rtcp_port = 0;
		} else {
			m->rtcp_port = (uint16_t)port;
			if (c->p->dir == SIP_OUTBOUND)
				add(c, p, d - p, K_RTCP, (uint8_t)k);
		}
	}
	if (where == CONN_INSIDE && c->p->dir == SIP_OUTBOUND)
		add(c, as, ae - as, K_HOST, SIP_RW_SDP);
}

/* The port of an m= line (p after "m="), 0 when none can be read. */
static uint32_t mline_port(const uint8_t *b, size_t p, size_t le)
{
	size_t fs, fe, d;
	uint32_t port;
	if (!field(b, &p, le, &fs, &fe) || !field(b, &p, le, &fs, &fe))
		return 0;
	d = skip_digits(b, fs, fe);
	if (d - fs > 5 || (d < fe && b[d] != '/') || !number(b, fs, d, UINT32_MAX, &port) || port > 65535)
		return 0;
	return port;
}

static void sdp(struct ctx *c, size_t s, size_t e)
{
	const uint8_t *b = c->b;
	struct sip_info *info = c->info;
	uint8_t conn[SIP_MEDIA_MAX];
	uint8_t sess = CONN_NONE, rtcp_seen = 0;
	uint32_t sess_addr = 0, media_addr = 0, a;
	int media_conn_seen = 0;
	unsigned streams = 0, k;
	size_t pos = s, next, le, p, fs, fe;
	/* The stream past SIP_MEDIA_MAX being read: its port and c=; whether any such needs a pinhole. */
	uint32_t far_port = 0;
	uint8_t far_conn = CONN_NONE, far_need = 0;
	memset(conn, 0, sizeof(conn));
	for (; pos < e; pos = next) {
		const uint8_t *lf = memchr(b + pos, '\n', e - pos);
		le = lf ? (size_t)(lf - b) : e;
		next = lf ? le + 1 : e;
		if (le > pos && b[le - 1] == '\r')
			le--;
		if (le - pos < 2 || b[pos + 1] != '=')
			continue;
		p = pos + 2;
		switch (b[pos]) {
		case 'o':
			/* username sess-id sess-version, then the address as in c= */
			if (!streams && field(b, &p, le, &fs, &fe) && field(b, &p, le, &fs, &fe)
			    && field(b, &p, le, &fs, &fe))
				(void)sdp_conn(c, p, le, 0, &a);
			break;
		case 'c':
			if (!streams) {
				if (sess == CONN_NONE)
					sess = (uint8_t)sdp_conn(c, p, le, 1, &sess_addr);
				else
					(void)sdp_conn(c, p, le, 1, &a);
			} else {
				uint8_t st = (uint8_t)sdp_conn(c, p, le, 1, &a);
				if (!media_conn_seen) {
					media_conn_seen = 1;
					media_addr = a;
				}
				if (streams <= SIP_MEDIA_MAX && conn[streams - 1] == CONN_NONE)
					conn[streams - 1] = st;
				else if (streams > SIP_MEDIA_MAX && far_conn == CONN_NONE)
					far_conn = st;
			}
			break;
		case 'm':
			if (streams > SIP_MEDIA_MAX && far_port && (far_conn != CONN_NONE ? far_conn : sess) == CONN_INSIDE)
				far_need = 1;
			k = streams++;
			if (k < SIP_MEDIA_MAX)
				sdp_media(c, p, le, k);
			else {
				far_port = mline_port(b, p, le);
				far_conn = CONN_NONE;
			}
			break;
		case 'a':
			/* media level only */
			if (!streams || le - p < 5 || !IEQ(b + p, 5, "rtcp:"))
				break;
			k = streams - 1;
			sdp_rtcp(c, p + 5, le, k, k < SIP_MEDIA_MAX && !(rtcp_seen & (1u << k)));
			if (k < SIP_MEDIA_MAX)
				rtcp_seen = (uint8_t)(rtcp_seen | (1u << k));
			break;
		default:
			break;
		}
	}
	if (streams > SIP_MEDIA_MAX && far_port && (far_conn != CONN_NONE ? far_conn : sess) == CONN_INSIDE)
		far_need = 1;
	info->media_count = (uint8_t)(streams > SIP_MEDIA_MAX ? SIP_MEDIA_MAX : streams);
	info->sdp_addr = sess != CONN_NONE ? sess_addr : media_addr;
	if (c->p->dir != SIP_OUTBOUND || !c->p->media)
		return;
	c->beyond = far_need;
	for (k = 0; k < info->media_count; k++) {
		uint8_t st = conn[k] != CONN_NONE ? conn[k] : sess;
		if (st == CONN_INSIDE && info->media[k].port)
			c->eligible = (uint8_t)(c->eligible | (1u << k));
	}
}

/* ---- output ---- */

enum { WORST, EXACT };

/*
 * The text edit e puts in place of its input bytes, into t; its length, or
 * -1 to keep the input. WORST reckons every eligible stream's ports at 5
 * digits (an upper bound, before the callback has chosen them).
 */
static int repl(const struct ctx *c, const struct edit *e, int mode, char *t)
{
	const struct sip_media *m;
	uint8_t bit;
	int n;
	switch (e->kind) {
	case K_HOST:
		memcpy(t, c->to_addr.s, c->to_addr.n);
		return c->to_addr.n;
	case K_PORT:
		memcpy(t, c->to_port.s, c->to_port.n);
		return c->to_port.n;
	case K_PORT_ADD:
		t[0] = ':';
		memcpy(t + 1, c->to_port.s, c->to_port.n);
		return 1 + c->to_port.n;
	case K_MPORT:
	case K_RTCP:
		bit = (uint8_t)(1u << e->arg);
		m = &c->info->media[e->arg];
		if (mode == WORST) {
			if (!(c->eligible & bit))
				return -1;
			memcpy(t, "99999", 5);
			return 5;
		}
		if (!(c->granted & bit))
			return -1;
		if (e->kind == K_MPORT)
			return fmt_u32(m->ext_port, t);
		return m->ext_rtcp_port ? fmt_u32(m->ext_rtcp_port, t) : -1;
	case K_CLEN:
		return c->new_body == c->old_clen ? -1 : fmt_u32(c->new_body, t);
	case K_CLEN_ADD:
		if (!c->changed)
			return -1;
		memcpy(t, "Content-Length: ", 16);
		n = 16 + fmt_u32(c->new_body, t + 16);
		if (c->blank_crlf)
			t[n++] = '\r';
		t[n++] = '\n';
		return n;
	default:
		return -1;
	}
}

static uint8_t rw_bit(const struct edit *e)
{
	switch (e->kind) {
	case K_HOST:
	case K_PORT:
	case K_PORT_ADD:
		return e->arg;
	case K_MPORT:
	case K_RTCP:
		return SIP_RW_MEDIA;
	default:
		return 0;
	}
}

/* The output's length; sets changed, new_body and (EXACT) info->rewrote. */
static size_t measure(struct ctx *c, int mode, size_t in_len)
{
	char t[32];
	size_t total = in_len;
	long body_delta = 0;
	unsigned i;
	c->changed = 0;
	for (i = 0; i < c->n; i++) {
		const struct edit *e = &c->e[i];
		int n;
		if (i == c->cl_edit)
			continue;
		n = repl(c, e, mode, t);
		if (n < 0)
			continue;
		if ((size_t)n == e->len && memcmp(t, c->b + e->off, e->len) == 0 && mode == EXACT)
			continue;
		c->changed = 1;
		if (mode == EXACT)
			c->info->rewrote = (uint8_t)(c->info->rewrote | rw_bit(e));
		total = total + (size_t)n - e->len;
		if (e->off >= c->body)
			body_delta += (long)n - (long)e->len;
	}
	c->new_body = (uint32_t)((long)(c->body_end - c->body) + body_delta);
	if (c->cl_edit < c->n) {
		int n = repl(c, &c->e[c->cl_edit], mode, t);
		if (n >= 0)
			total = total + (size_t)n - c->e[c->cl_edit].len;
	}
	return total;
}

static long emit(const struct ctx *c, uint8_t *out, size_t out_cap, size_t in_len)
{
	char t[32];
	size_t o = 0, pos = 0;
	unsigned i;
	for (i = 0; i < c->n; i++) {
		const struct edit *e = &c->e[i];
		int n = repl(c, e, EXACT, t);
		if (n < 0)
			continue;
		if (e->off < pos || o + (e->off - pos) + (size_t)n > out_cap)
			return SIP_TOO_BIG;   /* cannot happen: measure() said it fits */
		memcpy(out + o, c->b + pos, e->off - pos);
		o += e->off - pos;
		memcpy(out + o, t, (size_t)n);
		o += (size_t)n;
		pos = e->off + e->len;
	}
	if (o + (in_len - pos) > out_cap)
		return SIP_TOO_BIG;
	memcpy(out + o, c->b + pos, in_len - pos);
	return (long)(o + in_len - pos);
}

long sip_rewrite(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                 const struct sip_rewrite_params *params, struct sip_info *info)
{
	struct ctx c;
	struct frame f;
	long r;
	unsigned k;
	const struct sip_endpoint *from, *to;

	memset(info, 0, sizeof(*info));
	info->expires = -1;
	c.b = in;
	c.p = params;
	c.info = info;
	from = params->dir == SIP_OUTBOUND ? &params->inside : &params->outside;
	to = params->dir == SIP_OUTBOUND ? &params->outside : &params->inside;
	lit_addr(&c.from_addr, from->addr);
	lit_addr(&c.to_addr, to->addr);
	lit_port(&c.from_port, from->port);
	lit_port(&c.to_port, to->port);
	c.from_pnum = from->port;
	c.to_pnum = to->port;
	c.seen = c.ct_sdp = c.encoded = 0;
	c.exp_hdr = c.exp_first = c.exp_ours = -1;
	c.eligible = c.granted = c.beyond = 0;
	c.overflow = 0;
	c.n = 0;
	c.cl_edit = SIP_EDIT_MAX;

	r = frame(in, in_len, 0, &f, &c);
	if (r < 0)
		return r;
	if ((size_t)r != in_len)
		return SIP_UNPARSEABLE;
	c.body = f.body;
	c.body_end = f.total;
	c.old_clen = f.clen;
	c.blank_crlf = f.blank_crlf;
	if (!f.keepalive) {
		if (c.seen & SEEN_OURS)
			info->expires = c.exp_ours >= 0 ? c.exp_ours : c.exp_hdr;
		else if (c.seen & SEEN_CONTACT)
			info->expires = c.exp_first >= 0 ? c.exp_first : c.exp_hdr;
		else
			info->expires = c.exp_hdr;
		if (!f.has_clen) {
			c.cl_edit = c.n;
			add(&c, f.hdr_end, 0, K_CLEN_ADD, 0);
		}
		if (c.ct_sdp && !c.encoded && f.total > f.body) {
			info->has_sdp = 1;
			sdp(&c, f.body, f.total);
		}
	}
	if (c.overflow || measure(&c, WORST, in_len) > out_cap)
		return SIP_TOO_BIG;
	/* Streams past the first SIP_MEDIA_MAX that need ports: all or nothing, so nothing (and no pinhole asked for). */
	if (c.beyond)
		return SIP_NO_MEDIA;
	for (k = 0; k < info->media_count; k++) {
		struct sip_media *m = &info->media[k];
		int r;
		if (!(c.eligible & (1u << k)))
			continue;
		m->ext_port = m->ext_rtcp_port = 0;
		r = params->media(params->media_ctx, info, m);
		if (r == 0 && m->ext_port)
			c.granted = (uint8_t)(c.granted | (1u << k));
		else {
			m->ext_port = m->ext_rtcp_port = 0;
			if (r < 0)
				return SIP_NO_MEDIA;   /* no pinhole: the message goes on as the phone wrote it */
		}
	}
	(void)measure(&c, EXACT, in_len);
	info->changed = c.changed;
	return emit(&c, out, out_cap, in_len);
}
