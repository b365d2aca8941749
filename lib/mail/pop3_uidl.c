/*
 * pop3_uidl - expands Dovecot's pop3_uidl_format (see pop3_uidl.h).
 * Pure: no I/O, no logging. Width is bounded so a format cannot make a
 * huge string.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/pop3_uidl.h"
#include "util/strbuf.h"

#define POP3_UIDL_WIDTH_MAX 64

static int
uidl_expand(const char *format, const struct pop3_uidl_vars *vars,
	    struct strbuf *dest, const char **error_r)
{
	for (const char *p = format; *p != '\0'; p++) {
		char value[POP3_UIDL_WIDTH_MAX + 256];
		const char *var;
		bool zero = false, hex = false, lower = false, upper = false;
		unsigned int width = 0;
		size_t len;

		if (*p != '%') {
			if (dest != NULL && strbuf_append_char(dest, *p) < 0)
				goto full;
			continue;
		}
		p++;
		if (*p == '0') {
			zero = true;
			p++;
		}
		while (*p >= '0' && *p <= '9') {
			width = width * 10 + (unsigned int)(*p - '0');
			if (width > POP3_UIDL_WIDTH_MAX) {
				*error_r = "pop3_uidl_format: width too large";
				return -1;
			}
			p++;
		}
		for (;; p++) {
			if (*p == 'X')
				hex = true;
			else if (*p == 'L')
				lower = true;
			else if (*p == 'U')
				upper = true;
			else
				break;
		}
		switch (*p) {
		case 'u':
		case 'v':
			snprintf(value, sizeof(value), hex ? "%x" : "%u",
				 *p == 'u' ? vars->uid : vars->uid_validity);
			break;
		case 'f':
		case 'g':
			if (hex) {
				/* Dovecot parses the value as a number */
				unsigned long long n =
				    strtoull(vars->file_base, NULL, 10);
				snprintf(value, sizeof(value), "%llx", n);
			} else {
				snprintf(value, sizeof(value), "%.*s",
					 (int)strcspn(vars->file_base, ":"),
					 vars->file_base);
			}
			break;
		case '%':
			snprintf(value, sizeof(value), "%%");
			break;
		case 'm':
			*error_r = "pop3_uidl_format: %m (header MD5) is "
				   "not supported";
			return -1;
		default:
			*error_r = "pop3_uidl_format: unknown variable";
			return -1;
		}
		for (char *c = value; *c != '\0'; c++) {
			if (lower && *c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
			if (upper && *c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		}
		if (dest == NULL)
			continue;
		var = value;
		len = strlen(var);
		if (width > 0 && !zero && len > width)
			len = width; /* Dovecot truncates without '0' */
		for (size_t i = len; zero && i < width; i++) {
			if (strbuf_append_char(dest, '0') < 0)
				goto full;
		}
		if (strbuf_append(dest, var, len) < 0)
			goto full;
	}
	return 0;
full:
	*error_r = "pop3 UIDL too long";
	return -1;
}

int
pop3_uidl_check_format(const char *format, const char **error_r)
{
	static const struct pop3_uidl_vars vars = {1, 1, "1.M1P1.host"};

	return uidl_expand(format, &vars, NULL, error_r);
}

int
pop3_uidl_expand(const char *format, const struct pop3_uidl_vars *vars,
		 struct strbuf *dest, const char **error_r)
{
	return uidl_expand(format, vars, dest, error_r);
}
