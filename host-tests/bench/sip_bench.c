/*
 * SIP ALG message layer cost (host-tests/bench/sip-bench.sh drives it).
 *
 *   sip_bench count <n>   for callgrind: n rewrites and n framings
 *   sip_bench time <n>    native: ns per rewrite and per framing
 *
 * The message is a typical outbound INVITE from a softphone: 13 headers
 * (three naming the phone's LAN address), SDP with audio and video (RTP and RTCP
 * each, a=rtcp on both), 1,162 bytes. Every call rewrites it whole: Via,
 * Contact, From, SDP o= and c=, both m= ports and both a=rtcp ports, and
 * Content-Length; the media callback only fills in ports, so the figure is
 * the message layer's own cost. The calls go through bench_rewrite() and
 * bench_length(), which sip-bench.sh hands to callgrind's --toggle-collect
 * and whose own instructions it subtracts.
 * Prints one line of key=value pairs.
 */
#include "sip_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_invite.h"

static uint32_t addr(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

/* What the pinhole layer will do, minus the pinholes. */
static int media(void *ctx, const struct sip_info *info, struct sip_media *m)
{
	(void)ctx;
	(void)info;
	m->ext_port = (uint16_t)(m->port + 32000);
	m->ext_rtcp_port = (uint16_t)(m->rtcp_port + 32000);
	return 0;
}

static struct sip_rewrite_params params;
static uint8_t out[2048];
static struct sip_info info;
static volatile long sink;

__attribute__((noinline)) void bench_rewrite(const uint8_t *msg, size_t len)
{
	sink = sip_rewrite(msg, len, out, sizeof(out), &params, &info);
}

__attribute__((noinline)) void bench_length(const uint8_t *msg, size_t len)
{
	sink = sip_message_length(msg, len, 1);
}

__attribute__((noinline)) void bench_none(const uint8_t *msg, size_t len)
{
	sink = (long)(msg[0] + len);
}

static int has(const uint8_t *b, size_t n, const char *s)
{
	size_t k = strlen(s), i;
	for (i = 0; i + k <= n; i++)
		if (!memcmp(b + i, s, k))
			return 1;
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double loop(void (*fn)(const uint8_t *, size_t), const uint8_t *msg, size_t len, long n)
{
	double t0 = now_ns();
	long i;
	for (i = 0; i < n; i++)
		fn(msg, len);
	return now_ns() - t0;
}

/* Best of five of (fn loop - empty loop) / n. */
static double per_call(void (*fn)(const uint8_t *, size_t), const uint8_t *msg, size_t len, long n)
{
	double best = 1e30;
	int k;
	for (k = 0; k < 5; k++) {
		double t = (loop(fn, msg, len, n) - loop(bench_none, msg, len, n)) / (double)n;
		if (t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	const uint8_t *msg = (const uint8_t *)invite;
	size_t len = sizeof(invite) - 1;
	long n, r, i;
	if (argc != 3 || (strcmp(argv[1], "count") && strcmp(argv[1], "time")) || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: sip_bench count|time <n>\n");
		return 2;
	}
	params.dir = SIP_OUTBOUND;
	params.inside.addr = addr(192, 168, 4, 2);
	params.inside.port = 5060;
	params.outside.addr = addr(198, 51, 100, 10);
	params.outside.port = 40000;
	params.media = media;

	/* the bench is only worth its figure if the rewrite does the whole job */
	r = sip_rewrite(msg, len, out, sizeof(out), &params, &info);
	if (sip_message_length(msg, len, 1) != (long)len || r <= 0 || info.media_count != 2
	    || info.rewrote != (SIP_RW_VIA | SIP_RW_CONTACT | SIP_RW_FROM | SIP_RW_SDP | SIP_RW_MEDIA)
	    || !has(out, (size_t)r, "a=rtcp:40003") || sip_message_length(out, (size_t)r, 1) != r) {
		fprintf(stderr, "sip_bench: the rewrite did not do what it should (%ld)\n", r);
		return 1;
	}
	if (!strcmp(argv[1], "count")) {
		for (i = 0; i < n; i++) {
			bench_rewrite(msg, len);
			bench_length(msg, len);
		}
		printf("bytes_in=%zu bytes_out=%ld calls=%ld\n", len, r, n);
	} else {
		printf("bytes_in=%zu bytes_out=%ld ns_rewrite=%.0f ns_length=%.0f\n", len, r,
		       per_call(bench_rewrite, msg, len, n), per_call(bench_length, msg, len, n));
	}
	return 0;
}
