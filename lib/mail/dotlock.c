/*
 * dotlock - exclusive lock files beside the locked file. Paths are
 * trusted (built by our own code); the lock files themselves may be left
 * by any process sharing the directory. Must not follow a symlink for the
 * lock file (O_EXCL guarantees it) and must never remove a lock that
 * another live process holds unless it is older than stale_secs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/dotlock.h"
#include "util/xmem.h"

struct dotlock {
	char *path;	 /* the locked file */
	char *lock_path; /* path.lock */
	int fd;
	dev_t dev;
	ino_t ino;
};

static _Thread_local char dotlock_errbuf[512];

/* "what(path): error", or "path: error" when what is "". */
static const char *
dotlock_error(const char *what, const char *path, int err)
{
	if (what[0] == '\0')
		snprintf(dotlock_errbuf, sizeof(dotlock_errbuf), "%s: %s", path,
			 strerror(err));
	else
		snprintf(dotlock_errbuf, sizeof(dotlock_errbuf), "%s(%s): %s",
			 what, path, strerror(err));
	return dotlock_errbuf;
}

/* Removes lock_path when its mtime is older than stale_secs. */
static void
dotlock_remove_stale(const char *lock_path, unsigned int stale_secs)
{
	struct stat st;

	if (stale_secs == 0 || lstat(lock_path, &st) < 0)
		return;
	if (time(NULL) - st.st_mtime > (time_t)stale_secs)
		(void)unlink(lock_path);
}

int
dotlock_create(const char *path, const struct dotlock_settings *set,
	       struct dotlock **lock_r, const char **error_r)
{
	char *lock_path = xasprintf("%s.lock", path);
	struct timespec start, now;
	struct stat st;
	unsigned int sleep_ms = 10;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		fd = open(lock_path,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  set->write_pid ? 0660 : 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			*error_r = dotlock_error("open", lock_path, errno);
			xfree(&lock_path);
			return -1;
		}
		dotlock_remove_stale(lock_path, set->stale_secs);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)set->timeout_secs) {
			*error_r = dotlock_error("", lock_path, ETIMEDOUT);
			xfree(&lock_path);
			return 0;
		}
		usleep(sleep_ms * 1000);
		if (sleep_ms < 200)
			sleep_ms *= 2;
	}
	if (set->write_pid) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

		if (write(fd, buf, (size_t)n) != n) {
			*error_r = dotlock_error("write", lock_path, errno);
			(void)unlink(lock_path);
			close(fd);
			xfree(&lock_path);
			return -1;
		}
	}
	if (fstat(fd, &st) < 0) {
		*error_r = dotlock_error("fstat", lock_path, errno);
		(void)unlink(lock_path);
		close(fd);
		xfree(&lock_path);
		return -1;
	}
	struct dotlock *lock = xcalloc(1, sizeof(*lock));
	lock->path = xstrdup(path);
	lock->lock_path = lock_path;
	lock->fd = fd;
	lock->dev = st.st_dev;
	lock->ino = st.st_ino;
	*lock_r = lock;
	return 1;
}

int
dotlock_fd(const struct dotlock *lock)
{
	return lock->fd;
}

static void
dotlock_free(struct dotlock **lockp)
{
	struct dotlock *lock = *lockp;

	if (lock == NULL)
		return;
	*lockp = NULL;
	if (lock->fd >= 0)
		close(lock->fd);
	xfree(&lock->path);
	xfree(&lock->lock_path);
	xfree(&lock);
}

/* Whether lock_path is still the file we created. */
static bool
dotlock_is_ours(const struct dotlock *lock)
{
	struct stat st;

	return lstat(lock->lock_path, &st) == 0 && st.st_dev == lock->dev &&
	       st.st_ino == lock->ino;
}

int
dotlock_replace(struct dotlock **lockp, const char **error_r)
{
	struct dotlock *lock = *lockp;
	int ret = 0;

	if (fsync(lock->fd) < 0) {
		*error_r = dotlock_error("fsync", lock->lock_path, errno);
		(void)unlink(lock->lock_path);
		ret = -1;
	} else if (!dotlock_is_ours(lock)) {
		*error_r = dotlock_error("", lock->lock_path, ESTALE);
		ret = -1;
	} else if (rename(lock->lock_path, lock->path) < 0) {
		*error_r = dotlock_error("rename", lock->lock_path, errno);
		(void)unlink(lock->lock_path);
		ret = -1;
	}
	dotlock_free(lockp);
	return ret;
}

int
dotlock_delete(struct dotlock **lockp, const char **error_r)
{
	struct dotlock *lock = *lockp;
	int ret = 0;

	if (!dotlock_is_ours(lock)) {
		*error_r = dotlock_error("", lock->lock_path, ESTALE);
		ret = -1;
	} else if (unlink(lock->lock_path) < 0) {
		*error_r = dotlock_error("unlink", lock->lock_path, errno);
		ret = -1;
	}
	dotlock_free(lockp);
	return ret;
}
