/*
 * The XS host platform for the simulator: memory for the engine, module
 * lookup from the manifest's module map, promise job queueing, aborts, and
 * the two globals our TypeScript expects from its host: native() and trace().
 *
 * Modules are named by their manifest specifier ("main", "timer",
 * "embedded:io/socket/udp"); the build writes modules.map, one
 * "specifier<TAB>file" per line, and the loader parses that file's source at
 * run time.
 */
#include "xsAll.h"
#include "xsScript.h"
#include "sim_xs_host.h"

#include <errno.h>

static struct sim_module {
	char *specifier;
	char *path;
	int preload;
} *gModules;
static int gModuleCount;

int sim_load_module_map(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[2 * PATH_MAX];
	int capacity = 0;
	if (!f) {
		fprintf(stderr, "sim: cannot open module map %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		char *end = strchr(line, '\n');
		char *flag;
		if (!tab || !end)
			continue;
		*tab = 0;
		*end = 0;
		flag = strchr(tab + 1, '\t');
		if (flag)
			*flag++ = 0;
		if (gModuleCount == capacity) {
			capacity = capacity ? capacity * 2 : 32;
			gModules = realloc(gModules, capacity * sizeof(*gModules));
			if (!gModules)
				abort();
		}
		gModules[gModuleCount].specifier = strdup(line);
		gModules[gModuleCount].path = strdup(tab + 1);
		gModules[gModuleCount].preload = flag && !strcmp(flag, "preload");
		gModuleCount++;
	}
	fclose(f);
	return 0;
}

static const char *sim_module_path(const char *specifier)
{
	for (int i = 0; i < gModuleCount; i++)
		if (!strcmp(gModules[i].specifier, specifier))
			return gModules[i].path;
	return NULL;
}

/*
 * Memory. While the preloaded modules run (flash on the board, built by xsl
 * at build time), the engine takes what it asks for from the C heap. Then
 * it gets the board's heap: one block of creation.static bytes less the
 * stack (which the board takes from the same block first), chunks taken
 * from its bottom and slots from its top, each growth right after the last
 * so that XS joins them into one block as it does on the board, and nothing
 * given back. Where the two would cross the allocation fails and XS aborts,
 * as on the board.
 */

static int sim_in_arena(txMachine *the, void *p)
{
	return the->arenaBase && (unsigned char *)p >= the->arenaBase && (unsigned char *)p < the->arenaBase + the->arenaSize;
}

static size_t sim_heap_used(txMachine *the)
{
	if (!the->arenaBase)
		return 0;
	return the->stackBytes + (size_t)(the->arenaLow - the->arenaBase) + (size_t)(the->arenaBase + the->arenaSize - the->arenaHigh);
}

void *fxAllocateChunks(txMachine *the, txSize size)
{
	void *p;
	if (size < 0)
		return NULL;
	if (the->arenaBase) {
		if ((size_t)(the->arenaHigh - the->arenaLow) < (size_t)size)
			return NULL;
		p = the->arenaLow;
		the->arenaLow += size;
		return p;
	}
	p = malloc(size);
	if (p)
		the->chunkBytes += size;
	return p;
}

void fxFreeChunks(txMachine *the, void *chunks)
{
	if (!sim_in_arena(the, chunks))
		free(chunks);
}

txSlot *fxAllocateSlots(txMachine *the, txSize count)
{
	size_t bytes = (size_t)count * sizeof(txSlot);
	void *p;
	if (count < 0)
		return NULL;
	if (the->arenaBase) {
		if ((size_t)(the->arenaHigh - the->arenaLow) < bytes)
			return NULL;
		the->arenaHigh -= bytes;
		return (txSlot *)the->arenaHigh;
	}
	p = malloc(bytes);
	if (p)
		the->slotBytes += bytes;
	return p;
}

void fxFreeSlots(txMachine *the, void *slots)
{
	if (!sim_in_arena(the, slots))
		free(slots);
}

void fxCreateMachinePlatform(txMachine *the)
{
	the->promiseJobs = 0;
	the->abortStatus = 0;
}

void fxDeleteMachinePlatform(txMachine *the)
{
	(void)the;
}

void fxQueuePromiseJobs(txMachine *the)
{
	the->promiseJobs = 1;
}

void sim_run_promise_jobs(txMachine *the)
{
	/* Bounded: a job that keeps queueing jobs must not starve the network. */
	for (int round = 0; the->promiseJobs && round < 1000; round++) {
		the->promiseJobs = 0;
		fxRunPromiseJobs(the);
	}
	fxEndJob(the);
}

static void sim_print_exception(txMachine *the, const char *what)
{
	char message[512];
	fxToStringBuffer(the, &mxException, message, sizeof(message));
	fprintf(stderr, "%s: %s\n", what, message);
	fflush(stderr);
}

void fxAbort(txMachine *the, int status)
{
	switch (status) {
	case XS_UNHANDLED_EXCEPTION_EXIT:
		/* A throw out of a callback: report it and keep routing. */
		sim_print_exception(the, "error: unhandled exception");
		mxException = mxUndefined;
		return;
	case XS_UNHANDLED_REJECTION_EXIT:
		sim_print_exception(the, "error: unhandled rejection");
		mxException = mxUndefined;
		return;
	default:
		break;
	}
	/* What the board does next: report it on the console, then restart. */
	fprintf(stdout, "\nfatal: XS abort: %s\n", sim_abort_reason(status));
	fflush(stdout);
	fprintf(stderr, "fatal: XS abort: %s\n", sim_abort_reason(status));
	the->abortStatus = status ? status : -1;
	fxExitToHost(the);
}

const char *sim_abort_reason(int status)
{
	switch (status) {
	case XS_NOT_ENOUGH_MEMORY_EXIT: return "not enough memory";
	case XS_STACK_OVERFLOW_EXIT: return "stack overflow";
	case XS_NO_MORE_KEYS_EXIT: return "no more keys";
	case XS_FATAL_CHECK_EXIT: return "fatal check";
	case XS_DEAD_STRIP_EXIT: return "dead strip";
	case XS_TOO_MUCH_COMPUTATION_EXIT: return "too much computation";
	default: return "abort";
	}
}

/* Modules */

txID fxFindModule(txMachine *the, txSlot *realm, txID moduleID, txSlot *slot)
{
	char name[PATH_MAX];
	char resolved[PATH_MAX];
	(void)realm;
	fxToStringBuffer(the, slot, name, sizeof(name));
	if (name[0] == '.' && (name[1] == '/' || (name[1] == '.' && name[2] == '/'))) {
		/* Relative to the importing module's specifier, as mcconfig does. */
		char *p = name;
		char *slash;
		if (moduleID == XS_NO_ID)
			return XS_NO_ID;
		snprintf(resolved, sizeof(resolved), "%s", fxGetKeyName(the, moduleID));
		slash = strrchr(resolved, '/');
		if (slash)
			*slash = 0;
		else
			resolved[0] = 0;
		for (;;) {
			if (p[0] == '.' && p[1] == '/')
				p += 2;
			else if (p[0] == '.' && p[1] == '.' && p[2] == '/') {
				p += 3;
				slash = strrchr(resolved, '/');
				if (slash)
					*slash = 0;
				else if (resolved[0])
					resolved[0] = 0;
				else
					return XS_NO_ID;
			}
			else
				break;
		}
		if (resolved[0]) {
			size_t used = strlen(resolved);
			if (used + 1 + strlen(p) >= sizeof(resolved))
				return XS_NO_ID;
			resolved[used] = '/';
			strcpy(resolved + used + 1, p);
		}
		else
			snprintf(resolved, sizeof(resolved), "%s", p);
	}
	else
		snprintf(resolved, sizeof(resolved), "%s", name);
	if (!sim_module_path(resolved))
		return XS_NO_ID;
	return fxNewNameC(the, resolved);
}

void fxLoadModule(txMachine *the, txSlot *module, txID moduleID)
{
	const char *specifier = fxGetKeyName(the, moduleID);
	const char *path = sim_module_path(specifier);
	txParser parser;
	txParserJump jump;
	txScript *script = NULL;
	FILE *file;
	if (!path)
		return;
	file = fopen(path, "r");
	if (!file) {
		fprintf(stderr, "sim: cannot open module %s (%s): %s\n", specifier, path, strerror(errno));
		return;
	}
	fxInitializeParser(&parser, the, the->parserBufferSize, the->parserTableModulo);
	parser.firstJump = &jump;
	if (c_setjmp(jump.jmp_buf) == 0) {
		parser.path = fxNewParserSymbol(&parser, (txString)path);
		fxParserTree(&parser, file, (txGetter)fgetc, 0, NULL);
		fxParserHoist(&parser);
		fxParserBind(&parser);
		script = fxParserCode(&parser);
	}
	fxTerminateParser(&parser);
	fclose(file);
	if (script)
		fxResolveModule(the, module, moduleID, script, C_NULL, C_NULL);
}

/* No debugger connection in the simulator. */
void fxConnect(txMachine *the) { (void)the; }
void fxDisconnect(txMachine *the) { (void)the; }
txBoolean fxIsConnected(txMachine *the) { (void)the; return 0; }
txBoolean fxIsReadable(txMachine *the) { (void)the; return 0; }
void fxReceive(txMachine *the) { (void)the; }
void fxSend(txMachine *the, txBoolean more) { (void)the; (void)more; }

/* native("xs_name"): the host function our C exports under that name. */
static void xs_native(txMachine *the)
{
	char name[128];
	xsCallback callback;
	if (xsToInteger(xsArgc) < 1)
		xsTypeError("native: missing name");
	xsToStringBuffer(xsArg(0), name, sizeof(name));
	callback = sim_native_lookup(name);
	if (!callback)
		xsReferenceError("native: no host function %s", name);
	xsResult = xsNewHostFunction(callback, 0);
}

/* trace(...): to stdout, like Moddable's serial trace. */
static void xs_trace(txMachine *the)
{
	int argc = xsToInteger(xsArgc);
	for (int i = 0; i < argc; i++)
		fputs(xsToString(xsArg(i)), stdout);
	fflush(stdout);
}

/*
 * A module whose default export is a function is an application entry, as
 * in Moddable's runtime: main can then be preloaded, and its work starts
 * when the running machine calls it.
 */
static void sim_module_fulfilled(txMachine *the)
{
	xsVars(1);
	xsTry {
		xsVar(0) = xsGet(xsArg(0), xsID("default"));
		if (xsIsInstanceOf(xsVar(0), xsFunctionPrototype))
			xsCallFunction0(xsVar(0), xsGlobal);
	}
	xsCatch {
		char message[512];
		xsToStringBuffer(xsException, message, sizeof(message));
		fprintf(stderr, "fatal: main module failed: %s\n", message);
		the->abortStatus = -1;
	}
}

static void sim_module_rejected(txMachine *the)
{
	char message[512];
	xsToStringBuffer(xsArg(0), message, sizeof(message));
	fprintf(stderr, "fatal: main module failed: %s\n", message);
	the->abortStatus = -1;
}

static void sim_preload_rejected(txMachine *the)
{
	char message[512];
	xsToStringBuffer(xsArg(0), message, sizeof(message));
	fprintf(stderr, "fatal: preloading failed: %s\n", message);
	the->abortStatus = -1;
}

static void sim_preload_fulfilled(txMachine *the)
{
	(void)the;
}

void sim_install_globals(txMachine *the)
{
	xsResult = xsNewHostFunction(xs_native, 1);
	xsDefine(xsGlobal, xsID("native"), xsResult, xsDontEnum);
	xsResult = xsNewHostFunction(xs_trace, 1);
	xsDefine(xsGlobal, xsID("trace"), xsResult, xsDontEnum);
}

static void sim_import(txMachine *the, const char *specifier, txCallback fulfilled, txCallback rejected)
{
	txSlot *realm = mxProgram.value.reference->next->value.module.realm;
	mxPushStringC((txString)specifier);
	fxRunImport(the, realm, XS_NO_ID);
	mxDub();
	fxGetID(the, mxID(_then));
	mxCall();
	fxNewHostFunction(the, fulfilled, 1, XS_NO_ID, XS_NO_ID);
	fxNewHostFunction(the, rejected, 1, XS_NO_ID, XS_NO_ID);
	mxRunCount(2);
	mxPop();
}

void sim_run_main(txMachine *the, const char *specifier)
{
	sim_import(the, specifier, sim_module_fulfilled, sim_module_rejected);
}

/* The board cannot run C while xsl preloads on the build machine. */
static int gPreloading;

void sim_native_guard(xsMachine *the, const char *name)
{
	if (gPreloading)
		xsUnknownError("%s called while preloading: the board cannot call native code at build time", name);
}

/*
 * What preloading left reserved but free would let the router live in
 * memory the board never gives it (on the board, preloading happened on the
 * build machine). Chunk blocks are closed at their current end; free slots
 * are chained as the properties of one rooted object, which the collector
 * keeps marked and never hands out again.
 */
static txSlot gRetired;

static void sim_retire_slack(txMachine *the)
{
	txSlot *instance, *last, *slot;
	for (txBlock *block = the->firstBlock; block; block = block->nextBlock)
		block->limit = block->current;
	instance = fxNewInstance(the);
	gRetired = *the->stack;
	fxRemember(the, &gRetired);
	mxPop();
	last = instance;
	while ((slot = the->freeHeap)) {
		the->freeHeap = slot->next;
		slot->next = C_NULL;
		slot->ID = XS_NO_ID;
		slot->flag = XS_INTERNAL_FLAG;
		slot->kind = XS_UNDEFINED_KIND;
		last->next = slot;
		last = slot;
		the->currentHeapCount++;
	}
	if (the->peakHeapCount < the->currentHeapCount)
		the->peakHeapCount = the->currentHeapCount;
}

/*
 * Boot as the board boots: first the preloaded modules run (on the board,
 * xsl ran them at build time and what they built is in flash); what they
 * leave live is the baseline. From then on the machine has the board's
 * creation: its heap budget, stack, the keys it may add and the sizes it
 * grows by.
 */
xsMachine *sim_boot(const xsCreation *board)
{
	xsCreation creation = {
		/*
		 * Small steps while preloading, so that little of what is reserved
		 * is left free when the baseline is taken: that slack is charged to
		 * the heap, as the board reserves its initial sizes up front.
		 */
		4 * 1024, 2 * 1024,         /* chunks: initial, incremental (while preloading) */
		256, 64,                    /* slots: initial, incremental (while preloading) */
		board->stackCount,
		2048, 512,                  /* keys while preloading; the board's count after */
		board->nameModulo, board->symbolModulo,
		64 * 1024, 1993,            /* parser */
		0,
	};
	txMachine *the = xsCreateMachine(&creation, "router", NULL);
	if (!the) {
		fprintf(stderr, "sim: cannot create the XS machine\n");
		return NULL;
	}
	xsBeginHost(the);
	{
		sim_install_globals(the);
		gPreloading = 1;
		for (int i = 0; i < gModuleCount; i++)
			if (gModules[i].preload)
				sim_import(the, gModules[i].specifier, sim_preload_fulfilled, sim_preload_rejected);
		sim_run_promise_jobs(the);
		gPreloading = 0;
		xsCollectGarbage();
	}
	xsEndHost(the);
	if (the->abortStatus)
		return NULL;

	sim_retire_slack(the);
	/* The baseline: all the engine holds but the stack, which is the board's RAM. */
	the->stackBytes = (size_t)(the->stackTop - the->stackBottom) * sizeof(txSlot);
	the->preloadedBytes = the->chunkBytes + the->slotBytes - the->stackBytes;
	the->preloadedLive = the->currentChunksSize + (size_t)the->currentHeapCount * sizeof(txSlot);
	the->heapBudget = (size_t)board->staticSize;
	the->minimumChunksSize = board->incrementalChunkSize;
	the->minimumHeapCount = board->incrementalHeapCount;
	if (the->stackBytes >= the->heapBudget) {
		fprintf(stderr, "sim: the stack (%zu bytes) does not fit creation.static (%zu)\n", the->stackBytes, the->heapBudget);
		return NULL;
	}
	/* Slots are 16-byte aligned from the top, chunks from the bottom. */
	the->arenaSize = (the->heapBudget - the->stackBytes) & ~(size_t)15;
	the->arenaBase = aligned_alloc(16, the->arenaSize);
	if (!the->arenaBase) {
		fprintf(stderr, "sim: cannot reserve the XS heap (%zu bytes)\n", the->arenaSize);
		return NULL;
	}
	the->arenaLow = the->arenaBase;
	the->arenaHigh = the->arenaBase + the->arenaSize;
	{
		/* Keys: the board adds at most keys.available at run time. */
		txID count = (txID)(the->keyIndex + board->initialKeyCount);
		if (count > the->keyCount) {
			txSlot **keys = realloc(the->keyArray, (size_t)count * sizeof(txSlot *));
			if (!keys)
				return NULL;
			the->keyArray = keys;
		}
		the->keyCount = count;
		the->keyDelta = (txID)board->incrementalKeyCount;
		the->preloadedKeys = the->keyIndex;
	}
	return the;
}

int sim_abort_status(txMachine *the)
{
	return the->abortStatus;
}

void sim_memory(txMachine *the, struct sim_memory *m)
{
	m->heap_size = the->heapBudget;
	m->heap_used = sim_heap_used(the);
	m->heap_peak = m->heap_used;   /* nothing is given back: what is held is the peak */
	m->chunks_in_use = the->currentChunksSize;
	m->chunks_peak = the->peakChunksSize;
	m->chunks_reserved = the->maximumChunksSize;
	m->slots_in_use = (size_t)the->currentHeapCount * sizeof(txSlot);
	m->slots_peak = (size_t)the->peakHeapCount * sizeof(txSlot);
	m->slots_reserved = (size_t)the->maximumHeapCount * sizeof(txSlot);
	m->stack_bytes = (size_t)(the->stackTop - the->stackBottom) * sizeof(txSlot);
	m->keys_used = (size_t)(the->keyIndex - the->preloadedKeys);
	m->keys_available = (size_t)(the->keyCount - the->preloadedKeys);
	m->live_bytes = the->currentChunksSize + (size_t)the->currentHeapCount * sizeof(txSlot) + m->stack_bytes;
	m->live_bytes = m->live_bytes > the->preloadedLive ? m->live_bytes - the->preloadedLive : 0;
	m->preloaded_bytes = the->preloadedBytes;
}
