/*
 * fetch_section - the body items of FETCH (imapd/cmd_fetch.c): resolving
 * BODY[section], RFC822.*, BINARY[part] and BINARY.SIZE of one message
 * into what is sent (a byte range of the mapped file or a buffer), and
 * sending ranges with bare LF as CRLF and NUL as 0x80, as Dovecot does.
 * Section numbers resolve as in Dovecot's imap-msgpart.c and BINARY is
 * built as Dovecot's index-mail-binary.c builds it (every leaf of the
 * part decoded, quirks included); tests/imap/test_imap_fetch.py compares
 * every item with a live Dovecot.
 * Private to imapd; message files are untrusted, offsets come from
 * mime_parse.
 */
#ifndef IMAPD_FETCH_SECTION_H
#define IMAPD_FETCH_SECTION_H

#include <stdbool.h>
#include <stdint.h>

#include "imapd.h"
#include "mail/imap_fetch_parse.h"
#include "util/strbuf.h"

struct mime_part;

#define FETCH_EMIT_CHUNK 65536

/* What one body item sends: a byte range of the file (converted on the
   way out) or a buffer already in its final form. */
struct fetch_src {
	bool is_buf;   /* buf, else [start, end) of the file */
	bool keep_nul; /* BINARY that is sent in a literal8, NULs kept */
	uint64_t start, end;
	struct strbuf buf;
	uint64_t vsize; /* full size of the converted content */
};

struct fetch_msg {
	struct imap_msg_file file;
	bool file_open;
	struct mime_part *root;
	struct fetch_src *srcs; /* one per body item */
};

enum fetch_result {
	FETCH_OK = 0,
	FETCH_EXPUNGED,
	FETCH_UNKNOWN_CTE,
	FETCH_BROKEN, /* BINARY of undecodable content */
	FETCH_ERROR,
};

/* Sends data[start, end) converted (bare LF -> CRLF; NUL -> 0x80 unless
   keep_nul), leaving out the first skip bytes and sending at most limit. */
void fetch_emit_range(struct imap_client *c, const char *data, uint64_t start,
		      uint64_t end, bool keep_nul, uint64_t skip,
		      uint64_t limit);
/* HEADER.FIELDS(.NOT) of the header block hdr, CRLF, into out, ended by
   the empty line when hdr has one or always_eoh (Dovecot: HEADER.FIELDS
   of a message always has it, HEADER.FIELDS.NOT and those of a part only
   when the header does). -1 if out is full. */
int fetch_header_fields(const struct imap_fetch_body *b, const char *hdr,
			size_t len, bool always_eoh, struct strbuf *out);
/* Resolves body item b of a message whose file is open into s. */
enum fetch_result fetch_body_src(struct fetch_msg *m,
				 const struct imap_fetch_body *b,
				 struct fetch_src *s);
/* True when b is answered from the cached header block (HEADER.FIELDS of
   the whole message): no need to open the file. */
bool fetch_body_from_cache(const struct imap_fetch_body *b);

/* BINARY.SIZE answers of this session thread (fetch_binsize.c), by
   mailbox, UIDVALIDITY, UID and part: lookup is true with *size_r when b
   (a BINARY.SIZE item) of message seq of v was answered before; store
   remembers an answer (a bounded cache, oldest replaced). */
bool fetch_binsize_lookup(const struct imap_view *v, uint32_t seq,
			  const struct imap_fetch_body *b, uint64_t *size_r);
void fetch_binsize_store(const struct imap_view *v, uint32_t seq,
			 const struct imap_fetch_body *b, uint64_t size);

#endif
