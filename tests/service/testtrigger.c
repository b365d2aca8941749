/*
 * testtrigger - a SERVER_KIND_TRIGGER daemon over server_main() for the
 * skeleton's tests. Each wake-up is logged as "trigger: N bytes: TEXT"
 * (log.c replaces control characters), each timer tick (every second) as
 * "tick N", and SIGTERM as "shutdown". Trigger bytes come from any local
 * client: they are only counted and logged, never interpreted.
 */
#include <stddef.h>

#include "server/server.h"
#include "util/log.h"

static unsigned int testtrigger_ticks;

static void
testtrigger_trigger(const char *data, size_t len, void *ctx)
{
	(void)ctx;
	log_info("trigger: %zu bytes: %.*s", len, (int)(len > 64 ? 64 : len),
		 data != NULL ? data : "");
}

static void
testtrigger_timer(void *ctx)
{
	(void)ctx;
	log_info("tick %u", ++testtrigger_ticks);
}

static void
testtrigger_shutdown(void *ctx)
{
	(void)ctx;
	log_info("shutdown");
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
	    .name = "testtrigger",
	    .kind = SERVER_KIND_TRIGGER,
	    .on_trigger = testtrigger_trigger,
	    .on_timer = testtrigger_timer,
	    .timer_interval = 1,
	    .on_shutdown = testtrigger_shutdown,
	};

	server_main(argc, argv, &spec);
}
