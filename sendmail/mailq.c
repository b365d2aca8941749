/*
 * mailq - "mailq" / "sendmail -bp": lists the queue in Postfix's format
 * (ID with "*" when active and "!" when on hold, size, arrival time,
 * sender, then each recipient still to be delivered, preceded by the
 * reason of its last deferral). Reads the queue directories directly, so
 * it needs root or mail_owner; queue files are parsed by queue_file with
 * its limits, and unreadable ones are skipped. Envelope strings and reply
 * texts are hostile: control characters are printed as '?' so nothing in
 * a queue file can drive the terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "sendmail.h"
#include "util/xmem.h"

struct mailq_totals {
	unsigned long long bytes;
	unsigned int requests;
};

/* s with control characters (and DEL) replaced by '?', at most max
 * bytes; returns buf. */
static const char *
mailq_safe(char *buf, size_t size, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < max && i + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

static void
mailq_print(const struct queue_msg *msg, char mark, struct mailq_totals *t)
{
	char when[64], safe[QUEUE_FILE_MAX_FIELD + 1];
	time_t arrival = msg->arrival_sec;
	struct tm tm;

	if (t->requests == 0)
		printf("-Queue ID-      --Size-- ----Arrival Time---- "
		       "-Sender/Recipient-------\n");
	localtime_r(&arrival, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
	printf("%-15s%c%8lld %s  %s\n", msg->id, mark,
	       (long long)msg->content_size, when,
	       msg->sender[0] == '\0' ?
		       "MAILER-DAEMON" :
		       mailq_safe(safe, sizeof(safe), msg->sender, SIZE_MAX));
	for (unsigned int i = 0; i < msg->rcpt_count; i++) {
		const struct queue_rcpt *r = &msg->rcpts[i];

		if (r->state == QUEUE_RCPT_DELIVERED ||
		    r->state == QUEUE_RCPT_BOUNCED)
			continue;
		if (r->state == QUEUE_RCPT_DEFERRED && r->text[0] != '\0')
			printf("%*s(%s)\n", 42, "",
			       mailq_safe(safe, sizeof(safe), r->text, 70));
		printf("%*s%s\n", 42, "",
		       mailq_safe(safe, sizeof(safe), r->address, SIZE_MAX));
	}
	printf("\n");
	t->bytes += (unsigned long long)msg->content_size;
	t->requests++;
}

static int
mailq_dir(const char *sub, char mark, struct mailq_totals *t)
{
	char *dir = xasprintf("%s/%s", var_queue_directory, sub);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		int saved = errno;

		fprintf(stderr, "mailq: %s: %s%s\n", dir, strerror(saved),
			saved == EACCES ? " (run mailq as root or mail_owner)"
					: "");
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct queue_msg *msg;
		const char *error;
		char *path;

		if (!queue_id_valid(de->d_name))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (queue_file_open(path, &msg, &error) == 0) {
			mailq_print(msg, mark, t);
			queue_msg_free(&msg);
		}
		free(path);
	}
	closedir(d);
	free(dir);
	return 0;
}

int
mailq_list(void)
{
	static const struct {
		const char *sub;
		char mark;
	} dirs[] = {
	    {QUEUE_DIR_INCOMING, ' '},
	    {QUEUE_DIR_ACTIVE, '*'},
	    {QUEUE_DIR_DEFERRED, ' '},
	    {QUEUE_DIR_HOLD, '!'},
	};
	struct mailq_totals t = {0};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (mailq_dir(dirs[i].sub, dirs[i].mark, &t) < 0)
			return -1;
	}
	if (t.requests == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %llu Kbytes in %u Request%s.\n",
		       (t.bytes + 1023) / 1024, t.requests,
		       t.requests == 1 ? "" : "s");
	return 0;
}
