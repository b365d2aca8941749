/*
 * smtp_data - the DATA phase byte by byte: dot-unstuffing and end-of-data
 * detection with the SMTP smuggling defence. Only <CR><LF>.<CR><LF> ends
 * the message (the DATA command's own CRLF counts as the first <CR><LF>);
 * a bare <LF> or a bare <CR> anywhere in the message is an error, as with
 * Postfix 3.9's "smtpd_forbid_bare_newline = reject", so no variant
 * (<LF>.<LF>, <CR><LF>.<LF>, <LF>.<CR><LF>, <CR>.<CR>, ...) can end one
 * message here and start another in a server behind us. Lines may be of
 * any length; the caller bounds the total (message_size_limit).
 * Pure: no I/O, no logging, no globals. Input is untrusted.
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <stddef.h>

enum smtp_data_status {
	SMTP_DATA_MORE = 0, /* all input consumed; the message goes on */
	SMTP_DATA_END,	    /* <CR><LF>.<CR><LF> seen */
	SMTP_DATA_BARE_LF,  /* a <LF> not preceded by <CR> */
	SMTP_DATA_BARE_CR,  /* a <CR> not followed by <LF> */
};

struct smtp_data {
	unsigned int state; /* private */
};

/* Starts a message: the parser is at the start of a line. */
void smtp_data_init(struct smtp_data *data);

/*
 * Feeds in_len bytes. Message bytes (dot-unstuffed, lines ended by CRLF,
 * without the final ".<CR><LF>") are written to out, which must have room
 * for in_len + 1 bytes (a <CR> held back from the previous call is written
 * with its <LF>); *out_len_r gets their number. *consumed_r gets the bytes
 * of input used: all of them for SMTP_DATA_MORE, up to and including the
 * final <LF> for SMTP_DATA_END (what follows is the next command), up to
 * and including the offending byte for the errors. After END or an error
 * the parser must be initialised again.
 */
enum smtp_data_status smtp_data_parse(struct smtp_data *data, const char *in,
				      size_t in_len, char *out,
				      size_t *out_len_r, size_t *consumed_r);

#endif
