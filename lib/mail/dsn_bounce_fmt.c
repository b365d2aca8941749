/*
 * dsn_bounce_fmt - text helpers for dsn_bounce: RFC 5322 dates, cleaning
 * and folding of untrusted header and field values, quoted-printable.
 * Input is hostile (addresses and reply texts from the network); every
 * output is bounded by the caller's strbuf and by explicit widths.
 * Pure: no I/O, no logging, no globals.
 */
#include "mail/dsn_bounce_private.h"

#include <stdio.h>
#include <string.h>

void
dsn_fmt_date(time_t t, char *buf, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		snprintf(buf, size, "Thu, 1 Jan 1970 00:00:00 +0000 (UTC)");
		return;
	}
	snprintf(buf, size, "%s, %d %s %d %02d:%02d:%02d +0000 (UTC)",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
dsn_clean_append(struct strbuf *out, const char *s, size_t max, bool utf8)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80 && !utf8)
			c = '?';
		if (strbuf_append_char(out, (char)c) < 0)
			return -1;
	}
	if (s[i] != '\0' && strbuf_append_str(out, "...") < 0)
		return -1;
	return 0;
}

int
dsn_field_append(struct strbuf *out, const char *name, const char *value)
{
	if (strbuf_printf(out, "%s:", name) < 0)
		return -1;
	return dsn_fold_append(out, strlen(name) + 1, true, value);
}

int
dsn_fold_append(struct strbuf *out, size_t col, bool space_first,
		const char *value)
{
	size_t len = strlen(value), pos = 0;
	bool first = true;

	/* Cleaned CR/LF become trailing spaces: drop them. */
	while (len > 0 && value[len - 1] == ' ')
		len--;

	while (pos < len) {
		size_t start = pos, wlen;

		/* A word with its leading spaces. */
		while (pos < len && value[pos] == ' ')
			pos++;
		while (pos < len && value[pos] != ' ')
			pos++;
		wlen = pos - start;
		if (!first && col + wlen > DSN_FOLD_WIDTH) {
			/* Fold before the word: the leading space (or one we
			 * add) starts the continuation line. */
			if (strbuf_append(out, "\r\n", 2) < 0)
				return -1;
			col = 0;
			if (value[start] != ' ') {
				if (strbuf_append_char(out, ' ') < 0)
					return -1;
				col = 1;
			}
		} else if (first && space_first && value[start] != ' ') {
			if (strbuf_append_char(out, ' ') < 0)
				return -1;
			col++;
		}
		first = false;
		while (wlen > 0) {
			size_t take = wlen;

			if (col + take > DSN_HARD_WIDTH) {
				take = DSN_HARD_WIDTH > col
					   ? DSN_HARD_WIDTH - col
					   : 0;
				if (take == 0) {
					if (strbuf_append(out, "\r\n ", 3) < 0)
						return -1;
					col = 1;
					continue;
				}
			}
			if (strbuf_append(out, value + start, take) < 0)
				return -1;
			col += take;
			start += take;
			wlen -= take;
		}
	}
	return strbuf_append(out, "\r\n", 2);
}

int
dsn_qp_append(struct strbuf *out, const char *data, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		char enc[3];
		size_t elen = 1;

		if (c == '\r' && i + 1 < len && data[i + 1] == '\n') {
			if (strbuf_append(out, "\r\n", 2) < 0)
				return -1;
			i++;
			col = 0;
			continue;
		}
		enc[0] = (char)c;
		/* Space and tab stay unless they end a line. */
		bool ws_at_eol = (c == ' ' || c == '\t') &&
				 (i + 1 == len || data[i + 1] == '\r');
		if ((c < 33 && c != ' ' && c != '\t') || c > 126 || c == '=' ||
		    ws_at_eol) {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			elen = 3;
		}
		if (col + elen > 75) {
			if (strbuf_append(out, "=\r\n", 3) < 0)
				return -1;
			col = 0;
		}
		if (strbuf_append(out, enc, elen) < 0)
			return -1;
		col += elen;
	}
	return 0;
}

bool
dsn_needs_encoding(const char *data, size_t len, bool *eight_r)
{
	size_t linelen = 0;
	bool bad = false;

	*eight_r = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c >= 0x80)
			*eight_r = true;
		if (c == '\r' && i + 1 < len && data[i + 1] == '\n') {
			i++;
			linelen = 0;
			continue;
		}
		if (c == '\0' || c == '\r' || c == '\n' || ++linelen > 998)
			bad = true;
	}
	return bad;
}

bool
dsn_has_8bit(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}
