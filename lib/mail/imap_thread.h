/*
 * imap_thread - the THREAD algorithms of RFC 5256: ORDEREDSUBJECT and
 * REFERENCES (section 3, after Jamie Zawinski's), and the thread-list
 * output ("(3 6 (4 23)(44 7 96))"). The caller gives the header values
 * of the messages that matched the search, in mailbox order. Pure: no
 * I/O, no logging, no globals. The header values are untrusted: loops
 * and duplicate Message-IDs are handled as the RFC says, the references
 * used per message are bounded by IMAP_THREAD_MAX_REFS, and every walk
 * over the tree is iterative (a chain of 100,000 replies is fine).
 */
#ifndef IMAP_THREAD_H
#define IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

enum imap_thread_algorithm {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

/* References beyond the last this many of a message are ignored. */
#define IMAP_THREAD_MAX_REFS 1000

struct imap_thread_msg {
	uint32_t id;  /* printed: sequence number or UID */
	int64_t date; /* sent date (UTC; INTERNALDATE when Date: is bad) */
	/* Raw header values (NUL-terminated), NULL when missing. */
	const char *message_id, *in_reply_to, *references, *subject;
};

/* The algorithm named (case-insensitive); -1 if unknown. */
int imap_thread_algorithm_parse(const char *name,
				enum imap_thread_algorithm *alg_r);

/*
 * Threads msgs[0..count-1] (mailbox order: date ties keep it) and
 * appends the thread lists, "(1 2)(3)", nothing when count is 0. Returns
 * 0, or -1 if out's maximum was hit.
 */
int imap_thread(enum imap_thread_algorithm alg,
		const struct imap_thread_msg *msgs, size_t count,
		struct strbuf *out);

/*
 * The next message ID ("<left@right>") in a Message-ID, References or
 * In-Reply-To value at *pos (advanced past it); comments are skipped. The
 * ID without its angle brackets is set in *id_r and *len_r. false when no
 * more IDs. An ID needs an '@' and no blanks; other "<...>" are skipped.
 */
bool imap_thread_next_msgid(const char *value, size_t *pos, const char **id_r,
			    size_t *len_r);

#endif
