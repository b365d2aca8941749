/*
 * Unit tests for the SMTP/LMTP reply reader and writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/smtp_reply.h"

static int
feed(struct smtp_reply *r, const char *line, const char **error_r)
{
	*error_r = NULL;
	return smtp_reply_feed(r, line, strlen(line), error_r);
}

static void
test_single_line(void **state)
{
	struct smtp_reply r;
	const char *error;

	(void)state;
	smtp_reply_init(&r, NULL);
	assert_int_equal(feed(&r, "250 2.1.0 Ok", &error), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.enhanced, "2.1.0");
	assert_string_equal(strbuf_cstr(&r.text), "Ok");
	assert_true(r.complete);
	assert_int_equal(smtp_reply_finish(&r, &error), 0);
	/* a complete reply takes no more lines */
	assert_int_equal(feed(&r, "250 Ok", &error), -1);
	smtp_reply_reset(&r);
	assert_int_equal(
	    feed(&r, "354 End data with <CR><LF>.<CR><LF>", &error), 1);
	assert_string_equal(r.enhanced, "");
	assert_string_equal(strbuf_cstr(&r.text),
			    "End data with <CR><LF>.<CR><LF>");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "221", &error), 1);
	assert_int_equal(r.code, 221);
	assert_string_equal(strbuf_cstr(&r.text), "");
	smtp_reply_deinit(&r);
}

static void
test_multi_line_joined(void **state)
{
	struct smtp_reply r;
	const char *error;

	(void)state;
	smtp_reply_init(&r, NULL);
	assert_int_equal(feed(&r, "250-mx.example.org", &error), 0);
	assert_int_equal(feed(&r, "250-PIPELINING", &error), 0);
	assert_int_equal(feed(&r, "250-SIZE 10240000", &error), 0);
	assert_int_equal(feed(&r, "250 ENHANCEDSTATUSCODES", &error), 1);
	assert_int_equal(r.lines, 4);
	assert_string_equal(strbuf_cstr(&r.text),
			    "mx.example.org\nPIPELINING\nSIZE 10240000\n"
			    "ENHANCEDSTATUSCODES");
	assert_string_equal(r.enhanced, "");
	smtp_reply_deinit(&r);
}

static void
test_enhanced_code_each_line(void **state)
{
	struct smtp_reply r;
	const char *error;

	(void)state;
	smtp_reply_init(&r, NULL);
	assert_int_equal(
	    feed(&r, "550-5.1.1 The email account that you", &error), 0);
	assert_int_equal(
	    feed(&r, "550-5.1.1 tried to reach does not exist.", &error), 0);
	assert_int_equal(feed(&r, "550 5.1.1 x  - gsmtp", &error), 1);
	assert_string_equal(r.enhanced, "5.1.1");
	assert_string_equal(strbuf_cstr(&r.text),
			    "The email account that you\n"
			    "tried to reach does not exist.\nx  - gsmtp");
	smtp_reply_deinit(&r);
}

static void
test_enhanced_code_must_match_class(void **state)
{
	struct smtp_reply r;
	const char *error;

	(void)state;
	smtp_reply_init(&r, NULL);
	assert_int_equal(feed(&r, "250 5.1.1 odd", &error), 1);
	assert_string_equal(r.enhanced, "");
	assert_string_equal(strbuf_cstr(&r.text), "5.1.1 odd");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "451 4.3.0123 no", &error), 1);
	assert_string_equal(r.enhanced, "");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "451 4.3.0", &error), 1);
	assert_string_equal(r.enhanced, "4.3.0");
	assert_string_equal(strbuf_cstr(&r.text), "");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "451 4.3.0x", &error), 1);
	assert_string_equal(r.enhanced, "");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "552 5.10.100 long but valid", &error), 1);
	assert_string_equal(r.enhanced, "5.10.100");
	smtp_reply_deinit(&r);
}

static void
test_mismatched_codes(void **state)
{
	struct smtp_reply r;
	const char *error;

	(void)state;
	smtp_reply_init(&r, NULL);
	assert_int_equal(feed(&r, "250-first", &error), 0);
	assert_int_equal(feed(&r, "251 second", &error), -1);
	assert_string_equal(error, "reply code differs between lines");
	smtp_reply_deinit(&r);
}

static void
test_malformed_lines(void **state)
{
	static const char *bad[] = {
	    "",	       "25",	"2500 x", "250x",  "abc def", "150 one",
	    "600 six", "099 x", " 250 x", "250_x", "2a0 x",
	};
	struct smtp_reply r;
	const char *error;
	size_t i;

	(void)state;
	smtp_reply_init(&r, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_reset(&r);
		assert_int_equal(feed(&r, bad[i], &error), -1);
		assert_non_null(error);
	}
	smtp_reply_reset(&r);
	assert_int_equal(smtp_reply_feed(&r, "250 a\0b", 7, &error), -1);
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250 a\rb", &error), -1);
	smtp_reply_deinit(&r);
}

static void
test_eof_in_the_middle(void **state)
{
	struct smtp_reply r;
	const char *error = NULL;

	(void)state;
	smtp_reply_init(&r, NULL);
	assert_int_equal(smtp_reply_finish(&r, &error), 0);
	assert_int_equal(feed(&r, "250-", &error), 0);
	assert_int_equal(smtp_reply_finish(&r, &error), -1);
	assert_non_null(error);
	smtp_reply_deinit(&r);
}

static void
test_limits(void **state)
{
	struct smtp_reply_limits lim = {
	    .max_line = 100, .max_lines = 3, .max_total = 700};
	struct smtp_reply r;
	const char *error;
	char line[1200];

	(void)state;
	/* max_line below the RFC's 512 is raised to 512 */
	smtp_reply_init(&r, &lim);
	assert_int_equal(r.limits.max_line, 512);
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	assert_int_equal(smtp_reply_feed(&r, line, 512, &error), 0);
	assert_int_equal(smtp_reply_feed(&r, line, 513, &error), -1);
	assert_string_equal(error, "reply line too long");
	smtp_reply_reset(&r);
	/* total text */
	assert_int_equal(smtp_reply_feed(&r, line, 400, &error), 0);
	assert_int_equal(smtp_reply_feed(&r, line, 400, &error), -1);
	assert_string_equal(error, "reply too long");
	smtp_reply_reset(&r);
	/* line count */
	assert_int_equal(feed(&r, "250-a", &error), 0);
	assert_int_equal(feed(&r, "250-b", &error), 0);
	assert_int_equal(feed(&r, "250-c", &error), 0);
	assert_int_equal(feed(&r, "250 d", &error), -1);
	assert_string_equal(error, "too many reply lines");
	smtp_reply_deinit(&r);
}

static void
test_default_line_count_limit(void **state)
{
	struct smtp_reply r;
	const char *error;
	int i;

	(void)state;
	smtp_reply_init(&r, NULL);
	for (i = 0; i < SMTP_REPLY_DEFAULT_MAX_LINES; i++)
		assert_int_equal(feed(&r, "250-x", &error), 0);
	assert_int_equal(feed(&r, "250 x", &error), -1);
	smtp_reply_deinit(&r);
}

static void
test_format(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 1024);
	assert_int_equal(
	    smtp_reply_format(&sb, 250, "2.0.0", "Ok: queued as X"), 0);
	assert_string_equal(strbuf_cstr(&sb), "250 2.0.0 Ok: queued as X\r\n");
	strbuf_reset(&sb);
	assert_int_equal(smtp_reply_format(&sb, 250, NULL,
					   "mx.example\nPIPELINING\nSIZE 10"),
			 0);
	assert_string_equal(
	    strbuf_cstr(&sb),
	    "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
	strbuf_reset(&sb);
	assert_int_equal(smtp_reply_format(&sb, 550, "5.1.1", "a\nb"), 0);
	assert_string_equal(strbuf_cstr(&sb), "550-5.1.1 a\r\n550 5.1.1 b\r\n");
	strbuf_reset(&sb);
	assert_int_equal(
	    smtp_reply_format(&sb, 354, "", "End data with <CR><LF>.<CR><LF>"),
	    0);
	assert_string_equal(strbuf_cstr(&sb),
			    "354 End data with <CR><LF>.<CR><LF>\r\n");
	strbuf_reset(&sb);
	assert_int_equal(smtp_reply_format(&sb, 199, "", "x"), -1);
	assert_int_equal(smtp_reply_format(&sb, 600, "", "x"), -1);
	assert_int_equal(smtp_reply_format(&sb, 250, "", "a\rb"), -1);
	assert_int_equal(smtp_reply_format(&sb, 250, "2.0.0\r\n", "x"), -1);
	strbuf_release(&sb);
	strbuf_init(&sb, 10);
	assert_int_equal(smtp_reply_format(&sb, 250, "2.0.0", "Ok"), -1);
	strbuf_release(&sb);
}

static void
test_format_then_parse(void **state)
{
	struct strbuf sb;
	struct smtp_reply r;
	const char *error, *p, *crlf;
	int ret = 0;

	(void)state;
	strbuf_init(&sb, 1024);
	assert_int_equal(
	    smtp_reply_format(&sb, 452, "4.5.3", "Too many\nrecipients"), 0);
	smtp_reply_init(&r, NULL);
	for (p = sb.data; (crlf = strstr(p, "\r\n")) != NULL; p = crlf + 2)
		ret = smtp_reply_feed(&r, p, (size_t)(crlf - p), &error);
	assert_int_equal(ret, 1);
	assert_int_equal(r.code, 452);
	assert_string_equal(r.enhanced, "4.5.3");
	assert_string_equal(strbuf_cstr(&r.text), "Too many\nrecipients");
	smtp_reply_deinit(&r);
	strbuf_release(&sb);
}

/* EHLO keywords: case-insensitive, SIZE's argument only when numeric,
 * the first line (the server's name) is not a keyword. */
static void
test_ehlo_parse(void **state)
{
	static const char *lines[] = {
	    "250-PIPELINING mx.example", "250-pipelining",   "250-SIZE 10240000",
	    "250-8bitmime",		 "250-STARTTLS",     "250-AUTH PLAIN",
	    "250-DSNX",			 "250 SMTPUTF8",
	};
	struct smtp_ehlo e;
	struct smtp_reply r;
	const char *error;

	(void)state;
	smtp_reply_init(&r, NULL);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_not_equal(feed(&r, lines[i], &error), -1);
	assert_true(r.complete);
	smtp_ehlo_parse(&e, &r);
	assert_true(e.pipelining);
	assert_true(e.size);
	assert_int_equal(e.size_limit, 10240000);
	assert_true(e.eightbit);
	assert_true(e.starttls);
	assert_true(e.smtputf8);
	assert_false(e.dsn); /* "DSNX" is another keyword */

	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250-mx.example", &error), 0);
	assert_int_equal(feed(&r, "250-SIZE -5", &error), 0);
	assert_int_equal(feed(&r, "250 DSN", &error), 1);
	smtp_ehlo_parse(&e, &r);
	assert_true(e.size);
	assert_int_equal(e.size_limit, 0);
	assert_true(e.dsn);
	assert_false(e.pipelining);

	/* HELO's one line announces nothing, even a keyword-like name. */
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250 PIPELINING", &error), 1);
	smtp_ehlo_parse(&e, &r);
	assert_false(e.pipelining);
	smtp_reply_deinit(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_line),
	    cmocka_unit_test(test_multi_line_joined),
	    cmocka_unit_test(test_enhanced_code_each_line),
	    cmocka_unit_test(test_enhanced_code_must_match_class),
	    cmocka_unit_test(test_mismatched_codes),
	    cmocka_unit_test(test_malformed_lines),
	    cmocka_unit_test(test_eof_in_the_middle),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_default_line_count_limit),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_then_parse),
	    cmocka_unit_test(test_ehlo_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
