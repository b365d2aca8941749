/*
 * mime_decode - streaming Content-Transfer-Encoding decoders (base64 and
 * quoted-printable, RFC 2045 6.7, 6.8) for SEARCH BODY/TEXT and BINARY.
 * Bytes are fed in chunks of any size; output goes to the caller's bounded
 * strbuf. Decoding is lenient as mail readers are: base64 skips bytes
 * outside its alphabet, quoted-printable keeps a '=' that starts no valid
 * escape; such input sets the "broken" flag (BINARY must then answer
 * UNKNOWN-CTE, SEARCH just uses what was decoded).
 * Pure: no I/O, no logging, no globals. Input is untrusted; state is a few
 * bytes plus at most MIME_DECODE_MAX_WS pending blanks.
 */
#ifndef MIME_DECODE_H
#define MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

enum mime_encoding {
	MIME_ENCODING_7BIT, /* also 8bit, binary and a missing field */
	MIME_ENCODING_BASE64,
	MIME_ENCODING_QP,
	MIME_ENCODING_UNKNOWN, /* passed through unchanged */
};

/* Trailing blanks of a quoted-printable line held back at most. */
#define MIME_DECODE_MAX_WS 256

struct mime_decoder {
	enum mime_encoding enc;
	bool broken;
	/* base64 */
	unsigned int acc, bits;
	/* quoted-printable: a pending "=", "=X" or "=\r", and blanks */
	char esc[3];
	unsigned int esc_len;
	char ws[MIME_DECODE_MAX_WS];
	unsigned int ws_len;
};

/* The encoding named by a Content-Transfer-Encoding token (NULL for a
   missing field): case-insensitive. */
enum mime_encoding mime_encoding_from_name(const char *name);

void mime_decoder_init(struct mime_decoder *dec, enum mime_encoding enc);
/* Decodes len bytes, appending to out. Returns 0, or -1 if out's maximum
   was hit (out then holds what fitted). */
int mime_decoder_feed(struct mime_decoder *dec, const void *data, size_t len,
		      struct strbuf *out);
/* Flushes what is pending at the end of the body. Same returns. */
int mime_decoder_finish(struct mime_decoder *dec, struct strbuf *out);

#endif
