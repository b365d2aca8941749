/*
 * imap_quote - writing strings into IMAP responses (RFC 3501 4.3, 9): as a
 * quoted string when that is allowed, else as a literal, with the choices
 * Dovecot 2.3 makes (imap-quote.c), so that cached client data matches.
 * Pure: appends to the caller's bounded strbuf; no I/O.
 */
#ifndef IMAP_QUOTE_H
#define IMAP_QUOTE_H

#include <stddef.h>

struct strbuf;

/*
 * Appends s (NUL-terminated; NULL writes NIL) quoted, escaping '"' and
 * '\\'; as a literal "{n}\r\n..." instead when s holds CR, LF or 8-bit
 * bytes, or more than four characters that need escaping.
 * Each function returns 0, or -1 if out's maximum was hit.
 */
int imap_quote_nstring(struct strbuf *out, const char *s);
/* Same, after removing CR and LF (a space replaces a line break that is
   not followed by white space). */
int imap_quote_nstring_nolf(struct strbuf *out, const char *s);
/*
 * For text people read (ENVELOPE subject and names): CR, LF and TAB become
 * spaces, runs of white space one space, leading and trailing white space
 * is dropped; written quoted if nothing had to change, else as a literal.
 */
int imap_quote_human(struct strbuf *out, const char *s, size_t len);

#endif
