/*
 * The XS machine's memory figures for "show memory", read from XS's own
 * machine structure (xsAll.h). Kept apart from platform.c: xsAll.h is XS's
 * internal header, which platform.c, written against the public xs.h API,
 * must not mix with.
 */
#ifndef ESP32_XS_MEMORY_H
#define ESP32_XS_MEMORY_H

#include <stddef.h>

/*
 * heap_*: Moddable's static XS heap (creation.static): what chunks (from the
 * bottom) and slots (from the top, the stack first) have taken of it; it is
 * never given back, so what is held is also the peak. live: in use after a
 * collection. keys: made at run time, and the most there may be.
 */
struct esp32_xs_memory {
	size_t heap_size, heap_used, live;
	size_t chunks_in_use, chunks_peak, chunks_reserved;
	size_t slots_in_use, slots_peak, slots_reserved;   /* bytes */
	size_t stack;                                      /* bytes */
	size_t keys_used, keys_available;
};

/* machine: the xsMachine (txMachine) of the calling host function. */
void esp32_xs_memory(void *machine, struct esp32_xs_memory *out);

#endif
