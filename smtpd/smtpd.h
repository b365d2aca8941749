/*
 * smtpd - the SMTP server daemon: state shared by its files. main.c wires
 * the engine (lib/mail/smtp_server.h) to the policy (smtpd_policy.c), the
 * queue writer (smtpd_queue.c) and the Received header
 * (smtpd_received.c). Everything here runs as the mail owner; the
 * clients are untrusted.
 */
#ifndef SMTPD_H
#define SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mail/smtp_server.h"
#include "util/strbuf.h"

struct queue_writer;

#define SMTPD_ADDR_MAX 4096	   /* one formatted address */
#define SMTPD_RCPT_EXPAND_MAX 1000 /* recipients one RCPT may become */

/* One recipient as it goes into the queue file. */
struct smtpd_rcpt {
	char *address;	 /* after alias expansion */
	char *orig_rcpt; /* as given in RCPT TO */
	char *orcpt;	 /* DSN ORCPT "type;addr", or NULL */
	unsigned int notify;
};

struct smtpd_client {
	struct smtp_session *session;
	char name[256]; /* reverse name or "unknown" */
	char addr[64];	/* "192.0.2.1", "::1" */
	bool trusted;	/* mynetworks or local submission: may relay */
	bool local;	/* local submission over the unix socket */
	uid_t uid;	/* local submission: the client's uid */
	unsigned int *conn_count; /* this address's live connections */

	/* Transaction. */
	bool have_sender;
	char *sender; /* "" for <> */
	char *envid;
	int ret;  /* enum smtp_ret */
	int body; /* enum smtp_body */
	bool smtputf8;
	struct smtpd_rcpt *rcpts;
	size_t rcpt_count, rcpt_alloc;
	char *first_rcpt;	 /* as given, for "for <...>" */
	unsigned int rcpt_given; /* accepted RCPT commands */
	struct queue_writer *writer;
	bool write_failed;

	/* issue 5: submission. */
	struct auth_client_request *sasl_req; /* AUTH in progress */
	struct event_timer *sasl_timer;	      /* the auth daemon's answer */
	char sasl_mech[32];		      /* AUTH's mechanism */
	char sasl_method[32];		      /* after success */
	/* smtpd_sender_login_maps owners of the sender (MAIL): NULL if
	 * none; sender_lookup_failed on a map's temporary failure. */
	char *sender_owners;
	bool sender_lookup_failed;
	struct smtpd_header *header; /* header section being read */
};

/* A message's header section as smtpd_header.c keeps it. */
struct smtpd_header;

/* main.c */
extern struct smtp_server_settings smtpd_settings;
/* "name[addr]" for log lines (static buffer per client). */
const char *smtpd_client_label(const struct smtpd_client *c);
/* Drops the transaction's envelope (after RSET, QUIT, a queued message). */
void smtpd_client_reset(struct smtpd_client *c);

/* smtpd_policy.c */
/* Opens the maps and parses mynetworks (post_init); fatal on errors. */
void smtpd_policy_init(void);
/* True if the address (text form) is in mynetworks. */
bool smtpd_policy_trusted_addr(const char *addr);
/* Decides an RCPT (engine callback contract: answers through
 * smtp_session_reply, maybe later from a worker). */
void smtpd_policy_rcpt(struct smtpd_client *c, const struct smtp_command *cmd);

/* smtpd_queue.c */
int smtpd_queue_start(struct smtpd_client *c, const char **reply_r);
int smtpd_queue_chunk(struct smtpd_client *c, const char *data, size_t len);
void smtpd_queue_end(struct smtpd_client *c, bool ok);
void smtpd_queue_abort(struct smtpd_client *c);

/* smtpd_received.c */
/* Appends the Received header (CRLF lines) for this transaction. */
int smtpd_received_header(struct smtpd_client *c, struct strbuf *out);

/* issue 5: smtpd_sasl.c - AUTH through the auth daemon (auth_client.h). */
/* Fills smtpd_settings' AUTH fields from the parameters (pre_init). */
void smtpd_sasl_init(void);
void smtpd_sasl_auth(struct smtp_session *s, const char *mech,
		     const char *initial, void *ctx);
void smtpd_sasl_response(struct smtp_session *s, const char *response,
			 void *ctx);
void smtpd_sasl_abort(struct smtp_session *s, void *ctx);
/* The client's SASL login or NULL. */
const char *smtpd_sasl_user(const struct smtpd_client *c);

/* issue 5: smtpd_restrict.c - smtpd_client_restrictions,
 * smtpd_sender_restrictions, smtpd_sender_login_maps, rate limits. */
void smtpd_restrict_init(void);
/* MAIL: the rate limits; a refusal reply (static) or NULL. */
const char *smtpd_restrict_mail_rate(struct smtpd_client *c);
/* MAIL accepted so far: looks the sender's owners up (in a worker when
 * smtpd_sender_login_maps is set) and then answers "250 2.1.0 Ok". */
void smtpd_restrict_mail(struct smtpd_client *c);
/* RCPT: the client and sender restrictions; a refusal reply (valid until
 * the next call) or NULL. */
const char *smtpd_restrict_rcpt(struct smtpd_client *c);
/* True if the From: header must name addresses the login owns. */
bool smtpd_restrict_check_from(const struct smtpd_client *c);
/* Worker thread: 0 if login owns addr, 1 if not, -1 on a map's
 * temporary failure. */
int smtpd_restrict_owned(const char *login, const char *addr);

/* issue 5: smtpd_header.c - the header section of a message in transit:
 * Message-Id and Date added for submitted mail, From addresses kept for
 * the ownership check at end of data. */
/* Starts (or not, if nothing is to be done) for the message. */
void smtpd_header_start(struct smtpd_client *c);
/* Message bytes: buffered while in the header section, then written. */
int smtpd_header_chunk(struct smtpd_client *c, const char *data, size_t len);
/* End of data: flushes what is still buffered. Returns 0 or -1. */
int smtpd_header_finish(struct smtpd_client *c);
/* The From: addresses seen (NULL-terminated array, owned by the caller;
 * NULL if none), taken from the state. */
char **smtpd_header_take_from(struct smtpd_client *c);
void smtpd_header_free(struct smtpd_client *c);

#endif
