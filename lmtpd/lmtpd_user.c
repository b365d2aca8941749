/*
 * lmtpd_user - the RCPT TO lookup: Dovecot's userdb lookup on the auth
 * daemon's userdb socket (auth_socket_path), or, when that is empty, an
 * existence check in virtual_mailbox_maps run in a worker thread. Replies
 * use Dovecot's LMTP wording. Userdb answers are trusted (our auth
 * daemon); the address comes from the client and was checked by the
 * parser.
 */
#include <ctype.h>
#include <string.h>

#include "lmtpd.h"
#include "mail/auth_client.h"
#include "mail/mail_params.h"
#include "mail/map.h"
#include "mail/smtp_server.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/log.h"
#include "util/xmem.h"

struct lmtpd_map_job {
	struct lmtpd_session *ls;
	enum map_status status;
	char *error;
};

static void
lmtpd_user_reply(struct lmtpd_session *ls, enum auth_client_status status)
{
	char *reply;

	if (status == AUTH_CLIENT_OK) {
		if (ls->count == ls->alloc) {
			ls->alloc = ls->alloc == 0 ? 8 : ls->alloc * 2;
			ls->rcpts = xreallocarray(ls->rcpts, ls->alloc,
						  sizeof(*ls->rcpts));
		}
		ls->rcpts[ls->count++] = ls->pending;
		memset(&ls->pending, 0, sizeof(ls->pending));
		smtp_session_reply(ls->s, "250 2.1.5 OK");
		return;
	}
	if (status == AUTH_CLIENT_FAIL)
		reply = xasprintf("550 5.1.1 <%s> User doesn't exist: %s",
				  ls->pending.address, ls->pending.address);
	else
		reply = xasprintf("451 4.3.0 <%s> Temporary internal error",
				  ls->pending.address);
	lmtpd_rcpt_clear(&ls->pending);
	smtp_session_reply(ls->s, reply);
	xfree(&reply);
}

static void
lmtpd_userdb_done(enum auth_client_status status, const char *user,
		  char *const *fields, size_t n_fields, void *ctx)
{
	struct lmtpd_session *ls = ctx;
	struct lmtpd_rcpt *r = &ls->pending;

	if (status == AUTH_CLIENT_OK) {
		if (user != NULL && user[0] != '\0') {
			xfree(&r->user);
			r->user = xstrdup(user);
		}
		for (size_t i = 0; i < n_fields; i++) {
			const char *f = fields[i];

			if (strncmp(f, "home=", 5) == 0) {
				xfree(&r->home);
				r->home = xstrdup(f + 5);
			} else if (strncmp(f, "mail=", 5) == 0) {
				xfree(&r->mail);
				r->mail = xstrdup(f + 5);
			} else if (strncmp(f, "uid=", 4) == 0) {
				xfree(&r->uid);
				r->uid = xstrdup(f + 4);
			} else if (strncmp(f, "gid=", 4) == 0) {
				xfree(&r->gid);
				r->gid = xstrdup(f + 4);
			}
		}
	} else if (status == AUTH_CLIENT_TEMPFAIL) {
		log_warning("lmtpd: userdb lookup of %s failed temporarily",
			    r->user);
	}
	lmtpd_user_reply(ls, status);
}

static void
lmtpd_map_run(void *job)
{
	struct lmtpd_map_job *j = job;
	struct map_result result;
	const char *error = NULL;

	memset(&result, 0, sizeof(result));
	j->status =
	    map_lookup(lmtpd_mailbox_map, j->ls->pending.user, &result, &error);
	if (j->status == MAP_TEMPFAIL)
		j->error = xstrdup(error != NULL ? error : "unknown error");
	map_result_free(&result);
}

static void
lmtpd_map_done(void *job)
{
	struct lmtpd_map_job *j = job;

	if (j->status == MAP_TEMPFAIL)
		log_warning("lmtpd: %s: lookup of %s: %s",
			    map_spec(lmtpd_mailbox_map), j->ls->pending.user,
			    j->error);
	lmtpd_user_reply(j->ls, j->status == MAP_FOUND ? AUTH_CLIENT_OK
				: j->status == MAP_NOTFOUND
				    ? AUTH_CLIENT_FAIL
				    : AUTH_CLIENT_TEMPFAIL);
	xfree(&j->error);
	xfree(&j);
}

void
lmtpd_user_lookup(struct lmtpd_session *ls)
{
	if (lmtpd_mailbox_map != NULL) {
		struct lmtpd_map_job *j = xcalloc(1, sizeof(*j));

		/* the canonical name, as Dovecot's auth_username_format = %Lu:
		 * paths from %n/%d must not depend on the client's case */
		for (char *p = ls->pending.user; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);

		j->ls = ls;
		worker_submit(server_workers(), lmtpd_map_run, lmtpd_map_done,
			      j);
		return;
	}
	auth_client_userdb_lookup(
	    server_loop(), var_auth_socket_path, ls->pending.user, "lmtp",
	    (unsigned int)var_lmtp_user_lookup_timeout * 1000,
	    lmtpd_userdb_done, ls);
}
