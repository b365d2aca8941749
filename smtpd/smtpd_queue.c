/*
 * smtpd_queue - writes an accepted message into the queue through
 * queue_file.h: the envelope and the Received header when the message
 * starts, the client's bytes as they arrive, then the commit (fsync,
 * rename into incoming/, fsync of the directory) on a worker thread.
 * Only after the commit does the client hear "250 2.0.0 Ok: queued as
 * ID"; then qmgr is woken through its public trigger socket. Message
 * bytes are untrusted and stored as they are (already dot-unstuffed).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "server/server.h"
#include "server/worker.h"
#include "smtpd.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/xmem.h"

#define QUEUE_WRITE_ERROR "451 4.3.0 Error: queue file write error"

struct queue_commit_job {
	struct smtpd_client *client;
	struct queue_writer *writer;
	/* issue 5: From: addresses the SASL login must own, or NULL. */
	char *login;
	char **from;
	char reply[600]; /* a refusal of the message, or "" */
	char id[QUEUE_ID_MAX];
	char error[256];
	int ret;
};

static int
smtpd_queue_envelope(struct smtpd_client *c, const char **error_r)
{
	static const char *const bodies[] = {NULL, "7BIT", "8BITMIME",
					     "BINARYMIME"};
	struct queue_writer *w = c->writer;

	if (queue_file_set_sender(w, c->sender, error_r) < 0)
		return -1;
	for (size_t i = 0; i < c->rcpt_count; i++) {
		const struct smtpd_rcpt *r = &c->rcpts[i];

		if (queue_file_add_rcpt(w, r->address, r->orig_rcpt, r->orcpt,
					r->notify, error_r) < 0)
			return -1;
	}
	if (queue_file_set_attr(w, QUEUE_ATTR_CLIENT_NAME, c->name, error_r) <
		0 ||
	    queue_file_set_attr(w, QUEUE_ATTR_CLIENT_ADDR, c->addr, error_r) <
		0 ||
	    queue_file_set_attr(w, QUEUE_ATTR_HELO,
				smtp_session_helo(c->session), error_r) < 0 ||
	    queue_file_set_attr(w, QUEUE_ATTR_PROTOCOL,
				smtp_session_protocol(c->session), error_r) < 0)
		return -1;
	if (smtp_session_tls_description(c->session) != NULL &&
	    queue_file_set_attr(w, QUEUE_ATTR_TLS,
				smtp_session_tls_description(c->session),
				error_r) < 0)
		return -1;
	if (c->envid != NULL &&
	    queue_file_set_attr(w, QUEUE_ATTR_ENVID, c->envid, error_r) < 0)
		return -1;
	if (c->ret != SMTP_RET_NONE &&
	    queue_file_set_attr(w, QUEUE_ATTR_RET,
				c->ret == SMTP_RET_FULL ? "FULL" : "HDRS",
				error_r) < 0)
		return -1;
	if (c->body > 0 && c->body <= SMTP_BODY_BINARYMIME &&
	    queue_file_set_attr(w, QUEUE_ATTR_BODY, bodies[c->body], error_r) <
		0)
		return -1;
	if (c->smtputf8 &&
	    queue_file_set_attr(w, QUEUE_ATTR_SMTPUTF8, "1", error_r) < 0)
		return -1;
	return 0;
}

int
smtpd_queue_start(struct smtpd_client *c, const char **reply_r)
{
	struct strbuf received;
	const char *error;

	c->write_failed = false;
	if (queue_file_create(var_queue_directory, &c->writer, &error) < 0) {
		log_warning("smtpd: %s", error);
		*reply_r = QUEUE_WRITE_ERROR;
		return -1;
	}
	strbuf_init(&received, 8192);
	if (smtpd_queue_envelope(c, &error) < 0 ||
	    smtpd_received_header(c, &received) < 0 ||
	    queue_file_write_content(c->writer, received.data, received.len,
				     &error) < 0) {
		log_warning("smtpd: queue file: %s", error);
		strbuf_release(&received);
		queue_file_abort(&c->writer);
		*reply_r = QUEUE_WRITE_ERROR;
		return -1;
	}
	strbuf_release(&received);
	smtpd_header_start(c); /* issue 5: submitted mail */
	return 0;
}

int
smtpd_queue_chunk(struct smtpd_client *c, const char *data, size_t len)
{
	const char *error;

	if (c->writer == NULL || c->write_failed)
		return -1;
	if (c->header != NULL) {
		if (smtpd_header_chunk(c, data, len) < 0) {
			c->write_failed = true;
			return -1;
		}
		return 0;
	}
	if (queue_file_write_content(c->writer, data, len, &error) < 0) {
		log_warning("smtpd: queue file: %s", error);
		c->write_failed = true;
		return -1;
	}
	return 0;
}

/* Worker: makes the message durable, then pokes qmgr. */
static void
smtpd_queue_commit_run(void *job)
{
	struct queue_commit_job *j = job;
	const char *error, *werror;
	char *path;
	int fd;

	/* issue 5: the From: header must name addresses the login owns
	 * (smtpd_sender_login_maps), like the envelope sender. */
	for (size_t i = 0; j->from != NULL && j->from[i] != NULL; i++) {
		int owned = smtpd_restrict_owned(j->login, j->from[i]);

		if (owned == 0)
			continue;
		if (owned < 0)
			snprintf(j->reply, sizeof(j->reply),
				 "451 4.3.0 <%.300s>: Temporary lookup failure",
				 j->from[i]);
		else
			snprintf(j->reply, sizeof(j->reply),
				 "553 5.7.1 <%.300s>: From address rejected: "
				 "not owned by user %.200s",
				 j->from[i], j->login);
		queue_file_abort(&j->writer);
		j->ret = -1;
		return;
	}
	j->ret = queue_file_commit(&j->writer, j->id, &error);
	if (j->ret < 0) {
		snprintf(j->error, sizeof(j->error), "%s", error);
		return;
	}
	path = xasprintf("%s/public/qmgr", var_queue_directory);
	fd = sock_connect_unix(path, &werror);
	if (fd >= 0) {
		/* qmgr also scans incoming/ on its timer: a lost wake-up
		 * only delays delivery. */
		if (write(fd, "W", 1) != 1)
			log_debug("smtpd: wake-up of qmgr failed");
		close(fd);
	}
	free(path);
}

static void
smtpd_queue_commit_done(void *job)
{
	struct queue_commit_job *j = job;
	struct smtpd_client *c = j->client;
	char reply[64 + QUEUE_ID_MAX];

	if (j->from != NULL) {
		for (size_t i = 0; j->from[i] != NULL; i++)
			free(j->from[i]);
		free(j->from);
	}
	free(j->login);
	if (j->reply[0] != '\0') {
		log_info("NOQUEUE: reject: END-OF-MESSAGE from %s: %s; "
			 "from=<%s> proto=%s helo=<%s>",
			 smtpd_client_label(c), j->reply, c->sender,
			 smtp_session_protocol(c->session),
			 smtp_session_helo(c->session));
		smtpd_client_reset(c);
		smtp_session_data_reply(c->session, j->reply);
		free(j);
		return;
	}
	if (j->ret < 0) {
		log_warning("smtpd: queue file commit: %s", j->error);
		smtpd_client_reset(c);
		smtp_session_data_reply(c->session, QUEUE_WRITE_ERROR);
		free(j);
		return;
	}
	if (c->local)
		log_info("%s: uid=%lu from=<%s>", j->id, (unsigned long)c->uid,
			 c->sender);
	else if (smtpd_sasl_user(c) != NULL)
		log_info("%s: client=%s, sasl_method=%s, sasl_username=%s",
			 j->id, smtpd_client_label(c), c->sasl_method,
			 smtpd_sasl_user(c));
	else
		log_info("%s: client=%s", j->id, smtpd_client_label(c));
	smtpd_client_reset(c);
	snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s", j->id);
	smtp_session_data_reply(c->session, reply);
	free(j);
}

void
smtpd_queue_end(struct smtpd_client *c, bool ok)
{
	struct queue_commit_job *j;

	if (ok && !c->write_failed && c->writer != NULL &&
	    smtpd_header_finish(c) < 0)
		c->write_failed = true;
	if (!ok || c->write_failed || c->writer == NULL) {
		smtpd_client_reset(c);
		smtp_session_data_reply(c->session, QUEUE_WRITE_ERROR);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->client = c;
	j->writer = c->writer;
	c->writer = NULL;
	if (smtpd_restrict_check_from(c)) {
		j->from = smtpd_header_take_from(c);
		j->login = xstrdup(smtpd_sasl_user(c));
	}
	worker_submit(server_workers(), smtpd_queue_commit_run,
		      smtpd_queue_commit_done, j);
}

void
smtpd_queue_abort(struct smtpd_client *c)
{
	queue_file_abort(&c->writer);
	c->write_failed = false;
}
