/*
 * SIP over TCP sequence/acknowledgement adjustment (modules/sipalg/sip_tcp.c)
 * under AddressSanitizer and UBSan.
 *
 * Segments are real TCP headers (and payload) in byte buffers with a
 * correct checksum over the IPv4 pseudo-header; after every sip_tcp_adjust()
 * the checksum is computed again from scratch and must still hold, so every
 * incremental update is checked. Payloads are not rewritten here (that is
 * sip_msg's job); a rewrite is simulated by telling sip_tcp_edited() the
 * length it would have had, and the test follows what the far end sees.
 *
 * The phone 192.168.4.2:5060 in the LAN, the server 203.0.113.10:5060.
 */
#include "check.h"
#include "sip_tcp.h"

#include <stdlib.h>
#include <string.h>

#define OUT SIP_OUTBOUND
#define IN  SIP_INBOUND

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

static const uint8_t INSIDE[4] = { 192, 168, 4, 2 };
static const uint8_t FAR[4] = { 203, 0, 113, 10 };

static uint32_t addr(const uint8_t a[4])
{
	uint32_t v;
	memcpy(&v, a, 4);
	return v;
}

/* ---- segments ---- */

struct seg {
	uint8_t b[1600];
	uint16_t hlen;      /* TCP header with options */
	uint16_t plen;      /* payload */
	enum sip_dir dir;   /* which pseudo-header */
};

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

/* The one's complement sum of the pseudo-header and the segment, folded. */
static uint16_t sum_all(const struct seg *s)
{
	const uint8_t *src = s->dir == OUT ? INSIDE : FAR, *dst = s->dir == OUT ? FAR : INSIDE;
	uint32_t len = (uint32_t)s->hlen + s->plen, sum = 0;
	sum += (uint32_t)src[0] << 8 | src[1];
	sum += (uint32_t)src[2] << 8 | src[3];
	sum += (uint32_t)dst[0] << 8 | dst[1];
	sum += (uint32_t)dst[2] << 8 | dst[3];
	sum += 6;
	sum += len;
	for (uint32_t i = 0; i < len; i += 2)
		sum += (uint32_t)s->b[i] << 8 | (i + 1 < len ? s->b[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void set_csum(struct seg *s)
{
	uint16_t c;
	s->b[16] = s->b[17] = 0;
	c = (uint16_t)~sum_all(s);
	s->b[16] = (uint8_t)(c >> 8);
	s->b[17] = (uint8_t)c;
}

/* A stored checksum is right when everything, itself included, sums to 0xffff. */
static int csum_ok(const struct seg *s)
{
	return sum_all(s) == 0xffff;
}

static void build(struct seg *s, enum sip_dir dir, uint8_t flags, uint32_t seq, uint32_t ack,
                  const uint8_t *opts, unsigned optlen, const char *payload, unsigned plen)
{
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->hlen = (uint16_t)(20 + ((optlen + 3) & ~3u));
	s->plen = (uint16_t)plen;
	s->b[0] = 0x13; s->b[1] = 0xc4;   /* 5060 */
	s->b[2] = 0x13; s->b[3] = 0xc4;
	wr32(s->b + 4, seq);
	wr32(s->b + 8, ack);
	s->b[12] = (uint8_t)((s->hlen / 4) << 4);
	s->b[13] = flags;
	s->b[14] = 0xfa; s->b[15] = 0xf0;
	if (optlen)
		memcpy(s->b + 20, opts, optlen);
	for (unsigned i = 0; i < plen; i++)
		s->b[s->hlen + i] = payload ? (uint8_t)payload[i] : (uint8_t)('a' + i % 26);
	set_csum(s);
}

static uint32_t seq_of(const struct seg *s) { return rd32(s->b + 4); }
static uint32_t ack_of(const struct seg *s) { return rd32(s->b + 8); }

static const struct sip_tcp_key KEY0 = { 0, 0, 5060, 5060 };

static struct sip_tcp_key key_port(uint16_t inside_port)
{
	struct sip_tcp_key k = KEY0;
	k.inside_addr = addr(INSIDE);
	k.remote_addr = addr(FAR);
	k.inside_port = inside_port;
	return k;
}

static uint32_t now = 1000;

/* The router's path for one segment: state, adjust, and the checksum checked. */
static struct sip_tcp_conn *pass(const struct sip_tcp_key *k, struct seg *s, uint32_t *orig)
{
	struct sip_tcp_conn *c = sip_tcp_lookup(k, s->b, now);
	uint32_t o = sip_tcp_adjust(c, s->dir, s->b, s->hlen, now);
	CHECK(csum_ok(s));
	if (orig)
		*orig = o;
	return c;
}

/* ---- a whole conversation ---- */

#define ISN_O 1000000u
#define ISN_I 5000000u

struct stream {
	uint32_t o;   /* next original seq */
	uint32_t n;   /* next seq the receiver expects (new space) */
};

/*
 * Sends one message of len bytes from dir, rewritten to len + delta: checks
 * that it comes out where the receiver expects it, and moves both streams.
 */
static void message(struct sip_tcp_conn *c, const struct sip_tcp_key *k, enum sip_dir dir, struct stream *st,
                    uint32_t ack, unsigned len, int delta)
{
	struct seg s;
	uint32_t orig;
	build(&s, dir, ACK | PSH, st->o, ack, NULL, 0, NULL, len);
	CHECK(pass(k, &s, &orig) == c);
	CHECK(orig == st->o);
	CHECK(seq_of(&s) == st->n);
	CHECK(sip_tcp_boundary(c, dir, orig));
	sip_tcp_edited(c, dir, orig, (uint16_t)len, (uint16_t)((int)len + delta), 1);
	st->o += len;
	st->n += (uint32_t)((int)len + delta);
}

/* A pure ACK from dir carrying `ack` (new space of the other stream); returns what went out. */
static uint32_t ack_out(const struct sip_tcp_key *k, enum sip_dir dir, uint32_t seq, uint32_t ack)
{
	struct seg s;
	build(&s, dir, ACK, seq, ack, NULL, 0, NULL, 0);
	pass(k, &s, NULL);
	return ack_of(&s);
}

static void test_conversation(void)
{
	/* MSS, SACK-permitted (word aligned), timestamps, NOP, window scale. */
	static const uint8_t syn_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7 };
	/* MSS, NOP, SACK-permitted straddling two words, NOP, window scale, EOL. */
	static const uint8_t synack_opts[12] = { 2, 4, 0x05, 0xb4, 1, 4, 2, 1, 3, 3, 7, 0 };
	struct sip_tcp_key k = key_port(5060);
	struct sip_tcp_conn *c;
	struct sip_tcp_stats st;
	struct stream out = { ISN_O + 1, ISN_O + 1 }, in = { ISN_I + 1, ISN_I + 1 };
	struct seg s, r;
	uint32_t orig, ends_o[3], ends_n[3], starts_o[3], starts_n[3];
	static const int deltas[3] = { 7, 3, -2 };
	static const unsigned lens[3] = { 100, 50, 80 };

	/* SYN: SACK-permitted becomes two NOPs, nothing else moves. */
	build(&s, OUT, SYN, ISN_O, 0, syn_opts, sizeof(syn_opts), NULL, 0);
	c = pass(&k, &s, &orig);
	CHECK(c != NULL);
	CHECK(orig == ISN_O);
	CHECK(seq_of(&s) == ISN_O);
	CHECK(s.b[24] == 1 && s.b[25] == 1);
	CHECK(memcmp(s.b + 20, syn_opts, 4) == 0 && memcmp(s.b + 26, syn_opts + 6, 14) == 0);
	CHECK(sip_tcp_boundary(c, OUT, ISN_O + 1));

	/* SYN-ACK, the option at an odd offset. */
	build(&s, IN, SYN | ACK, ISN_I, ISN_O + 1, synack_opts, sizeof(synack_opts), NULL, 0);
	CHECK(pass(&k, &s, &orig) == c);
	CHECK(orig == ISN_I);
	CHECK(ack_of(&s) == ISN_O + 1);
	CHECK(s.b[24] == 1 && s.b[25] == 1 && s.b[26] == 1 && s.b[27] == 1 && s.b[28] == 3);
	CHECK(sip_tcp_boundary(c, IN, ISN_I + 1));

	/* A retransmitted SYN keeps the state (the SYN-ACK's ISN is still known). */
	build(&s, OUT, SYN, ISN_O, 0, syn_opts, sizeof(syn_opts), NULL, 0);
	CHECK(pass(&k, &s, NULL) == c);
	CHECK(sip_tcp_boundary(c, IN, ISN_I + 1));
	CHECK(ack_out(&k, OUT, ISN_O + 1, ISN_I + 1) == ISN_I + 1);

	/* Three messages out, rewritten +7, +3, -2: contiguous for the far end. */
	for (int i = 0; i < 3; i++) {
		starts_o[i] = out.o;
		starts_n[i] = out.n;
		message(c, &k, OUT, &out, in.n, lens[i], deltas[i]);
		ends_o[i] = out.o;
		ends_n[i] = out.n;
	}
	CHECK(starts_n[1] == ISN_O + 1 + 107);
	CHECK(starts_n[2] == ISN_O + 1 + 107 + 53);
	CHECK(ends_n[2] == ISN_O + 1 + 107 + 53 + 78);

	/* The far end's ACKs come back to the phone in its own numbers. */
	for (int i = 0; i < 3; i++) {
		CHECK(ack_out(&k, IN, in.o, ends_n[i]) == ends_o[i]);
		CHECK(ack_out(&k, IN, in.o, starts_n[i]) == starts_o[i]);
	}
	/* Half of the grown 1st message acknowledged: none of it, in the phone's numbers. */
	CHECK(ack_out(&k, IN, in.o, starts_n[0] + 50) == starts_o[0]);
	/* Inside the unchanged-length region before any edit: as it is. */
	CHECK(ack_out(&k, IN, in.o, ISN_O + 1) == ISN_O + 1);

	/* The 2nd message again: the same new seq, known as a message start, nothing moves. */
	build(&s, OUT, ACK | PSH, starts_o[1], in.n, NULL, 0, NULL, lens[1]);
	pass(&k, &s, &orig);
	CHECK(orig == starts_o[1]);
	CHECK(seq_of(&s) == starts_n[1]);
	CHECK(sip_tcp_boundary(c, OUT, orig));
	sip_tcp_edited(c, OUT, orig, (uint16_t)lens[1], (uint16_t)(lens[1] + 3), 1);
	CHECK(ack_out(&k, IN, in.o, ends_n[2]) == ends_o[2]);
	/* ... and the 2nd and 3rd merged into one retransmission: same again. */
	build(&s, OUT, ACK | PSH, starts_o[1], in.n, NULL, 0, NULL, lens[1] + lens[2]);
	pass(&k, &s, &orig);
	CHECK(seq_of(&s) == starts_n[1]);
	CHECK(sip_tcp_boundary(c, OUT, orig));
	sip_tcp_edited(c, OUT, orig, (uint16_t)(lens[1] + lens[2]), (uint16_t)(lens[1] + lens[2] + 1), 1);
	sip_tcp_get_stats(&st);
	CHECK(st.edit_conflicts == 0);
	/* The 3rd rewritten to another length the second time: cannot be taken back. */
	sip_tcp_edited(c, OUT, starts_o[2], (uint16_t)lens[2], (uint16_t)(lens[2] + 9), 1);
	sip_tcp_get_stats(&st);
	CHECK(st.edit_conflicts == 1);
	CHECK(ack_out(&k, IN, in.o, ends_n[2]) == ends_o[2]);
	/* The middle of a message is not a boundary. */
	CHECK(!sip_tcp_boundary(c, OUT, starts_o[1] + 1));
	CHECK(!sip_tcp_boundary(c, OUT, starts_o[2] - 1));

	/* Messages in, rewritten -2 and +5; the phone's ACKs go to the server in its numbers. */
	{
		uint32_t s0o = in.o, s0n = in.n, e0o, e0n;
		message(c, &k, IN, &in, out.n, 120, -2);
		e0o = in.o;
		e0n = in.n;
		message(c, &k, IN, &in, out.n, 60, 5);
		CHECK(ack_out(&k, OUT, out.o, e0n) == e0o);
		CHECK(ack_out(&k, OUT, out.o, in.n) == in.o);
		CHECK(ack_out(&k, OUT, out.o, s0n) == s0o);
		/* A data segment out carries both moves at once. */
		build(&s, OUT, ACK | PSH, out.o, in.n, NULL, 0, NULL, 40);
		pass(&k, &s, &orig);
		CHECK(seq_of(&s) == out.n && ack_of(&s) == in.o);
		sip_tcp_edited(c, OUT, orig, 40, 40, 1);
		out.o += 40;
		out.n += 40;
	}

	/* More edits than the ring holds: the recent ones still map right. */
	{
		uint32_t so[20], sn[20], eo[20], en[20];
		for (int i = 0; i < 20; i++) {
			so[i] = out.o;
			sn[i] = out.n;
			message(c, &k, OUT, &out, in.n, (unsigned)(30 + i), (i % 3) - 1 + (i & 1) * 4);
			eo[i] = out.o;
			en[i] = out.n;
		}
		/* The oldest remembered edit is mapped through the folded base. */
		for (int i = 20 - SIP_TCP_EDITS; i < 20; i++) {
			CHECK(ack_out(&k, IN, in.o, en[i]) == eo[i]);
			CHECK(ack_out(&k, IN, in.o, sn[i]) == so[i]);
			build(&s, OUT, ACK | PSH, so[i], in.n, NULL, 0, NULL, (unsigned)(30 + i));
			pass(&k, &s, &orig);
			CHECK(seq_of(&s) == sn[i]);
			CHECK(sip_tcp_boundary(c, OUT, orig));
		}
		CHECK(sip_tcp_boundary(c, OUT, out.o));
		message(c, &k, OUT, &out, in.n, 10, 0);
		/* A message boundary remembered without any growth: its retransmission is rewritten too. */
		build(&r, OUT, ACK | PSH, out.o - 10, in.n, NULL, 0, NULL, 10);
		pass(&k, &r, &orig);
		CHECK(sip_tcp_boundary(c, OUT, orig));
		CHECK(seq_of(&r) == out.n - 10);
		/* Part of it acknowledged: its length did not change, so that means the same bytes. */
		CHECK(ack_out(&k, IN, in.o, out.n - 5) == out.o - 5);
	}

	/* A SYN-ACK repeated late does not take the inbound stream back to its start. */
	build(&s, IN, SYN | ACK, ISN_I, ISN_O + 1, synack_opts, sizeof(synack_opts), NULL, 0);
	CHECK(pass(&k, &s, NULL) == c);
	CHECK(sip_tcp_boundary(c, IN, in.o));

	/* FIN both ways, then the last ACK still moves. */
	build(&s, OUT, FIN | ACK, out.o, in.n, NULL, 0, NULL, 0);
	pass(&k, &s, NULL);
	CHECK(seq_of(&s) == out.n && ack_of(&s) == in.o);
	build(&s, IN, FIN | ACK, in.o, out.n + 1, NULL, 0, NULL, 0);
	pass(&k, &s, NULL);
	CHECK(seq_of(&s) == in.n && ack_of(&s) == out.o + 1);
	CHECK(ack_out(&k, OUT, out.o + 1, in.n + 1) == in.o + 1);

	sip_tcp_get_stats(&st);
	CHECK(st.conns == 1);
	CHECK(st.sack_stripped == 4);
	CHECK(st.adjusted > 50);
	CHECK(st.not_at_boundary == 0);
}

/* Sequence numbers wrapping through 0 in both directions. */
static void test_wrap(void)
{
	struct sip_tcp_key k = key_port(5062);
	struct sip_tcp_conn *c;
	struct seg s;
	uint32_t isn_o = 0xffffff80u, isn_i = 0xfffffff0u;
	struct stream out = { isn_o + 1, isn_o + 1 }, in = { isn_i + 1, isn_i + 1 };
	uint32_t so[6], sn[6], eo[6], en[6];

	build(&s, OUT, SYN, isn_o, 0, NULL, 0, NULL, 0);
	c = pass(&k, &s, NULL);
	CHECK(c != NULL);
	build(&s, IN, SYN | ACK, isn_i, isn_o + 1, NULL, 0, NULL, 0);
	CHECK(pass(&k, &s, NULL) == c);
	for (int i = 0; i < 6; i++) {
		so[i] = out.o;
		sn[i] = out.n;
		message(c, &k, OUT, &out, in.n, 50, i & 1 ? -3 : 11);
		eo[i] = out.o;
		en[i] = out.n;
		message(c, &k, IN, &in, out.n, 7, 2);
	}
	CHECK(so[0] > 0xffffff00u && so[3] < 0x100u && sn[3] < 0x100u);   /* the 3rd message crossed 0 */
	CHECK(out.o < 0x1000 && out.n < 0x1000 && in.o < 0x1000);
	for (int i = 0; i < 6; i++) {
		CHECK(ack_out(&k, IN, in.o, en[i]) == eo[i]);
		CHECK(ack_out(&k, IN, in.o, sn[i]) == so[i]);
		build(&s, OUT, ACK | PSH, so[i], in.n, NULL, 0, NULL, 50);
		pass(&k, &s, NULL);
		CHECK(seq_of(&s) == sn[i]);
		CHECK(ack_of(&s) == in.o);
	}
}

/* A message split over two segments, a continuation, then a boundary found again. */
static void test_boundaries(void)
{
	static const char invite[] =
		"INVITE sip:bob@203.0.113.10 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 192.168.4.2:5060;branch=z9hG4bK1\r\n"
		"Call-ID: a@192.168.4.2\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	static const char ok_compact[] =
		"SIP/2.0 200 OK\r\n"
		"v: SIP/2.0/TCP 198.51.100.10:40000;branch=z9hG4bK1\r\n"
		"l : 0\r\n"
		"\r\n";
	static const char *const refused[] = {
		"SIP/2.0 200 OK\r\n",                                           /* a sipfrag body: no header section */
		"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",                             /* no Content-Length */
		"INVITE sip:bob@203.0.113.10 SIP/2.0\r\nContent-Length: 0\r\n", /* header section not ended */
		"invite sip:bob@203.0.113.10 SIP/2.0\r\nl: 0\r\n\r\n",          /* method not a SIP token in capitals */
		"INVITE tel:+15551234 SIP/2.0\r\nl: 0\r\n\r\n",                 /* not a sip: URI */
		"INVITE sip:bob@203.0.113.10 SIP/2.1\r\nl: 0\r\n\r\n",
		"INVITE sip:bob@203.0.113.10\r\nl: 0\r\n\r\n",
		"SIP/2.0 20 OK\r\nl: 0\r\n\r\n",
		"\r\nINVITE sip:bob@203.0.113.10 SIP/2.0\r\nl: 0\r\n\r\n",
		"Content-Length: 0\r\n\r\n",
		"INVITE sip:bob@203.0.113.10 SIP/2.0\r\nX-Content-Length: 0\r\n\r\n",
	};
	struct sip_tcp_key k = key_port(5064);
	struct sip_tcp_conn *c;
	struct sip_tcp_stats st0, st;
	struct seg s;
	uint32_t isn = 77777u, o, n, orig, ilen = (uint32_t)strlen(invite);
	sip_tcp_get_stats(&st0);

	build(&s, OUT, SYN, isn, 0, NULL, 0, NULL, 0);
	c = pass(&k, &s, NULL);
	build(&s, IN, SYN | ACK, 4242u, isn + 1, NULL, 0, NULL, 0);
	pass(&k, &s, NULL);
	o = n = isn + 1;

	/* A first message grown by 4 and cut at the segment's end: the rest is unknown. */
	build(&s, OUT, ACK, o, 4243u, NULL, 0, NULL, 100);
	pass(&k, &s, &orig);
	CHECK(sip_tcp_boundary(c, OUT, orig));
	sip_tcp_edited(c, OUT, orig, 100, 104, 0);
	o += 100;
	n += 104;
	/* Its continuation: not a boundary, passes unchanged (moved by the growth only). */
	build(&s, OUT, ACK, o, 4243u, NULL, 0, "body of the first message, not SIP", 34);
	pass(&k, &s, &orig);
	CHECK(seq_of(&s) == n);
	CHECK(!sip_tcp_boundary(c, OUT, orig));
	CHECK(!sip_tcp_resync(c, OUT, orig, s.b + s.hlen, s.plen));
	sip_tcp_edited(c, OUT, orig, 34, 34, 0);
	o += 34;
	n += 34;
	/* Text that merely looks like a message start, and a wrong position, are refused. */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CHECK(!sip_tcp_resync(c, OUT, o, (const uint8_t *)refused[i], (uint16_t)strlen(refused[i])));
	CHECK(!sip_tcp_resync(c, OUT, o + 1, (const uint8_t *)invite, (uint16_t)ilen));
	CHECK(!sip_tcp_resync(c, OUT, o - 34, (const uint8_t *)invite, (uint16_t)ilen));
	CHECK(!sip_tcp_resync(c, IN, 4243u, (const uint8_t *)invite, (uint16_t)ilen));   /* that stream's boundary is known */
	CHECK(!sip_tcp_resync(c, OUT, o, (const uint8_t *)invite, (uint16_t)(ilen - 1)));
	/* The next message in order opening with a request line: a boundary again. */
	build(&s, OUT, ACK, o, 4243u, NULL, 0, invite, ilen);
	pass(&k, &s, &orig);
	CHECK(seq_of(&s) == n);
	CHECK(!sip_tcp_boundary(c, OUT, orig));
	CHECK(sip_tcp_resync(c, OUT, orig, s.b + s.hlen, s.plen));
	CHECK(sip_tcp_boundary(c, OUT, orig));
	CHECK(!sip_tcp_resync(c, OUT, orig, s.b + s.hlen, s.plen));   /* known now */
	sip_tcp_edited(c, OUT, orig, (uint16_t)ilen, (uint16_t)(ilen + 5), 1);
	o += ilen;
	n += ilen + 5;
	CHECK(sip_tcp_boundary(c, OUT, o));
	CHECK(ack_out(&k, IN, 4243u, n) == o);

	/* A segment overtaking the one at the boundary: that boundary can no longer be edited. */
	build(&s, OUT, ACK, o + 50, 4243u, NULL, 0, NULL, 30);
	pass(&k, &s, &orig);
	CHECK(seq_of(&s) == n + 50);
	CHECK(!sip_tcp_boundary(c, OUT, orig));
	sip_tcp_edited(c, OUT, orig, 30, 30, 0);
	CHECK(!sip_tcp_boundary(c, OUT, o));
	build(&s, OUT, ACK, o, 4243u, NULL, 0, NULL, 50);
	pass(&k, &s, &orig);
	CHECK(seq_of(&s) == n);
	sip_tcp_edited(c, OUT, orig, 50, 50, 0);
	o += 80;
	n += 80;
	/* Found again at the next new segment; compact Content-Length, a status line. */
	CHECK(sip_tcp_resync(c, OUT, o, (const uint8_t *)ok_compact, (uint16_t)strlen(ok_compact)));
	CHECK(sip_tcp_boundary(c, OUT, o));

	/* An inbound message cut in two, the second half passing, a response found again. */
	build(&s, IN, ACK, 4243u, n, NULL, 0, NULL, 200);
	pass(&k, &s, &orig);
	CHECK(sip_tcp_boundary(c, IN, orig));
	sip_tcp_edited(c, IN, orig, 200, 197, 0);
	build(&s, IN, ACK, 4443u, n, NULL, 0, NULL, 20);
	pass(&k, &s, &orig);
	CHECK(seq_of(&s) == 4440u);
	CHECK(!sip_tcp_boundary(c, IN, orig));
	sip_tcp_edited(c, IN, orig, 20, 20, 0);
	build(&s, IN, ACK, 4463u, n, NULL, 0, ok_compact, (unsigned)strlen(ok_compact));
	pass(&k, &s, &orig);
	CHECK(seq_of(&s) == 4460u);
	CHECK(sip_tcp_resync(c, IN, orig, s.b + s.hlen, s.plen));
	CHECK(ack_out(&k, OUT, o, 4440u) == 4443u);
	CHECK(ack_out(&k, OUT, o, 4300u) == 4243u);   /* inside the shrunk segment: none of it */

	sip_tcp_get_stats(&st);
	CHECK(st.not_at_boundary - st0.not_at_boundary == 4);
	CHECK(st.resynced - st0.resynced == 3);
}

/* Connections: SYN makes and replaces, segments without state pass untouched, malformed options stay. */
static void test_conns(void)
{
	struct sip_tcp_key k = key_port(5066), other = key_port(5067);
	struct sip_tcp_conn *c, *c2;
	struct seg s, copy;
	static const uint8_t bad_len0[8] = { 4, 2, 8, 0, 1, 1, 1, 1 };      /* an option of length 0 */
	static const uint8_t bad_over[4] = { 4, 2, 2, 9 };                  /* MSS running past the header */
	static const uint8_t bad_cut[3] = { 1, 4, 2 };                      /* fine: SACK-permitted at the end, then padding EOL */
	static const uint8_t sack_late[4] = { 1, 1, 4, 2 };
	struct sip_tcp_stats st0, st;
	uint32_t orig;

	/* No state: NULL, and the segment goes out as it came. */
	build(&s, OUT, ACK | PSH, 123, 456, sack_late, sizeof(sack_late), NULL, 10);
	copy = s;
	CHECK(sip_tcp_lookup(&other, s.b, now) == NULL);
	CHECK(sip_tcp_adjust(NULL, OUT, s.b, s.hlen, now) == 123);
	CHECK(memcmp(&s, &copy, sizeof(s)) == 0);
	CHECK(sip_tcp_lookup(&other, NULL, now) == NULL);
	CHECK(!sip_tcp_boundary(NULL, OUT, 124));
	sip_tcp_edited(NULL, OUT, 124, 1, 2, 1);
	CHECK(!sip_tcp_resync(NULL, OUT, 124, s.b, 1));

	sip_tcp_get_stats(&st0);
	/* Malformed option lists are left alone. */
	build(&s, OUT, SYN, 9000, 0, bad_len0, sizeof(bad_len0), NULL, 0);
	copy = s;
	c = pass(&k, &s, &orig);
	CHECK(c != NULL && orig == 9000);
	CHECK(memcmp(&s, &copy, sizeof(s)) == 0);
	build(&s, OUT, SYN, 9000, 0, bad_over, sizeof(bad_over), NULL, 0);
	copy = s;
	CHECK(pass(&k, &s, NULL) == c);
	CHECK(memcmp(&s, &copy, sizeof(s)) == 0);
	/* A header_len shorter than the data offset: options not touched. */
	build(&s, OUT, SYN, 9000, 0, bad_cut, sizeof(bad_cut), NULL, 0);
	copy = s;
	sip_tcp_adjust(c, OUT, s.b, 20, now);
	CHECK(memcmp(&s, &copy, sizeof(s)) == 0);
	sip_tcp_adjust(c, OUT, s.b, 10, now);
	CHECK(memcmp(&s, &copy, sizeof(s)) == 0);
	CHECK(pass(&k, &s, NULL) == c);
	CHECK(s.b[21] == 1 && s.b[22] == 1 && s.b[23] == 0);
	/* SACK-permitted outside a SYN is not ours to touch. */
	build(&s, IN, SYN | ACK, 7000, 9001, NULL, 0, NULL, 0);
	CHECK(pass(&k, &s, NULL) == c);
	build(&s, OUT, ACK, 9001, 7001, sack_late, sizeof(sack_late), NULL, 0);
	copy = s;
	pass(&k, &s, NULL);
	CHECK(memcmp(&s, &copy, sizeof(s)) == 0);
	sip_tcp_get_stats(&st);
	CHECK(st.sack_stripped - st0.sack_stripped == 1);
	CHECK(sip_tcp_boundary(c, IN, 7001));

	/* A new SYN (another ISN) on the same key replaces the state: the old stream is gone. */
	build(&s, OUT, ACK, 9001, 7001, NULL, 0, NULL, 10);
	pass(&k, &s, &orig);
	sip_tcp_edited(c, OUT, orig, 10, 20, 1);
	build(&s, OUT, SYN, 50000, 0, NULL, 0, NULL, 0);
	c2 = pass(&k, &s, NULL);
	CHECK(c2 == c);
	CHECK(!sip_tcp_boundary(c, IN, 7001));
	CHECK(sip_tcp_boundary(c, OUT, 50001));
	build(&s, IN, SYN | ACK, 60000, 50001, NULL, 0, NULL, 0);
	pass(&k, &s, NULL);
	CHECK(ack_of(&s) == 50001);
	/* ... and a SYN from the far end makes one too (a connection to the phone). */
	build(&s, IN, SYN, 31337, 0, NULL, 0, NULL, 0);
	c2 = pass(&other, &s, NULL);
	CHECK(c2 != NULL && c2 != c);
	CHECK(sip_tcp_boundary(c2, IN, 31338));
	CHECK(sip_tcp_adjust(c2, (enum sip_dir)7, s.b, s.hlen, now) == 31337);
}

/* A small pool: full of live connections it refuses; closed ones are reused; tick and flush free. */
static void test_pool(void)
{
	struct sip_tcp_config cfg;
	struct sip_tcp_stats st;
	struct sip_tcp_key k[8];
	struct sip_tcp_conn *c[8];
	struct seg s;
	void *mem;
	sip_tcp_default_config(&cfg);
	cfg.max_conns = 4;
	cfg.idle_timeout = 600;
	mem = malloc(sip_tcp_memory_size(&cfg));
	CHECK(mem != NULL);
	CHECK(sip_tcp_init(&cfg, mem) == 0);
	now = 5000;
	for (int i = 0; i < 8; i++)
		k[i] = key_port((uint16_t)(6000 + i));

	/* Four established connections. */
	for (int i = 0; i < 4; i++) {
		build(&s, OUT, SYN, 100u * (unsigned)i, 0, NULL, 0, NULL, 0);
		c[i] = pass(&k[i], &s, NULL);
		CHECK(c[i] != NULL);
		build(&s, IN, SYN | ACK, 7u, 100u * (unsigned)i + 1, NULL, 0, NULL, 0);
		pass(&k[i], &s, NULL);
	}
	sip_tcp_get_stats(&st);
	CHECK(st.conns == 4 && st.conns_max == 4 && st.pool_full == 0);
	for (int i = 0; i < 4; i++)
		CHECK(sip_tcp_lookup(&k[i], NULL, now) == c[i]);

	/* Full of live ones, a half-closed one among them: refused, counted. */
	build(&s, IN, FIN | ACK, 8, 1, NULL, 0, NULL, 0);
	pass(&k[3], &s, NULL);
	build(&s, OUT, SYN, 4000, 0, NULL, 0, NULL, 0);
	CHECK(pass(&k[4], &s, NULL) == NULL);
	sip_tcp_get_stats(&st);
	CHECK(st.pool_full == 1 && st.conns == 4);

	/* A RST closes: its slot goes to the next SYN. */
	now += 10;
	build(&s, IN, RST, 8, 0, NULL, 0, NULL, 0);
	pass(&k[1], &s, NULL);
	now += 10;
	/* FIN both ways closes too, later. */
	build(&s, OUT, FIN | ACK, 201, 8, NULL, 0, NULL, 0);
	pass(&k[2], &s, NULL);
	build(&s, IN, FIN | ACK, 8, 202, NULL, 0, NULL, 0);
	pass(&k[2], &s, NULL);
	now += 10;
	build(&s, OUT, SYN, 4000, 0, NULL, 0, NULL, 0);
	c[4] = pass(&k[4], &s, NULL);
	CHECK(c[4] == c[1]);                                /* the closed one quiet longest */
	CHECK(sip_tcp_lookup(&k[1], NULL, now) == NULL);
	build(&s, OUT, SYN, 5000, 0, NULL, 0, NULL, 0);
	c[5] = pass(&k[5], &s, NULL);
	CHECK(c[5] == c[2]);
	CHECK(sip_tcp_lookup(&k[2], NULL, now) == NULL);
	build(&s, OUT, SYN, 6000, 0, NULL, 0, NULL, 0);
	CHECK(pass(&k[6], &s, NULL) == NULL);
	sip_tcp_get_stats(&st);
	CHECK(st.pool_full == 2 && st.conns == 4);
	for (int i = 0; i < 6; i++)
		if (i != 1 && i != 2)
			CHECK(sip_tcp_lookup(&k[i], NULL, now) == c[i]);

	/* Tick: k5 never saw a SYN-ACK (transitory), k0 closes; the rest are established. */
	build(&s, IN, SYN | ACK, 9, 4001, NULL, 0, NULL, 0);
	pass(&k[4], &s, NULL);
	build(&s, OUT, RST, 1, 0, NULL, 0, NULL, 0);
	pass(&k[0], &s, NULL);
	sip_tcp_tick(now + 240);
	sip_tcp_get_stats(&st);
	CHECK(st.conns == 4);
	sip_tcp_tick(now + 241);
	sip_tcp_get_stats(&st);
	CHECK(st.conns == 2);
	CHECK(sip_tcp_lookup(&k[0], NULL, now) == NULL);
	CHECK(sip_tcp_lookup(&k[5], NULL, now) == NULL);
	CHECK(sip_tcp_lookup(&k[3], NULL, now) == c[3]);  /* half-closed: kept */
	CHECK(sip_tcp_lookup(&k[4], NULL, now) == c[4]);
	/* A closed connection still in use (segments after a RST) is not freed. */
	build(&s, IN, RST, 9, 0, NULL, 0, NULL, 0);
	pass(&k[4], &s, NULL);
	now += 200;
	ack_out(&k[4], OUT, 4001, 10);
	sip_tcp_tick(now + 100);
	CHECK(sip_tcp_lookup(&k[4], NULL, now) == c[4]);
	/* Idle beyond the timeout. */
	ack_out(&k[3], OUT, 301, 9);
	sip_tcp_tick(now + 600);
	sip_tcp_get_stats(&st);
	CHECK(st.conns == 1);
	sip_tcp_tick(now + 601);
	sip_tcp_get_stats(&st);
	CHECK(st.conns == 0);
	CHECK(sip_tcp_lookup(&k[3], NULL, now) == NULL);

	/* All slots free again; flush frees everything. */
	for (int i = 0; i < 4; i++) {
		build(&s, OUT, SYN, 1, 0, NULL, 0, NULL, 0);
		CHECK(pass(&k[i], &s, NULL) != NULL);
	}
	sip_tcp_get_stats(&st);
	CHECK(st.conns == 4);
	sip_tcp_flush();
	sip_tcp_get_stats(&st);
	CHECK(st.conns == 0 && st.pool_full == 2);
	for (int i = 0; i < 4; i++)
		CHECK(sip_tcp_lookup(&k[i], NULL, now) == NULL);
	free(mem);
}

/* Configurations out of range are refused. */
static void test_config(void)
{
	struct sip_tcp_config cfg;
	uint64_t mem[64];
	sip_tcp_default_config(&cfg);
	CHECK(cfg.max_conns == 16 && cfg.idle_timeout == 7440);
	CHECK(sip_tcp_memory_size(&cfg) > 0);
	cfg.max_conns = 0;
	CHECK(sip_tcp_memory_size(&cfg) == 0);
	CHECK(sip_tcp_init(&cfg, mem) == -1);
	cfg.max_conns = 257;
	CHECK(sip_tcp_memory_size(&cfg) == 0);
	cfg.max_conns = 256;
	CHECK(sip_tcp_memory_size(&cfg) > 0);
	CHECK(sip_tcp_init(&cfg, NULL) == -1);
	CHECK(sip_tcp_memory_size(NULL) == 0);
	cfg.max_conns = 1;
	cfg.idle_timeout = 0;
	CHECK(sip_tcp_memory_size(&cfg) == 0);
	cfg.idle_timeout = 60;
	CHECK(sip_tcp_memory_size(&cfg) <= sizeof(mem));
	CHECK(sip_tcp_init(&cfg, mem) == 0);
}

int main(void)
{
	struct sip_tcp_config cfg;
	void *mem;
	test_config();
	sip_tcp_default_config(&cfg);
	mem = malloc(sip_tcp_memory_size(&cfg));
	CHECK(mem != NULL);
	CHECK(sip_tcp_init(&cfg, mem) == 0);
	test_conversation();
	test_wrap();
	test_boundaries();
	test_conns();
	free(mem);
	test_pool();
	return check_report("sip_tcp_test");
}
