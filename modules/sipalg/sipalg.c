/*
 * The "sipalg" module's host side: the control plane's calls into the SIP
 * ALG (sipalg.h). Thin like napt.c: arguments are checked and converted
 * here, every call into the ALG is made under ROUTER_LWIP_LOCK (its state
 * is the packet path's), and nothing that can throw runs while it is held.
 */
#include "router_host.h"
#include "sipalg.h"
#include "napt_lwip.h"

#include "lwip/ip4_addr.h"

#include <string.h>

static uint32_t integer_value(xsMachine *the, xsSlot value, const char *what, uint32_t min, uint32_t max)
{
	double number;
	xsType type = xsTypeOf(value);
	if (type != xsIntegerType && type != xsNumberType)
		xsTypeError("sipalg: %s must be a number", what);
	number = xsToNumber(value);
	/* NaN fails both comparisons; the cast round trip rejects fractions. */
	if (!(number >= (double)min && number <= (double)max) || (double)(uint32_t)number != number)
		xsRangeError("sipalg: %s must be an integer from %u to %u", what, (unsigned)min, (unsigned)max);
	return (uint32_t)number;
}

/* An array of 1 .. SIPALG_PORTS_MAX ports. */
static unsigned ports_value(xsMachine *the, xsSlot value, uint16_t *ports)
{
	unsigned count;
	if (xsTypeOf(value) != xsReferenceType || !xsIsInstanceOf(value, xsArrayPrototype))
		xsTypeError("sipalg: ports must be an array");
	count = (unsigned)xsToInteger(xsGet(value, xsID("length")));
	if (count < 1 || count > SIPALG_PORTS_MAX)
		xsRangeError("sipalg: 1 to %u ports", (unsigned)SIPALG_PORTS_MAX);
	for (unsigned i = 0; i < count; i++)
		ports[i] = (uint16_t)integer_value(the, xsGetIndex(value, (xsIntegerValue)i), "port", 1, 65535);
	return count;
}

static int has(xsMachine *the, xsSlot object, const char *name)
{
	return xsTypeOf(xsGet(object, xsID(name))) != xsUndefinedType;
}

static xsSlot address_string(xsMachine *the, uint32_t value)
{
	char text[IP4ADDR_STRLEN_MAX];
	ip4_addr_t address;
	address.addr = value;
	ip4addr_ntoa_r(&address, text, sizeof(text));
	return xsString(text);
}

static void set_number(xsMachine *the, xsSlot *object, const char *name, double value)
{
	xsSet(*object, xsID(name), xsNumber(value));
}

static void require_running(xsMachine *the)
{
	if (!sipalg_lwip_running())
		xsUnknownError("sipalg: not running");
}

/* The defaults, with what the argument object gives: { enabled, ports, dialogs, registrations, connections, pinholes }. */
static void config_value(xsMachine *the, xsSlot value, struct sipalg_config *config)
{
	sipalg_default_config(config);
	if (xsTypeOf(value) != xsReferenceType)
		return;
	if (has(the, value, "enabled")) {
		xsSlot enabled = xsGet(value, xsID("enabled"));   /* xsTest cannot take a nested xsGet */
		config->enabled = xsTest(enabled) ? 1 : 0;
	}
	if (has(the, value, "ports"))
		config->port_count = (uint8_t)ports_value(the, xsGet(value, xsID("ports")), config->ports);
	if (has(the, value, "dialogs")) {
		config->dialog.max_dialogs = (uint16_t)integer_value(the, xsGet(value, xsID("dialogs")), "dialogs", 1, 256);
		config->dialog.max_pinholes = (uint16_t)(2u * config->dialog.max_dialogs);
	}
	if (has(the, value, "registrations"))
		config->dialog.max_registrations = (uint16_t)integer_value(the, xsGet(value, xsID("registrations")), "registrations", 1, 64);
	if (has(the, value, "connections"))
		config->tcp.max_conns = (uint16_t)integer_value(the, xsGet(value, xsID("connections")), "connections", 1, 256);
	if (has(the, value, "pinholes"))
		config->dialog.max_pinholes = (uint16_t)integer_value(the, xsGet(value, xsID("pinholes")), "pinholes", 2, 1024);
}

/*
 * xs_sipalg_forward_room(config?) -> number: the NAPT forwards the ALG
 * started with this configuration may hold; NAPT's pool is sized with it.
 */
void xs_sipalg_forward_room(xsMachine *the)
{
	struct sipalg_config config;
	xsVars(1);
	xsVar(0) = xsToInteger(xsArgc) > 0 ? xsArg(0) : xsUndefined;
	config_value(the, xsVar(0), &config);
	xsResult = xsNumber(sipalg_forward_room(&config));
}

/* xs_sipalg_start({ enabled, ports, ... }) -> boolean. Once per boot, after napt's start. */
void xs_sipalg_start(xsMachine *the)
{
	struct sipalg_config config;
	int ok;
	xsVars(1);
	xsVar(0) = xsToInteger(xsArgc) > 0 ? xsArg(0) : xsUndefined;
	config_value(the, xsVar(0), &config);
	if (sipalg_lwip_running())
		xsUnknownError("sipalg: already started (the pools are sized once per boot)");
	if (!napt_lwip_running())
		xsUnknownError("sipalg: nat is not running");
	ROUTER_LWIP_LOCK();
	ok = sipalg_lwip_start(&config) == 0;
	ROUTER_LWIP_UNLOCK();
	xsResult = xsBoolean(ok);
}

/* xs_sipalg_running() -> boolean */
void xs_sipalg_running(xsMachine *the)
{
	xsResult = xsBoolean(sipalg_lwip_running() != 0);
}

/* xs_sipalg_set_enabled(boolean): off ends every dialog and closes its pinholes. */
void xs_sipalg_set_enabled(xsMachine *the)
{
	int enabled = xsTest(xsArg(0));
	require_running(the);
	ROUTER_LWIP_LOCK();
	sipalg_set_enabled(enabled);
	ROUTER_LWIP_UNLOCK();
}

/* xs_sipalg_set_ports([port, ...]) */
void xs_sipalg_set_ports(xsMachine *the)
{
	uint16_t ports[SIPALG_PORTS_MAX];
	unsigned count = ports_value(the, xsArg(0), ports);
	int result;
	require_running(the);
	ROUTER_LWIP_LOCK();
	result = sipalg_set_ports(ports, count);
	ROUTER_LWIP_UNLOCK();
	if (result)
		xsRangeError("sipalg: ports refused");
}

/* xs_sipalg_stats() -> { enabled, ports, messages, ..., dialogs, ..., tcp... } */
void xs_sipalg_stats(xsMachine *the)
{
	struct sipalg_stats s;
	uint16_t ports[SIPALG_PORTS_MAX];
	unsigned count;
	int enabled;
	uint32_t max_pinholes;
	require_running(the);
	ROUTER_LWIP_LOCK();
	sipalg_get_stats(&s);
	count = sipalg_ports(ports);
	enabled = sipalg_enabled();
	max_pinholes = sipalg_max_pinholes();
	ROUTER_LWIP_UNLOCK();

	xsVars(1);
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("enabled"), xsBoolean(enabled != 0));
	xsVar(0) = xsNewArray(0);
	for (unsigned i = 0; i < count; i++)
		xsSetIndex(xsVar(0), (xsIntegerValue)i, xsNumber(ports[i]));
	xsSet(xsResult, xsID("ports"), xsVar(0));
	set_number(the, &xsResult, "messages", (double)s.messages);
	set_number(the, &xsResult, "rewritten", (double)s.rewritten);
	set_number(the, &xsResult, "unparseable", (double)s.unparseable);
	set_number(the, &xsResult, "tooBig", (double)s.too_big);
	set_number(the, &xsResult, "tcpSplit", (double)s.tcp_split);
	set_number(the, &xsResult, "sent", (double)s.sent);
	set_number(the, &xsResult, "sendFailed", (double)s.send_failed);
	set_number(the, &xsResult, "dialogs", s.dialog.dialogs);
	set_number(the, &xsResult, "dialogsMax", s.dialog.dialogs_max);
	set_number(the, &xsResult, "registrations", s.dialog.registrations);
	set_number(the, &xsResult, "registrationsMax", s.dialog.registrations_max);
	set_number(the, &xsResult, "pinholes", s.dialog.pinholes);
	set_number(the, &xsResult, "pinholesMax", max_pinholes + s.dialog.registrations_max);
	set_number(the, &xsResult, "dialogsCreated", (double)s.dialog.dialogs_created);
	set_number(the, &xsResult, "dialogsEnded", (double)s.dialog.dialogs_ended);
	set_number(the, &xsResult, "poolFull", (double)(s.dialog.pool_full + s.tcp.pool_full));
	set_number(the, &xsResult, "pinholeFailed", (double)s.dialog.pinhole_failed);
	set_number(the, &xsResult, "noPinhole", (double)s.no_media);
	set_number(the, &xsResult, "tcpConnections", s.tcp.conns);
	set_number(the, &xsResult, "tcpConnectionsMax", s.tcp.conns_max);
	set_number(the, &xsResult, "tcpAdjusted", (double)s.tcp.adjusted);
	set_number(the, &xsResult, "notAtBoundary", (double)s.tcp.not_at_boundary);
}

/*
 * xs_sipalg_dialogs() -> [{ callId, inside, remote, confirmed, expiresIn,
 *                           streams: [{ insidePort, externalPort }] }]
 * The lock is taken per dialog, as napt.c's flow listing does.
 */
void xs_sipalg_dialogs(xsMachine *the)
{
	uint32_t cursor = 0, now = napt_lwip_now(), n = 0;
	require_running(the);
	xsVars(3);
	xsResult = xsNewArray(0);
	for (;;) {
		struct sip_dialog_info d;
		int more;
		ROUTER_LWIP_LOCK();
		more = sip_dialog_next(&cursor, now, &d);
		ROUTER_LWIP_UNLOCK();
		if (!more)
			break;
		/* Call-IDs are printable ASCII (RFC 3261 25.1); anything else must not reach a JS string raw. */
		d.call_id[sizeof(d.call_id) - 1] = 0;
		for (char *c = d.call_id; *c; c++)
			if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
				*c = '?';
		xsVar(0) = xsNewObject();
		xsSet(xsVar(0), xsID("callId"), xsString(d.call_id));
		xsSet(xsVar(0), xsID("inside"), address_string(the, d.inside_addr));
		xsSet(xsVar(0), xsID("remote"), address_string(the, d.remote_addr));
		xsSet(xsVar(0), xsID("confirmed"), xsBoolean(d.confirmed != 0));
		set_number(the, &xsVar(0), "expiresIn", d.expires_in);
		xsVar(1) = xsNewArray(0);
		for (unsigned i = 0, k = 0; i < SIP_MEDIA_MAX; i++) {
			if (!d.ext_ports[i])
				continue;
			xsVar(2) = xsNewObject();
			set_number(the, &xsVar(2), "insidePort", d.inside_ports[i]);
			set_number(the, &xsVar(2), "externalPort", d.ext_ports[i]);
			xsSetIndex(xsVar(1), (xsIntegerValue)k++, xsVar(2));
		}
		xsSet(xsVar(0), xsID("streams"), xsVar(1));
		xsSetIndex(xsResult, (xsIntegerValue)n++, xsVar(0));
		if (n >= 1024)
			break;   /* the pool is at most 256: a bound all the same */
	}
}

/* xs_sipalg_registrations() -> [{ inside, insidePort, externalPort, registrar, expiresIn }] */
void xs_sipalg_registrations(xsMachine *the)
{
	uint32_t cursor = 0, now = napt_lwip_now(), n = 0;
	require_running(the);
	xsVars(1);
	xsResult = xsNewArray(0);
	for (;;) {
		struct sip_registration_info r;
		int more;
		ROUTER_LWIP_LOCK();
		more = sip_registration_next(&cursor, now, &r);
		ROUTER_LWIP_UNLOCK();
		if (!more)
			break;
		xsVar(0) = xsNewObject();
		xsSet(xsVar(0), xsID("inside"), address_string(the, r.inside_addr));
		set_number(the, &xsVar(0), "insidePort", r.inside_port);
		set_number(the, &xsVar(0), "externalPort", r.ext_port);
		xsSet(xsVar(0), xsID("registrar"), address_string(the, r.registrar));
		set_number(the, &xsVar(0), "expiresIn", r.expires_in);
		xsSetIndex(xsResult, (xsIntegerValue)n++, xsVar(0));
		if (n >= 1024)
			break;
	}
}
