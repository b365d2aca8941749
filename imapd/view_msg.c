/*
 * view_msg - the messages of the selected mailbox for FETCH, SEARCH and
 * COPY: the file mapped read-only, its received date and virtual size,
 * the cached ENVELOPE / BODYSTRUCTURE / BODY / header block (computed with
 * mime_parse and imap_bodystructure on a miss and kept in the index's
 * cache file), QRESYNC's expunge history, and STATUS of any folder
 * through its index. Message files are untrusted; the parsers bound them.
 * What a session learns from files is queued (struct view_fill) and
 * written into the index at its next sync, one index write per command.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imapd.h"
#include "mail/imap_bodystructure.h"
#include "mail/maildir.h"
#include "mail/mime_parse.h"
#include "util/log.h"
#include "util/xmem.h"
#include "view_private.h"

/* queued fills are written once this many are waiting */
#define VIEW_FILLS_FLUSH 20000

static void
fills_flush(struct imap_view *v)
{
	const char *error;
	int fd = view_index_begin(v, false, &error);

	if (fd < 0) {
		log_error("%s", error);
		v->priv->fill_count = 0;
		return;
	}
	view_index_end(v, &fd, false);
}

void
view_fill_add(struct imap_view *v, const struct view_fill *fill)
{
	struct imap_view_private *p = v->priv;

	if (p->fill_count == p->fill_alloc) {
		p->fill_alloc = p->fill_alloc * 2 + 64;
		p->fills =
		    xreallocarray(p->fills, p->fill_alloc, sizeof(*p->fills));
	}
	p->fills[p->fill_count++] = *fill;
	if (p->fill_count >= VIEW_FILLS_FLUSH)
		fills_flush(v);
}

static void
fill_rec(struct mail_index_rec *r, const struct view_fill *f, uint64_t cache_id)
{
	if ((f->have & MAIL_INDEX_HAVE_MTIME) != 0) {
		r->mtime = f->mtime;
		r->have |= MAIL_INDEX_HAVE_MTIME;
	}
	if ((f->have & MAIL_INDEX_HAVE_VSIZE) != 0) {
		r->vsize = f->vsize;
		r->have |= MAIL_INDEX_HAVE_VSIZE;
	}
	if ((f->have & MAIL_INDEX_HAVE_CACHE) != 0 && f->cache_id == cache_id &&
	    (r->have & MAIL_INDEX_HAVE_CACHE) == 0) {
		r->cache_off = f->cache_off;
		r->cache_len = f->cache_len;
		r->have |= MAIL_INDEX_HAVE_CACHE;
	}
}

void
view_fills_apply(struct imap_view *v)
{
	struct imap_view_private *p = v->priv;

	for (size_t i = 0; i < p->fill_count; i++) {
		struct mail_index_rec *r =
		    mail_index_lookup(p->idx, p->fills[i].uid);

		if (r != NULL)
			fill_rec(r, &p->fills[i], p->idx->cache_id);
	}
	p->fill_count = 0;
}

/* Records what we learnt in our copy now and in the file later. */
static void
learn(struct imap_view *v, const struct view_fill *f)
{
	struct mail_index_rec *r = mail_index_lookup(v->priv->idx, f->uid);

	if (r != NULL)
		fill_rec(r, f, v->priv->idx->cache_id);
	view_fill_add(v, f);
}

static const struct mail_index_rec *
msg_rec(const struct imap_view *v, uint32_t seq)
{
	if (seq == 0 || seq > v->count ||
	    (v->msgs[seq - 1].flags & VIEW_FLAG_GONE) != 0)
		return NULL;
	return mail_index_lookup(v->priv->idx, v->msgs[seq - 1].uid);
}

int
imap_view_msg_open(struct imap_client *c, uint32_t seq, struct imap_msg_file *f,
		   bool *expunged_r)
{
	struct imap_view *v = c->view;
	long bi = view_box_idx(v, seq);
	const char *error;
	struct stat st;
	int fd;

	memset(f, 0, sizeof(*f));
	*expunged_r = false;
	if (bi < 0) {
		*expunged_r = true;
		return -1;
	}
	if (mailbox_msg_open(v->priv->box, (size_t)bi, &fd, expunged_r,
			     &error) < 0) {
		if (!*expunged_r)
			log_error("%s: %s", c->user, error);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		log_error("%s: fstat(%s): %s", c->user, v->name,
			  strerror(errno));
		close(fd);
		return -1;
	}
	if (st.st_size > 0) {
		void *map = mmap(NULL, (size_t)st.st_size, PROT_READ,
				 MAP_PRIVATE, fd, 0);

		if (map == MAP_FAILED) {
			log_error("%s: mmap(%s): %s", c->user, v->name,
				  strerror(errno));
			close(fd);
			return -1;
		}
		f->map = map;
		f->map_size = (size_t)st.st_size;
		f->data = map;
		f->size = (size_t)st.st_size;
	} else {
		f->data = "";
	}
	close(fd);
	return 0;
}

void
imap_view_msg_close(struct imap_msg_file *f)
{
	if (f->map != NULL)
		(void)munmap(f->map, f->map_size);
	memset(f, 0, sizeof(*f));
}

int
imap_view_msg_date(struct imap_client *c, uint32_t seq, time_t *date_r)
{
	struct imap_view *v = c->view;
	const struct mail_index_rec *r = msg_rec(v, seq);
	struct view_fill fill = {0};
	long bi = view_box_idx(v, seq);
	const char *error;
	bool expunged;
	struct stat st;
	int fd;

	if (r != NULL && (r->have & MAIL_INDEX_HAVE_MTIME) != 0) {
		*date_r = (time_t)r->mtime;
		return 0;
	}
	if (bi < 0 || mailbox_msg_open(v->priv->box, (size_t)bi, &fd, &expunged,
				       &error) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	/* Dovecot's Maildir received date is the file's mtime */
	*date_r = st.st_mtime;
	fill.uid = v->msgs[seq - 1].uid;
	fill.have = MAIL_INDEX_HAVE_MTIME;
	fill.mtime = (int64_t)st.st_mtime;
	learn(v, &fill);
	return 0;
}

int
imap_view_msg_vsize(struct imap_client *c, uint32_t seq, uint64_t *vsize_r)
{
	struct imap_view *v = c->view;
	const struct mail_index_rec *r = msg_rec(v, seq);
	struct view_fill fill = {0};
	long bi = view_box_idx(v, seq);
	const char *error;

	if (r != NULL && (r->have & MAIL_INDEX_HAVE_VSIZE) != 0) {
		*vsize_r = r->vsize;
		return 0;
	}
	if (bi < 0 ||
	    mailbox_msg_vsize(v->priv->box, (size_t)bi, vsize_r, &error) < 0)
		return -1;
	fill.uid = v->msgs[seq - 1].uid;
	fill.have = MAIL_INDEX_HAVE_VSIZE;
	fill.vsize = *vsize_r;
	learn(v, &fill);
	return 0;
}

/* The cache file of the index we hold, opened once per session. */
static int
cache_fd(struct imap_view *v)
{
	struct imap_view_private *p = v->priv;
	const char *error;

	if (p->cache_fd >= 0 && p->cache_id == p->idx->cache_id)
		return p->cache_fd;
	if (p->cache_fd >= 0)
		close(p->cache_fd);
	p->cache_fd = mail_index_cache_open(v->dir, &p->cache_id, &error);
	if (p->cache_fd < 0 && errno != ENOENT)
		log_warning("%s", error);
	if (p->cache_fd >= 0 && p->cache_id != p->idx->cache_id) {
		/* the index was rebuilt meanwhile: no cache until we sync */
		close(p->cache_fd);
		p->cache_fd = -1;
	}
	return p->cache_fd;
}

static int
cache_lookup(struct imap_view *v, const struct mail_index_rec *r,
	     enum imap_cache_field field, struct strbuf *out)
{
	int fd;
	char *blob;
	ssize_t n;
	int ret;

	if ((r->have & MAIL_INDEX_HAVE_CACHE) == 0 ||
	    r->cache_len > MAIL_INDEX_CACHE_BLOB_MAX || (fd = cache_fd(v)) < 0)
		return 0;
	blob = xmalloc(r->cache_len + 1);
	n = pread(fd, blob, r->cache_len, (off_t)r->cache_off);
	ret = n == (ssize_t)r->cache_len &&
		      mail_index_cache_decode(blob, r->cache_len, r->uid,
					      (unsigned int)field, out) == 0
		  ? 1
		  : 0;
	xfree(&blob);
	return ret;
}

int
imap_view_msg_cached(struct imap_client *c, uint32_t seq,
		     enum imap_cache_field field, struct strbuf *out)
{
	struct imap_view *v = c->view;
	const struct mail_index_rec *r = msg_rec(v, seq);
	struct strbuf fields[MAIL_INDEX_CACHE_FIELDS];
	struct imap_msg_file f;
	struct mime_part *root;
	bool expunged;
	size_t start = out->len;
	int ret = 0, fd;

	if (r != NULL) {
		if (cache_lookup(v, r, field, out) > 0)
			return 0;
		strbuf_truncate(out, start);
	}
	if (imap_view_msg_open(c, seq, &f, &expunged) < 0)
		return -1;
	root = mime_parse_message(f.data, f.size, NULL);
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++)
		strbuf_init(&fields[i], MAIL_INDEX_CACHE_BLOB_MAX / 4);
	if (imap_envelope_write(&fields[IMAP_CACHE_ENVELOPE],
				f.data + root->header_offset,
				(size_t)root->header.physical) < 0 ||
	    imap_bodystructure_write(&fields[IMAP_CACHE_BODYSTRUCTURE], f.data,
				     f.size, root, true) < 0 ||
	    imap_bodystructure_write(&fields[IMAP_CACHE_BODY], f.data, f.size,
				     root, false) < 0 ||
	    strbuf_append(&fields[IMAP_CACHE_HEADER],
			  f.data + root->header_offset,
			  (size_t)root->header.physical) < 0) {
		log_error("%s: %s UID %u: message structure too large to "
			  "cache",
			  c->user, v->name, v->msgs[seq - 1].uid);
		ret = -1;
	}
	if (ret == 0 && (r == NULL || (r->have & MAIL_INDEX_HAVE_VSIZE) == 0)) {
		/* the parse gave RFC822.SIZE for free */
		struct view_fill vf = {0};

		vf.uid = v->msgs[seq - 1].uid;
		vf.have = MAIL_INDEX_HAVE_VSIZE;
		vf.vsize = root->header.virtual + root->body.virtual;
		learn(v, &vf);
	}
	mime_part_free(&root);
	imap_view_msg_close(&f);
	if (ret == 0 &&
	    strbuf_append(out,
			  fields[field].data != NULL ? fields[field].data : "",
			  fields[field].len) < 0)
		ret = -1;
	if (ret == 0 && (fd = cache_fd(v)) >= 0) {
		struct view_fill fill = {0};
		size_t len;
		void *blob =
		    mail_index_cache_encode(v->msgs[seq - 1].uid, fields, &len);
		const char *error;

		if (len <= MAIL_INDEX_CACHE_BLOB_MAX &&
		    mail_index_cache_append(fd, blob, len, &fill.cache_off,
					    &error) == 0) {
			fill.uid = v->msgs[seq - 1].uid;
			fill.have = MAIL_INDEX_HAVE_CACHE;
			fill.cache_id = v->priv->cache_id;
			fill.cache_len = (uint32_t)len;
			learn(v, &fill);
		}
		xfree(&blob);
	}
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++)
		strbuf_release(&fields[i]);
	return ret;
}

static bool
view_has_uid(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid == uid)
			return true;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Every UID of first..last that the view does not hold. */
static void
add_absent(const struct imap_view *v, uint32_t first, uint32_t last,
	   struct imap_seqset *out)
{
	size_t lo = 0, hi = v->count;
	uint64_t next = first;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < v->count && v->msgs[k].uid <= last; k++) {
		if (v->msgs[k].uid > next)
			imap_seqset_add(out, (uint32_t)next,
					v->msgs[k].uid - 1);
		next = (uint64_t)v->msgs[k].uid + 1;
	}
	if (next <= last)
		imap_seqset_add(out, (uint32_t)next, last);
}

int
imap_view_vanished_since(struct imap_client *c, uint64_t modseq,
			 const struct imap_seqset *uids,
			 struct imap_seqset *vanished_r)
{
	const struct imap_view *v = c->view;
	const struct mail_index *idx = v->priv->idx;

	if (modseq >= idx->expunge_floor) {
		for (size_t i = 0; i < idx->exp_count; i++) {
			const struct mail_index_expunged *e = &idx->expunged[i];

			if (e->modseq <= modseq ||
			    (uids != NULL &&
			     !imap_seqset_contains(uids, e->uid)) ||
			    view_has_uid(v, e->uid))
				continue;
			imap_seqset_add(vanished_r, e->uid, e->uid);
		}
		return 0;
	}
	/* history forgotten: whatever is not here now may have vanished */
	if (uids == NULL) {
		if (v->uid_next > 1)
			add_absent(v, 1, v->uid_next - 1, vanished_r);
		return 0;
	}
	for (unsigned int i = 0; i < uids->count; i++)
		add_absent(v, uids->ranges[i].first, uids->ranges[i].last,
			   vanished_r);
	return 0;
}

static void
status_from_view(struct imap_client *c, struct imap_status *st)
{
	struct imap_view *v = c->view;

	for (uint32_t k = 0; k < v->count; k++) {
		const struct imap_msg *m = &v->msgs[k];
		uint64_t vsize;

		if ((m->flags & VIEW_FLAG_GONE) != 0)
			continue;
		st->messages++;
		if ((m->flags & IMAP_FLAG_RECENT) != 0)
			st->recent++;
		if ((m->flags & IMAP_FLAG_SEEN) == 0)
			st->unseen++;
		if ((m->flags & IMAP_FLAG_DELETED) != 0)
			st->deleted++;
		if (imap_view_msg_vsize(c, k + 1, &vsize) == 0)
			st->size += vsize;
	}
	st->uid_next = v->uid_next;
	st->uid_validity = v->uid_validity;
	st->highest_modseq = v->highest_modseq;
}

static bool
status_index_fresh(const char *dir, const struct mail_index *idx)
{
	struct stat st;
	char *path;
	bool fresh = idx->cur_mtime != 0 && idx->new_mtime != 0;

	for (unsigned int i = 0; i < 2 && fresh; i++) {
		path = xasprintf("%s/%s", dir, i == 0 ? "cur" : "new");
		fresh = stat(path, &st) == 0 &&
			(int64_t)st.st_mtim.tv_sec * 1000000000 +
				st.st_mtim.tv_nsec ==
			    (i == 0 ? idx->cur_mtime : idx->new_mtime);
		xfree(&path);
	}
	for (size_t k = 0; k < idx->count && fresh; k++) {
		if ((idx->recs[k].have & MAIL_INDEX_HAVE_VSIZE) == 0)
			fresh = false;
	}
	return fresh;
}

int
imap_mailbox_status(struct imap_client *c, const char *dir,
		    struct imap_status *st_r, const char **error_r)
{
	struct imap_view tmp = {0};
	struct imap_view_private priv = {0};
	struct mail_index *idx = NULL;
	uint64_t ino;
	int fd, ret;

	memset(st_r, 0, sizeof(*st_r));
	if (c->view != NULL && strcmp(c->view->dir, dir) == 0) {
		status_from_view(c, st_r);
		return 0;
	}
	ret = maildir_exists(dir, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = maildir_set_error("%s: not a Maildir", dir);
		return -1;
	}
	/* fast path: the index saw cur/ and new/ as they are now */
	fd = mail_index_lock(dir, false, error_r);
	if (fd < 0)
		return -1;
	ret = mail_index_read(dir, &idx, &ino, error_r);
	mail_index_unlock(&fd);
	if (ret <= 0 || !status_index_fresh(dir, idx)) {
		mail_index_free(&idx);
		/* slow path: list the Maildir and bring the index up to
		   date, as a session selecting it would */
		tmp.dir = (char *)dir;
		tmp.priv = &priv;
		priv.cache_fd = -1;
		if (view_open_box(&tmp, error_r) < 0)
			return -1;
		fd = view_index_begin(&tmp, true, error_r);
		if (fd < 0) {
			mailbox_close(&priv.box);
			return -1;
		}
		for (size_t k = 0; k < priv.idx->count; k++) {
			struct mail_index_rec *r = &priv.idx->recs[k];
			long bi;
			const char *error;

			if ((r->have & MAIL_INDEX_HAVE_VSIZE) != 0)
				continue;
			bi = mailbox_find_uid(priv.box, r->uid);
			if (bi >= 0 &&
			    mailbox_msg_vsize(priv.box, (size_t)bi, &r->vsize,
					      &error) == 0) {
				r->have |= MAIL_INDEX_HAVE_VSIZE;
				priv.idx_dirty = true;
			}
		}
		view_index_end(&tmp, &fd, false);
		mailbox_close(&priv.box);
		idx = priv.idx;
		priv.idx = NULL;
		xfree(&priv.fills);
	}
	for (size_t k = 0; k < idx->count; k++) {
		const struct mail_index_rec *r = &idx->recs[k];

		st_r->messages++;
		if (r->uid >= idx->first_recent_uid)
			st_r->recent++;
		if ((r->flags & MAIL_FLAG_SEEN) == 0)
			st_r->unseen++;
		if ((r->flags & MAIL_FLAG_DELETED) != 0)
			st_r->deleted++;
		st_r->size += r->vsize;
	}
	st_r->uid_next = idx->next_uid;
	if (idx->count > 0 && st_r->uid_next <= idx->recs[idx->count - 1].uid)
		st_r->uid_next = idx->recs[idx->count - 1].uid + 1;
	st_r->uid_validity = idx->uid_validity;
	st_r->highest_modseq = idx->highest_modseq;
	mail_index_free(&idx);
	return 0;
}
