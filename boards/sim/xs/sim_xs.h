/*
 * XS platform header for the host simulator (selected with
 * -DINCLUDE_XSPLATFORM -DXSPLATFORM="sim_xs.h"). It tells the engine what
 * the host provides: Linux, little-endian, no debugger connection, and the
 * per-machine fields the simulator's loop needs.
 */
#ifndef SIM_XS_H
#define SIM_XS_H

#undef mxLittleEndian
#define mxLittleEndian 1
#undef mxLinux
#define mxLinux 1

#define mxExport extern
#define mxImport extern
#define XS_FUNCTION_NORETURN __attribute__((noreturn))

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#define mxUseGCCAtomics 1
#define mxUsePOSIXThreads 1

/* What xsPlatforms.c may supply for us; the rest is in sim_xs.c. */
#define mxUseDefaultBuildKeys 1
#define mxUseDefaultParseScript 1
#define mxUseDefaultSharedChunks 1

/*
 * promiseJobs: set by fxQueuePromiseJobs, drained by the loop.
 * abortStatus: non-zero once the machine hit a fatal condition.
 * chunkBytes/slotBytes: what the engine took from the C heap while the
 * preloaded modules ran (the stack included); preloadedBytes of it is the
 * preloaded modules' (flash on the board), preloadedLive what of it is live,
 * preloadedKeys the keys they made.
 * heapBudget: the board's creation.static; stackBytes of it is the stack,
 * the rest the arena: chunks grow up from arenaLow, slots down from
 * arenaHigh, as in the board's static block.
 */
#define mxMachinePlatform \
	void* waiterCondition; \
	void* waiterData; \
	void* waiterLink; \
	int promiseJobs; \
	int abortStatus; \
	size_t chunkBytes; \
	size_t slotBytes; \
	size_t preloadedBytes; \
	size_t preloadedLive; \
	int preloadedKeys; \
	size_t heapBudget; \
	size_t stackBytes; \
	unsigned char* arenaBase; \
	unsigned char* arenaLow; \
	unsigned char* arenaHigh; \
	size_t arenaSize;

#if INTPTR_MAX == INT64_MAX
	#define mx32bitID 1
#endif

#endif /* SIM_XS_H */
