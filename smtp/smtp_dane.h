/*
 * smtp_dane - DANE for SMTP (RFC 7672) in the smtp client, as Postfix's
 * "dane" and "dane-only" security levels do it. On the loop, after the
 * MX lookup: for every target whose MX RRset and address were
 * DNSSEC-validated, a TLSA lookup of _port._tcp.<host> decides the host's
 * policy (verify against the TLSA records, mandatory unauthenticated TLS,
 * opportunistic TLS, or defer). On the worker: the OpenSSL DANE setup of
 * one connection. DNS answers are hostile (decoded by dns_rr.c); TLSA
 * records are used only when DNSSEC-validated.
 */
#ifndef SMTP_DANE_H
#define SMTP_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "mail/dns.h"
#include "smtp.h"

/* TLSA records kept per host at most (the rest are ignored). */
#define SMTP_DANE_MAX_TLSA 32

enum smtp_dane_mode {
	SMTP_DANE_MAY,	   /* no DANE for this host: opportunistic TLS */
	SMTP_DANE_ENCRYPT, /* TLSA records, none usable: TLS, no auth */
	SMTP_DANE_VERIFY,  /* usable TLSA records: verified TLS */
	SMTP_DANE_DEFER,   /* do not deliver to this host now */
};

struct smtp_dane_tlsa {
	uint8_t usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

struct smtp_dane_policy {
	enum smtp_dane_mode mode;
	char *base;	    /* TLSA base domain: the MX host name */
	char *why;	    /* DEFER: the reason; else why not VERIFY */
	unsigned int count; /* VERIFY: usable records */
	struct smtp_dane_tlsa *tlsa;
};

/* post_init: level is the configured one; only DANE levels do anything.
 * ctx (the client context) gets OpenSSL's DANE support. 0, or -1 with
 * *error_r (static). */
int smtp_dane_init(enum smtp_tls_level level, SSL_CTX *ctx,
		   const char **error_r);

/* On the loop: gives every target of d its DANE policy (t->dane) through
 * TLSA (and, for a target without an address, A/AAAA) lookups on res,
 * then calls cb(d, ctx) once, later or right away (no DANE level, no
 * targets). */
void smtp_dane_lookup(struct dns_resolver *res, struct smtp_delivery *d,
		      smtp_targets_cb *cb, void *ctx);

void smtp_dane_policy_free(struct smtp_dane_policy **policyp);

/* On the worker: a new SSL for ctx that verifies the peer against
 * policy's TLSA records (DANE-EE without name or date checks, DANE-TA
 * with the name checked against the base domain, which is also the
 * SNI). The handshake does not fail on a mismatch: check with
 * smtp_dane_describe(). NULL with *error_r (static) on failure. */
SSL *smtp_dane_ssl_new(SSL_CTX *ctx, const struct smtp_dane_policy *policy,
		       const char **error_r);

/* After the handshake: whether the peer verified against the TLSA
 * records; buf gets "DANE TLSA 3 1 1 matched the server certificate at
 * depth 0", or why it did not verify. */
bool smtp_dane_describe(SSL *ssl, char *buf, size_t size);

#endif
