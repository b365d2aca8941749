/*
 * sendmail_headers - recipient addresses from To:, Cc: and Bcc: for
 * "sendmail -t". Input is the local user's message: bounded by the
 * caller (SENDMAIL_MAX_HEADER), parsed without I/O. Handles quoted
 * strings, comments, <angle> addresses and groups ("list: a, b;").
 */
#include <stdlib.h>
#include <string.h>

#include "sendmail.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static void
sendmail_add_rcpt(struct sendmail_msg *msg, const char *addr, size_t len)
{
	while (len > 0 && (*addr == ' ' || *addr == '\t')) {
		addr++;
		len--;
	}
	while (len > 0 && (addr[len - 1] == ' ' || addr[len - 1] == '\t'))
		len--;
	if (len == 0 || msg->n_rcpts >= SENDMAIL_MAX_RCPTS)
		return;
	msg->rcpts =
	    xreallocarray(msg->rcpts, msg->n_rcpts + 1, sizeof(char *));
	msg->rcpts[msg->n_rcpts++] = xstrndup(addr, len);
}

/* One element: the <...> part if any, else the text without comments
 * and display-name quotes. */
static void
sendmail_element(struct sendmail_msg *msg, const char *s, size_t len)
{
	struct strbuf plain, angle;
	int depth = 0;
	bool quoted = false, in_angle = false, have_angle = false;

	strbuf_init(&plain, SENDMAIL_MAX_HEADER);
	strbuf_init(&angle, SENDMAIL_MAX_HEADER);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (quoted) {
			if (c == '\\' && i + 1 < len)
				c = s[++i];
			else if (c == '"') {
				quoted = false;
			}
			strbuf_append_char(in_angle ? &angle : &plain, c);
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth++;
		} else if (c == '"') {
			quoted = true;
			strbuf_append_char(in_angle ? &angle : &plain, c);
		} else if (c == '<') {
			in_angle = true;
			have_angle = true;
			strbuf_reset(&angle);
		} else if (c == '>') {
			in_angle = false;
		} else {
			strbuf_append_char(in_angle ? &angle : &plain, c);
		}
	}
	if (have_angle)
		sendmail_add_rcpt(msg, strbuf_cstr(&angle), angle.len);
	else
		sendmail_add_rcpt(msg, strbuf_cstr(&plain), plain.len);
	strbuf_release(&plain);
	strbuf_release(&angle);
}

void
sendmail_header_rcpts(const char *value, struct sendmail_msg *msg)
{
	size_t start = 0, i;
	int depth = 0;
	bool quoted = false, in_angle = false;

	for (i = 0;; i++) {
		char c = value[i];

		if (c == '\0' || (!quoted && depth == 0 && !in_angle &&
				  (c == ',' || c == ';' || c == ':'))) {
			/* "group:" names a group, not an address. */
			if (c != ':')
				sendmail_element(msg, value + start, i - start);
			if (c == '\0')
				break;
			start = i + 1;
			continue;
		}
		if (quoted) {
			if (c == '\\' && value[i + 1] != '\0')
				i++;
			else if (c == '"')
				quoted = false;
		} else if (depth > 0) {
			if (c == '\\' && value[i + 1] != '\0')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '"') {
			quoted = true;
		} else if (c == '(') {
			depth++;
		} else if (c == '<') {
			in_angle = true;
		} else if (c == '>') {
			in_angle = false;
		}
	}
}
