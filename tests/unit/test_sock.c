/* Unit tests for listening/connecting sockets and address parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/sock.h"

static void
check_flags(int fd, bool nonblock)
{
	assert_int_equal((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0, nonblock);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
}

static int
accept_one(int lfd)
{
	int i, fd;

	/* The listener is non-blocking; the connect already completed. */
	for (i = 0; i < 100; i++) {
		fd = accept(lfd, NULL, NULL);
		if (fd >= 0)
			return fd;
		usleep(10000);
	}
	return -1;
}

static void
test_listen_inet_ephemeral_port_and_connect(void **state)
{
	const char *error = NULL;
	char port[16], name[64];
	int lfd, cfd, afd, p;

	(void)state;
	lfd = sock_listen_inet("127.0.0.1", "0", 16, &error);
	if (lfd < 0)
		fail_msg("%s", error);
	check_flags(lfd, true);
	p = sock_local_port(lfd);
	assert_true(p > 0);
	snprintf(port, sizeof(port), "%d", p);
	cfd = sock_connect_inet("127.0.0.1", port, 2000, &error);
	if (cfd < 0)
		fail_msg("%s", error);
	check_flags(cfd, false);
	afd = accept_one(lfd);
	assert_true(afd >= 0);
	assert_int_equal(sock_peer_name(afd, name, sizeof(name)), 0);
	assert_string_equal(name, "127.0.0.1");
	assert_int_equal(write(cfd, "hi", 2), 2);
	assert_int_equal(read(afd, name, 2), 2);
	assert_memory_equal(name, "hi", 2);
	close(afd);
	close(cfd);
	close(lfd);
	/* Nothing listens there any more. */
	assert_int_equal(sock_connect_inet("127.0.0.1", port, 2000, &error),
			 -1);
	assert_non_null(error);
}

static void
test_listen_all_interfaces_accepts_ipv4(void **state)
{
	const char *error = NULL;
	char port[16], name[64];
	int lfd, cfd, afd;

	(void)state;
	lfd = sock_listen_inet(NULL, "0", 16, &error);
	if (lfd < 0)
		fail_msg("%s", error);
	snprintf(port, sizeof(port), "%d", sock_local_port(lfd));
	cfd = sock_connect_inet("127.0.0.1", port, 2000, &error);
	if (cfd < 0)
		fail_msg("%s", error);
	afd = accept_one(lfd);
	assert_true(afd >= 0);
	/* A v4-mapped peer on a dual-stack socket still reads as IPv4. */
	assert_int_equal(sock_peer_name(afd, name, sizeof(name)), 0);
	assert_string_equal(name, "127.0.0.1");
	close(afd);
	close(cfd);
	close(lfd);
}

static void
test_listen_unix_replaces_stale_socket_and_sets_mode(void **state)
{
	char dir[64], path[128];
	const char *error = NULL;
	struct stat st;
	int lfd, cfd, afd, i;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_sock.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lmtp", dir);
	/* Twice: the second listen finds the stale socket of the first. */
	for (i = 0; i < 2; i++) {
		lfd = sock_listen_unix(path, 0660, 16, &error);
		if (lfd < 0)
			fail_msg("%s", error);
		check_flags(lfd, true);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0660);
		cfd = sock_connect_unix(path, &error);
		if (cfd < 0)
			fail_msg("%s", error);
		afd = accept_one(lfd);
		assert_true(afd >= 0);
		assert_int_equal(write(cfd, "x", 1), 1);
		assert_int_equal(read(afd, &st, 1), 1);
		close(afd);
		close(cfd);
		close(lfd);
	}
	unlink(path);
	assert_int_equal(sock_connect_unix(path, &error), -1);
	/* A regular file is never removed. */
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(sock_listen_unix(path, 0660, 16, &error), -1);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(path);
	rmdir(dir);
}

static void
test_nonblock_and_cloexec_toggle(void **state)
{
	int fds[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	assert_int_equal(sock_set_nonblock(fds[0], true), 0);
	assert_true((fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
	assert_int_equal(sock_set_nonblock(fds[0], false), 0);
	assert_false((fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
	assert_int_equal(sock_set_cloexec(fds[0], true), 0);
	assert_true((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
	assert_int_equal(sock_set_cloexec(fds[0], false), 0);
	assert_false((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
	close(fds[0]);
	close(fds[1]);
}

struct addr_case {
	const char *spec;
	int ret;
	bool is_unix;
	const char *host;
	const char *port_or_path;
};

static const struct addr_case addr_cases[] = {
    {"127.0.0.1:25", 0, false, "127.0.0.1", "25"},
    {"mail.example.com:smtp", 0, false, "mail.example.com", "smtp"},
    {"[::1]:587", 0, false, "::1", "587"},
    {"[fe80::1%eth0]:25", 0, false, "fe80::1%eth0", "25"},
    {"465", 0, false, "", "465"},
    {"submission", 0, false, "", "submission"},
    {"*:993", 0, false, "", "993"},
    {"unix:/run/dovetail/lmtp", 0, true, "", "/run/dovetail/lmtp"},
    {"0", 0, false, "", "0"},
    {"65535", 0, false, "", "65535"},
    {"65536", -1, false, NULL, NULL},
    {"::1:25", -1, false, NULL, NULL},
    {"[::1]25", -1, false, NULL, NULL},
    {"[::1", -1, false, NULL, NULL},
    {"host:", -1, false, NULL, NULL},
    {"", -1, false, NULL, NULL},
    {":25", -1, false, NULL, NULL},
    {"ho st:25", -1, false, NULL, NULL},
    {"host:2 5", -1, false, NULL, NULL},
    {"unix:relative", -1, false, NULL, NULL},
    {"unix:/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     -1, false, NULL, NULL},
};

static void
test_address_parsing_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct sock_address a;
		const char *error = NULL;
		int ret = sock_parse_address(c->spec, &a, &error);

		if (ret != c->ret)
			fail_msg("'%s': got %d, want %d (%s)", c->spec, ret,
				 c->ret, error != NULL ? error : "");
		if (ret < 0) {
			assert_non_null(error);
			continue;
		}
		assert_int_equal(a.is_unix, c->is_unix);
		if (c->is_unix) {
			assert_string_equal(a.path, c->port_or_path);
		} else {
			assert_string_equal(a.host, c->host);
			assert_string_equal(a.port, c->port_or_path);
		}
	}
}

static void
test_listen_on_parsed_address(void **state)
{
	struct sock_address a;
	const char *error = NULL;
	int fd;

	(void)state;
	assert_int_equal(sock_parse_address("127.0.0.1:0", &a, &error), 0);
	fd = sock_listen_address(&a, 8, &error);
	if (fd < 0)
		fail_msg("%s", error);
	assert_true(sock_local_port(fd) > 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listen_inet_ephemeral_port_and_connect),
	    cmocka_unit_test(test_listen_all_interfaces_accepts_ipv4),
	    cmocka_unit_test(
		test_listen_unix_replaces_stale_socket_and_sets_mode),
	    cmocka_unit_test(test_nonblock_and_cloexec_toggle),
	    cmocka_unit_test(test_address_parsing_table),
	    cmocka_unit_test(test_listen_on_parsed_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
