/*
 * The SIP ALG's message layer (modules/sipalg/sip_msg.c) on a corpus of SIP
 * messages, under AddressSanitizer and UBSan.
 *
 * host-tests/unit/sip/NAME.sip is a message as a phone or server writes it,
 * NAME.out.sip what must come out of the rewrite (none: unchanged). The
 * files have LF line ends for editing; they are read with CRLF, as on the
 * wire. Every message is copied into a buffer of exactly its length and
 * rewritten into one of exactly out_cap bytes, so any access outside either
 * is an ASan error.
 *
 * Addresses: the phone 192.168.4.2:5060 in the LAN, the router's mapping
 * 198.51.100.10:40000 on the WAN, the far end 203.0.113.10. The media
 * callback gives each stream ext_port = port + 10000 and ext_rtcp_port =
 * rtcp_port + 10000 (so the golden files can be checked by eye).
 */
#include "check.h"
#include "sip_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t A(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

#define INSIDE  A(192, 168, 4, 2)
#define OUTSIDE A(198, 51, 100, 10)
#define FAR     A(203, 0, 113, 10)

/* ---- the media callback ---- */

struct calls {
	int n;
	struct sip_media seen[SIP_MEDIA_MAX];
	uint8_t method;
	uint16_t status;
	unsigned refuse;     /* bit k: refuse stream k (no pinhole: -1) */
	unsigned skip;       /* bit k: leave stream k alone (1) */
	uint16_t offset;     /* ext = port + offset */
};

static struct calls calls;

static int media_cb(void *ctx, const struct sip_info *info, struct sip_media *m)
{
	struct calls *c = ctx;
	if (c->n < SIP_MEDIA_MAX)
		c->seen[c->n] = *m;
	c->n++;
	c->method = info->method;
	c->status = info->status;
	if (c->refuse & (1u << m->index))
		return -1;
	if (c->skip & (1u << m->index))
		return 1;
	m->ext_port = (uint16_t)(m->port + c->offset);
	m->ext_rtcp_port = m->rtcp_port ? (uint16_t)(m->rtcp_port + c->offset) : 0;
	return 0;
}

static struct sip_rewrite_params params(enum sip_dir dir, uint16_t in_port, uint16_t out_port)
{
	struct sip_rewrite_params p;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.inside.addr = INSIDE;
	p.inside.port = in_port;
	p.outside.addr = OUTSIDE;
	p.outside.port = out_port;
	p.media = media_cb;
	p.media_ctx = &calls;
	memset(&calls, 0, sizeof(calls));
	calls.offset = 10000;
	return p;
}

/* ---- buffers ---- */

struct buf {
	uint8_t *p;
	size_t n;
};

static struct buf dup(const void *p, size_t n)
{
	struct buf b;
	b.p = malloc(n ? n : 1);
	if (!b.p)
		abort();
	memcpy(b.p, p, n);
	b.n = n;
	return b;
}

static struct buf str(const char *s)
{
	return dup(s, strlen(s));
}

/* sip/<name>, LF turned into CRLF. */
static struct buf load(const char *name)
{
	static char dir[512];
	char path[700];
	static uint8_t raw[16384], crlf[32768];
	size_t n, i, o = 0;
	FILE *f;
	if (!dir[0]) {
		const char *slash = strrchr(__FILE__, '/');
		size_t len = slash ? (size_t)(slash - __FILE__) + 1 : 0;
		memcpy(dir, __FILE__, len);
		memcpy(dir + len, "sip/", 5);
	}
	snprintf(path, sizeof(path), "%s%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	for (i = 0; i < n; i++) {
		if (raw[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = raw[i];
	}
	return dup(crlf, o);
}

static int exists(const char *name)
{
	char path[700];
	const char *slash = strrchr(__FILE__, '/');
	FILE *f;
	snprintf(path, sizeof(path), "%.*ssip/%s", slash ? (int)(slash - __FILE__) + 1 : 0, __FILE__, name);
	f = fopen(path, "rb");
	if (f)
		fclose(f);
	return f != NULL;
}

/* The rewrite into a buffer of exactly cap bytes; the output in *out (free it). */
static long rw(struct buf in, size_t cap, const struct sip_rewrite_params *p, struct sip_info *info, struct buf *out)
{
	long r;
	out->p = malloc(cap ? cap : 1);
	if (!out->p)
		abort();
	r = sip_rewrite(in.p, in.n, out->p, cap, p, info);
	out->n = r > 0 ? (size_t)r : 0;
	return r;
}

static int same(struct buf a, struct buf b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static void show_diff(const char *name, struct buf got, struct buf want)
{
	fprintf(stderr, "%s: output differs from the golden file\n--- got (%zu bytes)\n%.*s\n--- want (%zu bytes)\n%.*s\n",
	        name, got.n, (int)got.n, (const char *)got.p, want.n, (int)want.n, (const char *)want.p);
}

static int contains(struct buf b, const char *s)
{
	size_t n = strlen(s), i;
	for (i = 0; i + n <= b.n; i++)
		if (!memcmp(b.p + i, s, n))
			return 1;
	return 0;
}

/* The last golden() input, kept until the next: info->call_id points into it. */
static struct buf last_in;

/*
 * NAME.sip rewritten in direction dir must give NAME.out.sip (or itself if
 * there is none), parse again with its Content-Length, and be unchanged by
 * a second rewrite the same way (nothing is rewritten twice).
 */
static long golden(const char *name, enum sip_dir dir, struct sip_info *info)
{
	char outname[128];
	struct sip_rewrite_params p = params(dir, 5060, 40000);
	struct buf in = load(name), want, got, again;
	struct sip_info info2;
	struct calls saved;
	long r;
	size_t len = strlen(name) - 4;
	snprintf(outname, sizeof(outname), "%.*s.out.sip", (int)len, name);
	want = exists(outname) ? load(outname) : dup(in.p, in.n);
	CHECK(sip_message_length(in.p, in.n, 0) == (long)in.n);
	r = rw(in, in.n + 256, &p, info, &got);
	CHECK(r == (long)want.n);
	if (!same(got, want))
		show_diff(name, got, want);
	CHECK(same(got, want));
	CHECK(info->changed == !same(in, want));
	CHECK(!info->changed == (info->rewrote == 0));
	if (r > 0) {
		CHECK(sip_message_length(got.p, got.n, 0) == r);
		if (contains(got, "Content-Length") || contains(got, "\nl:"))
			CHECK(sip_message_length(got.p, got.n, 1) == r);
		saved = calls;
		p = params(dir, 5060, 40000);
		CHECK(rw(got, got.n + 256, &p, &info2, &again) == r);
		CHECK(same(again, got));
		CHECK(!info2.changed);
		free(again.p);
		CHECK(calls.n == 0);   /* no stream names the inside address any more */
		calls = saved;
	}
	free(last_in.p);
	last_in = in;
	free(want.p);
	free(got.p);
	return r;
}

/* ---- the tests ---- */

static void test_audio_video(void)
{
	struct sip_info info;
	golden("invite-sdp-audio-video.sip", SIP_OUTBOUND, &info);
	CHECK(info.is_request && info.method == SIP_M_INVITE && info.cseq == 1);
	CHECK(info.call_id_len == 31 && !memcmp(info.call_id, "3848276298220188511@192.168.4.2", 31));
	CHECK(info.has_sdp && info.sdp_addr == INSIDE);
	CHECK(info.media_count == 2);
	/* four ports: audio RTP/RTCP and video RTP/RTCP, as Windows Messenger used */
	CHECK(calls.n == 2);
	CHECK(calls.seen[0].index == 0 && calls.seen[0].port == 7180 && calls.seen[0].rtcp_port == 7181 && !calls.seen[0].explicit_rtcp);
	CHECK(calls.seen[1].index == 1 && calls.seen[1].port == 15010 && calls.seen[1].rtcp_port == 15011);
	CHECK(calls.method == SIP_M_INVITE);
	CHECK(info.media[0].ext_port == 17180 && info.media[0].ext_rtcp_port == 17181);
	CHECK(info.media[1].ext_port == 25010 && info.media[1].ext_rtcp_port == 25011);
	CHECK(info.rewrote == (SIP_RW_VIA | SIP_RW_CONTACT | SIP_RW_FROM | SIP_RW_SDP | SIP_RW_MEDIA));
	CHECK(info.expires == -1);
}

static void test_compact_folded_mixed_case(void)
{
	struct sip_info info;
	golden("invite-compact.sip", SIP_OUTBOUND, &info);
	CHECK(info.method == SIP_M_INVITE && info.cseq == 314159);
	CHECK(info.call_id_len == 31 && !memcmp(info.call_id, "a84b4c76e66710@pc33.example.com", 31));
	CHECK(info.has_sdp && calls.n == 1 && calls.seen[0].port == 4000);
}

static void test_rtcp(void)
{
	struct sip_info info;
	golden("invite-rtcp.sip", SIP_OUTBOUND, &info);
	CHECK(calls.n == 3);
	CHECK(calls.seen[0].port == 49170 && calls.seen[0].rtcp_port == 53020 && calls.seen[0].explicit_rtcp);
	CHECK(calls.seen[1].port == 51372 && calls.seen[1].rtcp_port == 53022 && calls.seen[1].explicit_rtcp);
	/* a=rtcp names another host: no RTCP pinhole, the line stays */
	CHECK(calls.seen[2].port == 6000 && calls.seen[2].rtcp_port == 0 && calls.seen[2].explicit_rtcp);
}

static void test_port0(void)
{
	struct sip_info info;
	golden("invite-port0.sip", SIP_OUTBOUND, &info);
	CHECK(info.media_count == 2 && info.media[1].port == 0);
	CHECK(calls.n == 1 && calls.seen[0].port == 8000);
	CHECK(info.media[1].ext_port == 0);
}

static void test_public_left_alone(void)
{
	struct sip_info info;
	/* a phone that learnt its mapping by STUN, and a Contact on another port */
	CHECK(golden("invite-public.sip", SIP_OUTBOUND, &info) > 0);
	CHECK(!info.changed && info.rewrote == 0 && calls.n == 0);
	CHECK(info.has_sdp && info.sdp_addr == OUTSIDE);
}

static void test_lookalikes_left_alone(void)
{
	struct sip_info info;
	/* 192.168.4.20, .21, .200, 2192.168.4.2, 192.168.4.2x, a user part, a
	 * hostname, maddr, ports 50600/506/05060, 192.168.004.2 */
	CHECK(golden("invite-lookalike.sip", SIP_OUTBOUND, &info) > 0);
	CHECK(!info.changed && calls.n == 0);
}

static void test_ipv6_sdp(void)
{
	struct sip_info info;
	golden("invite-ipv6-sdp.sip", SIP_OUTBOUND, &info);
	CHECK(info.has_sdp && info.sdp_addr == 0 && info.media_count == 1);
	CHECK(calls.n == 0);
	CHECK(info.rewrote == (SIP_RW_VIA | SIP_RW_CONTACT));
}

static void test_register(void)
{
	struct sip_info info;
	golden("register.sip", SIP_OUTBOUND, &info);
	CHECK(info.method == SIP_M_REGISTER && info.cseq == 1826);
	/* the Contact's expires param takes precedence over Expires (RFC 3261 10.2.1.1) */
	CHECK(info.expires == 1800);
	CHECK(!info.has_sdp && info.media_count == 0);

	/* several Contacts, comma-separated and in three headers (one compact) */
	golden("register-contacts.sip", SIP_OUTBOUND, &info);
	CHECK(info.expires == 60);   /* the first Contact naming the phone */
	CHECK(info.rewrote == (SIP_RW_VIA | SIP_RW_CONTACT));
}

static void test_register_expires_header(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	struct buf in = str("REGISTER sip:example.com SIP/2.0\r\n"
	                    "Via: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bKe\r\n"
	                    "Contact: <sip:bob@192.168.4.2:5060>\r\n"
	                    "Expires:  7200 \r\n"
	                    "Content-Length: 0\r\n\r\n"), out;
	CHECK(rw(in, 512, &p, &info, &out) > 0);
	CHECK(info.expires == 7200);
	free(out.p);
	free(in.p);
	/* unregistering everything */
	in = str("REGISTER sip:example.com SIP/2.0\r\nContact: *\r\nExpires: 0\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)in.n);
	CHECK(info.expires == 0 && !info.changed);
	free(out.p);
	free(in.p);
	/* huge values are clamped */
	in = str("REGISTER sip:example.com SIP/2.0\r\nContact: <sip:b@192.168.4.2>;expires=99999999999\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) > 0);
	CHECK(info.expires == 2147483647);
	free(out.p);
	free(in.p);
}

static void test_register_200_inbound(void)
{
	struct sip_info info;
	golden("register-200-inbound.sip", SIP_INBOUND, &info);
	CHECK(!info.is_request && info.status == 200 && info.method == SIP_M_REGISTER);
	CHECK(info.expires == 1800);   /* the phone's binding, not the first one */
	CHECK(info.rewrote == (SIP_RW_VIA | SIP_RW_CONTACT));
}

static void test_reinvite_and_bye(void)
{
	struct sip_info info;
	golden("reinvite.sip", SIP_OUTBOUND, &info);
	CHECK(info.method == SIP_M_INVITE && info.cseq == 2 && calls.n == 1 && calls.seen[0].port == 7190);
	golden("bye.sip", SIP_OUTBOUND, &info);
	CHECK(info.method == SIP_M_BYE && info.cseq == 3 && !info.has_sdp && calls.n == 0);
	CHECK(info.rewrote == (SIP_RW_VIA | SIP_RW_FROM));
}

static void test_outbound_response(void)
{
	struct sip_info info;
	/* the phone answers an inbound call: the far end's Via stays, its own literals go */
	golden("response-200-invite.sip", SIP_OUTBOUND, &info);
	CHECK(!info.is_request && info.status == 200 && info.method == SIP_M_INVITE && info.cseq == 1);
	CHECK(calls.n == 1 && calls.status == 200 && calls.method == SIP_M_INVITE);
	CHECK(info.rewrote == (SIP_RW_CONTACT | SIP_RW_TO | SIP_RW_SDP | SIP_RW_MEDIA));
}

static void test_inbound(void)
{
	struct sip_info info;
	/* an INVITE to the registered (rewritten) Contact */
	golden("inbound-invite.sip", SIP_INBOUND, &info);
	CHECK(info.is_request && info.method == SIP_M_INVITE);
	CHECK(info.rewrote == (SIP_RW_URI | SIP_RW_TO));
	/* the far end's SDP is read, never rewritten, no pinholes from here */
	CHECK(calls.n == 0 && info.has_sdp && info.sdp_addr == FAR && info.media_count == 2);
	CHECK(info.media[0].port == 30000 && info.media[0].rtcp_port == 30001);
	CHECK(info.media[1].port == 30002 && info.media[1].rtcp_port == 30013 && info.media[1].explicit_rtcp);

	/* a response: top Via with rport and received (RFC 3581), the second Via stays */
	golden("inbound-180.sip", SIP_INBOUND, &info);
	CHECK(info.status == 180 && info.method == SIP_M_INVITE);
	CHECK(info.rewrote == (SIP_RW_VIA | SIP_RW_FROM));
}

static void test_inbound_via_rules(void)
{
	struct sip_rewrite_params p = params(SIP_INBOUND, 5060, 40000);
	struct sip_info info;
	struct buf in, out;
	/* sent-by is not the outside address: what the server saw is left for the phone to read */
	in = str("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP phone.example.com:5060;received=198.51.100.10;rport=40000;branch=z9hG4bKx\r\n"
	         "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)in.n && !info.changed);
	CHECK(info.method == SIP_M_OPTIONS);
	free(out.p);
	free(in.p);
	/* an inbound request's top Via is the sender's, even if it names our address */
	in = str("OPTIONS sip:x@203.0.113.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10:40000;branch=z9hG4bKh\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)in.n && !info.changed);
	free(out.p);
	free(in.p);
	/* LWS around the colon and slashes, received with no rport value */
	in = str("SIP/2.0 100 Trying\r\nv: SIP / 2.0 / UDP 198.51.100.10 : 40000 ; rport ; received=198.51.100.10\r\nl:0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) > 0);
	{
		struct buf want = str("SIP/2.0 100 Trying\r\nv: SIP / 2.0 / UDP 192.168.4.2 : 5060 ; rport ; received=192.168.4.2\r\nl:0\r\n\r\n");
		CHECK(same(out, want));
		free(want.p);
	}
	free(out.p);
	free(in.p);
}

static void test_several_vias(void)
{
	struct sip_info info;
	/* only the topmost value: not the second value of the same header, not the next header */
	golden("invite-multi-via.sip", SIP_OUTBOUND, &info);
	CHECK(info.rewrote == SIP_RW_VIA);
}

static void test_content_length(void)
{
	struct sip_info info;
	/* absent over UDP: added once the message changes */
	golden("invite-no-clen.sip", SIP_OUTBOUND, &info);
	CHECK(info.changed && calls.n == 1);
	/* absent and nothing to change: left as it is */
	CHECK(golden("options-no-clen.sip", SIP_OUTBOUND, &info) > 0 && !info.changed);
	CHECK(info.method == SIP_M_OPTIONS && info.cseq == 5);
	/* a body with a Content-Encoding is not SDP we can read: headers only */
	golden("invite-encoded.sip", SIP_OUTBOUND, &info);
	CHECK(!info.has_sdp && calls.n == 0 && info.rewrote == SIP_RW_VIA);
}

static void test_bare_lf(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	struct buf in = str("BYE sip:bob@203.0.113.10 SIP/2.0\n"
	                    "Via: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bKlf\n"
	                    "Content-Type: application/sdp\n\n"
	                    "v=0\nc=IN IP4 192.168.4.2\nm=audio 9 RTP/AVP 0\n"), out;
	struct buf want = str("BYE sip:bob@203.0.113.10 SIP/2.0\n"
	                      "Via: SIP/2.0/UDP 198.51.100.10:40000;branch=z9hG4bKlf\n"
	                      "Content-Type: application/sdp\n"
	                      "Content-Length: 51\n\n"
	                      "v=0\nc=IN IP4 198.51.100.10\nm=audio 10009 RTP/AVP 0\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)want.n);
	CHECK(same(out, want));
	free(out.p);
	free(in.p);
	free(want.p);
}

static void test_default_ports(void)
{
	struct sip_rewrite_params p;
	struct sip_info info;
	struct buf in, out, want;
	/* the phone on 5062: a port-less URI means 5060, another endpoint */
	p = params(SIP_OUTBOUND, 5062, 40000);
	in = str("INVITE sip:b@203.0.113.10 SIP/2.0\r\nContact: <sip:a@192.168.4.2>, <sip:a@192.168.4.2:5062>\r\nl: 0\r\n\r\n");
	want = str("INVITE sip:b@203.0.113.10 SIP/2.0\r\nContact: <sip:a@192.168.4.2>, <sip:a@198.51.100.10:40000>\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)want.n && same(out, want));
	free(out.p);
	free(in.p);
	free(want.p);
	/* the mapping kept 5060: no port is added where there was none */
	p = params(SIP_OUTBOUND, 5060, 5060);
	in = str("INVITE sip:b@203.0.113.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.4.2;branch=z9hG4bK1\r\nf: sip:a@192.168.4.2;tag=1\r\nl: 0\r\n\r\n");
	want = str("INVITE sip:b@203.0.113.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10;branch=z9hG4bK1\r\nf: sip:a@198.51.100.10;tag=1\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)want.n && same(out, want));
	free(out.p);
	free(in.p);
	free(want.p);
	/* otherwise the new port is written */
	p = params(SIP_OUTBOUND, 5060, 40000);
	in = str("INVITE sip:b@203.0.113.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.4.2;branch=z9hG4bK1\r\nf: sip:a@192.168.4.2;tag=1\r\nl: 0\r\n\r\n");
	want = str("INVITE sip:b@203.0.113.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10:40000;branch=z9hG4bK1\r\nf: sip:a@198.51.100.10:40000;tag=1\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)want.n && same(out, want));
	free(out.p);
	free(in.p);
	free(want.p);
	/* sips: and TLS mean 5061: not this endpoint on 5060 */
	in = str("INVITE sip:b@203.0.113.10 SIP/2.0\r\nVia: SIP/2.0/TLS 192.168.4.2;branch=z9hG4bK1\r\nm: <sips:a@192.168.4.2>\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)in.n && !info.changed);
	free(out.p);
	free(in.p);
}

static void test_request_uri(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	struct buf in, out, back, want;
	/* outbound with the inside address in the Request-URI, then the same message back in */
	in = str("MESSAGE sip:alice@192.168.4.2:5060;transport=udp SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bKm\r\nl: 0\r\n\r\n");
	want = str("MESSAGE sip:alice@198.51.100.10:40000;transport=udp SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10:40000;branch=z9hG4bKm\r\nl: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) == (long)want.n && same(out, want));
	CHECK(info.method == SIP_M_OTHER && info.rewrote == (SIP_RW_URI | SIP_RW_VIA));
	p = params(SIP_INBOUND, 5060, 40000);
	CHECK(rw(out, 512, &p, &info, &back) > 0);
	/* the Request-URI is restored; a request's Via is the sender's and stays */
	CHECK(!memcmp(back.p, in.p, 52) && info.rewrote == SIP_RW_URI);
	free(out.p);
	free(in.p);
	free(want.p);
	free(back.p);
}

static void test_round_trip_response(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	struct buf in, out, back;
	/* a response whose top Via is the phone's (a LAN UAS proxying): out and back restores it */
	in = str("SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bKr\r\nVia: SIP/2.0/UDP 203.0.113.10\r\n"
	         "CSeq: 9 INVITE\r\nContent-Length: 0\r\n\r\n");
	CHECK(rw(in, 512, &p, &info, &out) > 0 && info.rewrote == SIP_RW_VIA && info.status == 486);
	p = params(SIP_INBOUND, 5060, 40000);
	CHECK(rw(out, 512, &p, &info, &back) == (long)in.n && same(back, in));
	free(out.p);
	free(in.p);
	free(back.p);
}

static void test_too_big(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	struct buf in = load("invite-sdp-audio-video.sip"), want = load("invite-sdp-audio-video.out.sip"), out;
	/* ext ports have 5 digits here, so the bound made before the callback is exact */
	CHECK(rw(in, want.n - 1, &p, &info, &out) == SIP_TOO_BIG);
	CHECK(calls.n == 0);   /* no pinholes opened for a rewrite that is not made */
	free(out.p);
	p = params(SIP_OUTBOUND, 5060, 40000);
	CHECK(rw(in, want.n, &p, &info, &out) == (long)want.n && same(out, want));
	free(out.p);
	/* an unchanged message must still fit */
	p = params(SIP_OUTBOUND, 5060, 40000);
	free(in.p);
	in = load("invite-public.sip");
	CHECK(rw(in, in.n - 1, &p, &info, &out) == SIP_TOO_BIG);
	free(out.p);
	CHECK(rw(in, in.n, &p, &info, &out) == (long)in.n);
	free(out.p);
	free(in.p);
	free(want.p);
}

static void test_too_many_edits(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	char msg[4096];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "REGISTER sip:example.com SIP/2.0\r\n");
	int i;
	struct buf in, out;
	for (i = 0; i < SIP_EDIT_MAX / 2 + 1; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "Contact: <sip:u%d@192.168.4.2:5060>\r\n", i);
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "l: 0\r\n\r\n");
	in = dup(msg, n);
	CHECK(rw(in, 8192, &p, &info, &out) == SIP_TOO_BIG);
	free(out.p);
	free(in.p);
}

static void test_refused_stream(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	struct buf in = load("invite-sdp-audio-video.sip"), out;
	/*
	 * No pinhole for video: the whole message goes on as the phone wrote it
	 * (issue 15 item 6), never the WAN address with an inside port that leads
	 * nowhere; the caller counts it.
	 */
	calls.refuse = 2;
	CHECK(rw(in, in.n + 256, &p, &info, &out) == SIP_NO_MEDIA);
	CHECK(calls.n == 2 && info.has_sdp && info.media_count == 2 && info.call_id != NULL);
	free(out.p);
	/* A stream the callback leaves alone (1: not a message that sets up media) keeps its port; the rest is rewritten. */
	calls.n = 0;
	calls.refuse = 0;
	calls.skip = 2;
	CHECK(rw(in, in.n + 256, &p, &info, &out) > 0);
	CHECK(calls.n == 2 && contains(out, "m=audio 17180 ") && contains(out, "m=video 15010 "));
	free(out.p);
	calls.skip = 0;
	/* no callback at all: no pinholes, ports unchanged, addresses rewritten */
	p.media = NULL;
	CHECK(rw(in, in.n + 256, &p, &info, &out) > 0);
	CHECK(contains(out, "m=audio 7180 ") && contains(out, "c=IN IP4 198.51.100.10\r\n"));
	CHECK(!(info.rewrote & SIP_RW_MEDIA));
	free(out.p);
	free(in.p);
}

/*
 * More streams than SIP_MEDIA_MAX (issue 15 item 6): all are rewritten, or
 * (streams past the 8th that would need a pinhole) none, and no pinhole is
 * asked for; never the first 8 rewritten and the 9th left at its inside port.
 */
static void test_many_streams(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	char body[2048], msg[4096];
	size_t n = 0;
	struct buf in, out;
	int streams;
	for (streams = 8; streams <= 10; streams++) {
		n = (size_t)snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 192.168.4.2\r\ns=-\r\nc=IN IP4 192.168.4.2\r\nt=0 0\r\n");
		for (int k = 0; k < streams; k++)
			n += (size_t)snprintf(body + n, sizeof(body) - n, "m=audio %d RTP/AVP 0\r\n", 20000 + 2 * k);
		n = (size_t)snprintf(msg, sizeof(msg),
		                     "INVITE sip:bob@203.0.113.10 SIP/2.0\r\n"
		                     "Via: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bKmany\r\n"
		                     "Call-ID: many@x\r\nCSeq: 1 INVITE\r\n"
		                     "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s", n, body);
		in = dup(msg, n);
		p = params(SIP_OUTBOUND, 5060, 40000);
		if (streams == 8) {
			CHECK(rw(in, 8192, &p, &info, &out) > 0);
			CHECK(calls.n == 8 && contains(out, "m=audio 30014 ") && !contains(out, "192.168.4.2"));
		} else {
			CHECK(rw(in, 8192, &p, &info, &out) == SIP_NO_MEDIA);
			CHECK(calls.n == 0);   /* no pinhole opened for a message that goes on unchanged */
		}
		free(out.p);
		free(in.p);
	}
	/* A 9th stream at port 0 or at another host needs nothing: the 8 are rewritten. */
	{
		static const char tail0[] = "m=video 0 RTP/AVP 96\r\n";
		static const char tailx[] = "m=video 20100 RTP/AVP 96\r\nc=IN IP4 203.0.113.99\r\n";
		const char *tails[2] = { tail0, tailx };
		for (int t = 0; t < 2; t++) {
			n = (size_t)snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 192.168.4.2\r\ns=-\r\nc=IN IP4 192.168.4.2\r\nt=0 0\r\n");
			for (int k = 0; k < 8; k++)
				n += (size_t)snprintf(body + n, sizeof(body) - n, "m=audio %d RTP/AVP 0\r\n", 20000 + 2 * k);
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s", tails[t]);
			n = (size_t)snprintf(msg, sizeof(msg),
			                     "INVITE sip:bob@203.0.113.10 SIP/2.0\r\n"
			                     "Call-ID: many@x\r\nCSeq: 1 INVITE\r\n"
			                     "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s", n, body);
			in = dup(msg, n);
			p = params(SIP_OUTBOUND, 5060, 40000);
			CHECK(rw(in, 8192, &p, &info, &out) > 0);
			CHECK(calls.n == 8 && contains(out, "m=audio 30014 "));
			free(out.p);
			free(in.p);
		}
	}
}

static void test_garbage(void)
{
	static const char *const bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:a@b SIP/3.0\r\nl: 0\r\n\r\n",
		"INVITE  sip:a@b SIP/2.0\r\nl: 0\r\n\r\n",
		"INVITE sip:a@b SIP/2.0 \r\nl: 0\r\n\r\n",
		"SIP/2.0 99 Odd\r\nl: 0\r\n\r\n",
		"SIP/2.0 2000 OK\r\nl: 0\r\n\r\n",
		" INVITE sip:a@b SIP/2.0\r\nl: 0\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\n no header above\r\nl: 0\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nNo colon here\r\nl: 0\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\n: empty name\r\nl: 0\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nVia: a\rb\r\nl: 0\r\n\r\n",          /* bare CR */
		"INVITE sip:a@b SIP/2.0\r\nl: 0\r\nContent-Length: 0\r\n\r\n", /* two lengths */
		"INVITE sip:a@b SIP/2.0\r\nl: zero\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nl: 1 2\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nl: 1234567890\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n   \r\nl: 0\r\n\r\n",     /* a blank fold */
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",                   /* TLS */
		"\x80\x00\x12\x34",                                               /* RTP */
	};
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf in = str(bad[i]), out;
		int ok = sip_message_length(in.p, in.n, 0) == SIP_UNPARSEABLE
		         && sip_message_length(in.p, in.n, 1) == SIP_UNPARSEABLE
		         && rw(in, 512, &p, &info, &out) == SIP_UNPARSEABLE;
		if (!ok)
			fprintf(stderr, "garbage %zu not refused\n", i);
		CHECK(ok);
		free(out.p);
		free(in.p);
	}
	/* over TCP the length is required; over UDP the rest of the datagram is the body */
	{
		struct buf in = str("MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n\r\nhello");
		CHECK(sip_message_length(in.p, in.n, 1) == SIP_UNPARSEABLE);
		CHECK(sip_message_length(in.p, in.n, 0) == (long)in.n);
		free(in.p);
	}
	/* trailing bytes after the measured message are not accepted by the rewrite */
	{
		struct buf in = str("BYE sip:a@b SIP/2.0\r\nl: 0\r\n\r\nextra"), out;
		CHECK(sip_message_length(in.p, in.n, 0) == (long)in.n - 5);
		CHECK(rw(in, 512, &p, &info, &out) == SIP_UNPARSEABLE);
		free(out.p);
		free(in.p);
	}
}

/* Every prefix of every corpus message is incomplete, never unparseable or complete. */
static void test_truncated(void)
{
	static const char *const names[] = {
		"invite-sdp-audio-video.sip", "invite-compact.sip", "register-contacts.sip", "inbound-180.sip",
		"invite-rtcp.sip", "bye.sip",
	};
	size_t i, k;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct buf in = load(names[i]);
		int bad = 0;
		CHECK(sip_message_length(in.p, in.n, 1) == (long)in.n);
		for (k = 1; k < in.n; k++) {
			struct buf cut = dup(in.p, k);
			struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
			struct sip_info info;
			struct buf out;
			if (sip_message_length(cut.p, cut.n, 1) != SIP_INCOMPLETE)
				bad++;
			if (rw(cut, 4096, &p, &info, &out) != SIP_INCOMPLETE || calls.n)
				bad++;
			free(out.p);
			free(cut.p);
		}
		if (bad)
			fprintf(stderr, "%s: %d prefixes not incomplete\n", names[i], bad);
		CHECK(bad == 0);
		free(in.p);
	}
	/* over UDP, a datagram cut inside the headers or the body */
	{
		struct buf in = load("invite-sdp-audio-video.sip"), cut = dup(in.p, 200), body = dup(in.p, in.n - 10);
		struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
		struct sip_info info;
		struct buf out;
		CHECK(sip_message_length(cut.p, cut.n, 0) == SIP_INCOMPLETE);
		CHECK(sip_message_length(body.p, body.n, 0) == SIP_INCOMPLETE);
		CHECK(rw(body, 4096, &p, &info, &out) == SIP_INCOMPLETE && calls.n == 0);
		CHECK(info.is_request && info.method == SIP_M_INVITE);   /* filled as far as parsing got */
		free(out.p);
		free(in.p);
		free(cut.p);
		free(body.p);
	}
}

/*
 * Several messages back to back on a stream, with keep-alives: one before a
 * message belongs to it (RFC 3261 7.5), one at the end is a unit of its own.
 */
static void test_stream(void)
{
	static const char *const names[] = { "invite-sdp-audio-video.sip", "bye.sip", "register.sip", "inbound-180.sip" };
	uint8_t stream[8192], rewritten[8192];
	size_t n = 0, pos = 0, o = 0, i;
	int messages = 0, keepalives = 0;
	for (i = 0; i < 4; i++) {
		struct buf m = load(names[i]);
		memcpy(stream + n, m.p, m.n);
		n += m.n;
		if (i == 1 || i == 3) {
			memcpy(stream + n, "\r\n\r\n", 4);   /* RFC 5626 ping */
			n += 4;
		}
		free(m.p);
	}
	while (pos < n) {
		long len = sip_message_length(stream + pos, n - pos, 1), r;
		struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
		struct sip_info info;
		struct buf in, out;
		CHECK(len > 0);
		if (len <= 0)
			break;
		in = dup(stream + pos, (size_t)len);
		r = rw(in, in.n + 256, &p, &info, &out);
		CHECK(r > 0);
		if (info.is_request || info.status)
			messages++;
		else
			keepalives++;
		memcpy(rewritten + o, out.p, (size_t)r);
		o += (size_t)r;
		pos += (size_t)len;
		free(in.p);
		free(out.p);
	}
	CHECK(messages == 4 && keepalives == 1);
	/* the rewritten stream frames the same way */
	for (pos = 0, i = 0; pos < o; i++) {
		long len = sip_message_length(rewritten + pos, o - pos, 1);
		CHECK(len > 0);
		if (len <= 0)
			break;
		pos += (size_t)len;
	}
	CHECK(i == 5);
	/* a keep-alive alone, and nothing */
	CHECK(sip_message_length((const uint8_t *)"\r\n", 2, 1) == 2);
	CHECK(sip_message_length((const uint8_t *)"", 0, 1) == SIP_INCOMPLETE);
}

static void test_call_id_cut(void)
{
	struct sip_rewrite_params p = params(SIP_OUTBOUND, 5060, 40000);
	struct sip_info info;
	char msg[512];
	struct buf in, out;
	int n = snprintf(msg, sizeof(msg), "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: %0100d\r\nl: 0\r\n\r\n", 7);
	in = dup(msg, (size_t)n);
	CHECK(rw(in, 512, &p, &info, &out) == n);
	CHECK(info.call_id_len == SIP_CALL_ID_MAX && info.call_id == in.p + 34);
	free(out.p);
	free(in.p);
}

int main(void)
{
	test_audio_video();
	test_compact_folded_mixed_case();
	test_rtcp();
	test_port0();
	test_public_left_alone();
	test_lookalikes_left_alone();
	test_ipv6_sdp();
	test_register();
	test_register_expires_header();
	test_register_200_inbound();
	test_reinvite_and_bye();
	test_outbound_response();
	test_inbound();
	test_inbound_via_rules();
	test_several_vias();
	test_content_length();
	test_bare_lf();
	test_default_ports();
	test_request_uri();
	test_round_trip_response();
	test_too_big();
	test_too_many_edits();
	test_refused_stream();
	test_many_streams();
	test_garbage();
	test_truncated();
	test_stream();
	test_call_id_cut();
	free(last_in.p);
	return check_report("sip_msg_test");
}
