/*
 * mailbox_msg - one message of a synced mailbox: open, sizes, flags by
 * rename(), expunge by unlink(). File names come from mailbox_sync (valid
 * Maildir names, no '/'); another session may rename or unlink a file at
 * any moment, so ENOENT leads to a search for the same base name.
 * Blocking I/O; no logging.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/mailbox.h"
#include "mail/maildir.h"
#include "mail/maildir_name.h"
#include "util/xmem.h"

static size_t
name_base_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

static char *
msg_path(const struct mailbox *box, const struct mailbox_msg *msg)
{
	return xasprintf("%s/%s/%s", box->dir, msg->in_new ? "new" : "cur",
			 msg->filename);
}

/* Looks for msg's base name in cur/ then new/: 1 found (msg updated),
 * 0 gone, -1 error. */
static int
msg_relocate(struct mailbox *box, struct mailbox_msg *msg,
	     const char **error_r)
{
	static const char *const subs[] = {"cur", "new"};
	size_t len = name_base_len(msg->filename);

	for (unsigned int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", box->dir, subs[i]);
		DIR *d = opendir(path);
		struct dirent *de;

		if (d == NULL) {
			*error_r = maildir_set_error("opendir(%s): %s", path,
						     strerror(errno));
			xfree(&path);
			return -1;
		}
		xfree(&path);
		while ((de = readdir(d)) != NULL) {
			if (name_base_len(de->d_name) == len &&
			    memcmp(de->d_name, msg->filename, len) == 0 &&
			    strcmp(de->d_name, msg->filename) != 0) {
				char *name = xstrdup(de->d_name);

				closedir(d);
				xfree(&msg->filename);
				msg->filename = name;
				msg->in_new = i == 1;
				return 1;
			}
		}
		closedir(d);
	}
	return 0;
}

int
mailbox_msg_open(struct mailbox *box, size_t idx, int *fd_r, bool *expunged_r,
		 const char **error_r)
{
	struct mailbox_msg *msg = &box->msgs[idx];

	if (expunged_r != NULL)
		*expunged_r = false;
	for (unsigned int try = 0;; try++) {
		char *path = msg_path(box, msg);
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int ret;

		if (fd >= 0) {
			xfree(&path);
			*fd_r = fd;
			return 0;
		}
		if (errno != ENOENT || try > 0) {
			*error_r = maildir_set_error("open(%s): %s", path,
						     strerror(errno));
			xfree(&path);
			return -1;
		}
		xfree(&path);
		ret = msg_relocate(box, msg, error_r);
		if (ret < 0)
			return -1;
		if (ret == 0) {
			if (expunged_r != NULL)
				*expunged_r = true;
			*error_r = maildir_set_error("UID %u: expunged",
						     msg->uid);
			return -1;
		}
	}
}

int
mailbox_msg_size(struct mailbox *box, size_t idx, uint64_t *size_r,
		 const char **error_r)
{
	struct mailbox_msg *msg = &box->msgs[idx];
	struct stat st;
	int fd;

	if (!msg->has_size) {
		if (mailbox_msg_open(box, idx, &fd, NULL, error_r) < 0)
			return -1;
		if (fstat(fd, &st) < 0) {
			*error_r = maildir_set_error("fstat(%s): %s",
						     msg->filename,
						     strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		msg->size = (uint64_t)st.st_size;
		msg->has_size = true;
	}
	*size_r = msg->size;
	return 0;
}

int
mailbox_msg_vsize(struct mailbox *box, size_t idx, uint64_t *vsize_r,
		  const char **error_r)
{
	struct mailbox_msg *msg = &box->msgs[idx];
	char buf[8192];
	uint64_t vsize = 0;
	char prev = '\0';
	ssize_t n;
	int fd;

	if (msg->has_vsize) {
		*vsize_r = msg->vsize;
		return 0;
	}
	if (mailbox_msg_open(box, idx, &fd, NULL, error_r) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*error_r = maildir_set_error("read(%s): %s",
						     msg->filename,
						     strerror(errno));
			close(fd);
			return -1;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				vsize++;
			prev = buf[i];
		}
		vsize += (uint64_t)n;
	}
	close(fd);
	msg->vsize = vsize;
	msg->has_vsize = true;
	*vsize_r = vsize;
	return 0;
}

const char *
mailbox_msg_flags(const struct mailbox_msg *msg)
{
	const char *p = strstr(msg->filename, ":2,");

	return p != NULL ? p + 3 : "";
}

int
mailbox_msg_set_flags(struct mailbox *box, size_t idx, const char *flags,
		      const char **error_r)
{
	struct mailbox_msg *msg = &box->msgs[idx];
	bool have[128] = {false};
	char sorted[53];
	size_t n = 0;

	for (const char *p = flags; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
			*error_r = maildir_set_error("invalid flag letter");
			return -1;
		}
		have[c] = true;
	}
	for (unsigned int c = 'A'; c <= 'z'; c++) {
		if (have[c])
			sorted[n++] = (char)c;
	}
	sorted[n] = '\0';
	for (unsigned int try = 0;; try++) {
		size_t blen = name_base_len(msg->filename);
		char *newname = xasprintf("%.*s:2,%s", (int)blen, msg->filename,
					  sorted);
		char *src = msg_path(box, msg);
		char *dest = xasprintf("%s/cur/%s", box->dir, newname);
		int ret;

		if (strlen(newname) > MAILDIR_NAME_MAX) {
			*error_r = maildir_set_error("file name too long");
			ret = -1;
		} else if (strcmp(src, dest) == 0 || rename(src, dest) == 0) {
			xfree(&msg->filename);
			msg->filename = newname;
			newname = NULL;
			msg->in_new = false;
			ret = 0;
		} else if (errno == ENOENT && try == 0) {
			ret = 1;
		} else {
			*error_r = maildir_set_error("rename(%s, %s): %s", src,
						     dest, strerror(errno));
			ret = -1;
		}
		xfree(&newname);
		xfree(&src);
		xfree(&dest);
		if (ret <= 0)
			return ret;
		ret = msg_relocate(box, msg, error_r);
		if (ret <= 0) {
			if (ret == 0)
				*error_r = maildir_set_error(
				    "UID %u: expunged", msg->uid);
			return -1;
		}
	}
}

int
mailbox_msg_expunge(struct mailbox *box, size_t idx, const char **error_r)
{
	struct mailbox_msg *msg = &box->msgs[idx];

	for (unsigned int try = 0;; try++) {
		char *path = msg_path(box, msg);
		int ret;

		if (unlink(path) == 0) {
			xfree(&path);
			return 0;
		}
		if (errno != ENOENT || try > 0) {
			if (errno == ENOENT) {
				xfree(&path);
				return 0;
			}
			*error_r = maildir_set_error("unlink(%s): %s", path,
						     strerror(errno));
			xfree(&path);
			return -1;
		}
		xfree(&path);
		ret = msg_relocate(box, msg, error_r);
		if (ret <= 0)
			return ret;
	}
}
