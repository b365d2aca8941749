/*
 * imap_parse - incremental IMAP command parser (see imap_parse.h). Lines
 * and literals are untrusted network input; every allocation is bounded by
 * the caller's limits and is made only after the size was checked. Must
 * not do I/O, log or keep global state: replies are only suggested.
 */
#include "mail/imap_parse.h"

#include <string.h>
#include <strings.h>

#include "util/strbuf.h"
#include "util/xmem.h"

#define LITERAL_DIGITS_MAX 20
#define GENERIC_ERROR "Error in IMAP command received by server."

enum parser_state {
	STATE_START = 0,
	STATE_ARGS,
	STATE_LITERAL,
	STATE_DONE,
	STATE_ERROR,
};

struct imap_parser {
	struct imap_parse_limits limits;
	enum parser_state state;
	char tag[IMAP_PARSE_TAG_MAX + 1];
	char name[IMAP_PARSE_NAME_MAX + 1];
	bool have_tag;
	struct imap_arg root; /* LIST of the top-level arguments */
	/* stack[0] = &root; stack[i] is an element of stack[i - 1]'s list;
	   only stack[depth]'s list grows, so the pointers stay valid. */
	struct imap_arg **stack;
	unsigned int depth;
	unsigned int nargs;
	size_t total;
	struct imap_literal_info lit;
	struct imap_arg *lit_arg;
	uint64_t lit_have;
	struct imap_parse_error error;
	struct imap_command cmd;
};

static bool
is_ctl_or_8bit(unsigned char c)
{
	return c < 0x20 || c >= 0x7f;
}

static bool
is_tag_char(unsigned char c)
{
	return !is_ctl_or_8bit(c) && c != ' ' && c != '(' && c != ')' &&
	       c != '{' && c != '%' && c != '*' && c != '"' && c != '\\' &&
	       c != '+';
}

struct imap_parser *
imap_parser_new(const struct imap_parse_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->limits = *limits;
	p->stack = xcalloc((size_t)limits->max_depth + 1, sizeof(*p->stack));
	p->root.type = IMAP_ARG_LIST;
	p->stack[0] = &p->root;
	return p;
}

static void
arg_free(struct imap_arg *arg)
{
	unsigned int i;

	for (i = 0; i < arg->count; i++)
		arg_free(&arg->list[i]);
	xfree(&arg->list);
	xfree(&arg->str);
	arg->count = arg->alloc = 0;
}

void
imap_parser_reset(struct imap_parser *p)
{
	arg_free(&p->root);
	p->state = STATE_START;
	p->tag[0] = p->name[0] = '\0';
	p->have_tag = false;
	p->depth = 0;
	p->nargs = 0;
	p->total = 0;
	p->lit_arg = NULL;
	p->lit_have = 0;
	memset(&p->lit, 0, sizeof(p->lit));
	memset(&p->error, 0, sizeof(p->error));
	memset(&p->cmd, 0, sizeof(p->cmd));
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	arg_free(&p->root);
	xfree(&p->stack);
	xfree(pp);
}

void
imap_parser_set_flags(struct imap_parser *p, unsigned int flags)
{
	p->limits.flags = flags;
}

/* True when the line ends in a non-synchronising literal announcement:
   the client sends its bytes without waiting, so after an error we can
   no longer tell them from commands. */
static bool
ends_in_nonsync_literal(const char *line, size_t len)
{
	size_t i;

	if (len < 4 || line[len - 1] != '}' || line[len - 2] != '+')
		return false;
	for (i = len - 2; i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9';
	     i--)
		;
	return i < len - 2 && i > 0 && line[i - 1] == '{';
}

static enum imap_parse_result
set_error(struct imap_parser *p, bool toobig, bool fatal, const char *detail)
{
	struct strbuf sb;

	strbuf_init(&sb, IMAP_PARSE_ERROR_MAX);
	if (toobig)
		strbuf_append_str(&sb, "[TOOBIG] ");
	if (detail == NULL)
		strbuf_append_str(&sb, GENERIC_ERROR);
	else if (p->name[0] == '\0')
		strbuf_append_str(&sb, detail);
	else if (strbuf_printf(&sb, "Error in IMAP command %s: %s", p->name,
			       detail) < 0)
		strbuf_append_str(&sb, GENERIC_ERROR);
	memcpy(p->error.text, strbuf_cstr(&sb), sb.len + 1);
	strbuf_release(&sb);
	p->error.toobig = toobig;
	p->error.fatal = fatal;
	p->state = STATE_ERROR;
	return IMAP_PARSE_ERROR;
}

static enum imap_parse_result
line_error(struct imap_parser *p, const char *line, size_t len,
	   const char *detail)
{
	return set_error(p, false, ends_in_nonsync_literal(line, len), detail);
}

/* Appends a new element to the innermost open list; NULL when max_args
   is reached. */
static struct imap_arg *
new_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *list = p->stack[p->depth], *arg;

	if (p->nargs >= p->limits.max_args)
		return NULL;
	if (list->count == list->alloc) {
		list->alloc = list->alloc == 0 ? 4 : list->alloc * 2;
		list->list =
		    xreallocarray(list->list, list->alloc, sizeof(*list->list));
	}
	arg = &list->list[list->count++];
	memset(arg, 0, sizeof(*arg));
	arg->type = type;
	p->nargs++;
	return arg;
}

/* Parses the tag and the command name; returns the index after them, or
   (size_t)-1 with the error set. */
static size_t
parse_start(struct imap_parser *p, const char *line, size_t len)
{
	size_t i = 0, n;

	while (i < len && is_tag_char((unsigned char)line[i]))
		i++;
	if (i == 0 || i > IMAP_PARSE_TAG_MAX || i == len || line[i] != ' ') {
		line_error(p, line, len, NULL);
		return (size_t)-1;
	}
	memcpy(p->tag, line, i);
	p->tag[i] = '\0';
	p->have_tag = true;
	i++;
	for (n = 0; i < len && line[i] != ' '; i++, n++) {
		unsigned char c = (unsigned char)line[i];

		if (n == IMAP_PARSE_NAME_MAX || !is_tag_char(c) || c == ']' ||
		    c == '[') {
			p->name[0] = '\0';
			line_error(p, line, len, NULL);
			return (size_t)-1;
		}
		p->name[n] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	p->name[n] = '\0';
	if (n == 0) {
		line_error(p, line, len, NULL);
		return (size_t)-1;
	}
	return i;
}

/* Reads an atom from line[i]; returns its end. An "[" extends the atom to
   its matching "]" (FETCH sections); if the brackets never close, the
   atom ends at the first space or parenthesis instead. */
static size_t
atom_end(const char *line, size_t len, size_t i, const char **error_r)
{
	size_t start = i;
	unsigned int brackets = 0;

	*error_r = NULL;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (brackets > 0) {
			if (c == ']')
				brackets--;
			else if (c == '[')
				brackets++;
			else if (is_ctl_or_8bit(c))
				break;
			continue;
		}
		if (c == ' ' || c == '(' || c == ')')
			return i;
		if (c == '[')
			brackets++;
		else if (c >= 0x80) {
			*error_r = "8bit data in atom";
			return i;
		} else if (c == '"' || c == '{' || is_ctl_or_8bit(c)) {
			*error_r = "Invalid characters in atom";
			return i;
		}
	}
	if (brackets == 0)
		return i;
	for (i = start; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == ' ' || c == '(' || c == ')')
			return i;
		if (c == '"' || c == '{' || is_ctl_or_8bit(c)) {
			*error_r = c >= 0x80 ? "8bit data in atom"
					     : "Invalid characters in atom";
			return i;
		}
	}
	return i;
}

/* Reads a quoted string starting at line[*ip] == '"' into arg. The
   first pass checks it and counts its bytes, so the copy is exact: many
   short strings on a long line must not each cost the rest of the line. */
static int
parse_quoted(const char *line, size_t len, size_t *ip, struct imap_arg *arg,
	     const char **error_r)
{
	size_t i, n = 0, end;
	char *out;

	for (i = *ip + 1; i < len && line[i] != '"'; i++, n++) {
		char c = line[i];

		if (c == '\\') {
			if (i + 1 == len ||
			    (line[i + 1] != '"' && line[i + 1] != '\\')) {
				*error_r = "Invalid escape in quoted string";
				return -1;
			}
			i++;
		} else if (c == '\0' || c == '\r' || c == '\n') {
			*error_r = "Invalid characters in quoted string";
			return -1;
		}
	}
	if (i == len) {
		*error_r = "Missing '\"'";
		return -1;
	}
	end = i;
	out = xmalloc(n + 1);
	for (i = *ip + 1, n = 0; i < end; i++) {
		if (line[i] == '\\')
			i++;
		out[n++] = line[i];
	}
	out[n] = '\0';
	arg->str = out;
	arg->len = n;
	*ip = end + 1;
	return 0;
}

/* Handles "{N}", "{N+}" or "~{N}" at line[i]; it must end the line. */
static enum imap_parse_result
parse_literal(struct imap_parser *p, const char *line, size_t len, size_t i)
{
	const struct imap_parse_limits *lim = &p->limits;
	bool binary = false, nonsync = false, toobig = false;
	uint64_t size = 0, max;
	size_t digits = 0;
	struct imap_arg *arg;

	if (line[i] == '~') {
		binary = true;
		i++;
		if ((lim->flags & IMAP_PARSE_LITERAL8) == 0)
			return line_error(p, line, len,
					  "Binary literals not enabled");
	}
	for (i++; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		unsigned int d = (unsigned int)(line[i] - '0');

		if (++digits > LITERAL_DIGITS_MAX ||
		    size > (UINT64_MAX - d) / 10)
			toobig = true;
		else
			size = size * 10 + d;
	}
	if (i < len && line[i] == '+') {
		nonsync = true;
		i++;
	}
	if (digits == 0 || i == len || line[i] != '}')
		return line_error(p, line, len, "Invalid literal size");
	if (i + 1 != len)
		return line_error(p, line, len,
				  "Literal announcement not at end of line");
	if (nonsync && (lim->flags & (IMAP_PARSE_LITERAL_PLUS |
				      IMAP_PARSE_LITERAL_MINUS)) == 0)
		return set_error(p, false, true,
				 "Non-synchronizing literals not supported");
	max = lim->max_literal > lim->max_stream_literal
		  ? lim->max_literal
		  : lim->max_stream_literal;
	if (nonsync && (lim->flags & IMAP_PARSE_LITERAL_PLUS) == 0 &&
	    size > IMAP_LITERAL_MINUS_MAX)
		toobig = true;
	if (toobig || size > max)
		return set_error(p, true, nonsync, "Literal size too large");
	p->lit.size = size;
	p->lit.sync = !nonsync;
	p->lit.binary = binary;
	p->lit.must_stream =
	    size > lim->max_literal || size > lim->max_command - p->total;
	if (p->lit.must_stream && size > lim->max_stream_literal)
		return set_error(p, true, nonsync, "Command too large");
	if ((arg = new_arg(p, IMAP_ARG_LITERAL)) == NULL)
		return set_error(p, false, nonsync,
				 "Too many command arguments");
	arg->literal8 = binary;
	arg->literal_size = size;
	p->lit_arg = arg;
	p->lit_have = 0;
	p->state = STATE_LITERAL;
	return IMAP_PARSE_LITERAL;
}

static enum imap_parse_result
parse_args(struct imap_parser *p, const char *line, size_t len, size_t i)
{
	const char *error;
	struct imap_arg *arg;

	while (i < len) {
		unsigned char c = (unsigned char)line[i];
		size_t end;

		switch (c) {
		case ' ':
			i++;
			continue;
		case '(':
			if (p->depth >= p->limits.max_depth)
				return line_error(
				    p, line, len,
				    "Too deep parenthesis nesting");
			if ((arg = new_arg(p, IMAP_ARG_LIST)) == NULL)
				return line_error(p, line, len,
						  "Too many command arguments");
			p->stack[++p->depth] = arg;
			i++;
			continue;
		case ')':
			if (p->depth == 0)
				return line_error(p, line, len,
						  "Unexpected ')'");
			p->depth--;
			i++;
			continue;
		case '"':
			if ((arg = new_arg(p, IMAP_ARG_QUOTED)) == NULL)
				return line_error(p, line, len,
						  "Too many command arguments");
			if (parse_quoted(line, len, &i, arg, &error) < 0)
				return line_error(p, line, len, error);
			continue;
		case '{':
			return parse_literal(p, line, len, i);
		case '~':
			if (i + 1 < len && line[i + 1] == '{')
				return parse_literal(p, line, len, i);
			break;
		default:
			break;
		}
		end = atom_end(line, len, i, &error);
		if (error != NULL)
			return line_error(p, line, len, error);
		if ((arg = new_arg(p, IMAP_ARG_ATOM)) == NULL)
			return line_error(p, line, len,
					  "Too many command arguments");
		if (end - i == 3 && strncasecmp(line + i, "NIL", 3) == 0)
			arg->type = IMAP_ARG_NIL;
		arg->str = xstrndup(line + i, end - i);
		arg->len = end - i;
		i = end;
	}
	if (p->depth > 0)
		return line_error(p, line, len, "Missing ')'");
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.args = p->root.list;
	p->cmd.count = p->root.count;
	p->state = STATE_DONE;
	return IMAP_PARSE_DONE;
}

enum imap_parse_result
imap_parser_feed_line(struct imap_parser *p, const char *line, size_t len)
{
	size_t i = 0;

	switch (p->state) {
	case STATE_START:
		break;
	case STATE_LITERAL:
		if (p->lit_arg->type == IMAP_ARG_LITERAL &&
		    p->lit_have < p->lit.size)
			return set_error(p, false, true,
					 "Literal data missing");
		if (p->lit_arg->type == IMAP_ARG_LITERAL &&
		    p->lit_arg->str == NULL) {
			p->lit_arg->str = xmalloc(1);
			p->lit_arg->str[0] = '\0';
		}
		p->lit_arg = NULL;
		p->state = STATE_ARGS;
		break;
	case STATE_ARGS:
	case STATE_DONE:
	case STATE_ERROR:
		return set_error(p, false, true, "Parser not reset");
	}
	if (len > p->limits.max_line ||
	    len > p->limits.max_command - p->total) {
		if (p->state == STATE_START) {
			/* the tag, for the reply */
			while (i < len && i < IMAP_PARSE_TAG_MAX &&
			       is_tag_char((unsigned char)line[i]))
				i++;
			if (i > 0 && i < len && line[i] == ' ') {
				memcpy(p->tag, line, i);
				p->tag[i] = '\0';
				p->have_tag = true;
			}
		}
		return set_error(p, true, ends_in_nonsync_literal(line, len),
				 "Command line too long");
	}
	p->total += len;
	if (p->state == STATE_START) {
		if ((i = parse_start(p, line, len)) == (size_t)-1)
			return IMAP_PARSE_ERROR;
		p->state = STATE_ARGS;
	}
	return parse_args(p, line, len, i);
}

const struct imap_literal_info *
imap_parser_literal(const struct imap_parser *p)
{
	return &p->lit;
}

int
imap_parser_feed_literal(struct imap_parser *p, const char *data, size_t len,
			 size_t *used_r)
{
	struct imap_arg *arg = p->lit_arg;
	uint64_t want;

	*used_r = 0;
	if (p->state != STATE_LITERAL || arg->type != IMAP_ARG_LITERAL ||
	    p->lit.must_stream)
		return -1;
	if (arg->str == NULL) {
		/* size was checked against max_literal and max_command */
		arg->str = xmalloc((size_t)p->lit.size + 1);
		p->total += (size_t)p->lit.size;
	}
	want = p->lit.size - p->lit_have;
	if (len > want)
		len = (size_t)want;
	if (len > 0)
		memcpy(arg->str + p->lit_have, data, len);
	p->lit_have += len;
	*used_r = len;
	if (p->lit_have < p->lit.size)
		return 0;
	arg->str[p->lit.size] = '\0';
	arg->len = (size_t)p->lit.size;
	return 1;
}

int
imap_parser_literal_streamed(struct imap_parser *p)
{
	if (p->state != STATE_LITERAL || p->lit_arg->str != NULL ||
	    p->lit.size > p->limits.max_stream_literal)
		return -1;
	p->lit_arg->type = IMAP_ARG_LITERAL_STREAM;
	return 0;
}

const struct imap_command *
imap_parser_command(const struct imap_parser *p)
{
	return p->state == STATE_DONE ? &p->cmd : NULL;
}

const struct imap_parse_error *
imap_parser_error(const struct imap_parser *p)
{
	return &p->error;
}

const char *
imap_parser_tag(const struct imap_parser *p)
{
	return p->have_tag ? p->tag : "*";
}

const char *
imap_parser_name(const struct imap_parser *p)
{
	return p->name;
}
