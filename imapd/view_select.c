/*
 * view_select - SELECT and EXAMINE (with RFC 7162's CONDSTORE and QRESYNC
 * parameters), CLOSE and UNSELECT, and imapd's table of the view module's
 * commands. Arguments are untrusted client input, checked here; the work
 * is view.c's. Runs on the session's thread, blocking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "mail/maildir.h"
#include "util/log.h"
#include "util/xmem.h"
#include "view_private.h"

#define SEQSET_MAX_RANGES 100000

struct select_args {
	bool condstore, qresync;
	uint32_t uid_validity;
	uint64_t modseq;
	bool have_known;
	struct imap_seqset known;
};

static bool
arg_number(const struct imap_arg *arg, uint64_t max, uint64_t *n_r)
{
	const char *s;
	char *end;

	if (!imap_arg_get_atom(arg, &s) || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*n_r = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *n_r <= max;
}

static const char *
parse_select_params(struct imap_client *c, const struct imap_arg *list,
		    struct select_args *sa)
{
	for (unsigned int i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];

		if (imap_arg_atom_equals(a, "CONDSTORE")) {
			sa->condstore = true;
		} else if (imap_arg_atom_equals(a, "QRESYNC") &&
			   i + 1 < list->count &&
			   list->list[i + 1].type == IMAP_ARG_LIST) {
			const struct imap_arg *q = &list->list[++i];
			uint64_t n;
			const char *error;

			if ((c->enabled & IMAP_ENABLED_QRESYNC) == 0)
				return "QRESYNC not enabled";
			if (q->count < 2 || q->count > 4 ||
			    !arg_number(&q->list[0], UINT32_MAX, &n) || n == 0)
				return "Invalid QRESYNC parameters";
			sa->uid_validity = (uint32_t)n;
			if (!arg_number(&q->list[1], INT64_MAX, &sa->modseq))
				return "Invalid QRESYNC modseq";
			if (q->count >= 3) {
				if (imap_arg_get_seqset(
					&q->list[2], SEQSET_MAX_RANGES, false,
					&sa->known, &error) < 0)
					return "Invalid QRESYNC known-uids";
				sa->have_known = true;
			}
			/* seq-match-data only helps servers that lost
			   expunge history; ours falls back on "not present
			   now", which is never wrong, so it is checked for
			   syntax only */
			if (q->count == 4 &&
			    (q->list[3].type != IMAP_ARG_LIST ||
			     q->list[3].count != 2))
				return "Invalid QRESYNC seq-match-data";
			sa->qresync = true;
		} else {
			return "Unknown select parameter";
		}
	}
	return NULL;
}

static void
select_qresync(struct imap_client *c, struct select_args *sa)
{
	struct imap_view *v = c->view;
	const struct imap_seqset *known = NULL;
	struct imap_seqset vanished;

	if (sa->uid_validity != v->uid_validity)
		return;
	if (sa->have_known) {
		imap_seqset_resolve(&sa->known,
				    v->uid_next > 1 ? v->uid_next - 1 : 1);
		known = &sa->known;
	}
	imap_seqset_init(&vanished);
	if (imap_view_vanished_since(c, sa->modseq, known, &vanished) == 0 &&
	    vanished.count > 0) {
		struct strbuf sb;

		strbuf_init(&sb, STRBUF_UNLIMITED);
		(void)imap_seqset_format(&vanished, &sb);
		client_send_line(c, "* VANISHED (EARLIER) %s",
				 strbuf_cstr(&sb));
		strbuf_release(&sb);
	}
	imap_seqset_release(&vanished);
	for (uint32_t k = 0; k < v->count; k++) {
		if (v->msgs[k].modseq <= sa->modseq)
			continue;
		if (known != NULL &&
		    !imap_seqset_contains(known, v->msgs[k].uid))
			continue;
		view_send_fetch_flags(c, k + 1, true, true);
		client_flush_if_big(c);
	}
}

static void
cmd_select_common(struct imap_client *c, const struct imap_arg *args,
		  unsigned int count, bool readonly)
{
	struct select_args sa = {0};
	struct imap_view *v;
	const char *error, *perr;
	char *name, *dir;
	uint32_t unseen = 0, recent = 0;
	int ret;

	imap_seqset_init(&sa.known);
	if (count < 1 || count > 2 ||
	    (count == 2 && args[1].type != IMAP_ARG_LIST)) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: "
				   "Invalid arguments.",
				   c->cmd_name);
		return;
	}
	if (count == 2 &&
	    (perr = parse_select_params(c, &args[1], &sa)) != NULL) {
		imap_seqset_release(&sa.known);
		client_send_tagged(c, "BAD", "Error in IMAP command %s: %s",
				   c->cmd_name, perr);
		return;
	}
	name = imap_mailbox_arg(c, &args[0]);
	if (name == NULL) {
		imap_seqset_release(&sa.known);
		return;
	}
	if (c->view != NULL) {
		imap_view_close(c);
		/* RFC 7162 3.2.11; Dovecot sends it whether or not QRESYNC
		   is enabled */
		client_send_line(c, "* OK [CLOSED] Previous mailbox closed.");
	}
	c->saved_valid = false;
	dir = imap_folder_dir(c, name, &error);
	if (dir == NULL) {
		client_send_tagged(c, "NO", "%s", error);
		goto out;
	}
	ret = maildir_exists(dir, &error);
	if (ret <= 0) {
		if (ret < 0)
			log_error("%s: %s", c->user, error);
		client_send_tagged(
		    c, "NO", "[NONEXISTENT] Mailbox doesn't exist: %s", name);
		xfree(&dir);
		goto out;
	}
	v = xcalloc(1, sizeof(*v));
	v->priv = xcalloc(1, sizeof(*v->priv));
	v->priv->cache_fd = -1;
	v->name = name;
	v->dir = dir;
	v->readonly = readonly;
	name = NULL;
	if (view_open_box(v, &error) < 0) {
		log_error("%s: SELECT %s: %s", c->user, v->name, error);
		c->view = v;
		imap_view_close(c);
		client_send_tagged(c, "NO",
				   "[SERVERBUG] Internal error "
				   "occurred. Refer to server log for more "
				   "information.");
		goto out;
	}
	v->uid_validity = v->priv->box->uid_validity;
	c->view = v;
	if (view_sync(c, 0, false) < 0) {
		imap_view_close(c);
		client_send_tagged(c, "NO",
				   "[SERVERBUG] Internal error "
				   "occurred. Refer to server log for more "
				   "information.");
		goto out;
	}
	c->state = IMAP_STATE_SELECTED;
	if (sa.condstore || sa.qresync)
		c->enabled |= IMAP_ENABLED_CONDSTORE;
	for (uint32_t k = 0; k < v->count; k++) {
		if ((v->msgs[k].flags & IMAP_FLAG_RECENT) != 0)
			recent++;
		if (unseen == 0 && (v->msgs[k].flags & IMAP_FLAG_SEEN) == 0)
			unseen = k + 1;
	}
	view_send_flags(c);
	client_send_line(c, "* %" PRIu32 " EXISTS", v->count);
	if ((c->enabled & IMAP_ENABLED_IMAP4REV2) == 0) {
		client_send_line(c, "* %" PRIu32 " RECENT", recent);
		if (unseen != 0)
			client_send_line(
			    c, "* OK [UNSEEN %" PRIu32 "] First unseen.",
			    unseen);
	}
	client_send_line(c, "* OK [UIDVALIDITY %" PRIu32 "] UIDs valid",
			 v->uid_validity);
	client_send_line(c, "* OK [UIDNEXT %" PRIu32 "] Predicted next UID",
			 v->uid_next);
	client_send_line(c, "* OK [HIGHESTMODSEQ %" PRIu64 "] Highest",
			 v->highest_modseq);
	if (sa.qresync)
		select_qresync(c, &sa);
	client_send_tagged(c, "OK", "[%s] %s completed.",
			   readonly ? "READ-ONLY" : "READ-WRITE",
			   readonly ? "Examine" : "Select");
out:
	xfree(&name);
	imap_seqset_release(&sa.known);
}

static void
cmd_select(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	cmd_select_common(c, args, count, false);
}

static void
cmd_examine(struct imap_client *c, const struct imap_arg *args,
	    unsigned int count)
{
	cmd_select_common(c, args, count, true);
}

static void
cmd_close(struct imap_client *c, const struct imap_arg *args,
	  unsigned int count)
{
	const char *error;

	(void)args;
	if (count != 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command CLOSE: "
				   "Unexpected arguments.");
		return;
	}
	/* RFC 3501 6.4.2: \Deleted messages go silently, not when
	   read-only */
	if (!c->view->readonly &&
	    view_expunge(c, NULL, false, true, &error) < 0)
		log_error("%s: CLOSE %s: %s", c->user, c->view->name, error);
	imap_view_close(c);
	client_send_tagged(c, "OK", "Close completed.");
}

static void
cmd_unselect(struct imap_client *c, const struct imap_arg *args,
	     unsigned int count)
{
	(void)args;
	if (count != 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command UNSELECT: "
				   "Unexpected arguments.");
		return;
	}
	imap_view_close(c);
	client_send_tagged(c, "OK", "Unselect completed.");
}

/* in view_store.c */
void view_cmd_store(struct imap_client *c, const struct imap_arg *args,
		    unsigned int count);
void view_cmd_expunge(struct imap_client *c, const struct imap_arg *args,
		      unsigned int count);

const struct imap_command_def imap_cmds_view[] = {
    {"SELECT", cmd_select, IMAP_CMD_AUTH},
    {"EXAMINE", cmd_examine, IMAP_CMD_AUTH},
    {"CLOSE", cmd_close, IMAP_CMD_SELECTED},
    {"UNSELECT", cmd_unselect, IMAP_CMD_SELECTED},
    {"EXPUNGE", view_cmd_expunge, IMAP_CMD_SELECTED | IMAP_CMD_UID},
    {"STORE", view_cmd_store,
     IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE},
    {NULL, NULL, 0},
};
