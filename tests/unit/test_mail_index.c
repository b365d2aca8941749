/* Unit tests for imapd's index/cache (mail_index): the file format round
 * trip, refusal of corrupt or truncated files, disk reconciliation with
 * monotonic modseqs, expunge history, flag letters, cache blobs and the
 * file functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/mail_index.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static struct mail_index *
sample_index(void)
{
	struct mail_index *idx = mail_index_new(1700000000, 100, 42);
	struct mail_index_disk_msg disk[] = {
	    {1, MAIL_FLAG_SEEN, 0},
	    {2, 0, 0x3},
	    {5, MAIL_FLAG_DELETED | MAIL_FLAG_FLAGGED, 0},
	};

	assert_true(mail_index_sync_disk(idx, disk, 3));
	idx->next_uid = 6;
	idx->recs[0].have = MAIL_INDEX_HAVE_MTIME | MAIL_INDEX_HAVE_VSIZE;
	idx->recs[0].mtime = 1234567890;
	idx->recs[0].vsize = 4321;
	return idx;
}

static void
test_roundtrip(void **state)
{
	struct mail_index *idx = sample_index(), *back = NULL;
	const char *error;
	size_t len;
	void *data;

	(void)state;
	assert_int_equal(idx->highest_modseq, 101);
	mail_index_expunge(idx, 2, mail_index_next_modseq(idx));
	assert_int_equal(idx->count, 2);
	assert_int_equal(idx->exp_count, 1);
	data = mail_index_serialize(idx, &len);
	assert_int_equal(mail_index_parse(data, len, &back, &error), 0);
	assert_int_equal(back->uid_validity, 1700000000);
	assert_int_equal(back->highest_modseq, 102);
	assert_int_equal(back->next_uid, 6);
	assert_int_equal(back->cache_id, 42);
	assert_int_equal(back->hdr_flags, 0);
	assert_int_equal(back->count, 2);
	assert_int_equal(back->recs[0].uid, 1);
	assert_int_equal(back->recs[0].flags, MAIL_FLAG_SEEN);
	assert_int_equal(back->recs[0].mtime, 1234567890);
	assert_int_equal(back->recs[0].vsize, 4321);
	assert_int_equal(back->recs[1].uid, 5);
	assert_int_equal(back->recs[1].modseq, 101);
	assert_int_equal(back->exp_count, 1);
	assert_int_equal(back->expunged[0].uid, 2);
	assert_int_equal(back->expunged[0].modseq, 102);
	mail_index_free(&back);
	xfree(&data);
	mail_index_free(&idx);
}

static void
test_corrupt(void **state)
{
	struct mail_index *idx = sample_index(), *back = NULL;
	const char *error;
	unsigned char *data;
	size_t len;

	(void)state;
	data = mail_index_serialize(idx, &len);
	/* every single flipped byte is caught (checksum or structure) */
	for (size_t i = 0; i < len; i++) {
		data[i] ^= 0x40;
		assert_int_equal(mail_index_parse(data, len, &back, &error),
				 -1);
		data[i] ^= 0x40;
	}
	/* truncated anywhere */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(mail_index_parse(data, i, &back, &error), -1);
	/* a count that promises more than the file has */
	data[48] = 0xff;
	data[49] = 0xff;
	assert_int_equal(mail_index_parse(data, len, &back, &error), -1);
	assert_null(back);
	xfree(&data);
	mail_index_free(&idx);
}

static void
test_sync_disk_modseq(void **state)
{
	struct mail_index *idx = sample_index();
	struct mail_index_disk_msg same[] = {
	    {1, MAIL_FLAG_SEEN, 0},
	    {2, 0, 0x3},
	    {5, MAIL_FLAG_DELETED | MAIL_FLAG_FLAGGED, 0},
	};
	struct mail_index_disk_msg changed[] = {
	    {1, MAIL_FLAG_SEEN | MAIL_FLAG_ANSWERED, 0}, /* renamed */
	    {5, MAIL_FLAG_DELETED | MAIL_FLAG_FLAGGED, 0},
	    {7, 0, 0}, /* new */
	};
	uint64_t before;

	(void)state;
	before = idx->highest_modseq;
	assert_false(mail_index_sync_disk(idx, same, 3));
	assert_int_equal(idx->highest_modseq, before);
	assert_true(mail_index_sync_disk(idx, changed, 3));
	assert_int_equal(idx->highest_modseq, before + 1);
	assert_int_equal(idx->count, 3);
	assert_int_equal(idx->recs[0].flags,
			 MAIL_FLAG_SEEN | MAIL_FLAG_ANSWERED);
	assert_int_equal(idx->recs[0].modseq, before + 1);
	/* unchanged record keeps its modseq and cached fields */
	assert_int_equal(idx->recs[1].modseq, before);
	assert_int_equal(idx->recs[0].vsize, 4321);
	assert_int_equal(idx->recs[2].uid, 7);
	assert_int_equal(idx->recs[2].modseq, before + 1);
	assert_null(mail_index_lookup(idx, 2));
	assert_int_equal(idx->exp_count, 1);
	assert_int_equal(idx->expunged[0].uid, 2);
	assert_int_equal(idx->expunged[0].modseq, before + 1);
	mail_index_free(&idx);
}

static void
test_expunge_history_bounded(void **state)
{
	struct mail_index *idx = mail_index_new(1, 0, 0);

	(void)state;
	for (uint32_t uid = 1; uid <= MAIL_INDEX_EXPUNGED_MAX + 10; uid++)
		mail_index_expunge(idx, uid, mail_index_next_modseq(idx));
	assert_true(idx->exp_count <= MAIL_INDEX_EXPUNGED_MAX);
	assert_true(idx->expunge_floor > 0);
	/* what is kept is everything above the floor */
	assert_int_equal(idx->expunged[0].modseq, idx->expunge_floor + 1);
	assert_int_equal(idx->expunged[idx->exp_count - 1].uid,
			 MAIL_INDEX_EXPUNGED_MAX + 10);
	mail_index_free(&idx);
}

static void
test_flag_letters(void **state)
{
	uint8_t flags;
	uint32_t kw;
	char out[64];

	(void)state;
	mail_index_flags_parse("DFPRSTac", &flags, &kw);
	assert_int_equal(flags, MAIL_FLAG_DRAFT | MAIL_FLAG_FLAGGED |
				    MAIL_FLAG_ANSWERED | MAIL_FLAG_SEEN |
				    MAIL_FLAG_DELETED);
	assert_int_equal(kw, 0x5);
	/* P (passed) is kept; S and a replaced; sorted */
	mail_index_flags_letters("PSa", MAIL_FLAG_FLAGGED, 0x2, out);
	assert_string_equal(out, "FPb");
	mail_index_flags_letters("", 0, 0, out);
	assert_string_equal(out, "");
}

static void
test_cache_blob(void **state)
{
	struct strbuf fields[MAIL_INDEX_CACHE_FIELDS], out;
	static const char *const vals[] = {"(env)", "(bs)", "", "H: v\n\n"};
	size_t len;
	void *blob;

	(void)state;
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++) {
		strbuf_init(&fields[i], 100);
		assert_int_equal(strbuf_append_str(&fields[i], vals[i]), 0);
	}
	blob = mail_index_cache_encode(9, fields, &len);
	strbuf_init(&out, 100);
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++) {
		strbuf_reset(&out);
		assert_int_equal(mail_index_cache_decode(blob, len, 9, i, &out),
				 0);
		assert_string_equal(strbuf_cstr(&out), vals[i]);
	}
	/* another UID's or a cut blob is refused */
	assert_int_equal(mail_index_cache_decode(blob, len, 8, 0, &out), -1);
	assert_int_equal(mail_index_cache_decode(blob, len - 1, 9, 0, &out),
			 -1);
	strbuf_release(&out);
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++)
		strbuf_release(&fields[i]);
	xfree(&blob);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
test_files(void **state)
{
	char tmpl[] = "/tmp/test_mail_index.XXXXXX";
	char *dir = mkdtemp(tmpl), *path;
	struct mail_index *idx = sample_index(), *back = NULL;
	struct strbuf fields[MAIL_INDEX_CACHE_FIELDS], out;
	uint64_t ino, ino2, gen, cache_id, cache_id2, off;
	const char *error;
	int lock, fd;
	size_t len;
	void *blob;
	FILE *f;

	(void)state;
	assert_non_null(dir);
	assert_int_equal(mail_index_read(dir, &back, &ino, &error), 0);
	lock = mail_index_lock(dir, true, &error);
	assert_true(lock >= 0);
	assert_int_equal(mail_index_cache_create(dir, &cache_id, &error), 0);
	idx->cache_id = cache_id;
	assert_int_equal(mail_index_write(dir, idx, &ino, &error), 0);
	assert_int_equal(idx->generation, 1);
	assert_int_equal(mail_index_peek(dir, &ino2, &gen), 0);
	assert_int_equal(ino2, ino);
	assert_int_equal(gen, 1);

	fd = mail_index_cache_open(dir, &cache_id2, &error);
	assert_true(fd >= 0);
	assert_int_equal(cache_id2, cache_id);
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++) {
		strbuf_init(&fields[i], 100);
		assert_int_equal(strbuf_printf(&fields[i], "f%u", i), 0);
	}
	blob = mail_index_cache_encode(5, fields, &len);
	assert_int_equal(mail_index_cache_append(fd, blob, len, &off, &error),
			 0);
	assert_int_equal(off, 16);
	xfree(&blob);
	blob = xmalloc(len);
	assert_int_equal(pread(fd, blob, len, (off_t)off), (ssize_t)len);
	strbuf_init(&out, 100);
	assert_int_equal(mail_index_cache_decode(blob, len, 5, 3, &out), 0);
	assert_string_equal(strbuf_cstr(&out), "f3");
	strbuf_release(&out);
	xfree(&blob);
	close(fd);
	mail_index_unlock(&lock);

	assert_int_equal(mail_index_read(dir, &back, &ino2, &error), 1);
	assert_int_equal(back->count, 3);
	assert_int_equal(back->generation, 1);
	mail_index_free(&back);

	/* a damaged file is reported, so that the caller rebuilds it */
	path = xasprintf("%s/%s", dir, MAIL_INDEX_NAME);
	f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(fseek(f, 100, SEEK_SET), 0);
	assert_int_equal(fputc('X', f), 'X');
	fclose(f);
	assert_int_equal(mail_index_read(dir, &back, &ino2, &error), -1);
	assert_null(back);
	xfree(&path);

	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++)
		strbuf_release(&fields[i]);
	mail_index_free(&idx);
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* hdr_flags (MAIL_INDEX_F_NAMES_EXACT) and the mtimes survive a round
 * trip. */
static void
test_hdr_flags(void **state)
{
	struct mail_index *idx = sample_index(), *back = NULL;
	const char *error;
	size_t len;
	void *data;

	(void)state;
	idx->hdr_flags = MAIL_INDEX_F_NAMES_EXACT;
	idx->cur_mtime = 1700000000123456789LL;
	idx->new_mtime = 1700000000987654321LL;
	data = mail_index_serialize(idx, &len);
	assert_int_equal(mail_index_parse(data, len, &back, &error), 0);
	assert_int_equal(back->hdr_flags, MAIL_INDEX_F_NAMES_EXACT);
	assert_int_equal(back->cur_mtime, 1700000000123456789LL);
	assert_int_equal(back->new_mtime, 1700000000987654321LL);
	mail_index_free(&back);
	xfree(&data);
	mail_index_free(&idx);
}

/* Blobs of expunged messages are dropped by compaction once they are
 * 20% and 32 kB of the file; the survivors' blobs move and still decode;
 * the cache id changes. */
static void
test_cache_compact(void **state)
{
	char tmpl[] = "/tmp/test_mail_index.XXXXXX";
	char *dir = mkdtemp(tmpl), *path;
	struct mail_index *idx = sample_index();
	struct strbuf fields[MAIL_INDEX_CACHE_FIELDS], out;
	uint64_t cache_id, cache_id2, off;
	const char *error;
	struct stat st;
	int lock, fd;
	size_t len = 0;
	void *blob;

	(void)state;
	assert_non_null(dir);
	lock = mail_index_lock(dir, true, &error);
	assert_true(lock >= 0);
	assert_int_equal(mail_index_cache_create(dir, &cache_id, &error), 0);
	idx->cache_id = cache_id;
	fd = mail_index_cache_open(dir, &cache_id2, &error);
	assert_true(fd >= 0);
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++)
		strbuf_init(&fields[i], 100000);
	/* a 30 kB blob for each of UIDs 1, 2, 5 */
	for (size_t k = 0; k < idx->count; k++) {
		struct mail_index_rec *r = &idx->recs[k];

		for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++) {
			strbuf_reset(&fields[i]);
			for (unsigned int j = 0; j < 750; j++)
				assert_int_equal(
				    strbuf_printf(&fields[i], "u%u.%08u",
						  r->uid, j), 0);
		}
		blob = mail_index_cache_encode(r->uid, fields, &len);
		assert_int_equal(
		    mail_index_cache_append(fd, blob, len, &off, &error), 0);
		r->have |= MAIL_INDEX_HAVE_CACHE;
		r->cache_off = off;
		r->cache_len = (uint32_t)len;
		xfree(&blob);
	}
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_false(mail_index_cache_wants_compact(idx, (uint64_t)st.st_size));
	/* one of three expunged: 33% garbage, over 32 kB */
	mail_index_expunge(idx, 2, mail_index_next_modseq(idx));
	assert_true(mail_index_cache_wants_compact(idx, (uint64_t)st.st_size));
	assert_int_equal(mail_index_cache_compact(dir, idx, &error), 0);
	assert_int_not_equal(idx->cache_id, cache_id);
	assert_int_equal(idx->recs[0].cache_off, 16);
	assert_int_equal(idx->recs[1].cache_off, 16 + idx->recs[0].cache_len);
	path = xasprintf("%s/%s", dir, MAIL_INDEX_CACHE_NAME);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size,
			 16 + (uint64_t)idx->recs[0].cache_len +
			     idx->recs[1].cache_len);
	assert_false(mail_index_cache_wants_compact(idx, (uint64_t)st.st_size));
	fd = mail_index_cache_open(dir, &cache_id2, &error);
	assert_true(fd >= 0);
	assert_int_equal(cache_id2, idx->cache_id);
	blob = xmalloc(idx->recs[1].cache_len);
	assert_int_equal(pread(fd, blob, idx->recs[1].cache_len,
			       (off_t)idx->recs[1].cache_off),
			 (ssize_t)idx->recs[1].cache_len);
	strbuf_init(&out, 100000);
	assert_int_equal(mail_index_cache_decode(blob, idx->recs[1].cache_len,
						 5, 2, &out),
			 0);
	assert_memory_equal(strbuf_cstr(&out), "u5.00000000u5.00000001", 22);
	strbuf_release(&out);
	xfree(&blob);
	close(fd);
	/* a cache file of another index is left alone */
	cache_id2 = idx->cache_id;
	idx->cache_id++;
	assert_int_equal(mail_index_cache_compact(dir, idx, &error), 0);
	assert_int_equal(idx->cache_id, cache_id2 + 1);
	mail_index_unlock(&lock);
	for (unsigned int i = 0; i < MAIL_INDEX_CACHE_FIELDS; i++)
		strbuf_release(&fields[i]);
	xfree(&path);
	mail_index_free(&idx);
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_corrupt),
	    cmocka_unit_test(test_sync_disk_modseq),
	    cmocka_unit_test(test_expunge_history_bounded),
	    cmocka_unit_test(test_flag_letters),
	    cmocka_unit_test(test_cache_blob),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_hdr_flags),
	    cmocka_unit_test(test_cache_compact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
