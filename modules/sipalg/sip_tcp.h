/*
 * SIP over TCP: what the ALG keeps per connection so that rewriting a
 * message (which changes its length) leaves both ends a consistent byte
 * stream. For each direction it remembers the edits made so far (where in
 * the sender's sequence space, and the total growth after each) and moves
 * the sequence numbers of that direction and the acknowledgements of the
 * other through them. A retransmission of an edited segment is rewritten
 * the same way again and gets the same sequence number.
 *
 * SACK blocks would need the same moving; instead SACK-permitted is taken
 * out of the SYN and SYN-ACK of these connections (replaced by NOPs), so
 * neither end ever sends one. Timestamps and window scaling pass as they
 * are.
 *
 * A message is rewritten only when a segment starts at a message boundary
 * this layer expects (the stream's start, or the end of the last whole
 * message it saw in that direction) and holds whole messages; a message
 * split across segments, or anything after it until the next boundary the
 * layer can be sure of, passes unchanged (counted), and the stream stays
 * intact.
 *
 * Plain C, no lwIP, no allocation after sip_tcp_init(). Header fields are
 * read and written byte-wise; checksums are updated incrementally (RFC 1624).
 */
#ifndef SIP_TCP_H
#define SIP_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "sip_msg.h"

#define SIP_TCP_EDITS 8    /* edits remembered per direction; older ones are folded into a base offset */

struct sip_tcp_config {
	uint16_t max_conns;     /* 1 .. 256; default 16 */
	uint32_t idle_timeout;  /* seconds without a segment; default 7440 (as NAPT's established TCP) */
};

void sip_tcp_default_config(struct sip_tcp_config *config);
size_t sip_tcp_memory_size(const struct sip_tcp_config *config);
int sip_tcp_init(const struct sip_tcp_config *config, void *memory);

/* A connection, named by its two ends as the LAN sees them. */
struct sip_tcp_key {
	uint32_t inside_addr, remote_addr;   /* network order */
	uint16_t inside_port, remote_port;   /* host order */
};

struct sip_tcp_conn;

/*
 * The connection's state. A SYN (without ACK, either direction) makes it,
 * replacing any old one of the same key; without state, a segment gets
 * NULL and passes as it is (a connection that began before the ALG did).
 * NULL also when the pool is full of live connections (counted).
 */
struct sip_tcp_conn *sip_tcp_lookup(const struct sip_tcp_key *key, const uint8_t *tcp, uint32_t now);

/*
 * Before the payload is looked at: move this segment's sequence number
 * (dir's stream) and acknowledgement (the other stream) through the edits
 * made so far, strip SACK-permitted from a SYN, update the TCP checksum in
 * `tcp` (the TCP header, header_len bytes, options included) for the
 * changes, and note FIN and RST. Returns the segment's *original* sequence
 * number, which sip_tcp_boundary() and sip_tcp_edited() take.
 */
uint32_t sip_tcp_adjust(struct sip_tcp_conn *c, enum sip_dir dir, uint8_t *tcp, uint16_t header_len, uint32_t now);

/* Whether a segment at original sequence `seq` starts at a message boundary of dir's stream. */
int sip_tcp_boundary(const struct sip_tcp_conn *c, enum sip_dir dir, uint32_t seq);

/*
 * The segment at original `seq` held `old_len` bytes of payload and went
 * out with `new_len` (equal when nothing was rewritten). `whole` is 1 when
 * those old_len bytes were whole messages and nothing else: the next
 * boundary is then seq + old_len. 0 (a message cut at the segment's end)
 * leaves the stream without a known boundary until the layer can find one
 * again (how it does is documented in sip_tcp.c).
 *
 * Call it for every segment with payload, the ones passed unchanged too
 * (new_len == old_len, whole 0): this layer learns from them how far the
 * stream has gone, and counts the ones not at a boundary. A segment that
 * repeats bytes already seen (a retransmission) must be rewritten to the
 * same length as the first time; if it is not, the difference cannot be
 * taken back and is not recorded (counted in edit_conflicts).
 */
void sip_tcp_edited(struct sip_tcp_conn *c, enum sip_dir dir, uint32_t seq, uint16_t old_len, uint16_t new_len, int whole);

/*
 * For a segment sip_tcp_boundary() said no to: whether its payload (len
 * bytes at original `seq`) may be taken as a message boundary again after
 * a message cut at a segment's end. 1 only when dir's boundary is unknown,
 * the segment is the next in order (no gap, not a retransmission) and it
 * opens with a SIP start line and a whole header section that has a
 * Content-Length; the segment is then at a boundary (rewrite it and call
 * sip_tcp_edited() as for any other). See sip_tcp.c for why so strict.
 */
int sip_tcp_resync(struct sip_tcp_conn *c, enum sip_dir dir, uint32_t seq, const uint8_t *payload, uint16_t len);

/* Once a second: free connections closed (FIN both ways or RST) a while ago, or idle too long. */
void sip_tcp_tick(uint32_t now);
void sip_tcp_flush(void);

struct sip_tcp_stats {
	uint32_t conns, conns_max;  /* connections with state now; the pool's size */
	uint64_t adjusted;        /* segments whose seq or ack moved */
	uint64_t not_at_boundary; /* segments passed unchanged: not at a known message boundary */
	uint64_t pool_full;
	uint64_t resynced;        /* boundaries found again by sip_tcp_resync() */
	uint64_t edit_conflicts;  /* a retransmission rewritten to another length than before: not recorded */
	uint64_t sack_stripped;   /* SACK-permitted options replaced by NOPs */
};
void sip_tcp_get_stats(struct sip_tcp_stats *stats);

#endif
