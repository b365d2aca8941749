/*
 * mail_folders_tree - the operations that change the Maildir++ folder tree
 * (CREATE, DELETE, RENAME) and the quota usage (see mail_folders.h). Names
 * are checked by the caller (mail_folders_name_check()); directory entries
 * are untrusted: they are never followed when removing (a symlinked folder
 * loses its link, not its target), and the recursive removal is
 * depth-bounded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/dotlock.h"
#include "mail/mail_folders.h"
#include "mail/maildir.h"
#include "mail/maildir_name.h"
#include "mail/mutf7.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Depth of the recursive removal: folder/cur/file plus index dirs. */
#define RMTREE_DEPTH_MAX 8

/* ---- tree operations ---- */

int
mail_folders_exists(const struct mail_folders *f, const char *name,
		    const char **error_r)
{
	char *dir;
	struct stat st;
	int ret;

	if (strcmp(name, "INBOX") == 0)
		return 1;
	dir = mail_folders_dir(f, name);
	if (stat(dir, &st) == 0)
		ret = S_ISDIR(st.st_mode) ? 1 : 0;
	else if (errno == ENOENT || errno == ENOTDIR)
		ret = 0;
	else {
		*error_r = maildir_set_error("stat(%s): %s", dir,
					     strerror(errno));
		ret = -1;
	}
	xfree(&dir);
	return ret;
}

int
mail_folders_create(const struct mail_folders *f, const char *name,
		    const char **error_r)
{
	char *dir;
	int ret = MAIL_FOLDERS_OK;

	if (strcmp(name, "INBOX") == 0)
		return MAIL_FOLDERS_EXISTS;
	dir = mail_folders_dir(f, name);
	/* the folder's own mkdir decides who created it */
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			ret = MAIL_FOLDERS_EXISTS;
		else {
			*error_r = maildir_set_error("mkdir(%s): %s", dir,
						     strerror(errno));
			ret = MAIL_FOLDERS_ERROR;
		}
	} else if (maildir_create(dir, true, error_r) < 0)
		ret = MAIL_FOLDERS_ERROR;
	xfree(&dir);
	return ret;
}

static int
rmtree_at(int pfd, const char *name, unsigned int depth, const char **error_r)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = maildir_set_error("stat(%s): %s", name,
					     strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT) {
			*error_r = maildir_set_error("unlink(%s): %s", name,
						     strerror(errno));
			return -1;
		}
		return 0;
	}
	if (depth >= RMTREE_DEPTH_MAX) {
		*error_r = maildir_set_error("%s: directories nested too deep",
					     name);
		return -1;
	}
	fd = openat(pfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		*error_r = maildir_set_error("opendir(%s): %s", name,
					     strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		ret = rmtree_at(dirfd(d), de->d_name, depth + 1, error_r);
	}
	closedir(d);
	if (ret == 0 && unlinkat(pfd, name, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT) {
		*error_r = maildir_set_error("rmdir(%s): %s", name,
					     strerror(errno));
		ret = -1;
	}
	return ret;
}

int
mail_folders_delete(const struct mail_folders *f, const char *name,
		    const char **error_r)
{
	char *dir, *trash;
	int rfd, ret = MAIL_FOLDERS_OK;

	if (strcmp(name, "INBOX") == 0)
		return MAIL_FOLDERS_INBOX;
	dir = mail_folders_dir(f, name);
	trash = xasprintf("%s/%s", f->root, MAIL_FOLDERS_TRASH_DIR);
	if ((rfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*error_r = maildir_set_error("open(%s): %s", f->root,
					     strerror(errno));
		ret = MAIL_FOLDERS_ERROR;
		goto out;
	}
	for (int tries = 0;; tries++) {
		if (rename(dir, trash) == 0)
			break;
		if (errno == ENOENT) {
			ret = MAIL_FOLDERS_NOTFOUND;
			goto out;
		}
		if ((errno == ENOTEMPTY || errno == EEXIST) && tries < 2) {
			/* left over from an earlier delete: finish it */
			if (rmtree_at(rfd, MAIL_FOLDERS_TRASH_DIR, 0,
				      error_r) < 0) {
				ret = MAIL_FOLDERS_ERROR;
				goto out;
			}
			continue;
		}
		*error_r = maildir_set_error("rename(%s, %s): %s", dir, trash,
					     strerror(errno));
		ret = MAIL_FOLDERS_ERROR;
		goto out;
	}
	if (rmtree_at(rfd, MAIL_FOLDERS_TRASH_DIR, 0, error_r) < 0)
		ret = MAIL_FOLDERS_ERROR;
out:
	if (rfd >= 0)
		close(rfd);
	xfree(&dir);
	xfree(&trash);
	return ret;
}

/* rename() that never replaces an existing (empty) directory. */
static int
rename_noreplace(const char *from, const char *to)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	struct stat st;

	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

static int
copy_small_file(const char *from, const char *to, const char **error_r)
{
	char buf[65536];
	ssize_t n;
	int in, out, ret = 0;

	if ((in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(in, buf, sizeof(buf));
	close(in);
	if (n < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0600);
	if (out < 0 || write(out, buf, (size_t)n) != n) {
		*error_r = maildir_set_error("write(%s): %s", to,
					     strerror(errno));
		ret = -1;
	}
	if (out >= 0)
		close(out);
	return ret;
}

static int
rename_inbox(const struct mail_folders *f, const char *newname,
	     const char **error_r)
{
	static const char *const subs[] = {"cur", "new"};
	char *newdir = mail_folders_dir(f, newname);
	int ret = MAIL_FOLDERS_OK;

	if (mkdir(newdir, 0700) < 0) {
		ret = errno == EEXIST ? MAIL_FOLDERS_EXISTS
				      : MAIL_FOLDERS_ERROR;
		if (ret == MAIL_FOLDERS_ERROR)
			*error_r = maildir_set_error("mkdir(%s): %s", newdir,
						     strerror(errno));
		xfree(&newdir);
		return ret;
	}
	if (maildir_create(newdir, true, error_r) < 0) {
		xfree(&newdir);
		return MAIL_FOLDERS_ERROR;
	}
	/* keyword letters in the file names keep their meaning */
	char *kw_from = xasprintf("%s/dovecot-keywords", f->inbox_dir);
	char *kw_to = xasprintf("%s/dovecot-keywords", newdir);

	if (copy_small_file(kw_from, kw_to, error_r) < 0)
		ret = MAIL_FOLDERS_ERROR;
	xfree(&kw_from);
	xfree(&kw_to);
	for (size_t i = 0; i < 2 && ret == MAIL_FOLDERS_OK; i++) {
		char *src = xasprintf("%s/%s", f->inbox_dir, subs[i]);
		char *dst = xasprintf("%s/%s", newdir, subs[i]);
		int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
		struct dirent *de;

		if (d == NULL || dfd < 0) {
			*error_r = maildir_set_error("opendir(%s): %s", src,
						     strerror(errno));
			ret = MAIL_FOLDERS_ERROR;
		}
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (renameat(dirfd(d), de->d_name, dfd, de->d_name) <
				0 &&
			    errno != ENOENT) {
				*error_r = maildir_set_error(
				    "rename(%s/%s): %s", src, de->d_name,
				    strerror(errno));
				ret = MAIL_FOLDERS_ERROR;
				break;
			}
		}
		if (d != NULL)
			closedir(d);
		else if (sfd >= 0)
			close(sfd);
		if (dfd >= 0)
			close(dfd);
		xfree(&src);
		xfree(&dst);
	}
	xfree(&newdir);
	return ret;
}

int
mail_folders_rename(const struct mail_folders *f, const char *oldname,
		    const char *newname, const char **error_r)
{
	struct mail_folder_list list;
	const char *e;
	char *olddir, *newdir, **children_new = NULL;
	size_t oldlen = strlen(oldname), first, nchildren = 0;
	bool found;
	int ret = MAIL_FOLDERS_OK;

	if (strcmp(newname, "INBOX") == 0)
		return MAIL_FOLDERS_EXISTS;
	if (strcmp(oldname, "INBOX") == 0)
		return rename_inbox(f, newname, error_r);
	if (strcmp(oldname, newname) == 0)
		return MAIL_FOLDERS_EXISTS;
	if (mail_folders_list(f, &list, error_r) < 0)
		return MAIL_FOLDERS_ERROR;
	{
		const struct mail_folder_info *to =
		    mail_folder_list_find(&list, newname);

		if (to != NULL &&
		    (to->flags & MAIL_FOLDER_NONEXISTENT) == 0) {
			mail_folder_list_free(&list);
			return MAIL_FOLDERS_EXISTS;
		}
	}
	/* the children first: their new names must all be valid */
	{
		char *prefix = xasprintf("%s%c", oldname, MAIL_FOLDERS_SEP);

		first = mail_folder_list_lower_bound(&list, prefix);
		xfree(&prefix);
	}
	for (size_t i = first; i < list.count; i++) {
		const struct mail_folder_info *c = &list.items[i];
		char *nn, *checked;

		if (strncmp(c->name, oldname, oldlen) != 0 ||
		    c->name[oldlen] != MAIL_FOLDERS_SEP)
			break;
		if ((c->flags & MAIL_FOLDER_NONEXISTENT) != 0)
			continue;
		nn = xasprintf("%s%s", newname, c->name + oldlen);
		checked = mail_folders_name_check(nn, &e);
		xfree(&nn);
		if (checked == NULL) {
			*error_r = maildir_set_error("%s", e);
			ret = MAIL_FOLDERS_INVALID;
			break;
		}
		children_new = xreallocarray(children_new, nchildren + 1,
					     2 * sizeof(char *));
		children_new[2 * nchildren] = xstrdup(c->name);
		children_new[2 * nchildren + 1] = checked;
		nchildren++;
	}
	mail_folder_list_free(&list);
	olddir = mail_folders_dir(f, oldname);
	newdir = mail_folders_dir(f, newname);
	found = false;
	if (ret == MAIL_FOLDERS_OK) {
		if (rename_noreplace(olddir, newdir) == 0)
			found = true;
		else if (errno == EEXIST || errno == ENOTEMPTY)
			ret = MAIL_FOLDERS_EXISTS;
		else if (errno != ENOENT) {
			*error_r = maildir_set_error("rename(%s, %s): %s",
						     olddir, newdir,
						     strerror(errno));
			ret = MAIL_FOLDERS_ERROR;
		}
	}
	for (size_t i = 0; ret == MAIL_FOLDERS_OK && i < nchildren; i++) {
		char *from = mail_folders_dir(f, children_new[2 * i]);
		char *to = mail_folders_dir(f, children_new[2 * i + 1]);

		/* as Dovecot: a child whose new name is taken stays */
		if (rename_noreplace(from, to) == 0)
			found = true;
		else if (errno != EEXIST && errno != ENOTEMPTY &&
			 errno != ENOENT) {
			*error_r = maildir_set_error("rename(%s, %s): %s",
						     from, to,
						     strerror(errno));
			ret = MAIL_FOLDERS_ERROR;
		}
		xfree(&from);
		xfree(&to);
	}
	if (ret == MAIL_FOLDERS_OK && !found)
		ret = MAIL_FOLDERS_NOTFOUND;
	for (size_t i = 0; i < 2 * nchildren; i++)
		xfree(&children_new[i]);
	xfree(&children_new);
	xfree(&olddir);
	xfree(&newdir);
	return ret;
}

/* ---- quota usage ---- */

static int
usage_dir(const char *dir, uint64_t *bytes, uint64_t *msgs,
	  const char **error_r)
{
	static const char *const subs[] = {"cur", "new"};

	for (size_t i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", dir, subs[i]);
		DIR *d = opendir(path);
		struct dirent *de;

		if (d == NULL) {
			int err = errno;

			xfree(&path);
			if (err == ENOENT || err == ENOTDIR)
				continue;
			*error_r = maildir_set_error("opendir(%s/%s): %s", dir,
						     subs[i], strerror(err));
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			struct maildir_name mn;
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			if (maildir_name_parse(de->d_name, &mn) == 0 &&
			    mn.has_size) {
				*bytes += mn.size;
				(*msgs)++;
			} else if (fstatat(dirfd(d), de->d_name, &st,
					   AT_SYMLINK_NOFOLLOW) == 0 &&
				   S_ISREG(st.st_mode)) {
				*bytes += (uint64_t)st.st_size;
				(*msgs)++;
			}
		}
		closedir(d);
		xfree(&path);
	}
	return 0;
}

int
mail_folders_usage(const struct mail_folders *f, uint64_t *bytes_r,
		   uint64_t *messages_r, const char **error_r)
{
	struct mail_folder_list list;
	int ret = 0;

	*bytes_r = 0;
	*messages_r = 0;
	if (mail_folders_list(f, &list, error_r) < 0)
		return -1;
	for (size_t i = 0; i < list.count && ret == 0; i++) {
		char *dir;

		if ((list.items[i].flags & MAIL_FOLDER_NONEXISTENT) != 0)
			continue;
		dir = mail_folders_dir(f, list.items[i].name);
		ret = usage_dir(dir, bytes_r, messages_r, error_r);
		xfree(&dir);
	}
	mail_folder_list_free(&list);
	return ret;
}
