/*
 * Unit tests for lib/mail/dsn_bounce: who gets a notification, line
 * limits and folding, quoted-printable headers, size limits, boundary
 * collisions, header injection through reply texts, output limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/dsn_bounce.h"
#include "mail/dsn_queue.h"
#include "mail/queue_file.h"
#include "util/strbuf.h"

static const char orig[] = "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";

static void
init_report(struct dsn_report *rep, struct dsn_rcpt *r)
{
	memset(rep, 0, sizeof(*rep));
	memset(r, 0, sizeof(*r));
	r->address = "rcpt@example.org";
	r->action = DSN_ACTION_FAILED;
	r->status = "5.1.1";
	r->diagnostic = "550 5.1.1 unknown user";
	rep->kind = DSN_KIND_FAILURE;
	rep->myhostname = "mx.example.org";
	rep->queue_id = "4ZxTqJ1Hbtz3Vn";
	rep->sender = "s@example.com";
	rep->now = 1790000000;
	rep->arrival = 1790000000 - 3600;
	rep->content = orig;
	rep->content_len = rep->content_size = strlen(orig);
	rep->rcpts = r;
	rep->rcpt_count = 1;
}

static void
assert_lines_ok(const struct strbuf *out)
{
	size_t linelen = 0;

	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\r') {
			assert_true(i + 1 < out->len &&
				    out->data[i + 1] == '\n');
			i++;
			linelen = 0;
			continue;
		}
		assert_true(out->data[i] != '\n');
		assert_true(++linelen <= 998);
	}
}

static void
test_should_notify(void **state)
{
	(void)state;
	assert_false(dsn_should_notify("", 0, DSN_ACTION_FAILED));
	assert_false(dsn_should_notify(NULL, 0, DSN_ACTION_FAILED));
	assert_true(dsn_should_notify("a@b", 0, DSN_ACTION_FAILED));
	assert_true(dsn_should_notify("a@b", 0, DSN_ACTION_DELAYED));
	assert_false(dsn_should_notify("a@b", 0, DSN_ACTION_DELIVERED));
	assert_false(
	    dsn_should_notify("a@b", QUEUE_NOTIFY_NEVER, DSN_ACTION_FAILED));
	assert_false(
	    dsn_should_notify("a@b", QUEUE_NOTIFY_SUCCESS, DSN_ACTION_FAILED));
	assert_true(
	    dsn_should_notify("a@b", QUEUE_NOTIFY_SUCCESS, DSN_ACTION_RELAYED));
	assert_false(
	    dsn_should_notify("a@b", QUEUE_NOTIFY_FAILURE, DSN_ACTION_DELAYED));
	assert_true(dsn_should_notify("a@b",
				      QUEUE_NOTIFY_DELAY | QUEUE_NOTIFY_FAILURE,
				      DSN_ACTION_DELAYED));
}

static void
test_double_bounce_rule(void **state)
{
	(void)state;
	assert_true(dsn_want_double_bounce("", NULL, DSN_ACTION_FAILED));
	assert_false(dsn_want_double_bounce("", NULL, DSN_ACTION_DELAYED));
	assert_false(dsn_want_double_bounce("a@b", NULL, DSN_ACTION_FAILED));
	assert_false(
	    dsn_want_double_bounce("double-bounce", NULL, DSN_ACTION_FAILED));
	assert_false(dsn_want_double_bounce("db@x", "db@x", DSN_ACTION_FAILED));
}

static void
test_basic_structure(void **state)
{
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct dsn_result res;
	struct strbuf out;
	const char *error;

	(void)state;
	init_report(&rep, &r);
	strbuf_init(&out, 1 << 20);
	assert_int_equal(dsn_bounce_write(&rep, &out, &res, &error), 0);
	assert_lines_ok(&out);
	assert_non_null(strstr(out.data, "Content-Type: multipart/report; "
					 "report-type=delivery-status;"));
	assert_non_null(strstr(out.data, "\r\nFinal-Recipient: rfc822; "
					 "rcpt@example.org\r\n"));
	assert_non_null(strstr(out.data, "\r\nAction: failed\r\nStatus: "
					 "5.1.1\r\n"));
	assert_non_null(strstr(out.data, "Content-Type: message/rfc822\r\n"));
	assert_non_null(strstr(out.data, "\r\n\r\nbody\r\n\r\n--"));
	assert_true(res.full_message);
	assert_false(res.eight_bit);
	assert_non_null(strstr(out.data, res.message_id));
	strbuf_release(&out);
}

static void
test_bad_status_gets_default(void **state)
{
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct strbuf out;
	const char *error;

	(void)state;
	init_report(&rep, &r);
	r.status = "5.1.1\r\nX: y";
	strbuf_init(&out, 1 << 20);
	assert_int_equal(dsn_bounce_write(&rep, &out, NULL, &error), 0);
	assert_non_null(strstr(out.data, "\r\nStatus: 5.0.0\r\n"));
	assert_null(strstr(out.data, "\r\nX: y"));
	strbuf_release(&out);
}

static void
test_long_diagnostic_folded(void **state)
{
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct strbuf out;
	const char *error;
	char diag[5000];

	(void)state;
	init_report(&rep, &r);
	memset(diag, 'x', sizeof(diag) - 1);
	diag[sizeof(diag) - 1] = '\0';
	memcpy(diag, "550 ", 4);
	diag[100] = '\n'; /* hostile: must not start a header */
	r.diagnostic = diag;
	strbuf_init(&out, 1 << 20);
	assert_int_equal(dsn_bounce_write(&rep, &out, NULL, &error), 0);
	assert_lines_ok(&out);
	/* Cut to the value limit. */
	assert_true(out.len < 3 * 5000);
	strbuf_release(&out);
}

static void
test_hdrs_and_size_limit(void **state)
{
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct dsn_result res;
	struct strbuf out;
	const char *error;

	(void)state;
	init_report(&rep, &r);
	rep.ret = DSN_RET_HDRS;
	strbuf_init(&out, 1 << 20);
	assert_int_equal(dsn_bounce_write(&rep, &out, &res, &error), 0);
	assert_false(res.full_message);
	assert_non_null(strstr(out.data, "Content-Type: text/rfc822-headers"));
	assert_null(strstr(out.data, "body\r\n"));
	strbuf_reset(&out);

	/* Too large for bounce_size_limit: headers only, even with FULL. */
	init_report(&rep, &r);
	rep.ret = DSN_RET_FULL;
	rep.bounce_size_limit = 25;
	assert_int_equal(dsn_bounce_write(&rep, &out, &res, &error), 0);
	assert_false(res.full_message);
	/* Headers cut at a line end within the limit. */
	assert_non_null(strstr(out.data, "Headers\r\nContent-Type: "
					 "text/rfc822-headers\r\n\r\n"
					 "From: a@example.com\r\n\r\n--"));
	strbuf_release(&out);
}

static void
test_8bit_headers_qp(void **state)
{
	static const char eight[] = "Subject: gr\xc3\xbc\xc3\x9f"
				    "e =x\r\n\r\nb\r\n";
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct dsn_result res;
	struct strbuf out;
	const char *error;

	(void)state;
	init_report(&rep, &r);
	rep.content = eight;
	rep.content_len = rep.content_size = strlen(eight);
	rep.seven_bit_only = true;
	strbuf_init(&out, 1 << 20);
	assert_int_equal(dsn_bounce_write(&rep, &out, &res, &error), 0);
	assert_false(res.eight_bit);
	for (size_t i = 0; i < out.len; i++)
		assert_true((unsigned char)out.data[i] < 0x80);
	assert_non_null(strstr(out.data, "Subject: gr=C3=BC=C3=9Fe =3Dx\r\n"));
	assert_non_null(strstr(out.data, "Content-Transfer-Encoding: 7bit"));
	strbuf_release(&out);
}

static void
test_boundary_collision(void **state)
{
	static const char evil[] =
	    "Subject: "
	    "x\r\n\r\n--4ZxTqJ1Hbtz3Vn.1790000000/mx.example.org--\r\n";
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct strbuf out;
	const char *error;

	(void)state;
	init_report(&rep, &r);
	rep.content = evil;
	rep.content_len = rep.content_size = strlen(evil);
	strbuf_init(&out, 1 << 20);
	assert_int_equal(dsn_bounce_write(&rep, &out, NULL, &error), 0);
	assert_non_null(strstr(out.data, "boundary=\"4ZxTqJ1Hbtz3Vn."
					 "1790000000.1/mx.example.org\""));
	strbuf_release(&out);
}

static void
test_output_limit_and_errors(void **state)
{
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct strbuf out;
	const char *error = NULL;

	(void)state;
	init_report(&rep, &r);
	strbuf_init(&out, 500);
	assert_int_equal(dsn_bounce_write(&rep, &out, NULL, &error), -1);
	assert_non_null(error);
	strbuf_release(&out);

	strbuf_init(&out, 1 << 20);
	init_report(&rep, &r);
	rep.rcpt_count = 0;
	assert_int_equal(dsn_bounce_write(&rep, &out, NULL, &error), -1);
	init_report(&rep, &r);
	rep.sender = "";
	assert_int_equal(dsn_bounce_write(&rep, &out, NULL, &error), -1);
	init_report(&rep, &r);
	rep.myhostname = "bad host\r\nX: y";
	assert_int_equal(dsn_bounce_write(&rep, &out, NULL, &error), -1);
	strbuf_release(&out);
}

/* --- dsn_queue: from queue file states to a queued notification. --- */

static char qdir[256];

static int
queue_setup(void **state)
{
	char sub[300];

	(void)state;
	snprintf(qdir, sizeof(qdir), "/tmp/test_dsn_bounce.XXXXXX");
	if (mkdtemp(qdir) == NULL)
		return -1;
	snprintf(sub, sizeof(sub), "%s/incoming", qdir);
	return mkdir(sub, 0700);
}

static int
queue_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
	return system(cmd);
}

/* Writes a message from sender to two recipients, marks the first
 * bounced and the second per state2; returns the open file and msg. */
static int
make_msg(const char *sender, unsigned int notify, enum queue_rcpt_state state2,
	 struct queue_msg **msg_r)
{
	struct queue_writer *w;
	const char *error;
	char id[QUEUE_ID_MAX], path[400];
	int fd;

	assert_int_equal(queue_file_create(qdir, &w, &error), 0);
	assert_int_equal(queue_file_set_sender(w, sender, &error), 0);
	assert_int_equal(queue_file_add_rcpt(w, "bad@example.org", NULL,
					     "rfc822;bad@example.org", notify,
					     &error),
			 0);
	assert_int_equal(queue_file_add_rcpt(w, "good@example.org", NULL, NULL,
					     notify, &error),
			 0);
	assert_int_equal(queue_file_set_attr(w, QUEUE_ATTR_ENVID, "E1", &error),
			 0);
	assert_int_equal(
	    queue_file_write_content(w, orig, strlen(orig), &error), 0);
	assert_int_equal(queue_file_commit(&w, id, &error), 0);
	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
	fd = open(path, O_RDWR | O_APPEND);
	assert_true(fd >= 0);
	struct queue_status st = {.rcpt_index = 0,
				  .state = QUEUE_RCPT_BOUNCED,
				  .dsn = "5.1.1",
				  .when = 1790000000,
				  .relay = "mx.example.org[192.0.2.1]:25",
				  .text = "550 5.1.1 no such user"};
	assert_int_equal(queue_file_append_status(fd, &st, &error), 0);
	st.rcpt_index = 1;
	st.state = state2;
	st.dsn = state2 == QUEUE_RCPT_DELIVERED ? "2.0.0" : "4.4.1";
	st.relay = "lmtpd[private/lmtp]";
	st.text = "250 ok";
	st.next_attempt = state2 == QUEUE_RCPT_DEFERRED ? 1790003600 : 0;
	assert_int_equal(queue_file_append_status(fd, &st, &error), 0);
	assert_int_equal(queue_file_read_fd(fd, id, msg_r, &error), 0);
	return fd;
}

static struct queue_msg *
read_queued(const char *id)
{
	struct queue_msg *m;
	const char *error;
	char path[400];

	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
	assert_int_equal(queue_file_open(path, &m, &error), 0);
	return m;
}

static char *
read_content(const char *id, const struct queue_msg *m)
{
	char path[400], *buf = calloc(1, (size_t)m->content_size + 1);
	int fd;

	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(
	    pread(fd, buf, (size_t)m->content_size, m->content_offset),
	    m->content_size);
	close(fd);
	return buf;
}

static const struct dsn_queue_params params = {
    .myhostname = "mx.example.org",
    .now = 1790000100,
    .lifetime_days = 5,
    .delay_warning_hours = 4,
};

static void
test_queue_failure(void **state)
{
	struct queue_msg *msg, *b;
	const char *error;
	char id[QUEUE_ID_MAX], *text;
	int fd;

	(void)state;
	fd = make_msg("s@example.com", 0, QUEUE_RCPT_DEFERRED, &msg);
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_FAILURE, NULL,
					  &params, id, &error),
			 1);
	b = read_queued(id);
	assert_string_equal(b->sender, "");
	assert_int_equal(b->rcpt_count, 1);
	assert_string_equal(b->rcpts[0].address, "s@example.com");
	assert_string_equal(b->attrs[QUEUE_ATTR_BODY], "7BIT");
	text = read_content(id, b);
	assert_non_null(strstr(text, "To: s@example.com\r\n"));
	assert_non_null(strstr(text, "Original-Envelope-Id: E1\r\n"));
	assert_non_null(strstr(text, "Final-Recipient: rfc822; "
				     "bad@example.org\r\n"));
	assert_non_null(strstr(text, "Remote-MTA: dns; mx.example.org\r\n"));
	/* The deferred recipient is not in a failure report. */
	assert_null(strstr(text, "good@example.org"));
	free(text);
	queue_msg_free(&b);

	/* Delay warning: only the deferred one, with Will-Retry-Until. */
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_DELAY, NULL,
					  &params, id, &error),
			 1);
	b = read_queued(id);
	text = read_content(id, b);
	assert_non_null(strstr(text, "Subject: Delayed Mail"));
	assert_non_null(strstr(text, "Final-Recipient: rfc822; "
				     "good@example.org\r\nAction: delayed"));
	assert_non_null(strstr(text, "Will-Retry-Until: "));
	assert_null(strstr(text, "Remote-MTA"));
	free(text);
	queue_msg_free(&b);

	/* Select none: nothing owed. */
	bool none[2] = {false, false};
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_FAILURE, none,
					  &params, id, &error),
			 0);
	queue_msg_free(&msg);
	close(fd);
}

static void
test_queue_notify_rules(void **state)
{
	struct queue_msg *msg, *b;
	const char *error;
	char id[QUEUE_ID_MAX], *text;
	int fd;

	(void)state;
	/* NOTIFY=NEVER: no bounce. */
	fd = make_msg("s@example.com", QUEUE_NOTIFY_NEVER, QUEUE_RCPT_DELIVERED,
		      &msg);
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_FAILURE, NULL,
					  &params, id, &error),
			 0);
	queue_msg_free(&msg);
	close(fd);

	/* NOTIFY=SUCCESS,FAILURE: success notice for the delivered one. */
	fd = make_msg("s@example.com",
		      QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE,
		      QUEUE_RCPT_DELIVERED, &msg);
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_SUCCESS, NULL,
					  &params, id, &error),
			 1);
	b = read_queued(id);
	text = read_content(id, b);
	assert_non_null(strstr(text, "Successful Mail Delivery Report"));
	assert_non_null(strstr(text, "Action: delivered"));
	free(text);
	queue_msg_free(&b);
	queue_msg_free(&msg);
	close(fd);

	/* Null sender: a double bounce to the postmaster. */
	fd = make_msg("", 0, QUEUE_RCPT_DELIVERED, &msg);
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_FAILURE, NULL,
					  &params, id, &error),
			 1);
	b = read_queued(id);
	assert_string_equal(b->sender, "double-bounce");
	assert_string_equal(b->rcpts[0].address, "postmaster");
	text = read_content(id, b);
	assert_non_null(strstr(text, "Postmaster Copy: Undelivered Mail"));
	free(text);
	queue_msg_free(&b);
	/* ... but no delay warning to <>. */
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_DELAY, NULL,
					  &params, id, &error),
			 0);
	queue_msg_free(&msg);
	close(fd);

	/* A failed double bounce is discarded. */
	fd = make_msg("double-bounce", 0, QUEUE_RCPT_DELIVERED, &msg);
	assert_int_equal(dsn_queue_notify(qdir, msg, fd, DSN_KIND_FAILURE, NULL,
					  &params, id, &error),
			 0);
	queue_msg_free(&msg);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_should_notify),
	    cmocka_unit_test(test_double_bounce_rule),
	    cmocka_unit_test(test_basic_structure),
	    cmocka_unit_test(test_bad_status_gets_default),
	    cmocka_unit_test(test_long_diagnostic_folded),
	    cmocka_unit_test(test_hdrs_and_size_limit),
	    cmocka_unit_test(test_8bit_headers_qp),
	    cmocka_unit_test(test_boundary_collision),
	    cmocka_unit_test(test_output_limit_and_errors),
	    cmocka_unit_test_setup_teardown(test_queue_failure, queue_setup,
					    queue_teardown),
	    cmocka_unit_test_setup_teardown(test_queue_notify_rules,
					    queue_setup, queue_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
