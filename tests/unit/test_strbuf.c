/* Unit tests for the bounded string buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/strbuf.h"

static void
test_append_within_limit(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 10);
	assert_string_equal(strbuf_cstr(&sb), "");
	assert_int_equal(strbuf_append_str(&sb, "hello"), 0);
	assert_int_equal(strbuf_append_str(&sb, "world"), 0);
	assert_int_equal(sb.len, 10);
	assert_string_equal(strbuf_cstr(&sb), "helloworld");
	strbuf_release(&sb);
}

static void
test_append_past_limit_fails_unchanged(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 8);
	assert_int_equal(strbuf_append_str(&sb, "abcde"), 0);
	assert_int_equal(strbuf_append_str(&sb, "fghij"), -1);
	assert_string_equal(strbuf_cstr(&sb), "abcde");
	assert_int_equal(strbuf_append_char(&sb, 'f'), 0);
	assert_int_equal(strbuf_printf(&sb, "%d", 12345), -1);
	assert_string_equal(strbuf_cstr(&sb), "abcdef");
	assert_int_equal(strbuf_printf(&sb, "%d", 12), 0);
	assert_int_equal(strbuf_room(&sb), 0);
	assert_int_equal(strbuf_append(&sb, "", 0), 0);
	assert_int_equal(strbuf_append_char(&sb, 'x'), -1);
	strbuf_release(&sb);
}

static void
test_binary_data_and_nul(void **state)
{
	struct strbuf *sb = strbuf_new(100);

	(void)state;
	assert_int_equal(strbuf_append(sb, "a\0b", 3), 0);
	assert_int_equal(sb->len, 3);
	assert_memory_equal(sb->data, "a\0b", 4);
	strbuf_free(&sb);
	assert_null(sb);
}

static void
test_consume_truncate_set(void **state)
{
	struct strbuf sb;
	char *stolen;

	(void)state;
	strbuf_init(&sb, 64);
	strbuf_append_str(&sb, "line1\r\nline2");
	strbuf_consume(&sb, 7);
	assert_string_equal(strbuf_cstr(&sb), "line2");
	strbuf_truncate(&sb, 4);
	assert_string_equal(strbuf_cstr(&sb), "line");
	strbuf_truncate(&sb, 40);
	assert_int_equal(sb.len, 4);
	assert_int_equal(strbuf_set(&sb, "x", 1), 0);
	assert_string_equal(strbuf_cstr(&sb), "x");
	assert_int_equal(strbuf_set(&sb, "", 65), -1);
	assert_string_equal(strbuf_cstr(&sb), "x");
	strbuf_consume(&sb, 10);
	assert_int_equal(sb.len, 0);
	strbuf_append_str(&sb, "keep");
	stolen = strbuf_steal(&sb);
	assert_string_equal(stolen, "keep");
	assert_int_equal(sb.len, 0);
	free(stolen);
	strbuf_release(&sb);
}

static void
test_growth_to_large_sizes(void **state)
{
	struct strbuf sb;
	char chunk[1000];
	int i;

	(void)state;
	memset(chunk, 'z', sizeof(chunk));
	strbuf_init(&sb, 100000);
	for (i = 0; i < 100; i++)
		assert_int_equal(strbuf_append(&sb, chunk, sizeof(chunk)), 0);
	assert_int_equal(strbuf_append_char(&sb, 'z'), -1);
	assert_int_equal(sb.len, 100000);
	assert_true(sb.size <= 100001);
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_within_limit),
		cmocka_unit_test(test_append_past_limit_fails_unchanged),
		cmocka_unit_test(test_binary_data_and_nul),
		cmocka_unit_test(test_consume_truncate_set),
		cmocka_unit_test(test_growth_to_large_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
