/*
 * cmd_sort - SORT and THREAD with their UID forms (RFC 5256): the search
 * is search_eval.c's, the ordering mail/imap_sort.c's and the threading
 * mail/imap_thread.c's; this file gathers each matching message's keys
 * from the view (headers from its cache) and writes the replies. The
 * arguments are untrusted client input; the criteria list is bounded by
 * IMAP_SORT_MAX_CRITERIA and the search by imap_search_max_keys.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "imapd.h"
#include "mail/imap_base_subject.h"
#include "mail/imap_search_parse.h"
#include "mail/imap_sort.h"
#include "mail/imap_thread.h"
#include "mail/rfc822_header.h"
#include "search_eval.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define SORT_OUT_CHUNK 65536

static void
send_error(struct imap_client *c, enum search_eval_result r)
{
	if (r == SEARCH_EVAL_BADCHARSET)
		client_send_tagged(c, "NO",
				   "[BADCHARSET (UTF-8 US-ASCII)] "
				   "Unsupported charset");
	else
		client_send_tagged(c, "NO",
				   "[SERVERBUG] Internal error occurred. "
				   "Refer to server log for more information.");
}

/* Runs the search part (charset and keys) of SORT/THREAD. NULL with a
   reply already sent. */
static struct imap_search_program *
run_search(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count, uint32_t **seqs_r, uint32_t *n_r)
{
	struct imap_search_program *prog;
	enum search_eval_result r;

	prog = search_eval_parse(
	    c, args, count, IMAP_SEARCH_ALLOW_MODSEQ | IMAP_SEARCH_ALLOW_SAVED,
	    true);
	if (prog == NULL)
		return NULL;
	if (prog->uses_modseq)
		c->enabled |= IMAP_ENABLED_CONDSTORE;
	if ((r = search_eval_run(c, prog, seqs_r, n_r)) != SEARCH_EVAL_OK) {
		send_error(c, r);
		imap_search_program_free(&prog);
		return NULL;
	}
	return prog;
}

static char *
field_dup(const struct rfc822_header *hdr, const char *name)
{
	const struct rfc822_field *f = rfc822_header_find(hdr, name, false);

	return f == NULL ? NULL : xstrdup(f->value);
}

static char *
addr_key(const struct rfc822_header *hdr, const char *name)
{
	const struct rfc822_field *f = rfc822_header_find(hdr, name, false);
	struct strbuf sb;

	strbuf_init(&sb, STRBUF_UNLIMITED);
	if (f != NULL)
		(void)imap_sort_addr_key(&sb, f->value, f->value_len);
	return sb.data == NULL ? xstrdup("") : strbuf_steal(&sb);
}

/* Fills the keys the criteria need. -1 when the message is unreadable
   (gone meanwhile: it is left out; else an error). */
static int
sort_item(struct imap_client *c, uint32_t seq,
	  const struct imap_sort_criterion *crit, unsigned int ncrit,
	  struct imap_sort_item *it)
{
	struct rfc822_header hdr;
	bool need_hdr = false, need_size = false, need_arrival = false;
	unsigned int i;
	time_t t;

	memset(it, 0, sizeof(*it));
	it->seq = seq;
	it->id = c->uid_cmd ? c->view->msgs[seq - 1].uid : seq;
	for (i = 0; i < ncrit; i++) {
		switch (crit[i].key) {
		case IMAP_SORT_ARRIVAL:
			need_arrival = true;
			break;
		case IMAP_SORT_SIZE:
			need_size = true;
			break;
		default:
			need_hdr = true;
			break;
		}
	}
	if (need_arrival) {
		if (imap_view_msg_date(c, seq, &t) < 0)
			return -1;
		it->arrival = (int64_t)t;
	}
	if (need_size && imap_view_msg_vsize(c, seq, &it->size) < 0)
		return -1;
	if (!need_hdr)
		return 0;
	if (search_eval_header(c, seq, &hdr) < 0)
		return -1;
	for (i = 0; i < ncrit; i++) {
		switch (crit[i].key) {
		case IMAP_SORT_DATE:
			it->date = search_eval_sent_date(c, seq, &hdr);
			break;
		case IMAP_SORT_CC:
			if (it->cc == NULL)
				it->cc = addr_key(&hdr, "Cc");
			break;
		case IMAP_SORT_FROM:
			if (it->from == NULL)
				it->from = addr_key(&hdr, "From");
			break;
		case IMAP_SORT_TO:
			if (it->to == NULL)
				it->to = addr_key(&hdr, "To");
			break;
		case IMAP_SORT_SUBJECT:
			if (it->subject == NULL) {
				const struct rfc822_field *f =
				    rfc822_header_find(&hdr, "Subject", false);
				struct strbuf sb;

				strbuf_init(&sb, STRBUF_UNLIMITED);
				(void)imap_base_subject(
				    &sb, f == NULL ? NULL : f->value,
				    f == NULL ? 0 : f->value_len, NULL);
				it->subject = sb.data == NULL
						  ? xstrdup("")
						  : strbuf_steal(&sb);
			}
			break;
		default:
			break;
		}
	}
	rfc822_header_free(&hdr);
	return 0;
}

void
search_cmd_sort(struct imap_client *c, const struct imap_arg *args,
		unsigned int count)
{
	struct imap_sort_criterion crit[IMAP_SORT_MAX_CRITERIA];
	struct imap_search_program *prog;
	struct imap_sort_item *items;
	struct strbuf line;
	uint32_t *seqs = NULL, n = 0, i, k = 0;
	const char *error;
	int ncrit;

	if (count < 1 ||
	    (ncrit = imap_sort_parse(&args[0], crit, &error)) < 0) {
		client_send_tagged(c, "BAD", "Error in IMAP command %s: %s",
				   c->cmd_name,
				   count < 1 ? "Missing sort criteria" : error);
		return;
	}
	if ((prog = run_search(c, args + 1, count - 1, &seqs, &n)) == NULL)
		return;
	items = xcalloc(n == 0 ? 1 : n, sizeof(*items));
	for (i = 0; i < n; i++) {
		if (sort_item(c, seqs[i], crit, (unsigned int)ncrit,
			      &items[k]) < 0) {
			/* gone meanwhile: left out, as SEARCH does */
			imap_sort_items_free(&items[k], 1);
			continue;
		}
		seqs[k++] = seqs[i];
	}
	imap_sort_items(items, k, crit, (unsigned int)ncrit);
	strbuf_init(&line, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&line, "* SORT");
	for (i = 0; i < k; i++) {
		(void)strbuf_printf(&line, " %lu", (unsigned long)items[i].id);
		if (line.len >= SORT_OUT_CHUNK) {
			client_send_raw(c, line.data, line.len);
			strbuf_reset(&line);
			client_flush_if_big(c);
		}
	}
	/* RFC 7162 3.1.5: SORT with a MODSEQ key reports the highest */
	if (prog->uses_modseq && k > 0)
		(void)strbuf_printf(
		    &line, " (MODSEQ %llu)",
		    (unsigned long long)search_eval_max_modseq(c, seqs, k));
	(void)strbuf_append(&line, "\r\n", 2);
	client_send_raw(c, line.data, line.len);
	strbuf_release(&line);
	imap_sort_items_free(items, k);
	xfree(&items);
	xfree(&seqs);
	imap_search_program_free(&prog);
	client_send_tagged(c, "OK", "Sort completed.");
}

void
search_cmd_thread(struct imap_client *c, const struct imap_arg *args,
		  unsigned int count)
{
	enum imap_thread_algorithm alg;
	struct imap_search_program *prog;
	struct imap_thread_msg *msgs;
	struct rfc822_header hdr;
	struct strbuf line;
	uint32_t *seqs = NULL, n = 0, i, k = 0;
	const char *name;

	if (count < 1 || !imap_arg_get_atom(&args[0], &name) ||
	    imap_thread_algorithm_parse(name, &alg) < 0) {
		client_send_tagged(c, "BAD",
				   "Error in IMAP command %s: "
				   "Unknown thread algorithm",
				   c->cmd_name);
		return;
	}
	if ((prog = run_search(c, args + 1, count - 1, &seqs, &n)) == NULL)
		return;
	msgs = xcalloc(n == 0 ? 1 : n, sizeof(*msgs));
	for (i = 0; i < n; i++) {
		struct imap_thread_msg *m = &msgs[k];

		if (search_eval_header(c, seqs[i], &hdr) < 0)
			continue; /* gone meanwhile */
		m->id = c->uid_cmd ? c->view->msgs[seqs[i] - 1].uid : seqs[i];
		m->date = search_eval_sent_date(c, seqs[i], &hdr);
		m->message_id = field_dup(&hdr, "Message-ID");
		m->in_reply_to = field_dup(&hdr, "In-Reply-To");
		m->references = field_dup(&hdr, "References");
		m->subject = field_dup(&hdr, "Subject");
		rfc822_header_free(&hdr);
		k++;
	}
	strbuf_init(&line, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&line, "* THREAD");
	if (k > 0)
		(void)strbuf_append_char(&line, ' ');
	(void)imap_thread(alg, msgs, k, &line);
	(void)strbuf_append(&line, "\r\n", 2);
	client_send_raw(c, line.data, line.len);
	strbuf_release(&line);
	for (i = 0; i < k; i++) {
		xfree(&msgs[i].message_id);
		xfree(&msgs[i].in_reply_to);
		xfree(&msgs[i].references);
		xfree(&msgs[i].subject);
	}
	xfree(&msgs);
	xfree(&seqs);
	imap_search_program_free(&prog);
	client_send_tagged(c, "OK", "Thread completed.");
}
