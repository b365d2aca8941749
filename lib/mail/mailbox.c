/*
 * mailbox - open and sync a Maildir against dovecot-uidlist (see
 * mailbox.h). Directory entries and the uidlist are untrusted: names are
 * checked with maildir_name_parse() and never contain '/', the number of
 * entries is bounded. Blocking I/O; no logging (errors go to *error_r).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/dotlock.h"
#include "mail/mailbox.h"
#include "mail/maildir.h"
#include "mail/maildir_name.h"
#include "mail/maildir_uidlist.h"
#include "util/xmem.h"

/* How often a sync starts over when files move under it. */
#define MAILBOX_SYNC_TRIES 3

struct scan_file {
	char *name;
	size_t base_len;
	bool in_new;
	uint32_t uid;				 /* 0: not in the uidlist */
	const struct maildir_uidlist_rec *rec; /* matching record */
};

struct scan {
	struct scan_file *files;
	size_t count, alloc;
};

static void
scan_free(struct scan *scan)
{
	for (size_t i = 0; i < scan->count; i++)
		xfree(&scan->files[i].name);
	xfree(&scan->files);
	scan->count = scan->alloc = 0;
}

static size_t
base_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

static int
scan_dir(struct scan *scan, const char *dir, const char *sub, bool in_new,
	 const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	struct maildir_name mn;

	if (d == NULL) {
		*error_r = maildir_set_error("opendir(%s): %s", path,
					     strerror(errno));
		xfree(&path);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    maildir_name_parse(de->d_name, &mn) < 0)
			continue;
		if (scan->count >= MAILBOX_MESSAGES_MAX) {
			*error_r = maildir_set_error(
			    "%s: more than %u messages", dir,
			    MAILBOX_MESSAGES_MAX);
			closedir(d);
			xfree(&path);
			return -1;
		}
		if (scan->count == scan->alloc) {
			scan->alloc = scan->alloc == 0 ? 64 : scan->alloc * 2;
			scan->files = xreallocarray(scan->files, scan->alloc,
						    sizeof(*scan->files));
		}
		scan->files[scan->count++] = (struct scan_file){
		    .name = xstrdup(de->d_name),
		    .base_len = mn.base_len,
		    .in_new = in_new,
		};
		errno = 0;
	}
	if (errno != 0) {
		*error_r = maildir_set_error("readdir(%s): %s", path,
					     strerror(errno));
		closedir(d);
		xfree(&path);
		return -1;
	}
	closedir(d);
	xfree(&path);
	return 0;
}

static int
base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int ret = memcmp(a, b, alen < blen ? alen : blen);

	if (ret != 0)
		return ret;
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Sort by base; for equal bases the cur/ one first. */
static int
file_cmp(const void *pa, const void *pb)
{
	const struct scan_file *a = pa, *b = pb;
	int ret = base_cmp(a->name, a->base_len, b->name, b->base_len);

	if (ret != 0)
		return ret;
	return (int)a->in_new - (int)b->in_new;
}

static struct scan_file *
scan_lookup(struct scan *scan, const char *name)
{
	size_t len = base_len(name), lo = 0, hi = scan->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct scan_file *f = &scan->files[mid];
		int ret = base_cmp(name, len, f->name, f->base_len);

		if (ret == 0) {
			/* the first of equal bases (the cur/ one) */
			while (mid > 0 &&
			       base_cmp(name, len, scan->files[mid - 1].name,
					scan->files[mid - 1].base_len) == 0)
				mid--;
			return &scan->files[mid];
		}
		if (ret < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* True when files[i] has the same base as the one before it (a second
 * copy, e.g. in new/ and cur/ at once: the first one counts). */
static bool
scan_is_dup(const struct scan *scan, size_t i)
{
	return i > 0 && base_cmp(scan->files[i - 1].name,
				 scan->files[i - 1].base_len,
				 scan->files[i].name,
				 scan->files[i].base_len) == 0;
}

/* Matches uidlist records to scanned files; returns how many files are
 * still without a UID (duplicates of a base do not count). */
static size_t
scan_match(struct scan *scan, const struct maildir_uidlist *list)
{
	size_t unmatched = 0;

	for (size_t i = 0; i < scan->count; i++) {
		scan->files[i].uid = 0;
		scan->files[i].rec = NULL;
	}
	for (size_t i = 0; list != NULL && i < list->count; i++) {
		struct scan_file *f = scan_lookup(scan, list->recs[i].filename);

		if (f != NULL && f->uid == 0) {
			f->uid = list->recs[i].uid;
			f->rec = &list->recs[i];
		}
	}
	for (size_t i = 0; i < scan->count; i++) {
		if (scan->files[i].uid == 0 && !scan_is_dup(scan, i))
			unmatched++;
	}
	return unmatched;
}

/* Microseconds from the "M<usecs>" inside the uniqueness part (after
 * the first '.', before the next one); false when there is none. */
static bool
name_usecs(const char *p, unsigned long long *usecs_r)
{
	if (*p != '.')
		return false;
	for (p++; *p != '\0' && *p != '.' && *p != ':'; p++) {
		if (*p == 'M') {
			unsigned long long usecs = 0;

			for (p++; *p >= '0' && *p <= '9' && usecs < 1000000000;
			     p++)
				usecs = usecs * 10 + (unsigned long long)(*p - '0');
			*usecs_r = usecs;
			return true;
		}
	}
	return false;
}

/* The order Dovecot gives UIDs to files it has not seen, whether in new/
 * or cur/: the delivery time in the name "<secs>.M<usecs>P..." (seconds,
 * then microseconds when both have them, then the base names: Dovecot's
 * maildir_filename_sort_cmp; checked against Dovecot 2.3 by
 * tests/interop/test_pop3_dovecot.py). */
static int
time_cmp(const void *pa, const void *pb)
{
	const struct scan_file *a = *(struct scan_file *const *)pa;
	const struct scan_file *b = *(struct scan_file *const *)pb;
	unsigned long long as = 0, bs = 0, au, bu;
	const char *pa_ = a->name, *pb_ = b->name;

	for (; *pa_ >= '0' && *pa_ <= '9' && as < 1000000000000ULL; pa_++)
		as = as * 10 + (unsigned long long)(*pa_ - '0');
	for (; *pb_ >= '0' && *pb_ <= '9' && bs < 1000000000000ULL; pb_++)
		bs = bs * 10 + (unsigned long long)(*pb_ - '0');
	if (as != bs)
		return as < bs ? -1 : 1;
	if (name_usecs(pa_, &au) && name_usecs(pb_, &bu) && au != bu)
		return au < bu ? -1 : 1;
	return base_cmp(a->name, a->base_len, b->name, b->base_len);
}

/* Under the uidlist lock: re-reads the list, gives unmatched files UIDs
 * and appends them (or writes a new file). *list_io is replaced. */
static int
assign_uids(struct mailbox *box, struct scan *scan,
	    struct maildir_uidlist **list_io, const char **error_r)
{
	unsigned int timeout = box->set.lock_timeout_secs != 0
				   ? box->set.lock_timeout_secs
				   : MAILDIR_UIDLIST_LOCK_STALE_SECS;
	struct maildir_uidlist *list = NULL;
	struct dotlock *lock;
	struct scan_file **newf;
	size_t n = 0, old_count;
	const char *ignored;
	int ret;

	ret = maildir_uidlist_lock(box->dir, timeout, &lock, error_r);
	if (ret <= 0)
		return -1;
	ret = maildir_uidlist_read(box->dir, &list, error_r);
	if (ret < 0) {
		(void)dotlock_delete(&lock, &ignored);
		return -1;
	}
	if (ret == 0)
		list = maildir_uidlist_new((uint32_t)time(NULL));
	if (box->uid_validity != 0 && list->uid_validity != box->uid_validity) {
		*error_r = maildir_set_error("%s: UIDVALIDITY changed (%u -> %u)",
					     box->dir, box->uid_validity,
					     list->uid_validity);
		maildir_uidlist_free(&list);
		(void)dotlock_delete(&lock, &ignored);
		return -1;
	}
	maildir_uidlist_free(list_io);
	*list_io = list;
	(void)scan_match(scan, list);

	newf = xreallocarray(NULL, scan->count + 1, sizeof(*newf));
	for (size_t i = 0; i < scan->count; i++) {
		if (scan->files[i].uid == 0 && !scan_is_dup(scan, i))
			newf[n++] = &scan->files[i];
	}
	qsort(newf, n, sizeof(*newf), time_cmp);
	old_count = list->count;
	for (size_t i = 0; i < n; i++) {
		char *base = xstrndup(newf[i]->name, newf[i]->base_len);

		newf[i]->uid = maildir_uidlist_add(list, base, NULL);
		xfree(&base);
		if (newf[i]->uid == 0) {
			*error_r = maildir_set_error("%s: UIDs exhausted",
						     box->dir);
			xfree(&newf);
			(void)dotlock_delete(&lock, &ignored);
			return -1;
		}
	}
	xfree(&newf);
	if (ret == 0)
		return maildir_uidlist_write(&lock, list, error_r);
	if (n > 0 &&
	    maildir_uidlist_append_recs(box->dir, list, old_count, error_r) < 0) {
		(void)dotlock_delete(&lock, &ignored);
		return -1;
	}
	/* the records' pointers moved when the list grew */
	(void)scan_match(scan, list);
	return dotlock_delete(&lock, error_r);
}

/* Moves files of new/ that have a UID to cur/ (adding ":2,"). Returns 1
 * when one had vanished (someone else moved it: sync again). */
static int
move_new(struct mailbox *box, struct scan *scan, const char **error_r)
{
	int ret = 0;

	for (size_t i = 0; i < scan->count; i++) {
		struct scan_file *f = &scan->files[i];
		char *src, *dest;

		if (!f->in_new || f->uid == 0)
			continue;
		src = xasprintf("%s/new/%s", box->dir, f->name);
		dest = xasprintf("%s/cur/%s%s", box->dir, f->name,
				 strchr(f->name, ':') == NULL ? ":2," : "");
		if (rename(src, dest) == 0) {
			xfree(&f->name);
			f->name = xstrdup(strrchr(dest, '/') + 1);
			f->in_new = false;
		} else if (errno == ENOENT) {
			ret = 1;
		} else if (errno != ENOSPC && errno != EACCES &&
			   errno != EDQUOT) {
			*error_r = maildir_set_error("rename(%s, %s): %s", src,
						     dest, strerror(errno));
			xfree(&src);
			xfree(&dest);
			return -1;
		}
		/* out of space or read-only: it stays in new/, as in Dovecot */
		xfree(&src);
		xfree(&dest);
	}
	return ret;
}

static int
msg_uid_cmp(const void *pa, const void *pb)
{
	const struct mailbox_msg *a = pa, *b = pb;

	return a->uid < b->uid ? -1 : (a->uid > b->uid ? 1 : 0);
}

static void
msgs_free(struct mailbox *box)
{
	for (size_t i = 0; i < box->count; i++) {
		xfree(&box->msgs[i].filename);
		xfree(&box->msgs[i].pop3_uidl);
	}
	xfree(&box->msgs);
	box->count = 0;
}

/* msg (uid and filename set) takes its sizes from the name and its W and
 * P fields from the uidlist record rec (may be NULL). */
static void
msg_fill(struct mailbox_msg *msg, const struct maildir_uidlist_rec *rec)
{
	struct maildir_name mn;
	const char *value;

	if (maildir_name_parse(msg->filename, &mn) == 0) {
		msg->has_size = mn.has_size;
		msg->size = mn.size;
		msg->has_vsize = mn.has_vsize;
		msg->vsize = mn.vsize;
	}
	if (rec == NULL)
		return;
	value = maildir_uidlist_rec_ext(rec, 'W');
	if (!msg->has_vsize && value != NULL && *value != '\0') {
		char *end;
		unsigned long long v = strtoull(value, &end, 10);

		if (*end == '\0' && value[0] != '-') {
			msg->has_vsize = true;
			msg->vsize = v;
		}
	}
	value = maildir_uidlist_rec_ext(rec, 'P');
	if (value != NULL)
		msg->pop3_uidl = xstrdup(value);
}

static void
build_msgs(struct mailbox *box, struct scan *scan)
{
	size_t n = 0;

	msgs_free(box);
	box->msgs = xreallocarray(NULL, scan->count + 1, sizeof(*box->msgs));
	for (size_t i = 0; i < scan->count; i++) {
		struct scan_file *f = &scan->files[i];
		struct mailbox_msg *msg;

		if (f->uid == 0 || scan_is_dup(scan, i))
			continue;
		msg = &box->msgs[n++];
		*msg = (struct mailbox_msg){.uid = f->uid, .in_new = f->in_new};
		msg->filename = xstrdup(f->name);
		msg_fill(msg, f->rec);
	}
	box->count = n;
	qsort(box->msgs, n, sizeof(*box->msgs), msg_uid_cmp);
}

static int
sync_once(struct mailbox *box, const char **error_r)
{
	struct scan scan = {0};
	struct maildir_uidlist *list = NULL;
	int ret;

	if (scan_dir(&scan, box->dir, "cur", false, error_r) < 0 ||
	    scan_dir(&scan, box->dir, "new", true, error_r) < 0) {
		scan_free(&scan);
		return -1;
	}
	qsort(scan.files, scan.count, sizeof(*scan.files), file_cmp);
	ret = maildir_uidlist_read(box->dir, &list, error_r);
	if (ret < 0) {
		scan_free(&scan);
		return -1;
	}
	if (ret > 0 && box->uid_validity != 0 &&
	    list->uid_validity != box->uid_validity) {
		*error_r = maildir_set_error("%s: UIDVALIDITY changed (%u -> %u)",
					     box->dir, box->uid_validity,
					     list->uid_validity);
		ret = -1;
		goto out;
	}
	if (!box->set.readonly &&
	    (scan_match(&scan, list) > 0 || ret == 0)) {
		if (assign_uids(box, &scan, &list, error_r) < 0) {
			ret = -1;
			goto out;
		}
	}
	/* 1 when a file vanished while moving: the caller syncs again */
	ret = box->set.readonly ? 0 : move_new(box, &scan, error_r);
	if (ret < 0)
		goto out;
	if (list != NULL) {
		box->uid_validity = list->uid_validity;
		box->next_uid = list->next_uid;
	}
	build_msgs(box, &scan);
out:
	maildir_uidlist_free(&list);
	scan_free(&scan);
	return ret;
}

int
mailbox_sync(struct mailbox *box, const char **error_r)
{
	for (unsigned int i = 0; i < MAILBOX_SYNC_TRIES; i++) {
		int ret = sync_once(box, error_r);

		if (ret <= 0)
			return ret;
	}
	/* files kept moving; what we have is a consistent snapshot */
	return 0;
}

int
mailbox_open(const char *dir, const struct mailbox_settings *set,
	     struct mailbox **box_r, const char **error_r)
{
	struct mailbox *box;
	int ret = maildir_exists(dir, error_r);

	if (ret <= 0) {
		if (ret == 0)
			*error_r = maildir_set_error("%s: not a Maildir", dir);
		return -1;
	}
	box = xcalloc(1, sizeof(*box));
	box->dir = xstrdup(dir);
	if (set != NULL)
		box->set = *set;
	if (mailbox_sync(box, error_r) < 0) {
		mailbox_close(&box);
		return -1;
	}
	*box_r = box;
	return 0;
}

int
mailbox_open_known(const char *dir, uint32_t uid_validity, uint32_t next_uid,
		   mailbox_known_fn *known, void *ctx, size_t count,
		   struct mailbox **box_r, const char **error_r)
{
	struct maildir_uidlist *list = NULL;
	struct mailbox *box;
	char letters[MAILBOX_LETTERS_MAX + 1];
	int ret;

	if (count > MAILBOX_MESSAGES_MAX)
		return 0;
	ret = maildir_uidlist_read(dir, &list, error_r);
	if (ret <= 0)
		return ret;
	if (list->uid_validity != uid_validity || list->next_uid != next_uid) {
		maildir_uidlist_free(&list);
		return 0;
	}
	box = xcalloc(1, sizeof(*box));
	box->dir = xstrdup(dir);
	box->uid_validity = uid_validity;
	box->next_uid = next_uid;
	box->msgs = xreallocarray(NULL, count + 1, sizeof(*box->msgs));
	for (size_t i = 0; i < count; i++) {
		struct mailbox_msg *msg = &box->msgs[i];
		const struct maildir_uidlist_rec *rec;
		struct maildir_name mn;
		uint32_t uid;

		known(ctx, i, &uid, letters);
		rec = maildir_uidlist_lookup(list, uid);
		if (rec == NULL || (i > 0 && uid <= box->msgs[i - 1].uid))
			break;
		*msg = (struct mailbox_msg){.uid = uid};
		msg->filename =
		    xasprintf("%.*s:2,%s", (int)base_len(rec->filename),
			      rec->filename, letters);
		if (maildir_name_parse(msg->filename, &mn) < 0) {
			xfree(&msg->filename);
			break;
		}
		box->count = i + 1;
		msg_fill(msg, rec);
	}
	maildir_uidlist_free(&list);
	if (box->count != count) {
		/* the uidlist does not know a UID (or a name is invalid):
		   the caller lists the directories */
		mailbox_close(&box);
		return 0;
	}
	*box_r = box;
	return 1;
}

void
mailbox_close(struct mailbox **boxp)
{
	struct mailbox *box = *boxp;

	if (box == NULL)
		return;
	*boxp = NULL;
	msgs_free(box);
	xfree(&box->dir);
	xfree(&box);
}

long
mailbox_find_uid(const struct mailbox *box, uint32_t uid)
{
	size_t lo = 0, hi = box->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (box->msgs[mid].uid == uid)
			return (long)mid;
		if (box->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
