/*
 * view_private - what view.c, view_store.c and view_msg.c share about the
 * selected mailbox: the Maildir listing (mail/mailbox.h), the last copy of
 * the index (mail/mail_index.h) and the work queued for the index. Only
 * the view module includes this.
 */
#ifndef VIEW_PRIVATE_H
#define VIEW_PRIVATE_H

#include <time.h>

#include "imapd.h"
#include "mail/mail_index.h"
#include "mail/mailbox.h"

/* imap_msg.flags: expunged on disk but not yet reported (IMAP_SYNC_NO_
 * EXPUNGE kept it); never shown to clients. */
#define VIEW_FLAG_GONE 0x8000
/* imap_msg.flags: changed by someone else before our STORE merged it: the
 * next sync reports it (a .SILENT STORE does not). */
#define VIEW_FLAG_REPORT 0x4000
#define VIEW_FLAGS_PRIVATE (VIEW_FLAG_GONE | VIEW_FLAG_REPORT)

/* A field learnt from a message file, written into the index at the next
 * sync. */
struct view_fill {
	uint32_t uid;
	uint8_t have; /* MAIL_INDEX_HAVE_* */
	int64_t mtime;
	uint64_t vsize;
	uint64_t cache_id, cache_off;
	uint32_t cache_len;
};

struct imap_view_private {
	struct mailbox *box;
	struct mail_index *idx; /* the index as last read or written */
	uint64_t idx_ino, idx_gen;
	int cache_fd; /* -1 until opened */
	uint64_t cache_id;
	/* cur/ and new/ mtimes before our last scan and when it ran */
	struct timespec cur_mtime, new_mtime, scanned_at;
	bool rescan;	   /* the listing is stale (we expunged) */
	bool listed;	   /* box was just listed: the next scan may skip it */
	bool from_index;   /* ... from p->idx (view_open.c): nothing to
			      reconcile with it either */
	bool idx_dirty;	   /* p->idx changed in view_index_begin() */
	bool index_broken; /* index write failed once: logged, kept in memory */
	struct view_fill *fills;
	size_t fill_count, fill_alloc;
};

/* view.c */
/* Syncs the view with the disk and the index; report false only updates
 * it (SELECT sends its own replies). */
int view_sync(struct imap_client *c, unsigned int flags, bool report);
/* Locks the index exclusively, brings p->idx up to date with the file
 * (rebuilding it when missing, corrupt or stale) and, when scan, with a
 * fresh Maildir listing. Returns the lock fd, or -1 with *error_r. */
int view_index_begin(struct imap_view *v, bool scan, const char **error_r);
/* Writes p->idx when changed (after applying queued fills) and unlocks. */
void view_index_end(struct imap_view *v, int *lock_fd, bool changed);
/* Sends FETCH (UID? FLAGS MODSEQ?) for seq. */
void view_send_fetch_flags(struct imap_client *c, uint32_t seq, bool uid,
			   bool flags);
/* Sends the FLAGS and PERMANENTFLAGS untagged replies. */
void view_send_flags(struct imap_client *c);
/* Reloads keyword names from dovecot-keywords; true when they changed. */
bool view_keywords_reload(struct imap_view *v);

/* Index of message seq in p->box->msgs, or -1 (gone). */
long view_box_idx(const struct imap_view *v, uint32_t seq);
/* Removes messages marked in del (view indexes) from the view and queues
 * EXPUNGE or VANISHED unless silent. */
void view_remove(struct imap_client *c, const bool *del, bool silent);

/* view_open.c */
static inline int64_t
view_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* A directory changed within the second before we looked may change
 * again without its mtime moving (coarse timestamps): Dovecot treats it as
 * dirty, and so do we. */
static inline bool
view_mtime_clean(const struct timespec *mtime, const struct timespec *when)
{
	return mtime->tv_sec != 0 && when->tv_sec > mtime->tv_sec + 1;
}

/* dir/sub's mtime, {0, 0} when it cannot be stat()ed. */
void view_dir_mtime(const char *dir, const char *sub, struct timespec *ts_r);
/* Fills p->box, noting the directory mtimes first: from the index and
 * dovecot-uidlist when the index's last full scan saw cur/ and new/ as
 * they are now (MAIL_INDEX_F_NAMES_EXACT; p->idx is then that index),
 * else by listing (mailbox_open). */
int view_open_box(struct imap_view *v, const char **error_r);
/* Whether every message of box is in cur/ named base":2,"<the letters its
 * flags in dm give> (for MAIL_INDEX_F_NAMES_EXACT). */
bool view_names_exact(const struct mailbox *box,
		      const struct mail_index_disk_msg *dm);
/* Compacts the cache file when blobs of expunged messages are a good part
 * of it (exclusive index lock held; p->idx is written right after). */
void view_cache_compact(struct imap_view *v);

/* view_store.c */
struct maildir_keywords;
/* Reads dir's dovecot-keywords into kw (empty when missing). */
int view_keywords_read(const char *dir, struct maildir_keywords *kw,
		       const char **error_r);
int view_expunge(struct imap_client *c, const struct imap_seqset *seqs,
		 bool force, bool silent, const char **error_r);

/* view_msg.c */
void view_fill_add(struct imap_view *v, const struct view_fill *fill);
void view_fills_apply(struct imap_view *v);

#endif
