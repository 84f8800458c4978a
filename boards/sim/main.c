/*
 * The router simulator: the firmware's XS engine, lwIP and native modules
 * on Linux, with TAP devices for the WAN and LAN ports and stdin/stdout for
 * the serial console. One thread, one loop.
 */
#include "sim_loop.h"
#include "sim_mac.h"
#include "sim_xs_host.h"
#include "tap_port.h"
#include "preference_store.h"

#include "lwip/init.h"
#include "lwip/timeouts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIM_MAX_FDS 16

static struct {
	int fd;
	sim_fd_ready ready;
	void *ctx;
} gWatch[SIM_MAX_FDS];
static int gWatchCount;
static xsMachine *gMachine;
static volatile sig_atomic_t gStop;
static int gRestart;
static const char *gResetReason;
/* --heap: another XS heap than the manifest's creation.static (test fixtures only). */
static const char *gHeap;
static uint64_t gBootMs;

int sim_watch_fd(int fd, sim_fd_ready ready, void *ctx)
{
	if (gWatchCount == SIM_MAX_FDS)
		return -1;
	gWatch[gWatchCount].fd = fd;
	gWatch[gWatchCount].ready = ready;
	gWatch[gWatchCount].ctx = ctx;
	gWatchCount++;
	return 0;
}

void sim_unwatch_fd(int fd)
{
	for (int i = 0; i < gWatchCount; i++) {
		if (gWatch[i].fd == fd) {
			gWatch[i] = gWatch[--gWatchCount];
			return;
		}
	}
}

uint64_t sim_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

xsMachine *sim_machine(void)
{
	return gMachine;
}

uint64_t sim_boot_ms(void)
{
	return gBootMs;
}

const char *sim_reset_reason(void)
{
	return gResetReason;
}

void sim_request_restart(void)
{
	gRestart = 1;
}

static void on_signal(int sig)
{
	(void)sig;
	gStop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: router-sim --wan <tap> --lan <tap> --prefs <file> [--mac <mac>] [--main <module>] [--heap <bytes>]\n"
		"\n"
		"Runs the router firmware on the host: XS, lwIP and the native modules.\n"
		"  --wan <tap>     TAP device for the WAN port (created if absent)\n"
		"  --lan <tap>     TAP device for the LAN port (created if absent)\n"
		"  --prefs <file>  preferences file (configuration kept across restarts)\n"
		"  --mac <mac>     the board's base MAC, aa:bb:cc:dd:ee:ff: the WAN port's;\n"
		"                  the LAN port's is derived from it as ESP-IDF's\n"
		"                  esp_derive_local_mac() does. Default: 02 and 40 bits of\n"
		"                  a hash of the preferences file's absolute path, so each\n"
		"                  instance has its own, the same across restarts\n"
		"  --main <module> module to run instead of \"main\" (tests)\n"
		"  --heap <bytes>  the XS heap instead of the manifest's creation.static\n"
		"                  (the board's); for test fixtures that go past it\n"
		"  --help          this text\n"
		"The serial console is stdin/stdout. Type \"help\" at the prompt.\n");
}

static void run_xs(xsMachine *machine)
{
	xsBeginHost(machine);
	{
		sim_run_promise_jobs(the);
	}
	xsEndHost(machine);
}

static int sim_loop(void)
{
	while (!gStop && !gRestart && !sim_abort_status(gMachine)) {
		struct pollfd fds[SIM_MAX_FDS];
		uint64_t now = sim_now_ms();
		int64_t wait = sim_timers_next_ms(now);
		u32_t lwip_wait = sys_timeouts_sleeptime();
		int n = gWatchCount;
		if (lwip_wait != SYS_TIMEOUTS_SLEEPTIME_INFINITE && (wait < 0 || (int64_t)lwip_wait < wait))
			wait = lwip_wait;
		if (sim_messages_pending())
			wait = 0;
		if (wait < 0 || wait > 1000)
			wait = 1000;
		for (int i = 0; i < n; i++) {
			fds[i].fd = gWatch[i].fd;
			fds[i].events = POLLIN;
			fds[i].revents = 0;
		}
		if (poll(fds, (nfds_t)n, (int)wait) < 0 && errno != EINTR) {
			perror("sim: poll");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				/* The watch list may change inside ready(): look it up again. */
				for (int j = 0; j < gWatchCount; j++) {
					if (gWatch[j].fd == fds[i].fd) {
						gWatch[j].ready(gWatch[j].ctx);
						break;
					}
				}
			}
		}
		sys_check_timeouts();
		sim_messages_run(gMachine);
		sim_timers_run(gMachine, sim_now_ms());
		run_xs(gMachine);
	}
	return sim_abort_status(gMachine) ? 1 : 0;
}

static void restart_process(char **argv, const char *wan, const char *lan, const char *prefs, const char *main_module,
	const uint8_t mac[SIM_MAC_LEN], const char *reason)
{
	char wanfd[16], lanfd[16], mactext[SIM_MAC_TEXT];
	char *args[20];
	int a = 0;
	int wfd = tap_port_fd(ROUTER_PORT_WAN), lfd = tap_port_fd(ROUTER_PORT_LAN);
	fflush(stdout);
	fflush(stderr);
	/* Keep both TAP descriptors open across exec: the ports stay attached. */
	fcntl(wfd, F_SETFD, 0);
	fcntl(lfd, F_SETFD, 0);
	snprintf(wanfd, sizeof(wanfd), "%d", wfd);
	snprintf(lanfd, sizeof(lanfd), "%d", lfd);
	/* The board keeps its MAC across a reboot, whatever happens to the path meanwhile. */
	sim_mac_format(mac, mactext);
	args[a++] = argv[0];
	args[a++] = "--wan"; args[a++] = (char *)wan;
	args[a++] = "--lan"; args[a++] = (char *)lan;
	args[a++] = "--prefs"; args[a++] = (char *)prefs;
	args[a++] = "--main"; args[a++] = (char *)main_module;
	if (gHeap) {
		args[a++] = "--heap"; args[a++] = (char *)gHeap;
	}
	args[a++] = "--mac"; args[a++] = mactext;
	args[a++] = "--wan-fd"; args[a++] = wanfd;
	args[a++] = "--lan-fd"; args[a++] = lanfd;
	if (reason) {
		args[a++] = "--reset-reason"; args[a++] = (char *)reason;
	}
	args[a] = NULL;
	execv("/proc/self/exe", args);
	perror("sim: restart failed");
	exit(1);
}

static int module_map_path(char *path, size_t size)
{
	char exe[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	const char *env = getenv("ROUTER_SIM_MODULES");
	if (env) {
		snprintf(path, size, "%s", env);
		return 0;
	}
	if (n <= 0)
		return -1;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(path, size, "%s/modules.map", exe);
	return 0;
}

static void start_machine(const char *main_module, const char *heap)
{
	xsCreation creation = gBoardCreation;
	if (heap)
		creation.staticSize = (xsIntegerValue)atol(heap);
	gMachine = sim_boot(&creation);
	if (!gMachine) {
		fprintf(stderr, "router-sim: cannot create the XS machine\n");
		exit(1);
	}
	xsBeginHost(gMachine);
	{
		sim_run_main(the, main_module);
		sim_run_promise_jobs(the);
	}
	xsEndHost(gMachine);
}

int main(int argc, char **argv)
{
	const char *wan = NULL, *lan = NULL, *prefs = NULL, *main_module = "main", *mac_arg = NULL;
	int wan_fd = -1, lan_fd = -1;
	char map[PATH_MAX], key[PATH_MAX];
	uint8_t mac[SIM_MAC_LEN], lan_mac[SIM_MAC_LEN];
	int status;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!value) {
			fprintf(stderr, "router-sim: %s needs a value\n", arg);
			usage(stderr);
			return 2;
		}
		if (!strcmp(arg, "--wan")) wan = value;
		else if (!strcmp(arg, "--lan")) lan = value;
		else if (!strcmp(arg, "--prefs")) prefs = value;
		else if (!strcmp(arg, "--main")) main_module = value;
		else if (!strcmp(arg, "--heap")) gHeap = value;
		else if (!strcmp(arg, "--mac")) mac_arg = value;
		else if (!strcmp(arg, "--wan-fd")) wan_fd = atoi(value);
		else if (!strcmp(arg, "--lan-fd")) lan_fd = atoi(value);
		else if (!strcmp(arg, "--reset-reason")) gResetReason = value;
		else {
			fprintf(stderr, "router-sim: unknown option %s\n", arg);
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (!wan || !lan || !prefs) {
		fprintf(stderr, "router-sim: --wan, --lan and --prefs are required\n");
		usage(stderr);
		return 2;
	}
	if (!strcmp(wan, lan)) {
		fprintf(stderr, "router-sim: WAN and LAN must be different TAP devices\n");
		return 2;
	}
	if (mac_arg) {
		const char *why;
		if (sim_mac_parse(mac_arg, mac)) {
			fprintf(stderr, "router-sim: --mac %s: not a MAC address; six two-digit hex octets separated by colons, "
				"e.g. 02:00:5e:10:00:01\n", mac_arg);
			return 2;
		}
		if ((why = sim_mac_unusable(mac))) {
			fprintf(stderr, "router-sim: --mac %s: %s, not a port's own address\n", mac_arg, why);
			return 2;
		}
	}
	else if (sim_mac_key_for_path(prefs, key, sizeof(key)) == 0)
		sim_mac_from_key(key, mac);
	else {
		fprintf(stderr, "router-sim: --prefs %s: path too long\n", prefs);
		return 2;
	}
	sim_mac_derive_local(lan_mac, mac);

	gBootMs = sim_now_ms();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	srandom((unsigned)(sim_now_ms() ^ (uint64_t)getpid()));

	if (module_map_path(map, sizeof(map)) || sim_load_module_map(map))
		return 1;
	preference_store_open(prefs);

	lwip_init();
	if (tap_port_attach(ROUTER_PORT_WAN, wan, wan_fd, mac) || tap_port_attach(ROUTER_PORT_LAN, lan, lan_fd, lan_mac))
		return 1;

	if (gHeap && (strspn(gHeap, "0123456789") != strlen(gHeap) || atol(gHeap) < 16384 || atol(gHeap) > 16 * 1024 * 1024)) {
		fprintf(stderr, "router-sim: --heap %s: a number of bytes, 16384 to 16777216\n", gHeap);
		return 2;
	}
	start_machine(main_module, gHeap);
	status = sim_loop();
	if (gRestart && !status)
		restart_process(argv, wan, lan, prefs, main_module, mac, NULL);
	/* An XS abort (heap or keys exhausted, stack overflow) reboots, as on the board. */
	if (!gStop && sim_abort_status(gMachine) > 0) {
		char reason[64];
		snprintf(reason, sizeof(reason), "XS abort: %s", sim_abort_reason(sim_abort_status(gMachine)));
		restart_process(argv, wan, lan, prefs, main_module, mac, reason);
	}
	fflush(stdout);
	/* Skip xsDeleteMachine: the process ends here and the OS frees it all. */
	return status;
}
