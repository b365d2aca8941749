/*
 * smtp_dane - DANE for SMTP (RFC 7672), Postfix's "dane" / "dane-only"
 * levels. The per-host decision (RFC 7672 2.2, Postfix TLS_README):
 *   MX RRset or host address not DNSSEC-validated -> no DANE: "may"
 *       (dane-only: defer);
 *   TLSA lookup fails (SERVFAIL, timeout, bogus) -> defer the host, never
 *       plaintext;
 *   validated "no TLSA records" or TLSA answer not validated -> "may"
 *       (dane-only: defer);
 *   validated TLSA records, some usable -> TLS verified against them;
 *   validated TLSA records, none usable -> mandatory TLS without
 *       authentication ("encrypt"; dane-only: defer).
 * Usable: DANE-TA(2) and DANE-EE(3), selector 0/1, matching type 0/1/2
 * with a matching length; PKIX-TA(0) / PKIX-EE(1) are unusable for SMTP
 * (RFC 7672 3.1.3), as in Postfix. DNS answers are hostile: rdata comes
 * decoded and bounded from dns_rr.c; at most SMTP_DANE_MAX_TLSA records
 * are kept. The lookups run on the loop; smtp_dane_ssl_new() and
 * smtp_dane_describe() on workers (no logging, no globals written).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "mail/mail_params.h"
#include "smtp_dane.h"
#include "util/xmem.h"

static enum smtp_tls_level smtp_dane_level = SMTP_TLS_NONE;

/* One distinct (host, port) to look up; its targets share the answer. */
struct smtp_dane_query {
	struct smtp_dane_batch *b;
	char *host;
	char port[8];
	bool need_addr; /* a target without an address ([host]) */
	struct dns_answer *tlsa, *addr;
};

struct smtp_dane_batch {
	struct smtp_delivery *d;
	smtp_targets_cb *cb;
	void *ctx;
	unsigned int pending;
	unsigned int count;
	struct smtp_dane_query *q;
};

int
smtp_dane_init(enum smtp_tls_level level, SSL_CTX *ctx, const char **error_r)
{
	smtp_dane_level = level;
	if (level != SMTP_TLS_DANE && level != SMTP_TLS_DANE_ONLY)
		return 0;
	/* Adds the SHA2-256 and SHA2-512 matching types. */
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		*error_r = "SSL_CTX_dane_enable failed";
		return -1;
	}
	return 0;
}

void
smtp_dane_policy_free(struct smtp_dane_policy **policyp)
{
	struct smtp_dane_policy *p = *policyp;

	if (p == NULL)
		return;
	for (unsigned int i = 0; i < p->count; i++)
		free(p->tlsa[i].data);
	free(p->tlsa);
	free(p->base);
	free(p->why);
	free(p);
	*policyp = NULL;
}

static bool
smtp_dane_usable(const struct dns_record *r)
{
	if (r->tlsa_usage != 2 && r->tlsa_usage != 3)
		return false;
	if (r->tlsa_selector > 1 || r->data == NULL || r->data_len == 0)
		return false;
	switch (r->tlsa_mtype) {
	case 0:
		return true;
	case 1:
		return r->data_len == 32;
	case 2:
		return r->data_len == 64;
	default:
		return false;
	}
}

static struct smtp_dane_policy *
smtp_dane_policy_new(enum smtp_dane_mode mode, const char *base,
		     const char *why)
{
	struct smtp_dane_policy *p = xcalloc(1, sizeof(*p));
	bool only = smtp_dane_level == SMTP_TLS_DANE_ONLY;

	/* dane-only: anything short of a verified connection waits. */
	if (only && mode != SMTP_DANE_VERIFY && mode != SMTP_DANE_DEFER)
		mode = SMTP_DANE_DEFER;
	p->mode = mode;
	p->base = xstrdup(base);
	p->why = why == NULL ? NULL : xstrdup(why);
	return p;
}

/* The policy for one (host, port) from its TLSA answer; the MX RRset and
 * the address were validated (for a [host], by its own lookup). */
static struct smtp_dane_policy *
smtp_dane_decide(const struct smtp_dane_query *q)
{
	const struct dns_answer *a = q->tlsa;
	struct smtp_dane_policy *p;
	char why[600];
	unsigned int usable = 0;

	if (a == NULL || a->status == DNS_TEMPFAIL ||
	    a->status == DNS_MALFORMED) {
		snprintf(why, sizeof(why),
			 "TLSA lookup error for _%s._tcp.%s: %s", q->port,
			 q->host,
			 a != NULL && a->error != NULL ? a->error
						       : "temporary failure");
		return smtp_dane_policy_new(SMTP_DANE_DEFER, q->host, why);
	}
	if (!a->secure || a->status != DNS_FOUND) {
		snprintf(why, sizeof(why), "%s TLSA records for _%s._tcp.%s",
			 a->secure ? "no" : "no DNSSEC-validated", q->port,
			 q->host);
		return smtp_dane_policy_new(SMTP_DANE_MAY, q->host, why);
	}
	for (unsigned int i = 0; i < a->count; i++)
		if (a->records[i].type == DNS_TYPE_TLSA &&
		    smtp_dane_usable(&a->records[i]))
			usable++;
	if (usable == 0) {
		snprintf(why, sizeof(why),
			 "TLSA records for _%s._tcp.%s are all unusable",
			 q->port, q->host);
		return smtp_dane_policy_new(SMTP_DANE_ENCRYPT, q->host, why);
	}
	p = smtp_dane_policy_new(SMTP_DANE_VERIFY, q->host, NULL);
	if (usable > SMTP_DANE_MAX_TLSA)
		usable = SMTP_DANE_MAX_TLSA;
	p->tlsa = xcalloc(usable, sizeof(*p->tlsa));
	for (unsigned int i = 0; i < a->count && p->count < usable; i++) {
		const struct dns_record *r = &a->records[i];
		struct smtp_dane_tlsa *t;

		if (r->type != DNS_TYPE_TLSA || !smtp_dane_usable(r))
			continue;
		t = &p->tlsa[p->count++];
		t->usage = r->tlsa_usage;
		t->selector = r->tlsa_selector;
		t->mtype = r->tlsa_mtype;
		t->len = r->data_len;
		t->data = xmalloc(r->data_len);
		memcpy(t->data, r->data, r->data_len);
	}
	return p;
}

/* A [host] target: its validated address (the first one) replaces the
 * resolver lookup at connect time, so the address used is the one that
 * was validated. Returns whether DANE may apply. */
static bool
smtp_dane_take_addr(struct smtp_target *t, const struct dns_answer *a)
{
	char text[INET6_ADDRSTRLEN];

	if (a == NULL || a->status != DNS_FOUND || !a->secure)
		return false;
	for (unsigned int i = 0; i < a->count; i++) {
		const struct dns_record *r = &a->records[i];

		if (r->family == 0 ||
		    inet_ntop(r->family, &r->addr, text, sizeof(text)) == NULL)
			continue;
		free(t->addr);
		t->addr = xstrdup(text);
		return true;
	}
	return false;
}

static bool smtp_dane_is_literal(const struct smtp_target *t);

static void
smtp_dane_finish(struct smtp_dane_batch *b)
{
	struct smtp_delivery *d = b->d;

	for (unsigned int k = 0; k < b->count; k++) {
		struct smtp_dane_query *q = &b->q[k];

		for (unsigned int i = 0; i < d->target_count; i++) {
			struct smtp_target *t = &d->targets[i];

			if (strcasecmp(t->host, q->host) != 0 ||
			    strcmp(t->port, q->port) != 0 || t->dane != NULL)
				continue;
			if (t->addr == NULL)
				t->dnssec = smtp_dane_take_addr(t, q->addr);
			if (t->dnssec)
				t->dane = smtp_dane_decide(q);
		}
		dns_answer_free(&q->tlsa);
		dns_answer_free(&q->addr);
		free(q->host);
	}
	/* The rest: no validated MX or address, or an address literal. */
	for (unsigned int i = 0; i < d->target_count; i++) {
		struct smtp_target *t = &d->targets[i];
		char why[400];

		if (t->dane != NULL)
			continue;
		snprintf(why, sizeof(why),
			 smtp_dane_is_literal(t)
			     ? "%s is an address literal: DANE does not apply"
			     : "no DNSSEC-validated MX or address records for "
			       "%s: DANE does not apply",
			 t->host);
		t->dane = smtp_dane_policy_new(SMTP_DANE_MAY, t->host, why);
	}
	free(b->q);
	b->cb(d, b->ctx);
	free(b);
}

static void
smtp_dane_answer(struct smtp_dane_query *q, struct dns_answer **slot,
		 struct dns_answer *answer)
{
	struct smtp_dane_batch *b = q->b;

	*slot = answer;
	if (--b->pending == 0)
		smtp_dane_finish(b);
}

static void
smtp_dane_tlsa_done(void *ctx, struct dns_answer *answer)
{
	struct smtp_dane_query *q = ctx;

	smtp_dane_answer(q, &q->tlsa, answer);
}

static void
smtp_dane_addr_done(void *ctx, struct dns_answer *answer)
{
	struct smtp_dane_query *q = ctx;

	smtp_dane_answer(q, &q->addr, answer);
}

static bool
smtp_dane_is_literal(const struct smtp_target *t)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, t->host, buf) == 1 ||
	       inet_pton(AF_INET6, t->host, buf) == 1;
}

void
smtp_dane_lookup(struct dns_resolver *res, struct smtp_delivery *d,
		 smtp_targets_cb *cb, void *ctx)
{
	struct smtp_dane_batch *b;
	const char *error;
	int addr_type = strstr(var_inet_protocols, "ipv4") != NULL ||
				strcmp(var_inet_protocols, "all") == 0
			    ? DNS_TYPE_A
			    : DNS_TYPE_AAAA;

	if ((smtp_dane_level != SMTP_TLS_DANE &&
	     smtp_dane_level != SMTP_TLS_DANE_ONLY) ||
	    d->target_count == 0) {
		cb(d, ctx);
		return;
	}
	b = xcalloc(1, sizeof(*b));
	b->d = d;
	b->cb = cb;
	b->ctx = ctx;
	b->q = xcalloc(d->target_count, sizeof(*b->q));
	for (unsigned int i = 0; i < d->target_count; i++) {
		struct smtp_target *t = &d->targets[i];
		struct smtp_dane_query *q = NULL;

		/* Without validated MX and address there is nothing to look
		 * up; a [host] (no address yet) is checked here. */
		if ((!t->dnssec && t->addr != NULL) || smtp_dane_is_literal(t))
			continue;
		for (unsigned int k = 0; k < b->count; k++)
			if (strcasecmp(b->q[k].host, t->host) == 0 &&
			    strcmp(b->q[k].port, t->port) == 0)
				q = &b->q[k];
		if (q == NULL) {
			q = &b->q[b->count++];
			q->b = b;
			q->host = xstrdup(t->host);
			snprintf(q->port, sizeof(q->port), "%s", t->port);
		}
		if (t->addr == NULL)
			q->need_addr = true;
	}
	/* Counted first: no callback runs inside dns_lookup(), but a
	 * failed start finishes its part at once. */
	b->pending = 1;
	for (unsigned int k = 0; k < b->count; k++) {
		struct smtp_dane_query *q = &b->q[k];
		char name[300];

		snprintf(name, sizeof(name), "_%s._tcp.%s", q->port, q->host);
		b->pending++;
		if (dns_lookup(res, name, DNS_TYPE_TLSA, smtp_dane_tlsa_done, q,
			       &error) == NULL)
			b->pending--; /* q->tlsa NULL: a lookup error */
		if (q->need_addr) {
			b->pending++;
			if (dns_lookup(res, q->host, addr_type,
				       smtp_dane_addr_done, q, &error) == NULL)
				b->pending--;
		}
	}
	if (--b->pending == 0)
		smtp_dane_finish(b);
}

SSL *
smtp_dane_ssl_new(SSL_CTX *ctx, const struct smtp_dane_policy *p,
		  const char **error_r)
{
	SSL *ssl = SSL_new(ctx);
	int usable = 0;

	if (ssl == NULL) {
		*error_r = "cannot set up TLS";
		return NULL;
	}
	/* The base domain is the SNI name and the reference identifier
	 * for DANE-TA (RFC 7672 3.2.2); DANE-EE has no name checks. */
	if (SSL_dane_enable(ssl, p->base) <= 0) {
		*error_r = "cannot enable DANE";
		SSL_free(ssl);
		return NULL;
	}
	(void)SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (unsigned int i = 0; i < p->count; i++) {
		const struct smtp_dane_tlsa *t = &p->tlsa[i];

		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype,
				      t->data, t->len) > 0)
			usable++;
	}
	if (usable == 0) {
		*error_r = "no TLSA record is usable by OpenSSL";
		SSL_free(ssl);
		return NULL;
	}
	/* As Postfix: the handshake completes either way and the caller
	 * judges the result (smtp_dane_describe()), so a failure is logged
	 * as an "Untrusted" connection that carries no mail. */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	return ssl;
}

bool
smtp_dane_describe(SSL *ssl, char *buf, size_t size)
{
	uint8_t usage, selector, mtype;
	const unsigned char *data;
	size_t len;
	long v = SSL_get_verify_result(ssl);
	int depth = -1;

	if (v == X509_V_OK)
		depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype,
					   &data, &len);
	if (depth < 0) {
		snprintf(buf, size, "%s",
			 v == X509_V_OK ? "no TLSA record matched"
					: X509_verify_cert_error_string(v));
		return false;
	}
	snprintf(buf, size, "DANE TLSA %u %u %u matched the %s at depth %d",
		 usage, selector, mtype,
		 usage == 3 ? "server certificate" : "trust anchor", depth);
	return true;
}
