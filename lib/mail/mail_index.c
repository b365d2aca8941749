/*
 * mail_index - imapd's index and cache beside a Maildir folder (see
 * mail_index.h for the design). The on-disk format is little-endian and
 * fixed-size per record so that a 100,000-message index is read with one
 * read() and checked in one pass:
 *
 *   header (96 bytes): "DTIX" version uidvalidity first_recent_uid
 *     highest_modseq expunge_floor generation cache_id count exp_count
 *     next_uid cur/ and new/ mtimes (ns) of the last clean scan,
 *     hdr_flags (MAIL_INDEX_F_*; 0 in files from before it),
 *     checksum (FNV-1a 64 of everything else)
 *   count records of 48 bytes, exp_count expunge records of 12 bytes
 *
 * The cache file is mail_index_cache.c's.
 *
 * Content is untrusted: every count is checked against the file size and
 * the limits before anything is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_index.h"
#include "mail/mail_index_private.h"
#include "mail/maildir.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static uint64_t
checksum(const unsigned char *data, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		/* the checksum field itself counts as zero */
		h ^= (i >= CSUM_OFF && i < CSUM_OFF + 8) ? 0 : data[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct mail_index *
mail_index_new(uint32_t uid_validity, uint64_t modseq_floor, uint64_t cache_id)
{
	struct mail_index *idx = xcalloc(1, sizeof(*idx));

	idx->uid_validity = uid_validity;
	idx->first_recent_uid = 1;
	idx->highest_modseq = modseq_floor;
	idx->expunge_floor = modseq_floor;
	idx->cache_id = cache_id;
	return idx;
}

void
mail_index_free(struct mail_index **idxp)
{
	struct mail_index *idx = *idxp;

	if (idx == NULL)
		return;
	*idxp = NULL;
	xfree(&idx->recs);
	xfree(&idx->expunged);
	xfree(&idx);
}

struct mail_index *
mail_index_dup(const struct mail_index *idx)
{
	struct mail_index *dup = xmemdup(idx, sizeof(*idx));

	dup->recs = xreallocarray(NULL, idx->count + 1, sizeof(*idx->recs));
	if (idx->count > 0)
		memcpy(dup->recs, idx->recs, idx->count * sizeof(*idx->recs));
	dup->alloc = idx->count + 1;
	dup->expunged =
	    xreallocarray(NULL, idx->exp_count + 1, sizeof(*idx->expunged));
	if (idx->exp_count > 0)
		memcpy(dup->expunged, idx->expunged,
		       idx->exp_count * sizeof(*idx->expunged));
	dup->exp_alloc = idx->exp_count + 1;
	return dup;
}

int
mail_index_parse(const void *data, size_t len, struct mail_index **idx_r,
		 const char **error_r)
{
	const unsigned char *p = data;
	struct mail_index *idx;
	uint32_t count, exp_count;

	if (len < HDR_SIZE || memcmp(p, INDEX_MAGIC, 4) != 0) {
		*error_r = "not an index file";
		return -1;
	}
	if (get32(p + 4) != INDEX_VERSION) {
		*error_r = "unknown index version";
		return -1;
	}
	count = get32(p + 48);
	exp_count = get32(p + 52);
	if (count > MAIL_INDEX_RECS_MAX ||
	    exp_count > MAIL_INDEX_EXPUNGED_MAX ||
	    len != HDR_SIZE + (size_t)count * REC_SIZE +
		       (size_t)exp_count * EXP_SIZE) {
		*error_r = "index size does not match its counts";
		return -1;
	}
	if (get64(p + CSUM_OFF) != checksum(p, len)) {
		*error_r = "index checksum mismatch";
		return -1;
	}
	idx = mail_index_new(get32(p + 8), get64(p + 16), get64(p + 40));
	idx->first_recent_uid = get32(p + 12);
	idx->expunge_floor = get64(p + 24);
	idx->generation = get64(p + 32);
	idx->next_uid = get32(p + 56);
	idx->cur_mtime = (int64_t)get64(p + 64);
	idx->new_mtime = (int64_t)get64(p + 72);
	idx->hdr_flags = get32(p + 80);
	idx->recs = xreallocarray(NULL, (size_t)count + 1, sizeof(*idx->recs));
	idx->alloc = (size_t)count + 1;
	idx->expunged =
	    xreallocarray(NULL, (size_t)exp_count + 1, sizeof(*idx->expunged));
	idx->exp_alloc = (size_t)exp_count + 1;
	p += HDR_SIZE;
	for (uint32_t i = 0; i < count; i++, p += REC_SIZE) {
		struct mail_index_rec *r = &idx->recs[i];

		r->uid = get32(p);
		r->flags = p[4] & MAIL_FLAGS_MASK;
		r->have = p[5];
		r->keywords = get32(p + 8) & 0x3ffffff;
		r->cache_len = get32(p + 12);
		r->modseq = get64(p + 16);
		r->mtime = (int64_t)get64(p + 24);
		r->vsize = get64(p + 32);
		r->cache_off = get64(p + 40);
		if (r->uid == 0 || (i > 0 && r->uid <= idx->recs[i - 1].uid) ||
		    r->modseq > idx->highest_modseq ||
		    r->cache_len > MAIL_INDEX_CACHE_BLOB_MAX) {
			mail_index_free(&idx);
			*error_r = "invalid index record";
			return -1;
		}
		idx->count++;
	}
	for (uint32_t i = 0; i < exp_count; i++, p += EXP_SIZE) {
		struct mail_index_expunged *e = &idx->expunged[i];

		e->uid = get32(p);
		e->modseq = get64(p + 4);
		if (e->uid == 0 || e->modseq > idx->highest_modseq ||
		    (i > 0 && e->modseq < idx->expunged[i - 1].modseq)) {
			mail_index_free(&idx);
			*error_r = "invalid expunge record";
			return -1;
		}
		idx->exp_count++;
	}
	*idx_r = idx;
	return 0;
}

void *
mail_index_serialize(const struct mail_index *idx, size_t *len_r)
{
	size_t len =
	    HDR_SIZE + idx->count * REC_SIZE + idx->exp_count * EXP_SIZE;
	unsigned char *buf = xcalloc(1, len), *p = buf;

	memcpy(p, INDEX_MAGIC, 4);
	put32(p + 4, INDEX_VERSION);
	put32(p + 8, idx->uid_validity);
	put32(p + 12, idx->first_recent_uid);
	put64(p + 16, idx->highest_modseq);
	put64(p + 24, idx->expunge_floor);
	put64(p + 32, idx->generation);
	put64(p + 40, idx->cache_id);
	put32(p + 48, (uint32_t)idx->count);
	put32(p + 52, (uint32_t)idx->exp_count);
	put32(p + 56, idx->next_uid);
	put64(p + 64, (uint64_t)idx->cur_mtime);
	put64(p + 72, (uint64_t)idx->new_mtime);
	put32(p + 80, idx->hdr_flags);
	p += HDR_SIZE;
	for (size_t i = 0; i < idx->count; i++, p += REC_SIZE) {
		const struct mail_index_rec *r = &idx->recs[i];

		put32(p, r->uid);
		p[4] = r->flags;
		p[5] = r->have;
		put32(p + 8, r->keywords);
		put32(p + 12, r->cache_len);
		put64(p + 16, r->modseq);
		put64(p + 24, (uint64_t)r->mtime);
		put64(p + 32, r->vsize);
		put64(p + 40, r->cache_off);
	}
	for (size_t i = 0; i < idx->exp_count; i++, p += EXP_SIZE) {
		put32(p, idx->expunged[i].uid);
		put64(p + 4, idx->expunged[i].modseq);
	}
	put64(buf + CSUM_OFF, checksum(buf, len));
	*len_r = len;
	return buf;
}

struct mail_index_rec *
mail_index_lookup(const struct mail_index *idx, uint32_t uid)
{
	size_t lo = 0, hi = idx->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->recs[mid].uid == uid)
			return &idx->recs[mid];
		if (idx->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t
mail_index_next_modseq(struct mail_index *idx)
{
	return ++idx->highest_modseq;
}

static void
expunged_add(struct mail_index *idx, uint32_t uid, uint64_t modseq)
{
	if (idx->exp_count >= MAIL_INDEX_EXPUNGED_MAX) {
		/* forget the oldest half; later VANISHED answers for modseqs
		   below the new floor fall back to "not present now" */
		size_t drop = idx->exp_count / 2;

		idx->expunge_floor = idx->expunged[drop - 1].modseq;
		memmove(idx->expunged, idx->expunged + drop,
			(idx->exp_count - drop) * sizeof(*idx->expunged));
		idx->exp_count -= drop;
	}
	if (idx->exp_count == idx->exp_alloc) {
		idx->exp_alloc = idx->exp_alloc * 2 + 16;
		idx->expunged = xreallocarray(idx->expunged, idx->exp_alloc,
					      sizeof(*idx->expunged));
	}
	idx->expunged[idx->exp_count++] =
	    (struct mail_index_expunged){.uid = uid, .modseq = modseq};
}

void
mail_index_expunge(struct mail_index *idx, uint32_t uid, uint64_t modseq)
{
	struct mail_index_rec *r = mail_index_lookup(idx, uid);

	if (r != NULL) {
		size_t i = (size_t)(r - idx->recs);

		memmove(r, r + 1, (idx->count - i - 1) * sizeof(*r));
		idx->count--;
	}
	expunged_add(idx, uid, modseq);
}

bool
mail_index_sync_disk(struct mail_index *idx,
		     const struct mail_index_disk_msg *msgs, size_t count)
{
	struct mail_index_rec *out;
	size_t i = 0, j = 0, n = 0;
	uint64_t modseq = idx->highest_modseq + 1;
	bool changed = false;

	out = xreallocarray(NULL, count + 1, sizeof(*out));
	while (i < idx->count || j < count) {
		if (j == count ||
		    (i < idx->count && idx->recs[i].uid < msgs[j].uid)) {
			expunged_add(idx, idx->recs[i].uid, modseq);
			changed = true;
			i++;
		} else if (i == idx->count || msgs[j].uid < idx->recs[i].uid) {
			out[n++] = (struct mail_index_rec){
			    .uid = msgs[j].uid,
			    .flags = msgs[j].flags & MAIL_FLAGS_MASK,
			    .keywords = msgs[j].keywords,
			    .modseq = modseq,
			};
			changed = true;
			j++;
		} else {
			out[n] = idx->recs[i];
			if (out[n].flags != (msgs[j].flags & MAIL_FLAGS_MASK) ||
			    out[n].keywords != msgs[j].keywords) {
				out[n].flags = msgs[j].flags & MAIL_FLAGS_MASK;
				out[n].keywords = msgs[j].keywords;
				out[n].modseq = modseq;
				changed = true;
			}
			n++;
			i++;
			j++;
		}
	}
	xfree(&idx->recs);
	idx->recs = out;
	idx->count = n;
	idx->alloc = count + 1;
	if (changed)
		idx->highest_modseq = modseq;
	return changed;
}

static const struct {
	char letter;
	uint8_t flag;
} flag_letters[] = {
    {'D', MAIL_FLAG_DRAFT}, {'F', MAIL_FLAG_FLAGGED}, {'R', MAIL_FLAG_ANSWERED},
    {'S', MAIL_FLAG_SEEN},  {'T', MAIL_FLAG_DELETED},
};

void
mail_index_flags_parse(const char *letters, uint8_t *flags_r,
		       uint32_t *keywords_r)
{
	*flags_r = 0;
	*keywords_r = 0;
	for (const char *p = letters; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z') {
			*keywords_r |= 1u << (*p - 'a');
			continue;
		}
		for (size_t i = 0;
		     i < sizeof(flag_letters) / sizeof(*flag_letters); i++) {
			if (flag_letters[i].letter == *p)
				*flags_r |= flag_letters[i].flag;
		}
	}
}

void
mail_index_flags_letters(const char *old, uint8_t flags, uint32_t keywords,
			 char *out)
{
	bool have[128] = {false};
	size_t n = 0;

	for (const char *p = old; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 'A' && c <= 'Z')
			have[c] = true;
	}
	for (size_t i = 0; i < sizeof(flag_letters) / sizeof(*flag_letters);
	     i++)
		have[(unsigned char)flag_letters[i].letter] =
		    (flags & flag_letters[i].flag) != 0;
	for (unsigned int i = 0; i < 26; i++)
		have['a' + i] = (keywords & (1u << i)) != 0;
	/* Maildir wants the letters in ASCII order */
	for (unsigned int c = 'A'; c <= 'z'; c++) {
		if (have[c])
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

int
mail_index_lock(const char *dir, bool exclusive, const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, MAIL_INDEX_LOCK_NAME);
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == EACCES || errno == EROFS))
		/* a folder we may only read: flock() works on any fd */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*error_r =
		    maildir_set_error("open(%s): %s", path, strerror(errno));
		xfree(&path);
		return -1;
	}
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		*error_r =
		    maildir_set_error("flock(%s): %s", path, strerror(errno));
		close(fd);
		xfree(&path);
		return -1;
	}
	xfree(&path);
	return fd;
}

void
mail_index_unlock(int *fdp)
{
	if (*fdp >= 0) {
		(void)flock(*fdp, LOCK_UN);
		close(*fdp);
	}
	*fdp = -1;
}

static int
read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = read(fd, (char *)buf + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

int
mail_index_write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = write(fd, (const char *)buf + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

int
mail_index_read(const char *dir, struct mail_index **idx_r, uint64_t *ino_r,
		const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, MAIL_INDEX_NAME);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	void *buf;
	int ret;

	*ino_r = 0;
	if (fd < 0) {
		ret = errno == ENOENT ? 0 : -1;
		if (ret < 0)
			*error_r = maildir_set_error("open(%s): %s", path,
						     strerror(errno));
		xfree(&path);
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > INDEX_FILE_MAX) {
		*error_r =
		    maildir_set_error("%s: not a valid index file", path);
		close(fd);
		xfree(&path);
		return -1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	if (read_all(fd, buf, (size_t)st.st_size) < 0) {
		*error_r = maildir_set_error("read(%s): %s", path,
					     errno != 0 ? strerror(errno)
							: "short read");
		ret = -1;
	} else if (mail_index_parse(buf, (size_t)st.st_size, idx_r, error_r) <
		   0) {
		*error_r = maildir_set_error("%s: %s", path, *error_r);
		ret = -1;
	} else {
		*ino_r = (uint64_t)st.st_ino;
		ret = 1;
	}
	xfree(&buf);
	close(fd);
	xfree(&path);
	return ret;
}

int
mail_index_peek(const char *dir, uint64_t *ino_r, uint64_t *generation_r)
{
	char *path = xasprintf("%s/%s", dir, MAIL_INDEX_NAME);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	unsigned char hdr[HDR_SIZE];
	struct stat st;
	int ret = 0;

	xfree(&path);
	*ino_r = 0;
	*generation_r = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == 0 && read_all(fd, hdr, sizeof(hdr)) == 0 &&
	    memcmp(hdr, INDEX_MAGIC, 4) == 0) {
		*ino_r = (uint64_t)st.st_ino;
		*generation_r = get64(hdr + 32);
	} else {
		ret = -1;
	}
	close(fd);
	return ret;
}

/* Writes data to dir/name through a temporary file and rename(). No
 * fsync: the index is a cache, rebuilt from the Maildir after a crash. */
int
mail_index_replace_file(const char *dir, const char *name, const void *data,
			size_t len, uint64_t *ino_r, const char **error_r)
{
	char *tmp = xasprintf("%s/%s.tmp", dir, name);
	char *path = xasprintf("%s/%s", dir, name);
	int fd, ret = 0;
	struct stat st;

	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || mail_index_write_all(fd, data, len) < 0 ||
	    fstat(fd, &st) < 0) {
		*error_r =
		    maildir_set_error("write(%s): %s", tmp, strerror(errno));
		ret = -1;
	}
	if (fd >= 0 && close(fd) < 0 && ret == 0) {
		*error_r =
		    maildir_set_error("close(%s): %s", tmp, strerror(errno));
		ret = -1;
	}
	if (ret == 0 && rename(tmp, path) < 0) {
		*error_r = maildir_set_error("rename(%s, %s): %s", tmp, path,
					     strerror(errno));
		ret = -1;
	}
	if (ret < 0)
		(void)unlink(tmp);
	else if (ino_r != NULL)
		*ino_r = (uint64_t)st.st_ino;
	xfree(&tmp);
	xfree(&path);
	return ret;
}

int
mail_index_write(const char *dir, struct mail_index *idx, uint64_t *ino_r,
		 const char **error_r)
{
	size_t len;
	void *data;
	int ret;

	idx->generation++;
	data = mail_index_serialize(idx, &len);
	ret = mail_index_replace_file(dir, MAIL_INDEX_NAME, data, len, ino_r,
				      error_r);
	xfree(&data);
	return ret;
}
