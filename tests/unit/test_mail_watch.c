/* Unit tests for the process's shared Maildir watcher (login/mail_watch):
 * the pure "did this folder change" rule (mtimes, inodes, the same-second
 * dirty rule), and the watcher itself on a temporary Maildir: a delivery
 * wakes every session waiting on that folder and no other, the shared
 * watch survives one of its sessions leaving, and the stat() fallback
 * (as past fs.inotify.max_user_watches) wakes on a change and stays quiet
 * without one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "login/mail_watch.h"
#include "util/xmem.h"

static void
test_stamp_unchanged(void **state)
{
	struct mail_watch_stamp a = {.mtime = {{1000, 5}, {900, 7}},
				     .ino = {11, 12}};
	struct mail_watch_stamp b = a;
	struct timespec taken = {1002, 0};

	(void)state;
	assert_false(mail_watch_stamp_changed(&a, &taken, &b));
}

static void
test_stamp_mtime_ns(void **state)
{
	struct mail_watch_stamp a = {.mtime = {{1000, 5}, {900, 7}},
				     .ino = {11, 12}};
	struct mail_watch_stamp b = a;
	struct timespec taken = {2000, 0};

	(void)state;
	b.mtime[1].tv_nsec = 8; /* cur/ moved by a nanosecond */
	assert_true(mail_watch_stamp_changed(&a, &taken, &b));
	b = a;
	b.mtime[0].tv_sec = 1001;
	assert_true(mail_watch_stamp_changed(&a, &taken, &b));
}

static void
test_stamp_inode(void **state)
{
	struct mail_watch_stamp a = {.mtime = {{1000, 5}, {900, 7}},
				     .ino = {11, 12}};
	struct mail_watch_stamp b = a;
	struct timespec taken = {2000, 0};

	(void)state;
	b.ino[0] = 99; /* new/ replaced by another directory */
	assert_true(mail_watch_stamp_changed(&a, &taken, &b));
}

static void
test_stamp_dirty(void **state)
{
	/* taken within a second of new/'s mtime: a later change in the same
	   tick would not show, so it counts as changed once more */
	struct mail_watch_stamp a = {.mtime = {{1000, 5}, {900, 7}},
				     .ino = {11, 12}};
	struct mail_watch_stamp b = a;
	struct timespec taken = {1001, 999999999};

	(void)state;
	assert_true(mail_watch_stamp_changed(&a, &taken, &b));
	taken.tv_sec = 1002;
	assert_false(mail_watch_stamp_changed(&a, &taken, &b));
	/* a missing directory (mtime 0) is never dirty */
	memset(&a, 0, sizeof(a));
	b = a;
	taken.tv_sec = 1;
	assert_false(mail_watch_stamp_changed(&a, &taken, &b));
}

static char *
make_maildir(const char *top, const char *name)
{
	char *dir = xasprintf("%s/%s", top, name);
	static const char *const subs[] = {"cur", "new", "tmp"};

	assert_int_equal(mkdir(dir, 0700), 0);
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);

		assert_int_equal(mkdir(p, 0700), 0);
		xfree(&p);
	}
	return dir;
}

static void
deliver(const char *dir, int n)
{
	char *tmp = xasprintf("%s/tmp/msg%d", dir, n);
	char *dst = xasprintf("%s/new/msg%d", dir, n);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "Subject: x\n\nx\n", 14), 14);
	close(fd);
	assert_int_equal(rename(tmp, dst), 0);
	xfree(&tmp);
	xfree(&dst);
}

/* Whether w's fd turns readable within ms; clears it. */
static bool
woken(struct mail_watch *w, int ms)
{
	struct pollfd pfd = {.fd = mail_watch_fd(w), .events = POLLIN};

	if (poll(&pfd, 1, ms) <= 0)
		return false;
	mail_watch_clear(w);
	return true;
}

static void
rm_tree(const char *top)
{
	char *cmd = xasprintf("rm -rf '%s'", top);

	assert_int_equal(system(cmd), 0);
	xfree(&cmd);
}

static void
test_watch_inotify(void **state)
{
	char top[] = "/tmp/mail_watch_test.XXXXXX";
	char *a, *b;
	struct mail_watch *w1, *w2, *w3;

	(void)state;
	assert_non_null(mkdtemp(top));
	a = make_maildir(top, "a");
	b = make_maildir(top, "b");
	w1 = mail_watch_add(a);
	w2 = mail_watch_add(a);
	w3 = mail_watch_add(b);
	assert_non_null(w1);
	assert_non_null(w2);
	assert_non_null(w3);
	assert_false(mail_watch_polled(w1));
	assert_int_not_equal(mail_watch_fd(w1), mail_watch_fd(w2));

	deliver(a, 1);
	assert_true(woken(w1, 2000));
	assert_true(woken(w2, 2000));
	assert_false(woken(w3, 200));
	assert_false(woken(w1, 0)); /* cleared */

	/* one of the two sessions leaves: the other still hears */
	mail_watch_remove(&w1);
	assert_null(w1);
	deliver(a, 2);
	assert_true(woken(w2, 2000));
	/* and the last one leaving drops the watch; a new session gets a
	   fresh one */
	mail_watch_remove(&w2);
	w1 = mail_watch_add(a);
	deliver(a, 3);
	assert_true(woken(w1, 2000));
	assert_false(woken(w3, 100));
	mail_watch_remove(&w1);
	mail_watch_remove(&w3);
	mail_watch_remove(&w3); /* NULL is fine */
	xfree(&a);
	xfree(&b);
	rm_tree(top);
}

static void
test_watch_polled(void **state)
{
	char top[] = "/tmp/mail_watch_test.XXXXXX";
	char *c;
	struct mail_watch *w1, *w2;

	(void)state;
	assert_non_null(mkdtemp(top));
	c = make_maildir(top, "c");
	/* as if fs.inotify.max_user_watches were used up */
	mail_watch_configure(false, 200);
	/* an mtime from long ago: not dirty */
	{
		char *p = xasprintf("%s/new", c);
		struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};

		assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
		xfree(&p);
		p = xasprintf("%s/cur", c);
		assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
		xfree(&p);
	}
	w1 = mail_watch_add(c);
	w2 = mail_watch_add(c);
	assert_non_null(w1);
	assert_true(mail_watch_polled(w1));
	/* nothing changed: several intervals pass without a wake-up */
	assert_false(woken(w1, 700));
	deliver(c, 1);
	assert_true(woken(w1, 2000));
	assert_true(woken(w2, 2000));
	mail_watch_remove(&w1);
	mail_watch_remove(&w2);
	mail_watch_configure(true, 0);
	xfree(&c);
	rm_tree(top);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stamp_unchanged),
	    cmocka_unit_test(test_stamp_mtime_ns),
	    cmocka_unit_test(test_stamp_inode),
	    cmocka_unit_test(test_stamp_dirty),
	    cmocka_unit_test(test_watch_inotify),
	    cmocka_unit_test(test_watch_polled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
