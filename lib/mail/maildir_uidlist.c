/*
 * maildir_uidlist - parse, serialize, read and replace dovecot-uidlist.
 * Content is untrusted (any process with the mail uid writes it): every
 * number is range-checked, lines are bounded, file names must be valid
 * Maildir names. The parser does no I/O and no logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "mail/dotlock.h"
#include "mail/maildir_name.h"
#include "mail/maildir_uidlist.h"
#include "util/safe_file.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static _Thread_local char uidlist_errbuf[256];

static const char *
uidlist_error(unsigned int line, const char *what)
{
	snprintf(uidlist_errbuf, sizeof(uidlist_errbuf), "line %u: %s", line,
		 what);
	return uidlist_errbuf;
}

struct maildir_uidlist *
maildir_uidlist_new(uint32_t uid_validity)
{
	struct maildir_uidlist *list = xcalloc(1, sizeof(*list));
	unsigned char raw[16];

	list->version = 3;
	list->uid_validity = uid_validity;
	list->next_uid = 1;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)(rand() & 0xff);
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(list->guid + 2 * i, 3, "%02x", raw[i]);
	return list;
}

void
maildir_uidlist_free(struct maildir_uidlist **listp)
{
	struct maildir_uidlist *list = *listp;

	if (list == NULL)
		return;
	*listp = NULL;
	for (size_t i = 0; i < list->count; i++) {
		xfree(&list->recs[i].ext);
		xfree(&list->recs[i].filename);
	}
	xfree(&list->recs);
	xfree(&list->hdr_ext);
	xfree(&list);
}

/* Parses a decimal uint32 of [p, end); 0 is refused when !allow_zero. */
static int
uidlist_u32(const char *p, const char *end, uint32_t *value_r)
{
	uint64_t v = 0;

	if (p == end || end - p > 10)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*value_r = (uint32_t)v;
	return 0;
}

static bool
uidlist_is_hex32(const char *p, size_t len)
{
	if (len != 32)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static void
uidlist_add_hdr_ext(struct maildir_uidlist *list, const char *p, size_t len)
{
	char *old = list->hdr_ext;

	if (old == NULL)
		list->hdr_ext = xstrndup(p, len);
	else {
		list->hdr_ext = xasprintf("%s %.*s", old, (int)len, p);
		xfree(&old);
	}
}

static int
uidlist_parse_header(struct maildir_uidlist *list, const char *line,
		     const char *end, const char **error_r)
{
	const char *p = line, *tok;
	bool have_v = false, have_n = false;

	if (end - line >= 2 && line[0] == '1' && line[1] == ' ') {
		/* Courier / Dovecot v1: "1 <uidvalidity> <nextuid>" */
		const char *sp =
		    memchr(line + 2, ' ', (size_t)(end - line - 2));
		list->version = 1;
		if (sp == NULL ||
		    uidlist_u32(line + 2, sp, &list->uid_validity) < 0 ||
		    uidlist_u32(sp + 1, end, &list->next_uid) < 0 ||
		    list->uid_validity == 0) {
			*error_r = uidlist_error(1, "bad version 1 header");
			return -1;
		}
		return 0;
	}
	if (end - line < 2 || line[0] != '3' || line[1] != ' ') {
		*error_r = uidlist_error(1, "unsupported version");
		return -1;
	}
	list->version = 3;
	p = line + 2;
	while (p < end) {
		tok = p;
		while (p < end && *p != ' ')
			p++;
		if (p == tok) {
			p++;
			continue;
		}
		switch (*tok) {
		case 'V':
			if (uidlist_u32(tok + 1, p, &list->uid_validity) < 0) {
				*error_r = uidlist_error(1, "bad V field");
				return -1;
			}
			have_v = true;
			break;
		case 'N':
			if (uidlist_u32(tok + 1, p, &list->next_uid) < 0) {
				*error_r = uidlist_error(1, "bad N field");
				return -1;
			}
			have_n = true;
			break;
		case 'G':
			if (!uidlist_is_hex32(tok + 1, (size_t)(p - tok - 1))) {
				*error_r = uidlist_error(1, "bad G field");
				return -1;
			}
			for (size_t i = 0; i < 32; i++) {
				char c = tok[1 + i];
				list->guid[i] = (c >= 'A' && c <= 'F')
						    ? (char)(c - 'A' + 'a')
						    : c;
			}
			list->guid[32] = '\0';
			break;
		default:
			uidlist_add_hdr_ext(list, tok, (size_t)(p - tok));
			break;
		}
	}
	if (!have_v || !have_n || list->uid_validity == 0) {
		*error_r = uidlist_error(1, "header lacks V or N");
		return -1;
	}
	return 0;
}

static void
uidlist_push(struct maildir_uidlist *list, uint32_t uid, char *ext,
	     char *filename)
{
	if (list->count == list->alloc) {
		list->alloc = list->alloc == 0 ? 64 : list->alloc * 2;
		list->recs =
		    xreallocarray(list->recs, list->alloc, sizeof(*list->recs));
	}
	list->recs[list->count].uid = uid;
	list->recs[list->count].ext = ext;
	list->recs[list->count].filename = filename;
	list->count++;
}

static int
uidlist_parse_rec(struct maildir_uidlist *list, unsigned int lineno,
		  const char *line, const char *end, const char **error_r)
{
	const char *p = memchr(line, ' ', (size_t)(end - line));
	const char *ext_start, *name;
	struct maildir_name mn;
	uint32_t uid;
	char *filename, *ext = NULL;

	if (p == NULL || uidlist_u32(line, p, &uid) < 0 || uid == 0) {
		*error_r = uidlist_error(lineno, "bad uid");
		return -1;
	}
	if (list->count > 0 && uid <= list->recs[list->count - 1].uid) {
		*error_r = uidlist_error(lineno, "uids not ascending");
		return -1;
	}
	p++;
	if (list->version == 1) {
		name = p;
		ext_start = NULL;
	} else {
		/* extension fields up to the " :" that starts the name */
		ext_start = p;
		while (p < end && *p != ':') {
			const char *tok = p;

			while (p < end && *p != ' ')
				p++;
			if (p == end || p - tok < 1) {
				*error_r = uidlist_error(lineno,
							 "bad extension field");
				return -1;
			}
			p++;
		}
		if (p == end) {
			*error_r = uidlist_error(lineno, "no file name");
			return -1;
		}
		name = p + 1;
	}
	filename = xstrndup(name, (size_t)(end - name));
	if (maildir_name_parse(filename, &mn) < 0) {
		xfree(&filename);
		*error_r = uidlist_error(lineno, "bad file name");
		return -1;
	}
	if (ext_start != NULL && p - 1 > ext_start)
		ext = xstrndup(ext_start, (size_t)(p - 1 - ext_start));
	uidlist_push(list, uid, ext, filename);
	return 0;
}

int
maildir_uidlist_parse(const char *data, size_t len,
		      struct maildir_uidlist **list_r, const char **error_r)
{
	struct maildir_uidlist *list;
	const char *p = data, *end = data + len, *eol;
	unsigned int lineno = 0;

	if (len > MAILDIR_UIDLIST_MAX_SIZE) {
		*error_r = "file too large";
		return -1;
	}
	if (memchr(data, '\0', len) != NULL) {
		*error_r = "NUL byte in file";
		return -1;
	}
	list = xcalloc(1, sizeof(*list));
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		lineno++;
		if (eol - p > MAILDIR_UIDLIST_LINE_MAX) {
			*error_r = uidlist_error(lineno, "line too long");
			goto fail;
		}
		if (lineno == 1) {
			if (uidlist_parse_header(list, p, eol, error_r) < 0)
				goto fail;
		} else if (eol > p &&
			   uidlist_parse_rec(list, lineno, p, eol, error_r) < 0)
			goto fail;
		p = eol + 1;
	}
	if (lineno == 0) {
		*error_r = "empty file";
		goto fail;
	}
	if (list->count > 0 &&
	    list->next_uid <= list->recs[list->count - 1].uid) {
		uint32_t last = list->recs[list->count - 1].uid;
		list->next_uid = last == UINT32_MAX ? UINT32_MAX : last + 1;
	}
	*list_r = list;
	return 0;
fail:
	maildir_uidlist_free(&list);
	return -1;
}

char *
maildir_uidlist_serialize(const struct maildir_uidlist *list, size_t *len_r)
{
	struct strbuf sb;
	int ret = 0;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	ret |=
	    strbuf_printf(&sb, "3 V%u N%u", list->uid_validity, list->next_uid);
	if (list->guid[0] != '\0')
		ret |= strbuf_printf(&sb, " G%s", list->guid);
	if (list->hdr_ext != NULL)
		ret |= strbuf_printf(&sb, " %s", list->hdr_ext);
	ret |= strbuf_append_char(&sb, '\n');
	for (size_t i = 0; i < list->count; i++) {
		const struct maildir_uidlist_rec *rec = &list->recs[i];

		ret |= strbuf_printf(&sb, "%u", rec->uid);
		if (rec->ext != NULL)
			ret |= strbuf_printf(&sb, " %s", rec->ext);
		ret |= strbuf_printf(&sb, " :%s\n", rec->filename);
	}
	(void)ret; /* unlimited buffer: appends cannot fail */
	*len_r = sb.len;
	return strbuf_steal(&sb);
}

const struct maildir_uidlist_rec *
maildir_uidlist_lookup(const struct maildir_uidlist *list, uint32_t uid)
{
	size_t lo = 0, hi = list->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (list->recs[mid].uid == uid)
			return &list->recs[mid];
		if (list->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static size_t
uidlist_base_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

const struct maildir_uidlist_rec *
maildir_uidlist_lookup_file(const struct maildir_uidlist *list,
			    const char *filename)
{
	size_t len = uidlist_base_len(filename);

	for (size_t i = 0; i < list->count; i++) {
		const char *name = list->recs[i].filename;

		if (uidlist_base_len(name) == len &&
		    memcmp(name, filename, len) == 0)
			return &list->recs[i];
	}
	return NULL;
}

const char *
maildir_uidlist_rec_ext(const struct maildir_uidlist_rec *rec, char key)
{
	static _Thread_local char value[128];
	const char *p = rec->ext;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ' ');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > 0 && p[0] == key && len - 1 < sizeof(value)) {
			memcpy(value, p + 1, len - 1);
			value[len - 1] = '\0';
			return value;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

uint32_t
maildir_uidlist_add(struct maildir_uidlist *list, const char *filename,
		    const char *ext)
{
	uint32_t uid = list->next_uid;

	if (uid == 0 || uid == UINT32_MAX)
		return 0;
	uidlist_push(list, uid, ext != NULL ? xstrdup(ext) : NULL,
		     xstrdup(filename));
	list->next_uid = uid + 1;
	return uid;
}

int
maildir_uidlist_read(const char *dir, struct maildir_uidlist **list_r,
		     const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, MAILDIR_UIDLIST_NAME);
	char *data;
	size_t len;
	const char *error;
	int ret;

	if (access(path, F_OK) < 0 && errno == ENOENT) {
		xfree(&path);
		return 0;
	}
	if (safe_file_read(path, MAILDIR_UIDLIST_MAX_SIZE, &data, &len,
			   &error) < 0) {
		snprintf(uidlist_errbuf, sizeof(uidlist_errbuf), "%s", error);
		*error_r = uidlist_errbuf;
		xfree(&path);
		return -1;
	}
	ret = maildir_uidlist_parse(data, len, list_r, &error);
	xfree(&data);
	if (ret < 0) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s: %s", path, error);
		snprintf(uidlist_errbuf, sizeof(uidlist_errbuf), "%s", msg);
		*error_r = uidlist_errbuf;
		xfree(&path);
		return -1;
	}
	xfree(&path);
	return 1;
}

int
maildir_uidlist_lock(const char *dir, unsigned int timeout_secs,
		     struct dotlock **lock_r, const char **error_r)
{
	struct dotlock_settings set = {
	    .timeout_secs = timeout_secs,
	    .stale_secs = MAILDIR_UIDLIST_LOCK_STALE_SECS,
	    .write_pid = false,
	};
	char *path = xasprintf("%s/%s", dir, MAILDIR_UIDLIST_NAME);
	int ret = dotlock_create(path, &set, lock_r, error_r);

	xfree(&path);
	return ret;
}

int
maildir_uidlist_write(struct dotlock **lockp,
		      const struct maildir_uidlist *list, const char **error_r)
{
	size_t len, off = 0;
	char *data = maildir_uidlist_serialize(list, &len);
	int fd = dotlock_fd(*lockp);

	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(uidlist_errbuf, sizeof(uidlist_errbuf),
				 "write(%s.lock): %s", MAILDIR_UIDLIST_NAME,
				 strerror(errno));
			*error_r = uidlist_errbuf;
			xfree(&data);
			const char *ignored;
			(void)dotlock_delete(lockp, &ignored);
			return -1;
		}
		off += (size_t)n;
	}
	xfree(&data);
	return dotlock_replace(lockp, error_r);
}

int
maildir_uidlist_append_recs(const char *dir, const struct maildir_uidlist *list,
			    size_t from, const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, MAILDIR_UIDLIST_NAME);
	struct strbuf sb;
	size_t off = 0;
	int fd, ret = 0;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	for (size_t i = from; i < list->count; i++) {
		const struct maildir_uidlist_rec *rec = &list->recs[i];

		(void)strbuf_printf(&sb, "%u", rec->uid);
		if (rec->ext != NULL)
			(void)strbuf_printf(&sb, " %s", rec->ext);
		(void)strbuf_printf(&sb, " :%s\n", rec->filename);
	}
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	while (off < sb.len) {
		ssize_t n = write(fd, sb.data + off, sb.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	goto out;
fail:
	snprintf(uidlist_errbuf, sizeof(uidlist_errbuf), "append to %s: %s",
		 path, strerror(errno));
	*error_r = uidlist_errbuf;
	ret = -1;
out:
	if (fd >= 0)
		close(fd);
	strbuf_release(&sb);
	xfree(&path);
	return ret;
}
