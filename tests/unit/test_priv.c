/* Unit tests for the privilege drop; only meaningful (and only run) as
 * root. Each check runs in a child so the test process keeps root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <grp.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/priv.h"

/* Reads "Uid:" or "Gid:" of /proc/self/status: real, effective, saved,
 * filesystem. */
static int
proc_ids(const char *key, unsigned long ids[4])
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t klen = strlen(key);
	int ret = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 &&
		    sscanf(line + klen, "%lu %lu %lu %lu", &ids[0], &ids[1],
			   &ids[2], &ids[3]) == 4) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static int
child_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
test_drop_to_nobody_changes_all_ids_and_root_is_gone(void **state)
{
	const char *error = NULL;
	uid_t uid;
	gid_t gid;
	pid_t pid;

	(void)state;
	if (getuid() != 0)
		skip();
	if (priv_lookup_user("nobody", &uid, &gid, &error) < 0)
		fail_msg("%s", error);
	assert_int_not_equal(uid, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned long u[4], g[4];
		gid_t groups[64];
		int i, n;

		if (priv_drop(uid, gid, "nobody", &error) < 0)
			_exit(10);
		if (proc_ids("Uid:", u) < 0 || proc_ids("Gid:", g) < 0)
			_exit(11);
		for (i = 0; i < 4; i++) {
			if (u[i] != uid || g[i] != gid)
				_exit(12);
		}
		if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
			_exit(13);
		n = getgroups(64, groups);
		for (i = 0; i < n; i++) {
			if (groups[i] == 0)
				_exit(14);
		}
		_exit(0);
	}
	assert_int_equal(child_status(pid), 0);
}

static void
test_drop_without_username_keeps_only_the_gid(void **state)
{
	pid_t pid;

	(void)state;
	if (getuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *error = NULL;
		gid_t groups[64];
		int n;

		if (setgroups(1, (gid_t[]){0}) < 0)
			_exit(9);
		if (priv_drop(65534, 65533, NULL, &error) < 0)
			_exit(10);
		n = getgroups(64, groups);
		if (n != 1 || groups[0] != 65533)
			_exit(11);
		if (getuid() != 65534 || getegid() != 65533)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(child_status(pid), 0);
}

static void
test_lookup_user_and_group_spec(void **state)
{
	const char *error = NULL;
	uid_t uid;
	gid_t gid;

	(void)state;
	assert_int_equal(priv_lookup_user("root", &uid, &gid, &error), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(gid, 0);
	assert_int_equal(priv_lookup_user("root:nogroup", &uid, &gid, &error),
			 0);
	assert_int_equal(uid, 0);
	assert_int_not_equal(gid, 0);
	assert_int_equal(
	    priv_lookup_user("no-such-user-xyz", &uid, &gid, &error), -1);
	assert_non_null(strstr(error, "no such user"));
	assert_int_equal(
	    priv_lookup_user("root:no-such-group-xyz", &uid, &gid, &error), -1);
	assert_int_equal(priv_lookup_user(":root", &uid, &gid, &error), -1);
	assert_int_equal(priv_lookup_user("root:", &uid, &gid, &error), -1);
}

static void
test_chroot_changes_root(void **state)
{
	pid_t pid;

	(void)state;
	if (getuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *error = NULL;
		char cwd[64];

		if (priv_chroot("/proc/self/..", &error) < 0)
			_exit(10);
		/* /proc's parent is /, so this only shows the sequence ran
		 * and left the cwd at the new root. */
		if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") != 0)
			_exit(11);
		_exit(0);
	}
	assert_int_equal(child_status(pid), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_drop_to_nobody_changes_all_ids_and_root_is_gone),
	    cmocka_unit_test(test_drop_without_username_keeps_only_the_gid),
	    cmocka_unit_test(test_lookup_user_and_group_spec),
	    cmocka_unit_test(test_chroot_changes_root),
	};

	if (getuid() != 0) {
		/* cmocka skip() alone does not give ctest's exit code 77. */
		fprintf(stderr, "test_priv: needs root, skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
