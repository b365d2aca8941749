/*
 * mail_folders - the Maildir++ folder tree: names, the LIST pattern
 * matcher and the listing (see mail_folders.h). The tree operations are in
 * mail_folders_tree.c, the subscriptions file in mail_subs.c. Names and
 * directory entries are untrusted: every path is built from a checked
 * name, and every name is bounded (MAIL_FOLDERS_NAME_INPUT_MAX).
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
	size_t len = strnlen(name, MAIL_FOLDERS_NAME_INPUT_MAX + 1);
	char *canon;

	if (len == 0) {
		*error_r = "Empty mailbox name";
		return NULL;
	}
	if (len > MAIL_FOLDERS_NAME_INPUT_MAX) {
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
				 (ni < nlen
				      ? match_char(pat[j], name, ni, inbox)
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
	strbuf_init(&dec, MAIL_FOLDERS_NAME_INPUT_MAX);
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
size_t
mail_folder_list_lower_bound(const struct mail_folder_list *list,
			     const char *key)
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
	size_t i = mail_folder_list_lower_bound(list, name);

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
	i = mail_folder_list_lower_bound(list, prefix);
	ret = i < list->count &&
	      strncmp(list->items[i].name, prefix, len + 1) == 0;
	xfree(&prefix);
	return ret;
}
