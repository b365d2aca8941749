/*
 * mail_index - Dovetail's own index and cache beside a Maildir folder, for
 * imapd: per UID the flags as last seen on disk, keyword bits, the
 * modification sequence (RFC 7162), the received date and virtual size,
 * and where the message's cached IMAP data (ENVELOPE, BODYSTRUCTURE, BODY,
 * header block) sits in the cache file; per mailbox the UIDVALIDITY it was
 * built for, HIGHESTMODSEQ, the first UID not yet claimed as \Recent and
 * the UIDs expunged with the modseq of their expunge (QRESYNC).
 *
 * Files, all in the Maildir folder (Dovecot leaves unknown files alone):
 *   dovetail.index        header + records + expunged list, checksummed;
 *                         replaced as a whole by rename(), never edited
 *   dovetail.index.cache  append-only blobs, one per message
 *   dovetail.index.lock   flock()ed: shared to read, exclusive to write
 * flock() locks belong to the open file, so sessions that are threads of
 * one process exclude each other as well as other processes do.
 *
 * The index is a cache: it is never trusted over the Maildir (flags on
 * disk win, see mail_index_sync_disk()) and is rebuilt when missing,
 * corrupt or built for another UIDVALIDITY. Rebuilt indexes start their
 * modseqs from the clock (microseconds) or above the old HIGHESTMODSEQ, so
 * modseqs a client has seen never repeat.
 *
 * The parse/serialize/sync functions are pure (no I/O); file content is
 * untrusted (anything running as the mail user writes it): sizes and
 * counts are bounded and checked before use. The file functions block.
 */
#ifndef MAIL_INDEX_H
#define MAIL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

#define MAIL_INDEX_NAME "dovetail.index"
#define MAIL_INDEX_CACHE_NAME "dovetail.index.cache"
#define MAIL_INDEX_LOCK_NAME "dovetail.index.lock"

#define MAIL_INDEX_RECS_MAX 1000000u
/* Expunge records kept; older ones are forgotten (expunge_floor rises). */
#define MAIL_INDEX_EXPUNGED_MAX 100000u
/* One message's cached data. */
#define MAIL_INDEX_CACHE_BLOB_MAX (16u * 1024 * 1024)

/* System flags; the same values as imapd.h's IMAP_FLAG_*. */
#define MAIL_FLAG_SEEN 0x01
#define MAIL_FLAG_ANSWERED 0x02
#define MAIL_FLAG_FLAGGED 0x04
#define MAIL_FLAG_DELETED 0x08
#define MAIL_FLAG_DRAFT 0x10
#define MAIL_FLAGS_MASK 0x1f

/* mail_index_rec.have */
#define MAIL_INDEX_HAVE_MTIME 0x01
#define MAIL_INDEX_HAVE_VSIZE 0x02
#define MAIL_INDEX_HAVE_CACHE 0x04

/* mail_index.hdr_flags */
/* At the last full scan every message was in cur/ named "<its base in
 * dovecot-uidlist>:2,<the letters mail_index_flags_letters("", flags,
 * keywords) gives>": with cur/'s and new/'s mtimes unchanged since, the
 * file names follow from the uidlist and the records without listing
 * cur/ (imapd's SELECT; written as 0 by indexes before this flag). */
#define MAIL_INDEX_F_NAMES_EXACT 0x01

/* Cached fields, in blob order. */
#define MAIL_INDEX_CACHE_FIELDS 4

struct mail_index_rec {
	uint32_t uid;
	uint8_t flags;	   /* MAIL_FLAG_*, as on disk */
	uint8_t have;	   /* MAIL_INDEX_HAVE_* */
	uint32_t keywords; /* bit i: keyword letter 'a' + i */
	uint64_t modseq;
	int64_t mtime; /* received date (the file's mtime) */
	uint64_t vsize;
	uint64_t cache_off; /* blob offset in the cache file */
	uint32_t cache_len;
};

struct mail_index_expunged {
	uint32_t uid;
	uint64_t modseq;
};

struct mail_index {
	uint32_t uid_validity;
	uint32_t first_recent_uid; /* UIDs below were reported \Recent */
	uint64_t highest_modseq;
	/* expunges with a modseq above this are all in expunged[] */
	uint64_t expunge_floor;
	uint64_t generation; /* bumped by every write */
	uint64_t cache_id;   /* identifies the cache file the offsets are for */
	/* As of the last full scan: the uidlist's next UID and the cur/ and
	   new/ mtimes (ns) seen before it, 0 when the directories were
	   changing (then nobody may skip the next scan). */
	uint32_t next_uid;
	int64_t cur_mtime, new_mtime;
	uint32_t hdr_flags;	     /* MAIL_INDEX_F_*, as of the same scan */
	struct mail_index_rec *recs; /* ascending uid */
	size_t count, alloc;
	struct mail_index_expunged *expunged; /* ascending modseq */
	size_t exp_count, exp_alloc;
};

/* A message found on disk, for mail_index_sync_disk(). */
struct mail_index_disk_msg {
	uint32_t uid;
	uint8_t flags;
	uint32_t keywords;
};

/* A new empty index for uid_validity whose modseqs start above
 * modseq_floor. cache_id is the id of a fresh cache file. */
struct mail_index *mail_index_new(uint32_t uid_validity, uint64_t modseq_floor,
				  uint64_t cache_id);
void mail_index_free(struct mail_index **idxp);
struct mail_index *mail_index_dup(const struct mail_index *idx);

/* Parses file content. -1 with static *error_r when it is not a valid
 * index (bad magic, version, checksum, sizes, UIDs not ascending). */
int mail_index_parse(const void *data, size_t len, struct mail_index **idx_r,
		     const char **error_r);
/* The file content (allocated, *len_r set). */
void *mail_index_serialize(const struct mail_index *idx, size_t *len_r);

/* The record for uid or NULL (binary search). */
struct mail_index_rec *mail_index_lookup(const struct mail_index *idx,
					 uint32_t uid);
/* A new modseq (HIGHESTMODSEQ + 1, which becomes the highest). */
uint64_t mail_index_next_modseq(struct mail_index *idx);
/* Removes the record of uid (if any) and remembers the expunge at
 * modseq. */
void mail_index_expunge(struct mail_index *idx, uint32_t uid, uint64_t modseq);

/* Brings idx in line with the messages on disk (count entries, ascending
 * uid): unknown UIDs get records, records whose flags differ take the
 * disk's, records missing on disk are expunged; every change gets the
 * same new modseq. Returns true when idx changed. */
bool mail_index_sync_disk(struct mail_index *idx,
			  const struct mail_index_disk_msg *msgs, size_t count);

/* Maildir flag letters (after ":2,") to MAIL_FLAG_* and keyword bits
 * (letters a..z); other letters are ignored. */
void mail_index_flags_parse(const char *letters, uint8_t *flags_r,
			    uint32_t *keywords_r);
/* The new letters for a file whose letters are old: flags and keywords
 * replace S R F T D and a..z, other letters (e.g. "P") are kept. out
 * holds at least 53 bytes. */
void mail_index_flags_letters(const char *old, uint8_t flags, uint32_t keywords,
			      char *out);

/* Cache blobs. Encodes the fields (ENVELOPE, BODYSTRUCTURE, BODY,
 * HEADER order) of uid into a blob (allocated, *len_r). */
void *mail_index_cache_encode(uint32_t uid, const struct strbuf *fields,
			      size_t *len_r);
/* Checks a blob read back and appends field number field to out. -1 when
 * the blob is not valid for uid or out is full. */
int mail_index_cache_decode(const void *blob, size_t len, uint32_t uid,
			    unsigned int field, struct strbuf *out);

/* File I/O (blocking). */
/* flock()s dir/dovetail.index.lock (created when missing). Returns the
 * locked fd or -1 with *error_r. */
int mail_index_lock(const char *dir, bool exclusive, const char **error_r);
void mail_index_unlock(int *fdp);
/* Reads dir/dovetail.index: 1 with *idx_r, 0 when missing, -1 when
 * unreadable or invalid (*error_r; the caller rebuilds). *ino_r is the
 * file's inode (0 when missing). */
int mail_index_read(const char *dir, struct mail_index **idx_r, uint64_t *ino_r,
		    const char **error_r);
/* The inode and generation of dir/dovetail.index without reading it all
 * (0 with both 0 when missing). */
int mail_index_peek(const char *dir, uint64_t *ino_r, uint64_t *generation_r);
/* Writes idx (generation bumped) through a temporary file renamed over
 * dovetail.index. The caller holds the exclusive lock. */
int mail_index_write(const char *dir, struct mail_index *idx, uint64_t *ino_r,
		     const char **error_r);
/* Creates an empty cache file (replacing any) for a rebuilt index and
 * returns its id. Exclusive lock held. */
int mail_index_cache_create(const char *dir, uint64_t *cache_id_r,
			    const char **error_r);
/* Opens the cache file: the fd, with *cache_id_r, or -1. */
int mail_index_cache_open(const char *dir, uint64_t *cache_id_r,
			  const char **error_r);
/* Appends a blob to the cache file (fd from mail_index_cache_open();
 * exclusive lock held): *off_r its offset. */
int mail_index_cache_append(int fd, const void *blob, size_t len,
			    uint64_t *off_r, const char **error_r);

/* Cache compaction, as Dovecot purges its cache: when at least
 * MAIL_INDEX_COMPACT_MIN_BYTES and MAIL_INDEX_COMPACT_PERCENT of the
 * cache file are blobs no record points at (expunged messages). */
#define MAIL_INDEX_COMPACT_MIN_BYTES (32u * 1024)
#define MAIL_INDEX_COMPACT_PERCENT 20u
/* Whether a cache file of file_size bytes for idx is worth compacting
 * (pure). */
bool mail_index_cache_wants_compact(const struct mail_index *idx,
				    uint64_t file_size);
/* Rewrites the cache file with only the blobs idx's records point at
 * (exclusive lock held; the file must carry idx->cache_id): a new cache
 * id, the records' offsets moved, records whose blob is unreadable lose
 * MAIL_INDEX_HAVE_CACHE. The caller writes idx next (until then other
 * sessions see another cache id and use no cache, as after a rebuild).
 * 0 (also when the file is not idx's cache: left alone), or -1 with
 * *error_r and idx unchanged. */
int mail_index_cache_compact(const char *dir, struct mail_index *idx,
			     const char **error_r);

#endif
