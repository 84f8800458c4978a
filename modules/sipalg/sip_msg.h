/*
 * The SIP ALG's message layer: find one SIP message in a buffer, read what
 * the dialog layer needs from it, and rewrite the NAT-visible literals in it
 * into a second buffer. Plain C on bytes: no lwIP, no allocation, nothing
 * kept between calls; addresses as on the wire (network order in a
 * uint32_t, read with memcpy), ports in host order.
 *
 * What is rewritten (RFC 3261, 3581, 4566, 3605), and only where the text
 * is exactly the address (and port) the rewrite is told about, written the
 * usual way (dotted decimal and a port without leading zeros); public or
 * STUN-derived literals are never touched:
 *   outbound (LAN -> WAN), inside -> outside:
 *     Request-URI; the topmost Via's sent-by (its received/rport params are
 *     left as the phone wrote them); every Contact; From and To; SDP o= and
 *     c= (session and media) addresses and a=rtcp addresses; m= ports and
 *     a=rtcp ports of each stream the media callback gave a pinhole to
 *     (port 0 streams untouched).
 *   inbound (WAN -> LAN), outside -> inside, the mirror of the above for
 *   the SIP headers (SDP is never rewritten inbound):
 *     Request-URI of a request; the topmost Via of a response, and when its
 *     sent-by was the outside address, its received= and rport= params where
 *     they name the outside address/port; every Contact (a registrar's 200
 *     lists the phone's binding as it saw it); From and To.
 * A port is replaced only where it equals the endpoint's port, or is absent
 * and the endpoint's port is the default (5060; 5061 for sips: URIs and a
 * TLS Via), and then the new port is written only if it is not the default.
 * Content-Length is set to the rewritten body's length; a changed message
 * that had none (UDP) gets one.
 *
 * Header names match case-insensitively, in long and compact form (v m l i
 * f t c e), continuation (folded) lines belong to the header above, a header
 * may hold several comma-separated values (Via, Contact). Lines end in CRLF
 * or a bare LF; a bare CR in the headers makes a message unparseable (peers
 * would disagree on where its lines end). A body with a Content-Encoding
 * other than identity is never touched.
 */
#ifndef SIP_MSG_H
#define SIP_MSG_H

#include <stddef.h>
#include <stdint.h>

#define SIP_MEDIA_MAX 8          /* m= lines looked at per message; more keep their ports (not their address literals) */
#define SIP_CALL_ID_MAX 80       /* longer Call-IDs are cut (hashing only) */

enum sip_dir {
	SIP_OUTBOUND = 0,
	SIP_INBOUND = 1,
};

enum sip_method {
	SIP_M_NONE = 0,      /* a response's CSeq method when unknown, or no CSeq */
	SIP_M_INVITE, SIP_M_ACK, SIP_M_BYE, SIP_M_CANCEL, SIP_M_REGISTER,
	SIP_M_OPTIONS, SIP_M_UPDATE, SIP_M_PRACK, SIP_M_OTHER,
};

struct sip_endpoint {
	uint32_t addr;       /* network order */
	uint16_t port;       /* host order */
};

/*
 * One SDP media stream (m= line); for an inbound message, as the far end
 * wrote it (no callback, ext ports 0).
 */
struct sip_media {
	uint8_t index;       /* 0-based m= line number */
	uint16_t port;       /* m= port as written (the inside RTP port) */
	uint16_t rtcp_port;  /* a=rtcp: port, else port + 1 (RFC 3605); 0 when an
	                        a=rtcp line names another address than the inside
	                        one (RTCP does not come here: no pinhole, the line
	                        is left alone) */
	uint8_t explicit_rtcp;   /* the stream has an a=rtcp: line */
	/* Filled by the media callback: the external ports to write. */
	uint16_t ext_port;
	uint16_t ext_rtcp_port;
};

/* What one message says, for the dialog layer. Pointers point into the input. */
struct sip_info {
	uint8_t is_request;
	uint8_t method;          /* enum sip_method: the request's, or the CSeq's for a response */
	uint16_t status;         /* a response's status code */
	const uint8_t *call_id;  /* Call-ID value, not NUL-terminated; NULL if absent */
	uint16_t call_id_len;
	uint32_t cseq;
	int32_t expires;         /* the expiry of the phone's binding (RFC 3261 10.2.1.1, 10.3): the
	                            expires param of the first Contact naming the endpoint being
	                            rewritten (else of the first Contact), else the Expires
	                            header; -1 if none; clamped to INT32_MAX */
	uint8_t has_sdp;         /* Content-Type application/sdp with a body */
	uint32_t sdp_addr;       /* the SDP's session c= address (else the first media c=); 0 if none or IPv6 */
	uint8_t media_count;     /* streams in media[] (at most SIP_MEDIA_MAX) */
	struct sip_media media[SIP_MEDIA_MAX];
	uint8_t changed;         /* the output differs from the input */
	uint8_t rewrote;         /* SIP_RW_* bits: where literals were replaced. The dialog layer
	                            can remember per dialog whether the phone's own Via/Contact
	                            were rewritten outbound, and not restore inbound what a
	                            NAT-aware (STUN, rport) phone wrote itself */
};

#define SIP_RW_URI     0x01u   /* Request-URI */
#define SIP_RW_VIA     0x02u   /* topmost Via (and its received/rport inbound) */
#define SIP_RW_CONTACT 0x04u
#define SIP_RW_FROM    0x08u
#define SIP_RW_TO      0x10u
#define SIP_RW_SDP     0x20u   /* an SDP o=, c= or a=rtcp address */
#define SIP_RW_MEDIA   0x40u   /* an m= or a=rtcp port */

/*
 * Called once per outbound SDP stream (among the first SIP_MEDIA_MAX) whose
 * connection address (media c=, else session c=) is the inside address and
 * whose port is not 0: open pinholes and fill m->ext_port and
 * m->ext_rtcp_port. Return 0 to have the m= (and a=rtcp) ports rewritten,
 * 1 to leave this stream's ports as they are (a message that sets up no
 * media), -1 when the stream needs a pinhole and none can be had: the
 * rewrite stops there and sip_rewrite() returns SIP_NO_MEDIA (the message
 * goes on unchanged); a port 0 is never written.
 * ext_rtcp_port is written only into an a=rtcp line: without one the far
 * end sends RTCP to ext_port + 1, so give an adjacent pair then. `info` has
 * the headers and every stream already (Call-ID, method, status, media[]).
 * The callback runs only once the rewrite is sure to fit: after it,
 * sip_rewrite() returns the output length, or SIP_NO_MEDIA when a callback
 * said -1 (pinholes the earlier streams got stay with their dialog).
 */
typedef int (*sip_media_fn)(void *ctx, const struct sip_info *info, struct sip_media *m);

struct sip_rewrite_params {
	enum sip_dir dir;
	struct sip_endpoint inside;    /* the LAN host and its SIP port */
	struct sip_endpoint outside;   /* the WAN address and the flow's external port */
	sip_media_fn media;            /* may be NULL: no pinholes, ports unchanged */
	void *media_ctx;
};

enum sip_result {
	SIP_INCOMPLETE = -1,    /* not a whole message yet (headers or body cut short) */
	SIP_UNPARSEABLE = -2,   /* not a SIP message we can read: forward it unchanged */
	SIP_TOO_BIG = -3,       /* the rewrite would not fit in out_cap (reckoning 5 digits for
	                           every external media port), or needs more than SIP_EDIT_MAX
	                           replacements: forward unchanged */
	SIP_NO_MEDIA = -4,      /* an outbound SDP stream could not have its external ports (the
	                           media callback said -1: no dialog, no pinhole), or the SDP has
	                           streams past the first SIP_MEDIA_MAX that would need them:
	                           forward unchanged (info filled), and count it. Half a rewrite
	                           would put the WAN address beside ports that lead nowhere */
};

#define SIP_EDIT_MAX 48          /* replacements per message (8 bytes of stack each) */

/*
 * The length of the first complete SIP message in buf (start line, headers,
 * blank line, Content-Length bytes of body), or SIP_INCOMPLETE /
 * SIP_UNPARSEABLE. Over UDP a missing Content-Length means "the rest of the
 * datagram" (RFC 3261 18.3); pass stream = 1 for TCP, where it is required.
 * CR and LF bytes before a start line belong to the message that follows
 * (RFC 3261 7.5); a buffer of nothing else (RFC 5626 keep-alives) is a unit
 * of its own, whose length is returned. Garbage is recognised as soon as it
 * is seen, so a stream of it is SIP_UNPARSEABLE, not SIP_INCOMPLETE forever;
 * a prefix of a valid message is SIP_INCOMPLETE (or a keep-alive unit).
 */
long sip_message_length(const uint8_t *buf, size_t len, int stream);

/*
 * Rewrite the one complete message in `in` (in_len bytes, as
 * sip_message_length() measured it: trailing bytes make it SIP_UNPARSEABLE)
 * into `out`, which must not overlap `in`. Returns the output length
 * (>= 0; info->changed says whether it differs; unchanged, `out` is a copy)
 * or a negative enum sip_result, in which case `out` holds nothing useful
 * and the message must go on unchanged. `info` is always filled as far as
 * parsing got. A keep-alive unit is copied, with is_request and status 0.
 */
long sip_rewrite(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                 const struct sip_rewrite_params *params, struct sip_info *info);

#endif
