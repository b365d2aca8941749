/*
 * dovetail_acct_util - what the account commands and backends share: the
 * string lists, backend errors and closing, and the checks every domain,
 * address and alias source passes before a backend sees it (RFC 5321
 * lengths; no white space, controls or the characters that delimit
 * passwd-file fields and alias lists). Input: the admin's command line.
 * Pure: no I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dovetail_acct.h"
#include "util/xmem.h"

/* The tutorial schema's columns are shorter; RFC 5321 limits here. */
#define ACCT_LOCAL_MAX 64
#define ACCT_DOMAIN_MAX 253
#define ACCT_ADDRESS_MAX 254

void
acct_list_add(struct acct_list *list, const char *item)
{
	list->items =
	    xreallocarray(list->items, list->n + 1, sizeof(*list->items));
	list->items[list->n++] = xstrdup(item);
}

void
acct_list_free(struct acct_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		xfree(&list->items[i]);
	xfree(&list->items);
	list->n = 0;
}

const char *
acct_backend_error(struct acct_backend *b, const char *fmt, ...)
{
	va_list ap;
	char *msg, *old = b->error;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	b->error = msg != NULL ? msg : xstrdup("out of memory");
	xfree(&old);
	return b->error;
}

void
acct_backend_close(struct acct_backend **bp)
{
	struct acct_backend *b = *bp;

	if (b == NULL)
		return;
	b->v->close(b);
	xfree(&b->spec);
	xfree(&b->error);
	xfree(bp);
}

static void
acct_lower(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

int
dovetail_acct_check_domain(char *s, const char **error_r)
{
	size_t len = strlen(s), label = 0;

	acct_lower(s);
	if (len == 0 || len > ACCT_DOMAIN_MAX) {
		*error_r = "a domain name has 1 to 253 characters";
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-') {
				*error_r = "not a domain name (empty, too long "
					   "or hyphen-ended label)";
				return -1;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   (c == '-' && label > 0)) {
			label++;
		} else {
			*error_r = "not a domain name (letters, digits, \"-\" "
				   "and \".\" only; IDNs in their xn-- form)";
			return -1;
		}
	}
	return 0;
}

int
dovetail_acct_check_address(char *s, const char **domain_r,
			    const char **error_r)
{
	char *at = strrchr(s, '@');
	size_t local_len;

	if (at == NULL || at == s) {
		*error_r = "not an address (expected local-part@domain)";
		return -1;
	}
	local_len = (size_t)(at - s);
	if (local_len > ACCT_LOCAL_MAX || strlen(s) > ACCT_ADDRESS_MAX) {
		*error_r = "address too long (local part at most 64, address "
			   "at most 254 characters)";
		return -1;
	}
	/* No white space, controls or the characters that delimit fields
	 * in passwd-file and alias lists; UTF-8 bytes are allowed. */
	for (size_t i = 0; i < local_len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f ||
		    strchr("\"(),:;<>@[\\]", c) != NULL) {
			*error_r = "the local part has a character that is not "
				   "allowed (space, control or one of "
				   "\"(),:;<>@[\\])";
			return -1;
		}
	}
	if (s[0] == '.' || at[-1] == '.' || strstr(s, "..") != NULL) {
		*error_r = "the local part has a misplaced \".\"";
		return -1;
	}
	if (dovetail_acct_check_domain(at + 1, error_r) < 0)
		return -1;
	acct_lower(s);
	*domain_r = at + 1;
	return 0;
}

int
dovetail_acct_check_source(char *s, const char **domain_r, const char **error_r)
{
	if (s[0] == '@') {
		/* a catch-all for the domain */
		if (dovetail_acct_check_domain(s + 1, error_r) < 0)
			return -1;
		*domain_r = s + 1;
		return 0;
	}
	return dovetail_acct_check_address(s, domain_r, error_r);
}
