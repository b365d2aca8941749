/*
 * imap_write - IMAP output string formatting (see imap_write.h). The
 * strings may be untrusted (message headers, client-chosen names); the
 * form is chosen so that no byte can break the response framing. No I/O,
 * no logging.
 */
#include "mail/imap_write.h"

#include <string.h>
#include <strings.h>

#include "mail/mutf7.h"
#include "util/strbuf.h"

bool
imap_write_can_quote(const char *s, size_t len, unsigned int flags)
{
	size_t i;

	if (len > IMAP_WRITE_QUOTED_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n')
			return false;
		if (c >= 0x80 && (flags & IMAP_WRITE_UTF8) == 0)
			return false;
	}
	return true;
}

int
imap_write_quoted(struct strbuf *sb, const char *s, size_t len)
{
	size_t start = sb->len, i;
	int ret;

	if (!imap_write_can_quote(s, len, IMAP_WRITE_UTF8))
		return -1;
	ret = strbuf_append_char(sb, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			ret |= strbuf_append_char(sb, '\\');
		ret |= strbuf_append_char(sb, s[i]);
	}
	ret |= strbuf_append_char(sb, '"');
	if (ret < 0) {
		strbuf_truncate(sb, start);
		return -1;
	}
	return 0;
}

int
imap_write_literal(struct strbuf *sb, const char *s, size_t len, bool binary)
{
	size_t start = sb->len;

	if (strbuf_printf(sb, "%s{%zu}\r\n", binary ? "~" : "", len) < 0 ||
	    strbuf_append(sb, s, len) < 0) {
		strbuf_truncate(sb, start);
		return -1;
	}
	return 0;
}

int
imap_write_string(struct strbuf *sb, const char *s, size_t len,
		  unsigned int flags)
{
	if (imap_write_can_quote(s, len, flags))
		return imap_write_quoted(sb, s, len);
	return imap_write_literal(sb, s, len, false);
}

int
imap_write_nstring(struct strbuf *sb, const char *s, size_t len,
		   unsigned int flags)
{
	if (s == NULL)
		return strbuf_append_str(sb, "NIL");
	return imap_write_string(sb, s, len, flags);
}

static bool
is_astring_char(unsigned char c)
{
	/* ATOM-CHAR plus resp-specials ("]"); no list-wildcards, quoted-
	   specials, parentheses or "{" */
	return c > 32 && c < 127 && c != '(' && c != ')' && c != '{' &&
	       c != '%' && c != '*' && c != '"' && c != '\\';
}

int
imap_write_astring(struct strbuf *sb, const char *s, size_t len,
		   unsigned int flags)
{
	size_t i;

	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return imap_write_string(sb, s, len, flags);
	for (i = 0; i < len; i++) {
		if (!is_astring_char((unsigned char)s[i]))
			return imap_write_string(sb, s, len, flags);
	}
	return strbuf_append(sb, s, len);
}

int
imap_write_mailbox(struct strbuf *sb, const char *name, unsigned int flags)
{
	struct strbuf enc;
	int ret;

	/* the encoder also validates the UTF-8 of a name sent as is */
	strbuf_init(&enc, STRBUF_UNLIMITED);
	if (mutf7_encode(name, &enc) < 0) {
		strbuf_release(&enc);
		return -1;
	}
	if ((flags & IMAP_WRITE_UTF8) != 0)
		ret = imap_write_astring(sb, name, strlen(name), flags);
	else
		ret = imap_write_astring(sb, strbuf_cstr(&enc), enc.len, flags);
	strbuf_release(&enc);
	return ret;
}
