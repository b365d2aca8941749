/*
 * login - the pre-auth half shared by imap-login and pop3-login: a
 * listener that holds no rights to any mail (it runs as mail_owner, which
 * owns no Maildir) and talks to unauthenticated clients: implicit TLS or
 * STARTTLS/STLS, the protocol's greeting and pre-auth commands, SASL
 * through the auth daemon (mail/auth_client.h), and at success the
 * handoff of the connection to the session service (mail/login_handoff.h)
 * over $queue_directory/private/<login_session_service>. A plaintext
 * client's fd is passed as is; a TLS client's TLS stays here and the
 * session gets one end of a socketpair, the other end proxied by this
 * process until either side closes (as Dovecot's login processes do).
 *
 * Parameters (Dovecot's names where Dovecot has one):
 *   ssl = yes|no|required   STARTTLS offered / plaintext auth needs TLS
 *   ssl_cert, ssl_key        "<path" (Dovecot's form) or a path
 *   login_tls_wrappermode    implicit TLS (ours, as smtpd_tls_wrappermode);
 *                            also on for services named imaps, pop3s or
 *                            with port 993, 995
 *   disable_plaintext_auth / auth_allow_cleartext (auth's parameters)
 *   login_max_auth_failures  disconnect after this many (Dovecot: 3)
 *   login_timeout            pre-auth idle timeout
 *   auth_client_path         the auth client socket ($queue_directory/
 *                            private/auth, as smtpd_sasl_path)
 *
 * Log lines follow Dovecot's login process wording, e.g.
 *   Login: user=<u>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8, TLS
 *   Disconnected (auth failed, 1 attempts in 2 secs): user=<u>,
 *     method=PLAIN, rip=..., lip=..., TLS
 * Everything here runs on the event loop thread.
 */
#ifndef LOGIN_H
#define LOGIN_H

#include <stdbool.h>
#include <stddef.h>

struct stream;
struct login_conn;

struct login_conn {
	struct stream *s;
	char rip[64], lip[64];
	unsigned int rport, lport;
	bool tls;	      /* TLS is up (implicit or after STARTTLS) */
	bool secured;	      /* tls or a loopback connection */
	bool wrappermode;     /* this listener is implicit TLS */
	bool starttls_offered; /* ssl != no and not yet TLS */
	unsigned int auth_failures;
	bool auth_busy; /* a SASL exchange is in progress */
	void *proto;	/* the protocol's per-connection state */
};

/* What a protocol provides. */
struct login_proto {
	const char *name;	     /* "imap-login" */
	const char *service;	     /* "imap": auth service, handoff */
	const char *session_service; /* default of login_session_service */
	size_t max_line;	     /* longest input line */
	/* A new connection, after the TLS handshake in wrappermode: set
	 * c->proto, send the greeting. */
	void (*on_connect)(struct login_conn *c);
	/* Input is buffered: read lines with stream_read_line() (or bytes
	 * with stream_read() for literals). Not called while auth_busy. */
	void (*on_input)(struct login_conn *c);
	/* The connection is going away: free c->proto. */
	void (*on_free)(struct login_conn *c);
};

/* The daemon's main(). */
int login_main(int argc, char **argv, const struct login_proto *proto);

/* Whether plaintext authentication (LOGIN, USER/PASS, AUTH PLAIN) is
 * allowed now (secured, or disable_plaintext_auth = no and ssl !=
 * required). */
bool login_plaintext_allowed(const struct login_conn *c);
/* Whether the server has a certificate (STARTTLS can be offered). */
bool login_tls_available(void);

/* Starts TLS after the protocol sent its "go ahead" reply; input already
 * buffered is discarded (CVE-2011-0411). done(c, ok): on failure the
 * connection is already being closed, do nothing. */
void login_starttls(struct login_conn *c,
		    void (*done)(struct login_conn *c, bool ok));

/* SASL through auth. cb gets the result; on OK the protocol calls
 * login_success() (it may still send the final server response), on
 * FAIL it answers the client (login_auth_failed() counts and says
 * whether to disconnect). mech as the client named it (upper-cased);
 * initial: base64 initial response or NULL. */
enum login_auth_result {
	LOGIN_AUTH_OK,
	LOGIN_AUTH_FAIL,
	LOGIN_AUTH_TEMPFAIL,
	LOGIN_AUTH_CONTINUE, /* challenge: send it, then login_auth_continue */
};
typedef void login_auth_cb(struct login_conn *c, enum login_auth_result res,
			   const char *user, const char *data, void *ctx);
/* data: CONTINUE challenge (base64), OK final server message (base64) or
 * NULL, FAIL/TEMPFAIL reason for the client or NULL. */
void login_auth_begin(struct login_conn *c, const char *mech,
		      const char *initial, login_auth_cb *cb, void *ctx);
void login_auth_continue(struct login_conn *c, const char *response);
/* Client cancelled ("*"): the callback is not called. */
void login_auth_abort(struct login_conn *c);
/* USER/PASS, LOGIN: PLAIN in one step. */
void login_auth_plain(struct login_conn *c, const char *user,
		      const char *password, login_auth_cb *cb, void *ctx);
/* After a FAIL: counts it; true when the client has used up
 * login_max_auth_failures and must be disconnected (the protocol sends
 * its goodbye, then calls login_close()). */
bool login_auth_failed(struct login_conn *c, const char *user,
		       const char *mech);
/* The mechanisms to announce (auth_mechanisms, PLAIN/LOGIN left out when
 * plaintext auth is not allowed now), space-separated upper case. */
const char *login_mechanisms(const struct login_conn *c);

/* Authentication succeeded: hand the client to the session service with
 * tag (IMAP: the login command's tag, which the session answers; NULL
 * otherwise) and any input the client sent beyond the login command (left
 * in the stream's buffer). On failure to reach the session service the
 * client gets fail_reply (e.g. "* BYE Internal error") and is closed.
 * After this call c is gone. */
void login_success(struct login_conn *c, const char *user, const char *mech,
		   const char *tag, const char *fail_reply);

/* After the protocol handled an auth result other than OK: go on with
 * input the client sent meanwhile (login_auth_failed() does this too). */
void login_resume_input(struct login_conn *c);

/* Closes and frees the connection (reason for the log: "Disconnected
 * (no auth attempts in 10 secs)" style text, or NULL). Safe in
 * callbacks; c is gone afterwards. */
void login_close(struct login_conn *c, const char *reason);
/* what followed by Dovecot's account of the attempts, for login_close():
 * "what (auth failed, N attempts in S secs)" or "what (no auth attempts
 * in S secs)" (a per-thread buffer, valid until the next call). */
const char *login_disconnect_reason(struct login_conn *c, const char *what);

#endif
