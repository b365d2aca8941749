/*
 * smtp_server - the SMTP/LMTP server engine shared by smtpd and lmtpd: one
 * explicit state machine per session over a struct stream, a command table
 * with flags, Postfix-worded replies, PIPELINING (replies in command
 * order, also when the daemon decides later), DATA with strict
 * end-of-data detection (smtp_data.h), BDAT with exact chunk lengths,
 * STARTTLS and the protocol limits. The daemon decides MAIL, RCPT and the
 * end of a message through callbacks that may answer at once or later
 * (after a map lookup or an fsync in a worker thread).
 *
 * The client is untrusted: every line is bounded (line_length_limit),
 * the message by message_size_limit, recipients by recipient_limit,
 * errors by hard_error_limit, idle time by timeout. The engine never
 * holds a whole message in memory; it hands it over in pieces.
 *
 * Lifetime: the engine owns the stream. A callback that answers later
 * must always answer (smtp_session_reply() or smtp_session_data_reply());
 * a session whose client went away meanwhile is freed only after that,
 * so the daemon's pending work may keep its session pointer. The
 * disconnect callback runs exactly once, just before the session is freed.
 */
#ifndef SMTP_SERVER_H
#define SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "mail/smtp_parse.h"

struct event_loop;
struct smtp_session;

enum smtp_server_tls {
	SMTP_SERVER_TLS_NONE = 0, /* STARTTLS not offered */
	SMTP_SERVER_TLS_MAY,	  /* offered */
	SMTP_SERVER_TLS_ENCRYPT,  /* required before MAIL */
};

struct smtp_server_settings {
	const char *hostname; /* myhostname: EHLO reply, 421 texts */
	const char *banner;   /* text after "220 " */
	bool lmtp;	      /* LHLO instead of HELO/EHLO; RFC 2033 replies */
	size_t line_length_limit;
	uint64_t message_size_limit; /* 0: none */
	unsigned int recipient_limit;
	unsigned int timeout_secs;
	unsigned int hard_error_limit;
	enum smtp_server_tls tls;
	SSL_CTX *tls_ctx; /* needed unless tls is NONE */
	bool enable_chunking;
	bool enable_smtputf8;
	bool enable_dsn;
	/* issue 5: submission. auth_mechanisms: the SASL mechanisms EHLO
	 * offers ("PLAIN LOGIN"), NULL: no AUTH. auth_tls_only: no AUTH
	 * before TLS (530, not advertised; also implied by tls ENCRYPT).
	 * auth_broken_clients: also "AUTH=PLAIN LOGIN" (Postfix's
	 * broken_sasl_auth_clients). wrappermode: TLS from the first byte
	 * (port 465); the banner comes after the handshake. */
	const char *auth_mechanisms;
	bool auth_tls_only;
	bool auth_broken_clients;
	bool wrappermode;
};

struct smtp_server_callbacks {
	/* A client sent HELO/EHLO/LHLO with a valid argument. May be NULL. */
	void (*helo)(struct smtp_session *s, const char *name, void *ctx);
	/* MAIL (syntax, order and SIZE already checked); cmd and what it
	 * points to are valid only during the call. Must lead to one
	 * smtp_session_reply(); a 2xx reply starts the transaction. */
	void (*mail)(struct smtp_session *s, const struct smtp_command *cmd,
		     void *ctx);
	/* RCPT (syntax, order and recipient_limit checked). Must lead to one
	 * smtp_session_reply(); a 2xx reply accepts the recipient. */
	void (*rcpt)(struct smtp_session *s, const struct smtp_command *cmd,
		     void *ctx);
	/* The message starts (DATA, or the first BDAT). Returns 0, or -1 and
	 * *reply_r (a whole reply line without CRLF, e.g. "451 4.3.0 Error:
	 * queue file write error") which ends the transaction. */
	int (*data_start)(struct smtp_session *s, const char **reply_r,
			  void *ctx);
	/* Message bytes in order (DATA: unstuffed, CRLF lines; BDAT: as
	 * sent). Returns 0, or -1 on a write error: no more bytes are handed
	 * over, and data_end gets ok = false. */
	int (*data_chunk)(struct smtp_session *s, const char *data, size_t len,
			  void *ctx);
	/* The message is complete (ok) or was cut short (a write error: ok
	 * false, the daemon answers 451). Must lead to one
	 * smtp_session_data_reply() (SMTP) or one per accepted recipient in
	 * their order (LMTP). */
	void (*data_end)(struct smtp_session *s, bool ok, void *ctx);
	/* The transaction was abandoned (RSET, HELO/EHLO, STARTTLS, size
	 * limit, bare newline, disconnect...) after data_start: drop the
	 * partial message. May be NULL. */
	void (*data_abort)(struct smtp_session *s, void *ctx);
	/* issue 5: AUTH (RFC 4954) with a valid mechanism name (upper-cased)
	 * and the initial response (base64, "" for "=", NULL if none),
	 * valid during the call only. The engine already refused AUTH when
	 * it is not offered, before TLS when TLS is required, during a
	 * transaction and after a successful AUTH. Must lead to
	 * smtp_session_auth_challenge() or smtp_session_auth_done(). May be
	 * NULL when auth_mechanisms is NULL. */
	void (*auth)(struct smtp_session *s, const char *mech,
		     const char *initial, void *ctx);
	/* The client's answer to a 334 (base64 characters only, bounded by
	 * the line limit; may be ""). Same contract as auth. */
	void (*auth_response)(struct smtp_session *s, const char *response,
			      void *ctx);
	/* The exchange ended without smtp_session_auth_done(): the client
	 * sent "*" or bad base64, or went away while the engine waited for
	 * its answer to a 334. The daemon drops its SASL request. */
	void (*auth_abort)(struct smtp_session *s, void *ctx);
	/* The session ends (always called once). */
	void (*disconnect)(struct smtp_session *s, void *ctx);
};

/* Starts a session on a connected non-blocking fd (the session owns it)
 * and sends the banner. settings and callbacks must outlive the session
 * (strings are not copied). */
struct smtp_session *
smtp_session_new(struct event_loop *loop, int fd,
		 const struct smtp_server_settings *settings,
		 const struct smtp_server_callbacks *callbacks, void *ctx);

/* The client as log lines name it ("name[addr]"; copied, truncated at
 * 300 bytes). The engine logs "lost connection after RCPT from NAME",
 * "timeout after DATA from NAME", "too many errors after ... from NAME". */
void smtp_session_set_log_name(struct smtp_session *s, const char *name);

/* Answers the pending MAIL or RCPT: a whole reply without CRLF ("250 2.1.0
 * Ok"); may hold several lines separated by '\n' ("NNN-" is added). */
void smtp_session_reply(struct smtp_session *s, const char *reply);
/* issue 5: answers AUTH or a response with a challenge (base64, may be
 * ""): the engine sends "334 challenge" and hands the next line to
 * auth_response. */
void smtp_session_auth_challenge(struct smtp_session *s, const char *challenge);
/* Ends the exchange with reply ("235 2.7.0 Authentication successful",
 * "535 5.7.8 ..."); user non-NULL marks the session authenticated as
 * user (copied; forgotten after STARTTLS, RFC 3207 4.2). */
void smtp_session_auth_done(struct smtp_session *s, const char *reply,
			    const char *user);
/* The SASL login of the session, or NULL. */
const char *smtp_session_auth_user(const struct smtp_session *s);
/* Answers the end of the message (see data_end). */
void smtp_session_data_reply(struct smtp_session *s, const char *reply);

/* The session's state for the daemon's policy and logs. */
void *smtp_session_context(const struct smtp_session *s);
void smtp_session_set_context(struct smtp_session *s, void *ctx);
const char *smtp_session_helo(const struct smtp_session *s); /* "" if none */
/* "SMTP", "ESMTP", "ESMTPS", "LMTP", "LMTPS" (Postfix's proto= values). */
const char *smtp_session_protocol(const struct smtp_session *s);
bool smtp_session_is_tls(const struct smtp_session *s);
/* "TLSv1.3 with cipher ... (256/256 bits)" or NULL. */
const char *smtp_session_tls_description(struct smtp_session *s);
/* Recipients accepted so far in the transaction. */
unsigned int smtp_session_rcpt_count(const struct smtp_session *s);
/* Bytes of the message handed to data_chunk so far. */
uint64_t smtp_session_message_size(const struct smtp_session *s);
/* Appends Postfix's disconnect statistics ("ehlo=1 mail=1 rcpt=0/1
 * quit=1 commands=3") to out (bounded by out's maximum). */
struct strbuf;
void smtp_session_stats(const struct smtp_session *s, struct strbuf *out);

#endif
