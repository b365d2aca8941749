/*
 * dovetail_acct_db - the SQL connection of the account commands: SQLite
 * (dbpath) or MySQL/MariaDB (hosts, user, password, dbname,
 * connect_timeout, tls_*) read from the admin's map file, and one
 * function that runs a statement with bound string parameters. Every
 * statement is prepared; names never become SQL text. Input: the map file
 * from the admin (trusted); values from the command line (checked by the
 * caller) and column values (bounded by ACCT_DB_VALUE_MAX, ACCT_DB_ROWS_MAX).
 * Must not log: errors go back to the caller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <mysql.h>
#include <sqlite3.h>

#include "dovetail_acct.h"
#include "mail/cf_parse.h"
#include "util/xmem.h"

#define ACCT_DB_PARAMS_MAX 8
#define ACCT_DB_COLUMNS_MAX 8
#define ACCT_DB_VALUE_MAX 65536
#define ACCT_DB_ROWS_MAX 1000000
#define ACCT_DB_BUF_INITIAL 256

struct acct_db {
	bool mysql;
	sqlite3 *lite;
	MYSQL *my;
	char *where; /* "path" or "host" for messages */
	char *error;
};

static const char *acct_db_error(struct acct_db *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *
acct_db_error(struct acct_db *db, const char *fmt, ...)
{
	va_list ap;
	char *msg, *old = db->error;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	db->error = msg != NULL ? msg : xstrdup("out of memory");
	xfree(&old);
	return db->error;
}

static const char *
acct_db_cf_str(const struct cf_file *cf, const char *name)
{
	const struct cf_entry *e = cf_get(cf, name);

	return e == NULL || e->value[0] == '\0' ? NULL : e->value;
}

static int
acct_db_open_sqlite(struct acct_db *db, const struct cf_file *cf,
		    const char **error_r)
{
	const char *dbpath = acct_db_cf_str(cf, "dbpath");
	struct stat st;

	if (dbpath == NULL) {
		*error_r = acct_db_error(db, "%s: missing \"dbpath\" parameter",
					 cf->path);
		return -1;
	}
	db->where = xstrdup(dbpath);
	/* No implicit creation: a typo in dbpath must not make an empty
	 * database that auth then reads. */
	if (stat(dbpath, &st) < 0) {
		*error_r = acct_db_error(db,
					 "%s: %s (create it with: sqlite3 "
					 "%s < sqlite-schema.sql)",
					 dbpath, strerror(errno), dbpath);
		return -1;
	}
	if (sqlite3_open_v2(dbpath, &db->lite, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		*error_r =
		    acct_db_error(db, "%s: %s", dbpath,
				  db->lite != NULL ? sqlite3_errmsg(db->lite)
						   : "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(db->lite, 10000);
	sqlite3_exec(db->lite, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	return 0;
}

static void
acct_db_mysql_tls(MYSQL *my, const struct cf_file *cf)
{
	const char *key = acct_db_cf_str(cf, "tls_key_file");
	const char *cert = acct_db_cf_str(cf, "tls_cert_file");
	const char *ca = acct_db_cf_str(cf, "tls_CAfile");
	const char *capath = acct_db_cf_str(cf, "tls_CApath");
	const char *ciphers = acct_db_cf_str(cf, "tls_ciphers");
	const char *verify = acct_db_cf_str(cf, "tls_verify_cert");
	my_bool on = 1, off = 0;
	bool want_verify = verify != NULL && (strcasecmp(verify, "yes") == 0 ||
					      strcasecmp(verify, "true") == 0);

	if (key == NULL && cert == NULL && ca == NULL && capath == NULL &&
	    !want_verify)
		return;
	mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &on);
	if (key != NULL)
		mysql_options(my, MYSQL_OPT_SSL_KEY, key);
	if (cert != NULL)
		mysql_options(my, MYSQL_OPT_SSL_CERT, cert);
	if (ca != NULL)
		mysql_options(my, MYSQL_OPT_SSL_CA, ca);
	if (capath != NULL)
		mysql_options(my, MYSQL_OPT_SSL_CAPATH, capath);
	if (ciphers != NULL)
		mysql_options(my, MYSQL_OPT_SSL_CIPHER, ciphers);
	mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
		      want_verify ? &on : &off);
}

/* Tries one "hosts" entry: host, host:port, inet:host:port, unix:/path. */
static bool
acct_db_mysql_try(struct acct_db *db, const struct cf_file *cf,
		  const char *spec, unsigned int timeout)
{
	const char *p = spec, *colon, *sock = NULL;
	char *host = NULL, *end;
	unsigned long port = 3306;
	my_bool off = 0;
	bool ok;

	if (strncmp(p, "unix:", 5) == 0 || p[0] == '/') {
		sock = p[0] == '/' ? p : p + 5;
	} else {
		if (strncmp(p, "inet:", 5) == 0)
			p += 5;
		colon = strrchr(p, ':');
		if (colon != NULL) {
			port = strtoul(colon + 1, &end, 10);
			if (colon[1] == '\0' || *end != '\0' || port == 0 ||
			    port > 65535) {
				acct_db_error(db, "%s: hosts: bad host \"%s\"",
					      cf->path, spec);
				return false;
			}
			host = xstrndup(p, (size_t)(colon - p));
		} else {
			host = xstrdup(p);
		}
	}
	db->my = mysql_init(NULL);
	if (db->my == NULL) {
		xfree(&host);
		acct_db_error(db, "mysql_init failed");
		return false;
	}
	mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	acct_db_mysql_tls(db->my, cf);
	/* CLIENT_FOUND_ROWS: an UPDATE that sets the same value still
	 * counts the row, so "passwd" can tell "no such user" apart. */
	ok = mysql_real_connect(
		 db->my, host, acct_db_cf_str(cf, "user"),
		 acct_db_cf_str(cf, "password"), acct_db_cf_str(cf, "dbname"),
		 (unsigned int)port, sock, CLIENT_FOUND_ROWS) != NULL;
	if (!ok) {
		acct_db_error(db, "%s: %s", spec, mysql_error(db->my));
		mysql_close(db->my);
		db->my = NULL;
	} else {
		db->where = xstrdup(spec);
	}
	xfree(&host);
	return ok;
}

static int
acct_db_open_mysql(struct acct_db *db, const struct cf_file *cf,
		   const char **error_r)
{
	const char *hosts = acct_db_cf_str(cf, "hosts");
	const char *t = acct_db_cf_str(cf, "connect_timeout");
	unsigned int timeout =
	    t != NULL ? (unsigned int)strtoul(t, NULL, 10) : 5;
	char *copy, *tok, *save = NULL;

	if (acct_db_cf_str(cf, "dbname") == NULL) {
		*error_r = acct_db_error(db, "%s: missing \"dbname\" parameter",
					 cf->path);
		return -1;
	}
	if (timeout == 0 || timeout > 3600)
		timeout = 5;
	copy = xstrdup(hosts != NULL ? hosts : "localhost");
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		if (acct_db_mysql_try(db, cf, tok, timeout)) {
			xfree(&copy);
			return 0;
		}
	}
	xfree(&copy);
	if (db->error == NULL)
		acct_db_error(db, "%s: hosts: empty", cf->path);
	*error_r = db->error;
	return -1;
}

struct acct_db *
acct_db_open(const char *type, const char *path, char **error_r)
{
	struct acct_db *db = xcalloc(1, sizeof(*db));
	struct cf_file cf;
	const char *error;
	int ret;

	db->mysql = strcmp(type, "mysql") == 0;
	if (cf_parse_file(path, &cf, error_r) < 0) {
		acct_db_close(&db);
		return NULL;
	}
	ret = db->mysql ? acct_db_open_mysql(db, &cf, &error)
			: acct_db_open_sqlite(db, &cf, &error);
	cf_file_free(&cf);
	if (ret < 0) {
		*error_r = xstrdup(error);
		acct_db_close(&db);
		return NULL;
	}
	return db;
}

void
acct_db_close(struct acct_db **dbp)
{
	struct acct_db *db = *dbp;

	if (db == NULL)
		return;
	if (db->lite != NULL)
		sqlite3_close(db->lite);
	if (db->my != NULL)
		mysql_close(db->my);
	xfree(&db->where);
	xfree(&db->error);
	xfree(dbp);
}

static int
acct_db_run_sqlite(struct acct_db *db, const char *sql,
		   const char *const *params, size_t n_params,
		   struct acct_list *rows, const char **error_r)
{
	sqlite3_stmt *stmt = NULL;
	int ret, n = 0, ncols;

	if (sqlite3_prepare_v2(db->lite, sql, -1, &stmt, NULL) != SQLITE_OK)
		goto error;
	for (size_t i = 0; i < n_params; i++) {
		if (sqlite3_bind_text(stmt, (int)i + 1, params[i], -1,
				      SQLITE_STATIC) != SQLITE_OK)
			goto error;
	}
	ncols = sqlite3_column_count(stmt);
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (++n > ACCT_DB_ROWS_MAX) {
			*error_r = acct_db_error(db, "%s: more than %d rows",
						 db->where, ACCT_DB_ROWS_MAX);
			sqlite3_finalize(stmt);
			return -1;
		}
		for (int c = 0; c < ncols && rows != NULL; c++) {
			const unsigned char *v = sqlite3_column_text(stmt, c);

			acct_list_add(rows, v != NULL ? (const char *)v : "");
		}
	}
	if (ret != SQLITE_DONE)
		goto error;
	if (ncols == 0)
		n = sqlite3_changes(db->lite);
	sqlite3_finalize(stmt);
	return n;
error:
	*error_r =
	    acct_db_error(db, "%s: %s", db->where, sqlite3_errmsg(db->lite));
	sqlite3_finalize(stmt);
	return -1;
}

struct acct_db_column {
	char *buf;
	unsigned long size, length;
	my_bool is_null, error;
};

static int
acct_db_fetch_mysql(struct acct_db *db, MYSQL_STMT *stmt, unsigned int ncols,
		    struct acct_list *rows, const char **error_r)
{
	MYSQL_BIND binds[ACCT_DB_COLUMNS_MAX];
	struct acct_db_column cols[ACCT_DB_COLUMNS_MAX];
	int ret, n = 0, result = -1;

	memset(binds, 0, sizeof(binds));
	memset(cols, 0, sizeof(cols));
	for (unsigned int c = 0; c < ncols; c++) {
		cols[c].size = ACCT_DB_BUF_INITIAL;
		cols[c].buf = xmalloc(cols[c].size + 1);
		binds[c].buffer_type = MYSQL_TYPE_STRING;
		binds[c].buffer = cols[c].buf;
		binds[c].buffer_length = cols[c].size;
		binds[c].length = &cols[c].length;
		binds[c].is_null = &cols[c].is_null;
		binds[c].error = &cols[c].error;
	}
	if (mysql_stmt_bind_result(stmt, binds) != 0)
		goto stmt_error;
	while ((ret = mysql_stmt_fetch(stmt)) == 0 ||
	       ret == MYSQL_DATA_TRUNCATED) {
		if (++n > ACCT_DB_ROWS_MAX) {
			*error_r = acct_db_error(db, "%s: more than %d rows",
						 db->where, ACCT_DB_ROWS_MAX);
			goto out;
		}
		for (unsigned int c = 0; c < ncols; c++) {
			if (cols[c].is_null) {
				acct_list_add(rows, "");
				continue;
			}
			if (cols[c].length > ACCT_DB_VALUE_MAX) {
				*error_r =
				    acct_db_error(db,
						  "%s: value longer "
						  "than %d bytes",
						  db->where, ACCT_DB_VALUE_MAX);
				goto out;
			}
			if (cols[c].length > cols[c].size) {
				cols[c].size = cols[c].length;
				cols[c].buf =
				    xrealloc(cols[c].buf, cols[c].size + 1);
				binds[c].buffer = cols[c].buf;
				binds[c].buffer_length = cols[c].size;
				if (mysql_stmt_fetch_column(stmt, &binds[c], c,
							    0) != 0 ||
				    mysql_stmt_bind_result(stmt, binds) != 0)
					goto stmt_error;
			}
			cols[c].buf[cols[c].length] = '\0';
			acct_list_add(rows, cols[c].buf);
		}
	}
	if (ret != MYSQL_NO_DATA)
		goto stmt_error;
	result = n;
	goto out;
stmt_error:
	*error_r =
	    acct_db_error(db, "%s: %s", db->where, mysql_stmt_error(stmt));
out:
	for (unsigned int c = 0; c < ncols; c++)
		xfree(&cols[c].buf);
	return result;
}

static int
acct_db_run_mysql(struct acct_db *db, const char *sql,
		  const char *const *params, size_t n_params,
		  struct acct_list *rows, const char **error_r)
{
	MYSQL_BIND binds[ACCT_DB_PARAMS_MAX];
	unsigned long lengths[ACCT_DB_PARAMS_MAX];
	MYSQL_STMT *stmt = mysql_stmt_init(db->my);
	MYSQL_RES *meta = NULL;
	int n = -1;

	if (stmt == NULL) {
		*error_r =
		    acct_db_error(db, "%s: %s", db->where, mysql_error(db->my));
		return -1;
	}
	memset(binds, 0, sizeof(binds));
	for (size_t i = 0; i < n_params; i++) {
		lengths[i] = strlen(params[i]);
		binds[i].buffer_type = MYSQL_TYPE_STRING;
		binds[i].buffer = (void *)params[i];
		binds[i].buffer_length = lengths[i];
		binds[i].length = &lengths[i];
	}
	if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0 ||
	    (n_params > 0 && mysql_stmt_bind_param(stmt, binds) != 0) ||
	    mysql_stmt_execute(stmt) != 0) {
		*error_r = acct_db_error(db, "%s: %s", db->where,
					 mysql_stmt_error(stmt));
		goto out;
	}
	meta = mysql_stmt_result_metadata(stmt);
	if (meta == NULL) {
		n = (int)mysql_stmt_affected_rows(stmt);
	} else if (mysql_num_fields(meta) > ACCT_DB_COLUMNS_MAX) {
		*error_r = acct_db_error(db, "%s: too many columns", db->where);
	} else {
		struct acct_list ignore = {NULL, 0};

		n = acct_db_fetch_mysql(db, stmt, mysql_num_fields(meta),
					rows != NULL ? rows : &ignore, error_r);
		acct_list_free(&ignore);
	}
out:
	if (meta != NULL)
		mysql_free_result(meta);
	mysql_stmt_close(stmt);
	return n;
}

int
acct_db_run(struct acct_db *db, const char *sql, const char *const *params,
	    size_t n_params, struct acct_list *rows, const char **error_r)
{
	if (n_params > ACCT_DB_PARAMS_MAX) {
		*error_r = acct_db_error(db, "too many parameters");
		return -1;
	}
	return db->mysql
		   ? acct_db_run_mysql(db, sql, params, n_params, rows, error_r)
		   : acct_db_run_sqlite(db, sql, params, n_params, rows,
					error_r);
}

int
acct_db_begin(struct acct_db *db, const char **error_r)
{
	return acct_db_run(db,
			   db->mysql ? "START TRANSACTION" : "BEGIN IMMEDIATE",
			   NULL, 0, NULL, error_r) < 0
		   ? -1
		   : 0;
}

int
acct_db_commit(struct acct_db *db, const char **error_r)
{
	return acct_db_run(db, "COMMIT", NULL, 0, NULL, error_r) < 0 ? -1 : 0;
}

void
acct_db_rollback(struct acct_db *db)
{
	const char *error;

	(void)acct_db_run(db, "ROLLBACK", NULL, 0, NULL, &error);
}
