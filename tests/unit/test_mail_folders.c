/* Unit tests for mail_folders: names, the LIST matcher, the Maildir++
 * tree operations on a temporary directory, and the subscriptions file
 * in both of Dovecot's formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/mail_folders.h"
#include "mail/maildir.h"
#include "util/xmem.h"

static char tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_mail_folders.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static bool
is_dir(const char *unused, const char *a)
{
	char path[1024];
	struct stat st;

	(void)unused;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, a);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
write_file(const char *rel, const char *data)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(data, fp);
	fclose(fp);
}

static char *
read_file(const char *rel)
{
	char path[1024], *buf = xcalloc(1, 65536);
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	fp = fopen(path, "r");
	assert_non_null(fp);
	(void)!fread(buf, 1, 65535, fp);
	fclose(fp);
	return buf;
}

static void
test_name_check(void **state)
{
	const char *error;
	char *n;

	(void)state;
	n = mail_folders_name_check("inbox", &error);
	assert_string_equal(n, "INBOX");
	xfree(&n);
	n = mail_folders_name_check("Inbox.Sub", &error);
	assert_string_equal(n, "INBOX.Sub");
	xfree(&n);
	n = mail_folders_name_check("Entwürfe", &error);
	assert_string_equal(n, "Entwürfe");
	xfree(&n);
	assert_null(mail_folders_name_check("", &error));
	assert_null(mail_folders_name_check(".a", &error));
	assert_null(mail_folders_name_check("a.", &error));
	assert_null(mail_folders_name_check("a..b", &error));
	assert_null(mail_folders_name_check("a/b", &error));
	assert_null(mail_folders_name_check("a\tb", &error));
	assert_null(mail_folders_name_check("a*", &error));
	assert_null(mail_folders_name_check("a%", &error));
	assert_null(mail_folders_name_check("\xff", &error));
	/* the encoded directory name must fit 255 bytes */
	{
		char big[300];

		memset(big, 'x', 254);
		big[254] = '\0';
		n = mail_folders_name_check(big, &error);
		assert_non_null(n);
		xfree(&n);
		memset(big, 'x', 255);
		big[255] = '\0';
		assert_null(mail_folders_name_check(big, &error));
	}
}

static void
test_match(void **state)
{
	(void)state;
	assert_int_equal(mail_folders_match("*", "a.b"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("%", "a"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("%", "a.b"), MAIL_MATCH_NO);
	assert_int_equal(mail_folders_match("a.%", "a.b"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("a.%", "a.b.c"), MAIL_MATCH_NO);
	assert_int_equal(mail_folders_match("a.*", "a.b.c"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("a*", "a"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("a%c", "abbc"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("a%c", "ab.c"), MAIL_MATCH_NO);
	assert_int_equal(mail_folders_match("inbox", "INBOX"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("inbox.%", "INBOX.x"),
			 MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("sent", "Sent"), MAIL_MATCH_NO);
	assert_int_equal(mail_folders_match("", "a"), MAIL_MATCH_NO);
	/* could a child of the name match? */
	assert_int_equal(mail_folders_match("a.%", "a"), MAIL_MATCH_CHILDREN);
	assert_int_equal(mail_folders_match("%", "a"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("b.%", "a"), MAIL_MATCH_NO);
	assert_int_equal(mail_folders_match("a", "a"), MAIL_MATCH_YES);
	assert_int_equal(mail_folders_match("**%%*x", "abc.x"),
			 MAIL_MATCH_YES);
}

static void
test_tree(void **state)
{
	struct mail_folders *f;
	struct mail_folder_list list;
	const struct mail_folder_info *fi;
	const char *error;

	(void)state;
	f = mail_folders_new(tmpdir, NULL);
	assert_int_equal(maildir_create(tmpdir, false, &error), 0);
	assert_int_equal(mail_folders_create(f, "Entwürfe", &error), 0);
	assert_true(is_dir("%s/%s", ".Entw&APw-rfe/cur"));
	assert_true(access(".", F_OK) == 0);
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/.Entw&APw-rfe/maildirfolder",
			 tmpdir);
		assert_int_equal(access(path, F_OK), 0);
	}
	assert_int_equal(mail_folders_create(f, "Entwürfe", &error),
			 MAIL_FOLDERS_EXISTS);
	assert_int_equal(mail_folders_create(f, "INBOX", &error),
			 MAIL_FOLDERS_EXISTS);
	assert_int_equal(mail_folders_create(f, "a.b.c", &error), 0);
	assert_int_equal(mail_folders_create(f, "a.x", &error), 0);
	/* a junk entry, a file and Dovecot's trash dir are not folders */
	assert_int_equal(mkdir(strcat(strcpy((char[512]){0}, tmpdir),
				      "/.bad&-x&"), 0700), 0);
	write_file(".afile", "x");

	assert_int_equal(mail_folders_list(f, &list, &error), 0);
	assert_int_equal(list.count, 6); /* INBOX Entwürfe a a.b a.b.c a.x */
	assert_string_equal(list.items[0].name, "Entwürfe");
	fi = mail_folder_list_find(&list, "a");
	assert_non_null(fi);
	assert_int_equal(fi->flags,
			 MAIL_FOLDER_NONEXISTENT | MAIL_FOLDER_CHILDREN);
	fi = mail_folder_list_find(&list, "a.b.c");
	assert_non_null(fi);
	assert_int_equal(fi->flags, 0);
	fi = mail_folder_list_find(&list, "INBOX");
	assert_non_null(fi);
	assert_int_equal(fi->flags, 0);
	mail_folder_list_free(&list);

	/* rename with children; "a" itself does not exist */
	assert_int_equal(mail_folders_rename(f, "a", "z", &error), 0);
	assert_true(is_dir("%s/%s", ".z.b.c"));
	assert_true(is_dir("%s/%s", ".z.x"));
	assert_false(is_dir("%s/%s", ".a.x"));
	assert_int_equal(mail_folders_rename(f, "nope", "y", &error),
			 MAIL_FOLDERS_NOTFOUND);
	assert_int_equal(mail_folders_rename(f, "z.x", "Entwürfe", &error),
			 MAIL_FOLDERS_EXISTS);

	/* delete keeps the children */
	assert_int_equal(mail_folders_create(f, "z", &error), 0);
	assert_int_equal(mail_folders_delete(f, "z", &error), 0);
	assert_false(is_dir("%s/%s", ".z"));
	assert_true(is_dir("%s/%s", ".z.x"));
	assert_false(is_dir("%s/%s", MAIL_FOLDERS_TRASH_DIR));
	assert_int_equal(mail_folders_delete(f, "z", &error),
			 MAIL_FOLDERS_NOTFOUND);
	assert_int_equal(mail_folders_delete(f, "INBOX", &error),
			 MAIL_FOLDERS_INBOX);
	mail_folders_free(&f);
}

static void
test_rename_inbox_and_usage(void **state)
{
	struct mail_folders *f;
	const char *error;
	uint64_t bytes, msgs;
	char *kw;

	(void)state;
	f = mail_folders_new(tmpdir, NULL);
	assert_int_equal(maildir_create(tmpdir, false, &error), 0);
	write_file("cur/1000.M1P1.h,S=100:2,S", "x");
	write_file("new/1001.M1P1.h", "12345");
	write_file("dovecot-keywords", "0 $Label1\n");
	assert_int_equal(mail_folders_create(f, "INBOX.child", &error), 0);
	assert_int_equal(mail_folders_usage(f, &bytes, &msgs, &error), 0);
	assert_int_equal(bytes, 105);
	assert_int_equal(msgs, 2);

	assert_int_equal(mail_folders_rename(f, "INBOX", "Old", &error), 0);
	assert_int_equal(access(strcat(strcpy((char[512]){0}, tmpdir),
				       "/.Old/cur/1000.M1P1.h,S=100:2,S"),
				F_OK),
			 0);
	assert_int_equal(access(strcat(strcpy((char[512]){0}, tmpdir),
				       "/.Old/new/1001.M1P1.h"),
				F_OK),
			 0);
	assert_int_equal(access(strcat(strcpy((char[512]){0}, tmpdir),
				       "/cur/1000.M1P1.h,S=100:2,S"),
				F_OK),
			 -1);
	kw = read_file(".Old/dovecot-keywords");
	assert_string_equal(kw, "0 $Label1\n");
	xfree(&kw);
	/* INBOX's children stay */
	assert_true(is_dir("%s/%s", ".INBOX.child"));
	assert_int_equal(mail_folders_usage(f, &bytes, &msgs, &error), 0);
	assert_int_equal(bytes, 105);
	assert_int_equal(mail_folders_rename(f, "INBOX", "Old", &error),
			 MAIL_FOLDERS_EXISTS);
	mail_folders_free(&f);
}

static void
test_subs_parse(void **state)
{
	struct mail_subs subs;
	char *out;
	size_t len;

	(void)state;
	/* version 1, as Dovecot 2.3 creates it: storage names */
	{
		static const char v1[] = "INBOX\nEntw&APw-rfe\na.b.\nbad&\n";

		mail_subs_parse(v1, strlen(v1), &subs);
	}
	assert_int_equal(subs.version, 1);
	assert_int_equal(subs.count, 4);
	assert_string_equal(subs.entries[0].name, "INBOX");
	assert_string_equal(subs.entries[1].name, "Entwürfe");
	assert_string_equal(subs.entries[2].name, "a.b");
	assert_null(subs.entries[3].name);
	assert_true(mail_subs_update(&subs, "Sent", true));
	assert_false(mail_subs_update(&subs, "Sent", true));
	assert_true(mail_subs_update(&subs, "Entwürfe", false));
	out = mail_subs_serialize(&subs, &len);
	assert_string_equal(out, "INBOX\na.b.\nbad&\nSent\n");
	xfree(&out);
	mail_subs_clear(&subs);

	/* version 2: levels separated by TABs, tab-escaped */
	{
		static const char v2[] = "V\t2\n\nINBOX\nwork\tEntw&APw-rfe\n"
					 "odd\001tname\n";

		mail_subs_parse(v2, sizeof(v2) - 1, &subs);
	}
	assert_int_equal(subs.version, 2);
	assert_int_equal(subs.count, 3);
	assert_string_equal(subs.entries[1].name, "work.Entwürfe");
	assert_null(subs.entries[2].name); /* a TAB in a name */
	assert_true(mail_subs_update(&subs, "x.Grüße", true));
	out = mail_subs_serialize(&subs, &len);
	assert_string_equal(out, "V\t2\n\nINBOX\nwork\tEntw&APw-rfe\n"
				 "odd\001tname\nx\tGr&APwA3w-e\n");
	xfree(&out);
	mail_subs_clear(&subs);
}

static void
test_subs_file(void **state)
{
	struct mail_folders *f;
	struct mail_subs subs;
	const char *error;
	char *data;

	(void)state;
	f = mail_folders_new(tmpdir, NULL);
	/* no file: created in version 1 */
	assert_int_equal(mail_subs_set(f, "Entwürfe", true, &error), 0);
	assert_int_equal(mail_subs_set(f, "a.b", true, &error), 0);
	assert_int_equal(mail_subs_set(f, "a.b", true, &error), 0);
	data = read_file("subscriptions");
	assert_string_equal(data, "Entw&APw-rfe\na.b\n");
	xfree(&data);
	assert_int_equal(mail_subs_rename(f, "a", "c", &error), 0);
	assert_int_equal(mail_subs_set(f, "Entwürfe", false, &error), 0);
	data = read_file("subscriptions");
	assert_string_equal(data, "c.b\n");
	xfree(&data);

	/* a file written by Dovecot 2.3 in version 2 keeps its format */
	write_file("subscriptions", "V\t2\n\nINBOX\nArchive\t2024\n");
	assert_int_equal(mail_subs_read(f, &subs, &error), 0);
	assert_true(mail_subs_contains(&subs, "Archive.2024"));
	mail_subs_clear(&subs);
	assert_int_equal(mail_subs_set(f, "Sent", true, &error), 0);
	data = read_file("subscriptions");
	assert_string_equal(data, "V\t2\n\nINBOX\nArchive\t2024\nSent\n");
	xfree(&data);
	assert_int_equal(access(strcat(strcpy((char[512]){0}, tmpdir),
				       "/subscriptions.lock"),
				F_OK),
			 -1);
	mail_folders_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_check),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_inbox_and_usage, setup,
					    teardown),
	    cmocka_unit_test(test_subs_parse),
	    cmocka_unit_test_setup_teardown(test_subs_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
