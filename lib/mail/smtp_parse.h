/*
 * smtp_parse - turns one SMTP/LMTP command line into a struct smtp_command:
 * the verb, the MAIL/RCPT path and its ESMTP parameters decoded into typed
 * fields, BDAT's chunk size, AUTH's mechanism and initial response, and
 * the argument of HELO/EHLO/LHLO, VRFY, EXPN, HELP and NOOP. On a syntax
 * error it suggests the reply Postfix would give, so the session can answer
 * directly. Pure: no I/O, no logging, no globals. The line is untrusted and
 * bounded by the length the caller passes (the session enforces
 * line_length_limit before calling).
 *
 * Leniency, as Postfix with its defaults (strict_rfc821_envelopes = no):
 * white space after "FROM:"/"TO:" ("MAIL FROM: <a@b>"), several spaces
 * between words, trailing white space, and a mailbox without angle
 * brackets ("MAIL FROM:a@b", flagged ADDRESS_FLAG_NO_BRACKETS) are
 * accepted; SMTP_PARSE_STRICT refuses all of them. Verbs are case
 * insensitive. Domain-less paths ("RCPT TO:<postmaster>", "MAIL
 * FROM:<user>") are accepted and flagged ADDRESS_FLAG_NO_DOMAIN; policy
 * (reject_non_fqdn_*) decides. Source routes are accepted, flagged and
 * kept apart from the mailbox, so policy may refuse or ignore them.
 * Unlike Postfix, ESMTP values may hold a literal '=' (xtext decoding is
 * lenient the same way Postfix's is).
 *
 * Suggested replies use Postfix's wording: an unknown verb is "502 5.5.2
 * Error: command not recognized" (Postfix uses 502, not 500), an empty line
 * or one holding NUL, CR or LF is "500 5.5.2 Error: bad syntax", a
 * non-ASCII address without SMTPUTF8 is "553 5.6.7 Must declare SMTPUTF8
 * to send unicode address", an ESMTP parameter that is unknown, not offered
 * or on the wrong command is "555 5.5.4 Unsupported option: ...".
 */
#ifndef SMTP_PARSE_H
#define SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/address.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_LHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

/* Flags: the extensions the session offers, plus parsing options. A
   parameter of an extension not offered is "555 5.5.4 Unsupported option". */
#define SMTP_PARSE_EXT_SIZE 0x0001
#define SMTP_PARSE_EXT_8BITMIME 0x0002
#define SMTP_PARSE_EXT_BINARYMIME 0x0004
#define SMTP_PARSE_EXT_SMTPUTF8 0x0008
#define SMTP_PARSE_EXT_DSN 0x0010
#define SMTP_PARSE_EXT_AUTH 0x0020
#define SMTP_PARSE_EXT_ALL 0x003f
/* RCPT: the transaction's MAIL carried SMTPUTF8, so UTF-8 is allowed. */
#define SMTP_PARSE_UTF8_TRANSACTION 0x0100
/* strict_rfc821_envelopes = yes. */
#define SMTP_PARSE_STRICT 0x0200

/* Parameters seen (bits of struct smtp_params.present). */
#define SMTP_PARAM_SIZE 0x0001
#define SMTP_PARAM_BODY 0x0002
#define SMTP_PARAM_SMTPUTF8 0x0004
#define SMTP_PARAM_RET 0x0008
#define SMTP_PARAM_ENVID 0x0010
#define SMTP_PARAM_AUTH 0x0020
#define SMTP_PARAM_NOTIFY 0x0040
#define SMTP_PARAM_ORCPT 0x0080

enum smtp_body {
	SMTP_BODY_NONE = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME
};
enum smtp_ret { SMTP_RET_NONE = 0, SMTP_RET_FULL, SMTP_RET_HDRS };

#define SMTP_NOTIFY_NEVER 0x01
#define SMTP_NOTIFY_SUCCESS 0x02
#define SMTP_NOTIFY_FAILURE 0x04
#define SMTP_NOTIFY_DELAY 0x08

#define SMTP_ENVID_MAX 100	 /* RFC 3461 4.4 */
#define SMTP_XTEXT_VALUE_MAX 500 /* ORCPT and AUTH= (RFC 3461 4.2) */
#define SMTP_ORCPT_TYPE_MAX 32
#define SMTP_BDAT_DIGITS_MAX 20
#define SMTP_ERROR_TEXT_MAX 160

struct smtp_params {
	unsigned int present; /* SMTP_PARAM_* */
	uint64_t size;
	enum smtp_body body;
	enum smtp_ret ret;
	unsigned int notify;			   /* SMTP_NOTIFY_* */
	char envid[SMTP_ENVID_MAX + 1];		   /* xtext-decoded */
	char auth[SMTP_XTEXT_VALUE_MAX + 1];	   /* decoded; "<>" kept */
	char orcpt_type[SMTP_ORCPT_TYPE_MAX + 1];  /* e.g. "rfc822" */
	char orcpt_addr[SMTP_XTEXT_VALUE_MAX + 1]; /* xtext-decoded */
};

struct smtp_parse_error {
	unsigned int code;    /* 500, 501, 502, 504, 552, 555 */
	const char *enhanced; /* "5.5.4", or "" (HELO/EHLO, as Postfix) */
	char text[SMTP_ERROR_TEXT_MAX + 1];
};

struct smtp_command {
	enum smtp_verb verb;
	/* Argument of HELO/EHLO/LHLO, VRFY, EXPN, HELP, NOOP; the AUTH
	   mechanism. Points into the caller's line (not NUL-terminated);
	   NULL with arg_len 0 when absent. */
	const char *arg;
	size_t arg_len;
	/* HELO/EHLO/LHLO: arg is a valid domain or address literal. */
	bool helo_valid;
	/* AUTH initial response (base64 or "="), in the caller's line. */
	const char *auth_initial;
	size_t auth_initial_len;
	/* BDAT. */
	uint64_t bdat_size;
	bool bdat_last;
	/* MAIL and RCPT. */
	struct address path;
	struct smtp_params params;
	/* Filled when smtp_parse_command() returns -1. */
	struct smtp_parse_error error;
};

/*
 * Parses the command line at line (len bytes, CRLF already removed) into
 * *cmd_r. flags is a mask of SMTP_PARSE_*. Returns 0, or -1 with
 * cmd_r->error holding the suggested reply (cmd_r->verb is still set when
 * the verb was recognised). A NUL, CR or LF inside the line is an error.
 * Pointers in *cmd_r point into line, which must outlive their use.
 */
int smtp_parse_command(const char *line, size_t len, unsigned int flags,
		       struct smtp_command *cmd_r);

/* Returns the upper-case name of a verb ("UNKNOWN" for SMTP_VERB_UNKNOWN). */
const char *smtp_verb_name(enum smtp_verb verb);

/*
 * Parses an exact decimal: 1 to max_digits digits, nothing else. Returns 0
 * and *value_r, 1 if the digits are valid but the value does not fit
 * uint64_t (or has more than max_digits digits), -1 on a syntax error.
 */
int smtp_parse_decimal(const char *s, size_t len, size_t max_digits,
		       uint64_t *value_r);

#endif
