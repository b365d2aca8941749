/* Unit tests for the Maildir read side (mailbox, mailbox_msg) and POP3
 * UIDLs, with Maildirs built by the test and a dovecot-uidlist written by
 * Debian's Dovecot 2.3 (tests/unit/maildir/uidlist-rewritten). */
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

#include "mail/dotlock.h"
#include "mail/mailbox.h"
#include "mail/maildir.h"
#include "mail/maildir_uidlist.h"
#include "mail/pop3_uidl.h"
#include "util/safe_file.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static char *
make_maildir(void)
{
	char tmpl[] = "/tmp/test_mailbox.XXXXXX";
	char *p = mkdtemp(tmpl);
	const char *error;

	assert_non_null(p);
	assert_int_equal(maildir_create(p, false, &error), 0);
	return xstrdup(p);
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
remove_tree(char **dirp)
{
	assert_int_equal(nftw(*dirp, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	xfree(dirp);
}

static void
put(const char *dir, const char *name, const char *content)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	xfree(&path);
}

static bool
exists(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	bool ret = access(path, F_OK) == 0;

	xfree(&path);
	return ret;
}

static char *
slurp(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	const char *error;
	char *data;
	size_t len;

	assert_int_equal(safe_file_read(path, 1 << 20, &data, &len, &error), 0);
	xfree(&path);
	return data;
}

/* A Maildir without dovecot-uidlist: the list is created, files in cur/
 * and new/ get UIDs as Dovecot gives them, in delivery-time order (9
 * before 10 though "10" sorts first as a string; then microseconds), new/
 * files move to cur/ with ":2,", and a second open keeps every UID and
 * the UIDVALIDITY. */
static void
test_fresh_maildir(void **state)
{
	char *dir = make_maildir();
	struct mailbox *box, *box2;
	struct maildir_uidlist *list;
	const char *error;
	uint64_t size, vsize;

	(void)state;
	put(dir, "new/10.M1P1.host,S=6,W=7", "hello\n");
	put(dir, "new/9.M5P1.host", "a\nb\r\nc\n");
	put(dir, "cur/9.M2P1.host,S=3,W=4:2,S", "hi\n");
	put(dir, "new/9.M10P1.host", "late\n");
	put(dir, "new/.hidden", "x");
	put(dir, "new/11.M1P1.host:1,bad", "x");

	assert_int_equal(mailbox_open(dir, NULL, &box, &error), 0);
	assert_int_equal(box->count, 4);
	assert_true(box->uid_validity != 0);
	assert_int_equal(box->next_uid, 5);
	assert_int_equal(box->msgs[0].uid, 1);
	assert_string_equal(box->msgs[0].filename, "9.M2P1.host,S=3,W=4:2,S");
	assert_string_equal(box->msgs[1].filename, "9.M5P1.host:2,");
	assert_string_equal(box->msgs[2].filename, "9.M10P1.host:2,");
	assert_string_equal(box->msgs[3].filename, "10.M1P1.host,S=6,W=7:2,");
	assert_false(box->msgs[1].in_new);
	assert_true(exists(dir, "cur/9.M5P1.host:2,"));
	assert_false(exists(dir, "new/9.M5P1.host"));
	assert_true(exists(dir, "new/11.M1P1.host:1,bad")); /* not ours */
	assert_string_equal(mailbox_msg_flags(&box->msgs[0]), "S");
	assert_string_equal(mailbox_msg_flags(&box->msgs[1]), "");

	/* sizes: from the name, or stat and counting LFs */
	assert_int_equal(mailbox_msg_size(box, 3, &size, &error), 0);
	assert_int_equal(size, 6);
	assert_int_equal(mailbox_msg_vsize(box, 3, &vsize, &error), 0);
	assert_int_equal(vsize, 7);
	assert_false(box->msgs[1].has_size);
	assert_int_equal(mailbox_msg_size(box, 1, &size, &error), 0);
	assert_int_equal(size, 7);
	assert_int_equal(mailbox_msg_vsize(box, 1, &vsize, &error), 0);
	assert_int_equal(vsize, 9);

	/* the uidlist as Dovecot would write it */
	assert_int_equal(maildir_uidlist_read(dir, &list, &error), 1);
	assert_int_equal(list->uid_validity, box->uid_validity);
	assert_int_equal(list->count, 4);
	assert_string_equal(list->recs[0].filename, "9.M2P1.host,S=3,W=4");
	assert_string_equal(list->recs[1].filename, "9.M5P1.host");
	assert_string_equal(list->recs[2].filename, "9.M10P1.host");
	assert_string_equal(list->recs[3].filename, "10.M1P1.host,S=6,W=7");
	assert_int_equal(list->next_uid, 5);
	maildir_uidlist_free(&list);

	assert_int_equal(mailbox_open(dir, NULL, &box2, &error), 0);
	assert_int_equal(box2->uid_validity, box->uid_validity);
	assert_int_equal(box2->count, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(box2->msgs[i].uid, box->msgs[i].uid);
		assert_string_equal(box2->msgs[i].filename,
				    box->msgs[i].filename);
	}
	mailbox_close(&box2);
	mailbox_close(&box);
	assert_null(box);
	remove_tree(&dir);
}

/* The store Dovecot left: UIDs 1, 3, 4 (2 expunged) under UIDVALIDITY
 * 1795364859, N4 in the header and uid 4 appended after it. One file
 * has flags by now, uid 4 is still in new/, and one new delivery has no
 * UID yet: it gets 5 (appended, header untouched), the others keep
 * theirs. */
static void
test_dovecot_store(void **state)
{
	char *dir = make_maildir();
	char *path = xasprintf("%s/tests/unit/maildir/uidlist-rewritten",
			       SOURCE_DIR);
	struct mailbox *box;
	struct maildir_uidlist *list;
	const char *error;
	char *data, *orig;
	size_t len;
	uint64_t vsize;

	(void)state;
	assert_int_equal(safe_file_read(path, 1 << 20, &orig, &len, &error),
			 0);
	put(dir, "dovecot-uidlist", orig);
	put(dir, "cur/1795364859.M828982P18098.vm,S=28,W=32:2,RS",
	    "Subject: one\n\nfirst body\n");
	put(dir, "cur/1795364999.12345_1.otherhost:2,", "x\ny\n");
	put(dir, "new/1795364867.M105802P18756.vm,S=29,W=33", "three\n");
	put(dir, "new/1795365000.M1P2.vm,S=5,W=6", "new!\n");

	assert_int_equal(mailbox_open(dir, NULL, &box, &error), 0);
	assert_int_equal(box->uid_validity, 1795364859);
	assert_int_equal(box->next_uid, 6);
	assert_int_equal(box->count, 4);
	assert_int_equal(box->msgs[0].uid, 1);
	assert_int_equal(box->msgs[1].uid, 3);
	assert_int_equal(box->msgs[2].uid, 4);
	assert_int_equal(box->msgs[3].uid, 5);
	assert_string_equal(mailbox_msg_flags(&box->msgs[0]), "RS");
	assert_int_equal(box->msgs[0].vsize, 32);
	assert_false(box->msgs[1].has_vsize);
	assert_int_equal(mailbox_msg_vsize(box, 1, &vsize, &error), 0);
	assert_int_equal(vsize, 6);
	assert_string_equal(box->msgs[2].filename,
			    "1795364867.M105802P18756.vm,S=29,W=33:2,");
	assert_int_equal(mailbox_find_uid(box, 3), 1);
	assert_int_equal(mailbox_find_uid(box, 2), -1);

	/* the old content is a prefix: only appended to */
	data = slurp(dir, "dovecot-uidlist");
	assert_int_equal(strncmp(data, orig, strlen(orig)), 0);
	assert_string_equal(data + strlen(orig), "5 :1795365000.M1P2.vm,S=5,W=6\n");
	assert_int_equal(maildir_uidlist_parse(data, strlen(data), &list,
					       &error),
			 0);
	assert_int_equal(list->next_uid, 6);
	maildir_uidlist_free(&list);
	xfree(&data);
	mailbox_close(&box);
	xfree(&orig);
	xfree(&path);
	remove_tree(&dir);
}

/* Flags by rename (sorted, no duplicates); a second session that renamed
 * the file under the first does not lose the message; expunge unlinks,
 * twice is harmless, and the next sync drops it while others keep their
 * UIDs. A new file after the expunge gets a fresh UID, never a reused
 * one. */
static void
test_flags_expunge(void **state)
{
	char *dir = make_maildir();
	struct mailbox *a, *b;
	const char *error;
	bool expunged;
	int fd;
	char buf[16];

	(void)state;
	put(dir, "new/1.M1P1.h", "one\n");
	put(dir, "new/2.M1P1.h", "two\n");
	put(dir, "new/3.M1P1.h", "three\n");
	assert_int_equal(mailbox_open(dir, NULL, &a, &error), 0);
	assert_int_equal(mailbox_open(dir, NULL, &b, &error), 0);
	assert_int_equal(mailbox_msg_set_flags(a, 0, "SRS", &error), 0);
	assert_string_equal(a->msgs[0].filename, "1.M1P1.h:2,RS");
	assert_int_equal(mailbox_msg_set_flags(a, 0, "x", &error), 0);
	assert_int_equal(mailbox_msg_set_flags(a, 0, "1", &error), -1);
	assert_string_equal(mailbox_msg_flags(&a->msgs[0]), "x");

	/* b still has the old name */
	assert_string_equal(b->msgs[0].filename, "1.M1P1.h:2,");
	assert_int_equal(mailbox_msg_open(b, 0, &fd, &expunged, &error), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "one\n", 4);
	close(fd);
	assert_string_equal(b->msgs[0].filename, "1.M1P1.h:2,x");

	assert_int_equal(mailbox_msg_expunge(a, 1, &error), 0);
	assert_false(exists(dir, "cur/2.M1P1.h:2,"));
	assert_int_equal(mailbox_msg_expunge(b, 1, &error), 0);
	assert_int_equal(mailbox_msg_open(b, 1, &fd, &expunged, &error), -1);
	assert_true(expunged);

	put(dir, "new/4.M1P1.h", "four\n");
	assert_int_equal(mailbox_sync(b, &error), 0);
	assert_int_equal(b->count, 3);
	assert_int_equal(b->msgs[0].uid, 1);
	assert_int_equal(b->msgs[1].uid, 3);
	assert_int_equal(b->msgs[2].uid, 4);
	mailbox_close(&a);
	mailbox_close(&b);
	remove_tree(&dir);
}

/* Read-only: nothing renamed, no uidlist written; files without a UID are
 * not listed. A held uidlist lock makes a sync that needs new UIDs fail
 * after the timeout instead of writing unlocked. A recreated uidlist
 * (new UIDVALIDITY) ends the session. */
static void
test_readonly_lock_validity(void **state)
{
	char *dir = make_maildir();
	struct mailbox_settings ro = {.readonly = true};
	struct mailbox_settings quick = {.lock_timeout_secs = 1};
	struct mailbox *box;
	struct dotlock *lock;
	const char *error;
	char *path;

	(void)state;
	put(dir, "new/1.M1P1.h", "one\n");
	assert_int_equal(mailbox_open(dir, &ro, &box, &error), 0);
	assert_int_equal(box->count, 0);
	assert_true(exists(dir, "new/1.M1P1.h"));
	assert_false(exists(dir, "dovecot-uidlist"));
	mailbox_close(&box);

	assert_int_equal(maildir_uidlist_lock(dir, 1, &lock, &error), 1);
	assert_int_equal(mailbox_open(dir, &quick, &box, &error), -1);
	assert_false(exists(dir, "dovecot-uidlist"));
	assert_int_equal(dotlock_delete(&lock, &error), 0);

	assert_int_equal(mailbox_open(dir, &quick, &box, &error), 0);
	assert_int_equal(box->count, 1);
	path = xasprintf("%s/dovecot-uidlist", dir);
	assert_int_equal(unlink(path), 0);
	put(dir, "dovecot-uidlist", "3 V42 N1 G0123456789abcdef0123456789abcdef\n");
	assert_int_equal(mailbox_sync(box, &error), -1);
	assert_non_null(strstr(error, "UIDVALIDITY"));
	mailbox_close(&box);
	xfree(&path);
	remove_tree(&dir);
}

static void
check_uidl(const char *format, uint32_t uid, uint32_t validity,
	   const char *base, const char *expect)
{
	struct pop3_uidl_vars vars = {uid, validity, base};
	struct strbuf sb;
	const char *error;

	strbuf_init(&sb, 512);
	assert_int_equal(pop3_uidl_check_format(format, &error), 0);
	assert_int_equal(pop3_uidl_expand(format, &vars, &sb, &error), 0);
	assert_string_equal(strbuf_cstr(&sb), expect);
	strbuf_release(&sb);
}

static void
test_pop3_uidl(void **state)
{
	const char *error;

	(void)state;
	check_uidl("%08Xu%08Xv", 1, 1795364859, "x", "000000016b0317fb");
	check_uidl("%08Xu%08Xv", 0xabcdef12, 7, "x", "abcdef1200000007");
	check_uidl("%u.%v", 12, 34, "x", "12.34");
	check_uidl("%f", 1, 1, "1795364859.M828982P18098.vm,S=28,W=32",
		   "1795364859.M828982P18098.vm,S=28,W=32");
	check_uidl("%Uf-%%", 1, 1, "ab.c", "AB.C-%");
	check_uidl("%3u", 12345, 1, "x", "123");
	assert_int_equal(pop3_uidl_check_format("%m", &error), -1);
	assert_int_equal(pop3_uidl_check_format("%q", &error), -1);
	assert_int_equal(pop3_uidl_check_format("%999u", &error), -1);
	assert_int_equal(pop3_uidl_check_format("%", &error), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_maildir),
	    cmocka_unit_test(test_dovecot_store),
	    cmocka_unit_test(test_flags_expunge),
	    cmocka_unit_test(test_readonly_lock_validity),
	    cmocka_unit_test(test_pop3_uidl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
