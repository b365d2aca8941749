/*
 * auth_passdb - the passdb list (parameter "passdb", comma-separated, tried
 * in order as Dovecot's default result_failure=continue does): maps
 * (sqlite:, mysql: with the admin's password_query as the file's "query",
 * passwd-file:) and "passwd" (system users: getpwnam_r + getspnam_r, which
 * needs the shadow group). The verification runs in the worker pool: the
 * lookup, then password_verify() (constant time, Dovecot schemes). Results
 * are cached per passdb and user (auth_cache_*); a cached password that
 * does not match is looked up again, so a changed password works at once.
 * A database error is PASSDB_TEMPFAIL, never "wrong password". Input: user
 * names already normalised; the password is wiped after use.
 */
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "auth_cache.h"
#include "mail/mail_params.h"
#include "auth_map.h"
#include "mail/map.h"
#include "mail/password_scheme.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/log.h"
#include "util/xmem.h"

#define AUTH_PASSDB_MAX 16
#define AUTH_PWBUF_SIZE 16384

enum passdb_kind {
	PASSDB_KIND_MAP,
	PASSDB_KIND_PASSWD,
};

struct passdb {
	enum passdb_kind kind;
	char *spec;
	const char *name; /* in log lines: passwd-file, sql, shadow */
	struct auth_map *map;
};

static struct passdb passdbs[AUTH_PASSDB_MAX];
static size_t n_passdbs;
static struct auth_cache *passdb_cache;

/* One passdb's state inside a job. */
struct passdb_job_db {
	enum auth_cache_result cached;
	char *stored, *canon; /* from the cache, or the fresh lookup */
	bool fresh;	      /* looked up in this job: cache it */
	enum passdb_result fresh_result;
};

struct passdb_job {
	char *user;
	unsigned char *password;
	size_t len;
	struct passdb_job_db db[AUTH_PASSDB_MAX];
	enum passdb_result result;
	char *canon;
	const char *name;
	char *error;
	auth_passdb_verify_cb *cb;
	void *ctx;
};

static const char *
passdb_log_name(const char *spec)
{
	if (strncmp(spec, "sqlite:", 7) == 0 || strncmp(spec, "mysql:", 6) == 0)
		return "sql";
	if (strncmp(spec, "passwd-file:", 12) == 0)
		return "passwd-file";
	return "map";
}

static void
auth_passdb_add(const char *spec, size_t len)
{
	struct passdb *db;
	char *s = xstrndup(spec, len);
	const char *error;

	if (n_passdbs == AUTH_PASSDB_MAX)
		log_fatal("passdb: more than %d passdbs", AUTH_PASSDB_MAX);
	db = &passdbs[n_passdbs];
	db->spec = s;
	if (strcmp(s, "passwd") == 0 || strcmp(s, "shadow") == 0) {
		db->kind = PASSDB_KIND_PASSWD;
		db->name = "shadow";
	} else if (strchr(s, ':') == NULL || strncmp(s, "static:", 7) == 0 ||
		   strpbrk(s, " \t") != NULL) {
		log_fatal("passdb: %s: expected passwd, sqlite:FILE, "
			  "mysql:FILE or passwd-file:FILE, separated by commas",
			  s);
	} else {
		db->kind = PASSDB_KIND_MAP;
		db->name = passdb_log_name(s);
		db->map = auth_map_open(s, &error);
		if (db->map == NULL)
			log_fatal("passdb: %s", error);
	}
	n_passdbs++;
}

void
auth_passdb_init(void)
{
	auth_settings_split_list(var_passdb, auth_passdb_add);
	if (n_passdbs == 0)
		log_fatal("passdb: no passdb configured");
	passdb_cache = auth_cache_new(
	    (size_t)var_auth_cache_size, (unsigned int)var_auth_cache_ttl,
	    (unsigned int)var_auth_cache_negative_ttl);
}

void
auth_passdb_deinit(void)
{
	for (size_t i = 0; i < n_passdbs; i++) {
		auth_map_close(&passdbs[i].map);
		xfree(&passdbs[i].spec);
	}
	n_passdbs = 0;
	auth_cache_free(&passdb_cache);
}

/* Worker thread: the stored password of user in db. */
static enum passdb_result
passdb_lookup_passwd(const char *user, char **stored_r, char **error_r)
{
	struct passwd pw, *pwp = NULL;
	struct spwd sp, *spp = NULL;
	char *buf = xmalloc(AUTH_PWBUF_SIZE);
	const char *hash;
	int ret;

	ret = getpwnam_r(user, &pw, buf, AUTH_PWBUF_SIZE, &pwp);
	if (ret != 0 && ret != ENOENT && ret != ESRCH) {
		*error_r = xasprintf("getpwnam_r: %s", strerror(ret));
		xfree(&buf);
		return PASSDB_TEMPFAIL;
	}
	if (pwp == NULL) {
		xfree(&buf);
		return PASSDB_UNKNOWN;
	}
	hash = pw.pw_passwd;
	if (strcmp(hash, "x") == 0 || strcmp(hash, "*") == 0) {
		char *sbuf = xmalloc(AUTH_PWBUF_SIZE);

		errno = 0;
		ret = getspnam_r(user, &sp, sbuf, AUTH_PWBUF_SIZE, &spp);
		if (spp == NULL && (ret == EACCES || errno == EACCES)) {
			*error_r = xstrdup("cannot read /etc/shadow: run auth "
					   "with the shadow group");
			xfree(&sbuf);
			xfree(&buf);
			return PASSDB_TEMPFAIL;
		}
		*stored_r = xstrdup(spp != NULL ? sp.sp_pwdp : "*");
		xfree(&sbuf);
	} else {
		*stored_r = xstrdup(hash);
	}
	xfree(&buf);
	return PASSDB_OK;
}

/* Worker thread: a fresh lookup of user in db. PASSDB_OK means found. */
static enum passdb_result
passdb_lookup(struct passdb *db, const char *user, char **stored_r,
	      char **canon_r, char **error_r)
{
	struct map_result res = {0};
	const char *value;
	enum passdb_result result;

	*stored_r = *canon_r = NULL;
	if (db->kind == PASSDB_KIND_PASSWD)
		return passdb_lookup_passwd(user, stored_r, error_r);
	switch (auth_map_lookup(db->map, user, &res, error_r)) {
	case MAP_NOTFOUND:
		return PASSDB_UNKNOWN;
	case MAP_TEMPFAIL:
		return PASSDB_TEMPFAIL;
	case MAP_FOUND:
		break;
	}
	value = map_result_get(&res, "password");
	if (res.n_rows > 1) {
		*error_r = xasprintf("%s: password query returned %zu rows",
				     db->spec, res.n_rows);
		result = PASSDB_TEMPFAIL;
	} else if (value == NULL) {
		*error_r = xasprintf("%s: no \"password\" field in the result",
				     db->spec);
		result = PASSDB_TEMPFAIL;
	} else {
		*stored_r = xstrdup(value);
		value = map_result_get(&res, "user");
		if (value != NULL && value[0] != '\0')
			*canon_r = xstrdup(value);
		result = PASSDB_OK;
	}
	map_result_free(&res);
	return result;
}

/* Worker thread: checks the password against a stored one. */
static enum passdb_result
passdb_verify(struct passdb *db, struct passdb_job *job, const char *stored,
	      char **error_r)
{
	const char *scheme =
	    db->kind == PASSDB_KIND_PASSWD ? "CRYPT" : var_default_pass_scheme;
	const char *error;

	if (stored[0] == '\0' || stored[0] == '!' ||
	    (db->kind == PASSDB_KIND_PASSWD && stored[0] == '*'))
		return PASSDB_MISMATCH; /* empty or locked */
	switch (password_verify((const char *)job->password, job->len, stored,
				scheme, &error)) {
	case 1:
		return PASSDB_OK;
	case 0:
		return PASSDB_MISMATCH;
	default:
		*error_r =
		    xasprintf("%s: stored password: %s", db->spec, error);
		return PASSDB_TEMPFAIL;
	}
}

/* Worker thread: one passdb, from the cache or freshly. */
static enum passdb_result
passdb_job_one(struct passdb_job *job, size_t i, char **error_r)
{
	struct passdb *db = &passdbs[i];
	struct passdb_job_db *st = &job->db[i];
	enum passdb_result res;

	if (st->cached == AUTH_CACHE_NEGATIVE)
		return PASSDB_UNKNOWN;
	if (st->cached == AUTH_CACHE_POSITIVE) {
		res = passdb_verify(db, job, st->stored, error_r);
		if (res != PASSDB_MISMATCH)
			return res;
		/* The password may have changed since it was cached. */
		xfree(&st->stored);
		xfree(&st->canon);
	}
	st->fresh = true;
	st->fresh_result =
	    passdb_lookup(db, job->user, &st->stored, &st->canon, error_r);
	if (st->fresh_result != PASSDB_OK)
		return st->fresh_result;
	return passdb_verify(db, job, st->stored, error_r);
}

static void
passdb_job_run(void *ctx)
{
	struct passdb_job *job = ctx;
	bool temp = false, mismatch = false;
	const char *mismatch_name = NULL;

	for (size_t i = 0; i < n_passdbs; i++) {
		char *error = NULL;
		enum passdb_result res = passdb_job_one(job, i, &error);

		job->name = passdbs[i].name;
		switch (res) {
		case PASSDB_OK:
			job->result = PASSDB_OK;
			if (job->db[i].canon != NULL)
				job->canon = xstrdup(job->db[i].canon);
			xfree(&error);
			return;
		case PASSDB_TEMPFAIL:
			if (!temp)
				job->error = error;
			else
				xfree(&error);
			temp = true;
			break;
		case PASSDB_MISMATCH:
			if (!mismatch)
				mismatch_name = passdbs[i].name;
			mismatch = true;
			xfree(&error);
			break;
		case PASSDB_UNKNOWN:
			xfree(&error);
			break;
		}
	}
	if (temp)
		job->result = PASSDB_TEMPFAIL;
	else if (mismatch) {
		job->result = PASSDB_MISMATCH;
		job->name = mismatch_name;
	} else
		job->result = PASSDB_UNKNOWN;
}

static char *
passdb_cache_key(size_t i, const char *user)
{
	return xasprintf("%zu\t%s", i, user);
}

static void
passdb_job_done(void *ctx)
{
	struct passdb_job *job = ctx;
	time_t now = time(NULL);

	for (size_t i = 0; i < n_passdbs; i++) {
		struct passdb_job_db *st = &job->db[i];
		char *key;

		if (st->fresh && st->fresh_result != PASSDB_TEMPFAIL) {
			key = passdb_cache_key(i, job->user);
			if (st->fresh_result == PASSDB_OK) {
				size_t slen = strlen(st->stored);
				size_t clen =
				    st->canon != NULL ? strlen(st->canon) : 0;
				char *blob = xmalloc(slen + clen + 2);

				memcpy(blob, st->stored, slen + 1);
				if (st->canon != NULL)
					memcpy(blob + slen + 1, st->canon,
					       clen);
				blob[slen + 1 + clen] = '\0';
				auth_cache_insert(passdb_cache, key, blob,
						  slen + clen + 2, now);
				xmem_wipe(blob, slen + clen + 2);
				xfree(&blob);
			} else {
				auth_cache_insert(passdb_cache, key, NULL, 0,
						  now);
			}
			xfree(&key);
		}
		if (st->stored != NULL) {
			xmem_wipe(st->stored, strlen(st->stored));
			xfree(&st->stored);
		}
		xfree(&st->canon);
	}
	job->cb(job->result, job->canon, job->name, job->error, job->ctx);
	xmem_wipe(job->password, job->len);
	xfree(&job->password);
	xfree(&job->user);
	xfree(&job->canon);
	xfree(&job->error);
	xfree(&job);
}

void
auth_passdb_verify(const char *user, const unsigned char *password, size_t len,
		   auth_passdb_verify_cb *cb, void *ctx)
{
	struct passdb_job *job = xcalloc(1, sizeof(*job));
	time_t now = time(NULL);

	job->user = xstrdup(user);
	job->password = xmalloc(len + 1);
	memcpy(job->password, password, len);
	job->password[len] = '\0';
	job->len = len;
	job->cb = cb;
	job->ctx = ctx;
	for (size_t i = 0; i < n_passdbs; i++) {
		char *key = passdb_cache_key(i, user);
		const void *data;
		size_t dlen;

		job->db[i].cached =
		    auth_cache_lookup(passdb_cache, key, now, &data, &dlen);
		if (job->db[i].cached == AUTH_CACHE_POSITIVE) {
			const char *stored = data;
			const char *canon = stored + strlen(stored) + 1;

			job->db[i].stored = xstrdup(stored);
			if (canon[0] != '\0')
				job->db[i].canon = xstrdup(canon);
		}
		xfree(&key);
	}
	worker_submit(server_workers(), passdb_job_run, passdb_job_done, job);
}

enum passdb_result
auth_passdb_exists_blocking(const char *user, char **error_r)
{
	bool temp = false;

	for (size_t i = 0; i < n_passdbs; i++) {
		char *stored = NULL, *canon = NULL, *error = NULL;
		enum passdb_result res =
		    passdb_lookup(&passdbs[i], user, &stored, &canon, &error);

		if (stored != NULL)
			xmem_wipe(stored, strlen(stored));
		xfree(&stored);
		xfree(&canon);
		if (res == PASSDB_OK) {
			xfree(&error);
			return PASSDB_OK;
		}
		if (res == PASSDB_TEMPFAIL && !temp) {
			*error_r = error;
			temp = true;
		} else {
			xfree(&error);
		}
	}
	return temp ? PASSDB_TEMPFAIL : PASSDB_UNKNOWN;
}

/* --- SCRAM credentials --- */

struct passdb_scram_job {
	char *user;
	const char *hash_name;
	struct password_scram_credentials creds;
	enum passdb_result result;
	bool no_scheme; /* found, but the stored scheme cannot do SCRAM */
	const char *name;
	char *error;
	auth_passdb_scram_cb *cb;
	void *ctx;
};

static void
passdb_scram_run(void *ctx)
{
	struct passdb_scram_job *job = ctx;
	bool temp = false;

	job->result = PASSDB_UNKNOWN;
	for (size_t i = 0; i < n_passdbs; i++) {
		char *stored = NULL, *canon = NULL, *error = NULL;
		const char *scheme = passdbs[i].kind == PASSDB_KIND_PASSWD
					 ? "CRYPT"
					 : var_default_pass_scheme;
		const char *perr;
		enum passdb_result res = passdb_lookup(&passdbs[i], job->user,
						       &stored, &canon, &error);
		int ret;

		xfree(&canon);
		job->name = passdbs[i].name;
		if (res == PASSDB_TEMPFAIL) {
			if (!temp)
				job->error = error;
			else
				xfree(&error);
			temp = true;
			continue;
		}
		xfree(&error);
		if (res != PASSDB_OK)
			continue;
		ret = password_scram_credentials(stored, scheme, job->hash_name,
						 &job->creds, &perr);
		xmem_wipe(stored, strlen(stored));
		xfree(&stored);
		if (ret > 0) {
			job->result = PASSDB_OK;
			return;
		}
		if (ret < 0) {
			if (!temp)
				job->error =
				    xasprintf("stored password: %s", perr);
			temp = true;
			continue;
		}
		/* Dovecot stops here too: the user exists, the scheme is
		 * one-way, so no other passdb is asked. */
		job->no_scheme = true;
		job->result = PASSDB_MISMATCH;
		return;
	}
	if (temp)
		job->result = PASSDB_TEMPFAIL;
}

static void
passdb_scram_done(void *ctx)
{
	struct passdb_scram_job *job = ctx;

	job->cb(job->result, job->result == PASSDB_OK ? &job->creds : NULL,
		job->no_scheme, job->name, job->error, job->ctx);
	xmem_wipe(&job->creds, sizeof(job->creds));
	xfree(&job->user);
	xfree(&job->error);
	xfree(&job);
}

void
auth_passdb_scram(const char *user, const char *hash_name,
		  auth_passdb_scram_cb *cb, void *ctx)
{
	struct passdb_scram_job *job = xcalloc(1, sizeof(*job));

	job->user = xstrdup(user);
	job->hash_name = hash_name;
	job->cb = cb;
	job->ctx = ctx;
	worker_submit(server_workers(), passdb_scram_run, passdb_scram_done,
		      job);
}
