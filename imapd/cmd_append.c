/*
 * cmd_append - APPEND (RFC 3501 6.3.11, with UIDPLUS APPENDUID, RFC 4315;
 * APPENDLIMIT/TOOBIG, RFC 7889; literal8, RFC 3516; UTF8 (literal), RFC
 * 6855/9051). MULTIAPPEND is not offered.
 *
 * The message bytes and the client's flags and dates are untrusted: the
 * literal is streamed into maildir_save (bounded by message_size_limit;
 * client.c answers NO [TOOBIG] before a literal over it), flags are
 * checked against the IMAP syntax and keywords get letters in the
 * target's dovecot-keywords (at most 26, as Dovecot). The new UID is
 * assigned by mailbox_open() (lib/mail/mailbox.h) the way Dovecot assigns
 * it, so APPENDUID shows what dovecot-uidlist then says.
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

#define SAVE_FLAGS_MAX 64 /* system flags + keywords in one APPEND */

/* ---- APPEND ---- */

struct append_ctx {
	struct maildir_save *save;
	const char *error;
	bool failed;
};

static int
append_write(void *context, const void *data, size_t len)
{
	struct append_ctx *ctx = context;

	if (ctx->failed)
		return 0; /* keep reading so the command stays in sync */
	if (maildir_save_write(ctx->save, data, len, &ctx->error) < 0)
		ctx->failed = true;
	return 0;
}

static int
append_discard(void *context, const void *data, size_t len)
{
	(void)context;
	(void)data;
	(void)len;
	return 0;
}

/* Parses the APPEND flag list into system flags and keyword names. -1
   with BAD sent. */
static int
append_parse_flags(struct imap_client *c, const struct imap_arg *list,
		   uint32_t *flags_r, const char **kw, unsigned int *kw_count_r)
{
	*flags_r = 0;
	*kw_count_r = 0;
	if (list->count > SAVE_FLAGS_MAX) {
		client_send_tagged(c, "BAD", "Error in IMAP command APPEND: "
				   "Too many flags");
		return -1;
	}
	for (unsigned int i = 0; i < list->count; i++) {
		const char *s;
		size_t j;

		if (!imap_arg_get_atom(&list->list[i], &s)) {
			client_send_tagged(c, "BAD", "Error in IMAP command "
					   "APPEND: Flags list contains "
					   "non-atoms.");
			return -1;
		}
		if (s[0] == '\\') {
			for (j = 0; j < sizeof(save_sysflags) /
						sizeof(save_sysflags[0]);
			     j++) {
				if (strcasecmp(s, save_sysflags[j].name) == 0)
					break;
			}
			if (j == sizeof(save_sysflags) /
					 sizeof(save_sysflags[0])) {
				client_send_tagged(c, "BAD", "Error in IMAP "
						   "command APPEND: Invalid "
						   "system flag %s", s);
				return -1;
			}
			*flags_r |= save_sysflags[j].flag;
			continue;
		}
		for (const char *p = s; *p != '\0'; p++) {
			if (strchr("(){]%*\"\\", *p) != NULL ||
			    (unsigned char)*p <= 0x20 ||
			    (unsigned char)*p >= 0x7f) {
				client_send_tagged(c, "BAD", "Error in IMAP "
						   "command APPEND: Invalid "
						   "keyword");
				return -1;
			}
		}
		for (j = 0; j < *kw_count_r; j++) {
			if (strcasecmp(kw[j], s) == 0)
				break;
		}
		if (j == *kw_count_r)
			kw[(*kw_count_r)++] = s;
	}
	return 0;
}

/* After the file is in new/: gives it its UID (mailbox_open, as Dovecot
   assigns them), flags and INTERNALDATE. */
static int
append_finish(struct imap_client *c, const char *dir, const char *filename,
	      const char *letters, bool have_date, int64_t date,
	      uint32_t *uid_validity_r, uint32_t *uid_r)
{
	struct mailbox *box;
	const char *error;
	const char *colon = strstr(filename, ":2,");
	size_t base_len = colon == NULL ? strlen(filename)
					: (size_t)(colon - filename);
	long idx;
	int ret = -1;

	if (mailbox_open(dir, NULL, &box, &error) < 0) {
		log_error("%s: APPEND: opening %s: %s", c->user, dir, error);
		return -1;
	}
	idx = save_find_base(box, filename, base_len);
	if (idx < 0) {
		log_error("%s: APPEND: %s: saved file %s vanished", c->user,
			  dir, filename);
		goto out;
	}
	if (letters[0] != '\0' &&
	    mailbox_msg_set_flags(box, (size_t)idx, letters, &error) < 0) {
		log_error("%s: APPEND: %s: setting flags: %s", c->user, dir,
			  error);
		goto out;
	}
	if (have_date) {
		char *path = save_msg_path(box, (size_t)idx);
		struct timeval tv[2];

		tv[0].tv_sec = tv[1].tv_sec = (time_t)date;
		tv[0].tv_usec = tv[1].tv_usec = 0;
		if (utimes(path, tv) < 0)
			log_warning("%s: APPEND: utimes %s: %s", c->user, path,
				    strerror(errno));
		xfree(&path);
	}
	*uid_validity_r = box->uid_validity;
	*uid_r = box->msgs[idx].uid;
	ret = 0;
out:
	mailbox_close(&box);
	return ret;
}

void
cmd_append(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	const char *kw[SAVE_FLAGS_MAX];
	char kw_letters[SAVE_FLAGS_MAX + 1], letters[SAVE_FLAGS_MAX + 8];
	const struct imap_arg *msg = NULL;
	unsigned int i = 1, kw_count = 0;
	uint32_t flags = 0, uid_validity = 0, uid = 0;
	int64_t date = 0;
	int tz;
	bool have_date = false, sync;
	const struct imap_literal_info *lit;
	struct append_ctx ctx = { 0 };
	const char *error, *s;
	char *dir = NULL, *filename = NULL;

	if (count < 2) {
		client_send_tagged(c, "BAD", "Error in IMAP command APPEND: "
				   "Invalid arguments.");
		return;
	}
	/* The message is the last argument: a literal, or UTF8 (literal). */
	if (args[count - 1].type == IMAP_ARG_LIST && count >= 3 &&
	    imap_arg_atom_equals(&args[count - 2], "UTF8") &&
	    args[count - 1].count == 1) {
		msg = &args[count - 1].list[0];
		count -= 2;
	} else {
		msg = &args[count - 1];
		count--;
	}
	if (msg->type != IMAP_ARG_LITERAL_STREAM &&
	    msg->type != IMAP_ARG_LITERAL) {
		client_send_tagged(c, "BAD", "Error in IMAP command APPEND: "
				   "Invalid arguments.");
		return;
	}
	if (i < count && args[i].type == IMAP_ARG_LIST) {
		if (append_parse_flags(c, &args[i], &flags, kw, &kw_count) < 0)
			goto refuse;
		i++;
	}
	if (i < count && (args[i].type == IMAP_ARG_QUOTED ||
			  args[i].type == IMAP_ARG_LITERAL) &&
	    imap_arg_get_astring(&args[i], &s)) {
		if (imap_datetime_parse(s, strlen(s), &date, &tz) < 0) {
			client_send_tagged(c, "BAD", "Error in IMAP command "
					   "APPEND: Invalid internal date.");
			goto refuse;
		}
		have_date = true;
		i++;
	}
	if (i != count) {
		client_send_tagged(c, "BAD", "Error in IMAP command APPEND: "
				   "Invalid arguments.");
		goto refuse;
	}
	if (msg->literal_size == 0 && msg->len == 0) {
		client_send_tagged(c, "NO", "Can't save a zero byte message.");
		goto refuse;
	}
	if (var_message_size_limit > 0 &&
	    msg->literal_size > (uint64_t)var_message_size_limit) {
		client_send_tagged(c, "NO", "[TOOBIG] Mail size is too large");
		goto refuse;
	}
	dir = save_target_dir(c, &args[0]);
	if (dir == NULL)
		goto refuse;
	kw_letters[0] = '\0';
	if (kw_count > 0) {
		if (imap_keywords_letters(dir, kw, kw_count, true, kw_letters,
					  &error) < 0) {
			client_send_tagged(c, "NO", "[LIMIT] %s", error);
			goto refuse;
		}
		kw_letters[kw_count] = '\0';
	}
	save_flag_letters(flags, kw_letters, letters, sizeof(letters));

	ctx.save = maildir_save_begin(dir, NULL, &error);
	if (ctx.save == NULL) {
		log_error("%s: APPEND to %s: %s", c->user, dir, error);
		client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
		goto refuse;
	}
	if (msg->type == IMAP_ARG_LITERAL) {
		(void)append_write(&ctx, msg->str, msg->len);
	} else {
		lit = imap_parser_literal(c->parser);
		sync = lit != NULL && lit->sync;
		if (client_read_literal(c, msg->literal_size, sync,
					append_write, &ctx) < 0) {
			maildir_save_abort(&ctx.save);
			goto out;
		}
	}
	if (ctx.failed) {
		maildir_save_abort(&ctx.save);
		log_error("%s: APPEND to %s: %s", c->user, dir, ctx.error);
		client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
		goto out;
	}
	if (maildir_save_finish(&ctx.save, &filename, &error) < 0 ||
	    filename == NULL) {
		log_error("%s: APPEND to %s: %s", c->user, dir,
			  filename == NULL ? "no file name" : error);
		client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
		goto out;
	}
	if (append_finish(c, dir, filename, letters, have_date, date,
			  &uid_validity, &uid) < 0) {
		client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
		goto out;
	}
	client_send_tagged(c, "OK", "[APPENDUID %u %u] Append completed.",
			   uid_validity, uid);
	goto out;

refuse:
	/* A non-synchronising literal is on its way: read it away so the
	   next command is framed right. A synchronising one is never sent. */
	if (msg->type == IMAP_ARG_LITERAL_STREAM) {
		lit = imap_parser_literal(c->parser);
		if (lit != NULL && !lit->sync)
			(void)client_read_literal(c, msg->literal_size, false,
						  append_discard, NULL);
	}
out:
	xfree(&filename);
	xfree(&dir);
}
