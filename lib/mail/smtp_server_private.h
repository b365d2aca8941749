/*
 * smtp_server_private - the session structure shared by smtp_server.c (I/O,
 * replies, DATA and BDAT input, lifetime) and smtp_server_cmd.c (the
 * command table and the command handlers). Not for daemons.
 */
#ifndef SMTP_SERVER_PRIVATE_H
#define SMTP_SERVER_PRIVATE_H

#include "mail/smtp_data.h"
#include "mail/smtp_server.h"
#include "util/strbuf.h"

#define SMTP_VERB_COUNT (SMTP_VERB_AUTH + 1)
/* Bytes of input handed to smtp_data_parse() at a time. */
#define SMTP_DATA_PIECE 16384

enum smtp_state {
	SMTP_STATE_COMMAND,   /* reading command lines */
	SMTP_STATE_WAIT,      /* the daemon decides MAIL or RCPT */
	SMTP_STATE_DATA,      /* reading DATA bytes up to CRLF.CRLF */
	SMTP_STATE_BDAT,      /* reading a BDAT chunk */
	SMTP_STATE_WAIT_DATA, /* the daemon decides the message */
	SMTP_STATE_TLS,	      /* STARTTLS handshake */
	SMTP_STATE_AUTH,      /* reading the answer to a 334 */
	SMTP_STATE_CLOSING,   /* final reply queued; freed when drained */
};

struct smtp_session {
	struct stream *stream;
	const struct smtp_server_settings *set;
	const struct smtp_server_callbacks *cb;
	void *ctx;
	enum smtp_state state;
	struct event_timer *close_timer;
	unsigned int depth; /* nested entry points (free only at 0) */
	bool waiting;	    /* a callback's answer is pending */
	bool gone;	    /* closed while waiting */

	char helo[256];
	bool helo_done, esmtp;
	/* Transaction. */
	bool in_mail, utf8, data_started, data_failed, too_big, bdat;
	unsigned int rcpt_accepted, rcpt_tried;
	unsigned int lmtp_replies_left;
	uint64_t msg_size;
	enum smtp_verb pending_verb;
	/* DATA / BDAT input. */
	struct smtp_data data;
	char *data_out;
	uint64_t bdat_left;
	bool bdat_last, bdat_discard;
	const char *bdat_error; /* reply for a discarded chunk */

	/* issue 5: SASL. in_auth: from AUTH to smtp_session_auth_done(). */
	bool in_auth;
	char *auth_user;	/* after a successful AUTH */
	bool wrapper_handshake; /* wrappermode: banner after TLS */

	char log_name[320];	  /* "name[addr]" for log lines */
	enum smtp_verb last_verb; /* for "... after RCPT from ..." */
	bool any_command;

	unsigned int errors;
	unsigned int counts[SMTP_VERB_COUNT][2]; /* [verb][0 ok, 1 total] */
	struct strbuf out;			 /* reply formatting */
};

/* smtp_server.c */
void smtp_session_send(struct smtp_session *s, const char *reply);
/* Sends reply (may be NULL) and ends the session once it is written. */
void smtp_session_close(struct smtp_session *s, const char *reply);
void smtp_session_count(struct smtp_session *s, enum smtp_verb verb, bool ok);
void smtp_session_reset_transaction(struct smtp_session *s);
void smtp_session_start_data(struct smtp_session *s);
void smtp_session_start_bdat(struct smtp_session *s, uint64_t size, bool last,
			     const char *error);
void smtp_session_start_tls(struct smtp_session *s);
/* Text of a 421 reply with the host name ("421 4.4.2 host Error: ..."). */
const char *smtp_session_421(struct smtp_session *s, const char *enhanced,
			     const char *text);

/* Where the session is, for log lines: "CONNECT", "RCPT", "DATA"... */
const char *smtp_session_where(const struct smtp_session *s);

/* Entry points nest; a closing session is freed at the outermost leave. */
void smtp_session_enter(struct smtp_session *s);
void smtp_session_leave(struct smtp_session *s);
/* Back to reading commands after a pending answer. */
void smtp_session_resume(struct smtp_session *s);
/* Reads and dispatches buffered input. */
void smtp_session_input(struct smtp_session *s);
/* Hands a line read in SMTP_STATE_AUTH to the daemon (smtp_server_cmd.c). */
void smtp_session_auth_line(struct smtp_session *s, const char *line,
			    size_t len);

/* smtp_server_auth.c (issue 5) */
/* AUTH is offered now: enabled, and TLS active if it must be. */
bool smtp_session_auth_offered(const struct smtp_session *s);
/* True if AUTH must wait for TLS. */
bool smtp_session_auth_tls_missing(const struct smtp_session *s);
void smtp_cmd_auth(struct smtp_session *s, const struct smtp_command *cmd);

/* smtp_server_cmd.c */
/* Sends a reply to a command and counts it (2xx/3xx: ok). */
void smtp_cmd_reply(struct smtp_session *s, enum smtp_verb verb,
		    const char *reply);
/* False (and 503 sent) before HELO/EHLO. */
bool smtp_cmd_need_helo(struct smtp_session *s, enum smtp_verb verb);
/* Waits for the daemon's answer to verb (input paused). */
void smtp_cmd_wait(struct smtp_session *s, enum smtp_verb verb);
void smtp_session_command(struct smtp_session *s, const char *line, size_t len);

#endif
