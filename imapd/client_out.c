/*
 * client_out - the output side of an IMAP session: replies are queued in
 * c->out and written when CLIENT_OUTBUF_FLUSH is queued or on
 * client_flush(), each write under a deadline (a client that reads
 * nothing for CLIENT_OUTPUT_TIMEOUT is dropped; the session then ends).
 * Text we send is ours; nothing here reads from the client. Runs on the
 * session's thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client_private.h"
#include "imapd.h"
#include "mail/imap_write.h"
#include "util/log.h"
#include "util/strbuf.h"

/* Output is written when this much is queued (and by client_flush()). */
#define CLIENT_OUTBUF_FLUSH (64 * 1024)
/* A client that reads nothing for this long is dropped (seconds). */
#define CLIENT_OUTPUT_TIMEOUT 300

static void
client_write_failed(struct client *cl)
{
	cl->write_failed = true;
	client_set_end(cl, END_WRITE);
}

static int
client_write(struct client *cl, const char *data, size_t len)
{
	int64_t deadline = client_now_ms() + CLIENT_OUTPUT_TIMEOUT * 1000LL;

	while (len > 0) {
		ssize_t n = write(cl->out_fd, data, len);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			cl->bytes_out += (unsigned long long)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = cl->out_fd,
					     .events = POLLOUT};
			int64_t left = deadline - client_now_ms();

			if (left <= 0) {
				client_write_failed(cl);
				return -1;
			}
			if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
				client_write_failed(cl);
				return -1;
			}
			continue;
		}
		client_write_failed(cl);
		return -1;
	}
	return 0;
}

int
client_flush(struct imap_client *c)
{
	struct client *cl = client_of(c);
	int ret = 0;

	if (c->out.len > 0 && !cl->write_failed)
		ret = client_write(cl, c->out.data, c->out.len);
	if (c->out.size > 2 * CLIENT_OUTBUF_FLUSH)
		/* an idle session keeps no big buffer */
		strbuf_release(&c->out);
	else
		strbuf_reset(&c->out);
	return cl->write_failed ? -1 : ret;
}

void
client_flush_if_big(struct imap_client *c)
{
	if (c->out.len >= CLIENT_OUTBUF_FLUSH / 2)
		(void)client_flush(c);
}

void
client_send_raw(struct imap_client *c, const void *data, size_t len)
{
	if (client_of(c)->write_failed)
		return;
	if (c->out.len + len > CLIENT_OUTBUF_FLUSH && c->out.len > 0)
		(void)client_flush(c);
	if (client_of(c)->write_failed)
		return;
	if (len >= CLIENT_OUTBUF_FLUSH) {
		(void)client_write(client_of(c), data, len);
		return;
	}
	if (strbuf_append(&c->out, data, len) < 0)
		log_panic("client_send_raw: output buffer full");
}

static void
client_send_va(struct imap_client *c, const char *prefix, const char *fmt,
	       va_list ap)
{
	struct strbuf line;

	if (client_of(c)->write_failed)
		return;
	strbuf_init(&line, STRBUF_UNLIMITED);
	if (prefix != NULL)
		(void)strbuf_append_str(&line, prefix);
	(void)strbuf_vprintf(&line, fmt, ap);
	(void)strbuf_append(&line, "\r\n", 2);
	client_send_raw(c, line.data, line.len);
	strbuf_release(&line);
}

void
client_send_line(struct imap_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	client_send_va(c, NULL, fmt, ap);
	va_end(ap);
}

/*
 * The tagged reply ends the command, so this is where the view is synced:
 * RFC 3501 wants the untagged EXISTS/EXPUNGE/FETCH updates before it
 * (7.4.1), and every command's reply then brings the client up to date as
 * Dovecot's do. Not for BAD (nothing ran) and not twice per command.
 */
void
client_send_tagged(struct imap_client *c, const char *status, const char *fmt,
		   ...)
{
	struct client *cl = client_of(c);
	char prefix[IMAP_PARSE_TAG_MAX + 16];
	va_list ap;

	if (c->view != NULL && !cl->synced && !cl->no_sync &&
	    strcmp(status, "BAD") != 0) {
		cl->synced = true;
		(void)imap_view_sync(c, cl->sync_flags);
	}
	cl->tagged_sent = true;
	cl->tagged_bad = strcmp(status, "BAD") == 0;
	snprintf(prefix, sizeof(prefix), "%s %s ",
		 c->tag != NULL ? c->tag : "*", status);
	va_start(ap, fmt);
	client_send_va(c, prefix, fmt, ap);
	va_end(ap);
}

unsigned int
client_write_flags(const struct imap_client *c)
{
	return (c->enabled & (IMAP_ENABLED_IMAP4REV2 | IMAP_ENABLED_UTF8)) != 0
		   ? IMAP_WRITE_UTF8
		   : 0;
}
