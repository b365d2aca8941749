/*
 * cmd_list - LIST (RFC 3501, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
 * SPECIAL-USE RFC 6154, CHILDREN RFC 3348) and LSUB over
 * mail/mail_folders.h, and the table of imapd's folder commands (the
 * others live in cmd_mailbox.c and cmd_status.c).
 *
 * Patterns and the reference come from the authenticated client
 * (untrusted): decoded like mailbox names, bounded in length
 * (FOLDERS_ARG_MAX) and number (LIST_PATTERNS_MAX).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "folders_private.h"
#include "login/session_host.h"
#include "mail/imap_write.h"
#include "mail/mail_folders.h"
#include "mail/mail_params.h"
#include "mail/maildir.h"
#include "mail/mutf7.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Most patterns in one LIST. */
#define LIST_PATTERNS_MAX 100

/* ---- LIST / LSUB ---- */

#define SEL_SUBSCRIBED 0x01
#define SEL_RECURSIVEMATCH 0x02
#define SEL_SPECIALUSE 0x04
#define SEL_REMOTE 0x08

#define RET_SUBSCRIBED 0x01
#define RET_CHILDREN 0x02
#define RET_SPECIALUSE 0x04
#define RET_STATUS 0x08

struct list_cand {
	char *name;
	bool subscribed;
	bool child_subscribed; /* a name below it is subscribed */
	bool parent_only;      /* only there as a parent of a subscription */
};

struct list_ctx {
	struct imap_client *c;
	bool lsub, listext;
	unsigned int sel, ret, status_items;
	char **patterns;
	unsigned int npatterns;
	bool lsub_parents; /* LSUB: some pattern ends in '%' */
	unsigned int empty_patterns; /* patterns given as "" */
	struct mail_folder_list folders;
	struct mail_subs subs;
	struct list_cand *cands;
	size_t ncands;
};

static int
cand_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_cand *)a)->name,
		      ((const struct list_cand *)b)->name);
}

static void
cand_add(struct list_ctx *ctx, size_t *alloc, const char *name, bool subs,
	 bool child_subs)
{
	if (ctx->ncands == *alloc) {
		*alloc = *alloc == 0 ? 32 : *alloc * 2;
		ctx->cands = xreallocarray(ctx->cands, *alloc,
					   sizeof(*ctx->cands));
	}
	ctx->cands[ctx->ncands].name = xstrdup(name);
	ctx->cands[ctx->ncands].subscribed = subs;
	ctx->cands[ctx->ncands].child_subscribed = child_subs;
	ctx->cands[ctx->ncands].parent_only = !subs;
	ctx->ncands++;
}

/* The candidate names: subscriptions (and their parents) or the tree. */
static void
list_build_cands(struct list_ctx *ctx)
{
	size_t alloc = 0, n = 0;

	if (ctx->lsub || (ctx->sel & SEL_SUBSCRIBED) != 0) {
		for (size_t i = 0; i < ctx->subs.count; i++) {
			const char *s = ctx->subs.entries[i].name;

			if (s == NULL)
				continue;
			cand_add(ctx, &alloc, s, true, false);
			for (const char *p = strchr(s, MAIL_FOLDERS_SEP);
			     p != NULL; p = strchr(p + 1, MAIL_FOLDERS_SEP)) {
				char *parent = xstrndup(s, (size_t)(p - s));

				cand_add(ctx, &alloc, parent, false, true);
				xfree(&parent);
			}
		}
	} else {
		for (size_t i = 0; i < ctx->folders.count; i++)
			cand_add(ctx, &alloc, ctx->folders.items[i].name,
				 false, false);
	}
	qsort(ctx->cands, ctx->ncands, sizeof(*ctx->cands), cand_cmp);
	for (size_t i = 0; i < ctx->ncands; i++) {
		struct list_cand *cd = &ctx->cands[i];

		if (n > 0 && strcmp(ctx->cands[n - 1].name, cd->name) == 0) {
			struct list_cand *prev = &ctx->cands[n - 1];

			prev->subscribed |= cd->subscribed;
			prev->child_subscribed |= cd->child_subscribed;
			prev->parent_only &= cd->parent_only;
			xfree(&cd->name);
			continue;
		}
		ctx->cands[n++] = *cd;
	}
	ctx->ncands = n;
	if (!ctx->lsub && (ctx->sel & SEL_SUBSCRIBED) == 0) {
		for (size_t i = 0; i < ctx->ncands; i++)
			ctx->cands[i].subscribed =
			    mail_subs_contains(&ctx->subs, ctx->cands[i].name);
	}
}

static int
list_match(const struct list_ctx *ctx, const char *name)
{
	int m = MAIL_MATCH_NO;

	for (unsigned int i = 0; i < ctx->npatterns; i++) {
		int r = mail_folders_match(ctx->patterns[i], name);

		if (r == MAIL_MATCH_YES)
			return r;
		m |= r;
	}
	return m;
}

static void
list_send_one(struct list_ctx *ctx, const struct list_cand *cd)
{
	struct imap_client *c = ctx->c;
	const struct mail_folder_info *fi =
	    mail_folder_list_find(&ctx->folders, cd->name);
	bool exists = fi != NULL && (fi->flags & MAIL_FOLDER_NONEXISTENT) == 0;
	bool selectable = exists && (fi->flags & MAIL_FOLDER_NOSELECT) == 0;
	const char *su =
	    exists ? folders_special_use_of(cd->name, NULL, NULL) : NULL;
	struct strbuf sb, attrs;

	if (list_match(ctx, cd->name) != MAIL_MATCH_YES)
		return;
	strbuf_init(&attrs, 256);
	if (ctx->lsub) {
		/* RFC 3501 6.3.9: an unsubscribed parent shown for "%" */
		if (!cd->subscribed) {
			if (!ctx->lsub_parents)
				goto out;
			(void)strbuf_append_str(&attrs, "\\Noselect ");
		}
	} else {
		if ((ctx->sel & SEL_SUBSCRIBED) != 0 && !cd->subscribed &&
		    !((ctx->sel & SEL_RECURSIVEMATCH) != 0 &&
		      cd->child_subscribed))
			goto out;
		if ((ctx->sel & SEL_SPECIALUSE) != 0 && su == NULL)
			goto out;
		if (cd->subscribed && (ctx->ret & RET_SUBSCRIBED) != 0)
			(void)strbuf_append_str(&attrs, "\\Subscribed ");
		if (!exists)
			(void)strbuf_append_str(&attrs, ctx->listext
							    ? "\\NonExistent "
							    : "\\Noselect ");
		else if (!selectable)
			(void)strbuf_append_str(&attrs, "\\Noselect ");
		if ((ctx->ret & RET_CHILDREN) != 0) {
			(void)strbuf_append_str(
			    &attrs, mail_folder_list_has_children(&ctx->folders,
								  cd->name)
					? "\\HasChildren "
					: "\\HasNoChildren ");
		}
		if (su != NULL && (ctx->ret & RET_SPECIALUSE) != 0) {
			(void)strbuf_append_str(&attrs, su);
			(void)strbuf_append_char(&attrs, ' ');
		}
	}
	if (attrs.len > 0)
		strbuf_truncate(&attrs, attrs.len - 1);
	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)strbuf_printf(&sb, "* %s (%s) \"%c\" ",
			    ctx->lsub ? "LSUB" : "LIST",
			    attrs.data != NULL ? attrs.data : "",
			    MAIL_FOLDERS_SEP);
	folders_append_name(c, &sb, cd->name);
	if (!ctx->lsub && (ctx->sel & SEL_RECURSIVEMATCH) != 0 &&
	    cd->child_subscribed)
		(void)strbuf_append_str(&sb,
					" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	client_send_line(c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	if ((ctx->ret & RET_STATUS) != 0 && selectable) {
		/* RFC 5819: the STATUS reply follows the LIST reply; a
		 * mailbox whose status fails is left out */
		char *dir = mail_folders_dir(c->folders, cd->name);
		const char *error;

		if (cmd_status_send(c, cd->name, dir, ctx->status_items,
				    &error) < 0)
			log_warning("%s: LIST-STATUS %s: %s", c->user, dir,
				    error);
		xfree(&dir);
	}
	client_flush_if_big(c);
out:
	strbuf_release(&attrs);
}

static void
list_ctx_free(struct list_ctx *ctx)
{
	for (unsigned int i = 0; i < ctx->npatterns; i++)
		xfree(&ctx->patterns[i]);
	xfree(&ctx->patterns);
	for (size_t i = 0; i < ctx->ncands; i++)
		xfree(&ctx->cands[i].name);
	xfree(&ctx->cands);
	mail_folder_list_free(&ctx->folders);
	mail_subs_clear(&ctx->subs);
}

static bool
parse_select_opts(struct list_ctx *ctx, const struct imap_arg *list)
{
	for (unsigned int i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];

		if (imap_arg_atom_equals(a, "SUBSCRIBED"))
			ctx->sel |= SEL_SUBSCRIBED;
		else if (imap_arg_atom_equals(a, "RECURSIVEMATCH"))
			ctx->sel |= SEL_RECURSIVEMATCH;
		else if (imap_arg_atom_equals(a, "SPECIAL-USE"))
			ctx->sel |= SEL_SPECIALUSE;
		else if (imap_arg_atom_equals(a, "REMOTE"))
			ctx->sel |= SEL_REMOTE; /* no remote mailboxes */
		else {
			client_send_tagged(ctx->c, "BAD",
					   "Error in IMAP command LIST: "
					   "Unknown selection option");
			return false;
		}
	}
	/* RFC 5258 3.1: RECURSIVEMATCH needs another selection option */
	if ((ctx->sel & SEL_RECURSIVEMATCH) != 0 &&
	    (ctx->sel & (SEL_SUBSCRIBED | SEL_SPECIALUSE)) == 0) {
		client_send_tagged(ctx->c, "BAD",
				   "Error in IMAP command LIST: "
				   "RECURSIVEMATCH must not be the only "
				   "selection.");
		return false;
	}
	if ((ctx->sel & SEL_SUBSCRIBED) != 0)
		ctx->ret |= RET_SUBSCRIBED;
	if ((ctx->sel & SEL_SPECIALUSE) != 0)
		ctx->ret |= RET_SPECIALUSE;
	return true;
}

static bool
parse_return_opts(struct list_ctx *ctx, const struct imap_arg *list)
{
	for (unsigned int i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];

		if (imap_arg_atom_equals(a, "SUBSCRIBED"))
			ctx->ret |= RET_SUBSCRIBED;
		else if (imap_arg_atom_equals(a, "CHILDREN"))
			ctx->ret |= RET_CHILDREN;
		else if (imap_arg_atom_equals(a, "SPECIAL-USE"))
			ctx->ret |= RET_SPECIALUSE;
		else if (imap_arg_atom_equals(a, "STATUS") &&
			 i + 1 < list->count) {
			ctx->status_items =
			    cmd_status_items_parse(ctx->c, &list->list[++i]);
			if (ctx->status_items == 0)
				return false;
			ctx->ret |= RET_STATUS;
		} else {
			client_send_tagged(ctx->c, "BAD",
					   "Error in IMAP command LIST: "
					   "Unknown return option");
			return false;
		}
	}
	return true;
}

/* LIST ref "": the hierarchy separator and the reference's root. */
static void
list_send_root(struct list_ctx *ctx, const char *ref)
{
	const char *sep = strchr(ref, MAIL_FOLDERS_SEP);
	char *root = sep != NULL ? xstrndup(ref, (size_t)(sep - ref) + 1)
				 : xstrdup("");
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)strbuf_printf(&sb, "* %s (\\Noselect) \"%c\" ",
			    ctx->lsub ? "LSUB" : "LIST", MAIL_FOLDERS_SEP);
	if (root[0] == '\0')
		(void)strbuf_append_str(&sb, "\"\"");
	else
		folders_append_name(ctx->c, &sb, root);
	client_send_line(ctx->c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	xfree(&root);
}

static bool
add_pattern(struct list_ctx *ctx, const char *ref, const struct imap_arg *arg)
{
	const char *s;
	char *pat;

	if (!imap_arg_get_astring(arg, &s) || strlen(s) > FOLDERS_ARG_MAX ||
	    ctx->npatterns >= LIST_PATTERNS_MAX) {
		client_send_tagged(ctx->c, "BAD",
				   "Error in IMAP command %s: Invalid pattern",
				   ctx->c->cmd_name);
		return false;
	}
	if ((pat = folders_decode_name(ctx->c, s)) == NULL) {
		client_send_tagged(ctx->c, "BAD",
				   "Error in IMAP command %s: Pattern is not "
				   "valid %s",
				   ctx->c->cmd_name,
				   (ctx->c->enabled & (IMAP_ENABLED_UTF8 |
						       IMAP_ENABLED_IMAP4REV2))
				       ? "UTF-8"
				       : "mUTF-7");
		return false;
	}
	ctx->patterns = xreallocarray(ctx->patterns, ctx->npatterns + 1,
				      sizeof(char *));
	/* Maildir++ as Dovecot: the reference is prefixed as is */
	ctx->patterns[ctx->npatterns++] = xasprintf("%s%s", ref, pat);
	if (pat[0] == '\0')
		ctx->empty_patterns++;
	else if (pat[strlen(pat) - 1] == '%')
		ctx->lsub_parents = true;
	xfree(&pat);
	return true;
}

static void
list_run(struct imap_client *c, const struct imap_arg *args,
	 unsigned int count, bool lsub)
{
	struct list_ctx ctx;
	const char *error, *s;
	char *ref = NULL;
	unsigned int i = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.c = c;
	ctx.lsub = lsub;
	if (!lsub && count > 0 && args[0].type == IMAP_ARG_LIST) {
		ctx.listext = true;
		if (!parse_select_opts(&ctx, &args[0]))
			goto out;
		i++;
	}
	if (count < i + 2 || !imap_arg_get_astring(&args[i], &s)) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Invalid "
				   "arguments.",
				   c->cmd_name);
		goto out;
	}
	if ((ref = folders_decode_name(c, s)) == NULL) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Reference is "
				   "not valid mUTF-7",
				   c->cmd_name);
		goto out;
	}
	i++;
	if (!lsub && args[i].type == IMAP_ARG_LIST) {
		ctx.listext = true;
		if (args[i].count == 0) {
			client_send_tagged(c, "BAD",
					   "Error in IMAP command LIST: Empty "
					   "pattern list");
			goto out;
		}
		for (unsigned int j = 0; j < args[i].count; j++)
			if (!add_pattern(&ctx, ref, &args[i].list[j]))
				goto out;
	} else if (!add_pattern(&ctx, ref, &args[i])) {
		goto out;
	}
	i++;
	if (!lsub && i + 2 == count &&
	    imap_arg_atom_equals(&args[i], "RETURN") &&
	    args[i + 1].type == IMAP_ARG_LIST) {
		ctx.listext = true;
		if (!parse_return_opts(&ctx, &args[i + 1]))
			goto out;
		i += 2;
	}
	if (i != count) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Invalid "
				   "arguments.",
				   c->cmd_name);
		goto out;
	}
	if (!ctx.listext) {
		/* plain LIST: CHILDREN and SPECIAL-USE always, as Dovecot */
		ctx.ret |= RET_CHILDREN | RET_SPECIALUSE;
	}
	if (ctx.npatterns == 1 && ctx.empty_patterns == 1) {
		/* RFC 3501 6.3.8: LIST "" "" asks for the separator */
		list_send_root(&ctx, ref);
		client_send_tagged(c, "OK", "%s completed (0.000 secs).",
				   lsub ? "Lsub" : "List");
		goto out;
	}
	if (mail_folders_list(c->folders, &ctx.folders, &error) < 0 ||
	    mail_subs_read(c->folders, &ctx.subs, &error) < 0) {
		folders_send_serverbug(c, "list", error);
		goto out;
	}
	list_build_cands(&ctx);
	/* INBOX first, as Dovecot */
	for (size_t k = 0; k < ctx.ncands; k++)
		if (strcmp(ctx.cands[k].name, "INBOX") == 0)
			list_send_one(&ctx, &ctx.cands[k]);
	for (size_t k = 0; k < ctx.ncands && !c->disconnect; k++)
		if (strcmp(ctx.cands[k].name, "INBOX") != 0)
			list_send_one(&ctx, &ctx.cands[k]);
	client_send_tagged(c, "OK", "%s completed (0.000 secs).",
			   lsub ? "Lsub" : "List");
out:
	xfree(&ref);
	list_ctx_free(&ctx);
}

static void
cmd_list(struct imap_client *c, const struct imap_arg *args,
	 unsigned int count)
{
	list_run(c, args, count, false);
}

static void
cmd_lsub(struct imap_client *c, const struct imap_arg *args,
	 unsigned int count)
{
	list_run(c, args, count, true);
}

const struct imap_command_def imap_cmds_list[] = {
    {"LIST", cmd_list, IMAP_CMD_AUTH},
    {"LSUB", cmd_lsub, IMAP_CMD_AUTH},
    {"CREATE", cmd_create, IMAP_CMD_AUTH},
    {"DELETE", cmd_delete, IMAP_CMD_AUTH},
    {"RENAME", cmd_rename, IMAP_CMD_AUTH},
    {"SUBSCRIBE", cmd_subscribe, IMAP_CMD_AUTH},
    {"UNSUBSCRIBE", cmd_unsubscribe, IMAP_CMD_AUTH},
    {"STATUS", cmd_status, IMAP_CMD_AUTH},
    {"GETQUOTAROOT", cmd_getquotaroot, IMAP_CMD_AUTH},
    {"GETQUOTA", cmd_getquota, IMAP_CMD_AUTH},
    {"SETQUOTA", cmd_setquota, IMAP_CMD_AUTH},
    {NULL, NULL, 0},
};
