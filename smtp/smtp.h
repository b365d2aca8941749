/*
 * smtp - the delivery agent: takes deliver_proto requests from qmgr and
 * delivers them by LMTP (RFC 2033) to lmtpd or Dovecot's LMTP. Remote
 * SMTP delivery arrives with the sending issue.
 */
#ifndef SMTP_H
#define SMTP_H

#include <stdint.h>

#include "mail/deliver_proto.h"

/* The outcome of one delivery attempt, built on a worker thread. */
struct smtp_delivery {
	struct deliver_request *req;
	struct deliver_reply reply; /* one result per request recipient */
	uint64_t received_us;	    /* when the request arrived */
	uint64_t connected_us;	    /* after connect + LHLO */
	uint64_t done_us;	    /* after the last reply */
};

/* Runs the whole LMTP session for d->req (blocking, with the lmtp_*
 * timeouts) and fills d->reply: every recipient gets sent, deferred or
 * bounced. Never logs (runs on a worker thread). */
void lmtp_deliver(struct smtp_delivery *d);

/* Microseconds of the wall clock. */
uint64_t smtp_now_us(void);

#endif
