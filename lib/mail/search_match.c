/*
 * search_match - case-folded UTF-8 substring search for SEARCH (see
 * search_match.h). Text and key are untrusted; memory is bounded by the
 * key's length plus one chunk. No I/O, no logging.
 */
#include "mail/search_match.h"

#include <string.h>
#include "util/utf8.h"

#define REPLACEMENT 0xfffdU

/* Simple lower-case folding; *extra receives a second code point (for
   "ss"), else 0. */
static unsigned int
fold_cp(unsigned int cp, unsigned int *extra)
{
	*extra = 0;
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp == 0xb5)
		return 0x3bc;
	if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
		return cp + 32;
	if (cp == 0xdf || cp == 0x1e9e) {
		*extra = 's';
		return 's';
	}
	if (cp >= 0x100 && cp <= 0x17f) {
		if (cp == 0x130)
			return 'i';
		if (cp == 0x178)
			return 0xff;
		if (cp == 0x17f)
			return 's';
		if ((cp <= 0x137 || (cp >= 0x14a && cp <= 0x177)) &&
		    cp % 2 == 0)
			return cp + 1;
		if (((cp >= 0x139 && cp <= 0x148) ||
		     (cp >= 0x179 && cp <= 0x17e)) &&
		    cp % 2 == 1)
			return cp + 1;
		return cp;
	}
	if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2)
		return cp + 32;
	if (cp == 0x3c2)
		return 0x3c3;
	if (cp == 0x386)
		return 0x3ac;
	if (cp >= 0x388 && cp <= 0x38a)
		return cp + 37;
	if (cp == 0x38c)
		return 0x3cc;
	if (cp == 0x38e || cp == 0x38f)
		return cp + 63;
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 32;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 80;
	return cp;
}


/* Decodes one code point at p; returns its length (>= 1), with
   REPLACEMENT for an invalid byte. Returns 0 if the sequence is cut by
   the end of the data and may be completed by more. */
static size_t
decode_cp(const unsigned char *p, size_t left, unsigned int *cp_r)
{
	size_t n, i;
	unsigned int cp, min;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	else
		goto invalid;
	for (i = 1; i < n; i++) {
		if (i >= left)
			return 0;
		if ((p[i] & 0xc0) != 0x80)
			goto invalid;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto invalid;
	*cp_r = cp;
	return n;
invalid:
	*cp_r = REPLACEMENT;
	return 1;
}

/* Folds data; with keep_partial, an incomplete final sequence is not
   folded and its length returned in *rest_r. */
static int
fold(struct strbuf *out, const unsigned char *d, size_t len, bool keep_partial,
     size_t *rest_r)
{
	size_t i = 0;

	*rest_r = 0;
	while (i < len) {
		unsigned int cp, extra;
		size_t n = decode_cp(d + i, len - i, &cp);

		if (n == 0) {
			if (keep_partial) {
				*rest_r = len - i;
				return 0;
			}
			cp = REPLACEMENT;
			n = 1;
		}
		cp = fold_cp(cp, &extra);
		if (utf8_append(out, cp) < 0 ||
		    (extra != 0 && utf8_append(out, extra) < 0))
			return -1;
		i += n;
	}
	return 0;
}

int
search_fold(struct strbuf *out, const void *text, size_t len)
{
	size_t rest;

	return fold(out, text, len, false, &rest);
}

int
search_match_init(struct search_match *m, const char *key, size_t len,
		  size_t max_key)
{
	memset(m, 0, sizeof(*m));
	strbuf_init(&m->key, max_key);
	strbuf_init(&m->window, STRBUF_UNLIMITED);
	if (search_fold(&m->key, key, len) < 0) {
		search_match_deinit(m);
		return -1;
	}
	m->matched = m->key.len == 0;
	return 0;
}

static bool
window_search(struct search_match *m)
{
	const char *w = m->window.data;
	size_t wl = m->window.len, kl = m->key.len, i;

	if (wl >= kl) {
		for (i = 0; i + kl <= wl; i++) {
			if (w[i] == m->key.data[0] &&
			    memcmp(w + i, m->key.data, kl) == 0) {
				m->matched = true;
				break;
			}
		}
	}
	/* keep only what a later match could still start in */
	if (wl >= kl)
		strbuf_consume(&m->window, wl - (kl - 1));
	return m->matched;
}

bool
search_match_feed(struct search_match *m, const void *text, size_t len)
{
	const unsigned char *d = text;
	size_t rest;

	if (m->matched)
		return true;
	while (len > 0) {
		/* complete a sequence cut at the end of the last chunk */
		if (m->partial_len > 0) {
			unsigned char buf[8];
			size_t n = 0, take;

			while (n < m->partial_len) {
				buf[n] = m->partial[n];
				n++;
			}
			take =
			    len < 4 - m->partial_len ? len : 4 - m->partial_len;
			memcpy(buf + n, d, take);
			m->partial_len = 0;
			if (fold(&m->window, buf, n + take, true, &rest) < 0)
				return false;
			/* what was used of d: the folded bytes less those kept
			 */
			if (rest > 0) {
				if (rest > n + take - n) {
					/* still incomplete: keep all */
					memcpy(m->partial,
					       buf + (n + take - rest), rest);
					m->partial_len = rest;
					return false;
				}
				take -= rest;
			}
			d += take;
			len -= take;
			if (window_search(m))
				return true;
			continue;
		}
		{
			size_t chunk = len > 65536 ? 65536 : len;

			if (fold(&m->window, d, chunk, true, &rest) < 0)
				return false;
			if (rest > 0 && chunk < len) {
				/* not the end of the data: decode it whole */
				chunk -= rest;
				rest = 0;
			}
			if (rest > 0) {
				memcpy(m->partial, d + chunk - rest, rest);
				m->partial_len = rest;
			}
			d += chunk;
			len -= chunk;
			if (window_search(m))
				return true;
		}
	}
	return m->matched;
}

bool
search_match_finish(struct search_match *m)
{
	size_t rest;

	if (!m->matched && m->partial_len > 0) {
		if (fold(&m->window, m->partial, m->partial_len, false,
			 &rest) == 0)
			(void)window_search(m);
		m->partial_len = 0;
	}
	return m->matched;
}

void
search_match_deinit(struct search_match *m)
{
	strbuf_release(&m->key);
	strbuf_release(&m->window);
}

bool
search_match_substr(const void *text, size_t text_len, const char *key,
		    size_t key_len)
{
	struct search_match m;
	bool ret;

	if (search_match_init(&m, key, key_len, 4 * key_len + 16) < 0)
		return false;
	(void)search_match_feed(&m, text, text_len);
	ret = search_match_finish(&m);
	search_match_deinit(&m);
	return ret;
}
