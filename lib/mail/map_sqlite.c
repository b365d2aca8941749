/*
 * map_sqlite - Postfix sqlite_table(5) maps: a file with "dbpath", "query"
 * and optionally "result_format", "domain", "expansion_limit". The database
 * is opened read-only on first use, with a busy timeout, and the query is a
 * prepared statement whose "?" are bound to the key's parts (never spliced).
 * A missing or broken database is MAP_TEMPFAIL at lookup and an error from
 * map_check(), never "not found". Input: the file from the admin (trusted);
 * keys from clients (untrusted, bound as data). Must not write the database.
 */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "mail/cf_parse.h"
#include "mail/map_private.h"
#include "mail/map_query.h"
#include "util/xmem.h"

#define MAP_SQLITE_BUSY_TIMEOUT_MSECS 5000

struct map_sqlite {
	char *path; /* the .cf file */
	char *dbpath;
	struct map_sql_common common;
	sqlite3 *db;
	sqlite3_stmt *stmt;
};

static const char *const map_sqlite_names[] = {
	"dbpath", "query", "result_format", "domain", "expansion_limit", NULL,
};

static void
map_sqlite_disconnect(struct map_sqlite *ms)
{
	sqlite3_finalize(ms->stmt);
	ms->stmt = NULL;
	sqlite3_close(ms->db);
	ms->db = NULL;
}

static void
map_sqlite_free(struct map_sqlite *ms)
{
	map_sqlite_disconnect(ms);
	map_sql_common_free(&ms->common);
	xfree(&ms->path);
	xfree(&ms->dbpath);
	xfree(&ms);
}

static void *
map_sqlite_open(const char *arg, unsigned int flags, char **error_r)
{
	struct map_sqlite *ms;
	struct cf_file cf;
	const struct cf_entry *e;

	if (cf_parse_file(arg, &cf, error_r) < 0)
		return NULL;
	if (map_sql_check_names(&cf, map_sqlite_names, error_r) < 0) {
		cf_file_free(&cf);
		return NULL;
	}
	e = cf_get(&cf, "dbpath");
	if (e == NULL || *e->value == '\0') {
		*error_r = xasprintf("%s: missing \"dbpath\" parameter", arg);
		cf_file_free(&cf);
		return NULL;
	}
	ms = xcalloc(1, sizeof(*ms));
	ms->path = xstrdup(arg);
	ms->dbpath = xstrdup(e->value);
	if (map_sql_common_init(&ms->common, &cf, flags, error_r) < 0) {
		cf_file_free(&cf);
		map_sql_common_free(&ms->common);
		xfree(&ms->path);
		xfree(&ms->dbpath);
		xfree(&ms);
		return NULL;
	}
	cf_file_free(&cf);
	return ms;
}

/* Opens the database and prepares the query if not done yet. */
static int
map_sqlite_connect(struct map_sqlite *ms, char **error_r)
{
	struct stat st;

	if (ms->stmt != NULL)
		return 0;
	/* sqlite would report "unable to open database file"; say why */
	if (stat(ms->dbpath, &st) < 0) {
		*error_r = xasprintf("dbpath %s: %s", ms->dbpath, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(ms->dbpath, &ms->db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		*error_r = xasprintf("dbpath %s: %s", ms->dbpath,
				     ms->db != NULL ? sqlite3_errmsg(ms->db) : "out of memory");
		map_sqlite_disconnect(ms);
		return -1;
	}
	sqlite3_busy_timeout(ms->db, MAP_SQLITE_BUSY_TIMEOUT_MSECS);
	if (sqlite3_prepare_v2(ms->db, ms->common.query->sql, -1, &ms->stmt,
			       NULL) != SQLITE_OK) {
		*error_r = xasprintf("%s: query: %s", ms->path,
				     sqlite3_errmsg(ms->db));
		map_sqlite_disconnect(ms);
		return -1;
	}
	return 0;
}

static enum map_status
map_sqlite_lookup(void *ctx, const char *key, struct map_result *result,
		  char **error_r)
{
	struct map_sqlite *ms = ctx;
	const char *values[MAP_QUERY_ARGS_MAX];
	char *buf;
	int ret, ncols;
	enum map_status status = MAP_NOTFOUND;

	buf = xmalloc(strlen(key) + 2);
	if (map_sql_common_values(&ms->common, key, buf, values) == 0) {
		xfree(&buf);
		return MAP_NOTFOUND;
	}
	if (map_sqlite_connect(ms, error_r) < 0) {
		xfree(&buf);
		return MAP_TEMPFAIL;
	}
	for (size_t i = 0; i < ms->common.query->n_args; i++)
		sqlite3_bind_text(ms->stmt, (int)i + 1, values[i], -1,
				  SQLITE_TRANSIENT);
	ncols = sqlite3_column_count(ms->stmt);
	while ((ret = sqlite3_step(ms->stmt)) == SQLITE_ROW) {
		struct map_row *row;

		if (result->n_rows >= MAP_ROWS_MAX ||
		    (ms->common.expansion_limit > 0 &&
		     result->n_rows >= ms->common.expansion_limit)) {
			*error_r = xasprintf("%s: more than %u rows for key (expansion_limit)",
					     ms->path, ms->common.expansion_limit > 0 ?
					     ms->common.expansion_limit : MAP_ROWS_MAX);
			status = MAP_TEMPFAIL;
			break;
		}
		row = map_result_add_row(result);
		for (int c = 0; c < ncols; c++) {
			const unsigned char *v = sqlite3_column_text(ms->stmt, c);
			const char *name = sqlite3_column_name(ms->stmt, c);

			map_sql_common_add(&ms->common, row, (size_t)c,
					   name != NULL ? name : "",
					   (const char *)v);
		}
		if (row->n_fields == 0)
			map_result_drop_last_row(result);
	}
	if (status != MAP_TEMPFAIL && ret != SQLITE_DONE) {
		*error_r = xasprintf("%s: query: %s", ms->path,
				     sqlite3_errmsg(ms->db));
		status = MAP_TEMPFAIL;
	}
	sqlite3_reset(ms->stmt);
	sqlite3_clear_bindings(ms->stmt);
	xfree(&buf);
	if (status == MAP_TEMPFAIL) {
		/* a replaced or corrupt file: start afresh next time */
		if (ret != SQLITE_ROW && ret != SQLITE_BUSY)
			map_sqlite_disconnect(ms);
		return MAP_TEMPFAIL;
	}
	return result->n_rows > 0 ? MAP_FOUND : MAP_NOTFOUND;
}

static int
map_sqlite_check(void *ctx, char **error_r)
{
	return map_sqlite_connect(ctx, error_r);
}

static void
map_sqlite_close(void *ctx)
{
	map_sqlite_free(ctx);
}

const struct map_driver map_driver_sqlite = {
	.type = "sqlite",
	.open = map_sqlite_open,
	.lookup = map_sqlite_lookup,
	.check = map_sqlite_check,
	.close = map_sqlite_close,
};
