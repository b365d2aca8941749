/* Unit tests for dovecot-uidlist and dovecot-keywords, with files written
 * by Debian's Dovecot 2.3 (tests/unit/maildir/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/dotlock.h"
#include "mail/maildir_keywords.h"
#include "mail/maildir_uidlist.h"
#include "util/safe_file.h"
#include "util/xmem.h"

static char *
fixture(const char *name, size_t *len_r)
{
	char *path = xasprintf("%s/tests/unit/maildir/%s", SOURCE_DIR, name);
	const char *error;
	char *data;

	assert_int_equal(safe_file_read(path, 1 << 20, &data, len_r, &error),
			 0);
	xfree(&path);
	return data;
}

/* Dovecot appended two records under a header it wrote when next_uid was
 * still 1: next_uid must come from the records. */
static void
test_parse_dovecot_appended(void **state)
{
	struct maildir_uidlist *list;
	const char *error;
	size_t len;
	char *data = fixture("uidlist-appended", &len);

	(void)state;
	assert_int_equal(maildir_uidlist_parse(data, len, &list, &error), 0);
	assert_int_equal(list->version, 3);
	assert_int_equal(list->uid_validity, 1795364859);
	assert_int_equal(list->next_uid, 3);
	assert_string_equal(list->guid, "b69c6931fb17036bb246000083ecc375");
	assert_int_equal(list->count, 2);
	assert_int_equal(list->recs[0].uid, 1);
	assert_string_equal(list->recs[0].filename,
			    "1795364859.M828982P18098.vm,S=28,W=32");
	assert_null(list->recs[0].ext);
	assert_int_equal(list->recs[1].uid, 2);
	assert_non_null(maildir_uidlist_lookup(list, 2));
	assert_null(maildir_uidlist_lookup(list, 3));
	/* the file has since got flags: found by its base */
	assert_ptr_equal(
	    maildir_uidlist_lookup_file(
		list, "1795364859.M828982P18098.vm,S=28,W=32:2,Sa"),
	    &list->recs[0]);
	maildir_uidlist_free(&list);
	xfree(&data);
}

/* After an expunge Dovecot rewrote the file (uid 2 gone, a file without
 * S=/W= got uid 3, header N4), then its LDA appended uid 4 under the old
 * header. Serializing keeps every record byte for byte and writes the
 * corrected N in the header. */
static void
test_rewritten_round_trip(void **state)
{
	static const struct {
		const char *file, *header;
		uint32_t next_uid;
	} cases[] = {
	    {"uidlist-rewritten",
	     "3 V1795364859 N5 Gb69c6931fb17036bb246000083ecc375\n", 5},
	    {"uidlist-folder",
	     "3 V1795364860 N2 G889c6235fb17036bb346000083ecc375\n", 2},
	};
	(void)state;
	for (size_t f = 0; f < 2; f++) {
		struct maildir_uidlist *list;
		const char *error, *body;
		size_t len, out_len, hlen = strlen(cases[f].header);
		char *data = fixture(cases[f].file, &len), *out;

		assert_int_equal(
		    maildir_uidlist_parse(data, len, &list, &error), 0);
		assert_int_equal(list->next_uid, cases[f].next_uid);
		out = maildir_uidlist_serialize(list, &out_len);
		body = strchr(data, '\n') + 1;
		assert_true(out_len > hlen);
		assert_memory_equal(out, cases[f].header, hlen);
		assert_int_equal(out_len - hlen, len - (size_t)(body - data));
		assert_memory_equal(out + hlen, body, out_len - hlen);
		if (f == 0) {
			assert_int_equal(list->count, 3);
			assert_int_equal(list->recs[1].uid, 3);
			assert_string_equal(list->recs[1].filename,
					    "1795364999.12345_1.otherhost");
		}
		xfree(&out);
		maildir_uidlist_free(&list);
		xfree(&data);
	}
}

/* The example from Dovecot's documentation, with an extension field. */
static void
test_parse_extensions(void **state)
{
	static const char doc[] =
	    "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1 X1\n"
	    "25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
	    "25017 W2481 P0 :1276533073.M242911P3632.kurkku:2,F\n";
	struct maildir_uidlist *list;
	const char *error;
	size_t len;
	char *out;

	(void)state;
	assert_int_equal(
	    maildir_uidlist_parse(doc, sizeof(doc) - 1, &list, &error), 0);
	assert_int_equal(list->next_uid, 25022);
	assert_string_equal(list->hdr_ext, "X1");
	assert_string_equal(list->recs[1].ext, "W2481 P0");
	assert_string_equal(maildir_uidlist_rec_ext(&list->recs[1], 'W'),
			    "2481");
	assert_string_equal(maildir_uidlist_rec_ext(&list->recs[1], 'P'), "0");
	assert_null(maildir_uidlist_rec_ext(&list->recs[1], 'G'));
	assert_null(maildir_uidlist_rec_ext(&list->recs[0], 'W'));
	out = maildir_uidlist_serialize(list, &len);
	assert_int_equal(len, sizeof(doc) - 1);
	assert_memory_equal(out, doc, len);
	xfree(&out);

	assert_int_equal(maildir_uidlist_add(list, "1.M1P1.h,S=1,W=2", NULL),
			 25022);
	assert_int_equal(list->next_uid, 25023);
	maildir_uidlist_free(&list);
}

static void
test_parse_version1(void **state)
{
	static const char v1[] = "1 1000 5\n3 1.2.host:2,S\n4 5.6.host\n";
	struct maildir_uidlist *list;
	const char *error;
	size_t len;
	char *out;

	(void)state;
	assert_int_equal(
	    maildir_uidlist_parse(v1, sizeof(v1) - 1, &list, &error), 0);
	assert_int_equal(list->version, 1);
	assert_int_equal(list->uid_validity, 1000);
	assert_int_equal(list->next_uid, 5);
	assert_string_equal(list->recs[0].filename, "1.2.host:2,S");
	out = maildir_uidlist_serialize(list, &len);
	assert_string_equal(out, "3 V1000 N5\n3 :1.2.host:2,S\n4 :5.6.host\n");
	xfree(&out);
	maildir_uidlist_free(&list);
}

static void
test_parse_refuses_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2 V1 N1\n",
	    "3 N5\n",			     /* no V */
	    "3 V1\n",			     /* no N */
	    "3 V0 N1\n",		     /* zero uidvalidity */
	    "3 V1 N1 Gxyz\n",		     /* bad guid */
	    "3 V1 N9\n2 :a.b.c\n1 :d.e.f\n", /* not ascending */
	    "3 V1 N9\n2 :a.b.c\n2 :d.e.f\n", /* duplicate */
	    "3 V1 N9\n0 :a.b.c\n",	     /* uid 0 */
	    "3 V1 N9\nx :a.b.c\n",	     /* bad uid */
	    "3 V1 N9\n5 a.b.c\n",	     /* no ':' */
	    "3 V1 N9\n5 :../etc/passwd\n",   /* not a file name */
	    "3 V1 N9\n5 :\n",		     /* empty name */
	    "3 V99999999999 N1\n",	     /* > 32 bits */
	    "3 V1 N9\n4294967296 :a.b.c\n",  /* > 32 bits */
	    "1 0 3\n",			     /* v1, zero uidvalidity */
	};
	struct maildir_uidlist *list;
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(maildir_uidlist_parse(bad[i], strlen(bad[i]),
						       &list, &error),
				 -1);
		assert_non_null(error);
	}
	static const char nul[] = "3 V1 N1\n1 :a\0b\n";
	assert_int_equal(
	    maildir_uidlist_parse(nul, sizeof(nul) - 1, &list, &error), -1);
	/* an over-long line */
	size_t n = MAILDIR_UIDLIST_LINE_MAX + 100;
	char *longline = xmalloc(n + 1);
	memcpy(longline, "3 V1 N1 ", 8);
	memset(longline + 8, 'X', n - 8);
	longline[n] = '\0';
	assert_int_equal(maildir_uidlist_parse(longline, n, &list, &error), -1);
	xfree(&longline);
}

static void
test_lock_write_read(void **state)
{
	char tmpl[] = "/tmp/test_uidlist.XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct maildir_uidlist *list, *back;
	struct dotlock *lock, *lock2;
	const char *error;
	char *lockpath;

	(void)state;
	assert_non_null(dir);
	assert_int_equal(maildir_uidlist_read(dir, &back, &error), 0);
	list = maildir_uidlist_new(1234);
	assert_int_equal(strlen(list->guid), 32);
	assert_int_equal(maildir_uidlist_add(list, "1.M2P3.h,S=4,W=5", NULL),
			 1);
	assert_int_equal(maildir_uidlist_lock(dir, 5, &lock, &error), 1);
	lockpath = xasprintf("%s/dovecot-uidlist.lock", dir);
	assert_int_equal(access(lockpath, F_OK), 0);
	/* a second locker times out while the lock is held */
	assert_int_equal(maildir_uidlist_lock(dir, 1, &lock2, &error), 0);
	assert_int_equal(maildir_uidlist_write(&lock, list, &error), 0);
	assert_null(lock);
	assert_int_equal(access(lockpath, F_OK), -1);
	assert_int_equal(maildir_uidlist_read(dir, &back, &error), 1);
	assert_int_equal(back->uid_validity, 1234);
	assert_int_equal(back->next_uid, 2);
	assert_string_equal(back->guid, list->guid);
	assert_string_equal(back->recs[0].filename, "1.M2P3.h,S=4,W=5");
	/* appending as Dovecot does: the header keeps N2, the reader takes
	 * next_uid from the records */
	size_t from = back->count;
	assert_int_equal(maildir_uidlist_lock(dir, 5, &lock, &error), 1);
	assert_int_equal(maildir_uidlist_add(back, "7.M8P9.h", "W10"), 2);
	assert_int_equal(maildir_uidlist_add(back, "7.M9P9.h", NULL), 3);
	assert_int_equal(maildir_uidlist_append_recs(dir, back, from, &error),
			 0);
	assert_int_equal(dotlock_delete(&lock, &error), 0);
	maildir_uidlist_free(&back);
	assert_int_equal(maildir_uidlist_read(dir, &back, &error), 1);
	assert_int_equal(back->count, 3);
	assert_int_equal(back->next_uid, 4);
	assert_string_equal(back->recs[1].ext, "W10");
	assert_string_equal(back->recs[2].filename, "7.M9P9.h");
	char *path = xasprintf("%s/dovecot-uidlist", dir);
	char *text;
	size_t tlen;
	assert_int_equal(safe_file_read(path, 4096, &text, &tlen, &error), 0);
	assert_non_null(strstr(text, " N2 "));
	assert_non_null(strstr(text, "\n2 W10 :7.M8P9.h\n3 :7.M9P9.h\n"));
	xfree(&text);
	xfree(&path);
	maildir_uidlist_free(&back);
	maildir_uidlist_free(&list);

	/* a stale lock (mtime > 2 minutes ago) is broken */
	FILE *f = fopen(lockpath, "w");
	assert_non_null(f);
	fclose(f);
	char *cmd = xasprintf("touch -d '10 minutes ago' '%s'", lockpath);
	assert_int_equal(system(cmd), 0);
	xfree(&cmd);
	assert_int_equal(maildir_uidlist_lock(dir, 5, &lock, &error), 1);
	assert_int_equal(dotlock_delete(&lock, &error), 0);
	assert_int_equal(access(lockpath, F_OK), -1);
	xfree(&lockpath);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	xfree(&cmd);
}

static void
test_keywords(void **state)
{
	struct maildir_keywords kw;
	const char *error;
	size_t len, out_len;
	char *data = fixture("keywords", &len), *out;

	(void)state;
	assert_int_equal(maildir_keywords_parse(data, len, &kw, &error), 0);
	assert_string_equal(kw.names[0], "$Junk");
	assert_string_equal(kw.names[1], "Important");
	assert_string_equal(kw.names[2], "$Label1");
	assert_null(kw.names[3]);
	assert_int_equal(maildir_keywords_letter(&kw, "important"), 'b');
	assert_int_equal(maildir_keywords_letter(&kw, "nope"), 0);
	out = maildir_keywords_serialize(&kw, &out_len);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, data, len);
	xfree(&out);
	maildir_keywords_clear(&kw);
	xfree(&data);

	static const char *const bad[] = {"26 x\n", "0 a\n0 b\n", "0 a\n1 A\n",
					  "0 \n",   "x y\n",	  "0 a b\n",
					  "0 a(\n", "1\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    maildir_keywords_parse(bad[i], strlen(bad[i]), &kw, &error),
		    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_dovecot_appended),
	    cmocka_unit_test(test_rewritten_round_trip),
	    cmocka_unit_test(test_parse_extensions),
	    cmocka_unit_test(test_parse_version1),
	    cmocka_unit_test(test_parse_refuses_malformed),
	    cmocka_unit_test(test_lock_write_read),
	    cmocka_unit_test(test_keywords),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
