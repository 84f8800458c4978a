/* See xs_memory.h. */
#include "xsAll.h"
#include "xs_memory.h"

/* Moddable's ESP32 host: the creation xsl built into the firmware. */
extern void *xsPreparationAndCreation(xsCreation **creation);

void esp32_xs_memory(void *machine, struct esp32_xs_memory *out)
{
	txMachine *the = machine;
	xsCreation *creation = NULL;
	xsPreparationAndCreation(&creation);
	out->heap_size = creation ? (size_t)creation->staticSize : 0;
	/* Chunks grow up from heap, slots down from heap + static to heap_pend. */
	out->heap_used = the->heap ? (size_t)(the->heap_ptr - the->heap) + (size_t)(the->heap + out->heap_size - the->heap_pend) : 0;
	out->chunks_in_use = (size_t)the->currentChunksSize;
	out->chunks_peak = (size_t)the->peakChunksSize;
	out->chunks_reserved = (size_t)the->maximumChunksSize;
	out->slots_in_use = (size_t)the->currentHeapCount * sizeof(txSlot);
	out->slots_peak = (size_t)the->peakHeapCount * sizeof(txSlot);
	out->slots_reserved = (size_t)the->maximumHeapCount * sizeof(txSlot);
	out->stack = (size_t)((char *)the->stackTop - (char *)the->stackBottom);
	out->live = out->chunks_in_use + out->slots_in_use + out->stack;
	out->keys_used = (size_t)(the->keyIndex - the->keyOffset);
	out->keys_available = (size_t)(the->keyCount - the->keyOffset);
}
