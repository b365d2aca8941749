/*
 * queue_file - the queue file writer: a temp file in incoming/, envelope
 * records, streamed content, then fsync + rename to the queue ID +
 * directory fsync (see queue_file.h for the format).
 * Input (envelope, content) is untrusted but only framed, never parsed
 * here; every envelope string is bounded and NUL-free. Blocks on the disk:
 * callers run commit in a worker thread. Never logs.
 */
#include "mail/queue_file.h"
#include "mail/queue_file_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/safe_file.h"
#include "util/xmem.h"

#define QUEUE_WRITE_BUF 65536

const char *const queue_attr_names[] = {
    [QUEUE_ATTR_CLIENT_NAME] = "client_name",
    [QUEUE_ATTR_CLIENT_ADDR] = "client_address",
    [QUEUE_ATTR_HELO] = "helo_name",
    [QUEUE_ATTR_PROTOCOL] = "protocol_name",
    [QUEUE_ATTR_SASL_USER] = "sasl_username",
    [QUEUE_ATTR_TLS] = "tls",
    [QUEUE_ATTR_ENVID] = "envid",
    [QUEUE_ATTR_RET] = "ret",
    [QUEUE_ATTR_BODY] = "body_type",
    [QUEUE_ATTR_SMTPUTF8] = "smtputf8",
};

struct queue_writer {
	char *incoming; /* <queue_dir>/incoming */
	char *tmp_path;
	int fd;
	struct timeval arrival;
	char id[QUEUE_ID_MAX]; /* from arrival and the file's inode */
	struct strbuf out;   /* pending bytes not yet written */
	struct strbuf rcpts; /* R records, kept until the envelope goes out */
	unsigned int rcpt_count;
	char *sender;
	char *attrs[QUEUE_ATTR_COUNT];
	bool envelope_written;
	off_t size_field_offset; /* where the M record's digits start */
	off_t written;		 /* bytes written to fd so far */
	uint64_t content_size;
	bool failed;
};

const char *
queue_file_error(const char *fmt, ...)
{
	static _Thread_local char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

int
queue_rec_append(struct strbuf *sb, char type, const void *data, size_t len)
{
	size_t old = sb->len;

	if (strbuf_printf(sb, "%c%zu:", type, len) < 0 ||
	    strbuf_append(sb, data, len) < 0 ||
	    strbuf_append_char(sb, '\n') < 0) {
		strbuf_truncate(sb, old);
		return -1;
	}
	return 0;
}

int
queue_field_append(struct strbuf *sb, const void *data, size_t len)
{
	size_t old = sb->len;

	if (strbuf_printf(sb, "%zu:", len) < 0 ||
	    strbuf_append(sb, data, len) < 0 ||
	    strbuf_append_char(sb, ',') < 0) {
		strbuf_truncate(sb, old);
		return -1;
	}
	return 0;
}

int
queue_field_append_str(struct strbuf *sb, const char *s)
{
	return queue_field_append(sb, s, strlen(s));
}

static int
queue_writer_check_str(const char *what, const char *s, const char **error_r)
{
	if (strlen(s) > QUEUE_FILE_MAX_FIELD) {
		*error_r = queue_file_error("queue_file: %s too long", what);
		return -1;
	}
	return 0;
}

static int
queue_writer_flush(struct queue_writer *w, const char **error_r)
{
	size_t done = 0;

	while (done < w->out.len) {
		ssize_t n = write(w->fd, w->out.data + done, w->out.len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = queue_file_error(
			    "queue_file: write %s: %s", w->tmp_path,
			    n < 0 ? strerror(errno) : "short write");
			w->failed = true;
			return -1;
		}
		done += (size_t)n;
	}
	w->written += (off_t)done;
	strbuf_reset(&w->out);
	return 0;
}

int
queue_file_create(const char *queue_dir, struct queue_writer **w_r,
		  const char **error_r)
{
	struct queue_writer *w = xcalloc(1, sizeof(*w));
	struct stat st;
	char tv[64];

	gettimeofday(&w->arrival, NULL);
	w->incoming = xasprintf("%s/%s", queue_dir, QUEUE_DIR_INCOMING);
	for (int tries = 0;; tries++) {
		unsigned int rnd;

		if (getentropy(&rnd, sizeof(rnd)) < 0)
			rnd =
			    (unsigned int)w->arrival.tv_usec ^ (unsigned)tries;
		w->tmp_path =
		    xasprintf("%s/.t%ld.%d.%08x", w->incoming,
			      (long)w->arrival.tv_sec, (int)getpid(), rnd);
		w->fd = open(w->tmp_path,
			     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w->fd >= 0)
			break;
		if (errno != EEXIST || tries > 10) {
			*error_r =
			    queue_file_error("queue_file_create: %s: %s",
					     w->tmp_path, strerror(errno));
			xfree(&w->tmp_path);
			xfree(&w->incoming);
			free(w);
			return -1;
		}
		xfree(&w->tmp_path);
	}
	if (fstat(w->fd, &st) < 0) {
		*error_r = queue_file_error("queue_file_create: fstat %s: %s",
					    w->tmp_path, strerror(errno));
		close(w->fd);
		(void)unlink(w->tmp_path);
		xfree(&w->tmp_path);
		xfree(&w->incoming);
		free(w);
		return -1;
	}
	/* The ID is known from now on (for the Received header), as
	 * Postfix's is from the moment cleanup creates the file: the
	 * temporary file keeps its inode through the rename. */
	queue_id_make(w->id, (long long)w->arrival.tv_sec,
		      (long)w->arrival.tv_usec, (unsigned long long)st.st_ino);
	strbuf_init(&w->out, STRBUF_UNLIMITED);
	strbuf_init(&w->rcpts, STRBUF_UNLIMITED);
	snprintf(tv, sizeof(tv), "%lld.%06ld", (long long)w->arrival.tv_sec,
		 (long)w->arrival.tv_usec);
	queue_rec_append(&w->out, QUEUE_REC_VERSION, QUEUE_FILE_VERSION,
			 strlen(QUEUE_FILE_VERSION));
	queue_rec_append(&w->out, QUEUE_REC_TIME, tv, strlen(tv));
	*w_r = w;
	return 0;
}

static int
queue_writer_open_envelope(struct queue_writer *w, const char *what,
			   const char **error_r)
{
	if (w->envelope_written || w->failed) {
		*error_r =
		    queue_file_error("queue_file: %s after content", what);
		return -1;
	}
	return 0;
}

int
queue_file_set_sender(struct queue_writer *w, const char *sender,
		      const char **error_r)
{
	if (queue_writer_open_envelope(w, "sender", error_r) < 0 ||
	    queue_writer_check_str("sender", sender, error_r) < 0)
		return -1;
	free(w->sender);
	w->sender = xstrdup(sender);
	return 0;
}

int
queue_file_add_rcpt(struct queue_writer *w, const char *address,
		    const char *orig_rcpt, const char *orcpt,
		    unsigned int notify, const char **error_r)
{
	struct strbuf fields;
	char num[16];

	if (orig_rcpt == NULL)
		orig_rcpt = "";
	if (orcpt == NULL)
		orcpt = "";
	if (queue_writer_open_envelope(w, "recipient", error_r) < 0 ||
	    queue_writer_check_str("recipient", address, error_r) < 0 ||
	    queue_writer_check_str("original recipient", orig_rcpt, error_r) <
		0 ||
	    queue_writer_check_str("ORCPT", orcpt, error_r) < 0)
		return -1;
	if (w->rcpt_count >= QUEUE_FILE_MAX_RCPTS) {
		*error_r = queue_file_error("queue_file: too many recipients");
		return -1;
	}
	snprintf(num, sizeof(num), "%u", notify & 0xf);
	strbuf_init(&fields, STRBUF_UNLIMITED);
	queue_field_append_str(&fields, address);
	queue_field_append_str(&fields, orig_rcpt);
	queue_field_append_str(&fields, orcpt);
	queue_field_append_str(&fields, num);
	queue_rec_append(&w->rcpts, QUEUE_REC_RCPT, fields.data, fields.len);
	strbuf_release(&fields);
	w->rcpt_count++;
	return 0;
}

int
queue_file_set_attr(struct queue_writer *w, enum queue_attr attr,
		    const char *value, const char **error_r)
{
	if ((unsigned)attr >= QUEUE_ATTR_COUNT) {
		*error_r = queue_file_error("queue_file: bad attribute");
		return -1;
	}
	if (queue_writer_open_envelope(w, "attribute", error_r) < 0 ||
	    queue_writer_check_str(queue_attr_names[attr], value, error_r) < 0)
		return -1;
	free(w->attrs[attr]);
	w->attrs[attr] = xstrdup(value);
	return 0;
}

static int
queue_writer_envelope(struct queue_writer *w, const char **error_r)
{
	if (w->sender == NULL || w->rcpt_count == 0) {
		*error_r = queue_file_error(
		    "queue_file: content before sender and recipients");
		return -1;
	}
	for (unsigned int i = 0; i < QUEUE_ATTR_COUNT; i++) {
		struct strbuf a;

		if (w->attrs[i] == NULL)
			continue;
		strbuf_init(&a, STRBUF_UNLIMITED);
		strbuf_printf(&a, "%s=%s", queue_attr_names[i], w->attrs[i]);
		queue_rec_append(&w->out, QUEUE_REC_ATTR, a.data, a.len);
		strbuf_release(&a);
	}
	queue_rec_append(&w->out, QUEUE_REC_SENDER, w->sender,
			 strlen(w->sender));
	strbuf_append(&w->out, w->rcpts.data, w->rcpts.len);
	strbuf_release(&w->rcpts);
	strbuf_printf(&w->out, "%c%d:", QUEUE_REC_CONTENT,
		      QUEUE_CONTENT_LEN_DIGITS);
	w->size_field_offset = w->written + (off_t)w->out.len;
	strbuf_printf(&w->out, "%0*d\n", QUEUE_CONTENT_LEN_DIGITS, 0);
	w->envelope_written = true;
	return 0;
}

int
queue_file_write_content(struct queue_writer *w, const void *data, size_t len,
			 const char **error_r)
{
	if (w->failed) {
		*error_r = queue_file_error("queue_file: earlier write failed");
		return -1;
	}
	if (!w->envelope_written && queue_writer_envelope(w, error_r) < 0)
		return -1;
	w->content_size += len;
	if (w->out.len + len > QUEUE_WRITE_BUF) {
		if (queue_writer_flush(w, error_r) < 0)
			return -1;
		if (len >= QUEUE_WRITE_BUF) {
			strbuf_set(&w->out, data, len);
			return queue_writer_flush(w, error_r);
		}
	}
	strbuf_append(&w->out, data, len);
	return 0;
}

const char *
queue_file_writer_id(const struct queue_writer *w)
{
	return w->id;
}

uint64_t
queue_file_content_size(const struct queue_writer *w)
{
	return w->content_size;
}

/* Renames without replacing: an existing file with the same ID would be
 * someone else's message. */
static int
queue_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) < 0)
		return -1;
	(void)unlink(from);
	return 0;
}

static int
queue_writer_finish(struct queue_writer *w, char id_r[QUEUE_ID_MAX],
		    const char **error_r)
{
	char digits[QUEUE_CONTENT_LEN_DIGITS + 2];
	struct stat st;
	char *path;

	if (!w->envelope_written && queue_writer_envelope(w, error_r) < 0)
		return -1;
	queue_rec_append(&w->out, QUEUE_REC_END, "", 0);
	if (queue_writer_flush(w, error_r) < 0)
		return -1;
	snprintf(digits, sizeof(digits), "%0*llu", QUEUE_CONTENT_LEN_DIGITS,
		 (unsigned long long)w->content_size);
	if (pwrite(w->fd, digits, QUEUE_CONTENT_LEN_DIGITS,
		   w->size_field_offset) != QUEUE_CONTENT_LEN_DIGITS ||
	    fsync(w->fd) < 0 || fstat(w->fd, &st) < 0) {
		*error_r = queue_file_error("queue_file_commit: %s: %s",
					    w->tmp_path, strerror(errno));
		return -1;
	}
	for (int tries = 0;; tries++) {
		struct timeval now;

		/* The first try uses the ID given at creation; a clash (a
		 * file with the same inode number and arrival time, only
		 * possible after a restore from elsewhere) moves to the
		 * current time: the message matters more than the ID its
		 * Received header already names. */
		if (tries == 0) {
			memcpy(id_r, w->id, QUEUE_ID_MAX);
		} else {
			gettimeofday(&now, NULL);
			queue_id_make(id_r, (long long)now.tv_sec,
				      (long)now.tv_usec,
				      (unsigned long long)st.st_ino);
		}
		path = xasprintf("%s/%s", w->incoming, id_r);
		if (queue_rename_noreplace(w->tmp_path, path) == 0) {
			free(path);
			break;
		}
		if (errno != EEXIST || tries > 5) {
			*error_r = queue_file_error("queue_file_commit: "
						    "rename %s: %s",
						    path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		usleep(1000);
	}
	xfree(&w->tmp_path);
	return safe_file_fsync_dir(w->incoming, error_r);
}

static void
queue_writer_free(struct queue_writer **wp)
{
	struct queue_writer *w = *wp;

	if (w == NULL)
		return;
	*wp = NULL;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path != NULL)
		(void)unlink(w->tmp_path);
	free(w->tmp_path);
	free(w->incoming);
	free(w->sender);
	for (unsigned int i = 0; i < QUEUE_ATTR_COUNT; i++)
		free(w->attrs[i]);
	strbuf_release(&w->out);
	strbuf_release(&w->rcpts);
	free(w);
}

int
queue_file_commit(struct queue_writer **wp, char id_r[QUEUE_ID_MAX],
		  const char **error_r)
{
	int ret = queue_writer_finish(*wp, id_r, error_r);

	queue_writer_free(wp);
	return ret;
}

void
queue_file_abort(struct queue_writer **wp)
{
	queue_writer_free(wp);
}
