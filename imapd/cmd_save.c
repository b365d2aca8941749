/*
 * cmd_save - the commands that add messages to a mailbox: APPEND (RFC
 * 3501 6.3.11, with UIDPLUS APPENDUID, RFC 4315; APPENDLIMIT/TOOBIG, RFC
 * 7889; literal8, RFC 3516; UTF8 (literal), RFC 6855/9051), COPY and
 * UID COPY (COPYUID), MOVE and UID MOVE (RFC 6851).
 *
 * The message bytes and the client's flags and dates are untrusted: the
 * literal is streamed into maildir_save (bounded by message_size_limit),
 * flags are checked against the IMAP syntax and keywords get letters in
 * the target's dovecot-keywords (at most 26, as Dovecot). Copies are hard
 * links when the filesystem allows, as Dovecot's
 * maildir_copy_with_hardlinks, else byte copies. New UIDs are assigned by
 * mailbox_open() (lib/mail/mailbox.h) the way Dovecot assigns them, so
 * APPENDUID and COPYUID show what dovecot-uidlist then says.
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

#define SERVERBUG_TEXT                                                         \
	"[SERVERBUG] Internal error occurred. Refer to server log for more "   \
	"information."
#define SAVE_FLAGS_MAX 64 /* system flags + keywords in one APPEND */
#define COPY_MAX_RANGES 100000

/* ---- helpers ---- */

static const struct {
	const char *name;
	uint32_t flag;
	char letter;
} save_sysflags[] = {
	{ "\\Draft", IMAP_FLAG_DRAFT, 'D' },
	{ "\\Flagged", IMAP_FLAG_FLAGGED, 'F' },
	{ "\\Answered", IMAP_FLAG_ANSWERED, 'R' },
	{ "\\Seen", IMAP_FLAG_SEEN, 'S' },
	{ "\\Deleted", IMAP_FLAG_DELETED, 'T' },
};

/* The Maildir flag letters (sorted, as Maildir wants) of system flags
   plus keyword letters. */
static void
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
static char *
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
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
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
static long
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

static char *
save_msg_path(const struct mailbox *box, size_t idx)
{
	return xasprintf("%s/%s/%s", box->dir,
			 box->msgs[idx].in_new ? "new" : "cur",
			 box->msgs[idx].filename);
}

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

static void
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
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
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
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
		goto out;
	}
	if (maildir_save_finish(&ctx.save, &filename, &error) < 0 ||
	    filename == NULL) {
		log_error("%s: APPEND to %s: %s", c->user, dir,
			  filename == NULL ? "no file name" : error);
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
		goto out;
	}
	if (append_finish(c, dir, filename, letters, have_date, date,
			  &uid_validity, &uid) < 0) {
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
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

/* ---- COPY / MOVE ---- */

struct copy_item {
	uint32_t src_uid;
	char *base;    /* new file's base name in the target */
	char *path;    /* where it was created (for rollback) */
	uint32_t dst_uid;
};

/* Copies src into a new file of dir/tmp, then links it to final_path:
   for when link(2) between the folders fails. */
static int
copy_bytes(const char *src_path, const char *dir, const char *final_path,
	   const char **error_r)
{
	static __thread char errbuf[512];
	char *tmp = xasprintf("%s/tmp/%s", dir, strrchr(final_path, '/') + 1);
	char buf[65536];
	int in, out = -1, ret = -1;
	ssize_t n;

	in = open(src_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		goto fail;
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0600);
	if (out < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0) {
				if (errno == EINTR)
					continue;
				goto fail;
			}
			off += w;
		}
	}
	if (n < 0 || fsync(out) < 0 || link(tmp, final_path) < 0)
		goto fail;
	ret = 0;
fail:
	if (ret < 0) {
		snprintf(errbuf, sizeof(errbuf), "copying %s: %s", src_path,
			 strerror(errno));
		*error_r = errbuf;
	}
	if (in >= 0)
		close(in);
	if (out >= 0) {
		close(out);
		(void)unlink(tmp);
	}
	xfree(&tmp);
	return ret;
}

/* Appends the UIDs as a uid-set in the given order ("4:6,9"). */
static void
copy_format_uids(struct strbuf *sb, const struct copy_item *items,
		 size_t count, bool dst)
{
	for (size_t i = 0; i < count;) {
		uint32_t first = dst ? items[i].dst_uid : items[i].src_uid;
		size_t j = i + 1;

		while (j < count &&
		       (dst ? items[j].dst_uid : items[j].src_uid) ==
			       first + (uint32_t)(j - i))
			j++;
		if (i > 0)
			(void)strbuf_append_char(sb, ',');
		if (j - i == 1)
			(void)strbuf_printf(sb, "%u", first);
		else
			(void)strbuf_printf(sb, "%u:%u", first,
					    first + (uint32_t)(j - i - 1));
		i = j;
	}
}

static void
copy_items_free(struct copy_item *items, size_t count, bool unlink_files)
{
	for (size_t i = 0; i < count; i++) {
		if (unlink_files && items[i].path != NULL)
			(void)unlink(items[i].path);
		xfree(&items[i].base);
		xfree(&items[i].path);
	}
	xfree(&items);
}

/*
 * Creates the copies in dst_dir, one per message of seqs, with the
 * flags (minus \Recent) and keywords the view shows. 0, or -1 with the
 * tagged reply sent (and every file made so far removed).
 */
static int
copy_files(struct imap_client *c, const struct imap_seqset *seqs,
	   const char *dst_dir, struct copy_item **items_r, size_t *count_r)
{
	struct imap_view *v = c->view;
	const char *names[IMAP_KEYWORDS_MAX];
	char dst_letter[IMAP_KEYWORDS_MAX] = { 0 };
	int name_idx[IMAP_KEYWORDS_MAX];
	unsigned int name_count = 0;
	uint32_t used_kw = 0;
	struct imap_seqset_iter it = { 0 };
	struct mailbox *src = NULL;
	struct copy_item *items;
	size_t count = 0, alloc;
	const char *error;
	char host[256];
	struct strbuf safe_host, name;
	uint32_t seq;
	bool expunged = false;

	alloc = (size_t)imap_seqset_count(seqs);
	items = xcalloc(alloc + 1, sizeof(*items));
	*items_r = NULL;
	*count_r = 0;

	/* keyword letters in the target for every keyword in use */
	while (imap_seqset_next(seqs, &it, &seq)) {
		if (seq >= 1 && seq <= v->count)
			used_kw |= v->msgs[seq - 1].keywords;
	}
	for (int k = 0; k < IMAP_KEYWORDS_MAX; k++) {
		if ((used_kw & (1u << k)) != 0 && v->keywords[k] != NULL) {
			name_idx[name_count] = k;
			names[name_count++] = v->keywords[k];
		}
	}
	if (name_count > 0) {
		char letters[IMAP_KEYWORDS_MAX];

		if (imap_keywords_letters(dst_dir, names, name_count, true,
					  letters, &error) < 0) {
			client_send_tagged(c, "NO", "[LIMIT] %s", error);
			xfree(&items);
			return -1;
		}
		for (unsigned int k = 0; k < name_count; k++)
			dst_letter[name_idx[k]] = letters[k];
	}

	if (mailbox_open(v->dir, NULL, &src, &error) < 0) {
		log_error("%s: %s: opening %s: %s", c->user, c->cmd_name,
			  v->dir, error);
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
		xfree(&items);
		return -1;
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	strbuf_init(&safe_host, 1024);
	(void)maildir_name_host(host, &safe_host);
	strbuf_init(&name, MAILDIR_NAME_MAX + 64);

	memset(&it, 0, sizeof(it));
	while (imap_seqset_next(seqs, &it, &seq)) {
		const struct imap_msg *msg;
		char kwl[IMAP_KEYWORDS_MAX + 1], letters[IMAP_KEYWORDS_MAX + 8];
		size_t nkw = 0;
		long idx;
		char *src_path;
		struct stat st;
		struct timeval tv;
		uint64_t vsize;

		if (seq < 1 || seq > v->count)
			continue;
		msg = &v->msgs[seq - 1];
		idx = mailbox_find_uid(src, msg->uid);
		if (idx < 0) {
			expunged = true;
			break;
		}
		for (int k = 0; k < IMAP_KEYWORDS_MAX; k++) {
			if ((msg->keywords & (1u << k)) != 0 &&
			    dst_letter[k] != '\0')
				kwl[nkw++] = dst_letter[k];
		}
		kwl[nkw] = '\0';
		save_flag_letters(msg->flags & ~(uint32_t)IMAP_FLAG_RECENT, kwl,
				  letters, sizeof(letters));

		src_path = save_msg_path(src, (size_t)idx);
		if (stat(src_path, &st) < 0) {
			bool gone = errno == ENOENT;
			int fd;

			/* renamed by another session meanwhile? */
			xfree(&src_path);
			if (gone && mailbox_msg_open(src, (size_t)idx, &fd,
						     &gone, &error) == 0) {
				close(fd);
				src_path = save_msg_path(src, (size_t)idx);
				gone = stat(src_path, &st) < 0;
				if (gone)
					xfree(&src_path);
			}
			if (gone) {
				expunged = true;
				break;
			}
		}
		if (imap_view_msg_vsize(c, seq, &vsize) < 0)
			vsize = (uint64_t)st.st_size;

		gettimeofday(&tv, NULL);
		maildir_name_unique_time(&tv);
		strbuf_reset(&name);
		if (maildir_name_base(&name, &tv, getpid(),
				      strbuf_cstr(&safe_host)) < 0 ||
		    maildir_name_append_sizes(&name, (uint64_t)st.st_size,
					      vsize) < 0) {
			xfree(&src_path);
			error = "file name too long";
			goto fail;
		}
		items[count].src_uid = msg->uid;
		items[count].base = xstrdup(strbuf_cstr(&name));
		if (letters[0] == '\0')
			items[count].path = xasprintf("%s/new/%s", dst_dir,
						      strbuf_cstr(&name));
		else
			items[count].path = xasprintf("%s/cur/%s:2,%s",
						      dst_dir,
						      strbuf_cstr(&name),
						      letters);
		count++;
		if (link(src_path, items[count - 1].path) < 0) {
			/* EXDEV, EPERM (no hard links): copy the bytes */
			if (copy_bytes(src_path, dst_dir,
				       items[count - 1].path, &error) < 0) {
				xfree(&items[count - 1].path);
				items[count - 1].path = NULL;
				xfree(&src_path);
				goto fail;
			}
		}
		xfree(&src_path);
	}
	strbuf_release(&safe_host);
	strbuf_release(&name);
	mailbox_close(&src);
	if (expunged) {
		copy_items_free(items, count, true);
		client_send_tagged(c, "NO", "[EXPUNGEISSUED] Some of the "
				   "requested messages no longer exist.");
		return -1;
	}
	*items_r = items;
	*count_r = count;
	return 0;

fail:
	log_error("%s: %s to %s: %s", c->user, c->cmd_name, dst_dir, error);
	strbuf_release(&safe_host);
	strbuf_release(&name);
	mailbox_close(&src);
	copy_items_free(items, count, true);
	client_send_tagged(c, "NO", SERVERBUG_TEXT);
	return -1;
}

/* Gives the new files their UIDs (mailbox_open assigns them as Dovecot
   does) and notes them in items. */
static int
copy_assign_uids(struct imap_client *c, const char *dst_dir,
		 struct copy_item *items, size_t count,
		 uint32_t *uid_validity_r)
{
	struct mailbox *box;
	const char *error;

	if (mailbox_open(dst_dir, NULL, &box, &error) < 0) {
		log_error("%s: %s: opening %s: %s", c->user, c->cmd_name,
			  dst_dir, error);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		long idx = save_find_base(box, items[i].base,
					  strlen(items[i].base));

		if (idx < 0) {
			log_error("%s: %s: %s: copied file %s vanished",
				  c->user, c->cmd_name, dst_dir,
				  items[i].base);
			mailbox_close(&box);
			return -1;
		}
		items[i].dst_uid = box->msgs[idx].uid;
	}
	*uid_validity_r = box->uid_validity;
	mailbox_close(&box);
	return 0;
}

static void
cmd_copy_move(struct imap_client *c, const struct imap_arg *args,
	      unsigned int count, bool move)
{
	struct imap_seqset seqs;
	struct copy_item *items = NULL;
	size_t item_count = 0;
	uint32_t uid_validity = 0;
	struct strbuf code;
	const char *error;
	char *dir;

	if (count != 2) {
		client_send_tagged(c, "BAD", "Error in IMAP command %s: "
				   "Invalid arguments.", c->cmd_name);
		return;
	}
	if (imap_view_seqset(c, &args[0], c->uid_cmd, &seqs) < 0)
		return;
	dir = save_target_dir(c, &args[1]);
	if (dir == NULL) {
		imap_seqset_release(&seqs);
		return;
	}
	if (move && c->view->readonly) {
		client_send_tagged(c, "NO", "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if (imap_seqset_count(&seqs) == 0) {
		/* RFC 4315: nothing to copy, no COPYUID */
		client_send_tagged(c, "OK", "No messages found.");
		goto out;
	}
	if (copy_files(c, &seqs, dir, &items, &item_count) < 0)
		goto out;
	if (copy_assign_uids(c, dir, items, item_count, &uid_validity) < 0) {
		copy_items_free(items, item_count, true);
		items = NULL;
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
		goto out;
	}
	strbuf_init(&code, STRBUF_UNLIMITED);
	(void)strbuf_printf(&code, "[COPYUID %u ", uid_validity);
	copy_format_uids(&code, items, item_count, false);
	(void)strbuf_append_char(&code, ' ');
	copy_format_uids(&code, items, item_count, true);
	(void)strbuf_append_char(&code, ']');
	if (!move) {
		client_send_tagged(c, "OK", "%s Copy completed.",
				   strbuf_cstr(&code));
	} else {
		/* RFC 6851 3.3: COPYUID in an untagged OK before the
		   expunges */
		client_send_raw(c, "* OK ", 5);
		client_send_raw(c, code.data, code.len);
		client_send_raw(c, " Moved UIDs.\r\n", 14);
		if (imap_view_expunge(c, &seqs, true, &error) < 0) {
			log_error("%s: MOVE from %s: %s", c->user,
				  c->view->name, error);
			client_send_tagged(c, "NO", SERVERBUG_TEXT);
		} else {
			client_send_tagged(c, "OK", "Move completed.");
		}
	}
	strbuf_release(&code);
out:
	if (items != NULL)
		copy_items_free(items, item_count, false);
	xfree(&dir);
	imap_seqset_release(&seqs);
}

static void
cmd_copy(struct imap_client *c, const struct imap_arg *args,
	 unsigned int count)
{
	cmd_copy_move(c, args, count, false);
}

static void
cmd_move(struct imap_client *c, const struct imap_arg *args,
	 unsigned int count)
{
	cmd_copy_move(c, args, count, true);
}

const struct imap_command_def imap_cmds_save[] = {
	{ "APPEND", cmd_append, IMAP_CMD_AUTH | IMAP_CMD_STREAM_LITERAL },
	{ "COPY", cmd_copy, IMAP_CMD_SELECTED | IMAP_CMD_UID },
	{ "MOVE", cmd_move, IMAP_CMD_SELECTED | IMAP_CMD_UID },
	{ NULL, NULL, 0 },
};
