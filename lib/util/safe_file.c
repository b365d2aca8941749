/*
 * safe_file - file operations that survive crashes and races. Paths come
 * from trusted configuration or from the program itself; file contents read
 * are bounded by the caller. It must not follow a symlink where it creates
 * or replaces a file, and never leaves a partial file under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/safe_file.h"
#include "util/xmem.h"

static char safe_error_buf[PATH_MAX + 128];

static const char *
safe_error(const char *func, const char *object, int err)
{
	snprintf(safe_error_buf, sizeof(safe_error_buf), "%s: %s: %s", func,
		 object, strerror(err));
	return safe_error_buf;
}

static const char *
safe_error_text(const char *func, const char *object, const char *text)
{
	snprintf(safe_error_buf, sizeof(safe_error_buf), "%s: %s: %s", func,
		 object, text);
	return safe_error_buf;
}

int
safe_file_fsync_dir(const char *dir, const char **error_r)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		*error_r = safe_error("safe_file_fsync_dir", dir, errno);
		return -1;
	}
	if (fsync(fd) < 0) {
		*error_r = safe_error("safe_file_fsync_dir", dir, errno);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
safe_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
safe_file_write(const char *path, const void *data, size_t len, mode_t mode,
		const char **error_r)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], tmp[PATH_MAX];
	struct timespec ts;
	size_t dir_len;
	int fd, n, err;

	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else {
		dir_len = slash == path ? 1 : (size_t)(slash - path);
		if (dir_len >= sizeof(dir)) {
			*error_r =
			    safe_error("safe_file_write", path, ENAMETOOLONG);
			return -1;
		}
		memcpy(dir, path, dir_len);
		dir[dir_len] = '\0';
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld.%ld", dir,
		     slash == NULL ? path : slash + 1, (long)getpid(),
		     (long)ts.tv_nsec);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		*error_r = safe_error("safe_file_write", path, ENAMETOOLONG);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0) {
		*error_r = safe_error("safe_file_write", tmp, errno);
		return -1;
	}
	if (fchmod(fd, mode) < 0 || safe_write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		*error_r = safe_error("safe_file_write", tmp, err);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		err = errno;
		unlink(tmp);
		*error_r = safe_error("safe_file_write", path, err);
		return -1;
	}
	return safe_file_fsync_dir(dir, error_r);
}

static int
safe_mkdir_one(const char *path, mode_t mode, const char **error_r)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST) {
		*error_r = safe_error("safe_mkdir_p", path, errno);
		return -1;
	}
	if (stat(path, &st) < 0) {
		*error_r = safe_error("safe_mkdir_p", path, errno);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = safe_error("safe_mkdir_p", path, ENOTDIR);
		return -1;
	}
	return 0;
}

int
safe_mkdir_p(const char *path, mode_t mode, uid_t uid, gid_t gid,
	     const char **error_r)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;
	struct stat st;
	int fd;

	if (len == 0 || len >= sizeof(buf)) {
		*error_r = safe_error("safe_mkdir_p", path, ENAMETOOLONG);
		return -1;
	}
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (i = 1; i < len; i++) {
		if (buf[i] != '/' || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (safe_mkdir_one(buf, 0755, error_r) < 0)
			return -1;
		buf[i] = '/';
	}
	if (safe_mkdir_one(buf, mode, error_r) < 0)
		return -1;
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*error_r = safe_error("safe_mkdir_p", buf, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	     (st.st_uid != uid || st.st_gid != gid) &&
	     fchown(fd, uid, gid) < 0) ||
	    fchmod(fd, mode) < 0) {
		*error_r = safe_error("safe_mkdir_p", buf, errno);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
safe_file_read(const char *path, size_t max, char **data_r, size_t *len_r,
	       const char **error_r)
{
	struct stat st;
	size_t len = 0, size;
	char *data;
	ssize_t n;
	int fd;

	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*error_r = safe_error("safe_file_read", path, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = safe_error("safe_file_read", path, errno);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = safe_error_text("safe_file_read", path,
					   "not a regular file");
		close(fd);
		return -1;
	}
	if ((uintmax_t)st.st_size > max) {
		*error_r =
		    safe_error_text("safe_file_read", path, "file too large");
		close(fd);
		return -1;
	}
	/* One byte of slack shows a file that grew past max meanwhile. */
	size = (size_t)st.st_size + 2;
	if (size > max + 2)
		size = max + 2;
	data = xmalloc(size);
	for (;;) {
		if (len == size - 1) {
			if (len > max)
				break;
			size = size * 2 > max + 2 ? max + 2 : size * 2;
			data = xrealloc(data, size);
		}
		n = read(fd, data + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = safe_error("safe_file_read", path, errno);
			free(data);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		*error_r =
		    safe_error_text("safe_file_read", path, "file too large");
		free(data);
		return -1;
	}
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}
