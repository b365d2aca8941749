/*
 * imap_search_parse - turns the arguments of SEARCH (RFC 3501 6.4.4, RFC
 * 9051 6.4.4) into a program: the optional ESEARCH "RETURN (...)" options
 * (RFC 4731, RFC 5182 SAVE), the optional CHARSET, and a tree of search
 * keys: every RFC 3501 key, sequence sets (with "$", RFC 5182), UID sets,
 * parenthesised groups, OR and NOT, and CONDSTORE's MODSEQ (RFC 7162).
 * The arguments come from imap_parse and are untrusted; the tree is
 * bounded by the caller's limits on nodes and depth. Pure: no I/O, no
 * logging, no globals. Sequence sets are left unresolved ("*" is resolved
 * by the caller against the selected mailbox).
 */
#ifndef IMAP_SEARCH_PARSE_H
#define IMAP_SEARCH_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/imap_date.h"
#include "mail/imap_parse.h"
#include "mail/imap_seqset.h"

enum imap_search_key {
	IMAP_SEARCH_AND = 0, /* children: all must match (a group) */
	IMAP_SEARCH_OR,	     /* two children */
	IMAP_SEARCH_NOT,     /* one child */
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_SEQSET, /* set */
	IMAP_SEARCH_UID,    /* set */
	/* flags: no value */
	IMAP_SEARCH_ANSWERED,
	IMAP_SEARCH_DELETED,
	IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED,
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_SEEN,
	IMAP_SEARCH_NEW,
	IMAP_SEARCH_OLD,
	IMAP_SEARCH_UNANSWERED,
	IMAP_SEARCH_UNDELETED,
	IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED,
	IMAP_SEARCH_UNSEEN,
	IMAP_SEARCH_KEYWORD,   /* value: flag keyword (atom) */
	IMAP_SEARCH_UNKEYWORD, /* value */
	/* strings: value */
	IMAP_SEARCH_BCC,
	IMAP_SEARCH_BODY,
	IMAP_SEARCH_CC,
	IMAP_SEARCH_FROM,
	IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_TEXT,
	IMAP_SEARCH_TO,
	IMAP_SEARCH_HEADER, /* header (field name) and value */
	/* dates: date */
	IMAP_SEARCH_BEFORE,
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE,
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	/* sizes: number */
	IMAP_SEARCH_LARGER,
	IMAP_SEARCH_SMALLER,
	/* CONDSTORE: number (mod-sequence), optional entry name and type */
	IMAP_SEARCH_MODSEQ,
};

enum imap_search_entry_type {
	IMAP_SEARCH_ENTRY_NONE = 0,
	IMAP_SEARCH_ENTRY_PRIV,
	IMAP_SEARCH_ENTRY_SHARED,
	IMAP_SEARCH_ENTRY_ALL,
};

struct imap_search_node {
	enum imap_search_key key;
	struct imap_search_node *children; /* AND, OR, NOT */
	struct imap_search_node *next;	   /* sibling */
	const char *header;		   /* HEADER field name */
	const char *value;		   /* strings and keywords; may be "" */
	struct imap_date date;
	uint64_t number;
	struct imap_seqset set; /* SEQSET, UID (raw: resolve it) */
	const char *entry_name; /* MODSEQ, e.g. "/flags/\\seen"; or NULL */
	enum imap_search_entry_type entry_type;
};

/* RETURN options (RFC 4731, 5182). */
#define IMAP_SEARCH_RETURN_MIN 0x01
#define IMAP_SEARCH_RETURN_MAX 0x02
#define IMAP_SEARCH_RETURN_ALL 0x04
#define IMAP_SEARCH_RETURN_COUNT 0x08
#define IMAP_SEARCH_RETURN_SAVE 0x10

/* Parse flags. */
#define IMAP_SEARCH_ALLOW_RETURN 0x01 /* ESEARCH offered */
#define IMAP_SEARCH_ALLOW_MODSEQ 0x02 /* CONDSTORE offered */
#define IMAP_SEARCH_ALLOW_SAVED 0x04  /* SEARCHRES: "$" as a set */

struct imap_search_limits {
	unsigned int max_nodes;	 /* keys in the tree, groups included */
	unsigned int max_depth;	 /* nesting of groups, OR and NOT */
	unsigned int max_ranges; /* per sequence set */
};

struct imap_search_program {
	bool esearch;		  /* a RETURN clause was given */
	unsigned int return_opts; /* IMAP_SEARCH_RETURN_*; RETURN () = ALL */
	const char *charset;	  /* NULL when not given */
	struct imap_search_node *root; /* AND of the top-level keys */
	unsigned int node_count;
	bool uses_modseq; /* a MODSEQ key (reply with HIGHESTMODSEQ) */
	bool uses_saved;  /* "$" appears */
};

/*
 * Parses args[0..count-1] (what follows "SEARCH") into a new program.
 * Strings are copied; args may be freed after. Returns 0, or -1 with
 * *error_r (static text, suitable after "BAD ") and no program.
 */
int imap_search_parse(const struct imap_arg *args, unsigned int count,
		      const struct imap_search_limits *limits,
		      unsigned int flags, struct imap_search_program **prog_r,
		      const char **error_r);

void imap_search_program_free(struct imap_search_program **progp);

/* The upper-case name of a key ("AND" for groups). */
const char *imap_search_key_name(enum imap_search_key key);

/* Appends a canonical form of the program (tests, debugging). */
struct strbuf;
int imap_search_program_dump(const struct imap_search_program *prog,
			     struct strbuf *sb);

#endif
