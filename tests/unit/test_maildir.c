/* Unit tests for Maildir names, folder paths, creation, delivery and
 * mail_location expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/mail_location.h"
#include "mail/maildir.h"
#include "mail/maildir_name.h"
#include "mail/maildir_save.h"
#include "util/safe_file.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static void
test_name_generate(void **state)
{
	struct timeval tv = {1795364859, 828982};
	struct strbuf host, sb;

	(void)state;
	strbuf_init(&host, 128);
	strbuf_init(&sb, MAILDIR_NAME_MAX);
	assert_int_equal(maildir_name_host("mx/1:a", &host), 0);
	assert_string_equal(strbuf_cstr(&host), "mx\\0571\\072a");
	assert_int_equal(maildir_name_base(&sb, &tv, 18098, "vm"), 0);
	assert_int_equal(maildir_name_append_sizes(&sb, 28, 32), 0);
	/* the name Debian's Dovecot 2.3 LDA gave the same message */
	assert_string_equal(strbuf_cstr(&sb),
			    "1795364859.M828982P18098.vm,S=28,W=32");
	strbuf_release(&host);
	strbuf_release(&sb);
}

static void
test_name_unique_time(void **state)
{
	struct timeval a = {1000, 999999}, b = a, c = {999, 0};

	(void)state;
	maildir_name_unique_time(&a);
	maildir_name_unique_time(&b);
	assert_int_equal(b.tv_sec, 1001);
	assert_int_equal(b.tv_usec, 0);
	maildir_name_unique_time(&c); /* clock went back */
	assert_int_equal(c.tv_sec, 1001);
	assert_int_equal(c.tv_usec, 1);
}

static void
test_name_parse(void **state)
{
	struct maildir_name mn;

	(void)state;
	assert_int_equal(maildir_name_parse(
			     "1795364859.M828982P18098.vm,S=28,W=32:2,Sa", &mn),
			 0);
	assert_true(mn.has_size && mn.has_vsize);
	assert_int_equal(mn.size, 28);
	assert_int_equal(mn.vsize, 32);
	assert_string_equal(mn.flags, "Sa");
	assert_int_equal(mn.base_len, strlen("1795364859.M828982P18098.vm,"
					     "S=28,W=32"));
	assert_int_equal(
	    maildir_name_parse("1795364999.12345_1.otherhost", &mn), 0);
	assert_false(mn.has_size);
	assert_null(mn.flags);
	assert_int_equal(maildir_name_parse("1.2.h,X=foo,S=7:2,", &mn), 0);
	assert_int_equal(mn.size, 7);
	assert_string_equal(mn.flags, "");

	assert_int_equal(maildir_name_parse("", &mn), -1);
	assert_int_equal(maildir_name_parse(".hidden", &mn), -1);
	assert_int_equal(maildir_name_parse("a/b", &mn), -1);
	assert_int_equal(maildir_name_parse("a\nb", &mn), -1);
	assert_int_equal(maildir_name_parse("1.2.h,S=x", &mn), -1);
	assert_int_equal(maildir_name_parse("1.2.h,S=", &mn), -1);
	assert_int_equal(
	    maildir_name_parse("1.2.h,S=99999999999999999999999", &mn), -1);
	assert_int_equal(maildir_name_parse("1.2.h:1,S", &mn), -1);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(maildir_name_parse(longname, &mn), -1);
}

static void
test_folder_dir(void **state)
{
	const char *error;
	char *dir;

	(void)state;
	assert_int_equal(maildir_folder_dir("/m", NULL, &dir, &error), 0);
	assert_string_equal(dir, "/m");
	xfree(&dir);
	assert_int_equal(maildir_folder_dir("/m", "inbox", &dir, &error), 0);
	assert_string_equal(dir, "/m");
	xfree(&dir);
	assert_int_equal(maildir_folder_dir("/m", "Work.Sub", &dir, &error), 0);
	assert_string_equal(dir, "/m/.Work.Sub");
	xfree(&dir);
	assert_int_equal(maildir_folder_dir("/m", "Entwürfe", &dir, &error), 0);
	assert_string_equal(dir, "/m/.Entw&APw-rfe");
	xfree(&dir);
	static const char *const bad[] = {"..",	 ".x",	 "x.",	 "a..b",
					  "a/b", "../x", "a\tb", "\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(maildir_folder_dir("/m", bad[i], &dir, &error),
				 -1);
}

static char *
make_tmpdir(void)
{
	char tmpl[] = "/tmp/test_maildir.XXXXXX";
	char *p = mkdtemp(tmpl);

	assert_non_null(p);
	return xstrdup(p);
}

/* The one file in dir/sub, or NULL; fails if there are several. */
static char *
only_file(const char *dir, const char *sub)
{
	char *path = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	char *found = NULL;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_null(found);
		found = xstrdup(de->d_name);
	}
	closedir(d);
	xfree(&path);
	return found;
}

static void
test_create_and_save(void **state)
{
	char *root = make_tmpdir();
	char *mroot = xasprintf("%s/home/u/Maildir", root);
	char *folder, *name = NULL, *path, *data;
	const char *error;
	struct maildir_save_settings set = {.hostname = "mx:1", .fsync = true};
	struct maildir_save *ctx;
	struct maildir_name mn;
	struct stat st;
	size_t len;

	(void)state;
	assert_int_equal(maildir_exists(mroot, &error), 0);
	assert_int_equal(maildir_create(mroot, false, &error), 0);
	assert_int_equal(maildir_exists(mroot, &error), 1);
	assert_int_equal(stat(mroot, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	path = xasprintf("%s/new", mroot);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	xfree(&path);
	path = xasprintf("%s/maildirfolder", mroot);
	assert_int_equal(access(path, F_OK), -1);
	xfree(&path);

	assert_int_equal(maildir_folder_dir(mroot, "Entwürfe", &folder, &error),
			 0);
	assert_int_equal(maildir_create(folder, true, &error), 0);
	path = xasprintf("%s/maildirfolder", folder);
	assert_int_equal(access(path, F_OK), 0);
	xfree(&path);

	/* CRLF becomes LF, a bare CR (also split over writes) is kept */
	ctx = maildir_save_begin(folder, &set, &error);
	assert_non_null(ctx);
	assert_int_equal(
	    maildir_save_write(ctx, "Subject: x\r\n\r\nab\r", 17, &error), 0);
	assert_int_equal(maildir_save_write(ctx, "\ncd\re\r", 6, &error), 0);
	assert_int_equal(maildir_save_finish(&ctx, &name, &error), 0);
	assert_null(ctx);
	const char *expect = "Subject: x\n\nab\ncd\re\r";
	assert_int_equal(maildir_name_parse(name, &mn), 0);
	assert_int_equal(mn.size, strlen(expect));
	assert_int_equal(mn.vsize, strlen(expect) + 3);
	assert_non_null(strstr(name, "mx\\0721,S="));
	assert_null(mn.flags);

	char *listed = only_file(folder, "new");
	assert_string_equal(listed, name);
	xfree(&listed);
	assert_null(only_file(folder, "tmp"));
	path = xasprintf("%s/new/%s", folder, name);
	assert_int_equal(safe_file_read(path, 1024, &data, &len, &error), 0);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(data, expect, len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	xfree(&data);
	xfree(&path);
	xfree(&name);

	/* abort leaves nothing behind */
	ctx = maildir_save_begin(mroot, &set, &error);
	assert_non_null(ctx);
	assert_int_equal(maildir_save_write(ctx, "x", 1, &error), 0);
	maildir_save_abort(&ctx);
	assert_null(only_file(mroot, "tmp"));
	assert_null(only_file(mroot, "new"));

	/* a missing Maildir is an error, not a silent creation */
	path = xasprintf("%s/nonexistent", root);
	assert_null(maildir_save_begin(path, &set, &error));
	xfree(&path);

	xfree(&folder);
	xfree(&mroot);
	char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	xfree(&cmd);
	xfree(&root);
}

static void
test_save_names_unique(void **state)
{
	char *root = make_tmpdir();
	const char *error;
	char *names[50];
	struct maildir_save_settings set = {.hostname = "h", .fsync = false};

	(void)state;
	assert_int_equal(maildir_create(root, false, &error), 0);
	for (int i = 0; i < 50; i++) {
		struct maildir_save *ctx =
		    maildir_save_begin(root, &set, &error);
		assert_non_null(ctx);
		assert_int_equal(maildir_save_finish(&ctx, &names[i], &error),
				 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	for (int i = 0; i < 50; i++)
		xfree(&names[i]);
	char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	xfree(&cmd);
	xfree(&root);
}

static void
test_mail_location(void **state)
{
	struct mail_location loc;
	const char *error;

	(void)state;
	assert_int_equal(mail_location_parse("maildir:~/Maildir", "bob",
					     "/home/bob", &loc, &error),
			 0);
	assert_int_equal(loc.format, MAIL_LOCATION_MAILDIR);
	assert_string_equal(loc.root, "/home/bob/Maildir");
	assert_null(loc.inbox);
	mail_location_clear(&loc);
	assert_int_equal(mail_location_parse("maildir:/var/vmail/%d/%n/:"
					     "INDEX=/x",
					     "al@ex.org", NULL, &loc, &error),
			 0);
	assert_string_equal(loc.root, "/var/vmail/ex.org/al");
	mail_location_clear(&loc);
	assert_int_equal(mail_location_parse("mbox:~/mail:INBOX=/var/mail/%u",
					     "bob", "/home/bob", &loc, &error),
			 0);
	assert_int_equal(loc.format, MAIL_LOCATION_MBOX);
	assert_string_equal(loc.root, "/home/bob/mail");
	assert_string_equal(loc.inbox, "/var/mail/bob");
	mail_location_clear(&loc);

	assert_int_equal(
	    mail_location_parse("maildir:~/Maildir", "bob", NULL, &loc, &error),
	    -1);
	assert_int_equal(
	    mail_location_parse("maildir:/v/%u", "../etc", NULL, &loc, &error),
	    -1);
	assert_int_equal(
	    mail_location_parse("maildir:/v/%u", "a/b", NULL, &loc, &error),
	    -1);
	assert_int_equal(
	    mail_location_parse("sdbox:/v/%u", "a", NULL, &loc, &error), -1);
	assert_int_equal(mail_location_parse("maildir:/v:LAYOUT=fs", "a", NULL,
					     &loc, &error),
			 -1);
	assert_int_equal(
	    mail_location_parse("maildir:v/%u", "a", NULL, &loc, &error), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_generate),
	    cmocka_unit_test(test_name_unique_time),
	    cmocka_unit_test(test_name_parse),
	    cmocka_unit_test(test_folder_dir),
	    cmocka_unit_test(test_create_and_save),
	    cmocka_unit_test(test_save_names_unique),
	    cmocka_unit_test(test_mail_location),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
