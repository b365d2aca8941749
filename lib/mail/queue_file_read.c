/*
 * queue_file_read - parses a queue file (envelope, content position and
 * status records) and appends status records.
 * The file is trusted only as far as its framing checks: every length is
 * checked against the file size and the limits in queue_file.h, and any
 * deviation from the format makes the file corrupt. Never logs.
 */
#include "mail/queue_file.h"
#include "mail/queue_file_private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/xmem.h"

#define QUEUE_READ_BUF 16384

struct queue_reader {
	int fd;
	const char *name;
	off_t file_size;
	off_t pos; /* file offset of buf[0] + used */
	char buf[QUEUE_READ_BUF];
	size_t used, len; /* consumed and valid bytes of buf */
};

static int
queue_reader_fill(struct queue_reader *r)
{
	ssize_t n;

	if (r->used > 0) {
		memmove(r->buf, r->buf + r->used, r->len - r->used);
		r->len -= r->used;
		r->used = 0;
	}
	do {
		n = pread(r->fd, r->buf + r->len, sizeof(r->buf) - r->len,
			  r->pos + (off_t)r->len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	r->len += (size_t)n;
	return (int)n;
}

/* Reads exactly n bytes into dst (or skips them when dst is NULL). 0 ok,
 * -1 I/O error, -2 end of file first. */
static int
queue_reader_get(struct queue_reader *r, void *dst, size_t n)
{
	char *d = dst;

	while (n > 0) {
		size_t avail = r->len - r->used, take;

		if (avail == 0) {
			if (dst == NULL && r->pos + (off_t)n <= r->file_size) {
				r->pos += (off_t)n;
				return 0;
			}
			r->used = r->len = 0;
			int ret = queue_reader_fill(r);
			if (ret < 0)
				return -1;
			if (ret == 0)
				return -2;
			continue;
		}
		take = avail < n ? avail : n;
		if (d != NULL) {
			memcpy(d, r->buf + r->used, take);
			d += take;
		}
		r->used += take;
		r->pos += (off_t)take;
		n -= take;
	}
	return 0;
}

/* Reads one record header and its data (at most max bytes, NUL added).
 * Returns 1 with a record, 0 at a clean end of file, -1 I/O error,
 * -2 malformed or truncated. */
static int
queue_reader_record(struct queue_reader *r, size_t max, char *type_r,
		    char **data_r, size_t *len_r)
{
	char c;
	size_t len = 0, digits = 0;
	int ret;

	ret = queue_reader_get(r, &c, 1);
	if (ret == -2)
		return 0;
	if (ret < 0)
		return ret;
	if (!(c >= 'A' && c <= 'Z'))
		return -2;
	*type_r = c;
	for (;;) {
		if ((ret = queue_reader_get(r, &c, 1)) < 0)
			return ret == -2 ? -2 : -1;
		if (c == ':')
			break;
		if (c < '0' || c > '9' || digits >= 10 ||
		    (digits == 1 && len == 0))
			return -2;
		len = len * 10 + (size_t)(c - '0');
		digits++;
	}
	if (digits == 0 || len > max)
		return -2;
	if (r->pos + (off_t)len + 1 > r->file_size)
		return -2;
	*data_r = xmalloc(len + 1);
	if ((ret = queue_reader_get(r, *data_r, len)) < 0 ||
	    (ret = queue_reader_get(r, &c, 1)) < 0 || c != '\n') {
		xfree(data_r);
		return ret == -1 ? -1 : -2;
	}
	(*data_r)[len] = '\0';
	*len_r = len;
	return 1;
}

/* Splits a list of netstrings into exactly n NUL-terminated fields
 * pointing into data (which is modified). */
static int
queue_fields_split(char *data, size_t len, char **fields, unsigned int n)
{
	size_t pos = 0;

	for (unsigned int i = 0; i < n; i++) {
		size_t flen = 0, digits = 0;

		while (pos < len && data[pos] != ':') {
			char c = data[pos++];

			if (c < '0' || c > '9' || digits >= 10 ||
			    (digits == 1 && flen == 0))
				return -1;
			flen = flen * 10 + (size_t)(c - '0');
			digits++;
		}
		if (digits == 0 || pos >= len || flen > len - pos - 1)
			return -1;
		pos++;
		if (pos + flen >= len || data[pos + flen] != ',')
			return -1;
		fields[i] = data + pos;
		data[pos + flen] = '\0';
		if (memchr(fields[i], '\0', flen) != NULL)
			return -1;
		pos += flen + 1;
	}
	return pos == len ? 0 : -1;
}

static int
queue_parse_uint(const char *s, unsigned long long max, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*v_r = v;
	return 0;
}

static int
queue_msg_attr(struct queue_msg *msg, const char *data)
{
	const char *eq = strchr(data, '=');

	if (eq == NULL)
		return -1;
	for (unsigned int i = 0; i < QUEUE_ATTR_COUNT; i++) {
		size_t nlen = strlen(queue_attr_names[i]);

		if ((size_t)(eq - data) == nlen &&
		    memcmp(data, queue_attr_names[i], nlen) == 0) {
			if (msg->attrs[i] != NULL)
				return -1;
			msg->attrs[i] = xstrdup(eq + 1);
			return 0;
		}
	}
	/* Unknown attributes from a newer writer are kept out of the
	 * struct but are not corruption. */
	return 0;
}

static int
queue_msg_rcpt(struct queue_msg *msg, char *data, size_t len,
	       unsigned int *alloc)
{
	char *f[4];
	unsigned long long notify;
	struct queue_rcpt *rc;

	if (msg->rcpt_count >= QUEUE_FILE_MAX_RCPTS ||
	    queue_fields_split(data, len, f, 4) < 0 ||
	    queue_parse_uint(f[3], 0xf, &notify) < 0 || f[0][0] == '\0')
		return -1;
	if (msg->rcpt_count == *alloc) {
		*alloc = *alloc == 0 ? 4 : *alloc * 2;
		msg->rcpts =
		    xreallocarray(msg->rcpts, *alloc, sizeof(*msg->rcpts));
	}
	rc = &msg->rcpts[msg->rcpt_count++];
	memset(rc, 0, sizeof(*rc));
	rc->address = xstrdup(f[0]);
	rc->orig_rcpt = xstrdup(f[1]);
	rc->orcpt = xstrdup(f[2]);
	rc->notify = (unsigned int)notify;
	rc->dsn = xstrdup("");
	rc->text = xstrdup("");
	rc->relay = xstrdup("");
	return 0;
}

static int
queue_msg_status(struct queue_msg *msg, char *data, size_t len)
{
	char *f[7];
	unsigned long long idx, when, next;
	enum queue_rcpt_state state;
	struct queue_rcpt *rc;

	if (queue_fields_split(data, len, f, 7) < 0 ||
	    queue_parse_uint(f[0], UINT_MAX, &idx) < 0 ||
	    idx >= msg->rcpt_count ||
	    queue_parse_uint(f[3], LLONG_MAX, &when) < 0 ||
	    queue_parse_uint(f[4], LLONG_MAX, &next) < 0)
		return -1;
	if (strcmp(f[1], "delivered") == 0)
		state = QUEUE_RCPT_DELIVERED;
	else if (strcmp(f[1], "bounced") == 0)
		state = QUEUE_RCPT_BOUNCED;
	else if (strcmp(f[1], "deferred") == 0)
		state = QUEUE_RCPT_DEFERRED;
	else
		return -1;
	rc = &msg->rcpts[idx];
	rc->state = state;
	rc->attempts++;
	free(rc->dsn);
	free(rc->relay);
	free(rc->text);
	rc->dsn = xstrdup(f[2]);
	rc->relay = xstrdup(f[5]);
	rc->text = xstrdup(f[6]);
	rc->last_attempt = (time_t)when;
	rc->next_attempt = (time_t)next;
	return 0;
}

static int
queue_msg_time(struct queue_msg *msg, const char *data)
{
	unsigned long long sec, usec;
	const char *dot = strchr(data, '.');
	char secbuf[24];

	if (dot == NULL || (size_t)(dot - data) >= sizeof(secbuf))
		return -1;
	memcpy(secbuf, data, (size_t)(dot - data));
	secbuf[dot - data] = '\0';
	if (queue_parse_uint(secbuf, LLONG_MAX, &sec) < 0 ||
	    queue_parse_uint(dot + 1, 999999, &usec) < 0)
		return -1;
	msg->arrival_sec = (time_t)sec;
	msg->arrival_usec = (long)usec;
	return 0;
}

/* Parses the committed part up to and including X. */
static int
queue_read_envelope(struct queue_reader *r, struct queue_msg *msg,
		    const char **what_r)
{
	unsigned int alloc = 0;
	char expect = QUEUE_REC_VERSION;
	bool have_sender = false;

	for (;;) {
		char type, *data = NULL;
		size_t len;
		int ret = queue_reader_record(r, QUEUE_FILE_MAX_FIELD * 3 + 64,
					      &type, &data, &len);
		bool bad = false;

		if (ret == -1) {
			*what_r = strerror(errno);
			return -1;
		}
		if (ret <= 0) {
			*what_r = "truncated or malformed record";
			return -1;
		}
		if (type == QUEUE_REC_VERSION && expect == QUEUE_REC_VERSION)
			bad = strcmp(data, QUEUE_FILE_VERSION) != 0;
		else if (type == QUEUE_REC_TIME && expect == QUEUE_REC_TIME)
			bad = queue_msg_time(msg, data) < 0;
		else if (type == QUEUE_REC_ATTR && expect == QUEUE_REC_ATTR)
			bad = memchr(data, '\0', len) != NULL ||
			      queue_msg_attr(msg, data) < 0;
		else if (type == QUEUE_REC_SENDER && expect == QUEUE_REC_ATTR &&
			 !have_sender) {
			bad = memchr(data, '\0', len) != NULL;
			msg->sender = xstrdup(data);
			have_sender = true;
		} else if (type == QUEUE_REC_RCPT && have_sender)
			bad = queue_msg_rcpt(msg, data, len, &alloc) < 0;
		else if (type == QUEUE_REC_CONTENT && msg->rcpt_count > 0) {
			unsigned long long size;

			bad = len != QUEUE_CONTENT_LEN_DIGITS ||
			      queue_parse_uint(data, LLONG_MAX, &size) < 0 ||
			      (off_t)size > r->file_size - r->pos;
			if (!bad) {
				msg->content_offset = r->pos;
				msg->content_size = (off_t)size;
				bad = queue_reader_get(r, NULL, size) < 0;
			}
			expect = QUEUE_REC_END;
		} else if (type == QUEUE_REC_END && expect == QUEUE_REC_END)
			bad = len != 0;
		else
			bad = true;
		free(data);
		if (bad) {
			*what_r = "malformed record";
			return -1;
		}
		if (type == QUEUE_REC_END)
			return 0;
		if (type == QUEUE_REC_VERSION)
			expect = QUEUE_REC_TIME;
		else if (type == QUEUE_REC_TIME)
			expect = QUEUE_REC_ATTR;
	}
}

int
queue_file_read_fd(int fd, const char *name, struct queue_msg **msg_r,
		   const char **error_r)
{
	struct queue_reader *r;
	struct queue_msg *msg;
	struct stat st;
	const char *what = NULL, *base;
	unsigned int nstatus = 0;

	if (fstat(fd, &st) < 0) {
		*error_r = queue_file_error("queue_file_open: %s: %s", name,
					    strerror(errno));
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->name = name;
	r->file_size = st.st_size;
	msg = xcalloc(1, sizeof(*msg));
	base = strrchr(name, '/');
	base = base == NULL ? name : base + 1;
	if (queue_id_valid(base))
		snprintf(msg->id, sizeof(msg->id), "%s", base);
	if (queue_read_envelope(r, msg, &what) < 0)
		goto corrupt;
	msg->valid_size = r->pos;
	for (;;) {
		char type, *data = NULL;
		size_t len;
		int ret = queue_reader_record(
		    r, QUEUE_FILE_MAX_TEXT + QUEUE_FILE_MAX_FIELD + 256, &type,
		    &data, &len);

		if (ret == 0)
			break;
		if (ret == -1) {
			what = strerror(errno);
			goto corrupt;
		}
		if (ret == -2) {
			/* A torn append: only the tail is unusable. */
			msg->torn_tail = true;
			break;
		}
		if (type != QUEUE_REC_STATUS ||
		    ++nstatus > QUEUE_FILE_MAX_STATUS ||
		    queue_msg_status(msg, data, len) < 0) {
			free(data);
			what = "malformed status record";
			goto corrupt;
		}
		free(data);
		msg->valid_size = r->pos;
	}
	free(r);
	*msg_r = msg;
	return 0;
corrupt:
	free(r);
	queue_msg_free(&msg);
	*error_r =
	    queue_file_error("queue_file_open: %s: corrupt: %s", name, what);
	errno = EINVAL;
	return -1;
}

int
queue_file_open(const char *path, struct queue_msg **msg_r,
		const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ret, saved;

	if (fd < 0) {
		saved = errno;
		*error_r = queue_file_error("queue_file_open: %s: %s", path,
					    strerror(errno));
		errno = saved;
		return -1;
	}
	ret = queue_file_read_fd(fd, path, msg_r, error_r);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

void
queue_msg_free(struct queue_msg **msgp)
{
	struct queue_msg *msg = *msgp;

	if (msg == NULL)
		return;
	*msgp = NULL;
	free(msg->sender);
	for (unsigned int i = 0; i < QUEUE_ATTR_COUNT; i++)
		free(msg->attrs[i]);
	for (unsigned int i = 0; i < msg->rcpt_count; i++) {
		free(msg->rcpts[i].address);
		free(msg->rcpts[i].orig_rcpt);
		free(msg->rcpts[i].orcpt);
		free(msg->rcpts[i].dsn);
		free(msg->rcpts[i].text);
		free(msg->rcpts[i].relay);
	}
	free(msg->rcpts);
	free(msg);
}

unsigned int
queue_msg_pending(const struct queue_msg *msg)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < msg->rcpt_count; i++) {
		if (msg->rcpts[i].state == QUEUE_RCPT_PENDING ||
		    msg->rcpts[i].state == QUEUE_RCPT_DEFERRED)
			n++;
	}
	return n;
}

const char *
queue_rcpt_state_name(enum queue_rcpt_state state)
{
	switch (state) {
	case QUEUE_RCPT_DELIVERED:
		return "delivered";
	case QUEUE_RCPT_BOUNCED:
		return "bounced";
	case QUEUE_RCPT_DEFERRED:
		return "deferred";
	case QUEUE_RCPT_PENDING:
		break;
	}
	return "pending";
}

int
queue_file_append_status(int fd, const struct queue_status *st,
			 const char **error_r)
{
	struct strbuf fields, rec;
	char num[32];
	size_t tlen, done = 0;
	const char *text = st->text == NULL ? "" : st->text;
	int ret = 0;

	if (st->state == QUEUE_RCPT_PENDING) {
		*error_r = queue_file_error("queue_file_append_status: "
					    "pending is not a status");
		return -1;
	}
	strbuf_init(&fields, STRBUF_UNLIMITED);
	strbuf_init(&rec, STRBUF_UNLIMITED);
	snprintf(num, sizeof(num), "%u", st->rcpt_index);
	queue_field_append_str(&fields, num);
	queue_field_append_str(&fields, queue_rcpt_state_name(st->state));
	queue_field_append(
	    &fields, st->dsn == NULL ? "" : st->dsn,
	    st->dsn == NULL ? 0 : strnlen(st->dsn, QUEUE_FILE_MAX_FIELD));
	snprintf(num, sizeof(num), "%lld",
		 (long long)(st->when < 0 ? 0 : st->when));
	queue_field_append_str(&fields, num);
	snprintf(num, sizeof(num), "%lld",
		 (long long)(st->next_attempt < 0 ? 0 : st->next_attempt));
	queue_field_append_str(&fields, num);
	queue_field_append(
	    &fields, st->relay == NULL ? "" : st->relay,
	    st->relay == NULL ? 0 : strnlen(st->relay, QUEUE_FILE_MAX_FIELD));
	tlen = strnlen(text, QUEUE_FILE_MAX_TEXT);
	queue_field_append(&fields, text, tlen);
	queue_rec_append(&rec, QUEUE_REC_STATUS, fields.data, fields.len);
	while (done < rec.len) {
		ssize_t n = write(fd, rec.data + done, rec.len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = -1;
			break;
		}
		done += (size_t)n;
	}
	if (ret == 0 && fsync(fd) < 0)
		ret = -1;
	if (ret < 0)
		*error_r = queue_file_error("queue_file_append_status: %s",
					    strerror(errno));
	strbuf_release(&fields);
	strbuf_release(&rec);
	return ret;
}
