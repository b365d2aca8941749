/*
 * mail_index_private - what mail_index.c (the index file) and
 * mail_index_cache.c (the cache file) share: the on-disk format's
 * constants, little-endian helpers and the file writing helpers. Not for
 * use outside lib/mail/mail_index*.c.
 */
#ifndef MAIL_INDEX_PRIVATE_H
#define MAIL_INDEX_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "mail/mail_index.h"

#define INDEX_MAGIC "DTIX"
#define INDEX_VERSION 1
#define HDR_SIZE 96
#define CSUM_OFF 88
#define REC_SIZE 48
#define EXP_SIZE 12
#define CACHE_MAGIC "DTIC"
#define CACHE_HDR_SIZE 16
#define BLOB_MAGIC "DTCB"
#define BLOB_HDR_SIZE (8 + 4 * MAIL_INDEX_CACHE_FIELDS)
#define INDEX_FILE_MAX                                                         \
	(HDR_SIZE + (size_t)MAIL_INDEX_RECS_MAX * REC_SIZE +                   \
	 (size_t)MAIL_INDEX_EXPUNGED_MAX * EXP_SIZE)

static inline void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t
get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* write() all of buf (EINTR retried): 0 or -1 with errno. */
int mail_index_write_all(int fd, const void *buf, size_t len);
/* Writes dir/name through dir/name.tmp and rename(); *ino_r (may be
 * NULL) the new file's inode. */
int mail_index_replace_file(const char *dir, const char *name, const void *data,
			    size_t len, uint64_t *ino_r, const char **error_r);

#endif
