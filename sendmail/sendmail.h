/*
 * sendmail - the Postfix/Sendmail-compatible posting command: reads a
 * message on standard input and submits it over SMTP to smtpd's local
 * submission socket ($queue_directory/public/submit), where smtpd trusts
 * the peer's uid (SO_PEERCRED). No setuid, no direct queue access.
 */
#ifndef SENDMAIL_H
#define SENDMAIL_H

#include <stdbool.h>
#include <stdio.h>

#define SENDMAIL_MAX_RCPTS 1000
#define SENDMAIL_MAX_HEADER (1024 * 1024) /* header block with -t */

struct sendmail_msg {
	char *sender; /* envelope sender, "" for <> */
	char **rcpts;
	unsigned int n_rcpts;
	FILE *content; /* CRLF lines, not dot-stuffed, rewound */
	bool eightbit;
};

/* sendmail_smtp.c: submits msg over the SMTP session on fd. 0, or -1 with
 * a message printed to stderr; *tempfail_r says whether retrying later
 * could help (EX_TEMPFAIL vs EX_UNAVAILABLE / EX_NOUSER). */
int sendmail_submit(int fd, const struct sendmail_msg *msg, bool verbose,
		    bool *tempfail_r);
/* Copies stdin to fd and fd to stdout until both sides close (-bs). */
int sendmail_proxy(int fd);

/* sendmail_headers.c: with -t, adds the addresses of To:, Cc: and Bcc:
 * in header (unfolded, NUL-terminated) to the recipient list. */
void sendmail_header_rcpts(const char *value, struct sendmail_msg *msg);

/* mailq.c: prints the queue as Postfix's mailq does. 0, or -1 (printed). */
int mailq_list(void);
/* "sendmail -q": asks qmgr (public/qmgr) to deliver the deferred mail now,
 * ignoring the back-off, as "dovetail queue flush" does. 0, or -1
 * (printed). */
int mailq_flush(void);

#endif
