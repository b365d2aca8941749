/*
 * map_static - "static:value": every key is found with the same value, as
 * Postfix's static: table; "static:{value with spaces}" drops the braces.
 * Input: the spec from the admin (trusted). Must not do I/O.
 */
#include <string.h>

#include "mail/map_private.h"
#include "util/xmem.h"

static void *
map_static_open(const char *arg, unsigned int flags, char **error_r)
{
	size_t len = strlen(arg);

	(void)flags;
	if (*arg == '{') {
		if (len < 2 || arg[len - 1] != '}') {
			*error_r = xasprintf("static:%s: missing \"}\"", arg);
			return NULL;
		}
		return xstrndup(arg + 1, len - 2);
	}
	return xstrdup(arg);
}

static enum map_status
map_static_lookup(void *ctx, const char *key, struct map_result *result,
		  char **error_r)
{
	(void)key;
	(void)error_r;
	map_row_add_field(map_result_add_row(result), "", ctx);
	return MAP_FOUND;
}

static int
map_static_check(void *ctx, char **error_r)
{
	(void)ctx;
	(void)error_r;
	return 0;
}

static void
map_static_close(void *ctx)
{
	xfree(&ctx);
}

const struct map_driver map_driver_static = {
	.type = "static",
	.open = map_static_open,
	.lookup = map_static_lookup,
	.check = map_static_check,
	.close = map_static_close,
};
