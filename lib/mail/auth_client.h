/*
 * auth_client - the client side of Dovecot's auth protocol for our own
 * daemons (smtpd, imapd, pop3d, lmtpd), asynchronous on the event loop.
 * One struct auth_client is one connection to the auth client socket,
 * shared by many SASL exchanges (ids multiplex them); it connects on first
 * use and again after the server went away. Userdb lookups open one short
 * connection to the userdb socket each, as Dovecot's lmtp does.
 *
 * Replies come from the auth daemon (trusted, but still parsed with
 * limits: AUTH_PROTO_MAX_LINE). Callbacks run on the loop thread; a
 * callback may start new requests but must not free the auth_client.
 */
#ifndef AUTH_CLIENT_H
#define AUTH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct event_loop;
struct auth_client;
struct auth_client_request;

enum auth_client_status {
	AUTH_CLIENT_OK,	      /* authenticated (reply->user) */
	AUTH_CLIENT_FAIL,     /* refused (reply->reason may say why) */
	AUTH_CLIENT_TEMPFAIL, /* server trouble: the client may retry later */
	AUTH_CLIENT_CONTINUE, /* reply->challenge (base64) needs an answer */
};

struct auth_client_reply {
	enum auth_client_status status;
	const char *user;      /* OK, and FAIL when the server names one */
	const char *reason;    /* FAIL/TEMPFAIL: text for the client, or NULL */
	const char *challenge; /* CONTINUE: base64 */
	/* OK: the mechanism's final server message (base64, e.g. SCRAM's
	 * server signature) the protocol must still send, or NULL. */
	const char *final_response;
};

/* Called once per server reply; after OK, FAIL or TEMPFAIL the request is
 * gone. reply's strings are valid during the call only. */
typedef void auth_client_cb(const struct auth_client_reply *reply, void *ctx);

struct auth_client_info {
	const char *mech;		  /* "PLAIN", "LOGIN", ... */
	const char *service;		  /* "smtp", "imap", "pop3" */
	const char *local_ip, *remote_ip; /* may be NULL */
	bool secured; /* TLS (or otherwise trusted) connection */
	const char *initial_response; /* base64, or NULL */
};

/* A client for the socket at path (not yet connected). */
struct auth_client *auth_client_new(struct event_loop *loop, const char *path);
/* Disconnects; pending requests end without their callback. */
void auth_client_free(struct auth_client **clientp);

/* Starts an exchange. On connection trouble the callback gets TEMPFAIL
 * (possibly from the loop, never from inside this call). */
struct auth_client_request *
auth_client_begin(struct auth_client *client,
		  const struct auth_client_info *info, auth_client_cb *cb,
		  void *ctx);
/* Answers a CONTINUE with base64 data. */
void auth_client_continue(struct auth_client_request *req,
			  const char *response);
/* Cancels a request (CANCEL is sent); its callback is not called. */
void auth_client_abort(struct auth_client_request **reqp);

/* PLAIN in one step: info->mech and info->initial_response are ignored.
 * user and password are bounded (AUTH_CLIENT_CRED_MAX bytes). */
#define AUTH_CLIENT_CRED_MAX 1024
struct auth_client_request *
auth_client_plain(struct auth_client *client,
		  const struct auth_client_info *info, const char *user,
		  const char *password, auth_client_cb *cb, void *ctx);

/* Userdb lookup on the socket at path: cb gets OK with the user and its
 * fields ("name=value"), FAIL when the user is unknown, TEMPFAIL on
 * trouble. The lookup gives up after timeout_ms. */
typedef void auth_userdb_cb(enum auth_client_status status, const char *user,
			    char *const *fields, size_t n_fields, void *ctx);
void auth_client_userdb_lookup(struct event_loop *loop, const char *path,
			       const char *user, const char *service,
			       unsigned int timeout_ms, auth_userdb_cb *cb,
			       void *ctx);

#endif
