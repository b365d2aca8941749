/*
 * Unit tests for IMAP output formatting and dates: the atom / quoted /
 * literal / NIL choice, mailbox names in modified UTF-7 and UTF-8, and
 * date and date-time parsing and formatting (tables of good and bad
 * inputs, round trips).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/imap_date.h"
#include "mail/imap_write.h"
#include "util/strbuf.h"

enum kind { ASTRING, NSTRING, STRING, UTF8_ASTRING };

static void
test_string_forms(void **state)
{
	static const struct {
		enum kind kind;
		const char *in;
		size_t len;
		const char *out;
		size_t out_len; /* 0: strlen(out) */
	} cases[] = {
	    {ASTRING, "INBOX", 5, "INBOX", 0},
	    {ASTRING, "a]b", 3, "a]b", 0},
	    {ASTRING, "", 0, "\"\"", 0},
	    {ASTRING, "NIL", 3, "\"NIL\"", 0},
	    {ASTRING, "nil", 3, "\"nil\"", 0},
	    {ASTRING, "two words", 9, "\"two words\"", 0},
	    {ASTRING, "a\"b\\c", 5, "\"a\\\"b\\\\c\"", 0},
	    {ASTRING, "a*", 2, "\"a*\"", 0},
	    {ASTRING, "%", 1, "\"%\"", 0},
	    {ASTRING, "(x)", 3, "\"(x)\"", 0},
	    {ASTRING, "{3}", 3, "\"{3}\"", 0},
	    {ASTRING, "line\r\nbreak", 11, "{11}\r\nline\r\nbreak", 0},
	    {ASTRING, "\xC3\xA4", 2, "{2}\r\n\xC3\xA4", 0},
	    {UTF8_ASTRING, "\xC3\xA4", 2, "\"\xC3\xA4\"", 0},
	    {STRING, "atom", 4, "\"atom\"", 0},
	    {STRING, "a\0b", 3, "{3}\r\na\0b", 8},
	    {STRING, "tab\there", 8, "\"tab\there\"", 0},
	    {NSTRING, NULL, 0, "NIL", 0},
	    {NSTRING, "NIL", 3, "\"NIL\"", 0},
	    {NSTRING, "", 0, "\"\"", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf sb;
		int ret;

		strbuf_init(&sb, 100);
		switch (cases[i].kind) {
		case ASTRING:
			ret = imap_write_astring(&sb, cases[i].in, cases[i].len,
						 0);
			break;
		case UTF8_ASTRING:
			ret = imap_write_astring(&sb, cases[i].in, cases[i].len,
						 IMAP_WRITE_UTF8);
			break;
		case NSTRING:
			ret = imap_write_nstring(&sb, cases[i].in, cases[i].len,
						 0);
			break;
		default:
			ret = imap_write_string(&sb, cases[i].in, cases[i].len,
						0);
		}
		assert_int_equal(ret, 0);
		if (sb.len != (cases[i].out_len != 0 ? cases[i].out_len
						     : strlen(cases[i].out)) ||
		    memcmp(sb.data, cases[i].out, sb.len) != 0)
			fail_msg("case %zu: got [%s]", i, strbuf_cstr(&sb));
		strbuf_release(&sb);
	}
}

static void
test_long_string_is_literal(void **state)
{
	char big[IMAP_WRITE_QUOTED_MAX + 1];
	struct strbuf sb;

	(void)state;
	memset(big, 'x', sizeof(big));
	strbuf_init(&sb, 4096);
	assert_int_equal(imap_write_string(&sb, big, sizeof(big) - 1, 0), 0);
	assert_int_equal(sb.data[0], '"');
	strbuf_reset(&sb);
	assert_int_equal(imap_write_string(&sb, big, sizeof(big), 0), 0);
	assert_memory_equal(sb.data, "{1025}\r\n", 8);
	strbuf_release(&sb);
}

static void
test_full_buffer(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 8);
	assert_int_equal(strbuf_append_str(&sb, "ab"), 0);
	assert_int_equal(imap_write_quoted(&sb, "abcdefgh", 8), -1);
	assert_string_equal(strbuf_cstr(&sb), "ab");
	assert_int_equal(imap_write_literal(&sb, "abcdefgh", 8, false), -1);
	assert_string_equal(strbuf_cstr(&sb), "ab");
	assert_int_equal(imap_write_quoted(&sb, "a\nb", 3), -1);
	strbuf_release(&sb);
}

static void
test_mailbox(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 200);
	assert_int_equal(imap_write_mailbox(&sb, "Entw\xC3\xBCrfe", 0), 0);
	assert_string_equal(strbuf_cstr(&sb), "Entw&APw-rfe");
	strbuf_reset(&sb);
	assert_int_equal(
	    imap_write_mailbox(&sb, "Entw\xC3\xBCrfe", IMAP_WRITE_UTF8), 0);
	assert_string_equal(strbuf_cstr(&sb), "\"Entw\xC3\xBCrfe\"");
	strbuf_reset(&sb);
	assert_int_equal(imap_write_mailbox(&sb, "A & B", 0), 0);
	assert_string_equal(strbuf_cstr(&sb), "\"A &- B\"");
	strbuf_reset(&sb);
	assert_int_equal(imap_write_mailbox(&sb, "bad\xC3", 0), -1);
	assert_int_equal(imap_write_mailbox(&sb, "bad\xC3", IMAP_WRITE_UTF8),
			 -1);
	strbuf_release(&sb);
}

static void
test_date_parse(void **state)
{
	static const struct {
		const char *in;
		int y, m, d;
	} good[] = {
	    {"1-Feb-1994", 1994, 2, 1},	   {"01-Feb-1994", 1994, 2, 1},
	    {"29-Feb-2024", 2024, 2, 29},  {"29-Feb-2000", 2000, 2, 29},
	    {"31-dec-9999", 9999, 12, 31}, {"1-JAN-0001", 1, 1, 1},
	};
	static const char *const bad[] = {
	    "",
	    "1",
	    "1-Feb",
	    "1-Feb-94",
	    "29-Feb-1900",
	    "29-Feb-2023",
	    "31-Apr-2024",
	    "32-Jan-2024",
	    "0-Jan-2024",
	    "001-Jan-2024",
	    "1-Febr-2024",
	    "1 Feb 2024",
	    "1-Feb-2024 ",
	    "1-Feb-0000",
	    "a-Feb-2024",
	    "1-Feb-20245",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct imap_date d;

		assert_int_equal(
		    imap_date_parse(good[i].in, strlen(good[i].in), &d), 0);
		assert_int_equal(d.year, good[i].y);
		assert_int_equal(d.month, good[i].m);
		assert_int_equal(d.day, good[i].d);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_date d;

		if (imap_date_parse(bad[i], strlen(bad[i]), &d) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void
test_datetime(void **state)
{
	static const struct {
		const char *in;
		int64_t t;
		int tz;
		const char *out;
	} good[] = {
	    {"17-Jul-1996 02:44:25 -0700", 837596665, -420,
	     "\"17-Jul-1996 02:44:25 -0700\""},
	    {" 1-Feb-1994 21:52:25 -0800", 760168345, -480,
	     "\" 1-Feb-1994 21:52:25 -0800\""},
	    {"1-Feb-1994 21:52:25 -0800", 760168345, -480,
	     "\" 1-Feb-1994 21:52:25 -0800\""},
	    {"01-Jan-1970 00:00:00 +0000", 0, 0,
	     "\" 1-Jan-1970 00:00:00 +0000\""},
	    {"31-Dec-1969 23:59:59 +0000", -1, 0,
	     "\"31-Dec-1969 23:59:59 +0000\""},
	    {"01-Jan-1970 05:30:00 +0530", 0, 330,
	     "\" 1-Jan-1970 05:30:00 +0530\""},
	    {"29-Feb-2024 12:00:00 +1400", 1709157600, 840,
	     "\"29-Feb-2024 12:00:00 +1400\""},
	};
	static const char *const bad[] = {
	    "17-Jul-1996 02:44:25",	   "17-Jul-1996 24:00:00 +0000",
	    "17-Jul-1996 02:60:00 +0000",  "17-Jul-1996 02:44:25 0000",
	    "17-Jul-1996 02:44:25 +000",   "17-Jul-1996 02:44:25 +2400",
	    "17-Jul-1996 02:44:25 +0060",  "17-Jul-1996  02:44:25 +0000",
	    "17-Jul-1996 2:44:25 +0000",   "  1-Jul-1996 02:44:25 +0000",
	    "17-Jul-1996 02:44:25 +0000 ", "30-Feb-1996 02:44:25 +0000",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct strbuf sb;
		int64_t t;
		int tz;

		assert_int_equal(imap_datetime_parse(
				     good[i].in, strlen(good[i].in), &t, &tz),
				 0);
		assert_int_equal(t, good[i].t);
		assert_int_equal(tz, good[i].tz);
		strbuf_init(&sb, 100);
		assert_int_equal(imap_datetime_format(&sb, t, tz), 0);
		assert_string_equal(strbuf_cstr(&sb), good[i].out);
		strbuf_release(&sb);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t;
		int tz;

		if (imap_datetime_parse(bad[i], strlen(bad[i]), &t, &tz) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void
test_datetime_format_limits(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 100);
	assert_int_equal(imap_datetime_format(&sb, 0, 1440), -1);
	assert_int_equal(imap_datetime_format(&sb, 0, -1440), -1);
	assert_int_equal(imap_datetime_format(&sb, INT64_MAX, 0), -1);
	assert_int_equal(imap_datetime_format(&sb, INT64_MIN, 0), -1);
	assert_int_equal(sb.len, 0);
	assert_int_equal(imap_datetime_format(&sb, 253402300799LL, 0), 0);
	assert_string_equal(strbuf_cstr(&sb), "\"31-Dec-9999 23:59:59 +0000\"");
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_string_forms),
	    cmocka_unit_test(test_long_string_is_literal),
	    cmocka_unit_test(test_full_buffer),
	    cmocka_unit_test(test_mailbox),
	    cmocka_unit_test(test_date_parse),
	    cmocka_unit_test(test_datetime),
	    cmocka_unit_test(test_datetime_format_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
