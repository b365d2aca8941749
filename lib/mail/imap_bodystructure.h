/*
 * imap_bodystructure - IMAP BODY, BODYSTRUCTURE (RFC 3501 7.4.2, with the
 * extension data) and ENVELOPE strings for a message parsed by mime_parse.
 * Output is byte-identical to Dovecot 2.3's for the golden corpus in
 * tests/unit/mime (see its README for where it differs on purpose:
 * message/global is encapsulated like message/rfc822).
 *
 * Pure: the message bytes and the part tree come from the caller; the
 * message is untrusted; output goes to the caller's bounded strbuf. No I/O.
 */
#ifndef IMAP_BODYSTRUCTURE_H
#define IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stddef.h>

struct mime_part;
struct strbuf;

/* Most addresses shown for each of From, Sender, Reply-To, To, Cc, Bcc
   (all fields of that name together). */
#define IMAP_ENVELOPE_MAX_ADDRESSES 10000

/*
 * Appends the BODYSTRUCTURE (extended) or BODY (!extended) of part, a part
 * of the tree mime_parse built from msg (msg_len bytes, the same bytes).
 * The value is the parenthesized list without the item name. Returns 0, or
 * -1 if out's maximum was hit or the tree does not fit msg (out is then
 * left with partial output the caller discards).
 */
int imap_bodystructure_write(struct strbuf *out, const void *msg,
			     size_t msg_len, const struct mime_part *part,
			     bool extended);

/*
 * Appends the ENVELOPE of a message whose header block is hdr (hdr_len
 * bytes, e.g. msg + part->header_offset, part->header.physical bytes).
 * Returns 0, or -1 if out's maximum was hit.
 */
int imap_envelope_write(struct strbuf *out, const void *hdr, size_t hdr_len);

#endif
