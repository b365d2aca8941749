/*
 * address - RFC 5321 paths and mailboxes: "<@route,@route:local@domain>",
 * "<>", dot-atom and quoted local parts, domains and address literals, with
 * SMTPUTF8 (RFC 6531) when the caller allows it. Also the checks relay
 * policy needs (percent hack, bang paths, quoted '@') and the
 * recipient_delimiter split. Pure: no I/O, no logging, no globals; the input
 * is untrusted and bounded by the length the caller passes.
 *
 * Length limits chosen (RFC 5321 4.5.3.1): the domain may have at most 255
 * octets and each label 63. The local part is allowed up to
 * ADDRESS_LOCAL_MAX (255) octets rather than the RFC's 64, because Postfix
 * does not enforce 64 and real senders (SRS, VERP, BATV) exceed it; such
 * addresses carry ADDRESS_FLAG_LONG_LOCAL so policy can refuse them. Local
 * parts with empty atoms ("a..b", "a.") are accepted, as Postfix accepts
 * them, and are quoted again when the address is written back out.
 * The RFC's 256-octet path limit is not enforced on its own: the component
 * limits (route 255, local part 255, domain 255) bound a path, and the
 * session's line_length_limit bounds the command line.
 */
#ifndef ADDRESS_H
#define ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

#define ADDRESS_LOCAL_RFC_MAX 64
#define ADDRESS_LOCAL_MAX 255
#define ADDRESS_DOMAIN_MAX 255
#define ADDRESS_LABEL_MAX 63
#define ADDRESS_ROUTE_MAX 255

/* Flags for parsing. */
#define ADDRESS_PARSE_UTF8 0x01	      /* UTF-8 allowed (SMTPUTF8 in effect) */
#define ADDRESS_PARSE_ALLOW_NULL 0x02 /* "<>" accepted (reverse-path) */
#define ADDRESS_PARSE_ALLOW_NO_DOMAIN 0x04 /* "<user>" accepted */

/* Flags describing a parsed address. */
#define ADDRESS_FLAG_NULL 0x01	      /* "<>" */
#define ADDRESS_FLAG_ROUTE 0x02	      /* had a source route (in route[]) */
#define ADDRESS_FLAG_QUOTED 0x04      /* local part was a quoted-string */
#define ADDRESS_FLAG_LITERAL 0x08     /* domain is an address literal */
#define ADDRESS_FLAG_UTF8 0x10	      /* contains non-ASCII (UTF-8) */
#define ADDRESS_FLAG_LONG_LOCAL 0x20  /* local part over 64 octets */
#define ADDRESS_FLAG_NO_DOMAIN 0x40   /* no "@domain" part */
#define ADDRESS_FLAG_NO_BRACKETS 0x80 /* mailbox given without "<>" */

struct address {
	/* Canonical (unquoted) local part: quotes and backslashes of a
	   quoted-string removed. Only printable ASCII, or UTF-8 if allowed. */
	char local[ADDRESS_LOCAL_MAX + 1];
	size_t local_len;
	/* Domain as given (case kept); an address literal keeps its
	   brackets: "[192.0.2.1]", "[IPv6:2001:db8::1]". "" if none. */
	char domain[ADDRESS_DOMAIN_MAX + 1];
	size_t domain_len;
	/* Source route without the final ':' ("@a,@b"), "" if none. */
	char route[ADDRESS_ROUTE_MAX + 1];
	unsigned int flags;
};

/*
 * Parses a path: "<" [route ":"] mailbox ">", or "<>" with
 * ADDRESS_PARSE_ALLOW_NULL. len must cover exactly the path. Returns 0 and
 * fills *addr_r, or -1 with *error_r set to a static description.
 */
int address_parse_path(const char *s, size_t len, unsigned int flags,
		       struct address *addr_r, const char **error_r);

/*
 * Parses a bare mailbox "local@domain" (no brackets, no route), as found in
 * an ORCPT value or a config file. Same flags, result and errors as
 * address_parse_path(); ADDRESS_PARSE_ALLOW_NULL allows "" here.
 */
int address_parse_mailbox(const char *s, size_t len, unsigned int flags,
			  struct address *addr_r, const char **error_r);

/*
 * Returns true if s (len bytes) is a syntactically valid domain: labels of
 * letters, digits, '-' and '_' (not at a label's ends), at most 63 octets
 * each and 255 in total; UTF-8 labels only with utf8. An address literal is
 * not a domain here.
 */
bool address_valid_domain(const char *s, size_t len, bool utf8);

/*
 * Returns true if s (len bytes) is a valid address literal: "[a.b.c.d]" or
 * "[IPv6:...]".
 */
bool address_valid_literal(const char *s, size_t len);

/* Returns true if len bytes at s are valid UTF-8 (no overlong forms, no
   surrogates, nothing above U+10FFFF). */
bool address_valid_utf8(const char *s, size_t len);

/*
 * Returns true if the local part carries routing characters that a relay
 * must not honour for untrusted clients: '%' (percent hack
 * "user%other@ourdomain"), '!' (bang path "host!user@ourdomain") or '@'
 * (only possible in a quoted local part: "\"a@b\"@ourdomain").
 */
bool address_has_routing_chars(const struct address *addr);

/*
 * Splits the local part at the first character that occurs in delimiters
 * (Postfix's recipient_delimiter, e.g. "+" or "+-"). Returns true and sets
 * *user_len_r (bytes of local[] before the delimiter) and *detail_r (points
 * into local[], after the delimiter, NUL-terminated) when there is a
 * split. Returns false (no split) when delimiters is empty, the local part
 * starts with a delimiter or has none, or the local part is "postmaster" or
 * "MAILER-DAEMON" (any case), as Postfix does.
 */
bool address_split_detail(const struct address *addr, const char *delimiters,
			  size_t *user_len_r, const char **detail_r);

/*
 * Appends the local part to out, quoted as an RFC 5321 quoted-string when it
 * is not a valid dot-string (any byte outside atext and '.', empty atoms,
 * empty local part); '"' and '\\' are then backslash-escaped. Returns 0, or
 * -1 if out's maximum would be exceeded.
 */
int address_quote_local(const char *local, size_t len, struct strbuf *out);

/*
 * Appends "local@domain" (local part quoted as needed; just the local part
 * when there is no domain; "" for the null address) to out. The route is
 * not written. Returns 0, or -1 if out's maximum would be exceeded.
 */
int address_format(const struct address *addr, struct strbuf *out);

#endif
