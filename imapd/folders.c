/*
 * folders - the mailbox-name helpers shared by imapd's folder commands
 * (cmd_list.c LIST/LSUB, cmd_mailbox.c CREATE/DELETE/RENAME/SUBSCRIBE,
 * cmd_status.c STATUS/QUOTA) and the folder functions of imapd.h
 * (imap_folder_dir, imap_mailbox_arg, imap_folders_init/deinit), over
 * mail/mail_folders.h; also the imap_special_use mapping.
 *
 * Arguments come from the authenticated client (untrusted): every name is
 * decoded (modified UTF-7 unless UTF8=ACCEPT/IMAP4rev2) and checked by
 * mail_folders_name_check() before it becomes a path. The configuration
 * (imap_special_use, imap_autocreate) is trusted but still parsed
 * defensively.
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

#define SERVERBUG                                                              \
	"[SERVERBUG] Internal error occurred. Refer to server log for more "   \
	"information."

void
folders_send_serverbug(struct imap_client *c, const char *what,
		       const char *error)
{
	log_error("%s: %s: %s: %s", c->user, c->cmd_name, what, error);
	client_send_tagged(c, "NO", SERVERBUG);
}

/* ---- names ---- */

char *
folders_decode_name(struct imap_client *c, const char *s)
{
	struct strbuf sb;

	strbuf_init(&sb, FOLDERS_ARG_MAX * 2);
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
	if (strlen(s) > FOLDERS_ARG_MAX) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: Mailbox name "
				   "too long",
				   c->cmd_name);
		return NULL;
	}
	if ((name = folders_decode_name(c, s)) == NULL) {
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
char *
folders_arg_checked(struct imap_client *c, const struct imap_arg *arg)
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
void
folders_append_name(struct imap_client *c, struct strbuf *sb, const char *name)
{
	if (imap_write_mailbox(sb, name, client_write_flags(c)) < 0)
		(void)imap_write_quoted(sb, "", 0);
}

void
folders_send_nonexistent(struct imap_client *c, const char *name)
{
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	folders_append_name(c, &sb, name);
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
const char *
folders_special_use_of(const char *name,
		       void (*fn)(void *ctx, const char *use,
				  const char *folder),
		       void *ctx)
{
	static _Thread_local char attr[16];
	const char *p =
	    var_imap_special_use != NULL ? var_imap_special_use : "";

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
		struct autocreate_ctx ctx = {
		    c, strcasecmp(mode, "subscribe") == 0, 0, NULL};

		(void)folders_special_use_of(NULL, autocreate_one, &ctx);
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
