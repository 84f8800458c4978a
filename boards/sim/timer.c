/*
 * The "timer" module's host side (Moddable's Timer API): set, repeat,
 * schedule, clear, delay. Armed timers keep their callback and their own
 * object alive; a cleared or finished one lets both go.
 */
#include "router_host.h"
#include "sim_loop.h"
#include "sim_xs_host.h"

#include <stdlib.h>
#include <time.h>

struct sim_timer {
	struct sim_timer *next;
	xsMachine *the;
	xsSlot self;
	xsSlot callback;
	uint64_t when;
	uint32_t repeat;
	int armed;
};

static struct sim_timer *gTimers;

static void timer_unlink(struct sim_timer *t)
{
	for (struct sim_timer **p = &gTimers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			t->next = NULL;
			return;
		}
	}
}

static void timer_disarm(struct sim_timer *t)
{
	xsMachine *the = t->the;
	if (!t->armed)
		return;
	t->armed = 0;
	timer_unlink(t);
	xsForget(t->self);
	xsForget(t->callback);
}

static void timer_arm(struct sim_timer *t, uint32_t interval, uint32_t repeat)
{
	xsMachine *the = t->the;
	t->when = sim_now_ms() + interval;
	t->repeat = repeat;
	if (!t->armed) {
		t->armed = 1;
		xsRemember(t->self);
		xsRemember(t->callback);
		t->next = gTimers;
		gTimers = t;
	}
}

static void timer_destructor(void *data)
{
	/* Only unarmed timers can be collected: armed ones are remembered. */
	free(data);
}

static uint32_t timer_ms(xsMachine *the, int index)
{
	double ms;
	if (xsToInteger(xsArgc) <= index || xsTypeOf(xsArg(index)) == xsUndefinedType)
		return 0;
	ms = xsToNumber(xsArg(index));
	if (!(ms > 0))
		return 0;
	return ms > 0x7fffffff ? 0x7fffffff : (uint32_t)ms;
}

/* xs_timer_set(callback, interval, repeat) -> timer object */
void xs_timer_set(xsMachine *the)
{
	struct sim_timer *t = calloc(1, sizeof(*t));
	if (!t)
		xsUnknownError("no memory for timer");
	t->the = the;
	xsResult = xsNewHostObject(timer_destructor);
	xsSetHostData(xsResult, t);
	t->self = xsResult;
	t->callback = xsArg(0);
	timer_arm(t, timer_ms(the, 1), timer_ms(the, 2));
}

/* xs_timer_schedule(timer, interval, repeat) */
void xs_timer_schedule(xsMachine *the)
{
	struct sim_timer *t = xsGetHostData(xsArg(0));
	if (!t)
		xsUnknownError("timer closed");
	timer_arm(t, timer_ms(the, 1), timer_ms(the, 2));
}

/* xs_timer_clear(timer) */
void xs_timer_clear(xsMachine *the)
{
	struct sim_timer *t;
	if (xsTypeOf(xsArg(0)) != xsReferenceType)
		return;
	t = xsGetHostData(xsArg(0));
	if (t)
		timer_disarm(t);
}

/* xs_timer_delay(ms): block, as on the board. */
void xs_timer_delay(xsMachine *the)
{
	uint32_t ms = timer_ms(the, 0);
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int64_t sim_timers_next_ms(uint64_t now)
{
	int64_t wait = -1;
	for (struct sim_timer *t = gTimers; t; t = t->next) {
		int64_t left = t->when > now ? (int64_t)(t->when - now) : 0;
		if (wait < 0 || left < wait)
			wait = left;
	}
	return wait;
}

static void timer_fire(xsMachine *machine, struct sim_timer *due)
{
	xsBeginHost(machine);
	{
		xsVars(2);
		xsVar(0) = due->callback;
		xsVar(1) = due->self;
		if (!due->repeat)
			timer_disarm(due);
		xsCallFunction1(xsVar(0), xsGlobal, xsVar(1));
		sim_run_promise_jobs(the);
	}
	xsEndHost(machine);
}

void sim_timers_run(xsMachine *machine, uint64_t now)
{
	/* One due timer per pass, so promise jobs it queues run before the next. */
	for (int fired = 0; fired < 32; fired++) {
		struct sim_timer *due = NULL;
		for (struct sim_timer *t = gTimers; t; t = t->next)
			if (t->when <= now && (!due || t->when < due->when))
				due = t;
		if (!due)
			return;
		if (due->repeat)
			due->when = now + due->repeat;
		timer_fire(machine, due);
	}
}
