/*
 * strbuf - the one bounded string type. A strbuf has a maximum length set at
 * creation; an append that would pass it fails with -1 and leaves the buffer
 * unchanged (never a silent truncation). The data is always NUL-terminated,
 * but may also contain NUL bytes; use len, not strlen().
 */
#ifndef STRBUF_H
#define STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;  /* always NUL-terminated; NULL until the first append */
	size_t len;  /* bytes in use, excluding the terminating NUL */
	size_t size; /* bytes allocated */
	size_t max;  /* maximum len */
};

#define STRBUF_UNLIMITED ((size_t)-1 / 2)

/* Initialises an empty buffer that may hold at most max bytes. */
void strbuf_init(struct strbuf *sb, size_t max);
struct strbuf *strbuf_new(size_t max);
/* Releases the data of an embedded buffer; it may be re-initialised. */
void strbuf_release(struct strbuf *sb);
void strbuf_free(struct strbuf **sbp);

/* Each returns 0, or -1 if the result would exceed max (buffer unchanged). */
int strbuf_append(struct strbuf *sb, const void *data, size_t len);
int strbuf_append_str(struct strbuf *sb, const char *s);
int strbuf_append_char(struct strbuf *sb, char c);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Replaces the contents. */
int strbuf_set(struct strbuf *sb, const void *data, size_t len);

void strbuf_reset(struct strbuf *sb);
/* Shortens to len (no-op if already shorter). */
void strbuf_truncate(struct strbuf *sb, size_t len);
/* Removes the first n bytes (all if n >= len). */
void strbuf_consume(struct strbuf *sb, size_t n);
/* Returns the contents as a C string ("" when empty); never NULL. */
const char *strbuf_cstr(const struct strbuf *sb);
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *strbuf_steal(struct strbuf *sb);
/* Bytes that may still be appended. */
size_t strbuf_room(const struct strbuf *sb);

#endif
