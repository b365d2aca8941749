/*
 * mime_parse - streaming MIME structure parser (see mime_parse.h for the
 * rules and limits). The message is untrusted: bytes are scanned once,
 * only a bounded line prefix and one bounded header field are buffered,
 * and the tree is bounded by max_parts. No I/O, no logging, no globals.
 */
#include "mail/mime_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/rfc822_header.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* "--" + boundary + "--" is all a boundary check needs of a line. */
#define LINE_PREFIX_MAX (2 + MIME_BOUNDARY_MAX + 2)

/* Counters at a position: its offset and the LFs and bare LFs before it. */
struct mime_pos {
	uint64_t offset, lf, bare_lf;
};

struct mime_boundary {
	struct mime_boundary *next; /* older */
	struct mime_part *part;
	size_t len;
	char str[MIME_BOUNDARY_MAX];
};

enum mime_state {
	STATE_HEADER,	/* header lines of the current part */
	STATE_BODY,	/* body lines of the current part */
	STATE_BOUNDARY, /* rest of a boundary line; a child follows */
};

/* Per-part bookkeeping kept beside the public struct. */
struct mime_part_priv {
	struct mime_part pub;
	struct mime_pos hdr_start, body_start;
	char *boundary; /* from Content-Type, until the header ends */
	bool seen_ct;
};

struct mime_parser {
	struct mime_limits lim;
	struct mime_part_priv *root, *part;
	struct mime_boundary *boundaries;
	unsigned int parts, boundary_count;
	enum mime_state state;

	struct mime_pos pos; /* everything fed so far */
	bool last_cr;

	/* the current line */
	struct mime_pos line_start;
	unsigned int prev_nl; /* bytes of the break ending the line before */
	bool boundary_line;   /* the current line is a boundary line */
	char prefix[LINE_PREFIX_MAX + 2];
	size_t prefix_len;
	bool decided;	  /* the line's kind is known; rest is being skipped */
	bool header_line; /* the rest of this line goes into field */

	/* the current header field (unfolded enough for Content-Type) */
	struct strbuf field;
	bool field_overflow;
};

static struct mime_part_priv *
priv(struct mime_part *p)
{
	return (struct mime_part_priv *)p;
}

static void
account(struct mime_parser *p, const unsigned char *d, size_t len)
{
	const unsigned char *s = d, *end = d + len, *nl;

	if (len == 0)
		return;
	while ((nl = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		bool cr = nl > d ? nl[-1] == '\r' : p->last_cr;

		p->pos.lf++;
		if (!cr)
			p->pos.bare_lf++;
		s = nl + 1;
	}
	p->pos.offset += len;
	p->last_cr = end[-1] == '\r';
}

static struct mime_size
size_between(const struct mime_pos *a, const struct mime_pos *b)
{
	struct mime_size s;

	s.physical = b->offset - a->offset;
	s.lines = b->lf - a->lf;
	s.virtual = s.physical + (b->bare_lf - a->bare_lf);
	return s;
}

/* The position before the line break that ended the previous line, unless
   that break is before floor (it belongs to an earlier header/boundary). */
static struct mime_pos
pos_before_break(const struct mime_parser *p, const struct mime_pos *floor)
{
	struct mime_pos b = p->line_start;

	if (p->prev_nl == 0 || b.offset - p->prev_nl < floor->offset)
		return b;
	b.offset -= p->prev_nl;
	b.lf--;
	if (p->prev_nl == 1)
		b.bare_lf--;
	return b;
}

static struct mime_part_priv *
part_new(struct mime_parser *p, struct mime_part_priv *parent,
	 const struct mime_pos *start)
{
	struct mime_part_priv *part = xcalloc(1, sizeof(*part));

	part->hdr_start = *start;
	part->body_start = *start;
	part->pub.header_offset = start->offset;
	part->pub.body_offset = start->offset;
	if (parent != NULL) {
		struct mime_part *pp = &parent->pub;

		part->pub.parent = pp;
		part->pub.depth = pp->depth + 1;
		if (pp->last_child != NULL)
			pp->last_child->next = &part->pub;
		else
			pp->children = &part->pub;
		pp->last_child = &part->pub;
		pp->children_count++;
	}
	p->parts++;
	strbuf_reset(&p->field);
	p->field_overflow = false;
	return part;
}

static void
part_end(struct mime_part_priv *part, const struct mime_pos *end)
{
	part->pub.body = size_between(&part->body_start, end);
	xfree(&part->boundary);
}

static bool
can_contain(const struct mime_parser *p, const struct mime_part_priv *part)
{
	return part->pub.depth + 1 < p->lim.max_depth &&
	       p->parts < p->lim.max_parts;
}

/* A complete header field is in p->field: note Content-Type. */
static void
field_done(struct mime_parser *p)
{
	struct mime_part_priv *part = p->part;
	const char *f = strbuf_cstr(&p->field);
	struct strbuf type, subtype;
	struct rfc822_lex lx;
	const char *colon, *v;
	size_t name_len;
	int ret;

	if (p->field.len == 0 || p->field_overflow)
		goto out;
	if ((colon = memchr(f, ':', p->field.len)) == NULL)
		goto out;
	name_len = (size_t)(colon - f);
	while (name_len > 0 &&
	       (f[name_len - 1] == ' ' || f[name_len - 1] == '\t'))
		name_len--;
	if (name_len != 12 || strncasecmp(f, "Content-Type", 12) != 0 ||
	    part->seen_ct)
		goto out;
	part->seen_ct = true;
	part->pub.flags |= MIME_PART_FLAG_HAS_CT;
	v = colon + 1;
	strbuf_init(&type, p->field.len + 1);
	strbuf_init(&subtype, p->field.len + 1);
	rfc822_lex_init(&lx, v, p->field.len - (size_t)(v - f), NULL);
	ret = rfc822_lex_content_type(&lx, &type, &subtype);
	if (strcasecmp(strbuf_cstr(&type), "message") == 0 &&
	    (strcasecmp(strbuf_cstr(&subtype), "rfc822") == 0 ||
	     strcasecmp(strbuf_cstr(&subtype), "global") == 0)) {
		part->pub.flags |= MIME_PART_FLAG_MESSAGE;
	} else if (strcasecmp(strbuf_cstr(&type), "multipart") == 0 &&
		   subtype.len > 0) {
		part->pub.flags |= MIME_PART_FLAG_MULTIPART;
		if (strcasecmp(strbuf_cstr(&subtype), "digest") == 0)
			part->pub.flags |= MIME_PART_FLAG_DIGEST;
	}
	if (ret == 0 && (part->pub.flags & MIME_PART_FLAG_MULTIPART) != 0) {
		struct rfc822_params params;
		const char *b;

		rfc822_params_parse(&lx, &params);
		b = rfc822_params_get(&params, "boundary");
		if (b != NULL) /* even "", as Dovecot */
			part->boundary = xstrndup(b, MIME_BOUNDARY_MAX);
		rfc822_params_free(&params);
	}
	strbuf_release(&type);
	strbuf_release(&subtype);
out:
	strbuf_reset(&p->field);
	p->field_overflow = false;
}

static void
field_append(struct mime_parser *p, const void *data, size_t len)
{
	if (p->field_overflow)
		return;
	if (strbuf_append(&p->field, data, len) < 0)
		p->field_overflow = true;
}

/* The current part's header ends at body; decides what the body is. */
static void
header_end(struct mime_parser *p, const struct mime_pos *body)
{
	struct mime_part_priv *part = p->part;
	struct mime_part *parent = part->pub.parent;

	field_done(p);
	part->body_start = *body;
	part->pub.body_offset = body->offset;
	part->pub.header = size_between(&part->hdr_start, body);
	if (!part->seen_ct && parent != NULL &&
	    (parent->flags & MIME_PART_FLAG_DIGEST) != 0)
		part->pub.flags |= MIME_PART_FLAG_MESSAGE;
	if ((part->pub.flags & MIME_PART_FLAG_HEADER_OVERFLOW) != 0)
		part->pub.flags &=
		    ~(MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_MESSAGE |
		      MIME_PART_FLAG_DIGEST);
	if ((part->pub.flags &
	     (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_MESSAGE)) != 0 &&
	    part->pub.depth + 1 >= p->lim.max_depth) {
		part->pub.flags &=
		    ~(MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_MESSAGE |
		      MIME_PART_FLAG_DIGEST);
		part->pub.flags |= MIME_PART_FLAG_TOO_DEEP;
	}
	p->state = STATE_BODY;
	if ((part->pub.flags & MIME_PART_FLAG_MULTIPART) != 0 &&
	    part->boundary != NULL) {
		struct mime_boundary *b = xcalloc(1, sizeof(*b));

		b->part = &part->pub;
		b->len = strlen(part->boundary);
		memcpy(b->str, part->boundary, b->len);
		b->next = p->boundaries;
		p->boundaries = b;
		p->boundary_count++;
	} else if ((part->pub.flags & MIME_PART_FLAG_MESSAGE) != 0) {
		if (can_contain(p, part)) {
			p->part = part_new(p, part, body);
			p->state = STATE_HEADER;
		} else {
			part->pub.flags &= ~MIME_PART_FLAG_MESSAGE;
			part->pub.flags |= MIME_PART_FLAG_PARTS_OVERFLOW;
		}
	}
	xfree(&part->boundary);
}

/* The longest active boundary that prefixes the line, or NULL. */
static struct mime_boundary *
boundary_find(struct mime_parser *p, bool line_complete, bool *epilogue_r)
{
	const char *d = p->prefix + 2;
	size_t size, find;
	struct mime_boundary *b, *best = NULL;

	if (p->boundaries == NULL || p->prefix_len < 2 || p->prefix[0] != '-' ||
	    p->prefix[1] != '-')
		return NULL;
	if (p->parts >= p->lim.max_parts) {
		p->part->pub.flags |= MIME_PART_FLAG_PARTS_OVERFLOW;
		return NULL;
	}
	size = p->prefix_len - 2;
	find = size;
	if (line_complete) {
		/* prefix holds the whole line with its break */
		if (find > 0 && d[find - 1] == '\n')
			find--;
		if (find > 0 && d[find - 1] == '\r')
			find--;
		if (find > 2 && d[find - 1] == '-' && d[find - 2] == '-')
			find -= 2;
	}
	for (b = p->boundaries; b != NULL; b = b->next) {
		if (b->len <= find && memcmp(b->str, d, b->len) == 0 &&
		    (best == NULL || best->len < b->len)) {
			best = b;
			if (best->len == find)
				break;
		}
	}
	if (best != NULL)
		*epilogue_r = size >= best->len + 2 &&
			      memcmp(d + best->len, "--", 2) == 0;
	return best;
}

static void
boundaries_remove_newer(struct mime_parser *p, struct mime_boundary *keep)
{
	while (p->boundaries != keep) {
		struct mime_boundary *b = p->boundaries;

		p->boundaries = b->next;
		p->boundary_count--;
		xfree(&b);
	}
}

/* RFC 2046 5.1.1: the line break before a boundary belongs to the
   boundary. When a part's header ended with an empty line directly before
   the boundary (its body is empty), that empty line's break is the one
   before the boundary: the header ends before it, as in Dovecot (the
   header has no empty line then; BODY[n.MIME] and BINARY[n] omit it).
   Returns true when part was changed this way. */
static bool
header_give_break(struct mime_parser *p, struct mime_part_priv *part)
{
	struct mime_pos end;

	if (part->body_start.offset != p->line_start.offset ||
	    part->hdr_start.offset >= part->body_start.offset ||
	    p->prev_nl == 0)
		return false;
	end = pos_before_break(p, &part->hdr_start);
	part->body_start = end;
	part->pub.body_offset = end.offset;
	part->pub.header = size_between(&part->hdr_start, &end);
	/* a message part's child began at the old body start and was cut
	   empty by the boundary: it stays inside its parent */
	for (struct mime_part *ch = part->pub.children; ch != NULL;
	     ch = ch->next) {
		ch->header_offset = end.offset;
		ch->body_offset = end.offset;
	}
	return true;
}

/* A boundary line starts at p->line_start. */
static void
boundary_found(struct mime_parser *p, struct mime_boundary *b, bool epilogue)
{
	struct mime_part_priv *owner = priv(b->part);
	const struct mime_pos *floor = p->state == STATE_HEADER
					   ? &p->part->hdr_start
					   : &p->part->body_start;
	struct mime_pos end = pos_before_break(p, floor);
	struct mime_part_priv *cut = NULL;
	bool above_cut = false;

	if (p->state == STATE_HEADER) {
		/* The header ends before the break preceding the boundary;
		   as in Dovecot, that break still counts in the bodies of the
		   parts above the cut one (up to the boundary's owner). */
		cut = p->part;
		header_end(p, &end);
	}
	while (p->part != owner) {
		if (header_give_break(p, p->part))
			part_end(p->part, &p->part->body_start);
		else
			part_end(p->part, above_cut ? &p->line_start : &end);
		if (p->part == cut)
			above_cut = true;
		p->part = priv(p->part->pub.parent);
	}
	p->boundary_line = true;
	if (epilogue) {
		boundaries_remove_newer(p, b->next);
		p->state = STATE_BODY;
	} else {
		boundaries_remove_newer(p, b);
		p->state = STATE_BOUNDARY;
	}
}

/* The first bytes of a line are in prefix: decide what the line is. */
static void
line_decide(struct mime_parser *p, bool line_complete)
{
	struct mime_boundary *b;
	bool epilogue = false;

	p->decided = true;
	p->header_line = false;
	if (p->state == STATE_BOUNDARY)
		return;
	if ((b = boundary_find(p, line_complete, &epilogue)) != NULL) {
		boundary_found(p, b, epilogue);
		return;
	}
	if (p->state != STATE_HEADER)
		return;
	if (line_complete && ((p->prefix_len == 1 && p->prefix[0] == '\n') ||
			      (p->prefix_len == 2 && p->prefix[0] == '\r' &&
			       p->prefix[1] == '\n'))) {
		/* the empty line: the header ends after it (line_end) */
		field_done(p);
		return;
	}
	if (p->line_start.offset - p->part->hdr_start.offset >=
	    p->lim.max_header_size) {
		p->part->pub.flags |= MIME_PART_FLAG_HEADER_OVERFLOW;
		header_end(p, &p->line_start);
		return;
	}
	if (p->prefix[0] != ' ' && p->prefix[0] != '\t')
		field_done(p);
	p->header_line = true;
	field_append(p, p->prefix, p->prefix_len);
}

/* A line ended (its LF was accounted); the next one starts at p->pos. */
static void
line_end(struct mime_parser *p, unsigned int nl_len)
{
	if (p->state == STATE_HEADER && !p->header_line &&
	    ((p->prefix_len == 1 && p->prefix[0] == '\n') ||
	     (p->prefix_len == 2 && p->prefix[0] == '\r' &&
	      p->prefix[1] == '\n'))) {
		header_end(p, &p->pos);
	} else if (p->state == STATE_BOUNDARY) {
		struct mime_part_priv *owner = p->part;

		p->part = part_new(p, owner, &p->pos);
		p->state = STATE_HEADER;
	}
	p->line_start = p->pos;
	/* As in Dovecot, the break ending a boundary line stays with that
	   line: a boundary right after it does not take it. */
	p->prev_nl = p->boundary_line ? 0 : nl_len;
	p->boundary_line = false;
	p->prefix_len = 0;
	p->decided = false;
	p->header_line = false;
}

struct mime_parser *
mime_parser_new(const struct mime_limits *limits)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_depth == 0)
		p->lim.max_depth = MIME_DEFAULT_MAX_DEPTH;
	if (p->lim.max_parts == 0)
		p->lim.max_parts = MIME_DEFAULT_MAX_PARTS;
	if (p->lim.max_header_size == 0)
		p->lim.max_header_size = MIME_DEFAULT_MAX_HEADER_SIZE;
	if (p->lim.max_header_field == 0)
		p->lim.max_header_field = MIME_DEFAULT_MAX_HEADER_FIELD;
	strbuf_init(&p->field, p->lim.max_header_field);
	p->root = part_new(p, NULL, &p->pos);
	p->part = p->root;
	p->state = STATE_HEADER;
	return p;
}

void
mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const unsigned char *d = data, *end = d + len;

	while (d < end) {
		const unsigned char *nl;
		size_t n;

		if (!p->decided) {
			/* collect the line's prefix */
			size_t room = LINE_PREFIX_MAX - p->prefix_len;

			nl = memchr(d, '\n', (size_t)(end - d));
			n = nl != NULL ? (size_t)(nl - d) + 1
				       : (size_t)(end - d);
			if (n > room)
				n = room;
			memcpy(p->prefix + p->prefix_len, d, n);
			p->prefix_len += n;
			account(p, d, n);
			d += n;
			if (p->prefix[p->prefix_len - 1] == '\n') {
				unsigned int nl_len =
				    p->prefix_len > 1 &&
					    p->prefix[p->prefix_len - 2] == '\r'
					? 2
					: 1;

				line_decide(p, true);
				line_end(p, nl_len);
			} else if (p->prefix_len == LINE_PREFIX_MAX) {
				line_decide(p, false);
			}
			continue;
		}
		/* the rest of a line whose kind is known */
		nl = memchr(d, '\n', (size_t)(end - d));
		n = nl != NULL ? (size_t)(nl - d) + 1 : (size_t)(end - d);
		if (p->header_line)
			field_append(p, d, n);
		{
			bool cr = nl == NULL
				      ? false
				      : (nl > d ? nl[-1] == '\r' : p->last_cr);

			account(p, d, n);
			d += n;
			if (nl != NULL)
				line_end(p, cr ? 2 : 1);
		}
	}
}

struct mime_part *
mime_parser_finish(struct mime_parser **parserp)
{
	struct mime_parser *p = *parserp;
	struct mime_part_priv *root = p->root;
	unsigned int guard;

	*parserp = NULL;
	if (!p->decided && p->prefix_len > 0)
		line_decide(p, false);
	/* a header cut by the end of the message ends there */
	for (guard = 0; p->state == STATE_HEADER && guard < 2; guard++)
		header_end(p, &p->pos);
	while (p->part != NULL) {
		part_end(p->part, &p->pos);
		p->part = p->part->pub.parent == NULL
			      ? NULL
			      : priv(p->part->pub.parent);
	}
	boundaries_remove_newer(p, NULL);
	strbuf_release(&p->field);
	xfree(&p);
	return &root->pub;
}

void
mime_part_free(struct mime_part **rootp)
{
	struct mime_part *part = *rootp, *next;

	*rootp = NULL;
	/* iterative: free children first, walking the tree without a stack */
	while (part != NULL) {
		if (part->children != NULL) {
			next = part->children;
			part->children = NULL;
			part = next;
			continue;
		}
		next = part->next != NULL ? part->next : part->parent;
		xfree(&priv(part)->boundary);
		{
			struct mime_part_priv *pp = priv(part);

			xfree(&pp);
		}
		part = next;
	}
}

struct mime_part *
mime_parse_message(const void *data, size_t len,
		   const struct mime_limits *limits)
{
	struct mime_parser *p = mime_parser_new(limits);

	mime_parser_feed(p, data, len);
	return mime_parser_finish(&p);
}

const struct mime_part *
mime_part_find_section(const struct mime_part *root, const char *section)
{
	const struct mime_part *part = root;
	const char *s = section;

	while (*s != '\0' && part != NULL) {
		unsigned long num = 0;

		if (*s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9') {
			num = num * 10 + (unsigned long)(*s - '0');
			if (num > MIME_DEFAULT_MAX_PARTS * 10UL)
				return NULL;
			s++;
		}
		if (*s == '.') {
			if (*++s == '\0')
				return NULL;
		} else if (*s != '\0') {
			return NULL;
		}
		if (num == 0)
			return NULL;
		if ((part->flags & MIME_PART_FLAG_MULTIPART) == 0) {
			if (num != 1)
				return NULL;
		} else {
			for (part = part->children; part != NULL && num > 1;
			     num--)
				part = part->next;
		}
		/* more to come inside a message: go to the message itself */
		if (part != NULL && *s != '\0' &&
		    (part->flags & MIME_PART_FLAG_MESSAGE) != 0)
			part = part->children;
	}
	return part;
}
