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
		if (!tab || !end)
			continue;
		*tab = 0;
		*end = 0;
		if (gModuleCount == capacity) {
			capacity = capacity ? capacity * 2 : 32;
			gModules = realloc(gModules, capacity * sizeof(*gModules));
			if (!gModules)
				abort();
		}
		gModules[gModuleCount].specifier = strdup(line);
		gModules[gModuleCount].path = strdup(tab + 1);
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

/* Memory: plain malloc, counted so "show memory" can tell what XS holds. */

void *fxAllocateChunks(txMachine *the, txSize size)
{
	void *p = malloc(size);
	if (p)
		the->chunkBytes += size;
	return p;
}

void fxFreeChunks(txMachine *the, void *chunks)
{
	(void)the;
	free(chunks);
}

txSlot *fxAllocateSlots(txMachine *the, txSize count)
{
	void *p = malloc((size_t)count * sizeof(txSlot));
	if (p)
		the->slotBytes += (size_t)count * sizeof(txSlot);
	return p;
}

void fxFreeSlots(txMachine *the, void *slots)
{
	(void)the;
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
	case XS_STACK_OVERFLOW_EXIT:
		fprintf(stderr, "fatal: XS stack overflow\n");
		break;
	case XS_NOT_ENOUGH_MEMORY_EXIT:
		fprintf(stderr, "fatal: XS memory full\n");
		break;
	default:
		fprintf(stderr, "fatal: XS abort %d\n", status);
		break;
	}
	the->abortStatus = status ? status : -1;
	fxExitToHost(the);
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

static void sim_module_fulfilled(txMachine *the)
{
	(void)the;
}

static void sim_module_rejected(txMachine *the)
{
	char message[512];
	xsToStringBuffer(xsArg(0), message, sizeof(message));
	fprintf(stderr, "fatal: main module failed: %s\n", message);
	the->abortStatus = -1;
}

void sim_install_globals(txMachine *the)
{
	xsResult = xsNewHostFunction(xs_native, 1);
	xsDefine(xsGlobal, xsID("native"), xsResult, xsDontEnum);
	xsResult = xsNewHostFunction(xs_trace, 1);
	xsDefine(xsGlobal, xsID("trace"), xsResult, xsDontEnum);
}

void sim_run_main(txMachine *the, const char *specifier)
{
	txSlot *realm = mxProgram.value.reference->next->value.module.realm;
	mxPushStringC((txString)specifier);
	fxRunImport(the, realm, XS_NO_ID);
	mxDub();
	fxGetID(the, mxID(_then));
	mxCall();
	fxNewHostFunction(the, sim_module_fulfilled, 1, XS_NO_ID, XS_NO_ID);
	fxNewHostFunction(the, sim_module_rejected, 1, XS_NO_ID, XS_NO_ID);
	mxRunCount(2);
	mxPop();
}

int sim_abort_status(txMachine *the)
{
	return the->abortStatus;
}

void sim_memory(txMachine *the, struct sim_memory *m)
{
	m->chunks_in_use = the->currentChunksSize;
	m->chunks_peak = the->peakChunksSize;
	m->chunks_reserved = the->maximumChunksSize;
	m->slots_in_use = (size_t)the->currentHeapCount * sizeof(txSlot);
	m->slots_peak = (size_t)the->peakHeapCount * sizeof(txSlot);
	m->slots_reserved = (size_t)the->maximumHeapCount * sizeof(txSlot);
	m->stack_bytes = (size_t)(the->stackTop - the->stackBottom) * sizeof(txSlot);
}
