/* Unit tests for IMAP modified UTF-7 (mailbox and Maildir folder names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/mutf7.h"
#include "util/strbuf.h"

static const struct {
	const char *utf8, *mutf7;
} pairs[] = {
    {"INBOX", "INBOX"},
    {"Entwürfe", "Entw&APw-rfe"}, /* as Debian's Dovecot 2.3 names it */
    {"台北/日本語", "&U,BTFw-/&ZeVnLIqe-"},	  /* RFC 3501 5.1.3 */
    {"\xf0\x9f\x98\x80 smile", "&2D3eAA- smile"}, /* surrogate pair */
    {"a&b", "a&-b"},
    {"&", "&-"},
    {"Ünïcödé.Sub", "&ANw-n&AO8-c&APY-d&AOk-.Sub"},
    {"\t", "&AAk-"},
    {"", ""},
};

static void
test_encode_known(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct strbuf sb;

		strbuf_init(&sb, 1024);
		assert_int_equal(mutf7_encode(pairs[i].utf8, &sb), 0);
		assert_string_equal(strbuf_cstr(&sb), pairs[i].mutf7);
		strbuf_release(&sb);
	}
}

static void
test_decode_known(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct strbuf sb;

		strbuf_init(&sb, 1024);
		assert_int_equal(mutf7_decode(pairs[i].mutf7, &sb), 0);
		assert_string_equal(strbuf_cstr(&sb), pairs[i].utf8);
		strbuf_release(&sb);
	}
}

/* Every BMP character outside printable ASCII and a few astral ones
 * survive encode + decode. */
static void
test_round_trip_all_bmp(void **state)
{
	(void)state;
	for (uint32_t cp = 1; cp < 0x110000; cp += (cp < 0x10000 ? 1 : 4099)) {
		char in[8];
		size_t n;
		struct strbuf enc, dec;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			in[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			in[0] = (char)(0xc0 | (cp >> 6));
			in[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			in[0] = (char)(0xe0 | (cp >> 12));
			in[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			in[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			in[0] = (char)(0xf0 | (cp >> 18));
			in[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			in[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			in[3] = (char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		/* "x" + char + char + "y" exercises partial base64 groups */
		char s[24];
		memcpy(s, "x", 1);
		memcpy(s + 1, in, n);
		memcpy(s + 1 + n, in, n);
		memcpy(s + 1 + 2 * n, "y", 2);
		strbuf_init(&enc, 256);
		strbuf_init(&dec, 256);
		assert_int_equal(mutf7_encode(s, &enc), 0);
		for (size_t i = 0; i < enc.len; i++) {
			assert_true(enc.data[i] >= 0x20 && enc.data[i] <= 0x7e);
		}
		assert_int_equal(mutf7_decode(strbuf_cstr(&enc), &dec), 0);
		assert_string_equal(strbuf_cstr(&dec), s);
		strbuf_release(&enc);
		strbuf_release(&dec);
	}
}

static void
test_encode_refuses_bad_utf8(void **state)
{
	static const char *const bad[] = {
	    "\xc3",		/* truncated */
	    "\xc0\xaf",		/* overlong '/' */
	    "\xed\xa0\x80",	/* UTF-8 encoded surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xff",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct strbuf sb;

		strbuf_init(&sb, 256);
		assert_int_equal(mutf7_encode(bad[i], &sb), -1);
		strbuf_release(&sb);
	}
}

static void
test_decode_refuses_malformed(void **state)
{
	static const char *const bad[] = {
	    "&",	    /* unterminated */
	    "&APw",	    /* unterminated run */
	    "&AGE-",	    /* encodes printable ASCII 'a' */
	    "&AAA-",	    /* U+0000 */
	    "&2D0-",	    /* lone high surrogate */
	    "&3gA-",	    /* lone low surrogate */
	    "&AP-",	    /* too few bits for a unit */
	    "&APx-",	    /* non-zero padding bits */
	    "&A/w-",	    /* '/' is not in the modified alphabet */
	    "Entw\xc3\xbc", /* raw 8-bit */
	    "a\tb",	    /* control character */
	    "&APwA-",	    /* leftover 6+ bits */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct strbuf sb;

		strbuf_init(&sb, 256);
		assert_int_equal(mutf7_decode(bad[i], &sb), -1);
		assert_false(mutf7_is_valid(bad[i]));
		strbuf_release(&sb);
	}
	assert_true(mutf7_is_valid("Entw&APw-rfe"));
}

static void
test_encode_respects_limit(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 5);
	assert_int_equal(mutf7_encode("Entwürfe", &sb), -1);
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_known),
	    cmocka_unit_test(test_decode_known),
	    cmocka_unit_test(test_round_trip_all_bmp),
	    cmocka_unit_test(test_encode_refuses_bad_utf8),
	    cmocka_unit_test(test_decode_refuses_malformed),
	    cmocka_unit_test(test_encode_respects_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
