/*
 * modMessagePostToMachine for the simulator: a fixed ring of deferred calls
 * that the loop delivers outside lwIP callbacks, as Moddable does on the
 * board between the lwIP thread and the XS thread.
 */
#include "router_host.h"
#include "sim_loop.h"

#include <stdlib.h>
#include <string.h>

#define SIM_MESSAGES 64
#define SIM_MESSAGE_BYTES 64

static struct sim_message {
	modMessageDeliver callback;
	void *refcon;
	xsMachine *the;
	uint16_t length;
	uint8_t bytes[SIM_MESSAGE_BYTES];
} gQueue[SIM_MESSAGES];
static unsigned gHead, gTail;

int modMessagePostToMachine(xsMachine *the, uint8_t *message, uint16_t messageLength,
                            modMessageDeliver callback, void *refcon)
{
	struct sim_message *m;
	if (gTail - gHead == SIM_MESSAGES || messageLength > SIM_MESSAGE_BYTES)
		return -1;
	m = &gQueue[gTail % SIM_MESSAGES];
	m->callback = callback;
	m->refcon = refcon;
	m->the = the;
	m->length = messageLength;
	if (messageLength)
		memcpy(m->bytes, message, messageLength);
	gTail++;
	return 0;
}

int sim_messages_pending(void)
{
	return gTail != gHead;
}

void sim_messages_run(xsMachine *the)
{
	/* Only what was queued before we started: callbacks may post more. */
	unsigned end = gTail;
	(void)the;
	while (gHead != end) {
		struct sim_message m = gQueue[gHead % SIM_MESSAGES];
		gHead++;
		m.callback(m.the, m.refcon, m.length ? m.bytes : NULL, m.length);
	}
}
