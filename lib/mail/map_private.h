/*
 * map_private - the interface between map.c and the map drivers
 * (map_sqlite.c, map_mysql.c, map_texthash.c, map_static.c,
 * map_passwdfile.c). Not for other users of maps.
 */
#ifndef MAP_PRIVATE_H
#define MAP_PRIVATE_H

#include "mail/map.h"

/* Hard limits for SQL results and flat files. */
#define MAP_ROWS_MAX 10000
#define MAP_VALUE_MAX (1024 * 1024)
#define MAP_FILE_MAX (64 * 1024 * 1024)
#define MAP_LINE_MAX 65536

/* Errors are allocated strings the caller frees. Drivers never log except
 * for Postfix-style warnings about duplicate entries at open. */
struct map_driver {
	const char *type;
	/* arg is what follows "type:" */
	void *(*open)(const char *arg, unsigned int flags, char **error_r);
	/* key is already case-folded if the map was opened with MAP_FOLD_CASE;
	 * result is empty on entry. */
	enum map_status (*lookup)(void *ctx, const char *key,
				  struct map_result *result, char **error_r);
	int (*check)(void *ctx, char **error_r);
	void (*close)(void *ctx);
};

extern const struct map_driver map_driver_sqlite;
extern const struct map_driver map_driver_mysql;
extern const struct map_driver map_driver_texthash;
extern const struct map_driver map_driver_static;
extern const struct map_driver map_driver_passwdfile;

/* Result building helpers; names and values are copied. */
struct map_row *map_result_add_row(struct map_result *result);
void map_row_add_field(struct map_row *row, const char *name,
		       const char *value);
/* Removes the last row (used when a row ends up empty). */
void map_result_drop_last_row(struct map_result *result);
/* Lower-cases ASCII letters in place. */
void map_fold_case(char *s);

/* Reads a whole text file (at most MAP_FILE_MAX bytes, no NUL bytes) into
 * an allocated string; 0 or -1 with *error_r allocated. */
int map_read_file(const char *path, char **data_r, char **error_r);
/* Cuts the next line out of *pos (modifying the buffer, removing "\r\n"),
 * counting lines in *lineno. 1 with *line_r, 0 at the end, -1 with
 * *error_r allocated for a line over MAP_LINE_MAX. */
int map_next_line(char **pos, unsigned int *lineno, char **line_r,
		  const char *path, char **error_r);

/* Settings shared by the SQL maps (Postfix sqlite_table(5)/mysql_table(5)):
 * query, result_format, domain, expansion_limit. */
struct map_sql_common {
	struct map_query *query;
	char *result_format;
	char **domains; /* NULL-terminated, lower-case; NULL = no limit */
	unsigned int expansion_limit; /* 0 = none */
};

struct cf_file;
/* Reads the shared settings from cf; 0 or -1 with *error_r allocated
 * ("path:line: problem"). */
int map_sql_common_init(struct map_sql_common *common,
			const struct cf_file *cf, unsigned int flags,
			char **error_r);
/* Rejects a parameter not in known (NULL-terminated): a typo in a query
 * file must not silently change what is looked up. */
int map_sql_check_names(const struct cf_file *cf, const char *const *known,
			char **error_r);
void map_sql_common_free(struct map_sql_common *common);
/* Applies the "domain" restriction and the query's Postfix rules to key.
 * Returns 1 and fills values_r (map_query_values(); buf of strlen(key)+2),
 * or 0 when the key is not to be looked up. */
int map_sql_common_values(const struct map_sql_common *common,
			  const char *key, char *buf, const char **values_r);
/* Adds a column value to row, applying result_format to the first column.
 * NULL value (SQL NULL) is left out. */
void map_sql_common_add(const struct map_sql_common *common,
			struct map_row *row, size_t column, const char *name,
			const char *value);

#endif
