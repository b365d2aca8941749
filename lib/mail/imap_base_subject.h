/*
 * imap_base_subject - the "base subject" of RFC 5256 section 2.1, used by
 * SORT SUBJECT and by both THREAD algorithms: the Subject with RFC 2047
 * words decoded, blanks collapsed, and reply/forward decorations ("Re:",
 * "Fwd:", "[list]" blobs, "(fwd)" trailers, "[fwd: ...]" wrappers)
 * removed. Pure: no I/O, no logging, no globals. Input is an untrusted
 * header value; work and memory are linear in its length.
 */
#ifndef IMAP_BASE_SUBJECT_H
#define IMAP_BASE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

/*
 * Appends the base subject of text (len bytes of UTF-8 with encoded words
 * already decoded: step 1 of the RFC is done here only for blanks, which
 * are collapsed). *is_reply_r (may be NULL) is set when a "re"/"fw"/"fwd"
 * leader, a "(fwd)" trailer or a "[fwd: ]" wrapper was removed: RFC 5256
 * then calls the message a reply or forward. Returns -1 only if out's
 * maximum is hit.
 */
int imap_base_subject_text(struct strbuf *out, const char *text, size_t len,
			   bool *is_reply_r);

/* Same for a raw Subject header value: decodes RFC 2047 words and removes
   folding first. value may be NULL (no Subject: the base subject is ""). */
int imap_base_subject(struct strbuf *out, const char *value, size_t len,
		      bool *is_reply_r);

/* i;ascii-casemap comparison (RFC 4790) of two byte strings: a-z compare
   as A-Z, other bytes by value; a prefix sorts first. */
int imap_ascii_casemap_cmp(const char *a, size_t alen, const char *b,
			   size_t blen);

#endif
