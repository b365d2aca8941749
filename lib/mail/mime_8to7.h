/*
 * mime_8to7 - streaming 8-bit to 7-bit MIME conversion for the smtp
 * client, for a message that may hold 8-bit content going to a server
 * that does not announce 8BITMIME (RFC 6152 3: "the sender must either
 * convert the message to 7 bit or return it"). The rules are Postfix's
 * (mime_state with MIME_OPT_DOWNGRADE), so mail leaves a Dovetail host as
 * it left the Postfix host it replaces:
 *
 * - Only what a Content-Transfer-Encoding field puts in the 8bit or binary
 *   domain is converted. A leaf part so labelled gets its body encoded as
 *   quoted-printable and its field replaced by "Content-Transfer-Encoding:
 *   quoted-printable"; a multipart or message/rfc822 part so labelled gets
 *   "7bit" (its children are converted one by one). The new field goes at
 *   the end of the part's header, where the old one is dropped. A part
 *   without the field is 7bit (RFC 2045 6.1) and passes unchanged even when
 *   it holds 8-bit octets, as in Postfix: so does a non-MIME message with
 *   an 8-bit body (no MIME-Version or Content-Type is added).
 * - message/global labelled 8bit is encoded as a whole (RFC 6532 3.5
 *   allows it). Other message/ subtypes (partial, external-body,
 *   delivery-status, ...) may only be 7bit (RFC 2046 5.2): they are
 *   labelled 7bit and their body passes unchanged. (Postfix labels them
 *   7bit but quoted-printable-encodes the body, which breaks them.)
 * - Header fields are never changed, 8-bit octets included (an 8-bit
 *   header cannot be downgraded without RFC 2047 guesswork; Postfix leaves
 *   it too). Line breaks (LF or CRLF) are kept as they are.
 * - Quoted-printable as Postfix writes it (RFC 2045 6.7): octets below 32
 *   (except TAB), '=' and above 126 as =XX; a soft line break ("=") once a
 *   line holds more than 72 characters, so no line exceeds 76; white space
 *   before a hard line break as =20 or =09. Each input line break is a hard
 *   line break. '.' and "From " at a line start are left to the
 *   transport's dot-stuffing, as Postfix does.
 * - Structure as Postfix sees it: "--" + boundary at a line start ends a
 *   part of the innermost multipart whose boundary prefixes the rest of the
 *   line (inner multiparts are closed); "--" after it closes the multipart.
 *   A missing boundary just leaves the rest in the current part: no
 *   content is ever dropped. A primary header ended by a line that is not
 *   a header field gets an empty line inserted before that line, as in
 *   Postfix; nothing else is ever added or removed.
 *
 * Limits: a line is processed in pieces of MIME_8TO7_LINE_PIECE bytes; a
 * header field longer than MIME_8TO7_FIELD_MAX is passed on unread;
 * boundaries longer than MIME_8TO7_BOUNDARY_MAX are cut to it; more than
 * MIME_8TO7_MAX_DEPTH nested multiparts is an error (MIME_8TO7_ERR_NESTING:
 * Postfix bounces such mail with 5.6.0 "MIME nesting exceeds safety
 * limit"). Memory: these buffers plus the active boundaries.
 *
 * Pure: no I/O, no logging, no globals. Input is untrusted.
 */
#ifndef MIME_8TO7_H
#define MIME_8TO7_H

#include <stdbool.h>
#include <stddef.h>

#define MIME_8TO7_LINE_PIECE 2048	 /* Postfix's line_length_limit */
#define MIME_8TO7_FIELD_MAX (100 * 1024) /* about header_size_limit */
#define MIME_8TO7_BOUNDARY_MAX 2048	 /* mime_boundary_length_limit */
#define MIME_8TO7_MAX_DEPTH 100		 /* mime_nesting_limit */

/* mime_8to7_flags(): what happened so far. */
#define MIME_8TO7_CONVERTED 0x01   /* at least one part was relabelled */
#define MIME_8TO7_CHANGED 0x02	   /* the output differs from the input */
#define MIME_8TO7_8BIT_LEFT 0x04   /* the output still holds 8-bit octets */
#define MIME_8TO7_ERR_NESTING 0x08 /* too deep: conversion abandoned */

/* Receives the converted message in pieces; returns 0, or -1 to stop the
   conversion (the feed then returns -1). */
typedef int mime_8to7_output(void *ctx, const char *data, size_t len);

struct mime_8to7;

struct mime_8to7 *mime_8to7_new(mime_8to7_output *out, void *ctx);
/*
 * Converts the next len bytes of the message (chunks of any size),
 * calling out as output becomes ready. Returns 0, or -1 once out has
 * failed or the nesting limit was hit (MIME_8TO7_ERR_NESTING; the message
 * must not be sent, part of it is already out); every later call then
 * returns -1 too.
 */
int mime_8to7_feed(struct mime_8to7 *m, const void *data, size_t len);
/* Ends the message: flushes what is held back. A last line without a line
   break is written without one. Same returns. */
int mime_8to7_finish(struct mime_8to7 *m);
unsigned int mime_8to7_flags(const struct mime_8to7 *m);
void mime_8to7_free(struct mime_8to7 **m);

#endif
