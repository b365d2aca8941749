/*
 * search_eval - evaluation of a parsed SEARCH program (mail/
 * imap_search_parse.h) against the selected mailbox, shared by SEARCH,
 * SORT and THREAD (cmd_search.c, cmd_sort.c). Private to imapd.
 */
#ifndef SEARCH_EVAL_H
#define SEARCH_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "imapd.h"
#include "mail/imap_search_parse.h"
#include "mail/rfc822_header.h"

enum search_eval_result {
	SEARCH_EVAL_OK = 0,
	SEARCH_EVAL_BADCHARSET, /* CHARSET unknown to us and iconv */
	SEARCH_EVAL_ERROR,	/* logged; answer NO [SERVERBUG] */
};

/*
 * Parses args (after the command name, and for SORT/THREAD after the
 * criteria: charset and keys, with charset_first) with the configured
 * limits. Returns the program, or NULL with a tagged BAD already sent.
 */
struct imap_search_program *
search_eval_parse(struct imap_client *c, const struct imap_arg *args,
		  unsigned int count, unsigned int flags, bool charset_first);

/*
 * Runs prog over c->view: *seqs_r (caller frees) gets the matching
 * sequence numbers in ascending order, *count_r how many. The program is
 * changed (strings converted to UTF-8, sets resolved, keys reordered by
 * cost). Messages expunged meanwhile do not match.
 */
enum search_eval_result search_eval_run(struct imap_client *c,
					struct imap_search_program *prog,
					uint32_t **seqs_r, uint32_t *count_r);

/* The header block of message seq, parsed (from the view's cache).
   Returns 0, or -1 (logged unless expunged). Free with
   rfc822_header_free(). */
int search_eval_header(struct imap_client *c, uint32_t seq,
		       struct rfc822_header *hdr_r);

/* The sent date of a message (RFC 5256 2.2: Date:, else INTERNALDATE). */
int64_t search_eval_sent_date(struct imap_client *c, uint32_t seq,
			      const struct rfc822_header *hdr);

/* The highest modseq of the messages seqs (for "(MODSEQ n)"). */
uint64_t search_eval_max_modseq(const struct imap_client *c,
				const uint32_t *seqs, uint32_t count);

/* search_body.c: feeds the text of a message to a matcher. */
struct mime_part;
struct search_match;
void search_body_feed_header(struct search_match *sm,
			     const struct rfc822_header *hdr);
/* The bodies of the text parts under root (data: the whole message). */
void search_body_feed(const char *data, const struct mime_part *root,
		      struct search_match *sm);

/* SORT and THREAD (cmd_sort.c), listed in imap_cmds_search. */
imap_command_fn search_cmd_sort;
imap_command_fn search_cmd_thread;

#endif
