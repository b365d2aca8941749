/*
 * smtp_reply - SMTP/LMTP reply reader and writer. Reply lines are hostile
 * input from remote servers, bounded by the caller's limits; the reader
 * keeps only a bounded strbuf. Must not do I/O or log.
 */
#include "mail/smtp_reply.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
smtp_reply_init(struct smtp_reply *reply,
		const struct smtp_reply_limits *limits)
{
	memset(reply, 0, sizeof(*reply));
	if (limits != NULL)
		reply->limits = *limits;
	if (reply->limits.max_line == 0)
		reply->limits.max_line = SMTP_REPLY_DEFAULT_MAX_LINE;
	if (reply->limits.max_line < SMTP_REPLY_MIN_MAX_LINE)
		reply->limits.max_line = SMTP_REPLY_MIN_MAX_LINE;
	if (reply->limits.max_lines == 0)
		reply->limits.max_lines = SMTP_REPLY_DEFAULT_MAX_LINES;
	if (reply->limits.max_total == 0)
		reply->limits.max_total = SMTP_REPLY_DEFAULT_MAX_TOTAL;
	strbuf_init(&reply->text, reply->limits.max_total);
}

void
smtp_reply_deinit(struct smtp_reply *reply)
{
	strbuf_release(&reply->text);
}

void
smtp_reply_reset(struct smtp_reply *reply)
{
	strbuf_reset(&reply->text);
	reply->code = 0;
	reply->enhanced[0] = '\0';
	reply->lines = 0;
	reply->complete = false;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Returns the length of an enhanced code "C.S.D" at s followed by a space
   or the end, 0 if there is none. */
static size_t
enhanced_len(const char *s, size_t len, char class_digit)
{
	size_t i = 0, part, n;

	if (len < 5 || s[0] != class_digit || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && is_digit(s[i]) && n < 4; i++)
			n++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

int
smtp_reply_feed(struct smtp_reply *reply, const char *line, size_t len,
		const char **error_r)
{
	unsigned int code;
	const char *text;
	size_t tlen, elen, i;
	bool last;

	if (reply->complete) {
		*error_r = "line after the end of the reply";
		return -1;
	}
	if (len > reply->limits.max_line) {
		*error_r = "reply line too long";
		return -1;
	}
	if (reply->lines >= reply->limits.max_lines) {
		*error_r = "too many reply lines";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n') {
			*error_r = "control character in reply";
			return -1;
		}
	}
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) ||
	    !is_digit(line[2]) || line[0] < '2' || line[0] > '5' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		*error_r = "malformed reply code";
		return -1;
	}
	code = (unsigned int)((line[0] - '0') * 100 + (line[1] - '0') * 10 +
			      (line[2] - '0'));
	if (reply->lines > 0 && code != reply->code) {
		*error_r = "reply code differs between lines";
		return -1;
	}
	last = len == 3 || line[3] == ' ';
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;

	elen = line[0] == '3' ? 0 : enhanced_len(text, tlen, line[0]);
	if (reply->lines == 0) {
		if (elen > 0 && elen < sizeof(reply->enhanced)) {
			memcpy(reply->enhanced, text, elen);
			reply->enhanced[elen] = '\0';
		}
	}
	if (reply->enhanced[0] != '\0' && elen == strlen(reply->enhanced) &&
	    memcmp(text, reply->enhanced, elen) == 0) {
		text += elen;
		tlen -= elen;
		if (tlen > 0) {
			text++;
			tlen--;
		}
	}
	if ((reply->lines > 0 && strbuf_append_char(&reply->text, '\n') < 0) ||
	    strbuf_append(&reply->text, text, tlen) < 0) {
		*error_r = "reply too long";
		return -1;
	}
	reply->code = code;
	reply->lines++;
	if (!last)
		return 0;
	reply->complete = true;
	return 1;
}

int
smtp_reply_finish(const struct smtp_reply *reply, const char **error_r)
{
	if (reply->lines > 0 && !reply->complete) {
		*error_r = "connection closed in the middle of a reply";
		return -1;
	}
	return 0;
}

int
smtp_reply_format(struct strbuf *out, unsigned int code, const char *enhanced,
		  const char *text)
{
	const char *p, *nl;
	size_t i;

	if (code < 200 || code > 599)
		return -1;
	for (i = 0; text[i] != '\0'; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 32 && c != '\t' && c != '\n') || c == 127)
			return -1;
	}
	if (enhanced != NULL && strpbrk(enhanced, "\r\n") != NULL)
		return -1;
	p = text;
	do {
		nl = strchr(p, '\n');
		if (strbuf_printf(out, "%03u%c", code, nl != NULL ? '-' : ' ') <
		    0)
			return -1;
		if (enhanced != NULL && enhanced[0] != '\0') {
			if (strbuf_append_str(out, enhanced) < 0 ||
			    (*p != '\0' && *p != '\n' &&
			     strbuf_append_char(out, ' ') < 0))
				return -1;
		}
		if (strbuf_append(out, p,
				  nl != NULL ? (size_t)(nl - p) : strlen(p)) <
			0 ||
		    strbuf_append(out, "\r\n", 2) < 0)
			return -1;
		p = nl != NULL ? nl + 1 : NULL;
	} while (p != NULL);
	return 0;
}

void
smtp_ehlo_parse(struct smtp_ehlo *ehlo, const struct smtp_reply *reply)
{
	const char *p = strchr(strbuf_cstr(&reply->text), '\n');

	memset(ehlo, 0, sizeof(*ehlo));
	while (p != NULL) {
		const char *kw = p + 1, *end = strchr(kw, '\n');
		size_t len = end == NULL ? strlen(kw) : (size_t)(end - kw);
		size_t wlen = strcspn(kw, " \n");

		if (wlen > len)
			wlen = len;
#define KW(name) (wlen == strlen(name) && strncasecmp(kw, name, wlen) == 0)
		if (KW("PIPELINING")) {
			ehlo->pipelining = true;
		} else if (KW("DSN")) {
			ehlo->dsn = true;
		} else if (KW("8BITMIME")) {
			ehlo->eightbit = true;
		} else if (KW("SMTPUTF8")) {
			ehlo->smtputf8 = true;
		} else if (KW("STARTTLS")) {
			ehlo->starttls = true;
		} else if (KW("SIZE")) {
			ehlo->size = true;
			if (kw[wlen] == ' ' && kw[wlen + 1] >= '0' &&
			    kw[wlen + 1] <= '9') {
				char *e;
				unsigned long long v =
				    strtoull(kw + wlen + 1, &e, 10);

				if (e > kw + wlen + 1 && (*e == '\0' || *e == '\n'))
					ehlo->size_limit = v;
			}
		}
#undef KW
		p = end;
	}
}
