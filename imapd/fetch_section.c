/*
 * fetch_section - body sections for FETCH: see fetch_section.h. Message
 * files are untrusted: every offset comes from the bounded MIME parser
 * and is clamped to the mapped file; decoded output is bounded by the
 * part's size.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fetch_section.h"
#include "mail/mime_decode.h"
#include "mail/mime_parse.h"
#include "mail/rfc822_header.h"
#include "util/xmem.h"

/* ---- byte conversion ---- */

/* Bytes of [start, end) of data once bare LFs become CRLF. A LF counts as
   bare unless the byte before it in the file is CR. */
static uint64_t
fetch_vsize(const char *data, uint64_t start, uint64_t end)
{
	uint64_t n = end - start;

	for (uint64_t i = start; i < end; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			n++;
	}
	return n;
}

struct fetch_emit {
	struct imap_client *c;
	uint64_t skip, limit;
	char buf[FETCH_EMIT_CHUNK];
	size_t len;
};

static void
fetch_emit_flush(struct fetch_emit *e)
{
	if (e->len > 0) {
		client_send_raw(e->c, e->buf, e->len);
		e->len = 0;
		client_flush_if_big(e->c);
	}
}

static inline bool
fetch_emit_byte(struct fetch_emit *e, char ch)
{
	if (e->skip > 0) {
		e->skip--;
		return true;
	}
	if (e->limit == 0)
		return false;
	e->limit--;
	e->buf[e->len++] = ch;
	if (e->len == sizeof(e->buf))
		fetch_emit_flush(e);
	return true;
}

/* Sends data[start, end) converted (bare LF -> CRLF; NUL -> 0x80 unless
   keep_nul), leaving out the first skip bytes and sending at most limit. */
void
fetch_emit_range(struct imap_client *c, const char *data, uint64_t start,
		 uint64_t end, bool keep_nul, uint64_t skip, uint64_t limit)
{
	struct fetch_emit *e = xmalloc(sizeof(*e));

	e->c = c;
	e->skip = skip;
	e->limit = limit;
	e->len = 0;
	for (uint64_t i = start; i < end && !c->disconnect; i++) {
		char ch = data[i];

		if (ch == '\n' && (i == 0 || data[i - 1] != '\r')) {
			if (!fetch_emit_byte(e, '\r'))
				break;
		} else if (ch == '\0' && !keep_nul) {
			ch = (char)0x80;
		}
		if (!fetch_emit_byte(e, ch))
			break;
	}
	fetch_emit_flush(e);
	xfree(&e);
}

/* Appends data[0, len) to out converted as above. */
static int
fetch_append_converted(struct strbuf *out, const char *data, size_t len,
		       bool at_file_start)
{
	size_t from = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' &&
		    ((i == 0 && at_file_start) || (i > 0 && data[i - 1] != '\r'))) {
			if (strbuf_append(out, data + from, i - from) < 0 ||
			    strbuf_append(out, "\r\n", 2) < 0)
				return -1;
			from = i + 1;
		} else if (data[i] == '\0') {
			if (strbuf_append(out, data + from, i - from) < 0 ||
			    strbuf_append_char(out, (char)0x80) < 0)
				return -1;
			from = i + 1;
		}
	}
	return strbuf_append(out, data + from, len - from);
}

/* ---- header fields ---- */

static bool
fetch_field_wanted(const struct imap_fetch_body *b, const char *name,
		   size_t len)
{
	for (unsigned int i = 0; i < b->field_count; i++) {
		if (strlen(b->fields[i]) == len &&
		    strncasecmp(b->fields[i], name, len) == 0)
			return true;
	}
	return false;
}

/*
 * HEADER.FIELDS / HEADER.FIELDS.NOT: the fields of the header block hdr
 * (up to its empty line) whose names are (not) in the list, in their
 * order, each with its continuation lines, then the empty line. A line
 * without a colon is a field whose name never matches, as in Dovecot.
 */
int
fetch_header_fields(const struct imap_fetch_body *b, const char *hdr,
		    size_t len, struct strbuf *out)
{
	bool not = b->section == IMAP_SECTION_HEADER_FIELDS_NOT;
	size_t pos = 0;

	while (pos < len) {
		size_t start = pos, end, name_len;
		const char *colon;

		if (hdr[pos] == '\n' ||
		    (hdr[pos] == '\r' && pos + 1 < len && hdr[pos + 1] == '\n'))
			break; /* the empty line */
		/* the field: this line and its continuation lines */
		end = pos;
		for (;;) {
			const char *nl = memchr(hdr + end, '\n', len - end);

			end = nl == NULL ? len : (size_t)(nl - hdr) + 1;
			if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		pos = end;
		colon = memchr(hdr + start, ':', end - start);
		name_len = colon == NULL ? end - start
					 : (size_t)(colon - (hdr + start));
		while (name_len > 0 && (hdr[start + name_len - 1] == ' ' ||
					hdr[start + name_len - 1] == '\t'))
			name_len--;
		if ((colon != NULL && fetch_field_wanted(b, hdr + start,
							 name_len)) == not)
			continue;
		if (fetch_append_converted(out, hdr + start, end - start,
					   false) < 0)
			return -1;
		if (hdr[end - 1] != '\n' && strbuf_append(out, "\r\n", 2) < 0)
			return -1;
	}
	return strbuf_append(out, "\r\n", 2);
}

/* The Content-Transfer-Encoding of a part, from its header block. */
static enum mime_encoding
fetch_part_encoding(const char *hdr, size_t len)
{
	struct rfc822_header h;
	const struct rfc822_field *f;
	enum mime_encoding enc = MIME_ENCODING_7BIT;

	rfc822_header_parse(hdr, len, 1000, &h);
	f = rfc822_header_find(&h, "Content-Transfer-Encoding", false);
	if (f != NULL) {
		struct rfc822_lex lx;
		struct strbuf tok;

		strbuf_init(&tok, 256);
		rfc822_lex_init(&lx, f->value, f->value_len, NULL);
		if (rfc822_lex_skip_lwsp(&lx) >= 0 &&
		    rfc822_lex_mime_token(&lx, &tok) >= 0 && tok.len > 0)
			enc = mime_encoding_from_name(strbuf_cstr(&tok));
		else
			enc = MIME_ENCODING_UNKNOWN;
		strbuf_release(&tok);
	}
	rfc822_header_free(&h);
	return enc;
}

/* ---- preparing one message ---- */

static int
fetch_need_root(struct fetch_msg *m)
{
	if (m->root == NULL)
		m->root = mime_parse_message(m->file.data, m->file.size, NULL);
	return m->root == NULL ? -1 : 0;
}

static void
fetch_src_range(struct fetch_msg *m, struct fetch_src *s, uint64_t start,
		uint64_t len)
{
	if (start > m->file.size)
		start = m->file.size;
	if (len > m->file.size - start)
		len = m->file.size - start;
	s->start = start;
	s->end = start + len;
	s->vsize = fetch_vsize(m->file.data, s->start, s->end);
}

/* The part a section's numbers name (none: the root), or NULL. As
   Dovecot (imap-msgpart.c): the children of a multipart are 1..n; a
   non-multipart part has only a part 1, itself, and it must be the last
   number unless the part is a message/rfc822, whose next number counts
   in the encapsulated message. So "1" of a single-part message is its
   body, "2.1" of a text part of a multipart is that part, and "1.1" of a
   single-part message names nothing. */
static const struct mime_part *
fetch_find_part(const struct mime_part *root, const struct imap_fetch_body *b)
{
	const struct mime_part *p = root;

	for (unsigned int i = 0; i < b->part_count && p != NULL; i++) {
		uint32_t n = b->parts[i];
		bool more = i + 1 < b->part_count;

		if ((p->flags & MIME_PART_FLAG_MULTIPART) != 0) {
			for (p = p->children; p != NULL && n > 1; n--)
				p = p->next;
		} else if (n != 1 ||
			   (more && (p->flags & MIME_PART_FLAG_MESSAGE) == 0)) {
			p = NULL;
		}
		if (p != NULL && more &&
		    (p->flags & MIME_PART_FLAG_MESSAGE) != 0)
			p = p->children;
	}
	return p;
}

/* Decodes data[start, start + len) (seen with CRLF line ends, which
   matters for quoted-printable) into out. */
static enum fetch_result
fetch_decode(const char *data, uint64_t start, uint64_t len,
	     enum mime_encoding enc, struct strbuf *out)
{
	struct mime_decoder dec;
	struct strbuf crlf;
	enum fetch_result r = FETCH_OK;

	strbuf_init(&crlf, STRBUF_UNLIMITED);
	mime_decoder_init(&dec, enc);
	for (uint64_t off = 0; off < len && r == FETCH_OK;) {
		size_t n = len - off > FETCH_EMIT_CHUNK ? FETCH_EMIT_CHUNK
							: (size_t)(len - off);

		strbuf_reset(&crlf);
		if (fetch_append_converted(&crlf, data + start + off, n,
					   start + off == 0) < 0 ||
		    mime_decoder_feed(&dec, crlf.data, crlf.len, out) < 0)
			r = FETCH_ERROR;
		off += n;
	}
	if (r == FETCH_OK && mime_decoder_finish(&dec, out) < 0)
		r = FETCH_ERROR;
	if (r == FETCH_OK && dec.broken)
		r = FETCH_BROKEN;
	strbuf_release(&crlf);
	return r;
}

/* An empty result: a section that names nothing is sent as "" (as
   Dovecot does), never NIL. */
static void
fetch_src_empty(struct fetch_src *s)
{
	s->is_buf = true;
	strbuf_init(&s->buf, 0);
	s->vsize = 0;
}

/* The header block hdr with its Content-Transfer-Encoding fields
   replaced by "binary", converted (BINARY[] of a single-part message, as
   Dovecot rewrites it). */
static int
fetch_header_binary(const char *hdr, size_t len, struct strbuf *out)
{
	static const char cte[] = "Content-Transfer-Encoding:";
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(hdr + pos, '\n', len - pos);
		size_t end = nl == NULL ? len : (size_t)(nl - hdr) + 1;

		if (end - pos >= sizeof(cte) - 1 &&
		    strncasecmp(hdr + pos, cte, sizeof(cte) - 1) == 0) {
			if (strbuf_append_str(out, "Content-Transfer-Encoding:"
						   " binary\r\n") < 0)
				return -1;
			/* and its continuation lines */
			while (end < len &&
			       (hdr[end] == ' ' || hdr[end] == '\t')) {
				nl = memchr(hdr + end, '\n', len - end);
				end = nl == NULL ? len : (size_t)(nl - hdr) + 1;
			}
		} else if (fetch_append_converted(out, hdr + pos, end - pos,
						  pos == 0) < 0) {
			return -1;
		}
		pos = end;
	}
	return 0;
}

/* BINARY[part] (RFC 3516): the part's body decoded from its
   Content-Transfer-Encoding. Like Dovecot, decoded content goes out as a
   literal8, content that needed no decoding as a normal literal. */
static enum fetch_result
fetch_binary(struct fetch_msg *m, const struct imap_fetch_body *b,
	     struct fetch_src *s)
{
	const struct mime_part *p;
	enum mime_encoding enc;
	enum fetch_result r;

	if (fetch_need_root(m) < 0)
		return FETCH_ERROR;
	p = fetch_find_part(m->root, b);
	if (p == NULL) {
		fetch_src_empty(s);
		return FETCH_OK;
	}
	if ((p->flags & (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_MESSAGE)) !=
	    0)
		enc = MIME_ENCODING_7BIT;
	else
		enc = fetch_part_encoding(m->file.data + p->header_offset,
					  p->header.physical);
	if (enc == MIME_ENCODING_UNKNOWN)
		return FETCH_UNKNOWN_CTE;
	if (enc == MIME_ENCODING_7BIT) {
		if (b->part_count == 0)
			fetch_src_range(m, s, 0, m->file.size);
		else
			fetch_src_range(m, s, p->body_offset,
					p->body.physical);
		return FETCH_OK;
	}
	s->is_buf = true;
	s->keep_nul = true;
	strbuf_init(&s->buf, 2 * (p->header.physical + p->body.physical) + 64);
	if (b->part_count == 0 &&
	    fetch_header_binary(m->file.data + p->header_offset,
				p->header.physical, &s->buf) < 0)
		return FETCH_ERROR;
	r = fetch_decode(m->file.data, p->body_offset, p->body.physical, enc,
			 &s->buf);
	s->vsize = s->buf.len;
	return r;
}

/* Resolves one body item of a message whose file is open. */
enum fetch_result
fetch_body_src(struct fetch_msg *m, const struct imap_fetch_body *b,
	       struct fetch_src *s)
{
	const struct mime_part *p = NULL;
	enum imap_fetch_section section = b->section;

	if (b->kind == IMAP_BODY_BINARY || b->kind == IMAP_BODY_BINARY_SIZE)
		return fetch_binary(m, b, s);
	if (b->kind == IMAP_BODY_RFC822) {
		fetch_src_range(m, s, 0, m->file.size);
		return FETCH_OK;
	}
	if (b->kind == IMAP_BODY_RFC822_HEADER)
		section = IMAP_SECTION_HEADER;
	else if (b->kind == IMAP_BODY_RFC822_TEXT)
		section = IMAP_SECTION_TEXT;
	if (b->kind == IMAP_BODY_SECTION && b->part_count == 0 &&
	    section == IMAP_SECTION_ALL) {
		fetch_src_range(m, s, 0, m->file.size);
		return FETCH_OK;
	}
	if (fetch_need_root(m) < 0)
		return FETCH_ERROR;
	if (b->kind != IMAP_BODY_SECTION || b->part_count == 0) {
		p = m->root;
	} else {
		p = fetch_find_part(m->root, b);
		if (p == NULL) {
			fetch_src_empty(s);
			return FETCH_OK;
		}
		if (section == IMAP_SECTION_ALL) {
			fetch_src_range(m, s, p->body_offset,
					p->body.physical);
			return FETCH_OK;
		}
		if (section == IMAP_SECTION_MIME) {
			fetch_src_range(m, s, p->header_offset,
					p->header.physical);
			return FETCH_OK;
		}
		/* HEADER, TEXT: of the message this message/rfc822 part
		   holds; other parts have none (Dovecot sends "") */
		if ((p->flags & MIME_PART_FLAG_MESSAGE) == 0 ||
		    p->children == NULL) {
			fetch_src_empty(s);
			return FETCH_OK;
		}
		p = p->children;
	}
	switch (section) {
	case IMAP_SECTION_HEADER:
	case IMAP_SECTION_MIME:
		fetch_src_range(m, s, p->header_offset, p->header.physical);
		break;
	case IMAP_SECTION_TEXT:
	case IMAP_SECTION_ALL:
		fetch_src_range(m, s, p->body_offset, p->body.physical);
		break;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		s->is_buf = true;
		strbuf_init(&s->buf, 2 * p->header.physical + 16);
		if (fetch_header_fields(b, m->file.data + p->header_offset,
					p->header.physical, &s->buf) < 0)
			return FETCH_ERROR;
		s->vsize = s->buf.len;
		break;
	}
	return FETCH_OK;
}

/* True when the item is HEADER.FIELDS(.NOT) of the whole message, which
   the cached header block answers without the file. */
bool
fetch_body_from_cache(const struct imap_fetch_body *b)
{
	return b->kind == IMAP_BODY_SECTION && b->part_count == 0 &&
	       (b->section == IMAP_SECTION_HEADER_FIELDS ||
		b->section == IMAP_SECTION_HEADER_FIELDS_NOT);
}
