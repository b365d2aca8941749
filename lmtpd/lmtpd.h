/*
 * lmtpd - the LMTP server (RFC 2033) that stores mail into users'
 * Maildirs (or mbox spool files), shared declarations. Sessions run on
 * the event loop over the smtp_server engine in LMTP mode; user lookups
 * go to the auth daemon's userdb socket (or to virtual_mailbox_maps in a
 * worker); deliveries run in worker threads.
 */
#ifndef LMTPD_H
#define LMTPD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mail/mail_location.h"

struct smtp_session;
struct map;

struct lmtpd_rcpt {
	char *address; /* as given in RCPT TO (Delivered-To, replies) */
	char *user;    /* the userdb user */
	char *detail;  /* the part after recipient_delimiter, or NULL */
	char *home;    /* userdb home, or NULL */
	char *mail;    /* userdb mail (a mail_location), or NULL */
	char *uid;     /* userdb uid (number or name), or NULL */
	char *gid;     /* userdb gid (number or name), or NULL */
	char *reply;   /* set by the delivery job */
};

struct lmtpd_session {
	struct smtp_session *s;
	char id[24]; /* transaction id in replies (Dovecot's style) */
	char *sender;
	struct lmtpd_rcpt *rcpts;
	unsigned int count, alloc;
	struct lmtpd_rcpt pending; /* the RCPT being looked up */
	int tmp_fd;		   /* the message, unlinked, or -1 */
	bool data_failed;
};

/* Set up by main.c. */
extern struct map *lmtpd_mailbox_map; /* NULL: users come from auth */

/* Looks up the pending recipient (pending.address, pending.user set):
 * answers the RCPT itself (250, 550 or 451) and on success appends the
 * recipient to the session. */
void lmtpd_user_lookup(struct lmtpd_session *ls);

/* Delivers the spooled message to every recipient in a worker, then
 * sends one reply per recipient. */
void lmtpd_deliver(struct lmtpd_session *ls);

void lmtpd_rcpt_clear(struct lmtpd_rcpt *r);

#endif
