/* See xs_memory.h. */
#include "xsAll.h"
#include "xs_memory.h"

void esp32_xs_memory(void *machine, struct esp32_xs_memory *out)
{
	txMachine *the = machine;
	out->chunks_in_use = (size_t)the->currentChunksSize;
	out->chunks_peak = (size_t)the->peakChunksSize;
	out->chunks_reserved = (size_t)the->maximumChunksSize;
	out->slots_in_use = (size_t)the->currentHeapCount * sizeof(txSlot);
	out->slots_peak = (size_t)the->peakHeapCount * sizeof(txSlot);
	out->slots_reserved = (size_t)the->maximumHeapCount * sizeof(txSlot);
	out->stack = (size_t)((char *)the->stackTop - (char *)the->stackBottom);
}
