/*
 * imap_quote - IMAP quoted strings and literals for responses (see
 * imap_quote.h). The strings come from untrusted messages; output goes
 * only to the caller's bounded strbuf. No I/O, no logging.
 */
#include "mail/imap_quote.h"

#include <string.h>

#include "util/strbuf.h"

static int
append_literal(struct strbuf *out, const char *s, size_t len)
{
	if (strbuf_printf(out, "{%zu}\r\n", len) < 0)
		return -1;
	return strbuf_append(out, s, len);
}

static int
append_nstring_len(struct strbuf *out, const char *s, size_t len)
{
	unsigned int escapes = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			if (++escapes > 4)
				return append_literal(out, s, len);
		} else if (c == '\r' || c == '\n' || c >= 0x80 || c == '\0') {
			return append_literal(out, s, len);
		}
	}
	if (strbuf_append_char(out, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if ((s[i] == '"' || s[i] == '\\') &&
		    strbuf_append_char(out, '\\') < 0)
			return -1;
		if (strbuf_append_char(out, s[i]) < 0)
			return -1;
	}
	return strbuf_append_char(out, '"');
}

int
imap_quote_nstring(struct strbuf *out, const char *s)
{
	if (s == NULL)
		return strbuf_append_str(out, "NIL");
	return append_nstring_len(out, s, strlen(s));
}

static bool
is_lwsp_or_nl(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
imap_quote_nstring_nolf(struct strbuf *out, const char *s)
{
	struct strbuf tmp;
	size_t i, len;
	int ret;

	if (s == NULL || strpbrk(s, "\r\n") == NULL)
		return imap_quote_nstring(out, s);
	len = strlen(s);
	strbuf_init(&tmp, 2 * len + 1);
	for (i = 0; i < len; i++) {
		if (s[i] != '\r' && s[i] != '\n')
			(void)strbuf_append_char(&tmp, s[i]);
		else if (i + 1 >= len || !is_lwsp_or_nl(s[i + 1]))
			(void)strbuf_append_char(&tmp, ' ');
	}
	ret = append_nstring_len(out, strbuf_cstr(&tmp), tmp.len);
	strbuf_release(&tmp);
	return ret;
}

int
imap_quote_human(struct strbuf *out, const char *s, size_t len)
{
	const unsigned char *src = (const unsigned char *)s;
	size_t i, remove = 0;
	bool prefix_ws = true, last_ws = true, modify = false;

	for (i = 0; i < len; i++) {
		if (src[i] <= ' ') {
			if (src[i] == '\r' || src[i] == '\n' || src[i] == '\t')
				modify = true;
			if (last_ws) {
				modify = true;
				remove++;
			}
			last_ws = true;
		} else {
			prefix_ws = false;
			last_ws = false;
			if (src[i] == '"' || src[i] == '\\' || src[i] >= 0x80)
				modify = true;
		}
	}
	if (last_ws && len > 0 && !prefix_ws) {
		modify = true;
		remove++;
	}
	if (!modify) {
		if (strbuf_append_char(out, '"') < 0 ||
		    strbuf_append(out, s, len) < 0)
			return -1;
		return strbuf_append_char(out, '"');
	}
	if (len == remove)
		return strbuf_append_str(out, "\"\"");
	if (strbuf_printf(out, "{%zu}\r\n", len - remove) < 0)
		return -1;
	last_ws = true;
	prefix_ws = true;
	for (i = 0; i < len; i++) {
		if (src[i] <= ' ') {
			if (last_ws)
				continue;
			last_ws = true;
			if (strbuf_append_char(out, ' ') < 0)
				return -1;
		} else {
			prefix_ws = false;
			last_ws = false;
			if (strbuf_append_char(out, (char)src[i]) < 0)
				return -1;
		}
	}
	if (last_ws && len > 0 && !prefix_ws)
		strbuf_truncate(out, out->len - 1);
	return 0;
}
