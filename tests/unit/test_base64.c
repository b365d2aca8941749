/*
 * test_base64 - unit tests of util/base64: the RFC 4648 vectors, the
 * strict default (auth protocol), the padding-required rules of stored
 * password hashes and the lenient RFC 2047 mode, plus overflow handling.
 * The auth_proto base64 cases moved here unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/base64.h"
#include "util/strbuf.h"

#define PW_FLAGS (BASE64_DECODE_PAD_REQUIRED | BASE64_DECODE_IGNORE_UNUSED_BITS)

/* Decodes src with flags; expect NULL means it must fail (dest unchanged). */
static void
assert_dec(const char *src, unsigned int flags, const char *expect,
	   size_t expect_len)
{
	struct strbuf dec;

	strbuf_init(&dec, 100);
	assert_int_equal(strbuf_append_str(&dec, "x"), 0);
	if (expect == NULL) {
		assert_int_equal(base64_decode(src, strlen(src), flags, &dec),
				 -1);
		assert_int_equal(dec.len, 1);
	} else {
		assert_int_equal(base64_decode(src, strlen(src), flags, &dec),
				 0);
		assert_int_equal(dec.len, expect_len + 1);
		assert_memory_equal(dec.data + 1, expect, expect_len);
	}
	strbuf_release(&dec);
}

static void
test_base64_rfc4648_vectors(void **state)
{
	static const char *const v[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	struct strbuf enc;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		strbuf_init(&enc, 100);
		assert_int_equal(base64_encode(v[i][0], strlen(v[i][0]), &enc),
				 0);
		assert_string_equal(strbuf_cstr(&enc), v[i][1]);
		assert_int_equal(enc.len, base64_encoded_len(strlen(v[i][0])));
		assert_true(base64_decoded_max_len(enc.len) >= strlen(v[i][0]));
		strbuf_release(&enc);
		assert_dec(v[i][1], 0, v[i][0], strlen(v[i][0]));
		assert_dec(v[i][1], PW_FLAGS, v[i][0], strlen(v[i][0]));
		assert_dec(v[i][1], BASE64_DECODE_SKIP_INVALID, v[i][0],
			   strlen(v[i][0]));
	}
	assert_dec("AP8A", 0, "\0\xff\0", 3);
	assert_dec("+/+/", 0, "\xfb\xff\xbf", 3);
}

static void
test_base64_roundtrip(void **state)
{
	struct strbuf enc, dec;
	const char data[] = "\0alice\0pass\tword\n";

	(void)state;
	strbuf_init(&enc, 100);
	strbuf_init(&dec, 100);
	assert_int_equal(base64_encode(data, sizeof(data) - 1, &enc), 0);
	assert_string_equal(strbuf_cstr(&enc), "AGFsaWNlAHBhc3MJd29yZAo=");
	assert_int_equal(base64_decode(enc.data, enc.len, 0, &dec), 0);
	assert_int_equal(dec.len, sizeof(data) - 1);
	assert_memory_equal(dec.data, data, dec.len);
	strbuf_release(&enc);
	strbuf_release(&dec);
}

static void
test_base64_strictness(void **state)
{
	struct strbuf dec;
	static const char *const bad[] = {
	    "A", "QQ=", "QUJD=", "QQ==QQ==", "Q Q=", "QR==", "====", "Q*==",
	};

	(void)state;
	strbuf_init(&dec, 100);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), 0, &dec),
				 -1);
		assert_int_equal(dec.len, 0);
	}
	/* Missing padding is accepted. */
	assert_int_equal(base64_decode("QQ", 2, 0, &dec), 0);
	assert_string_equal(strbuf_cstr(&dec), "A");
	strbuf_release(&dec);
	/* white space, line breaks and bytes after padding are not */
	assert_dec("QUJD\r\n", 0, NULL, 0);
	assert_dec("QQ==x", 0, NULL, 0);
	assert_dec("QQ===", 0, NULL, 0);
	assert_dec("Q===", 0, NULL, 0);
	assert_dec("QUI=", 0, "AB", 2);
}

static void
test_base64_pad_required(void **state)
{
	(void)state;
	/* stored password hashes: length a multiple of 4 */
	assert_dec("QQ", PW_FLAGS, NULL, 0);
	assert_dec("QUI", PW_FLAGS, NULL, 0);
	assert_dec("QQ=", PW_FLAGS, NULL, 0);
	assert_dec("QQ==", PW_FLAGS, "A", 1);
	assert_dec("QUI=", PW_FLAGS, "AB", 2);
	/* ... with non-zero unused bits accepted, as Dovecot does */
	assert_dec("QR==", PW_FLAGS, "A", 1);
	assert_dec("QUJ=", PW_FLAGS, "AB", 2);
	assert_dec("QR==", BASE64_DECODE_PAD_REQUIRED, NULL, 0);
	assert_dec("QR", BASE64_DECODE_IGNORE_UNUSED_BITS, "A", 1);
	/* '=' only at the end, at most two */
	assert_dec("====", PW_FLAGS, NULL, 0);
	assert_dec("Q===", PW_FLAGS, NULL, 0);
	assert_dec("QQ==QQ==", PW_FLAGS, NULL, 0);
	assert_dec("QQ=A", PW_FLAGS, NULL, 0);
	assert_dec("Q*==", PW_FLAGS, NULL, 0);
	assert_dec("ZqpulKOFH6Ordg2l0rkNVA==", PW_FLAGS,
		   "\x66\xaa\x6e\x94\xa3\x85\x1f\xa3\xab\x76\x0d\xa5\xd2\xb9"
		   "\x0d\x54",
		   16);
}

static void
test_base64_skip_invalid(void **state)
{
	(void)state;
	/* RFC 2047 'B' words: padding and garbage are skipped */
	assert_dec("SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=",
		   BASE64_DECODE_SKIP_INVALID, "If you can read this yo", 23);
	assert_dec("SGVs!!bG8=", BASE64_DECODE_SKIP_INVALID, "Hello", 5);
	assert_dec("SGVs bG8", BASE64_DECODE_SKIP_INVALID, "Hello", 5);
	/* a lone sextet at the end is dropped, never an error */
	assert_dec("SGVsbG8gQ", BASE64_DECODE_SKIP_INVALID, "Hello ", 6);
	assert_dec("QR==", BASE64_DECODE_SKIP_INVALID, "A", 1);
	assert_dec("====", BASE64_DECODE_SKIP_INVALID, "", 0);
	/* '=' in the middle is skipped like garbage: the bits run on */
	assert_dec("QQ==QQ==", BASE64_DECODE_SKIP_INVALID, "A\x04\x10", 3);
	assert_dec("8NLJ18XU", BASE64_DECODE_SKIP_INVALID,
		   "\xf0\xd2\xc9\xd7\xc5\xd4", 6);
}

static void
test_base64_limit(void **state)
{
	struct strbuf dec;

	(void)state;
	strbuf_init(&dec, 2);
	assert_int_equal(base64_decode("QUJD", 4, 0, &dec), -1);
	assert_int_equal(dec.len, 0);
	assert_int_equal(
	    base64_decode("QUJD", 4, BASE64_DECODE_SKIP_INVALID, &dec), -1);
	assert_int_equal(dec.len, 0);
	assert_int_equal(base64_decode("QUI=", 4, 0, &dec), 0);
	assert_int_equal(dec.len, 2);
	strbuf_release(&dec);

	/* encoding that does not fit leaves dest unchanged */
	strbuf_init(&dec, 5);
	assert_int_equal(strbuf_append_str(&dec, "ab"), 0);
	assert_int_equal(base64_encode("abc", 3, &dec), -1);
	assert_string_equal(strbuf_cstr(&dec), "ab");
	strbuf_release(&dec);
}

static void
test_base64_value(void **state)
{
	(void)state;
	assert_int_equal(base64_value('A'), 0);
	assert_int_equal(base64_value('z'), 51);
	assert_int_equal(base64_value('9'), 61);
	assert_int_equal(base64_value('+'), 62);
	assert_int_equal(base64_value('/'), 63);
	assert_int_equal(base64_value('='), -1);
	assert_int_equal(base64_value('-'), -1);
	assert_int_equal(base64_value('\0'), -1);
	assert_int_equal(base64_value(0xc3), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64_rfc4648_vectors),
	    cmocka_unit_test(test_base64_roundtrip),
	    cmocka_unit_test(test_base64_strictness),
	    cmocka_unit_test(test_base64_pad_required),
	    cmocka_unit_test(test_base64_skip_invalid),
	    cmocka_unit_test(test_base64_limit),
	    cmocka_unit_test(test_base64_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
