/*
 * maildir_uidlist - Dovecot's dovecot-uidlist file, the UID <-> file name
 * map of a Maildir (format version 3, read also version 1 as Courier
 * writes it):
 *   3 V<uidvalidity> N<nextuid> G<mailbox guid, 32 hex>
 *   <uid> [<key><value> ...] :<file name>
 * Dovecot appends records under the lock without rewriting the header, so
 * N may be lower than the last UID + 1; next_uid takes the larger. Writers
 * hold dovecot-uidlist.lock (a dotlock, created O_EXCL, stale after two
 * minutes) and either append or write the whole new file into the lock
 * file and rename it over the old one, as Dovecot does.
 *
 * The parser and serializer are pure; the file functions do blocking I/O
 * (worker threads only). File content is untrusted: bounded by
 * MAILDIR_UIDLIST_MAX_SIZE, every line checked, no partial acceptance.
 */
#ifndef MAILDIR_UIDLIST_H
#define MAILDIR_UIDLIST_H

#include <stddef.h>
#include <stdint.h>

struct dotlock;

#define MAILDIR_UIDLIST_NAME "dovecot-uidlist"
#define MAILDIR_UIDLIST_MAX_SIZE (256u * 1024 * 1024)
#define MAILDIR_UIDLIST_LINE_MAX 8192
/* Dovecot's MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT. */
#define MAILDIR_UIDLIST_LOCK_STALE_SECS 120

struct maildir_uidlist_rec {
	uint32_t uid;
	char *ext;	/* extension fields as on disk ("W2481"), or NULL */
	char *filename; /* the last known file name (Dovecot writes the name
			   without its ":2," part) */
};

struct maildir_uidlist {
	unsigned int version; /* 3, or 1 when read from a Courier file */
	uint32_t uid_validity;
	uint32_t next_uid;
	char guid[33]; /* lowercase hex, "" when the header has none */
	char *hdr_ext; /* other header fields, kept verbatim, or NULL */
	struct maildir_uidlist_rec *recs; /* ascending uid */
	size_t count, alloc;
};

/* A new, empty list (version 3, next_uid 1, a random guid). */
struct maildir_uidlist *maildir_uidlist_new(uint32_t uid_validity);
void maildir_uidlist_free(struct maildir_uidlist **listp);

/* Parses file content (len bytes; NULs refused). -1 with *error_r
 * (static, valid until the next call in this thread) when malformed:
 * unknown version, missing V, UIDs not ascending, a line over
 * MAILDIR_UIDLIST_LINE_MAX, a bad file name. */
int maildir_uidlist_parse(const char *data, size_t len,
			  struct maildir_uidlist **list_r,
			  const char **error_r);

/* The file content for list, always version 3 (allocated; *len_r set). */
char *maildir_uidlist_serialize(const struct maildir_uidlist *list,
				size_t *len_r);

/* The record with uid, or NULL (binary search). */
const struct maildir_uidlist_rec *
maildir_uidlist_lookup(const struct maildir_uidlist *list, uint32_t uid);
/* The record whose file name has the same base (the part before ":2,")
 * as filename, or NULL. */
const struct maildir_uidlist_rec *
maildir_uidlist_lookup_file(const struct maildir_uidlist *list,
			    const char *filename);
/* The value of extension key in rec ("W" -> "2481"), or NULL. Returns a
 * pointer into a per-thread buffer valid until the next call. */
const char *maildir_uidlist_rec_ext(const struct maildir_uidlist_rec *rec,
				    char key);

/* Appends filename with the next UID; returns the UID, or 0 when the UID
 * space is exhausted (the mailbox then needs a new UIDVALIDITY). */
uint32_t maildir_uidlist_add(struct maildir_uidlist *list, const char *filename,
			     const char *ext);

/* Reads dir/dovecot-uidlist: 1 and *list_r, 0 when it does not exist,
 * -1 on error (malformed content included). */
int maildir_uidlist_read(const char *dir, struct maildir_uidlist **list_r,
			 const char **error_r);
/* Takes dir/dovecot-uidlist.lock, waiting up to timeout_secs. 1 locked,
 * 0 timed out, -1 error. */
int maildir_uidlist_lock(const char *dir, unsigned int timeout_secs,
			 struct dotlock **lock_r, const char **error_r);
/* Writes list as the new dovecot-uidlist through the held lock (written
 * into the lock file, fsync, rename): the lock is released in all cases. */
int maildir_uidlist_write(struct dotlock **lockp,
			  const struct maildir_uidlist *list,
			  const char **error_r);

/* Appends list->recs[from..count) to dir/dovecot-uidlist (the caller
 * holds the lock) and fsyncs it. The header is left alone, as Dovecot
 * does: readers take next_uid from the last record. */
int maildir_uidlist_append_recs(const char *dir,
				const struct maildir_uidlist *list, size_t from,
				const char **error_r);

#endif
