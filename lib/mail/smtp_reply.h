/*
 * smtp_reply - reads a server's reply as the smtp/LMTP client sees it, one
 * line at a time ("NNN-text" continues, "NNN text" or "NNN" ends), and
 * writes replies for the servers. The peer is hostile: every line, the
 * number of lines and the total size are bounded by limits the caller sets.
 * Pure: no I/O, no logging, no globals.
 */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

#define SMTP_REPLY_DEFAULT_MAX_LINE 2048 /* Postfix line_length_limit */
#define SMTP_REPLY_DEFAULT_MAX_LINES 100
#define SMTP_REPLY_DEFAULT_MAX_TOTAL 65536
#define SMTP_REPLY_MIN_MAX_LINE 512 /* RFC 5321 4.5.3.1.5 */

struct smtp_reply_limits {
	size_t max_line;	/* bytes per line without CRLF (>= 512) */
	unsigned int max_lines; /* lines per reply */
	size_t max_total;	/* bytes of joined text */
};

struct smtp_reply {
	struct smtp_reply_limits limits;
	unsigned int code; /* 200..599; 0 before the first line */
	char enhanced[16]; /* "X.Y.Z" or "" (RFC 2034/3463) */
	/* Text of all lines, enhanced code removed, joined with '\n'. */
	struct strbuf text;
	unsigned int lines;
	bool complete;
};

/*
 * Initialises a reply reader. limits may be NULL for the defaults; a
 * max_line below 512 is raised to 512, zero fields take the defaults.
 * Release with smtp_reply_deinit().
 */
void smtp_reply_init(struct smtp_reply *reply,
		     const struct smtp_reply_limits *limits);
void smtp_reply_deinit(struct smtp_reply *reply);
/* Forgets the current reply (limits kept), to read the next one. */
void smtp_reply_reset(struct smtp_reply *reply);

/*
 * Feeds one line (len bytes, CRLF removed). Returns 1 when this line ended
 * the reply (reply->complete is set; call smtp_reply_reset() before the
 * next reply), 0 when more lines must follow, -1 with *error_r set (static
 * string) on a malformed reply: bad or out-of-range code, a code differing
 * from the first line's, a line over max_line, more than max_lines lines,
 * text over max_total, NUL/CR/LF in the line, or a line fed after the
 * reply was complete. After -1 the reply must be reset.
 *
 * The enhanced status code is taken from the first line when it reads
 * "C.S.D " with C equal to the reply's first digit (2, 4 or 5), S and D of
 * 1-3 digits; on later lines the same code is removed when present.
 */
int smtp_reply_feed(struct smtp_reply *reply, const char *line, size_t len,
		    const char **error_r);

/*
 * Call when the connection ends: returns 0 if no reply was being read or
 * the last one is complete, -1 with *error_r set if a reply was cut off
 * (e.g. "250-" then EOF).
 */
int smtp_reply_finish(const struct smtp_reply *reply, const char **error_r);

/* What a server announced in its 250 reply to EHLO or LHLO. */
struct smtp_ehlo {
	bool pipelining, dsn, eightbit, smtputf8, starttls, size;
	unsigned long long size_limit; /* SIZE's argument; 0: none given */
};

/*
 * Reads the extension keywords of a complete reply (the lines after the
 * first, which is the server's name; keywords are case-insensitive,
 * unknown ones ignored, a SIZE argument that is not a number counts as
 * none). A reply of one line (HELO) announces nothing.
 */
void smtp_ehlo_parse(struct smtp_ehlo *ehlo, const struct smtp_reply *reply);

/*
 * Appends a reply to out: one line per '\n'-separated line of text, "NNN-"
 * on all but the last, "NNN " on the last, each starting with the enhanced
 * code when enhanced is not NULL or "", each ended by CRLF. code must be
 * 200..599, text must not contain CR, NUL or other control characters but
 * TAB and '\n'. Returns 0, or -1 (out may then hold a partial reply) on
 * bad arguments or when out's maximum would be exceeded.
 */
int smtp_reply_format(struct strbuf *out, unsigned int code,
		      const char *enhanced, const char *text);

#endif
