/*
 * utf8 - UTF-8 encoding of Unicode code points. No mail knowledge.
 */
#ifndef UTF8_H
#define UTF8_H

#include <stdint.h>

struct strbuf;

/* Appends the UTF-8 form of code point cp (at most 0x10FFFF; callers pass
 * U+FFFD for anything they could not decode). 0, or -1 when dest would
 * pass its limit (dest unchanged). */
int utf8_append(struct strbuf *dest, uint32_t cp);

#endif
