/*
 * search_eval - evaluates SEARCH keys against the messages of the selected
 * mailbox, for SEARCH, SORT and THREAD. The program comes from the client
 * (parsed and bounded by mail/imap_search_parse.c with imap_search_max_keys
 * nodes); the messages are untrusted mail. Cheap keys (flags, UIDs,
 * sizes, dates) are evaluated before header keys and those before body
 * keys, and each message's header and body are loaded only when a key
 * needs them: headers come from the view's cache, bodies are mapped (not
 * read) and decoded in bounded chunks by search_body.c, so memory does not
 * grow with the mailbox or the message.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imapd.h"
#include "mail/imap_search_parse.h"
#include "mail/mail_params.h"
#include "mail/mime_parse.h"
#include "mail/rfc822_date.h"
#include "mail/rfc822_header.h"
#include "mail/search_match.h"
#include "search_eval.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define SEARCH_MAX_DEPTH 64
#define SEARCH_MAX_RANGES 10000
#define SEARCH_MAX_FIELDS 10000
/* A key's folded form; longer keys are refused by search_match_init(). */
#define SEARCH_MAX_KEY (64 * 1024)

/* Per-message state, loaded on demand. */
struct msg_state {
	uint32_t seq;
	const struct imap_msg *msg;
	bool hdr_loaded, hdr_ok;
	struct rfc822_header hdr;
	bool date_loaded, date_ok;
	time_t internal;
	bool size_loaded, size_ok;
	uint64_t vsize;
	bool sent_loaded, sent_ok;
	int64_t sent_day;
	bool file_loaded, file_ok;
	struct imap_msg_file file;
	struct mime_part *root;
	bool expunged;
	bool error;
};

struct eval_ctx {
	struct imap_client *c;
	uint32_t max_uid;
};

struct imap_search_program *
search_eval_parse(struct imap_client *c, const struct imap_arg *args,
		  unsigned int count, unsigned int flags, bool charset_first)
{
	struct imap_search_limits limits = {
	    (unsigned int)var_imap_search_max_keys, SEARCH_MAX_DEPTH,
	    SEARCH_MAX_RANGES};
	struct imap_search_program *prog = NULL;
	struct imap_arg *tmp = NULL;
	const char *error;
	int r;

	if (charset_first) {
		/* SORT and THREAD: "charset keys...": give the parser the
		   "CHARSET" it expects */
		if (count < 2) {
			client_send_tagged(c, "BAD",
					   "Error in IMAP command %s: "
					   "Missing search keys",
					   c->cmd_name);
			return NULL;
		}
		tmp = xcalloc(count + 1, sizeof(*tmp));
		tmp[0].type = IMAP_ARG_ATOM;
		tmp[0].str = (char *)"CHARSET";
		tmp[0].len = 7;
		memcpy(tmp + 1, args, count * sizeof(*args));
		args = tmp;
		count++;
	}
	r = imap_search_parse(args, count, &limits, flags, &prog, &error);
	xfree(&tmp);
	if (r < 0) {
		client_send_tagged(c, "BAD", "Error in IMAP command %s: %s",
				   c->cmd_name, error);
		return NULL;
	}
	return prog;
}

/* ---- preparation ---- */

static bool
is_string_key(enum imap_search_key k)
{
	switch (k) {
	case IMAP_SEARCH_BCC:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_CC:
	case IMAP_SEARCH_FROM:
	case IMAP_SEARCH_SUBJECT:
	case IMAP_SEARCH_TEXT:
	case IMAP_SEARCH_TO:
	case IMAP_SEARCH_HEADER:
		return true;
	default:
		return false;
	}
}

/* 1 cheap (the index), 2 header (cache), 3 sizes/dates that may need the
   file, 4 body. */
static unsigned int
node_cost(const struct imap_search_node *n)
{
	const struct imap_search_node *ch;
	unsigned int cost = 1, cc;

	switch (n->key) {
	case IMAP_SEARCH_AND:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		for (ch = n->children; ch != NULL; ch = ch->next) {
			if ((cc = node_cost(ch)) > cost)
				cost = cc;
		}
		return cost;
	case IMAP_SEARCH_BCC:
	case IMAP_SEARCH_CC:
	case IMAP_SEARCH_FROM:
	case IMAP_SEARCH_SUBJECT:
	case IMAP_SEARCH_TO:
	case IMAP_SEARCH_HEADER:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		return 3;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		return 2;
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		return 4;
	default:
		return 1;
	}
}

/* Converts strings to UTF-8, resolves sets, orders AND children by
   cost (stable). Returns -1 for an unknown charset. */
static int
prepare(struct eval_ctx *ev, struct imap_search_node *n, const char *charset)
{
	struct imap_search_node *ch, *sorted = NULL, **tail;
	unsigned int cost;

	for (ch = n->children; ch != NULL; ch = ch->next) {
		if (prepare(ev, ch, charset) < 0)
			return -1;
	}
	if (is_string_key(n->key) && n->value != NULL && charset != NULL) {
		struct strbuf sb;

		strbuf_init(&sb, STRBUF_UNLIMITED);
		if (rfc822_charset_to_utf8(&sb, charset, n->value,
					   strlen(n->value)) < 0) {
			strbuf_release(&sb);
			return -1;
		}
		xfree(&n->value);
		n->value = strbuf_steal(&sb);
		if (n->value == NULL)
			n->value = xstrdup("");
	}
	if (n->key == IMAP_SEARCH_SEQSET && !n->set.saved)
		imap_seqset_resolve(&n->set, ev->c->view->count);
	if (n->key == IMAP_SEARCH_UID && !n->set.saved)
		imap_seqset_resolve(&n->set, ev->max_uid);
	if (n->key != IMAP_SEARCH_AND || n->children == NULL)
		return 0;
	/* stable selection by cost class: cheap keys first */
	tail = &sorted;
	for (cost = 1; cost <= 4; cost++) {
		struct imap_search_node **pp = &n->children;

		while (*pp != NULL) {
			ch = *pp;
			if (node_cost(ch) == cost) {
				*pp = ch->next;
				ch->next = NULL;
				*tail = ch;
				tail = &ch->next;
			} else
				pp = &ch->next;
		}
	}
	*tail = n->children; /* nothing should be left; keep it anyway */
	n->children = sorted;
	return 0;
}

/* ---- per-message data ---- */

int
search_eval_header(struct imap_client *c, uint32_t seq,
		   struct rfc822_header *hdr_r)
{
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	if (imap_view_msg_cached(c, seq, IMAP_CACHE_HEADER, &sb) < 0) {
		strbuf_release(&sb);
		memset(hdr_r, 0, sizeof(*hdr_r));
		return -1;
	}
	rfc822_header_parse(strbuf_cstr(&sb), sb.len, SEARCH_MAX_FIELDS, hdr_r);
	strbuf_release(&sb);
	return 0;
}

static bool load_file(struct eval_ctx *ev, struct msg_state *m);

/* A lookup failed: gone meanwhile (no match) or an error (NO). */
static void
note_failure(struct eval_ctx *ev, struct msg_state *m)
{
	if (load_file(ev, m))
		m->error = true;
}

static bool
load_header(struct eval_ctx *ev, struct msg_state *m)
{
	if (!m->hdr_loaded) {
		m->hdr_loaded = true;
		m->hdr_ok = search_eval_header(ev->c, m->seq, &m->hdr) == 0;
		if (!m->hdr_ok)
			note_failure(ev, m);
	}
	return m->hdr_ok;
}

static bool
load_date(struct eval_ctx *ev, struct msg_state *m)
{
	if (!m->date_loaded) {
		m->date_loaded = true;
		m->date_ok =
		    imap_view_msg_date(ev->c, m->seq, &m->internal) == 0;
		if (!m->date_ok)
			note_failure(ev, m);
	}
	return m->date_ok;
}

static bool
load_size(struct eval_ctx *ev, struct msg_state *m)
{
	if (!m->size_loaded) {
		m->size_loaded = true;
		m->size_ok = imap_view_msg_vsize(ev->c, m->seq, &m->vsize) == 0;
		if (!m->size_ok)
			note_failure(ev, m);
	}
	return m->size_ok;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The Date: header's day in its own zone (RFC 3501 SENT*: "disregarding
   time and timezone"). */
static bool
load_sent(struct eval_ctx *ev, struct msg_state *m)
{
	const struct rfc822_field *f;
	int64_t t;
	int tz;

	if (m->sent_loaded)
		return m->sent_ok;
	m->sent_loaded = true;
	if (!load_header(ev, m))
		return false;
	/* RFC 3501 does not say: a message without a valid Date: matches
	   no SENT* key */
	if ((f = rfc822_header_find(&m->hdr, "Date", false)) == NULL ||
	    rfc822_date_parse(f->value, f->value_len, &t, &tz) < 0)
		return false;
	m->sent_day = floor_div(t + (int64_t)tz * 60, 86400);
	m->sent_ok = true;
	return true;
}

int64_t
search_eval_sent_date(struct imap_client *c, uint32_t seq,
		      const struct rfc822_header *hdr)
{
	const struct rfc822_field *f;
	int64_t t;
	int tz;
	time_t internal = 0;

	if (hdr != NULL &&
	    (f = rfc822_header_find(hdr, "Date", false)) != NULL &&
	    rfc822_date_parse(f->value, f->value_len, &t, &tz) == 0)
		return t;
	(void)imap_view_msg_date(c, seq, &internal);
	return (int64_t)internal;
}

uint64_t
search_eval_max_modseq(const struct imap_client *c, const uint32_t *seqs,
		       uint32_t count)
{
	uint64_t max = 0;
	uint32_t i;

	for (i = 0; i < count; i++) {
		if (c->view->msgs[seqs[i] - 1].modseq > max)
			max = c->view->msgs[seqs[i] - 1].modseq;
	}
	return max;
}

static void
msg_state_free(struct msg_state *m)
{
	if (m->hdr_loaded && m->hdr_ok)
		rfc822_header_free(&m->hdr);
	if (m->root != NULL)
		mime_part_free(&m->root);
	if (m->file_loaded && m->file_ok)
		imap_view_msg_close(&m->file);
}

static bool
load_file(struct eval_ctx *ev, struct msg_state *m)
{
	bool expunged = false;

	if (m->file_loaded)
		return m->file_ok;
	m->file_loaded = true;
	if (imap_view_msg_open(ev->c, m->seq, &m->file, &expunged) < 0) {
		if (expunged)
			m->expunged = true;
		else
			m->error = true;
		return false;
	}
	m->file_ok = true;
	m->root = mime_parse_message(m->file.data, m->file.size, NULL);
	return true;
}

/* ---- string matching ---- */

/* Does a decoded field value contain key? */
static bool
match_value(const char *key, const char *value, size_t len)
{
	struct strbuf dec;
	bool r;

	strbuf_init(&dec, len * 4 + 16);
	if (rfc822_decode_words(&dec, value, len) < 0) {
		strbuf_release(&dec);
		return false;
	}
	r = search_match_substr(strbuf_cstr(&dec), dec.len, key, strlen(key));
	strbuf_release(&dec);
	return r;
}

static bool
match_header(struct eval_ctx *ev, struct msg_state *m, const char *name,
	     const char *key, bool need_field)
{
	unsigned int i;

	if (!load_header(ev, m))
		return false;
	for (i = 0; i < m->hdr.count; i++) {
		const struct rfc822_field *f = &m->hdr.fields[i];

		if (strcasecmp(f->name, name) != 0)
			continue;
		if (match_value(key, f->value, f->value_len))
			return true;
	}
	/* RFC 3501: an empty HEADER string matches when the field exists
	   (above); other empty strings match every message */
	return !need_field && *key == '\0';
}

static bool
match_text(struct eval_ctx *ev, struct msg_state *m, const char *key,
	   bool with_header)
{
	struct search_match sm;
	bool r;

	if (*key == '\0')
		return true;
	if (search_match_init(&sm, key, strlen(key), SEARCH_MAX_KEY) < 0)
		return false;
	if (with_header && load_header(ev, m))
		search_body_feed_header(&sm, &m->hdr);
	if (!sm.matched && load_file(ev, m) && m->root != NULL)
		search_body_feed(m->file.data, m->root, &sm);
	r = search_match_finish(&sm);
	search_match_deinit(&sm);
	return r;
}

/* ---- evaluation ---- */

static int64_t
local_day(time_t t)
{
	struct tm tm;

	/* the day of INTERNALDATE as FETCH shows it (local zone) */
	if (localtime_r(&t, &tm) == NULL)
		return floor_div((int64_t)t, 86400);
	return rfc822_days_from_civil((int64_t)tm.tm_year + 1900,
				      (unsigned int)tm.tm_mon + 1,
				      (unsigned int)tm.tm_mday);
}

static bool
has_keyword(const struct imap_view *v, const struct imap_msg *msg,
	    const char *name)
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
	    {"\\Recent", IMAP_FLAG_RECENT},
	};
	unsigned int i;

	if (name[0] == '\\') {
		for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
			if (strcasecmp(name, sys[i].name) == 0)
				return (msg->flags & sys[i].flag) != 0;
		}
		return false;
	}
	for (i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		if (v->keywords[i] != NULL &&
		    strcasecmp(v->keywords[i], name) == 0)
			return (msg->keywords & (1u << i)) != 0;
	}
	return false;
}

static bool
saved_contains(const struct imap_client *c, uint32_t uid)
{
	return c->saved_valid && imap_seqset_contains(&c->saved, uid);
}

static bool
eval(struct eval_ctx *ev, const struct imap_search_node *n, struct msg_state *m)
{
	const struct imap_search_node *ch;
	const struct imap_msg *msg = m->msg;
	int64_t day;

	if (m->expunged)
		return false;
	switch (n->key) {
	case IMAP_SEARCH_AND:
		for (ch = n->children; ch != NULL; ch = ch->next) {
			if (!eval(ev, ch, m))
				return false;
		}
		return true;
	case IMAP_SEARCH_OR:
		for (ch = n->children; ch != NULL; ch = ch->next) {
			if (eval(ev, ch, m))
				return true;
		}
		return false;
	case IMAP_SEARCH_NOT:
		return n->children == NULL || !eval(ev, n->children, m);
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_SEQSET:
		if (n->set.saved)
			return saved_contains(ev->c, msg->uid);
		return imap_seqset_contains(&n->set, m->seq);
	case IMAP_SEARCH_UID:
		if (n->set.saved)
			return saved_contains(ev->c, msg->uid);
		return imap_seqset_contains(&n->set, msg->uid);
	case IMAP_SEARCH_ANSWERED:
		return (msg->flags & IMAP_FLAG_ANSWERED) != 0;
	case IMAP_SEARCH_DELETED:
		return (msg->flags & IMAP_FLAG_DELETED) != 0;
	case IMAP_SEARCH_DRAFT:
		return (msg->flags & IMAP_FLAG_DRAFT) != 0;
	case IMAP_SEARCH_FLAGGED:
		return (msg->flags & IMAP_FLAG_FLAGGED) != 0;
	case IMAP_SEARCH_RECENT:
		return (msg->flags & IMAP_FLAG_RECENT) != 0;
	case IMAP_SEARCH_SEEN:
		return (msg->flags & IMAP_FLAG_SEEN) != 0;
	case IMAP_SEARCH_NEW:
		return (msg->flags & (IMAP_FLAG_RECENT | IMAP_FLAG_SEEN)) ==
		       IMAP_FLAG_RECENT;
	case IMAP_SEARCH_OLD:
		return (msg->flags & IMAP_FLAG_RECENT) == 0;
	case IMAP_SEARCH_UNANSWERED:
		return (msg->flags & IMAP_FLAG_ANSWERED) == 0;
	case IMAP_SEARCH_UNDELETED:
		return (msg->flags & IMAP_FLAG_DELETED) == 0;
	case IMAP_SEARCH_UNDRAFT:
		return (msg->flags & IMAP_FLAG_DRAFT) == 0;
	case IMAP_SEARCH_UNFLAGGED:
		return (msg->flags & IMAP_FLAG_FLAGGED) == 0;
	case IMAP_SEARCH_UNSEEN:
		return (msg->flags & IMAP_FLAG_SEEN) == 0;
	case IMAP_SEARCH_KEYWORD:
		return has_keyword(ev->c->view, msg, n->value);
	case IMAP_SEARCH_UNKEYWORD:
		return !has_keyword(ev->c->view, msg, n->value);
	case IMAP_SEARCH_BCC:
		return match_header(ev, m, "Bcc", n->value, false);
	case IMAP_SEARCH_CC:
		return match_header(ev, m, "Cc", n->value, false);
	case IMAP_SEARCH_FROM:
		return match_header(ev, m, "From", n->value, false);
	case IMAP_SEARCH_SUBJECT:
		return match_header(ev, m, "Subject", n->value, false);
	case IMAP_SEARCH_TO:
		return match_header(ev, m, "To", n->value, false);
	case IMAP_SEARCH_HEADER:
		return match_header(ev, m, n->header, n->value, true);
	case IMAP_SEARCH_BODY:
		return match_text(ev, m, n->value, false);
	case IMAP_SEARCH_TEXT:
		return match_text(ev, m, n->value, true);
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
		if (!load_date(ev, m))
			return false;
		day = local_day(m->internal);
		goto compare_day;
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		if (!load_sent(ev, m))
			return false;
		day = m->sent_day;
	compare_day : {
		int64_t want = rfc822_days_from_civil(
		    n->date.year, (unsigned int)n->date.month,
		    (unsigned int)n->date.day);

		if (n->key == IMAP_SEARCH_BEFORE ||
		    n->key == IMAP_SEARCH_SENTBEFORE)
			return day < want;
		if (n->key == IMAP_SEARCH_ON || n->key == IMAP_SEARCH_SENTON)
			return day == want;
		return day >= want;
	}
	case IMAP_SEARCH_LARGER:
		return load_size(ev, m) && m->vsize > n->number;
	case IMAP_SEARCH_SMALLER:
		return load_size(ev, m) && m->vsize < n->number;
	case IMAP_SEARCH_MODSEQ:
		/* one modseq per message: entry names all mean it */
		return msg->modseq >= n->number;
	}
	return false;
}

enum search_eval_result
search_eval_run(struct imap_client *c, struct imap_search_program *prog,
		uint32_t **seqs_r, uint32_t *count_r)
{
	struct imap_view *v = c->view;
	struct eval_ctx ev = {c, 0};
	uint32_t seq, n = 0, *seqs;
	bool error = false;

	*seqs_r = NULL;
	*count_r = 0;
	ev.max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0;
	if (prog->charset != NULL) {
		struct strbuf probe;
		int r;

		/* is the charset known at all (also with no strings)? */
		strbuf_init(&probe, 16);
		r = rfc822_charset_to_utf8(&probe, prog->charset, "", 0);
		strbuf_release(&probe);
		if (r < 0)
			return SEARCH_EVAL_BADCHARSET;
	}
	if (prepare(&ev, prog->root, prog->charset) < 0)
		return SEARCH_EVAL_BADCHARSET;
	seqs = xreallocarray(NULL, v->count == 0 ? 1 : v->count, sizeof(*seqs));
	for (seq = 1; seq <= v->count; seq++) {
		struct msg_state m;
		bool match;

		memset(&m, 0, sizeof(m));
		m.seq = seq;
		m.msg = &v->msgs[seq - 1];
		match = eval(&ev, prog->root, &m);
		if (m.expunged)
			match = false;
		if (m.error && !m.expunged)
			error = true;
		msg_state_free(&m);
		if (match)
			seqs[n++] = seq;
	}
	if (error) {
		log_error("search: %s: messages could not be read", v->name);
		xfree(&seqs);
		return SEARCH_EVAL_ERROR;
	}
	*seqs_r = seqs;
	*count_r = n;
	return SEARCH_EVAL_OK;
}
