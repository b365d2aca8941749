/*
 * imap_fetch_parse - FETCH item and modifier parser (see
 * imap_fetch_parse.h). The arguments are untrusted client input already
 * split by imap_parse (a section with spaces arrives inside one atom);
 * numbers are overflow-checked, lists and names bounded by the caller's
 * limits. No I/O, no logging.
 */
#include "mail/imap_fetch_parse.h"

#include <string.h>
#include <strings.h>

#include "util/strbuf.h"
#include "util/xmem.h"

#define NUMBER64_MAX ((uint64_t)INT64_MAX)

static const struct {
	const char *name;
	unsigned int items;
	bool macro;
} simple_items[] = {
    {"ALL",
     IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
	 IMAP_FETCH_ENVELOPE,
     true},
    {"FAST",
     IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE, true},
    {"FULL",
     IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
	 IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY,
     true},
    {"FLAGS", IMAP_FETCH_FLAGS, false},
    {"INTERNALDATE", IMAP_FETCH_INTERNALDATE, false},
    {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, false},
    {"ENVELOPE", IMAP_FETCH_ENVELOPE, false},
    {"BODY", IMAP_FETCH_BODY, false},
    {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, false},
    {"UID", IMAP_FETCH_UID, false},
    {"MODSEQ", IMAP_FETCH_MODSEQ, false},
};

struct fetch_ctx {
	const struct imap_fetch_limits *limits;
	unsigned int flags;
	struct imap_fetch *fetch;
	const char *error;
};

static void
body_free(struct imap_fetch_body *b)
{
	unsigned int i;

	for (i = 0; i < b->field_count; i++)
		xfree(&b->fields[i]);
	xfree(&b->fields);
	xfree(&b->parts);
	xfree(&b->name);
}

void
imap_fetch_free(struct imap_fetch **fetchp)
{
	struct imap_fetch *f = *fetchp;
	unsigned int i;

	if (f == NULL)
		return;
	for (i = 0; i < f->body_count; i++)
		body_free(&f->bodies[i]);
	xfree(&f->bodies);
	xfree(fetchp);
}

/* Reads a decimal at s[*ip] up to max; -1 on none or overflow. */
static int
read_number(const char *s, size_t len, size_t *ip, uint64_t max, uint64_t *n_r)
{
	size_t i = *ip;
	uint64_t n = 0;

	if (i == len || s[i] < '0' || s[i] > '9')
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned int d = (unsigned int)(s[i] - '0');

		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*ip = i;
	*n_r = n;
	return 0;
}

static bool
is_field_char(unsigned char c)
{
	/* RFC 5322 ftext, without the brackets that end a section */
	return c > 32 && c < 127 && c != ':' && c != '[' && c != ']' &&
	       c != '(' && c != ')' && c != '"';
}

/* Parses " (NAME NAME ...)" at s[*ip] into b->fields. Names may be
   quoted ("From") as astrings allow. */
static int
parse_fields(struct fetch_ctx *ctx, const char *s, size_t len, size_t *ip,
	     struct imap_fetch_body *b)
{
	size_t i = *ip;

	if (len - i < 3 || s[i] != ' ' || s[i + 1] != '(')
		return -1;
	i += 2;
	for (;;) {
		size_t start, n;
		bool quoted = false;
		char *name;

		if (i < len && s[i] == '"') {
			quoted = true;
			i++;
		}
		for (start = i; i < len && is_field_char((unsigned char)s[i]);
		     i++)
			;
		n = i - start;
		if (quoted && (i == len || s[i++] != '"'))
			return -1;
		if (n == 0)
			return -1;
		if (b->field_count >= ctx->limits->max_fields) {
			ctx->error = "Too many header fields";
			return -1;
		}
		name = xstrndup(s + start, n);
		for (n = 0; name[n] != '\0'; n++) {
			if (name[n] >= 'a' && name[n] <= 'z')
				name[n] = (char)(name[n] - 32);
		}
		b->fields = xreallocarray(b->fields, b->field_count + 1,
					  sizeof(*b->fields));
		b->fields[b->field_count++] = name;
		if (i < len && s[i] == ')') {
			*ip = i + 1;
			return 0;
		}
		if (i == len || s[i] != ' ')
			return -1;
		i++;
	}
}

/* Parses the text between "[" and "]" (exclusive: s, len). */
static int
parse_section(struct fetch_ctx *ctx, const char *s, size_t len,
	      struct imap_fetch_body *b, bool binary)
{
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		uint64_t n;

		if (read_number(s, len, &i, UINT32_MAX, &n) < 0 || n == 0)
			return -1;
		if (b->part_count >= IMAP_FETCH_PART_DEPTH_MAX) {
			ctx->error = "Section part number too deep";
			return -1;
		}
		b->parts = xreallocarray(b->parts, b->part_count + 1,
					 sizeof(*b->parts));
		b->parts[b->part_count++] = (uint32_t)n;
		if (i == len)
			return 0;
		if (s[i] != '.')
			return -1;
		i++;
		if (i == len)
			return -1;
	}
	if (i == len)
		return 0;
	if (binary)
		return -1;
	if (len - i == 4 && strncasecmp(s + i, "TEXT", 4) == 0) {
		b->section = IMAP_SECTION_TEXT;
		return 0;
	}
	if (len - i == 4 && strncasecmp(s + i, "MIME", 4) == 0) {
		if (b->part_count == 0)
			return -1;
		b->section = IMAP_SECTION_MIME;
		return 0;
	}
	if (len - i == 6 && strncasecmp(s + i, "HEADER", 6) == 0) {
		b->section = IMAP_SECTION_HEADER;
		return 0;
	}
	if (len - i > 18 && strncasecmp(s + i, "HEADER.FIELDS.NOT ", 18) == 0) {
		b->section = IMAP_SECTION_HEADER_FIELDS_NOT;
		i += 17;
	} else if (len - i > 14 &&
		   strncasecmp(s + i, "HEADER.FIELDS ", 14) == 0) {
		b->section = IMAP_SECTION_HEADER_FIELDS;
		i += 13;
	} else {
		return -1;
	}
	if (parse_fields(ctx, s, len, &i, b) < 0)
		return -1;
	return i == len ? 0 : -1;
}

static const char *const section_names[] = {
    "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME",
};

/* Builds the response name of a bracketed item. */
static int
make_name(struct fetch_ctx *ctx, const char *prefix, struct imap_fetch_body *b)
{
	struct strbuf sb;
	unsigned int i;
	int ret;

	strbuf_init(&sb, ctx->limits->max_name);
	ret = strbuf_printf(&sb, "%s[", prefix);
	for (i = 0; i < b->part_count; i++)
		ret |=
		    strbuf_printf(&sb, "%s%u", i > 0 ? "." : "", b->parts[i]);
	if (b->section != IMAP_SECTION_ALL)
		ret |= strbuf_printf(&sb, "%s%s", b->part_count > 0 ? "." : "",
				     section_names[b->section]);
	for (i = 0; i < b->field_count; i++)
		ret |= strbuf_printf(&sb, "%s%s", i == 0 ? " (" : " ",
				     b->fields[i]);
	if (b->field_count > 0)
		ret |= strbuf_append_char(&sb, ')');
	ret |= strbuf_append_char(&sb, ']');
	if (b->partial)
		ret |=
		    strbuf_printf(&sb, "<%llu>", (unsigned long long)b->offset);
	if (ret < 0) {
		strbuf_release(&sb);
		ctx->error = "Fetch item name too long";
		return -1;
	}
	b->name = strbuf_steal(&sb);
	return 0;
}

static struct imap_fetch_body *
new_body(struct fetch_ctx *ctx, enum imap_fetch_body_kind kind)
{
	struct imap_fetch *f = ctx->fetch;
	struct imap_fetch_body *b;

	if (f->body_count >= ctx->limits->max_items) {
		ctx->error = "Too many fetch items";
		return NULL;
	}
	f->bodies =
	    xreallocarray(f->bodies, f->body_count + 1, sizeof(*f->bodies));
	b = &f->bodies[f->body_count++];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	return b;
}

static int
parse_bracket_item(struct fetch_ctx *ctx, const char *s, size_t len,
		   size_t open)
{
	static const struct {
		const char *prefix;
		enum imap_fetch_body_kind kind;
		bool peek;
	} prefixes[] = {
	    {"BODY", IMAP_BODY_SECTION, false},
	    {"BODY.PEEK", IMAP_BODY_SECTION, true},
	    {"BINARY", IMAP_BODY_BINARY, false},
	    {"BINARY.PEEK", IMAP_BODY_BINARY, true},
	    {"BINARY.SIZE", IMAP_BODY_BINARY_SIZE, true},
	};
	struct imap_fetch_body *b;
	const char *close;
	size_t j, i;
	bool binary;

	for (j = 0; j < sizeof(prefixes) / sizeof(prefixes[0]); j++) {
		if (strlen(prefixes[j].prefix) == open &&
		    strncasecmp(s, prefixes[j].prefix, open) == 0)
			break;
	}
	if (j == sizeof(prefixes) / sizeof(prefixes[0]))
		return -1;
	binary = prefixes[j].kind != IMAP_BODY_SECTION;
	if (binary && (ctx->flags & IMAP_FETCH_ALLOW_BINARY) == 0)
		return -1;
	if ((close = memchr(s + open, ']', len - open)) == NULL)
		return -1;
	if ((b = new_body(ctx, prefixes[j].kind)) == NULL)
		return -1;
	b->peek = prefixes[j].peek;
	if (parse_section(ctx, s + open + 1, (size_t)(close - s) - open - 1, b,
			  binary) < 0)
		return -1;
	i = (size_t)(close - s) + 1;
	if (i < len) {
		if (s[i] != '<' || b->kind == IMAP_BODY_BINARY_SIZE)
			return -1;
		i++;
		if (read_number(s, len, &i, NUMBER64_MAX, &b->offset) < 0 ||
		    i == len || s[i++] != '.' ||
		    read_number(s, len, &i, NUMBER64_MAX, &b->size) < 0 ||
		    b->size == 0 || i == len || s[i++] != '>' || i != len)
			return -1;
		b->partial = true;
	}
	return make_name(ctx,
			 b->kind == IMAP_BODY_SECTION  ? "BODY"
			 : b->kind == IMAP_BODY_BINARY ? "BINARY"
						       : "BINARY.SIZE",
			 b);
}

static int
parse_item(struct fetch_ctx *ctx, const char *s, size_t len, bool alone)
{
	const char *open = memchr(s, '[', len);
	struct imap_fetch_body *b;
	size_t j;

	if (open != NULL)
		return parse_bracket_item(ctx, s, len, (size_t)(open - s));
	for (j = 0; j < sizeof(simple_items) / sizeof(simple_items[0]); j++) {
		if (strlen(simple_items[j].name) == len &&
		    strncasecmp(s, simple_items[j].name, len) == 0)
			break;
	}
	if (j < sizeof(simple_items) / sizeof(simple_items[0])) {
		if (simple_items[j].macro && !alone)
			return -1;
		if (simple_items[j].items == IMAP_FETCH_MODSEQ &&
		    (ctx->flags & IMAP_FETCH_ALLOW_CONDSTORE) == 0)
			return -1;
		ctx->fetch->items |= simple_items[j].items;
		return 0;
	}
	if (len == 6 && strncasecmp(s, "RFC822", 6) == 0) {
		if ((b = new_body(ctx, IMAP_BODY_RFC822)) == NULL)
			return -1;
		b->name = xstrdup("RFC822");
	} else if (len == 13 && strncasecmp(s, "RFC822.HEADER", 13) == 0) {
		if ((b = new_body(ctx, IMAP_BODY_RFC822_HEADER)) == NULL)
			return -1;
		b->peek = true;
		b->section = IMAP_SECTION_HEADER;
		b->name = xstrdup("RFC822.HEADER");
	} else if (len == 11 && strncasecmp(s, "RFC822.TEXT", 11) == 0) {
		if ((b = new_body(ctx, IMAP_BODY_RFC822_TEXT)) == NULL)
			return -1;
		b->section = IMAP_SECTION_TEXT;
		b->name = xstrdup("RFC822.TEXT");
	} else {
		return -1;
	}
	return 0;
}

static int
parse_modifiers(struct fetch_ctx *ctx, const struct imap_arg *mods)
{
	struct imap_fetch *f = ctx->fetch;
	unsigned int i;

	if (mods->type != IMAP_ARG_LIST || mods->count == 0) {
		ctx->error = "Invalid FETCH modifiers";
		return -1;
	}
	for (i = 0; i < mods->count; i++) {
		const struct imap_arg *a = &mods->list[i];
		size_t pos = 0;

		if (imap_arg_atom_equals(a, "CHANGEDSINCE") &&
		    (ctx->flags & IMAP_FETCH_ALLOW_CONDSTORE) != 0 &&
		    !f->has_changedsince) {
			if (++i == mods->count ||
			    mods->list[i].type != IMAP_ARG_ATOM ||
			    read_number(mods->list[i].str, mods->list[i].len,
					&pos, NUMBER64_MAX,
					&f->changedsince) < 0 ||
			    pos != mods->list[i].len || f->changedsince == 0) {
				ctx->error = "Invalid CHANGEDSINCE modseq";
				return -1;
			}
			f->has_changedsince = true;
			f->items |= IMAP_FETCH_MODSEQ;
		} else if (imap_arg_atom_equals(a, "VANISHED") &&
			   (ctx->flags & IMAP_FETCH_ALLOW_QRESYNC) != 0 &&
			   !f->vanished) {
			f->vanished = true;
		} else {
			ctx->error = "Unknown FETCH modifier";
			return -1;
		}
	}
	if (f->vanished && !f->has_changedsince) {
		ctx->error = "VANISHED used without CHANGEDSINCE";
		return -1;
	}
	return 0;
}

int
imap_fetch_parse(const struct imap_arg *items, const struct imap_arg *modifiers,
		 const struct imap_fetch_limits *limits, unsigned int flags,
		 struct imap_fetch **fetch_r, const char **error_r)
{
	struct fetch_ctx ctx = {limits, flags, NULL, NULL};
	unsigned int i;

	*fetch_r = NULL;
	ctx.fetch = xcalloc(1, sizeof(*ctx.fetch));
	if (items->type == IMAP_ARG_ATOM) {
		if (parse_item(&ctx, items->str, items->len, true) < 0)
			goto fail;
	} else if (items->type == IMAP_ARG_LIST && items->count > 0) {
		for (i = 0; i < items->count; i++) {
			const struct imap_arg *a = &items->list[i];

			if (a->type != IMAP_ARG_ATOM ||
			    parse_item(&ctx, a->str, a->len, false) < 0)
				goto fail;
		}
	} else {
		goto fail;
	}
	if (modifiers != NULL && parse_modifiers(&ctx, modifiers) < 0)
		goto fail;
	for (i = 0; i < ctx.fetch->body_count; i++) {
		if (!ctx.fetch->bodies[i].peek)
			ctx.fetch->sets_seen = true;
	}
	*fetch_r = ctx.fetch;
	return 0;
fail:
	*error_r = ctx.error != NULL ? ctx.error : "Invalid fetch item";
	imap_fetch_free(&ctx.fetch);
	return -1;
}

int
imap_fetch_dump(const struct imap_fetch *f, struct strbuf *sb)
{
	static const char *const item_names[] = {
	    "FLAGS", "INTERNALDATE",  "RFC822.SIZE", "ENVELOPE",
	    "BODY",  "BODYSTRUCTURE", "UID",	     "MODSEQ",
	};
	unsigned int i;
	const char *sep = "";
	int ret = 0;

	for (i = 0; i < sizeof(item_names) / sizeof(item_names[0]); i++) {
		if ((f->items & (1u << i)) != 0) {
			ret |= strbuf_printf(sb, "%s%s", sep, item_names[i]);
			sep = " ";
		}
	}
	for (i = 0; i < f->body_count; i++) {
		const struct imap_fetch_body *b = &f->bodies[i];

		ret |= strbuf_printf(sb, "%s%s%s", sep, b->name,
				     b->peek ? "/peek" : "");
		if (b->partial)
			ret |= strbuf_printf(sb, "/%llu.%llu",
					     (unsigned long long)b->offset,
					     (unsigned long long)b->size);
		sep = " ";
	}
	if (f->sets_seen)
		ret |= strbuf_append_str(sb, " seen");
	if (f->has_changedsince)
		ret |= strbuf_printf(sb, " changedsince=%llu",
				     (unsigned long long)f->changedsince);
	if (f->vanished)
		ret |= strbuf_append_str(sb, " vanished");
	return ret < 0 ? -1 : 0;
}
