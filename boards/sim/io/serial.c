/*
 * embedded:io/serial for the simulator: the board's console UART becomes
 * stdin/stdout. One instance at a time, like the one console UART.
 */
#include "router_host.h"
#include "sim_loop.h"
#include "sim_xs_host.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define SERIAL_BUFFER 4096

static struct {
	int open;
	xsMachine *the;
	xsSlot self;
	xsSlot callback;
	size_t count;
	uint8_t buffer[SERIAL_BUFFER];
} gSerial;

static void serial_readable(void *ctx)
{
	xsMachine *the = gSerial.the;
	ssize_t n;
	(void)ctx;
	if (gSerial.count == SERIAL_BUFFER)
		return; /* the reader is behind; stdin waits in the kernel */
	n = read(STDIN_FILENO, gSerial.buffer + gSerial.count, SERIAL_BUFFER - gSerial.count);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* End of input: nothing more will come; stop polling it. */
		sim_unwatch_fd(STDIN_FILENO);
		return;
	}
	if (n < 0)
		return;
	gSerial.count += (size_t)n;
	xsBeginHost(the);
	{
		if (xsTypeOf(gSerial.callback) != xsUndefinedType)
			xsCallFunction1(gSerial.callback, gSerial.self, xsInteger((xsIntegerValue)gSerial.count));
		sim_run_promise_jobs(the);
	}
	xsEndHost(the);
}

/* xs_serial_open(self, onReadable) */
void xs_serial_open(xsMachine *the)
{
	if (gSerial.open)
		xsUnknownError("serial: console port already open");
	gSerial.open = 1;
	gSerial.the = the;
	gSerial.self = xsArg(0);
	gSerial.callback = xsArg(1);
	gSerial.count = 0;
	xsRemember(gSerial.self);
	xsRemember(gSerial.callback);
	sim_watch_fd(STDIN_FILENO, serial_readable, NULL);
}

void xs_serial_close(xsMachine *the)
{
	if (!gSerial.open)
		return;
	sim_unwatch_fd(STDIN_FILENO);
	xsForget(gSerial.self);
	xsForget(gSerial.callback);
	gSerial.open = 0;
}

/* xs_serial_read() -> ArrayBuffer of what has arrived, or undefined */
void xs_serial_read(xsMachine *the)
{
	if (!gSerial.open || !gSerial.count)
		return;
	xsResult = xsArrayBuffer(gSerial.buffer, (xsIntegerValue)gSerial.count);
	gSerial.count = 0;
}

/* xs_serial_write(ArrayBuffer | number) */
void xs_serial_write(xsMachine *the)
{
	if (xsTypeOf(xsArg(0)) == xsReferenceType) {
		xsIntegerValue n = xsGetArrayBufferLength(xsArg(0));
		const uint8_t *p = xsToArrayBuffer(xsArg(0));
		fwrite(p, 1, (size_t)n, stdout);
	}
	else
		fputc(xsToInteger(xsArg(0)) & 0xff, stdout);
	fflush(stdout);
}
