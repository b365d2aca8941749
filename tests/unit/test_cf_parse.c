/* Unit tests for the Postfix-syntax "name = value" file reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/cf_parse.h"
#include "util/xmem.h"

static int
parse(const char *text, struct cf_file *cf, char **error_r)
{
	return cf_parse_text("t.cf", text, strlen(text), cf, error_r);
}

static void
expect_error(const char *text, const char *error)
{
	struct cf_file cf = {0};
	char *err = NULL;

	assert_int_equal(parse(text, &cf, &err), -1);
	assert_non_null(err);
	assert_string_equal(err, error);
	assert_null(cf.entries);
	free(err);
}

static void
test_entries_with_line_numbers(void **state)
{
	struct cf_file cf = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(parse("a = 1\n\nb=two words  \nc =\n", &cf, &err), 0);
	assert_int_equal(cf.n_entries, 3);
	assert_string_equal(cf.path, "t.cf");
	assert_string_equal(cf.entries[0].name, "a");
	assert_string_equal(cf.entries[0].value, "1");
	assert_int_equal(cf.entries[0].line, 1);
	assert_string_equal(cf.entries[1].name, "b");
	assert_string_equal(cf.entries[1].value, "two words");
	assert_int_equal(cf.entries[1].line, 3);
	assert_string_equal(cf.entries[2].value, "");
	assert_int_equal(cf.entries[2].line, 4);
	cf_file_free(&cf);
	assert_null(cf.path);
}

static void
test_continuation_joined_with_one_space(void **state)
{
	struct cf_file cf = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(
	    parse("list = a,\n\tb,\n   # comment\n  c\nnext = x", &cf, &err),
	    0);
	assert_int_equal(cf.n_entries, 2);
	assert_string_equal(cf.entries[0].value, "a, b, c");
	assert_int_equal(cf.entries[0].line, 1);
	assert_string_equal(cf.entries[1].name, "next");
	assert_string_equal(cf.entries[1].value, "x");
	assert_int_equal(cf.entries[1].line, 5);
	cf_file_free(&cf);
}

static void
test_comments_only_at_line_start(void **state)
{
	struct cf_file cf = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(parse("# top\n  # indented\nx = a # b\n", &cf, &err),
			 0);
	assert_int_equal(cf.n_entries, 1);
	assert_string_equal(cf.entries[0].value, "a # b");
	cf_file_free(&cf);
}

static void
test_crlf_and_last_entry_wins(void **state)
{
	struct cf_file cf = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(parse("x = 1\r\nx.y-z_2 = 2\r\nx = 3\r\n", &cf, &err),
			 0);
	assert_string_equal(cf_get(&cf, "x")->value, "3");
	assert_int_equal(cf_get(&cf, "x")->line, 3);
	assert_string_equal(cf_get(&cf, "x.y-z_2")->value, "2");
	assert_null(cf_get(&cf, "y"));
	cf_file_free(&cf);
}

static void
test_errors_name_the_line(void **state)
{
	(void)state;
	expect_error("  x = 1\n",
		     "t.cf:1: continuation line with no previous entry");
	expect_error("# c\n\n\tx\n",
		     "t.cf:3: continuation line with no previous entry");
	expect_error("a = 1\nfoo bar\n",
		     "t.cf:2: missing '=' after parameter name");
	expect_error("a = 1\n\nfoo\n",
		     "t.cf:3: missing '=' after parameter name");
	expect_error("= 1\n", "t.cf:1: missing parameter name");
	expect_error("a$b = 1\n", "t.cf:1: bad character in parameter name");
	expect_error("a = 1\n{x} = 1\n",
		     "t.cf:2: bad character in parameter name");
}

static void
test_nul_byte_is_an_error(void **state)
{
	struct cf_file cf = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(
	    cf_parse_text("t.cf", "a = 1\nb = x\0y\n", 12, &cf, &err), -1);
	assert_string_equal(err, "t.cf:2: NUL byte in line");
	free(err);
}

static void
test_logical_line_limit(void **state)
{
	size_t n = CF_LINE_MAX + 1000;
	char *text = xmalloc(n + 1);
	struct cf_file cf = {0};
	char *err = NULL;

	(void)state;
	/* "v = " then a long value spread over continuation lines */
	memset(text, 'a', n);
	memcpy(text, "v = ", 4);
	for (size_t i = 1000; i < n; i += 1000) {
		text[i] = '\n';
		text[i + 1] = ' ';
	}
	text[n] = '\0';
	assert_int_equal(parse(text, &cf, &err), -1);
	assert_non_null(strstr(err, "logical line too long"));
	free(err);
	/* just below the limit is fine */
	text[CF_LINE_MAX / 2] = '\0';
	assert_int_equal(parse(text, &cf, &err), 0);
	assert_int_equal(cf.n_entries, 1);
	cf_file_free(&cf);
	free(text);
}

static void
test_file_missing_keeps_errno(void **state)
{
	struct cf_file cf = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(
	    cf_parse_file("/nonexistent/dovetail/main.cf", &cf, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/dovetail/main.cf"));
	free(err);
}

static void
test_file_read(void **state)
{
	char path[] = "/tmp/test_cf_parse.XXXXXX";
	int fd = mkstemp(path);
	struct cf_file cf = {0};
	char *err = NULL;
	const char *text = "a = 1\n b\nc = 2\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(cf_parse_file(path, &cf, &err), 0);
	assert_int_equal(cf.n_entries, 2);
	assert_string_equal(cf.entries[0].value, "1 b");
	assert_string_equal(cf.path, path);
	cf_file_free(&cf);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entries_with_line_numbers),
	    cmocka_unit_test(test_continuation_joined_with_one_space),
	    cmocka_unit_test(test_comments_only_at_line_start),
	    cmocka_unit_test(test_crlf_and_last_entry_wins),
	    cmocka_unit_test(test_errors_name_the_line),
	    cmocka_unit_test(test_nul_byte_is_an_error),
	    cmocka_unit_test(test_logical_line_limit),
	    cmocka_unit_test(test_file_missing_keeps_errno),
	    cmocka_unit_test(test_file_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
