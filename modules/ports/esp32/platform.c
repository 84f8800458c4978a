/*
 * The "platform" module's host side on the ESP32: bring-up of the ports,
 * reboot, factory reset (NVS erase), uptime, XS memory, hardware random.
 */
#include "xsAll.h"
#include "xsmc.h"
#include "xsHost.h"
#include "mc.defines.h"
#include "esp32_ports.h"

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

static void set_number(xsMachine *the, const char *name, double value)
{
	xsSet(xsResult, xsID(name), xsNumber(value));
}

void xs_platform_memory(xsMachine *the)
{
	xsResult = xsNewObject();
	set_number(the, "chunksInUse", (double)the->currentChunksSize);
	set_number(the, "chunksPeak", (double)the->peakChunksSize);
	set_number(the, "chunksReserved", (double)the->maximumChunksSize);
	set_number(the, "slotsInUse", (double)the->currentHeapCount * sizeof(txSlot));
	set_number(the, "slotsPeak", (double)the->peakHeapCount * sizeof(txSlot));
	set_number(the, "slotsReserved", (double)the->maximumHeapCount * sizeof(txSlot));
	set_number(the, "stack", (double)((char *)the->stackTop - (char *)the->stackBottom));
}

void xs_platform_gc(xsMachine *the)
{
	xsCollectGarbage();
}

void xs_platform_random(xsMachine *the)
{
	xsResult = xsNumber((double)esp_random());
}
