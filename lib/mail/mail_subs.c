/*
 * mail_subs - the subscriptions file of a Maildir++ root in both of
 * Dovecot 2.3's formats (see mail_folders.h). The file is untrusted
 * (anything with the mail uid writes it): it is read up to
 * MAIL_SUBS_MAX_SIZE, lines that do not decode are kept but not reported.
 * Parser and serializer are pure; changes happen under the file's dotlock.
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

	strbuf_init(&storage, MAIL_FOLDERS_NAME_INPUT_MAX);
	strbuf_init(&dec, MAIL_FOLDERS_NAME_INPUT_MAX);
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
	if (storage.len > 1 &&
	    storage.data[storage.len - 1] == MAIL_FOLDERS_SEP)
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
