/*
 * imap_write - formatting of IMAP response strings into a strbuf: the
 * choice between atom, quoted string, literal and NIL for astring,
 * nstring and string output (RFC 3501 section 4.3), and mailbox names in
 * modified UTF-7 (through mutf7) or raw UTF-8 (IMAP4rev2 / UTF8=ACCEPT).
 * Date-times are formatted by imap_date. Pure: no I/O, no logging, no
 * globals. The strings may come from messages or clients (untrusted): any
 * byte sequence is written in a form the client parses back unchanged.
 */
#ifndef IMAP_WRITE_H
#define IMAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

/* Strings longer than this are written as literals even when they could
   be quoted (as Dovecot does for long header values). */
#define IMAP_WRITE_QUOTED_MAX 1024

/* Flags. */
#define IMAP_WRITE_UTF8 0x01 /* 8-bit (UTF-8) may be quoted (IMAP4rev2) */

/* True when s can be sent as a quoted string: no NUL, CR or LF, 8-bit
   only with IMAP_WRITE_UTF8, at most IMAP_WRITE_QUOTED_MAX bytes. */
bool imap_write_can_quote(const char *s, size_t len, unsigned int flags);

/* Appends "..." with \" and \\ escaped. -1 if s cannot be quoted or sb
   is full. */
int imap_write_quoted(struct strbuf *sb, const char *s, size_t len);

/* Appends "{len}\r\n" and the bytes ("~{len}" when binary). -1 if sb is
   full. */
int imap_write_literal(struct strbuf *sb, const char *s, size_t len,
		       bool binary);

/* string: quoted when possible, else a literal. NUL bytes cannot be
   sent in an IMAP string; where BINARY allows them use
   imap_write_literal(binary = true). */
int imap_write_string(struct strbuf *sb, const char *s, size_t len,
		      unsigned int flags);

/* nstring: NIL when s is NULL, else as imap_write_string(). */
int imap_write_nstring(struct strbuf *sb, const char *s, size_t len,
		       unsigned int flags);

/* astring: an atom when s is non-empty, all ASTRING-CHARs and not "NIL",
   else as imap_write_string(). */
int imap_write_astring(struct strbuf *sb, const char *s, size_t len,
		       unsigned int flags);

/* A mailbox name (UTF-8 internally): with IMAP_WRITE_UTF8 as is, else
   encoded in modified UTF-7; then as an astring. -1 if name is not
   valid UTF-8 or sb is full. */
int imap_write_mailbox(struct strbuf *sb, const char *name, unsigned int flags);

#endif
