/*
 * lmtp_client - one LMTP session per delivery request: connect (unix or
 * TCP), LHLO, MAIL, RCPT (pipelined when offered), DATA streaming the
 * queue file content with dot-stuffing, one reply per accepted recipient.
 * The server is not trusted: replies are read through smtp_reply with
 * its limits and every read and write has a deadline. Blocking I/O: runs
 * on a worker thread and must not log or touch the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "mail/smtp_reply.h"
#include "mail/xtext.h"
#include "smtp.h"
#include "util/sock.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define LMTP_IO_BUF 65536

struct lmtp_session {
	struct smtp_delivery *d;
	int fd;
	char rbuf[LMTP_IO_BUF];
	size_t rpos, rlen;
	struct strbuf wbuf;
	struct smtp_reply reply;
	char relay[256];
	unsigned int timeout_ms;
	struct smtp_ehlo ehlo; /* what LHLO announced */
	const char *error; /* why the session failed, for deferrals */
	char errbuf[512];
};

uint64_t
smtp_now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static int lmtp_fail(struct lmtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
lmtp_fail(struct lmtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	s->error = s->errbuf;
	return -1;
}

static int
lmtp_wait(struct lmtp_session *s, short events)
{
	struct pollfd pfd = {.fd = s->fd, .events = events};
	int ret;

	do {
		ret = poll(&pfd, 1, (int)s->timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret == 0)
		return lmtp_fail(s, "conversation with %s timed out", s->relay);
	if (ret < 0)
		return lmtp_fail(s, "poll: %s", strerror(errno));
	return 0;
}

static int
lmtp_flush(struct lmtp_session *s)
{
	size_t done = 0;

	while (done < s->wbuf.len) {
		ssize_t n =
		    write(s->fd, s->wbuf.data + done, s->wbuf.len - done);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (lmtp_wait(s, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return lmtp_fail(s,
					 "lost connection with %s while "
					 "sending",
					 s->relay);
		done += (size_t)n;
	}
	strbuf_reset(&s->wbuf);
	return 0;
}

/* Reads one complete reply into s->reply. */
static int
lmtp_read_reply(struct lmtp_session *s)
{
	const char *error;

	smtp_reply_reset(&s->reply);
	for (;;) {
		char *nl = memchr(s->rbuf + s->rpos, '\n', s->rlen - s->rpos);

		if (nl != NULL) {
			size_t len = (size_t)(nl - (s->rbuf + s->rpos));
			const char *line = s->rbuf + s->rpos;

			if (len > 0 && line[len - 1] == '\r')
				len--;
			s->rpos = (size_t)(nl - s->rbuf) + 1;
			int ret = smtp_reply_feed(&s->reply, line, len, &error);
			if (ret < 0)
				return lmtp_fail(s, "malformed reply: %s",
						 error);
			if (ret == 1)
				return 0;
			continue;
		}
		if (s->rpos > 0) {
			memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
			s->rlen -= s->rpos;
			s->rpos = 0;
		}
		if (s->rlen == sizeof(s->rbuf))
			return lmtp_fail(s, "reply line too long from %s",
					 s->relay);
		if (lmtp_wait(s, POLLIN) < 0)
			return -1;
		ssize_t n =
		    read(s->fd, s->rbuf + s->rlen, sizeof(s->rbuf) - s->rlen);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return lmtp_fail(s,
					 "lost connection with %s while "
					 "receiving a reply",
					 s->relay);
		s->rlen += (size_t)n;
	}
}

/* "250 2.1.5 text text" on one line, for logs and bounce reasons. */
static char *
lmtp_reply_text(const struct smtp_reply *r)
{
	struct strbuf sb;

	strbuf_init(&sb, DELIVER_PROTO_MAX_TEXT);
	strbuf_printf(&sb, "%u", r->code);
	if (r->enhanced[0] != '\0')
		strbuf_printf(&sb, " %s", r->enhanced);
	if (r->text.len > 0) {
		strbuf_append_char(&sb, ' ');
		for (size_t i = 0; i < r->text.len; i++) {
			if (strbuf_append_char(&sb, r->text.data[i] == '\n'
							? ' '
							: r->text.data[i]) < 0)
				break;
		}
	}
	if (sb.data == NULL)
		return xstrdup("");
	return strbuf_steal(&sb);
}

static void
lmtp_set_result(struct lmtp_session *s, unsigned int i,
		enum deliver_action action, const char *dsn, char *text)
{
	struct deliver_result *r = &s->d->reply.results[i];

	r->action = action;
	free(r->dsn);
	free(r->relay);
	free(r->text);
	r->dsn = xstrdup(dsn);
	r->relay = xstrdup(s->relay);
	r->text = text;
}

/* Records the current reply as recipient i's result. */
static void
lmtp_result_from_reply(struct lmtp_session *s, unsigned int i)
{
	const struct smtp_reply *r = &s->reply;
	char dsn[16];
	enum deliver_action action;

	if (r->code >= 200 && r->code < 300)
		action = DELIVER_SENT;
	else if (r->code >= 500)
		action = DELIVER_BOUNCED;
	else
		action = DELIVER_DEFERRED;
	if (r->enhanced[0] != '\0')
		snprintf(dsn, sizeof(dsn), "%s", r->enhanced);
	else
		snprintf(dsn, sizeof(dsn), "%u.0.0", r->code / 100);
	lmtp_set_result(s, i, action, dsn, lmtp_reply_text(r));
}

static int
lmtp_connect(struct lmtp_session *s)
{
	const char *nexthop = s->d->req->nexthop, *error;
	char path[SOCK_PATH_MAX + 1];

	if (strncmp(nexthop, "unix:", 5) == 0) {
		const char *p = nexthop + 5;
		int n = p[0] == '/' ? snprintf(path, sizeof(path), "%s", p)
				    : snprintf(path, sizeof(path), "%s/%s",
					       var_queue_directory, p);

		if (n < 0 || (size_t)n >= sizeof(path))
			return lmtp_fail(s, "socket path too long: %s", p);
		snprintf(s->relay, sizeof(s->relay), "%s", path);
		s->fd = sock_connect_unix(path, &error);
	} else {
		const char *spec =
		    strncmp(nexthop, "inet:", 5) == 0 ? nexthop + 5 : nexthop;
		struct sock_address addr;

		if (sock_parse_address(spec, &addr, &error) < 0 ||
		    addr.host[0] == '\0')
			return lmtp_fail(s, "bad LMTP destination %s", nexthop);
		snprintf(s->relay, sizeof(s->relay), "%.100s:%.32s", addr.host,
			 addr.port);
		s->fd = sock_connect_inet(addr.host, addr.port,
					  (int)var_lmtp_connect_timeout * 1000,
					  &error);
	}
	if (s->fd < 0) {
		/* "sock_connect_unix: /path: reason" -> "/path: reason" */
		const char *colon = strstr(error, ": ");

		if (strncmp(error, "sock_connect", 12) == 0 && colon != NULL)
			error = colon + 2;
		return lmtp_fail(s, "connect to %s", error);
	}
	sock_set_nonblock(s->fd, true);
	return 0;
}

static void
lmtp_put_xtext(struct strbuf *sb, const char *s)
{
	xtext_encode(s, strlen(s), sb);
}

static void
lmtp_queue_mail(struct lmtp_session *s)
{
	const struct deliver_request *req = s->d->req;

	strbuf_printf(&s->wbuf, "MAIL FROM:<%s>", req->sender);
	if (s->ehlo.size)
		strbuf_printf(&s->wbuf, " SIZE=%lld",
			      (long long)req->content_size);
	if (s->ehlo.eightbit && req->body[0] != '\0' &&
	    strcmp(req->body, "BINARYMIME") != 0)
		strbuf_printf(&s->wbuf, " BODY=%s", req->body);
	if (s->ehlo.smtputf8 && req->smtputf8)
		strbuf_append_str(&s->wbuf, " SMTPUTF8");
	if (s->ehlo.dsn && req->ret[0] != '\0')
		strbuf_printf(&s->wbuf, " RET=%s", req->ret);
	if (s->ehlo.dsn && req->envid[0] != '\0') {
		strbuf_append_str(&s->wbuf, " ENVID=");
		lmtp_put_xtext(&s->wbuf, req->envid);
	}
	strbuf_append_str(&s->wbuf, "\r\n");
}

static void
lmtp_queue_rcpt(struct lmtp_session *s, const struct deliver_rcpt *r)
{
	strbuf_printf(&s->wbuf, "RCPT TO:<%s>", r->address);
	if (s->ehlo.dsn && r->notify != 0) {
		if (r->notify & QUEUE_NOTIFY_NEVER)
			strbuf_append_str(&s->wbuf, " NOTIFY=NEVER");
		else {
			const char *sep = " NOTIFY=";

			if (r->notify & QUEUE_NOTIFY_SUCCESS) {
				strbuf_printf(&s->wbuf, "%sSUCCESS", sep);
				sep = ",";
			}
			if (r->notify & QUEUE_NOTIFY_FAILURE) {
				strbuf_printf(&s->wbuf, "%sFAILURE", sep);
				sep = ",";
			}
			if (r->notify & QUEUE_NOTIFY_DELAY)
				strbuf_printf(&s->wbuf, "%sDELAY", sep);
		}
	}
	/* ORCPT is stored as "type;xtext" already. */
	if (s->ehlo.dsn && r->orcpt[0] != '\0')
		strbuf_printf(&s->wbuf, " ORCPT=%s", r->orcpt);
	strbuf_append_str(&s->wbuf, "\r\n");
}

/* Streams the content, dot-stuffed, then ".". */
static int
lmtp_send_content(struct lmtp_session *s)
{
	const struct deliver_request *req = s->d->req;
	char *path = xasprintf("%s/%s", var_queue_directory, req->queue_file);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[LMTP_IO_BUF];
	off_t off = req->content_offset, end = off + req->content_size;
	bool bol = true, cr = false;

	if (fd < 0) {
		lmtp_fail(s, "queue file: %s", strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	while (off < end) {
		size_t want = (size_t)(end - off) < sizeof(buf)
				  ? (size_t)(end - off)
				  : sizeof(buf);
		ssize_t n = pread(fd, buf, want, off);

		if (n <= 0) {
			close(fd);
			return lmtp_fail(s, "queue file read: %s",
					 n < 0 ? strerror(errno) : "short");
		}
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];

			if (bol && c == '.')
				strbuf_append_char(&s->wbuf, '.');
			if (c == '\n' && !cr)
				strbuf_append_char(&s->wbuf, '\r');
			strbuf_append_char(&s->wbuf, c);
			bol = c == '\n';
			cr = c == '\r';
		}
		off += n;
		if (lmtp_flush(s) < 0) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (!bol)
		strbuf_append_str(&s->wbuf, "\r\n");
	strbuf_append_str(&s->wbuf, ".\r\n");
	return lmtp_flush(s);
}

static int
lmtp_session_run(struct lmtp_session *s, bool *accepted)
{
	const struct deliver_request *req = s->d->req;
	unsigned int naccepted = 0;

	if (lmtp_connect(s) < 0 || lmtp_read_reply(s) < 0)
		return -1;
	/* Postfix's relay=name[address]: the greeting's host name. */
	const char *gt = strbuf_cstr(&s->reply.text);
	size_t glen = strcspn(gt, " \n");
	if (glen > 0 && glen < 100) {
		char addr[sizeof(s->relay)];

		snprintf(addr, sizeof(addr), "%s", s->relay);
		snprintf(s->relay, sizeof(s->relay), "%.*s[%.150s]", (int)glen,
			 gt, addr);
	}
	if (s->reply.code != 220) {
		char *t = lmtp_reply_text(&s->reply);
		lmtp_fail(s, "host rejected the greeting: %s", t);
		free(t);
		/* A 5xx greeting defers too: a local LMTP server that
		 * refuses is a configuration problem. */
		return -1;
	}
	strbuf_printf(&s->wbuf, "LHLO %s\r\n", var_lmtp_lhlo_name);
	if (lmtp_flush(s) < 0 || lmtp_read_reply(s) < 0)
		return -1;
	if (s->reply.code != 250) {
		char *t = lmtp_reply_text(&s->reply);
		lmtp_fail(s, "LHLO refused: %s", t);
		free(t);
		return -1;
	}
	smtp_ehlo_parse(&s->ehlo, &s->reply);
	s->d->connected_us = smtp_now_us();

	lmtp_queue_mail(s);
	if (!s->ehlo.pipelining && (lmtp_flush(s) < 0 || lmtp_read_reply(s) < 0))
		return -1;
	if (s->ehlo.pipelining) {
		for (unsigned int i = 0; i < req->rcpt_count; i++)
			lmtp_queue_rcpt(s, &req->rcpts[i]);
		strbuf_append_str(&s->wbuf, "DATA\r\n");
		if (lmtp_flush(s) < 0 || lmtp_read_reply(s) < 0)
			return -1;
	}
	if (s->reply.code / 100 != 2) {
		/* MAIL refused: every recipient gets that reply. */
		for (unsigned int i = 0; i < req->rcpt_count; i++)
			lmtp_result_from_reply(s, i);
		if (s->ehlo.pipelining) {
			for (unsigned int i = 0; i <= req->rcpt_count; i++)
				if (lmtp_read_reply(s) < 0)
					return 0;
		}
		return 0;
	}
	for (unsigned int i = 0; i < req->rcpt_count; i++) {
		if (!s->ehlo.pipelining) {
			lmtp_queue_rcpt(s, &req->rcpts[i]);
			if (lmtp_flush(s) < 0)
				return -1;
		}
		if (lmtp_read_reply(s) < 0)
			return -1;
		if (s->reply.code / 100 == 2) {
			accepted[i] = true;
			naccepted++;
		} else {
			lmtp_result_from_reply(s, i);
		}
	}
	if (!s->ehlo.pipelining) {
		if (naccepted == 0)
			return 0;
		strbuf_append_str(&s->wbuf, "DATA\r\n");
		if (lmtp_flush(s) < 0)
			return -1;
	}
	if (lmtp_read_reply(s) < 0)
		return -1;
	if (s->reply.code != 354) {
		for (unsigned int i = 0; i < req->rcpt_count; i++)
			if (accepted[i])
				lmtp_result_from_reply(s, i);
		return 0;
	}
	if (naccepted == 0) {
		/* A server that said 354 without recipients gets an
		 * empty message it cannot deliver anywhere. */
		strbuf_append_str(&s->wbuf, ".\r\n");
		(void)lmtp_flush(s);
		(void)lmtp_read_reply(s);
		return 0;
	}
	if (lmtp_send_content(s) < 0)
		return -1;
	s->timeout_ms = (unsigned int)var_lmtp_data_done_timeout * 1000;
	for (unsigned int i = 0; i < req->rcpt_count; i++) {
		if (!accepted[i])
			continue;
		if (lmtp_read_reply(s) < 0)
			return -1;
		lmtp_result_from_reply(s, i);
		accepted[i] = false; /* final */
	}
	s->timeout_ms = (unsigned int)var_lmtp_cmd_timeout * 1000;
	strbuf_append_str(&s->wbuf, "QUIT\r\n");
	if (lmtp_flush(s) == 0)
		(void)lmtp_read_reply(s);
	return 0;
}

void
lmtp_deliver(struct smtp_delivery *d)
{
	struct lmtp_session *s = xcalloc(1, sizeof(*s));
	const struct deliver_request *req = d->req;
	bool *accepted = xcalloc(req->rcpt_count, sizeof(bool));

	s->d = d;
	s->fd = -1;
	s->timeout_ms = (unsigned int)var_lmtp_cmd_timeout * 1000;
	snprintf(s->relay, sizeof(s->relay), "none");
	strbuf_init(&s->wbuf, STRBUF_UNLIMITED);
	smtp_reply_init(&s->reply, NULL);
	d->reply.count = req->rcpt_count;
	d->reply.results = xcalloc(req->rcpt_count, sizeof(*d->reply.results));
	for (unsigned int i = 0; i < req->rcpt_count; i++) {
		d->reply.results[i].index = req->rcpts[i].index;
		d->reply.results[i].action = DELIVER_DEFERRED;
		d->reply.results[i].dsn = NULL;
	}
	int ret = lmtp_session_run(s, accepted);
	/* Whoever has no final result yet is deferred with the reason. */
	for (unsigned int i = 0; i < req->rcpt_count; i++) {
		if (d->reply.results[i].dsn != NULL)
			continue;
		lmtp_set_result(s, i, DELIVER_DEFERRED,
				accepted[i] ? "4.4.2" : "4.4.1",
				xstrdup(ret < 0 && s->error != NULL
					    ? s->error
					    : "delivery not attempted"));
	}
	if (d->connected_us == 0)
		d->connected_us = smtp_now_us();
	d->done_us = smtp_now_us();
	if (s->fd >= 0)
		close(s->fd);
	smtp_reply_deinit(&s->reply);
	strbuf_release(&s->wbuf);
	free(accepted);
	free(s);
}
