/*
 * maildir_save - write tmp/, fsync, link to new/. The directory is trusted
 * (from the userdb); message bytes are untrusted and only copied. Must
 * never leave a partial file in new/ and never replace an existing one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mail/maildir.h"
#include "mail/maildir_name.h"
#include "mail/maildir_save.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define MAILDIR_SAVE_BUF 65536
#define MAILDIR_SAVE_TRIES 20

struct maildir_save {
	char *dir;
	char *base; /* file name in tmp/ */
	char *tmp_path;
	int fd;
	bool fsync;
	bool pending_cr; /* input ended in CR: wait to see if LF follows */
	char last_out;
	uint64_t size, vsize;
	size_t buf_used;
	char buf[MAILDIR_SAVE_BUF];
};

static int
maildir_save_host(const struct maildir_save_settings *set, struct strbuf *sb)
{
	char host[HOST_NAME_MAX + 1];
	const char *name = set != NULL ? set->hostname : NULL;

	if (name == NULL) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	return maildir_name_host(name, sb);
}

struct maildir_save *
maildir_save_begin(const char *dir, const struct maildir_save_settings *set,
		   const char **error_r)
{
	struct strbuf host, base;
	struct maildir_save *ctx;
	struct timeval tv;
	int fd = -1;

	strbuf_init(&host, 128);
	if (maildir_save_host(set, &host) < 0) {
		strbuf_release(&host);
		*error_r = maildir_set_error("hostname too long");
		return NULL;
	}
	strbuf_init(&base, MAILDIR_NAME_MAX - 48);
	for (int i = 0; i < MAILDIR_SAVE_TRIES; i++) {
		char *path;

		gettimeofday(&tv, NULL);
		maildir_name_unique_time(&tv);
		strbuf_reset(&base);
		if (maildir_name_base(&base, &tv, getpid(),
				      strbuf_cstr(&host)) < 0) {
			*error_r = maildir_set_error("file name too long");
			break;
		}
		path = xasprintf("%s/tmp/%s", dir, strbuf_cstr(&base));
		fd = open(path,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd >= 0) {
			ctx = xcalloc(1, sizeof(*ctx));
			ctx->dir = xstrdup(dir);
			ctx->base = strbuf_steal(&base);
			ctx->tmp_path = path;
			ctx->fd = fd;
			ctx->fsync = set == NULL || set->fsync;
			strbuf_release(&host);
			return ctx;
		}
		*error_r =
		    maildir_set_error("open(%s): %s", path, strerror(errno));
		xfree(&path);
		if (errno != EEXIST)
			break;
	}
	strbuf_release(&host);
	strbuf_release(&base);
	return NULL;
}

static int
maildir_save_flush(struct maildir_save *ctx, const char **error_r)
{
	size_t off = 0;

	while (off < ctx->buf_used) {
		ssize_t n = write(ctx->fd, ctx->buf + off, ctx->buf_used - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = maildir_set_error(
			    "write(%s): %s", ctx->tmp_path,
			    n < 0 ? strerror(errno) : "short write");
			return -1;
		}
		off += (size_t)n;
	}
	ctx->buf_used = 0;
	return 0;
}

static int
maildir_save_put(struct maildir_save *ctx, char c, const char **error_r)
{
	if (ctx->buf_used == sizeof(ctx->buf) &&
	    maildir_save_flush(ctx, error_r) < 0)
		return -1;
	ctx->buf[ctx->buf_used++] = c;
	ctx->size++;
	ctx->vsize += (c == '\n' && ctx->last_out != '\r') ? 2 : 1;
	ctx->last_out = c;
	return 0;
}

int
maildir_save_write(struct maildir_save *ctx, const void *data, size_t len,
		   const char **error_r)
{
	const char *p = data;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (ctx->pending_cr) {
			ctx->pending_cr = false;
			if (c != '\n' &&
			    maildir_save_put(ctx, '\r', error_r) < 0)
				return -1;
		}
		if (c == '\r') {
			ctx->pending_cr = true;
			continue;
		}
		if (maildir_save_put(ctx, c, error_r) < 0)
			return -1;
	}
	return 0;
}

uint64_t
maildir_save_size(const struct maildir_save *ctx)
{
	return ctx->size;
}

uint64_t
maildir_save_vsize(const struct maildir_save *ctx)
{
	return ctx->vsize;
}

static void
maildir_save_free(struct maildir_save **ctxp)
{
	struct maildir_save *ctx = *ctxp;

	*ctxp = NULL;
	if (ctx->fd >= 0)
		close(ctx->fd);
	xfree(&ctx->dir);
	xfree(&ctx->base);
	xfree(&ctx->tmp_path);
	xfree(&ctx);
}

void
maildir_save_abort(struct maildir_save **ctxp)
{
	if (*ctxp == NULL)
		return;
	(void)unlink((*ctxp)->tmp_path);
	maildir_save_free(ctxp);
}

static int
maildir_save_fsync_dir(const char *dir, const char **error_r)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		*error_r =
		    maildir_set_error("fsync(%s): %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
maildir_save_finish(struct maildir_save **ctxp, char **filename_r,
		    const char **error_r)
{
	struct maildir_save *ctx = *ctxp;
	struct strbuf name;
	char *new_path, *new_dir;

	if (ctx->pending_cr) {
		ctx->pending_cr = false;
		if (maildir_save_put(ctx, '\r', error_r) < 0)
			goto fail;
	}
	if (maildir_save_flush(ctx, error_r) < 0)
		goto fail;
	if (ctx->fsync && fsync(ctx->fd) < 0) {
		*error_r = maildir_set_error("fsync(%s): %s", ctx->tmp_path,
					     strerror(errno));
		goto fail;
	}
	if (close(ctx->fd) < 0) {
		ctx->fd = -1;
		*error_r = maildir_set_error("close(%s): %s", ctx->tmp_path,
					     strerror(errno));
		goto fail;
	}
	ctx->fd = -1;

	strbuf_init(&name, MAILDIR_NAME_MAX);
	if (strbuf_append_str(&name, ctx->base) < 0 ||
	    maildir_name_append_sizes(&name, ctx->size, ctx->vsize) < 0) {
		strbuf_release(&name);
		*error_r = maildir_set_error("file name too long");
		goto fail;
	}
	new_path = xasprintf("%s/new/%s", ctx->dir, strbuf_cstr(&name));
	if (link(ctx->tmp_path, new_path) < 0) {
		*error_r = maildir_set_error("link(%s, %s): %s", ctx->tmp_path,
					     new_path, strerror(errno));
		xfree(&new_path);
		strbuf_release(&name);
		goto fail;
	}
	(void)unlink(ctx->tmp_path);
	new_dir = xasprintf("%s/new", ctx->dir);
	if (ctx->fsync && maildir_save_fsync_dir(new_dir, error_r) < 0) {
		/* Not known to be durable: take it back so that the sender
		 * retries instead of trusting a 250. */
		(void)unlink(new_path);
		xfree(&new_dir);
		xfree(&new_path);
		strbuf_release(&name);
		maildir_save_free(ctxp);
		return -1;
	}
	xfree(&new_dir);
	xfree(&new_path);
	if (filename_r != NULL)
		*filename_r = strbuf_steal(&name);
	strbuf_release(&name);
	maildir_save_free(ctxp);
	return 0;
fail:
	maildir_save_abort(ctxp);
	return -1;
}
