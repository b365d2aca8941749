/*
 * map_query - turns an admin's SQL query with %-expansions into a
 * prepared-statement text with "?" placeholders and the list of values to
 * bind, so a key never becomes SQL text. Pure: no I/O, no logging.
 *
 * Postfix expansions (mysql_table(5), sqlite_table(5)): %s the whole key,
 * %u the local part of user@domain (the whole key when it has no "@"),
 * %d the domain part, %% a literal percent. As in Postfix, when the key has
 * no "@" a query that uses %d is not run (the lookup is "not found"), and a
 * key with an empty local part ("@domain") is not looked up by a query that
 * uses %u. Postfix's %[SUD1-9] are not supported (an error naming them).
 * With MAP_DOVECOT_EXPANSIONS (Dovecot's SQL): %u and %{user} the whole key,
 * %n and %{username} the local part (the whole key without "@"), %d and
 * %{domain} the domain part ("" without "@"); Dovecot never suppresses.
 * An expansion written inside quotes, '%s' or "%s", loses its quotes since
 * the value is bound; an expansion elsewhere inside a quoted string
 * ('x%s') is an error, as is an unknown %x.
 */
#ifndef MAP_QUERY_H
#define MAP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#define MAP_QUERY_MAX 16384 /* longest query text accepted */
#define MAP_QUERY_ARGS_MAX 64

enum map_query_arg {
	MAP_QUERY_ARG_KEY,    /* whole key */
	MAP_QUERY_ARG_LOCAL,  /* local part */
	MAP_QUERY_ARG_DOMAIN, /* domain part */
};

struct map_query {
	char *sql; /* with "?" placeholders */
	enum map_query_arg *args; /* one per "?", in order */
	size_t n_args;
	bool dovecot; /* Dovecot semantics for missing parts */
};

/* Parses text. flags are map_open() flags (MAP_DOVECOT_EXPANSIONS is the
 * only one used). Returns 0, or -1 with *error_r allocated (caller frees). */
int map_query_parse(const char *text, unsigned int flags,
		    struct map_query *query_r, char **error_r);
void map_query_free(struct map_query *query);

/* Fills values_r[0..n_args-1] for key; local and domain parts are written
 * into buf (at least strlen(key) + 2 bytes) and values point into it or into
 * key. Returns 1, or 0 when Postfix rules say the query is not run for this
 * key (the lookup is then "not found"). */
int map_query_values(const struct map_query *query, const char *key,
		     char *buf, const char **values_r);

/* Applies a Postfix result_format ("%s" the value, "%u"/"%d" its local and
 * domain parts, "%%" a percent) to value. Returns an allocated string, or
 * NULL when Postfix skips the value (empty value; %u or %d of a value
 * without "@" or with an empty part). The format must have passed
 * map_query_check_format(). */
char *map_query_format_result(const char *format, const char *value);
/* Checks a result_format without applying it: 0 or -1 and *error_r. */
int map_query_check_format(const char *format, const char **error_r);

#endif
