/*
 * cmd_save - the commands that add messages to a mailbox: APPEND
 * (cmd_append.c), COPY and MOVE (cmd_copy.c); here the helpers they share
 * and the command table. See those files for the RFCs and trust levels:
 * client arguments are untrusted and checked there; mailbox names go
 * through imap_folder_dir().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "imapd.h"
#include "mail/imap_date.h"
#include "mail/mail_params.h"
#include "mail/mailbox.h"
#include "mail/maildir_name.h"
#include "mail/maildir_save.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#include "cmd_save.h"

/* ---- helpers ---- */

const struct save_sysflag save_sysflags[SAVE_SYSFLAGS_COUNT] = {
	{ "\\Draft", IMAP_FLAG_DRAFT, 'D' },
	{ "\\Flagged", IMAP_FLAG_FLAGGED, 'F' },
	{ "\\Answered", IMAP_FLAG_ANSWERED, 'R' },
	{ "\\Seen", IMAP_FLAG_SEEN, 'S' },
	{ "\\Deleted", IMAP_FLAG_DELETED, 'T' },
};

/* The Maildir flag letters (sorted, as Maildir wants) of system flags
   plus keyword letters. */
void
save_flag_letters(uint32_t flags, const char *kw_letters, char *out,
		  size_t out_size)
{
	size_t n = 0;
	char seen[128] = { 0 };

	for (size_t i = 0; i < sizeof(save_sysflags) / sizeof(save_sysflags[0]);
	     i++) {
		if ((flags & save_sysflags[i].flag) != 0)
			seen[(unsigned char)save_sysflags[i].letter] = 1;
	}
	for (const char *p = kw_letters; p != NULL && *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z')
			seen[(unsigned char)*p] = 1;
	}
	for (int ch = 'A'; ch <= 'z' && n + 1 < out_size; ch++) {
		if (seen[ch])
			out[n++] = (char)ch;
	}
	out[n] = '\0';
}

/* The mailbox name for replies: as the client sent it when printable. */
static const char *
save_reply_name(const struct imap_arg *arg, const char *utf8)
{
	const char *s;

	if (imap_arg_get_astring(arg, &s)) {
		for (const char *p = s; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return utf8;
		}
		return s;
	}
	return utf8;
}

/* The target mailbox's directory, or NULL with the reply sent: BAD for a
   bad argument, NO [TRYCREATE] when the mailbox does not exist. */
char *
save_target_dir(struct imap_client *c, const struct imap_arg *arg)
{
	char *name, *dir, *cur;
	const char *error;
	struct stat st;

	name = imap_mailbox_arg(c, arg);
	if (name == NULL)
		return NULL;
	dir = imap_folder_dir(c, name, &error);
	if (dir == NULL) {
		client_send_tagged(c, "NO", "%s", error);
		xfree(&name);
		return NULL;
	}
	cur = xasprintf("%s/cur", dir);
	errno = 0;
	if (stat(cur, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* exists */
	} else if (errno != 0 && errno != ENOENT && errno != ENOTDIR) {
		log_error("%s: stat %s: %s", c->user, cur, strerror(errno));
		client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
		xfree(&dir);
		dir = NULL;
	} else {
		client_send_tagged(c, "NO",
				   "[TRYCREATE] Mailbox doesn't exist: %s",
				   save_reply_name(arg, name));
		xfree(&dir);
		dir = NULL;
	}
	xfree(&cur);
	xfree(&name);
	return dir;
}

/* The index in box of the file whose base (before ":2,") equals base, the
   newest first; -1 if none. */
long
save_find_base(const struct mailbox *box, const char *base, size_t base_len)
{
	for (size_t i = box->count; i-- > 0;) {
		const char *fn = box->msgs[i].filename;
		const char *colon = strstr(fn, ":2,");
		size_t len = colon == NULL ? strlen(fn) : (size_t)(colon - fn);

		if (len == base_len && memcmp(fn, base, len) == 0)
			return (long)i;
	}
	return -1;
}

char *
save_msg_path(const struct mailbox *box, size_t idx)
{
	return xasprintf("%s/%s/%s", box->dir,
			 box->msgs[idx].in_new ? "new" : "cur",
			 box->msgs[idx].filename);
}

const struct imap_command_def imap_cmds_save[] = {
	{ "APPEND", cmd_append, IMAP_CMD_AUTH | IMAP_CMD_STREAM_LITERAL },
	{ "COPY", cmd_copy, IMAP_CMD_SELECTED | IMAP_CMD_UID },
	{ "MOVE", cmd_move, IMAP_CMD_SELECTED | IMAP_CMD_UID },
	{ NULL, NULL, 0 },
};
