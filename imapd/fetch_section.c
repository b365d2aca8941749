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

/* Appends data[0, len) to out converted as above; lf0_bare: a LF at
   data[0] counts as bare (the byte before it is not a CR). */
static int
fetch_append_converted(struct strbuf *out, const char *data, size_t len,
		       bool lf0_bare)
{
	size_t from = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' &&
		    ((i == 0 && lf0_bare) || (i > 0 && data[i - 1] != '\r'))) {
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
		    size_t len, bool always_eoh, struct strbuf *out)
{
	bool not = b->section == IMAP_SECTION_HEADER_FIELDS_NOT;
	bool eoh = always_eoh;
	size_t pos = 0;

	while (pos < len) {
		size_t start = pos, end, name_len;
		const char *colon;

		if (hdr[pos] == '\n' || (hdr[pos] == '\r' && pos + 1 < len &&
					 hdr[pos + 1] == '\n')) {
			eoh = true; /* the empty line */
			break;
		}
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
		if ((colon != NULL &&
		     fetch_field_wanted(b, hdr + start, name_len)) == not )
			continue;
		if (fetch_append_converted(out, hdr + start, end - start,
					   false) < 0)
			return -1;
		/* a last line without its line end keeps it missing,
		   unless the empty line follows (Dovecot) */
		if (hdr[end - 1] != '\n' && always_eoh &&
		    strbuf_append(out, "\r\n", 2) < 0)
			return -1;
	}
	return eoh ? strbuf_append(out, "\r\n", 2) : 0;
}

/* The Content-Transfer-Encoding of a part, from its header block. */
static enum mime_encoding
fetch_part_encoding(const char *hdr, size_t len)
{
	struct rfc822_header h;
	const struct rfc822_field *f;
	enum mime_encoding enc = MIME_ENCODING_7BIT;

	rfc822_header_parse(hdr, len, 1000, &h);
	f = rfc822_header_find(&h, "Content-Transfer-Encoding", true);
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
					   start + off == 0 ||
					       data[start + off - 1] != '\r') <
			0 ||
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

/* ---- BINARY (RFC 3516) ---- */

/* Building BINARY[part] as Dovecot does (index-mail-binary.c): the part
   with every leaf body decoded from its Content-Transfer-Encoding, the
   headers of decoded parts with their Content-Transfer-Encoding fields
   replaced by "Content-Transfer-Encoding: binary" before the empty line,
   everything else copied with bare LF as CRLF. */
struct fetch_bin {
	const struct fetch_msg *m;
	struct strbuf *out;
	uint64_t copy_from; /* file offset of the bytes not copied yet */
	bool converted;	    /* something was decoded */
	bool has_nuls;	    /* NULs that are sent as they are */
	bool unknown;	    /* an unknown Content-Transfer-Encoding */
	bool broken;	    /* undecodable content */
	bool nomem;
	/* BINARY.SIZE as Dovecot computes it (index_mail_get_binary_size):
	   the part's size, each part in it that was converted counting its
	   converted header (or the original) plus its decoded body (or 0, for
	   a container whose header was rewritten: a Dovecot quirk kept so the
	   sizes agree) instead of its own */
	const struct mime_part *size_root;
	int64_t size_delta;
	uint64_t root_bin_hdr;
};

/* Appends data[start, end) of the file with bare LF as CRLF, NUL kept. */
static void
fetch_bin_append(struct fetch_bin *bc, uint64_t start, uint64_t end)
{
	const char *d = bc->m->file.data;
	uint64_t from = start;

	for (uint64_t i = start; i < end; i++) {
		if (d[i] != '\n' || (i > 0 && d[i - 1] == '\r'))
			continue;
		if (strbuf_append(bc->out, d + from, (size_t)(i - from)) < 0 ||
		    strbuf_append(bc->out, "\r\n", 2) < 0)
			bc->nomem = true;
		from = i + 1;
	}
	if (strbuf_append(bc->out, d + from, (size_t)(end - from)) < 0)
		bc->nomem = true;
}

static void
fetch_bin_copy_to(struct fetch_bin *bc, uint64_t end)
{
	if (end > bc->copy_from)
		fetch_bin_append(bc, bc->copy_from, end);
	if (end > bc->copy_from)
		bc->copy_from = end;
}

/* The header [start, start + len) without its Content-Transfer-Encoding
   fields, "Content-Transfer-Encoding: binary" added before the empty line
   (at the end when there is none). */
static void
fetch_bin_header(struct fetch_bin *bc, uint64_t start, uint64_t len)
{
	static const char cte[] = "Content-Transfer-Encoding:";
	static const char binary[] = "Content-Transfer-Encoding: binary\r\n";
	const char *hdr = bc->m->file.data + start;
	size_t pos = 0;
	bool added = false;

	while (pos < len) {
		const char *nl = memchr(hdr + pos, '\n', len - pos);
		size_t end = nl == NULL ? len : (size_t)(nl - hdr) + 1;

		if (hdr[pos] == '\n' || (hdr[pos] == '\r' && end == pos + 2)) {
			/* the empty line */
			if (strbuf_append_str(bc->out, binary) < 0)
				bc->nomem = true;
			added = true;
			fetch_bin_append(bc, start + pos, start + len);
			return;
		}
		while (end < len && (hdr[end] == ' ' || hdr[end] == '\t')) {
			nl = memchr(hdr + end, '\n', len - end);
			end = nl == NULL ? len : (size_t)(nl - hdr) + 1;
		}
		/* field name, optional white space, colon */
		size_t n = 0;
		while (pos + n < end && hdr[pos + n] != ':' &&
		       hdr[pos + n] != ' ' && hdr[pos + n] != '\t')
			n++;
		bool is_cte =
		    n == sizeof(cte) - 2 && strncasecmp(hdr + pos, cte, n) == 0;
		if (is_cte) {
			size_t k = pos + n;

			while (k < end && (hdr[k] == ' ' || hdr[k] == '\t'))
				k++;
			is_cte = k < end && hdr[k] == ':';
		}
		if (!is_cte)
			fetch_bin_append(bc, start + pos, start + end);
		pos = end;
	}
	if (!added) {
		if (len > 0 && hdr[len - 1] != '\n' &&
		    strbuf_append(bc->out, "\r\n", 2) < 0)
			bc->nomem = true;
		if (strbuf_append_str(bc->out, binary) < 0)
			bc->nomem = true;
	}
}

static bool
fetch_has_nul(const struct fetch_msg *m, uint64_t start, uint64_t len)
{
	return len > 0 && memchr(m->file.data + start, '\0', len) != NULL;
}

/* Appends part p (its header too when include_hdr) converted. Stops at an
   unknown Content-Transfer-Encoding (bc->unknown). */
static uint64_t
fetch_part_vsize(const struct fetch_msg *m, uint64_t start, uint64_t len)
{
	if (start > m->file.size)
		start = m->file.size;
	if (len > m->file.size - start)
		len = m->file.size - start;
	return fetch_vsize(m->file.data, start, start + len);
}

static void
fetch_bin_part(struct fetch_bin *bc, const struct mime_part *p,
	       bool include_hdr, bool inside)
{
	const struct fetch_msg *m = bc->m;
	uint64_t hlen = p->header.physical;
	uint64_t hdr_end = p->header_offset + hlen;
	uint64_t part_end =
	    p->body.physical == 0 ? hdr_end : p->body_offset + p->body.physical;
	enum mime_encoding enc;
	bool rewritten = false, decoded = false;
	size_t hdr_out = 0, body_out = 0, mark;

	inside = inside || p == bc->size_root;
	enc =
	    fetch_part_encoding(m->file.data + p->header_offset, (size_t)hlen);
	if (fetch_has_nul(m, p->header_offset, hlen))
		bc->has_nuls = true;
	if (enc == MIME_ENCODING_UNKNOWN) {
		bc->unknown = true;
		return;
	}
	if (!include_hdr) {
		/* body only */
	} else if (enc == MIME_ENCODING_BASE64 || enc == MIME_ENCODING_QP) {
		fetch_bin_copy_to(bc, p->header_offset);
		mark = bc->out->len;
		fetch_bin_header(bc, p->header_offset, hlen);
		hdr_out = bc->out->len - mark;
		rewritten = true;
	} else {
		fetch_bin_copy_to(bc, hdr_end);
	}
	bc->copy_from = hdr_end;
	if (p->children != NULL) {
		for (const struct mime_part *ch = p->children;
		     ch != NULL && !bc->unknown; ch = ch->next)
			fetch_bin_part(bc, ch, true, inside);
		if (!bc->unknown)
			fetch_bin_copy_to(bc, part_end);
	} else if (p->body.physical == 0) {
		bc->copy_from = part_end;
	} else if (enc == MIME_ENCODING_BASE64 || enc == MIME_ENCODING_QP) {
		enum fetch_result r;

		mark = bc->out->len;
		r = fetch_decode(m->file.data, p->body_offset, p->body.physical,
				 enc, bc->out);
		body_out = bc->out->len - mark;
		decoded = true;
		bc->converted = true;
		if (r == FETCH_BROKEN)
			bc->broken = true;
		else if (r != FETCH_OK)
			bc->nomem = true;
		bc->copy_from = part_end;
	} else {
		if (fetch_has_nul(m, p->body_offset, p->body.physical))
			bc->has_nuls = true;
		fetch_bin_append(bc, p->body_offset, part_end);
		bc->copy_from = part_end;
	}
	if (inside) {
		uint64_t hdr_v = fetch_part_vsize(m, p->header_offset, hlen);
		uint64_t bin_hdr = rewritten ? hdr_out : hdr_v;

		if (rewritten || decoded)
			bc->size_delta +=
			    (int64_t)bin_hdr - (int64_t)hdr_v +
			    (int64_t)body_out -
			    (int64_t)fetch_part_vsize(m, p->body_offset,
						      p->body.physical);
		if (p == bc->size_root)
			bc->root_bin_hdr = bin_hdr;
	}
}

/* Converts part p into out; sets *literal8 when the result is sent as
   binary (something decoded, or NULs), else NULs became 0x80. */
static enum fetch_result
fetch_bin_build(struct fetch_bin *bc, const struct mime_part *p,
		bool include_hdr)
{
	bc->copy_from = include_hdr
			    ? p->header_offset
			    : p->header_offset + p->header.physical;
	fetch_bin_part(bc, p, include_hdr, false);
	if (bc->unknown)
		return FETCH_UNKNOWN_CTE;
	if (bc->nomem)
		return FETCH_ERROR;
	if (bc->broken)
		return FETCH_BROKEN;
	return FETCH_OK;
}

/* BINARY[part] and BINARY.SIZE[part] (RFC 3516). Like Dovecot, decoded
   content goes out as a literal8, content that needed no decoding as a
   normal literal; BINARY.SIZE converts the whole message first (so it
   fails when any part cannot be converted, as Dovecot's does). */
static enum fetch_result
fetch_binary(struct fetch_msg *m, const struct imap_fetch_body *b,
	     struct fetch_src *s)
{
	const struct mime_part *p;
	struct fetch_bin bc = {0};
	bool include_hdr = b->part_count == 0;
	enum mime_encoding enc;
	enum fetch_result r;

	if (fetch_need_root(m) < 0)
		return FETCH_ERROR;
	p = b->part_count == 0 ? m->root : fetch_find_part(m->root, b);
	if (p == NULL) {
		fetch_src_empty(s);
		return FETCH_OK;
	}
	if (b->kind == IMAP_BODY_BINARY_SIZE) {
		struct strbuf all;
		struct fetch_bin whole = {.m = m, .out = &all, .size_root = p};
		int64_t size;

		strbuf_init(&all, STRBUF_UNLIMITED);
		r = fetch_bin_build(&whole, m->root, true);
		strbuf_release(&all);
		if (r != FETCH_OK)
			return r;
		size = (int64_t)(fetch_part_vsize(m, p->header_offset,
						  p->header.physical) +
				 fetch_part_vsize(m, p->body_offset,
						  p->body.physical)) +
		       whole.size_delta;
		if (!include_hdr)
			size -= (int64_t)whole.root_bin_hdr;
		fetch_src_empty(s);
		s->vsize = size < 0 ? 0 : (uint64_t)size;
		return FETCH_OK;
	}
	enc = fetch_part_encoding(m->file.data + p->header_offset,
				  (size_t)p->header.physical);
	if (p->children == NULL && enc != MIME_ENCODING_UNKNOWN &&
	    enc != MIME_ENCODING_BASE64 && enc != MIME_ENCODING_QP) {
		/* nothing to decode: a range of the file */
		uint64_t hlen = p->header.physical;
		uint64_t start =
		    include_hdr ? p->header_offset : p->body_offset;
		uint64_t end = p->body.physical == 0
				   ? p->header_offset + hlen
				   : p->body_offset + p->body.physical;

		if (start > end)
			start = end;
		fetch_src_range(m, s, start, end - start);
		s->keep_nul = fetch_has_nul(m, p->header_offset, hlen) ||
			      fetch_has_nul(m, s->start, s->end - s->start);
		return FETCH_OK;
	}
	s->is_buf = true;
	strbuf_init(&s->buf, STRBUF_UNLIMITED);
	bc.m = m;
	bc.out = &s->buf;
	r = fetch_bin_build(&bc, p, include_hdr);
	if (r != FETCH_OK)
		return r;
	if (!bc.converted) {
		/* As Dovecot (index_mail_get_binary_stream): when no body was
		   decoded, the original bytes are sent, as many as the
		   converted stream has (a rewritten header line only changes
		   the count). */
		uint64_t conv_len = s->buf.len;
		uint64_t start =
		    include_hdr ? p->header_offset
				: p->header_offset + p->header.physical;

		strbuf_release(&s->buf);
		s->is_buf = false;
		fetch_src_range(m, s, start, m->file.size - start);
		if (s->vsize > conv_len)
			s->vsize = conv_len;
		s->keep_nul = bc.has_nuls;
		return FETCH_OK;
	}
	s->keep_nul = true; /* decoded: a literal8 */
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
			fetch_src_range(m, s, p->body_offset, p->body.physical);
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
		/* Dovecot: HEADER.FIELDS of the message comes from its
		   cache, with the empty line always; the rest through a
		   header filter that keeps the empty line only if any */
		if (fetch_header_fields(
			b, m->file.data + p->header_offset,
			(size_t)p->header.physical,
			p == m->root && section == IMAP_SECTION_HEADER_FIELDS,
			&s->buf) < 0)
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
