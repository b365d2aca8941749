/*
 * xtext - RFC 3461 xtext encode/decode. Input is untrusted network data,
 * bounded by the caller's length; output goes into a bounded strbuf. Must
 * not do I/O or log.
 */
#include "mail/xtext.h"

#include "util/strbuf.h"

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
xtext_decode(const char *s, size_t len, struct strbuf *out,
	     const char **error_r)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi, lo;

		if (c < '!' || c > '~') {
			*error_r = "invalid character in xtext";
			return -1;
		}
		if (c == '+') {
			if (len - i < 3 ||
			    (hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0) {
				*error_r = "invalid xtext escape";
				return -1;
			}
			c = (unsigned char)(hi * 16 + lo);
			if (c < 0x20 || c == 0x7f) {
				*error_r = "xtext escape decodes to a control "
					   "character";
				return -1;
			}
			i += 2;
		}
		if (strbuf_append_char(out, (char)c) < 0) {
			*error_r = "xtext value too long";
			return -1;
		}
	}
	return 0;
}

int
xtext_encode(const void *data, size_t len, struct strbuf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= '!' && p[i] <= '~' && p[i] != '+' && p[i] != '=') {
			if (strbuf_append_char(out, (char)p[i]) < 0)
				return -1;
		} else {
			char esc[3] = {'+', hex[p[i] >> 4], hex[p[i] & 15]};

			if (strbuf_append(out, esc, sizeof(esc)) < 0)
				return -1;
		}
	}
	return 0;
}
