/*
 * cmd_status - STATUS (RFC 3501 6.3.10, with SIZE and DELETED of RFC
 * 9051/8438 and HIGHESTMODSEQ of RFC 7162) and the read-only QUOTA
 * commands (RFC 9208: GETQUOTAROOT, GETQUOTA; SETQUOTA is refused).
 *
 * Names come from the authenticated client (untrusted). The userdb
 * quota_rule is trusted but still parsed defensively.
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
unsigned int
cmd_status_items_parse(struct imap_client *c, const struct imap_arg *arg)
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

int
cmd_status_send(struct imap_client *c, const char *name, const char *dir,
	    unsigned int items, const char **error_r)
{
	struct imap_status st;
	struct strbuf sb;
	bool first = true;

	if (imap_mailbox_status(c, dir, &st, error_r) < 0)
		return -1;
	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&sb, "* STATUS ");
	folders_append_name(c, &sb, name);
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

void
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
	if ((name = folders_arg_checked(c, &args[0])) == NULL)
		return;
	if ((items = cmd_status_items_parse(c, &args[1])) == 0) {
		xfree(&name);
		return;
	}
	dir = mail_folders_dir(c->folders, name);
	if ((ret = maildir_exists(dir, &error)) < 0)
		folders_send_serverbug(c, dir, error);
	else if (ret == 0)
		folders_send_nonexistent(c, name);
	else {
		/* RFC 7162 3.1: STATUS HIGHESTMODSEQ enables CONDSTORE */
		if ((items & ST_HIGHESTMODSEQ) != 0)
			c->enabled |= IMAP_ENABLED_CONDSTORE;
		if (cmd_status_send(c, name, dir, items, &error) < 0)
			folders_send_serverbug(c, dir, error);
		else
			client_send_tagged(c, "OK", "Status completed.");
	}
	xfree(&dir);
	xfree(&name);
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

bool
imap_quota_has_messages(const struct imap_client *c)
{
	struct quota_limits lim;

	quota_rule_parse(c->session != NULL ? c->session->user.quota_rule
					    : NULL,
			 &lim);
	return lim.messages != 0;
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
			folders_send_serverbug(c, "quota", error);
			return -1;
		}
		if (lim.storage_bytes != 0)
			(void)strbuf_printf(
			    &sb, "STORAGE %llu %llu",
			    (unsigned long long)(bytes / 1024),
			    (unsigned long long)(lim.storage_bytes / 1024));
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

void
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
	if ((name = folders_arg_checked(c, &args[0])) == NULL)
		return;
	if ((ret = mail_folders_exists(c->folders, name, &error)) <= 0) {
		if (ret < 0)
			folders_send_serverbug(c, name, error);
		else
			folders_send_nonexistent(c, name);
		xfree(&name);
		return;
	}
	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&sb, "* QUOTAROOT ");
	folders_append_name(c, &sb, name);
	(void)strbuf_append_str(&sb, " \"\"");
	client_send_line(c, "%s", strbuf_cstr(&sb));
	strbuf_release(&sb);
	if (send_quota(c) == 0)
		client_send_tagged(c, "OK", "Getquotaroot completed.");
	xfree(&name);
}

void
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

void
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
