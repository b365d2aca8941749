/*
 * rfc822_header - message header parsing for IMAP (RFC 5322, RFC 2045,
 * RFC 2047, RFC 2231): splitting a header block into fields, the RFC 822
 * tokenizer (atoms, quoted strings, comments, phrases, domains, MIME
 * tokens), Content-Type and parameter lists with RFC 2231 continuations,
 * address lists for ENVELOPE, and decoding of encoded words and RFC 2231
 * values to UTF-8 (iconv).
 *
 * The tokenizer follows Dovecot 2.3's rfc822-parser closely, because IMAP
 * clients cache ENVELOPE and BODYSTRUCTURE: a store served by Dovecot and
 * then by Dovetail must give byte-identical answers, including for broken
 * input (see tests/unit/mime/README).
 *
 * Pure: no I/O, no logging, no globals. Input is untrusted; every function
 * reads at most the length given and allocates at most a small multiple of
 * it (plus the caller's count limits).
 */
#ifndef RFC822_HEADER_H
#define RFC822_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

/* ---- header fields ---- */

struct rfc822_field {
	const char *name; /* NUL-terminated copy, case as in the message */
	size_t name_len;
	/* The raw value: leading blanks of the first line skipped, folding
	   line breaks kept, the final line break removed, NULs replaced by
	   U+FFFD (as Dovecot does). NUL-terminated. */
	const char *value;
	size_t value_len;
};

struct rfc822_header {
	char *buf; /* owns names and values */
	struct rfc822_field *fields;
	unsigned int count;
};

/*
 * Splits the header block data (len bytes, up to and including the blank
 * line, or the whole block if it has none) into at most max_fields fields;
 * the rest is ignored. Lines without a colon are skipped. Always succeeds;
 * free with rfc822_header_free().
 */
void rfc822_header_parse(const void *data, size_t len, unsigned int max_fields,
			 struct rfc822_header *hdr_r);
void rfc822_header_free(struct rfc822_header *hdr);

/* Returns the first (or, with last, the last) field named name (ASCII
   case-insensitive), or NULL. */
const struct rfc822_field *rfc822_header_find(const struct rfc822_header *hdr,
					      const char *name, bool last);

/* Appends value with its folding line breaks (CR, LF) removed. */
int rfc822_unfold(struct strbuf *out, const char *value, size_t len);

/* ---- tokenizer (Dovecot's rfc822-parser semantics) ---- */

struct rfc822_lex {
	const unsigned char *data, *end;
	/* If not NULL, receives the text of the last comment skipped. */
	struct strbuf *last_comment;
};

void rfc822_lex_init(struct rfc822_lex *lx, const void *data, size_t len,
		     struct strbuf *last_comment);
/* Each returns 1 if input remains after the token (and the white space and
   comments after it), 0 at the end of input, -1 on a syntax error. Tokens
   are appended to out. */
int rfc822_lex_skip_lwsp(struct rfc822_lex *lx);
int rfc822_lex_atom(struct rfc822_lex *lx, struct strbuf *out);
int rfc822_lex_dot_atom(struct rfc822_lex *lx, struct strbuf *out);
/* A local part: atext and dots, blanks allowed before a dot only. */
int rfc822_lex_local_part(struct rfc822_lex *lx, struct strbuf *out);
int rfc822_lex_mime_token(struct rfc822_lex *lx, struct strbuf *out);
int rfc822_lex_quoted_string(struct rfc822_lex *lx, struct strbuf *out);
/* Words (atoms with dots, quoted strings) joined by single spaces; may be
   empty, as Dovecot allows (":" is a group without a name). 0 at the end
   of input, -1 if it starts with '.'. */
int rfc822_lex_phrase(struct rfc822_lex *lx, struct strbuf *out);
/* At '@': the domain after it (dot-atom or [literal]). */
int rfc822_lex_domain(struct rfc822_lex *lx, struct strbuf *out);
bool rfc822_is_atext(unsigned char c);

/* ---- MIME parameters (RFC 2045, RFC 2231) ---- */

struct rfc822_param {
	char *name;
	char *value;
};

struct rfc822_params {
	struct rfc822_param *v;
	unsigned int count;
};

#define RFC822_MAX_PARAMS 256

/*
 * Parses ";" name "=" value ... at lx up to RFC822_MAX_PARAMS, as Dovecot
 * does: broken parameters are skipped; RFC 2231 continuations (name*0,
 * name*1*, ...) are merged into one "name" or "name*" parameter (still
 * %-encoded with its charset'language' prefix; decode it with
 * rfc822_param_decode()). Merged parameters follow the plain ones, sorted
 * by name. Free with rfc822_params_free().
 */
void rfc822_params_parse(struct rfc822_lex *lx, struct rfc822_params *params_r);
void rfc822_params_free(struct rfc822_params *params);
/* The value of the first parameter named name (case-insensitive), or NULL. */
const char *rfc822_params_get(const struct rfc822_params *params,
			      const char *name);

/*
 * Parses "type/subtype" at lx (after skipping white space). Returns 0 and
 * fills type_r/subtype_r (appended), or -1 if broken, when type_r keeps
 * what Dovecot keeps: the type if it was not followed by '/', else nothing.
 */
int rfc822_lex_content_type(struct rfc822_lex *lx, struct strbuf *type_r,
			    struct strbuf *subtype_r);

/* ---- addresses (ENVELOPE) ---- */

struct rfc822_address {
	struct rfc822_address *next;
	/* NULL for NIL. A group start has mailbox = group name and domain
	   NULL; a group end has all four NULL. */
	char *name, *route, *mailbox, *domain;
	bool invalid;
};

/*
 * Parses an address list (the raw value of From, To, ...) into at most
 * max_addresses addresses, filling missing parts with "MISSING_MAILBOX"
 * and "MISSING_DOMAIN" as Dovecot does. Returns the list (NULL if empty);
 * free with rfc822_address_free().
 */
struct rfc822_address *rfc822_address_parse(const char *value, size_t len,
					    unsigned int max_addresses);
void rfc822_address_free(struct rfc822_address **list);

/* ---- decoding to UTF-8 ---- */

/*
 * Appends value decoded for display and search: RFC 2047 encoded words
 * (B and Q, any charset iconv knows; white space between adjacent encoded
 * words dropped) converted to UTF-8, folding removed. Invalid encoded words
 * are kept as they are; bytes that are not valid UTF-8 outside encoded
 * words are taken as ISO-8859-1. Returns -1 only if out's maximum is hit.
 */
int rfc822_decode_words(struct strbuf *out, const char *value, size_t len);

/*
 * Appends a parameter value as UTF-8: for an extended ("name*") value the
 * charset'language'%XX form of RFC 2231, else the value with RFC 2047 words
 * decoded (a common violation). Returns -1 only if out's maximum is hit.
 */
int rfc822_param_decode(struct strbuf *out, const struct rfc822_param *param);

/*
 * Converts len bytes from charset to UTF-8, appending to out. Unknown
 * charsets return -1 with nothing appended; invalid sequences become
 * U+FFFD. "us-ascii", "utf-8" and "iso-8859-1" never need iconv.
 */
int rfc822_charset_to_utf8(struct strbuf *out, const char *charset,
			   const void *data, size_t len);

#endif
