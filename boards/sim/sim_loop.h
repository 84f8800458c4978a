/*
 * The simulator's single-threaded loop: file descriptors to watch (TAP
 * ports, stdin), posted messages, XS timers and promise jobs, lwIP timeouts.
 */
#ifndef SIM_LOOP_H
#define SIM_LOOP_H

#include <stdint.h>
#include "xs.h"

typedef void (*sim_fd_ready)(void *ctx);

/* Call ready(ctx) from the loop whenever fd is readable. At most 16 fds. */
int sim_watch_fd(int fd, sim_fd_ready ready, void *ctx);
void sim_unwatch_fd(int fd);

/* Milliseconds on a monotonic clock, and its reading when this boot began. */
uint64_t sim_now_ms(void);
uint64_t sim_boot_ms(void);

/* The one machine the simulator runs. */
xsMachine *sim_machine(void);

/* Ask the loop to end and the process to start over (a reboot). */
void sim_request_restart(void);

/* Why the previous run ended, when it was not asked to (an XS abort); or NULL. */
const char *sim_reset_reason(void);

/* Timers (timer.c): when the next one is due, and run the due ones. */
int64_t sim_timers_next_ms(uint64_t now);
void sim_timers_run(xsMachine *the, uint64_t now);

/* Posted messages (messages.c). */
int sim_messages_pending(void);
void sim_messages_run(xsMachine *the);

#endif
