/*
 * queue_inject_tool - test helper: writes one queue file with the real
 * queue_file writer, optionally appends status records, and moves it to
 * another queue; prints the queue ID.
 *
 *   queue_inject_tool QUEUE_DIR [-q queue] [-s sender] [-b content_bytes]
 *       [-d deferral_reason] [-D index_delivered] [-B index_bounced]
 *       [-n notify] [-e envid] [-r FULL|HDRS] RCPT...
 *
 * -d appends a "deferred" D record (dsn 4.4.1) for every recipient not
 * marked delivered with -D or bounced (5.1.1) with -B. Test code only: trusts
 * its arguments.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue_file.h"
#include "util/xmem.h"

static void
die(const char *what, const char *error)
{
	fprintf(stderr, "queue_inject_tool: %s: %s\n", what, error);
	exit(1);
}

int
main(int argc, char **argv)
{
	const char *queue = QUEUE_DIR_INCOMING, *sender = "sender@example.com";
	const char *reason = NULL, *error, *qdir;
	long delivered = -1, bounced = -1;
	const char *envid = NULL, *ret = NULL;
	unsigned long bytes = 0, notify = 0;
	struct queue_writer *w;
	char id[QUEUE_ID_MAX], *content;
	size_t clen;
	int c;

	if (argc < 2)
		return 2;
	qdir = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "q:s:b:d:D:B:n:e:r:")) != -1) {
		switch (c) {
		case 'q':
			queue = optarg;
			break;
		case 's':
			sender = optarg;
			break;
		case 'b':
			bytes = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			reason = optarg;
			break;
		case 'B':
			bounced = strtol(optarg, NULL, 10);
			break;
		case 'e':
			envid = optarg;
			break;
		case 'r':
			ret = optarg;
			break;
		case 'D':
			delivered = strtol(optarg, NULL, 10);
			break;
		case 'n':
			notify = strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc)
		return 2;
	if (queue_file_create(qdir, &w, &error) < 0)
		die("create", error);
	if (queue_file_set_sender(w, sender, &error) < 0)
		die("sender", error);
	for (int i = optind; i < argc; i++) {
		if (queue_file_add_rcpt(w, argv[i], argv[i], NULL,
					(unsigned int)notify, &error) < 0)
			die("rcpt", error);
	}
	if ((envid != NULL &&
	     queue_file_set_attr(w, QUEUE_ATTR_ENVID, envid, &error) < 0) ||
	    (ret != NULL &&
	     queue_file_set_attr(w, QUEUE_ATTR_RET, ret, &error) < 0))
		die("attr", error);
	if (queue_file_set_attr(w, QUEUE_ATTR_CLIENT_NAME, "localhost",
				&error) < 0)
		die("attr", error);
	content = xasprintf("From: %s\r\nSubject: queue test\r\n\r\nBody\r\n",
			    sender);
	clen = strlen(content);
	if (queue_file_write_content(w, content, clen, &error) < 0)
		die("content", error);
	for (unsigned long n = clen; n < bytes;) {
		char line[80];
		size_t take = bytes - n < 78 ? bytes - n : 78;

		memset(line, 'x', sizeof(line));
		if (take >= 2) {
			line[take - 2] = '\r';
			line[take - 1] = '\n';
		}
		if (queue_file_write_content(w, line, take, &error) < 0)
			die("content", error);
		n += take;
	}
	free(content);
	if (queue_file_commit(&w, id, &error) < 0)
		die("commit", error);

	char *path = xasprintf("%s/%s/%s", qdir, QUEUE_DIR_INCOMING, id);
	if (reason != NULL || delivered >= 0 || bounced >= 0) {
		int fd = open(path, O_WRONLY | O_APPEND);

		if (fd < 0)
			die("open", path);
		for (int i = 0; i < argc - optind; i++) {
			struct queue_status st = {
			    .rcpt_index = (unsigned int)i,
			    .when = time(NULL),
			};
			if (i == bounced) {
				st.state = QUEUE_RCPT_BOUNCED;
				st.dsn = "5.1.1";
				st.relay = "mx.example.org[192.0.2.1]:25";
				st.text = "550 5.1.1 user unknown";
			} else if (i == delivered) {
				st.state = QUEUE_RCPT_DELIVERED;
				st.dsn = "2.0.0";
				st.text = "250 ok";
			} else if (reason != NULL) {
				st.state = QUEUE_RCPT_DEFERRED;
				st.dsn = "4.4.1";
				st.text = reason;
				st.next_attempt = time(NULL) + 3600;
			} else {
				continue;
			}
			if (queue_file_append_status(fd, &st, &error) < 0)
				die("status", error);
		}
		close(fd);
	}
	if (strcmp(queue, QUEUE_DIR_INCOMING) != 0) {
		char *to = xasprintf("%s/%s/%s", qdir, queue, id);

		if (rename(path, to) < 0)
			die("rename", to);
		free(to);
	}
	free(path);
	printf("%s\n", id);
	return 0;
}
