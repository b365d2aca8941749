/*
 * sendmail_smtp - the SMTP client side of the sendmail command: EHLO,
 * MAIL, RCPT, DATA with dot-stuffing, QUIT, over the local submission
 * socket; and the -bs pass-through. The server is our own smtpd, but its
 * replies are still read with smtp_reply's limits.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/smtp_reply.h"
#include "sendmail.h"
#include "util/strbuf.h"

#define SENDMAIL_TIMEOUT_MS (300 * 1000)

struct sm_conn {
	int fd;
	char buf[8192];
	size_t pos, len;
	struct smtp_reply reply;
	bool verbose;
};

static int
sm_write(struct sm_conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(c->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr,
				"sendmail: lost connection to the mail "
				"system: %s\n",
				strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
sm_read_reply(struct sm_conn *c)
{
	const char *error;

	smtp_reply_reset(&c->reply);
	for (;;) {
		char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);

		if (nl != NULL) {
			const char *line = c->buf + c->pos;
			size_t len = (size_t)(nl - line);

			if (len > 0 && line[len - 1] == '\r')
				len--;
			c->pos = (size_t)(nl - c->buf) + 1;
			if (c->verbose)
				fprintf(stderr, "<<< %.*s\n", (int)len, line);
			int ret = smtp_reply_feed(&c->reply, line, len, &error);
			if (ret < 0) {
				fprintf(stderr,
					"sendmail: bad reply from the "
					"mail system: %s\n",
					error);
				return -1;
			}
			if (ret == 1)
				return (int)c->reply.code;
			continue;
		}
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
		if (c->len == sizeof(c->buf)) {
			fprintf(stderr, "sendmail: reply line too long\n");
			return -1;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (poll(&pfd, 1, SENDMAIL_TIMEOUT_MS) == 0) {
			fprintf(stderr, "sendmail: timeout waiting for the "
					"mail system\n");
			return -1;
		}
		ssize_t n =
		    read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "sendmail: the mail system closed the "
					"connection\n");
			return -1;
		}
		c->len += (size_t)n;
	}
}

static int
sm_command(struct sm_conn *c, const char *cmd)
{
	if (c->verbose)
		fprintf(stderr, ">>> %s\n", cmd);
	if (sm_write(c, cmd, strlen(cmd)) < 0 || sm_write(c, "\r\n", 2) < 0)
		return -1;
	return sm_read_reply(c);
}

static void
sm_report(struct sm_conn *c, const char *what, bool *tempfail_r)
{
	fprintf(stderr, "sendmail: %s: %u %s%s%s\n", what, c->reply.code,
		c->reply.enhanced, c->reply.enhanced[0] != '\0' ? " " : "",
		strbuf_cstr(&c->reply.text));
	*tempfail_r = c->reply.code < 500;
}

static int
sm_send_content(struct sm_conn *c, FILE *in)
{
	char line[8192];
	struct strbuf out;
	bool bol = true;
	int ret = 0;

	strbuf_init(&out, STRBUF_UNLIMITED);
	while (fgets(line, sizeof(line), in) != NULL) {
		size_t len = strlen(line);

		if (bol && line[0] == '.')
			strbuf_append_char(&out, '.');
		strbuf_append(&out, line, len);
		bol = len > 0 && line[len - 1] == '\n';
		if (out.len >= 65536) {
			ret = sm_write(c, out.data, out.len);
			strbuf_reset(&out);
			if (ret < 0)
				break;
		}
	}
	if (ret == 0) {
		if (!bol)
			strbuf_append_str(&out, "\r\n");
		strbuf_append_str(&out, ".\r\n");
		ret = sm_write(c, out.data, out.len);
	}
	strbuf_release(&out);
	return ret;
}

/* An address goes into one SMTP command line: no control characters. */
static bool
sm_address_ok(const char *addr)
{
	for (const unsigned char *p = (const unsigned char *)addr; *p != '\0';
	     p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

int
sendmail_submit(int fd, const struct sendmail_msg *msg, bool verbose,
		bool *tempfail_r)
{
	struct sm_conn c = {.fd = fd, .verbose = verbose};
	struct strbuf cmd;
	unsigned int accepted = 0;
	int ret = -1, code;

	*tempfail_r = true;
	smtp_reply_init(&c.reply, NULL);
	strbuf_init(&cmd, 8192);
	if (!sm_address_ok(msg->sender)) {
		fprintf(stderr, "sendmail: bad sender address\n");
		*tempfail_r = false;
		goto out;
	}
	for (unsigned int i = 0; i < msg->n_rcpts; i++) {
		if (!sm_address_ok(msg->rcpts[i])) {
			fprintf(stderr, "sendmail: bad recipient address\n");
			*tempfail_r = false;
			goto out;
		}
	}
	if ((code = sm_read_reply(&c)) < 0)
		goto out;
	if (code != 220) {
		sm_report(&c, "greeting", tempfail_r);
		goto out;
	}
	if ((code = sm_command(&c, "EHLO localhost")) < 0)
		goto out;
	if (code != 250) {
		sm_report(&c, "EHLO", tempfail_r);
		goto out;
	}
	strbuf_printf(&cmd, "MAIL FROM:<%s>%s", msg->sender,
		      msg->eightbit ? " BODY=8BITMIME" : "");
	if ((code = sm_command(&c, strbuf_cstr(&cmd))) < 0)
		goto out;
	if (code != 250) {
		sm_report(&c, msg->sender, tempfail_r);
		goto out;
	}
	for (unsigned int i = 0; i < msg->n_rcpts; i++) {
		strbuf_reset(&cmd);
		if (strbuf_printf(&cmd, "RCPT TO:<%s>", msg->rcpts[i]) < 0) {
			fprintf(stderr, "sendmail: %s: address too long\n",
				msg->rcpts[i]);
			*tempfail_r = false;
			goto out;
		}
		if ((code = sm_command(&c, strbuf_cstr(&cmd))) < 0)
			goto out;
		if (code / 100 != 2) {
			/* Like Postfix's sendmail: one bad recipient fails the
			 * whole submission, so nothing goes half-delivered. */
			sm_report(&c, msg->rcpts[i], tempfail_r);
			goto out;
		}
		accepted++;
	}
	if ((code = sm_command(&c, "DATA")) < 0)
		goto out;
	if (code != 354) {
		sm_report(&c, "DATA", tempfail_r);
		goto out;
	}
	if (sm_send_content(&c, msg->content) < 0 ||
	    (code = sm_read_reply(&c)) < 0)
		goto out;
	if (code != 250) {
		sm_report(&c, "message", tempfail_r);
		goto out;
	}
	if (verbose)
		fprintf(stderr, "sendmail: %s\n", strbuf_cstr(&c.reply.text));
	(void)sm_command(&c, "QUIT");
	ret = accepted > 0 ? 0 : -1;
out:
	strbuf_release(&cmd);
	smtp_reply_deinit(&c.reply);
	return ret;
}

int
sendmail_proxy(int fd)
{
	struct pollfd pfd[2] = {
	    {.fd = 0, .events = POLLIN},
	    {.fd = fd, .events = POLLIN},
	};
	char buf[8192];

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, buf, sizeof(buf));

			if (n <= 0) {
				shutdown(fd, SHUT_WR);
				pfd[0].fd = -1;
			} else if (write(fd, buf, (size_t)n) != n) {
				return -1;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n <= 0)
				return 0;
			if (write(1, buf, (size_t)n) != n)
				return -1;
		}
	}
}
