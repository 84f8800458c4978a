/*
 * The "platform" module's host side on the ESP32: bring-up of the ports,
 * board name, reboot, factory reset (NVS erase), uptime, XS memory,
 * hardware random. Written against XS's public API (xs.h, through
 * router_host.h); the machine's memory figures come from xs_memory.c.
 */
#include "router_host.h"
/*
 * Moddable's own declarations after ours: a modMessagePostToMachine()
 * prototype in router_host.h that disagreed with Moddable's would stop the
 * build here.
 */
#include "xsHost.h"
#include "mc.defines.h"
#include "esp32_ports.h"
#include "xs_memory.h"

#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "nvs_flash.h"

/* xs_esp32_ports_start() -> undefined, or why a port is missing */
void xs_esp32_ports_start(xsMachine *the)
{
	if (esp32_ports_start())
		xsResult = xsString(esp32_ports_error());
}

void xs_platform_board(xsMachine *the)
{
	xsResult = xsString(MODDEF_BOARD_NAME);
}

void xs_platform_restart(xsMachine *the)
{
	(void)the;
	esp_restart();
}

/*
 * Factory reset: the whole NVS partition goes (the saved configuration,
 * Moddable's preferences, the WAN-port override, PHY calibration, which
 * ESP-IDF redoes). The caller restarts right after.
 */
void xs_platform_erase_preferences(xsMachine *the)
{
	nvs_flash_deinit();
	if (nvs_flash_erase() != ESP_OK)
		xsUnknownError("cannot erase NVS");
}

void xs_platform_uptime(xsMachine *the)
{
	xsResult = xsNumber((double)(esp_timer_get_time() / 1000));
}

static void set_number(xsMachine *the, const char *name, size_t value)
{
	xsSet(xsResult, xsID(name), xsNumber((double)value));
}

void xs_platform_memory(xsMachine *the)
{
	struct esp32_xs_memory m;
	esp32_xs_memory(the, &m);
	xsResult = xsNewObject();
	set_number(the, "heapSize", m.heap_size);
	set_number(the, "heapUsed", m.heap_used);
	set_number(the, "heapPeak", m.heap_used);
	set_number(the, "live", m.live);
	set_number(the, "keysUsed", m.keys_used);
	set_number(the, "keysAvailable", m.keys_available);
	set_number(the, "preloaded", 0);   /* in flash: the preparation, not counted here */
	set_number(the, "chunksInUse", m.chunks_in_use);
	set_number(the, "chunksPeak", m.chunks_peak);
	set_number(the, "chunksReserved", m.chunks_reserved);
	set_number(the, "slotsInUse", m.slots_in_use);
	set_number(the, "slotsPeak", m.slots_peak);
	set_number(the, "slotsReserved", m.slots_reserved);
	set_number(the, "stack", m.stack);
}

void xs_platform_gc(xsMachine *the)
{
	xsCollectGarbage();
}

void xs_platform_random(xsMachine *the)
{
	xsResult = xsNumber((double)esp_random());
}
