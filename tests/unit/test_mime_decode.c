/*
 * test_mime_decode - unit tests of the streaming base64/quoted-printable
 * decoders and of the case-folded substring matcher for SEARCH, each fed
 * whole and split at every byte. Test-only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/mime_decode.h"
#include "mail/search_match.h"
#include "util/strbuf.h"

/* Decodes in, whole and in every two-piece split; checks want/broken. */
static void
assert_decode(enum mime_encoding enc, const char *in, const char *want,
	      size_t want_len, bool broken)
{
	size_t len = strlen(in), split;

	for (split = 0; split <= len; split++) {
		struct mime_decoder dec;
		struct strbuf out;

		strbuf_init(&out, 4096);
		mime_decoder_init(&dec, enc);
		assert_int_equal(mime_decoder_feed(&dec, in, split, &out), 0);
		assert_int_equal(
		    mime_decoder_feed(&dec, in + split, len - split, &out), 0);
		assert_int_equal(mime_decoder_finish(&dec, &out), 0);
		assert_int_equal(out.len, want_len);
		assert_memory_equal(out.data != NULL ? out.data : "", want,
				    want_len);
		assert_int_equal(dec.broken, broken);
		strbuf_release(&out);
	}
}

static void
test_base64(void **state)
{
	(void)state;
	assert_decode(MIME_ENCODING_BASE64, "SGVsbG8gd29ybGQ=\r\n",
		      "Hello world", 11, false);
	assert_decode(MIME_ENCODING_BASE64, "SGVs\r\nbG8=\r\n", "Hello", 5,
		      false);
	assert_decode(MIME_ENCODING_BASE64, "AP8A", "\0\xff\0", 3, false);
	/* garbage is skipped and flagged */
	assert_decode(MIME_ENCODING_BASE64, "SGVs!!bG8=", "Hello", 5, true);
	/* a lone sextet at the end */
	assert_decode(MIME_ENCODING_BASE64, "SGVsbG8gQ", "Hello ", 6, true);
	assert_decode(MIME_ENCODING_BASE64, "", "", 0, false);
}

static void
test_qp(void **state)
{
	(void)state;
	assert_decode(MIME_ENCODING_QP, "Gr=FC=DFe",
		      "Gr\xfc\xdf"
		      "e",
		      5, false);
	/* soft line breaks, CRLF and LF */
	assert_decode(MIME_ENCODING_QP, "long =\r\nline=\nend", "long lineend",
		      12, false);
	/* trailing blanks are padding; inner blanks stay */
	assert_decode(MIME_ENCODING_QP, "a b  \r\nc\t\n", "a b\r\nc\n", 7,
		      false);
	assert_decode(MIME_ENCODING_QP, "x =20\r\n", "x  \r\n", 5, false);
	/* broken escapes are kept */
	assert_decode(MIME_ENCODING_QP, "=ZZ=4", "=ZZ=4", 5, true);
	assert_decode(MIME_ENCODING_QP, "a=\rb", "a=\rb", 4, true);
	/* other encodings pass through */
	assert_decode(MIME_ENCODING_7BIT, "=41", "=41", 3, false);
	assert_int_equal(mime_encoding_from_name("BASE64"),
			 MIME_ENCODING_BASE64);
	assert_int_equal(mime_encoding_from_name("Quoted-Printable"),
			 MIME_ENCODING_QP);
	assert_int_equal(mime_encoding_from_name(NULL), MIME_ENCODING_7BIT);
	assert_int_equal(mime_encoding_from_name("x-uuencode"),
			 MIME_ENCODING_UNKNOWN);
}

static void
test_decode_limit(void **state)
{
	struct mime_decoder dec;
	struct strbuf out;

	(void)state;
	strbuf_init(&out, 3);
	mime_decoder_init(&dec, MIME_ENCODING_BASE64);
	assert_int_equal(mime_decoder_feed(&dec, "SGVsbG8=", 8, &out), -1);
	assert_int_equal(out.len, 3);
	strbuf_release(&out);
}

/* Matches key in text fed whole and split at every byte. */
static void
assert_match(const char *text, const char *key, bool want)
{
	size_t len = strlen(text), split;

	assert_int_equal(search_match_substr(text, len, key, strlen(key)),
			 want);
	for (split = 0; split <= len; split++) {
		struct search_match m;
		size_t split2;

		for (split2 = split; split2 <= len; split2 += 3) {
			assert_int_equal(
			    search_match_init(&m, key, strlen(key), 1024), 0);
			(void)search_match_feed(&m, text, split);
			(void)search_match_feed(&m, text + split,
						split2 - split);
			(void)search_match_feed(&m, text + split2,
						len - split2);
			assert_int_equal(search_match_finish(&m), want);
			search_match_deinit(&m);
		}
	}
}

static void
test_search_match(void **state)
{
	struct strbuf out;

	(void)state;
	assert_match("Hello World", "world", true);
	assert_match("Hello World", "WORLD", true);
	assert_match("Hello World", "worlds", false);
	assert_match("Gr\xc3\x9c\xc3\x9f"
		     "E aus M\xc3\xbcnchen",
		     "gr\xc3\xbcsse", true);
	assert_match(
	    "\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\xa5\xce\xa3",
	    "\xce\xbf\xce\xb4", true);
	assert_match("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
		     "\xd0\xbf\xd1\x80\xd0\xb8", true);
	assert_match("\xc5\x81\xc3\xb3"
		     "d\xc5\xba",
		     "\xc5\x82\xc3\xb3", true);
	/* accents are not removed */
	assert_match("caf\xc3\xa9", "cafe", false);
	/* invalid bytes fold to U+FFFD and do not break matching */
	assert_match("ab\xff"
		     "cd",
		     "cd", true);
	assert_match("ab\xff"
		     "cd",
		     "b\xef\xbf\xbd"
		     "c",
		     true);
	assert_match("anything", "", true);
	assert_match("", "x", false);
	/* a key that is too long is refused */
	{
		struct search_match m;

		assert_int_equal(search_match_init(&m, "abcdef", 6, 3), -1);
	}
	strbuf_init(&out, 64);
	assert_int_equal(search_fold(&out, "\xc3\x9f\xe1\xba\x9e", 5), 0);
	assert_string_equal(strbuf_cstr(&out), "ssss");
	strbuf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_qp),
	    cmocka_unit_test(test_decode_limit),
	    cmocka_unit_test(test_search_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
