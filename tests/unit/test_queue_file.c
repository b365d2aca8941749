/*
 * Unit tests for the queue file format and queue IDs: round trip, record
 * forgery with every byte value, truncation and corruption detection,
 * torn status appends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/queue_file.h"
#include "mail/queue_id.h"

static char qdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(qdir, sizeof(qdir), "/tmp/test_queue_file.XXXXXX");
	if (mkdtemp(qdir) == NULL)
		return -1;
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/incoming", qdir);
	return mkdir(sub, 0700);
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
	return system(cmd);
}

static unsigned int
count_files(const char *sub)
{
	char path[300];
	DIR *d;
	struct dirent *de;
	unsigned int n = 0;

	snprintf(path, sizeof(path), "%s/%s", qdir, sub);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
commit_msg(const char *sender, const char *rcpt, const void *content,
	   size_t len, char id[QUEUE_ID_MAX], char *path, size_t pathsize)
{
	struct queue_writer *w;
	const char *error;

	assert_int_equal(queue_file_create(qdir, &w, &error), 0);
	assert_int_equal(queue_file_set_sender(w, sender, &error), 0);
	assert_int_equal(queue_file_add_rcpt(w, rcpt, NULL, NULL, 0, &error),
			 0);
	assert_int_equal(queue_file_write_content(w, content, len, &error), 0);
	assert_int_equal(queue_file_commit(&w, id, &error), 0);
	assert_null(w);
	snprintf(path, pathsize, "%s/incoming/%s", qdir, id);
}

static void
test_round_trip(void **state)
{
	struct queue_writer *w;
	struct queue_msg *msg;
	const char *error;
	char id[QUEUE_ID_MAX], path[400];
	char big[200000];

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(queue_file_create(qdir, &w, &error), 0);
	assert_int_equal(
	    queue_file_set_attr(w, QUEUE_ATTR_CLIENT_ADDR, "192.0.2.1", &error),
	    0);
	assert_int_equal(queue_file_set_attr(w, QUEUE_ATTR_RET, "HDRS", &error),
			 0);
	assert_int_equal(queue_file_set_sender(w, "", &error), 0);
	assert_int_equal(
	    queue_file_add_rcpt(
		w, "a@example.org", "x@example.org", "rfc822;x@example.org",
		QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE, &error),
	    0);
	assert_int_equal(
	    queue_file_add_rcpt(w, "b@example.org", NULL, NULL, 0, &error), 0);
	assert_int_equal(
	    queue_file_write_content(w, "Subject: x\r\n\r\n", 14, &error), 0);
	/* Envelope changes after content are refused. */
	assert_int_equal(
	    queue_file_add_rcpt(w, "c@example.org", NULL, NULL, 0, &error), -1);
	assert_int_equal(queue_file_write_content(w, big, sizeof(big), &error),
			 0);
	assert_int_equal(queue_file_write_content(w, "\r\n", 2, &error), 0);
	assert_int_equal(queue_file_content_size(w), 14 + sizeof(big) + 2);
	assert_int_equal(queue_file_commit(&w, id, &error), 0);
	assert_true(queue_id_valid(id));
	assert_int_equal(count_files("incoming"), 1);

	snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
	assert_int_equal(queue_file_open(path, &msg, &error), 0);
	assert_string_equal(msg->id, id);
	assert_string_equal(msg->sender, "");
	assert_string_equal(msg->attrs[QUEUE_ATTR_CLIENT_ADDR], "192.0.2.1");
	assert_string_equal(msg->attrs[QUEUE_ATTR_RET], "HDRS");
	assert_null(msg->attrs[QUEUE_ATTR_HELO]);
	assert_int_equal(msg->rcpt_count, 2);
	assert_string_equal(msg->rcpts[0].address, "a@example.org");
	assert_string_equal(msg->rcpts[0].orig_rcpt, "x@example.org");
	assert_string_equal(msg->rcpts[0].orcpt, "rfc822;x@example.org");
	assert_int_equal(msg->rcpts[0].notify,
			 QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE);
	assert_string_equal(msg->rcpts[1].orig_rcpt, "");
	assert_int_equal(msg->rcpts[1].state, QUEUE_RCPT_PENDING);
	assert_int_equal(msg->content_size, 14 + sizeof(big) + 2);
	assert_false(msg->torn_tail);
	assert_int_equal(queue_msg_pending(msg), 2);

	/* The content is where the reader says. */
	int fd = open(path, O_RDWR | O_APPEND);
	char head[14];
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, head, 14, msg->content_offset), 14);
	assert_memory_equal(head, "Subject: x\r\n\r\n", 14);
	assert_int_equal(pread(fd, head, 3, msg->content_offset + 14 + 1000),
			 3);
	assert_memory_equal(head, big + 1000, 3);
	queue_msg_free(&msg);

	/* Status records: the last one per recipient wins. */
	struct queue_status st = {
	    .rcpt_index = 1,
	    .state = QUEUE_RCPT_DEFERRED,
	    .dsn = "4.4.1",
	    .relay = "none",
	    .text = "connect refused",
	    .when = 100,
	    .next_attempt = 400,
	};
	assert_int_equal(queue_file_append_status(fd, &st, &error), 0);
	st.rcpt_index = 0;
	st.state = QUEUE_RCPT_DELIVERED;
	st.dsn = "2.0.0";
	st.text = "250 2.0.0 <a@example.org> Saved";
	st.next_attempt = 0;
	assert_int_equal(queue_file_append_status(fd, &st, &error), 0);
	st.rcpt_index = 2;
	close(fd);
	assert_int_equal(queue_file_open(path, &msg, &error), 0);
	assert_int_equal(msg->rcpts[0].state, QUEUE_RCPT_DELIVERED);
	assert_string_equal(msg->rcpts[0].text,
			    "250 2.0.0 <a@example.org> Saved");
	assert_int_equal(msg->rcpts[1].state, QUEUE_RCPT_DEFERRED);
	assert_int_equal(msg->rcpts[1].next_attempt, 400);
	assert_int_equal(msg->rcpts[1].attempts, 1);
	assert_string_equal(msg->rcpts[1].dsn, "4.4.1");
	assert_int_equal(queue_msg_pending(msg), 1);
	queue_msg_free(&msg);
	unlink(path);
}

/* A sender and recipient containing every byte value except NUL (which
 * is refused) cannot add a recipient, a status or end the envelope. */
static void
test_every_byte_cannot_forge(void **state)
{
	char evil[600], id[QUEUE_ID_MAX], path[400];
	size_t n = 0;
	struct queue_msg *msg;
	struct queue_writer *w;
	const char *error;

	(void)state;
	for (int c = 1; c < 256; c++)
		evil[n++] = (char)c;
	n += (size_t)snprintf(
	    evil + n, sizeof(evil) - n,
	    "\nR20:10:x@evil.org,0:,0:,1:0,\nD30:1:0,9:delivered,"
	    "\nX0:\n");
	evil[n] = '\0';
	commit_msg(evil, evil, evil, n, id, path, sizeof(path));
	assert_int_equal(queue_file_open(path, &msg, &error), 0);
	assert_string_equal(msg->sender, evil);
	assert_int_equal(msg->rcpt_count, 1);
	assert_string_equal(msg->rcpts[0].address, evil);
	assert_int_equal(msg->rcpts[0].state, QUEUE_RCPT_PENDING);
	assert_int_equal(msg->content_size, (off_t)n);
	queue_msg_free(&msg);
	unlink(path);

	/* NUL in an address is refused by the writer. */
	assert_int_equal(queue_file_create(qdir, &w, &error), 0);
	assert_int_equal(queue_file_set_sender(w, "", &error), 0);
	char longaddr[QUEUE_FILE_MAX_FIELD + 2];
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	assert_int_equal(
	    queue_file_add_rcpt(w, longaddr, NULL, NULL, 0, &error), -1);
	queue_file_abort(&w);
	assert_null(w);
	assert_int_equal(count_files("incoming"), 0);
}

/* Every truncation of a committed file is detected as corrupt. */
static void
test_truncation_detected(void **state)
{
	char id[QUEUE_ID_MAX], path[400];
	struct queue_msg *msg;
	struct stat st;
	const char *error;

	(void)state;
	commit_msg("s@example.org", "r@example.org",
		   "Subject: t\r\n\r\nbody\r\n", 20, id, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	for (off_t len = 0; len < st.st_size; len++) {
		assert_int_equal(truncate(path, len), 0);
		assert_int_equal(queue_file_open(path, &msg, &error), -1);
		assert_non_null(strstr(error, "corrupt"));
	}
	unlink(path);
}

/* Flipping bytes in the envelope framing is detected. */
static void
test_corruption_detected(void **state)
{
	char id[QUEUE_ID_MAX], path[400];
	struct queue_msg *msg;
	const char *error;
	char buf[4096];
	ssize_t size;
	int fd;

	(void)state;
	commit_msg("s@example.org", "r@example.org", "x\r\n", 3, id, path,
		   sizeof(path));
	fd = open(path, O_RDONLY);
	size = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(size > 0);
	/* Framing bytes: record types, lengths, colons, newlines. */
	for (ssize_t i = 0; i < size; i++) {
		char saved = buf[i];
		const char *alts = "9Z:\n,";

		if (i >= size - 4) /* "X0:\n" handled by truncation */
			break;
		for (const char *a = alts; *a != '\0'; a++) {
			if (*a == saved)
				continue;
			buf[i] = *a;
			fd = open(path, O_WRONLY | O_TRUNC);
			assert_int_equal(write(fd, buf, (size_t)size), size);
			close(fd);
			int ret = queue_file_open(path, &msg, &error);
			if (ret == 0) {
				/* Only a change inside data may still parse,
				 * and then the envelope must differ or stay
				 * well-formed: never a second recipient. */
				assert_int_equal(msg->rcpt_count, 1);
				queue_msg_free(&msg);
			}
		}
		buf[i] = saved;
	}
	/* A garbage version record is corrupt. */
	buf[3] = 'X';
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, buf, (size_t)size), size);
	close(fd);
	assert_int_equal(queue_file_open(path, &msg, &error), -1);
	unlink(path);
}

/* A torn status append is reported, not corruption; after truncating to
 * valid_size a new append works. */
static void
test_torn_append(void **state)
{
	char id[QUEUE_ID_MAX], path[400];
	struct queue_msg *msg;
	const char *error;
	struct stat st0, st1;
	int fd;
	struct queue_status s = {
	    .rcpt_index = 0,
	    .state = QUEUE_RCPT_DELIVERED,
	    .dsn = "2.0.0",
	    .relay = "lmtp",
	    .text = "250 ok",
	    .when = 5,
	};

	(void)state;
	commit_msg("s@example.org", "r@example.org", "x\r\n", 3, id, path,
		   sizeof(path));
	assert_int_equal(stat(path, &st0), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(queue_file_append_status(fd, &s, &error), 0);
	close(fd);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(truncate(path, st1.st_size - 3), 0);
	assert_int_equal(queue_file_open(path, &msg, &error), 0);
	assert_true(msg->torn_tail);
	assert_int_equal(msg->valid_size, st0.st_size);
	assert_int_equal(msg->rcpts[0].state, QUEUE_RCPT_PENDING);
	off_t valid = msg->valid_size;
	queue_msg_free(&msg);
	fd = open(path, O_RDWR | O_APPEND);
	assert_int_equal(ftruncate(fd, valid), 0);
	assert_int_equal(queue_file_append_status(fd, &s, &error), 0);
	close(fd);
	assert_int_equal(queue_file_open(path, &msg, &error), 0);
	assert_false(msg->torn_tail);
	assert_int_equal(msg->rcpts[0].state, QUEUE_RCPT_DELIVERED);
	queue_msg_free(&msg);
	/* A status for a recipient that does not exist is corruption. */
	s.rcpt_index = 5;
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(queue_file_append_status(fd, &s, &error), 0);
	close(fd);
	assert_int_equal(queue_file_open(path, &msg, &error), -1);
	unlink(path);
}

static void
test_abort_removes_temp(void **state)
{
	struct queue_writer *w;
	const char *error;

	(void)state;
	assert_int_equal(queue_file_create(qdir, &w, &error), 0);
	assert_int_equal(count_files("incoming"), 1);
	queue_file_abort(&w);
	assert_int_equal(count_files("incoming"), 0);
	/* Content without an envelope is refused, and commit cleans up. */
	char id[QUEUE_ID_MAX];
	assert_int_equal(queue_file_create(qdir, &w, &error), 0);
	assert_int_equal(queue_file_write_content(w, "x", 1, &error), -1);
	assert_int_equal(queue_file_commit(&w, id, &error), -1);
	assert_null(w);
	assert_int_equal(count_files("incoming"), 0);
}

static void
test_queue_id(void **state)
{
	char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX];

	(void)state;
	queue_id_make(a, 1700000000, 123456, 42);
	queue_id_make(b, 1700000000, 123457, 42);
	assert_true(queue_id_valid(a));
	assert_string_not_equal(a, b);
	queue_id_make(b, 1700000000, 123456, 43);
	assert_string_not_equal(a, b);
	queue_id_make(b, 0x7fffffffffffffffLL, 999999, ~0ULL);
	assert_true(queue_id_valid(b));
	assert_false(queue_id_valid(""));
	assert_false(queue_id_valid(".t123.4.abc"));
	assert_false(queue_id_valid("abc"));
	assert_false(queue_id_valid("12345z6/.."));
	assert_false(queue_id_valid("1234567"));
	for (const char *p = a; *p != '\0'; p++)
		assert_true((*p >= '0' && *p <= '9') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= 'a' && *p <= 'z'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_queue_id),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_every_byte_cannot_forge),
	    cmocka_unit_test(test_truncation_detected),
	    cmocka_unit_test(test_corruption_detected),
	    cmocka_unit_test(test_torn_append),
	    cmocka_unit_test(test_abort_removes_temp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
