/*
 * test_mime_8to7 - unit tests of the 8-bit to quoted-printable MIME
 * conversion (Postfix's rules): exact output for the common shapes, the
 * decoded quoted-printable equal to the original bytes, every output line
 * within 76 characters, 7-bit mail unchanged, broken structure losing
 * nothing, and the same output whatever the input chunk sizes. Test-only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/mime_8to7.h"
#include "mail/mime_decode.h"
#include "util/strbuf.h"

static int
collect(void *ctx, const char *data, size_t len)
{
	return strbuf_append(ctx, data, len);
}

/* Converts in (len bytes) fed in pieces of chunk bytes (0: whole). */
static char *
convert_chunked(const char *in, size_t len, size_t chunk, unsigned int *flags_r,
		size_t *out_len_r, int *ret_r)
{
	struct strbuf out;
	struct mime_8to7 *m;
	int ret = 0;

	strbuf_init(&out, 16 * 1024 * 1024);
	m = mime_8to7_new(collect, &out);
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	for (size_t off = 0; off < len && ret == 0; off += chunk)
		ret = mime_8to7_feed(m, in + off,
				     len - off < chunk ? len - off : chunk);
	if (ret == 0)
		ret = mime_8to7_finish(m);
	*flags_r = mime_8to7_flags(m);
	mime_8to7_free(&m);
	assert_null(m);
	*out_len_r = out.len;
	*ret_r = ret;
	if (out.data == NULL)
		return strdup("");
	return strbuf_steal(&out);
}

/* Converts in whole, byte by byte and in 7-byte pieces: the outputs must
   agree. Checks every line is within 76 characters when converted parts
   were written. */
static char *
convert(const char *in, size_t len, unsigned int *flags_r, size_t *out_len_r)
{
	static const size_t chunks[] = {1, 7, 2047, 2049};
	unsigned int flags;
	size_t out_len;
	int ret;
	char *out = convert_chunked(in, len, 0, &flags, &out_len, &ret);

	assert_int_equal(ret, 0);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		unsigned int f2;
		size_t l2;
		int r2;
		char *o2 = convert_chunked(in, len, chunks[i], &f2, &l2, &r2);

		assert_int_equal(r2, 0);
		assert_int_equal(f2, flags);
		assert_int_equal(l2, out_len);
		assert_memory_equal(o2, out, out_len);
		free(o2);
	}
	if ((flags & MIME_8TO7_8BIT_LEFT) == 0)
		for (size_t i = 0; i < out_len; i++)
			assert_true((unsigned char)out[i] < 0x80);
	*flags_r = flags;
	*out_len_r = out_len;
	return out;
}

static char *
convert_str(const char *in, unsigned int *flags_r)
{
	size_t len;

	return convert(in, strlen(in), flags_r, &len);
}

/* Quoted-printable decoding with lib/mail/mime_decode. */
static char *
qp_decode(const char *in, size_t len, size_t *out_len_r)
{
	struct mime_decoder dec;
	struct strbuf out;

	strbuf_init(&out, 16 * 1024 * 1024);
	mime_decoder_init(&dec, MIME_ENCODING_QP);
	assert_int_equal(mime_decoder_feed(&dec, in, len, &out), 0);
	assert_int_equal(mime_decoder_finish(&dec, &out), 0);
	assert_false(dec.broken);
	*out_len_r = out.len;
	return out.data == NULL ? strdup("") : strbuf_steal(&out);
}

/* The text between "\r\n\r\n" (or "\n\n") after marker and the next
   "\n--" (or the end): one part's body. */
static const char *
body_after(const char *out, const char *marker, size_t *len_r)
{
	const char *p = strstr(out, marker), *b, *end;

	assert_non_null(p);
	b = strstr(p, "\n\n");
	if (b == NULL ||
	    (strstr(p, "\r\n\r\n") != NULL && strstr(p, "\r\n\r\n") < b))
		b = strstr(p, "\r\n\r\n") + 4;
	else
		b += 2;
	end = strstr(b, "\n--");
	if (end == NULL)
		end = b + strlen(b);
	else
		end++;
	*len_r = (size_t)(end - b);
	return b;
}

/* Checks every line of out is at most 76 characters. */
static void
assert_lines_short(const char *out, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		if (out[i] == '\n') {
			col = 0;
			continue;
		}
		if (out[i] != '\r')
			col++;
		assert_true(col <= 76);
	}
}

static void
test_single_part(void **state)
{
	const char *in = "From: a@example.org\r\n"
			 "Subject: caf\xc3\xa9\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: 8bit\r\n"
			 "X-After: 1\r\n"
			 "\r\n"
			 "Caf\xc3\xa9 cr\xc3\xa8me = br\xc3\xbbl\xc3\xa9"
			 "e\r\n"
			 ".dot at the start\r\n"
			 "=equals at the start\r\n"
			 "trailing space \r\n"
			 "trailing tab\t\r\n"
			 "\r\n"
			 "end\r\n";
	const char *want = "From: a@example.org\r\n"
			   "Subject: caf\xc3\xa9\r\n"
			   "MIME-Version: 1.0\r\n"
			   "Content-Type: text/plain; charset=utf-8\r\n"
			   "X-After: 1\r\n"
			   "Content-Transfer-Encoding: quoted-printable\r\n"
			   "\r\n"
			   "Caf=C3=A9 cr=C3=A8me =3D br=C3=BBl=C3=A9e\r\n"
			   ".dot at the start\r\n"
			   "=3Dequals at the start\r\n"
			   "trailing space=20\r\n"
			   "trailing tab=09\r\n"
			   "\r\n"
			   "end\r\n";
	unsigned int flags;
	char *out = convert_str(in, &flags);

	(void)state;
	assert_string_equal(out, want);
	/* The 8-bit Subject is left as it is (as Postfix does). */
	assert_int_equal(flags, MIME_8TO7_CONVERTED | MIME_8TO7_CHANGED |
				    MIME_8TO7_8BIT_LEFT);
	free(out);
}

static void
test_decoded_equals_original(void **state)
{
	struct strbuf body, msg;
	unsigned int flags;
	size_t out_len, blen, dlen;
	char *out, *dec;
	const char *b;

	(void)state;
	/* Every octet value, long lines (over 76 and over the 2048 piece),
	   '=' and blanks at every position, LF line ends. */
	strbuf_init(&body, 1 << 20);
	for (int i = 1; i < 256; i++)
		if (i != '\n' && i != '\r')
			strbuf_append_char(&body, (char)i);
	strbuf_append_str(&body, "\n");
	for (int i = 0; i < 3000; i++)
		strbuf_append_char(&body, "a\xe9= \t."[i % 6]);
	strbuf_append_str(&body, "\n");
	for (int n = 70; n < 80; n++) {
		for (int i = 0; i < n; i++)
			strbuf_append_char(&body, i == n - 1 ? ' ' : 'x');
		strbuf_append_str(&body, "\n");
		for (int i = 0; i < n; i++)
			strbuf_append_char(&body, i % 3 ? '\xfc' : '=');
		strbuf_append_str(&body, "\n");
	}
	strbuf_append_str(&body, "bare\rcr\n");
	strbuf_init(&msg, 1 << 20);
	strbuf_printf(&msg, "Content-Type: text/plain; charset=latin1\n"
			    "Content-Transfer-Encoding: BINARY\n\n");
	strbuf_append(&msg, body.data, body.len);
	out = convert(msg.data, msg.len, &flags, &out_len);
	assert_int_equal(flags, MIME_8TO7_CONVERTED | MIME_8TO7_CHANGED);
	assert_lines_short(out, out_len);
	assert_non_null(strstr(out, "\nContent-Transfer-Encoding: "
				    "quoted-printable\n\n"));
	b = body_after(out, "Content-Transfer-Encoding", &blen);
	assert_int_equal(blen, out_len - (size_t)(b - out));
	dec = qp_decode(b, blen, &dlen);
	assert_int_equal(dlen, body.len);
	assert_memory_equal(dec, body.data, body.len);
	free(dec);
	free(out);
	strbuf_release(&body);
	strbuf_release(&msg);
}

static void
test_soft_breaks(void **state)
{
	char in[256], want[256];
	unsigned int flags;
	char *out;

	(void)state;
	/* 100 'a': a soft break once a line holds more than 72. */
	snprintf(in, sizeof(in), "Content-Transfer-Encoding: 8bit\n\n%.100s\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	snprintf(want, sizeof(want),
		 "Content-Transfer-Encoding: quoted-printable\n\n%.73s=\n"
		 "%.27s\n",
		 in + 33, in + 33);
	out = convert_str(in, &flags);
	assert_string_equal(out, want);
	free(out);

	/* An encoded octet is never split by a soft break. */
	snprintf(in, sizeof(in),
		 "Content-Transfer-Encoding: 8bit\n\n%.72s\xe9\xe9 \n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	snprintf(want, sizeof(want),
		 "Content-Transfer-Encoding: quoted-printable\n\n%.72s=E9=\n"
		 "=E9=20\n",
		 in + 33);
	out = convert_str(in, &flags);
	assert_string_equal(out, want);
	free(out);
}

static const char multipart[] =
    "From: a@example.org\n"
    "MIME-Version: 1.0\n"
    "Content-Transfer-Encoding: 8bit\n"
    "Content-Type: multipart/mixed;\n"
    "\tboundary=\"=_outer\"\n"
    "\n"
    "preamble\n"
    "--=_outer\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "gr\xc3\xbc\xc3\x9f dich\n"
    "--=_outer\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAECAwQFBgcICQ==\n"
    "--=_outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "plain 7bit = kept\n"
    "--=_outer\n"
    "Content-Type: message/rfc822\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Subject: inner\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "inner \xe4\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<p>x=3D</p>\n"
    "--inner--\n"
    "inner epilogue\n"
    "--=_outer--\n"
    "epilogue\n";

static const char multipart_want[] =
    "From: a@example.org\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed;\n"
    "\tboundary=\"=_outer\"\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "preamble\n"
    "--=_outer\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "gr=C3=BC=C3=9F dich\n"
    "--=_outer\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAECAwQFBgcICQ==\n"
    "--=_outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "plain 7bit = kept\n"
    "--=_outer\n"
    "Content-Type: message/rfc822\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "Subject: inner\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "inner =E4\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<p>x=3D</p>\n"
    "--inner--\n"
    "inner epilogue\n"
    "--=_outer--\n"
    "epilogue\n";

static void
test_multipart_nested(void **state)
{
	unsigned int flags;
	char *out = convert_str(multipart, &flags);

	(void)state;
	assert_string_equal(out, multipart_want);
	assert_int_equal(flags, MIME_8TO7_CONVERTED | MIME_8TO7_CHANGED);
	free(out);
}

static void
test_seven_bit_unchanged(void **state)
{
	/* Already converted: nothing left to do, byte for byte. */
	size_t len = strlen(multipart_want), out_len;
	unsigned int flags;
	char *out = convert(multipart_want, len, &flags, &out_len);
	const char *crlf = "Subject: x\r\n"
			   "Content-Type: multipart/mixed; boundary=b\r\n"
			   "\r\n"
			   "--b\r\n"
			   "Content-Transfer-Encoding: base64\r\n"
			   "\r\n"
			   "AAAA\r\n"
			   "--b--\r\n"
			   "no final line break";

	(void)state;
	assert_int_equal(flags, 0);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, multipart_want, len);
	free(out);
	out = convert_str(crlf, &flags);
	assert_int_equal(flags, 0);
	assert_string_equal(out, crlf);
	free(out);
	out = convert_str("", &flags);
	assert_string_equal(out, "");
	assert_int_equal(flags, 0);
	free(out);
}

static void
test_undeclared_8bit_left(void **state)
{
	/* No Content-Transfer-Encoding: 7bit by definition; Postfix sends
	   such a body as it is and adds no MIME header. */
	const char *in = "Subject: hi\n\nna\xefve body\n";
	unsigned int flags;
	char *out = convert_str(in, &flags);

	(void)state;
	assert_string_equal(out, in);
	assert_int_equal(flags, MIME_8TO7_8BIT_LEFT);
	free(out);
}

static void
test_missing_end_boundary(void **state)
{
	const char *in = "Content-Type: multipart/mixed; boundary=zz\n"
			 "Content-Transfer-Encoding: 8bit\n"
			 "\n"
			 "--zz\n"
			 "Content-Transfer-Encoding: 8bit\n"
			 "\n"
			 "first \xe9\n"
			 "--zz\n"
			 "Content-Transfer-Encoding: 8bit\n"
			 "\n"
			 "second \xe9\n"
			 "--zz-but-not-quite\n" /* a prefix match: a boundary */
			 "Content-Transfer-Encoding: 8bit\n"
			 "\n"
			 "third \xe9 ";
	const char *want = "Content-Type: multipart/mixed; boundary=zz\n"
			   "Content-Transfer-Encoding: 7bit\n"
			   "\n"
			   "--zz\n"
			   "Content-Transfer-Encoding: quoted-printable\n"
			   "\n"
			   "first =E9\n"
			   "--zz\n"
			   "Content-Transfer-Encoding: quoted-printable\n"
			   "\n"
			   "second =E9\n"
			   "--zz-but-not-quite\n"
			   "Content-Transfer-Encoding: quoted-printable\n"
			   "\n"
			   "third =E9=20";
	unsigned int flags;
	char *out = convert_str(in, &flags);

	(void)state;
	assert_string_equal(out, want);
	assert_int_equal(flags, MIME_8TO7_CONVERTED | MIME_8TO7_CHANGED);
	free(out);
}

static void
test_broken_headers(void **state)
{
	unsigned int flags;
	char *out;

	(void)state;
	/* A primary header ended by a line that is no field: Postfix puts an
	   empty line before it. */
	out = convert_str("Subject: x\nContent-Transfer-Encoding: 8bit\n"
			  "body without a separator \xe9\n",
			  &flags);
	assert_string_equal(out, "Subject: x\n"
				 "Content-Transfer-Encoding: quoted-printable\n"
				 "\n"
				 "body without a separator =E9\n");
	free(out);
	/* A message of header only, no final line break. */
	out =
	    convert_str("Subject: x\nContent-Transfer-Encoding: 8bit", &flags);
	assert_string_equal(out,
			    "Subject: x\n"
			    "Content-Transfer-Encoding: quoted-printable\n");
	free(out);
	/* A header cut by a boundary: the part ends there. */
	out = convert_str("Content-Type: multipart/mixed; boundary=q\n\n"
			  "--q\nContent-Transfer-Encoding: 8bit\n--q\n"
			  "Content-Transfer-Encoding: 8bit\n\n\xff\n--q--\n",
			  &flags);
	assert_string_equal(out, "Content-Type: multipart/mixed; boundary=q\n\n"
				 "--q\n"
				 "Content-Transfer-Encoding: quoted-printable\n"
				 "--q\n"
				 "Content-Transfer-Encoding: quoted-printable\n"
				 "\n=FF\n--q--\n");
	free(out);
	/* message/partial may only be 7bit: relabelled, the body left. */
	out = convert_str("Content-Type: message/partial; id=x; number=1\n"
			  "Content-Transfer-Encoding: 8bit\n\n\xe9t\xe9\n",
			  &flags);
	assert_string_equal(out,
			    "Content-Type: message/partial; id=x; "
			    "number=1\n"
			    "Content-Transfer-Encoding: 7bit\n\n\xe9t\xe9\n");
	assert_int_equal(flags, MIME_8TO7_CONVERTED | MIME_8TO7_CHANGED |
				    MIME_8TO7_8BIT_LEFT);
	free(out);
	/* A header field over the limit passes unread and whole. */
	{
		struct strbuf in;
		size_t out_len;

		strbuf_init(&in, 1 << 20);
		strbuf_append_str(&in, "X-Long: ");
		for (int i = 0; i < MIME_8TO7_FIELD_MAX; i++)
			strbuf_append_char(&in, "ab\xe9"[i % 3]);
		strbuf_append_str(&in, "\n\tmore\nContent-Transfer-Encoding: "
				       "8bit\n\n\xe9\n");
		out = convert(in.data, in.len, &flags, &out_len);
		assert_int_equal(out_len, in.len + strlen("quoted-printable") -
					      strlen("8bit") + 2);
		assert_memory_equal(out, in.data,
				    in.len - strlen("8bit\n\n\xe9\n"));
		assert_string_equal(out + in.len - strlen("8bit\n\n\xe9\n"),
				    "quoted-printable\n\n=E9\n");
		free(out);
		strbuf_release(&in);
	}
}

static void
test_message_types(void **state)
{
	unsigned int flags;
	char *out;

	(void)state;
	/* message/global (RFC 6532 3.5) labelled 8bit is encoded whole. */
	out = convert_str("Content-Type: message/global\n"
			  "Content-Transfer-Encoding: 8bit\n\n"
			  "Subject: \xe9\nContent-Transfer-Encoding: 8bit\n\n"
			  "\xe9\n",
			  &flags);
	assert_string_equal(out, "Content-Type: message/global\n"
				 "Content-Transfer-Encoding: quoted-printable\n"
				 "\n"
				 "Subject: =E9\n"
				 "Content-Transfer-Encoding: 8bit\n\n=E9\n");
	assert_int_equal(flags, MIME_8TO7_CONVERTED | MIME_8TO7_CHANGED);
	free(out);
	/* A multipart/digest part without Content-Type is message/rfc822:
	   its own header is read (and its 8bit body converted). */
	out = convert_str("Content-Type: multipart/digest; boundary=d\n\n"
			  "--d\n\n"
			  "Subject: m\nContent-Transfer-Encoding: 8bit\n\n"
			  "\xe9\n--d--\n",
			  &flags);
	assert_string_equal(out,
			    "Content-Type: multipart/digest; boundary=d\n\n"
			    "--d\n\n"
			    "Subject: m\n"
			    "Content-Transfer-Encoding: quoted-printable\n"
			    "\n=E9\n--d--\n");
	free(out);
	/* Case and comments do not matter; an unknown encoding is left. */
	out = convert_str("content-transfer-encoding: (x) BINARY\n\n\xe9\n",
			  &flags);
	assert_string_equal(out, "Content-Transfer-Encoding: "
				 "quoted-printable\n\n=E9\n");
	free(out);
	out = convert_str("Content-Transfer-Encoding: x-uue\n\n\xe9\n", &flags);
	assert_string_equal(out, "Content-Transfer-Encoding: x-uue\n\n\xe9\n");
	assert_int_equal(flags, MIME_8TO7_8BIT_LEFT);
	free(out);
}

static int
fail_output(void *ctx, const char *data, size_t len)
{
	size_t *left = ctx;

	(void)data;
	if (len > *left)
		return -1;
	*left -= len;
	return 0;
}

static void
test_limits_and_errors(void **state)
{
	struct strbuf in;
	struct mime_8to7 *m;
	unsigned int flags;
	size_t out_len;
	int ret;
	char *out;

	(void)state;
	/* MIME_8TO7_MAX_DEPTH nested multiparts are fine, one more is not. */
	for (int depth = MIME_8TO7_MAX_DEPTH; depth <= MIME_8TO7_MAX_DEPTH + 1;
	     depth++) {
		strbuf_init(&in, 1 << 20);
		for (int i = 0; i < depth; i++)
			strbuf_printf(&in,
				      "Content-Type: multipart/mixed; "
				      "boundary=b%d\n\n--b%d\n",
				      i, i);
		strbuf_append_str(&in, "Content-Transfer-Encoding: 8bit\n\n"
				       "\xe9\n");
		out =
		    convert_chunked(in.data, in.len, 0, &flags, &out_len, &ret);
		if (depth == MIME_8TO7_MAX_DEPTH) {
			assert_int_equal(ret, 0);
			assert_int_equal(flags, MIME_8TO7_CONVERTED |
						    MIME_8TO7_CHANGED);
		} else {
			assert_int_equal(ret, -1);
			assert_true(flags & MIME_8TO7_ERR_NESTING);
		}
		free(out);
		strbuf_release(&in);
	}
	/* An output failure stops the conversion for good. */
	{
		size_t left = 12; /* the header and the empty line */

		m = mime_8to7_new(fail_output, &left);
		assert_int_equal(mime_8to7_feed(m, "Subject: a\n\n", 12), 0);
		assert_int_equal(mime_8to7_feed(m, "more\n", 5), -1);
		assert_int_equal(mime_8to7_feed(m, "x", 1), -1);
		assert_int_equal(mime_8to7_finish(m), -1);
		mime_8to7_free(&m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_part),
	    cmocka_unit_test(test_decoded_equals_original),
	    cmocka_unit_test(test_soft_breaks),
	    cmocka_unit_test(test_multipart_nested),
	    cmocka_unit_test(test_seven_bit_unchanged),
	    cmocka_unit_test(test_undeclared_8bit_left),
	    cmocka_unit_test(test_missing_end_boundary),
	    cmocka_unit_test(test_broken_headers),
	    cmocka_unit_test(test_message_types),
	    cmocka_unit_test(test_limits_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
