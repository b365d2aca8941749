/*
 * map_mysql - Postfix mysql_table(5) maps over MariaDB Connector/C: a file
 * with "hosts", "user", "password", "dbname", "query" and optionally
 * "result_format", "domain", "expansion_limit", "connect_timeout",
 * "timeout" (read/write), "tls_cert_file", "tls_key_file", "tls_CAfile",
 * "tls_CApath", "tls_ciphers", "tls_verify_cert" ("idle_interval",
 * "retry_interval" and "require_result_set" are accepted and ignored;
 * "option_file", "option_group" and the legacy "table"/"select_field"
 * form are errors). Only prepared statements:
 * the key's parts are bound, never put into SQL text. "hosts" defaults to
 * "localhost" (the default socket), as in Postfix. Hosts are tried in the
 * order listed; a host that works stays in use until it fails. A lost
 * connection is re-made (to the next host that answers) and the query
 * re-prepared and retried once; when no host answers the lookup is
 * MAP_TEMPFAIL, never "not found". Input: the file from the admin
 * (trusted); keys and column values untrusted (bounded: MAP_VALUE_MAX per
 * value, MAP_ROWS_MAX rows). Must not log.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "mail/cf_parse.h"
#include "mail/map_private.h"
#include "mail/map_query.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define MAP_MYSQL_COLUMNS_MAX 64
#define MAP_MYSQL_BUF_INITIAL 256

struct map_mysql_host {
	char *name; /* as written, for messages */
	char *host; /* NULL for unix sockets */
	char *socket;
	unsigned int port;
};

struct map_mysql {
	char *path;
	struct map_mysql_host *hosts;
	size_t n_hosts, cur_host;
	char *user, *password, *dbname;
	char *tls_cert, *tls_key, *tls_ca, *tls_capath, *tls_ciphers;
	bool tls, tls_verify;
	unsigned int connect_timeout, timeout;
	struct map_sql_common common;
	MYSQL *db;
	MYSQL_STMT *stmt;
};

static const char *const map_mysql_names[] = {
	"hosts", "user", "password", "dbname", "query", "result_format",
	"domain", "expansion_limit", "connect_timeout", "timeout",
	"tls_cert_file", "tls_key_file", "tls_CAfile", "tls_CApath",
	"tls_ciphers", "tls_verify_cert",
	/* Postfix tuning that has no effect here: accepted so that an
	 * existing Postfix file works unchanged */
	"idle_interval", "retry_interval", "require_result_set", NULL,
};

static pthread_once_t map_mysql_once = PTHREAD_ONCE_INIT;

static void
map_mysql_library_init(void)
{
	/* not thread-safe; mysql_init() would call it implicitly */
	mysql_library_init(0, NULL, NULL);
}

static int
map_mysql_parse_host(struct map_mysql_host *h, const char *spec)
{
	const char *p = spec, *colon;
	char *end;
	unsigned long port = 3306;

	h->name = xstrdup(spec);
	if (strncmp(p, "unix:", 5) == 0 || *p == '/') {
		h->socket = xstrdup(*p == '/' ? p : p + 5);
		return *h->socket == '/' ? 0 : -1;
	}
	if (strncmp(p, "inet:", 5) == 0)
		p += 5;
	colon = strrchr(p, ':');
	if (colon != NULL) {
		port = strtoul(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535)
			return -1;
		h->host = xstrndup(p, (size_t)(colon - p));
	} else {
		h->host = xstrdup(p);
	}
	if (*h->host == '\0')
		return -1;
	h->port = (unsigned int)port;
	return 0;
}

static void
map_mysql_disconnect(struct map_mysql *mm)
{
	if (mm->stmt != NULL)
		mysql_stmt_close(mm->stmt);
	mm->stmt = NULL;
	if (mm->db != NULL)
		mysql_close(mm->db);
	mm->db = NULL;
}

static void
map_mysql_free(struct map_mysql *mm)
{
	map_mysql_disconnect(mm);
	for (size_t i = 0; i < mm->n_hosts; i++) {
		xfree(&mm->hosts[i].name);
		xfree(&mm->hosts[i].host);
		xfree(&mm->hosts[i].socket);
	}
	xfree(&mm->hosts);
	if (mm->password != NULL)
		xmem_wipe(mm->password, strlen(mm->password));
	xfree(&mm->password);
	xfree(&mm->user);
	xfree(&mm->dbname);
	xfree(&mm->tls_cert);
	xfree(&mm->tls_key);
	xfree(&mm->tls_ca);
	xfree(&mm->tls_capath);
	xfree(&mm->tls_ciphers);
	map_sql_common_free(&mm->common);
	xfree(&mm->path);
	xfree(&mm);
}

static char *
map_mysql_str(const struct cf_file *cf, const char *name)
{
	const struct cf_entry *e = cf_get(cf, name);

	return e == NULL || *e->value == '\0' ? NULL : xstrdup(e->value);
}

static int
map_mysql_uint(const struct cf_file *cf, const char *name, unsigned int def,
	       unsigned int *value_r, char **error_r)
{
	const struct cf_entry *e = cf_get(cf, name);
	char *end;
	unsigned long n;

	*value_r = def;
	if (e == NULL)
		return 0;
	n = strtoul(e->value, &end, 10);
	if (*e->value < '0' || *e->value > '9' || *end != '\0' || n > 3600) {
		*error_r = xasprintf("%s:%u: %s: expected seconds 0..3600",
				     cf->path, e->line, name);
		return -1;
	}
	*value_r = (unsigned int)n;
	return 0;
}

static int
map_mysql_bool(const struct cf_file *cf, const char *name, bool *value_r,
	       char **error_r)
{
	const struct cf_entry *e = cf_get(cf, name);

	*value_r = false;
	if (e == NULL)
		return 0;
	if (strcasecmp(e->value, "yes") == 0 || strcasecmp(e->value, "true") == 0) {
		*value_r = true;
		return 0;
	}
	if (strcasecmp(e->value, "no") == 0 || strcasecmp(e->value, "false") == 0)
		return 0;
	*error_r = xasprintf("%s:%u: %s: expected yes or no", cf->path,
			     e->line, name);
	return -1;
}

static int
map_mysql_read_cf(struct map_mysql *mm, const struct cf_file *cf,
		  unsigned int flags, char **error_r)
{
	const struct cf_entry *e;
	char *copy, *tok, *save = NULL;

	if (map_sql_check_names(cf, map_mysql_names, error_r) < 0)
		return -1;
	/* Postfix's default: the local server's default socket */
	e = cf_get(cf, "hosts");
	copy = xstrdup(e != NULL ? e->value : "localhost");
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		mm->hosts = xreallocarray(mm->hosts, mm->n_hosts + 1,
					  sizeof(*mm->hosts));
		memset(&mm->hosts[mm->n_hosts], 0, sizeof(*mm->hosts));
		if (map_mysql_parse_host(&mm->hosts[mm->n_hosts++], tok) < 0) {
			*error_r = xasprintf("%s:%u: hosts: bad host \"%s\" (expected host, host:port, inet:host:port or unix:/path)",
					     cf->path, e != NULL ? e->line : 0, tok);
			xfree(&copy);
			return -1;
		}
	}
	xfree(&copy);
	if (mm->n_hosts == 0) {
		*error_r = xasprintf("%s:%u: hosts: empty", cf->path,
				     e != NULL ? e->line : 0);
		return -1;
	}
	mm->user = map_mysql_str(cf, "user");
	mm->password = map_mysql_str(cf, "password");
	mm->dbname = map_mysql_str(cf, "dbname");
	if (mm->dbname == NULL) {
		*error_r = xasprintf("%s: missing \"dbname\" parameter", cf->path);
		return -1;
	}
	mm->tls_cert = map_mysql_str(cf, "tls_cert_file");
	mm->tls_key = map_mysql_str(cf, "tls_key_file");
	mm->tls_ca = map_mysql_str(cf, "tls_CAfile");
	mm->tls_capath = map_mysql_str(cf, "tls_CApath");
	mm->tls_ciphers = map_mysql_str(cf, "tls_ciphers");
	if (map_mysql_bool(cf, "tls_verify_cert", &mm->tls_verify, error_r) < 0 ||
	    map_mysql_uint(cf, "connect_timeout", 5, &mm->connect_timeout, error_r) < 0 ||
	    map_mysql_uint(cf, "timeout", 30, &mm->timeout, error_r) < 0)
		return -1;
	mm->tls = mm->tls_cert != NULL || mm->tls_key != NULL ||
		mm->tls_ca != NULL || mm->tls_capath != NULL || mm->tls_verify;
	return map_sql_common_init(&mm->common, cf, flags, error_r);
}

static void *
map_mysql_open(const char *arg, unsigned int flags, char **error_r)
{
	struct map_mysql *mm;
	struct cf_file cf;

	pthread_once(&map_mysql_once, map_mysql_library_init);
	if (cf_parse_file(arg, &cf, error_r) < 0)
		return NULL;
	mm = xcalloc(1, sizeof(*mm));
	mm->path = xstrdup(arg);
	if (map_mysql_read_cf(mm, &cf, flags, error_r) < 0) {
		cf_file_free(&cf);
		map_mysql_free(mm);
		return NULL;
	}
	cf_file_free(&cf);
	return mm;
}

static bool
map_mysql_connection_lost(unsigned int err)
{
	switch (err) {
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_LOST_EXTENDED:
	case CR_COMMANDS_OUT_OF_SYNC:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	case ER_NET_READ_ERROR:
	case ER_NET_READ_INTERRUPTED:
	case ER_NET_ERROR_ON_WRITE:
	case ER_NET_WRITE_INTERRUPTED:
	case ER_UNKNOWN_STMT_HANDLER:
		return true;
	}
	return false;
}

/* Connects to one host and prepares the query there. -1 when the host
 * does not answer, -2 when it answers but the query cannot be prepared. */
static int
map_mysql_connect_host(struct map_mysql *mm, const struct map_mysql_host *h,
		       char **error_r)
{
	my_bool off = 0, on = 1;

	mm->db = mysql_init(NULL);
	if (mm->db == NULL) {
		*error_r = xstrdup("mysql_init failed");
		return -1;
	}
	mysql_options(mm->db, MYSQL_OPT_CONNECT_TIMEOUT, &mm->connect_timeout);
	mysql_options(mm->db, MYSQL_OPT_READ_TIMEOUT, &mm->timeout);
	mysql_options(mm->db, MYSQL_OPT_WRITE_TIMEOUT, &mm->timeout);
	mysql_options(mm->db, MYSQL_OPT_RECONNECT, &off);
	mysql_options(mm->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mm->tls) {
		mysql_options(mm->db, MYSQL_OPT_SSL_ENFORCE, &on);
		if (mm->tls_key != NULL)
			mysql_options(mm->db, MYSQL_OPT_SSL_KEY, mm->tls_key);
		if (mm->tls_cert != NULL)
			mysql_options(mm->db, MYSQL_OPT_SSL_CERT, mm->tls_cert);
		if (mm->tls_ca != NULL)
			mysql_options(mm->db, MYSQL_OPT_SSL_CA, mm->tls_ca);
		if (mm->tls_capath != NULL)
			mysql_options(mm->db, MYSQL_OPT_SSL_CAPATH, mm->tls_capath);
		if (mm->tls_ciphers != NULL)
			mysql_options(mm->db, MYSQL_OPT_SSL_CIPHER, mm->tls_ciphers);
		mysql_options(mm->db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
			      mm->tls_verify ? &on : &off);
	}
	if (mysql_real_connect(mm->db, h->host, mm->user, mm->password,
			       mm->dbname, h->port, h->socket, 0) == NULL) {
		*error_r = xasprintf("%s: %s", h->name, mysql_error(mm->db));
		map_mysql_disconnect(mm);
		return -1;
	}
	mm->stmt = mysql_stmt_init(mm->db);
	if (mm->stmt == NULL ||
	    mysql_stmt_prepare(mm->stmt, mm->common.query->sql,
			       strlen(mm->common.query->sql)) != 0) {
		unsigned int err = mm->stmt != NULL ? mysql_stmt_errno(mm->stmt) :
			mysql_errno(mm->db);

		*error_r = xasprintf("%s: query: %s", h->name,
				     mm->stmt != NULL ? mysql_stmt_error(mm->stmt) :
				     mysql_error(mm->db));
		map_mysql_disconnect(mm);
		/* a server that answered but rejects the query: no fail-over */
		return map_mysql_connection_lost(err) ? -1 : -2;
	}
	if (mysql_stmt_param_count(mm->stmt) != mm->common.query->n_args) {
		*error_r = xasprintf("%s: query: unexpected number of parameters",
				     h->name);
		map_mysql_disconnect(mm);
		return -2;
	}
	return 0;
}

/* Connects to the first host that answers, starting with first. */
static int
map_mysql_connect(struct map_mysql *mm, size_t first, char **error_r)
{
	struct strbuf errors;
	char *error = NULL;

	if (mm->stmt != NULL)
		return 0;
	strbuf_init(&errors, 4096);
	for (size_t i = 0; i < mm->n_hosts; i++) {
		size_t n = (first + i) % mm->n_hosts;

		int ret = map_mysql_connect_host(mm, &mm->hosts[n], &error);

		if (ret == 0) {
			mm->cur_host = n;
			strbuf_release(&errors);
			return 0;
		}
		if (ret == -2) {
			*error_r = error;
			strbuf_release(&errors);
			return -1;
		}
		if (errors.len > 0)
			strbuf_append_str(&errors, "; ");
		strbuf_append_str(&errors, error);
		xfree(&error);
	}
	*error_r = xasprintf("no database host answers: %s",
			     strbuf_cstr(&errors));
	strbuf_release(&errors);
	return -1;
}

struct map_mysql_column {
	char *buf;
	unsigned long size, length;
	my_bool is_null, error;
};

/* Runs the prepared query once. -1 with *lost_r when the connection broke. */
static enum map_status
map_mysql_run(struct map_mysql *mm, const char *const *values,
	      struct map_result *result, bool *lost_r, char **error_r)
{
	MYSQL_BIND params[MAP_QUERY_ARGS_MAX], binds[MAP_MYSQL_COLUMNS_MAX];
	struct map_mysql_column cols[MAP_MYSQL_COLUMNS_MAX];
	unsigned long lengths[MAP_QUERY_ARGS_MAX];
	MYSQL_RES *meta = NULL;
	MYSQL_FIELD *fields = NULL;
	unsigned int ncols = 0;
	enum map_status status = MAP_TEMPFAIL;
	size_t nargs = mm->common.query->n_args;
	int ret;

	*lost_r = false;
	memset(params, 0, sizeof(params));
	memset(binds, 0, sizeof(binds));
	memset(cols, 0, sizeof(cols));
	for (size_t i = 0; i < nargs; i++) {
		lengths[i] = strlen(values[i]);
		params[i].buffer_type = MYSQL_TYPE_STRING;
		params[i].buffer = (void *)values[i];
		params[i].buffer_length = lengths[i];
		params[i].length = &lengths[i];
	}
	if ((nargs > 0 && mysql_stmt_bind_param(mm->stmt, params) != 0) ||
	    mysql_stmt_execute(mm->stmt) != 0)
		goto stmt_error;
	meta = mysql_stmt_result_metadata(mm->stmt);
	if (meta == NULL) {
		*error_r = xasprintf("%s: query returns no result set", mm->path);
		goto out;
	}
	ncols = mysql_num_fields(meta);
	fields = mysql_fetch_fields(meta);
	if (ncols > MAP_MYSQL_COLUMNS_MAX) {
		*error_r = xasprintf("%s: query returns more than %d columns",
				     mm->path, MAP_MYSQL_COLUMNS_MAX);
		ncols = 0;
		goto out;
	}
	for (unsigned int c = 0; c < ncols; c++) {
		cols[c].size = MAP_MYSQL_BUF_INITIAL;
		cols[c].buf = xmalloc(cols[c].size + 1);
		binds[c].buffer_type = MYSQL_TYPE_STRING;
		binds[c].buffer = cols[c].buf;
		binds[c].buffer_length = cols[c].size;
		binds[c].length = &cols[c].length;
		binds[c].is_null = &cols[c].is_null;
		binds[c].error = &cols[c].error;
	}
	if (mysql_stmt_bind_result(mm->stmt, binds) != 0)
		goto stmt_error;
	while ((ret = mysql_stmt_fetch(mm->stmt)) == 0 ||
	       ret == MYSQL_DATA_TRUNCATED) {
		struct map_row *row;
		unsigned int limit = mm->common.expansion_limit;

		if (result->n_rows >= MAP_ROWS_MAX ||
		    (limit > 0 && result->n_rows >= limit)) {
			*error_r = xasprintf("%s: more than %u rows for key (expansion_limit)",
					     mm->path, limit > 0 ? limit : MAP_ROWS_MAX);
			goto out;
		}
		row = map_result_add_row(result);
		for (unsigned int c = 0; c < ncols; c++) {
			if (cols[c].is_null)
				continue;
			if (cols[c].length > MAP_VALUE_MAX) {
				*error_r = xasprintf("%s: column %s: value longer than %d bytes",
						     mm->path, fields[c].name, MAP_VALUE_MAX);
				goto out;
			}
			if (cols[c].length > cols[c].size) {
				/* long value: fetch it again into a big enough buffer */
				MYSQL_BIND one = binds[c];

				cols[c].size = cols[c].length;
				cols[c].buf = xrealloc(cols[c].buf, cols[c].size + 1);
				one.buffer = cols[c].buf;
				one.buffer_length = cols[c].size;
				if (mysql_stmt_fetch_column(mm->stmt, &one, c, 0) != 0)
					goto stmt_error;
				/* keep the bind for later rows valid */
				binds[c].buffer = cols[c].buf;
				binds[c].buffer_length = cols[c].size;
				if (mysql_stmt_bind_result(mm->stmt, binds) != 0)
					goto stmt_error;
			}
			cols[c].buf[cols[c].length] = '\0';
			map_sql_common_add(&mm->common, row, c, fields[c].name,
					   cols[c].buf);
		}
		if (row->n_fields == 0)
			map_result_drop_last_row(result);
	}
	if (ret != MYSQL_NO_DATA)
		goto stmt_error;
	status = result->n_rows > 0 ? MAP_FOUND : MAP_NOTFOUND;
	goto out;
stmt_error:
	*lost_r = map_mysql_connection_lost(mysql_stmt_errno(mm->stmt));
	*error_r = xasprintf("%s: %s", mm->hosts[mm->cur_host].name,
			     mysql_stmt_error(mm->stmt));
out:
	if (meta != NULL)
		mysql_free_result(meta);
	for (unsigned int c = 0; c < ncols; c++)
		xfree(&cols[c].buf);
	if (mm->stmt != NULL && !*lost_r) {
		mysql_stmt_free_result(mm->stmt);
		mysql_stmt_reset(mm->stmt);
	}
	return status;
}

static enum map_status
map_mysql_lookup(void *ctx, const char *key, struct map_result *result,
		 char **error_r)
{
	struct map_mysql *mm = ctx;
	const char *values[MAP_QUERY_ARGS_MAX];
	enum map_status status = MAP_TEMPFAIL;
	char *buf, *error = NULL;
	bool lost;

	buf = xmalloc(strlen(key) + 2);
	if (map_sql_common_values(&mm->common, key, buf, values) == 0) {
		xfree(&buf);
		return MAP_NOTFOUND;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		/* after a lost connection, begin with the next host */
		size_t first = attempt == 0 ? mm->cur_host : mm->cur_host + 1;

		xfree(&error);
		if (map_mysql_connect(mm, first, &error) < 0)
			break;
		status = map_mysql_run(mm, values, result, &lost, &error);
		if (status != MAP_TEMPFAIL)
			break;
		map_result_free(result);
		if (!lost)
			break;
		map_mysql_disconnect(mm);
	}
	xfree(&buf);
	if (status == MAP_TEMPFAIL)
		*error_r = error;
	else
		xfree(&error);
	return status;
}

static int
map_mysql_check(void *ctx, char **error_r)
{
	struct map_mysql *mm = ctx;

	return map_mysql_connect(mm, mm->cur_host, error_r);
}

static void
map_mysql_close(void *ctx)
{
	map_mysql_free(ctx);
}

const struct map_driver map_driver_mysql = {
	.type = "mysql",
	.open = map_mysql_open,
	.lookup = map_mysql_lookup,
	.check = map_mysql_check,
	.close = map_mysql_close,
};
