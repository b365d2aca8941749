/*
 * Unit tests for the DATA phase parser: dot-unstuffing, the one accepted
 * end of data, and every bare <CR>/<LF> smuggling variant refused, whether
 * the input arrives whole or split at any byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/smtp_data.h"

struct result {
	enum smtp_data_status status;
	char out[4096];
	size_t out_len;
	size_t consumed; /* input bytes used in total */
};

/* Feeds in as pieces of at most step bytes, as the session would. */
static void
run(const char *in, size_t len, size_t step, struct result *r)
{
	struct smtp_data d;
	size_t pos = 0;

	smtp_data_init(&d);
	memset(r, 0, sizeof(*r));
	r->status = SMTP_DATA_MORE;
	while (pos < len && r->status == SMTP_DATA_MORE) {
		size_t n = len - pos < step ? len - pos : step;
		size_t o, used;

		r->status = smtp_data_parse(&d, in + pos, n,
					    r->out + r->out_len, &o, &used);
		assert_true(used <= n);
		assert_true(o <= n + 1);
		if (r->status == SMTP_DATA_MORE)
			assert_int_equal(used, n);
		r->out_len += o;
		pos += used;
	}
	r->consumed = pos;
}

/* Checks one input at every split size: same status, output, consumed. */
static void
check(const char *in, enum smtp_data_status want, const char *want_out,
      size_t want_consumed)
{
	size_t len = strlen(in);
	struct result r;

	for (size_t step = 1; step <= len + 1; step++) {
		run(in, len, step, &r);
		assert_int_equal(r.status, want);
		if (want_out != NULL) {
			assert_int_equal(r.out_len, strlen(want_out));
			assert_memory_equal(r.out, want_out, r.out_len);
		}
		assert_int_equal(r.consumed, want_consumed);
	}
}

static void
test_simple_message(void **state)
{
	(void)state;
	check("Subject: x\r\n\r\nhello\r\n.\r\n", SMTP_DATA_END,
	      "Subject: x\r\n\r\nhello\r\n", 24);
}

static void
test_empty_message(void **state)
{
	(void)state;
	check(".\r\n", SMTP_DATA_END, "", 3);
}

static void
test_next_command_not_consumed(void **state)
{
	(void)state;
	check("a\r\n.\r\nQUIT\r\n", SMTP_DATA_END, "a\r\n", 6);
}

static void
test_dot_unstuffing(void **state)
{
	(void)state;
	check("..\r\n...x\r\n.y\r\n.\r\n", SMTP_DATA_END, ".\r\n..x\r\ny\r\n",
	      17);
	/* A dot inside a line is data. */
	check("a.\r\nb.c\r\n.\r\n", SMTP_DATA_END, "a.\r\nb.c\r\n", 12);
}

static void
test_incomplete(void **state)
{
	(void)state;
	check("abc\r\n.", SMTP_DATA_MORE, "abc\r\n", 6);
	check("abc\r\n.\r", SMTP_DATA_MORE, "abc\r\n", 7);
	check("abc\r", SMTP_DATA_MORE, "abc", 4);
}

static void
test_bare_lf_variants(void **state)
{
	(void)state;
	check("a\nb\r\n.\r\n", SMTP_DATA_BARE_LF, NULL, 2);
	check("a\r\n.\nMAIL FROM:<x>\r\n", SMTP_DATA_BARE_LF, NULL, 5);
	check("a\n.\r\n", SMTP_DATA_BARE_LF, NULL, 2);
	check("a\n.\n", SMTP_DATA_BARE_LF, NULL, 2);
	check("\n.\r\n", SMTP_DATA_BARE_LF, NULL, 1);
	check("a\r\n.\n", SMTP_DATA_BARE_LF, NULL, 5);
}

static void
test_bare_cr_variants(void **state)
{
	(void)state;
	check("a\rb\r\n.\r\n", SMTP_DATA_BARE_CR, NULL, 3);
	check("a\r.\r\n", SMTP_DATA_BARE_CR, NULL, 3);
	check("a\r\n.\r.\r", SMTP_DATA_BARE_CR, NULL, 6);
	check("a\r.\r", SMTP_DATA_BARE_CR, NULL, 3);
	check("a\r\r\n.\r\n", SMTP_DATA_BARE_CR, NULL, 3);
	check("a\r\n.\rx", SMTP_DATA_BARE_CR, NULL, 6);
}

static void
test_long_line(void **state)
{
	char in[3000];
	struct result r;

	(void)state;
	memset(in, 'x', 2990);
	memcpy(in + 2990, "\r\n.\r\n", 5);
	run(in, 2995, 700, &r);
	assert_int_equal(r.status, SMTP_DATA_END);
	assert_int_equal(r.out_len, 2992);
}

static void
test_binary_bytes_pass(void **state)
{
	static const char in[] = {'a',	'\0', (char)0xff, '\r',
				  '\n', '.',  '\r',	  '\n'};
	struct result r;

	(void)state;
	run(in, sizeof(in), 3, &r);
	assert_int_equal(r.status, SMTP_DATA_END);
	assert_int_equal(r.out_len, 5);
	assert_memory_equal(r.out, in, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_message),
	    cmocka_unit_test(test_empty_message),
	    cmocka_unit_test(test_next_command_not_consumed),
	    cmocka_unit_test(test_dot_unstuffing),
	    cmocka_unit_test(test_incomplete),
	    cmocka_unit_test(test_bare_lf_variants),
	    cmocka_unit_test(test_bare_cr_variants),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_binary_bytes_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
