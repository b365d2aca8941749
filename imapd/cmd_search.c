/*
 * cmd_search - SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4) with
 * ESEARCH result options (RFC 4731), SEARCHRES (RFC 5182: RETURN (SAVE)
 * and "$"), CONDSTORE's MODSEQ key and result (RFC 7162 3.1.5) and the
 * IMAP4rev2 ESEARCH-only replies; and the command table of this module
 * (SORT and THREAD are in cmd_sort.c). The arguments are untrusted client
 * input, parsed by mail/imap_search_parse.c within imap_search_max_keys;
 * the evaluation is search_eval.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "imapd.h"
#include "mail/imap_search_parse.h"
#include "mail/imap_write.h"
#include "search_eval.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Output is written in pieces of about this size. */
#define SEARCH_OUT_CHUNK 65536

static uint32_t
result_id(const struct imap_client *c, uint32_t seq)
{
	return c->uid_cmd ? c->view->msgs[seq - 1].uid : seq;
}

static void
flush_piece(struct imap_client *c, struct strbuf *line, bool force)
{
	if (line->len >= SEARCH_OUT_CHUNK || (force && line->len > 0)) {
		client_send_raw(c, line->data, line->len);
		strbuf_reset(line);
		client_flush_if_big(c);
	}
}

/* Appends ids (ascending) as a sequence set "1:3,7". */
static void
append_set(struct imap_client *c, struct strbuf *line, const uint32_t *seqs,
	   uint32_t count)
{
	uint32_t i = 0, first, last;

	while (i < count) {
		const char *sep = i == 0 ? "" : ",";

		first = last = result_id(c, seqs[i]);
		for (i++; i < count && result_id(c, seqs[i]) == last + 1; i++)
			last++;
		if (first == last)
			(void)strbuf_printf(line, "%s%lu", sep,
					    (unsigned long)first);
		else
			(void)strbuf_printf(line, "%s%lu:%lu", sep,
					    (unsigned long)first,
					    (unsigned long)last);
		flush_piece(c, line, false);
	}
}

/* "* SEARCH 1 2 3 (MODSEQ n)" (RFC 3501, RFC 7162). */
static void
reply_search(struct imap_client *c, const struct imap_search_program *prog,
	     const uint32_t *seqs, uint32_t count)
{
	struct strbuf line;
	uint32_t i;

	strbuf_init(&line, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&line, "* SEARCH");
	for (i = 0; i < count; i++) {
		(void)strbuf_printf(&line, " %lu",
				    (unsigned long)result_id(c, seqs[i]));
		flush_piece(c, &line, false);
	}
	if (prog->uses_modseq && count > 0)
		(void)strbuf_printf(
		    &line, " (MODSEQ %llu)",
		    (unsigned long long)search_eval_max_modseq(c, seqs, count));
	(void)strbuf_append(&line, "\r\n", 2);
	flush_piece(c, &line, true);
	strbuf_release(&line);
}

/* "* ESEARCH (TAG "a") UID MIN 1 MAX 7 ALL 1:3,7 COUNT 4 MODSEQ n"
   (RFC 4731; MODSEQ per RFC 7162 3.1.5: the highest of the messages
   returned, i.e. only MIN/MAX when neither ALL nor COUNT was asked). */
static void
reply_esearch(struct imap_client *c, const struct imap_search_program *prog,
	      unsigned int opts, const uint32_t *seqs, uint32_t count)
{
	struct strbuf line;
	uint64_t modseq = 0;

	strbuf_init(&line, STRBUF_UNLIMITED);
	(void)strbuf_append_str(&line, "* ESEARCH (TAG ");
	(void)imap_write_quoted(&line, c->tag, strlen(c->tag));
	(void)strbuf_append_char(&line, ')');
	if (c->uid_cmd)
		(void)strbuf_append_str(&line, " UID");
	if (count > 0 && (opts & IMAP_SEARCH_RETURN_MIN) != 0)
		(void)strbuf_printf(&line, " MIN %lu",
				    (unsigned long)result_id(c, seqs[0]));
	if (count > 0 && (opts & IMAP_SEARCH_RETURN_MAX) != 0)
		(void)strbuf_printf(
		    &line, " MAX %lu",
		    (unsigned long)result_id(c, seqs[count - 1]));
	if (count > 0 && (opts & IMAP_SEARCH_RETURN_ALL) != 0) {
		(void)strbuf_append_str(&line, " ALL ");
		append_set(c, &line, seqs, count);
	}
	if ((opts & IMAP_SEARCH_RETURN_COUNT) != 0)
		(void)strbuf_printf(&line, " COUNT %lu", (unsigned long)count);
	if (prog->uses_modseq && count > 0) {
		if ((opts &
		     (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) != 0)
			modseq = search_eval_max_modseq(c, seqs, count);
		else {
			if ((opts & IMAP_SEARCH_RETURN_MIN) != 0)
				modseq = search_eval_max_modseq(c, seqs, 1);
			if ((opts & IMAP_SEARCH_RETURN_MAX) != 0) {
				uint64_t m = search_eval_max_modseq(
				    c, seqs + count - 1, 1);
				if (m > modseq)
					modseq = m;
			}
		}
		if (modseq > 0)
			(void)strbuf_printf(&line, " MODSEQ %llu",
					    (unsigned long long)modseq);
	}
	(void)strbuf_append(&line, "\r\n", 2);
	flush_piece(c, &line, true);
	strbuf_release(&line);
}

/* RFC 5182: the saved result is the UIDs found; with MIN and/or MAX but
   neither ALL nor COUNT, only those. */
static void
save_result(struct imap_client *c, unsigned int opts, const uint32_t *seqs,
	    uint32_t count)
{
	const struct imap_view *v = c->view;
	uint32_t i;

	imap_seqset_release(&c->saved);
	imap_seqset_init(&c->saved);
	c->saved_valid = true;
	if (count == 0)
		return;
	if ((opts & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) == 0 &&
	    (opts & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) != 0) {
		if ((opts & IMAP_SEARCH_RETURN_MIN) != 0)
			imap_seqset_add(&c->saved, v->msgs[seqs[0] - 1].uid,
					v->msgs[seqs[0] - 1].uid);
		if ((opts & IMAP_SEARCH_RETURN_MAX) != 0)
			imap_seqset_add(&c->saved,
					v->msgs[seqs[count - 1] - 1].uid,
					v->msgs[seqs[count - 1] - 1].uid);
		return;
	}
	for (i = 0; i < count; i++) {
		uint32_t uid = v->msgs[seqs[i] - 1].uid;

		imap_seqset_add(&c->saved, uid, uid);
	}
}

static void
cmd_search(struct imap_client *c, const struct imap_arg *args,
	   unsigned int count)
{
	struct imap_search_program *prog;
	unsigned int opts;
	uint32_t *seqs = NULL, n = 0;
	bool esearch;

	prog = search_eval_parse(c, args, count,
				 IMAP_SEARCH_ALLOW_RETURN |
				     IMAP_SEARCH_ALLOW_MODSEQ |
				     IMAP_SEARCH_ALLOW_SAVED,
				 false);
	if (prog == NULL) {
		/* RFC 5182 2.1: a SEARCH with RETURN (SAVE) that fails
		   empties the saved result */
		if (count >= 2 && imap_arg_atom_equals(&args[0], "RETURN") &&
		    args[1].type == IMAP_ARG_LIST) {
			for (unsigned int i = 0; i < args[1].count; i++) {
				if (imap_arg_atom_equals(&args[1].list[i],
							 "SAVE"))
					save_result(c, 0, NULL, 0);
			}
		}
		return;
	}
	opts = prog->return_opts;
	esearch = prog->esearch;
	/* RFC 9051 7.3.4: IMAP4rev2 has only ESEARCH replies */
	if (!esearch && (c->enabled & IMAP_ENABLED_IMAP4REV2) != 0) {
		esearch = true;
		opts = IMAP_SEARCH_RETURN_ALL;
	}
	if (prog->uses_modseq)
		c->enabled |= IMAP_ENABLED_CONDSTORE;
	switch (search_eval_run(c, prog, &seqs, &n)) {
	case SEARCH_EVAL_OK:
		break;
	case SEARCH_EVAL_BADCHARSET:
		if ((opts & IMAP_SEARCH_RETURN_SAVE) != 0)
			save_result(c, 0, NULL, 0);
		client_send_tagged(c, "NO",
				   "[BADCHARSET (UTF-8 US-ASCII)] "
				   "Unsupported charset");
		imap_search_program_free(&prog);
		return;
	case SEARCH_EVAL_ERROR:
		if ((opts & IMAP_SEARCH_RETURN_SAVE) != 0)
			save_result(c, 0, NULL, 0);
		client_send_tagged(c, "NO",
				   "[SERVERBUG] Internal error occurred. "
				   "Refer to server log for more information.");
		imap_search_program_free(&prog);
		return;
	}
	if ((opts & IMAP_SEARCH_RETURN_SAVE) != 0)
		save_result(c, opts, seqs, n);
	if (!esearch)
		reply_search(c, prog, seqs, n);
	else if ((opts & ~(unsigned int)IMAP_SEARCH_RETURN_SAVE) != 0) {
		/* RFC 5182 2.4: SAVE alone gives no ESEARCH reply */
		reply_esearch(c, prog, opts, seqs, n);
	}
	xfree(&seqs);
	imap_search_program_free(&prog);
	client_send_tagged(c, "OK", "Search completed.");
}

const struct imap_command_def imap_cmds_search[] = {
    {"SEARCH", cmd_search,
     IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE},
    {"SORT", search_cmd_sort,
     IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE},
    {"THREAD", search_cmd_thread,
     IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE},
    {NULL, NULL, 0},
};
