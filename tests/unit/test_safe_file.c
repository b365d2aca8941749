/* Unit tests for durable file writes, bounded reads and mkdir -p. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/safe_file.h"

static char tmpdir[64];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_safe_file.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_write_then_read_round_trip(void **state)
{
	static const char data[] = "queue file\0with NUL\nand more";
	const char *error = NULL;
	char path[128], *back = NULL;
	size_t len = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/roundtrip", tmpdir);
	if (safe_file_write(path, data, sizeof(data), 0640, &error) < 0)
		fail_msg("%s", error);
	if (safe_file_read(path, 1024, &back, &len, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(back[len], '\0');
	free(back);
}

static void
test_written_file_has_requested_mode_despite_umask(void **state)
{
	const char *error = NULL;
	struct stat st;
	char path[128];
	mode_t old = umask(077);

	(void)state;
	snprintf(path, sizeof(path), "%s/mode", tmpdir);
	assert_int_equal(safe_file_write(path, "x", 1, 0644, &error), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(safe_file_write(path, "y", 1, 0600, &error), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

#define BIG (256 * 1024)

static void
test_overwrite_is_atomic_readers_see_old_or_new(void **state)
{
	char path[160], sub[128];
	char *a = malloc(BIG), *b = malloc(BIG);
	const char *error = NULL;
	pid_t pid;
	int status, i, seen_a = 0, seen_b = 0;

	(void)state;
	memset(a, 'A', BIG);
	memset(b, 'B', BIG);
	snprintf(sub, sizeof(sub), "%s/atomic", tmpdir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/file", sub);
	assert_int_equal(safe_file_write(path, a, BIG, 0600, &error), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 200; i++) {
			if (safe_file_write(path, i % 2 ? a : b, BIG, 0600,
					    &error) < 0)
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < 400; i++) {
		char *data = NULL;
		size_t len = 0;

		if (safe_file_read(path, BIG, &data, &len, &error) < 0)
			fail_msg("%s", error);
		assert_int_equal(len, BIG);
		/* Whole old or whole new content, never a mix or a stub. */
		if (memcmp(data, a, BIG) == 0)
			seen_a++;
		else if (memcmp(data, b, BIG) == 0)
			seen_b++;
		else
			fail_msg("torn read");
		free(data);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(seen_a + seen_b, 400);
	/* No temp files left behind. */
	assert_int_equal(count_entries(sub), 1);
	free(a);
	free(b);
}

static void
test_bounded_read_rejects_oversize_file(void **state)
{
	const char *error = NULL;
	char path[128], *data = NULL;
	size_t len = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/big", tmpdir);
	assert_int_equal(safe_file_write(path, "0123456789", 10, 0600, &error),
			 0);
	assert_int_equal(safe_file_read(path, 9, &data, &len, &error), -1);
	assert_null(data);
	assert_non_null(strstr(error, "too large"));
	assert_int_equal(safe_file_read(path, 10, &data, &len, &error), 0);
	assert_int_equal(len, 10);
	free(data);
	/* Not a regular file. */
	assert_int_equal(safe_file_read(tmpdir, 100, &data, &len, &error), -1);
}

static void
test_write_into_missing_dir_fails_cleanly(void **state)
{
	const char *error = NULL;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/nodir/file", tmpdir);
	assert_int_equal(safe_file_write(path, "x", 1, 0600, &error), -1);
	assert_non_null(error);
}

static void
test_mkdir_p_creates_components_and_sets_mode_owner(void **state)
{
	const char *error = NULL;
	char path[128], mid[128];
	struct stat st;

	(void)state;
	snprintf(mid, sizeof(mid), "%s/a/b", tmpdir);
	snprintf(path, sizeof(path), "%s/a/b/c/", tmpdir);
	if (safe_mkdir_p(path, 0710, getuid(), getgid(), &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(stat(mid, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0710);
	/* Existing: mode is corrected, not an error. */
	assert_int_equal(safe_mkdir_p(path, 0750, (uid_t)-1, (gid_t)-1, &error),
			 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	if (getuid() == 0) {
		assert_int_equal(safe_mkdir_p(path, 0750, 65534, 65534, &error),
				 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_uid, 65534);
		assert_int_equal(st.st_gid, 65534);
	}
	/* A file in the way is an error. */
	snprintf(path, sizeof(path), "%s/afile", tmpdir);
	assert_int_equal(safe_file_write(path, "x", 1, 0600, &error), 0);
	snprintf(path, sizeof(path), "%s/afile/sub", tmpdir);
	assert_int_equal(safe_mkdir_p(path, 0700, (uid_t)-1, (gid_t)-1, &error),
			 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_then_read_round_trip),
	    cmocka_unit_test(
		test_written_file_has_requested_mode_despite_umask),
	    cmocka_unit_test(test_overwrite_is_atomic_readers_see_old_or_new),
	    cmocka_unit_test(test_bounded_read_rejects_oversize_file),
	    cmocka_unit_test(test_write_into_missing_dir_fails_cleanly),
	    cmocka_unit_test(
		test_mkdir_p_creates_components_and_sets_mode_owner),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
