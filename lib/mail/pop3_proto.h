/*
 * pop3_proto - the pure parts of POP3 (RFC 1939, RFC 2449) that pop3d
 * needs: splitting a command line into keyword and arguments with hard
 * limits, message numbers, and the multi-line output of RETR/TOP (bare LF
 * becomes CRLF, lines starting with '.' are dot-stuffed, TOP stops after
 * the header and n body lines, the terminating ".\r\n"). Input lines come
 * from the network and are untrusted; message bytes are untrusted but only
 * copied. No I/O, no logging.
 */
#ifndef POP3_PROTO_H
#define POP3_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

/* Longest command line accepted, without CRLF (RFC 2449 allows 255 with
 * CRLF; SASL responses after AUTH are longer and not parsed here). */
#define POP3_LINE_MAX 510
/* Longest argument (RFC 2449: 40; user names and passwords get more). */
#define POP3_ARG_MAX 255
#define POP3_ARGS_MAX 2

enum pop3_cmd {
	POP3_CMD_UNKNOWN,
	POP3_CMD_USER, POP3_CMD_PASS, POP3_CMD_APOP, POP3_CMD_AUTH,
	POP3_CMD_CAPA, POP3_CMD_STLS, POP3_CMD_QUIT,
	POP3_CMD_STAT, POP3_CMD_LIST, POP3_CMD_RETR, POP3_CMD_DELE,
	POP3_CMD_NOOP, POP3_CMD_RSET, POP3_CMD_TOP, POP3_CMD_UIDL,
};

struct pop3_command {
	enum pop3_cmd cmd;
	char keyword[5];	 /* upper-cased, for logging */
	unsigned int argc;
	/* pointers into the caller's line, NUL-terminated by the parser
	 * (it writes NULs over the separating spaces) */
	char *args[POP3_ARGS_MAX];
};

/* Parses line (len bytes, no CRLF; modified in place: line[len] must be
 * writable, it gets a NUL). -1 with a static
 * *error_r for an empty or over-long line, a NUL or control byte, a
 * keyword that is not 3-4 letters, more than POP3_ARGS_MAX arguments
 * (PASS takes the rest of the line as one argument, spaces included, as
 * Dovecot does), an empty or over-long argument. An unknown keyword is not
 * an error: cmd is POP3_CMD_UNKNOWN. */
int pop3_parse_command(char *line, size_t len, struct pop3_command *cmd_r,
		       const char **error_r);

/* A message number: decimal digits only, 1..UINT32_MAX. */
int pop3_parse_number(const char *arg, uint32_t *n_r);

/* The multi-line body of RETR (body_lines = -1) or TOP n. */
struct pop3_body_writer {
	long long body_lines; /* body lines still to send; -1: all */
	bool line_start;      /* at the start of an output line */
	bool in_body;	      /* past the empty line ending the header */
	bool header_line_empty; /* the current header line is empty so far */
	bool done;	      /* TOP's limit reached: ignore further input */
	bool pending_cr;      /* a CR was seen, its LF may follow */
};

void pop3_body_writer_init(struct pop3_body_writer *w, long long body_lines);
/* Appends the converted form of data to out. -1 when out is full. */
int pop3_body_writer_feed(struct pop3_body_writer *w, const char *data,
			  size_t len, struct strbuf *out);
/* Ends the last line if needed and appends ".\r\n". */
int pop3_body_writer_finish(struct pop3_body_writer *w, struct strbuf *out);

#endif
