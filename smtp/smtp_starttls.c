/*
 * smtp_starttls - STARTTLS for an outbound session (RFC 3207) at the
 * level smtp_tls_security_level sets: none, may (opportunistic: a server
 * without STARTTLS, or refusing it, gets plaintext), encrypt, verify (the
 * certificate must verify and name the host), dane/dane-only (the host's
 * policy from smtp_dane.c: verified against its DNSSEC-validated TLSA
 * records, mandatory unauthenticated TLS, opportunistic, or defer; never
 * plaintext when the policy forbids it). Then EHLO again. Failures go to
 * the recipients as 4.7.x deferrals (the next address may do better).
 * The server is hostile; the handshake runs through smtp_io. Worker
 * thread: never logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_dane.h"
#include "smtp_session.h"

/* The handshake of a DANE-verified host (after "220" to STARTTLS): the
 * certificate must match the TLSA records, else nothing is sent and the
 * host fails 4.7.5 as in Postfix ("Server certificate not trusted"). */
static int
smtp_tls_dane(struct smtp_session *s, SSL_CTX *ctx,
	      const struct smtp_dane_policy *dane)
{
	char info[256], how[256];
	const char *error;
	bool verified, has_cert;
	SSL *ssl = smtp_dane_ssl_new(ctx, dane, &error);

	if (ssl == NULL) {
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5", error);
		return -1;
	}
	if (smtp_io_starttls_ssl(&s->io, ssl) < 0) {
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5", s->io.error);
		return -1;
	}
	smtp_io_tls_info(&s->io, info, sizeof(info), &verified, &has_cert);
	verified = smtp_dane_describe(s->io.ssl, how, sizeof(how));
	smtp_note(s->d, "%s TLS connection established to %s: %s",
		  verified ? "Verified" : "Untrusted", s->relay, info);
	if (!verified) {
		smtp_note(s->d,
			  "%s: server certificate verification failed "
			  "for %s: %s",
			  s->d->req->queue_id, s->relay, how);
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5",
				  "Server certificate not trusted");
		return -1;
	}
	smtp_note(s->d, "%s: %s", s->relay, how);
	return smtp_helo(s, true);
}

int
smtp_session_starttls(struct smtp_session *s, SSL_CTX *ctx,
		      enum smtp_tls_level level)
{
	char info[256];
	bool verified, has_cert;
	const struct smtp_dane_policy *dane = NULL;

	/* DANE: the host's policy (smtp_dane.c) picks the level. */
	if (level == SMTP_TLS_DANE || level == SMTP_TLS_DANE_ONLY) {
		dane = s->t->dane;
		if (dane == NULL || dane->mode == SMTP_DANE_DEFER) {
			smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5",
					  dane != NULL && dane->why != NULL
					      ? dane->why
					      : "no DANE policy");
			return -1;
		}
		level = dane->mode == SMTP_DANE_MAY ? SMTP_TLS_MAY
						    : SMTP_TLS_ENCRYPT;
		if (dane->mode == SMTP_DANE_ENCRYPT)
			smtp_note(s->d,
				  "%s: %s: TLS is mandatory, without "
				  "authentication",
				  s->relay, dane->why);
		if (dane->mode != SMTP_DANE_VERIFY)
			dane = NULL;
	}
	if (level == SMTP_TLS_NONE || (level == SMTP_TLS_MAY && !s->ehlo.starttls))
		return 0;
	if (!s->ehlo.starttls) {
		char text[512];

		snprintf(text, sizeof(text),
			 "TLS is required, but was not offered by host %s",
			 s->relay);
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.4", text);
		return -1;
	}
	if (smtp_command(s, "STARTTLS") < 0) {
		smtp_session_io_fail(s, "4.4.2");
		return -1;
	}
	if (s->reply.code != 220) {
		if (level == SMTP_TLS_MAY)
			return 0; /* opportunistic: go on in plaintext */
		char *text = smtp_said(s, "STARTTLS");
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5", text);
		free(text);
		return -1;
	}
	if (dane != NULL)
		return smtp_tls_dane(s, ctx, dane);
	/* SNI names a host, never an address literal (RFC 6066 3). */
	if (smtp_io_starttls(
		&s->io, ctx,
		s->t->addr != NULL && strcmp(s->t->addr, s->t->host) == 0
		    ? NULL
		    : s->t->host,
		level == SMTP_TLS_VERIFY ? s->t->host : NULL) < 0) {
		smtp_session_fail(s, DELIVER_DEFERRED, "4.7.5", s->io.error);
		return -1;
	}
	smtp_io_tls_info(&s->io, info, sizeof(info), &verified, &has_cert);
	smtp_note(s->d, "%s TLS connection established to %s: %s",
		  verified   ? "Verified"
		  : has_cert ? "Untrusted"
			     : "Anonymous",
		  s->relay, info);
	return smtp_helo(s, true);
}
