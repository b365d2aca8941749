/*
 * xtext - RFC 3461 xtext encoding, used by the DSN parameters ENVID and
 * ORCPT and by the MAIL AUTH= parameter. Pure: no I/O, no logging, no
 * globals. Input may come straight from the network; every output goes into
 * a bounded strbuf supplied by the caller.
 */
#ifndef XTEXT_H
#define XTEXT_H

#include <stddef.h>

struct strbuf;

/*
 * Decodes len bytes of xtext at s and appends the result to out. "+XX" is a
 * hex escape (upper case per the RFC; lower case hex is also accepted, as
 * Postfix does). A literal '=' is accepted (clients that forget to encode
 * it exist and Postfix takes their values). Bytes outside '!'..'~', a '+'
 * not followed by two hex digits, and escapes that decode to a control
 * character (< 0x20 or 0x7f) are errors: every SMTP use of xtext carries
 * printable text. Returns 0, or -1 with *error_r set to a static string
 * (also when out's maximum would be exceeded; out then holds a prefix).
 */
int xtext_decode(const char *s, size_t len, struct strbuf *out,
		 const char **error_r);

/*
 * Appends the xtext encoding of len bytes at data to out: '!'..'~' except
 * '+' and '=' stay, every other byte becomes "+XX" (upper case). Returns 0,
 * or -1 if out's maximum would be exceeded.
 */
int xtext_encode(const void *data, size_t len, struct strbuf *out);

#endif
