/* Unit tests for login_handoff: format/parse round trip and malformed
 * lines, and passing a real fd over a unix socketpair (non-blocking
 * reader fed in pieces, the passed fd usable, no fd / two fds refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/login_handoff.h"
#include "util/sock.h"
#include "util/strbuf.h"

static const struct login_handoff sample = {
    .user = "alice@example.org",
    .service = "pop3",
    .rip = "192.0.2.1",
    .lip = "127.0.0.1",
    .rport = 54321,
    .lport = 995,
    .tls = true,
    .mech = "PLAIN",
};

static void
test_format_parse(void **state)
{
	struct login_handoff h = sample, back;
	struct strbuf sb;
	const char *error;

	(void)state;
	strbuf_init(&sb, LOGIN_HANDOFF_MAX);
	assert_int_equal(login_handoff_format(&h, &sb, &error), 0);
	assert_string_equal(strbuf_cstr(&sb),
			    "HANDOFF 1\tuser=alice@example.org\tservice=pop3\t"
			    "rip=192.0.2.1\tlip=127.0.0.1\trport=54321\t"
			    "lport=995\ttls=1\tmech=PLAIN\n");
	assert_int_equal(login_handoff_parse(sb.data, sb.len - 1, &back,
					     &error),
			 0);
	assert_string_equal(back.user, h.user);
	assert_string_equal(back.rip, h.rip);
	assert_int_equal(back.rport, 54321);
	assert_int_equal(back.lport, 995);
	assert_true(back.tls);
	assert_string_equal(back.mech, "PLAIN");
	strbuf_reset(&sb);

	snprintf(h.user, sizeof(h.user), "evil\tuser=root");
	assert_int_equal(login_handoff_format(&h, &sb, &error), -1);
	h = sample;
	h.user[0] = '\0';
	assert_int_equal(login_handoff_format(&h, &sb, &error), -1);
	strbuf_release(&sb);

	static const char *const bad[] = {
	    "", "HANDOFF 2\tuser=a", "HANDOFF 1", "HANDOFF 1\tuser",
	    "HANDOFF 1 user=a", "HANDOFF 1\tuser=a\trport=65536",
	    "HANDOFF 1\tuser=a\ttls=2", "HANDOFF 1\tuser=a\tlport=-1",
	    "HANDOFF 1\tuser=a\rb", "HANDOFF 1\tuser=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(login_handoff_parse(bad[i], strlen(bad[i]),
						     &back, &error),
				 -1);
	/* unknown keys are ignored; the last user= wins */
	static const char ok[] = "HANDOFF 1\tx-new=1\tuser=b";
	assert_int_equal(login_handoff_parse(ok, strlen(ok), &back, &error), 0);
	assert_string_equal(back.user, "b");
}

/* The IMAP tag and the client's pipelined input travel along. */
static void
test_tag_input(void **state)
{
	struct login_handoff h = sample, back;
	struct strbuf sb;
	const char *error;
	static const char pipelined[] = "b SELECT INBOX\r\n\0c NOOP\r\n";

	(void)state;
	snprintf(h.tag, sizeof(h.tag), "a1");
	memcpy(h.input, pipelined, sizeof(pipelined) - 1);
	h.input_len = sizeof(pipelined) - 1;
	strbuf_init(&sb, LOGIN_HANDOFF_MAX);
	assert_int_equal(login_handoff_format(&h, &sb, &error), 0);
	assert_non_null(strstr(sb.data, "\ttag=a1\tinput="));
	assert_int_equal(login_handoff_parse(sb.data, sb.len - 1, &back,
					     &error),
			 0);
	assert_string_equal(back.tag, "a1");
	assert_int_equal(back.input_len, sizeof(pipelined) - 1);
	assert_memory_equal(back.input, pipelined, sizeof(pipelined) - 1);
	strbuf_reset(&sb);

	/* a tag may not hold a space; input must be valid base64 */
	snprintf(h.tag, sizeof(h.tag), "a b");
	assert_int_equal(login_handoff_format(&h, &sb, &error), -1);
	static const char *const bad[] = {
	    "HANDOFF 1\tuser=a\ttag=a b", "HANDOFF 1\tuser=a\tinput=!!!!",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(login_handoff_parse(bad[i], strlen(bad[i]),
						     &back, &error),
				 -1);
	strbuf_release(&sb);
}

static void
test_pass_fd(void **state)
{
	struct login_handoff_reader r;
	struct login_handoff h;
	const char *error;
	int pair[2], client[2], fd = -1;
	char buf[8];
	uid_t uid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	assert_int_equal(sock_set_nonblock(pair[1], true), 0);
	login_handoff_reader_init(&r);
	/* nothing yet */
	assert_int_equal(login_handoff_read(pair[1], &r, &h, &fd, &error), 0);
	assert_int_equal(login_handoff_send(pair[0], client[1], &sample,
					    &error),
			 0);
	close(client[1]);
	assert_int_equal(login_handoff_read(pair[1], &r, &h, &fd, &error), 1);
	assert_string_equal(h.user, "alice@example.org");
	assert_true(fd >= 0);
	/* the passed fd is the client connection */
	assert_int_equal(write(fd, "hello", 5), 5);
	assert_int_equal(read(client[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	close(fd);
	assert_int_equal(login_handoff_peer_uid(pair[1], &uid), 0);
	assert_int_equal(uid, getuid());

	/* a line without an fd is refused */
	login_handoff_reader_init(&r);
	static const char nofd[] = "HANDOFF 1\tuser=x\n";
	assert_int_equal(write(pair[0], nofd, strlen(nofd)),
			 (ssize_t)strlen(nofd));
	assert_int_equal(login_handoff_read(pair[1], &r, &h, &fd, &error), -1);
	login_handoff_reader_clear(&r);

	/* a line in two pieces, the fd with the first: then EOF mid-line */
	login_handoff_reader_init(&r);
	assert_int_equal(login_handoff_send(pair[0], client[0], &sample,
					    &error),
			 0);
	assert_int_equal(login_handoff_read(pair[1], &r, &h, &fd, &error), 1);
	close(fd);
	login_handoff_reader_init(&r);
	static const char part[] = "HANDOFF 1\tuser=";
	struct iovec iov = {(void *)part, strlen(part)};
	union {
		struct cmsghdr hdr;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.b, .msg_controllen = sizeof(cm.b)};
	memset(&cm, 0, sizeof(cm));
	cm.hdr.cmsg_level = SOL_SOCKET;
	cm.hdr.cmsg_type = SCM_RIGHTS;
	cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.hdr), &client[0], sizeof(int));
	assert_int_equal(sendmsg(pair[0], &msg, 0), (ssize_t)strlen(part));
	assert_int_equal(login_handoff_read(pair[1], &r, &h, &fd, &error), 0);
	assert_true(r.fd >= 0);
	close(pair[0]);
	assert_int_equal(login_handoff_read(pair[1], &r, &h, &fd, &error), -1);
	login_handoff_reader_clear(&r);
	assert_int_equal(r.fd, -1);
	close(pair[1]);
	close(client[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_parse),
	    cmocka_unit_test(test_tag_input),
	    cmocka_unit_test(test_pass_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
