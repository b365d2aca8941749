/*
 * cmd_list - the mailbox tree commands: LIST (RFC 3501, LIST-EXTENDED RFC
 * 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154, CHILDREN RFC 3348),
 * LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS and the
 * read-only QUOTA commands (RFC 9208: GETQUOTAROOT, GETQUOTA; SETQUOTA is
 * refused), over mail/mail_folders.h. Also the folder helpers of imapd.h
 * (imap_folder_dir, imap_mailbox_arg, imap_folders_init/deinit).
 *
 * Arguments come from the authenticated client (untrusted): every name is
 * decoded (modified UTF-7 unless UTF8=ACCEPT/IMAP4rev2) and checked by
 * mail_folders_name_check() before it becomes a path. The configuration
 * (imap_special_use, imap_autocreate) and the userdb quota_rule are
 * trusted but still parsed defensively.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"
#include "login/session_host.h"
#include "mail/imap_write.h"
#include "mail/mail_folders.h"
#include "mail/mail_params.h"
#include "mail/maildir.h"
#include "mail/mutf7.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Longest mailbox name or pattern argument accepted (bytes). */
#define MAILBOX_ARG_MAX 4096
/* Most patterns in one LIST. */
#define LIST_PATTERNS_MAX 100

#define SERVERBUG                                                              \
	"[SERVERBUG] Internal error occurred. Refer to server log for more "   \
	"information."

static void
send_serverbug(struct imap_client *c, const char *what, const char *error)
{
	log_error("%s: %s: %s: %s", c->user, c->cmd_name, what, error);
	client_send_tagged(c, "NO", SERVERBUG);
}

/* ---- names ---- */

static char *
decode_name(struct imap_client *c, const char *s)
{
	struct strbuf sb;

	strbuf_init(&sb, MAILBOX_ARG_MAX * 2);
	if ((c->enabled & (IMAP_ENABLED_UTF8 | IMAP_ENABLED_IMAP4REV2)) != 0) {
		/* the encoder validates the UTF-8 */
		if (mutf7_encode(s, &sb) < 0) {
			strbuf_release(&sb);
			return NULL;
		}
		strbuf_release(&sb);
		return xstrdup(s);
	}
	if (mutf7_decode(s, &sb) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	if (sb.data == NULL)
		return xstrdup("");
	return strbuf_steal(&sb);
}

char *
imap_mailbox_arg(struct imap_client *c, const struct imap_arg *arg)
{
	const char *s;
	char *name;

	if (!imap_arg_get_astring(arg, &s)) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Invalid mailbox "
				   "name argument",
				   c->cmd_name);
		return NULL;
	}
	if (strlen(s) > MAILBOX_ARG_MAX) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Mailbox name "
				   "too long",
				   c->cmd_name);
		return NULL;
	}
	if ((name = decode_name(c, s)) == NULL) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Mailbox name "
				   "is not valid %s",
				   c->cmd_name,
				   (c->enabled & (IMAP_ENABLED_UTF8 |
						  IMAP_ENABLED_IMAP4REV2)) != 0
				       ? "UTF-8"
				       : "mUTF-7");
		return NULL;
	}
	return name;
}

char *
imap_folder_dir(struct imap_client *c, const char *name, const char **error_r)
{
	char *canon, *dir;

	if (c->folders == NULL) {
		*error_r = "No mail storage";
		return NULL;
	}
	if ((canon = mail_folders_name_check(name, error_r)) == NULL)
		return NULL;
	dir = mail_folders_dir(c->folders, canon);
	xfree(&canon);
	if (dir == NULL)
		*error_r = "Invalid mailbox name";
	return dir;
}

/* Decodes and checks a mailbox argument: the canonical name, or NULL
 * with the reply sent. Names breaking the rules get NO, as Dovecot. */
static char *
mailbox_arg_checked(struct imap_client *c, const struct imap_arg *arg)
{
	const char *error;
	char *name, *canon;

	if ((name = imap_mailbox_arg(c, arg)) == NULL)
		return NULL;
	canon = mail_folders_name_check(name, &error);
	if (canon == NULL)
		client_send_tagged(c, "NO", "[CANNOT] Invalid mailbox name: %s",
				   error);
	xfree(&name);
	return canon;
}

/* Appends a mailbox name for a reply. */
static void
append_mailbox(struct imap_client *c, struct strbuf *sb, const char *name)
{
	if (imap_write_mailbox(sb, name, client_write_flags(c)) < 0)
		(void)imap_write_quoted(sb, "", 0);
}

static void
send_nonexistent(struct imap_client *c, const char *name)
{
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	append_mailbox(c, &sb, name);
	client_send_tagged(c, "NO", "[NONEXISTENT] Mailbox doesn't exist: %s",
			   strbuf_cstr(&sb));
	strbuf_release(&sb);
}

/* ---- special-use ---- */

static const char *const special_uses[] = {
    "All", "Archive", "Drafts", "Flagged", "Junk", "Sent", "Trash",
};

/* The special-use attribute ("\Sent") of name per imap_special_use
 * ("Sent=Sent Trash=Deleted Messages" is not possible: names are
 * whitespace-free), or NULL. Calls fn for each entry when name is NULL. */
static const char *
special_use_of(const char *name, void (*fn)(void *ctx, const char *use,
					     const char *folder),
	       void *ctx)
{
	static _Thread_local char attr[16];
	const char *p = var_imap_special_use != NULL ? var_imap_special_use : "";

	while (*p != '\0') {
		const char *end, *eq;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p + strcspn(p, " \t,");
		len = (size_t)(end - p);
		eq = memchr(p, '=', len);
		if (eq != NULL && eq > p && eq + 1 < end) {
			size_t ulen = (size_t)(eq - p);

			for (size_t i = 0; i < sizeof(special_uses) /
						   sizeof(special_uses[0]);
			     i++) {
				if (strlen(special_uses[i]) != ulen ||
				    strncasecmp(special_uses[i], p, ulen) != 0)
					continue;
				char *folder = xstrndup(eq + 1,
							(size_t)(end - eq - 1));
				const char *error;
				char *canon =
				    mail_folders_name_check(folder, &error);
				bool hit = false;

				if (canon != NULL && fn != NULL)
					fn(ctx, special_uses[i], canon);
				else if (canon != NULL && name != NULL &&
					 strcmp(canon, name) == 0) {
					snprintf(attr, sizeof(attr), "\\%s",
						 special_uses[i]);
					hit = true;
				}
				xfree(&canon);
				xfree(&folder);
				if (hit)
					return attr;
			}
		}
		p = end;
	}
	return NULL;
}

/* ---- STATUS items ---- */

#define ST_MESSAGES 0x01
#define ST_RECENT 0x02
#define ST_UIDNEXT 0x04
#define ST_UIDVALIDITY 0x08
#define ST_UNSEEN 0x10
#define ST_SIZE 0x20
#define ST_DELETED 0x40
#define ST_HIGHESTMODSEQ 0x80

static const struct {
	const char *name;
	unsigned int bit;
} status_names[] = {
    {"MESSAGES", ST_MESSAGES},	 {"RECENT", ST_RECENT},
    {"UIDNEXT", ST_UIDNEXT},	 {"UIDVALIDITY", ST_UIDVALIDITY},
    {"UNSEEN", ST_UNSEEN},	 {"HIGHESTMODSEQ", ST_HIGHESTMODSEQ},
    {"SIZE", ST_SIZE},		 {"DELETED", ST_DELETED},
};
#define STATUS_NAMES_COUNT (sizeof(status_names) / sizeof(status_names[0]))

/* The items of a STATUS list; 0 (BAD sent) when invalid. */
static unsigned int
status_items_parse(struct imap_client *c, const struct imap_arg *arg)
{
	unsigned int items = 0;

	if (arg->type != IMAP_ARG_LIST || arg->count == 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Status items "
				   "must be a non-empty list",
				   c->cmd_name);
		return 0;
	}
	for (unsigned int i = 0; i < arg->count; i++) {
		const char *atom;
		unsigned int bit = 0;

		if (imap_arg_get_atom(&arg->list[i], &atom)) {
			for (size_t j = 0; j < STATUS_NAMES_COUNT; j++)
				if (strcasecmp(atom, status_names[j].name) == 0)
					bit = status_names[j].bit;
		}
		if (bit == 0) {
			client_send_tagged(c, "BAD",
					   "Error in IMAP command %s: Invalid "
					   "status item",
					   c->cmd_name);
			return 0;
		}
		items |= bit;
	}
	return items;
}

static int
send_status(struct imap_client *c, const char *name, const char *dir,
	    unsigned int items, const char **error_r)
{
	struct imap_status st;
	struct strbuf sb;
	bool first = true;

	if (imap_mailbox_status(c, dir, &st, error_r) < 0)
		return -1;
	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&sb, "* STATUS ");
	append_mailbox(c, &sb, name);
	(void)strbuf_append_str(&sb, " (");
	for (size_t j = 0; j < STATUS_NAMES_COUNT; j++) {
		unsigned long long v = 0;

		if ((items & status_names[j].bit) == 0)
			continue;
		switch (status_names[j].bit) {
		case ST_MESSAGES: v = st.messages; break;
		case ST_RECENT: v = st.recent; break;
		case ST_UIDNEXT: v = st.uid_next; break;
		case ST_UIDVALIDITY: v = st.uid_validity; break;
		case ST_UNSEEN: v = st.unseen; break;
		case ST_HIGHESTMODSEQ: v = st.highest_modseq; break;
		case ST_SIZE: v = st.size; break;
		case ST_DELETED: v = st.deleted; break;
		}
		(void)strbuf_printf(&sb, "%s%s %llu", first ? "" : " ",
				    status_names[j].name, v);
		first = false;
	}
	(void)strbuf_append_char(&sb, ')');
	client_send_line(c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	return 0;
}

static void
cmd_status(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	const char *error;
	unsigned int items;
	char *name, *dir;
	int ret;

	if (count != 2) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command STATUS: Invalid "
				   "arguments.");
		return;
	}
	if ((name = mailbox_arg_checked(c, &args[0])) == NULL)
		return;
	if ((items = status_items_parse(c, &args[1])) == 0) {
		xfree(&name);
		return;
	}
	dir = mail_folders_dir(c->folders, name);
	if ((ret = maildir_exists(dir, &error)) < 0)
		send_serverbug(c, dir, error);
	else if (ret == 0)
		send_nonexistent(c, name);
	else {
		/* RFC 7162 3.1: STATUS HIGHESTMODSEQ enables CONDSTORE */
		if ((items & ST_HIGHESTMODSEQ) != 0)
			c->enabled |= IMAP_ENABLED_CONDSTORE;
		if (send_status(c, name, dir, items, &error) < 0)
			send_serverbug(c, dir, error);
		else
			client_send_tagged(c, "OK", "Status completed.");
	}
	xfree(&dir);
	xfree(&name);
}

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
	const char *su = exists ? special_use_of(cd->name, NULL, NULL) : NULL;
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
	append_mailbox(c, &sb, cd->name);
	if (!ctx->lsub && (ctx->sel & SEL_RECURSIVEMATCH) != 0 &&
	    cd->child_subscribed)
		(void)strbuf_append_str(&sb, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	client_send_line(c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	if ((ctx->ret & RET_STATUS) != 0 && selectable) {
		/* RFC 5819: the STATUS reply follows the LIST reply; a
		 * mailbox whose status fails is left out */
		char *dir = mail_folders_dir(c->folders, cd->name);
		const char *error;

		if (send_status(c, cd->name, dir, ctx->status_items, &error) <
		    0)
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
			    status_items_parse(ctx->c, &list->list[++i]);
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
		append_mailbox(ctx->c, &sb, root);
	client_send_line(ctx->c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	xfree(&root);
}

static bool
add_pattern(struct list_ctx *ctx, const char *ref, const struct imap_arg *arg)
{
	const char *s;
	char *pat;

	if (!imap_arg_get_astring(arg, &s) || strlen(s) > MAILBOX_ARG_MAX ||
	    ctx->npatterns >= LIST_PATTERNS_MAX) {
		client_send_tagged(ctx->c, "BAD",
				   "Error in IMAP command %s: Invalid pattern",
				   ctx->c->cmd_name);
		return false;
	}
	if ((pat = decode_name(ctx->c, s)) == NULL) {
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
	if ((ref = decode_name(c, s)) == NULL) {
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
	if (!lsub && i + 2 == count && imap_arg_atom_equals(&args[i], "RETURN") &&
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
		send_serverbug(c, "list", error);
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

/* ---- CREATE DELETE RENAME ---- */

static void
cmd_create(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	const char *s, *error;
	char *raw, *name;
	size_t len;

	if (count != 1 || !imap_arg_get_astring(&args[0], &s)) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command CREATE: Invalid "
				   "arguments.");
		return;
	}
	if ((raw = imap_mailbox_arg(c, &args[0])) == NULL)
		return;
	/* RFC 3501 6.3.3: a trailing separator announces a hierarchy; a
	 * Maildir++ folder can hold both, so it is dropped (Dovecot) */
	len = strlen(raw);
	if (len > 1 && raw[len - 1] == MAIL_FOLDERS_SEP)
		raw[len - 1] = '\0';
	name = mail_folders_name_check(raw, &error);
	xfree(&raw);
	if (name == NULL) {
		client_send_tagged(c, "NO", "[CANNOT] Invalid mailbox name: %s",
				   error);
		return;
	}
	switch (mail_folders_create(c->folders, name, &error)) {
	case MAIL_FOLDERS_OK:
		client_send_tagged(c, "OK", "Create completed.");
		break;
	case MAIL_FOLDERS_EXISTS:
		client_send_tagged(c, "NO",
				   "[ALREADYEXISTS] Mailbox already exists");
		break;
	default:
		send_serverbug(c, name, error);
		break;
	}
	xfree(&name);
}

static void
cmd_delete(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	const char *error;
	char *name, *dir;
	bool selected;

	if (count != 1) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command DELETE: Invalid "
				   "arguments.");
		return;
	}
	if ((name = mailbox_arg_checked(c, &args[0])) == NULL)
		return;
	if (strcmp(name, "INBOX") == 0) {
		client_send_tagged(c, "NO", "INBOX can't be deleted.");
		xfree(&name);
		return;
	}
	dir = mail_folders_dir(c->folders, name);
	selected = c->view != NULL && c->view->dir != NULL &&
		   strcmp(c->view->dir, dir) == 0;
	if (selected) {
		/* Dovecot: close it first, disconnect afterwards */
		imap_view_close(c);
		c->state = IMAP_STATE_AUTH;
	}
	switch (mail_folders_delete(c->folders, name, &error)) {
	case MAIL_FOLDERS_OK:
		client_send_tagged(c, "OK", "Delete completed.");
		break;
	case MAIL_FOLDERS_NOTFOUND:
		send_nonexistent(c, name);
		break;
	case MAIL_FOLDERS_INBOX:
		client_send_tagged(c, "NO", "INBOX can't be deleted.");
		break;
	default:
		send_serverbug(c, dir, error);
		break;
	}
	if (selected) {
		client_send_line(c, "* BYE Selected mailbox was deleted, have "
				    "to disconnect.");
		c->disconnect = true;
	}
	xfree(&dir);
	xfree(&name);
}

static void
cmd_rename(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	const char *error;
	char *oldname, *newname;
	int ret;

	if (count != 2) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command RENAME: Invalid "
				   "arguments.");
		return;
	}
	if ((oldname = mailbox_arg_checked(c, &args[0])) == NULL)
		return;
	if ((newname = mailbox_arg_checked(c, &args[1])) == NULL) {
		xfree(&oldname);
		return;
	}
	ret = mail_folders_rename(c->folders, oldname, newname, &error);
	switch (ret) {
	case MAIL_FOLDERS_OK:
		/* keep the subscriptions with the folders (INBOX stays) */
		if (strcmp(oldname, "INBOX") != 0 &&
		    mail_subs_rename(c->folders, oldname, newname, &error) < 0)
			log_warning("%s: RENAME subscriptions: %s", c->user,
				    error);
		client_send_tagged(c, "OK", "Rename completed.");
		break;
	case MAIL_FOLDERS_NOTFOUND:
		send_nonexistent(c, oldname);
		break;
	case MAIL_FOLDERS_EXISTS:
		client_send_tagged(c, "NO",
				   "[ALREADYEXISTS] Target mailbox already "
				   "exists");
		break;
	case MAIL_FOLDERS_INVALID:
		client_send_tagged(c, "NO", "[CANNOT] Invalid mailbox name: %s",
				   error);
		break;
	default:
		send_serverbug(c, oldname, error);
		break;
	}
	xfree(&oldname);
	xfree(&newname);
}

/* ---- SUBSCRIBE UNSUBSCRIBE ---- */

static void
subscribe(struct imap_client *c, const struct imap_arg *args,
	  unsigned int count, bool set)
{
	const char *error;
	char *name;
	int ret;

	if (count != 1) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Invalid "
				   "arguments.",
				   c->cmd_name);
		return;
	}
	if ((name = mailbox_arg_checked(c, &args[0])) == NULL)
		return;
	if (set) {
		/* Dovecot refuses subscribing to a mailbox that does not
		 * exist; unsubscribing one is how a client cleans up */
		ret = mail_folders_exists(c->folders, name, &error);
		if (ret < 0) {
			send_serverbug(c, name, error);
			goto out;
		}
		if (ret == 0) {
			send_nonexistent(c, name);
			goto out;
		}
	}
	if (mail_subs_set(c->folders, name, set, &error) < 0)
		send_serverbug(c, "subscriptions", error);
	else
		client_send_tagged(c, "OK", "%s completed.",
				   set ? "Subscribe" : "Unsubscribe");
out:
	xfree(&name);
}

static void
cmd_subscribe(struct imap_client *c, const struct imap_arg *args,
	      unsigned int count)
{
	subscribe(c, args, count, true);
}

static void
cmd_unsubscribe(struct imap_client *c, const struct imap_arg *args,
		unsigned int count)
{
	subscribe(c, args, count, false);
}

/* ---- QUOTA (RFC 9208, read-only) ---- */

struct quota_limits {
	uint64_t storage_bytes; /* 0 = none */
	uint64_t messages;	/* 0 = none */
};

/* "123", "10k", "1G" ... with default_mult for a bare number. */
static bool
quota_number(const char *s, size_t len, uint64_t default_mult,
	     uint64_t *value_r)
{
	uint64_t v = 0, mult = default_mult;
	size_t i = 0;

	if (len == 0)
		return false;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > UINT64_MAX / 10 - 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return false;
	if (i + 1 == len || (i + 2 == len && (s[i + 1] == 'B' ||
					      s[i + 1] == 'b'))) {
		switch (s[i]) {
		case 'b': case 'B': mult = 1; break;
		case 'k': case 'K': mult = 1024ULL; break;
		case 'm': case 'M': mult = 1024ULL * 1024; break;
		case 'g': case 'G': mult = 1024ULL * 1024 * 1024; break;
		case 't': case 'T': mult = 1024ULL * 1024 * 1024 * 1024; break;
		default: return false;
		}
	} else if (i != len)
		return false;
	if (v > UINT64_MAX / mult)
		return false;
	*value_r = v * mult;
	return true;
}

/* Dovecot's quota_rule: "*:storage=1G:messages=1000" (storage in KiB
 * without a unit, bytes= in bytes). Rules for other mailboxes and
 * unknown keys are ignored. */
static void
quota_rule_parse(const char *rule, struct quota_limits *lim)
{
	const char *p;

	memset(lim, 0, sizeof(*lim));
	if (rule == NULL || strncmp(rule, "*:", 2) != 0)
		return;
	p = rule + 2;
	while (*p != '\0') {
		size_t len = strcspn(p, ":");
		uint64_t v;

		if (len > 8 && strncasecmp(p, "storage=", 8) == 0 &&
		    quota_number(p + 8, len - 8, 1024, &v))
			lim->storage_bytes = v;
		else if (len > 6 && strncasecmp(p, "bytes=", 6) == 0 &&
			 quota_number(p + 6, len - 6, 1, &v))
			lim->storage_bytes = v;
		else if (len > 9 && strncasecmp(p, "messages=", 9) == 0 &&
			 quota_number(p + 9, len - 9, 1, &v))
			lim->messages = v;
		p += len;
		if (*p == ':')
			p++;
	}
}

static int
send_quota(struct imap_client *c)
{
	struct quota_limits lim;
	uint64_t bytes, msgs;
	const char *error;
	struct strbuf sb;

	quota_rule_parse(c->session != NULL ? c->session->user.quota_rule
					    : NULL,
			 &lim);
	strbuf_init(&sb, 256);
	(void)strbuf_append_str(&sb, "* QUOTA \"\" (");
	if (lim.storage_bytes != 0 || lim.messages != 0) {
		if (mail_folders_usage(c->folders, &bytes, &msgs, &error) < 0) {
			strbuf_release(&sb);
			send_serverbug(c, "quota", error);
			return -1;
		}
		if (lim.storage_bytes != 0)
			(void)strbuf_printf(&sb, "STORAGE %llu %llu",
					    (unsigned long long)(bytes / 1024),
					    (unsigned long long)(lim.storage_bytes /
								 1024));
		if (lim.messages != 0)
			(void)strbuf_printf(&sb, "%sMESSAGE %llu %llu",
					    lim.storage_bytes != 0 ? " " : "",
					    (unsigned long long)msgs,
					    (unsigned long long)lim.messages);
	}
	(void)strbuf_append_char(&sb, ')');
	client_send_line(c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	return 0;
}

static void
cmd_getquotaroot(struct imap_client *c, const struct imap_arg *args,
		 unsigned int count)
{
	const char *error;
	struct strbuf sb;
	char *name;
	int ret;

	if (count != 1) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command GETQUOTAROOT: "
				   "Invalid arguments.");
		return;
	}
	if ((name = mailbox_arg_checked(c, &args[0])) == NULL)
		return;
	if ((ret = mail_folders_exists(c->folders, name, &error)) <= 0) {
		if (ret < 0)
			send_serverbug(c, name, error);
		else
			send_nonexistent(c, name);
		xfree(&name);
		return;
	}
	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&sb, "* QUOTAROOT ");
	append_mailbox(c, &sb, name);
	(void)strbuf_append_str(&sb, " \"\"");
	client_send_line(c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	if (send_quota(c) == 0)
		client_send_tagged(c, "OK", "Getquotaroot completed.");
	xfree(&name);
}

static void
cmd_getquota(struct imap_client *c, const struct imap_arg *args,
	     unsigned int count)
{
	const char *root;

	if (count != 1 || !imap_arg_get_astring(&args[0], &root)) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command GETQUOTA: Invalid "
				   "arguments.");
		return;
	}
	if (root[0] != '\0') {
		client_send_tagged(c, "NO",
				   "[NONEXISTENT] Quota root doesn't exist.");
		return;
	}
	if (send_quota(c) == 0)
		client_send_tagged(c, "OK", "Getquota completed.");
}

static void
cmd_setquota(struct imap_client *c, const struct imap_arg *args,
	     unsigned int count)
{
	(void)args;
	if (count != 2) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command SETQUOTA: Invalid "
				   "arguments.");
		return;
	}
	client_send_tagged(c, "NO", "[CANNOT] Quota limits are read-only.");
}

/* ---- session setup ---- */

struct autocreate_ctx {
	struct imap_client *c;
	bool subscribe;
	int ret;
	const char *error;
};

static void
autocreate_one(void *context, const char *use, const char *folder)
{
	struct autocreate_ctx *ctx = context;
	const char *error;
	int r;

	(void)use;
	r = mail_folders_create(ctx->c->folders, folder, &error);
	if (r == MAIL_FOLDERS_EXISTS)
		return;
	if (r < 0) {
		ctx->ret = -1;
		ctx->error = error;
		return;
	}
	/* subscribed when created, as Dovecot's auto = subscribe */
	if (ctx->subscribe &&
	    mail_subs_set(ctx->c->folders, folder, true, &error) < 0) {
		ctx->ret = -1;
		ctx->error = error;
	}
}

int
imap_folders_init(struct imap_client *c, const char **error_r)
{
	const struct mail_location *loc = &c->session->user.loc;
	const char *mode = var_imap_autocreate != NULL ? var_imap_autocreate
						       : "no";
	const char *inbox;
	int r;

	if (loc->format != MAIL_LOCATION_MAILDIR || loc->root == NULL) {
		*error_r = "imapd serves Maildir++ only (mail_location)";
		return -1;
	}
	inbox = loc->inbox != NULL ? loc->inbox : loc->root;
	c->folders = mail_folders_new(loc->root, inbox);
	/* Dovecot creates INBOX at the first login */
	if ((r = maildir_exists(inbox, error_r)) < 0)
		return -1;
	if (r == 0 && maildir_create(inbox, false, error_r) < 0)
		return -1;
	if (strcmp(loc->root, inbox) != 0 &&
	    maildir_exists(loc->root, error_r) == 0 &&
	    maildir_create(loc->root, false, error_r) < 0)
		return -1;
	if (strcasecmp(mode, "create") == 0 ||
	    strcasecmp(mode, "subscribe") == 0) {
		struct autocreate_ctx ctx = {c, strcasecmp(mode, "subscribe") == 0,
					     0, NULL};

		(void)special_use_of(NULL, autocreate_one, &ctx);
		if (ctx.ret < 0) {
			*error_r = ctx.error;
			return -1;
		}
	}
	return 0;
}

void
imap_folders_deinit(struct imap_client *c)
{
	mail_folders_free(&c->folders);
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
