/*
 * smtp_client - one outbound SMTP delivery (RFC 5321): tries the
 * request's addresses in order; per server: banner, EHLO (HELO when EHLO
 * is refused), STARTTLS (smtp_starttls.c), SASL login (smtp_sasl.c), MAIL
 * / RCPT / DATA (pipelined when PIPELINING is offered), SIZE checked
 * before sending, DSN parameters when offered, the content
 * (smtp_content.c). 2xx and 5xx at MAIL, RCPT, DATA or end of data are
 * final; 4xx and any failure to talk to a server (connect, greeting,
 * EHLO, TLS, timeouts, malformed or oversized replies) leave the
 * recipients for the next address, and the last server's answer stands.
 * A session may outlive its delivery: kept open for the next one instead
 * of QUIT (smtp_reuse.c). Servers are hostile: replies are read through
 * smtp_io with limits. Worker thread: never logs (notes are collected in
 * d->notes for the loop to log).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "mail/xtext.h"
#include "smtp.h"
#include "smtp_sasl.h"
#include "smtp_session.h"
#include "util/sock.h"
#include "util/xmem.h"

void
smtp_note(struct smtp_delivery *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)strbuf_vprintf(&d->notes, fmt, ap);
	va_end(ap);
	(void)strbuf_append_char(&d->notes, '\n');
}

char *
smtp_said(struct smtp_session *s, const char *command)
{
	const struct smtp_reply *r = &s->reply;
	struct strbuf sb;

	strbuf_init(&sb, DELIVER_PROTO_MAX_TEXT - 1);
	if (r->code / 100 != 2)
		strbuf_printf(&sb, "host %s said: ", s->relay);
	strbuf_printf(&sb, "%u", r->code);
	if (r->enhanced[0] != '\0')
		strbuf_printf(&sb, " %s", r->enhanced);
	if (r->text.len > 0)
		strbuf_append_char(&sb, ' ');
	for (size_t i = 0; i < r->text.len; i++)
		strbuf_append_char(
		    &sb, r->text.data[i] == '\n' ? ' ' : r->text.data[i]);
	if (r->code / 100 != 2)
		strbuf_printf(&sb, " (in reply to %s command)", command);
	return sb.data == NULL ? xstrdup("") : strbuf_steal(&sb);
}

static void
smtp_reply_dsn(const struct smtp_reply *r, char *dsn, size_t size)
{
	if (r->enhanced[0] != '\0')
		snprintf(dsn, size, "%s", r->enhanced);
	else
		snprintf(dsn, size, "%u.0.0", r->code / 100);
}

/* The current reply becomes recipient i's result; final unless 4xx. */
static void
smtp_result_from_reply(struct smtp_session *s, unsigned int i,
		       const char *command)
{
	unsigned int code = s->reply.code;
	char dsn[16], *text = smtp_said(s, command);

	smtp_reply_dsn(&s->reply, dsn, sizeof(dsn));
	smtp_result_set(s->d, i, s->relay,
			code / 100 == 2	  ? DELIVER_SENT
			: code / 100 == 5 ? DELIVER_BOUNCED
					  : DELIVER_DEFERRED,
			dsn, text);
	if (code / 100 != 4)
		s->done[i] = true;
	else if (!s->last)
		smtp_note(s->d, "%s: %s", s->d->req->queue_id, text);
	free(text);
}

void
smtp_session_fail(struct smtp_session *s, enum deliver_action action,
		  const char *dsn, const char *text)
{
	for (unsigned int i = 0; i < s->d->req->rcpt_count; i++)
		if (!s->done[i])
			smtp_result_set(s->d, i, s->relay, action, dsn, text);
	smtp_note(s->d, "%s: %s", s->d->req->queue_id, text);
}

void
smtp_session_io_fail(struct smtp_session *s, const char *dsn)
{
	smtp_session_fail(s, DELIVER_DEFERRED, dsn, s->io.error);
}

/* A reply that ends the session (greeting, EHLO, STARTTLS refused). */
static void
smtp_session_reply_fail(struct smtp_session *s, const char *command)
{
	char dsn[16], *text = smtp_said(s, command);

	smtp_reply_dsn(&s->reply, dsn, sizeof(dsn));
	smtp_session_fail(
	    s, s->reply.code / 100 == 5 ? DELIVER_BOUNCED : DELIVER_DEFERRED,
	    dsn, text);
	free(text);
}

int
smtp_command(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)strbuf_vprintf(&s->io.wbuf, fmt, ap);
	va_end(ap);
	(void)strbuf_append_str(&s->io.wbuf, "\r\n");
	if (smtp_io_flush(&s->io) < 0 ||
	    smtp_io_read_reply(&s->io, &s->reply) < 0)
		return -1;
	return 0;
}

int
smtp_helo(struct smtp_session *s, bool after_tls)
{
	s->io.timeout_ms = (unsigned int)var_smtp_helo_timeout * 1000;
	if (smtp_command(s, "EHLO %s", var_smtp_helo_name) < 0) {
		smtp_session_io_fail(s, "4.4.2");
		return -1;
	}
	if (s->reply.code == 250) {
		smtp_sasl_ehlo(&s->sasl, strbuf_cstr(&s->reply.text));
		smtp_ehlo_parse(&s->ehlo, &s->reply);
		return 0;
	}
	if (after_tls || s->reply.code / 100 != 5) {
		smtp_session_reply_fail(s, "EHLO");
		return -1;
	}
	if (smtp_command(s, "HELO %s", var_smtp_helo_name) < 0) {
		smtp_session_io_fail(s, "4.4.2");
		return -1;
	}
	if (s->reply.code != 250) {
		smtp_session_reply_fail(s, "HELO");
		return -1;
	}
	/* HELO: no extensions, no AUTH. */
	smtp_sasl_ehlo(&s->sasl, strbuf_cstr(&s->reply.text));
	smtp_ehlo_parse(&s->ehlo, &s->reply);
	return 0;
}


static void
smtp_put_mail(struct smtp_session *s)
{
	const struct deliver_request *req = s->d->req;
	struct strbuf *w = &s->io.wbuf;

	strbuf_printf(w, "MAIL FROM:<%s>", req->sender);
	if (s->ehlo.size)
		strbuf_printf(w, " SIZE=%lld", (long long)req->content_size);
	if (s->ehlo.eightbit && strcasecmp(req->body, "8BITMIME") == 0)
		strbuf_append_str(w, " BODY=8BITMIME");
	if (s->ehlo.smtputf8 && req->smtputf8)
		strbuf_append_str(w, " SMTPUTF8");
	if (s->ehlo.dsn && req->ret[0] != '\0')
		strbuf_printf(w, " RET=%s", req->ret);
	if (s->ehlo.dsn && req->envid[0] != '\0') {
		strbuf_append_str(w, " ENVID=");
		xtext_encode(req->envid, strlen(req->envid), w);
	}
	strbuf_append_str(w, "\r\n");
}

static void
smtp_put_rcpt(struct smtp_session *s, const struct deliver_rcpt *r)
{
	struct strbuf *w = &s->io.wbuf;

	strbuf_printf(w, "RCPT TO:<%s>", r->address);
	if (s->ehlo.dsn && r->notify != 0) {
		if (r->notify & QUEUE_NOTIFY_NEVER) {
			strbuf_append_str(w, " NOTIFY=NEVER");
		} else {
			const char *sep = " NOTIFY=";

			if (r->notify & QUEUE_NOTIFY_SUCCESS) {
				strbuf_printf(w, "%sSUCCESS", sep);
				sep = ",";
			}
			if (r->notify & QUEUE_NOTIFY_FAILURE) {
				strbuf_printf(w, "%sFAILURE", sep);
				sep = ",";
			}
			if (r->notify & QUEUE_NOTIFY_DELAY)
				strbuf_printf(w, "%sDELAY", sep);
		}
	}
	if (s->ehlo.dsn && r->orcpt[0] != '\0')
		strbuf_printf(w, " ORCPT=%s", r->orcpt);
	strbuf_append_str(w, "\r\n");
}


/* MAIL, RCPT, DATA, content for the pending recipients. */
static void
smtp_transaction(struct smtp_session *s)
{
	const struct deliver_request *req = s->d->req;
	unsigned int n = req->rcpt_count, naccepted = 0;
	bool *accepted = xcalloc(n, sizeof(bool));

	if (s->ehlo.size && s->ehlo.size_limit > 0 &&
	    (unsigned long long)req->content_size > s->ehlo.size_limit) {
		char text[512];

		snprintf(text, sizeof(text),
			 "message size %lld exceeds size limit %llu of "
			 "server %s",
			 (long long)req->content_size, s->ehlo.size_limit, s->relay);
		smtp_session_fail(s, DELIVER_BOUNCED, "5.3.4", text);
		for (unsigned int i = 0; i < n; i++)
			s->done[i] = true;
		goto out;
	}
	if (!s->ehlo.eightbit && strcasecmp(req->body, "8BITMIME") == 0 &&
	    var_disable_mime_output_conversion)
		smtp_note(s->d,
			  "%s: 8-bit message to %s, which does not announce "
			  "8BITMIME: sent without MIME conversion",
			  req->queue_id, s->relay);
	s->io.timeout_ms = (unsigned int)var_smtp_cmd_timeout * 1000;
	smtp_put_mail(s);
	if (!s->ehlo.pipelining && (smtp_io_flush(&s->io) < 0 ||
			       smtp_io_read_reply(&s->io, &s->reply) < 0))
		goto io_fail;
	if (s->ehlo.pipelining) {
		for (unsigned int i = 0; i < n; i++)
			if (!s->done[i])
				smtp_put_rcpt(s, &req->rcpts[i]);
		strbuf_append_str(&s->io.wbuf, "DATA\r\n");
		if (smtp_io_flush(&s->io) < 0 ||
		    smtp_io_read_reply(&s->io, &s->reply) < 0)
			goto io_fail;
	}
	if (s->reply.code / 100 != 2) {
		for (unsigned int i = 0; i < n; i++)
			if (!s->done[i])
				smtp_result_from_reply(s, i, "MAIL FROM");
		goto quit;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (s->done[i])
			continue;
		if (!s->ehlo.pipelining) {
			smtp_put_rcpt(s, &req->rcpts[i]);
			if (smtp_io_flush(&s->io) < 0)
				goto io_fail;
		}
		if (smtp_io_read_reply(&s->io, &s->reply) < 0)
			goto io_fail;
		if (s->reply.code / 100 == 2) {
			accepted[i] = true;
			naccepted++;
		} else {
			smtp_result_from_reply(s, i, "RCPT TO");
		}
	}
	if (!s->ehlo.pipelining) {
		if (naccepted == 0)
			goto quit;
		strbuf_append_str(&s->io.wbuf, "DATA\r\n");
		if (smtp_io_flush(&s->io) < 0)
			goto io_fail;
	}
	if (smtp_io_read_reply(&s->io, &s->reply) < 0)
		goto io_fail;
	if (s->reply.code != 354) {
		for (unsigned int i = 0; i < n; i++)
			if (accepted[i])
				smtp_result_from_reply(s, i, "DATA");
		goto quit;
	}
	if (naccepted == 0) {
		/* 354 without recipients (pipelining): end it empty. */
		strbuf_append_str(&s->io.wbuf, ".\r\n");
		if (smtp_io_flush(&s->io) == 0)
			(void)smtp_io_read_reply(&s->io, &s->reply);
		goto quit;
	}
	switch (smtp_send_content(s)) {
	case -2:
		/* As Postfix: a bounce, and the transaction is cut off by
		 * closing the connection (the only way to cancel DATA). */
		for (unsigned int i = 0; i < n; i++)
			if (accepted[i]) {
				smtp_result_set(s->d, i, s->relay,
						DELIVER_BOUNCED, "5.6.0",
						s->io.error);
				s->done[i] = true;
			}
		goto out;
	case -1:
		goto io_fail;
	}
	s->io.timeout_ms = (unsigned int)var_smtp_data_done_timeout * 1000;
	if (smtp_io_read_reply(&s->io, &s->reply) < 0)
		goto io_fail;
	for (unsigned int i = 0; i < n; i++)
		if (accepted[i])
			smtp_result_from_reply(s, i, "end of DATA");
quit:
	if (smtp_session_cacheable(s)) {
		s->cache = true; /* no QUIT: the caller caches it */
		goto out;
	}
	s->io.timeout_ms = (unsigned int)var_smtp_cmd_timeout * 1000;
	strbuf_append_str(&s->io.wbuf, "QUIT\r\n");
	if (smtp_io_flush(&s->io) == 0)
		(void)smtp_io_read_reply(&s->io, &s->reply);
	goto out;
io_fail:
	/* Lost the server mid-transaction: who has no final answer from
	 * it is deferred (4.4.2), possibly tried at the next address. */
	smtp_session_io_fail(s, "4.4.2");
out:
	free(accepted);
}

/* SASL login after the last EHLO, when configured (smtp_sasl.c). 0, or
 * -1: the session failed and the next address gets the recipients. */
static int
smtp_auth(struct smtp_session *s)
{
	enum deliver_action action;
	char dsn[16], *text = NULL;

	s->io.timeout_ms = (unsigned int)var_smtp_cmd_timeout * 1000;
	if (smtp_sasl_login(&s->sasl, &s->io, &s->reply, s->d, s->t, s->relay,
			    &action, dsn, sizeof(dsn), &text) == 0)
		return 0;
	smtp_session_fail(s, action, dsn, text);
	free(text);
	return -1;
}


/* The transaction on a session that is ready (fresh or reused), then
 * the connection is cached or closed (after QUIT). */
static void
smtp_session_deliver(struct smtp_session *s, enum smtp_tls_level level)
{
	s->d->connected_us = smtp_now_us();
	s->d->conn_use = s->use_count;
	smtp_transaction(s);
	if (s->cache)
		smtp_session_save(s, level);
}

static void
smtp_session_run(struct smtp_session *s, SSL_CTX *ctx,
		 enum smtp_tls_level level)
{
	const struct smtp_target *t = s->t;
	const char *error;
	char addr[SOCK_HOST_MAX + 1];
	int fd;

	snprintf(s->relay, sizeof(s->relay), "%.200s[%.64s]:%s", t->host,
		 t->addr != NULL ? t->addr : "", t->port);
	s->cache = false;
	if (t->addr != NULL && smtp_session_cached(s, false, level) == 0) {
		smtp_session_deliver(s, level);
		smtp_io_deinit(&s->io);
		return;
	}
	fd = sock_connect_inet(t->addr != NULL ? t->addr : t->host, t->port,
			       (int)var_smtp_connect_timeout * 1000, &error);
	if (fd < 0) {
		char text[600];
		const char *colon = strrchr(error, ':');

		/* "sock_connect_inet: host: reason" -> "reason" */
		if (strncmp(error, "sock_connect", 12) == 0 && colon != NULL &&
		    colon[1] == ' ')
			error = colon + 2;
		snprintf(text, sizeof(text), "connect to %s: %s", s->relay,
			 error);
		smtp_session_fail(s, DELIVER_DEFERRED, "4.4.1", text);
		return;
	}
	if (t->addr == NULL && sock_peer_name(fd, addr, sizeof(addr)) == 0)
		snprintf(s->relay, sizeof(s->relay), "%.200s[%.64s]:%s",
			 t->host, addr, t->port);
	sock_set_nonblock(fd, true);
	smtp_io_init(&s->io, fd, s->relay);
	s->use_count = 1;
	s->first_use_us = smtp_now_us();
	s->io.timeout_ms = (unsigned int)var_smtp_helo_timeout * 1000;
	if (smtp_io_read_reply(&s->io, &s->reply) < 0) {
		smtp_session_io_fail(s, "4.4.2");
	} else if (s->reply.code != 220) {
		smtp_session_reply_fail(s, "the initial greeting");
	} else if (smtp_helo(s, false) == 0 && smtp_session_starttls(s, ctx, level) == 0 &&
		   smtp_auth(s) == 0) {
		smtp_session_deliver(s, level);
	}
	smtp_io_deinit(&s->io);
}

void
smtp_deliver(struct smtp_delivery *d, SSL_CTX *tls_ctx,
	     enum smtp_tls_level level)
{
	const struct deliver_request *req = d->req;
	struct smtp_session s;

	memset(&s, 0, sizeof(s));
	s.d = d;
	s.io.fd = -1;
	s.done = xcalloc(req->rcpt_count, sizeof(bool));
	smtp_reply_init(&s.reply, NULL);
	if (d->reply.results == NULL) {
		d->reply.count = req->rcpt_count;
		d->reply.results =
		    xcalloc(req->rcpt_count, sizeof(*d->reply.results));
		for (unsigned int i = 0; i < req->rcpt_count; i++)
			d->reply.results[i].index = req->rcpts[i].index;
	}
	/* A session cached for this next hop first (Postfix: by name, then
	 * by address); what it leaves pending goes on to the addresses. */
	if (d->target_count > 0) {
		s.t = &d->targets[0];
		if (smtp_session_cached(&s, true, level) == 0) {
			smtp_session_deliver(&s, level);
			smtp_io_deinit(&s.io);
		}
	}
	for (unsigned int t = 0; t < d->target_count; t++) {
		bool pending = false;

		for (unsigned int i = 0; i < req->rcpt_count; i++)
			pending = pending || !s.done[i];
		if (!pending)
			break;
		s.t = &d->targets[t];
		s.last = t + 1 == d->target_count;
		smtp_session_run(&s, tls_ctx, level);
	}
	smtp_delivery_fail_all(d, DELIVER_DEFERRED, "4.4.1",
			       "delivery not attempted");
	if (d->connected_us == 0)
		d->connected_us = smtp_now_us();
	d->done_us = smtp_now_us();
	smtp_reply_deinit(&s.reply);
	free(s.done);
}
