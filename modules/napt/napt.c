/*
 * The "napt" module's host side: the control plane's calls into the
 * translation table (napt.h, started through napt_lwip.h). Thin on purpose:
 * arguments are checked and converted here, the table does the rest.
 *
 * The table is lwIP's (its input hook uses it per packet), so every call
 * into it is made under ROUTER_LWIP_LOCK, and nothing that can throw runs
 * while the lock is held: arguments are converted first, results are built
 * into JavaScript values after.
 */
#include "router_host.h"
#include "napt.h"
#include "napt_lwip.h"

#include "lwip/ip4_addr.h"
#include "lwip/sys.h"

#include <stdlib.h>
#include <string.h>

/* Moddable's ESP32 build defines ESP32 (and ESP-IDF's ESP_PLATFORM): the hardware generator. */
#if defined(ESP_PLATFORM) || defined(ESP32)
#define NAPT_HARDWARE_RANDOM 1
#include "esp_random.h"
#endif

static const char *const gTimeoutNames[NAPT_TIMEOUT_COUNT] = {
	[NAPT_TIMEOUT_UDP] = "udp",
	[NAPT_TIMEOUT_TCP] = "tcp",
	[NAPT_TIMEOUT_TCP_TRANSITORY] = "tcp-transitory",
	[NAPT_TIMEOUT_ICMP] = "icmp",
};

/* The same timeouts as properties of the stats and start objects. */
static const char *const gTimeoutKeys[NAPT_TIMEOUT_COUNT] = {
	[NAPT_TIMEOUT_UDP] = "udp",
	[NAPT_TIMEOUT_TCP] = "tcp",
	[NAPT_TIMEOUT_TCP_TRANSITORY] = "tcpTransitory",
	[NAPT_TIMEOUT_ICMP] = "icmp",
};

static const char *const gDropKeys[NAPT_DROP_COUNT] = {
	[NAPT_DROP_MALFORMED] = "malformed",
	[NAPT_DROP_CHECKSUM] = "checksum",
	[NAPT_DROP_UNSOLICITED] = "unsolicited",
	[NAPT_DROP_FILTERED] = "filtered",
	[NAPT_DROP_TABLE_FULL] = "tableFull",
	[NAPT_DROP_NO_PORT] = "noPort",
	[NAPT_DROP_NOT_SYN] = "notSyn",
	[NAPT_DROP_ICMP_ERROR] = "icmpError",
	[NAPT_DROP_UNSUPPORTED] = "unsupported",
	[NAPT_DROP_MARTIAN] = "martian",
	[NAPT_DROP_HOST_SHARE] = "hostShare",
	[NAPT_DROP_UNRESOLVED] = "unresolved",
};

static const char *const gForwardResults[] = {
	[NAPT_FORWARD_OK] = "ok",
	[NAPT_FORWARD_REFRESHED] = "refreshed",
	[NAPT_FORWARD_CONFLICT] = "conflict",
	[NAPT_FORWARD_FULL] = "full",
	[NAPT_FORWARD_INVALID] = "invalid",
	[NAPT_FORWARD_NOT_FOUND] = "not-found",
};

static void require_running(xsMachine *the)
{
	if (!napt_lwip_running())
		xsUnknownError("napt: not running");
}

/* A string argument that must fit `size` bytes with its NUL; `what` names it in the error. */
static void text_value(xsMachine *the, xsSlot value, const char *what, char *out, size_t size)
{
	const char *text;
	xsType type = xsTypeOf(value);
	if (type != xsStringType && type != xsStringXType)
		xsTypeError("napt: %s must be a string", what);
	text = xsToString(value);
	if (strlen(text) >= size)
		xsRangeError("napt: %s is too long", what);
	strcpy(out, text);
}

/* An integer argument in min..max. */
static uint32_t integer_value(xsMachine *the, xsSlot value, const char *what, uint32_t min, uint32_t max)
{
	double number;
	xsType type = xsTypeOf(value);
	if (type != xsIntegerType && type != xsNumberType)
		xsTypeError("napt: %s must be a number", what);
	number = xsToNumber(value);
	/* NaN fails both comparisons; the cast round trip rejects fractions. */
	if (!(number >= (double)min && number <= (double)max) || (double)(uint32_t)number != number)
		xsRangeError("napt: %s must be an integer from %u to %u", what, (unsigned)min, (unsigned)max);
	return (uint32_t)number;
}

/* A dotted address, as napt keeps it (network byte order, as ip4_addr_t holds it). */
static uint32_t address_value(xsMachine *the, xsSlot value, const char *what)
{
	char text[IP4ADDR_STRLEN_MAX];
	ip4_addr_t address;
	text_value(the, value, what, text, sizeof(text));
	if (!ip4addr_aton(text, &address))
		xsRangeError("napt: %s is not an IPv4 address: %s", what, text);
	return address.addr;
}

/* Like address_value, but absent, "" and 0.0.0.0 all mean none (0). */
static uint32_t optional_address(xsMachine *the, xsSlot value, const char *what)
{
	xsType type = xsTypeOf(value);
	if (type == xsUndefinedType)
		return 0;
	if ((type == xsStringType || type == xsStringXType) && !xsToString(value)[0])
		return 0;
	return address_value(the, value, what);
}

static xsSlot address_string(xsMachine *the, uint32_t value)
{
	char text[IP4ADDR_STRLEN_MAX];
	ip4_addr_t address;
	address.addr = value;
	ip4addr_ntoa_r(&address, text, sizeof(text));
	return xsString(text);
}

static enum napt_filtering filtering_value(xsMachine *the, xsSlot value)
{
	char text[8];
	text_value(the, value, "filtering", text, sizeof(text));
	if (!strcmp(text, "adf"))
		return NAPT_FILTER_ADDRESS;
	if (!strcmp(text, "eif"))
		return NAPT_FILTER_ENDPOINT;
	xsRangeError("napt: filtering %s (adf or eif)", text);
	return NAPT_FILTER_ADDRESS; /* not reached */
}

static uint8_t proto_value(xsMachine *the, xsSlot value)
{
	char text[8];
	text_value(the, value, "proto", text, sizeof(text));
	if (!strcmp(text, "tcp"))
		return NAPT_PROTO_TCP;
	if (!strcmp(text, "udp"))
		return NAPT_PROTO_UDP;
	xsRangeError("napt: proto %s (tcp or udp)", text);
	return 0; /* not reached */
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case NAPT_PROTO_TCP: return "tcp";
	case NAPT_PROTO_UDP: return "udp";
	case NAPT_PROTO_ICMP: return "icmp";
	default: return "?";
	}
}

static int has(xsMachine *the, xsSlot object, const char *name)
{
	return xsTypeOf(xsGet(object, xsID(name))) != xsUndefinedType;
}

/*
 * Remote hosts must not be able to aim at one hash bucket, so the seed
 * differs per boot. The board has a hardware generator; elsewhere the time,
 * where the stack landed (ASLR) and libc's generator are mixed.
 */
static uint32_t boot_seed(void)
{
	uint32_t seed = sys_now();
	uint64_t where = (uint64_t)(uintptr_t)&seed;
	seed ^= (uint32_t)where ^ (uint32_t)(where >> 32);
	seed ^= (uint32_t)random() * 0x9e3779b9u;
#ifdef NAPT_HARDWARE_RANDOM
	seed ^= esp_random();
#endif
	/* murmur3's finalizer: every input bit reaches every output bit. */
	seed ^= seed >> 16;
	seed *= 0x85ebca6bu;
	seed ^= seed >> 13;
	seed *= 0xc2b2ae35u;
	seed ^= seed >> 16;
	return seed;
}

/*
 * xs_napt_start({ flows, forwards, filtering: "adf" | "eif",
 *                 timeouts: { udp, tcp, tcpTransitory, icmp } }) -> boolean
 * Once per boot: the pools are sized here and never grow.
 */
void xs_napt_start(xsMachine *the)
{
	struct napt_config config;
	int ok;
	napt_default_config(&config);
	xsVars(2);
	if (xsToInteger(xsArgc) > 0 && xsTypeOf(xsArg(0)) == xsReferenceType) {
		xsVar(0) = xsArg(0);
		if (has(the, xsVar(0), "flows"))
			config.max_flows = integer_value(the, xsGet(xsVar(0), xsID("flows")), "flows", 16, 32768);
		if (has(the, xsVar(0), "forwards"))
			config.max_forwards = integer_value(the, xsGet(xsVar(0), xsID("forwards")), "forwards", 1, 1024);
		if (has(the, xsVar(0), "filtering"))
			config.filtering = filtering_value(the, xsGet(xsVar(0), xsID("filtering")));
		if (has(the, xsVar(0), "hostShare"))
			config.host_share = integer_value(the, xsGet(xsVar(0), xsID("hostShare")), "hostShare", 0, config.max_flows);
		xsVar(1) = xsGet(xsVar(0), xsID("timeouts"));
		if (xsTypeOf(xsVar(1)) == xsReferenceType)
			for (int i = 0; i < NAPT_TIMEOUT_COUNT; i++)
				if (has(the, xsVar(1), gTimeoutKeys[i]))
					config.timeout[i] = integer_value(the, xsGet(xsVar(1), xsID(gTimeoutKeys[i])),
					                                  gTimeoutNames[i], 1, NAPT_MAX_TIMEOUT);
	}
	if (napt_lwip_running())
		xsUnknownError("napt: already started (the table is sized once per boot)");
	config.hash_seed = boot_seed();
	ROUTER_LWIP_LOCK();
	ok = napt_lwip_start(&config) == 0;
	ROUTER_LWIP_UNLOCK();
	xsResult = xsBoolean(ok);
}

/* xs_napt_running() -> boolean */
void xs_napt_running(xsMachine *the)
{
	xsResult = xsBoolean(napt_lwip_running() != 0);
}

/* xs_napt_set_filtering("adf" | "eif") */
void xs_napt_set_filtering(xsMachine *the)
{
	enum napt_filtering filtering = filtering_value(the, xsArg(0));
	int result;
	require_running(the);
	ROUTER_LWIP_LOCK();
	result = napt_set_filtering(filtering);
	ROUTER_LWIP_UNLOCK();
	if (result)
		xsRangeError("napt: filtering refused");
}

/* xs_napt_set_host_share(flows): 0 for a quarter of the table */
void xs_napt_set_host_share(xsMachine *the)
{
	uint32_t flows;
	int result;
	require_running(the);
	flows = integer_value(the, xsArg(0), "host share", 0, 32768);
	ROUTER_LWIP_LOCK();
	if (!flows)
		flows = (napt_config()->max_flows + 3u) / 4u;
	result = napt_set_host_share(flows);
	ROUTER_LWIP_UNLOCK();
	if (result)
		xsRangeError("napt: host share %u refused (1 to the table's size)", (unsigned)flows);
}

/* xs_napt_set_fastpath(on): works whether NAPT runs or not (the switch is the glue's) */
void xs_napt_set_fastpath(xsMachine *the)
{
	int on = xsTest(xsArg(0));
	ROUTER_LWIP_LOCK();
	napt_fastpath_set(on);
	ROUTER_LWIP_UNLOCK();
}

/* xs_napt_set_timeout("udp" | "tcp" | "tcp-transitory" | "icmp", seconds) */
void xs_napt_set_timeout(xsMachine *the)
{
	char name[16];
	int which = -1, result;
	uint32_t seconds;
	text_value(the, xsArg(0), "timeout name", name, sizeof(name));
	for (int i = 0; i < NAPT_TIMEOUT_COUNT; i++)
		if (!strcmp(name, gTimeoutNames[i]))
			which = i;
	if (which < 0)
		xsRangeError("napt: no timeout %s (udp, tcp, tcp-transitory or icmp)", name);
	seconds = integer_value(the, xsArg(1), "timeout", 1, NAPT_MAX_TIMEOUT);
	require_running(the);
	ROUTER_LWIP_LOCK();
	result = napt_set_timeout((enum napt_timeout)which, seconds);
	ROUTER_LWIP_UNLOCK();
	if (result)
		xsRangeError("napt: %s timeout %u refused", name, (unsigned)seconds);
}

static void set_number(xsMachine *the, xsSlot *object, const char *name, double value)
{
	xsSet(*object, xsID(name), xsNumber(value));
}

/* xs_napt_stats() -> every napt_stats field, with the running filtering and timeouts */
void xs_napt_stats(xsMachine *the)
{
	struct napt_stats s;
	struct napt_config c;
	uint32_t fastpath;
	int fastpath_on;
	require_running(the);
	ROUTER_LWIP_LOCK();
	napt_get_stats(&s);
	c = *napt_config();
	fastpath = napt_fastpath_count();
	fastpath_on = napt_fastpath_on();
	ROUTER_LWIP_UNLOCK();

	xsVars(1);
	xsResult = xsNewObject();
	set_number(the, &xsResult, "capacity", s.capacity);
	xsVar(0) = xsNewObject();
	set_number(the, &xsVar(0), "tcp", s.in_use[0]);
	set_number(the, &xsVar(0), "udp", s.in_use[1]);
	set_number(the, &xsVar(0), "icmp", s.in_use[2]);
	xsSet(xsResult, xsID("inUse"), xsVar(0));
	set_number(the, &xsResult, "peak", s.peak);
	set_number(the, &xsResult, "created", (double)s.created);
	set_number(the, &xsResult, "expired", (double)s.expired);
	set_number(the, &xsResult, "evicted", (double)s.evicted);
	set_number(the, &xsResult, "unansweredReused", (double)s.unanswered_reused);
	set_number(the, &xsResult, "unansweredPerMapping", s.unanswered_per_mapping);
	xsVar(0) = xsNewObject();
	set_number(the, &xsVar(0), "out", (double)s.translated[NAPT_OUTBOUND]);
	set_number(the, &xsVar(0), "in", (double)s.translated[NAPT_INBOUND]);
	xsSet(xsResult, xsID("translated"), xsVar(0));
	set_number(the, &xsResult, "hairpinned", (double)s.hairpinned);
	set_number(the, &xsResult, "icmpErrors", (double)s.icmp_errors);
	set_number(the, &xsResult, "passed", (double)s.passed);
	xsVar(0) = xsNewObject();
	for (int i = 0; i < NAPT_DROP_COUNT; i++)
		set_number(the, &xsVar(0), gDropKeys[i], (double)s.dropped[i]);
	xsSet(xsResult, xsID("dropped"), xsVar(0));
	set_number(the, &xsResult, "bytesPerFlow", s.bytes_per_flow);
	set_number(the, &xsResult, "hostShare", s.host_share);
	set_number(the, &xsResult, "fastpath", fastpath);
	xsSet(xsResult, xsID("fastpathOn"), xsBoolean(fastpath_on));
	xsSet(xsResult, xsID("filtering"), xsString(c.filtering == NAPT_FILTER_ENDPOINT ? "eif" : "adf"));
	xsVar(0) = xsNewObject();
	for (int i = 0; i < NAPT_TIMEOUT_COUNT; i++)
		set_number(the, &xsVar(0), gTimeoutKeys[i], c.timeout[i]);
	xsSet(xsResult, xsID("timeouts"), xsVar(0));
}

/*
 * xs_napt_flows(max, cursor) -> [{ proto, state, replied, forwarded, inside,
 *   insidePort, externalPort, remote, remotePort, idle, expiresIn }, ...,
 *   next cursor (a number), or nothing after the last flow]
 * A page at a time from cursor (0 first): a long listing never holds the XS
 * heap for more than a page, nor the packet path for more than a flow (the
 * lock is taken per flow); flows that come or go meanwhile may be missed,
 * which a listing may.
 */
void xs_napt_flows(xsMachine *the)
{
	uint32_t max = integer_value(the, xsArg(0), "max", 0, 64);
	uint32_t cursor = integer_value(the, xsArg(1), "cursor", 0, 0x7fffffff);
	uint32_t now = napt_lwip_now(), n = 0;
	require_running(the);
	xsVars(1);
	xsResult = xsNewArray(0);
	while (n < max) {
		struct napt_flow_info f;
		const char *state = "";
		int more;
		ROUTER_LWIP_LOCK();
		more = napt_flow_next(&cursor, now, &f);
		if (more && f.proto == NAPT_PROTO_TCP)
			state = napt_tcp_state_name(f.tcp_state);
		ROUTER_LWIP_UNLOCK();
		if (!more)
			break;
		xsVar(0) = xsNewObject();
		xsSet(xsVar(0), xsID("proto"), xsString(proto_name(f.proto)));
		xsSet(xsVar(0), xsID("state"), xsString(state ? state : ""));
		xsSet(xsVar(0), xsID("replied"), xsBoolean(f.replied != 0));
		xsSet(xsVar(0), xsID("forwarded"), xsBoolean(f.forwarded != 0));
		xsSet(xsVar(0), xsID("inside"), address_string(the, f.in_addr));
		set_number(the, &xsVar(0), "insidePort", f.in_port);
		set_number(the, &xsVar(0), "externalPort", f.ext_port);
		xsSet(xsVar(0), xsID("remote"), address_string(the, f.rem_addr));
		set_number(the, &xsVar(0), "remotePort", f.rem_port);
		set_number(the, &xsVar(0), "idle", f.idle);
		set_number(the, &xsVar(0), "expiresIn", f.expires_in);
		xsSetIndex(xsResult, (xsIntegerValue)n, xsVar(0));
		n++;
	}
	if (n == max)
		xsSetIndex(xsResult, (xsIntegerValue)n, xsNumber((double)cursor));
}

/* Forwards the SIP ALG opens are listed, never made from here: it alone knows when they end. */
static const char *origin_name(uint8_t origin)
{
	switch (origin) {
	case NAPT_ORIGIN_UPNP: return "upnp";
	case NAPT_ORIGIN_SIP: return "sip";
	case NAPT_ORIGIN_PMP: return "pmp";
	default: return "static";
	}
}

/* Copy text into a description, cut at a character boundary so it stays UTF-8. */
static void copy_description(char *out, const char *text)
{
	size_t length = strlen(text);
	if (length > NAPT_DESCRIPTION_MAX - 1) {
		length = NAPT_DESCRIPTION_MAX - 1;
		while (length && ((unsigned char)text[length] & 0xc0) == 0x80)
			length--;
	}
	memcpy(out, text, length);
	out[length] = 0;
}

/*
 * xs_napt_forward_add({ proto, externalPort, externalEnd?, address, port,
 *                       remote?, owner?, lease?, description?, origin? })
 *   -> "ok" | "refreshed" | "conflict" | "full" | "invalid"
 */
void xs_napt_forward_add(xsMachine *the)
{
	struct napt_forward f;
	enum napt_forward_result result;
	uint32_t lease = 0;
	memset(&f, 0, sizeof(f));
	xsVars(2);
	xsVar(0) = xsArg(0);
	if (xsTypeOf(xsVar(0)) != xsReferenceType)
		xsTypeError("napt: forward must be an object");
	f.proto = proto_value(the, xsGet(xsVar(0), xsID("proto")));
	f.ext_port = (uint16_t)integer_value(the, xsGet(xsVar(0), xsID("externalPort")), "externalPort", 1, 65535);
	f.ext_end = f.ext_port;
	if (has(the, xsVar(0), "externalEnd"))
		f.ext_end = (uint16_t)integer_value(the, xsGet(xsVar(0), xsID("externalEnd")), "externalEnd", 1, 65535);
	f.in_addr = address_value(the, xsGet(xsVar(0), xsID("address")), "address");
	f.in_port = (uint16_t)integer_value(the, xsGet(xsVar(0), xsID("port")), "port", 1, 65535);
	f.remote = optional_address(the, xsGet(xsVar(0), xsID("remote")), "remote");
	f.owner = optional_address(the, xsGet(xsVar(0), xsID("owner")), "owner");
	if (has(the, xsVar(0), "lease"))
		lease = integer_value(the, xsGet(xsVar(0), xsID("lease")), "lease", 0, 0x7fffffff);
	f.origin = NAPT_ORIGIN_STATIC;
	if (has(the, xsVar(0), "origin")) {
		char origin[8];
		text_value(the, xsGet(xsVar(0), xsID("origin")), "origin", origin, sizeof(origin));
		if (!strcmp(origin, "upnp"))
			f.origin = NAPT_ORIGIN_UPNP;
		else if (!strcmp(origin, "pmp"))
			f.origin = NAPT_ORIGIN_PMP;
		else if (strcmp(origin, "static"))
			xsRangeError("napt: origin %s (static, upnp or pmp)", origin);
	}
	xsVar(1) = xsGet(xsVar(0), xsID("description"));
	if (xsTypeOf(xsVar(1)) != xsUndefinedType) {
		xsType type = xsTypeOf(xsVar(1));
		if (type != xsStringType && type != xsStringXType)
			xsTypeError("napt: description must be a string");
		copy_description(f.description, xsToString(xsVar(1)));
	}
	require_running(the);
	ROUTER_LWIP_LOCK();
	if (lease)
		f.expires = napt_lwip_now() + lease;
	result = napt_forward_add(&f);
	ROUTER_LWIP_UNLOCK();
	xsResult = xsString(result <= NAPT_FORWARD_NOT_FOUND ? gForwardResults[result] : "invalid");
}

/* xs_napt_forward_remove(proto, externalPort) -> "ok" | "not-found" */
void xs_napt_forward_remove(xsMachine *the)
{
	uint8_t proto = proto_value(the, xsArg(0));
	uint16_t port = (uint16_t)integer_value(the, xsArg(1), "externalPort", 1, 65535);
	enum napt_forward_result result;
	require_running(the);
	ROUTER_LWIP_LOCK();
	result = napt_forward_remove(proto, port);
	ROUTER_LWIP_UNLOCK();
	xsResult = xsString(result == NAPT_FORWARD_OK ? "ok" : "not-found");
}

/*
 * Forwards reach JavaScript one at a time where a request asks for them:
 * a listing built whole would cost the XS heap an object per forward.
 * { proto, externalPort, externalEnd, address, port, remote, owner,
 *   leaseLeft, description, origin: "static" | "upnp" | "sip" | "pmp" }
 */
static void forward_object(xsMachine *the, xsSlot *out, const struct napt_forward *at, uint32_t now)
{
	struct napt_forward f = *at;
	uint32_t left = 0;
	f.description[NAPT_DESCRIPTION_MAX - 1] = 0;
	/* 0 means permanent, so a lease in its last second still shows one. */
	if (f.expires)
		left = f.expires > now ? f.expires - now : 1;
	*out = xsNewObject();
	xsSet(*out, xsID("proto"), xsString(proto_name(f.proto)));
	set_number(the, out, "externalPort", f.ext_port);
	set_number(the, out, "externalEnd", f.ext_end);
	xsSet(*out, xsID("address"), address_string(the, f.in_addr));
	set_number(the, out, "port", f.in_port);
	xsSet(*out, xsID("remote"), f.remote ? address_string(the, f.remote) : xsString(""));
	xsSet(*out, xsID("owner"), f.owner ? address_string(the, f.owner) : xsString(""));
	set_number(the, out, "leaseLeft", left);
	xsSet(*out, xsID("description"), xsString(f.description));
	xsSet(*out, xsID("origin"), xsString(origin_name(f.origin)));
}

/* "mapped": the mappings LAN hosts ask for, UPnP's and NAT-PMP/PCP's together. */
#define ORIGIN_MAPPED (-2)

static int origin_matches(int filter, uint8_t origin)
{
	if (filter == ORIGIN_MAPPED)
		return origin == NAPT_ORIGIN_UPNP || origin == NAPT_ORIGIN_PMP;
	return filter < 0 || origin == filter;
}

/* An origin filter from an optional argument: -1 for every origin. */
static int origin_filter(xsMachine *the, int arg)
{
	char name[8];
	if (xsToInteger(xsArgc) <= arg || xsTypeOf(xsArg(arg)) == xsUndefinedType)
		return -1;
	xsToStringBuffer(xsArg(arg), name, sizeof(name));
	if (!strcmp(name, "static")) return NAPT_ORIGIN_STATIC;
	if (!strcmp(name, "upnp")) return NAPT_ORIGIN_UPNP;
	if (!strcmp(name, "sip")) return NAPT_ORIGIN_SIP;
	if (!strcmp(name, "pmp")) return NAPT_ORIGIN_PMP;
	if (!strcmp(name, "mapped")) return ORIGIN_MAPPED;
	xsRangeError("origin: static, upnp, sip, pmp or mapped");
	return -1;
}

/* A copy of the index-th forward of that origin (any: -1), taken under the lock; 0 when none. */
static int forward_nth(uint32_t index, int origin, struct napt_forward *out)
{
	int found = 0;
	ROUTER_LWIP_LOCK();
	for (uint32_t i = 0;; i++) {
		const struct napt_forward *at = napt_forward_at(i);
		if (!at)
			break;
		if (!origin_matches(origin, at->origin))
			continue;
		if (index-- == 0) {
			*out = *at;
			found = 1;
			break;
		}
	}
	ROUTER_LWIP_UNLOCK();
	return found;
}

/* xs_napt_forwards([origin]) -> every forward (of that origin), in the table's order */
void xs_napt_forwards(xsMachine *the)
{
	uint32_t now = napt_lwip_now();
	int origin = origin_filter(the, 0);
	struct napt_forward f;
	require_running(the);
	xsVars(1);
	xsResult = xsNewArray(0);
	for (uint32_t i = 0; forward_nth(i, origin, &f); i++) {
		forward_object(the, &xsVar(0), &f, now);
		xsSetIndex(xsResult, (xsIntegerValue)i, xsVar(0));
	}
}

/* xs_napt_forward_at(index, [origin]) -> the index-th forward (of that origin), or undefined */
void xs_napt_forward_at(xsMachine *the)
{
	uint32_t index = (uint32_t)integer_value(the, xsArg(0), "index", 0, 65535);
	int origin = origin_filter(the, 1);
	struct napt_forward f;
	require_running(the);
	if (forward_nth(index, origin, &f))
		forward_object(the, &xsResult, &f, napt_lwip_now());
}

/* xs_napt_forward_count([origin]) -> how many forwards (of that origin) */
void xs_napt_forward_count(xsMachine *the)
{
	int origin = origin_filter(the, 0);
	uint32_t n = 0;
	require_running(the);
	ROUTER_LWIP_LOCK();
	for (uint32_t i = 0;; i++) {
		const struct napt_forward *at = napt_forward_at(i);
		if (!at)
			break;
		if (origin_matches(origin, at->origin))
			n++;
	}
	ROUTER_LWIP_UNLOCK();
	xsResult = xsInteger((xsIntegerValue)n);
}

/* xs_napt_forward_holding(proto, port) -> the forward whose external range holds the port, or undefined */
void xs_napt_forward_holding(xsMachine *the)
{
	uint8_t proto = proto_value(the, xsArg(0));
	uint16_t port = (uint16_t)integer_value(the, xsArg(1), "port", 1, 65535);
	struct napt_forward f;
	int found = 0;
	require_running(the);
	ROUTER_LWIP_LOCK();
	for (uint32_t i = 0;; i++) {
		const struct napt_forward *at = napt_forward_at(i);
		if (!at)
			break;
		if (at->proto == proto && at->ext_port <= port && port <= at->ext_end) {
			f = *at;
			found = 1;
			break;
		}
	}
	ROUTER_LWIP_UNLOCK();
	if (found)
		forward_object(the, &xsResult, &f, napt_lwip_now());
}

/* xs_napt_set_dmz(address | "") */
void xs_napt_set_dmz(xsMachine *the)
{
	uint32_t address = optional_address(the, xsArg(0), "dmz");
	require_running(the);
	ROUTER_LWIP_LOCK();
	napt_set_dmz(address);
	ROUTER_LWIP_UNLOCK();
}

/* xs_napt_dmz() -> address, or "" when there is none */
void xs_napt_dmz(xsMachine *the)
{
	uint32_t address;
	require_running(the);
	ROUTER_LWIP_LOCK();
	address = napt_dmz();
	ROUTER_LWIP_UNLOCK();
	xsResult = address ? address_string(the, address) : xsString("");
}

/* xs_napt_generation() -> number: changes whenever the forwards do */
void xs_napt_generation(xsMachine *the)
{
	uint32_t generation;
	require_running(the);
	ROUTER_LWIP_LOCK();
	generation = napt_forward_generation();
	ROUTER_LWIP_UNLOCK();
	xsResult = xsNumber(generation);
}
