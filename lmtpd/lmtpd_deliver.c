/*
 * lmtpd_deliver - stores the spooled message for every accepted recipient
 * in a worker thread, then answers each one (Dovecot's LMTP wording):
 *   250 2.0.0 <addr> <id> Saved
 *   451 4.3.0 <addr> Temporary internal error
 * Each copy gets Return-Path, Delivered-To and a Received header in front,
 * as Dovecot's lmtp writes them. Maildir (created on first delivery,
 * "user+folder" into an existing folder with lmtp_save_to_detail_mailbox)
 * or, for an mbox mail_location, the INBOX= spool file. The message bytes
 * are untrusted and only copied; paths come from the userdb (trusted).
 * The worker must not touch loop state: it reads the session's
 * transaction, which the engine leaves alone until the replies are sent.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lmtpd.h"
#include "mail/mail_location.h"
#include "mail/mail_params.h"
#include "mail/maildir.h"
#include "mail/maildir_save.h"
#include "mail/mbox_deliver.h"
#include "mail/smtp_server.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define LMTPD_COPY_BUF 65536

struct lmtpd_job {
	struct lmtpd_session *ls;
	char *helo;
	time_t now;
};

/* The uid the user's mail must belong to: userdb uid, else mail_uid;
 * (uid_t)-1 when neither is set. -1 when a name does not resolve. */
static int
lmtpd_user_uid(const struct lmtpd_rcpt *r, uid_t *uid_r)
{
	const char *spec = r->uid != NULL ? r->uid : var_mail_uid;
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long v;

	*uid_r = (uid_t)-1;
	if (spec[0] == '\0')
		return 0;
	errno = 0;
	v = strtoul(spec, &end, 10);
	if (*end == '\0' && errno == 0) {
		*uid_r = (uid_t)v;
		return 0;
	}
	if (getpwnam_r(spec, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*uid_r = pw.pw_uid;
	return 0;
}

/* The same for the group: userdb gid, else mail_gid. */
static int
lmtpd_user_gid(const struct lmtpd_rcpt *r, gid_t *gid_r)
{
	const char *spec = r->gid != NULL ? r->gid : var_mail_gid;
	struct group gr, *res = NULL;
	char buf[4096], *end;
	unsigned long v;

	*gid_r = (gid_t)-1;
	if (spec[0] == '\0')
		return 0;
	errno = 0;
	v = strtoul(spec, &end, 10);
	if (*end == '\0' && errno == 0) {
		*gid_r = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(spec, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*gid_r = gr.gr_gid;
	return 0;
}

static int
lmtpd_headers(const struct lmtpd_job *job, const struct lmtpd_rcpt *r,
	      struct strbuf *hdr)
{
	const struct lmtpd_session *ls = job->ls;
	struct tm tm;
	char date[64];

	localtime_r(&job->now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	return strbuf_printf(hdr,
			     "Return-Path: <%s>\r\n"
			     "Delivered-To: %s\r\n"
			     "Received: from %s\r\n"
			     "\tby %s with LMTP\r\n"
			     "\tid %s\r\n"
			     "\t(envelope-from <%s>)\r\n"
			     "\tfor <%s>; %s\r\n",
			     ls->sender, r->address,
			     job->helo[0] != '\0' ? job->helo : "unknown",
			     var_myhostname, ls->id, ls->sender, r->address,
			     date);
}

/* Copies the spooled message through write_fn. */
static int
lmtpd_copy(int fd, int (*write_fn)(void *, const void *, size_t, const char **),
	   void *ctx, const char **error_r)
{
	char *buf = xmalloc(LMTPD_COPY_BUF);
	off_t off = 0;
	int ret = 0;

	for (;;) {
		ssize_t n = pread(fd, buf, LMTPD_COPY_BUF, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = maildir_set_error("read of spooled message: "
						     "%s",
						     strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		if (write_fn(ctx, buf, (size_t)n, error_r) < 0) {
			ret = -1;
			break;
		}
		off += n;
	}
	xfree(&buf);
	return ret;
}

static int
lmtpd_maildir_write(void *ctx, const void *data, size_t len,
		    const char **error_r)
{
	return maildir_save_write(ctx, data, len, error_r);
}

static int
lmtpd_mbox_write(void *ctx, const void *data, size_t len, const char **error_r)
{
	return mbox_deliver_write(ctx, data, len, error_r);
}

static int
lmtpd_deliver_maildir(const struct lmtpd_job *job, const struct lmtpd_rcpt *r,
		      const struct mail_location *loc, const struct strbuf *hdr,
		      char **where_r, const char **error_r)
{
	struct maildir_save_settings set = {.hostname = NULL, .fsync = true};
	struct maildir_save *save;
	char *dir = NULL, *file = NULL;
	const char *folder = "INBOX";
	uid_t uid;
	int ret;

	if (lmtpd_user_uid(r, &uid) < 0) {
		*error_r = maildir_set_error("unknown uid %s", r->uid);
		return -1;
	}
	if (uid != (uid_t)-1 && uid != geteuid()) {
		*error_r = maildir_set_error(
		    "mail of %s belongs to uid %ld but lmtpd runs as uid "
		    "%ld (it never changes uid)",
		    r->user, (long)uid, (long)geteuid());
		return -1;
	}
	if ((ret = maildir_exists(loc->root, error_r)) < 0)
		return -1;
	if (ret == 0 && maildir_create(loc->root, false, error_r) < 0)
		return -1;
	if (r->detail != NULL && var_lmtp_save_to_detail_mailbox &&
	    maildir_folder_dir(loc->root, r->detail, &dir, error_r) == 0) {
		int exists = maildir_exists(dir, error_r);

		/* Dovecot's lda_mailbox_autocreate: make the folder */
		if (exists == 0 && var_lda_mailbox_autocreate &&
		    maildir_create(dir, true, error_r) == 0)
			exists = 1;
		if (exists == 1)
			folder = r->detail;
		else
			xfree(&dir);
	}
	if (dir == NULL)
		dir = xstrdup(loc->root);
	save = maildir_save_begin(dir, &set, error_r);
	if (save == NULL) {
		xfree(&dir);
		return -1;
	}
	if (maildir_save_write(save, hdr->data, hdr->len, error_r) < 0 ||
	    lmtpd_copy(job->ls->tmp_fd, lmtpd_maildir_write, save, error_r) <
		0) {
		maildir_save_abort(&save);
		xfree(&dir);
		return -1;
	}
	if (maildir_save_finish(&save, &file, error_r) < 0) {
		xfree(&dir);
		return -1;
	}
	*where_r = xasprintf("%s (%s/new/%s)", folder, dir, file);
	xfree(&dir);
	xfree(&file);
	return 0;
}

static int
lmtpd_deliver_mbox(const struct lmtpd_job *job, const struct lmtpd_rcpt *r,
		   const struct mail_location *loc, const struct strbuf *hdr,
		   char **where_r, const char **error_r)
{
	struct mbox_deliver_settings set = {.lock_timeout_secs = 30};
	struct mbox_deliver *mb;
	uid_t uid;

	if (loc->inbox == NULL) {
		*error_r = maildir_set_error("mbox mail_location without "
					     "INBOX=");
		return -1;
	}
	if (lmtpd_user_uid(r, &uid) < 0) {
		*error_r = maildir_set_error("unknown uid %s", r->uid);
		return -1;
	}
	set.uid = uid;
	if (lmtpd_user_gid(r, &set.gid) < 0) {
		*error_r = maildir_set_error("unknown gid %s", r->gid);
		return -1;
	}
	mb = mbox_deliver_begin(loc->inbox, job->ls->sender, job->now, &set,
				error_r);
	if (mb == NULL)
		return -1;
	if (mbox_deliver_write(mb, hdr->data, hdr->len, error_r) < 0 ||
	    lmtpd_copy(job->ls->tmp_fd, lmtpd_mbox_write, mb, error_r) < 0) {
		mbox_deliver_abort(&mb);
		return -1;
	}
	if (mbox_deliver_finish(&mb, error_r) < 0)
		return -1;
	*where_r = xasprintf("INBOX (%s)", loc->inbox);
	return 0;
}

static void
lmtpd_deliver_run(void *arg)
{
	struct lmtpd_job *job = arg;
	struct lmtpd_session *ls = job->ls;

	for (unsigned int i = 0; i < ls->count; i++) {
		struct lmtpd_rcpt *r = &ls->rcpts[i];
		struct mail_location loc;
		struct strbuf hdr;
		const char *error = "unknown error";
		char *where = NULL;
		int ret = -1;

		strbuf_init(&hdr, 8192);
		if (lmtpd_headers(job, r, &hdr) < 0)
			error = "headers too long";
		else if (mail_location_parse(
			     r->mail != NULL ? r->mail : var_mail_location,
			     r->user, r->home, &loc, &error) == 0) {
			if (loc.format == MAIL_LOCATION_MAILDIR)
				ret = lmtpd_deliver_maildir(job, r, &loc, &hdr,
							    &where, &error);
			else
				ret = lmtpd_deliver_mbox(job, r, &loc, &hdr,
							 &where, &error);
			mail_location_clear(&loc);
		}
		strbuf_release(&hdr);
		if (ret == 0) {
			r->reply = xasprintf("250 2.0.0 <%s> %s Saved",
					     r->address, ls->id);
			xfree(&r->home); /* reused for the log line */
			r->home = where;
		} else {
			r->reply = xasprintf("451 4.3.0 <%s> Temporary "
					     "internal error",
					     r->address);
			xfree(&r->home);
			r->home = xasprintf("error: %s", error);
		}
	}
}

static void
lmtpd_deliver_done(void *arg)
{
	struct lmtpd_job *job = arg;
	struct lmtpd_session *ls = job->ls;
	struct smtp_session *s = ls->s;
	struct lmtpd_rcpt *rcpts = ls->rcpts;
	unsigned int count = ls->count;

	/* Detach the transaction first: the last reply may let the engine
	 * run pipelined commands (MAIL, QUIT) that reset or free ls. */
	ls->rcpts = NULL;
	ls->count = ls->alloc = 0;
	if (ls->tmp_fd >= 0)
		close(ls->tmp_fd);
	ls->tmp_fd = -1;
	for (unsigned int i = 0; i < count; i++) {
		struct lmtpd_rcpt *r = &rcpts[i];

		if (r->reply[0] == '2')
			log_info("lmtpd(%s)<%s>: from=<%s>, to=<%s>: saved "
				 "mail to %s",
				 r->user, ls->id, ls->sender, r->address,
				 r->home);
		else
			log_error("lmtpd(%s)<%s>: from=<%s>, to=<%s>: %s",
				  r->user, ls->id, ls->sender, r->address,
				  r->home);
	}
	for (unsigned int i = 0; i < count; i++)
		smtp_session_data_reply(s, rcpts[i].reply);
	for (unsigned int i = 0; i < count; i++)
		lmtpd_rcpt_clear(&rcpts[i]);
	xfree(&rcpts);
	xfree(&job->helo);
	xfree(&job);
}

void
lmtpd_deliver(struct lmtpd_session *ls)
{
	struct lmtpd_job *job = xcalloc(1, sizeof(*job));

	job->ls = ls;
	job->helo = xstrdup(smtp_session_helo(ls->s));
	job->now = time(NULL);
	worker_submit(server_workers(), lmtpd_deliver_run, lmtpd_deliver_done,
		      job);
}
