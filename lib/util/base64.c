/*
 * base64 - RFC 4648 base64 codec (see base64.h). Decoder input is
 * untrusted; output is bounded by the caller's strbuf. Pure: no I/O, no
 * logging, no globals beyond the constant alphabet. No mail knowledge.
 */
#include "util/base64.h"

#include <stdbool.h>

#include "util/strbuf.h"
#include "util/xmem.h"

static const char base64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes into out (room for base64_decoded_max_len(len) bytes). */
static int
decode_into(const unsigned char *s, size_t len, unsigned int flags,
	    unsigned char *out, size_t *out_len_r)
{
	size_t i, o = 0, data_len = len;
	unsigned int acc = 0, bits = 0;
	bool skip = (flags & BASE64_DECODE_SKIP_INVALID) != 0;

	if (!skip) {
		/* Up to two '=' at the end, and only to complete a quantum. */
		while (data_len > 0 && s[data_len - 1] == '=' &&
		       len - data_len < 2)
			data_len--;
		if (data_len != len && len % 4 != 0)
			return -1;
		if ((flags & BASE64_DECODE_PAD_REQUIRED) != 0 && len % 4 != 0)
			return -1;
		if (data_len % 4 == 1)
			return -1;
	}
	for (i = 0; i < data_len; i++) {
		int v = base64_value(s[i]);

		if (v < 0) {
			if (skip)
				continue;
			return -1;
		}
		acc = ((acc << 6) | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	/* Unused low bits of the last character must be zero (canonical). */
	if (!skip && (flags & BASE64_DECODE_IGNORE_UNUSED_BITS) == 0 &&
	    bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	*out_len_r = o;
	return 0;
}

int
base64_decode(const void *src, size_t len, unsigned int flags,
	      struct strbuf *dest)
{
	size_t size = base64_decoded_max_len(len), out_len = 0;
	unsigned char *out;
	int ret = -1;

	/* One temporary buffer, wiped after use, and one append: decoded
	   secrets leave no copies in memory freed by strbuf growth. */
	out = xmalloc(size + 1);
	if (decode_into(src, len, flags, out, &out_len) == 0 &&
	    strbuf_append(dest, out, out_len) == 0)
		ret = 0;
	xmem_wipe(out, size + 1);
	xfree(&out);
	return ret;
}

int
base64_encode(const void *data, size_t len, struct strbuf *dest)
{
	const unsigned char *p = data;
	size_t orig = dest->len, i;
	char out[4];

	for (i = 0; i < len; i += 3) {
		unsigned int v = (unsigned int)p[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (unsigned int)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[0] = base64_chars[(v >> 18) & 63];
		out[1] = base64_chars[(v >> 12) & 63];
		out[2] = left > 1 ? base64_chars[(v >> 6) & 63] : '=';
		out[3] = left > 2 ? base64_chars[v & 63] : '=';
		if (strbuf_append(dest, out, 4) < 0) {
			strbuf_truncate(dest, orig);
			return -1;
		}
	}
	return 0;
}

size_t
base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

size_t
base64_decoded_max_len(size_t len)
{
	return len / 4 * 3 + (len % 4 == 0 ? 0 : 2);
}
