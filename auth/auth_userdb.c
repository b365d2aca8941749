/*
 * auth_userdb - the userdb list (parameter "userdb", comma-separated, tried
 * in order until one knows the user): maps (sqlite:/mysql: whose "query"
 * is the admin's user_query: every returned column is a field;
 * passwd-file: uid, gid, home and the extra fields named userdb_*),
 * "passwd" (system users: uid, gid, home) and Dovecot's static userdb
 * ("static:uid=vmail gid=vmail home=/var/vmail/%d/%n", which asks the
 * passdbs whether the user exists unless allow_all_users=yes). uid= and
 * gid= given as names are turned into numbers. Lookups run in the worker
 * pool; a database error is USERDB_TEMPFAIL. Input: normalised user names.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "auth_cache.h"
#include "auth_expand.h"
#include "auth_map.h"
#include "mail/mail_params.h"
#include "mail/map.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/event.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define AUTH_USERDB_MAX 16
#define AUTH_USERDB_FIELDS_MAX 64
#define AUTH_USERDB_FIELD_MAX 4096
#define AUTH_PWBUF_SIZE 16384

enum userdb_kind {
	USERDB_KIND_MAP,
	USERDB_KIND_PASSWD,
	USERDB_KIND_STATIC,
};

struct userdb {
	enum userdb_kind kind;
	char *spec;
	struct auth_map *map;
	bool passwd_file;
	/* static: "name=template" fields */
	char **templates;
	size_t n_templates;
	bool allow_all_users;
};

static struct userdb userdbs[AUTH_USERDB_MAX];
static size_t n_userdbs;
/* Results by user: "user\0field\0field\0..." or negative. */
static struct auth_cache *userdb_cache;

struct userdb_job {
	char *user;
	char *canon;
	char *fields[AUTH_USERDB_FIELDS_MAX];
	size_t n_fields;
	enum userdb_result result;
	bool from_cache;
	char *error;
	auth_userdb_cb *cb;
	void *ctx;
};

static void
userdb_parse_static(struct userdb *db, const char *args)
{
	char *copy = xstrdup(args), *tok, *save;
	const char *error;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		const char *eq = strchr(tok, '=');

		if (eq == NULL || eq == tok)
			log_fatal("userdb: static: \"%s\": expected "
				  "name=value",
				  tok);
		if (strncmp(tok, "allow_all_users=", 16) == 0) {
			db->allow_all_users = strcmp(eq + 1, "yes") == 0;
			continue;
		}
		if (auth_expand_check(eq + 1, &error) < 0)
			log_fatal("userdb: static: %s: %s", tok, error);
		if (db->n_templates == AUTH_USERDB_FIELDS_MAX)
			log_fatal("userdb: static: too many fields");
		db->templates = xreallocarray(
		    db->templates, db->n_templates + 1, sizeof(char *));
		db->templates[db->n_templates++] = xstrdup(tok);
	}
	xfree(&copy);
}

static void
auth_userdb_add(const char *spec, size_t len)
{
	struct userdb *db;
	const char *error;

	if (n_userdbs == AUTH_USERDB_MAX)
		log_fatal("userdb: more than %d userdbs", AUTH_USERDB_MAX);
	db = &userdbs[n_userdbs];
	db->spec = xstrndup(spec, len);
	if (strcmp(db->spec, "passwd") == 0) {
		db->kind = USERDB_KIND_PASSWD;
	} else if (strncmp(db->spec, "static:", 7) == 0) {
		db->kind = USERDB_KIND_STATIC;
		userdb_parse_static(db, db->spec + 7);
	} else if (strchr(db->spec, ':') == NULL ||
		   strpbrk(db->spec, " \t") != NULL) {
		log_fatal("userdb: %s: expected passwd, static:FIELDS, "
			  "sqlite:FILE, mysql:FILE or passwd-file:FILE, "
			  "separated by commas",
			  db->spec);
	} else {
		db->kind = USERDB_KIND_MAP;
		db->passwd_file = strncmp(db->spec, "passwd-file:", 12) == 0;
		db->map = auth_map_open(db->spec, &error);
		if (db->map == NULL)
			log_fatal("userdb: %s", error);
	}
	n_userdbs++;
}

void
auth_userdb_init(void)
{
	auth_settings_split_list(var_userdb, auth_userdb_add);
	if (n_userdbs == 0)
		log_fatal("userdb: no userdb configured");
	userdb_cache = auth_cache_new(
	    (size_t)var_auth_cache_size, (unsigned int)var_auth_cache_ttl,
	    (unsigned int)var_auth_cache_negative_ttl);
}

void
auth_userdb_deinit(void)
{
	for (size_t i = 0; i < n_userdbs; i++) {
		auth_map_close(&userdbs[i].map);
		for (size_t j = 0; j < userdbs[i].n_templates; j++)
			xfree(&userdbs[i].templates[j]);
		xfree(&userdbs[i].templates);
		xfree(&userdbs[i].spec);
	}
	n_userdbs = 0;
	auth_cache_free(&userdb_cache);
}

static int
userdb_job_add(struct userdb_job *job, const char *name, const char *value)
{
	if (job->n_fields == AUTH_USERDB_FIELDS_MAX ||
	    strlen(name) + strlen(value) > AUTH_USERDB_FIELD_MAX)
		return -1;
	job->fields[job->n_fields++] = xasprintf("%s=%s", name, value);
	return 0;
}

static enum userdb_result
userdb_lookup_passwd(struct userdb_job *job)
{
	struct passwd pw, *pwp = NULL;
	char *buf = xmalloc(AUTH_PWBUF_SIZE), num[32];
	int ret = getpwnam_r(job->user, &pw, buf, AUTH_PWBUF_SIZE, &pwp);

	if (ret != 0 && ret != ENOENT && ret != ESRCH) {
		job->error = xasprintf("getpwnam_r: %s", strerror(ret));
		xfree(&buf);
		return USERDB_TEMPFAIL;
	}
	if (pwp == NULL) {
		xfree(&buf);
		return USERDB_UNKNOWN;
	}
	snprintf(num, sizeof(num), "%lu", (unsigned long)pw.pw_uid);
	(void)userdb_job_add(job, "uid", num);
	snprintf(num, sizeof(num), "%lu", (unsigned long)pw.pw_gid);
	(void)userdb_job_add(job, "gid", num);
	(void)userdb_job_add(job, "home", pw.pw_dir);
	xfree(&buf);
	return USERDB_OK;
}

static enum userdb_result
userdb_lookup_map(struct userdb *db, struct userdb_job *job)
{
	struct map_result res = {0};
	enum userdb_result result = USERDB_OK;

	switch (auth_map_lookup(db->map, job->user, &res, &job->error)) {
	case MAP_NOTFOUND:
		return USERDB_UNKNOWN;
	case MAP_TEMPFAIL:
		return USERDB_TEMPFAIL;
	case MAP_FOUND:
		break;
	}
	if (res.n_rows > 1) {
		job->error = xasprintf("%s: user query returned %zu rows",
				       db->spec, res.n_rows);
		map_result_free(&res);
		return USERDB_TEMPFAIL;
	}
	for (size_t i = 0; i < res.rows[0].n_fields; i++) {
		const char *name = res.rows[0].fields[i].name;
		const char *value = res.rows[0].fields[i].value;

		if (strcmp(name, "user") == 0) {
			if (value[0] != '\0' && job->canon == NULL)
				job->canon = xstrdup(value);
			continue;
		}
		if (strncmp(name, "userdb_", 7) == 0)
			name += 7;
		else if (db->passwd_file && strcmp(name, "uid") != 0 &&
			 strcmp(name, "gid") != 0 && strcmp(name, "home") != 0)
			continue; /* passdb fields, gecos, shell */
		if (strcmp(name, "password") == 0 || name[0] == '\0')
			continue;
		if (userdb_job_add(job, name, value) < 0) {
			job->error = xasprintf("%s: too many or too long "
					       "fields",
					       db->spec);
			result = USERDB_TEMPFAIL;
			break;
		}
	}
	map_result_free(&res);
	return result;
}

static enum userdb_result
userdb_lookup_static(struct userdb *db, struct userdb_job *job)
{
	if (!db->allow_all_users) {
		switch (auth_passdb_exists_blocking(job->user, &job->error)) {
		case PASSDB_OK:
			break;
		case PASSDB_TEMPFAIL:
			return USERDB_TEMPFAIL;
		default:
			return USERDB_UNKNOWN;
		}
	}
	for (size_t i = 0; i < db->n_templates; i++) {
		const char *t = db->templates[i], *eq = strchr(t, '='), *error;
		struct strbuf sb;
		char *name;
		int ret;

		strbuf_init(&sb, AUTH_USERDB_FIELD_MAX);
		if (auth_expand(&sb, eq + 1, job->user, &error) < 0) {
			job->error = xasprintf("static: %s", error);
			strbuf_release(&sb);
			return USERDB_TEMPFAIL;
		}
		name = xstrndup(t, (size_t)(eq - t));
		ret = userdb_job_add(job, name, strbuf_cstr(&sb));
		xfree(&name);
		strbuf_release(&sb);
		if (ret < 0) {
			job->error = xstrdup("static: too many fields");
			return USERDB_TEMPFAIL;
		}
	}
	return USERDB_OK;
}

/* uid=vmail -> uid=5000, as Dovecot's userdb does. */
static int
userdb_numeric_ids(struct userdb_job *job)
{
	char *buf = xmalloc(AUTH_PWBUF_SIZE), num[32];
	int ret = 0;

	for (size_t i = 0; i < job->n_fields && ret == 0; i++) {
		char *f = job->fields[i];
		bool is_uid = strncmp(f, "uid=", 4) == 0;
		bool is_gid = strncmp(f, "gid=", 4) == 0;
		const char *v = f + 4;

		if ((!is_uid && !is_gid) || v[0] == '\0' ||
		    strspn(v, "0123456789") == strlen(v))
			continue;
		if (is_uid) {
			struct passwd pw, *pwp = NULL;

			if (getpwnam_r(v, &pw, buf, AUTH_PWBUF_SIZE, &pwp) !=
				0 ||
			    pwp == NULL) {
				job->error =
				    xasprintf("uid: unknown user %s", v);
				ret = -1;
				break;
			}
			snprintf(num, sizeof(num), "uid=%lu",
				 (unsigned long)pw.pw_uid);
		} else {
			struct group gr, *grp = NULL;

			if (getgrnam_r(v, &gr, buf, AUTH_PWBUF_SIZE, &grp) !=
				0 ||
			    grp == NULL) {
				job->error =
				    xasprintf("gid: unknown group %s", v);
				ret = -1;
				break;
			}
			snprintf(num, sizeof(num), "gid=%lu",
				 (unsigned long)gr.gr_gid);
		}
		xfree(&job->fields[i]);
		job->fields[i] = xstrdup(num);
	}
	xfree(&buf);
	return ret;
}

static void
userdb_job_clear_fields(struct userdb_job *job)
{
	for (size_t i = 0; i < job->n_fields; i++)
		xfree(&job->fields[i]);
	job->n_fields = 0;
	xfree(&job->canon);
}

static void
userdb_job_run(void *ctx)
{
	struct userdb_job *job = ctx;
	char *first_error = NULL;

	job->result = USERDB_UNKNOWN;
	for (size_t i = 0; i < n_userdbs; i++) {
		struct userdb *db = &userdbs[i];
		enum userdb_result res;

		switch (db->kind) {
		case USERDB_KIND_PASSWD:
			res = userdb_lookup_passwd(job);
			break;
		case USERDB_KIND_STATIC:
			res = userdb_lookup_static(db, job);
			break;
		default:
			res = userdb_lookup_map(db, job);
			break;
		}
		if (res == USERDB_OK && userdb_numeric_ids(job) < 0)
			res = USERDB_TEMPFAIL;
		if (res == USERDB_OK) {
			job->result = USERDB_OK;
			xfree(&first_error);
			xfree(&job->error);
			return;
		}
		userdb_job_clear_fields(job);
		if (res == USERDB_TEMPFAIL) {
			job->result = USERDB_TEMPFAIL;
			if (first_error == NULL)
				first_error = job->error;
			else
				xfree(&job->error);
		} else {
			xfree(&job->error);
		}
		job->error = NULL;
	}
	job->error = first_error;
}

static char *
userdb_cache_key(const char *user)
{
	return xasprintf("U\t%s", user);
}

/* Stores an OK or UNKNOWN result; temporary failures are not cached. */
static void
userdb_cache_store(struct userdb_job *job)
{
	struct strbuf blob;
	char *key;

	if (job->result == USERDB_TEMPFAIL)
		return;
	key = userdb_cache_key(job->user);
	if (job->result == USERDB_UNKNOWN) {
		auth_cache_insert(userdb_cache, key, NULL, 0, time(NULL));
		xfree(&key);
		return;
	}
	strbuf_init(&blob, STRBUF_UNLIMITED);
	(void)strbuf_append(
	    &blob, job->canon != NULL ? job->canon : job->user,
	    strlen(job->canon != NULL ? job->canon : job->user) + 1);
	for (size_t i = 0; i < job->n_fields; i++)
		(void)strbuf_append(&blob, job->fields[i],
				    strlen(job->fields[i]) + 1);
	auth_cache_insert(userdb_cache, key, blob.data, blob.len, time(NULL));
	strbuf_release(&blob);
	xfree(&key);
}

static void
userdb_job_done(void *ctx)
{
	struct userdb_job *job = ctx;

	if (!job->from_cache)
		userdb_cache_store(job);
	job->cb(job->result, job->canon != NULL ? job->canon : job->user,
		job->fields, job->n_fields, job->error, job->ctx);
	userdb_job_clear_fields(job);
	xfree(&job->user);
	xfree(&job->error);
	xfree(&job);
}

/* Fills job from a cache entry; false on a miss. */
static bool
userdb_job_from_cache(struct userdb_job *job)
{
	char *key = userdb_cache_key(job->user);
	const void *data;
	size_t len;
	enum auth_cache_result res =
	    auth_cache_lookup(userdb_cache, key, time(NULL), &data, &len);

	xfree(&key);
	if (res == AUTH_CACHE_MISS)
		return false;
	job->from_cache = true;
	if (res == AUTH_CACHE_NEGATIVE) {
		job->result = USERDB_UNKNOWN;
		return true;
	}
	job->result = USERDB_OK;
	for (const char *p = data, *end = p + len; p < end;
	     p += strlen(p) + 1) {
		if (p == data)
			job->canon = xstrdup(p);
		else if (job->n_fields < AUTH_USERDB_FIELDS_MAX)
			job->fields[job->n_fields++] = xstrdup(p);
	}
	return true;
}

void
auth_userdb_lookup(const char *user, auth_userdb_cb *cb, void *ctx)
{
	struct userdb_job *job = xcalloc(1, sizeof(*job));

	job->user = xstrdup(user);
	job->cb = cb;
	job->ctx = ctx;
	/* A cached answer still goes through the loop, so callers never
	 * see their callback from inside this call. */
	if (userdb_job_from_cache(job))
		event_defer(server_loop(), userdb_job_done, job);
	else
		worker_submit(server_workers(), userdb_job_run, userdb_job_done,
			      job);
}
