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
 * chunkBytes/slotBytes: what the engine holds from the C heap (the stack
 * included), never given back while the machine lives.
 * preloadedBytes: what is live once the preloaded modules have run (flash
 * on the board). heapBudget: the board's creation.static; from then on the
 * engine may hold at most preloadedBytes + heapBudget, as the board's XS
 * may take at most creation.static bytes of RAM. heapPeak: the most it held
 * beyond preloadedBytes. preloadedKeys: the keys the preloaded modules made.
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
	size_t heapBudget; \
	size_t heapPeak; \
	int preloadedKeys;

/*
 * The simulator is built 32-bit (-m32), as the ESP32 is: XS keeps 16-bit
 * IDs and 16-byte slots, as in Moddable's ESP32 build. Only a 64-bit build
 * (tools/build-sim.mjs --m64, to compare) takes 32-bit IDs, as XS's
 * desktop builds do; its slots are 32 bytes.
 */
#if INTPTR_MAX == INT64_MAX
	#define mx32bitID 1
#endif

#endif /* SIM_XS_H */
