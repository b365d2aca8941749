/*
 * mail_folders - the Maildir++ folder tree and the subscriptions file (see
 * mail_folders.h). Names and directory entries are untrusted: every path
 * is built from a checked name, entries are never followed when removing
 * (a symlinked folder loses its link, not its target), and the recursive
 * removal is depth-bounded.
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

#define SUBS_FILE "subscriptions"
#define SUBS_V2_HEADER "V\t2\n\n"
/* Longest UTF-8 name considered (the encoded form is limited anyway). */
#define NAME_INPUT_MAX 2048
/* Depth of the recursive removal: folder/cur/file plus index dirs. */
#define RMTREE_DEPTH_MAX 8

struct mail_folders *
mail_folders_new(const char *root, const char *inbox_dir)
{
	struct mail_folders *f = xcalloc(1, sizeof(*f));

	f->root = xstrdup(root);
	f->inbox_dir = xstrdup(inbox_dir != NULL ? inbox_dir : root);
	return f;
}

void
mail_folders_free(struct mail_folders **fp)
{
	struct mail_folders *f = *fp;

	if (f == NULL)
		return;
	xfree(&f->root);
	xfree(&f->inbox_dir);
	xfree(fp);
}

/* ---- names ---- */

static bool
name_is_inbox_prefix(const char *name)
{
	return strncasecmp(name, "INBOX", 5) == 0 &&
	       (name[5] == '\0' || name[5] == MAIL_FOLDERS_SEP);
}

char *
mail_folders_name_check(const char *name, const char **error_r)
{
	struct strbuf enc;
	size_t len = strnlen(name, NAME_INPUT_MAX + 1);
	char *canon;

	if (len == 0) {
		*error_r = "Empty mailbox name";
		return NULL;
	}
	if (len > NAME_INPUT_MAX) {
		*error_r = "Mailbox name too long";
		return NULL;
	}
	if (name[0] == MAIL_FOLDERS_SEP || name[len - 1] == MAIL_FOLDERS_SEP) {
		*error_r = "Mailbox name must not begin or end with the "
			   "hierarchy separator";
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == MAIL_FOLDERS_SEP && name[i + 1] == MAIL_FOLDERS_SEP) {
			*error_r = "Mailbox name has an empty hierarchy level";
			return NULL;
		}
		if (c < 0x20 || c == 0x7f) {
			*error_r = "Mailbox name has control characters";
			return NULL;
		}
		if (c == '/') {
			/* Dovecot's Maildir++ cannot store '/' either */
			*error_r = "Character not allowed in mailbox name: '/'";
			return NULL;
		}
		if (c == '*' || c == '%') {
			*error_r = "Character not allowed in mailbox name: "
				   "wildcard";
			return NULL;
		}
	}
	canon = xstrdup(name);
	if (name_is_inbox_prefix(canon))
		memcpy(canon, "INBOX", 5);
	/* ".": the directory name's dot */
	strbuf_init(&enc, MAIL_FOLDERS_DIRNAME_MAX - 1);
	if (mutf7_encode(canon, &enc) < 0) {
		strbuf_release(&enc);
		xfree(&canon);
		/* mutf7_encode fails on bad UTF-8 or a full buffer */
		strbuf_init(&enc, STRBUF_UNLIMITED);
		if (mutf7_encode(name, &enc) == 0)
			*error_r = "Mailbox name too long";
		else
			*error_r = "Mailbox name is not valid UTF-8";
		strbuf_release(&enc);
		return NULL;
	}
	strbuf_release(&enc);
	return canon;
}

char *
mail_folders_dir(const struct mail_folders *f, const char *name)
{
	struct strbuf enc;
	char *dir;

	if (strcmp(name, "INBOX") == 0)
		return xstrdup(f->inbox_dir);
	strbuf_init(&enc, STRBUF_UNLIMITED);
	if (mutf7_encode(name, &enc) < 0) {
		/* callers pass checked names only */
		strbuf_release(&enc);
		return NULL;
	}
	dir = xasprintf("%s/.%s", f->root, strbuf_cstr(&enc));
	strbuf_release(&enc);
	return dir;
}

/* ---- matching ---- */

/* The pattern with each run of wildcards collapsed ("%*" is "*", "%%" is
 * "%"), so that the matcher's work stays proportional. */
static char *
pattern_collapse(const char *pattern)
{
	size_t len = strlen(pattern), o = 0;
	char *out = xmalloc(len + 1);

	for (size_t i = 0; i < len;) {
		if (pattern[i] != '*' && pattern[i] != '%') {
			out[o++] = pattern[i++];
			continue;
		}
		char w = '%';

		for (; i < len && (pattern[i] == '*' || pattern[i] == '%'); i++)
			if (pattern[i] == '*')
				w = '*';
		out[o++] = w;
	}
	out[o] = '\0';
	return out;
}

static bool
match_char(char p, const char *name, size_t ni, bool inbox)
{
	if (inbox && ni < 5)
		return (p >= 'a' && p <= 'z' ? p - 32 : p) == name[ni];
	return p == name[ni];
}

/* One step of the pattern NFA: states[j] means pattern[0..j) matched the
 * name so far. The closure lets a wildcard match nothing. */
static void
match_closure(const char *pat, size_t plen, bool *st)
{
	for (size_t j = 0; j < plen; j++)
		if (st[j] && (pat[j] == '*' || pat[j] == '%'))
			st[j + 1] = true;
}

int
mail_folders_match(const char *pattern, const char *name)
{
	char *pat = pattern_collapse(pattern);
	size_t plen = strlen(pat), nlen = strlen(name);
	bool inbox = strncmp(name, "INBOX", 5) == 0 &&
		     (name[5] == '\0' || name[5] == MAIL_FOLDERS_SEP);
	bool *cur = xcalloc(plen + 1, sizeof(bool));
	bool *next = xcalloc(plen + 1, sizeof(bool));
	int ret = MAIL_MATCH_NO;

	cur[0] = true;
	match_closure(pat, plen, cur);
	/* the name, then a separator to see whether children could match */
	for (size_t ni = 0; ni <= nlen; ni++) {
		char c = ni < nlen ? name[ni] : MAIL_FOLDERS_SEP;
		bool any = false;

		if (ni == nlen && cur[plen])
			ret = MAIL_MATCH_YES;
		memset(next, 0, plen + 1);
		for (size_t j = 0; j < plen; j++) {
			if (!cur[j])
				continue;
			if (pat[j] == '*' ||
			    (pat[j] == '%' && c != MAIL_FOLDERS_SEP))
				next[j] = true;
			else if (pat[j] != '*' && pat[j] != '%' &&
				 (ni < nlen ? match_char(pat[j], name, ni, inbox)
					    : pat[j] == c))
				next[j + 1] = true;
		}
		match_closure(pat, plen, next);
		for (size_t j = 0; j <= plen; j++)
			any |= next[j];
		bool *tmp = cur;

		cur = next;
		next = tmp;
		if (!any)
			break;
	}
	/* after "name.": a non-empty rest of the pattern can match a child */
	for (size_t j = 0; j < plen; j++) {
		if (cur[j]) {
			ret |= MAIL_MATCH_CHILDREN;
			break;
		}
	}
	xfree(&cur);
	xfree(&next);
	xfree(&pat);
	/* YES wins; CHILDREN is reported only for non-matches */
	return (ret & MAIL_MATCH_YES) != 0 ? MAIL_MATCH_YES : ret;
}

/* ---- listing ---- */

static int
info_cmp(const void *a, const void *b)
{
	const struct mail_folder_info *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r != 0)
		return r;
	/* a real directory before a made-up parent of the same name */
	return (int)(x->flags & MAIL_FOLDER_NONEXISTENT) -
	       (int)(y->flags & MAIL_FOLDER_NONEXISTENT);
}

static void
list_add(struct mail_folder_list *list, size_t *alloc, char *name,
	 unsigned int flags)
{
	if (list->count == *alloc) {
		*alloc = *alloc == 0 ? 32 : *alloc * 2;
		list->items = xreallocarray(list->items, *alloc,
					    sizeof(*list->items));
	}
	list->items[list->count].name = name;
	list->items[list->count].flags = flags;
	list->count++;
}

static bool
is_dir_at(int dfd, const char *path)
{
	struct stat st;

	return fstatat(dfd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* The folder name of a root entry ".xxx", or NULL when it is none of
 * ours (bad mUTF-7, a name breaking the rules, not canonical). */
static char *
entry_folder_name(const char *dname)
{
	struct strbuf dec, enc;
	const char *error;
	char *name = NULL;

	if (dname[0] != '.' || dname[1] == '\0' || dname[1] == '.')
		return NULL;
	strbuf_init(&dec, NAME_INPUT_MAX);
	strbuf_init(&enc, MAIL_FOLDERS_DIRNAME_MAX);
	if (mutf7_decode(dname + 1, &dec) == 0 &&
	    (name = mail_folders_name_check(strbuf_cstr(&dec), &error)) !=
		NULL) {
		/* "INBOX" is the root, and a name must round-trip */
		if (strcmp(name, "INBOX") == 0 ||
		    mutf7_encode(name, &enc) < 0 ||
		    strcmp(strbuf_cstr(&enc), dname + 1) != 0)
			xfree(&name);
	}
	strbuf_release(&dec);
	strbuf_release(&enc);
	return name;
}

int
mail_folders_list(const struct mail_folders *f,
		  struct mail_folder_list *list_r, const char **error_r)
{
	struct mail_folder_list list = {NULL, 0};
	size_t alloc = 0, n;
	struct dirent *de;
	DIR *d;
	int dfd;

	if ((dfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(dfd)) == NULL) {
		*error_r = maildir_set_error("opendir(%s): %s", f->root,
					     strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	list_add(&list, &alloc, xstrdup("INBOX"), 0);
	while ((de = readdir(d)) != NULL) {
		char *name;
		unsigned int flags = 0;

		if (de->d_name[0] != '.')
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
		    de->d_type != DT_LNK)
			continue;
		if ((name = entry_folder_name(de->d_name)) == NULL)
			continue;
		if (de->d_type != DT_DIR && !is_dir_at(dirfd(d), de->d_name)) {
			xfree(&name);
			continue;
		}
		char *cur = xasprintf("%s/cur", de->d_name);

		if (!is_dir_at(dirfd(d), cur))
			flags |= MAIL_FOLDER_NOSELECT;
		xfree(&cur);
		if (list.count >= MAIL_FOLDERS_MAX) {
			xfree(&name);
			closedir(d);
			mail_folder_list_free(&list);
			*error_r = maildir_set_error("%s: more than %d folders",
						     f->root, MAIL_FOLDERS_MAX);
			return -1;
		}
		list_add(&list, &alloc, name, flags);
	}
	closedir(d);
	/* the parents of every name */
	n = list.count;
	for (size_t i = 0; i < n; i++) {
		const char *name = list.items[i].name;

		for (const char *p = strchr(name, MAIL_FOLDERS_SEP); p != NULL;
		     p = strchr(p + 1, MAIL_FOLDERS_SEP))
			list_add(&list, &alloc,
				 xstrndup(name, (size_t)(p - name)),
				 MAIL_FOLDER_NONEXISTENT);
	}
	qsort(list.items, list.count, sizeof(*list.items), info_cmp);
	n = 0;
	for (size_t i = 0; i < list.count; i++) {
		if (n > 0 && strcmp(list.items[n - 1].name,
				    list.items[i].name) == 0) {
			xfree(&list.items[i].name);
			continue;
		}
		list.items[n++] = list.items[i];
	}
	list.count = n;
	for (size_t i = 0; i < list.count; i++)
		if (mail_folder_list_has_children(&list, list.items[i].name))
			list.items[i].flags |= MAIL_FOLDER_CHILDREN;
	*list_r = list;
	return 0;
}

void
mail_folder_list_free(struct mail_folder_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		xfree(&list->items[i].name);
	xfree(&list->items);
	list->count = 0;
}

/* Index of the first entry not less than key. */
static size_t
list_lower_bound(const struct mail_folder_list *list, const char *key)
{
	size_t lo = 0, hi = list->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(list->items[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct mail_folder_info *
mail_folder_list_find(const struct mail_folder_list *list, const char *name)
{
	size_t i = list_lower_bound(list, name);

	if (i < list->count && strcmp(list->items[i].name, name) == 0)
		return &list->items[i];
	return NULL;
}

bool
mail_folder_list_has_children(const struct mail_folder_list *list,
			      const char *name)
{
	size_t len = strlen(name);
	char *prefix = xmalloc(len + 2);
	size_t i;
	bool ret;

	memcpy(prefix, name, len);
	prefix[len] = MAIL_FOLDERS_SEP;
	prefix[len + 1] = '\0';
	i = list_lower_bound(list, prefix);
	ret = i < list->count &&
	      strncmp(list->items[i].name, prefix, len + 1) == 0;
	xfree(&prefix);
	return ret;
}

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

		first = list_lower_bound(&list, prefix);
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

/* ---- subscriptions ---- */

/* Dovecot's str_tabunescape: \001 followed by 1, t, r, n or 0. */
static void
tab_unescape(const char *s, size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\001' && i + 1 < len) {
			switch (s[++i]) {
			case '1': c = '\001'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			case '0': c = '\0'; break;
			default: c = s[i]; break;
			}
		}
		(void)strbuf_append_char(out, c);
	}
}

static void
tab_escape(const char *s, struct strbuf *out)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\001': (void)strbuf_append(out, "\0011", 2); break;
		case '\t': (void)strbuf_append(out, "\001t", 2); break;
		case '\r': (void)strbuf_append(out, "\001r", 2); break;
		case '\n': (void)strbuf_append(out, "\001n", 2); break;
		default: (void)strbuf_append_char(out, *s); break;
		}
	}
}

/* The UTF-8 name of a line, or NULL. */
static char *
subs_line_name(const char *line, unsigned int version)
{
	struct strbuf storage, dec;
	const char *error;
	char *name = NULL;

	strbuf_init(&storage, NAME_INPUT_MAX);
	strbuf_init(&dec, NAME_INPUT_MAX);
	if (version >= 2) {
		const char *p = line, *tab;

		while ((tab = strchr(p, '\t')) != NULL) {
			tab_unescape(p, (size_t)(tab - p), &storage);
			(void)strbuf_append_char(&storage, MAIL_FOLDERS_SEP);
			p = tab + 1;
		}
		tab_unescape(p, strlen(p), &storage);
	} else
		(void)strbuf_append_str(&storage, line);
	/* old software wrote "a.b." */
	if (storage.len > 1 && storage.data[storage.len - 1] == MAIL_FOLDERS_SEP)
		strbuf_truncate(&storage, storage.len - 1);
	if (storage.len > 0 && strlen(storage.data) == storage.len &&
	    mutf7_decode(strbuf_cstr(&storage), &dec) == 0)
		name = mail_folders_name_check(strbuf_cstr(&dec), &error);
	strbuf_release(&storage);
	strbuf_release(&dec);
	return name;
}

static char *
subs_encode_line(const char *name, unsigned int version)
{
	struct strbuf enc, out;

	strbuf_init(&enc, STRBUF_UNLIMITED);
	strbuf_init(&out, STRBUF_UNLIMITED);
	(void)mutf7_encode(name, &enc);
	if (version >= 2) {
		char *copy = xstrdup(strbuf_cstr(&enc));
		char *p = copy, *sep;

		while ((sep = strchr(p, MAIL_FOLDERS_SEP)) != NULL) {
			*sep = '\0';
			tab_escape(p, &out);
			(void)strbuf_append_char(&out, '\t');
			p = sep + 1;
		}
		tab_escape(p, &out);
		xfree(&copy);
	} else
		(void)strbuf_append_str(&out, strbuf_cstr(&enc));
	strbuf_release(&enc);
	if (out.data == NULL)
		return xstrdup("");
	return strbuf_steal(&out);
}

static void
subs_add_entry(struct mail_subs *subs, char *line, char *name)
{
	subs->entries = xreallocarray(subs->entries, subs->count + 1,
				      sizeof(*subs->entries));
	subs->entries[subs->count].line = line;
	subs->entries[subs->count].name = name;
	subs->count++;
}

void
mail_subs_parse(const char *data, size_t len, struct mail_subs *subs_r)
{
	size_t hlen = strlen(SUBS_V2_HEADER), pos = 0;

	memset(subs_r, 0, sizeof(*subs_r));
	subs_r->version = 1;
	if (len >= hlen && memcmp(data, SUBS_V2_HEADER, hlen) == 0) {
		subs_r->version = 2;
		pos = hlen;
	}
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - data) : len;

		if (end > pos) {
			char *line = xstrndup(data + pos, end - pos);

			/* a NUL byte ends the name in xstrndup: no match */
			subs_add_entry(subs_r, line,
				       memchr(data + pos, '\0', end - pos) ==
					       NULL
					   ? subs_line_name(line,
							    subs_r->version)
					   : NULL);
		}
		pos = end + 1;
	}
}

char *
mail_subs_serialize(const struct mail_subs *subs, size_t *len_r)
{
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	if (subs->version >= 2)
		(void)strbuf_append_str(&sb, SUBS_V2_HEADER);
	for (size_t i = 0; i < subs->count; i++) {
		(void)strbuf_append_str(&sb, subs->entries[i].line);
		(void)strbuf_append_char(&sb, '\n');
	}
	*len_r = sb.len;
	if (sb.data == NULL)
		return xstrdup("");
	return strbuf_steal(&sb);
}

bool
mail_subs_contains(const struct mail_subs *subs, const char *name)
{
	for (size_t i = 0; i < subs->count; i++)
		if (subs->entries[i].name != NULL &&
		    strcmp(subs->entries[i].name, name) == 0)
			return true;
	return false;
}

bool
mail_subs_update(struct mail_subs *subs, const char *name, bool set)
{
	size_t n = 0;
	bool changed = false;

	if (set) {
		if (mail_subs_contains(subs, name))
			return false;
		subs_add_entry(subs, subs_encode_line(name, subs->version),
			       xstrdup(name));
		return true;
	}
	for (size_t i = 0; i < subs->count; i++) {
		struct mail_subs_entry *e = &subs->entries[i];

		if (e->name != NULL && strcmp(e->name, name) == 0) {
			xfree(&e->line);
			xfree(&e->name);
			changed = true;
			continue;
		}
		subs->entries[n++] = *e;
	}
	subs->count = n;
	return changed;
}

void
mail_subs_clear(struct mail_subs *subs)
{
	for (size_t i = 0; i < subs->count; i++) {
		xfree(&subs->entries[i].line);
		xfree(&subs->entries[i].name);
	}
	xfree(&subs->entries);
	subs->count = 0;
}

static int
subs_read_path(const char *path, struct mail_subs *subs_r,
	       const char **error_r)
{
	struct stat st;
	char *data;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			mail_subs_parse("", 0, subs_r);
			return 0;
		}
		*error_r = maildir_set_error("open(%s): %s", path,
					     strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAIL_SUBS_MAX_SIZE) {
		*error_r = maildir_set_error("%s: not a file or too large",
					     path);
		close(fd);
		return -1;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = maildir_set_error("read(%s): %s", path,
						     strerror(errno));
			close(fd);
			xfree(&data);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	mail_subs_parse(data, got, subs_r);
	xfree(&data);
	return 0;
}

int
mail_subs_read(const struct mail_folders *f, struct mail_subs *subs_r,
	       const char **error_r)
{
	char *path = xasprintf("%s/%s", f->root, SUBS_FILE);
	int ret = subs_read_path(path, subs_r, error_r);

	xfree(&path);
	return ret;
}

/* Runs fn on the file's content under its dotlock; writes the result
 * when fn reports a change. */
static int
subs_modify(const struct mail_folders *f,
	    bool (*fn)(struct mail_subs *subs, const char *a, const char *b),
	    const char *a, const char *b, const char **error_r)
{
	/* Dovecot's SUBSCRIPTION_FILE_LOCK_TIMEOUT / CHANGE_TIMEOUT */
	const struct dotlock_settings set = {120, 30, false};
	char *path = xasprintf("%s/%s", f->root, SUBS_FILE);
	struct dotlock *lock;
	struct mail_subs subs;
	int ret;

	ret = dotlock_create(path, &set, &lock, error_r);
	if (ret <= 0) {
		xfree(&path);
		return -1;
	}
	if (subs_read_path(path, &subs, error_r) < 0) {
		(void)dotlock_delete(&lock, error_r);
		xfree(&path);
		return -1;
	}
	if (fn(&subs, a, b)) {
		size_t len;
		char *data = mail_subs_serialize(&subs, &len);
		int fd = dotlock_fd(lock);
		size_t done = 0;

		ret = 0;
		while (done < len) {
			ssize_t n = write(fd, data + done, len - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				*error_r = maildir_set_error(
				    "write(%s.lock): %s", path,
				    strerror(errno));
				ret = -1;
				break;
			}
			done += (size_t)n;
		}
		xfree(&data);
		if (ret < 0) {
			const char *e2;

			(void)dotlock_delete(&lock, &e2);
		} else if (dotlock_replace(&lock, error_r) < 0)
			ret = -1;
	} else {
		ret = dotlock_delete(&lock, error_r) < 0 ? -1 : 0;
	}
	mail_subs_clear(&subs);
	xfree(&path);
	return ret;
}

static bool
subs_fn_set(struct mail_subs *subs, const char *name, const char *set)
{
	return mail_subs_update(subs, name, set != NULL);
}

int
mail_subs_set(const struct mail_folders *f, const char *name, bool set,
	      const char **error_r)
{
	return subs_modify(f, subs_fn_set, name, set ? "" : NULL, error_r);
}

static bool
subs_fn_rename(struct mail_subs *subs, const char *oldname,
	       const char *newname)
{
	size_t oldlen = strlen(oldname);
	bool changed = false;

	for (size_t i = 0; i < subs->count; i++) {
		struct mail_subs_entry *e = &subs->entries[i];
		const char *error;
		char *nn, *checked;

		if (e->name == NULL || strncmp(e->name, oldname, oldlen) != 0 ||
		    (e->name[oldlen] != '\0' &&
		     e->name[oldlen] != MAIL_FOLDERS_SEP))
			continue;
		nn = xasprintf("%s%s", newname, e->name + oldlen);
		checked = mail_folders_name_check(nn, &error);
		xfree(&nn);
		if (checked == NULL || mail_subs_contains(subs, checked)) {
			xfree(&checked);
			continue;
		}
		xfree(&e->line);
		xfree(&e->name);
		e->line = subs_encode_line(checked, subs->version);
		e->name = checked;
		changed = true;
	}
	return changed;
}

int
mail_subs_rename(const struct mail_folders *f, const char *oldname,
		 const char *newname, const char **error_r)
{
	return subs_modify(f, subs_fn_rename, oldname, newname, error_r);
}
