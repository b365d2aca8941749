/*
 * map_query - rewrites an admin's SQL query into placeholder form. Input:
 * the query text comes from a trusted config file; keys come from clients
 * (untrusted) and are only ever returned as values to bind, never spliced
 * into SQL. Must not do I/O or log.
 */
#include <string.h>

#include "mail/map.h"
#include "mail/map_query.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Recognises the expansion starting at p (p[0] == '%'). Returns its length
 * (0 for "%%", which is not an expansion) and sets *arg_r, or -1 with
 * *error_r allocated. */
static int
map_query_expansion(const char *p, bool dovecot, enum map_query_arg *arg_r,
		    char **error_r)
{
	static const struct {
		const char *name;
		enum map_query_arg arg;
	} dovecot_long[] = {
		{ "%{user}", MAP_QUERY_ARG_KEY },
		{ "%{username}", MAP_QUERY_ARG_LOCAL },
		{ "%{domain}", MAP_QUERY_ARG_DOMAIN },
	};

	if (p[1] == '%')
		return 0;
	if (dovecot) {
		for (size_t i = 0; i < sizeof(dovecot_long) / sizeof(dovecot_long[0]); i++) {
			size_t n = strlen(dovecot_long[i].name);

			if (strncmp(p, dovecot_long[i].name, n) == 0) {
				*arg_r = dovecot_long[i].arg;
				return (int)n;
			}
		}
		switch (p[1]) {
		case 'u':
			*arg_r = MAP_QUERY_ARG_KEY;
			return 2;
		case 'n':
			*arg_r = MAP_QUERY_ARG_LOCAL;
			return 2;
		case 'd':
			*arg_r = MAP_QUERY_ARG_DOMAIN;
			return 2;
		}
		if (p[1] == '{') {
			const char *end = strchr(p, '}');
			int n = end == NULL || end - p > 40 ? 2 : (int)(end - p + 1);

			*error_r = xasprintf("unknown expansion \"%.*s\" in query", n, p);
			return -1;
		}
	} else {
		switch (p[1]) {
		case 's':
			*arg_r = MAP_QUERY_ARG_KEY;
			return 2;
		case 'u':
			*arg_r = MAP_QUERY_ARG_LOCAL;
			return 2;
		case 'd':
			*arg_r = MAP_QUERY_ARG_DOMAIN;
			return 2;
		}
	}
	if (p[1] == '\0')
		*error_r = xstrdup("query ends with a lone \"%\"");
	else
		*error_r = xasprintf("unknown expansion \"%%%c\" in query", p[1]);
	return -1;
}

static void
map_query_add_arg(struct map_query *query, enum map_query_arg arg)
{
	query->args = xreallocarray(query->args, query->n_args + 1,
				    sizeof(*query->args));
	query->args[query->n_args++] = arg;
}

int
map_query_parse(const char *text, unsigned int flags,
		struct map_query *query_r, char **error_r)
{
	struct map_query query = { .dovecot = (flags & MAP_DOVECOT_EXPANSIONS) != 0 };
	struct strbuf sql;
	char quote = '\0';
	const char *p = text;
	enum map_query_arg arg;
	int n;

	if (strlen(text) > MAP_QUERY_MAX) {
		*error_r = xasprintf("query longer than %d bytes", MAP_QUERY_MAX);
		return -1;
	}
	strbuf_init(&sql, STRBUF_UNLIMITED);
	while (*p != '\0') {
		if (quote != '\0') {
			/* inside a string literal */
			if (*p == '\\' && p[1] != '\0') {
				strbuf_append(&sql, p, 2);
				p += 2;
				continue;
			}
			if (*p == '%') {
				n = map_query_expansion(p, query.dovecot, &arg, error_r);
				if (n < 0)
					goto fail;
				if (n > 0) {
					*error_r = xasprintf("expansion \"%.*s\" inside a quoted string: write it alone, as '%.*s'",
							     n, p, n, p);
					goto fail;
				}
				strbuf_append_char(&sql, '%');
				p += 2;
				continue;
			}
			if (*p == quote)
				quote = '\0';
			strbuf_append_char(&sql, *p++);
			continue;
		}
		if (*p == '\'' || *p == '"') {
			if (p[1] == '%') {
				n = map_query_expansion(p + 1, query.dovecot, &arg, error_r);
				if (n < 0)
					goto fail;
				if (n > 0 && p[1 + n] == *p) {
					/* '%s': the whole literal is the value */
					strbuf_append_char(&sql, '?');
					map_query_add_arg(&query, arg);
					p += n + 2;
					continue;
				}
			}
			quote = *p;
			strbuf_append_char(&sql, *p++);
			continue;
		}
		if (*p == '%') {
			n = map_query_expansion(p, query.dovecot, &arg, error_r);
			if (n < 0)
				goto fail;
			if (n == 0) {
				strbuf_append_char(&sql, '%');
				p += 2;
				continue;
			}
			strbuf_append_char(&sql, '?');
			map_query_add_arg(&query, arg);
			p += n;
			continue;
		}
		if (*p == '?') {
			*error_r = xstrdup("query contains a literal \"?\" placeholder");
			goto fail;
		}
		strbuf_append_char(&sql, *p++);
	}
	if (quote != '\0') {
		*error_r = xasprintf("unterminated %c quote in query", quote);
		goto fail;
	}
	if (query.n_args > MAP_QUERY_ARGS_MAX) {
		*error_r = xasprintf("more than %d expansions in query",
				     MAP_QUERY_ARGS_MAX);
		goto fail;
	}
	query.sql = strbuf_steal(&sql);
	*query_r = query;
	return 0;
fail:
	strbuf_release(&sql);
	xfree(&query.args);
	return -1;
}

void
map_query_free(struct map_query *query)
{
	xfree(&query->sql);
	xfree(&query->args);
	query->n_args = 0;
}

int
map_query_values(const struct map_query *query, const char *key, char *buf,
		 const char **values_r)
{
	const char *at = strrchr(key, '@');
	size_t len = strlen(key);
	const char *local = key, *domain = "";

	if (at != NULL) {
		size_t llen = (size_t)(at - key);

		memcpy(buf, key, llen);
		buf[llen] = '\0';
		memcpy(buf + llen + 1, at + 1, len - llen);
		local = buf;
		domain = buf + llen + 1;
	}
	for (size_t i = 0; i < query->n_args; i++) {
		switch (query->args[i]) {
		case MAP_QUERY_ARG_KEY:
			values_r[i] = key;
			break;
		case MAP_QUERY_ARG_LOCAL:
			/* Postfix: "@domain" is not looked up through %u */
			if (!query->dovecot && *local == '\0')
				return 0;
			values_r[i] = local;
			break;
		case MAP_QUERY_ARG_DOMAIN:
			/* Postfix: an unqualified key is not looked up via %d */
			if (!query->dovecot && (at == NULL || *domain == '\0'))
				return 0;
			values_r[i] = domain;
			break;
		}
	}
	return 1;
}

int
map_query_check_format(const char *format, const char **error_r)
{
	for (const char *p = format; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p != 's' && *p != 'u' && *p != 'd' && *p != '%') {
			*error_r = "result_format: only %s, %u, %d and %% are supported";
			return -1;
		}
	}
	return 0;
}

char *
map_query_format_result(const char *format, const char *value)
{
	const char *at = strrchr(value, '@');
	struct strbuf sb;

	if (*value == '\0')
		return NULL;
	strbuf_init(&sb, STRBUF_UNLIMITED);
	for (const char *p = format; *p != '\0'; p++) {
		if (*p != '%' || p[1] == '\0') {
			strbuf_append_char(&sb, *p);
			continue;
		}
		switch (*++p) {
		case 's':
			strbuf_append_str(&sb, value);
			break;
		case 'u':
			if (at == NULL) {
				strbuf_append_str(&sb, value);
				break;
			}
			if (at == value) {
				strbuf_release(&sb);
				return NULL;
			}
			strbuf_append(&sb, value, (size_t)(at - value));
			break;
		case 'd':
			if (at == NULL || at[1] == '\0') {
				strbuf_release(&sb);
				return NULL;
			}
			strbuf_append_str(&sb, at + 1);
			break;
		default:
			strbuf_append_char(&sb, *p);
			break;
		}
	}
	return strbuf_steal(&sb);
}
