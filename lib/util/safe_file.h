/*
 * safe_file - durable file replacement (temp file, fsync, rename, fsync of
 * the directory), bounded reads and directory creation.
 */
#ifndef SAFE_FILE_H
#define SAFE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces path atomically with len bytes of data and the given mode:
 * readers see the old content or the new, never a mix, and after a 0
 * return the new content survives a crash. 0, or -1 and *error_r (valid
 * until the next safe_* call); on error path is unchanged. */
int safe_file_write(const char *path, const void *data, size_t len, mode_t mode,
		    const char **error_r);
/* fsync()s the directory so renames and creations in it are durable. */
int safe_file_fsync_dir(const char *dir, const char **error_r);
/* Creates path and any missing parents (parents with mode 0755). The last
 * component gets mode and, unless uid/gid is (uid_t)-1/(gid_t)-1, that
 * owner, also when it already existed; it must be a directory, not a
 * symlink. */
int safe_mkdir_p(const char *path, mode_t mode, uid_t uid, gid_t gid,
		 const char **error_r);
/* Reads a regular file of at most max bytes into a new NUL-terminated
 * buffer (*data_r, freed by the caller; *len_r excludes the NUL). A larger
 * file is an error, never a truncation. */
int safe_file_read(const char *path, size_t max, char **data_r, size_t *len_r,
		   const char **error_r);

#endif
