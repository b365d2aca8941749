/*
 * view - the selected mailbox of an IMAP session: the sequence number <->
 * UID map, the sync that tells the client what changed (EXPUNGE or
 * VANISHED, FETCH FLAGS, EXISTS, RECENT) and the index access the other
 * view_*.c files share (view_select.c: SELECT & co, view_open.c: the
 * listing, from the index when nothing changed, view_store.c: STORE and
 * EXPUNGE, view_msg.c: message data and STATUS).
 *
 * Truth is the Maildir (mail/mailbox.h lists it, Dovecot-compatible);
 * mail/mail_index.h keeps flags, modseqs, \Recent ownership and cached
 * fields beside it, shared with the other sessions through its lock.
 * What the client has been told lives in struct imap_view. Arguments are
 * untrusted client input (checked here); files are untrusted too (the
 * index module checks them). Runs on the session's thread, blocking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imapd.h"
#include "mail/maildir.h"
#include "mail/maildir_keywords.h"
#include "util/log.h"
#include "util/xmem.h"
#include "view_private.h"

#define SEQSET_MAX_RANGES 100000

static const struct {
	uint32_t flag;
	const char *name;
} system_flags[] = {
    {IMAP_FLAG_ANSWERED, "\\Answered"}, {IMAP_FLAG_FLAGGED, "\\Flagged"},
    {IMAP_FLAG_DELETED, "\\Deleted"},	{IMAP_FLAG_SEEN, "\\Seen"},
    {IMAP_FLAG_DRAFT, "\\Draft"},	{IMAP_FLAG_RECENT, "\\Recent"},
};

static uint64_t
now_usecs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static bool
dirs_changed(const struct imap_view *v)
{
	const struct imap_view_private *p = v->priv;
	struct timespec cur, new;

	if (!view_mtime_clean(&p->cur_mtime, &p->scanned_at) ||
	    !view_mtime_clean(&p->new_mtime, &p->scanned_at))
		return true;
	view_dir_mtime(v->dir, "cur", &cur);
	view_dir_mtime(v->dir, "new", &new);
	return view_ts_ns(&cur) != view_ts_ns(&p->cur_mtime) ||
	       view_ts_ns(&new) != view_ts_ns(&p->new_mtime);
}

bool
view_keywords_reload(struct imap_view *v)
{
	struct maildir_keywords kw;
	const char *error;
	bool changed = false;

	if (view_keywords_read(v->dir, &kw, &error) < 0) {
		log_warning("%s", error);
		maildir_keywords_clear(&kw);
	}
	for (unsigned int i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		const char *old = v->keywords[i], *new = kw.names[i];

		if ((old == NULL) != (new == NULL) ||
		    (old != NULL && strcmp(old, new) != 0)) {
			changed = true;
			xfree(&v->keywords[i]);
			if (new != NULL)
				v->keywords[i] = xstrdup(new);
		}
	}
	maildir_keywords_clear(&kw);
	return changed;
}

static bool
uids_equal(const struct mailbox *box, const struct mail_index *idx)
{
	if (box->count != idx->count)
		return false;
	for (size_t i = 0; i < box->count; i++) {
		if (box->msgs[i].uid != idx->recs[i].uid)
			return false;
	}
	return true;
}

static int
view_scan(struct imap_view *v, const char **error_r)
{
	struct imap_view_private *p = v->priv;

	if (p->listed) {
		/* view_open_box() just listed it */
		p->listed = false;
		return 0;
	}
	view_dir_mtime(v->dir, "cur", &p->cur_mtime);
	view_dir_mtime(v->dir, "new", &p->new_mtime);
	clock_gettime(CLOCK_REALTIME, &p->scanned_at);
	if (mailbox_sync(p->box, error_r) < 0)
		return -1;
	p->rescan = false;
	return 0;
}

static void
view_rebuild(struct imap_view *v, const struct mail_index *old)
{
	struct imap_view_private *p = v->priv;
	uint64_t floor = now_usecs(), cache_id = 0;
	const char *error;

	/* modseqs must never go back, whatever happened to the file */
	if (old != NULL && old->uid_validity == p->box->uid_validity &&
	    old->highest_modseq >= floor)
		floor = old->highest_modseq + 1;
	if (p->idx != NULL && p->idx->uid_validity == p->box->uid_validity &&
	    p->idx->highest_modseq >= floor)
		floor = p->idx->highest_modseq + 1;
	if (mail_index_cache_create(v->dir, &cache_id, &error) < 0)
		log_error("%s", error);
	mail_index_free(&p->idx);
	p->idx = mail_index_new(p->box->uid_validity, floor, cache_id);
	if (old != NULL)
		p->idx->first_recent_uid = old->first_recent_uid;
}

int
view_index_begin(struct imap_view *v, bool scan, const char **error_r)
{
	struct imap_view_private *p = v->priv;
	struct mail_index *idx = NULL;
	uint64_t ino, gen;
	bool changed = false;
	int fd, ret;

	fd = mail_index_lock(v->dir, true, error_r);
	if (fd < 0)
		return -1;
	if ((scan || p->rescan) && view_scan(v, error_r) < 0) {
		mail_index_unlock(&fd);
		return -1;
	}
	scan = (scan || p->rescan) && !p->from_index;
	p->from_index = false;
	/* peek gives 0 for a present and a missing file alike (ino 0) */
	if (p->idx == NULL || mail_index_peek(v->dir, &ino, &gen) < 0 ||
	    ino != p->idx_ino || gen != p->idx_gen) {
		ret = mail_index_read(v->dir, &idx, &ino, error_r);
		if (ret < 0)
			log_warning("%s (rebuilding it)", *error_r);
		if (ret > 0 && idx->uid_validity == p->box->uid_validity) {
			if (p->idx != NULL &&
			    p->idx->uid_validity == idx->uid_validity &&
			    p->idx->highest_modseq > idx->highest_modseq)
				idx->highest_modseq = p->idx->highest_modseq;
			mail_index_free(&p->idx);
			p->idx = idx;
			p->idx_ino = ino;
			p->idx_gen = idx->generation;
			idx = NULL;
		} else {
			view_rebuild(v, idx);
			changed = true;
		}
		mail_index_free(&idx);
	}
	if (!scan && !uids_equal(p->box, p->idx)) {
		/* someone else saw new or expunged files: list them too */
		if (view_scan(v, error_r) < 0) {
			mail_index_unlock(&fd);
			return -1;
		}
		scan = true;
	}
	if (scan) {
		struct mail_index_disk_msg *dm =
		    xreallocarray(NULL, p->box->count + 1, sizeof(*dm));

		for (size_t i = 0; i < p->box->count; i++) {
			dm[i].uid = p->box->msgs[i].uid;
			mail_index_flags_parse(
			    mailbox_msg_flags(&p->box->msgs[i]), &dm[i].flags,
			    &dm[i].keywords);
		}
		if (mail_index_sync_disk(p->idx, dm, p->box->count))
			changed = true;
		{
			uint32_t f = p->idx->hdr_flags &
				     ~(uint32_t)MAIL_INDEX_F_NAMES_EXACT;

			if (view_names_exact(p->box, dm))
				f |= MAIL_INDEX_F_NAMES_EXACT;
			if (f != p->idx->hdr_flags) {
				p->idx->hdr_flags = f;
				changed = true;
			}
		}
		xfree(&dm);
		if (p->idx->next_uid != p->box->next_uid) {
			p->idx->next_uid = p->box->next_uid;
			changed = true;
		}
		{
			int64_t cur =
			    view_mtime_clean(&p->cur_mtime, &p->scanned_at)
				? view_ts_ns(&p->cur_mtime)
				: 0;
			int64_t new =
			    view_mtime_clean(&p->new_mtime, &p->scanned_at)
				? view_ts_ns(&p->new_mtime)
				: 0;

			if (p->idx->cur_mtime != cur ||
			    p->idx->new_mtime != new) {
				p->idx->cur_mtime = cur;
				p->idx->new_mtime = new;
				changed = true;
			}
		}
	}
	p->rescan = false;
	p->idx_dirty = changed;
	return fd;
}

void
view_index_end(struct imap_view *v, int *lock_fd, bool changed)
{
	struct imap_view_private *p = v->priv;
	const char *error;
	uint64_t ino;

	if (p->fill_count > 0) {
		view_fills_apply(v);
		changed = true;
	}
	if (p->idx_dirty)
		changed = true;
	p->idx_dirty = false;
	if (changed)
		view_cache_compact(v);
	if (changed) {
		if (mail_index_write(v->dir, p->idx, &ino, &error) < 0) {
			if (!p->index_broken)
				log_error("%s", error);
			p->index_broken = true;
			p->idx_gen = 0;
		} else {
			p->idx_ino = ino;
			p->idx_gen = p->idx->generation;
		}
	}
	mail_index_unlock(lock_fd);
}

long
view_box_idx(const struct imap_view *v, uint32_t seq)
{
	const struct imap_msg *m;

	if (seq == 0 || seq > v->count)
		return -1;
	m = &v->msgs[seq - 1];
	if ((m->flags & VIEW_FLAG_GONE) != 0)
		return -1;
	return mailbox_find_uid(v->priv->box, m->uid);
}

int
imap_view_format_flags(const struct imap_view *v, uint32_t seq,
		       struct strbuf *sb)
{
	const struct imap_msg *m;
	bool first = true;
	int ret = 0;

	if (seq == 0 || seq > v->count)
		return -1;
	m = &v->msgs[seq - 1];
	ret |= strbuf_append_char(sb, '(');
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(*system_flags);
	     i++) {
		if ((m->flags & system_flags[i].flag) == 0)
			continue;
		ret |= strbuf_printf(sb, "%s%s", first ? "" : " ",
				     system_flags[i].name);
		first = false;
	}
	for (unsigned int i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		if ((m->keywords & (1u << i)) == 0 || v->keywords[i] == NULL)
			continue;
		ret |=
		    strbuf_printf(sb, "%s%s", first ? "" : " ", v->keywords[i]);
		first = false;
	}
	ret |= strbuf_append_char(sb, ')');
	return ret < 0 ? -1 : 0;
}

int
imap_view_format_mailbox_flags(const struct imap_view *v, bool permanent,
			       struct strbuf *sb)
{
	int ret = 0;

	if (permanent && v->readonly)
		return strbuf_append_str(sb, "()");
	ret |= strbuf_append_str(sb, "(\\Answered \\Flagged \\Deleted "
				     "\\Seen \\Draft");
	for (unsigned int i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		if (v->keywords[i] != NULL)
			ret |= strbuf_printf(sb, " %s", v->keywords[i]);
	}
	if (permanent)
		ret |= strbuf_append_str(sb, " \\*");
	ret |= strbuf_append_char(sb, ')');
	return ret < 0 ? -1 : 0;
}

void
view_send_flags(struct imap_client *c)
{
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	(void)imap_view_format_mailbox_flags(c->view, false, &sb);
	client_send_line(c, "* FLAGS %s", strbuf_cstr(&sb));
	strbuf_reset(&sb);
	(void)imap_view_format_mailbox_flags(c->view, true, &sb);
	client_send_line(c, "* OK [PERMANENTFLAGS %s] %s", strbuf_cstr(&sb),
			 c->view->readonly ? "Read-only mailbox."
					   : "Flags permitted.");
	strbuf_release(&sb);
}

void
view_send_fetch_flags(struct imap_client *c, uint32_t seq, bool uid, bool flags)
{
	struct imap_msg *m = &c->view->msgs[seq - 1];
	struct strbuf sb;
	bool sp = false;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	/* QRESYNC (RFC 7162 3.2.4): untagged FETCH carries the UID */
	if (uid || (c->enabled & IMAP_ENABLED_QRESYNC) != 0) {
		(void)strbuf_printf(&sb, "UID %" PRIu32, m->uid);
		sp = true;
	}
	if (flags) {
		m->flags &= ~(uint32_t)VIEW_FLAG_REPORT; /* told now */
		(void)strbuf_printf(&sb, "%sFLAGS ", sp ? " " : "");
		(void)imap_view_format_flags(c->view, seq, &sb);
		sp = true;
	}
	if ((c->enabled & IMAP_ENABLED_CONDSTORE) != 0)
		(void)strbuf_printf(&sb, "%sMODSEQ (%" PRIu64 ")",
				    sp ? " " : "", m->modseq);
	client_send_line(c, "* %" PRIu32 " FETCH (%s)", seq, strbuf_cstr(&sb));
	strbuf_release(&sb);
}

void
view_remove(struct imap_client *c, const bool *del, bool silent)
{
	struct imap_view *v = c->view;
	struct imap_seqset vanished;
	uint32_t n = 0;
	bool qresync = (c->enabled & IMAP_ENABLED_QRESYNC) != 0;

	imap_seqset_init(&vanished);
	if (!silent && !qresync) {
		/* descending, so every number is valid as it arrives */
		for (uint32_t i = v->count; i > 0; i--) {
			if (del[i - 1])
				client_send_line(c, "* %" PRIu32 " EXPUNGE", i);
		}
	}
	for (uint32_t i = 0; i < v->count; i++) {
		if (del[i])
			imap_seqset_add(&vanished, v->msgs[i].uid,
					v->msgs[i].uid);
		else
			v->msgs[n++] = v->msgs[i];
	}
	v->count = n;
	if (!silent && qresync && vanished.count > 0) {
		struct strbuf sb;

		strbuf_init(&sb, STRBUF_UNLIMITED);
		(void)imap_seqset_format(&vanished, &sb);
		client_send_line(c, "* VANISHED %s", strbuf_cstr(&sb));
		strbuf_release(&sb);
	}
	imap_seqset_release(&vanished);
}

/* Compares what the client was told with p->idx and tells it the
 * differences (report false: only updates the view, for SELECT). */
static void
view_update(struct imap_client *c, unsigned int flags, uint32_t recent_from,
	    bool report)
{
	struct imap_view *v = c->view;
	struct mail_index *idx = v->priv->idx;
	struct imap_msg *msgs;
	bool *del, *fetch;
	uint32_t n = 0, last_uid = 0, new_msgs = 0;
	size_t i = 0, j = 0, total = (size_t)v->count + idx->count;
	bool any_del = false, kw_changed;

	kw_changed = view_keywords_reload(v);
	msgs = xreallocarray(NULL, total + 1, sizeof(*msgs));
	del = xcalloc(total + 1, sizeof(*del));
	fetch = xcalloc(total + 1, sizeof(*fetch));
	if (v->count > 0)
		last_uid = v->msgs[v->count - 1].uid;
	while (i < v->count || j < idx->count) {
		const struct mail_index_rec *r =
		    j < idx->count ? &idx->recs[j] : NULL;
		struct imap_msg *m = i < v->count ? &v->msgs[i] : NULL;

		if (m != NULL && (r == NULL || m->uid < r->uid)) {
			/* gone from the mailbox */
			msgs[n] = *m;
			if ((flags & IMAP_SYNC_NO_EXPUNGE) != 0) {
				msgs[n].flags |= VIEW_FLAG_GONE;
			} else {
				del[n] = true;
				any_del = true;
			}
			n++;
			i++;
		} else if (m == NULL || r->uid < m->uid) {
			j++;
			if (r->uid <= last_uid)
				continue; /* UIDs only grow: never shown */
			msgs[n] = (struct imap_msg){
			    .uid = r->uid,
			    .flags = r->flags,
			    .keywords = r->keywords,
			    .modseq = r->modseq,
			};
			if (r->uid >= recent_from)
				msgs[n].flags |= IMAP_FLAG_RECENT;
			n++;
			new_msgs++;
		} else {
			msgs[n] = *m;
			if ((m->flags & ~(uint32_t)(IMAP_FLAG_RECENT |
						    VIEW_FLAGS_PRIVATE)) !=
				r->flags ||
			    m->keywords != r->keywords ||
			    (m->flags & VIEW_FLAG_REPORT) != 0) {
				msgs[n].flags =
				    r->flags | (m->flags & IMAP_FLAG_RECENT);
				msgs[n].keywords = r->keywords;
				fetch[n] = true;
			}
			if (m->modseq != r->modseq) {
				msgs[n].modseq = r->modseq;
				if ((c->enabled & IMAP_ENABLED_CONDSTORE) != 0)
					fetch[n] = true;
			}
			msgs[n].flags &= ~(uint32_t)VIEW_FLAGS_PRIVATE;
			n++;
			i++;
			j++;
		}
	}
	xfree(&v->msgs);
	v->msgs = msgs;
	v->count = n;
	v->highest_modseq = idx->highest_modseq;
	v->uid_next = idx->next_uid;
	if (n > 0 && v->uid_next <= v->msgs[n - 1].uid)
		v->uid_next = v->msgs[n - 1].uid + 1;
	if (report) {
		if (kw_changed)
			view_send_flags(c);
		/* FETCH numbers are those before the expunges below */
		for (uint32_t k = 0; k < n; k++) {
			if (fetch[k] && !del[k] &&
			    (v->msgs[k].flags & VIEW_FLAG_GONE) == 0)
				view_send_fetch_flags(c, k + 1, false, true);
		}
	}
	if (any_del)
		view_remove(c, del, !report);
	if (report && new_msgs > 0) {
		uint32_t recent = 0;

		for (uint32_t k = 0; k < v->count; k++) {
			if ((v->msgs[k].flags & IMAP_FLAG_RECENT) != 0)
				recent++;
		}
		client_send_line(c, "* %" PRIu32 " EXISTS", v->count);
		if ((c->enabled & IMAP_ENABLED_IMAP4REV2) == 0)
			client_send_line(c, "* %" PRIu32 " RECENT", recent);
	}
	xfree(&del);
	xfree(&fetch);
}

int
view_sync(struct imap_client *c, unsigned int flags, bool report)
{
	struct imap_view *v = c->view;
	struct imap_view_private *p = v->priv;
	const char *error;
	uint32_t recent_from;
	bool scan, changed = false;
	int fd;

	scan = p->rescan || (flags & IMAP_SYNC_FAST) == 0 || dirs_changed(v);
	fd = view_index_begin(v, scan, &error);
	if (fd < 0) {
		log_error("%s: sync of %s failed: %s", c->user, v->name, error);
		if (report && strstr(error, "UIDVALIDITY changed") != NULL) {
			/* the UIDs the client holds mean nothing now */
			client_send_line(c, "* BYE Mailbox UIDVALIDITY "
					    "changed");
			c->disconnect = true;
		}
		return -1;
	}
	/* \Recent belongs to the first session that sees a message (an
	   EXAMINE session sees it without taking it, as in Dovecot) */
	recent_from = p->idx->first_recent_uid;
	if (!v->readonly && p->idx->count > 0 &&
	    p->idx->recs[p->idx->count - 1].uid >= recent_from) {
		p->idx->first_recent_uid =
		    p->idx->recs[p->idx->count - 1].uid + 1;
		changed = true;
	}
	view_index_end(v, &fd, changed);
	view_update(c, flags, recent_from, report);
	return 0;
}

int
imap_view_sync(struct imap_client *c, unsigned int flags)
{
	if (c->view == NULL)
		return 0;
	return view_sync(c, flags, true);
}

/* UIDs first..last to the sequence numbers holding them. */
static void
uids_to_seqs(const struct imap_view *v, uint32_t first, uint32_t last,
	     struct imap_seqset *seqs)
{
	size_t lo = 0, hi = v->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < v->count && v->msgs[k].uid <= last;) {
		size_t start = k;

		while (k < v->count && v->msgs[k].uid <= last)
			k++;
		imap_seqset_add(seqs, (uint32_t)start + 1, (uint32_t)k);
	}
}

int
imap_view_seqset(struct imap_client *c, const struct imap_arg *arg, bool uid,
		 struct imap_seqset *seqs_r)
{
	const struct imap_view *v = c->view;
	struct imap_seqset raw;
	const char *error;

	imap_seqset_init(seqs_r);
	if (imap_arg_get_seqset(arg, SEQSET_MAX_RANGES, true, &raw, &error) <
	    0) {
		imap_seqset_release(&raw);
		client_send_tagged(c, "BAD", "Error in IMAP command %s: %s",
				   c->cmd_name, error);
		return -1;
	}
	if (v == NULL) {
		imap_seqset_release(&raw);
		return 0;
	}
	if (raw.saved) {
		/* RFC 5182: "$" is the saved UIDs, empty when none */
		if (c->saved_valid) {
			for (unsigned int i = 0; i < c->saved.count; i++)
				uids_to_seqs(v, c->saved.ranges[i].first,
					     c->saved.ranges[i].last, seqs_r);
		}
	} else if (uid) {
		imap_seqset_resolve(
		    &raw, v->count > 0 ? v->msgs[v->count - 1].uid : 0);
		for (unsigned int i = 0; i < raw.count; i++)
			uids_to_seqs(v, raw.ranges[i].first, raw.ranges[i].last,
				     seqs_r);
	} else {
		imap_seqset_resolve(&raw, v->count);
		if (imap_seqset_max(&raw) > v->count) {
			imap_seqset_release(&raw);
			client_send_tagged(c, "BAD",
					   "Error in IMAP command %s: "
					   "Invalid messageset",
					   c->cmd_name);
			return -1;
		}
		for (unsigned int i = 0; i < raw.count; i++)
			imap_seqset_add(seqs_r, raw.ranges[i].first,
					raw.ranges[i].last);
	}
	imap_seqset_release(&raw);
	return 0;
}

void
imap_view_close(struct imap_client *c)
{
	struct imap_view *v = c->view;
	struct imap_view_private *p;

	if (v == NULL)
		return;
	p = v->priv;
	if (p->fill_count > 0) {
		const char *error;
		int fd = view_index_begin(v, false, &error);

		if (fd >= 0)
			view_index_end(v, &fd, false);
	}
	mailbox_close(&p->box);
	mail_index_free(&p->idx);
	if (p->cache_fd >= 0)
		close(p->cache_fd);
	xfree(&p->fills);
	xfree(&p);
	for (unsigned int i = 0; i < IMAP_KEYWORDS_MAX; i++)
		xfree(&v->keywords[i]);
	xfree(&v->msgs);
	xfree(&v->name);
	xfree(&v->dir);
	xfree(&v);
	c->view = NULL;
	c->state = IMAP_STATE_AUTH;
	c->saved_valid = false;
}
