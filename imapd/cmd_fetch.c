/*
 * cmd_fetch - FETCH and UID FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5): the
 * simple items (FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY,
 * BODYSTRUCTURE, UID, MODSEQ), body sections with partials, RFC822.*,
 * BINARY/BINARY.PEEK/BINARY.SIZE (RFC 3516) and the CONDSTORE/QRESYNC
 * modifiers CHANGEDSINCE and VANISHED (RFC 7162).
 *
 * Message files are untrusted (anything with the mail uid writes them);
 * they are read through a read-only mapping and every offset comes from
 * the bounded MIME parser. Bodies are sent as Dovecot sends them: bare LF
 * line ends become CRLF and NUL bytes become 0x80 (a literal may not
 * hold NUL; BINARY sends decoded or NUL-holding content in a literal8
 * instead); sizes and partial offsets count the converted stream, so
 * they agree with RFC822.SIZE and BODYSTRUCTURE. Output is streamed
 * message by message (client_flush_if_big()): a FETCH 1:* never holds
 * more than one message's reply in memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fetch_section.h"
#include "imapd.h"
#include "mail/imap_date.h"
#include "mail/imap_fetch_parse.h"
#include "mail/mime_decode.h"
#include "mail/mime_parse.h"
#include "mail/rfc822_header.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define FETCH_MAX_ITEMS 1000
#define FETCH_MAX_FIELDS 1000
#define FETCH_MAX_NAME 8192
#define FETCH_MAX_RANGES 100000
/* One message's simple items (ENVELOPE and BODYSTRUCTURE are bounded by
   the MIME parser's limits; this only stops runaway output). */
#define FETCH_LINE_MAX (64u * 1024 * 1024)

#define SERVERBUG_TEXT                                                         \
	"[SERVERBUG] Internal error occurred. Refer to server log for more "   \
	"information."


static void
fetch_msg_free(struct fetch_msg *m, unsigned int body_count)
{
	if (m->srcs != NULL) {
		for (unsigned int i = 0; i < body_count; i++) {
			if (m->srcs[i].is_buf)
				strbuf_release(&m->srcs[i].buf);
		}
		xfree(&m->srcs);
		m->srcs = NULL;
	}
	if (m->root != NULL)
		mime_part_free(&m->root);
	if (m->file_open) {
		imap_view_msg_close(&m->file);
		m->file_open = false;
	}
}

static void
fetch_sep(struct strbuf *line, bool *first)
{
	if (!*first)
		(void)strbuf_append_char(line, ' ');
	*first = false;
}

/* The zone INTERNALDATE is shown in: the server's, as Dovecot does. */
static int
fetch_tz_minutes(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

/* Did message seq go away? (after a failed lookup) */
static bool
fetch_msg_gone(struct imap_client *c, uint32_t seq)
{
	struct imap_msg_file f;
	bool expunged = false;

	if (imap_view_msg_open(c, seq, &f, &expunged) == 0) {
		imap_view_msg_close(&f);
		return false;
	}
	return expunged;
}

/*
 * Prepares message seq: opens its file when a body item needs it, sets
 * \Seen, and builds the reply up to (not including) the body items in
 * line. The body items are resolved into m->srcs.
 */
static enum fetch_result
fetch_prepare(struct imap_client *c, const struct imap_fetch *fetch,
	      uint32_t seq, struct fetch_msg *m, struct strbuf *line)
{
	struct imap_view *v = c->view;
	unsigned int items = fetch->items;
	bool need_file = false, first = true;
	enum fetch_result r;
	bool expunged = false;
	uint64_t binsize;

	for (unsigned int i = 0; i < fetch->body_count; i++) {
		if (!fetch_body_from_cache(&fetch->bodies[i]) &&
		    !fetch_binsize_lookup(v, seq, &fetch->bodies[i],
					  &binsize))
			need_file = true;
	}
	if (need_file) {
		if (imap_view_msg_open(c, seq, &m->file, &expunged) < 0)
			return expunged ? FETCH_EXPUNGED : FETCH_ERROR;
		m->file_open = true;
	}
	m->srcs = xcalloc(fetch->body_count + 1, sizeof(*m->srcs));
	for (unsigned int i = 0; i < fetch->body_count; i++) {
		const struct imap_fetch_body *b = &fetch->bodies[i];
		struct fetch_src *s = &m->srcs[i];

		if (fetch_binsize_lookup(v, seq, b, &binsize)) {
			/* decoded before: not again */
			s->is_buf = true;
			strbuf_init(&s->buf, 0);
			s->vsize = binsize;
			r = FETCH_OK;
		} else if (!m->file_open) {
			struct strbuf hdr;

			strbuf_init(&hdr, STRBUF_UNLIMITED);
			if (imap_view_msg_cached(c, seq, IMAP_CACHE_HEADER,
						 &hdr) < 0) {
				strbuf_release(&hdr);
				return fetch_msg_gone(c, seq) ? FETCH_EXPUNGED
							      : FETCH_ERROR;
			}
			s->is_buf = true;
			strbuf_init(&s->buf, 2 * hdr.len + 16);
			r = fetch_header_fields(b, hdr.data == NULL ? ""
								    : hdr.data,
						hdr.len,
						b->section ==
						    IMAP_SECTION_HEADER_FIELDS,
						&s->buf) < 0
				    ? FETCH_ERROR
				    : FETCH_OK;
			s->vsize = s->buf.len;
			strbuf_release(&hdr);
		} else {
			r = fetch_body_src(m, b, s);
			if (r == FETCH_OK && b->kind == IMAP_BODY_BINARY_SIZE)
				fetch_binsize_store(v, seq, b, s->vsize);
		}
		if (r != FETCH_OK)
			return r;
	}

	if (fetch->sets_seen && !v->readonly &&
	    (v->msgs[seq - 1].flags & IMAP_FLAG_SEEN) == 0) {
		struct imap_seqset one, failed;
		const char *error;

		imap_seqset_init(&one);
		imap_seqset_init(&failed);
		imap_seqset_add(&one, seq, seq);
		if (imap_view_store(c, &one, '+', IMAP_FLAG_SEEN, NULL, 0, 0,
				    &failed, &error) < 0) {
			log_error("%s: setting \\Seen on %s uid %u: %s",
				  c->user, v->name, v->msgs[seq - 1].uid,
				  error);
		} else {
			items |= IMAP_FETCH_FLAGS;
		}
		imap_seqset_release(&one);
		imap_seqset_release(&failed);
	}

	(void)strbuf_printf(line, "* %u FETCH (", seq);
	if ((items & IMAP_FETCH_UID) != 0 || c->uid_cmd) {
		fetch_sep(line, &first);
		(void)strbuf_printf(line, "UID %u", v->msgs[seq - 1].uid);
	}
	if ((items & IMAP_FETCH_FLAGS) != 0) {
		fetch_sep(line, &first);
		(void)strbuf_append_str(line, "FLAGS ");
		if (imap_view_format_flags(v, seq, line) < 0)
			return FETCH_ERROR;
	}
	if ((items & IMAP_FETCH_INTERNALDATE) != 0) {
		time_t t;

		if (imap_view_msg_date(c, seq, &t) < 0)
			return fetch_msg_gone(c, seq) ? FETCH_EXPUNGED
						      : FETCH_ERROR;
		fetch_sep(line, &first);
		(void)strbuf_append_str(line, "INTERNALDATE ");
		if (imap_datetime_format(line, (int64_t)t,
					 fetch_tz_minutes(t)) < 0)
			return FETCH_ERROR;
	}
	if ((items & IMAP_FETCH_RFC822_SIZE) != 0) {
		uint64_t vsize;

		if (imap_view_msg_vsize(c, seq, &vsize) < 0)
			return fetch_msg_gone(c, seq) ? FETCH_EXPUNGED
						      : FETCH_ERROR;
		fetch_sep(line, &first);
		(void)strbuf_printf(line, "RFC822.SIZE %llu",
				    (unsigned long long)vsize);
	}
	static const struct {
		unsigned int item;
		const char *name;
		enum imap_cache_field field;
	} cached[] = {
		{ IMAP_FETCH_ENVELOPE, "ENVELOPE ", IMAP_CACHE_ENVELOPE },
		{ IMAP_FETCH_BODY, "BODY ", IMAP_CACHE_BODY },
		{ IMAP_FETCH_BODYSTRUCTURE, "BODYSTRUCTURE ",
		  IMAP_CACHE_BODYSTRUCTURE },
	};
	for (size_t i = 0; i < sizeof(cached) / sizeof(cached[0]); i++) {
		if ((items & cached[i].item) == 0)
			continue;
		fetch_sep(line, &first);
		if (strbuf_append_str(line, cached[i].name) < 0 ||
		    imap_view_msg_cached(c, seq, cached[i].field, line) < 0)
			return fetch_msg_gone(c, seq) ? FETCH_EXPUNGED
						      : FETCH_ERROR;
	}
	if ((items & IMAP_FETCH_MODSEQ) != 0 || fetch->has_changedsince) {
		fetch_sep(line, &first);
		(void)strbuf_printf(line, "MODSEQ (%llu)",
				    (unsigned long long)v->msgs[seq - 1].modseq);
	}
	if (!first && fetch->body_count > 0)
		(void)strbuf_append_char(line, ' ');
	return line->len >= line->max ? FETCH_ERROR : FETCH_OK;
}

/* Queues a short piece of a reply (no line end added). */
static void __attribute__((format(printf, 2, 3)))
fetch_send_fmt(struct imap_client *c, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(buf))
		client_send_raw(c, buf, (size_t)n);
}

/* Sends the body items of a prepared message and ends its reply. */
static void
fetch_send_bodies(struct imap_client *c, const struct imap_fetch *fetch,
		  struct fetch_msg *m)
{
	for (unsigned int i = 0; i < fetch->body_count && !c->disconnect;
	     i++) {
		const struct imap_fetch_body *b = &fetch->bodies[i];
		struct fetch_src *s = &m->srcs[i];
		uint64_t skip = 0, len = s->vsize;
		bool literal8;

		if (i > 0)
			client_send_raw(c, " ", 1);
		client_send_raw(c, b->name, strlen(b->name));
		if (b->kind == IMAP_BODY_BINARY_SIZE) {
			fetch_send_fmt(c, " %llu",
				       (unsigned long long)s->vsize);
			continue;
		}
		if (b->partial) {
			skip = b->offset < s->vsize ? b->offset : s->vsize;
			len = s->vsize - skip;
			if (len > b->size)
				len = b->size;
		}
		literal8 = s->keep_nul;
		fetch_send_fmt(c, " %s{%llu}\r\n", literal8 ? "~" : "",
			       (unsigned long long)len);
		if (len == 0)
			continue;
		if (s->is_buf) {
			/* buffers are final: HEADER.FIELDS was converted,
			   BINARY is decoded bytes */
			client_send_raw(c, s->buf.data + skip, (size_t)len);
			client_flush_if_big(c);
		} else {
			fetch_emit_range(c, m->file.data, s->start, s->end,
					 s->keep_nul, skip, len);
		}
	}
	client_send_raw(c, ")\r\n", 3);
	client_flush_if_big(c);
}

/* QRESYNC: "* VANISHED (EARLIER) uids" for UID FETCH ... (CHANGEDSINCE n
   VANISHED): the UIDs of the requested set expunged since n. */
static int
fetch_send_vanished(struct imap_client *c, const struct imap_arg *set_arg,
		    uint64_t modseq)
{
	struct imap_seqset uids, vanished;
	const struct imap_seqset *in = NULL;
	const char *error;
	struct strbuf sb;
	int ret = 0;

	imap_seqset_init(&vanished);
	if (imap_arg_get_seqset(set_arg, FETCH_MAX_RANGES, true, &uids,
				&error) < 0) {
		imap_seqset_release(&uids);
		client_send_tagged(c, "BAD", "Error in IMAP command %s: %s",
				   c->cmd_name, error);
		return -1;
	}
	if (uids.saved) {
		if (c->saved_valid)
			in = &c->saved;
	} else {
		imap_seqset_resolve(&uids, c->view->uid_next > 1
						   ? c->view->uid_next - 1
						   : 0);
		in = &uids;
	}
	if (in != NULL &&
	    imap_view_vanished_since(c, modseq, in, &vanished) < 0) {
		log_error("%s: VANISHED of %s failed", c->user, c->view->name);
		ret = -1;
	} else if (vanished.count > 0) {
		strbuf_init(&sb, STRBUF_UNLIMITED);
		(void)imap_seqset_format(&vanished, &sb);
		client_send_raw(c, "* VANISHED (EARLIER) ", 21);
		client_send_raw(c, sb.data, sb.len);
		client_send_raw(c, "\r\n", 2);
		strbuf_release(&sb);
	}
	imap_seqset_release(&uids);
	imap_seqset_release(&vanished);
	if (ret < 0)
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
	return ret;
}

static void
cmd_fetch(struct imap_client *c, const struct imap_arg *args,
	  unsigned int count)
{
	static const struct imap_fetch_limits limits = {
		.max_items = FETCH_MAX_ITEMS,
		.max_fields = FETCH_MAX_FIELDS,
		.max_name = FETCH_MAX_NAME,
	};
	unsigned int flags = IMAP_FETCH_ALLOW_CONDSTORE |
			     IMAP_FETCH_ALLOW_BINARY;
	struct imap_fetch *fetch;
	struct imap_seqset seqs;
	struct imap_seqset_iter it = { 0 };
	struct strbuf line;
	enum fetch_result r = FETCH_OK;
	bool skipped = false;
	const char *error;
	uint32_t seq;

	if (count < 2 || count > 3 ||
	    (args[1].type != IMAP_ARG_ATOM && args[1].type != IMAP_ARG_LIST) ||
	    (count == 3 && args[2].type != IMAP_ARG_LIST)) {
		client_send_tagged(c, "BAD", "Error in IMAP command %s: "
				   "Invalid arguments.", c->cmd_name);
		return;
	}
	if ((c->enabled & IMAP_ENABLED_QRESYNC) != 0)
		flags |= IMAP_FETCH_ALLOW_QRESYNC;
	if (imap_fetch_parse(&args[1], count == 3 ? &args[2] : NULL, &limits,
			     flags, &fetch, &error) < 0) {
		client_send_tagged(c, "BAD", "Error in IMAP command %s: %s",
				   c->cmd_name, error);
		return;
	}
	if (fetch->vanished && !c->uid_cmd) {
		client_send_tagged(c, "BAD", "Error in IMAP command %s: "
				   "VANISHED only allowed with UID FETCH",
				   c->cmd_name);
		imap_fetch_free(&fetch);
		return;
	}
	if ((fetch->items & IMAP_FETCH_MODSEQ) != 0 || fetch->has_changedsince)
		c->enabled |= IMAP_ENABLED_CONDSTORE;
	if (imap_view_seqset(c, &args[0], c->uid_cmd, &seqs) < 0) {
		imap_fetch_free(&fetch);
		return;
	}
	if (fetch->vanished &&
	    fetch_send_vanished(c, &args[0], fetch->changedsince) < 0) {
		imap_seqset_release(&seqs);
		imap_fetch_free(&fetch);
		return;
	}

	strbuf_init(&line, FETCH_LINE_MAX);
	while (!c->disconnect && imap_seqset_next(&seqs, &it, &seq)) {
		struct fetch_msg m;

		if (seq == 0 || seq > c->view->count)
			continue;
		if (fetch->has_changedsince &&
		    c->view->msgs[seq - 1].modseq <= fetch->changedsince)
			continue;
		memset(&m, 0, sizeof(m));
		strbuf_reset(&line);
		r = fetch_prepare(c, fetch, seq, &m, &line);
		if (r == FETCH_OK) {
			client_send_raw(c, line.data, line.len);
			fetch_send_bodies(c, fetch, &m);
		} else if (r == FETCH_EXPUNGED) {
			/* as Dovecot: the message is left out */
			skipped = true;
			r = FETCH_OK;
		} else if (r == FETCH_ERROR) {
			log_error("%s: FETCH of %s uid %u failed", c->user,
				  c->view->name, c->view->msgs[seq - 1].uid);
		}
		fetch_msg_free(&m, fetch->body_count);
		if (r != FETCH_OK)
			break;
	}
	strbuf_release(&line);
	imap_seqset_release(&seqs);
	imap_fetch_free(&fetch);

	/* Dovecot 2.3's replies for BINARY that cannot be decoded */
	if (r == FETCH_UNKNOWN_CTE)
		client_send_tagged(c, "NO", "[UNKNOWN-CTE] Unknown "
				   "Content-Transfer-Encoding");
	else if (r == FETCH_BROKEN)
		client_send_tagged(c, "NO", "[PARSE] Invalid data in MIME "
				   "part");
	else if (r == FETCH_ERROR)
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
	else if (skipped)
		/* Dovecot 2.3's wording (cmd-fetch.c) */
		client_send_tagged(c, "OK", "[EXPUNGEISSUED] Some messages "
				   "were already expunged.");
	else
		client_send_tagged(c, "OK", "Fetch completed.");
}

const struct imap_command_def imap_cmds_fetch[] = {
	{ "FETCH", cmd_fetch,
	  IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ NULL, NULL, 0 },
};
