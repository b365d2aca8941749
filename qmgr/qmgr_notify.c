/*
 * qmgr_notify - what qmgr owes the sender when a message's delivery pass
 * ends: recipients deferred past maximal_queue_lifetime (or
 * bounce_queue_lifetime for mail from the null sender) become bounced
 * ("status=expired, returned to sender"); bounced recipients get an RFC
 * 3464 failure notice, delivered ones with NOTIFY=SUCCESS a success
 * notice, and a message older than delay_warning_time one delay warning
 * (remembered durably as the owner-execute bit of the queue file, so it
 * is sent once; QMGR_MODE_BOUNCE_OWED likewise makes a failure notice
 * survive a crash). dsn_queue builds and queues the notices (null sender
 * mail becomes a double bounce to 2bounce_notice_recipient there).
 * The queue file is trusted as far as queue_file checks it. The worker
 * part never logs and never touches the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/dsn_queue.h"
#include "mail/mail_params.h"
#include "qmgr.h"
#include "util/log.h"
#include "util/xmem.h"

/* Reason for an expired recipient that never got a reply. */
#define QMGR_EXPIRED_TEXT "message is older than maximal_queue_lifetime"

time_t
qmgr_backoff(unsigned int attempts)
{
	long long delay = var_minimal_backoff_time;

	for (unsigned int i = 1;
	     i < attempts && delay < var_maximal_backoff_time; i++)
		delay *= 2;
	if (delay > var_maximal_backoff_time)
		delay = var_maximal_backoff_time;
	return (time_t)delay;
}

static bool
qmgr_is_bounce(const char *sender)
{
	return sender[0] == '\0' ||
	       strcmp(sender, var_double_bounce_sender) == 0;
}

void
qmgr_notify_expire(struct qmgr_msg *msg, time_t now)
{
	const struct queue_msg *qm = msg->qm;
	long long lifetime = qmgr_is_bounce(qm->sender)
				 ? var_bounce_queue_lifetime
				 : var_maximal_queue_lifetime;
	long long age = (long long)(now - qm->arrival_sec);

	if (age < lifetime)
		return;
	for (unsigned int i = 0; i < qm->rcpt_count; i++) {
		const struct queue_rcpt *r = &qm->rcpts[i];

		if (r->state != QUEUE_RCPT_DEFERRED &&
		    r->state != QUEUE_RCPT_PENDING)
			continue;
		msg->fresh[i] |= QMGR_FRESH_EXPIRE;
		log_info("%s: to=<%s>, relay=none, delay=%lld, "
			 "delays=%lld/0/0/0, dsn=%s, status=expired, "
			 "returned to sender (%s)",
			 msg->id, r->address, age, age,
			 r->dsn[0] == '4' ? r->dsn : "4.4.7",
			 r->text[0] != '\0' ? r->text : QMGR_EXPIRED_TEXT);
	}
}

int
qmgr_mode_flag(int fd, mode_t bit, bool on)
{
	struct stat stb;
	mode_t mode;

	if (fstat(fd, &stb) < 0)
		return -1;
	mode = stb.st_mode & 07777;
	if (((mode & bit) != 0) == on)
		return 0;
	return fchmod(fd, on ? mode | bit : mode & ~bit);
}

static void
qmgr_notify_warn(struct qmgr_notify *res, char *text)
{
	for (size_t i = 0; i < sizeof(res->warnings) / sizeof(res->warnings[0]);
	     i++) {
		if (res->warnings[i] == NULL) {
			res->warnings[i] = text;
			return;
		}
	}
	free(text);
}

/* Appends status st for recipient i and applies it in memory. */
static int
qmgr_notify_record(struct qmgr_msg *msg, int fd, unsigned int i,
		   enum queue_rcpt_state state, const char *dsn,
		   const char *text, time_t now, time_t next,
		   const char **error_r)
{
	struct queue_rcpt *r = &msg->qm->rcpts[i];
	struct queue_status st = {
	    .rcpt_index = i,
	    .state = state,
	    .dsn = dsn,
	    .relay = r->relay,
	    .text = text,
	    .when = now,
	    .next_attempt = next,
	};
	char *dsn_copy, *text_copy;

	if (queue_file_append_status(fd, &st, error_r) < 0)
		return -1;
	dsn_copy = xstrdup(dsn);
	text_copy = xstrdup(text);
	free(r->dsn);
	free(r->text);
	r->dsn = dsn_copy;
	r->text = text_copy;
	r->state = state;
	r->next_attempt = next;
	return 0;
}

static char *
qmgr_qualify(const char *name, const char *domain)
{
	if (strchr(name, '@') != NULL || domain[0] == '\0')
		return xstrdup(name);
	return xasprintf("%s@%s", name, domain);
}

bool
qmgr_notify_run(struct qmgr_msg *msg, struct qmgr_notify *res, time_t now)
{
	struct queue_msg *qm = msg->qm;
	struct dsn_queue_params params;
	bool *select = xcalloc(qm->rcpt_count, sizeof(bool));
	bool any_bounce = false, any_sent = false, queued = false;
	char *dbl = qmgr_qualify(var_double_bounce_sender, var_myorigin);
	char *pm = qmgr_qualify(var_2bounce_notice_recipient, var_mydomain);
	const char *error;
	struct stat stb;
	int fd, ret = 0;

	memset(res, 0, sizeof(*res));
	fd = open(msg->path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		qmgr_notify_warn(
		    res, xasprintf("open %s: %s", msg->path, strerror(errno)));
		goto out;
	}
	for (unsigned int i = 0; i < qm->rcpt_count; i++) {
		struct queue_rcpt *r = &qm->rcpts[i];

		if ((msg->fresh[i] & QMGR_FRESH_EXPIRE) != 0) {
			if (qmgr_mode_flag(fd, QMGR_MODE_BOUNCE_OWED, true) <
			    0) {
				qmgr_notify_warn(
				    res, xasprintf("chmod %s: %s", msg->path,
						   strerror(errno)));
				continue;
			}
			char *dsn =
			    xstrdup(r->dsn[0] == '4' ? r->dsn : "4.4.7");
			char *text = xstrdup(
			    r->text[0] != '\0' ? r->text : QMGR_EXPIRED_TEXT);

			ret = qmgr_notify_record(msg, fd, i, QUEUE_RCPT_BOUNCED,
						 dsn, text, now, 0, &error);
			free(dsn);
			free(text);
			if (ret < 0) {
				/* Still deferred on disk: expires again on
				 * the next pass. */
				qmgr_notify_warn(res, xstrdup(error));
				continue;
			}
			msg->fresh[i] |= QMGR_FRESH_BOUNCED;
		}
		select[i] = (msg->fresh[i] & QMGR_FRESH_BOUNCED) != 0 &&
			    r->state == QUEUE_RCPT_BOUNCED;
		any_bounce |= select[i];
		any_sent |= (msg->fresh[i] & QMGR_FRESH_SENT) != 0 &&
			    (r->notify & QUEUE_NOTIFY_SUCCESS) != 0;
	}

	memset(&params, 0, sizeof(params));
	params.myhostname = var_myhostname;
	params.double_bounce_sender = dbl;
	params.postmaster = pm;
	params.bounce_size_limit = (size_t)var_bounce_size_limit;
	params.delay_warning_hours =
	    var_delay_warning_time < 3600 ? 1 : var_delay_warning_time / 3600;
	params.lifetime_days = var_maximal_queue_lifetime < 86400
				   ? 1
				   : var_maximal_queue_lifetime / 86400;
	params.now = now;

	if (any_bounce) {
		ret = dsn_queue_notify(var_queue_directory, qm, fd,
				       DSN_KIND_FAILURE, select, &params,
				       res->bounce_id, &error);
		if (ret < 0) {
			/* Not lost: back to deferred, bounced again on the
			 * next attempt (and notified then). */
			qmgr_notify_warn(res,
					 xasprintf("cannot queue the "
						   "non-delivery notification "
						   "(recipients deferred): %s",
						   error));
			for (unsigned int i = 0; i < qm->rcpt_count; i++) {
				struct queue_rcpt *r = &qm->rcpts[i];
				char *dsn, *text;

				if (!select[i])
					continue;
				dsn = xstrdup(r->dsn);
				text = xstrdup(r->text);
				(void)qmgr_notify_record(
				    msg, fd, i, QUEUE_RCPT_DEFERRED, dsn, text,
				    now, now + qmgr_backoff(r->attempts),
				    &error);
				free(dsn);
				free(text);
			}
		} else if (ret > 0) {
			res->double_bounce = qmgr_is_bounce(qm->sender);
			queued = true;
		}
	}
	/* Queued (or none owed): a later pass must not repeat it. Losing
	 * this change only means a duplicate notice after a crash. */
	if (!any_bounce || ret >= 0)
		(void)qmgr_mode_flag(fd, QMGR_MODE_BOUNCE_OWED, false);
	if (any_sent) {
		for (unsigned int i = 0; i < qm->rcpt_count; i++)
			select[i] = (msg->fresh[i] & QMGR_FRESH_SENT) != 0;
		ret = dsn_queue_notify(var_queue_directory, qm, fd,
				       DSN_KIND_SUCCESS, select, &params,
				       res->success_id, &error);
		if (ret < 0)
			qmgr_notify_warn(
			    res, xasprintf("cannot queue the delivery status "
					   "notification: %s",
					   error));
		queued |= ret > 0;
	}
	if (var_delay_warning_time > 0 && queue_msg_pending(qm) > 0 &&
	    (long long)(now - qm->arrival_sec) >= var_delay_warning_time &&
	    fstat(fd, &stb) == 0 &&
	    (stb.st_mode & QMGR_MODE_DELAY_WARNED) == 0) {
		/* Marked first: at most one warning, even after a crash. */
		if (qmgr_mode_flag(fd, QMGR_MODE_DELAY_WARNED, true) < 0 ||
		    fsync(fd) < 0) {
			qmgr_notify_warn(res,
					 xasprintf("chmod %s: %s", msg->path,
						   strerror(errno)));
		} else {
			ret = dsn_queue_notify(var_queue_directory, qm, fd,
					       DSN_KIND_DELAY, NULL, &params,
					       res->delay_id, &error);
			if (ret < 0)
				qmgr_notify_warn(
				    res, xasprintf("cannot queue the delay "
						   "notification: %s",
						   error));
			queued |= ret > 0;
		}
	}
	close(fd);
out:
	free(select);
	free(dbl);
	free(pm);
	return queued;
}

void
qmgr_notify_log(const struct qmgr_msg *msg, struct qmgr_notify *res)
{
	for (size_t i = 0; i < sizeof(res->warnings) / sizeof(res->warnings[0]);
	     i++) {
		if (res->warnings[i] != NULL) {
			log_warning("%s: %s", msg->id, res->warnings[i]);
			free(res->warnings[i]);
			res->warnings[i] = NULL;
		}
	}
	/* Postfix's bounce daemon wording. */
	if (res->bounce_id[0] != '\0')
		log_info("%s: %s non-delivery notification: %s", msg->id,
			 res->double_bounce ? "postmaster" : "sender",
			 res->bounce_id);
	if (res->success_id[0] != '\0')
		log_info("%s: sender delivery status notification: %s", msg->id,
			 res->success_id);
	if (res->delay_id[0] != '\0')
		log_info("%s: sender delay notification: %s", msg->id,
			 res->delay_id);
}
