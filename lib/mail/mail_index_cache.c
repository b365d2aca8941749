/*
 * mail_index_cache - the cache file beside imapd's index (see
 * mail_index.h): blobs of ENVELOPE / BODYSTRUCTURE / BODY / header block
 * per message, appended; compacted when blobs of expunged messages are a
 * good part of it (Dovecot purges its cache the same way).
 *
 * File format: "DTIC" version cache_id, then blobs "DTCB" uid and four
 * lengths followed by the four fields. Content is untrusted: a blob is
 * used only when its magic, UID and lengths agree with the record that
 * points at it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_index.h"
#include "mail/mail_index_private.h"
#include "mail/maildir.h"
#include "util/strbuf.h"
#include "util/xmem.h"

void *
mail_index_cache_encode(uint32_t uid, const struct strbuf *fields,
			size_t *len_r)
{
	size_t len = BLOB_HDR_SIZE;
	unsigned char *buf, *p;

	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++)
		len += fields[i].len;
	buf = xmalloc(len);
	memcpy(buf, BLOB_MAGIC, 4);
	put32(buf + 4, uid);
	p = buf + BLOB_HDR_SIZE;
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++) {
		put32(buf + 8 + 4 * i, (uint32_t)fields[i].len);
		if (fields[i].len > 0)
			memcpy(p, fields[i].data, fields[i].len);
		p += fields[i].len;
	}
	*len_r = len;
	return buf;
}

int
mail_index_cache_decode(const void *blob, size_t len, uint32_t uid,
			unsigned int field, struct strbuf *out)
{
	const unsigned char *p = blob;
	size_t off = BLOB_HDR_SIZE, total = BLOB_HDR_SIZE;

	if (len < BLOB_HDR_SIZE || memcmp(p, BLOB_MAGIC, 4) != 0 ||
	    get32(p + 4) != uid || field >= MAIL_INDEX_CACHE_FIELDS)
		return -1;
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++) {
		uint32_t flen = get32(p + 8 + 4 * i);

		if (flen > len - total)
			return -1;
		if (i < field)
			off += flen;
		total += flen;
	}
	if (total != len)
		return -1;
	return strbuf_append(out, p + off, get32(p + 8 + 4 * field));
}

/* File I/O */

int
mail_index_cache_create(const char *dir, uint64_t *cache_id_r,
			const char **error_r)
{
	unsigned char hdr[CACHE_HDR_SIZE];
	struct timespec ts;
	uint64_t id;

	clock_gettime(CLOCK_REALTIME, &ts);
	id = ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
	     ((uint64_t)getpid() << 48);
	memcpy(hdr, CACHE_MAGIC, 4);
	put32(hdr + 4, INDEX_VERSION);
	put64(hdr + 8, id);
	if (mail_index_replace_file(dir, MAIL_INDEX_CACHE_NAME, hdr,
				    sizeof(hdr), NULL, error_r) < 0)
		return -1;
	*cache_id_r = id;
	return 0;
}

int
mail_index_cache_open(const char *dir, uint64_t *cache_id_r,
		      const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, MAIL_INDEX_CACHE_NAME);
	int fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	unsigned char hdr[CACHE_HDR_SIZE];

	if (fd < 0) {
		*error_r =
		    maildir_set_error("open(%s): %s", path, strerror(errno));
		xfree(&path);
		return -1;
	}
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, CACHE_MAGIC, 4) != 0) {
		*error_r = maildir_set_error("%s: not a cache file", path);
		close(fd);
		xfree(&path);
		return -1;
	}
	xfree(&path);
	*cache_id_r = get64(hdr + 8);
	return fd;
}

int
mail_index_cache_append(int fd, const void *blob, size_t len, uint64_t *off_r,
			const char **error_r)
{
	off_t off = lseek(fd, 0, SEEK_END);

	if (off < 0 || mail_index_write_all(fd, blob, len) < 0) {
		*error_r =
		    maildir_set_error("cache append: %s", strerror(errno));
		return -1;
	}
	*off_r = (uint64_t)off;
	return 0;
}

bool
mail_index_cache_wants_compact(const struct mail_index *idx, uint64_t file_size)
{
	uint64_t live = CACHE_HDR_SIZE, garbage;

	for (size_t i = 0; i < idx->count; i++)
		if ((idx->recs[i].have & MAIL_INDEX_HAVE_CACHE) != 0)
			live += idx->recs[i].cache_len;
	if (file_size <= live)
		return false;
	garbage = file_size - live;
	return garbage >= MAIL_INDEX_COMPACT_MIN_BYTES &&
	       garbage * 100 >= file_size * MAIL_INDEX_COMPACT_PERCENT;
}

/* Copies the blob of r from old (at r's offset) to the end of new;
 * *off_r its new offset. 0 when r's blob is unreadable (dropped), 1 when
 * copied, -1 on write errors. */
static int
compact_copy(int old, int new, const struct mail_index_rec *r, uint64_t *pos,
	     uint64_t *off_r)
{
	void *blob;
	ssize_t n;

	if (r->cache_len == 0 || r->cache_len > MAIL_INDEX_CACHE_BLOB_MAX)
		return 0;
	blob = xmalloc(r->cache_len);
	n = pread(old, blob, r->cache_len, (off_t)r->cache_off);
	if (n != (ssize_t)r->cache_len || r->cache_len < BLOB_HDR_SIZE ||
	    memcmp(blob, BLOB_MAGIC, 4) != 0 ||
	    get32((const unsigned char *)blob + 4) != r->uid) {
		xfree(&blob);
		return 0;
	}
	if (mail_index_write_all(new, blob, r->cache_len) < 0) {
		xfree(&blob);
		return -1;
	}
	xfree(&blob);
	*off_r = *pos;
	*pos += r->cache_len;
	return 1;
}

int
mail_index_cache_compact(const char *dir, struct mail_index *idx,
			 const char **error_r)
{
	char *tmp = xasprintf("%s/%s.tmp", dir, MAIL_INDEX_CACHE_NAME);
	char *path = xasprintf("%s/%s", dir, MAIL_INDEX_CACHE_NAME);
	unsigned char hdr[CACHE_HDR_SIZE];
	uint64_t old_id, id, pos = CACHE_HDR_SIZE, *offs = NULL;
	struct timespec ts;
	int old, new = -1, ret = -1;

	old = mail_index_cache_open(dir, &old_id, error_r);
	if (old < 0)
		goto out;
	if (old_id != idx->cache_id) {
		/* another index's cache (a write failed half-way): the
		   records cannot use it anyway */
		ret = 0;
		goto out;
	}
	(void)unlink(tmp);
	new = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0600);
	clock_gettime(CLOCK_REALTIME, &ts);
	id = ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
	     ((uint64_t)getpid() << 48);
	if (id == old_id)
		id++;
	memcpy(hdr, CACHE_MAGIC, 4);
	put32(hdr + 4, INDEX_VERSION);
	put64(hdr + 8, id);
	if (new < 0 || mail_index_write_all(new, hdr, sizeof(hdr)) < 0)
		goto write_failed;
	/* offsets change only once the new file is in place */
	offs = xreallocarray(NULL, idx->count + 1, sizeof(*offs));
	for (size_t i = 0; i < idx->count; i++) {
		const struct mail_index_rec *r = &idx->recs[i];
		int c = 0;

		offs[i] = UINT64_MAX;
		if ((r->have & MAIL_INDEX_HAVE_CACHE) != 0)
			c = compact_copy(old, new, r, &pos, &offs[i]);
		if (c < 0)
			goto write_failed;
	}
	if (close(new) < 0) {
		new = -1;
		goto write_failed;
	}
	new = -1;
	if (rename(tmp, path) < 0) {
		*error_r = maildir_set_error("rename(%s, %s): %s", tmp, path,
					     strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < idx->count; i++) {
		struct mail_index_rec *r = &idx->recs[i];

		if (offs[i] != UINT64_MAX) {
			r->cache_off = offs[i];
		} else {
			r->have &= (uint8_t)~MAIL_INDEX_HAVE_CACHE;
			r->cache_off = 0;
			r->cache_len = 0;
		}
	}
	idx->cache_id = id;
	ret = 0;
	goto out;
write_failed:
	*error_r = maildir_set_error("write(%s): %s", tmp, strerror(errno));
out:
	if (new >= 0)
		close(new);
	if (ret < 0)
		(void)unlink(tmp);
	if (old >= 0)
		close(old);
	xfree(&offs);
	xfree(&tmp);
	xfree(&path);
	return ret;
}
