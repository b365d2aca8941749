/*
 * dovetail_acct - internal interface of the account commands ("dovetail
 * domain|user|alias" and "dovetail pw"): the account backends (SQL over
 * the tutorial schema, passwd-file plus texthash files) and the password
 * helpers they share. Only cmd/ includes this header. Runs as root at the
 * admin's request; names come from the command line and are checked
 * (dovetail_acct_check_*) before any backend sees them.
 */
#ifndef DOVETAIL_ACCT_H
#define DOVETAIL_ACCT_H

#include <stdbool.h>
#include <stddef.h>

/* A list of strings the backends fill (alias lists hold source,
 * destination pairs: n is even). */
struct acct_list {
	char **items;
	size_t n;
};

void acct_list_add(struct acct_list *list, const char *item);
void acct_list_free(struct acct_list *list);

struct acct_backend;

/* Every function returns -1 with *error_r (valid until the next call on
 * the backend) on failure. Those that remove or change return how many
 * entries they touched (0: nothing matched). Names are already checked and
 * lower-cased. */
struct acct_backend_vfuncs {
	/* 1 if it exists, 0 if not. */
	int (*domain_exists)(struct acct_backend *b, const char *domain,
			     const char **error_r);
	int (*domain_add)(struct acct_backend *b, const char *domain,
			  const char **error_r);
	/* Removes the domain with its users and aliases. */
	int (*domain_del)(struct acct_backend *b, const char *domain,
			  const char **error_r);
	int (*domain_list)(struct acct_backend *b, struct acct_list *list,
			   const char **error_r);
	int (*user_exists)(struct acct_backend *b, const char *user,
			   const char **error_r);
	/* The domain of user exists (checked by the caller). */
	int (*user_add)(struct acct_backend *b, const char *user,
			const char *domain, const char *hash,
			const char **error_r);
	int (*user_del)(struct acct_backend *b, const char *user,
			const char **error_r);
	int (*user_passwd)(struct acct_backend *b, const char *user,
			   const char *hash, const char **error_r);
	/* domain NULL: every user, sorted. */
	int (*user_list)(struct acct_backend *b, const char *domain,
			 struct acct_list *list, const char **error_r);
	/* 0 if added, 1 if source -> destination was already there. */
	int (*alias_add)(struct acct_backend *b, const char *source,
			 const char *domain, const char *destination,
			 const char **error_r);
	/* destination NULL: every destination of source. */
	int (*alias_del)(struct acct_backend *b, const char *source,
			 const char *destination, const char **error_r);
	/* Pairs source, destination; domain NULL: all. */
	int (*alias_list)(struct acct_backend *b, const char *domain,
			  struct acct_list *list, const char **error_r);
	void (*close)(struct acct_backend *b);
};

struct acct_backend {
	const struct acct_backend_vfuncs *v;
	char *spec;  /* "type:path" the backend was opened with */
	char *error; /* storage for *error_r */
};

/* Sets b->error from a format and returns it (for *error_r). */
const char *acct_backend_error(struct acct_backend *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Closes and frees *bp, sets it to NULL. */
void acct_backend_close(struct acct_backend **bp);

/* dovetail_acct_sql.c: "sqlite:FILE" or "mysql:FILE" where FILE is a map
 * file (sqlite: dbpath; mysql: hosts, user, password, dbname,
 * connect_timeout, tls_*; other parameters such as query are ignored).
 * Connects at once. The tables are the tutorial schema's. */
struct acct_backend *acct_sql_open(const char *type, const char *path,
				   const char **error_r);

/* dovetail_acct_db.c: the SQL connection under acct_sql_open. */
struct acct_db;
/* Reads the map file at path and connects (sqlite: opens dbpath read-write,
 * never creating it; mysql: the first of "hosts" that answers). NULL and
 * an allocated *error_r on failure. */
struct acct_db *acct_db_open(const char *type, const char *path,
			     char **error_r);
void acct_db_close(struct acct_db **dbp);
/* Prepares sql ("?" placeholders), binds params as strings and runs it.
 * A SELECT appends every column of every row to rows (NULL as "", rows
 * may be NULL) and returns the row count; other statements return the
 * rows changed (MySQL: matched). -1 with *error_r (valid until the next
 * call) on failure. */
int acct_db_run(struct acct_db *db, const char *sql, const char *const *params,
		size_t n_params, struct acct_list *rows, const char **error_r);
int acct_db_begin(struct acct_db *db, const char **error_r);
int acct_db_commit(struct acct_db *db, const char **error_r);
void acct_db_rollback(struct acct_db *db);

/* dovetail_acct_file.c: users in a Dovecot passwd-file at path; domains
 * and aliases in Postfix texthash files domains_path ("domain OK" lines)
 * and aliases_path ("source dest, dest" lines). Missing files are
 * empty; every change rewrites a file atomically (temp file, fsync,
 * rename) under a lock, keeping its comments, mode and owner. */
struct acct_backend *acct_file_open(const char *path, const char *domains_path,
				    const char *aliases_path,
				    const char **error_r);

/* Checks and lower-cases (in place) a domain name / a user address
 * local@domain / an alias source (an address or "@domain"). On success
 * *domain_r points into s at the domain. -1 with *error_r (static) when
 * the name is not acceptable. */
int dovetail_acct_check_domain(char *s, const char **error_r);
int dovetail_acct_check_address(char *s, const char **domain_r,
				const char **error_r);
int dovetail_acct_check_source(char *s, const char **domain_r,
			       const char **error_r);

/* Loads main.cf and auth.cf (where passdb and default_pass_scheme
 * usually are) into the catalog. required: a missing main.cf is an error;
 * otherwise a missing one leaves the defaults. Problems are printed;
 * -1 then. */
int dovetail_acct_load_config(bool required);

/* dovetail_pw.c: the password to hash: given (the -p value) if non-NULL,
 * else asked twice on the terminal when stdin is one, else one line read
 * from stdin. Empty passwords are refused. *password_r is allocated; wipe
 * and free it. */
int dovetail_pw_read(const char *given, char **password_r,
		     const char **error_r);
/* The scheme to use when none is given: default_pass_scheme if the admin
 * set it, else SHA512-CRYPT. Needs the catalog loaded (or defaults). */
const char *dovetail_pw_default_scheme(void);
/* 0 if scheme (NULL: the default) is one password_generate() knows;
 * -1 with *error_r otherwise. Called before the password is asked for. */
int dovetail_pw_check_scheme(const char *scheme, const char **error_r);
/* Hashes password in scheme (NULL: dovetail_pw_default_scheme()), rounds
 * 0 = the scheme's default. *hash_r is "{SCHEME}hash", allocated. */
int dovetail_pw_hash(const char *password, const char *scheme,
		     unsigned int rounds, char **hash_r, const char **error_r);

#endif
