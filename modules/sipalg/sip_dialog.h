/*
 * The SIP ALG's state: dialogs, found by Call-ID and inside host, each with
 * the media pinholes its SDP asked for, and registrations, each holding the
 * phone's signalling port open to its registrar while the binding lasts.
 *
 * Pinholes are NAPT forwards of origin NAPT_ORIGIN_SIP (UDP): the table sends
 * the packets and expires them; this layer only decides when they open,
 * move and close. A stream's RTP and RTCP get one two-port forward when its
 * RTCP port is RTP + 1 (the external pair even/odd where one is free, the
 * inside port pair itself first when its RTP port is even), else two
 * one-port forwards (still an adjacent external pair where one is free);
 * RTCP multiplexed on the RTP port, or sent to another host, gets none of
 * its own. Pinholes admit any remote host: the far end's media often comes
 * from elsewhere than its signalling, and the pinhole lasts only as long
 * as the dialog. A stream whose inside ports did not change keeps its
 * external ports (retransmissions, re-INVITEs get the same answer). Outbound RTP
 * from the phone's port then leaves by the same external port (the table
 * gives a forward's target its external port), so symmetric RTP works.
 *
 * The pool is shared: one LAN host holds at most max_per_host early dialogs
 * that never had an answer (no response but 100 Trying; half the pool by
 * default), so junk INVITEs from one host cannot take every slot nor churn
 * the others' calls out. Answered dialogs (ringing, confirmed) are not
 * counted against the share, so a PBX with many real calls is not cut
 * short, and are never evicted. When a new dialog finds no room (the pool,
 * or the host's share), an early dialog without an answer makes way, the
 * oldest first (the host's own when its share is the limit). When none can
 * make way the message goes on unrewritten (sip_dialog_media() says -1:
 * sip_rewrite() returns SIP_NO_MEDIA), counted in pool_full.
 *
 * Lifetimes: a dialog whose INVITE has no final answer lasts invite_timeout
 * seconds; a confirmed one session_timeout seconds from its last SIP
 * message; its pinholes carry the same expiry in the table. BYE (either
 * way), CANCEL, a final failure to the initial INVITE (>= 300), or the time
 * running out end it and close its pinholes. A re-INVITE (or UPDATE, or any
 * outbound SDP in the dialog) moves streams whose inside port changed,
 * keeps those that did not (same external ports), and closes streams now
 * gone or at port 0. When that SDP is the phone's offer in a confirmed
 * dialog (re-INVITE, UPDATE), the pinholes it replaces stay open beside the
 * new ones until the final response: a 2xx closes the old, a failure the
 * new, so a failed re-INVITE leaves the dialog as it was. A CANCEL in a
 * confirmed dialog (of a re-INVITE) does not end it.
 *
 * Registrations (UDP only; over TCP the connection itself carries calls
 * in): a 2xx to a REGISTER the phone sent, whose binding expiry (struct
 * sip_info.expires, else the request's) is > 0, opens a one-port forward
 * from the SIP flow's external port to the phone's SIP port, admitting only
 * the registrar's address, for that long plus a little; expiry 0 removes it.
 * One registration per (phone, SIP port, registrar); the REGISTER's own
 * expiry is remembered until its answer.
 *
 * Plain C, no lwIP, no allocation after sip_dialog_init(); the pools are
 * sized by the configuration. Uses only napt.h's forward API.
 */
#ifndef SIP_DIALOG_H
#define SIP_DIALOG_H

#include <stddef.h>
#include <stdint.h>

#include "sip_msg.h"

struct sip_dialog_config {
	uint16_t max_dialogs;        /* 1 .. 256; default 16 */
	uint16_t max_registrations;  /* 1 .. 64; default 8 */
	uint32_t invite_timeout;     /* seconds; default 180 */
	uint32_t session_timeout;    /* seconds; default 3600 */
	uint16_t max_pinholes;       /* NAPT forwards the dialogs' media may hold at once (a stream
	                                takes one or two); 0: as many as the table has room for.
	                                Default 2 * max_dialogs. A stream that keeps its ports
	                                keeps its forwards even at the cap */
	uint16_t max_per_host;       /* early dialogs without an answer one LAN host may hold at
	                                once; 0: half the pool (at least 1). Default 0 */
};

void sip_dialog_default_config(struct sip_dialog_config *config);

/* Bytes sip_dialog_init() needs; 0 when the configuration is out of range. */
size_t sip_dialog_memory_size(const struct sip_dialog_config *config);

/* Take `memory` (aligned for uint32_t) and start empty; -1 when out of range. */
int sip_dialog_init(const struct sip_dialog_config *config, void *memory);

/* One message the ALG has seen, as the glue knows it (before translation). */
struct sip_dialog_msg {
	enum sip_dir dir;
	uint8_t proto;            /* NAPT_PROTO_UDP or NAPT_PROTO_TCP: the signalling transport */
	uint32_t inside_addr;     /* the LAN host (network order) */
	uint16_t inside_port;     /* its SIP port */
	uint32_t remote_addr;     /* the WAN-side peer */
	uint16_t remote_port;
	uint16_t ext_port;        /* the SIP flow's external port */
	uint32_t now;             /* napt's clock, seconds */
};

/*
 * The media callback for sip_rewrite() (a sip_media_fn): `ctx` is the
 * struct sip_dialog_msg of this message. Finds or makes the dialog, opens
 * or keeps the stream's pinholes and fills m->ext_port and m->ext_rtcp_port.
 * Returns -1 when no pinhole can be had (the pool or the host's share full
 * with nothing to evict, the table full, max_pinholes reached; counted): the
 * whole message then goes on unrewritten. Returns 1 (ports left as written)
 * for a stream of a message that sets up no media (inbound, an SDP in a
 * failure response or an OPTIONS answer).
 */
int sip_dialog_media(void *ctx, const struct sip_info *info, struct sip_media *m);

/*
 * After a message went on (rewritten or not): what it means for its dialog
 * or registration: end, confirm, close streams the SDP dropped, open or
 * remove a registration's forward. Safe for any info, even one of a
 * message sip_rewrite() could not parse (call_id NULL: ignored).
 */
void sip_dialog_after(const struct sip_dialog_msg *msg, const struct sip_info *info);

/* Once a second: end dialogs and registrations whose time ran out. */
void sip_dialog_tick(uint32_t now);

/* End everything and close every pinhole (the ALG turned off, the WAN address changed). */
void sip_dialog_flush(void);

struct sip_dialog_stats {
	uint32_t dialogs, dialogs_max;            /* live now, pool size */
	uint32_t registrations, registrations_max;
	uint32_t pinholes;                        /* forwards open now */
	uint64_t dialogs_created, dialogs_ended;
	uint64_t pool_full;                       /* a dialog or registration not made: pool (or the
	                                             host's share) full, nothing to evict */
	uint64_t evicted;                         /* early dialogs never answered, ended to make room */
	uint64_t pinhole_failed;                  /* a stream left unrewritten: no port, table full or max_pinholes reached */
};
void sip_dialog_get_stats(struct sip_dialog_stats *stats);

/* One live dialog, for `show sipalg`. */
struct sip_dialog_info {
	char call_id[40];          /* the Call-ID's first 39 bytes, NUL-terminated */
	uint32_t inside_addr, remote_addr;
	uint8_t confirmed;         /* a 2xx to its INVITE was seen */
	uint8_t streams;           /* streams with pinholes */
	uint16_t ext_ports[SIP_MEDIA_MAX];     /* each stream's external RTP port (0: none) */
	uint16_t inside_ports[SIP_MEDIA_MAX];
	uint32_t expires_in;       /* seconds */
};

/* One live registration. */
struct sip_registration_info {
	uint32_t inside_addr, registrar;
	uint16_t inside_port, ext_port;
	uint32_t expires_in;
};

/* Walk live dialogs / registrations: `cursor` starts at 0; 1 while there are more. */
int sip_dialog_next(uint32_t *cursor, uint32_t now, struct sip_dialog_info *info);
int sip_registration_next(uint32_t *cursor, uint32_t now, struct sip_registration_info *info);

#endif
