/*
 * mime_parse - streaming MIME structure parser. Bytes of one message are
 * fed in chunks of any size; the result is a tree of parts, each with the
 * offset and sizes of its header and body, which is all IMAP needs for
 * BODYSTRUCTURE, BODY[section], HEADER, MIME, TEXT and sizes (the header
 * fields themselves are read again from the message by the caller, see
 * imap_bodystructure.h).
 *
 * Structure rules are Dovecot 2.3's (message-parser.c), so that a store
 * moved between the two servers gives the same BODYSTRUCTURE:
 * - A part's header ends at the first empty line (LF or CRLF), which
 *   belongs to the header, unless a boundary line follows it directly:
 *   then its line break is the boundary's and the header ends before it
 *   (the part's body is empty). A header can also end at a boundary line;
 *   the line break before the boundary is not part of the header.
 * - A line "--" + B, where B is the longest active boundary that is a
 *   prefix of the rest of the line, ends the parts below the multipart
 *   owning B; the line break before it belongs to the boundary, not to the
 *   body ended (unless that break ends a boundary line itself; and when
 *   the boundary cuts a header, the break counts in the enclosing parts'
 *   bodies, only not in the cut header). "--" + B + "--" closes the
 *   multipart: what follows is its epilogue (part of its body) until an
 *   outer boundary.
 * - multipart/ without a boundary parameter is a multipart without
 *   children; a boundary that never appears likewise. A missing final
 *   boundary ends everything at the end of the message.
 * - message/rfc822 and message/global bodies hold one child message; so
 *   does a part without Content-Type inside multipart/digest.
 * - Limits: a part at depth max_depth - 1 (the root is depth 0) cannot
 *   hold children: a multipart or message there becomes a leaf
 *   (MIME_PART_FLAG_TOO_DEEP; BODYSTRUCTURE shows application/octet-stream
 *   as Dovecot does). Once max_parts parts exist no more boundaries are
 *   seen: the rest is body of the current part. A header ends at the
 *   first line that starts max_header_size bytes or more after its start,
 *   and the rest is body of a leaf part (MIME_PART_FLAG_HEADER_OVERFLOW). A
 * Content-Type field over max_header_field is ignored. Memory is bounded by
 * max_parts parts plus one header field and the active boundaries (at most
 * max_depth).
 *
 * Sizes. "physical" counts the bytes as stored; "virtual" counts every
 * line break as CRLF, i.e. a bare LF as two bytes (a bare CR is one byte
 * and is not a line break). IMAP sizes (RFC822.SIZE, BODYSTRUCTURE sizes,
 * partial fetch offsets) are virtual: a Maildir file written with LF line
 * ends (as Dovecot and most MDAs write them) is served with CRLF, and its
 * RFC822.SIZE is the virtual size, which Dovecot also records as ",W=" in
 * the file name. "lines" counts LF bytes.
 *
 * Pure: no I/O, no logging, no globals. Input is untrusted.
 */
#ifndef MIME_PARSE_H
#define MIME_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIME_DEFAULT_MAX_DEPTH 100
#define MIME_DEFAULT_MAX_PARTS 10000
#define MIME_DEFAULT_MAX_HEADER_SIZE (1024 * 1024)
#define MIME_DEFAULT_MAX_HEADER_FIELD (64 * 1024)
/* Boundaries longer than this are cut to it (RFC 2046 allows 70). */
#define MIME_BOUNDARY_MAX 80

struct mime_limits {
	unsigned int max_depth;	 /* 0 = MIME_DEFAULT_MAX_DEPTH */
	unsigned int max_parts;	 /* 0 = MIME_DEFAULT_MAX_PARTS */
	size_t max_header_size;	 /* one part's header; 0 = default */
	size_t max_header_field; /* one unfolded field; 0 = default */
};

struct mime_size {
	uint64_t physical;
	uint64_t virtual; /* line breaks counted as CRLF */
	uint64_t lines;	  /* LF bytes */
};

#define MIME_PART_FLAG_MULTIPART 0x01 /* children separated by a boundary */
#define MIME_PART_FLAG_MESSAGE 0x02   /* one child: an encapsulated message */
#define MIME_PART_FLAG_DIGEST 0x04    /* multipart/digest */
#define MIME_PART_FLAG_HAS_CT 0x08    /* had a Content-Type field */
#define MIME_PART_FLAG_TOO_DEEP 0x10  /* container cut by max_depth */
#define MIME_PART_FLAG_HEADER_OVERFLOW                                         \
	0x20				   /* header cut by max_header_size    \
					    */
#define MIME_PART_FLAG_PARTS_OVERFLOW 0x40 /* boundaries ignored: max_parts */

struct mime_part {
	struct mime_part *parent, *children, *next;
	struct mime_part *last_child; /* private: for appending */
	unsigned int flags;
	unsigned int depth; /* root = 0 */
	unsigned int children_count;
	uint64_t header_offset;	 /* physical offset in the message */
	struct mime_size header; /* including the empty line */
	uint64_t body_offset;
	struct mime_size body;
};

struct mime_parser;

/* limits may be NULL for the defaults. */
struct mime_parser *mime_parser_new(const struct mime_limits *limits);
/* Feeds the next len bytes of the message. Never fails. */
void mime_parser_feed(struct mime_parser *parser, const void *data, size_t len);
/* Ends the message, frees the parser and returns the root part, which the
   caller frees with mime_part_free(). */
struct mime_part *mime_parser_finish(struct mime_parser **parser);
/* Frees a whole tree given its root. */
void mime_part_free(struct mime_part **root);

/* Parses a complete message in memory: new + feed + finish. */
struct mime_part *mime_parse_message(const void *data, size_t len,
				     const struct mime_limits *limits);

/*
 * Finds an IMAP section part ("1", "2.3", ...; "" is the root) as RFC 3501
 * numbers them: the children of a multipart are 1..n; a message/rfc822
 * part's number refers to its encapsulated message, whose children are
 * numbered in turn; a non-multipart message has one part, "1". Returns
 * NULL if there is no such part.
 */
const struct mime_part *mime_part_find_section(const struct mime_part *root,
					       const char *section);

#endif
