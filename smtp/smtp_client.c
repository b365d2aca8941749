/*
 * smtp_client - one outbound SMTP delivery (RFC 5321): tries the
 * request's addresses in order; per server: banner, EHLO (HELO when EHLO
 * is refused), STARTTLS per smtp_tls_security_level, EHLO again, MAIL /
 * RCPT / DATA (pipelined when PIPELINING is offered), SIZE checked before
 * sending, DSN parameters when offered, the content dot-stuffed. 2xx and
 * 5xx at MAIL, RCPT, DATA or end of data are final; 4xx and any failure
 * to talk to a server (connect, greeting, EHLO, TLS, timeouts, malformed
 * or oversized replies) leave the recipients for the next address, and
 * the last server's answer stands. Servers are hostile: replies are read
 * through smtp_io with limits. Worker thread: never logs (notes are
 * collected in d->notes for the loop to log).
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
#include "smtp_io.h"
#include "util/sock.h"
#include "util/xmem.h"

struct smtp_session {
	struct smtp_delivery *d;
	struct smtp_io io;
	struct smtp_reply reply;
	const struct smtp_target *t;
	char relay[384];
	bool *done; /* per recipient: the result is final */
	bool last;  /* the last address to try */
	bool pipelining, dsn, eightbit, smtputf8, starttls, size;
	unsigned long long size_limit;
};

static void smtp_note(struct smtp_delivery *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
smtp_note(struct smtp_delivery *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)strbuf_vprintf(&d->notes, fmt, ap);
	va_end(ap);
	(void)strbuf_append_char(&d->notes, '\n');
}

/* "host mx[1.2.3.4] said: 550 5.1.1 text (in reply to RCPT TO command)" */
static char *
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

/* The session failed before any recipient had a final answer from this
 * server: every pending recipient gets a tentative result. */
static void
smtp_session_fail(struct smtp_session *s, enum deliver_action action,
		  const char *dsn, const char *text)
{
	for (unsigned int i = 0; i < s->d->req->rcpt_count; i++)
		if (!s->done[i])
			smtp_result_set(s->d, i, s->relay, action, dsn, text);
	smtp_note(s->d, "%s: %s", s->d->req->queue_id, text);
}

static void
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

static int smtp_command(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
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

static void
smtp_parse_ehlo(struct smtp_session *s)
{
	const char *p = strchr(strbuf_cstr(&s->reply.text), '\n');

	s->pipelining = s->dsn = s->eightbit = s->smtputf8 = false;
	s->starttls = s->size = false;
	s->size_limit = 0;
	while (p != NULL) {
		const char *kw = p + 1, *end = strchr(kw, '\n');
		size_t len = end == NULL ? strlen(kw) : (size_t)(end - kw);
		size_t wlen = strcspn(kw, " \n");

		if (wlen > len)
			wlen = len;
#define KW(name) (wlen == strlen(name) && strncasecmp(kw, name, wlen) == 0)
		if (KW("PIPELINING"))
			s->pipelining = true;
		else if (KW("DSN"))
			s->dsn = true;
		else if (KW("8BITMIME"))
			s->eightbit = true;
		else if (KW("SMTPUTF8"))
			s->smtputf8 = true;
		else if (KW("STARTTLS"))
			s->starttls = true;
		else if (KW("SIZE")) {
			s->size = true;
			if (kw[wlen] == ' ')
				s->size_limit =
				    strtoull(kw + wlen + 1, NULL, 10);
		}
#undef KW
		p = end;
	}
}

/* EHLO, or HELO when EHLO is refused. 0, or -1 (session failed). */
static int
smtp_helo(struct smtp_session *s, bool after_tls)
{
	s->io.timeout_ms = (unsigned int)var_smtp_helo_timeout * 1000;
	if (smtp_command(s, "EHLO %s", var_smtp_helo_name) < 0) {
		smtp_session_io_fail(s, "4.4.2");
		return -1;
	}
	if (s->reply.code == 250) {
		smtp_parse_ehlo(s);
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
	smtp_parse_ehlo(s); /* nothing */
	return 0;
}

static int
smtp_tls(struct smtp_session *s, SSL_CTX *ctx, enum smtp_tls_level level)
{
	char info[256];
	bool verified, has_cert;

	if (level == SMTP_TLS_NONE || (level == SMTP_TLS_MAY && !s->starttls))
		return 0;
	if (!s->starttls) {
		char text[512];

		snprintf(text, sizeof(text),
			 "TLS is required, but was not offered by host %s",
			 s->relay);
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.4", text);
		return -1;
	}
	if (smtp_command(s, "STARTTLS") < 0) {
		smtp_session_io_fail(s, "4.4.2");
		return -1;
	}
	if (s->reply.code != 220) {
		if (level == SMTP_TLS_MAY)
			return 0; /* opportunistic: go on in plaintext */
		char *text = smtp_said(s, "STARTTLS");
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5", text);
		free(text);
		return -1;
	}
	/* SNI names a host, never an address literal (RFC 6066 3). */
	if (smtp_io_starttls(
		&s->io, ctx,
		s->t->addr != NULL && strcmp(s->t->addr, s->t->host) == 0
		    ? NULL
		    : s->t->host,
		level == SMTP_TLS_VERIFY ? s->t->host : NULL) < 0) {
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5", s->io.error);
		return -1;
	}
	smtp_io_tls_info(&s->io, info, sizeof(info), &verified, &has_cert);
	smtp_note(s->d, "%s TLS connection established to %s: %s",
		  verified   ? "Verified"
		  : has_cert ? "Untrusted"
			     : "Anonymous",
		  s->relay, info);
	return smtp_helo(s, true);
}

static void
smtp_put_mail(struct smtp_session *s)
{
	const struct deliver_request *req = s->d->req;
	struct strbuf *w = &s->io.wbuf;

	strbuf_printf(w, "MAIL FROM:<%s>", req->sender);
	if (s->size)
		strbuf_printf(w, " SIZE=%lld", (long long)req->content_size);
	if (s->eightbit && strcasecmp(req->body, "8BITMIME") == 0)
		strbuf_append_str(w, " BODY=8BITMIME");
	if (s->smtputf8 && req->smtputf8)
		strbuf_append_str(w, " SMTPUTF8");
	if (s->dsn && req->ret[0] != '\0')
		strbuf_printf(w, " RET=%s", req->ret);
	if (s->dsn && req->envid[0] != '\0') {
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
	if (s->dsn && r->notify != 0) {
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
	if (s->dsn && r->orcpt[0] != '\0')
		strbuf_printf(w, " ORCPT=%s", r->orcpt);
	strbuf_append_str(w, "\r\n");
}

/* The content, CRLF line ends, dot-stuffed, then ".". */
static int
smtp_send_content(struct smtp_session *s)
{
	const struct deliver_request *req = s->d->req;
	char *path = xasprintf("%s/%s", var_queue_directory, req->queue_file);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[16384];
	off_t off = req->content_offset, end = off + req->content_size;
	bool bol = true, cr = false;

	free(path);
	if (fd < 0) {
		snprintf(s->io.error, sizeof(s->io.error), "queue file: %s",
			 strerror(errno));
		return -1;
	}
	while (off < end) {
		size_t want = (size_t)(end - off) < sizeof(buf)
				  ? (size_t)(end - off)
				  : sizeof(buf);
		ssize_t n = pread(fd, buf, want, off);

		if (n <= 0) {
			snprintf(s->io.error, sizeof(s->io.error),
				 "queue file read: %s",
				 n < 0 ? strerror(errno) : "short");
			close(fd);
			return -1;
		}
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];

			if (bol && c == '.')
				strbuf_append_char(&s->io.wbuf, '.');
			if (c == '\n' && !cr)
				strbuf_append_char(&s->io.wbuf, '\r');
			strbuf_append_char(&s->io.wbuf, c);
			bol = c == '\n';
			cr = c == '\r';
		}
		off += n;
		if (smtp_io_flush(&s->io) < 0) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (!bol)
		strbuf_append_str(&s->io.wbuf, "\r\n");
	strbuf_append_str(&s->io.wbuf, ".\r\n");
	return smtp_io_flush(&s->io);
}

/* MAIL, RCPT, DATA, content for the pending recipients. */
static void
smtp_transaction(struct smtp_session *s)
{
	const struct deliver_request *req = s->d->req;
	unsigned int n = req->rcpt_count, naccepted = 0;
	bool *accepted = xcalloc(n, sizeof(bool));

	if (s->size && s->size_limit > 0 &&
	    (unsigned long long)req->content_size > s->size_limit) {
		char text[512];

		snprintf(text, sizeof(text),
			 "message size %lld exceeds size limit %llu of "
			 "server %s",
			 (long long)req->content_size, s->size_limit, s->relay);
		smtp_session_fail(s, DELIVER_BOUNCED, "5.3.4", text);
		for (unsigned int i = 0; i < n; i++)
			s->done[i] = true;
		goto out;
	}
	if (!s->eightbit && strcasecmp(req->body, "8BITMIME") == 0)
		smtp_note(s->d,
			  "%s: 8-bit message to %s, which does not announce "
			  "8BITMIME: sent without MIME conversion",
			  req->queue_id, s->relay);
	s->io.timeout_ms = (unsigned int)var_smtp_cmd_timeout * 1000;
	smtp_put_mail(s);
	if (!s->pipelining && (smtp_io_flush(&s->io) < 0 ||
			       smtp_io_read_reply(&s->io, &s->reply) < 0))
		goto io_fail;
	if (s->pipelining) {
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
		if (!s->pipelining) {
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
	if (!s->pipelining) {
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
	if (smtp_send_content(s) < 0)
		goto io_fail;
	s->io.timeout_ms = (unsigned int)var_smtp_data_done_timeout * 1000;
	if (smtp_io_read_reply(&s->io, &s->reply) < 0)
		goto io_fail;
	for (unsigned int i = 0; i < n; i++)
		if (accepted[i])
			smtp_result_from_reply(s, i, "end of DATA");
quit:
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
	s->io.timeout_ms = (unsigned int)var_smtp_helo_timeout * 1000;
	if (smtp_io_read_reply(&s->io, &s->reply) < 0) {
		smtp_session_io_fail(s, "4.4.2");
	} else if (s->reply.code != 220) {
		smtp_session_reply_fail(s, "the initial greeting");
	} else if (smtp_helo(s, false) == 0 && smtp_tls(s, ctx, level) == 0) {
		s->d->connected_us = smtp_now_us();
		smtp_transaction(s);
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
