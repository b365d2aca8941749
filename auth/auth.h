/*
 * auth - internal interfaces of the auth daemon: settings, mechanisms,
 * requests, passdb/userdb lookups and the two connection kinds (the client
 * socket that smtpd/imapd/Postfix use, and the userdb socket). Everything
 * here runs on the event loop thread except what a comment says runs in a
 * worker.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth_proto_auth;
struct strbuf;

/* Longest user name accepted (after normalisation). */
#define AUTH_USER_MAX 256
/* Longest decoded SASL response (Dovecot's line limit bounds it too). */
#define AUTH_RESPONSE_MAX 8192

/* Outcome of a passdb lookup or verification. */
enum passdb_result {
	PASSDB_OK,
	PASSDB_MISMATCH,
	PASSDB_UNKNOWN,
	PASSDB_TEMPFAIL,
};

/* --- settings (auth_settings.c) --- */

struct auth_mech;

struct auth_settings {
	const struct auth_mech *mechs[8];
	size_t n_mechs;
	bool disable_plaintext_auth;
	unsigned int failure_delay_ms;
	bool verbose, debug;
};

extern struct auth_settings auth_set;

/* Reads the auth_* parameters; log_fatal() on a bad value. */
void auth_settings_init(void);
/* Calls add(item, len) for each item of a comma (or newline) separated
 * list such as passdb/userdb, white space around items removed, empty
 * items skipped. */
void auth_settings_split_list(const char *list,
			      void (*add)(const char *item, size_t len));
/* The configured mechanism called name (case-insensitive), or NULL. */
const struct auth_mech *auth_settings_find_mech(const char *name);
/* Applies auth_default_realm and auth_username_format to a client's user
 * name and checks it against auth_username_chars. Returns an allocated
 * name, or NULL with a static *error_r. */
char *auth_user_normalize(const char *user, const char **error_r);
/* Copies s for a log line: at most 64 bytes, characters outside
 * [A-Za-z0-9.@_+:-] replaced by '?', so a peer cannot shape the line. */
const char *auth_log_str(const char *s, char *buf, size_t size);

/* --- mechanisms (auth_mech_*.c) --- */

struct auth_request;

struct auth_mech {
	const char *name;
	unsigned int flags; /* AUTH_MECH_SEC_* */
	/* The client's data: the initial response (initial=true; have=false
	 * when the client sent none) or a CONT. The mechanism answers with
	 * exactly one of auth_request_challenge(), auth_request_verify_plain()
	 * or auth_request_fail(). */
	void (*input)(struct auth_request *req, const unsigned char *data,
		      size_t len, bool initial, bool have);
};

extern const struct auth_mech auth_mech_plain;
extern const struct auth_mech auth_mech_login;
extern const struct auth_mech auth_mech_scram_sha1;
extern const struct auth_mech auth_mech_scram_sha256;

/* --- requests (auth_request.c) --- */

struct auth_client_conn;

struct auth_request {
	struct auth_client_conn *conn;	  /* NULL once the client went away */
	struct auth_request *prev, *next; /* in conn's list */
	unsigned int id;
	const struct auth_mech *mech;
	char *service, *rip, *lip;
	bool secured, no_penalty;
	int mech_state;	 /* the mechanism's own */
	char *mech_user; /* LOGIN: the user name between rounds */
	char *user;	 /* normalised user being authenticated */
	bool accept_cont;
	bool in_worker;		/* a passdb job holds the request */
	unsigned char *initial; /* initial response kept over the penalty */
	size_t initial_len;
	bool have_initial;
	unsigned int last_penalty;
	unsigned int checksum; /* of user and password, for the penalty */
	unsigned long long verify_start_ms;
	struct event_timer *timer; /* penalty, CONT timeout or failure delay */
	char *fail_line;	   /* delayed FAIL reply */
	void *mech_data; /* the mechanism's own, freed with mech_data_free */
	void (*mech_data_free)(void *data);
};

/* Globals: the penalty table. */
void auth_request_init(void);
void auth_request_deinit(void);
/* A new request for a parsed AUTH command whose mechanism is configured
 * and whose id is new on conn; the caller links it into its list and then
 * calls auth_request_start(). */
struct auth_request *auth_request_new(struct auth_client_conn *conn,
				      const struct auth_proto_auth *auth,
				      const struct auth_mech *mech);
/* Checks cleartext policy and the initial response, waits out the
 * address's penalty, then hands the response to the mechanism. */
void auth_request_start(struct auth_request *req, const char *resp);
/* A CONT for req with base64 data. */
void auth_request_continue(struct auth_request *req, const char *data);
/* The client connection closed: forget the connection; the request is
 * freed now, or when its worker job finishes. */
void auth_request_abort(struct auth_request *req);

/* Mechanism callbacks. */
void auth_request_challenge(struct auth_request *req, const void *data,
			    size_t len);
void auth_request_verify_plain(struct auth_request *req, const char *authzid,
			       const char *authcid, const unsigned char *pass,
			       size_t pass_len);
void auth_request_fail(struct auth_request *req, const char *reason);

/* For mechanisms that look credentials up themselves (SCRAM): */
/* Normalises and sets the user; on a bad name fails the request (and
 * returns false). */
bool auth_request_set_user(struct auth_request *req, const char *authcid);
/* A worker job now holds req (the failure delay counts from here). */
void auth_request_worker_begin(struct auth_request *req);
/* The job is back: false if the client went away (req is then freed). */
bool auth_request_worker_end(struct auth_request *req);
/* Ends req with OK (user=req->user); data (may be NULL) is the
 * mechanism's final message, sent as resp=base64 as Dovecot does. */
void auth_request_success(struct auth_request *req, const char *passdb_name,
			  const void *data, size_t len);
/* Ends req with a delayed FAIL after logging why (as for PLAIN). */
void auth_request_fail_result(struct auth_request *req,
			      enum passdb_result result,
			      const char *passdb_name, const char *error);

/* --- connections --- */

/* A new client-protocol connection (auth_client_conn.c). */
void auth_client_conn_new(int fd);
/* Sends one reply line (a newline is added); may close the connection
 * if its output is full (then later requests see conn == NULL). */
void auth_client_conn_send(struct auth_client_conn *conn,
			   const struct strbuf *line);
/* Unlinks a finished request from its connection. */
void auth_client_conn_request_done(struct auth_client_conn *conn,
				   struct auth_request *req);
/* A new userdb-protocol connection (auth_master_conn.c). */
void auth_master_conn_new(int fd);

/* --- passdb (auth_passdb.c) --- */

/* Opens the passdb list (parameter "passdb"); log_fatal() on errors.
 * Runs as root (pre_init) so root-only files can be read at open. */
void auth_passdb_init(void);
void auth_passdb_deinit(void);

/* Result of a verification: the user as the passdb spells it, the name of
 * the passdb that decided (for the log), and an error for TEMPFAIL. */
typedef void auth_passdb_verify_cb(enum passdb_result result, const char *user,
				   const char *passdb_name, const char *error,
				   void *ctx);
/* Verifies password for user against the passdbs in order, in the worker
 * pool; cb runs on the loop thread. The password is copied and wiped. */
void auth_passdb_verify(const char *user, const unsigned char *password,
			size_t len, auth_passdb_verify_cb *cb, void *ctx);
struct password_scram_credentials;
/* SCRAM credentials of user ("SHA-1" or "SHA-256"): from a stored
 * {SCRAM-*} entry or derived from a cleartext one, from the first passdb
 * that knows the user (worker pool; not cached). creds is NULL unless
 * PASSDB_OK; no_scheme says the user exists with a one-way hash. */
typedef void auth_passdb_scram_cb(
    enum passdb_result result, const struct password_scram_credentials *creds,
    bool no_scheme, const char *passdb_name, const char *error, void *ctx);
void auth_passdb_scram(const char *user, const char *hash_name,
		       auth_passdb_scram_cb *cb, void *ctx);
/* Worker thread: does user exist in any passdb? PASSDB_OK, _UNKNOWN, or
 * _TEMPFAIL with an allocated *error_r. */
enum passdb_result auth_passdb_exists_blocking(const char *user,
					       char **error_r);

/* --- userdb (auth_userdb.c) --- */

enum userdb_result {
	USERDB_OK,
	USERDB_UNKNOWN,
	USERDB_TEMPFAIL,
};

void auth_userdb_init(void);
void auth_userdb_deinit(void);

/* fields are "name=value" strings (unescaped). */
typedef void auth_userdb_cb(enum userdb_result result, const char *user,
			    char *const *fields, size_t n_fields,
			    const char *error, void *ctx);
/* Looks user up in the userdbs in order (worker pool). */
void auth_userdb_lookup(const char *user, auth_userdb_cb *cb, void *ctx);

#endif
