/*
 * maildir - Maildir++ folder paths and creation. Folder names are
 * untrusted; roots come from the userdb (trusted). Must not create
 * anything outside the root given, nor follow a symlink it did not find
 * already in place for the root's parents.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/maildir.h"
#include "mail/mutf7.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static _Thread_local char maildir_errbuf[512];

const char *
maildir_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(maildir_errbuf, sizeof(maildir_errbuf), fmt, ap);
	va_end(ap);
	return maildir_errbuf;
}

int
maildir_folder_dir(const char *root, const char *folder, char **dir_r,
		   const char **error_r)
{
	struct strbuf sb;
	size_t len;

	if (folder == NULL || folder[0] == '\0' ||
	    strcasecmp(folder, "INBOX") == 0) {
		*dir_r = xstrdup(root);
		return 0;
	}
	len = strnlen(folder, MAILDIR_FOLDER_NAME_MAX + 1);
	if (len > MAILDIR_FOLDER_NAME_MAX) {
		*error_r = maildir_set_error("folder name too long");
		return -1;
	}
	if (folder[0] == '.' || folder[len - 1] == '.' ||
	    strstr(folder, "..") != NULL) {
		*error_r =
		    maildir_set_error("%s: empty hierarchy level", folder);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)folder[i];

		if (c < 0x20 || c == 0x7f || c == '/') {
			*error_r = maildir_set_error(
			    "folder name has an invalid character");
			return -1;
		}
	}
	strbuf_init(&sb, 255);
	if (strbuf_append_char(&sb, '.') < 0 || mutf7_encode(folder, &sb) < 0) {
		strbuf_release(&sb);
		*error_r = maildir_set_error("folder name is not valid UTF-8 "
					     "or too long");
		return -1;
	}
	*dir_r = xasprintf("%s/%s", root, strbuf_cstr(&sb));
	strbuf_release(&sb);
	return 0;
}

static int
maildir_is_dir(const char *path, const char **error_r)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*error_r =
		    maildir_set_error("stat(%s): %s", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

int
maildir_exists(const char *dir, const char **error_r)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	int ret;

	if ((ret = maildir_is_dir(dir, error_r)) <= 0)
		return ret;
	for (size_t i = 0; i < 3; i++) {
		char *path = xasprintf("%s/%s", dir, subs[i]);

		ret = maildir_is_dir(path, error_r);
		xfree(&path);
		if (ret <= 0)
			return ret;
	}
	return 1;
}

/* mkdir that accepts an existing directory. */
static int
maildir_mkdir(const char *path, const char **error_r)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	*error_r = maildir_set_error("mkdir(%s): %s", path,
				     errno == EEXIST ? "not a directory"
						     : strerror(errno));
	return -1;
}

static int
maildir_mkdir_parents(const char *dir, const char **error_r)
{
	char *buf = xstrdup(dir);
	int ret = 0;

	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (maildir_is_dir(buf, error_r) == 0 &&
		    maildir_mkdir(buf, error_r) < 0)
			ret = -1;
		*p = '/';
		if (ret < 0)
			break;
	}
	xfree(&buf);
	return ret;
}

int
maildir_create(const char *dir, bool is_folder, const char **error_r)
{
	static const char *const subs[] = {"tmp", "new", "cur"};

	if (dir[0] != '/') {
		*error_r = maildir_set_error("%s: not an absolute path", dir);
		return -1;
	}
	if (maildir_mkdir_parents(dir, error_r) < 0 ||
	    maildir_mkdir(dir, error_r) < 0)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		char *path = xasprintf("%s/%s", dir, subs[i]);
		int ret = maildir_mkdir(path, error_r);

		xfree(&path);
		if (ret < 0)
			return -1;
	}
	if (is_folder) {
		char *path = xasprintf("%s/maildirfolder", dir);
		int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			      0600);

		if (fd < 0) {
			*error_r = maildir_set_error("open(%s): %s", path,
						     strerror(errno));
			xfree(&path);
			return -1;
		}
		close(fd);
		xfree(&path);
	}
	return 0;
}
