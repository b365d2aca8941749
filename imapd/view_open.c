/*
 * view_open - opening the selected mailbox's Maildir listing for view.c:
 * by listing cur/ and new/ (mail/mailbox.h), or, when the index vouches
 * that nothing changed since its last full scan, from dovecot-uidlist and
 * the index alone (Dovecot's maildir sync skips an unchanged cur/ the
 * same way); and the upkeep of the index's cache file.
 *
 * Files are untrusted (anything with the mail uid writes them): the index
 * and uidlist modules check them; a name that does not parse sends us
 * back to listing. Runs on the session's thread, blocking.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_index.h"
#include "mail/mailbox.h"
#include "util/log.h"
#include "util/xmem.h"
#include "view_private.h"

void
view_dir_mtime(const char *dir, const char *sub, struct timespec *ts_r)
{
	char *path = xasprintf("%s/%s", dir, sub);
	struct stat st;

	if (stat(path, &st) == 0)
		*ts_r = st.st_mtim;
	else
		*ts_r = (struct timespec){0, 0};
	xfree(&path);
}

/* True when dir/new holds no message file. */
static bool
new_empty(const char *dir)
{
	char *path = xasprintf("%s/new", dir);
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = d != NULL;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.') {
			empty = false;
			break;
		}
	}
	if (d != NULL)
		closedir(d);
	xfree(&path);
	return empty;
}

static void
known_rec(void *ctx, size_t i, uint32_t *uid_r, char *letters_r)
{
	const struct mail_index *idx = ctx;

	*uid_r = idx->recs[i].uid;
	mail_index_flags_letters("", idx->recs[i].flags, idx->recs[i].keywords,
				 letters_r);
}

/* SELECT without listing cur/ (Dovecot's maildir sync skips it the same
 * way): when the index was written by a full scan that saw cur/ and new/
 * with the mtimes they have now (recorded only when they were over a
 * second old: a later change cannot keep the same mtime), new/ is empty
 * and every file name then followed from its record, the names follow
 * from dovecot-uidlist and the index. 1: p->box and p->idx are set. */
static int
view_open_known(struct imap_view *v)
{
	struct imap_view_private *p = v->priv;
	struct mail_index *idx = NULL;
	const char *error;
	uint64_t ino;
	int fd, ret;

	if (!view_mtime_clean(&p->cur_mtime, &p->scanned_at) ||
	    !view_mtime_clean(&p->new_mtime, &p->scanned_at))
		return 0;
	fd = mail_index_lock(v->dir, false, &error);
	if (fd < 0)
		return 0;
	ret = mail_index_read(v->dir, &idx, &ino, &error);
	mail_index_unlock(&fd);
	if (ret <= 0 || (idx->hdr_flags & MAIL_INDEX_F_NAMES_EXACT) == 0 ||
	    idx->cur_mtime != view_ts_ns(&p->cur_mtime) ||
	    idx->new_mtime != view_ts_ns(&p->new_mtime) || !new_empty(v->dir) ||
	    mailbox_open_known(v->dir, idx->uid_validity, idx->next_uid,
			       known_rec, idx, idx->count, &p->box,
			       &error) <= 0) {
		mail_index_free(&idx);
		return 0;
	}
	mail_index_free(&p->idx);
	p->idx = idx;
	p->idx_ino = ino;
	p->idx_gen = idx->generation;
	p->from_index = true;
	return 1;
}

int
view_open_box(struct imap_view *v, const char **error_r)
{
	struct imap_view_private *p = v->priv;

	view_dir_mtime(v->dir, "cur", &p->cur_mtime);
	view_dir_mtime(v->dir, "new", &p->new_mtime);
	clock_gettime(CLOCK_REALTIME, &p->scanned_at);
	/* EXAMINE too lets new files get their UIDs, as Dovecot does */
	if (view_open_known(v) <= 0 &&
	    mailbox_open(v->dir, NULL, &p->box, error_r) < 0)
		return -1;
	p->listed = true;
	return 0;
}

/* Whether every message is in cur/ named base":2,"<the letters its flags
 * give> (MAIL_INDEX_F_NAMES_EXACT). */
bool
view_names_exact(const struct mailbox *box,
		 const struct mail_index_disk_msg *dm)
{
	char letters[MAILBOX_LETTERS_MAX + 1];

	for (size_t i = 0; i < box->count; i++) {
		const char *colon = strchr(box->msgs[i].filename, ':');

		if (box->msgs[i].in_new || colon == NULL ||
		    strncmp(colon, ":2,", 3) != 0)
			return false;
		mail_index_flags_letters("", dm[i].flags, dm[i].keywords,
					 letters);
		if (strcmp(colon + 3, letters) != 0)
			return false;
	}
	return true;
}

/* Expunged messages leave their blobs in the append-only cache file:
 * rewrite it once they are a good part of it (the exclusive lock is
 * held; the index is written right after). */
void
view_cache_compact(struct imap_view *v)
{
	struct imap_view_private *p = v->priv;
	char *path = xasprintf("%s/%s", v->dir, MAIL_INDEX_CACHE_NAME);
	const char *error;
	struct stat st;

	if (!p->index_broken && stat(path, &st) == 0 &&
	    mail_index_cache_wants_compact(p->idx, (uint64_t)st.st_size) &&
	    mail_index_cache_compact(v->dir, p->idx, &error) < 0)
		log_warning("%s", error);
	xfree(&path);
}

void
imap_view_release(struct imap_client *c)
{
	struct imap_view *v = c->view;
	struct imap_view_private *p;

	if (v == NULL)
		return;
	p = v->priv;
	if (p->box == NULL || p->fill_count > 0 || p->rescan)
		return;
	mailbox_close(&p->box);
	mail_index_free(&p->idx);
	p->idx_ino = p->idx_gen = 0;
	p->listed = p->from_index = false;
	if (p->cache_fd >= 0)
		close(p->cache_fd);
	p->cache_fd = -1;
}

int
imap_view_restore(struct imap_client *c)
{
	struct imap_view *v = c->view;
	const char *error;

	if (v == NULL || v->priv->box != NULL)
		return 0;
	if (view_open_box(v, &error) < 0) {
		log_error("%s: %s: %s", c->user, v->name, error);
		client_send_line(c, "* BYE Internal error occurred. Refer to "
				    "server log for more information.");
		c->disconnect = true;
		return -1;
	}
	if (v->priv->box->uid_validity != v->uid_validity) {
		/* a fresh listing cannot tell by itself (mailbox_sync
		   does): the UIDs the client holds mean nothing now */
		log_error("%s: %s: UIDVALIDITY changed (%u -> %u)", c->user,
			  v->name, v->uid_validity, v->priv->box->uid_validity);
		client_send_line(c, "* BYE Mailbox UIDVALIDITY changed");
		c->disconnect = true;
		return -1;
	}
	return 0;
}
