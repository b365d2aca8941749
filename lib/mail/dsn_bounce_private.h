/*
 * dsn_bounce_private - text helpers of dsn_bounce (dsn_bounce_fmt.c):
 * dates, cleaning and folding of untrusted values, quoted-printable.
 * Pure; not for other modules.
 */
#ifndef DSN_BOUNCE_PRIVATE_H
#define DSN_BOUNCE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/strbuf.h"

/* Longest header or field line we write (RFC 5322 allows 998). */
#define DSN_FOLD_WIDTH 78
#define DSN_HARD_WIDTH 900

/* "Sun, 22 Nov 2026 16:57:16 +0000 (UTC)" into buf. */
void dsn_fmt_date(time_t t, char *buf, size_t size);

/* Appends at most max bytes of s to out with control characters (CR, LF,
 * TAB ...) turned into spaces and, unless utf8, bytes >= 0x80 into '?';
 * "..." marks a cut. -1 when out is full. */
int dsn_clean_append(struct strbuf *out, const char *s, size_t max, bool utf8);

/* Appends "name: value" + CRLF, folding value (already clean) at spaces
 * so that lines stay near DSN_FOLD_WIDTH, and splitting tokens longer
 * than DSN_HARD_WIDTH. -1 when out is full. */
int dsn_field_append(struct strbuf *out, const char *name, const char *value);

/* Appends value folded as above, starting at column col (a space is
 * put first when space_first), then CRLF. */
int dsn_fold_append(struct strbuf *out, size_t col, bool space_first,
		    const char *value);

/* Appends len bytes as quoted-printable (RFC 2045) with CRLF hard line
 * breaks kept and soft breaks at 76 columns. -1 when out is full. */
int dsn_qp_append(struct strbuf *out, const char *data, size_t len);

/* True when data has a NUL, a bare CR or LF, or a line longer than 998
 * bytes: it can not go out unencoded, not even as 8bit. *eight_r is set
 * to whether a byte >= 0x80 was seen. */
bool dsn_needs_encoding(const char *data, size_t len, bool *eight_r);

/* True when s has a byte >= 0x80. */
bool dsn_has_8bit(const char *s);

#endif
