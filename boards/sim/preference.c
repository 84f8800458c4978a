/* The "preference" module's host side, over the simulator's preference file. */
#include "router_host.h"
#include "preference_store.h"

#include <stdio.h>
#include <string.h>

static void names(xsMachine *the, char *domain, char *key)
{
	xsToStringBuffer(xsArg(0), domain, PREF_NAME_MAX + 2);
	xsToStringBuffer(xsArg(1), key, PREF_NAME_MAX + 2);
	if (!domain[0] || strlen(domain) > PREF_NAME_MAX || !key[0] || strlen(key) > PREF_NAME_MAX)
		xsRangeError("preference: domain and key are 1 to %d characters", PREF_NAME_MAX);
}

void xs_preference_get(xsMachine *the)
{
	char domain[PREF_NAME_MAX + 2], key[PREF_NAME_MAX + 2];
	enum pref_type type;
	const uint8_t *value;
	size_t length;
	names(the, domain, key);
	if (preference_store_get(domain, key, &type, &value, &length))
		return;
	switch (type) {
	case PREF_BOOLEAN:
		xsResult = xsBoolean(length && value[0]);
		break;
	case PREF_INTEGER: {
		int32_t v = 0;
		if (length == 4)
			v = (int32_t)((uint32_t)value[0] << 24 | (uint32_t)value[1] << 16 | (uint32_t)value[2] << 8 | value[3]);
		xsResult = xsInteger(v);
		break;
	}
	case PREF_STRING:
		xsResult = xsStringBuffer((char *)value, (xsIntegerValue)length);
		break;
	case PREF_BUFFER:
		xsResult = xsArrayBuffer((void *)value, (xsIntegerValue)length);
		break;
	}
}

void xs_preference_set(xsMachine *the)
{
	char domain[PREF_NAME_MAX + 2], key[PREF_NAME_MAX + 2];
	int rc;
	names(the, domain, key);
	switch (xsTypeOf(xsArg(2))) {
	case xsBooleanType: {
		uint8_t b = xsToBoolean(xsArg(2)) ? 1 : 0;
		rc = preference_store_set(domain, key, PREF_BOOLEAN, &b, 1);
		break;
	}
	case xsIntegerType:
	case xsNumberType: {
		int32_t v = xsToInteger(xsArg(2));
		uint8_t b[4] = { (uint8_t)((uint32_t)v >> 24), (uint8_t)((uint32_t)v >> 16), (uint8_t)((uint32_t)v >> 8), (uint8_t)v };
		rc = preference_store_set(domain, key, PREF_INTEGER, b, 4);
		break;
	}
	case xsStringType: {
		const char *s = xsToString(xsArg(2));
		size_t n = strlen(s);
		if (n > PREF_VALUE_MAX)
			xsRangeError("preference: value longer than %d bytes", PREF_VALUE_MAX);
		rc = preference_store_set(domain, key, PREF_STRING, s, n);
		break;
	}
	case xsReferenceType: {
		xsIntegerValue n = xsGetArrayBufferLength(xsArg(2));
		if (n > PREF_VALUE_MAX)
			xsRangeError("preference: value longer than %d bytes", PREF_VALUE_MAX);
		rc = preference_store_set(domain, key, PREF_BUFFER, xsToArrayBuffer(xsArg(2)), (size_t)n);
		break;
	}
	default:
		xsTypeError("preference: value must be boolean, integer, string or ArrayBuffer");
	}
	if (rc)
		xsUnknownError("preference: cannot store %s.%s", domain, key);
}

void xs_preference_delete(xsMachine *the)
{
	char domain[PREF_NAME_MAX + 2], key[PREF_NAME_MAX + 2];
	names(the, domain, key);
	if (preference_store_delete(domain, key))
		xsUnknownError("preference: cannot delete %s.%s", domain, key);
}

struct keys_ctx {
	xsMachine *the;
	int index;
};

static void add_key(void *ctx, const char *key)
{
	struct keys_ctx *k = ctx;
	xsMachine *the = k->the;
	xsSetIndex(xsResult, k->index++, xsString(key));
}

void xs_preference_keys(xsMachine *the)
{
	char domain[PREF_NAME_MAX + 2];
	struct keys_ctx ctx = { the, 0 };
	xsToStringBuffer(xsArg(0), domain, sizeof(domain));
	xsResult = xsNewArray(0);
	preference_store_keys(domain, add_key, &ctx);
}
