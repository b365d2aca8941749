/* Unit tests for mbox delivery: From_ quoting, line ends, locking. */
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

#include "mail/mbox_deliver.h"
#include "util/safe_file.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Feeds in in pieces of step bytes; returns the quoted output. */
static char *
quote(const char *in, size_t step)
{
	struct mbox_quote q;
	struct strbuf out;
	size_t len = strlen(in);

	memset(&q, 0, sizeof(q));
	strbuf_init(&out, 1 << 20);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		assert_int_equal(mbox_quote_chunk(&q, in + off, n, &out), 0);
	}
	assert_int_equal(mbox_quote_end(&q, &out), 0);
	return strbuf_steal(&out);
}

static void
test_quote(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"From me\r\n\r\nFrom here\r\n", ">From me\n\n>From here\n\n"},
	    {"a\r\nFrom  x\r\n>From y\r\nFrom\r\nFromage\r\n",
	     "a\n>From  x\n>From y\nFrom\nFromage\n\n"},
	    {"x From y\r\n", "x From y\n\n"},
	    {"no newline", "no newline\n\n"},
	    {"ends in From", "ends in From\n\n"},
	    {"a\r\nFro", "a\nFro\n\n"},
	    {"a\rb\r", "a\rb\r\n\n"},
	    {"", "\n"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* one piece, and byte by byte (state across chunks) */
		for (size_t step = 1; step <= 1000; step += 999) {
			char *out = quote(cases[i].in, step);
			assert_string_equal(out, cases[i].out);
			xfree(&out);
		}
	}
}

static void
test_deliver(void **state)
{
	char tmpl[] = "/tmp/test_mbox.XXXXXX";
	char *dir = mkdtemp(tmpl), *path, *lockpath, *data;
	struct mbox_deliver_settings set = {
	    .lock_timeout_secs = 2, .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct mbox_deliver *ctx;
	const char *error;
	size_t len;

	(void)state;
	assert_non_null(dir);
	path = xasprintf("%s/user", dir);
	lockpath = xasprintf("%s/user.lock", dir);
	/* 2026-11-22 16:25:52 UTC; TZ=UTC so the date is fixed */
	setenv("TZ", "UTC", 1);
	ctx =
	    mbox_deliver_begin(path, "s@example.org", 1795364752, &set, &error);
	assert_non_null(ctx);
	assert_int_equal(access(lockpath, F_OK), 0);
	assert_int_equal(
	    mbox_deliver_write(ctx, "Subject: a\r\n\r\nFrom x\r\n", 22, &error),
	    0);
	assert_int_equal(mbox_deliver_finish(&ctx, &error), 0);
	assert_int_equal(access(lockpath, F_OK), -1);

	ctx = mbox_deliver_begin(path, "", 1795364753, &set, &error);
	assert_non_null(ctx);
	assert_int_equal(
	    mbox_deliver_write(ctx, "Subject: b\r\n\r\nbody", 18, &error), 0);
	assert_int_equal(mbox_deliver_finish(&ctx, &error), 0);

	/* an aborted delivery leaves the mailbox as it was */
	ctx = mbox_deliver_begin(path, "x@y", 1795364754, &set, &error);
	assert_non_null(ctx);
	assert_int_equal(mbox_deliver_write(ctx, "partial", 7, &error), 0);
	mbox_deliver_abort(&ctx);

	assert_int_equal(safe_file_read(path, 4096, &data, &len, &error), 0);
	assert_string_equal(data,
			    "From s@example.org  Sun Nov 22 16:25:52 2026\n"
			    "Subject: a\n\n>From x\n\n"
			    "From MAILER-DAEMON  Sun Nov 22 16:25:53 2026\n"
			    "Subject: b\n\nbody\n\n");
	xfree(&data);

	/* a held dot-lock makes delivery wait and then give up */
	FILE *f = fopen(lockpath, "w");
	assert_non_null(f);
	fclose(f);
	set.lock_timeout_secs = 1;
	assert_null(mbox_deliver_begin(path, "a@b", 1795364755, &set, &error));
	assert_non_null(strstr(error, "dot-lock"));
	unlink(lockpath);

	/* a symlink is not followed */
	char *link = xasprintf("%s/evil", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_null(mbox_deliver_begin(link, "a@b", 1795364755, &set, &error));
	xfree(&link);

	xfree(&path);
	xfree(&lockpath);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	xfree(&cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quote),
	    cmocka_unit_test(test_deliver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
