/*
 * mutf7 - IMAP modified UTF-7 <-> UTF-8. Input untrusted; pure (no I/O,
 * no logging, no globals but the constant alphabet). Must not accept a
 * string that has two encodings, so a folder name maps to one directory.
 */
#include <stdint.h>
#include <string.h>

#include "mail/mutf7.h"
#include "util/strbuf.h"
#include "util/utf8.h"

static const char mutf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Decodes one UTF-8 sequence at s; returns its length, or 0 if invalid. */
static size_t
mutf7_utf8_get(const unsigned char *s, uint32_t *cp_r)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f;
		len = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		len = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		cp = s[0] & 0x07;
		len = 4;
	} else
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}


struct mutf7_enc {
	uint32_t bits;
	unsigned int nbits;
	int in_run;
};

static int
mutf7_enc_unit(struct mutf7_enc *e, struct strbuf *dest, uint32_t unit)
{
	if (!e->in_run) {
		if (strbuf_append_char(dest, '&') < 0)
			return -1;
		e->in_run = 1;
		e->bits = 0;
		e->nbits = 0;
	}
	e->bits = (e->bits << 16) | unit;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		if (strbuf_append_char(
			dest, mutf7_b64[(e->bits >> e->nbits) & 63]) < 0)
			return -1;
	}
	e->bits &= (1u << e->nbits) - 1;
	return 0;
}

static int
mutf7_enc_end(struct mutf7_enc *e, struct strbuf *dest)
{
	if (!e->in_run)
		return 0;
	e->in_run = 0;
	if (e->nbits > 0 &&
	    strbuf_append_char(dest,
			       mutf7_b64[(e->bits << (6 - e->nbits)) & 63]) < 0)
		return -1;
	return strbuf_append_char(dest, '-');
}

int
mutf7_encode(const char *src, struct strbuf *dest)
{
	const unsigned char *s = (const unsigned char *)src;
	struct mutf7_enc e = {0, 0, 0};
	uint32_t cp;
	size_t n;

	while (*s != '\0') {
		if (*s >= 0x20 && *s <= 0x7e) {
			if (mutf7_enc_end(&e, dest) < 0)
				return -1;
			if (*s == '&' ? strbuf_append_str(dest, "&-") < 0
				      : strbuf_append_char(dest, (char)*s) < 0)
				return -1;
			s++;
			continue;
		}
		if ((n = mutf7_utf8_get(s, &cp)) == 0)
			return -1;
		s += n;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (mutf7_enc_unit(&e, dest, 0xd800 | (cp >> 10)) < 0 ||
			    mutf7_enc_unit(&e, dest, 0xdc00 | (cp & 0x3ff)) < 0)
				return -1;
		} else if (mutf7_enc_unit(&e, dest, cp) < 0)
			return -1;
	}
	return mutf7_enc_end(&e, dest);
}

static int
mutf7_b64_value(unsigned char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(mutf7_b64, c)) == NULL)
		return -1;
	return (int)(p - mutf7_b64);
}

/* Decodes the base64 run starting after "&"; *sp ends after its "-". */
static int
mutf7_decode_run(const unsigned char **sp, struct strbuf *dest)
{
	const unsigned char *s = *sp;
	uint32_t bits = 0, high = 0, unit, cp;
	unsigned int nbits = 0, units = 0;
	int v;

	for (; *s != '-'; s++) {
		if ((v = mutf7_b64_value(*s)) < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			cp =
			    0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else {
			cp = unit;
		}
		/* Printable ASCII must be written directly; NUL never. */
		if (cp == 0 || (cp >= 0x20 && cp <= 0x7e))
			return -1;
		if (utf8_append(dest, cp) < 0)
			return -1;
	}
	if (high != 0 || units == 0 || nbits >= 6 || bits != 0)
		return -1;
	*sp = s + 1;
	return 0;
}

int
mutf7_decode(const char *src, struct strbuf *dest)
{
	const unsigned char *s = (const unsigned char *)src;

	while (*s != '\0') {
		if (*s < 0x20 || *s > 0x7e)
			return -1;
		if (*s != '&') {
			if (strbuf_append_char(dest, (char)*s) < 0)
				return -1;
			s++;
			continue;
		}
		s++;
		if (*s == '-') {
			if (strbuf_append_char(dest, '&') < 0)
				return -1;
			s++;
			continue;
		}
		if (mutf7_decode_run(&s, dest) < 0)
			return -1;
	}
	return 0;
}

bool
mutf7_is_valid(const char *src)
{
	struct strbuf sb;
	int ret;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	ret = mutf7_decode(src, &sb);
	strbuf_release(&sb);
	return ret == 0;
}
