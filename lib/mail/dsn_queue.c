/*
 * dsn_queue - builds a delivery status notification from a queued
 * message's recipient states and commits it to incoming/ as a new queue
 * file. The queue file is trusted only as far as queue_file's checks;
 * reply texts and addresses are passed to dsn_bounce, which cleans them.
 * Blocks on the disk (worker thread); never logs; never changes the
 * original queue file.
 */
#include "mail/dsn_queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/xmem.h"

/* Room for the report beyond the included original. */
#define DSN_QUEUE_REPORT_ROOM (8 * 1024 * 1024)

static char dsn_queue_errbuf[512];

static const char *
dsn_queue_err(const char *what, const char *detail)
{
	snprintf(dsn_queue_errbuf, sizeof(dsn_queue_errbuf),
		 "dsn_queue_notify: %s: %s", what, detail);
	return dsn_queue_errbuf;
}

static bool
dsn_queue_wanted(const struct queue_rcpt *r, enum dsn_kind kind,
		 enum dsn_action *action_r)
{
	switch (kind) {
	case DSN_KIND_FAILURE:
	case DSN_KIND_DOUBLE_BOUNCE:
		*action_r = DSN_ACTION_FAILED;
		return r->state == QUEUE_RCPT_BOUNCED;
	case DSN_KIND_DELAY:
		*action_r = DSN_ACTION_DELAYED;
		return r->state == QUEUE_RCPT_DEFERRED;
	case DSN_KIND_SUCCESS:
		*action_r = DSN_ACTION_DELIVERED;
		return r->state == QUEUE_RCPT_DELIVERED;
	}
	return false;
}

/* "host[192.0.2.1]:25" -> "host" (a new string); NULL for a relay that
 * is not a network host ("lmtpd[private/lmtp]", "none", ""). */
static char *
dsn_queue_mta(const char *relay)
{
	const char *open = strchr(relay, '['), *close;

	if (open == NULL || open == relay ||
	    (close = strchr(open, ']')) == NULL || close == open + 1)
		return NULL;
	for (const char *p = open + 1; p < close; p++) {
		if (strchr("0123456789abcdefABCDEF.:", *p) == NULL)
			return NULL;
	}
	return xstrndup(relay, (size_t)(open - relay));
}

/* Reads up to max bytes of content; -1 on a read error. */
static int
dsn_queue_content(int fd, const struct queue_msg *msg, size_t max,
		  char **data_r, size_t *len_r)
{
	size_t want =
	    (uint64_t)msg->content_size < max ? (size_t)msg->content_size : max;
	char *buf = xmalloc(want + 1);
	size_t len = 0;

	while (len < want) {
		ssize_t n = pread(fd, buf + len, want - len,
				  msg->content_offset + (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return -1;
		}
		len += (size_t)n;
	}
	*data_r = buf;
	*len_r = len;
	return 0;
}

static int
dsn_queue_commit(const char *queue_dir, const char *sender, const char *to,
		 const struct strbuf *text, const struct dsn_result *res,
		 bool smtputf8, char id_r[QUEUE_ID_MAX], const char **error_r)
{
	struct queue_writer *w;

	if (queue_file_create(queue_dir, &w, error_r) < 0)
		return -1;
	if (queue_file_set_sender(w, sender, error_r) < 0 ||
	    queue_file_add_rcpt(w, to, to, NULL, 0, error_r) < 0 ||
	    queue_file_set_attr(w, QUEUE_ATTR_BODY,
				res->eight_bit ? "8BITMIME" : "7BIT",
				error_r) < 0 ||
	    (smtputf8 &&
	     queue_file_set_attr(w, QUEUE_ATTR_SMTPUTF8, "1", error_r) < 0) ||
	    queue_file_write_content(w, text->data, text->len, error_r) < 0) {
		queue_file_abort(&w);
		return -1;
	}
	return queue_file_commit(&w, id_r, error_r);
}

int
dsn_queue_notify(const char *queue_dir, const struct queue_msg *msg, int fd,
		 enum dsn_kind kind, const bool *select,
		 const struct dsn_queue_params *params, char id_r[QUEUE_ID_MAX],
		 const char **error_r)
{
	const char *dbl = params->double_bounce_sender != NULL
			      ? params->double_bounce_sender
			      : "double-bounce";
	const char *env_sender = "", *to = msg->sender;
	struct dsn_report rep;
	struct dsn_result res;
	struct dsn_rcpt *rcpts;
	char **mtas;
	struct strbuf text;
	char *content = NULL;
	size_t content_len = 0, limit;
	int ret;

	if (strcmp(msg->sender, dbl) == 0)
		return 0;
	if (kind == DSN_KIND_FAILURE &&
	    dsn_want_double_bounce(msg->sender, dbl, DSN_ACTION_FAILED)) {
		kind = DSN_KIND_DOUBLE_BOUNCE;
		env_sender = dbl;
		to = params->postmaster != NULL ? params->postmaster
						: "postmaster";
	} else if (kind == DSN_KIND_DOUBLE_BOUNCE) {
		kind = DSN_KIND_FAILURE;
	}
	if (to[0] == '\0')
		return 0;

	rcpts = xcalloc(msg->rcpt_count + 1, sizeof(*rcpts));
	mtas = xcalloc(msg->rcpt_count + 1, sizeof(*mtas));
	memset(&rep, 0, sizeof(rep));
	for (unsigned int i = 0; i < msg->rcpt_count; i++) {
		const struct queue_rcpt *q = &msg->rcpts[i];
		struct dsn_rcpt *r = &rcpts[rep.rcpt_count];
		enum dsn_action action;

		if (select != NULL && !select[i])
			continue;
		if (!dsn_queue_wanted(q, kind, &action))
			continue;
		if (kind != DSN_KIND_DOUBLE_BOUNCE &&
		    !dsn_should_notify(msg->sender, q->notify, action))
			continue;
		r->address = q->address;
		r->orig_rcpt = q->orig_rcpt;
		r->orcpt = q->orcpt;
		r->action = action;
		r->status = q->dsn;
		r->diagnostic = q->text;
		r->remote_mta = mtas[rep.rcpt_count] = dsn_queue_mta(q->relay);
		r->last_attempt = q->last_attempt;
		if (action == DSN_ACTION_DELAYED && params->lifetime_days > 0)
			r->will_retry_until =
			    msg->arrival_sec + params->lifetime_days * 86400;
		rep.rcpt_count++;
	}
	if (rep.rcpt_count == 0) {
		free(mtas);
		free(rcpts);
		return 0;
	}
	limit = params->bounce_size_limit != 0 ? params->bounce_size_limit
					       : DSN_BOUNCE_SIZE_LIMIT_DEFAULT;
	if (dsn_queue_content(fd, msg, limit, &content, &content_len) < 0) {
		*error_r = dsn_queue_err(msg->id, "cannot read the content");
		ret = -1;
		goto out;
	}
	rep.kind = kind;
	rep.myhostname = params->myhostname;
	rep.queue_id = msg->id;
	rep.sender = msg->sender;
	rep.notify_to = to;
	rep.envid = msg->attrs[QUEUE_ATTR_ENVID];
	rep.ret = msg->attrs[QUEUE_ATTR_RET] == NULL ? DSN_RET_DEFAULT
		  : strcmp(msg->attrs[QUEUE_ATTR_RET], "HDRS") == 0
		      ? DSN_RET_HDRS
		      : DSN_RET_FULL;
	rep.smtputf8 = msg->attrs[QUEUE_ATTR_SMTPUTF8] != NULL &&
		       strcmp(msg->attrs[QUEUE_ATTR_SMTPUTF8], "1") == 0;
	rep.arrival = msg->arrival_sec;
	rep.now = params->now;
	rep.delay_warning_hours = params->delay_warning_hours;
	rep.lifetime_days = params->lifetime_days;
	rep.content = content;
	rep.content_len = content_len;
	rep.content_size = (uint64_t)msg->content_size;
	rep.bounce_size_limit = limit;
	rep.rcpts = rcpts;

	strbuf_init(&text, limit + DSN_QUEUE_REPORT_ROOM);
	ret = dsn_bounce_write(&rep, &text, &res, error_r);
	if (ret == 0)
		ret = dsn_queue_commit(queue_dir, env_sender, to, &text, &res,
				       rep.smtputf8, id_r, error_r);
	strbuf_release(&text);
	if (ret == 0)
		ret = 1;
out:
	for (unsigned int i = 0; i < msg->rcpt_count; i++)
		free(mtas[i]);
	free(mtas);
	free(rcpts);
	free(content);
	return ret;
}
