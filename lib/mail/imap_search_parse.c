/*
 * imap_search_parse - SEARCH program parser (see imap_search_parse.h).
 * The arguments are untrusted client input already split by imap_parse;
 * node count, depth and set sizes are bounded by the caller's limits. No
 * I/O, no logging.
 */
#include "mail/imap_search_parse.h"

#include <string.h>
#include <strings.h>

#include "util/strbuf.h"
#include "util/xmem.h"

#define MODSEQ_MAX ((uint64_t)INT64_MAX)

enum value_kind {
	VALUE_NONE = 0,
	VALUE_STRING,
	VALUE_HEADER,
	VALUE_KEYWORD,
	VALUE_DATE,
	VALUE_NUMBER,
	VALUE_UIDSET,
	VALUE_NOT,
	VALUE_OR,
	VALUE_MODSEQ,
};

static const struct {
	const char *name;
	enum imap_search_key key;
	enum value_kind kind;
} keys[] = {
    {"ALL", IMAP_SEARCH_ALL, VALUE_NONE},
    {"ANSWERED", IMAP_SEARCH_ANSWERED, VALUE_NONE},
    {"BCC", IMAP_SEARCH_BCC, VALUE_STRING},
    {"BEFORE", IMAP_SEARCH_BEFORE, VALUE_DATE},
    {"BODY", IMAP_SEARCH_BODY, VALUE_STRING},
    {"CC", IMAP_SEARCH_CC, VALUE_STRING},
    {"DELETED", IMAP_SEARCH_DELETED, VALUE_NONE},
    {"DRAFT", IMAP_SEARCH_DRAFT, VALUE_NONE},
    {"FLAGGED", IMAP_SEARCH_FLAGGED, VALUE_NONE},
    {"FROM", IMAP_SEARCH_FROM, VALUE_STRING},
    {"HEADER", IMAP_SEARCH_HEADER, VALUE_HEADER},
    {"KEYWORD", IMAP_SEARCH_KEYWORD, VALUE_KEYWORD},
    {"LARGER", IMAP_SEARCH_LARGER, VALUE_NUMBER},
    {"NEW", IMAP_SEARCH_NEW, VALUE_NONE},
    {"NOT", IMAP_SEARCH_NOT, VALUE_NOT},
    {"OLD", IMAP_SEARCH_OLD, VALUE_NONE},
    {"ON", IMAP_SEARCH_ON, VALUE_DATE},
    {"OR", IMAP_SEARCH_OR, VALUE_OR},
    {"RECENT", IMAP_SEARCH_RECENT, VALUE_NONE},
    {"SEEN", IMAP_SEARCH_SEEN, VALUE_NONE},
    {"SENTBEFORE", IMAP_SEARCH_SENTBEFORE, VALUE_DATE},
    {"SENTON", IMAP_SEARCH_SENTON, VALUE_DATE},
    {"SENTSINCE", IMAP_SEARCH_SENTSINCE, VALUE_DATE},
    {"SINCE", IMAP_SEARCH_SINCE, VALUE_DATE},
    {"SMALLER", IMAP_SEARCH_SMALLER, VALUE_NUMBER},
    {"SUBJECT", IMAP_SEARCH_SUBJECT, VALUE_STRING},
    {"TEXT", IMAP_SEARCH_TEXT, VALUE_STRING},
    {"TO", IMAP_SEARCH_TO, VALUE_STRING},
    {"UID", IMAP_SEARCH_UID, VALUE_UIDSET},
    {"UNANSWERED", IMAP_SEARCH_UNANSWERED, VALUE_NONE},
    {"UNDELETED", IMAP_SEARCH_UNDELETED, VALUE_NONE},
    {"UNDRAFT", IMAP_SEARCH_UNDRAFT, VALUE_NONE},
    {"UNFLAGGED", IMAP_SEARCH_UNFLAGGED, VALUE_NONE},
    {"UNKEYWORD", IMAP_SEARCH_UNKEYWORD, VALUE_KEYWORD},
    {"UNSEEN", IMAP_SEARCH_UNSEEN, VALUE_NONE},
    {"MODSEQ", IMAP_SEARCH_MODSEQ, VALUE_MODSEQ},
};

struct search_ctx {
	const struct imap_search_limits *limits;
	unsigned int flags;
	struct imap_search_program *prog;
	const char *error;
};

struct cursor {
	const struct imap_arg *args;
	unsigned int count, pos;
};

const char *
imap_search_key_name(enum imap_search_key key)
{
	size_t i;

	if (key == IMAP_SEARCH_AND)
		return "AND";
	if (key == IMAP_SEARCH_SEQSET)
		return "SEQSET";
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].key == key)
			return keys[i].name;
	}
	return "?";
}

static void
node_free(struct imap_search_node *node)
{
	while (node != NULL) {
		struct imap_search_node *next = node->next;

		node_free(node->children);
		imap_seqset_release(&node->set);
		xfree(&node->header);
		xfree(&node->value);
		xfree(&node->entry_name);
		xfree(&node);
		node = next;
	}
}

void
imap_search_program_free(struct imap_search_program **progp)
{
	struct imap_search_program *prog = *progp;

	if (prog == NULL)
		return;
	node_free(prog->root);
	xfree(&prog->charset);
	xfree(progp);
}

static struct imap_search_node *
new_node(struct search_ctx *ctx, enum imap_search_key key)
{
	struct imap_search_node *node;

	if (ctx->prog->node_count >= ctx->limits->max_nodes) {
		ctx->error = "Search query too complex";
		return NULL;
	}
	ctx->prog->node_count++;
	node = xcalloc(1, sizeof(*node));
	node->key = key;
	imap_seqset_init(&node->set);
	return node;
}

static const struct imap_arg *
next_arg(struct search_ctx *ctx, struct cursor *cur)
{
	if (cur->pos == cur->count) {
		ctx->error = "Missing argument";
		return NULL;
	}
	return &cur->args[cur->pos++];
}

static int
get_astring(struct search_ctx *ctx, struct cursor *cur, char **str_r)
{
	const struct imap_arg *arg = next_arg(ctx, cur);
	const char *s;

	if (arg == NULL)
		return -1;
	if (!imap_arg_get_astring(arg, &s)) {
		ctx->error = "Invalid string argument";
		return -1;
	}
	*str_r = xstrdup(s);
	return 0;
}

static int
parse_u64(const char *s, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*n_r = n;
	return 0;
}

static int
get_number(struct search_ctx *ctx, struct cursor *cur, uint64_t max,
	   uint64_t *n_r)
{
	const struct imap_arg *arg = next_arg(ctx, cur);
	const char *s;

	if (arg == NULL)
		return -1;
	if (!imap_arg_get_atom(arg, &s) || parse_u64(s, max, n_r) < 0) {
		ctx->error = "Invalid number";
		return -1;
	}
	return 0;
}

static int
parse_modseq(struct search_ctx *ctx, struct cursor *cur,
	     struct imap_search_node *node)
{
	const struct imap_arg *arg;
	const char *type;

	if ((ctx->flags & IMAP_SEARCH_ALLOW_MODSEQ) == 0) {
		ctx->error = "Unknown search key";
		return -1;
	}
	ctx->prog->uses_modseq = true;
	if (cur->pos < cur->count &&
	    cur->args[cur->pos].type == IMAP_ARG_QUOTED) {
		arg = &cur->args[cur->pos++];
		if (arg->len < 8 || strncasecmp(arg->str, "/flags/", 7) != 0 ||
		    memchr(arg->str, '\0', arg->len) != NULL) {
			ctx->error = "Invalid MODSEQ entry name";
			return -1;
		}
		node->entry_name = xstrdup(arg->str);
		if ((arg = next_arg(ctx, cur)) == NULL)
			return -1;
		if (!imap_arg_get_atom(arg, &type)) {
			ctx->error = "Invalid MODSEQ entry type";
			return -1;
		}
		if (strcasecmp(type, "priv") == 0)
			node->entry_type = IMAP_SEARCH_ENTRY_PRIV;
		else if (strcasecmp(type, "shared") == 0)
			node->entry_type = IMAP_SEARCH_ENTRY_SHARED;
		else if (strcasecmp(type, "all") == 0)
			node->entry_type = IMAP_SEARCH_ENTRY_ALL;
		else {
			ctx->error = "Invalid MODSEQ entry type";
			return -1;
		}
	}
	return get_number(ctx, cur, MODSEQ_MAX, &node->number);
}

static int
parse_set(struct search_ctx *ctx, const char *s, struct imap_search_node *node)
{
	imap_seqset_release(&node->set);
	if (imap_seqset_parse(s, strlen(s), ctx->limits->max_ranges,
			      (ctx->flags & IMAP_SEARCH_ALLOW_SAVED) != 0,
			      &node->set, &ctx->error) < 0)
		return -1;
	if (node->set.saved)
		ctx->prog->uses_saved = true;
	return 0;
}

static struct imap_search_node *
parse_key(struct search_ctx *ctx, struct cursor *cur, unsigned int depth);

/* Parses keys until the cursor ends; returns the first of a sibling
   list (at least one key). */
static struct imap_search_node *
parse_keys(struct search_ctx *ctx, struct cursor *cur, unsigned int depth)
{
	struct imap_search_node *first = NULL, **tail = &first, *node;

	if (cur->pos == cur->count) {
		ctx->error = "Missing search key";
		return NULL;
	}
	while (cur->pos < cur->count) {
		if ((node = parse_key(ctx, cur, depth)) == NULL) {
			node_free(first);
			return NULL;
		}
		*tail = node;
		tail = &node->next;
	}
	return first;
}

static int
parse_value(struct search_ctx *ctx, struct cursor *cur, enum value_kind kind,
	    struct imap_search_node *node, unsigned int depth)
{
	const struct imap_arg *arg;
	const char *s;

	switch (kind) {
	case VALUE_NONE:
		return 0;
	case VALUE_STRING:
		return get_astring(ctx, cur, (char **)&node->value);
	case VALUE_HEADER:
		if (get_astring(ctx, cur, (char **)&node->header) < 0)
			return -1;
		return get_astring(ctx, cur, (char **)&node->value);
	case VALUE_KEYWORD:
		if ((arg = next_arg(ctx, cur)) == NULL)
			return -1;
		if (!imap_arg_get_atom(arg, &s) || strchr(s, '[') != NULL ||
		    strchr(s, ']') != NULL) {
			ctx->error = "Invalid keyword";
			return -1;
		}
		node->value = xstrdup(s);
		return 0;
	case VALUE_DATE:
		if ((arg = next_arg(ctx, cur)) == NULL)
			return -1;
		if ((arg->type != IMAP_ARG_ATOM &&
		     arg->type != IMAP_ARG_QUOTED) ||
		    imap_date_parse(arg->str, arg->len, &node->date) < 0) {
			ctx->error = "Invalid search date parameter";
			return -1;
		}
		return 0;
	case VALUE_NUMBER:
		return get_number(ctx, cur, UINT64_MAX, &node->number);
	case VALUE_UIDSET:
		if ((arg = next_arg(ctx, cur)) == NULL)
			return -1;
		if (!imap_arg_get_atom(arg, &s)) {
			ctx->error = "Invalid UID set";
			return -1;
		}
		return parse_set(ctx, s, node);
	case VALUE_NOT:
		if (depth >= ctx->limits->max_depth) {
			ctx->error = "Search query too complex";
			return -1;
		}
		node->children = parse_key(ctx, cur, depth + 1);
		return node->children == NULL ? -1 : 0;
	case VALUE_OR:
		if (depth >= ctx->limits->max_depth) {
			ctx->error = "Search query too complex";
			return -1;
		}
		if ((node->children = parse_key(ctx, cur, depth + 1)) == NULL)
			return -1;
		node->children->next = parse_key(ctx, cur, depth + 1);
		return node->children->next == NULL ? -1 : 0;
	case VALUE_MODSEQ:
		return parse_modseq(ctx, cur, node);
	}
	return -1;
}

static struct imap_search_node *
parse_key(struct search_ctx *ctx, struct cursor *cur, unsigned int depth)
{
	const struct imap_arg *arg = next_arg(ctx, cur);
	struct imap_search_node *node;
	const char *s;
	size_t i;

	if (arg == NULL)
		return NULL;
	if (arg->type == IMAP_ARG_LIST) {
		struct cursor sub = {arg->list, arg->count, 0};

		if (depth >= ctx->limits->max_depth) {
			ctx->error = "Search query too complex";
			return NULL;
		}
		if ((node = new_node(ctx, IMAP_SEARCH_AND)) == NULL)
			return NULL;
		node->children = parse_keys(ctx, &sub, depth + 1);
		if (node->children == NULL) {
			node_free(node);
			return NULL;
		}
		return node;
	}
	if (!imap_arg_get_atom(arg, &s)) {
		ctx->error = "Invalid search key";
		return NULL;
	}
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*' || s[0] == '$') {
		if ((node = new_node(ctx, IMAP_SEARCH_SEQSET)) == NULL)
			return NULL;
		if (parse_set(ctx, s, node) < 0) {
			node_free(node);
			return NULL;
		}
		return node;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcasecmp(keys[i].name, s) == 0)
			break;
	}
	if (i == sizeof(keys) / sizeof(keys[0])) {
		ctx->error = "Unknown search key";
		return NULL;
	}
	if ((node = new_node(ctx, keys[i].key)) == NULL)
		return NULL;
	if (parse_value(ctx, cur, keys[i].kind, node, depth) < 0) {
		node_free(node);
		return NULL;
	}
	return node;
}

static int
parse_return(struct search_ctx *ctx, const struct imap_arg *list)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} opts[] = {
	    {"MIN", IMAP_SEARCH_RETURN_MIN},
	    {"MAX", IMAP_SEARCH_RETURN_MAX},
	    {"ALL", IMAP_SEARCH_RETURN_ALL},
	    {"COUNT", IMAP_SEARCH_RETURN_COUNT},
	    {"SAVE", IMAP_SEARCH_RETURN_SAVE},
	};
	unsigned int i;
	size_t j;

	if (list->type != IMAP_ARG_LIST) {
		ctx->error = "Invalid RETURN options";
		return -1;
	}
	ctx->prog->esearch = true;
	for (i = 0; i < list->count; i++) {
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
			if (imap_arg_atom_equals(&list->list[i], opts[j].name))
				break;
		}
		if (j == sizeof(opts) / sizeof(opts[0]) ||
		    (opts[j].bit == IMAP_SEARCH_RETURN_SAVE &&
		     (ctx->flags & IMAP_SEARCH_ALLOW_SAVED) == 0)) {
			ctx->error = "Unknown RETURN option";
			return -1;
		}
		ctx->prog->return_opts |= opts[j].bit;
	}
	if (list->count == 0)
		ctx->prog->return_opts = IMAP_SEARCH_RETURN_ALL;
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, unsigned int count,
		  const struct imap_search_limits *limits, unsigned int flags,
		  struct imap_search_program **prog_r, const char **error_r)
{
	struct search_ctx ctx = {limits, flags, NULL, NULL};
	struct cursor cur = {args, count, 0};
	struct imap_search_program *prog = xcalloc(1, sizeof(*prog));

	ctx.prog = prog;
	*prog_r = NULL;
	if (cur.pos + 1 < count && (flags & IMAP_SEARCH_ALLOW_RETURN) != 0 &&
	    imap_arg_atom_equals(&args[cur.pos], "RETURN")) {
		if (parse_return(&ctx, &args[cur.pos + 1]) < 0)
			goto fail;
		cur.pos += 2;
	}
	if (cur.pos < count &&
	    imap_arg_atom_equals(&args[cur.pos], "CHARSET")) {
		const char *cs;

		if (cur.pos + 1 == count ||
		    !imap_arg_get_astring(&args[cur.pos + 1], &cs)) {
			ctx.error = "Invalid CHARSET";
			goto fail;
		}
		prog->charset = xstrdup(cs);
		cur.pos += 2;
	}
	if ((prog->root = new_node(&ctx, IMAP_SEARCH_AND)) == NULL)
		goto fail;
	if ((prog->root->children = parse_keys(&ctx, &cur, 0)) == NULL)
		goto fail;
	*prog_r = prog;
	return 0;
fail:
	*error_r = ctx.error != NULL ? ctx.error : "Invalid search";
	imap_search_program_free(&prog);
	return -1;
}

static const char *
entry_type_name(enum imap_search_entry_type t)
{
	switch (t) {
	case IMAP_SEARCH_ENTRY_PRIV:
		return "priv";
	case IMAP_SEARCH_ENTRY_SHARED:
		return "shared";
	case IMAP_SEARCH_ENTRY_ALL:
		return "all";
	default:
		return "";
	}
}

static int
dump_quoted(struct strbuf *sb, const char *s)
{
	int ret = strbuf_append_char(sb, '"');

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 32 && c < 127 && c != '"' && c != '\\')
			ret |= strbuf_append_char(sb, (char)c);
		else
			ret |= strbuf_printf(sb, "\\x%02X", c);
	}
	return ret | strbuf_append_char(sb, '"');
}

static int
dump_node(const struct imap_search_node *node, struct strbuf *sb)
{
	const struct imap_search_node *c;
	int ret = strbuf_append_char(sb, '(');

	ret |= strbuf_append_str(sb, imap_search_key_name(node->key));
	if (node->header != NULL) {
		ret |= strbuf_append_char(sb, ' ');
		ret |= dump_quoted(sb, node->header);
	}
	if (node->value != NULL) {
		ret |= strbuf_append_char(sb, ' ');
		ret |= dump_quoted(sb, node->value);
	}
	switch (node->key) {
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		ret |= strbuf_append_char(sb, ' ');
		ret |= imap_date_format(sb, &node->date);
		break;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_MODSEQ:
		if (node->entry_name != NULL) {
			ret |= strbuf_append_char(sb, ' ');
			ret |= dump_quoted(sb, node->entry_name);
			ret |= strbuf_printf(sb, " %s",
					     entry_type_name(node->entry_type));
		}
		ret |= strbuf_printf(sb, " %llu",
				     (unsigned long long)node->number);
		break;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
		ret |= strbuf_append_char(sb, ' ');
		ret |= imap_seqset_format(&node->set, sb);
		break;
	default:
		break;
	}
	for (c = node->children; c != NULL; c = c->next) {
		ret |= strbuf_append_char(sb, ' ');
		ret |= dump_node(c, sb);
	}
	return ret | strbuf_append_char(sb, ')');
}

int
imap_search_program_dump(const struct imap_search_program *prog,
			 struct strbuf *sb)
{
	int ret = 0;

	if (prog->esearch)
		ret |= strbuf_printf(
		    sb, "RETURN=%s%s%s%s%s ",
		    prog->return_opts & IMAP_SEARCH_RETURN_MIN ? "m" : "",
		    prog->return_opts & IMAP_SEARCH_RETURN_MAX ? "M" : "",
		    prog->return_opts & IMAP_SEARCH_RETURN_ALL ? "A" : "",
		    prog->return_opts & IMAP_SEARCH_RETURN_COUNT ? "C" : "",
		    prog->return_opts & IMAP_SEARCH_RETURN_SAVE ? "S" : "");
	if (prog->charset != NULL)
		ret |= strbuf_printf(sb, "CHARSET=%s ", prog->charset);
	ret |= dump_node(prog->root, sb);
	ret |= strbuf_printf(sb, " nodes=%u", prog->node_count);
	return ret < 0 ? -1 : 0;
}
