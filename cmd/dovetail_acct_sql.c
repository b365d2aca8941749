/*
 * dovetail_acct_sql - the SQL account backend: domains, users and aliases
 * in the tutorial schema's tables (virtual_domains, virtual_users,
 * virtual_aliases, conf/sql/) on SQLite or MySQL. The admin's queries in
 * the map file are for lookups and are not used here: the statements below
 * assume the tutorial schema. Every value is a bound parameter. Input:
 * names checked by the caller. Must not log.
 */
#include <string.h>

#include "dovetail_acct.h"
#include "util/xmem.h"

struct acct_sql {
	struct acct_backend b; /* first: the vfuncs get this pointer */
	struct acct_db *db;
};

#define ACCT_SQL(b) ((struct acct_sql *)(b))

static int
acct_sql_run(struct acct_backend *b, const char *sql, const char *const *params,
	     size_t n_params, struct acct_list *rows, const char **error_r)
{
	return acct_db_run(ACCT_SQL(b)->db, sql, params, n_params, rows,
			   error_r);
}

static int
acct_sql_exists(struct acct_backend *b, const char *sql, const char *key,
		const char **error_r)
{
	const char *params[] = {key};
	int n = acct_sql_run(b, sql, params, 1, NULL, error_r);

	return n < 0 ? -1 : n > 0;
}

static int
acct_sql_domain_exists(struct acct_backend *b, const char *domain,
		       const char **error_r)
{
	return acct_sql_exists(
	    b, "SELECT 1 FROM virtual_domains WHERE name = ?", domain, error_r);
}

static int
acct_sql_domain_add(struct acct_backend *b, const char *domain,
		    const char **error_r)
{
	const char *params[] = {domain};

	return acct_sql_run(b, "INSERT INTO virtual_domains (name) VALUES (?)",
			    params, 1, NULL, error_r) < 0
		   ? -1
		   : 0;
}

static int
acct_sql_domain_del(struct acct_backend *b, const char *domain,
		    const char **error_r)
{
	struct acct_db *db = ACCT_SQL(b)->db;
	const char *params[] = {domain};
	int n;

	/* Explicit deletes rather than ON DELETE CASCADE: an existing
	 * database may lack the foreign keys, and SQLite enforces them only
	 * per connection. */
	if (acct_db_begin(db, error_r) < 0)
		return -1;
	if (acct_db_run(db,
			"DELETE FROM virtual_aliases WHERE domain_id IN "
			"(SELECT id FROM virtual_domains WHERE name = ?)",
			params, 1, NULL, error_r) < 0 ||
	    acct_db_run(db,
			"DELETE FROM virtual_users WHERE domain_id IN "
			"(SELECT id FROM virtual_domains WHERE name = ?)",
			params, 1, NULL, error_r) < 0 ||
	    (n = acct_db_run(db, "DELETE FROM virtual_domains WHERE name = ?",
			     params, 1, NULL, error_r)) < 0) {
		acct_db_rollback(db);
		return -1;
	}
	if (acct_db_commit(db, error_r) < 0) {
		acct_db_rollback(db);
		return -1;
	}
	return n;
}

static int
acct_sql_domain_list(struct acct_backend *b, struct acct_list *list,
		     const char **error_r)
{
	return acct_sql_run(b, "SELECT name FROM virtual_domains ORDER BY name",
			    NULL, 0, list, error_r) < 0
		   ? -1
		   : 0;
}

static int
acct_sql_user_exists(struct acct_backend *b, const char *user,
		     const char **error_r)
{
	return acct_sql_exists(b, "SELECT 1 FROM virtual_users WHERE email = ?",
			       user, error_r);
}

static int
acct_sql_user_add(struct acct_backend *b, const char *user, const char *domain,
		  const char *hash, const char **error_r)
{
	const char *params[] = {hash, user, domain};
	int n;

	/* One statement: the domain's id is looked up where it is used. */
	n = acct_sql_run(b,
			 "INSERT INTO virtual_users (domain_id, password, "
			 "email) SELECT id, ?, ? FROM virtual_domains "
			 "WHERE name = ?",
			 params, 3, NULL, error_r);
	if (n == 0) {
		*error_r =
		    acct_backend_error(b, "domain %s does not exist", domain);
		return -1;
	}
	return n < 0 ? -1 : 0;
}

static int
acct_sql_user_del(struct acct_backend *b, const char *user,
		  const char **error_r)
{
	const char *params[] = {user};

	return acct_sql_run(b, "DELETE FROM virtual_users WHERE email = ?",
			    params, 1, NULL, error_r);
}

static int
acct_sql_user_passwd(struct acct_backend *b, const char *user, const char *hash,
		     const char **error_r)
{
	const char *params[] = {hash, user};

	return acct_sql_run(b,
			    "UPDATE virtual_users SET password = ? "
			    "WHERE email = ?",
			    params, 2, NULL, error_r);
}

static int
acct_sql_user_list(struct acct_backend *b, const char *domain,
		   struct acct_list *list, const char **error_r)
{
	const char *params[] = {domain};

	if (domain == NULL)
		return acct_sql_run(b,
				    "SELECT email FROM virtual_users "
				    "ORDER BY email",
				    NULL, 0, list, error_r) < 0
			   ? -1
			   : 0;
	return acct_sql_run(b,
			    "SELECT u.email FROM virtual_users u JOIN "
			    "virtual_domains d ON d.id = u.domain_id "
			    "WHERE d.name = ? ORDER BY u.email",
			    params, 1, list, error_r) < 0
		   ? -1
		   : 0;
}

static int
acct_sql_alias_add(struct acct_backend *b, const char *source,
		   const char *domain, const char *destination,
		   const char **error_r)
{
	const char *pair[] = {source, destination};
	const char *params[] = {source, destination, domain};
	int n;

	n = acct_sql_run(b,
			 "SELECT 1 FROM virtual_aliases WHERE source = ? "
			 "AND destination = ?",
			 pair, 2, NULL, error_r);
	if (n != 0)
		return n < 0 ? -1 : 1;
	n = acct_sql_run(b,
			 "INSERT INTO virtual_aliases (domain_id, source, "
			 "destination) SELECT id, ?, ? FROM "
			 "virtual_domains WHERE name = ?",
			 params, 3, NULL, error_r);
	if (n == 0) {
		*error_r =
		    acct_backend_error(b, "domain %s does not exist", domain);
		return -1;
	}
	return n < 0 ? -1 : 0;
}

static int
acct_sql_alias_del(struct acct_backend *b, const char *source,
		   const char *destination, const char **error_r)
{
	const char *params[] = {source, destination};

	if (destination == NULL)
		return acct_sql_run(b,
				    "DELETE FROM virtual_aliases "
				    "WHERE source = ?",
				    params, 1, NULL, error_r);
	return acct_sql_run(b,
			    "DELETE FROM virtual_aliases WHERE source = ? "
			    "AND destination = ?",
			    params, 2, NULL, error_r);
}

static int
acct_sql_alias_list(struct acct_backend *b, const char *domain,
		    struct acct_list *list, const char **error_r)
{
	const char *params[] = {domain};

	if (domain == NULL)
		return acct_sql_run(b,
				    "SELECT source, destination FROM "
				    "virtual_aliases ORDER BY source, "
				    "destination",
				    NULL, 0, list, error_r) < 0
			   ? -1
			   : 0;
	return acct_sql_run(b,
			    "SELECT a.source, a.destination FROM "
			    "virtual_aliases a JOIN virtual_domains d ON "
			    "d.id = a.domain_id WHERE d.name = ? "
			    "ORDER BY a.source, a.destination",
			    params, 1, list, error_r) < 0
		   ? -1
		   : 0;
}

static void
acct_sql_close(struct acct_backend *b)
{
	acct_db_close(&ACCT_SQL(b)->db);
}

static const struct acct_backend_vfuncs acct_sql_vfuncs = {
    .domain_exists = acct_sql_domain_exists,
    .domain_add = acct_sql_domain_add,
    .domain_del = acct_sql_domain_del,
    .domain_list = acct_sql_domain_list,
    .user_exists = acct_sql_user_exists,
    .user_add = acct_sql_user_add,
    .user_del = acct_sql_user_del,
    .user_passwd = acct_sql_user_passwd,
    .user_list = acct_sql_user_list,
    .alias_add = acct_sql_alias_add,
    .alias_del = acct_sql_alias_del,
    .alias_list = acct_sql_alias_list,
    .close = acct_sql_close,
};

struct acct_backend *
acct_sql_open(const char *type, const char *path, const char **error_r)
{
	static char *last_error;
	struct acct_sql *s;
	struct acct_db *db;

	xfree(&last_error);
	db = acct_db_open(type, path, &last_error);
	if (db == NULL) {
		*error_r = last_error;
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->b.v = &acct_sql_vfuncs;
	s->b.spec = xasprintf("%s:%s", type, path);
	s->db = db;
	return &s->b;
}
