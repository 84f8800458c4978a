/* The "platform" module's host side for the simulator: reboot, factory reset, XS memory. */
#include <stdio.h>
#include <stdlib.h>

#include "router_host.h"
#include "sim_loop.h"
#include "sim_xs_host.h"
#include "preference_store.h"

void xs_platform_restart(xsMachine *the)
{
	(void)the;
	sim_request_restart();
}

void xs_platform_erase_preferences(xsMachine *the)
{
	if (preference_store_erase())
		xsUnknownError("cannot erase preferences");
}

void xs_platform_uptime(xsMachine *the)
{
	xsResult = xsNumber((double)(sim_now_ms() - sim_boot_ms()));
}

static void set_number(xsMachine *the, const char *name, size_t value)
{
	xsSet(xsResult, xsID(name), xsNumber((double)value));
}

void xs_platform_memory(xsMachine *the)
{
	struct sim_memory m;
	sim_memory(the, &m);
	xsResult = xsNewObject();
	set_number(the, "heapSize", m.heap_size);
	set_number(the, "heapUsed", m.heap_used);
	set_number(the, "heapPeak", m.heap_peak);
	set_number(the, "chunksInUse", m.chunks_in_use);
	set_number(the, "chunksPeak", m.chunks_peak);
	set_number(the, "chunksReserved", m.chunks_reserved);
	set_number(the, "slotsInUse", m.slots_in_use);
	set_number(the, "slotsPeak", m.slots_peak);
	set_number(the, "slotsReserved", m.slots_reserved);
	set_number(the, "stack", m.stack_bytes);
	set_number(the, "keysUsed", m.keys_used);
	set_number(the, "keysAvailable", m.keys_available);
	set_number(the, "live", m.live_bytes);
	set_number(the, "preloaded", m.preloaded_bytes);
}

/* Problems the board met before JavaScript ran (a corrupt preferences file). */
void xs_platform_boot_warnings(xsMachine *the)
{
	const char *warning = preference_store_warning();
	const char *reset = sim_reset_reason();
	int n = 0;
	xsResult = xsNewArray(0);
	if (reset) {
		char text[96];
		snprintf(text, sizeof(text), "restarted after %s", reset);
		xsSetIndex(xsResult, n++, xsString(text));
	}
	if (warning)
		xsSetIndex(xsResult, n++, xsString(warning));
}

void xs_platform_gc(xsMachine *the)
{
	xsCollectGarbage();
}

/*
 * xs_platform_random() -> a 32-bit unsigned random number, for UUIDs, SIDs
 * and SSDP delays. The simulator seeds random() at start (main.c); a board
 * uses its hardware generator.
 */
void xs_platform_random(xsMachine *the)
{
	uint32_t value = (uint32_t)random() ^ ((uint32_t)random() << 16);
	xsResult = xsNumber((double)value);
}
