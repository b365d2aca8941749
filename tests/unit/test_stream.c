/* Unit tests for buffered streams: line splitting and limits, raw reads,
 * output queueing, idle timeouts, TLS and the STARTTLS injection defence.
 * Both ends run on one event loop over socketpairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/event.h"
#include "util/stream.h"
#include "util/tls.h"

#define MAX_LINES 32

struct reader {
	struct event_loop *loop;
	struct stream *s;
	char lines[MAX_LINES][128];
	size_t lens[MAX_LINES];
	bool crlf[MAX_LINES];
	int nlines;
	enum stream_error line_error; /* from stream_read_line() == -1 */
	enum stream_error error;      /* from the error callback */
	bool free_on_error;
	char raw[4096];
	size_t raw_len;
	size_t raw_total; /* all bytes, also those not kept in raw */
	size_t raw_chunk; /* > 0: use stream_read() with this maximum */
	int drained;
	int tls_done;
	bool tls_ok;
	bool paused_once;
};

static void
reader_read(struct stream *s, void *ctx)
{
	struct reader *r = ctx;
	const char *line;
	size_t len;
	bool crlf;
	int ret;

	if (r->raw_chunk > 0) {
		const char *data;
		size_t n;

		while ((n = stream_read(s, &data, r->raw_chunk)) > 0) {
			size_t copy = sizeof(r->raw) - r->raw_len;

			assert_true(n <= r->raw_chunk);
			if (copy > n)
				copy = n;
			memcpy(r->raw + r->raw_len, data, copy);
			r->raw_len += copy;
			r->raw_total += n;
		}
		return;
	}
	while ((ret = stream_read_line(s, &line, &len, &crlf)) == 1) {
		assert_true(r->nlines < MAX_LINES);
		assert_true(len < sizeof(r->lines[0]));
		assert_int_equal(line[len], '\0');
		memcpy(r->lines[r->nlines], line, len + 1);
		r->lens[r->nlines] = len;
		r->crlf[r->nlines] = crlf;
		r->nlines++;
	}
	if (ret < 0)
		r->line_error = stream_get_error(s);
}

static void
reader_error(struct stream *s, enum stream_error err, void *ctx)
{
	struct reader *r = ctx;

	(void)s;
	r->error = err;
	if (r->free_on_error) {
		/* A last reply is still possible after a timeout. */
		if (err == STREAM_ERR_TIMEOUT)
			assert_int_equal(stream_write(s, "421 timeout\r\n", 13),
					 0);
		stream_free(&r->s);
	}
	event_loop_stop(r->loop);
}

static void
reader_drain(struct stream *s, void *ctx)
{
	struct reader *r = ctx;

	(void)s;
	r->drained++;
}

static void
reader_tls(struct stream *s, bool ok, void *ctx)
{
	struct reader *r = ctx;

	(void)s;
	r->tls_done++;
	r->tls_ok = ok;
}

static void
make_pair(int fds[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
}

static void
reader_init(struct reader *r, struct event_loop *loop, int fd, size_t max_line,
	    size_t max_output)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->s = stream_new(loop, fd, max_line, max_output);
	stream_set_callbacks(r->s, reader_read, reader_error, r);
	stream_set_drain_callback(r->s, reader_drain);
}

static void
spin(struct event_loop *loop, int iterations)
{
	int i;

	for (i = 0; i < iterations; i++)
		event_loop_run_once(loop, 20);
}

static void
put(int fd, const char *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

static size_t
drain_peer(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size && (n = read(fd, buf + got, size - got)) > 0)
		got += (size_t)n;
	return got;
}

static void
test_lines_split_on_crlf_and_bare_lf(void **state)
{
	static const char input[] = "EHLO a\r\nbare\n\r\nx\ry\r\nlast";
	struct event_loop *loop = event_loop_new();
	struct reader r;
	int fds[2];

	(void)state;
	make_pair(fds);
	reader_init(&r, loop, fds[0], 512, 1024);
	put(fds[1], input, sizeof(input) - 1);
	spin(loop, 3);
	assert_int_equal(r.nlines, 4);
	assert_string_equal(r.lines[0], "EHLO a");
	assert_true(r.crlf[0]);
	assert_string_equal(r.lines[1], "bare");
	assert_false(r.crlf[1]);
	assert_int_equal(r.lens[2], 0);
	assert_true(r.crlf[2]);
	/* A bare CR inside a line is data for the protocol to judge. */
	assert_int_equal(r.lens[3], 3);
	assert_memory_equal(r.lines[3], "x\ry", 3);
	assert_int_equal(stream_input_pending(r.s), 4);
	assert_int_equal(r.error, STREAM_ERR_NONE);
	/* EOF with a partial line: the partial line is an error, and the
	 * owner hears about the EOF. */
	close(fds[1]);
	r.free_on_error = true;
	spin(loop, 3);
	assert_int_equal(r.nlines, 4);
	assert_int_equal(r.line_error, STREAM_ERR_EOF);
	assert_int_equal(r.error, STREAM_ERR_EOF);
	assert_null(r.s);
	event_loop_free(&loop);
}

static void
test_overlong_line_is_error_not_truncation(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct reader r;
	int fds[2];

	(void)state;
	make_pair(fds);
	/* max_line 16 counts the terminator: 14 + CRLF fits. */
	reader_init(&r, loop, fds[0], 16, 1024);
	put(fds[1], "12345678901234\r\n", 16);
	spin(loop, 2);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "12345678901234");
	assert_int_equal(r.line_error, STREAM_ERR_NONE);
	/* 15 + CRLF = 17 bytes: too long, and nothing of it is delivered. */
	put(fds[1], "123456789012345\r\nnext\r\n", 23);
	spin(loop, 2);
	assert_int_equal(r.nlines, 1);
	assert_int_equal(r.line_error, STREAM_ERR_LINE_TOO_LONG);
	assert_int_equal(stream_get_error(r.s), STREAM_ERR_LINE_TOO_LONG);
	stream_free(&r.s);
	assert_null(r.s);

	/* No terminator at all: detected once max_line bytes are buffered. */
	make_pair(fds + 0);
	reader_init(&r, loop, fds[0], 16, 1024);
	put(fds[1], "aaaaaaaaaaaaaaa", 15);
	spin(loop, 2);
	assert_int_equal(r.line_error, STREAM_ERR_NONE);
	put(fds[1], "a", 1);
	spin(loop, 2);
	assert_int_equal(r.nlines, 0);
	assert_int_equal(r.line_error, STREAM_ERR_LINE_TOO_LONG);
	stream_free(&r.s);
	close(fds[1]);
	event_loop_free(&loop);
}

static const char trickle_input[] =
    "A1 LOGIN user pass\r\nA2 SELECT INBOX\nA3 FETCH 1:* (FLAGS)\r\n"
    "\r\nA4 NOOP\r\nA5 LOGOUT\r\n";

static void
collect_lines(bool trickle, struct reader *r)
{
	struct event_loop *loop = event_loop_new();
	size_t i;
	int fds[2];

	make_pair(fds);
	reader_init(r, loop, fds[0], 32, 1024);
	if (trickle) {
		for (i = 0; i < sizeof(trickle_input) - 1; i++) {
			put(fds[1], trickle_input + i, 1);
			event_loop_run_once(loop, 20);
		}
	} else {
		put(fds[1], trickle_input, sizeof(trickle_input) - 1);
	}
	spin(loop, 3);
	stream_free(&r->s);
	close(fds[1]);
	event_loop_free(&loop);
}

static void
test_one_byte_trickle_gives_same_lines_as_one_write(void **state)
{
	struct reader *whole = calloc(1, sizeof(*whole));
	struct reader *trickled = calloc(1, sizeof(*trickled));
	int i;

	(void)state;
	collect_lines(false, whole);
	collect_lines(true, trickled);
	assert_int_equal(whole->nlines, 6);
	assert_int_equal(trickled->nlines, whole->nlines);
	for (i = 0; i < whole->nlines; i++) {
		assert_int_equal(trickled->lens[i], whole->lens[i]);
		assert_string_equal(trickled->lines[i], whole->lines[i]);
		assert_int_equal(trickled->crlf[i], whole->crlf[i]);
	}
	assert_string_equal(whole->lines[2], "A3 FETCH 1:* (FLAGS)");
	assert_false(whole->crlf[1]);
	free(whole);
	free(trickled);
}

static void
test_raw_read_returns_bytes_in_bounded_chunks(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct reader r;
	char data[1000];
	size_t i;
	int fds[2];

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	make_pair(fds);
	reader_init(&r, loop, fds[0], 64, 1024);
	r.raw_chunk = 30;
	put(fds[1], data, sizeof(data));
	spin(loop, 3);
	assert_int_equal(r.raw_len, sizeof(data));
	assert_memory_equal(r.raw, data, sizeof(data));
	assert_int_equal(stream_input_pending(r.s), 0);
	stream_free(&r.s);
	close(fds[1]);
	event_loop_free(&loop);
}

static void
test_output_queue_is_bounded_and_flushed_by_loop(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct reader r;
	char buf[256], big[64];
	int fds[2];

	(void)state;
	memset(big, 'z', sizeof(big));
	make_pair(fds);
	reader_init(&r, loop, fds[0], 64, 100);
	assert_int_equal(stream_write(r.s, big, 60), 0);
	assert_int_equal(stream_printf(r.s, "%s %d\r\n", "250", 42), 0);
	assert_int_equal(stream_output_pending(r.s), 68);
	/* 68 + 40 > 100: refused, queue unchanged. */
	assert_int_equal(stream_write(r.s, big, 40), -1);
	assert_int_equal(stream_printf(r.s, "%40s", "x"), -1);
	assert_int_equal(stream_output_pending(r.s), 68);
	/* Nothing is written until the loop runs. */
	assert_int_equal(read(fds[1], buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	spin(loop, 2);
	assert_int_equal(stream_output_pending(r.s), 0);
	assert_int_equal(r.drained, 1);
	assert_int_equal(drain_peer(fds[1], buf, sizeof(buf)), 68);
	assert_memory_equal(buf + 60, "250 42\r\n", 8);
	/* The whole limit is usable again once flushed. */
	assert_int_equal(stream_write(r.s, big, 64), 0);
	assert_int_equal(stream_write(r.s, big, 36), 0);
	spin(loop, 2);
	assert_int_equal(drain_peer(fds[1], buf, sizeof(buf)), 100);
	assert_int_equal(r.drained, 2);
	stream_free(&r.s);
	close(fds[1]);
	event_loop_free(&loop);
}

static void
test_large_output_survives_partial_writes(void **state)
{
	struct event_loop *loop = event_loop_new();
	size_t total = 2 * 1024 * 1024, got = 0, i;
	char *data = malloc(total), *back = malloc(total);
	struct reader r;
	int fds[2], iter;
	ssize_t n;

	(void)state;
	for (i = 0; i < total; i++)
		data[i] = (char)(i % 251);
	make_pair(fds);
	reader_init(&r, loop, fds[0], 64, total);
	assert_int_equal(stream_write(r.s, data, total), 0);
	for (iter = 0; iter < 10000 && got < total; iter++) {
		event_loop_run_once(loop, 10);
		while ((n = read(fds[1], back + got, total - got)) > 0)
			got += (size_t)n;
	}
	assert_int_equal(got, total);
	assert_memory_equal(back, data, total);
	assert_int_equal(r.drained, 1);
	stream_free(&r.s);
	close(fds[1]);
	event_loop_free(&loop);
	free(data);
	free(back);
}

static void
test_idle_timeout_reports_error_and_may_free(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct event_timer *guard;
	struct reader r;
	uint64_t start;
	int fds[2];

	(void)state;
	make_pair(fds);
	reader_init(&r, loop, fds[0], 64, 64);
	r.free_on_error = true;
	stream_set_timeout(r.s, 80);
	/* Input restarts the deadline. */
	start = event_loop_now_ms(loop);
	usleep(50000);
	put(fds[1], "x\n", 2);
	event_loop_run_once(loop, 10);
	assert_int_equal(r.nlines, 1);
	guard = event_timer_add(loop, 3000, false,
				(event_timer_cb *)event_loop_stop, loop);
	event_loop_run(loop);
	assert_int_equal(r.error, STREAM_ERR_TIMEOUT);
	assert_null(r.s);
	assert_true(event_loop_now_ms(loop) - start >= 120);
	assert_true(event_loop_now_ms(loop) - start < 2000);
	{
		char buf[64];

		assert_int_equal(drain_peer(fds[1], buf, sizeof(buf)), 13);
		assert_memory_equal(buf, "421 timeout\r\n", 13);
	}
	event_timer_del(&guard);
	close(fds[1]);
	event_loop_free(&loop);
}

static void
test_paused_stream_reads_nothing_until_resumed(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct reader r;
	int fds[2];

	(void)state;
	make_pair(fds);
	reader_init(&r, loop, fds[0], 64, 64);
	stream_pause_read(r.s, true);
	put(fds[1], "one\r\n", 5);
	spin(loop, 2);
	assert_int_equal(r.nlines, 0);
	assert_int_equal(stream_input_pending(r.s), 0);
	stream_pause_read(r.s, false);
	spin(loop, 2);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "one");
	stream_free(&r.s);
	close(fds[1]);
	event_loop_free(&loop);
}

struct one_shot {
	struct stream *s;
	int lines;
	bool pause_after_first;
};

static void
quit_read(struct stream *s, void *ctx)
{
	struct one_shot *o = ctx;
	const char *line;
	size_t len;

	while (o->s != NULL && stream_read_line(s, &line, &len, NULL) == 1) {
		o->lines++;
		if (strcmp(line, "QUIT") == 0) {
			/* Frees with more input buffered and the loop
			 * still inside this stream's handler. */
			stream_free(&o->s);
			return;
		}
		if (o->pause_after_first) {
			stream_pause_read(s, true);
			return;
		}
	}
}

static void
test_free_inside_read_callback_is_safe(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct one_shot o = {0};
	int fds[2];

	(void)state;
	make_pair(fds);
	o.s = stream_new(loop, fds[0], 64, 64);
	stream_set_callbacks(o.s, quit_read, NULL, &o);
	assert_int_equal(stream_write(o.s, "pending output\r\n", 16), 0);
	put(fds[1], "NOOP\r\nQUIT\r\nNOOP\r\n", 18);
	spin(loop, 3);
	assert_null(o.s);
	assert_int_equal(o.lines, 2);
	/* The fd was closed: the peer sees EOF. */
	{
		char buf[64];
		ssize_t n;

		while ((n = read(fds[1], buf, sizeof(buf))) > 0)
			;
		assert_int_equal(n, 0);
	}
	close(fds[1]);
	event_loop_free(&loop);
}

static void
test_resume_delivers_lines_buffered_while_paused(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct one_shot o = {.pause_after_first = true};
	int fds[2];

	(void)state;
	make_pair(fds);
	o.s = stream_new(loop, fds[0], 64, 64);
	stream_set_callbacks(o.s, quit_read, NULL, &o);
	/* Pipelined commands: one per resume, as while a worker runs. */
	put(fds[1], "A\r\nB\r\nC\r\n", 9);
	spin(loop, 3);
	assert_int_equal(o.lines, 1);
	assert_int_equal(stream_input_pending(o.s), 6);
	stream_pause_read(o.s, false);
	spin(loop, 3);
	assert_int_equal(o.lines, 2);
	stream_pause_read(o.s, false);
	spin(loop, 3);
	assert_int_equal(o.lines, 3);
	assert_int_equal(stream_input_pending(o.s), 0);
	stream_free(&o.s);
	close(fds[1]);
	event_loop_free(&loop);
}

/* ---- TLS ---- */

struct tls_files {
	char dir[64], cert[128], key[128];
};

static void
tls_files_make(struct tls_files *f)
{
	const char *error = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_stream.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	if (tls_make_self_signed(f->cert, f->key, "mail.example.test", &error) <
	    0)
		fail_msg("tls_make_self_signed: %s", error);
}

static void
tls_files_remove(struct tls_files *f)
{
	unlink(f->cert);
	unlink(f->key);
	rmdir(f->dir);
}

static void
test_tls_handshake_and_data_both_ways(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct reader *srv = calloc(1, sizeof(*srv));
	struct reader *cli = calloc(1, sizeof(*cli));
	SSL_CTX *sctx, *cctx;
	struct tls_files f;
	const char *error = NULL, *desc;
	int fds[2], iter;

	(void)state;
	tls_files_make(&f);
	sctx = tls_server_ctx_new(f.cert, f.key, &error);
	if (sctx == NULL)
		fail_msg("%s", error);
	/* The client verifies the self-signed certificate and its name. */
	cctx = tls_client_ctx_new(f.cert, &error);
	if (cctx == NULL)
		fail_msg("%s", error);
	make_pair(fds);
	reader_init(srv, loop, fds[0], 128, 1024 * 1024);
	reader_init(cli, loop, fds[1], 128, 1024 * 1024);
	assert_false(stream_is_tls(srv->s));
	assert_null(stream_tls_description(srv->s));
	assert_int_equal(stream_start_tls(srv->s, sctx, true, NULL, reader_tls),
			 0);
	assert_int_equal(stream_start_tls(cli->s, cctx, false,
					  "mail.example.test", reader_tls),
			 0);
	assert_int_equal(stream_write(cli->s, "HELLO over tls\r\n", 16), 0);
	for (iter = 0; iter < 100 && (srv->nlines == 0); iter++)
		event_loop_run_once(loop, 20);
	assert_int_equal(srv->tls_done, 1);
	assert_true(srv->tls_ok);
	assert_int_equal(cli->tls_done, 1);
	assert_true(cli->tls_ok);
	assert_true(stream_is_tls(srv->s));
	assert_non_null(stream_ssl(cli->s));
	desc = stream_tls_description(srv->s);
	assert_non_null(desc);
	assert_non_null(strstr(desc, "TLSv1.3 with cipher "));
	assert_int_equal(srv->nlines, 1);
	assert_string_equal(srv->lines[0], "HELLO over tls");

	/* Bulk data in both directions exercises partial TLS writes. */
	{
		static char bulk[256 * 1024];
		size_t i;

		for (i = 0; i < sizeof(bulk); i++)
			bulk[i] = (char)('a' + i % 26);
		srv->raw_chunk = 100000;
		cli->raw_chunk = 100000;
		assert_int_equal(stream_write(cli->s, bulk, 4000), 0);
		assert_int_equal(stream_write(srv->s, bulk, sizeof(bulk)), 0);
		for (iter = 0; iter < 500 && (srv->raw_total < 4000 ||
					      cli->raw_total < sizeof(bulk));
		     iter++)
			event_loop_run_once(loop, 20);
		assert_int_equal(srv->raw_total, 4000);
		assert_memory_equal(srv->raw, bulk, 4000);
		assert_int_equal(stream_output_pending(srv->s), 0);
		assert_int_equal(cli->raw_total, sizeof(bulk));
		assert_memory_equal(cli->raw, bulk, sizeof(cli->raw));
	}
	/* Freeing sends close_notify: the peer sees a clean EOF. */
	stream_free(&srv->s);
	for (iter = 0; iter < 50 && cli->error == STREAM_ERR_NONE; iter++)
		event_loop_run_once(loop, 20);
	assert_int_equal(cli->error, STREAM_ERR_EOF);
	stream_free(&cli->s);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	tls_files_remove(&f);
	event_loop_free(&loop);
	free(srv);
	free(cli);
}

static void
test_tls_client_rejects_wrong_name(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct reader *srv = calloc(1, sizeof(*srv));
	struct reader *cli = calloc(1, sizeof(*cli));
	SSL_CTX *sctx, *cctx;
	struct tls_files f;
	const char *error = NULL;
	int fds[2], iter;

	(void)state;
	tls_files_make(&f);
	sctx = tls_server_ctx_new(f.cert, f.key, &error);
	cctx = tls_client_ctx_new(f.cert, &error);
	assert_non_null(sctx);
	assert_non_null(cctx);
	make_pair(fds);
	reader_init(srv, loop, fds[0], 128, 1024);
	reader_init(cli, loop, fds[1], 128, 1024);
	cli->free_on_error = true;
	assert_int_equal(stream_start_tls(srv->s, sctx, true, NULL, reader_tls),
			 0);
	assert_int_equal(stream_start_tls(cli->s, cctx, false,
					  "other.example.test", reader_tls),
			 0);
	for (iter = 0; iter < 100 && cli->tls_done == 0; iter++)
		event_loop_run_once(loop, 20);
	assert_int_equal(cli->tls_done, 1);
	assert_false(cli->tls_ok);
	assert_int_equal(cli->error, STREAM_ERR_TLS);
	assert_null(cli->s);
	stream_free(&srv->s);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	tls_files_remove(&f);
	event_loop_free(&loop);
	free(srv);
	free(cli);
}

struct starttls_server {
	struct reader r;
	SSL_CTX *ctx;
	size_t pending_before;
	size_t pending_after;
	bool started;
};

static void
starttls_read(struct stream *s, void *ctx)
{
	struct starttls_server *st = ctx;
	const char *line;
	size_t len;
	bool crlf;

	while (stream_read_line(s, &line, &len, &crlf) == 1) {
		memcpy(st->r.lines[st->r.nlines], line, len + 1);
		st->r.nlines++;
		if (strcmp(line, "STARTTLS") == 0 && !st->started) {
			st->started = true;
			st->pending_before = stream_input_pending(s);
			assert_int_equal(stream_write(s, "220 go\r\n", 8), 0);
			assert_int_equal(
			    stream_start_tls(s, st->ctx, true, NULL, NULL), 0);
			st->pending_after = stream_input_pending(s);
		}
	}
}

static void
test_starttls_discards_buffered_plaintext(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct starttls_server *st = calloc(1, sizeof(*st));
	struct reader *cli = calloc(1, sizeof(*cli));
	struct tls_files f;
	const char *error = NULL;
	SSL_CTX *cctx;
	char buf[64];
	int fds[2], iter, i;

	(void)state;
	tls_files_make(&f);
	st->ctx = tls_server_ctx_new(f.cert, f.key, &error);
	cctx = tls_client_ctx_new(NULL, &error);
	assert_non_null(st->ctx);
	assert_non_null(cctx);
	make_pair(fds);
	reader_init(&st->r, loop, fds[0], 128, 1024);
	stream_set_callbacks(st->r.s, starttls_read, reader_error, st);
	/* The attacker's pipelined command arrives with STARTTLS. */
	put(fds[1], "STARTTLS\r\nINJECTED\r\n", 20);
	for (iter = 0; iter < 10 && !st->started; iter++)
		event_loop_run_once(loop, 20);
	assert_true(st->started);
	assert_int_equal(st->pending_before, 10);
	assert_int_equal(st->pending_after, 0);
	spin(loop, 2);
	assert_int_equal(drain_peer(fds[1], buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "220 go\r\n", 8);

	reader_init(cli, loop, fds[1], 128, 1024);
	assert_int_equal(
	    stream_start_tls(cli->s, cctx, false, NULL, reader_tls), 0);
	assert_int_equal(stream_write(cli->s, "EHLO after\r\n", 12), 0);
	for (iter = 0; iter < 100 && st->r.nlines < 2; iter++)
		event_loop_run_once(loop, 20);
	spin(loop, 3);
	assert_true(cli->tls_ok);
	assert_int_equal(st->r.nlines, 2);
	assert_string_equal(st->r.lines[0], "STARTTLS");
	assert_string_equal(st->r.lines[1], "EHLO after");
	for (i = 0; i < st->r.nlines; i++)
		assert_null(strstr(st->r.lines[i], "INJECTED"));
	assert_int_equal(st->r.error, STREAM_ERR_NONE);
	stream_free(&st->r.s);
	stream_free(&cli->s);
	SSL_CTX_free(st->ctx);
	SSL_CTX_free(cctx);
	tls_files_remove(&f);
	event_loop_free(&loop);
	free(st);
	free(cli);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_split_on_crlf_and_bare_lf),
	    cmocka_unit_test(test_overlong_line_is_error_not_truncation),
	    cmocka_unit_test(
		test_one_byte_trickle_gives_same_lines_as_one_write),
	    cmocka_unit_test(test_raw_read_returns_bytes_in_bounded_chunks),
	    cmocka_unit_test(test_output_queue_is_bounded_and_flushed_by_loop),
	    cmocka_unit_test(test_large_output_survives_partial_writes),
	    cmocka_unit_test(test_idle_timeout_reports_error_and_may_free),
	    cmocka_unit_test(test_paused_stream_reads_nothing_until_resumed),
	    cmocka_unit_test(test_free_inside_read_callback_is_safe),
	    cmocka_unit_test(test_resume_delivers_lines_buffered_while_paused),
	    cmocka_unit_test(test_tls_handshake_and_data_both_ways),
	    cmocka_unit_test(test_tls_client_rejects_wrong_name),
	    cmocka_unit_test(test_starttls_discards_buffered_plaintext),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
