/*
 * smtp - the delivery agent: takes deliver_proto requests from qmgr and
 * delivers them by LMTP (RFC 2033) to lmtpd or Dovecot's LMTP, or by
 * SMTP (RFC 5321) to the MX hosts of the recipient domain or a relayhost.
 * The service name selects the protocol: "lmtp..." speaks LMTP.
 */
#ifndef SMTP_H
#define SMTP_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "mail/deliver_proto.h"
#include "util/strbuf.h"

/* Addresses tried per SMTP delivery at most. */
#define SMTP_MAX_TARGETS 100

/* One address to try, in order (from the MX lookup or a [host]). */
struct smtp_target {
	char *host;   /* MX host name, or the [host] of the next hop */
	char *addr;   /* address text; NULL: resolve host when connecting */
	char port[8]; /* "25" unless [host]:port */
	/* DANE (smtp_dane.c): the MX RRset and this address were
	 * DNSSEC-validated; the host's TLS policy, NULL unless the level is
	 * dane or dane-only. */
	bool dnssec;
	struct smtp_dane_policy *dane;
};

enum smtp_tls_level {
	SMTP_TLS_NONE,
	SMTP_TLS_MAY,
	SMTP_TLS_ENCRYPT,
	SMTP_TLS_VERIFY,
	SMTP_TLS_DANE,	    /* RFC 7672 per host, else "may" */
	SMTP_TLS_DANE_ONLY, /* RFC 7672 per host, else defer */
};

/* The outcome of one delivery attempt, built on a worker thread. */
struct smtp_delivery {
	struct deliver_request *req;
	struct deliver_reply reply; /* one result per request recipient */
	uint64_t received_us;	    /* when the request arrived */
	uint64_t connected_us;	    /* after connect + LHLO */
	uint64_t done_us;	    /* after the last reply */
	/* SMTP: the addresses to try, filled on the loop before the
	 * session runs; a lookup failure leaves none and sets the results. */
	struct smtp_target *targets;
	unsigned int target_count;
	/* Log lines ('\n'-separated) the worker collected; the loop logs
	 * them after the session (workers never log). */
	struct strbuf notes;
	/* Transactions on the connection that delivered (Postfix's
	 * conn_use, logged when > 1: a cached connection was reused). */
	unsigned int conn_use;
};

/* Runs the whole LMTP session for d->req (blocking, with the lmtp_*
 * timeouts) and fills d->reply: every recipient gets sent, deferred or
 * bounced. Never logs (runs on a worker thread). */
void lmtp_deliver(struct smtp_delivery *d);

/* Runs the SMTP session(s) for d->req over d->targets in order (blocking,
 * with the smtp_* timeouts) and fills d->reply like lmtp_deliver(). Never
 * logs: TLS details and failed hosts go to d->notes. tls_ctx: the client
 * context (verifying when level is SMTP_TLS_VERIFY), NULL for
 * SMTP_TLS_NONE. */
void smtp_deliver(struct smtp_delivery *d, SSL_CTX *tls_ctx,
		  enum smtp_tls_level level);

/* Sets recipient i's result (replacing one set before); text is copied
 * and cut to the protocol's limit. */
void smtp_result_set(struct smtp_delivery *d, unsigned int i, const char *relay,
		     enum deliver_action action, const char *dsn,
		     const char *text);
/* Gives every recipient of d (that has none yet) the result action/dsn
 * with text (copied); relay "none". Allocates d->reply if needed. */
void smtp_delivery_fail_all(struct smtp_delivery *d, enum deliver_action action,
			    const char *dsn, const char *text);

/* smtp_connect.c, on the loop: prepares the resolver (post_init). Fatal
 * configuration errors return -1 with *error_r. */
int smtp_connect_init(const char **error_r);
typedef void smtp_targets_cb(struct smtp_delivery *d, void *ctx);
/* Fills d->targets for d->req->nexthop (or relayhost): "[host]" and
 * "[host]:port" without MX lookup, a domain through dns_mx. On a lookup
 * failure the recipients get their results (defer or bounce) and no
 * targets. cb runs once, later, from the loop. */
void smtp_targets_lookup(struct smtp_delivery *d, smtp_targets_cb *cb,
			 void *ctx);
void smtp_targets_free(struct smtp_delivery *d);
/* The next hop an SMTP request goes to: relayhost when set (for mail
 * whose next hop is the recipient domain), else req->nexthop. */
const char *smtp_effective_nexthop(const struct deliver_request *req);

/* Microseconds of the wall clock. */
uint64_t smtp_now_us(void);

#endif
