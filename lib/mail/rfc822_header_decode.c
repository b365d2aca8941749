/*
 * rfc822_header_decode - header text to UTF-8: RFC 2047 encoded words,
 * RFC 2231 extended parameter values and charset conversion with iconv
 * (see rfc822_header.h). Input is untrusted; output goes to the caller's
 * bounded strbuf. No I/O, no logging, no globals (an iconv descriptor is
 * opened per conversion and closed before returning).
 */
#include "mail/rfc822_header.h"
#include "util/base64.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>
#include "util/utf8.h"

#define RFC822_CHARSET_MAX 64


/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *p, size_t left)
{
	size_t n, i;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* UTF-8 kept where valid; other bytes are taken as Latin-1 (if latin1)
   or replaced by U+FFFD. */
static int
append_utf8_or(struct strbuf *out, const unsigned char *p, size_t len,
	       bool latin1)
{
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq_len(p + i, len - i);
		if (n > 0) {
			if (strbuf_append(out, p + i, n) < 0)
				return -1;
			i += n;
			continue;
		}
		if (utf8_append(out, latin1 ? p[i] : 0xfffd) < 0)
			return -1;
		i++;
	}
	return 0;
}

int
rfc822_charset_to_utf8(struct strbuf *out, const char *charset,
		       const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;
	iconv_t cd;
	char buf[1024];

	if (strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0 ||
	    strcasecmp(charset, "ascii") == 0 || charset[0] == '\0')
		return append_utf8_or(out, p, len, false);
	if (strcasecmp(charset, "iso-8859-1") == 0 ||
	    strcasecmp(charset, "latin1") == 0) {
		for (i = 0; i < len; i++) {
			if (utf8_append(out, p[i]) < 0)
				return -1;
		}
		return 0;
	}
	if ((cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return -1;
	{
		char *in = (char *)p;
		size_t inleft = len;
		size_t start_len = out->len;

		while (inleft > 0) {
			char *o = buf;
			size_t oleft = sizeof(buf);
			size_t r = iconv(cd, &in, &inleft, &o, &oleft);
			int err = errno;

			if (strbuf_append(out, buf, sizeof(buf) - oleft) < 0)
				goto overflow;
			if (r != (size_t)-1)
				continue;
			if (err == E2BIG)
				continue;
			/* invalid or incomplete: one U+FFFD, skip a byte */
			if (utf8_append(out, 0xfffd) < 0)
				goto overflow;
			in++;
			inleft--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
		iconv_close(cd);
		return 0;
	overflow:
		strbuf_truncate(out, start_len);
		iconv_close(cd);
		return -1;
	}
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the text of one encoded word into raw (bounded by its size). */
static void
decode_word_text(struct strbuf *raw, char enc, const unsigned char *t,
		 size_t len)
{
	size_t i;

	if (enc == 'Q' || enc == 'q') {
		for (i = 0; i < len; i++) {
			if (t[i] == '_') {
				(void)strbuf_append_char(raw, ' ');
			} else if (t[i] == '=' && i + 2 < len &&
				   hexval(t[i + 1]) >= 0 &&
				   hexval(t[i + 2]) >= 0) {
				(void)strbuf_append_char(
				    raw, (char)(hexval(t[i + 1]) * 16 +
						hexval(t[i + 2])));
				i += 2;
			} else {
				(void)strbuf_append_char(raw, (char)t[i]);
			}
		}
		return;
	}
	/* 'B': '=' padding and garbage are skipped; raw has room for all */
	(void)base64_decode(t, len, BASE64_DECODE_SKIP_INVALID, raw);
}

static bool
all_space(const unsigned char *p, const unsigned char *end)
{
	for (; p < end; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	}
	return true;
}

/* Matches "=?charset?E?text?=" at p. When the text has no end, *text_r
   and *stop_r tell where its scan began and stopped: no word starting in
   between can end either (this keeps decoding linear). */
static bool
match_word(const unsigned char *p, const unsigned char *end,
	   const unsigned char **cs_r, size_t *cs_len_r, char *enc_r,
	   const unsigned char **text_r, size_t *text_len_r, size_t *len_r,
	   const unsigned char **stop_r)
{
	const unsigned char *s = p + 2, *q;

	*stop_r = NULL;
	if (end - p < 8 || p[0] != '=' || p[1] != '?')
		return false;
	for (q = s; q < end && *q != '?'; q++) {
		if (*q <= ' ' || *q >= 0x7f || q - s > RFC822_CHARSET_MAX)
			return false;
	}
	if (q == s || q + 3 >= end || q[2] != '?')
		return false;
	if (q[1] != 'B' && q[1] != 'b' && q[1] != 'Q' && q[1] != 'q')
		return false;
	*cs_r = s;
	*cs_len_r = (size_t)(q - s);
	*enc_r = (char)q[1];
	*text_r = q + 3;
	for (q = q + 3; q + 1 < end; q++) {
		if (*q == '?' && q[1] == '=') {
			*text_len_r = (size_t)(q - *text_r);
			*len_r = (size_t)(q + 2 - p);
			return true;
		}
		if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			break;
	}
	*stop_r = q;
	return false;
}

int
rfc822_decode_words(struct strbuf *out, const char *value, size_t len)
{
	const unsigned char *p = (const unsigned char *)value, *end = p + len;
	const unsigned char *plain = p, *after_word = NULL;
	const unsigned char *fail_from = NULL, *fail_to = NULL, *stop;
	struct strbuf raw;
	int ret = 0;

	strbuf_init(&raw, len + 1);
	while (p < end && ret == 0) {
		const unsigned char *cs, *text;
		size_t cs_len, text_len, wlen;
		char enc, charset[RFC822_CHARSET_MAX + 1];
		char *star;

		if (p >= fail_from && p < fail_to) {
			p++;
			continue;
		}
		if (!match_word(p, end, &cs, &cs_len, &enc, &text, &text_len,
				&wlen, &stop) ||
		    cs_len > RFC822_CHARSET_MAX) {
			if (stop != NULL) {
				fail_from = text;
				fail_to = stop;
			}
			p++;
			continue;
		}
		/* plain text before the word, unless it is only the white
		   space between two encoded words */
		if (after_word == NULL || !all_space(plain, p)) {
			struct strbuf tmp;

			strbuf_init(&tmp, (size_t)(p - plain) + 1);
			(void)rfc822_unfold(&tmp, (const char *)plain,
					    (size_t)(p - plain));
			ret = append_utf8_or(
			    out, (const unsigned char *)strbuf_cstr(&tmp),
			    tmp.len, true);
			strbuf_release(&tmp);
		}
		memcpy(charset, cs, cs_len);
		charset[cs_len] = '\0';
		if ((star = strchr(charset, '*')) != NULL)
			*star = '\0'; /* RFC 2231 language suffix */
		strbuf_reset(&raw);
		decode_word_text(&raw, enc, text, text_len);
		if (ret == 0 &&
		    rfc822_charset_to_utf8(out, charset, raw.data, raw.len) < 0)
			ret = append_utf8_or(out, p, wlen, true);
		p += wlen;
		plain = after_word = p;
	}
	if (ret == 0 && plain < end) {
		struct strbuf tmp;

		strbuf_init(&tmp, (size_t)(end - plain) + 1);
		(void)rfc822_unfold(&tmp, (const char *)plain,
				    (size_t)(end - plain));
		ret = append_utf8_or(out,
				     (const unsigned char *)strbuf_cstr(&tmp),
				     tmp.len, true);
		strbuf_release(&tmp);
	}
	strbuf_release(&raw);
	return ret;
}

int
rfc822_param_decode(struct strbuf *out, const struct rfc822_param *param)
{
	size_t nlen = strlen(param->name);
	const char *v = param->value, *q1, *q2;
	char charset[RFC822_CHARSET_MAX + 1];
	struct strbuf raw;
	int ret;

	if (nlen == 0 || param->name[nlen - 1] != '*' ||
	    (q1 = strchr(v, '\'')) == NULL ||
	    (q2 = strchr(q1 + 1, '\'')) == NULL)
		return rfc822_decode_words(out, v, strlen(v));
	if ((size_t)(q1 - v) > RFC822_CHARSET_MAX)
		return append_utf8_or(out, (const unsigned char *)v, strlen(v),
				      true);
	memcpy(charset, v, (size_t)(q1 - v));
	charset[q1 - v] = '\0';
	strbuf_init(&raw, strlen(q2) + 1);
	for (v = q2 + 1; *v != '\0'; v++) {
		if (*v == '%' && hexval((unsigned char)v[1]) >= 0 &&
		    hexval((unsigned char)v[2]) >= 0) {
			(void)strbuf_append_char(
			    &raw, (char)(hexval((unsigned char)v[1]) * 16 +
					 hexval((unsigned char)v[2])));
			v += 2;
		} else {
			(void)strbuf_append_char(&raw, *v);
		}
	}
	ret = rfc822_charset_to_utf8(out, charset, raw.data, raw.len);
	if (ret < 0)
		ret = append_utf8_or(out, (const unsigned char *)raw.data,
				     raw.len, true);
	strbuf_release(&raw);
	return ret;
}
