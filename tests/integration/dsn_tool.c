/*
 * dsn_tool - test helper: drives lib/mail/dsn_bounce from the command
 * line so that Python tests can parse its output with the email package.
 *
 *   dsn_tool [-k failure|delay|success|double] [-r full|hdrs] [-u] [-7]
 *            [-l bounce_size_limit] [-s sender] [-e envid] [-t notify_to]
 *            [-c content_file] [-n now] RCPT...
 *   RCPT = "address|notify|action|status|remote_mta|diagnostic|orcpt"
 *   (notify: a QUEUE_NOTIFY_* mask in decimal; action: failed, delayed,
 *   delivered, relayed, expanded)
 *
 * Recipients for which dsn_should_notify() says no (every one, except for
 * a double bounce) are left out; when none is left it prints nothing and
 * exits 3.
 *
 *   dsn_tool -Q QUEUE_DIR ID KIND
 * runs dsn_queue_notify() on QUEUE_DIR/incoming/ID (KIND failure, delay
 * or success), then prints the queued notification's envelope
 * ("sender\trecipient\tbody_type") on stderr and its content on stdout;
 * exit 3 when none is owed. Test code only: trusts its arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <time.h>

#include "mail/dsn_bounce.h"
#include "mail/dsn_queue.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;
	char tmp[65536];

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		buf = xrealloc(buf, len + n + 1);
		memcpy(buf + len, tmp, n);
		len += n;
	}
	fclose(f);
	*len_r = len;
	return buf;
}

static enum dsn_action
parse_action(const char *s)
{
	static const char *const names[] = {"failed", "delayed", "delivered",
					    "relayed", "expanded"};

	for (unsigned int i = 0; i < 5; i++) {
		if (strcmp(s, names[i]) == 0)
			return (enum dsn_action)i;
	}
	fprintf(stderr, "bad action %s\n", s);
	exit(2);
}

/* Splits s at '|' into at most n fields (missing ones are ""). */
static void
split(char *s, char **f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		f[i] = s;
		if (s != NULL && (s = strchr(s, '|')) != NULL)
			*s++ = '\0';
		if (f[i] == NULL)
			f[i] = "";
	}
}

static int
queue_mode(const char *qdir, const char *id, const char *kind_name)
{
	struct dsn_queue_params params = {
	    .myhostname = "mail.example.org",
	    .now = time(NULL),
	    .delay_warning_hours = 4,
	    .lifetime_days = 5,
	};
	enum dsn_kind kind = strcmp(kind_name, "delay") == 0 ? DSN_KIND_DELAY
			     : strcmp(kind_name, "success") == 0
				 ? DSN_KIND_SUCCESS
				 : DSN_KIND_FAILURE;
	struct queue_msg *msg, *b;
	const char *error;
	char *path = xasprintf("%s/incoming/%s", qdir, id), newid[QUEUE_ID_MAX];
	int fd = open(path, O_RDONLY), ret;

	if (fd < 0 || queue_file_read_fd(fd, id, &msg, &error) < 0) {
		fprintf(stderr, "%s: cannot read\n", path);
		return 2;
	}
	ret =
	    dsn_queue_notify(qdir, msg, fd, kind, NULL, &params, newid, &error);
	close(fd);
	queue_msg_free(&msg);
	free(path);
	if (ret < 0) {
		fprintf(stderr, "%s\n", error);
		return 1;
	}
	if (ret == 0)
		return 3;
	path = xasprintf("%s/incoming/%s", qdir, newid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || queue_file_read_fd(fd, newid, &b, &error) < 0)
		return 1;
	char *buf = xmalloc((size_t)b->content_size + 1);
	if (pread(fd, buf, (size_t)b->content_size, b->content_offset) !=
	    b->content_size)
		return 1;
	fwrite(buf, 1, (size_t)b->content_size, stdout);
	fprintf(stderr, "%s\t%s\t%s\n", b->sender, b->rcpts[0].address,
		b->attrs[QUEUE_ATTR_BODY] != NULL ? b->attrs[QUEUE_ATTR_BODY]
						  : "");
	free(buf);
	queue_msg_free(&b);
	close(fd);
	free(path);
	return 0;
}

int
main(int argc, char **argv)
{
	struct dsn_report rep;
	struct dsn_result res;
	struct dsn_rcpt *rcpts;
	struct strbuf out;
	const char *error;
	int c;

	if (argc == 5 && strcmp(argv[1], "-Q") == 0)
		return queue_mode(argv[2], argv[3], argv[4]);
	memset(&rep, 0, sizeof(rep));
	rep.kind = DSN_KIND_FAILURE;
	rep.myhostname = "mail.example.org";
	rep.queue_id = "4ZxTqJ1Hbtz3Vn";
	rep.sender = "sender@example.com";
	rep.now = 1790000000;
	rep.arrival = 1789990000;
	rep.delay_warning_hours = 4;
	rep.lifetime_days = 5;
	while ((c = getopt(argc, argv, "k:r:u7l:s:e:t:c:n:")) != -1) {
		switch (c) {
		case 'k':
			rep.kind = strcmp(optarg, "delay") == 0 ? DSN_KIND_DELAY
				   : strcmp(optarg, "success") == 0
				       ? DSN_KIND_SUCCESS
				   : strcmp(optarg, "double") == 0
				       ? DSN_KIND_DOUBLE_BOUNCE
				       : DSN_KIND_FAILURE;
			break;
		case 'r':
			rep.ret = strcmp(optarg, "hdrs") == 0 ? DSN_RET_HDRS
							      : DSN_RET_FULL;
			break;
		case 'u':
			rep.smtputf8 = true;
			break;
		case '7':
			rep.seven_bit_only = true;
			break;
		case 'l':
			rep.bounce_size_limit = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rep.sender = optarg;
			break;
		case 'e':
			rep.envid = optarg;
			break;
		case 't':
			rep.notify_to = optarg;
			break;
		case 'c':
			rep.content = read_file(optarg, &rep.content_len);
			rep.content_size = rep.content_len;
			break;
		case 'n':
			rep.now = strtoll(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	rcpts = xcalloc((size_t)(argc - optind) + 1, sizeof(*rcpts));
	for (int i = optind; i < argc; i++) {
		char *f[7];
		struct dsn_rcpt *r = &rcpts[rep.rcpt_count];

		split(argv[i], f, 7);
		r->address = f[0];
		r->action = parse_action(f[2][0] != '\0' ? f[2] : "failed");
		r->status = f[3];
		r->remote_mta = f[4];
		r->diagnostic = f[5];
		r->orcpt = f[6];
		r->last_attempt = rep.now - 60;
		if (r->action == DSN_ACTION_DELAYED)
			r->will_retry_until = rep.arrival + 5 * 86400;
		if (rep.kind != DSN_KIND_DOUBLE_BOUNCE &&
		    !dsn_should_notify(rep.sender,
				       (unsigned int)strtoul(f[1], NULL, 10),
				       r->action))
			continue;
		rep.rcpt_count++;
	}
	if (rep.rcpt_count == 0) {
		free(rcpts);
		free((char *)rep.content);
		return 3;
	}
	rep.rcpts = rcpts;
	strbuf_init(&out, 4 * 1024 * 1024);
	if (dsn_bounce_write(&rep, &out, &res, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		return 1;
	}
	fwrite(out.data, 1, out.len, stdout);
	fprintf(stderr, "eight_bit=%d full=%d message_id=%s\n", res.eight_bit,
		res.full_message, res.message_id);
	strbuf_release(&out);
	free(rcpts);
	free((char *)rep.content);
	return 0;
}
