/*
 * maildir_keywords - parse and write dovecot-keywords. Untrusted content,
 * pure code: no I/O, no logging.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/maildir_keywords.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* IMAP atom characters (RFC 3501 ATOM-CHAR minus nothing: keywords may
 * not contain specials, '\' or '%' '*'). */
static bool
keyword_is_atom(const char *p, size_t len)
{
	if (len == 0 || len > MAILDIR_KEYWORD_LEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

void
maildir_keywords_clear(struct maildir_keywords *kw)
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		xfree(&kw->names[i]);
}

int
maildir_keywords_parse(const char *data, size_t len,
		       struct maildir_keywords *kw, const char **error_r)
{
	const char *p = data, *end = data + len, *eol, *sp;

	memset(kw, 0, sizeof(*kw));
	while (p < end) {
		unsigned int idx = 0;
		size_t digits = 0;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (eol == p) {
			p++;
			continue;
		}
		sp = memchr(p, ' ', (size_t)(eol - p));
		if (sp == NULL || sp == p || sp - p > 2) {
			*error_r = "malformed line";
			goto fail;
		}
		for (const char *d = p; d < sp; d++, digits++) {
			if (*d < '0' || *d > '9') {
				*error_r = "malformed index";
				goto fail;
			}
			idx = idx * 10 + (unsigned int)(*d - '0');
		}
		if (idx >= MAILDIR_KEYWORDS_MAX) {
			*error_r = "index out of range";
			goto fail;
		}
		if (kw->names[idx] != NULL) {
			*error_r = "duplicate index";
			goto fail;
		}
		if (!keyword_is_atom(sp + 1, (size_t)(eol - sp - 1))) {
			*error_r = "invalid keyword";
			goto fail;
		}
		kw->names[idx] = xstrndup(sp + 1, (size_t)(eol - sp - 1));
		for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
			if (i != idx && kw->names[i] != NULL &&
			    strcasecmp(kw->names[i], kw->names[idx]) == 0) {
				*error_r = "duplicate keyword";
				goto fail;
			}
		}
		p = eol + 1;
	}
	return 0;
fail:
	maildir_keywords_clear(kw);
	return -1;
}

char *
maildir_keywords_serialize(const struct maildir_keywords *kw, size_t *len_r)
{
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&sb, "");
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL)
			(void)strbuf_printf(&sb, "%zu %s\n", i, kw->names[i]);
	}
	*len_r = sb.len;
	return strbuf_steal(&sb);
}

char
maildir_keywords_letter(const struct maildir_keywords *kw, const char *name)
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL && strcasecmp(kw->names[i], name) == 0)
			return (char)('a' + i);
	}
	return 0;
}
