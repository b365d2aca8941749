/*
 * Unit tests for the SMTP/LMTP server engine over a socketpair on a real
 * event loop: LMTP per-recipient replies (RFC 2033), decisions that come
 * later (a timer stands in for a worker) with pipelined replies kept in
 * order, a client that leaves while a decision is pending, messages
 * streamed in pieces, and LMTP refusing HELO/EHLO.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/smtp_server.h"
#include "util/event.h"
#include "util/strbuf.h"

struct test_ctx {
	struct event_loop *loop;
	struct smtp_session *session;
	bool async; /* answer RCPT from a timer */
	struct event_timer *timer;
	char pending[128];	     /* the deferred RCPT reply */
	const char *lmtp_replies[4]; /* data_end answers, in order */
	struct strbuf message;
	int disconnects;
	int aborts;
	int client;
};

static void
ctx_rcpt_later(void *arg)
{
	struct test_ctx *t = arg;

	smtp_session_reply(t->session, t->pending);
}

static void
cb_mail(struct smtp_session *s, const struct smtp_command *cmd, void *ctx)
{
	(void)cmd;
	(void)ctx;
	smtp_session_reply(s, "250 2.1.0 Ok");
}

static void
cb_rcpt(struct smtp_session *s, const struct smtp_command *cmd, void *ctx)
{
	struct test_ctx *t = ctx;
	const char *reply = strncmp(cmd->path.local, "bad", 3) == 0
				? "550 5.1.1 Recipient address rejected"
				: "250 2.1.5 Ok";

	if (!t->async) {
		smtp_session_reply(s, reply);
		return;
	}
	snprintf(t->pending, sizeof(t->pending), "%s", reply);
	event_timer_del(&t->timer);
	t->timer = event_timer_add(t->loop, 20, false, ctx_rcpt_later, t);
}

static int
cb_data_start(struct smtp_session *s, const char **reply_r, void *ctx)
{
	struct test_ctx *t = ctx;

	(void)s;
	(void)reply_r;
	strbuf_reset(&t->message);
	return 0;
}

static int
cb_data_chunk(struct smtp_session *s, const char *data, size_t len, void *ctx)
{
	struct test_ctx *t = ctx;

	(void)s;
	return strbuf_append(&t->message, data, len);
}

static void
cb_data_end(struct smtp_session *s, bool ok, void *ctx)
{
	struct test_ctx *t = ctx;

	assert_true(ok);
	if (t->lmtp_replies[0] == NULL) {
		smtp_session_data_reply(s, "250 2.0.0 Ok: queued as TEST");
		return;
	}
	for (size_t i = 0; t->lmtp_replies[i] != NULL; i++)
		smtp_session_data_reply(s, t->lmtp_replies[i]);
}

static void
cb_data_abort(struct smtp_session *s, void *ctx)
{
	struct test_ctx *t = ctx;

	(void)s;
	t->aborts++;
}

static void
cb_disconnect(struct smtp_session *s, void *ctx)
{
	struct test_ctx *t = ctx;

	(void)s;
	t->disconnects++;
	t->session = NULL;
}

static const struct smtp_server_callbacks callbacks = {
    .mail = cb_mail,
    .rcpt = cb_rcpt,
    .data_start = cb_data_start,
    .data_chunk = cb_data_chunk,
    .data_end = cb_data_end,
    .data_abort = cb_data_abort,
    .disconnect = cb_disconnect,
};

static struct smtp_server_settings settings = {
    .hostname = "mx.test",
    .banner = "mx.test LMTP ready",
    .line_length_limit = 2048,
    .message_size_limit = 1000000,
    .recipient_limit = 100,
    .timeout_secs = 30,
    .hard_error_limit = 20,
    .enable_chunking = true,
};

static struct test_ctx *
start(bool lmtp)
{
	struct test_ctx *t = calloc(1, sizeof(*t));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	settings.lmtp = lmtp;
	t->loop = event_loop_new();
	t->client = sv[1];
	strbuf_init(&t->message, 1 << 22);
	t->session = smtp_session_new(t->loop, sv[0], &settings, &callbacks, t);
	return t;
}

static void
finish(struct test_ctx *t)
{
	close(t->client);
	for (int i = 0; i < 100 && t->session != NULL; i++)
		event_loop_run_once(t->loop, 10);
	assert_null(t->session);
	assert_int_equal(t->disconnects, 1);
	event_timer_del(&t->timer);
	event_loop_free(&t->loop);
	strbuf_release(&t->message);
	free(t);
}

static void
send_all(struct test_ctx *t, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(t->client, data, len);

		if (n < 0 && errno == EAGAIN) {
			event_loop_run_once(t->loop, 10);
			continue;
		}
		assert_true(n > 0);
		data += n;
		len -= (size_t)n;
	}
}

/* Runs the loop until `lines` reply lines arrived; returns them joined
 * with '\n' (static buffer). */
static const char *
read_lines(struct test_ctx *t, int lines)
{
	static char buf[65536];
	size_t len = 0;
	int seen = 0;

	for (int i = 0; i < 500 && seen < lines; i++) {
		ssize_t n;

		event_loop_run_once(t->loop, 10);
		while (seen < lines &&
		       (n = read(t->client, buf + len, 1)) == 1) {
			if (buf[len] == '\n') {
				seen++;
				len--; /* drop CR; LF becomes the separator */
				buf[len] = '\n';
			}
			len++;
		}
	}
	assert_int_equal(seen, lines);
	buf[len > 0 ? len - 1 : 0] = '\0';
	return buf;
}

static void
say(struct test_ctx *t, const char *text)
{
	send_all(t, text, strlen(text));
}

static void
test_lmtp_per_recipient_replies(void **state)
{
	struct test_ctx *t = start(true);

	(void)state;
	assert_string_equal(read_lines(t, 1), "220 mx.test LMTP ready");
	say(t, "EHLO client\r\n");
	assert_string_equal(read_lines(t, 1),
			    "502 5.5.2 Error: command not recognized");
	say(t, "LHLO client\r\n");
	assert_non_null(strstr(read_lines(t, 6), "250 CHUNKING"));
	t->lmtp_replies[0] = "250 2.0.0 <a@x> Saved";
	t->lmtp_replies[1] = "452 4.2.2 <c@x> Mailbox full";
	say(t, "MAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nRCPT TO:<bad@x>\r\n"
	       "RCPT TO:<c@x>\r\nDATA\r\n");
	assert_string_equal(read_lines(t, 5),
			    "250 2.1.0 Ok\n250 2.1.5 Ok\n"
			    "550 5.1.1 Recipient address rejected\n"
			    "250 2.1.5 Ok\n"
			    "354 End data with <CR><LF>.<CR><LF>");
	say(t, "Subject: x\r\n\r\n..hi\r\n.\r\n");
	assert_string_equal(read_lines(t, 2), "250 2.0.0 <a@x> Saved\n"
					      "452 4.2.2 <c@x> Mailbox full");
	assert_int_equal(t->message.len, strlen("Subject: x\r\n\r\n.hi\r\n"));
	assert_memory_equal(t->message.data, "Subject: x\r\n\r\n.hi\r\n",
			    t->message.len);
	/* The transaction is over: a new one needs MAIL. */
	say(t, "RCPT TO:<a@x>\r\n");
	assert_string_equal(read_lines(t, 1),
			    "503 5.5.1 Error: need MAIL command");
	say(t, "QUIT\r\n");
	assert_string_equal(read_lines(t, 1), "221 2.0.0 Bye");
	finish(t);
}

static void
test_async_decisions_keep_order(void **state)
{
	struct test_ctx *t = start(false);

	(void)state;
	t->async = true;
	read_lines(t, 1);
	say(t, "EHLO client\r\n");
	read_lines(t, 6);
	say(t, "MAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nNOOP\r\nRCPT TO:<bad@x>\r\n"
	       "RCPT TO:<b@x>\r\nRSET\r\nMAIL FROM:<s@x>\r\nRCPT TO:<c@x>\r\n"
	       "DATA\r\n");
	assert_string_equal(read_lines(t, 9),
			    "250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.0.0 Ok\n"
			    "550 5.1.1 Recipient address rejected\n"
			    "250 2.1.5 Ok\n250 2.0.0 Ok\n250 2.1.0 Ok\n"
			    "250 2.1.5 Ok\n"
			    "354 End data with <CR><LF>.<CR><LF>");
	say(t, "x\r\n.\r\nQUIT\r\n");
	assert_string_equal(read_lines(t, 2), "250 2.0.0 Ok: queued as TEST\n"
					      "221 2.0.0 Bye");
	finish(t);
}

static void
test_client_gone_while_deciding(void **state)
{
	struct test_ctx *t = start(false);

	(void)state;
	t->async = true;
	read_lines(t, 1);
	say(t, "HELO client\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\n");
	read_lines(t, 2);
	/* The RCPT decision is pending; the client leaves. */
	close(t->client);
	t->client = -1;
	for (int i = 0; i < 5; i++)
		event_loop_run_once(t->loop, 1);
	/* Freed only once the decision arrived (the timer). */
	for (int i = 0; i < 100 && t->session != NULL; i++)
		event_loop_run_once(t->loop, 10);
	assert_null(t->session);
	assert_int_equal(t->disconnects, 1);
	t->client = open("/dev/null", O_RDONLY);
	finish(t);
}

static void
test_large_message_and_bdat(void **state)
{
	struct test_ctx *t = start(false);
	static char body[300000];

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (i % 100 == 98) ? '\r' : (i % 100 == 99) ? '\n' : 'a';
	read_lines(t, 1);
	say(t, "EHLO client\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nDATA\r\n");
	read_lines(t, 9);
	send_all(t, body, sizeof(body));
	say(t, ".\r\n");
	assert_string_equal(read_lines(t, 1), "250 2.0.0 Ok: queued as TEST");
	assert_int_equal(t->message.len, sizeof(body));
	assert_memory_equal(t->message.data, body, sizeof(body));

	say(t, "MAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nBDAT 5\r\nab\r\nc");
	assert_string_equal(read_lines(t, 3), "250 2.1.0 Ok\n250 2.1.5 Ok\n"
					      "250 2.0.0 Ok: 5 bytes");
	say(t, "BDAT 0 LAST\r\n");
	assert_string_equal(read_lines(t, 1), "250 2.0.0 Ok: queued as TEST");
	assert_int_equal(t->message.len, 5);
	assert_memory_equal(t->message.data, "ab\r\nc", 5);
	/* RSET in the middle of BDAT drops the message. */
	say(t, "MAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nBDAT 3\r\nxyzRSET\r\n");
	read_lines(t, 4);
	assert_int_equal(t->aborts, 1);
	say(t, "QUIT\r\n");
	read_lines(t, 1);
	finish(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lmtp_per_recipient_replies),
	    cmocka_unit_test(test_async_decisions_keep_order),
	    cmocka_unit_test(test_client_gone_while_deciding),
	    cmocka_unit_test(test_large_message_and_bdat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
