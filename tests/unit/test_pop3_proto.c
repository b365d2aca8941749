/* Unit tests for pop3_proto: command parsing with malformed input and the
 * RETR/TOP output (CRLF, dot-stuffing, TOP line counts, split input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/pop3_proto.h"
#include "util/strbuf.h"

static int
parse(const char *text, struct pop3_command *cmd, char *buf, size_t size)
{
	const char *error;
	size_t len = strlen(text);

	assert_true(len < size);
	memcpy(buf, text, len + 1);
	return pop3_parse_command(buf, len, cmd, &error);
}

static void
test_parse(void **state)
{
	struct pop3_command cmd;
	char buf[2048];
	uint32_t n;

	(void)state;
	assert_int_equal(parse("stat", &cmd, buf, sizeof(buf)), 0);
	assert_int_equal(cmd.cmd, POP3_CMD_STAT);
	assert_int_equal(cmd.argc, 0);
	assert_int_equal(parse("TOP 3 10", &cmd, buf, sizeof(buf)), 0);
	assert_int_equal(cmd.cmd, POP3_CMD_TOP);
	assert_int_equal(cmd.argc, 2);
	assert_string_equal(cmd.args[0], "3");
	assert_string_equal(cmd.args[1], "10");
	assert_int_equal(parse("PASS secret with  spaces", &cmd, buf,
			       sizeof(buf)), 0);
	assert_int_equal(cmd.cmd, POP3_CMD_PASS);
	assert_string_equal(cmd.args[0], "secret with  spaces");
	assert_int_equal(parse("XTND foo", &cmd, buf, sizeof(buf)), 0);
	assert_int_equal(cmd.cmd, POP3_CMD_UNKNOWN);
	assert_string_equal(cmd.keyword, "XTND");

	static const char *const bad[] = {
	    "", "ST", "STATS", "ST4T", "LIST  1", "LIST 1 ", "TOP 1 2 3",
	    "RETR\t1", "USER a\001b", " STAT", "PASS ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &cmd, buf, sizeof(buf)), -1);
	char longline[POP3_LINE_MAX + 2];
	memset(longline, 'a', sizeof(longline) - 1);
	memcpy(longline, "USER ", 5);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(parse(longline, &cmd, buf, sizeof(buf)), -1);
	char longarg[POP3_ARG_MAX + 7];
	memset(longarg, 'a', sizeof(longarg) - 1);
	memcpy(longarg, "USER ", 5);
	longarg[sizeof(longarg) - 1] = '\0';
	assert_int_equal(parse(longarg, &cmd, buf, sizeof(buf)), -1);
	longarg[sizeof(longarg) - 2] = '\0';
	assert_int_equal(parse(longarg, &cmd, buf, sizeof(buf)), 0);

	assert_int_equal(pop3_parse_number("1", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pop3_parse_number("4294967295", &n), 0);
	assert_int_equal(n, 4294967295u);
	assert_int_equal(pop3_parse_number("4294967296", &n), -1);
	assert_int_equal(pop3_parse_number("0", &n), -1);
	assert_int_equal(pop3_parse_number("", &n), -1);
	assert_int_equal(pop3_parse_number("+1", &n), -1);
	assert_int_equal(pop3_parse_number("1x", &n), -1);
}

/* Feeds msg in chunks of step bytes (0: whole) and checks the output. */
static void
check_body(const char *msg, long long lines, size_t step, const char *expect)
{
	struct pop3_body_writer w;
	struct strbuf out;
	size_t len = strlen(msg);

	strbuf_init(&out, 1 << 16);
	pop3_body_writer_init(&w, lines);
	if (step == 0)
		step = len == 0 ? 1 : len;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;

		assert_int_equal(pop3_body_writer_feed(&w, msg + off, n, &out),
				 0);
	}
	assert_int_equal(pop3_body_writer_finish(&w, &out), 0);
	assert_string_equal(strbuf_cstr(&out), expect);
	strbuf_release(&out);
}

static void
test_body(void **state)
{
	static const char msg[] = "Subject: x\n.hidden: y\n\nline1\n.dot\r\n"
				  "line3\nlast";

	(void)state;
	for (size_t step = 0; step < 5; step++) {
		check_body(msg, -1, step,
			   "Subject: x\r\n..hidden: y\r\n\r\nline1\r\n..dot\r\n"
			   "line3\r\nlast\r\n.\r\n");
		check_body(msg, 0, step,
			   "Subject: x\r\n..hidden: y\r\n\r\n.\r\n");
		check_body(msg, 2, step,
			   "Subject: x\r\n..hidden: y\r\n\r\nline1\r\n..dot\r\n"
			   ".\r\n");
		check_body(msg, 100, step,
			   "Subject: x\r\n..hidden: y\r\n\r\nline1\r\n..dot\r\n"
			   "line3\r\nlast\r\n.\r\n");
	}
	/* header only, no blank line; bare CR kept; empty message */
	check_body("A: b\n", 0, 0, "A: b\r\n.\r\n");
	check_body("A: b\n\na\rb\n", -1, 1, "A: b\r\n\r\na\rb\r\n.\r\n");
	check_body("A: b\n\nx\r", -1, 1, "A: b\r\n\r\nx\r\r\n.\r\n");
	check_body("", -1, 0, ".\r\n");
	check_body(".\n", -1, 0, "..\r\n.\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
