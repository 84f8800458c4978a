/*
 * SIP ALG cost with its state (host-tests/bench/sip-bench.sh drives it):
 *
 *   rtp_bench count <n>   for callgrind: n outbound INVITEs through the ALG
 *                         and n RTP packets each way through the pinhole
 *
 * The INVITE (bench_invite.h, as sip_bench.c uses: audio and video) goes through
 * sip_rewrite() with the dialog layer's media callback and then
 * sip_dialog_after(), against a real NAPT table: the first one opens the
 * pinholes, the counted ones are what a phone's retransmissions and
 * re-INVITEs with the same ports cost (the dialog found, its pinholes kept
 * and refreshed). The RTP packets are 172-byte G.711 datagrams: from the far
 * end to the advertised external port (through the pinhole's forward, the
 * flow made by the first packet) and from the phone back to it, each through
 * napt_process(), which is all the per-packet path does for media: the ALG
 * looks only at SIP ports. The calls go through bench_invite(),
 * bench_rtp_in() and bench_rtp_out(), whose own instructions sip-bench.sh
 * subtracts.
 */
#include "napt.h"
#include "sip_dialog.h"
#include "sip_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_invite.h"

#define RTP_PAYLOAD 160
#define PKT (20 + 8 + 12 + RTP_PAYLOAD)

static uint32_t addr(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static uint16_t ip_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)~s;
}

/* An RTP datagram; UDP checksum 0 (none), as many phones send. */
static void rtp_packet(uint8_t *b, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	uint16_t sum;
	memset(b, 0, PKT);
	b[0] = 0x45;
	b[2] = PKT >> 8;
	b[3] = PKT & 0xff;
	b[8] = 64;
	b[9] = NAPT_PROTO_UDP;
	memcpy(b + 12, &src, 4);
	memcpy(b + 16, &dst, 4);
	sum = ip_sum(b, 20);
	b[10] = (uint8_t)(sum >> 8);
	b[11] = (uint8_t)sum;
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	b[24] = (PKT - 20) >> 8;
	b[25] = (PKT - 20) & 0xff;
	b[28] = 0x80;   /* RTP version 2, PCMU */
}

static uint8_t out[2048];
static struct sip_info info;
static struct sip_rewrite_params params;
static struct sip_dialog_msg dmsg;
static volatile long sink;
static uint32_t now = 10;

__attribute__((noinline)) void bench_invite(const uint8_t *msg, size_t len)
{
	sink = sip_rewrite(msg, len, out, sizeof(out), &params, &info);
	sip_dialog_after(&dmsg, &info);
}

__attribute__((noinline)) void bench_rtp_in(uint8_t *p)
{
	sink = napt_process(p, PKT, PKT, NAPT_INBOUND, now);
}

__attribute__((noinline)) void bench_rtp_out(uint8_t *p)
{
	sink = napt_process(p, PKT, PKT, NAPT_OUTBOUND, now);
}

static uint16_t port_at(const uint8_t *p, int off)
{
	return (uint16_t)(p[off] << 8 | p[off + 1]);
}

int main(int argc, char **argv)
{
	static uint32_t table[1 << 16], dialogs[1 << 12];
	const uint8_t *msg = (const uint8_t *)invite;
	size_t len = sizeof(invite) - 1;
	struct napt_config nc;
	struct napt_addresses a;
	struct sip_dialog_config dc;
	uint8_t in_tmpl[PKT], out_tmpl[PKT], pkt[PKT];
	uint32_t wan = addr(198, 51, 100, 10), phone = addr(192, 168, 4, 2), far = addr(203, 0, 113, 10);
	uint16_t ext;
	long n, i, r;
	if (argc != 3 || strcmp(argv[1], "count") || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: rtp_bench count <n>\n");
		return 2;
	}
	napt_default_config(&nc);
	if (napt_memory_size(&nc) > sizeof(table) || napt_init(&nc, table)) {
		fprintf(stderr, "rtp_bench: napt_init\n");
		return 1;
	}
	a.wan_addr = wan;
	a.lan_addr = addr(192, 168, 4, 1);
	a.lan_mask = addr(255, 255, 255, 0);
	napt_set_addresses(&a);
	sip_dialog_default_config(&dc);
	if (sip_dialog_memory_size(&dc) > sizeof(dialogs) || sip_dialog_init(&dc, dialogs)) {
		fprintf(stderr, "rtp_bench: sip_dialog_init\n");
		return 1;
	}
	dmsg.dir = SIP_OUTBOUND;
	dmsg.proto = NAPT_PROTO_UDP;
	dmsg.inside_addr = phone;
	dmsg.inside_port = 5060;
	dmsg.remote_addr = far;
	dmsg.remote_port = 5060;
	dmsg.ext_port = 5060;
	dmsg.now = now;
	params.dir = SIP_OUTBOUND;
	params.inside.addr = phone;
	params.inside.port = 5060;
	params.outside.addr = wan;
	params.outside.port = 5060;
	params.media = sip_dialog_media;
	params.media_ctx = &dmsg;

	/* The first INVITE opens the pinholes; the figure is only worth something if it did. */
	r = sip_rewrite(msg, len, out, sizeof(out), &params, &info);
	sip_dialog_after(&dmsg, &info);
	if (r <= 0 || info.media_count != 2 || !info.media[0].ext_port || !napt_forward_find(NAPT_PROTO_UDP, info.media[0].ext_port)) {
		fprintf(stderr, "rtp_bench: the INVITE opened no pinhole (%ld)\n", r);
		return 1;
	}
	ext = info.media[0].ext_port;
	rtp_packet(in_tmpl, far, 30000, wan, ext);
	rtp_packet(out_tmpl, phone, 8000, far, 30000);
	memcpy(pkt, in_tmpl, PKT);
	if (napt_process(pkt, PKT, PKT, NAPT_INBOUND, now) != NAPT_FORWARD || memcmp(pkt + 16, &phone, 4) || port_at(pkt, 22) != 8000) {
		fprintf(stderr, "rtp_bench: RTP from the far end did not reach the phone\n");
		return 1;
	}
	memcpy(pkt, out_tmpl, PKT);
	if (napt_process(pkt, PKT, PKT, NAPT_OUTBOUND, now) != NAPT_FORWARD || memcmp(pkt + 12, &wan, 4) || port_at(pkt, 20) != ext) {
		fprintf(stderr, "rtp_bench: the phone's RTP did not leave by the advertised port\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		bench_invite(msg, len);
		memcpy(pkt, in_tmpl, PKT);
		bench_rtp_in(pkt);
		memcpy(pkt, out_tmpl, PKT);
		bench_rtp_out(pkt);
	}
	if (info.media[0].ext_port != ext) {
		fprintf(stderr, "rtp_bench: a retransmitted INVITE moved the pinhole\n");
		return 1;
	}
	printf("calls=%ld ext_port=%u\n", n, ext);
	return 0;
}
