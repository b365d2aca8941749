/*
 * mime_8to7 - 8-bit to quoted-printable MIME conversion, one line piece at
 * a time (see mime_8to7.h for the rules, which are Postfix's). The input is
 * untrusted: every buffer is bounded, boundaries are bounded in length and
 * number, and no content is dropped whatever the structure. Pure: no I/O,
 * no logging, no globals.
 */
#include "mail/mime_8to7.h"

#include <string.h>
#include <strings.h>

#include "mail/rfc822_header.h"
#include "util/strbuf.h"
#include "util/xmem.h"

enum ctype { CT_TEXT, CT_MESSAGE, CT_MULTIPART, CT_OTHER };
enum stype { SUB_PLAIN, SUB_RFC822, SUB_GLOBAL, SUB_DIGEST, SUB_OTHER };
/* Encodings and domains share codes, as in Postfix: base64 and
   quoted-printable are in the 7bit domain. */
enum enc { ENC_7BIT, ENC_8BIT, ENC_BINARY, ENC_QP, ENC_BASE64 };

enum state {
	ST_PRIMARY,   /* the message's header */
	ST_MULTIPART, /* a header after a boundary line */
	ST_NESTED,    /* the header of an encapsulated message */
	ST_BODY,
};

struct boundary {
	struct boundary *next; /* the enclosing multipart's */
	enum ctype def_ctype;  /* of a part without Content-Type */
	enum stype def_stype;
	size_t len;
	char str[];
};

struct mime_8to7 {
	mime_8to7_output *out;
	void *ctx;
	unsigned int flags;
	bool failed;
	bool out_bol; /* the output so far ends at a line start */

	/* Line assembly: a piece of the current line, which started in an
	   earlier piece when line_cont is set. */
	char line[MIME_8TO7_LINE_PIECE];
	size_t line_len;
	bool line_cont;
	bool crlf; /* the last line break seen was CRLF */

	/* The current entity. */
	enum state state;
	enum ctype ctype;
	enum stype stype;
	enum enc domain;
	bool qp; /* its body is being encoded */
	struct boundary *stack;
	unsigned int depth;

	/* The header field being collected (raw, line breaks included). */
	struct strbuf field;
	bool in_field;	     /* a field is open */
	bool field_line;     /* the current line belongs to it */
	bool field_overflow; /* too long: passed on unread */

	/* The quoted-printable line being built. */
	char qp_buf[80];
	size_t qp_len;
};

static void
emit(struct mime_8to7 *m, const char *data, size_t len)
{
	if (m->failed || len == 0)
		return;
	if (m->out(m->ctx, data, len) < 0)
		m->failed = true;
	m->out_bol = data[len - 1] == '\n';
}

/* Output that is the input itself: only notes 8-bit octets. */
static void
emit_raw(struct mime_8to7 *m, const char *data, size_t len)
{
	for (size_t i = 0; i < len && (m->flags & MIME_8TO7_8BIT_LEFT) == 0;
	     i++)
		if ((unsigned char)data[i] >= 0x80)
			m->flags |= MIME_8TO7_8BIT_LEFT;
	emit(m, data, len);
}

static const char *
eol_str(const struct mime_8to7 *m)
{
	return m->crlf ? "\r\n" : "\n";
}

/* ---- quoted-printable ---- */

static void
qp_flush(struct mime_8to7 *m, const char *eol)
{
	emit(m, m->qp_buf, m->qp_len);
	emit(m, eol, strlen(eol));
	m->qp_len = 0;
}

static void
qp_put_hex(struct mime_8to7 *m, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";

	m->qp_buf[m->qp_len++] = '=';
	m->qp_buf[m->qp_len++] = hex[c >> 4];
	m->qp_buf[m->qp_len++] = hex[c & 0xf];
}

static void
qp_put(struct mime_8to7 *m, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		/* At most 72 + 3 characters, then "=": never over 76. */
		if (m->qp_len > 72) {
			m->qp_buf[m->qp_len++] = '=';
			qp_flush(m, eol_str(m));
		}
		if ((c < 32 && c != '\t') || c == '=' || c > 126)
			qp_put_hex(m, c);
		else
			m->qp_buf[m->qp_len++] = (char)c;
	}
}

/* A hard line break (eol NULL: the end of the message, where the transport
   adds one). Trailing white space would be lost in transit (RFC 2045
   6.7 (3)); a literal one was added at qp_len <= 72, so this stays <= 75. */
static void
qp_hard_break(struct mime_8to7 *m, const char *eol)
{
	if (m->qp_len > 0 && (m->qp_buf[m->qp_len - 1] == ' ' ||
			      m->qp_buf[m->qp_len - 1] == '\t')) {
		unsigned char c = (unsigned char)m->qp_buf[--m->qp_len];

		qp_put_hex(m, c);
	}
	qp_flush(m, eol != NULL ? eol : "");
}

/* ---- structure ---- */

static void
set_entity(struct mime_8to7 *m, enum state state, enum ctype ctype,
	   enum stype stype)
{
	m->state = state;
	m->ctype = ctype;
	m->stype = stype;
	m->domain = ENC_7BIT;
	m->qp = false;
}

static void
pop_boundary(struct mime_8to7 *m)
{
	struct boundary *b = m->stack;

	m->stack = b->next;
	m->depth--;
	xfree(&b);
}

static void
push_boundary(struct mime_8to7 *m, const char *str, enum ctype def_ctype,
	      enum stype def_stype)
{
	size_t len = strnlen(str, MIME_8TO7_BOUNDARY_MAX);
	struct boundary *b;

	if (m->depth >= MIME_8TO7_MAX_DEPTH) {
		m->flags |= MIME_8TO7_ERR_NESTING;
		m->failed = true;
		return;
	}
	b = xmalloc(sizeof(*b) + len + 1);
	memcpy(b->str, str, len);
	b->str[len] = '\0';
	b->len = len;
	b->def_ctype = def_ctype;
	b->def_stype = def_stype;
	b->next = m->stack;
	m->stack = b;
	m->depth++;
}

static void
parse_content_type(struct mime_8to7 *m, const char *v, size_t len)
{
	struct strbuf type, subtype;
	struct rfc822_lex lx;
	struct rfc822_params params;
	const char *b;

	strbuf_init(&type, len + 1);
	strbuf_init(&subtype, len + 1);
	rfc822_lex_init(&lx, v, len, NULL);
	(void)rfc822_lex_content_type(&lx, &type, &subtype);
	if (type.len == 0)
		goto out; /* Postfix keeps the previous type too */
	if (strcasecmp(strbuf_cstr(&type), "text") == 0) {
		m->ctype = CT_TEXT;
		m->stype = strcasecmp(strbuf_cstr(&subtype), "plain") == 0
			       ? SUB_PLAIN
			       : SUB_OTHER;
	} else if (strcasecmp(strbuf_cstr(&type), "message") == 0) {
		m->ctype = CT_MESSAGE;
		m->stype = strcasecmp(strbuf_cstr(&subtype), "rfc822") == 0
			       ? SUB_RFC822
			   : strcasecmp(strbuf_cstr(&subtype), "global") == 0
			       ? SUB_GLOBAL
			       : SUB_OTHER;
	} else if (strcasecmp(strbuf_cstr(&type), "multipart") == 0) {
		bool digest = strcasecmp(strbuf_cstr(&subtype), "digest") == 0;

		m->ctype = CT_MULTIPART;
		m->stype = digest ? SUB_DIGEST : SUB_OTHER;
		/* As Postfix: the boundary counts even when the type is
		   broken ("multipart; boundary=x"). */
		rfc822_params_parse(&lx, &params);
		if ((b = rfc822_params_get(&params, "boundary")) != NULL &&
		    *b != '\0')
			push_boundary(m, b, digest ? CT_MESSAGE : CT_TEXT,
				      digest ? SUB_RFC822 : SUB_PLAIN);
		rfc822_params_free(&params);
	} else {
		m->ctype = CT_OTHER;
		m->stype = SUB_OTHER;
	}
out:
	strbuf_release(&type);
	strbuf_release(&subtype);
}

/* Returns the domain a Content-Transfer-Encoding value names; an unknown
   value changes nothing, as in Postfix. */
static void
parse_cte(struct mime_8to7 *m, const char *v, size_t len)
{
	static const struct {
		const char *name;
		enum enc domain;
	} map[] = {
	    {"7bit", ENC_7BIT},
	    {"8bit", ENC_8BIT},
	    {"binary", ENC_BINARY},
	    {"base64", ENC_7BIT},
	    {"quoted-printable", ENC_7BIT},
	};
	struct strbuf tok;
	struct rfc822_lex lx;

	strbuf_init(&tok, len + 1);
	rfc822_lex_init(&lx, v, len, NULL);
	if (rfc822_lex_skip_lwsp(&lx) > 0 &&
	    rfc822_lex_mime_token(&lx, &tok) >= 0) {
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcasecmp(strbuf_cstr(&tok), map[i].name) == 0) {
				m->domain = map[i].domain;
				break;
			}
	}
	strbuf_release(&tok);
}

/* A header field name (printable ASCII but ':'), blanks, ':'. Returns the
   offset of the value after the colon, or 0 if data is no field. */
static size_t
header_name_len(const char *data, size_t len, size_t *name_len_r)
{
	size_t i = 0, name_len;

	while (i < len && (unsigned char)data[i] > 32 &&
	       (unsigned char)data[i] < 127 && data[i] != ':')
		i++;
	if (i == 0)
		return 0;
	name_len = i;
	while (i < len && (data[i] == ' ' || data[i] == '\t'))
		i++;
	if (i >= len || data[i] != ':')
		return 0;
	*name_len_r = name_len;
	return i + 1;
}

static bool
name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* The open field is complete: interpret it, then pass it on unless it is
   a Content-Transfer-Encoding being replaced. */
static void
field_done(struct mime_8to7 *m)
{
	const char *f = m->field.data;
	size_t len = m->field.len, name_len = 0, v;
	bool drop = false;

	m->in_field = m->field_line = false;
	if (m->field_overflow) {
		m->field_overflow = false;
		return;
	}
	if (len > 0 && (v = header_name_len(f, len, &name_len)) > 0) {
		if (name_is(f, name_len, "Content-Type")) {
			parse_content_type(m, f + v, len - v);
		} else if (name_is(f, name_len, "Content-Transfer-Encoding")) {
			parse_cte(m, f + v, len - v);
			drop = m->domain != ENC_7BIT;
		}
	}
	if (drop)
		m->flags |= MIME_8TO7_CHANGED;
	else
		emit_raw(m, f, len);
	strbuf_reset(&m->field);
}

static void
field_append(struct mime_8to7 *m, const char *data, size_t len)
{
	if (!m->field_overflow && strbuf_append(&m->field, data, len) < 0) {
		/* Too long to be a field worth reading: pass it on. */
		emit_raw(m, m->field.data, m->field.len);
		strbuf_reset(&m->field);
		m->field_overflow = true;
	}
	if (m->field_overflow)
		emit_raw(m, data, len);
}

/* The entity's header ends (at an empty line, at a line that is no field,
   or at the end of the message): write the new encoding field. */
static void
header_end(struct mime_8to7 *m)
{
	const char *label;

	if (m->domain == ENC_7BIT)
		return;
	if ((m->ctype == CT_MESSAGE && m->stype != SUB_GLOBAL) ||
	    m->ctype == CT_MULTIPART) {
		label = "7bit";
	} else {
		label = "quoted-printable";
		m->qp = true;
	}
	emit(m, "Content-Transfer-Encoding: ",
	     strlen("Content-Transfer-Encoding: "));
	emit(m, label, strlen(label));
	emit(m, eol_str(m), strlen(eol_str(m)));
	m->flags |= MIME_8TO7_CONVERTED | MIME_8TO7_CHANGED;
}

/* The empty line that ends a header: what comes next. */
static void
header_to_body(struct mime_8to7 *m)
{
	if (m->ctype == CT_MESSAGE &&
	    (m->stype == SUB_RFC822 ||
	     (m->stype == SUB_GLOBAL && m->domain == ENC_7BIT)))
		set_entity(m, ST_NESTED, CT_TEXT, SUB_PLAIN);
	else if (m->ctype == CT_MULTIPART)
		set_entity(m, ST_BODY, CT_OTHER, SUB_OTHER); /* preamble */
	else
		m->state = ST_BODY;
}

/* A body line piece: boundaries, then the text itself. */
static void
body_piece(struct mime_8to7 *m, const char *data, size_t len, const char *eol,
	   bool first)
{
	if (first && m->stack != NULL && len > 2 && data[0] == '-' &&
	    data[1] == '-') {
		for (struct boundary *b = m->stack; b != NULL; b = b->next) {
			if (len < 2 + b->len ||
			    memcmp(data + 2, b->str, b->len) != 0)
				continue;
			while (m->stack != b)
				pop_boundary(m);
			if (len >= 4 + b->len &&
			    memcmp(data + 2 + b->len, "--", 2) == 0) {
				pop_boundary(m);
				set_entity(m, ST_BODY, CT_OTHER, SUB_OTHER);
			} else {
				set_entity(m, ST_MULTIPART, b->def_ctype,
					   b->def_stype);
			}
			break;
		}
	}
	if (m->qp) {
		qp_put(m, data, len);
		if (eol != NULL)
			qp_hard_break(m, eol);
	} else {
		emit_raw(m, data, len);
		if (eol != NULL)
			emit(m, eol, strlen(eol));
	}
}

/* One piece of a line: first when it starts the line; eol the line break
   that ends it ("" at the end of a message without one), or NULL when the
   line goes on in the next piece. */
static void
piece(struct mime_8to7 *m, const char *data, size_t len, const char *eol,
      bool first)
{
	size_t name_len;

	if (m->state == ST_BODY) {
		body_piece(m, data, len, eol, first);
		return;
	}
	if (!first) {
		/* The rest of a long line: its start decided what it is. */
		if (m->field_line) {
			field_append(m, data, len);
			if (eol != NULL)
				field_append(m, eol, strlen(eol));
		} else {
			body_piece(m, data, len, eol, first);
		}
		return;
	}
	if (m->in_field && len > 0 && (data[0] == ' ' || data[0] == '\t')) {
		m->field_line = true;
		field_append(m, data, len);
		if (eol != NULL)
			field_append(m, eol, strlen(eol));
		return;
	}
	if (m->in_field)
		field_done(m);
	if (header_name_len(data, len, &name_len) > 0) {
		m->in_field = m->field_line = true;
		field_append(m, data, len);
		if (eol != NULL)
			field_append(m, eol, strlen(eol));
		return;
	}
	header_end(m);
	if (len == 0 && eol != NULL) {
		header_to_body(m);
		emit(m, eol, strlen(eol));
		return;
	}
	/* Not a header field: the header ends before this line. Postfix
	   separates the primary header from it with an empty line. */
	if (m->state == ST_PRIMARY) {
		emit(m, eol_str(m), strlen(eol_str(m)));
		m->flags |= MIME_8TO7_CHANGED;
	}
	m->state = ST_BODY;
	body_piece(m, data, len, eol, first);
}

struct mime_8to7 *
mime_8to7_new(mime_8to7_output *out, void *ctx)
{
	struct mime_8to7 *m = xcalloc(1, sizeof(*m));

	m->out = out;
	m->ctx = ctx;
	m->crlf = true;
	m->out_bol = true;
	strbuf_init(&m->field, MIME_8TO7_FIELD_MAX);
	set_entity(m, ST_PRIMARY, CT_TEXT, SUB_PLAIN);
	return m;
}

int
mime_8to7_feed(struct mime_8to7 *m, const void *data, size_t len)
{
	const char *p = data, *end = p + len;

	while (p < end && !m->failed) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((lf != NULL ? lf : end) - p);
		size_t room = sizeof(m->line) - m->line_len;

		if (n > room)
			n = room;
		memcpy(m->line + m->line_len, p, n);
		m->line_len += n;
		p += n;
		if (p < end && *p == '\n' && lf == p) {
			bool cr =
			    m->line_len > 0 && m->line[m->line_len - 1] == '\r';

			p++;
			if (cr)
				m->line_len--;
			m->crlf = cr;
			piece(m, m->line, m->line_len, cr ? "\r\n" : "\n",
			      !m->line_cont);
			m->line_len = 0;
			m->line_cont = false;
		} else if (m->line_len == sizeof(m->line)) {
			/* A full piece; a CR at its end may start a CRLF. */
			size_t keep = m->line[m->line_len - 1] == '\r';

			piece(m, m->line, m->line_len - keep, NULL,
			      !m->line_cont);
			m->line_cont = true;
			if (keep)
				m->line[0] = '\r';
			m->line_len = keep;
		}
	}
	return m->failed ? -1 : 0;
}

int
mime_8to7_finish(struct mime_8to7 *m)
{
	if (m->failed)
		return -1;
	if (m->line_len > 0 || m->line_cont) {
		piece(m, m->line, m->line_len, "", !m->line_cont);
		m->line_len = 0;
		m->line_cont = false;
	}
	if (m->state != ST_BODY) {
		if (m->in_field)
			field_done(m);
		/* A new field must not join the last one's line. */
		if (!m->out_bol && m->domain != ENC_7BIT)
			emit(m, eol_str(m), strlen(eol_str(m)));
		header_end(m);
		m->state = ST_BODY;
	}
	return m->failed ? -1 : 0;
}

unsigned int
mime_8to7_flags(const struct mime_8to7 *m)
{
	return m->flags;
}

void
mime_8to7_free(struct mime_8to7 **mp)
{
	struct mime_8to7 *m = *mp;

	if (m == NULL)
		return;
	while (m->stack != NULL)
		pop_boundary(m);
	strbuf_release(&m->field);
	xfree(mp);
}
