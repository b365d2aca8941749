/*
 * cmd_copy - COPY and UID COPY (RFC 3501 6.4.7, UIDPLUS COPYUID, RFC
 * 4315), MOVE and UID MOVE (RFC 6851: "* OK [COPYUID ...]" untagged
 * before the expunges).
 *
 * The sequence sets come from the client (untrusted, resolved by the
 * view); the message files are the user's own. Copies are hard links
 * when the filesystem allows, as Dovecot's maildir_copy_with_hardlinks,
 * else byte copies; keyword letters are translated into the target's
 * dovecot-keywords. New UIDs are assigned by mailbox_open() the way
 * Dovecot assigns them, so COPYUID shows what dovecot-uidlist then says.
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
		client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
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
	client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
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
		client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
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
			client_send_tagged(c, "NO", SAVE_SERVERBUG_TEXT);
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

void
cmd_copy(struct imap_client *c, const struct imap_arg *args,
	 unsigned int count)
{
	cmd_copy_move(c, args, count, false);
}

void
cmd_move(struct imap_client *c, const struct imap_arg *args,
	 unsigned int count)
{
	cmd_copy_move(c, args, count, true);
}
