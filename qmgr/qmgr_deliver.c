/*
 * qmgr_deliver - hands a message's recipients to the delivery agents.
 * Recipients are grouped per (transport, nexthop) into batches of at most
 * default_destination_recipient_limit; each destination runs at most
 * default_destination_concurrency_limit batches at once, or one at a time
 * with default_destination_rate_delay between the end of one and the
 * start of the next (Postfix's semantics; each overridden per transport
 * by <transport>_destination_recipient_limit, ..._concurrency_limit and
 * ..._rate_delay). Batches found in one queue scan
 * start on the next loop iteration, so that a request can tell the agent
 * that more mail for its destination is waiting (the backlog flag, for
 * smtp_connection_cache_on_demand). A batch connects
 * to $queue_directory/private/<transport>, sends one deliver_proto
 * request and reads the status (strictly decoded; a malformed or missing
 * reply defers the batch). Results are appended to the queue file on a
 * worker thread (fsync'd); when no batch is left, qmgr_notify expires
 * old recipients and queues the notifications owed, then the file is
 * removed (all done) or moved to deferred/ with its mtime set to the next
 * attempt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mail/config.h"
#include "mail/deliver_proto.h"
#include "mail/mail_params.h"
#include "qmgr.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/event.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/safe_file.h"
#include "util/sock.h"
#include "util/stream.h"
#include "util/xmem.h"

/* How long qmgr waits for an agent's status (the agent has its own,
 * shorter LMTP timeouts). */
#define QMGR_AGENT_TIMEOUT_MS (3600u * 1000)

struct qmgr_dest;

struct qmgr_batch {
	struct qmgr_batch *next; /* in the destination's wait list */
	struct qmgr_msg *msg;
	struct qmgr_dest *dest;
	unsigned int *idx; /* recipient indexes */
	unsigned int n;
	struct stream *stream;
	struct strbuf in;
	/* Results, one per idx entry, for the status job. */
	struct queue_status *status;
	char **texts, **dsns, **relays; /* owned copies for status */
	bool failed_append;
};

struct qmgr_dest {
	struct qmgr_dest *next;
	char *transport, *nexthop;
	unsigned int active;
	struct qmgr_batch *wait_head, *wait_tail;
	/* Rate delay: no batch starts before ready_ms (loop clock); the
	 * timer runs the destination then. */
	uint64_t ready_ms;
	struct event_timer *timer;
	/* The transport's limits (default_destination_*, or the
	 * <transport>_destination_* overrides). */
	long long concurrency, rate_delay, rcpt_limit;
	bool run_deferred; /* a qmgr_dest_run is queued (event_defer) */
};

unsigned int qmgr_active_count;
static struct qmgr_dest *dests;

static void qmgr_dest_run(struct qmgr_dest *dest);

void
qmgr_msg_free(struct qmgr_msg **msgp)
{
	struct qmgr_msg *msg = *msgp;

	if (msg == NULL)
		return;
	*msgp = NULL;
	for (unsigned int i = 0; i < msg->qm->rcpt_count; i++) {
		free(msg->transport[i]);
		free(msg->nexthop[i]);
	}
	free(msg->transport);
	free(msg->nexthop);
	free(msg->fresh);
	queue_msg_free(&msg->qm);
	free(msg->path);
	free(msg);
}

static struct qmgr_dest *
qmgr_dest_get(const char *transport, const char *nexthop)
{
	struct qmgr_dest *d;

	for (d = dests; d != NULL; d = d->next) {
		if (strcmp(d->transport, transport) == 0 &&
		    strcmp(d->nexthop, nexthop) == 0)
			return d;
	}
	d = xcalloc(1, sizeof(*d));
	d->transport = xstrdup(transport);
	d->nexthop = xstrdup(nexthop);
	if (!config_transport_param(transport, "destination_concurrency_limit",
				    &d->concurrency))
		d->concurrency = var_default_destination_concurrency_limit;
	if (!config_transport_param(transport, "destination_rate_delay",
				    &d->rate_delay))
		d->rate_delay = var_default_destination_rate_delay;
	if (!config_transport_param(transport, "destination_recipient_limit",
				    &d->rcpt_limit))
		d->rcpt_limit = var_default_destination_recipient_limit;
	d->next = dests;
	dests = d;
	return d;
}

/* --- finishing a message ------------------------------------------------ */

struct qmgr_finish {
	struct qmgr_msg *msg;
	bool removed, notified;
	struct qmgr_notify notify;
	time_t now, next_attempt;
	const char *error;
	char *error_copy;
};

static void
qmgr_finish_run(void *job)
{
	struct qmgr_finish *f = job;
	struct qmgr_msg *msg = f->msg;
	char *dir;
	const char *error;

	/* Notifications first: the original is removed only once they are
	 * queued. Expired recipients become bounced here. */
	f->notified = qmgr_notify_run(msg, &f->notify, f->now);
	if (queue_msg_pending(msg->qm) == 0) {
		if (unlink(msg->path) < 0 && errno != ENOENT) {
			f->error_copy = xasprintf("unlink %s: %s", msg->path,
						  strerror(errno));
			return;
		}
		dir = xasprintf("%s/%s", var_queue_directory, QUEUE_DIR_ACTIVE);
		if (safe_file_fsync_dir(dir, &error) < 0)
			f->error_copy = xstrdup(error);
		free(dir);
		f->removed = true;
		return;
	}
	char *to = xasprintf("%s/%s/%s", var_queue_directory,
			     QUEUE_DIR_DEFERRED, msg->id);
	struct timespec times[2] = {
	    {.tv_sec = f->next_attempt, .tv_nsec = 0},
	    {.tv_sec = f->next_attempt, .tv_nsec = 0},
	};
	/* The mtime is the next attempt; set before the rename so the
	 * deferred scan never sees a file that looks due too early. */
	if (utimensat(AT_FDCWD, msg->path, times, 0) < 0 ||
	    rename(msg->path, to) < 0) {
		f->error_copy =
		    xasprintf("defer %s: %s", msg->path, strerror(errno));
		free(to);
		return;
	}
	free(to);
	dir = xasprintf("%s/%s", var_queue_directory, QUEUE_DIR_DEFERRED);
	if (safe_file_fsync_dir(dir, &error) < 0)
		f->error_copy = xstrdup(error);
	free(dir);
}

static void
qmgr_finish_done(void *job)
{
	struct qmgr_finish *f = job;

	if (f->error_copy != NULL) {
		log_warning("%s: %s", f->msg->id, f->error_copy);
		free(f->error_copy);
	}
	qmgr_notify_log(f->msg, &f->notify);
	if (f->removed)
		log_info("%s: removed", f->msg->id);
	/* A notification waits in incoming/. */
	if (f->notified)
		qmgr_scan_request(false);
	qmgr_msg_free(&f->msg);
	free(f);
	qmgr_active_count--;
	/* Room in active/ again: take more if some were left waiting. */
	qmgr_scan_room();
}

static void
qmgr_msg_finish(struct qmgr_msg *msg)
{
	struct qmgr_finish *f = xcalloc(1, sizeof(*f));
	time_t now = time(NULL), next = 0;

	qmgr_notify_expire(msg, now);
	for (unsigned int i = 0; i < msg->qm->rcpt_count; i++) {
		const struct queue_rcpt *r = &msg->qm->rcpts[i];

		if ((r->state != QUEUE_RCPT_DEFERRED &&
		     r->state != QUEUE_RCPT_PENDING) ||
		    (msg->fresh[i] & QMGR_FRESH_EXPIRE) != 0)
			continue;
		time_t t = r->next_attempt > now
			       ? r->next_attempt
			       : now + qmgr_backoff(r->attempts);
		if (next == 0 || t < next)
			next = t;
	}
	msg->finishing = true;
	f->msg = msg;
	f->now = now;
	f->next_attempt = next;
	worker_submit(server_workers(), qmgr_finish_run, qmgr_finish_done, f);
}

/* --- recording results ----------------------------------------------- */

static void
qmgr_status_run(void *job)
{
	struct qmgr_batch *b = job;
	int fd = open(b->msg->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	const char *error;

	if (fd < 0) {
		b->failed_append = true;
		return;
	}
	for (unsigned int i = 0; i < b->n; i++) {
		/* Durable with the append's fsync, before the status. */
		if (b->status[i].state == QUEUE_RCPT_BOUNCED &&
		    qmgr_mode_flag(fd, QMGR_MODE_BOUNCE_OWED, true) < 0) {
			b->failed_append = true;
			break;
		}
	}
	for (unsigned int i = 0; i < b->n && !b->failed_append; i++) {
		if (queue_file_append_status(fd, &b->status[i], &error) < 0) {
			b->failed_append = true;
			break;
		}
	}
	close(fd);
}

static void
qmgr_batch_free(struct qmgr_batch *b)
{
	stream_free(&b->stream);
	strbuf_release(&b->in);
	if (b->texts != NULL) {
		for (unsigned int i = 0; i < b->n; i++) {
			free(b->texts[i]);
			free(b->dsns[i]);
			free(b->relays[i]);
		}
	}
	free(b->texts);
	free(b->dsns);
	free(b->relays);
	free(b->status);
	free(b->idx);
	free(b);
}

static void
qmgr_status_done(void *job)
{
	struct qmgr_batch *b = job;
	struct qmgr_msg *msg = b->msg;

	if (b->failed_append)
		log_warning("%s: cannot record delivery status: %s", msg->id,
			    strerror(errno));
	/* Apply to the in-memory copy (what the file now says). */
	for (unsigned int i = 0; i < b->n; i++) {
		struct queue_rcpt *r = &msg->qm->rcpts[b->idx[i]];
		const struct queue_status *st = &b->status[i];

		if (b->failed_append && st->state != QUEUE_RCPT_DEFERRED) {
			/* Not durable: keep it pending so it is retried
			 * after a restart rather than lost. */
			r->state = QUEUE_RCPT_DEFERRED;
			r->attempts++;
			continue;
		}
		r->state = st->state;
		if (st->state == QUEUE_RCPT_BOUNCED)
			msg->fresh[b->idx[i]] |= QMGR_FRESH_BOUNCED;
		else if (st->state == QUEUE_RCPT_DELIVERED)
			msg->fresh[b->idx[i]] |= QMGR_FRESH_SENT;
		r->attempts++;
		r->next_attempt = st->next_attempt;
		r->last_attempt = st->when;
		/* The notices quote these: take the batch's copies. */
		free(r->dsn);
		free(r->text);
		free(r->relay);
		r->dsn = b->dsns[i];
		r->text = b->texts[i];
		r->relay = b->relays[i];
		b->dsns[i] = b->texts[i] = b->relays[i] = NULL;
	}
	if (--msg->batches == 0)
		qmgr_msg_finish(msg);
	qmgr_batch_free(b);
}

/* Ends a batch with results (reply NULL: the agent failed, every
 * recipient is deferred with reason). */
static void
qmgr_batch_end(struct qmgr_batch *b, const struct deliver_reply *reply,
	       const char *reason)
{
	struct qmgr_dest *dest = b->dest;
	time_t now = time(NULL);

	stream_free(&b->stream);
	dest->active--;
	if (dest->rate_delay > 0)
		dest->ready_ms = event_loop_now_ms(server_loop()) +
				 (uint64_t)dest->rate_delay * 1000;
	b->status = xcalloc(b->n, sizeof(*b->status));
	b->texts = xcalloc(b->n, sizeof(char *));
	b->dsns = xcalloc(b->n, sizeof(char *));
	b->relays = xcalloc(b->n, sizeof(char *));
	for (unsigned int i = 0; i < b->n; i++) {
		struct queue_status *st = &b->status[i];
		const struct queue_rcpt *r = &b->msg->qm->rcpts[b->idx[i]];
		const struct deliver_result *res = NULL;

		if (reply != NULL) {
			for (unsigned int j = 0; j < reply->count; j++) {
				if (reply->results[j].index == b->idx[i])
					res = &reply->results[j];
			}
		}
		st->rcpt_index = b->idx[i];
		st->when = now;
		if (res == NULL) {
			st->state = QUEUE_RCPT_DEFERRED;
			b->dsns[i] = xstrdup("4.3.0");
			b->relays[i] = xstrdup("none");
			b->texts[i] = xstrdup(
			    reason != NULL ? reason
					   : "no status from delivery agent");
			log_info("%s: to=<%s>, relay=none, dsn=4.3.0, "
				 "status=deferred (%s)",
				 b->msg->id, r->address, b->texts[i]);
		} else {
			st->state = res->action == DELIVER_SENT
					? QUEUE_RCPT_DELIVERED
				    : res->action == DELIVER_BOUNCED
					? QUEUE_RCPT_BOUNCED
					: QUEUE_RCPT_DEFERRED;
			b->dsns[i] = xstrdup(res->dsn);
			b->relays[i] = xstrdup(res->relay);
			b->texts[i] = xstrdup(res->text);
		}
		st->dsn = b->dsns[i];
		st->relay = b->relays[i];
		st->text = b->texts[i];
		if (st->state == QUEUE_RCPT_DEFERRED)
			st->next_attempt = now + qmgr_backoff(r->attempts + 1);
	}
	worker_submit(server_workers(), qmgr_status_run, qmgr_status_done, b);
	qmgr_dest_run(dest);
}

/* --- talking to the agent -------------------------------------------- */

static void
qmgr_batch_error(struct stream *s, enum stream_error err, void *ctx)
{
	struct qmgr_batch *b = ctx;

	(void)s;
	qmgr_batch_end(b, NULL,
		       err == STREAM_ERR_TIMEOUT
			   ? "timeout waiting for the delivery agent"
			   : "delivery agent went away (crashed?)");
}

static void
qmgr_batch_read(struct stream *s, void *ctx)
{
	struct qmgr_batch *b = ctx;
	const char *data, *payload, *error = "";
	size_t n, plen, used;
	struct deliver_reply *reply;
	int ret;

	while ((n = stream_read(s, &data, 65536)) > 0) {
		if (strbuf_append(&b->in, data, n) < 0) {
			qmgr_batch_end(b, NULL, "status from agent too large");
			return;
		}
	}
	ret = deliver_proto_frame(b->in.data == NULL ? "" : b->in.data,
				  b->in.len, &payload, &plen, &used, &error);
	if (ret == 0) {
		if (stream_eof(s))
			qmgr_batch_end(b, NULL,
				       "delivery agent closed the "
				       "connection (crashed?)");
		return;
	}
	if (ret < 0 ||
	    deliver_proto_decode_reply(payload, plen, &reply, &error) < 0) {
		log_warning("%s: bad status from %s: %s", b->msg->id,
			    b->dest->transport, error);
		qmgr_batch_end(b, NULL, "malformed status from delivery agent");
		return;
	}
	qmgr_batch_end(b, reply, NULL);
	deliver_reply_free(&reply);
}

static void
qmgr_batch_start(struct qmgr_batch *b)
{
	struct qmgr_msg *msg = b->msg;
	const struct queue_msg *qm = msg->qm;
	struct deliver_request req;
	struct strbuf out;
	char *sock;
	const char *error;
	int fd;

	b->dest->active++;
	sock =
	    xasprintf("%s/private/%s", var_queue_directory, b->dest->transport);
	fd = sock_connect_unix(sock, &error);
	free(sock);
	if (fd < 0) {
		char *why = xasprintf("mail transport unavailable: %s", error);
		qmgr_batch_end(b, NULL, why);
		free(why);
		return;
	}
	sock_set_nonblock(fd, true);
	memset(&req, 0, sizeof(req));
	req.queue_id = msg->id;
	req.queue_file = xasprintf("%s/%s", QUEUE_DIR_ACTIVE, msg->id);
	req.nexthop = b->dest->nexthop;
	req.sender = qm->sender;
	req.content_offset = qm->content_offset;
	req.content_size = qm->content_size;
	req.arrival_us = (unsigned long long)qm->arrival_sec * 1000000u +
			 (unsigned long long)qm->arrival_usec;
	req.active_time = msg->active_time;
#define ATTR(a) (qm->attrs[a] != NULL ? qm->attrs[a] : "")
	req.envid = (char *)ATTR(QUEUE_ATTR_ENVID);
	req.ret = (char *)ATTR(QUEUE_ATTR_RET);
	req.body = (char *)ATTR(QUEUE_ATTR_BODY);
	req.smtputf8 = qm->attrs[QUEUE_ATTR_SMTPUTF8] != NULL &&
		       strcmp(qm->attrs[QUEUE_ATTR_SMTPUTF8], "1") == 0;
#undef ATTR
	/* More for this destination waits or is in flight (this batch was
	 * counted in active above). */
	req.backlog = b->dest->wait_head != NULL || b->dest->active > 1;
	req.rcpt_count = b->n;
	req.rcpts = xcalloc(b->n, sizeof(*req.rcpts));
	for (unsigned int i = 0; i < b->n; i++) {
		const struct queue_rcpt *r = &qm->rcpts[b->idx[i]];

		req.rcpts[i].index = b->idx[i];
		req.rcpts[i].address = r->address;
		req.rcpts[i].orcpt = r->orcpt;
		req.rcpts[i].notify = r->notify;
	}
	strbuf_init(&out, DELIVER_PROTO_MAX_FRAME + 64);
	int ret = deliver_proto_encode_request(&out, &req);
	free(req.rcpts);
	free(req.queue_file);
	b->stream =
	    stream_new(server_loop(), fd, 4096, DELIVER_PROTO_MAX_FRAME + 64);
	strbuf_init(&b->in, DELIVER_PROTO_MAX_FRAME + 64);
	stream_set_callbacks(b->stream, qmgr_batch_read, qmgr_batch_error, b);
	stream_set_timeout(b->stream, QMGR_AGENT_TIMEOUT_MS);
	if (ret < 0 || stream_write(b->stream, out.data, out.len) < 0) {
		strbuf_release(&out);
		qmgr_batch_end(b, NULL, "cannot encode the delivery request");
		return;
	}
	strbuf_release(&out);
}

static void
qmgr_dest_timer(void *ctx)
{
	struct qmgr_dest *dest = ctx;

	event_timer_del(&dest->timer);
	qmgr_dest_run(dest);
}

static void
qmgr_dest_deferred(void *ctx)
{
	struct qmgr_dest *dest = ctx;

	dest->run_deferred = false;
	qmgr_dest_run(dest);
}

static void
qmgr_dest_run(struct qmgr_dest *dest)
{
	bool rate = dest->rate_delay > 0;
	long long limit = rate ? 1 : dest->concurrency;

	while (dest->wait_head != NULL && dest->active < limit) {
		struct qmgr_batch *b = dest->wait_head;
		uint64_t now = event_loop_now_ms(server_loop());

		if (rate && now < dest->ready_ms) {
			if (dest->timer == NULL)
				dest->timer = event_timer_add(
				    server_loop(),
				    (unsigned int)(dest->ready_ms - now), false,
				    qmgr_dest_timer, dest);
			return;
		}

		dest->wait_head = b->next;
		if (dest->wait_head == NULL)
			dest->wait_tail = NULL;
		b->next = NULL;
		qmgr_batch_start(b);
	}
}

void
qmgr_deliver_msg(struct qmgr_msg *msg)
{
	const struct queue_msg *qm = msg->qm;
	bool *taken = xcalloc(qm->rcpt_count, sizeof(bool));

	qmgr_active_count++;
	msg->fresh = xcalloc(qm->rcpt_count, 1);
	for (unsigned int i = 0; i < qm->rcpt_count && msg->bounce_owed; i++) {
		if (qm->rcpts[i].state == QUEUE_RCPT_BOUNCED)
			msg->fresh[i] |= QMGR_FRESH_BOUNCED;
	}
	msg->batches = 1; /* held until every batch is queued */
	for (unsigned int i = 0; i < qm->rcpt_count; i++) {
		struct qmgr_batch *b = NULL;
		struct qmgr_dest *dest;

		if (taken[i] || msg->transport[i] == NULL)
			continue;
		if (msg->transport[i][0] == '\0') {
			/* Transport lookup failed: try again later. */
			msg->qm->rcpts[i].state = QUEUE_RCPT_DEFERRED;
			continue;
		}
		dest = qmgr_dest_get(msg->transport[i], msg->nexthop[i]);
		for (unsigned int j = i; j < qm->rcpt_count; j++) {
			if (taken[j] || msg->transport[j] == NULL ||
			    strcmp(msg->transport[j], dest->transport) != 0 ||
			    strcmp(msg->nexthop[j], dest->nexthop) != 0)
				continue;
			if (b == NULL || b->n == (unsigned int)dest->rcpt_limit) {
				b = xcalloc(1, sizeof(*b));
				b->msg = msg;
				b->dest = dest;
				b->idx = xcalloc((size_t)dest->rcpt_limit,
						 sizeof(unsigned int));
				msg->batches++;
				if (dest->wait_tail != NULL)
					dest->wait_tail->next = b;
				else
					dest->wait_head = b;
				dest->wait_tail = b;
			}
			b->idx[b->n++] = j;
			taken[j] = true;
		}
		/* Started on the next iteration: the other messages of this
		 * scan join the wait list first (backlog flag). */
		if (!dest->run_deferred) {
			dest->run_deferred = true;
			event_defer(server_loop(), qmgr_dest_deferred, dest);
		}
	}
	free(taken);
	if (--msg->batches == 0)
		qmgr_msg_finish(msg);
}
