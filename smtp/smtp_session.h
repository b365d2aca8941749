/*
 * smtp_session - one outbound SMTP session as the parts of the smtp
 * client share it: smtp_client.c (connect, EHLO, the transaction, the
 * loop over addresses), smtp_starttls.c (STARTTLS, DANE), smtp_content.c
 * (the message, MIME downgrade), smtp_reuse.c (the connection cache) and
 * smtp_sasl.c (AUTH). Worker threads only; nothing here logs: notes go
 * to d->notes for the loop.
 */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/smtp_reply.h"
#include "smtp.h"
#include "smtp_io.h"
#include "smtp_sasl.h"

struct smtp_session {
	struct smtp_delivery *d;
	struct smtp_io io;
	struct smtp_reply reply;
	const struct smtp_target *t;
	char relay[384]; /* "host[addr]:port" */
	bool *done;	 /* per recipient: the result is final */
	bool last;	 /* the last address to try */
	struct smtp_ehlo ehlo;	       /* what the server announced */
	struct smtp_sasl_session sasl; /* AUTH offered, logged in */
	/* Connection reuse (smtp_reuse.c): keep it open instead of QUIT;
	 * transactions on it so far; when it was made. */
	bool cache;
	unsigned int use_count;
	uint64_t first_use_us;
};

/* smtp_client.c */
/* Appends a line to d->notes (the loop logs it after the session). */
void smtp_note(struct smtp_delivery *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "host mx[1.2.3.4] said: 550 5.1.1 text (in reply to RCPT TO command)"
 * (allocated). */
char *smtp_said(struct smtp_session *s, const char *command);
/* The session failed before any recipient had a final answer from this
 * server: every pending recipient gets a tentative result. */
void smtp_session_fail(struct smtp_session *s, enum deliver_action action,
		       const char *dsn, const char *text);
/* The same with s->io.error as the text. */
void smtp_session_io_fail(struct smtp_session *s, const char *dsn);
/* Sends one command line and reads the reply into s->reply. 0, or -1
 * (s->io.error). */
int smtp_command(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* EHLO, or HELO when EHLO is refused (not after TLS). 0, or -1 (the
 * session failed, results set). */
int smtp_helo(struct smtp_session *s, bool after_tls);

/* smtp_starttls.c: STARTTLS as the level (and, for dane levels, the
 * host's DANE policy) asks, then EHLO again. 0 (also: plaintext allowed
 * and chosen), or -1: the session failed, results set. */
int smtp_session_starttls(struct smtp_session *s, SSL_CTX *ctx,
			  enum smtp_tls_level level);

/* smtp_content.c: the message after DATA's 354, then ".". 0, -1 (I/O,
 * s->io.error) or -2: the message cannot be converted for this server
 * (too deeply nested MIME, s->io.error) and must not be sent; part of
 * it is out and the connection is unusable. */
int smtp_send_content(struct smtp_session *s);

/* smtp_reuse.c */
/* At the end of a transaction, in step with the server: keep the
 * connection instead of QUIT? */
bool smtp_session_cacheable(const struct smtp_session *s);
/* Moves the open connection of s into the cache (s->io left closed). */
void smtp_session_save(struct smtp_session *s, enum smtp_tls_level level);
/* Takes a cached session for the next hop (by_dest) or for the address
 * of s->t into s and probes it with RSET. 0: ready for MAIL; -1: none
 * usable (a dead one is closed silently: not a failure). */
int smtp_session_cached(struct smtp_session *s, bool by_dest,
			enum smtp_tls_level level);

#endif
