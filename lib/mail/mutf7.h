/*
 * mutf7 - IMAP modified UTF-7 (RFC 3501 section 5.1.3), the encoding of
 * mailbox names on the wire and in Maildir++ folder directory names
 * (".Entw&APw-rfe" is "Entwürfe"). Pure functions: no I/O, no logging.
 * Input is untrusted (names come from clients and from disk) and every
 * malformed form is refused, never repaired.
 */
#ifndef MUTF7_H
#define MUTF7_H

#include <stdbool.h>

struct strbuf;

/* Appends the modified UTF-7 form of the UTF-8 string src to dest.
 * -1 when src is not valid UTF-8 (overlong forms, surrogates and code
 * points above U+10FFFF are refused) or dest is full; dest may then hold
 * part of the output. */
int mutf7_encode(const char *src, struct strbuf *dest);

/* Appends the UTF-8 form of the modified UTF-7 string src to dest. -1 on
 * malformed input: a character outside 0x20..0x7e, an unterminated "&"
 * run, bad base64, non-zero padding bits, an unpaired surrogate, a base64
 * run that encodes printable ASCII, or U+0000 (as Dovecot refuses them). */
int mutf7_decode(const char *src, struct strbuf *dest);

/* True when src decodes (see mutf7_decode). */
bool mutf7_is_valid(const char *src);

#endif
