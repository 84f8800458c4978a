/*
 * The benchmarks' SIP message: a typical outbound INVITE from a softphone
 * (Zoiper-like), 13 headers with three naming the phone's LAN address, SDP
 * with audio and video, RTP and RTCP each (a=rtcp on both), 1,162 bytes.
 * Shared by sip_bench.c (the message layer) and rtp_bench.c (the ALG with
 * its dialog state).
 */
#ifndef BENCH_INVITE_H
#define BENCH_INVITE_H

static const char invite[] =
	"INVITE sip:bob@203.0.113.10 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.168.4.2:5060;branch=z9hG4bK-524287-1---9d0b4f1e3c2a1b0c;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Contact: <sip:alice@192.168.4.2:5060;transport=udp>\r\n"
	"To: <sip:bob@203.0.113.10>\r\n"
	"From: \"Alice\" <sip:alice@192.168.4.2>;tag=4f2a9c1e\r\n"
	"Call-ID: ZDg4YzJmNGQ1ZWI0YjY3NjM5NmQ0ZWQ2ZTg1YmM5YjE\r\n"
	"CSeq: 1 INVITE\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
	"Content-Type: application/sdp\r\n"
	"Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri\r\n"
	"User-Agent: Z 5.5.12 v2.10.19.9\r\n"
	"Allow-Events: presence, kpml, talk\r\n"
	"Content-Length: 522\r\n"
	"\r\n"
	"v=0\r\n"
	"o=Z 1694176543210 1 IN IP4 192.168.4.2\r\n"
	"s=Z\r\n"
	"c=IN IP4 192.168.4.2\r\n"
	"t=0 0\r\n"
	"m=audio 8000 RTP/AVP 106 9 98 101 0 8 3\r\n"
	"a=rtpmap:106 opus/48000/2\r\n"
	"a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1\r\n"
	"a=rtpmap:98 telephone-event/48000\r\n"
	"a=fmtp:98 0-16\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=rtcp:8001\r\n"
	"a=sendrecv\r\n"
	"m=video 8002 RTP/AVP 99 97\r\n"
	"a=rtpmap:99 H264/90000\r\n"
	"a=fmtp:99 profile-level-id=42e01f; packetization-mode=1\r\n"
	"a=rtpmap:97 VP8/90000\r\n"
	"a=rtcp:8003\r\n"
	"a=rtcp-fb:* nack pli\r\n"
	"a=sendrecv\r\n";

#endif
