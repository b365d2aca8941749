/*
 * view_store - changing the selected mailbox: STORE / UID STORE (with
 * CONDSTORE's UNCHANGEDSINCE), EXPUNGE / UID EXPUNGE, and the keyword
 * letters of dovecot-keywords. Flags change by renaming the message file
 * (mail/mailbox.h), under the index lock so that the index, which other
 * sessions read, and the files agree; every change gets a new modseq.
 * Client arguments are untrusted and checked here. Blocking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imapd.h"
#include "mail/dotlock.h"
#include "mail/maildir.h"
#include "mail/maildir_keywords.h"
#include "mail/maildir_uidlist.h"
#include "util/log.h"
#include "util/xmem.h"
#include "view_private.h"

#define KEYWORDS_FILE_MAX (64 * 1024)
#define KEYWORDS_LOCK_TIMEOUT_SECS 30
#define STORE_FLAGS_MAX 100

#define SERVERBUG_TEXT                                                         \
	"[SERVERBUG] Internal error occurred. Refer to server log for more "   \
	"information."

int
view_keywords_read(const char *dir, struct maildir_keywords *kw,
		   const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, MAILDIR_KEYWORDS_NAME);
	FILE *f = fopen(path, "re");
	struct strbuf sb;
	char buf[4096];
	size_t n;
	int ret = 0;

	memset(kw, 0, sizeof(*kw));
	if (f == NULL) {
		if (errno != ENOENT) {
			*error_r = maildir_set_error("fopen(%s): %s", path,
						     strerror(errno));
			ret = -1;
		}
		xfree(&path);
		return ret;
	}
	strbuf_init(&sb, KEYWORDS_FILE_MAX);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (strbuf_append(&sb, buf, n) < 0) {
			*error_r = maildir_set_error("%s: too large", path);
			ret = -1;
			break;
		}
	}
	fclose(f);
	if (ret == 0 && maildir_keywords_parse(sb.data != NULL ? sb.data : "",
					       sb.len, kw, error_r) < 0) {
		*error_r = maildir_set_error("%s: %s", path, *error_r);
		ret = -1;
	}
	strbuf_release(&sb);
	xfree(&path);
	return ret;
}

static bool
keyword_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > MAILDIR_KEYWORD_LEN_MAX || name[0] == '\\')
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch))
			return false;
	}
	return true;
}

/* Writes kw as the new dovecot-keywords the way Dovecot's
 * maildir_keywords_commit() does: with dovecot-uidlist.lock held (that is
 * what serialises writers; Dovecot removes a leftover dovecot-keywords.lock
 * first), through dovecot-keywords.lock renamed over the file, with an
 * mtime that grows every time (Dovecot re-reads the file when its mtime
 * changes). */
static int
keywords_write(const char *dir, const struct maildir_keywords *kw,
	       const char **error_r)
{
	char *path = xasprintf("%s/%s", dir, MAILDIR_KEYWORDS_NAME);
	char *lock_path = xasprintf("%s.lock", path);
	struct dotlock_settings set = {
	    .timeout_secs = KEYWORDS_LOCK_TIMEOUT_SECS,
	    .stale_secs = MAILDIR_UIDLIST_LOCK_STALE_SECS,
	};
	struct dotlock *lock = NULL;
	struct stat old, st;
	size_t len, done = 0;
	char *data;
	int fd, ret;

	if (stat(path, &old) < 0)
		old.st_mtime = 0;
	(void)unlink(lock_path);
	xfree(&lock_path);
	ret = dotlock_create(path, &set, &lock, error_r);
	if (ret <= 0) {
		xfree(&path);
		return -1;
	}
	fd = dotlock_fd(lock);
	data = maildir_keywords_serialize(kw, &len);
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	xfree(&data);
	if (done != len) {
		*error_r = maildir_set_error("write(%s.lock): %s", path,
					     strerror(errno));
		ret = -1;
	} else if (fstat(fd, &st) == 0 && st.st_mtime <= old.st_mtime) {
		struct timespec times[2] = {
		    {.tv_nsec = UTIME_NOW},
		    {.tv_sec = old.st_mtime + 1},
		};

		(void)futimens(fd, times);
	}
	if (ret < 0) {
		const char *error;

		(void)dotlock_delete(&lock, &error);
	} else {
		ret = dotlock_replace(&lock, error_r);
	}
	xfree(&path);
	return ret;
}

static int
keywords_lookup(const char *dir, const char *const *names, unsigned int count,
		struct maildir_keywords *kw, char *letters_r)
{
	const char *error;
	int missing = 0;

	if (view_keywords_read(dir, kw, &error) < 0) {
		/* a broken file: Dovecot starts a new one too */
		log_warning("%s (replacing it)", error);
		maildir_keywords_clear(kw);
	}
	for (unsigned int i = 0; i < count; i++) {
		letters_r[i] = maildir_keywords_letter(kw, names[i]);
		if (letters_r[i] == '\0')
			missing++;
	}
	return missing;
}

int
imap_keywords_letters(const char *dir, const char *const *names,
		      unsigned int count, bool create, char *letters_r,
		      const char **error_r)
{
	struct maildir_keywords kw;
	struct dotlock *ulock = NULL;
	const char *error;
	int ret;

	for (unsigned int i = 0; i < count; i++) {
		if (!keyword_valid(names[i])) {
			*error_r = "Invalid keyword";
			return -1;
		}
	}
	if (keywords_lookup(dir, names, count, &kw, letters_r) == 0 ||
	    !create) {
		maildir_keywords_clear(&kw);
		return 0;
	}
	maildir_keywords_clear(&kw);
	ret = maildir_uidlist_lock(dir, KEYWORDS_LOCK_TIMEOUT_SECS, &ulock,
				   error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = maildir_set_error("%s: timed out waiting "
						     "for dovecot-uidlist.lock",
						     dir);
		return -1;
	}
	/* again under the lock: someone may have added them meanwhile */
	ret = 0;
	if (keywords_lookup(dir, names, count, &kw, letters_r) > 0) {
		for (unsigned int i = 0; i < count && ret == 0; i++) {
			unsigned int slot;

			if (letters_r[i] != '\0')
				continue;
			letters_r[i] = maildir_keywords_letter(&kw, names[i]);
			if (letters_r[i] != '\0')
				continue; /* the same name twice */
			for (slot = 0; slot < MAILDIR_KEYWORDS_MAX; slot++) {
				if (kw.names[slot] == NULL)
					break;
			}
			if (slot == MAILDIR_KEYWORDS_MAX) {
				*error_r = "Too many keywords in this mailbox "
					   "(at most 26)";
				ret = -1;
				break;
			}
			kw.names[slot] = xstrdup(names[i]);
			letters_r[i] = (char)('a' + slot);
		}
		if (ret == 0)
			ret = keywords_write(dir, &kw, error_r);
	}
	(void)dotlock_delete(&ulock, &error);
	maildir_keywords_clear(&kw);
	return ret;
}

int
imap_view_store(struct imap_client *c, const struct imap_seqset *seqs, char op,
		uint32_t flags, const char *const *keywords,
		unsigned int keyword_count, uint64_t unchangedsince,
		struct imap_seqset *failed_r, const char **error_r)
{
	struct imap_view *v = c->view;
	struct imap_view_private *p = v->priv;
	char letters[IMAP_KEYWORDS_MAX + 1];
	uint32_t kwbits = 0;
	uint64_t modseq = 0;
	struct imap_seqset_iter it = {0};
	uint32_t seq;
	int fd, ret = 0;

	if (v->readonly) {
		*error_r = "Mailbox is read-only.";
		return -1;
	}
	if (keyword_count > IMAP_KEYWORDS_MAX) {
		*error_r = "Too many keywords in this mailbox (at most 26)";
		return -1;
	}
	if (keyword_count > 0) {
		if (imap_keywords_letters(v->dir, keywords, keyword_count,
					  op != '-', letters, error_r) < 0)
			return -1;
		for (unsigned int i = 0; i < keyword_count; i++) {
			if (letters[i] != '\0')
				kwbits |= 1u << (letters[i] - 'a');
		}
		if (view_keywords_reload(v))
			view_send_flags(c);
	}
	flags &= MAIL_FLAGS_MASK;
	fd = view_index_begin(v, false, error_r);
	if (fd < 0)
		return -1;
	while (imap_seqset_next(seqs, &it, &seq)) {
		struct imap_msg *m;
		struct mail_index_rec *r;
		uint8_t nflags;
		uint32_t nkw;
		char buf[64];
		long bi;

		if (seq == 0 || seq > v->count)
			continue;
		m = &v->msgs[seq - 1];
		if ((m->flags & VIEW_FLAG_GONE) != 0 ||
		    (r = mail_index_lookup(p->idx, m->uid)) == NULL)
			continue;
		if ((m->flags & ~(uint32_t)(IMAP_FLAG_RECENT |
					    VIEW_FLAGS_PRIVATE)) != r->flags ||
		    m->keywords != r->keywords)
			m->flags |= VIEW_FLAG_REPORT;
		if (unchangedsince != 0 && r->modseq > unchangedsince) {
			if (failed_r != NULL)
				imap_seqset_add(failed_r, seq, seq);
			continue;
		}
		switch (op) {
		case '+':
			nflags = r->flags | (uint8_t)flags;
			nkw = r->keywords | kwbits;
			break;
		case '-':
			nflags = r->flags & (uint8_t)~flags;
			nkw = r->keywords & ~kwbits;
			break;
		default:
			nflags = (uint8_t)flags;
			nkw = kwbits;
			break;
		}
		if (nflags != r->flags || nkw != r->keywords) {
			bi = mailbox_find_uid(p->box, m->uid);
			if (bi < 0)
				continue;
			mail_index_flags_letters(
			    mailbox_msg_flags(&p->box->msgs[bi]), nflags, nkw,
			    buf);
			if (mailbox_msg_set_flags(p->box, (size_t)bi, buf,
						  error_r) < 0) {
				if (strstr(*error_r, "expunged") != NULL)
					continue;
				ret = -1;
				break;
			}
			if (modseq == 0)
				modseq = mail_index_next_modseq(p->idx);
			r->flags = nflags;
			r->keywords = nkw;
			r->modseq = modseq;
		}
		m->flags = r->flags |
			   (m->flags & (IMAP_FLAG_RECENT | VIEW_FLAG_REPORT));
		m->keywords = r->keywords;
		m->modseq = r->modseq;
	}
	view_index_end(v, &fd, modseq != 0);
	if (modseq != 0)
		v->highest_modseq = p->idx->highest_modseq;
	return ret;
}

int
view_expunge(struct imap_client *c, const struct imap_seqset *seqs, bool force,
	     bool silent, const char **error_r)
{
	struct imap_view *v = c->view;
	struct imap_view_private *p = v->priv;
	uint64_t modseq = 0;
	bool *del;
	int fd, ret = 0;

	if (v->readonly) {
		*error_r = "Mailbox is read-only.";
		return -1;
	}
	fd = view_index_begin(v, false, error_r);
	if (fd < 0)
		return -1;
	del = xcalloc((size_t)v->count + 1, sizeof(*del));
	for (uint32_t k = 0; k < v->count; k++) {
		struct imap_msg *m = &v->msgs[k];
		struct mail_index_rec *r;
		long bi;

		if ((seqs != NULL && !imap_seqset_contains(seqs, k + 1)) ||
		    (m->flags & VIEW_FLAG_GONE) != 0 ||
		    (r = mail_index_lookup(p->idx, m->uid)) == NULL)
			continue;
		if (!force && (r->flags & MAIL_FLAG_DELETED) == 0)
			continue;
		bi = mailbox_find_uid(p->box, m->uid);
		if (bi >= 0 &&
		    mailbox_msg_expunge(p->box, (size_t)bi, error_r) < 0) {
			ret = -1;
			break;
		}
		if (modseq == 0)
			modseq = mail_index_next_modseq(p->idx);
		mail_index_expunge(p->idx, m->uid, modseq);
		del[k] = true;
	}
	if (modseq != 0)
		p->rescan = true; /* our listing still has the files */
	view_index_end(v, &fd, modseq != 0);
	view_remove(c, del, silent);
	if (modseq != 0)
		v->highest_modseq = p->idx->highest_modseq;
	xfree(&del);
	return ret;
}

int
imap_view_expunge(struct imap_client *c, const struct imap_seqset *seqs,
		  bool force, const char **error_r)
{
	return view_expunge(c, seqs, force, false, error_r);
}

void
view_cmd_expunge(struct imap_client *c, const struct imap_arg *args,
		 unsigned int count)
{
	struct imap_seqset seqs;
	const char *error;
	int ret;

	imap_seqset_init(&seqs);
	if (c->uid_cmd ? count != 1 : count != 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: "
				   "Invalid arguments.",
				   c->cmd_name);
		return;
	}
	if (c->uid_cmd && imap_view_seqset(c, &args[0], true, &seqs) < 0)
		return;
	if (c->view->readonly) {
		imap_seqset_release(&seqs);
		client_send_tagged(c, "NO", "Mailbox is read-only.");
		return;
	}
	ret = view_expunge(c, c->uid_cmd ? &seqs : NULL, false, false, &error);
	imap_seqset_release(&seqs);
	if (ret < 0) {
		log_error("%s: EXPUNGE in %s: %s", c->user, c->view->name,
			  error);
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
		return;
	}
	/* client_send_tagged() syncs the view first */
	client_send_tagged(c, "OK", "Expunge completed.");
}

/* STORE */

struct store_args {
	char op;
	bool silent;
	uint64_t unchangedsince;
	bool have_unchangedsince;
	uint32_t flags;
	const char *keywords[STORE_FLAGS_MAX];
	unsigned int keyword_count;
};

static const char *
store_flag(struct store_args *sa, const struct imap_arg *arg)
{
	static const struct {
		const char *name;
		uint32_t flag;
	} sys[] = {
	    {"\\Seen", IMAP_FLAG_SEEN},
	    {"\\Answered", IMAP_FLAG_ANSWERED},
	    {"\\Flagged", IMAP_FLAG_FLAGGED},
	    {"\\Deleted", IMAP_FLAG_DELETED},
	    {"\\Draft", IMAP_FLAG_DRAFT},
	};
	const char *s;

	if (!imap_arg_get_atom(arg, &s))
		return "Flags must be atoms";
	if (s[0] == '\\') {
		for (size_t i = 0; i < sizeof(sys) / sizeof(*sys); i++) {
			if (strcasecmp(s, sys[i].name) == 0) {
				sa->flags |= sys[i].flag;
				return NULL;
			}
		}
		return "Invalid system flag";
	}
	if (!keyword_valid(s))
		return "Invalid keyword";
	for (unsigned int i = 0; i < sa->keyword_count; i++) {
		if (strcasecmp(sa->keywords[i], s) == 0)
			return NULL;
	}
	if (sa->keyword_count == STORE_FLAGS_MAX)
		return "Too many flags";
	sa->keywords[sa->keyword_count++] = s;
	return NULL;
}

static const char *
store_parse(const struct imap_arg *args, unsigned int count,
	    struct store_args *sa)
{
	unsigned int i = 1;
	const char *item, *error;

	if (count < 3)
		return "Missing arguments";
	if (args[i].type == IMAP_ARG_LIST) {
		const struct imap_arg *mod = &args[i++];

		for (unsigned int k = 0; k < mod->count; k += 2) {
			const char *s;
			char *end;

			if (!imap_arg_atom_equals(&mod->list[k],
						  "UNCHANGEDSINCE") ||
			    k + 1 >= mod->count ||
			    !imap_arg_get_atom(&mod->list[k + 1], &s) ||
			    s[0] < '0' || s[0] > '9')
				return "Invalid STORE modifiers";
			errno = 0;
			sa->unchangedsince = strtoull(s, &end, 10);
			if (errno != 0 || *end != '\0' ||
			    sa->unchangedsince > INT64_MAX)
				return "Invalid UNCHANGEDSINCE";
			sa->have_unchangedsince = true;
		}
	}
	if (i + 1 >= count || !imap_arg_get_atom(&args[i], &item))
		return "Missing arguments";
	i++;
	sa->op = '=';
	if (item[0] == '+' || item[0] == '-')
		sa->op = *item++;
	if (strncasecmp(item, "FLAGS", 5) != 0)
		return "Invalid STORE item";
	if (strcasecmp(item + 5, ".SILENT") == 0)
		sa->silent = true;
	else if (item[5] != '\0')
		return "Invalid STORE item";
	if (args[i].type == IMAP_ARG_LIST) {
		if (i + 1 != count)
			return "Invalid arguments";
		for (unsigned int k = 0; k < args[i].count; k++) {
			if ((error = store_flag(sa, &args[i].list[k])) != NULL)
				return error;
		}
	} else {
		for (; i < count; i++) {
			if ((error = store_flag(sa, &args[i])) != NULL)
				return error;
		}
	}
	return NULL;
}

void
view_cmd_store(struct imap_client *c, const struct imap_arg *args,
	       unsigned int count)
{
	struct imap_view *v = c->view;
	struct store_args sa = {0};
	struct imap_seqset seqs, failed;
	struct imap_seqset_iter it = {0};
	struct strbuf modified;
	const char *error;
	uint64_t pre_highest;
	uint32_t seq;
	int ret = 0;

	if ((error = store_parse(args, count, &sa)) != NULL) {
		client_send_tagged(c, "BAD", "Error in IMAP command %s: %s",
				   c->cmd_name, error);
		return;
	}
	if (imap_view_seqset(c, &args[0], c->uid_cmd, &seqs) < 0)
		return;
	if (v->readonly) {
		imap_seqset_release(&seqs);
		client_send_tagged(c, "NO", "Mailbox is read-only.");
		return;
	}
	if (sa.have_unchangedsince)
		c->enabled |= IMAP_ENABLED_CONDSTORE;
	imap_seqset_init(&failed);
	pre_highest = v->highest_modseq;
	if (sa.have_unchangedsince && sa.unchangedsince == 0) {
		/* RFC 7162 3.1.3: UNCHANGEDSINCE 0 always fails */
		while (imap_seqset_next(&seqs, &it, &seq)) {
			if ((v->msgs[seq - 1].flags & VIEW_FLAG_GONE) == 0)
				imap_seqset_add(&failed, seq, seq);
		}
	} else {
		ret = imap_view_store(c, &seqs, sa.op, sa.flags, sa.keywords,
				      sa.keyword_count, sa.unchangedsince,
				      &failed, &error);
	}
	if (ret < 0) {
		imap_seqset_release(&seqs);
		imap_seqset_release(&failed);
		if (strstr(error, "keyword") != NULL) {
			client_send_tagged(c, "NO", "%s", error);
			return;
		}
		log_error("%s: STORE in %s: %s", c->user, v->name, error);
		client_send_tagged(c, "NO", SERVERBUG_TEXT);
		return;
	}
	memset(&it, 0, sizeof(it));
	while (imap_seqset_next(&seqs, &it, &seq)) {
		const struct imap_msg *m = &v->msgs[seq - 1];

		if ((m->flags & VIEW_FLAG_GONE) != 0 ||
		    imap_seqset_contains(&failed, seq))
			continue;
		if (!sa.silent)
			view_send_fetch_flags(c, seq, c->uid_cmd, true);
		else if ((c->enabled & IMAP_ENABLED_CONDSTORE) != 0 &&
			 m->modseq > pre_highest)
			/* RFC 7162 3.1.3: the new MODSEQ even when silent */
			view_send_fetch_flags(c, seq, c->uid_cmd, false);
		client_flush_if_big(c);
	}
	if (failed.count > 0) {
		/* UIDs for UID STORE (RFC 7162 3.1.3), taken before the sync
		   may renumber */
		struct imap_seqset uids;

		imap_seqset_init(&uids);
		strbuf_init(&modified, STRBUF_UNLIMITED);
		memset(&it, 0, sizeof(it));
		while (imap_seqset_next(&failed, &it, &seq)) {
			uint32_t n = c->uid_cmd ? v->msgs[seq - 1].uid : seq;

			imap_seqset_add(&uids, n, n);
		}
		(void)imap_seqset_format(&uids, &modified);
		imap_seqset_release(&uids);
	}
	/* client_send_tagged() syncs the view (without expunges unless UID
	   STORE) before the tagged reply */
	if (failed.count > 0) {
		client_send_tagged(c, "OK",
				   "[MODIFIED %s] Conditional STORE "
				   "failed.",
				   strbuf_cstr(&modified));
		strbuf_release(&modified);
	} else {
		client_send_tagged(c, "OK", "Store completed.");
	}
	imap_seqset_release(&seqs);
	imap_seqset_release(&failed);
}
