/*
 * testecho - a tiny line-oriented daemon over server_main() used by the
 * skeleton's and master's tests. Commands (one per line, at most
 * TESTECHO_MAX_LINE bytes): PING -> PONG, UID -> "uid=N gid=N",
 * PID -> "pid=N", ARGS -> "args=" and the command arguments (from the
 * command line), SLOW -> a 200 ms sleep on the worker pool, then
 * "SLOW done", QUIT -> BYE and close; anything else -> "ERR unknown
 * command"; an over-long line -> "ERR line too long" and close. Input comes
 * from test clients and is treated as untrusted: bounded, never echoed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "server/worker.h"
#include "util/log.h"
#include "util/stream.h"
#include "util/xmem.h"

#define TESTECHO_MAX_LINE 1024
#define TESTECHO_MAX_OUTPUT 65536
#define TESTECHO_IDLE_MS 60000
#define TESTECHO_SLOW_MS 200

struct testecho_client {
	struct stream *stream;
	bool busy;    /* a SLOW job is on the worker pool */
	bool dead;    /* stream gone while busy: done() frees the client */
	bool closing; /* waiting for the last reply to drain */
};

static void testecho_read(struct stream *s, void *ctx);

static void
testecho_free(struct testecho_client *c)
{
	stream_free(&c->stream);
	if (c->busy) {
		c->dead = true;
		return;
	}
	xfree(&c);
	server_client_done();
}

static void
testecho_drained(struct stream *s, void *ctx)
{
	struct testecho_client *c = ctx;

	(void)s;
	if (c->closing)
		testecho_free(c);
}

/* Sends a last reply and closes once it has been written. */
static void
testecho_close_after(struct testecho_client *c, const char *reply)
{
	c->closing = true;
	stream_pause_read(c->stream, true);
	if (stream_printf(c->stream, "%s\r\n", reply) < 0 ||
	    stream_output_pending(c->stream) == 0) {
		testecho_free(c);
		return;
	}
	stream_set_drain_callback(c->stream, testecho_drained);
}

static void
testecho_error(struct stream *s, enum stream_error err, void *ctx)
{
	struct testecho_client *c = ctx;

	(void)s;
	if (err == STREAM_ERR_LINE_TOO_LONG && !c->closing) {
		testecho_close_after(c, "ERR line too long");
		return;
	}
	testecho_free(c);
}

static void
testecho_slow_run(void *job)
{
	struct timespec ts = {0, TESTECHO_SLOW_MS * 1000000L};

	(void)job;
	while (nanosleep(&ts, &ts) < 0)
		;
}

static void
testecho_slow_done(void *job)
{
	struct testecho_client *c = job;

	c->busy = false;
	if (c->dead) {
		xfree(&c);
		server_client_done();
		return;
	}
	if (stream_printf(c->stream, "SLOW done\r\n") < 0) {
		testecho_free(c);
		return;
	}
	stream_pause_read(c->stream, false);
	/* Lines that arrived meanwhile are already buffered. */
	testecho_read(c->stream, c);
}

/* "args=" and the command arguments after the options, space-separated. */
static int
testecho_args(struct testecho_client *c)
{
	char **args;
	int i, n;

	args = server_argv(&n);
	if (stream_printf(c->stream, "args=") < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (stream_printf(c->stream, "%s%s", i > 0 ? " " : "",
				  args[i]) < 0)
			return -1;
	return stream_printf(c->stream, "\r\n");
}

/* 1: go on reading, 0: stop (the client is closing or busy). */
static int
testecho_command(struct testecho_client *c, const char *line)
{
	int ret;

	if (strcasecmp(line, "PING") == 0) {
		ret = stream_printf(c->stream, "PONG\r\n");
	} else if (strcasecmp(line, "UID") == 0) {
		ret = stream_printf(c->stream, "uid=%u gid=%u\r\n",
				    (unsigned int)getuid(),
				    (unsigned int)getgid());
	} else if (strcasecmp(line, "PID") == 0) {
		ret = stream_printf(c->stream, "pid=%ld\r\n", (long)getpid());
	} else if (strcasecmp(line, "ARGS") == 0) {
		ret = testecho_args(c);
	} else if (strcasecmp(line, "SLOW") == 0) {
		c->busy = true;
		stream_pause_read(c->stream, true);
		worker_submit(server_workers(), testecho_slow_run,
			      testecho_slow_done, c);
		return 0;
	} else if (strcasecmp(line, "QUIT") == 0) {
		testecho_close_after(c, "BYE");
		return 0;
	} else {
		ret = stream_printf(c->stream, "ERR unknown command\r\n");
	}
	if (ret < 0) {
		testecho_free(c);
		return 0;
	}
	return 1;
}

static void
testecho_read(struct stream *s, void *ctx)
{
	struct testecho_client *c = ctx;
	const char *line;
	size_t len;
	int ret;

	while (!c->busy && !c->closing) {
		ret = stream_read_line(s, &line, &len, NULL);
		if (ret == 0) {
			if (stream_eof(s))
				testecho_free(c);
			return;
		}
		if (ret < 0) {
			if (stream_eof(s))
				testecho_free(c);
			else
				testecho_close_after(c, "ERR line too long");
			return;
		}
		if (testecho_command(c, line) == 0)
			return;
	}
}

static void
testecho_connect(int fd, void *ctx)
{
	struct testecho_client *c = xcalloc(1, sizeof(*c));

	(void)ctx;
	c->stream = stream_new(server_loop(), fd, TESTECHO_MAX_LINE,
			       TESTECHO_MAX_OUTPUT);
	stream_set_callbacks(c->stream, testecho_read, testecho_error, c);
	stream_set_timeout(c->stream, TESTECHO_IDLE_MS);
	log_debug("testecho: client connected on fd %d", fd);
}

static void
testecho_shutdown(void *ctx)
{
	(void)ctx;
	log_info("testecho: shutting down; waiting for clients to finish");
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
	    .name = "testecho",
	    .kind = SERVER_KIND_LISTENER,
	    .on_connect = testecho_connect,
	    .on_shutdown = testecho_shutdown,
	    .worker_threads = 4,
	};

	server_main(argc, argv, &spec);
}
