/*
 * smtpd_header - the header section of a message on its way into the
 * queue, for submitted mail (SASL-authenticated or local submission, or
 * every message with always_add_missing_headers = yes): the section is
 * held back (at most HEADER_MAX bytes, Postfix's header_size_limit) until
 * its end, then written with a Message-Id and a Date header added when
 * they are missing, as Postfix's cleanup adds them. The From: addresses
 * are kept for the ownership check at end of data (smtpd_queue.c).
 *
 * The message is untrusted: the section is parsed by rfc822_header.c with
 * limits (fields, addresses); nothing here does I/O except writing the
 * queue file through queue_file_write_content().
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "mail/rfc822_header.h"
#include "smtpd.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define HEADER_MAX 102400  /* Postfix's header_size_limit */
#define HEADER_FIELDS 1000 /* fields looked at */
#define FROM_ADDRESSES 100 /* From: addresses checked */

struct smtpd_header {
	struct strbuf buf;
	bool add_missing; /* Message-Id, Date */
	bool keep_from;	  /* collect From: addresses */
	bool done;	  /* section written; bytes pass through */
	bool too_big;	  /* no end within HEADER_MAX */
	char **from;	  /* NULL-terminated, or NULL */
};

void
smtpd_header_start(struct smtpd_client *c)
{
	bool submitted = c->local || smtpd_sasl_user(c) != NULL;
	struct smtpd_header *h;

	smtpd_header_free(c);
	if (!submitted && !var_always_add_missing_headers &&
	    !smtpd_restrict_check_from(c))
		return;
	h = xcalloc(1, sizeof(*h));
	strbuf_init(&h->buf, HEADER_MAX + 1);
	h->add_missing = submitted || var_always_add_missing_headers;
	h->keep_from = smtpd_restrict_check_from(c);
	c->header = h;
}

void
smtpd_header_free(struct smtpd_client *c)
{
	struct smtpd_header *h = c->header;

	if (h == NULL)
		return;
	strbuf_release(&h->buf);
	if (h->from != NULL) {
		for (size_t i = 0; h->from[i] != NULL; i++)
			free(h->from[i]);
		free(h->from);
	}
	free(h);
	c->header = NULL;
}

char **
smtpd_header_take_from(struct smtpd_client *c)
{
	char **from;

	if (c->header == NULL)
		return NULL;
	if (c->header->too_big && c->header->keep_from) {
		/* Unchecked is not allowed: an address nobody owns. */
		from = xcalloc(2, sizeof(*from));
		from[0] = xstrdup("(header too big to check)");
		return from;
	}
	from = c->header->from;
	c->header->from = NULL;
	return from;
}

/* Offset of the blank line ending the section in data, or -1. */
static long
header_end(const char *data, size_t len)
{
	if (len >= 2 && data[0] == '\r' && data[1] == '\n')
		return 0;
	if (len >= 1 && data[0] == '\n')
		return 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n' ||
		    (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n'))
			return (long)(i + 1);
	}
	return -1;
}

static void
header_collect_from(struct smtpd_header *h, const struct rfc822_header *hdr)
{
	size_t n = 0;

	h->from = xcalloc(FROM_ADDRESSES + 1, sizeof(*h->from));
	for (unsigned int i = 0; i < hdr->count; i++) {
		const struct rfc822_field *f = &hdr->fields[i];
		struct rfc822_address *list, *a;

		if (strcasecmp(f->name, "From") != 0)
			continue;
		list = rfc822_address_parse(f->value, f->value_len,
					    FROM_ADDRESSES);
		for (a = list; a != NULL && n < FROM_ADDRESSES; a = a->next) {
			if (a->mailbox == NULL || a->domain == NULL)
				continue; /* group start or end */
			h->from[n++] =
			    xasprintf("%s@%s", a->mailbox, a->domain);
		}
		rfc822_address_free(&list);
	}
}

/* Message-Id and Date as Postfix's cleanup writes them. */
static int
header_added(struct strbuf *out, const struct rfc822_header *hdr)
{
	static unsigned long counter;
	struct timeval tv;
	struct tm tm;
	char stamp[32], date[64];
	int ret = 0;

	gettimeofday(&tv, NULL);
	if (rfc822_header_find(hdr, "Message-ID", false) == NULL) {
		gmtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		ret |= strbuf_printf(
		    out, "Message-Id: <%s.%lx%05lx%lx.%lu@%s>\r\n", stamp,
		    (unsigned long)getpid(), (unsigned long)tv.tv_usec,
		    (unsigned long)random() & 0xffff, ++counter,
		    var_myhostname);
	}
	if (rfc822_header_find(hdr, "Date", false) == NULL) {
		localtime_r(&tv.tv_sec, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)",
			 &tm);
		ret |= strbuf_printf(out, "Date: %s\r\n", date);
	}
	return ret;
}

/* Writes the held section (end: offset of the blank line, or the whole
 * buffer when it has none) with the added headers, then the rest. */
static int
header_flush(struct smtpd_client *c, long end)
{
	struct smtpd_header *h = c->header;
	struct rfc822_header hdr;
	struct strbuf added;
	const char *error;
	size_t len = h->buf.len, cut = end < 0 ? len : (size_t)end;
	int ret = 0;

	h->done = true;
	/* A section without its end is cut mid-line: add nothing there. */
	if (end < 0 && h->too_big) {
		ret = queue_file_write_content(c->writer, h->buf.data, len,
					       &error);
		goto out;
	}
	rfc822_header_parse(h->buf.data, cut + 2 < len ? cut + 2 : len,
			    HEADER_FIELDS, &hdr);
	if (h->keep_from)
		header_collect_from(h, &hdr);
	strbuf_init(&added, 1024);
	if (h->add_missing && header_added(&added, &hdr) < 0)
		ret = -1;
	rfc822_header_free(&hdr);
	/* The section's last line may lack its line end (BDAT, or a
	 * message of headers only cut by end of data). */
	if (ret == 0 && cut > 0 && h->buf.data[cut - 1] != '\n' &&
	    added.len > 0)
		ret = queue_file_write_content(c->writer, h->buf.data, cut,
					       &error) < 0 ||
			      queue_file_write_content(c->writer, "\r\n", 2,
						       &error) < 0
			  ? -1
			  : 0;
	else if (ret == 0)
		ret = queue_file_write_content(c->writer, h->buf.data, cut,
					       &error);
	if (ret == 0 && added.len > 0)
		ret = queue_file_write_content(c->writer, added.data, added.len,
					       &error);
	if (ret == 0 && cut < len)
		ret = queue_file_write_content(c->writer, h->buf.data + cut,
					       len - cut, &error);
	strbuf_release(&added);
out:
	if (ret < 0)
		log_warning("smtpd: queue file: %s", error);
	strbuf_release(&h->buf);
	return ret < 0 ? -1 : 0;
}

int
smtpd_header_chunk(struct smtpd_client *c, const char *data, size_t len)
{
	struct smtpd_header *h = c->header;
	const char *error;
	size_t room;
	long end;

	if (h->done) {
		if (queue_file_write_content(c->writer, data, len, &error) <
		    0) {
			log_warning("smtpd: queue file: %s", error);
			return -1;
		}
		return 0;
	}
	room = HEADER_MAX - h->buf.len;
	if (strbuf_append(&h->buf, data, len < room ? len : room) < 0)
		return -1;
	end = header_end(h->buf.data, h->buf.len);
	if (end < 0 && len < room)
		return 0;
	if (end < 0)
		h->too_big = true;
	if (header_flush(c, end) < 0)
		return -1;
	if (len > room)
		return smtpd_header_chunk(c, data + room, len - room);
	return 0;
}

int
smtpd_header_finish(struct smtpd_client *c)
{
	if (c->header == NULL || c->header->done)
		return 0;
	return header_flush(c, -1);
}
