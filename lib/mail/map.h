/*
 * map - lookup tables named "type:path", as Postfix names them:
 *   sqlite:/etc/dovetail/sql/users.cf   (the embedded default)
 *   mysql:/etc/dovetail/sql/users.cf    (MariaDB Connector/C)
 *   texthash:/etc/dovetail/aliases      (flat "key value" file, read at open)
 *   static:value                        (always the value)
 *   passwd-file:/etc/dovetail/users     (Dovecot passwd-file format)
 * A lookup answers found / not found / temporary error, distinctly: a
 * database that is down is MAP_TEMPFAIL, never "not found". SQL queries come
 * from the admin's file with Postfix's expansions (%s whole key, %u local
 * part, %d domain, %% a percent) or, with MAP_DOVECOT_EXPANSIONS, Dovecot's
 * (%u whole user, %n local part, %d domain, %{user}...); each expansion
 * becomes a bound parameter of a prepared statement, never text in the SQL.
 * map_lookup() may block (SQL); call it from a worker thread. A map handle
 * serialises its own lookups, so threads may share it.
 *
 * Per type (details at the top of each map_*.c):
 * - sqlite/mysql files: Postfix sqlite_table(5)/mysql_table(5) parameters
 *   (query, result_format, domain (names only), expansion_limit; sqlite:
 *   dbpath; mysql: hosts, user, password, dbname, connect_timeout, timeout,
 *   tls_*); an unknown parameter is an error at open. Postfix rules: a key
 *   without "@" runs no query that uses %d, "@domain" none that uses %u
 *   (both MAP_NOTFOUND); Dovecot expansions never suppress. With
 *   MAP_FOLD_CASE the key is lower-cased before it is bound.
 * - sqlite: the database is opened read-only at first use; a missing file
 *   or a query that does not prepare fails map_check() and is MAP_TEMPFAIL
 *   at lookup (never MAP_NOTFOUND).
 * - mysql: hosts tried in the order listed; a lost connection is re-made
 *   (next host first) and the lookup retried once; no host -> MAP_TEMPFAIL.
 * - texthash: Postfix's format; a duplicate key is warned about (log) and
 *   the first entry kept, as Postfix does.
 * - passwd-file: a row with "user", "password" and the non-empty ones of
 *   "uid", "gid", "gecos", "home", "shell", then extra fields by name; the
 *   first line of a duplicated user wins (warning), as in Dovecot.
 * - static: one row, one field named "", the value; "{...}" drops braces.
 * Flat-file and static rows use the column name "".
 */
#ifndef MAP_H
#define MAP_H

#include <stdbool.h>
#include <stddef.h>

enum map_status {
	MAP_TEMPFAIL = -1,
	MAP_NOTFOUND = 0,
	MAP_FOUND = 1,
};

/* Open flags. */
#define MAP_FOLD_CASE 0x01u	       /* lower-case keys before lookup */
#define MAP_DOVECOT_EXPANSIONS 0x02u /* %u = whole key, %n = local part */

struct map_field {
	char *name; /* column name ("" for texthash/static values) */
	char *value;
};

struct map_row {
	struct map_field *fields;
	size_t n_fields;
};

/* All rows a lookup returned (SQL may return several). */
struct map_result {
	struct map_row *rows;
	size_t n_rows;
	char *joined; /* cache for map_result_value(); NULL until called */
};

/* Keys longer than this are never found (MAP_NOTFOUND, no query is run). */
#define MAP_KEY_MAX 4096

struct map;

/* Opens "type:path"; reads and checks the file. NULL and *error_r ("file:
 * line: problem" where a line is known; valid until the next map_open() in
 * the same thread) on failure. A database is not
 * contacted at open; an unreachable one shows as MAP_TEMPFAIL later. */
struct map *map_open(const char *spec, unsigned int flags,
		     const char **error_r);
void map_close(struct map **mapp);
const char *map_spec(const struct map *map);

/* Looks key up (lower-cased first with MAP_FOLD_CASE). On MAP_FOUND fills
 * *result (free with map_result_free); otherwise *result is empty. On
 * MAP_TEMPFAIL sets *error_r (valid until the next call on this map). SQL
 * NULL columns are left out of a row; a row left empty is dropped, and no
 * rows is MAP_NOTFOUND. With "expansion_limit = n" more than n rows is
 * MAP_TEMPFAIL, as Postfix treats it as an error. */
enum map_status map_lookup(struct map *map, const char *key,
			   struct map_result *result, const char **error_r);
void map_result_free(struct map_result *result);

/* Postfix-style single value: the first column of every row joined with
 * ", ". Owned by result. */
const char *map_result_value(struct map_result *result);
/* The value of a named column in the first row, NULL if absent. */
const char *map_result_get(const struct map_result *result, const char *name);

/* Checks that the map's source is usable (file readable, query valid, and for
 * SQL: the database answers). Used by "dovetail check". */
int map_check(struct map *map, const char **error_r);

#endif
