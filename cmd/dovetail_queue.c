/*
 * dovetail_queue - "dovetail queue list|show|flush|hold|release|requeue|
 * delete": the admin's queue commands (Postfix's mailq, postcat,
 * postqueue -f and postsuper -h/-H/-r/-d). Runs as root or mail_owner at
 * the admin's request. Queue IDs from the command line are checked with
 * queue_id_valid() (no path can be named); queue files are parsed by
 * queue_file with its limits and their strings are shown escaped. Every
 * change is one rename() or unlink() followed by an fsync of the
 * directory, so qmgr always sees a file in exactly one queue; a message in
 * active/ is not moved (qmgr owns it), only deleted.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <dirent.h>
#include <unistd.h>

#include "dovetail.h"
#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "mail/queue_list.h"
#include "util/safe_file.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Queues a message can be found in, for show/hold/release/delete. */
static const char *const dq_queues[] = {
    QUEUE_DIR_INCOMING, QUEUE_DIR_ACTIVE,  QUEUE_DIR_DEFERRED,
    QUEUE_DIR_HOLD,	QUEUE_DIR_CORRUPT,
};
#define DQ_NQUEUES (sizeof(dq_queues) / sizeof(dq_queues[0]))

static int
dq_check_user(void)
{
	struct passwd *pw;
	uid_t uid = geteuid();

	if (uid == 0)
		return 0;
	pw = getpwnam(var_mail_owner);
	if (pw != NULL && pw->pw_uid == uid)
		return 0;
	fprintf(stderr,
		"dovetail: queue: permission denied: run this command as "
		"root or as mail_owner (%s)\n",
		var_mail_owner);
	return -1;
}

/* Finds id in the queues; returns the queue name or NULL. */
static const char *
dq_find(const char *id)
{
	for (size_t i = 0; i < DQ_NQUEUES; i++) {
		char *path = xasprintf("%s/%s/%s", var_queue_directory,
				       dq_queues[i], id);
		struct stat st;
		int ret = lstat(path, &st);

		free(path);
		if (ret == 0 && S_ISREG(st.st_mode))
			return dq_queues[i];
	}
	return NULL;
}

static int
dq_fsync_dir(const char *queue)
{
	char *dir = xasprintf("%s/%s", var_queue_directory, queue);
	const char *error;
	int ret = safe_file_fsync_dir(dir, &error);

	if (ret < 0)
		fprintf(stderr, "dovetail: queue: %s\n", error);
	free(dir);
	return ret;
}

/* Wakes qmgr through public/qmgr. No qmgr running is not an error: it
 * scans the queue when it starts. */
static void
dq_trigger(const char *what)
{
	struct sockaddr_un sun;
	char *path = xasprintf("%s/public/qmgr", var_queue_directory);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		free(path);
		return;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		if (write(fd, what, strlen(what)) < 0)
			fprintf(stderr, "dovetail: queue: write %s: %s\n", path,
				strerror(errno));
	} else {
		fprintf(stderr,
			"dovetail: queue: qmgr is not running (%s: %s); the "
			"change takes effect when it starts\n",
			path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(path);
}

/* Moves id from queue "from" to "to"; the mtime becomes now when due
 * (deferred/ mtimes are the next attempt). */
static int
dq_move(const char *id, const char *from, const char *to, bool due)
{
	char *src = xasprintf("%s/%s/%s", var_queue_directory, from, id);
	char *dst = xasprintf("%s/%s/%s", var_queue_directory, to, id);
	int ret = 0;

	if (due && utimensat(AT_FDCWD, src, NULL, 0) < 0 && errno != ENOENT)
		fprintf(stderr, "dovetail: queue: utime %s: %s\n", src,
			strerror(errno));
	if (rename(src, dst) < 0) {
		fprintf(stderr, "dovetail: queue: %s: rename %s to %s: %s\n",
			id, src, dst, strerror(errno));
		ret = -1;
	} else if (dq_fsync_dir(to) < 0 || dq_fsync_dir(from) < 0) {
		ret = -1;
	}
	free(src);
	free(dst);
	return ret;
}

enum dq_op { DQ_HOLD, DQ_RELEASE, DQ_REQUEUE, DQ_DELETE };

static int
dq_one(enum dq_op op, const char *id, unsigned int *done)
{
	const char *queue;
	char *path;

	if (!queue_id_valid(id)) {
		fprintf(stderr, "dovetail: queue: %s: not a queue ID\n", id);
		return -1;
	}
	if ((queue = dq_find(id)) == NULL) {
		fprintf(stderr, "dovetail: queue: %s: no such message\n", id);
		return -1;
	}
	if (op == DQ_DELETE) {
		path = xasprintf("%s/%s/%s", var_queue_directory, queue, id);
		if (unlink(path) < 0) {
			fprintf(stderr, "dovetail: queue: unlink %s: %s\n",
				path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		(*done)++;
		return dq_fsync_dir(queue);
	}
	if (strcmp(queue, QUEUE_DIR_ACTIVE) == 0 ||
	    strcmp(queue, QUEUE_DIR_CORRUPT) == 0) {
		fprintf(stderr, "dovetail: queue: %s: is in %s%s; not moved\n",
			id, queue,
			strcmp(queue, QUEUE_DIR_ACTIVE) == 0
			    ? " (being delivered; try again shortly)"
			    : "");
		return -1;
	}
	switch (op) {
	case DQ_HOLD:
		if (strcmp(queue, QUEUE_DIR_HOLD) == 0)
			return 0;
		if (dq_move(id, queue, QUEUE_DIR_HOLD, false) < 0)
			return -1;
		break;
	case DQ_RELEASE:
		if (strcmp(queue, QUEUE_DIR_HOLD) != 0) {
			fprintf(stderr, "dovetail: queue: %s: not on hold\n",
				id);
			return -1;
		}
		if (dq_move(id, queue, QUEUE_DIR_DEFERRED, true) < 0)
			return -1;
		break;
	case DQ_REQUEUE:
		if (dq_move(id, queue, QUEUE_DIR_INCOMING, true) < 0)
			return -1;
		break;
	case DQ_DELETE:
		break;
	}
	(*done)++;
	return 0;
}

/* Every queue file ID in one queue (for "delete ALL"). */
static char **
dq_list_ids(const char *queue, unsigned int *n_r)
{
	char *dir = xasprintf("%s/%s", var_queue_directory, queue);
	DIR *d = opendir(dir);
	struct dirent *de;
	char **ids = NULL;
	unsigned int n = 0;

	free(dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!queue_id_valid(de->d_name))
				continue;
			ids = xreallocarray(ids, n + 1, sizeof(*ids));
			ids[n++] = xstrdup(de->d_name);
		}
		closedir(d);
	}
	*n_r = n;
	return ids;
}

static int
dq_cmd_modify(enum dq_op op, int argc, char **argv)
{
	static const char *const verbs[] = {
	    "placed on hold", "released from hold", "requeued", "deleted"};
	unsigned int done = 0;
	int status = 0;

	if (argc < 1) {
		fprintf(stderr,
			"dovetail: queue: which message? (give IDs%s)\n",
			op == DQ_DELETE ? " or ALL" : "");
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "ALL") == 0) {
			for (size_t q = 0; q < DQ_NQUEUES; q++) {
				unsigned int n;
				char **ids;

				/* Moving active/ or corrupt/ files is refused;
				 * "hold ALL" and friends skip them. */
				if (op != DQ_DELETE &&
				    (strcmp(dq_queues[q], QUEUE_DIR_ACTIVE) ==
					 0 ||
				     strcmp(dq_queues[q], QUEUE_DIR_CORRUPT) ==
					 0))
					continue;
				if (op == DQ_RELEASE &&
				    strcmp(dq_queues[q], QUEUE_DIR_HOLD) != 0)
					continue;
				ids = dq_list_ids(dq_queues[q], &n);
				for (unsigned int k = 0; k < n; k++) {
					/* Gone meanwhile: delivered. */
					if (dq_find(ids[k]) != NULL &&
					    dq_one(op, ids[k], &done) < 0)
						status = 1;
					free(ids[k]);
				}
				free(ids);
			}
		} else if (dq_one(op, argv[i], &done) < 0) {
			status = 1;
		}
	}
	printf("dovetail: queue: %u message%s %s\n", done, done == 1 ? "" : "s",
	       verbs[op]);
	if (done > 0 && (op == DQ_RELEASE || op == DQ_REQUEUE))
		dq_trigger("W");
	return status;
}

static int
dq_cmd_flush(void)
{
	unsigned int n, touched = 0;
	char **ids = dq_list_ids(QUEUE_DIR_DEFERRED, &n);

	for (unsigned int i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s/%s", var_queue_directory,
				       QUEUE_DIR_DEFERRED, ids[i]);

		/* The mtime is the next attempt: make every one due. */
		if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
			touched++;
		free(path);
		free(ids[i]);
	}
	free(ids);
	printf("dovetail: queue: %u deferred message%s scheduled for "
	       "delivery now\n",
	       touched, touched == 1 ? "" : "s");
	/* Postfix's QMGR_REQ_FLUSH_DEAD and QMGR_REQ_SCAN_ALL, then the
	 * plain wakeup every qmgr understands. */
	dq_trigger("FAW");
	return 0;
}

static void
dq_print_status(struct strbuf *out, const struct queue_rcpt *r)
{
	strbuf_printf(out, "  status: %s", queue_rcpt_state_name(r->state));
	if (r->state == QUEUE_RCPT_PENDING) {
		strbuf_append_char(out, '\n');
		return;
	}
	strbuf_printf(out,
		      " dsn=%s attempts=%u last=%lld next=%lld relay=", r->dsn,
		      r->attempts, (long long)r->last_attempt,
		      (long long)r->next_attempt);
	queue_list_safe_text(out, r->relay);
	strbuf_append_str(out, "\n  text: ");
	queue_list_safe_text(out, r->text);
	strbuf_append_char(out, '\n');
}

static void
dq_show_json(struct strbuf *out, const char *queue, const struct queue_msg *m,
	     const char *content, size_t len)
{
	strbuf_append_str(out, "{\"queue_name\": ");
	queue_list_json_string(out, queue, strlen(queue));
	strbuf_printf(out,
		      ", \"queue_id\": \"%s\", \"arrival_time\": %lld, "
		      "\"message_size\": %lld, \"sender\": ",
		      m->id, (long long)m->arrival_sec,
		      (long long)m->content_size);
	queue_list_json_string(out, m->sender, strlen(m->sender));
	strbuf_append_str(out, ", \"attributes\": {");
	for (unsigned int i = 0, n = 0; i < QUEUE_ATTR_COUNT; i++) {
		if (m->attrs[i] == NULL)
			continue;
		strbuf_append_str(out, n++ > 0 ? ", " : "");
		queue_list_json_string(out, queue_list_attr_name(i),
				       strlen(queue_list_attr_name(i)));
		strbuf_append_str(out, ": ");
		queue_list_json_string(out, m->attrs[i], strlen(m->attrs[i]));
	}
	strbuf_append_str(out, "}, \"recipients\": [");
	for (unsigned int i = 0; i < m->rcpt_count; i++) {
		const struct queue_rcpt *r = &m->rcpts[i];
		const char *f[] = {"address",
				   r->address,
				   "original_recipient",
				   r->orig_rcpt,
				   "orcpt",
				   r->orcpt,
				   "state",
				   queue_rcpt_state_name(r->state),
				   "dsn",
				   r->dsn,
				   "relay",
				   r->relay,
				   "text",
				   r->text};

		strbuf_append_str(out, i > 0 ? ", {" : "{");
		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k += 2) {
			strbuf_printf(out, "%s\"%s\": ", k > 0 ? ", " : "",
				      f[k]);
			queue_list_json_string(out, f[k + 1], strlen(f[k + 1]));
		}
		strbuf_printf(out,
			      ", \"notify\": %u, \"attempts\": %u, "
			      "\"last_attempt\": %lld, \"next_attempt\": %lld}",
			      r->notify, r->attempts,
			      (long long)r->last_attempt,
			      (long long)r->next_attempt);
	}
	strbuf_append_str(out, "], \"content\": ");
	queue_list_json_string(out, content, len);
	strbuf_append_str(out, "}\n");
}

static int
dq_cmd_show(const char *id, bool json)
{
	const char *queue, *error;
	struct queue_msg *m;
	struct strbuf out;
	char *path, *content;
	size_t len = 0, content_size;
	int fd;

	if (!queue_id_valid(id) || (queue = dq_find(id)) == NULL) {
		fprintf(stderr, "dovetail: queue: %s: no such message\n", id);
		return 1;
	}
	path = xasprintf("%s/%s/%s", var_queue_directory, queue, id);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || queue_file_read_fd(fd, id, &m, &error) < 0) {
		fprintf(stderr, "dovetail: queue: %s: %s\n", path,
			fd < 0 ? strerror(errno) : error);
		if (fd >= 0)
			close(fd);
		free(path);
		return 1;
	}
	content = xmalloc((size_t)m->content_size + 1);
	while (len < (size_t)m->content_size) {
		ssize_t n =
		    pread(fd, content + len, (size_t)m->content_size - len,
			  m->content_offset + (off_t)len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	strbuf_init(&out, STRBUF_UNLIMITED);
	if (json) {
		dq_show_json(&out, queue, m, content, len);
	} else {
		strbuf_printf(&out, "*** ENVELOPE RECORDS %s/%s ***\n", queue,
			      id);
		strbuf_printf(&out, "message_size: %lld\n",
			      (long long)m->content_size);
		strbuf_printf(&out, "message_arrival_time: %lld.%06ld\n",
			      (long long)m->arrival_sec, m->arrival_usec);
		for (unsigned int i = 0; i < QUEUE_ATTR_COUNT; i++) {
			if (m->attrs[i] == NULL)
				continue;
			strbuf_printf(&out, "named_attribute: %s=",
				      queue_list_attr_name(i));
			queue_list_safe_text(&out, m->attrs[i]);
			strbuf_append_char(&out, '\n');
		}
		strbuf_append_str(&out, "sender: ");
		queue_list_safe_text(&out, m->sender);
		strbuf_append_char(&out, '\n');
		for (unsigned int i = 0; i < m->rcpt_count; i++) {
			const struct queue_rcpt *r = &m->rcpts[i];

			strbuf_append_str(&out, "recipient: ");
			queue_list_safe_text(&out, r->address);
			strbuf_append_char(&out, '\n');
			if (r->orig_rcpt[0] != '\0') {
				strbuf_append_str(&out,
						  "  original_recipient: ");
				queue_list_safe_text(&out, r->orig_rcpt);
				strbuf_append_char(&out, '\n');
			}
			if (r->orcpt[0] != '\0') {
				strbuf_append_str(&out, "  dsn_orig_rcpt: ");
				queue_list_safe_text(&out, r->orcpt);
				strbuf_append_char(&out, '\n');
			}
			if (r->notify != 0)
				strbuf_printf(&out, "  dsn_notify_flags: %u\n",
					      r->notify);
			dq_print_status(&out, r);
		}
		strbuf_printf(&out, "*** MESSAGE CONTENTS %s/%s ***\n", queue,
			      id);
		for (size_t i = 0; i < len; i++) {
			if (content[i] == '\r' && i + 1 < len &&
			    content[i + 1] == '\n')
				continue;
			strbuf_append_char(&out, content[i]);
		}
		strbuf_printf(&out, "*** MESSAGE FILE END %s/%s ***\n", queue,
			      id);
	}
	fwrite(strbuf_cstr(&out), 1, out.len, stdout);
	strbuf_release(&out);
	free(content);
	content_size = (size_t)m->content_size;
	queue_msg_free(&m);
	free(path);
	if (len < content_size) {
		fprintf(stderr, "dovetail: queue: %s: content truncated\n", id);
		return 1;
	}
	return 0;
}

int
dovetail_cmd_queue(int argc, char **argv)
{
	int first = dovetail_getopt(argc, argv, NULL, NULL, NULL);
	char **ops;
	int nops = 0, status;
	bool json = false;
	const char *error;

	if (first < 0)
		return 2;
	/* --json / -j may come anywhere after the sub-command. */
	ops = xcalloc((size_t)argc + 1, sizeof(*ops));
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			json = true;
		else
			ops[nops++] = argv[i];
	}
	if (nops == 0) {
		fprintf(stderr,
			"usage: dovetail queue list|show ID|flush|hold ID...|"
			"release ID...|requeue ID...|delete ID...|delete ALL "
			"[--json]\n");
		free(ops);
		return 2;
	}
	if (dovetail_load_main() < 0 || dq_check_user() < 0) {
		free(ops);
		return 1;
	}
	if (strcmp(ops[0], "list") == 0) {
		status = queue_list_print(var_queue_directory, json, &error);
		if (status < 0)
			fprintf(stderr, "dovetail: queue: %s\n", error);
		status = status < 0 ? 1 : 0;
	} else if (strcmp(ops[0], "show") == 0 && nops == 2) {
		status = dq_cmd_show(ops[1], json);
	} else if (strcmp(ops[0], "flush") == 0 && nops == 1) {
		status = dq_cmd_flush();
	} else if (strcmp(ops[0], "hold") == 0) {
		status = dq_cmd_modify(DQ_HOLD, nops - 1, ops + 1);
	} else if (strcmp(ops[0], "release") == 0) {
		status = dq_cmd_modify(DQ_RELEASE, nops - 1, ops + 1);
	} else if (strcmp(ops[0], "requeue") == 0) {
		status = dq_cmd_modify(DQ_REQUEUE, nops - 1, ops + 1);
	} else if (strcmp(ops[0], "delete") == 0) {
		status = dq_cmd_modify(DQ_DELETE, nops - 1, ops + 1);
	} else {
		fprintf(stderr,
			"dovetail: queue: unknown or incomplete "
			"command \"%s\"\n",
			ops[0]);
		status = 2;
	}
	free(ops);
	return status;
}
