/* The "platform" module's host side for the simulator: reboot, factory reset, XS memory. */
#include <stdlib.h>

#include "router_host.h"
#include "sim_loop.h"
#include "sim_xs_host.h"
#include "preference_store.h"

static uint64_t gBoot;

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
	if (!gBoot)
		gBoot = sim_now_ms();
	xsResult = xsNumber((double)(sim_now_ms() - gBoot));
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
	set_number(the, "chunksInUse", m.chunks_in_use);
	set_number(the, "chunksPeak", m.chunks_peak);
	set_number(the, "chunksReserved", m.chunks_reserved);
	set_number(the, "slotsInUse", m.slots_in_use);
	set_number(the, "slotsPeak", m.slots_peak);
	set_number(the, "slotsReserved", m.slots_reserved);
	set_number(the, "stack", m.stack_bytes);
}

/* Problems the board met before JavaScript ran (a corrupt preferences file). */
void xs_platform_boot_warnings(xsMachine *the)
{
	const char *warning = preference_store_warning();
	xsResult = xsNewArray(0);
	if (warning)
		xsSetIndex(xsResult, 0, xsString(warning));
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
