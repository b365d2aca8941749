/*
 * cmd_mailbox - the commands that change the folder tree or the
 * subscriptions: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501
 * 6.3.3-6.3.7; CREATE's USE of RFC 6154 5.2), over mail/mail_folders.h.
 *
 * Names come from the authenticated client (untrusted) and are checked by
 * folders_arg_checked() before they become paths.
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

/* ---- CREATE DELETE RENAME ---- */

/* Most USE attributes in one CREATE (there are 7 special uses). */
#define CREATE_USE_MAX 16

struct use_match {
	const char *name; /* canonical folder name */
	const char *use;  /* "Sent" */
	bool found;
};

static void
use_match_one(void *context, const char *use, const char *folder)
{
	struct use_match *m = context;

	if (strcasecmp(use, m->use) == 0 && strcmp(folder, m->name) == 0)
		m->found = true;
}

/*
 * RFC 6154 5.2 CREATE ... (USE (\Sent ...)). Special uses come only from
 * the configuration (imap_special_use), as in Dovecot, whose special_use
 * lives in dovecot.conf: a USE list is accepted when every attribute in
 * it is configured for this name (the mailbox then shows it in LIST), and
 * refused with NO [USEATTR] otherwise, before anything is created.
 * Returns 1 when the parameters are fine, 0 when a reply was sent.
 */
static int
create_params_check(struct imap_client *c, const struct imap_arg *params,
		    const char *name)
{
	const struct imap_arg *uses;
	const char *attr;

	if (params->type != IMAP_ARG_LIST || params->count != 2 ||
	    !imap_arg_atom_equals(&params->list[0], "USE") ||
	    params->list[1].type != IMAP_ARG_LIST ||
	    params->list[1].count > CREATE_USE_MAX) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command CREATE: Invalid "
				   "parameters.");
		return 0;
	}
	uses = &params->list[1];
	for (unsigned int i = 0; i < uses->count; i++) {
		struct use_match m = {name, NULL, false};

		if (!imap_arg_get_atom(&uses->list[i], &attr) ||
		    attr[0] != '\\' || attr[1] == '\0') {
			client_send_tagged(c, "BAD",
					   "Error in IMAP command CREATE: "
					   "Invalid USE attribute.");
			return 0;
		}
		m.use = attr + 1;
		(void)folders_special_use_of(NULL, use_match_one, &m);
		if (!m.found) {
			client_send_tagged(c, "NO",
					   "[USEATTR] Special-use %s is not "
					   "configured for this mailbox "
					   "(imap_special_use)",
					   attr);
			return 0;
		}
	}
	return 1;
}

void
cmd_create(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	const char *s, *error;
	char *raw, *name;
	size_t len;

	if (count < 1 || count > 2 || !imap_arg_get_astring(&args[0], &s)) {
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
	if (count == 2 && create_params_check(c, &args[1], name) == 0) {
		xfree(&name);
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
		folders_send_serverbug(c, name, error);
		break;
	}
	xfree(&name);
}

void
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
	if ((name = folders_arg_checked(c, &args[0])) == NULL)
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
		folders_send_nonexistent(c, name);
		break;
	case MAIL_FOLDERS_INBOX:
		client_send_tagged(c, "NO", "INBOX can't be deleted.");
		break;
	default:
		folders_send_serverbug(c, dir, error);
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

void
cmd_rename(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	const char *error;
	char *oldname, *newname;
	size_t olen;
	bool selected;
	int ret;

	if (count != 2) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command RENAME: Invalid "
				   "arguments.");
		return;
	}
	if ((oldname = folders_arg_checked(c, &args[0])) == NULL)
		return;
	if ((newname = folders_arg_checked(c, &args[1])) == NULL) {
		xfree(&oldname);
		return;
	}
	/* The selected mailbox (or one below the renamed one) loses its
	 * directory: it is closed first and the session ends afterwards, as
	 * for DELETE, since its Maildir, index and watches are gone from
	 * under the view. INBOX stays where it is (its messages move out and
	 * are seen as expunged at the next sync). */
	olen = strlen(oldname);
	selected = c->view != NULL && c->view->name != NULL &&
		   strcmp(oldname, "INBOX") != 0 &&
		   strncmp(c->view->name, oldname, olen) == 0 &&
		   (c->view->name[olen] == '\0' ||
		    c->view->name[olen] == MAIL_FOLDERS_SEP);
	if (selected) {
		imap_view_close(c);
		c->state = IMAP_STATE_AUTH;
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
		folders_send_nonexistent(c, oldname);
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
		folders_send_serverbug(c, oldname, error);
		break;
	}
	if (selected) {
		client_send_line(c, "* BYE Selected mailbox was renamed, have "
				    "to disconnect.");
		c->disconnect = true;
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
	if ((name = folders_arg_checked(c, &args[0])) == NULL)
		return;
	if (set) {
		/* Dovecot refuses subscribing to a mailbox that does not
		 * exist; unsubscribing one is how a client cleans up */
		ret = mail_folders_exists(c->folders, name, &error);
		if (ret < 0) {
			folders_send_serverbug(c, name, error);
			goto out;
		}
		if (ret == 0) {
			folders_send_nonexistent(c, name);
			goto out;
		}
	}
	if (mail_subs_set(c->folders, name, set, &error) < 0)
		folders_send_serverbug(c, "subscriptions", error);
	else
		client_send_tagged(c, "OK", "%s completed.",
				   set ? "Subscribe" : "Unsubscribe");
out:
	xfree(&name);
}

void
cmd_subscribe(struct imap_client *c, const struct imap_arg *args,
	      unsigned int count)
{
	subscribe(c, args, count, true);
}

void
cmd_unsubscribe(struct imap_client *c, const struct imap_arg *args,
		unsigned int count)
{
	subscribe(c, args, count, false);
}
