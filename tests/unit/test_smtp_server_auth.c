/*
 * Unit tests for AUTH (RFC 4954) in the SMTP server engine over a
 * socketpair on a real event loop, with a scripted "auth daemon" that
 * answers from a timer: 334 rounds, initial responses ("=" is empty),
 * "*" and bad base64 ending the exchange (auth_abort once), commands
 * pipelined after AUTH waiting for its answer, AUTH refused before
 * EHLO, during a transaction and after success, ESMTPA, the
 * disconnect statistics, and a client leaving during a round or while
 * the daemon decides.
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
	struct event_timer *timer;
	char got[512]; /* what the "daemon" received, ';'-separated */
	int rounds;    /* 334 rounds before the verdict */
	bool pending;  /* a decision is scheduled */
	int aborts;
	int disconnects;
	char stats[256];
	int client;
};

static void
daemon_answer(void *arg)
{
	struct test_ctx *t = arg;

	t->pending = false;
	if (t->rounds > 0) {
		t->rounds--;
		smtp_session_auth_challenge(t->session, "VXNlcm5hbWU6");
		return;
	}
	if (strstr(t->got, "Z29vZA==") != NULL) /* "good" */
		smtp_session_auth_done(t->session,
				       "235 2.7.0 Authentication successful",
				       "user@x");
	else
		smtp_session_auth_done(t->session,
				       "535 5.7.8 Error: authentication "
				       "failed: bad",
				       NULL);
}

static void
schedule(struct test_ctx *t)
{
	event_timer_del(&t->timer);
	t->pending = true;
	t->timer = event_timer_add(t->loop, 20, false, daemon_answer, t);
}

static void
note(struct test_ctx *t, const char *what)
{
	size_t len = strlen(t->got);

	snprintf(t->got + len, sizeof(t->got) - len, "%s;", what);
}

static void
cb_auth(struct smtp_session *s, const char *mech, const char *initial,
	void *ctx)
{
	struct test_ctx *t = ctx;

	(void)s;
	note(t, mech);
	note(t, initial == NULL ? "(none)" : initial);
	schedule(t);
}

static void
cb_auth_response(struct smtp_session *s, const char *response, void *ctx)
{
	struct test_ctx *t = ctx;

	(void)s;
	note(t, response);
	schedule(t);
}

static void
cb_auth_abort(struct smtp_session *s, void *ctx)
{
	struct test_ctx *t = ctx;

	(void)s;
	assert_false(t->pending); /* never while the daemon decides */
	t->aborts++;
	event_timer_del(&t->timer);
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
	(void)cmd;
	(void)ctx;
	smtp_session_reply(s, "250 2.1.5 Ok");
}

static int
cb_data_start(struct smtp_session *s, const char **reply_r, void *ctx)
{
	(void)s;
	(void)reply_r;
	(void)ctx;
	return 0;
}

static int
cb_data_chunk(struct smtp_session *s, const char *data, size_t len, void *ctx)
{
	(void)s;
	(void)data;
	(void)len;
	(void)ctx;
	return 0;
}

static void
cb_data_end(struct smtp_session *s, bool ok, void *ctx)
{
	(void)ok;
	(void)ctx;
	smtp_session_data_reply(s, smtp_session_protocol(s));
}

static void
cb_disconnect(struct smtp_session *s, void *ctx)
{
	struct test_ctx *t = ctx;
	struct strbuf sb;

	strbuf_init(&sb, sizeof(t->stats));
	smtp_session_stats(s, &sb);
	snprintf(t->stats, sizeof(t->stats), "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	t->disconnects++;
	t->session = NULL;
}

static const struct smtp_server_callbacks callbacks = {
    .mail = cb_mail,
    .rcpt = cb_rcpt,
    .data_start = cb_data_start,
    .data_chunk = cb_data_chunk,
    .data_end = cb_data_end,
    .auth = cb_auth,
    .auth_response = cb_auth_response,
    .auth_abort = cb_auth_abort,
    .disconnect = cb_disconnect,
};

static struct smtp_server_settings settings = {
    .hostname = "mx.test",
    .banner = "mx.test ESMTP",
    .line_length_limit = 2048,
    .message_size_limit = 1000000,
    .recipient_limit = 100,
    .timeout_secs = 30,
    .hard_error_limit = 20,
    .auth_mechanisms = "PLAIN LOGIN",
    .auth_broken_clients = true,
};

static struct test_ctx *
start(void)
{
	struct test_ctx *t = calloc(1, sizeof(*t));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	t->loop = event_loop_new();
	t->client = sv[1];
	t->session = smtp_session_new(t->loop, sv[0], &settings, &callbacks, t);
	return t;
}

static void
finish(struct test_ctx *t)
{
	if (t->client >= 0)
		close(t->client);
	for (int i = 0; i < 100 && t->session != NULL; i++)
		event_loop_run_once(t->loop, 10);
	assert_null(t->session);
	assert_int_equal(t->disconnects, 1);
	event_timer_del(&t->timer);
	event_loop_free(&t->loop);
	free(t);
}

static void
say(struct test_ctx *t, const char *text)
{
	assert_int_equal(write(t->client, text, strlen(text)),
			 (ssize_t)strlen(text));
}

/* Runs the loop until `lines` reply lines arrived; returns them joined
 * with '\n' (static buffer). */
static const char *
read_lines(struct test_ctx *t, int lines)
{
	static char buf[8192];
	size_t len = 0;
	int seen = 0;

	for (int i = 0; i < 500 && seen < lines; i++) {
		ssize_t n;

		event_loop_run_once(t->loop, 10);
		while (seen < lines && len < sizeof(buf) - 1 &&
		       (n = read(t->client, buf + len, 1)) == 1) {
			if (buf[len] == '\n') {
				seen++;
				len--;
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
test_auth_rounds_and_pipelining(void **state)
{
	struct test_ctx *t = start();
	const char *r;

	(void)state;
	read_lines(t, 1);
	say(t, "AUTH PLAIN Z29vZA==\r\n");
	assert_string_equal(read_lines(t, 1),
			    "503 5.5.1 Error: send HELO/EHLO first");
	say(t, "EHLO client\r\n");
	r = read_lines(t, 7);
	assert_non_null(
	    strstr(r, "250-AUTH PLAIN LOGIN\n250 AUTH=PLAIN LOGIN"));
	/* Wrong answer after one 334 round, then "=" and "*". */
	t->rounds = 1;
	say(t, "auth login\r\n");
	assert_string_equal(read_lines(t, 1), "334 VXNlcm5hbWU6");
	say(t, "YmFk\r\n");
	assert_string_equal(read_lines(t, 1),
			    "535 5.7.8 Error: authentication failed: bad");
	assert_string_equal(t->got, "LOGIN;(none);YmFk;");
	t->got[0] = '\0';
	t->rounds = 1;
	say(t, "AUTH PLAIN =\r\n");
	assert_string_equal(read_lines(t, 1), "334 VXNlcm5hbWU6");
	say(t, "*\r\n");
	assert_string_equal(read_lines(t, 1),
			    "501 5.7.0 Authentication aborted");
	assert_int_equal(t->aborts, 1);
	assert_string_equal(t->got, "PLAIN;;");
	t->rounds = 1;
	say(t, "AUTH PLAIN\r\n");
	read_lines(t, 1);
	say(t, "a b\r\n");
	assert_string_equal(read_lines(t, 1),
			    "501 5.5.2 Invalid base64 data in continued "
			    "response");
	assert_int_equal(t->aborts, 2);
	/* Success with commands pipelined behind AUTH: they wait. */
	t->got[0] = '\0';
	say(t, "AUTH PLAIN Z29vZA==\r\nMAIL FROM:<a@x>\r\nAUTH PLAIN x\r\n"
	       "RCPT TO:<b@x>\r\nDATA\r\n");
	assert_string_equal(read_lines(t, 5),
			    "235 2.7.0 Authentication successful\n"
			    "250 2.1.0 Ok\n"
			    "503 5.5.1 Error: MAIL transaction in progress\n"
			    "250 2.1.5 Ok\n"
			    "354 End data with <CR><LF>.<CR><LF>");
	assert_string_equal(t->got, "PLAIN;Z29vZA==;");
	assert_string_equal(smtp_session_auth_user(t->session), "user@x");
	say(t, "x\r\n.\r\nAUTH LOGIN\r\nQUIT\r\n");
	assert_string_equal(read_lines(t, 3),
			    "ESMTPA\n503 5.5.1 Error: already authenticated\n"
			    "221 2.0.0 Bye");
	finish(t);
}

static void
test_client_leaves_during_round(void **state)
{
	struct test_ctx *t = start();

	(void)state;
	read_lines(t, 1);
	t->rounds = 1;
	say(t, "EHLO client\r\nAUTH LOGIN\r\n");
	assert_string_equal(strrchr(read_lines(t, 8), '\n') + 1,
			    "334 VXNlcm5hbWU6");
	close(t->client);
	t->client = -1;
	for (int i = 0; i < 100 && t->session != NULL; i++)
		event_loop_run_once(t->loop, 10);
	assert_null(t->session);
	assert_int_equal(t->aborts, 1);
	assert_non_null(strstr(t->stats, "auth=0/1"));
	finish(t);
}

static void
test_client_leaves_while_deciding(void **state)
{
	struct test_ctx *t = start();

	(void)state;
	read_lines(t, 1);
	say(t, "EHLO client\r\nAUTH PLAIN Z29vZA==\r\n");
	read_lines(t, 7);
	close(t->client);
	t->client = -1;
	for (int i = 0; i < 3; i++)
		event_loop_run_once(t->loop, 1);
	/* Freed only after the verdict; no abort for an answered AUTH. */
	for (int i = 0; i < 100 && t->session != NULL; i++)
		event_loop_run_once(t->loop, 10);
	assert_null(t->session);
	assert_int_equal(t->aborts, 0);
	assert_non_null(strstr(t->stats, "auth=1"));
	finish(t);
}

static void
test_auth_not_enabled(void **state)
{
	struct test_ctx *t;

	(void)state;
	settings.auth_mechanisms = NULL;
	t = start();
	read_lines(t, 1);
	say(t, "EHLO client\r\nAUTH PLAIN Z29vZA==\r\nQUIT\r\n");
	assert_non_null(strstr(read_lines(t, 7),
			       "8BITMIME\n503 5.5.1 Error: authentication "
			       "not enabled\n221 2.0.0 Bye"));
	finish(t);
	settings.auth_mechanisms = "PLAIN LOGIN";
	settings.auth_tls_only = true;
	t = start();
	read_lines(t, 1);
	say(t, "EHLO client\r\nAUTH PLAIN Z29vZA==\r\nQUIT\r\n");
	assert_non_null(strstr(read_lines(t, 7),
			       "8BITMIME\n530 5.7.0 Must issue a STARTTLS "
			       "command first\n221 2.0.0 Bye"));
	finish(t);
	settings.auth_tls_only = false;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth_rounds_and_pipelining),
	    cmocka_unit_test(test_client_leaves_during_round),
	    cmocka_unit_test(test_client_leaves_while_deciding),
	    cmocka_unit_test(test_auth_not_enabled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
