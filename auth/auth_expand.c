/*
 * auth_expand - %-variable expansion over a user name. Templates come from
 * the admin; the user name comes from a client and is copied, never
 * interpreted. No I/O, no logging.
 */
#include <ctype.h>
#include <string.h>

#include "auth_expand.h"
#include "util/strbuf.h"

static int
auth_expand_value(struct strbuf *out, const char *value, size_t len, char mod)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (mod == 'L')
			c = (unsigned char)tolower(c);
		else if (mod == 'U')
			c = (unsigned char)toupper(c);
		if (strbuf_append_char(out, (char)c) < 0)
			return -1;
	}
	return 0;
}

/* The part of user a variable names: 'u', 'n' or 'd'. */
static void
auth_expand_part(const char *user, char var, const char **value_r,
		 size_t *len_r)
{
	const char *at = strrchr(user, '@');

	switch (var) {
	case 'n':
		*value_r = user;
		*len_r = at != NULL ? (size_t)(at - user) : strlen(user);
		break;
	case 'd':
		*value_r = at != NULL ? at + 1 : "";
		*len_r = strlen(*value_r);
		break;
	default:
		*value_r = user;
		*len_r = strlen(user);
		break;
	}
}

static int
auth_expand_run(struct strbuf *out, const char *template, const char *user,
		const char **error_r)
{
	const char *p;

	for (p = template; *p != '\0'; p++) {
		char mod = 0, var;
		const char *value;
		size_t len;

		if (*p != '%') {
			if (out != NULL && strbuf_append_char(out, *p) < 0)
				goto full;
			continue;
		}
		p++;
		if (*p == '%') {
			if (out != NULL && strbuf_append_char(out, '%') < 0)
				goto full;
			continue;
		}
		if (*p == 'L' || *p == 'U')
			mod = *p++;
		if (*p == '{') {
			const char *end = strchr(p, '}');
			size_t n = end != NULL ? (size_t)(end - p - 1) : 0;

			if (end == NULL) {
				*error_r = "unterminated %{";
				return -1;
			}
			if (n == 4 && strncmp(p + 1, "user", 4) == 0)
				var = 'u';
			else if (n == 8 && strncmp(p + 1, "username", 8) == 0)
				var = 'n';
			else if (n == 6 && strncmp(p + 1, "domain", 6) == 0)
				var = 'd';
			else {
				*error_r = "unknown %{variable}";
				return -1;
			}
			p = end;
		} else if (*p == 'u' || *p == 'n' || *p == 'd') {
			var = *p;
		} else {
			*error_r = "unknown %-variable (use %u, %n, %d, %%)";
			return -1;
		}
		if (out == NULL)
			continue;
		auth_expand_part(user, var, &value, &len);
		if (auth_expand_value(out, value, len, mod) < 0)
			goto full;
	}
	return 0;
full:
	*error_r = "expansion too long";
	return -1;
}

int
auth_expand(struct strbuf *out, const char *template, const char *user,
	    const char **error_r)
{
	return auth_expand_run(out, template, user, error_r);
}

int
auth_expand_check(const char *template, const char **error_r)
{
	return auth_expand_run(NULL, template, "", error_r);
}
