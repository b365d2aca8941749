/*
 * smtp_content - the message of an outbound transaction, read from the
 * queue file: CRLF line ends, dot-stuffed (RFC 5321 4.5.2), ended by
 * ".". For a server without 8BITMIME, 8-bit MIME parts are converted to
 * quoted-printable as Postfix does (mime_8to7.h), unless
 * disable_mime_output_conversion. The queue file is ours (written by
 * smtpd); the converter still treats the content as untrusted (limits).
 * Worker thread: never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/mime_8to7.h"
#include "mail/queue_file.h"
#include "smtp_session.h"
#include "util/xmem.h"

/* Content going out: CRLF line ends, dot-stuffed (state across calls). */
struct smtp_content {
	struct strbuf *w;
	bool bol, cr;
};

static int
smtp_content_put(void *ctx, const char *data, size_t len)
{
	struct smtp_content *c = ctx;

	for (size_t i = 0; i < len; i++) {
		char ch = data[i];

		if (c->bol && ch == '.')
			strbuf_append_char(c->w, '.');
		if (ch == '\n' && !c->cr)
			strbuf_append_char(c->w, '\r');
		strbuf_append_char(c->w, ch);
		c->bol = ch == '\n';
		c->cr = ch == '\r';
	}
	return 0;
}

/* Postfix's rule (smtp_proto.c): convert unless the server takes 8BITMIME
 * or the message is known to be 7bit; no BODY= may still be 8-bit. */
static bool
smtp_mime_downgrade(const struct smtp_session *s)
{
	return !var_disable_mime_output_conversion && !s->ehlo.eightbit &&
	       strcasecmp(s->d->req->body, "7BIT") != 0;
}

int
smtp_send_content(struct smtp_session *s)
{
	const struct deliver_request *req = s->d->req;
	char *path = xasprintf("%s/%s", var_queue_directory, req->queue_file);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[16384];
	off_t off = req->content_offset, end = off + req->content_size;
	struct smtp_content c = {&s->io.wbuf, true, false};
	struct mime_8to7 *conv = NULL;
	unsigned int flags;

	free(path);
	if (fd < 0) {
		snprintf(s->io.error, sizeof(s->io.error), "queue file: %s",
			 strerror(errno));
		return -1;
	}
	if (smtp_mime_downgrade(s))
		conv = mime_8to7_new(smtp_content_put, &c);
	while (off < end) {
		size_t want = (size_t)(end - off) < sizeof(buf)
				  ? (size_t)(end - off)
				  : sizeof(buf);
		ssize_t n = pread(fd, buf, want, off);

		if (n <= 0) {
			snprintf(s->io.error, sizeof(s->io.error),
				 "queue file read: %s",
				 n < 0 ? strerror(errno) : "short");
			goto fail;
		}
		if (conv == NULL)
			(void)smtp_content_put(&c, buf, (size_t)n);
		else if (mime_8to7_feed(conv, buf, (size_t)n) < 0)
			goto conv_fail;
		off += n;
		if (smtp_io_flush(&s->io) < 0)
			goto fail;
	}
	if (conv != NULL) {
		if (mime_8to7_finish(conv) < 0)
			goto conv_fail;
		flags = mime_8to7_flags(conv);
		mime_8to7_free(&conv);
		if (flags & MIME_8TO7_8BIT_LEFT)
			smtp_note(s->d,
				  "%s: 8-bit message to %s, which does not "
				  "announce 8BITMIME: 8-bit octets outside "
				  "parts labelled 8bit or binary sent as "
				  "they are",
				  req->queue_id, s->relay);
	}
	close(fd);
	if (!c.bol)
		strbuf_append_str(&s->io.wbuf, "\r\n");
	strbuf_append_str(&s->io.wbuf, ".\r\n");
	return smtp_io_flush(&s->io);
conv_fail:
	snprintf(s->io.error, sizeof(s->io.error), "%s",
		 "MIME nesting exceeds safety limit");
	flags = mime_8to7_flags(conv);
	mime_8to7_free(&conv);
	close(fd);
	return (flags & MIME_8TO7_ERR_NESTING) != 0 ? -2 : -1;
fail:
	mime_8to7_free(&conv);
	close(fd);
	return -1;
}
