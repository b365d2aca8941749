/*
 * imap_fetch_parse - turns the arguments of FETCH (RFC 3501 6.4.5, RFC
 * 9051 6.4.5) into a list of wanted items: the macros ALL, FAST and FULL,
 * the simple items (FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY,
 * BODYSTRUCTURE, UID, MODSEQ), and body sections: BODY[section]<partial>,
 * BODY.PEEK, RFC822, RFC822.HEADER, RFC822.TEXT, BINARY[part]<partial>,
 * BINARY.PEEK and BINARY.SIZE (RFC 3516), plus the modifiers CHANGEDSINCE
 * and VANISHED (RFC 7162). The arguments come from imap_parse and are
 * untrusted; section nesting, header-field lists and item counts are
 * bounded. Pure: no I/O, no logging, no globals.
 */
#ifndef IMAP_FETCH_PARSE_H
#define IMAP_FETCH_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/imap_parse.h"

/* Simple items (struct imap_fetch.items). */
#define IMAP_FETCH_FLAGS 0x0001
#define IMAP_FETCH_INTERNALDATE 0x0002
#define IMAP_FETCH_RFC822_SIZE 0x0004
#define IMAP_FETCH_ENVELOPE 0x0008
#define IMAP_FETCH_BODY 0x0010 /* non-extensible BODYSTRUCTURE */
#define IMAP_FETCH_BODYSTRUCTURE 0x0020
#define IMAP_FETCH_UID 0x0040
#define IMAP_FETCH_MODSEQ 0x0080

#define IMAP_FETCH_PART_DEPTH_MAX 100 /* as the MIME parser's nesting */

enum imap_fetch_section {
	IMAP_SECTION_ALL = 0,	    /* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,	    /* HEADER */
	IMAP_SECTION_HEADER_FIELDS, /* HEADER.FIELDS (fields) */
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME, /* needs a part number */
};

enum imap_fetch_body_kind {
	IMAP_BODY_SECTION = 0,	 /* BODY[...] / BODY.PEEK[...] */
	IMAP_BODY_RFC822,	 /* = BODY[], sets \Seen */
	IMAP_BODY_RFC822_HEADER, /* = BODY.PEEK[HEADER] */
	IMAP_BODY_RFC822_TEXT,	 /* = BODY[TEXT] */
	IMAP_BODY_BINARY,	 /* BINARY[...] / BINARY.PEEK[...] */
	IMAP_BODY_BINARY_SIZE,	 /* BINARY.SIZE[...] */
};

struct imap_fetch_body {
	enum imap_fetch_body_kind kind;
	bool peek;	 /* does not set \Seen (BODY.PEEK, BINARY.PEEK,
			    RFC822.HEADER, BINARY.SIZE) */
	uint32_t *parts; /* part numbers, e.g. 1.2.3; part_count of them */
	unsigned int part_count;
	enum imap_fetch_section section;
	char **fields; /* HEADER.FIELDS[.NOT]: upper-cased names */
	unsigned int field_count;
	bool partial; /* <offset.size>; size >= 1 */
	uint64_t offset, size;
	/* The name for the response: "BODY[HEADER.FIELDS (FROM TO)]<0>",
	   "RFC822.HEADER", "BINARY.SIZE[1]" (partial size left out, as RFC
	   3501 says). */
	char *name;
};

struct imap_fetch {
	unsigned int items; /* IMAP_FETCH_* */
	struct imap_fetch_body *bodies;
	unsigned int body_count;
	bool sets_seen; /* some body item without PEEK */
	bool has_changedsince;
	uint64_t changedsince;
	bool vanished; /* VANISHED modifier (UID FETCH with QRESYNC) */
};

struct imap_fetch_limits {
	unsigned int max_items;	 /* body items in one FETCH */
	unsigned int max_fields; /* names in one HEADER.FIELDS list */
	unsigned int max_name;	 /* length of one response name */
};

/* Parse flags. */
#define IMAP_FETCH_ALLOW_CONDSTORE 0x01 /* MODSEQ, CHANGEDSINCE */
#define IMAP_FETCH_ALLOW_QRESYNC 0x02	/* VANISHED */
#define IMAP_FETCH_ALLOW_BINARY 0x04	/* BINARY[...] items */

/*
 * Parses items (one argument: an atom such as "FULL" or "BODY[]<0.10>", or
 * a list of them) and modifiers (the optional parenthesised list after
 * them, or NULL). Returns 0 with a new *fetch_r, or -1 with *error_r
 * (static text, suitable after "BAD "). VANISHED without CHANGEDSINCE is
 * an error (RFC 7162 3.2.6); whether the command was UID FETCH is the
 * caller's check.
 */
int imap_fetch_parse(const struct imap_arg *items,
		     const struct imap_arg *modifiers,
		     const struct imap_fetch_limits *limits, unsigned int flags,
		     struct imap_fetch **fetch_r, const char **error_r);

void imap_fetch_free(struct imap_fetch **fetchp);

/* Appends a canonical form (tests, debugging). */
struct strbuf;
int imap_fetch_dump(const struct imap_fetch *fetch, struct strbuf *sb);

#endif
