/*
 * rfc822_header_addr - address lists for IMAP ENVELOPE (RFC 5322 3.4 with
 * the obsolete forms): groups, display names, comments, source routes.
 * Broken input is recovered from the way Dovecot 2.3's message-address.c
 * does (missing parts become MISSING_MAILBOX / MISSING_DOMAIN), so that the
 * ENVELOPE of a broken message is the same under both servers. Input is
 * untrusted, bounded by the length and the address count the caller gives.
 * No I/O, no logging.
 */
#include "mail/rfc822_header.h"

#include <string.h>

#include "util/xmem.h"

struct addr_ctx {
	struct rfc822_lex lx;
	struct strbuf str, comment;
	struct rfc822_address addr; /* being built */
	struct rfc822_address *head, **tail;
	unsigned int count, max;
};

static char *
dup_str(const struct strbuf *sb)
{
	return xstrdup(strbuf_cstr(sb));
}

static void
addr_reset(struct rfc822_address *a)
{
	xfree(&a->name);
	xfree(&a->route);
	xfree(&a->mailbox);
	xfree(&a->domain);
	memset(a, 0, sizeof(*a));
}

static void
add_address(struct addr_ctx *ctx)
{
	struct rfc822_address *a;

	if (ctx->count >= ctx->max) {
		addr_reset(&ctx->addr);
		return;
	}
	a = xmalloc(sizeof(*a));
	*a = ctx->addr;
	a->next = NULL;
	memset(&ctx->addr, 0, sizeof(ctx->addr));
	*ctx->tail = a;
	ctx->tail = &a->next;
	ctx->count++;
}

static void
add_fixed_address(struct addr_ctx *ctx)
{
	if (ctx->addr.mailbox == NULL) {
		ctx->addr.mailbox = xstrdup("MISSING_MAILBOX");
		ctx->addr.invalid = true;
	}
	if (ctx->addr.domain == NULL || ctx->addr.domain[0] == '\0') {
		xfree(&ctx->addr.domain);
		ctx->addr.domain = xstrdup("MISSING_DOMAIN");
		ctx->addr.invalid = true;
	}
	add_address(ctx);
}

static int
parse_local_part(struct addr_ctx *ctx)
{
	int ret;

	strbuf_reset(&ctx->str);
	if (*ctx->lx.data == '"')
		ret = rfc822_lex_quoted_string(&ctx->lx, &ctx->str);
	else
		ret = rfc822_lex_local_part(&ctx->lx, &ctx->str);
	if (ret < 0)
		return -1;
	xfree(&ctx->addr.mailbox);
	ctx->addr.mailbox = dup_str(&ctx->str);
	return ret;
}

static int
parse_domain(struct addr_ctx *ctx)
{
	int ret;

	strbuf_reset(&ctx->str);
	if ((ret = rfc822_lex_domain(&ctx->lx, &ctx->str)) < 0)
		return -1;
	xfree(&ctx->addr.domain);
	ctx->addr.domain = dup_str(&ctx->str);
	return ret;
}

static int
parse_domain_list(struct addr_ctx *ctx)
{
	int ret;

	/* obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain) */
	strbuf_reset(&ctx->str);
	for (;;) {
		if (ctx->lx.data >= ctx->lx.end)
			return 0;
		if (*ctx->lx.data != '@')
			break;
		if (ctx->str.len > 0 && strbuf_append_char(&ctx->str, ',') < 0)
			return -1;
		if (strbuf_append_char(&ctx->str, '@') < 0)
			return -1;
		if ((ret = rfc822_lex_domain(&ctx->lx, &ctx->str)) <= 0)
			return ret;
		while (rfc822_lex_skip_lwsp(&ctx->lx) > 0 &&
		       *ctx->lx.data == ',')
			ctx->lx.data++;
	}
	xfree(&ctx->addr.route);
	ctx->addr.route = dup_str(&ctx->str);
	return 1;
}

static int
parse_angle_addr(struct addr_ctx *ctx)
{
	ctx->lx.data++; /* '<' */
	if (rfc822_lex_skip_lwsp(&ctx->lx) <= 0)
		return -1;
	if (*ctx->lx.data == '@') {
		if (parse_domain_list(ctx) > 0 && *ctx->lx.data == ':') {
			ctx->lx.data++;
		} else {
			xfree(&ctx->addr.route);
			ctx->addr.route = xstrdup("INVALID_ROUTE");
			if (ctx->lx.data >= ctx->lx.end)
				return -1;
		}
		if (rfc822_lex_skip_lwsp(&ctx->lx) <= 0)
			return -1;
	}
	if (*ctx->lx.data != '>') {
		if (parse_local_part(ctx) <= 0)
			return -1;
		if (*ctx->lx.data == '@') {
			if (parse_domain(ctx) <= 0)
				return -1;
		}
	}
	if (*ctx->lx.data != '>')
		return -1;
	ctx->lx.data++;
	return rfc822_lex_skip_lwsp(&ctx->lx);
}

static int
parse_name_addr(struct addr_ctx *ctx)
{
	strbuf_reset(&ctx->str);
	if (ctx->lx.data >= ctx->lx.end)
		return -1;
	if (*ctx->lx.data != '<') {
		if (rfc822_lex_phrase(&ctx->lx, &ctx->str) <= 0 ||
		    *ctx->lx.data != '<')
			return -1;
	}
	xfree(&ctx->addr.name);
	if (ctx->str.len > 0)
		ctx->addr.name = dup_str(&ctx->str);
	if (parse_angle_addr(ctx) < 0) {
		xfree(&ctx->addr.domain);
		ctx->addr.domain = xstrdup("SYNTAX_ERROR");
		ctx->addr.invalid = true;
	}
	return ctx->lx.data < ctx->lx.end ? 1 : 0;
}

static int
parse_addr_spec(struct addr_ctx *ctx)
{
	bool quoted = *ctx->lx.data == '"';
	int ret, ret2 = -2;

	strbuf_reset(&ctx->comment);
	ret = parse_local_part(ctx);
	if (ret <= 0)
		ctx->addr.invalid = true;
	if (ret != 0 && ctx->lx.data < ctx->lx.end && *ctx->lx.data == '@') {
		ret2 = parse_domain(ctx);
		if (ret2 <= 0)
			ret = ret2;
	}
	if (ctx->comment.len > 0) {
		xfree(&ctx->addr.name);
		ctx->addr.name = dup_str(&ctx->comment);
	} else if (ret2 == -2) {
		/* "user" alone is a mailbox without domain, but words after
		   it make it all a display name */
		size_t orig_len;

		/* Dovecot's string has two blanks after a final '.' (so the
		   name is sent as a literal); for_humans() makes it one */
		if (ctx->str.len > 0 && ctx->str.data[ctx->str.len - 1] == '.')
			(void)strbuf_append_char(&ctx->str, ' ');
		(void)strbuf_append_char(&ctx->str, ' ');
		orig_len = ctx->str.len;
		(void)rfc822_lex_phrase(&ctx->lx, &ctx->str);
		if (ctx->str.len != orig_len) {
			xfree(&ctx->addr.mailbox);
			xfree(&ctx->addr.name);
			ctx->addr.name = dup_str(&ctx->str);
		} else if (!quoted) {
			xfree(&ctx->addr.domain);
			ctx->addr.domain = xstrdup("");
		}
		ctx->addr.invalid = true;
		ret = -1;
	}
	return ret;
}

static int
parse_mailbox(struct addr_ctx *ctx)
{
	const unsigned char *start = ctx->lx.data;
	int ret;

	if ((ret = parse_name_addr(ctx)) < 0) {
		addr_reset(&ctx->addr);
		ctx->lx.data = start;
		ret = parse_addr_spec(ctx);
		if (ctx->addr.invalid && ctx->addr.name == NULL &&
		    ctx->addr.mailbox != NULL && ctx->addr.domain == NULL) {
			/* a lone quoted word is a name, not a mailbox */
			ctx->addr.name = ctx->addr.mailbox;
			ctx->addr.mailbox = NULL;
		}
	}
	if (ret < 0)
		ctx->addr.invalid = true;
	add_fixed_address(ctx);
	return ret;
}

static int
parse_group(struct addr_ctx *ctx)
{
	int ret;

	strbuf_reset(&ctx->str);
	if (rfc822_lex_phrase(&ctx->lx, &ctx->str) <= 0 || *ctx->lx.data != ':')
		return -1;
	/* from here on it is a group, however broken */
	ctx->lx.data++;
	if ((ret = rfc822_lex_skip_lwsp(&ctx->lx)) <= 0)
		ctx->addr.invalid = true;
	ctx->addr.mailbox = dup_str(&ctx->str);
	add_address(ctx);

	if (ret > 0 && *ctx->lx.data != ';') {
		/* as Dovecot: a broken mailbox does not end the group */
		for (;;) {
			(void)parse_mailbox(ctx);
			if (ctx->lx.data >= ctx->lx.end || *ctx->lx.data != ',')
				break;
			ctx->lx.data++;
			if (rfc822_lex_skip_lwsp(&ctx->lx) <= 0) {
				ret = -1;
				break;
			}
		}
	}
	if (ret >= 0) {
		if (ctx->lx.data >= ctx->lx.end || *ctx->lx.data != ';') {
			ret = -1;
		} else {
			ctx->lx.data++;
			ret = rfc822_lex_skip_lwsp(&ctx->lx);
		}
	}
	if (ret < 0)
		ctx->addr.invalid = true;
	add_address(ctx); /* the group's end */
	return ret == 0 ? 0 : 1;
}

static int
parse_address(struct addr_ctx *ctx)
{
	const unsigned char *start = ctx->lx.data;
	int ret;

	if ((ret = parse_group(ctx)) < 0) {
		addr_reset(&ctx->addr);
		ctx->lx.data = start;
		ret = parse_mailbox(ctx);
	}
	return ret;
}

static void
parse_address_list(struct addr_ctx *ctx)
{
	int ret;

	while (ctx->count < ctx->max) {
		if ((ret = parse_address(ctx)) == 0)
			break;
		if (ctx->lx.data >= ctx->lx.end || *ctx->lx.data != ',')
			break;
		ctx->lx.data++;
		if ((ret = rfc822_lex_skip_lwsp(&ctx->lx)) <= 0) {
			if (ret < 0)
				add_fixed_address(ctx); /* trailing garbage */
			break;
		}
	}
}

struct rfc822_address *
rfc822_address_parse(const char *value, size_t len, unsigned int max_addresses)
{
	struct addr_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.tail = &ctx.head;
	ctx.max = max_addresses;
	/* no token is longer than the input, plus separators */
	strbuf_init(&ctx.str, 2 * len + 16);
	strbuf_init(&ctx.comment, len + 16);
	rfc822_lex_init(&ctx.lx, value, len, &ctx.comment);
	if (rfc822_lex_skip_lwsp(&ctx.lx) > 0)
		parse_address_list(&ctx);
	addr_reset(&ctx.addr);
	strbuf_release(&ctx.str);
	strbuf_release(&ctx.comment);
	return ctx.head;
}

void
rfc822_address_free(struct rfc822_address **list)
{
	struct rfc822_address *a = *list, *next;

	for (; a != NULL; a = next) {
		next = a->next;
		addr_reset(a);
		xfree(&a);
	}
	*list = NULL;
}
