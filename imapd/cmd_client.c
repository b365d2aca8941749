/*
 * cmd_client - the commands of imapd's command loop itself (imapd.h):
 * CAPABILITY, NOOP, CHECK, LOGOUT, ID, ENABLE, NAMESPACE, IDLE, and the
 * refusal of LOGIN/AUTHENTICATE/STARTTLS after login. Client input (ID
 * and ENABLE arguments, IDLE's DONE) is untrusted and bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client_private.h"
#include "imapd.h"
#include "login/mail_watch.h"
#include "login/session_host.h"
#include "mail/imap_write.h"
#include "mail/mail_params.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* IDLE: wait this long after a change before syncing, so a burst of
 * deliveries gives one update (ms); without the process's watcher
 * (login/mail_watch.h: no eventfd left), look at the directories' mtimes
 * this often. */
#define IDLE_SETTLE_MS 100
#define IDLE_POLL_FALLBACK_MS 5000
/* ID (RFC 2971): at most 30 field/value pairs, fields of 30 octets and
 * values of 1024. */
#define ID_MAX_PAIRS 30
#define ID_MAX_FIELD 30
#define ID_MAX_VALUE 1024

/*
 * Commands
 */

static void
cmd_capability(struct imap_client *c, const struct imap_arg *args,
	       unsigned int count)
{
	(void)args;
	if (count != 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command CAPABILITY: "
				   "Unexpected arguments");
		return;
	}
	client_send_line(c, "* CAPABILITY %s", client_capabilities(c));
	client_send_tagged(c, "OK", "Capability completed.");
}

static void
cmd_noop(struct imap_client *c, const struct imap_arg *args, unsigned int count)
{
	(void)args;
	(void)count; /* RFC 3501 NOOP has none; Dovecot ignores extras */
	client_of(c)->sync_flags &= ~(unsigned int)IMAP_SYNC_FAST;
	client_send_tagged(c, "OK", "NOOP completed.");
}

static void
cmd_check(struct imap_client *c, const struct imap_arg *args,
	  unsigned int count)
{
	(void)args;
	(void)count;
	client_of(c)->sync_flags &= ~(unsigned int)IMAP_SYNC_FAST;
	client_send_tagged(c, "OK", "Check completed.");
}

static void
cmd_logout(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	struct client *cl = client_of(c);

	(void)args;
	(void)count;
	cl->no_sync = true;
	client_send_line(c, "* BYE Logging out");
	client_send_tagged(c, "OK", "Logout completed.");
	(void)client_flush(c);
	client_set_end(cl, END_LOGOUT);
}

static void
cmd_already_authenticated(struct imap_client *c, const struct imap_arg *args,
			  unsigned int count)
{
	(void)args;
	(void)count;
	client_send_tagged(c, "BAD",
			   "Error in IMAP command %s: Already "
			   "authenticated.",
			   c->cmd_name);
}

/* RFC 2971: ID ("field" "value" ...) or ID NIL. */
static void
cmd_id(struct imap_client *c, const struct imap_arg *args, unsigned int count)
{
	const char *s;
	unsigned int i;

	if (count != 1 ||
	    (args[0].type != IMAP_ARG_NIL && args[0].type != IMAP_ARG_LIST))
		goto bad;
	if (args[0].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = args[0].list;

		if (args[0].count % 2 != 0 || args[0].count > 2 * ID_MAX_PAIRS)
			goto bad;
		for (i = 0; i < args[0].count; i += 2) {
			if (l[i].type == IMAP_ARG_ATOM ||
			    !imap_arg_get_astring(&l[i], &s) ||
			    l[i].len > ID_MAX_FIELD)
				goto bad;
			if (l[i + 1].type == IMAP_ARG_ATOM ||
			    !imap_arg_get_nstring(&l[i + 1], &s) ||
			    (s != NULL && l[i + 1].len > ID_MAX_VALUE))
				goto bad;
		}
	}
	client_send_line(c, "* ID (\"name\" \"Dovetail\")");
	client_send_tagged(c, "OK", "ID completed.");
	return;
bad:
	client_send_tagged(c, "BAD",
			   "Error in IMAP command ID: "
			   "Invalid parameters");
}

/* RFC 5161 ENABLE; RFC 9051 IMAP4rev2; RFC 6855 UTF8=ACCEPT; RFC 7162
 * CONDSTORE, QRESYNC (which implies CONDSTORE). Unknown names are
 * ignored, as RFC 5161 says; "* ENABLED" lists what this command turned
 * on (and is sent even when that is nothing, as Dovecot does). */
static void
cmd_enable(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} known[] = {
	    {"CONDSTORE", IMAP_ENABLED_CONDSTORE},
	    {"QRESYNC", IMAP_ENABLED_QRESYNC},
	    {"IMAP4REV2", IMAP_ENABLED_IMAP4REV2},
	    {"UTF8=ACCEPT", IMAP_ENABLED_UTF8},
	};
	struct strbuf line;
	unsigned int i, k, old = c->enabled;
	const char *name;

	if (count == 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command ENABLE: "
				   "Missing capabilities");
		return;
	}
	for (i = 0; i < count; i++) {
		if (!imap_arg_get_atom(&args[i], &name)) {
			client_send_tagged(c, "BAD",
					   "Error in IMAP command ENABLE: "
					   "Invalid arguments.");
			return;
		}
	}
	strbuf_init(&line, 1024);
	(void)strbuf_append_str(&line, "* ENABLED");
	for (i = 0; i < count; i++) {
		(void)imap_arg_get_atom(&args[i], &name);
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
			unsigned int bits = known[k].bit;

			if (strcasecmp(name, known[k].name) != 0)
				continue;
			if (bits == IMAP_ENABLED_QRESYNC)
				bits |= IMAP_ENABLED_CONDSTORE;
			if ((c->enabled & known[k].bit) == 0) {
				(void)strbuf_append_char(&line, ' ');
				(void)strbuf_append_str(
				    &line,
				    known[k].bit == IMAP_ENABLED_IMAP4REV2
					? "IMAP4rev2"
					: known[k].name);
			}
			c->enabled |= bits;
		}
	}
	client_send_line(c, "%s", strbuf_cstr(&line));
	strbuf_release(&line);
	/* RFC 7162 3.1.1: CONDSTORE turned on while a mailbox is selected
	 * announces its HIGHESTMODSEQ */
	if (c->view != NULL && (old & IMAP_ENABLED_CONDSTORE) == 0 &&
	    (c->enabled & IMAP_ENABLED_CONDSTORE) != 0 && !c->view->nomodseq)
		client_send_line(c, "* OK [HIGHESTMODSEQ %llu] Highest",
				 (unsigned long long)c->view->highest_modseq);
	client_send_tagged(c, "OK", "Enabled.");
}

/* RFC 2342: one personal namespace, "" with "." (Maildir++). */
static void
cmd_namespace(struct imap_client *c, const struct imap_arg *args,
	      unsigned int count)
{
	(void)args;
	if (count != 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command NAMESPACE: "
				   "Unexpected arguments");
		return;
	}
	client_send_line(c, "* NAMESPACE ((\"\" \".\")) NIL NIL");
	client_send_tagged(c, "OK", "Namespace completed.");
}

/* RFC 2177 IDLE: changes of the selected mailbox reach the client within
 * IDLE_SETTLE_MS of the process's one watcher (login/mail_watch.h) seeing
 * them: at once with inotify, within MAIL_WATCH_POLL_MS past
 * fs.inotify.max_user_watches. "* OK Still here" every
 * imap_idle_notify_interval keeps NAT boxes from forgetting the
 * connection (Dovecot's wording). The inactivity timeout still applies,
 * as RFC 2177 allows: clients re-issue IDLE every 29 minutes. */
static void
cmd_idle(struct imap_client *c, const struct imap_arg *args, unsigned int count)
{
	struct client *cl = client_of(c);
	int64_t notify_ms = var_imap_idle_notify_interval * 1000LL;
	int64_t next_notify, sync_at = -1, now;
	struct mail_watch *watch = NULL;

	(void)args;
	if (count != 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command IDLE: "
				   "Unexpected arguments");
		return;
	}
	if (c->view != NULL)
		(void)imap_view_sync(c, 0);
	client_send_line(c, "+ idling");
	if (c->view != NULL && c->view->dir != NULL)
		watch = mail_watch_add(c->view->dir);
	/* most of an idle session's memory is its copy of the listing and
	   the index: drop it until something changes */
	imap_view_release(c);
	now = client_now_ms();
	next_notify = now + notify_ms;
	if (c->view != NULL && watch == NULL)
		sync_at = now + IDLE_POLL_FALLBACK_MS;
	for (;;) {
		const char *line;
		size_t len;
		int64_t timeout, left;
		int r = client_line(cl, false, &line, &len);

		/* the tagged reply syncs the view first: it needs the
		   listing back */
		if ((r == LINE_OK || r == LINE_TOOLONG) &&
		    imap_view_restore(c) < 0)
			break;
		if (r == LINE_OK) {
			if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
				cl->sync_flags = 0;
				client_send_tagged(c, "OK", "Idle completed.");
			} else {
				client_send_tagged(c, "BAD", "Expected DONE.");
			}
			break;
		}
		if (r == LINE_TOOLONG) {
			client_send_tagged(c, "BAD", "Expected DONE.");
			break;
		}
		now = client_now_ms();
		left = client_idle_left(cl);
		if (left <= 0) {
			client_timed_out(cl);
			break;
		}
		if (sync_at >= 0 && now >= sync_at) {
			/* the changes signalled so far are this sync's; a
			 * later one (say, another session moving the new
			 * file to cur/) wakes us again. Without this, every
			 * session of a busy folder synced twice per delivery */
			if (watch != NULL)
				mail_watch_clear(watch);
			if (imap_view_restore(c) < 0)
				break;
			/* without the watcher only a changed directory is
			 * rescanned (view.c compares mtimes) */
			(void)imap_view_sync(c, watch == NULL ? IMAP_SYNC_FAST
							      : 0);
			sync_at = watch == NULL && c->view != NULL
				      ? now + IDLE_POLL_FALLBACK_MS
				      : -1;
			continue;
		}
		if (now >= next_notify) {
			client_send_line(c, "* OK Still here");
			next_notify = now + notify_ms;
		}
		timeout = next_notify - now;
		if (sync_at >= 0 && sync_at - now < timeout)
			timeout = sync_at - now;
		if (left < timeout)
			timeout = left;
		if (timeout > 60000)
			timeout = 60000;
		r = client_wait(cl, watch != NULL ? mail_watch_fd(watch) : -1,
				(int)timeout);
		if (r < 0)
			break;
		if ((r & 2) != 0) {
			mail_watch_clear(watch);
			if (sync_at < 0)
				sync_at = client_now_ms() + IDLE_SETTLE_MS;
		}
		if ((r & 1) != 0 && client_read_some(cl) < 0)
			break;
	}
	mail_watch_remove(&watch);
	if (!c->disconnect)
		(void)imap_view_restore(c);
}

const struct imap_command_def imap_cmds_client[] = {
    {"CAPABILITY", cmd_capability, 0},
    {"NOOP", cmd_noop, 0},
    {"LOGOUT", cmd_logout, 0},
    {"ID", cmd_id, 0},
    {"ENABLE", cmd_enable, IMAP_CMD_AUTH},
    {"NAMESPACE", cmd_namespace, IMAP_CMD_AUTH},
    {"CHECK", cmd_check, IMAP_CMD_SELECTED},
    {"IDLE", cmd_idle, IMAP_CMD_AUTH},
    {"LOGIN", cmd_already_authenticated, 0},
    {"AUTHENTICATE", cmd_already_authenticated, 0},
    {"STARTTLS", cmd_already_authenticated, 0},
    {NULL, NULL, 0},
};

