/*
 * imap_parse - incremental IMAP command parser (RFC 3501, RFC 9051, RFC 7888
 * LITERAL+/LITERAL-, RFC 3516 literal8). The I/O layer feeds it one line at
 * a time (CRLF removed) and, when a line ends in a literal announcement,
 * the literal's bytes; the parser builds the tag, the command name and the
 * arguments as a typed tree (atoms, quoted strings, literals, NIL, lists).
 * Pure: no I/O, no logging, no globals. Every input byte is untrusted and
 * every size is bounded by struct imap_parse_limits; a literal over the
 * limit is refused from its announcement, before anything is allocated.
 *
 * Typical use:
 *
 *	r = imap_parser_feed_line(p, line, len);
 *	IMAP_PARSE_LITERAL: lit = imap_parser_literal(p); if lit->sync send
 *		"+ OK"; read lit->size bytes and pass them to
 *		imap_parser_feed_literal() (or, when lit->must_stream or the
 *		command wants it, consume them yourself after calling
 *		imap_parser_literal_streamed()); then feed the next line.
 *	IMAP_PARSE_DONE: imap_parser_command(p) is the command.
 *	IMAP_PARSE_ERROR: answer "<tag> BAD <text>" (or "* BYE <text>" and
 *		close when error->fatal) with imap_parser_error(p).
 *	Then imap_parser_reset(p) before the next command.
 *
 * Leniency, as Dovecot: several spaces between arguments and trailing
 * spaces are accepted, and tokens may follow ")" or a quoted string
 * without a space. An atom holding "[" extends to the matching "]", spaces
 * and parentheses included, so "BODY[HEADER.FIELDS (FROM TO)]<0.10>" is
 * one atom (the FETCH parser reads the section from it). Atoms may hold
 * "\", "%", "*" and "]" (flags, LIST patterns, sequence sets). Sequence
 * sets arrive as atoms: see imap_arg_get_seqset().
 *
 * Memory per command stays within about max_command bytes of strings plus
 * max_args argument structs: every copy is exact-sized, and a literal's
 * buffer is allocated only when its first bytes are fed.
 */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct imap_parse_limits.flags */
#define IMAP_PARSE_LITERAL_PLUS 0x01  /* {N+} allowed, any size (RFC 7888) */
#define IMAP_PARSE_LITERAL_MINUS 0x02 /* {N+} allowed up to 4096 bytes */
#define IMAP_PARSE_LITERAL8 0x04      /* ~{N} allowed (BINARY, RFC 3516) */

#define IMAP_LITERAL_MINUS_MAX 4096
#define IMAP_PARSE_ERROR_MAX 200
#define IMAP_PARSE_NAME_MAX 32
#define IMAP_PARSE_TAG_MAX 64

struct imap_parse_limits {
	size_t max_line;	     /* one line, without CRLF */
	uint64_t max_literal;	     /* one literal kept in memory */
	uint64_t max_stream_literal; /* one literal the caller streams
					(APPEND); 0 = none */
	size_t max_command;	     /* lines + in-memory literals */
	unsigned int max_depth;	     /* nested lists */
	unsigned int max_args;	     /* arguments, lists and their elements */
	unsigned int flags;	     /* IMAP_PARSE_* */
};

enum imap_arg_type {
	IMAP_ARG_NIL = 0,
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,	 /* contents in str/len */
	IMAP_ARG_LITERAL_STREAM, /* consumed by the caller; only size */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8; /* LITERAL/LITERAL_STREAM announced as ~{N} */
	/* ATOM, QUOTED (unescaped), LITERAL: a NUL-terminated copy owned by
	   the parser; a literal or quoted string may hold NUL bytes (len
	   counts them; see imap_arg_get_astring()). */
	char *str;
	size_t len;
	uint64_t literal_size; /* LITERAL, LITERAL_STREAM */
	struct imap_arg *list; /* LIST: count elements */
	unsigned int count;
	unsigned int alloc;
};

struct imap_command {
	const char *tag;
	const char *name; /* upper-cased; e.g. "UID" (the sub-command is
			     args[0]) */
	struct imap_arg *args;
	unsigned int count;
};

struct imap_literal_info {
	uint64_t size;
	bool sync;	  /* the client waits for "+ OK" */
	bool binary;	  /* ~{N} */
	bool must_stream; /* over max_literal: only streaming is allowed */
};

struct imap_parse_error {
	/* Suggested reply text after "<tag> BAD " (or "* BYE " when fatal),
	   printable ASCII; e.g. "[TOOBIG] Literal size too large". */
	char text[IMAP_PARSE_ERROR_MAX + 1];
	/* The client will send bytes we can no longer frame (a refused
	   non-synchronising literal): send BYE and close. */
	bool fatal;
	bool toobig; /* a literal, line or command over its limit */
};

enum imap_parse_result {
	IMAP_PARSE_DONE = 0,
	IMAP_PARSE_LITERAL,
	IMAP_PARSE_ERROR,
};

struct imap_parser;

/* Creates a parser; limits are copied. */
struct imap_parser *imap_parser_new(const struct imap_parse_limits *limits);
void imap_parser_free(struct imap_parser **pp);
/* Forgets the current command (and frees its tree); keeps the limits. */
void imap_parser_reset(struct imap_parser *p);
/* Changes the IMAP_PARSE_* flags (e.g. after ENABLE or STARTTLS). */
void imap_parser_set_flags(struct imap_parser *p, unsigned int flags);

/*
 * Feeds one line (CRLF removed; len bytes, may hold anything). The first
 * line of a command starts with the tag; a line after a literal continues
 * the command. Returns DONE, LITERAL (the line ended in a literal
 * announcement, see imap_parser_literal()) or ERROR. After DONE or ERROR
 * only imap_parser_reset() is accepted.
 */
enum imap_parse_result imap_parser_feed_line(struct imap_parser *p,
					     const char *line, size_t len);

/* After LITERAL: the announced literal. */
const struct imap_literal_info *
imap_parser_literal(const struct imap_parser *p);

/*
 * After LITERAL: literal bytes, in as many pieces as convenient. Returns
 * 1 when the literal is complete (feed the next line), 0 when more bytes
 * are wanted (*used_r says how many of len were taken; never more than
 * the literal needs), -1 if no in-memory literal is expected.
 */
int imap_parser_feed_literal(struct imap_parser *p, const char *data,
			     size_t len, size_t *used_r);

/* After LITERAL: the caller consumes the literal's bytes itself; the
   argument becomes IMAP_ARG_LITERAL_STREAM. Then feed the next line.
   -1 if no literal is expected or it exceeds max_stream_literal. */
int imap_parser_literal_streamed(struct imap_parser *p);

/* After DONE: the command (owned by the parser until reset). */
const struct imap_command *imap_parser_command(const struct imap_parser *p);

/* After ERROR: the error. */
const struct imap_parse_error *imap_parser_error(const struct imap_parser *p);

/* The tag for a reply: the command's tag once parsed, else "*". */
const char *imap_parser_tag(const struct imap_parser *p);

/* The upper-cased command name once parsed, else "". */
const char *imap_parser_name(const struct imap_parser *p);

/* Argument helpers. Each returns true and sets *str_r when arg has the
   type: an astring is an atom, quoted string or literal without NUL
   bytes; an nstring adds NIL (*str_r = NULL); an atom only ATOM. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r);
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r);
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* True when arg is an atom equal to name (ASCII case-insensitive). */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *name);

/* A sequence set argument (an atom such as "1:*,5" or "$"): parses it
   with imap_seqset_parse() into *set_r (release it even on error).
   Returns 0, or -1 with *error_r (static text). */
struct imap_seqset;
int imap_arg_get_seqset(const struct imap_arg *arg, unsigned int max_ranges,
			bool allow_saved, struct imap_seqset *set_r,
			const char **error_r);

/* Appends a canonical one-line form of args (tests, debugging): ATOM as
   is, strings quoted with \xHH for unprintable bytes, literals as
   {N}"...", lists in parentheses. Returns -1 if sb is full. */
struct strbuf;
int imap_args_dump(struct strbuf *sb, const struct imap_arg *args,
		   unsigned int count);

#endif
