/*
 * imap_base_subject - RFC 5256 section 2.1 base subject extraction. The
 * subject comes from a message (untrusted); everything is bounded by its
 * length and done in one working copy.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "mail/imap_base_subject.h"
#include "mail/rfc822_header.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool
prefix_ci(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word), i;

	if (len < n)
		return false;
	for (i = 0; i < n; i++) {
		if (lower((unsigned char)s[i]) != word[i])
			return false;
	}
	return true;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s[pos]; returns the position after
   it, or 0 if there is none (a blob never starts at 0 after its match). */
static size_t
skip_blob(const char *s, size_t pos, size_t end)
{
	size_t p;

	if (pos >= end || s[pos] != '[')
		return 0;
	for (p = pos + 1; p < end && s[p] != ']'; p++) {
		if (s[p] == '[')
			return 0;
	}
	if (p == end)
		return 0;
	for (p++; p < end && s[p] == ' '; p++)
		;
	return p;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at s[pos];
   returns the position after the ':', or 0. */
static size_t
skip_refwd(const char *s, size_t pos, size_t end)
{
	static const char *const words[] = {"re", "fwd", "fw"};
	size_t i, p, q;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!prefix_ci(s + pos, end - pos, words[i]))
			continue;
		p = pos + strlen(words[i]);
		while (p < end && s[p] == ' ')
			p++;
		if ((q = skip_blob(s, p, end)) != 0)
			p = q;
		if (p < end && s[p] == ':')
			return p + 1;
	}
	return 0;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP; returns the position after
   it, or 0. */
static size_t
skip_leader(const char *s, size_t pos, size_t end, bool *refwd)
{
	size_t p = pos, q;

	if (pos < end && s[pos] == ' ')
		return pos + 1;
	while ((q = skip_blob(s, p, end)) != 0)
		p = q;
	if ((q = skip_refwd(s, p, end)) != 0) {
		*refwd = true;
		return q;
	}
	return 0;
}

int
imap_base_subject_text(struct strbuf *out, const char *text, size_t len,
		       bool *is_reply_r)
{
	char *s = xmalloc(len + 1);
	size_t start = 0, end = 0, i, q;
	bool reply = false, changed;
	int ret;

	/* (1) blanks and line breaks become one space */
	for (i = 0; i < len; i++) {
		char c = text[i];

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && end > 0 && s[end - 1] == ' ')
			continue;
		s[end++] = c;
	}
	for (;;) {
		/* (2) trailers: "(fwd)" and blanks */
		while (end > start) {
			if (s[end - 1] == ' ')
				end--;
			else if (end - start >= 5 &&
				 prefix_ci(s + end - 5, 5, "(fwd)")) {
				end -= 5;
				reply = true;
			} else
				break;
		}
		/* (3)-(5) leaders, and a blob that leaves something */
		do {
			changed = false;
			while ((q = skip_leader(s, start, end, &reply)) != 0) {
				start = q;
				changed = true;
			}
			if ((q = skip_blob(s, start, end)) != 0 && q < end) {
				start = q;
				changed = true;
			}
		} while (changed);
		/* (6) "[fwd:" ... "]" */
		if (end - start >= 6 &&
		    prefix_ci(s + start, end - start, "[fwd:") &&
		    s[end - 1] == ']') {
			start += 5;
			end--;
			reply = true;
			continue;
		}
		break;
	}
	ret = strbuf_append(out, s + start, end - start);
	xfree(&s);
	if (is_reply_r != NULL)
		*is_reply_r = reply;
	return ret;
}

int
imap_base_subject(struct strbuf *out, const char *value, size_t len,
		  bool *is_reply_r)
{
	struct strbuf dec;
	int ret;

	if (value == NULL)
		return imap_base_subject_text(out, "", 0, is_reply_r);
	/* decoded words are at most a few times longer than their text */
	strbuf_init(&dec, len * 4 + 16);
	if (rfc822_decode_words(&dec, value, len) < 0) {
		strbuf_release(&dec);
		return -1;
	}
	ret =
	    imap_base_subject_text(out, strbuf_cstr(&dec), dec.len, is_reply_r);
	strbuf_release(&dec);
	return ret;
}

int
imap_ascii_casemap_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i, n = alen < blen ? alen : blen;

	for (i = 0; i < n; i++) {
		int ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (ca >= 'a' && ca <= 'z')
			ca -= 'a' - 'A';
		if (cb >= 'a' && cb <= 'z')
			cb -= 'a' - 'A';
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}
