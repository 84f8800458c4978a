/*
 * The SIP ALG on lwIP: the glue between NAPT's packet path (napt_lwip.h's
 * ALG hook) and the SIP layers (sip_msg.h, sip_dialog.h, sip_tcp.h).
 *
 * For a TCP or UDP packet NAPT has translated for forwarding whose inside,
 * remote or external port is one of the SIP ports, it rewrites the SIP
 * messages in it (sip_rewrite(), pinholes through sip_dialog_media()),
 * tells the dialog layer what each message meant, and for TCP moves
 * sequence numbers through the edits (sip_tcp.h). A packet that changes
 * size is rebuilt in a new pbuf and sent here; one that does not goes on
 * through lwIP's ip4_forward(). Nothing is ever dropped: what cannot be
 * parsed, or would no longer fit the outgoing port's MTU, goes on
 * unchanged and is counted.
 *
 * Memory: one block taken at sipalg_lwip_start() (the dialog and TCP pools,
 * and two packet buffers); nothing is allocated per packet.
 */
#ifndef SIPALG_H
#define SIPALG_H

#include <stdint.h>

#include "sip_dialog.h"
#include "sip_tcp.h"

#define SIPALG_PORTS_MAX 8
#define SIPALG_DEFAULT_PORT 5060

/*
 * Packets up to this many bytes (IP header included) are looked at: a
 * full Ethernet frame's datagram and some. Larger ones (reassembled
 * fragments) would not fit the MTU rewritten anyway: passed, counted.
 */
#define SIPALG_PACKET_MAX 1600

struct sipalg_config {
	uint8_t enabled;
	uint8_t port_count;                      /* 1 .. SIPALG_PORTS_MAX */
	uint16_t ports[SIPALG_PORTS_MAX];        /* UDP and TCP alike */
	/*
	 * dialog.max_pinholes caps the media forwards (registrations' one
	 * forward each come on top): the NAPT forward pool is sized with room
	 * for sipalg_forward_room() of them, so the ALG never takes the room of
	 * static or UPnP forwards, and must not be 0 here. Default 2 per
	 * dialog: a call with audio and video, each stream one RTP/RTCP pair.
	 */
	struct sip_dialog_config dialog;
	struct sip_tcp_config tcp;
};

void sipalg_default_config(struct sipalg_config *config);

/* NAPT forwards the ALG may hold at most: dialog.max_pinholes + dialog.max_registrations. */
uint32_t sipalg_forward_room(const struct sipalg_config *config);

/*
 * Take the memory, start empty and register on NAPT's path (once, at boot,
 * after napt_lwip_start()). 0, or -1 when NAPT does not run, the
 * configuration is out of range or the memory cannot be had.
 */
int sipalg_lwip_start(const struct sipalg_config *config);
int sipalg_lwip_running(void);

/* Off ends every dialog, registration and TCP connection state (pinholes close). */
void sipalg_set_enabled(int enabled);
int sipalg_enabled(void);

/* 1 .. SIPALG_PORTS_MAX ports, none 0; -1 (nothing changed) otherwise. */
int sipalg_set_ports(const uint16_t *ports, unsigned count);
unsigned sipalg_ports(uint16_t *ports);   /* fills SIPALG_PORTS_MAX at most */

struct sipalg_stats {
	uint64_t messages;        /* SIP messages (and keep-alives) looked at */
	uint64_t rewritten;       /* ... of which went on changed */
	uint64_t unparseable;     /* not SIP the ALG can read: forwarded unchanged */
	uint64_t too_big;         /* a rewrite not made: it would not fit the MTU (or the buffer) */
	uint64_t no_media;        /* a rewrite not made: a stream of its SDP could get no pinhole (pool,
	                             share or table full), or it has more streams than the ALG
	                             rewrites; it goes on as the phone wrote it, never half rewritten */
	uint64_t tcp_split;       /* TCP segments passed unchanged: a message cut by the segment's end, or not at a boundary */
	uint64_t sent;            /* packets the ALG rebuilt and sent itself */
	uint64_t send_failed;     /* ... that could not be (no pbuf): the original went on */
	struct sip_dialog_stats dialog;
	struct sip_tcp_stats tcp;
};
void sipalg_get_stats(struct sipalg_stats *stats);

uint32_t sipalg_max_pinholes(void);

#endif
