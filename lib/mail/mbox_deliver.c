/*
 * mbox_deliver - locked append to an mbox file. The path and sender come
 * from our own configuration and the userdb (trusted); message bytes are
 * untrusted and only copied, with "From " lines quoted. Must not leave a
 * partial message behind, must not follow a symlink for the mailbox, and
 * must hold both locks for the whole append.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/dotlock.h"
#include "mail/maildir.h"
#include "mail/mbox_deliver.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define MBOX_LOCK_STALE_SECS 300 /* liblockfile's five minutes */
#define MBOX_CHUNK 65536

struct mbox_deliver {
	char *path;
	int fd;
	off_t orig_size;
	struct dotlock *dotlock;
	struct mbox_quote quote;
	struct strbuf out;
};

static int
mbox_emit(struct mbox_quote *q, struct strbuf *out, char c)
{
	if (strbuf_append_char(out, c) < 0)
		return -1;
	q->last = c;
	q->written = 1;
	return 0;
}

/* Takes one byte after CRLF conversion. */
static int
mbox_quote_byte(struct mbox_quote *q, char c, struct strbuf *out)
{
	static const char from[] = "From ";

	if (!q->mid_line) {
		if (c == from[q->matched]) {
			if (++q->matched < 5)
				return 0;
			q->matched = 0;
			q->mid_line = 1;
			if (mbox_emit(q, out, '>') < 0)
				return -1;
			for (size_t i = 0; i < 5; i++) {
				if (mbox_emit(q, out, from[i]) < 0)
					return -1;
			}
			return 0;
		}
		for (size_t i = 0; i < q->matched; i++) {
			if (mbox_emit(q, out, from[i]) < 0)
				return -1;
		}
		q->matched = 0;
		q->mid_line = 1;
	}
	if (mbox_emit(q, out, c) < 0)
		return -1;
	if (c == '\n')
		q->mid_line = 0;
	return 0;
}

int
mbox_quote_chunk(struct mbox_quote *q, const char *data, size_t len,
		 struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (q->pending_cr) {
			q->pending_cr = 0;
			if (c != '\n' && mbox_quote_byte(q, '\r', out) < 0)
				return -1;
		}
		if (c == '\r') {
			q->pending_cr = 1;
			continue;
		}
		if (mbox_quote_byte(q, c, out) < 0)
			return -1;
	}
	return 0;
}

int
mbox_quote_end(struct mbox_quote *q, struct strbuf *out)
{
	static const char from[] = "From ";

	if (q->pending_cr) {
		q->pending_cr = 0;
		if (mbox_quote_byte(q, '\r', out) < 0)
			return -1;
	}
	for (size_t i = 0; i < q->matched; i++) {
		if (mbox_emit(q, out, from[i]) < 0)
			return -1;
	}
	q->matched = 0;
	if (q->written && q->last != '\n' && mbox_emit(q, out, '\n') < 0)
		return -1;
	return mbox_emit(q, out, '\n');
}

static int
mbox_write_all(int fd, const char *data, size_t len, const char *path,
	       const char **error_r)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = maildir_set_error("write(%s): %s", path,
						     n < 0 ? strerror(errno)
							   : "short write");
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

static int
mbox_fcntl_lock(int fd, const char *path, unsigned int timeout,
		const char **error_r)
{
	struct flock fl;
	time_t start = time(NULL);

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			*error_r = maildir_set_error("fcntl(%s): %s", path,
						     strerror(errno));
			return -1;
		}
		if (time(NULL) - start >= (time_t)timeout) {
			*error_r = maildir_set_error(
			    "%s: timed out waiting for fcntl lock", path);
			return -1;
		}
		usleep(100 * 1000);
	}
}

/* Opens (or creates, owned by the user) the mailbox for appending. */
static int
mbox_open(const char *path, const struct mbox_deliver_settings *set,
	  const char **error_r)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path,
			  O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
			      O_CLOEXEC,
			  0600);
		if (fd >= 0 && set->uid != (uid_t)-1 &&
		    fchown(fd, set->uid, set->gid) < 0) {
			*error_r = maildir_set_error(
			    "%s does not exist and cannot be created for "
			    "uid %ld: %s",
			    path, (long)set->uid, strerror(errno));
			(void)unlink(path);
			close(fd);
			return -1;
		}
	}
	if (fd < 0) {
		*error_r =
		    maildir_set_error("open(%s): %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		*error_r = maildir_set_error("%s: not a plain file", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct mbox_deliver *
mbox_deliver_begin(const char *path, const char *sender, time_t now,
		   const struct mbox_deliver_settings *set,
		   const char **error_r)
{
	struct dotlock_settings dset = {
	    .timeout_secs =
		set->lock_timeout_secs != 0 ? set->lock_timeout_secs : 30,
	    .stale_secs = MBOX_LOCK_STALE_SECS,
	    .write_pid = true,
	};
	struct mbox_deliver *ctx;
	struct dotlock *lock;
	struct stat st;
	struct tm tm;
	char date[64];
	int fd, ret;

	ret = dotlock_create(path, &dset, &lock, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = maildir_set_error(
			    "%s: timed out waiting for dot-lock", path);
		return NULL;
	}
	if ((fd = mbox_open(path, set, error_r)) < 0) {
		const char *ignored;
		(void)dotlock_delete(&lock, &ignored);
		return NULL;
	}
	if (mbox_fcntl_lock(fd, path, dset.timeout_secs, error_r) < 0 ||
	    fstat(fd, &st) < 0) {
		const char *ignored;
		close(fd);
		(void)dotlock_delete(&lock, &ignored);
		return NULL;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->path = xstrdup(path);
	ctx->fd = fd;
	ctx->orig_size = st.st_size;
	ctx->dotlock = lock;
	strbuf_init(&ctx->out, STRBUF_UNLIMITED);

	/* asctime() form, in local time as Postfix and procmail write it */
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	if (strbuf_printf(&ctx->out, "From %s  %s\n",
			  sender != NULL && sender[0] != '\0' ? sender
							      : "MAILER-DAEMON",
			  date) < 0 ||
	    mbox_write_all(fd, ctx->out.data, ctx->out.len, path, error_r) <
		0) {
		mbox_deliver_abort(&ctx);
		return NULL;
	}
	strbuf_reset(&ctx->out);
	return ctx;
}

int
mbox_deliver_write(struct mbox_deliver *ctx, const void *data, size_t len,
		   const char **error_r)
{
	const char *p = data;

	while (len > 0) {
		size_t n = len < MBOX_CHUNK ? len : MBOX_CHUNK;

		strbuf_reset(&ctx->out);
		(void)mbox_quote_chunk(&ctx->quote, p, n, &ctx->out);
		if (mbox_write_all(ctx->fd, ctx->out.data, ctx->out.len,
				   ctx->path, error_r) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void
mbox_deliver_free(struct mbox_deliver **ctxp)
{
	struct mbox_deliver *ctx = *ctxp;
	const char *ignored;

	*ctxp = NULL;
	close(ctx->fd); /* drops the fcntl lock */
	(void)dotlock_delete(&ctx->dotlock, &ignored);
	strbuf_release(&ctx->out);
	xfree(&ctx->path);
	xfree(&ctx);
}

void
mbox_deliver_abort(struct mbox_deliver **ctxp)
{
	if (*ctxp == NULL)
		return;
	if (ftruncate((*ctxp)->fd, (*ctxp)->orig_size) < 0) {
		/* Nothing better to do: the From_ line of the next message
		 * still starts a new one, the partial one stays visible. */
	}
	mbox_deliver_free(ctxp);
}

int
mbox_deliver_finish(struct mbox_deliver **ctxp, const char **error_r)
{
	struct mbox_deliver *ctx = *ctxp;

	strbuf_reset(&ctx->out);
	(void)mbox_quote_end(&ctx->quote, &ctx->out);
	if (mbox_write_all(ctx->fd, ctx->out.data, ctx->out.len, ctx->path,
			   error_r) < 0)
		goto fail;
	if (fsync(ctx->fd) < 0) {
		*error_r = maildir_set_error("fsync(%s): %s", ctx->path,
					     strerror(errno));
		goto fail;
	}
	mbox_deliver_free(ctxp);
	return 0;
fail:
	mbox_deliver_abort(ctxp);
	return -1;
}
