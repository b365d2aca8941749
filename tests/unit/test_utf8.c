/* Unit tests for UTF-8 encoding of code points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/strbuf.h"
#include "util/utf8.h"

static void
test_each_length_boundary(void **state)
{
	static const struct {
		uint32_t cp;
		const char *utf8;
	} cases[] = {
	    {0x41, "A"},
	    {0x7f, "\x7f"},
	    {0x80, "\xc2\x80"},
	    {0xe9, "\xc3\xa9"},
	    {0x7ff, "\xdf\xbf"},
	    {0x800, "\xe0\xa0\x80"},
	    {0xfffd, "\xef\xbf\xbd"},
	    {0xffff, "\xef\xbf\xbf"},
	    {0x10000, "\xf0\x90\x80\x80"},
	    {0x1f600, "\xf0\x9f\x98\x80"},
	    {0x10ffff, "\xf4\x8f\xbf\xbf"},
	};
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 16);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strbuf_reset(&sb);
		assert_int_equal(utf8_append(&sb, cases[i].cp), 0);
		assert_string_equal(strbuf_cstr(&sb), cases[i].utf8);
	}
	strbuf_release(&sb);
}

static void
test_nul_code_point_is_one_byte(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 4);
	assert_int_equal(utf8_append(&sb, 0), 0);
	assert_int_equal(sb.len, 1);
	assert_int_equal(sb.data[0], 0);
	strbuf_release(&sb);
}

static void
test_limit_leaves_buffer_unchanged(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 3);
	assert_int_equal(utf8_append(&sb, 'x'), 0);
	assert_int_equal(utf8_append(&sb, 0x20ac), -1); /* 3 bytes: too many */
	assert_string_equal(strbuf_cstr(&sb), "x");
	assert_int_equal(utf8_append(&sb, 0xe9), 0);
	assert_string_equal(strbuf_cstr(&sb), "x\xc3\xa9");
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_length_boundary),
	    cmocka_unit_test(test_nul_code_point_is_one_byte),
	    cmocka_unit_test(test_limit_leaves_buffer_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
