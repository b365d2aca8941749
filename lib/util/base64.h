/*
 * base64 - RFC 4648 base64 (standard alphabet) encoding and decoding into
 * a bounded strbuf. Input to the decoder is untrusted; it is pure (no I/O,
 * no logging, no globals) and never writes past the strbuf's maximum.
 * No mail knowledge: callers choose their acceptance rules with flags.
 * Streaming MIME body decoding is mail/mime_decode's job, not this one's.
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

struct strbuf;

/* Decoding rules. 0 is the strict default: only alphabet characters, then
   at most two '=' that complete the last quantum (missing padding is
   accepted, a lone trailing character is not), no white space, and the
   unused low bits of the last character must be zero (canonical form). */
enum base64_decode_flags {
	/* The input length must be a multiple of 4 (padding required). */
	BASE64_DECODE_PAD_REQUIRED = 0x01,
	/* Non-zero unused bits in the last character are accepted. */
	BASE64_DECODE_IGNORE_UNUSED_BITS = 0x02,
	/* Lenient mode (RFC 2047 encoded words): every byte outside the
	   alphabet, '=' included, is skipped, an incomplete last quantum is
	   dropped, and decoding never fails on content (only on overflow).
	   The other flags are ignored. */
	BASE64_DECODE_SKIP_INVALID = 0x04,
};

/* Appends the decoding of src[0..len) to dest. Returns 0, or -1 if the
   input breaks the rules or dest would overflow; dest then holds what it
   held before the call. The decoded bytes are appended at once and the
   temporary copy is wiped: a dest whose max is base64_decoded_max_len()
   is allocated once, so secrets need no wipe beyond dest's own. */
int base64_decode(const void *src, size_t len, unsigned int flags,
		  struct strbuf *dest);
/* Appends the padded base64 encoding of data[0..len) to dest. Returns 0,
   or -1 if dest would overflow (dest is then unchanged). */
int base64_encode(const void *data, size_t len, struct strbuf *dest);
/* The 6-bit value of an alphabet character, or -1 (also for '='). For
   streaming decoders (mail/mime_decode) that keep their own state. */
int base64_value(unsigned char c);
/* The most bytes len base64 characters can decode to. */
size_t base64_decoded_max_len(size_t len);
/* Length of the encoding of len bytes (without a NUL). */
size_t base64_encoded_len(size_t len);

#endif
