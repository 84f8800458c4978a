/*
 * The SIP ALG's dialog and pinhole layer (modules/sipalg/sip_dialog.c),
 * driven the way the glue drives it: each message goes through
 * sip_rewrite() with sip_dialog_media() as the media callback, then
 * sip_dialog_after(); the pinholes are looked at in the real NAPT table
 * (napt_table.c), under AddressSanitizer and UBSan.
 *
 * Addresses: the phone 192.168.4.2:5060 in the LAN, the router's WAN
 * address 198.51.100.10 with the SIP flow's external port 40000, the far
 * end (and registrar) 203.0.113.10:5060.
 */
#include "check.h"
#include "napt.h"
#include "sip_dialog.h"
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

#define PHONE   A(192, 168, 4, 2)
#define PHONE2  A(192, 168, 4, 3)
#define LANADDR A(192, 168, 4, 1)
#define MASK    A(255, 255, 255, 0)
#define WAN     A(198, 51, 100, 10)
#define FAR     A(203, 0, 113, 10)
#define UDP     NAPT_PROTO_UDP

static uint32_t napt_memory[65536];
static uint32_t dialog_memory[16384];
static uint32_t now;

static void setup_napt(uint32_t max_forwards)
{
	struct napt_config c;
	struct napt_addresses a = { WAN, LANADDR, MASK };
	napt_default_config(&c);
	c.max_flows = 64;
	c.max_forwards = max_forwards;
	c.hash_seed = 12345;
	CHECK(napt_memory_size(&c) > 0 && napt_memory_size(&c) <= sizeof(napt_memory));
	CHECK(napt_init(&c, napt_memory) == 0);
	napt_set_addresses(&a);
}

static void setup_dialogs(uint16_t max_dialogs, uint16_t max_registrations)
{
	struct sip_dialog_config c;
	sip_dialog_default_config(&c);
	c.max_dialogs = max_dialogs;
	c.max_registrations = max_registrations;
	CHECK(sip_dialog_memory_size(&c) > 0 && sip_dialog_memory_size(&c) <= sizeof(dialog_memory));
	memset(dialog_memory, 0xa5, sizeof(dialog_memory));   /* init must not rely on zeroed memory */
	CHECK(sip_dialog_init(&c, dialog_memory) == 0);
}

static void setup(void)
{
	setup_napt(64);
	setup_dialogs(16, 8);
	now = 1000;
}

/* ---- messages ---- */

static char out[8192];      /* the last rewrite's output, NUL-terminated */
static uint8_t in[8192];    /* its input (info.call_id points here) */
static struct sip_info info;
static long out_len;
static uint8_t msg_proto = UDP;   /* the signalling transport the glue reports */
static uint16_t msg_ext_port = 40000;   /* the SIP flow's external port */

/*
 * Send one message through the ALG: `head` (start line and headers, LF line
 * ends, no Content-Length) and `body` (LF, may be "") become a CRLF message
 * with its Content-Length; it is rewritten in direction `dir` from/to inside
 * host `inside` and then shown to sip_dialog_after().
 */
static long sendmsg_from(uint32_t inside, enum sip_dir dir, const char *head, const char *body)
{
	char text[8192];
	size_t n = 0, i, blen = 0;
	struct sip_rewrite_params p;
	struct sip_dialog_msg m;
	for (i = 0; body[i]; i++)
		blen += body[i] == '\n' ? 2 : 1;
	n = (size_t)snprintf(text, sizeof(text), "%sContent-Length: %zu\n\n%s", head, blen, body);
	if (n >= sizeof(text))
		abort();
	size_t o = 0;
	for (i = 0; i < n; i++) {
		if (text[i] == '\n')
			in[o++] = '\r';
		in[o++] = (uint8_t)text[i];
	}
	memset(&m, 0, sizeof(m));
	m.dir = dir;
	m.proto = msg_proto;
	m.inside_addr = inside;
	m.inside_port = 5060;
	m.remote_addr = FAR;
	m.remote_port = 5060;
	m.ext_port = msg_ext_port;
	m.now = now;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.inside.addr = inside;
	p.inside.port = 5060;
	p.outside.addr = WAN;
	p.outside.port = 40000;
	p.media = sip_dialog_media;
	p.media_ctx = &m;
	CHECK(sip_message_length(in, o, 0) == (long)o);
	out_len = sip_rewrite(in, o, (uint8_t *)out, sizeof(out) - 1, &p, &info);
	CHECK(out_len > 0 || out_len == SIP_NO_MEDIA);
	if (out_len == SIP_NO_MEDIA)
		memcpy(out, in, o);   /* what the glue sends: the message as the phone wrote it */
	out[out_len > 0 ? (size_t)out_len : out_len == SIP_NO_MEDIA ? o : 0] = 0;
	sip_dialog_after(&m, &info);
	return out_len;
}

static long sendmsg(enum sip_dir dir, const char *head, const char *body)
{
	return sendmsg_from(PHONE, dir, head, body);
}

/* An outbound INVITE (or re-INVITE when totag is set) with CSeq `cseq` and SDP `sdp` ("" for none). */
static void invite_out(const char *callid, unsigned cseq, const char *totag, const char *sdp)
{
	char head[2048];
	snprintf(head, sizeof(head),
	         "INVITE sip:bob@203.0.113.10 SIP/2.0\n"
	         "Via: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bK%s%u;rport\n"
	         "Max-Forwards: 70\n"
	         "From: \"Alice\" <sip:alice@192.168.4.2>;tag=9fxced76sl\n"
	         "To: <sip:bob@203.0.113.10>%s%s\n"
	         "Call-ID: %s\n"
	         "CSeq: %u INVITE\n"
	         "Contact: <sip:alice@192.168.4.2:5060>\n"
	         "User-Agent: RTC/1.3\n"
	         "%s",
	         callid, cseq, totag ? ";tag=" : "", totag ? totag : "", callid, cseq,
	         sdp[0] ? "Content-Type: application/sdp\n" : "");
	sendmsg(SIP_OUTBOUND, head, sdp);
}

/* A response from the far end to the phone's request. */
static void response_in(const char *callid, unsigned status, const char *reason, unsigned cseq, const char *method,
                        const char *sdp)
{
	char head[2048];
	snprintf(head, sizeof(head),
	         "SIP/2.0 %u %s\n"
	         "Via: SIP/2.0/UDP 198.51.100.10:40000;branch=z9hG4bK%s%u;rport=40000;received=198.51.100.10\n"
	         "From: \"Alice\" <sip:alice@198.51.100.10:40000>;tag=9fxced76sl\n"
	         "To: <sip:bob@203.0.113.10>;tag=8321234356\n"
	         "Call-ID: %s\n"
	         "CSeq: %u %s\n"
	         "Contact: <sip:bob@203.0.113.10>\n"
	         "%s",
	         status, reason, callid, cseq, callid, cseq, method, sdp[0] ? "Content-Type: application/sdp\n" : "");
	sendmsg(SIP_INBOUND, head, sdp);
}

/* A request from the phone inside the dialog (ACK, BYE, CANCEL...). */
static void request_out(const char *callid, const char *method, unsigned cseq)
{
	char head[2048];
	snprintf(head, sizeof(head),
	         "%s sip:bob@203.0.113.10 SIP/2.0\n"
	         "Via: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bK%s%s%u;rport\n"
	         "Max-Forwards: 70\n"
	         "From: \"Alice\" <sip:alice@192.168.4.2>;tag=9fxced76sl\n"
	         "To: <sip:bob@203.0.113.10>;tag=8321234356\n"
	         "Call-ID: %s\n"
	         "CSeq: %u %s\n",
	         method, method, callid, cseq, callid, cseq, method);
	sendmsg(SIP_OUTBOUND, head, "");
}

static const char SDP_AV[] =
	"v=0\n"
	"o=alice 2890844526 2890844526 IN IP4 192.168.4.2\n"
	"s=session\n"
	"c=IN IP4 192.168.4.2\n"
	"t=0 0\n"
	"m=audio 7180 RTP/AVP 0 97 101\n"
	"a=rtpmap:97 red/8000\n"
	"a=rtpmap:101 telephone-event/8000\n"
	"m=video 15010 RTP/AVP 34 31\n"
	"a=rtpmap:34 H263/90000\n";

/* The re-INVITE: audio off (port 0), video moved to 15020. */
static const char SDP_REINVITE[] =
	"v=0\n"
	"o=alice 2890844526 2890844527 IN IP4 192.168.4.2\n"
	"s=session\n"
	"c=IN IP4 192.168.4.2\n"
	"t=0 0\n"
	"m=audio 0 RTP/AVP 0\n"
	"m=video 15020 RTP/AVP 34\n";

static const char SDP_FAR[] =
	"v=0\n"
	"o=bob 1 1 IN IP4 203.0.113.10\n"
	"s=-\n"
	"c=IN IP4 203.0.113.10\n"
	"t=0 0\n"
	"m=audio 30000 RTP/AVP 0\n"
	"m=video 30010 RTP/AVP 34\n";

static const char SDP_AUDIO[] =
	"v=0\n"
	"o=alice 1 1 IN IP4 192.168.4.2\n"
	"s=-\n"
	"c=IN IP4 192.168.4.2\n"
	"t=0 0\n"
	"m=audio 8000 RTP/AVP 0\n";

/* ---- looking at the output and the table ---- */

/* The port of the output's m=<media> line (the first such); -1 if none. */
static long mport(const char *media)
{
	char key[32];
	const char *p;
	snprintf(key, sizeof(key), "\r\nm=%s ", media);
	p = strstr(out, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* The port of the output's n-th a=rtcp: line (from 0); -1 if none. */
static long rtcp_attr(int n)
{
	const char *p = out;
	for (int i = 0; p; i++) {
		p = strstr(p, "\r\na=rtcp:");
		if (!p)
			return -1;
		p += 9;
		if (i == n)
			return strtol(p, NULL, 10);
	}
	return -1;
}

/* A SIP forward ext..end -> (in_addr, in_port), any remote. */
static int pinhole(long ext, long end, uint32_t in_addr, uint16_t in_port)
{
	const struct napt_forward *fw;
	if (ext <= 0 || ext > 65535)
		return 0;
	fw = napt_forward_find(UDP, (uint16_t)ext);
	return fw && fw->proto == UDP && fw->origin == NAPT_ORIGIN_SIP && fw->ext_port == ext && fw->ext_end == end
	       && fw->in_addr == in_addr && fw->in_port == in_port && fw->remote == 0;
}

static uint32_t sip_forwards(void)
{
	uint32_t n = 0;
	for (uint32_t i = 0; napt_forward_at(i); i++)
		if (napt_forward_at(i)->origin == NAPT_ORIGIN_SIP)
			n++;
	return n;
}

static struct sip_dialog_stats stats(void)
{
	struct sip_dialog_stats s;
	sip_dialog_get_stats(&s);
	return s;
}

static int add_forward(uint8_t origin, uint16_t ext, uint16_t end, uint32_t in_addr, uint16_t in_port)
{
	struct napt_forward fw;
	memset(&fw, 0, sizeof(fw));
	fw.proto = UDP;
	fw.origin = origin;
	fw.ext_port = ext;
	fw.ext_end = end;
	fw.in_port = in_port;
	fw.in_addr = in_addr;
	strcpy(fw.description, origin == NAPT_ORIGIN_STATIC ? "console" : "upnp");
	return napt_forward_add(&fw) == NAPT_FORWARD_OK;
}

/* ---- tests ---- */

static uint16_t last_sport;   /* the source port of udp_through()'s packet after translation */

/* A UDP datagram from src:sport to dst:dport (4 bytes of payload, UDP checksum 0) through napt_process(). */
static enum napt_verdict udp_through(enum napt_dir dir, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                                     uint32_t *new_dst, uint16_t *new_dport)
{
	uint8_t b[32];
	uint32_t sum = 0;
	enum napt_verdict v;
	memset(b, 0, sizeof(b));
	b[0] = 0x45;
	b[3] = sizeof(b);
	b[8] = 64;
	b[9] = UDP;
	memcpy(b + 12, &src, 4);
	memcpy(b + 16, &dst, 4);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	b[10] = (uint8_t)(~sum >> 8);
	b[11] = (uint8_t)~sum;
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	b[25] = 12;
	v = napt_process(b, sizeof(b), sizeof(b), dir, now);
	memcpy(new_dst, b + 16, 4);
	*new_dport = (uint16_t)(b[22] << 8 | b[23]);
	last_sport = (uint16_t)(b[20] << 8 | b[21]);
	return v;
}

/* Media from a host other than the signalling peer reaches the phone through the pinholes, until BYE. */
static void test_media_passes(void)
{
	uint32_t dst;
	uint16_t port;
	long ext;
	setup();
	CHECK(add_forward(NAPT_ORIGIN_STATIC, 8000, 8000, PHONE2, 8000));
	invite_out("media-1@x", 1, NULL, SDP_AUDIO);
	ext = mport("audio");
	CHECK(ext != 8000 && pinhole(ext, ext + 1, PHONE, 8000));
	CHECK(udp_through(NAPT_INBOUND, A(203, 0, 113, 50), 30000, WAN, (uint16_t)ext, &dst, &port) == NAPT_FORWARD);
	CHECK(dst == PHONE && port == 8000);
	CHECK(udp_through(NAPT_INBOUND, A(203, 0, 113, 50), 30001, WAN, (uint16_t)(ext + 1), &dst, &port) == NAPT_FORWARD);
	CHECK(dst == PHONE && port == 8001);
	/* Symmetric RTP: the phone's media leaves by the advertised port. */
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8000, A(203, 0, 113, 51), 30000, &dst, &port) == NAPT_FORWARD);
	CHECK(last_sport == ext);
	request_out("media-1@x", "BYE", 2);
	CHECK(udp_through(NAPT_INBOUND, A(203, 0, 113, 52), 30000, WAN, (uint16_t)ext, &dst, &port) == NAPT_DROP);
}


/* Windows Messenger's call: audio and video, four ports; re-INVITE; BYE. */
static void test_call_audio_video(void)
{
	const char *id = "3848276298220188511@192.168.4.2";
	const struct napt_forward *fw;
	struct sip_dialog_info di;
	uint32_t cursor = 0;
	long audio, video, video2;

	setup();
	invite_out(id, 1, NULL, SDP_AV);
	audio = mport("audio");
	video = mport("video");
	/* The inside pairs themselves were free: kept. */
	CHECK(audio == 7180 && video == 15010);
	CHECK(pinhole(audio, audio + 1, PHONE, 7180));
	CHECK(pinhole(video, video + 1, PHONE, 15010));
	CHECK(sip_forwards() == 2);
	fw = napt_forward_find(UDP, 7181);
	CHECK(fw && fw->expires == now + 180 && !strncmp(fw->description, "sip rtp 3848276298", 18));
	CHECK(strstr(out, "c=IN IP4 198.51.100.10\r\n") != NULL);
	CHECK(stats().dialogs == 1 && stats().pinholes == 2 && stats().dialogs_created == 1);

	/* The INVITE again (a retransmission): the same answer, nothing new. */
	now += 1;
	invite_out(id, 1, NULL, SDP_AV);
	CHECK(mport("audio") == audio && mport("video") == video && sip_forwards() == 2);
	CHECK(stats().dialogs == 1 && stats().dialogs_created == 1);

	CHECK(sip_dialog_next(&cursor, now, &di) == 1);
	CHECK(!strcmp(di.call_id, "3848276298220188511@192.168.4.2") && di.inside_addr == PHONE && di.remote_addr == FAR);
	CHECK(!di.confirmed && di.streams == 2 && di.ext_ports[0] == 7180 && di.inside_ports[1] == 15010);
	CHECK(di.expires_in == 180);
	CHECK(sip_dialog_next(&cursor, now, &di) == 0);

	now += 2;
	response_in(id, 180, "Ringing", 1, "INVITE", "");
	now += 5;
	response_in(id, 200, "OK", 1, "INVITE", SDP_FAR);
	fw = napt_forward_find(UDP, (uint16_t)audio);
	CHECK(fw && fw->expires == now + 3600);
	cursor = 0;
	CHECK(sip_dialog_next(&cursor, now, &di) == 1 && di.confirmed && di.expires_in == 3600);
	request_out(id, "ACK", 1);
	CHECK(sip_forwards() == 2);

	/* re-INVITE: audio to port 0, video moves. Until the answer, old and new are both open. */
	now += 60;
	invite_out(id, 2, "8321234356", SDP_REINVITE);
	video2 = mport("video");
	CHECK(mport("audio") == 0);
	CHECK(video2 == 15020);
	CHECK(pinhole(video2, video2 + 1, PHONE, 15020));
	CHECK(pinhole(video, video + 1, PHONE, 15010));
	CHECK(pinhole(audio, audio + 1, PHONE, 7180));
	CHECK(sip_forwards() == 3);
	/* Its retransmission: the same ports. */
	invite_out(id, 2, "8321234356", SDP_REINVITE);
	CHECK(mport("video") == video2 && sip_forwards() == 3);

	response_in(id, 200, "OK", 2, "INVITE", SDP_FAR);
	CHECK(pinhole(video2, video2 + 1, PHONE, 15020));
	CHECK(!napt_forward_find(UDP, (uint16_t)video));
	CHECK(!napt_forward_find(UDP, (uint16_t)audio));
	CHECK(sip_forwards() == 1 && stats().pinholes == 1);
	request_out(id, "ACK", 2);
	cursor = 0;
	CHECK(sip_dialog_next(&cursor, now, &di) == 1 && di.streams == 1 && di.ext_ports[0] == 0 && di.ext_ports[1] == 15020);

	/* The answer's retransmission changes nothing. */
	response_in(id, 200, "OK", 2, "INVITE", SDP_FAR);
	CHECK(sip_forwards() == 1);

	now += 100;
	request_out(id, "BYE", 3);
	CHECK(sip_forwards() == 0);
	CHECK(stats().dialogs == 0 && stats().dialogs_ended == 1 && stats().pinholes == 0);
	/* The BYE's 200 and a retransmitted BYE make nothing again. */
	response_in(id, 200, "OK", 3, "BYE", "");
	request_out(id, "BYE", 3);
	CHECK(stats().dialogs == 0 && stats().dialogs_created == 1 && sip_forwards() == 0);
}

static void test_cancel(void)
{
	const char *id = "cancel-1@192.168.4.2";
	setup();
	invite_out(id, 1, NULL, SDP_AUDIO);
	CHECK(pinhole(8000, 8001, PHONE, 8000));
	response_in(id, 180, "Ringing", 1, "INVITE", "");
	request_out(id, "CANCEL", 1);
	CHECK(sip_forwards() == 0 && stats().dialogs == 0);
	response_in(id, 200, "OK", 1, "CANCEL", "");
	response_in(id, 487, "Request Terminated", 1, "INVITE", "");
	request_out(id, "ACK", 1);
	CHECK(sip_forwards() == 0 && stats().dialogs == 0 && stats().dialogs_created == 1);
}

static void test_initial_invite_fails(void)
{
	const char *id = "busy-1@192.168.4.2";
	setup();
	invite_out(id, 1, NULL, SDP_AUDIO);
	CHECK(sip_forwards() == 1);
	response_in(id, 100, "Trying", 1, "INVITE", "");
	CHECK(sip_forwards() == 1);
	response_in(id, 486, "Busy Here", 1, "INVITE", "");
	CHECK(sip_forwards() == 0 && stats().dialogs == 0 && stats().dialogs_ended == 1);
	request_out(id, "ACK", 1);
	CHECK(stats().dialogs == 0);

	/* A 401 challenge ends it too; the INVITE with credentials (CSeq 2) makes it anew. */
	invite_out("auth-1@x", 1, NULL, SDP_AUDIO);
	response_in("auth-1@x", 401, "Unauthorized", 1, "INVITE", "");
	CHECK(sip_forwards() == 0);
	invite_out("auth-1@x", 2, NULL, SDP_AUDIO);
	CHECK(pinhole(8000, 8001, PHONE, 8000) && stats().dialogs == 1);
}

static void test_failed_reinvite(void)
{
	const char *id = "hold-1@192.168.4.2";
	static const char moved[] =
		"v=0\n"
		"o=alice 1 2 IN IP4 192.168.4.2\n"
		"s=-\n"
		"c=IN IP4 192.168.4.2\n"
		"t=0 0\n"
		"m=audio 8010 RTP/AVP 0\n"
		"m=video 9000 RTP/AVP 34\n";
	const struct napt_forward *fw;
	setup();
	invite_out(id, 1, NULL, SDP_AUDIO);
	response_in(id, 200, "OK", 1, "INVITE", SDP_FAR);
	request_out(id, "ACK", 1);
	CHECK(pinhole(8000, 8001, PHONE, 8000));

	now += 30;
	invite_out(id, 2, "8321234356", moved);
	CHECK(mport("audio") == 8010 && mport("video") == 9000);
	CHECK(pinhole(8000, 8001, PHONE, 8000) && pinhole(8010, 8011, PHONE, 8010) && pinhole(9000, 9001, PHONE, 9000));
	now += 1;
	response_in(id, 488, "Not Acceptable Here", 2, "INVITE", "");
	/* The session as it was: only the first audio pair, with the dialog's expiry. */
	CHECK(pinhole(8000, 8001, PHONE, 8000));
	CHECK(!napt_forward_find(UDP, 8010) && !napt_forward_find(UDP, 9000));
	CHECK(sip_forwards() == 1 && stats().dialogs == 1);
	fw = napt_forward_find(UDP, 8000);
	CHECK(fw && fw->expires == now + 3600);
	request_out(id, "ACK", 2);

	/* The same offer again, accepted this time. */
	invite_out(id, 3, "8321234356", moved);
	response_in(id, 200, "OK", 3, "INVITE", SDP_FAR);
	CHECK(!napt_forward_find(UDP, 8000) && pinhole(8010, 8011, PHONE, 8010) && pinhole(9000, 9001, PHONE, 9000));
	CHECK(sip_forwards() == 2);

	/* A re-INVITE from the far end, answered by the phone: takes effect at once. */
	{
		char head[1024];
		snprintf(head, sizeof(head),
		         "INVITE sip:alice@198.51.100.10:40000 SIP/2.0\n"
		         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKfar7\n"
		         "From: <sip:bob@203.0.113.10>;tag=8321234356\n"
		         "To: \"Alice\" <sip:alice@198.51.100.10:40000>;tag=9fxced76sl\n"
		         "Call-ID: %s\n"
		         "CSeq: 7 INVITE\n"
		         "Content-Type: application/sdp\n", id);
		sendmsg(SIP_INBOUND, head, SDP_FAR);
		snprintf(head, sizeof(head),
		         "SIP/2.0 200 OK\n"
		         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKfar7\n"
		         "From: <sip:bob@203.0.113.10>;tag=8321234356\n"
		         "To: \"Alice\" <sip:alice@192.168.4.2>;tag=9fxced76sl\n"
		         "Call-ID: %s\n"
		         "CSeq: 7 INVITE\n"
		         "Contact: <sip:alice@192.168.4.2:5060>\n"
		         "Content-Type: application/sdp\n", id);
		sendmsg(SIP_OUTBOUND, head, SDP_AUDIO);
		CHECK(mport("audio") == 8000);
		CHECK(pinhole(8000, 8001, PHONE, 8000) && !napt_forward_find(UDP, 8010) && !napt_forward_find(UDP, 9000));
		CHECK(sip_forwards() == 1);
	}
	request_out(id, "BYE", 4);
	CHECK(sip_forwards() == 0);
}

/* A call to the phone: the inbound INVITE makes the dialog, the phone's 200 OK opens the pinholes. */
static void test_inbound_call(void)
{
	const char *id = "inbound-call-1@203.0.113.10";
	char head[1024];
	struct sip_dialog_info di;
	uint32_t cursor = 0;
	setup();
	snprintf(head, sizeof(head),
	         "INVITE sip:alice@198.51.100.10:40000 SIP/2.0\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKfar\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "To: <sip:alice@198.51.100.10:40000>\n"
	         "Call-ID: %s\n"
	         "CSeq: 1 INVITE\n"
	         "Contact: <sip:bob@203.0.113.10>\n"
	         "Content-Type: application/sdp\n", id);
	sendmsg(SIP_INBOUND, head, SDP_FAR);
	CHECK(!strncmp(out, "INVITE sip:alice@192.168.4.2", 28));
	CHECK(stats().dialogs == 1 && sip_forwards() == 0);
	snprintf(head, sizeof(head),
	         "SIP/2.0 200 OK\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKfar\n"
	         "To: <sip:alice@192.168.4.2:5060>;tag=a6c85cf\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "Call-ID: %s\n"
	         "CSeq: 1 INVITE\n"
	         "Contact: <sip:alice@192.168.4.2:5060>\n"
	         "Content-Type: application/sdp\n", id);
	sendmsg(SIP_OUTBOUND, head, SDP_AUDIO);
	CHECK(mport("audio") == 8000 && pinhole(8000, 8001, PHONE, 8000));
	CHECK(stats().dialogs == 1 && stats().dialogs_created == 1);
	CHECK(sip_dialog_next(&cursor, now, &di) == 1 && di.confirmed && di.expires_in == 3600);
	/* The phone's 200 again (the ACK was lost): the same port. */
	sendmsg(SIP_OUTBOUND, head, SDP_AUDIO);
	CHECK(mport("audio") == 8000 && sip_forwards() == 1);
	snprintf(head, sizeof(head),
	         "BYE sip:alice@198.51.100.10:40000 SIP/2.0\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKfar2\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "To: <sip:alice@198.51.100.10:40000>;tag=a6c85cf\n"
	         "Call-ID: %s\n"
	         "CSeq: 2 BYE\n", id);
	sendmsg(SIP_INBOUND, head, "");
	CHECK(sip_forwards() == 0 && stats().dialogs == 0);

	/* The phone turns a call down: its 486 ends the dialog the INVITE made. */
	snprintf(head, sizeof(head),
	         "INVITE sip:alice@198.51.100.10:40000 SIP/2.0\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKfar3\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "To: <sip:alice@198.51.100.10:40000>\n"
	         "Call-ID: declined@203.0.113.10\n"
	         "CSeq: 1 INVITE\n");
	sendmsg(SIP_INBOUND, head, "");
	CHECK(stats().dialogs == 1);
	snprintf(head, sizeof(head),
	         "SIP/2.0 486 Busy Here\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKfar3\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "To: <sip:alice@192.168.4.2>;tag=x\n"
	         "Call-ID: declined@203.0.113.10\n"
	         "CSeq: 1 INVITE\n");
	sendmsg(SIP_OUTBOUND, head, "");
	CHECK(stats().dialogs == 0);
}

static void test_timeouts(void)
{
	const struct napt_forward *fw;
	setup();
	/* Never answered: invite_timeout. */
	invite_out("ring-1@x", 1, NULL, SDP_AUDIO);
	now += 179;
	sip_dialog_tick(now);
	napt_tick(now);
	CHECK(stats().dialogs == 1 && pinhole(8000, 8001, PHONE, 8000));
	now += 1;
	napt_tick(now);     /* the table's own expiry first: the dialog's tick must cope */
	sip_dialog_tick(now);
	CHECK(stats().dialogs == 0 && sip_forwards() == 0 && stats().dialogs_ended == 1);

	/* Answered: session_timeout from its last message. */
	invite_out("long-1@x", 1, NULL, SDP_AUDIO);
	response_in("long-1@x", 200, "OK", 1, "INVITE", SDP_FAR);
	request_out("long-1@x", "ACK", 1);
	now += 3000;
	request_out("long-1@x", "INFO", 2);    /* any message of the dialog keeps it */
	fw = napt_forward_find(UDP, 8000);
	CHECK(fw && fw->expires == now + 3600);
	now += 3599;
	sip_dialog_tick(now);
	CHECK(stats().dialogs == 1 && sip_forwards() == 1);
	now += 1;
	sip_dialog_tick(now);
	napt_tick(now);
	CHECK(stats().dialogs == 0 && sip_forwards() == 0);

	/* A pinhole gone from the table (removed by hand) comes back on the same ports with the next SDP. */
	invite_out("again-1@x", 1, NULL, SDP_AV);
	CHECK(napt_forward_remove(UDP, 15010) == NAPT_FORWARD_OK && sip_forwards() == 1 && stats().pinholes == 1);
	invite_out("again-1@x", 1, NULL, SDP_AV);
	CHECK(mport("video") == 15010 && pinhole(15010, 15011, PHONE, 15010) && sip_forwards() == 2);
	request_out("again-1@x", "BYE", 2);
	CHECK(sip_forwards() == 0);

	/* A dialog whose time ran out before the tick is not found: the BYE after it changes nothing. */
	invite_out("late-1@x", 1, NULL, SDP_AUDIO);
	now += 200;
	request_out("late-1@x", "BYE", 2);
	CHECK(stats().dialogs == 0);
	sip_dialog_tick(now);
	CHECK(sip_forwards() == 0);
}

static void test_pool_full(void)
{
	struct sip_dialog_config dc;
	setup_napt(64);
	sip_dialog_default_config(&dc);
	dc.max_dialogs = 2;
	dc.max_registrations = 1;
	dc.max_per_host = 2;
	CHECK(sip_dialog_init(&dc, dialog_memory) == 0);
	now = 1000;
	invite_out("a@x", 1, NULL, SDP_AUDIO);
	CHECK(mport("audio") == 8000);
	response_in("a@x", 180, "Ringing", 1, "INVITE", "");
	{
		static const char sdp_b[] = "v=0\no=b 1 1 IN IP4 192.168.4.2\ns=-\nc=IN IP4 192.168.4.2\nt=0 0\nm=audio 8100 RTP/AVP 0\n";
		static const char sdp_c[] = "v=0\no=c 1 1 IN IP4 192.168.4.2\ns=-\nc=IN IP4 192.168.4.2\nt=0 0\nm=audio 8200 RTP/AVP 0\n";
		invite_out("b@x", 1, NULL, sdp_b);
		CHECK(mport("audio") == 8100 && stats().dialogs == 2);
		response_in("b@x", 180, "Ringing", 1, "INVITE", "");
		invite_out("c@x", 1, NULL, sdp_c);
		/* No room (both answered): the message goes out as the phone wrote it, whole, counted. */
		CHECK(out_len == SIP_NO_MEDIA && mport("audio") == 8200 && !napt_forward_find(UDP, 8200));
		CHECK(strstr(out, "c=IN IP4 192.168.4.2") != NULL && strstr(out, "198.51.100.10") == NULL);
		CHECK(stats().pool_full >= 1 && stats().dialogs == 2 && stats().dialogs_max == 2);
		/* One ends: room again. */
		request_out("a@x", "BYE", 2);
		invite_out("c@x", 1, NULL, sdp_c);
		CHECK(mport("audio") == 8200 && pinhole(8200, 8201, PHONE, 8200));
		/* An expired dialog's slot is taken back without waiting for the tick. */
		now += 181;
		invite_out("d@x", 1, NULL, SDP_AUDIO);
		CHECK(pinhole(8000, 8001, PHONE, 8000) && !napt_forward_find(UDP, 8200));   /* c@x was in the first slot */
		sip_dialog_tick(now);
		CHECK(stats().dialogs == 1 && sip_forwards() == 1);
	}
}

#define PHONE3 A(192, 168, 4, 4)

/* An INVITE from LAN host `host` (its address `ip`) with an SDP offering port `port`, never answered: junk. */
static long junk_invite(uint32_t host, const char *ip, const char *callid, unsigned port)
{
	char head[1024], sdp[512];
	snprintf(head, sizeof(head),
	         "INVITE sip:nobody@203.0.113.10 SIP/2.0\n"
	         "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK%s\n"
	         "From: <sip:x@%s>;tag=j\n"
	         "To: <sip:nobody@203.0.113.10>\n"
	         "Call-ID: %s\n"
	         "CSeq: 1 INVITE\n"
	         "Contact: <sip:x@%s:5060>\n"
	         "Content-Type: application/sdp\n", ip, callid, ip, callid, ip);
	snprintf(sdp, sizeof(sdp), "v=0\no=x 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %u RTP/AVP 0\n", ip, ip, port);
	return sendmsg_from(host, SIP_OUTBOUND, head, sdp);
}

/* A response from far to `host`'s INVITE `callid`. */
static void ring_in(uint32_t host, const char *callid, unsigned status)
{
	char head[1024];
	snprintf(head, sizeof(head),
	         "SIP/2.0 %u Ringing\n"
	         "Via: SIP/2.0/UDP 198.51.100.10:40000;branch=z9hG4bK%s\n"
	         "From: <sip:x@198.51.100.10>;tag=j\n"
	         "To: <sip:nobody@203.0.113.10>;tag=r\n"
	         "Call-ID: %s\n"
	         "CSeq: 1 INVITE\n", status, callid, callid);
	sendmsg_from(host, SIP_INBOUND, head, "");
}

/*
 * Issue 15 item 6: junk INVITEs (never answered) from two LAN hosts, far
 * more than the 16-dialog pool. Each host holds at most its share (8) of
 * early dialogs without an answer, the oldest of them making way; a real
 * phone's call still gets a dialog and its pinhole (the oldest junk makes
 * way), and once it rings, no amount of junk evicts it. With the pool full
 * of answered calls, a new call goes out unrewritten, whole, and counted.
 */
static void test_pool_share(void)
{
	char id[64];
	uint64_t pool_full;
	setup();
	for (unsigned i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "junk2-%u@x", i);
		junk_invite(PHONE2, "192.168.4.3", id, 20000 + 2 * (i % 8));
	}
	CHECK(stats().dialogs == 8 && stats().evicted == 32);
	for (unsigned i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "junk3-%u@x", i);
		junk_invite(PHONE3, "192.168.4.4", id, 21000 + 2 * (i % 8));
	}
	CHECK(stats().dialogs == 16);
	/* The real phone's call: a dialog, its own pair, the pinhole. */
	invite_out("real-1@x", 1, NULL, SDP_AUDIO);
	CHECK(out_len > 0 && mport("audio") == 8000 && pinhole(8000, 8001, PHONE, 8000));
	CHECK(strstr(out, "c=IN IP4 198.51.100.10") != NULL);
	CHECK(stats().dialogs == 16);
	response_in("real-1@x", 180, "Ringing", 1, "INVITE", "");
	/* More junk from both: the ringing call keeps its dialog and pinhole. */
	for (unsigned i = 40; i < 80; i++) {
		snprintf(id, sizeof(id), "junk2-%u@x", i);
		junk_invite(PHONE2, "192.168.4.3", id, 20000 + 2 * (i % 8));
		snprintf(id, sizeof(id), "junk3-%u@x", i);
		junk_invite(PHONE3, "192.168.4.4", id, 21000 + 2 * (i % 8));
	}
	CHECK(pinhole(8000, 8001, PHONE, 8000) && stats().dialogs == 16);
	invite_out("real-1@x", 1, NULL, SDP_AUDIO);   /* a retransmission finds its dialog */
	CHECK(out_len > 0 && mport("audio") == 8000);
	response_in("real-1@x", 200, "OK", 1, "INVITE", SDP_FAR);
	request_out("real-1@x", "BYE", 2);
	CHECK(!napt_forward_find(UDP, 8000));

	/* The pool full of answered calls: nothing to evict, the new call goes out as written, counted. */
	setup_napt(64);
	setup_dialogs(4, 1);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "ans2-%u@x", i);
		junk_invite(PHONE2, "192.168.4.3", id, 20000 + 2 * i);
		ring_in(PHONE2, id, 180);
		snprintf(id, sizeof(id), "ans3-%u@x", i);
		junk_invite(PHONE3, "192.168.4.4", id, 21000 + 2 * i);
		ring_in(PHONE3, id, 183);
	}
	CHECK(stats().dialogs == 4);
	pool_full = stats().pool_full;
	invite_out("real-2@x", 1, NULL, SDP_AUDIO);
	CHECK(out_len == SIP_NO_MEDIA && stats().pool_full > pool_full && !napt_forward_find(UDP, 8000));
	CHECK(strstr(out, "c=IN IP4 192.168.4.2") != NULL && strstr(out, "Via: SIP/2.0/UDP 192.168.4.2:5060") != NULL);
	CHECK(strstr(out, "198.51.100.10") == NULL && stats().dialogs == 4);
}

/*
 * max_pinholes: a new stream that would take the media past the cap goes out
 * unrewritten (counted); a stream that already holds its forwards keeps them
 * and its external ports even at the cap.
 */
static void test_pinhole_cap(void)
{
	static const char sdp_b[] = "v=0\no=b 1 1 IN IP4 192.168.4.2\ns=-\nc=IN IP4 192.168.4.2\nt=0 0\nm=audio 8100 RTP/AVP 0\n";
	struct sip_dialog_config c;
	long ext;
	uint64_t failed;
	setup_napt(64);
	sip_dialog_default_config(&c);
	CHECK(c.max_pinholes == 32);
	c.max_pinholes = 2;
	CHECK(sip_dialog_init(&c, dialog_memory) == 0);
	now = 1000;
	/* The phone's own pair is taken, so the pinhole's ports differ from the phone's and a rewrite shows. */
	CHECK(add_forward(NAPT_ORIGIN_STATIC, 8000, 8000, PHONE2, 8000));
	invite_out("cap-a@x", 1, NULL, SDP_AUDIO);
	ext = mport("audio");
	CHECK(ext != 8000 && pinhole(ext, ext + 1, PHONE, 8000) && sip_forwards() == 1);
	failed = stats().pinhole_failed;
	invite_out("cap-b@x", 1, NULL, sdp_b);
	CHECK(mport("audio") == 8100 && !napt_forward_find(UDP, 8100) && sip_forwards() == 1);
	CHECK(stats().pinhole_failed == failed + 1);
	/* Unrewritten whole (issue 15 item 6): not the WAN address beside a port with no pinhole. */
	CHECK(out_len == SIP_NO_MEDIA && strstr(out, "c=IN IP4 192.168.4.2") != NULL && strstr(out, "198.51.100.10") == NULL);
	invite_out("cap-a@x", 1, NULL, SDP_AUDIO);
	CHECK(mport("audio") == ext && pinhole(ext, ext + 1, PHONE, 8000) && stats().pinhole_failed == failed + 1);
	/* The first call ends: room again. */
	request_out("cap-a@x", "BYE", 2);
	invite_out("cap-b@x", 1, NULL, sdp_b);
	CHECK(pinhole(8100, 8101, PHONE, 8100) && sip_forwards() == 1);
}

/* The inside pair is held by a console forward: another even pair, and the console's is never touched. */
static void test_port_taken(void)
{
	const char *id = "taken-1@x";
	long audio, video;
	setup();
	CHECK(add_forward(NAPT_ORIGIN_STATIC, 7181, 7181, PHONE2, 7181));
	invite_out(id, 1, NULL, SDP_AV);
	audio = mport("audio");
	video = mport("video");
	CHECK(audio != 7180 && audio >= 1024 && audio % 2 == 0);
	CHECK(pinhole(audio, audio + 1, PHONE, 7180));
	CHECK(video == 15010 && pinhole(video, video + 1, PHONE, 15010));
	/* Deterministic: the retransmission and the same call again get the same port. */
	invite_out(id, 1, NULL, SDP_AV);
	CHECK(mport("audio") == audio);
	request_out(id, "BYE", 2);
	CHECK(sip_forwards() == 0 && napt_forward_find(UDP, 7181) && napt_forward_find(UDP, 7181)->origin == NAPT_ORIGIN_STATIC);
	invite_out(id, 1, NULL, SDP_AV);
	CHECK(mport("audio") == audio);
	request_out(id, "BYE", 2);

	/* A console forward that took our port after it expired in the table survives the dialog's end. */
	invite_out("steal@x", 1, NULL, SDP_AUDIO);
	CHECK(pinhole(8000, 8001, PHONE, 8000));
	CHECK(napt_forward_remove(UDP, 8000) == NAPT_FORWARD_OK);
	CHECK(add_forward(NAPT_ORIGIN_UPNP, 8000, 8001, PHONE, 8000));
	request_out("steal@x", "BYE", 2);
	CHECK(napt_forward_find(UDP, 8000) && napt_forward_find(UDP, 8000)->origin == NAPT_ORIGIN_UPNP);
	/* And it does not take our expiry when a SIP message would refresh the pinhole. */
	invite_out("steal2@x", 1, NULL, SDP_AUDIO);
	CHECK(mport("audio") != 8000 && pinhole(mport("audio"), mport("audio") + 1, PHONE, 8000));
	CHECK(napt_forward_find(UDP, 8000)->expires == 0);
	request_out("steal2@x", "BYE", 2);
}

/* A call from far to the phone (Call-ID id): far's INVITE in, the phone's 200 with `sdp` out. */
static void answered_call_in(const char *id, const char *sdp)
{
	char head[1024];
	snprintf(head, sizeof(head),
	         "INVITE sip:alice@198.51.100.10:40000 SIP/2.0\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK%s\n"
	         "Record-Route: <sip:203.0.113.10;lr>\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "To: <sip:alice@198.51.100.10:40000>\n"
	         "Call-ID: %s\n"
	         "CSeq: 1 INVITE\n"
	         "Contact: <sip:bob@198.51.100.20:5060>\n"
	         "Content-Type: application/sdp\n", id, id);
	sendmsg(SIP_INBOUND, head, SDP_FAR);
	snprintf(head, sizeof(head),
	         "SIP/2.0 200 OK\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK%s\n"
	         "Record-Route: <sip:203.0.113.10;lr>\n"
	         "To: <sip:alice@192.168.4.2:5060>;tag=a6c85cf\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "Call-ID: %s\n"
	         "CSeq: 1 INVITE\n"
	         "Contact: <sip:alice@192.168.4.2:5060>\n"
	         "Content-Type: application/sdp\n", id, id);
	sendmsg(SIP_OUTBOUND, head, sdp);
}

static void bye_in(const char *id)
{
	char head[1024];
	snprintf(head, sizeof(head),
	         "BYE sip:alice@198.51.100.10:40000 SIP/2.0\n"
	         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK%sbye\n"
	         "From: <sip:bob@203.0.113.10>;tag=1928301774\n"
	         "To: <sip:alice@198.51.100.10:40000>;tag=a6c85cf\n"
	         "Call-ID: %s\n"
	         "CSeq: 2 BYE\n", id, id);
	sendmsg(SIP_INBOUND, head, "");
}

/*
 * The phone sent media before its SDP went out, so its media ports have
 * mappings already: baresip answering a call sends its first RTCP between
 * the 180 and the 200 (seen with two routers on one ISP segment). The
 * pinholes take the external ports those mappings have, so one inside port
 * keeps one external port (RFC 4787 REQ-1) and the phone's media leaves by
 * the ports its SDP names (symmetric RTP). A port another host's mapping
 * holds is still taken.
 */
static void test_own_mapping(void)
{
	const uint32_t caller = A(198, 51, 100, 20);   /* the caller's router, on the same ISP segment */
	uint32_t dst;
	uint16_t port;
	long ext;
	setup();

	/* Early RTCP from 8001, mapped to 8001; the answer's pair is (8000, 8001) all the same. */
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8001, caller, 30001, &dst, &port) == NAPT_FORWARD && last_sport == 8001);
	answered_call_in("own-1@203.0.113.10", SDP_AUDIO);
	CHECK(mport("audio") == 8000 && pinhole(8000, 8001, PHONE, 8000));
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8001, caller, 30001, &dst, &port) == NAPT_FORWARD && last_sport == 8001);
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8000, caller, 30000, &dst, &port) == NAPT_FORWARD && last_sport == 8000);
	CHECK(udp_through(NAPT_INBOUND, caller, 30000, WAN, 8000, &dst, &port) == NAPT_FORWARD && dst == PHONE && port == 8000);
	bye_in("own-1@203.0.113.10");
	CHECK(sip_forwards() == 0);

	/* Early RTP from 8000 while another host's mapping holds external 8000: the pinhole takes the phone's. */
	setup();
	CHECK(udp_through(NAPT_OUTBOUND, PHONE2, 8000, FAR, 9999, &dst, &port) == NAPT_FORWARD && last_sport == 8000);
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8000, caller, 30000, &dst, &port) == NAPT_FORWARD);
	ext = last_sport;
	CHECK(ext != 8000 && ext % 2 == 0);
	answered_call_in("own-2@203.0.113.10", SDP_AUDIO);
	CHECK(mport("audio") == ext && pinhole(ext, ext + 1, PHONE, 8000));
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8000, caller, 30000, &dst, &port) == NAPT_FORWARD && last_sport == ext);
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8001, caller, 30001, &dst, &port) == NAPT_FORWARD && last_sport == ext + 1);
	CHECK(udp_through(NAPT_INBOUND, A(203, 0, 113, 50), 30000, WAN, (uint16_t)ext, &dst, &port) == NAPT_FORWARD
	      && dst == PHONE && port == 8000);
	/* The other host's mapping is its own still. */
	CHECK(udp_through(NAPT_INBOUND, FAR, 9999, WAN, 8000, &dst, &port) == NAPT_FORWARD && dst == PHONE2 && port == 8000);
	bye_in("own-2@203.0.113.10");
	CHECK(sip_forwards() == 0);

	/* Another host's mapping on 8001 (the RTCP half): the pair goes elsewhere, as for a forward. */
	setup();
	CHECK(udp_through(NAPT_OUTBOUND, PHONE2, 8001, FAR, 9999, &dst, &port) == NAPT_FORWARD && last_sport == 8001);
	answered_call_in("own-3@203.0.113.10", SDP_AUDIO);
	ext = mport("audio");
	CHECK(ext != 8000 && ext % 2 == 0 && pinhole(ext, ext + 1, PHONE, 8000));
	CHECK(udp_through(NAPT_INBOUND, FAR, 9999, WAN, 8001, &dst, &port) == NAPT_FORWARD && dst == PHONE2 && port == 8001);
	bye_in("own-3@203.0.113.10");
	CHECK(sip_forwards() == 0);
}

/*
 * Issue 15 item 9: the callee's media left by ports its SDP did not name.
 * The phone sent RTP and RTCP before its 200 went out and the two mappings
 * are not a pair the pinhole can take (RTP moved off 8000, held by another
 * host; RTCP kept 8001), so the answer names another pair. From the moment
 * the rewritten answer leaves, RTP and RTCP of the stream leave by the
 * announced pair (the mappings that named other ports are let go) and the
 * announced pair reaches the phone.
 */
static void test_callee_ports(void)
{
	const uint32_t caller = A(198, 51, 100, 20);
	uint32_t dst;
	uint16_t port;
	long ext, rtp_early;
	setup();
	CHECK(udp_through(NAPT_OUTBOUND, PHONE2, 8000, FAR, 9999, &dst, &port) == NAPT_FORWARD && last_sport == 8000);
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8000, caller, 30000, &dst, &port) == NAPT_FORWARD);
	rtp_early = last_sport;
	CHECK(rtp_early != 8000);
	/* Take rtp_early + 1 by another host, so the pinhole cannot be (rtp_early, rtp_early + 1). */
	CHECK(add_forward(NAPT_ORIGIN_STATIC, (uint16_t)(rtp_early + 1), (uint16_t)(rtp_early + 1), PHONE2, 5555));
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8001, caller, 30001, &dst, &port) == NAPT_FORWARD && last_sport == 8001);
	answered_call_in("callee-1@203.0.113.10", SDP_AUDIO);
	ext = mport("audio");
	CHECK(ext > 0 && ext % 2 == 0 && pinhole(ext, ext + 1, PHONE, 8000));
	/* The announced pair, both ways, for the remote the phone already talked to and for a new one. */
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8000, caller, 30000, &dst, &port) == NAPT_FORWARD && last_sport == ext);
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8001, caller, 30001, &dst, &port) == NAPT_FORWARD && last_sport == ext + 1);
	CHECK(udp_through(NAPT_OUTBOUND, PHONE, 8001, FAR, 30001, &dst, &port) == NAPT_FORWARD && last_sport == ext + 1);
	CHECK(udp_through(NAPT_INBOUND, caller, 30001, WAN, (uint16_t)(ext + 1), &dst, &port) == NAPT_FORWARD
	      && dst == PHONE && port == 8001);
	CHECK(udp_through(NAPT_INBOUND, caller, 30000, WAN, (uint16_t)ext, &dst, &port) == NAPT_FORWARD
	      && dst == PHONE && port == 8000);
	/* The other host's mapping and forward are untouched. */
	CHECK(udp_through(NAPT_INBOUND, FAR, 9999, WAN, 8000, &dst, &port) == NAPT_FORWARD && dst == PHONE2 && port == 8000);
	bye_in("callee-1@203.0.113.10");
	CHECK(sip_forwards() == 0);
}

/* Odd RTP ports, a=rtcp elsewhere, a=rtcp at another address, RTCP on the RTP port. */
static void test_rtcp_shapes(void)
{
	static const char sdp[] =
		"v=0\n"
		"o=alice 1 1 IN IP4 192.168.4.2\n"
		"s=-\n"
		"c=IN IP4 192.168.4.2\n"
		"t=0 0\n"
		"m=audio 7181 RTP/AVP 0\n"
		"m=audio 7300 RTP/AVP 0\n"
		"a=rtcp:7401\n"
		"m=audio 7500 RTP/AVP 0\n"
		"a=rtcp:7600 IN IP4 203.0.113.99\n"
		"m=audio 7700 RTP/AVP 0\n"
		"a=rtcp:7700\n";
	const char *id = "rtcp-1@x";
	long e0, e1, e3;
	setup();
	invite_out(id, 1, NULL, sdp);
	/* Odd RTP, RTCP + 1: an even external pair, one two-port forward to (7181, 7182). */
	{
		const char *p = strstr(out, "\r\nm=audio ");
		e0 = strtol(p + 10, NULL, 10);
		p = strstr(p + 1, "\r\nm=audio ");
		e1 = strtol(p + 10, NULL, 10);
		p = strstr(p + 1, "\r\nm=audio ");
		CHECK(strtol(p + 10, NULL, 10) == 7500);
		p = strstr(p + 1, "\r\nm=audio ");
		e3 = strtol(p + 10, NULL, 10);
	}
	CHECK(e0 % 2 == 0 && e0 >= 1024 && pinhole(e0, e0 + 1, PHONE, 7181));
	/* a=rtcp at another inside port: two one-port forwards, the identity when free. */
	CHECK(e1 == 7300 && pinhole(7300, 7300, PHONE, 7300) && pinhole(7401, 7401, PHONE, 7401));
	CHECK(rtcp_attr(0) == 7401);
	/* RTCP at another host: only RTP here. */
	CHECK(pinhole(7500, 7500, PHONE, 7500) && !napt_forward_find(UDP, 7600) && !napt_forward_find(UDP, 7501));
	CHECK(strstr(out, "a=rtcp:7600 IN IP4 203.0.113.99\r\n") != NULL);
	/* RTCP on the RTP port: one port. */
	CHECK(e3 == 7700 && pinhole(7700, 7700, PHONE, 7700) && rtcp_attr(2) == 7700);
	CHECK(sip_forwards() == 5 && stats().pinholes == 5);
	invite_out(id, 1, NULL, sdp);
	CHECK(sip_forwards() == 5 && mport("audio") == e0);
	request_out(id, "BYE", 2);
	CHECK(sip_forwards() == 0);

	/* a=rtcp moved away from an inside port that another forward holds: the pair moves as one. */
	CHECK(add_forward(NAPT_ORIGIN_STATIC, 7401, 7401, PHONE2, 7401));
	{
		static const char sdp2[] =
			"v=0\no=a 1 1 IN IP4 192.168.4.2\ns=-\nc=IN IP4 192.168.4.2\nt=0 0\n"
			"m=audio 7300 RTP/AVP 0\na=rtcp:7401\n";
		invite_out("rtcp-2@x", 1, NULL, sdp2);
		e1 = mport("audio");
		CHECK(e1 != 7300 && e1 % 2 == 0 && rtcp_attr(0) == e1 + 1);
		CHECK(pinhole(e1, e1, PHONE, 7300) && pinhole(e1 + 1, e1 + 1, PHONE, 7401));
		request_out("rtcp-2@x", "BYE", 2);
		CHECK(sip_forwards() == 0);
	}
}

/* The table has no room: streams go unrewritten, counted. */
static void test_table_full(void)
{
	setup_napt(1);
	setup_dialogs(16, 8);
	now = 1000;
	invite_out("full-1@x", 1, NULL, SDP_AV);
	CHECK(mport("audio") == 7180 && pinhole(7180, 7181, PHONE, 7180));
	CHECK(mport("video") == 15010 && !napt_forward_find(UDP, 15010));
	CHECK(stats().pinhole_failed == 1);
	request_out("full-1@x", "BYE", 2);
	CHECK(napt_forward_count() == 0);
}

static void register_out(const char *id, unsigned cseq, const char *contact_params, const char *expires_hdr)
{
	char head[1024];
	snprintf(head, sizeof(head),
	         "REGISTER sip:registrar.example.com SIP/2.0\n"
	         "Via: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bKreg%u;rport\n"
	         "Max-Forwards: 70\n"
	         "To: Bob <sip:bob@example.com>\n"
	         "From: Bob <sip:bob@example.com>;tag=456248\n"
	         "Call-ID: %s\n"
	         "CSeq: %u REGISTER\n"
	         "Contact: <sip:bob@192.168.4.2:5060>%s\n"
	         "%s",
	         cseq, id, cseq, contact_params, expires_hdr);
	sendmsg(SIP_OUTBOUND, head, "");
}

static void register_200(const char *id, unsigned cseq, unsigned status, const char *contact_params)
{
	char head[1024];
	snprintf(head, sizeof(head),
	         "SIP/2.0 %u %s\n"
	         "Via: SIP/2.0/UDP 198.51.100.10:40000;branch=z9hG4bKreg%u;received=198.51.100.10;rport=40000\n"
	         "To: Bob <sip:bob@example.com>;tag=2493k59kd\n"
	         "From: Bob <sip:bob@example.com>;tag=456248\n"
	         "Call-ID: %s\n"
	         "CSeq: %u REGISTER\n"
	         "%s%s%s",
	         status, status == 200 ? "OK" : "Unauthorized", cseq, id, cseq,
	         contact_params ? "Contact: <sip:bob@198.51.100.10:40000>" : "", contact_params ? contact_params : "",
	         contact_params ? "\n" : "");
	sendmsg(SIP_INBOUND, head, "");
}

static void test_register(void)
{
	const char *id = "843817637684230@998sdasdh09";
	const struct napt_forward *fw;
	struct sip_registration_info ri;
	uint32_t cursor = 0;
	setup();
	register_out(id, 1, ";expires=1800", "Expires: 7200\n");
	CHECK(napt_forward_count() == 0 && stats().registrations == 0);
	register_200(id, 1, 401, NULL);
	CHECK(napt_forward_count() == 0);
	register_out(id, 2, ";expires=1800", "");
	register_200(id, 2, 200, ";expires=1200");
	fw = napt_forward_find(UDP, 40000);
	CHECK(fw && fw->origin == NAPT_ORIGIN_SIP && fw->ext_port == 40000 && fw->ext_end == 40000);
	CHECK(fw && fw->in_addr == PHONE && fw->in_port == 5060 && fw->remote == FAR);
	CHECK(fw && fw->expires > now + 1200 && fw->expires <= now + 1200 + 60);
	CHECK(stats().registrations == 1 && stats().pinholes == 1);
	CHECK(sip_registration_next(&cursor, now, &ri) == 1);
	CHECK(ri.inside_addr == PHONE && ri.registrar == FAR && ri.inside_port == 5060 && ri.ext_port == 40000);
	CHECK(ri.expires_in > 1200 && ri.expires_in <= 1260);
	CHECK(sip_registration_next(&cursor, now, &ri) == 0);

	/* The 200 without an expiry: the REGISTER's own. */
	now += 600;
	register_out(id, 3, "", "Expires: 300\n");
	register_200(id, 3, 200, NULL);
	fw = napt_forward_find(UDP, 40000);
	CHECK(fw && fw->expires > now + 300 && fw->expires <= now + 360);

	/* Expiry runs out. */
	now += 400;
	sip_dialog_tick(now);
	napt_tick(now);
	CHECK(napt_forward_count() == 0 && stats().registrations == 0);

	/* Again, then unregistered: expires 0 removes it. */
	register_out(id, 4, "", "Expires: 3600\n");
	register_200(id, 4, 200, ";expires=3600");
	CHECK(napt_forward_find(UDP, 40000) != NULL);
	register_out(id, 5, ";expires=0", "");
	CHECK(napt_forward_find(UDP, 40000) != NULL);    /* only the answer decides */
	register_200(id, 5, 200, NULL);
	CHECK(napt_forward_count() == 0 && stats().registrations == 0);

	/* The SIP flow's mapping expired between REGISTERs and came back on another port: the forward follows. */
	register_out(id, 7, "", "Expires: 600\n");
	register_200(id, 7, 200, NULL);
	CHECK(napt_forward_find(UDP, 40000) != NULL);
	msg_ext_port = 40002;
	register_out(id, 8, "", "Expires: 600\n");
	register_200(id, 8, 200, NULL);
	msg_ext_port = 40000;
	fw = napt_forward_find(UDP, 40002);
	CHECK(!napt_forward_find(UDP, 40000) && fw && fw->in_port == 5060 && fw->remote == FAR && napt_forward_count() == 1);
	sip_dialog_flush();
	CHECK(napt_forward_count() == 0);

	/* Over TCP nothing is opened: the connection carries the calls in. */
	msg_proto = NAPT_PROTO_TCP;
	register_out(id, 6, "", "Expires: 3600\n");
	register_200(id, 6, 200, ";expires=3600");
	msg_proto = UDP;
	CHECK(napt_forward_count() == 0 && stats().registrations == 0);
}

/* Flush removes exactly this layer's forwards. */
static void test_flush(void)
{
	setup();
	CHECK(add_forward(NAPT_ORIGIN_STATIC, 22000, 22000, PHONE2, 22));
	CHECK(add_forward(NAPT_ORIGIN_UPNP, 23000, 23001, PHONE2, 23000));
	invite_out("flush-1@x", 1, NULL, SDP_AV);
	register_out("reg@x", 1, "", "Expires: 600\n");
	register_200("reg@x", 1, 200, NULL);
	CHECK(sip_forwards() == 3 && napt_forward_count() == 5 && stats().pinholes == 3);
	sip_dialog_flush();
	CHECK(sip_forwards() == 0 && napt_forward_count() == 2);
	CHECK(napt_forward_find(UDP, 22000) && napt_forward_find(UDP, 23001));
	CHECK(stats().dialogs == 0 && stats().registrations == 0 && stats().pinholes == 0);
	sip_dialog_flush();
	CHECK(napt_forward_count() == 2);
}

/* Messages the layer must shrug off. */
static void test_odd_input(void)
{
	struct sip_dialog_msg m;
	struct sip_info empty;
	struct sip_media media;
	setup();
	memset(&m, 0, sizeof(m));
	memset(&empty, 0, sizeof(empty));
	memset(&media, 0, sizeof(media));
	m.now = now;
	sip_dialog_after(&m, &empty);                    /* no Call-ID */
	media.port = 8000;
	CHECK(sip_dialog_media(&m, &empty, &media) == 1);   /* not one of ours: ports left as written */
	CHECK(stats().dialogs == 0 && napt_forward_count() == 0);
	/* An OPTIONS answer with SDP (capabilities) opens nothing. */
	{
		char head[512];
		snprintf(head, sizeof(head),
		         "SIP/2.0 200 OK\n"
		         "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKopt\n"
		         "From: <sip:bob@203.0.113.10>;tag=1\n"
		         "To: <sip:alice@192.168.4.2>;tag=2\n"
		         "Call-ID: options-1@x\n"
		         "CSeq: 1 OPTIONS\n"
		         "Content-Type: application/sdp\n");
		sendmsg(SIP_OUTBOUND, head, SDP_AUDIO);
		CHECK(mport("audio") == 8000 && napt_forward_count() == 0 && stats().dialogs == 0);
	}
	/* The same Call-ID from two phones: two dialogs. */
	invite_out("shared@x", 1, NULL, SDP_AUDIO);
	{
		char head[1024];
		snprintf(head, sizeof(head),
		         "INVITE sip:bob@203.0.113.10 SIP/2.0\n"
		         "Via: SIP/2.0/UDP 192.168.4.3:5060;branch=z9hG4bKp2\n"
		         "From: <sip:carol@192.168.4.3>;tag=c\n"
		         "To: <sip:bob@203.0.113.10>\n"
		         "Call-ID: shared@x\n"
		         "CSeq: 1 INVITE\n"
		         "Content-Type: application/sdp\n");
		sendmsg_from(PHONE2, SIP_OUTBOUND, head,
		             "v=0\no=c 1 1 IN IP4 192.168.4.3\ns=-\nc=IN IP4 192.168.4.3\nt=0 0\nm=audio 8000 RTP/AVP 0\n");
		CHECK(stats().dialogs == 2 && mport("audio") != 8000 && pinhole(mport("audio"), mport("audio") + 1, PHONE2, 8000));
	}
	request_out("shared@x", "BYE", 2);
	CHECK(stats().dialogs == 1 && sip_forwards() == 1);
	/* Bad configurations. */
	{
		struct sip_dialog_config c;
		sip_dialog_default_config(&c);
		CHECK(c.max_dialogs == 16 && c.max_registrations == 8 && c.invite_timeout == 180 && c.session_timeout == 3600);
		c.max_dialogs = 0;
		CHECK(sip_dialog_memory_size(&c) == 0 && sip_dialog_init(&c, dialog_memory) == -1);
		c.max_dialogs = 257;
		CHECK(sip_dialog_memory_size(&c) == 0);
		c.max_dialogs = 256;
		c.max_registrations = 65;
		CHECK(sip_dialog_memory_size(&c) == 0);
		c.max_registrations = 64;
		c.session_timeout = 0;
		CHECK(sip_dialog_memory_size(&c) == 0);
		c.session_timeout = 3600;
		CHECK(sip_dialog_memory_size(&c) > 0);
	}
}

int main(void)
{
	test_call_audio_video();
	test_cancel();
	test_initial_invite_fails();
	test_failed_reinvite();
	test_inbound_call();
	test_timeouts();
	test_pool_full();
	test_pinhole_cap();
	test_pool_share();
	test_port_taken();
	test_own_mapping();
	test_callee_ports();
	test_rtcp_shapes();
	test_table_full();
	test_register();
	test_flush();
	test_odd_input();
	test_media_passes();
	return check_report("sip_dialog_test");
}
