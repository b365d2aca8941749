/*
 * search_match - case-insensitive substring matching of UTF-8 text for
 * IMAP SEARCH (RFC 3501 6.4.4: "case-insensitive substring"). Both key and
 * text are folded with a simple case folding close to i;unicode-casemap
 * (RFC 5051) without its decomposition: ASCII, Latin-1, Latin Extended-A,
 * Greek and Cyrillic letters fold to lower case, final sigma to sigma,
 * U+00DF to "ss" and U+1E9E to "ss"; invalid UTF-8 bytes fold to U+FFFD.
 * (Accented and unaccented letters stay different: "e" does not match
 * "\u00e9".) The text may be fed in chunks of any size, split anywhere;
 * a match across chunks is found.
 * Pure: no I/O, no logging, no globals. Memory: the folded key and an
 * overlap of the key's length.
 */
#ifndef SEARCH_MATCH_H
#define SEARCH_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

struct search_match {
	struct strbuf key;	  /* folded */
	struct strbuf window;	  /* folded text not yet ruled out */
	unsigned char partial[4]; /* an incomplete UTF-8 sequence */
	size_t partial_len;
	bool matched;
};

/* Appends the folded form of len bytes of UTF-8 text to out. Returns 0, or
   -1 if out's maximum was hit. */
int search_fold(struct strbuf *out, const void *text, size_t len);

/* key: UTF-8, at most max_key bytes folded (else -1). An empty key
   matches everything. */
int search_match_init(struct search_match *m, const char *key, size_t len,
		      size_t max_key);
/* Feeds text; returns true once the key has been found. */
bool search_match_feed(struct search_match *m, const void *text, size_t len);
/* Ends the text (flushes an incomplete sequence); returns the result. */
bool search_match_finish(struct search_match *m);
void search_match_deinit(struct search_match *m);
/* One-shot: does text contain key? */
bool search_match_substr(const void *text, size_t text_len, const char *key,
			 size_t key_len);

#endif
