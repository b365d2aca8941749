/*
 * smtp_connect - where an SMTP delivery goes: turns the request's next hop
 * (or relayhost) into the ordered list of addresses to try. "[host]" and
 * "[host]:port" skip the MX lookup (as in Postfix); a domain goes through
 * dns_mx (MX preference, Null MX, A/AAAA fallback); at the dane levels
 * smtp_dane.c then adds each target's TLSA policy. Runs on the event loop
 * (libunbound answers arrive there). The next hop comes from qmgr (trusted)
 * or main.cf; DNS answers are checked by dns_mx. Must not block. Also the
 * per-recipient result helpers the SMTP client shares (pure bookkeeping).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dns.h"
#include "mail/dns_mx.h"
#include "mail/mail_params.h"
#include "server/server.h"
#include "smtp.h"
#include "smtp_dane.h"
#include "util/xmem.h"

static struct dns_resolver *smtp_resolver;
static struct dns_mx_settings smtp_mx_set;

struct smtp_lookup {
	struct smtp_delivery *d;
	smtp_targets_cb *cb;
	void *ctx;
	char port[8];
};

void
smtp_result_set(struct smtp_delivery *d, unsigned int i, const char *relay,
		enum deliver_action action, const char *dsn, const char *text)
{
	struct deliver_result *r = &d->reply.results[i];

	r->action = action;
	free(r->dsn);
	free(r->relay);
	free(r->text);
	r->dsn = xstrdup(dsn);
	r->relay = xstrdup(relay);
	r->text = xstrndup(text, DELIVER_PROTO_MAX_TEXT - 1);
}

void
smtp_delivery_fail_all(struct smtp_delivery *d, enum deliver_action action,
		       const char *dsn, const char *text)
{
	const struct deliver_request *req = d->req;

	if (d->reply.results == NULL) {
		d->reply.count = req->rcpt_count;
		d->reply.results =
		    xcalloc(req->rcpt_count, sizeof(*d->reply.results));
		for (unsigned int i = 0; i < req->rcpt_count; i++)
			d->reply.results[i].index = req->rcpts[i].index;
	}
	for (unsigned int i = 0; i < req->rcpt_count; i++)
		if (d->reply.results[i].dsn == NULL)
			smtp_result_set(d, i, "none", action, dsn, text);
}

int
smtp_connect_init(const char **error_r)
{
	struct dns_settings set = {
	    .resolvers = var_dns_resolver,
	    .trust_anchor_file = var_dns_trust_anchor_file,
	    .timeout_ms = (unsigned int)var_dns_timeout * 1000,
	};
	static char errbuf[512];
	char *error;
	const char *p = var_inet_protocols;

	smtp_mx_set.ipv4 = strstr(p, "ipv4") != NULL || strcmp(p, "all") == 0;
	smtp_mx_set.ipv6 = strstr(p, "ipv6") != NULL || strcmp(p, "all") == 0;
	if (!smtp_mx_set.ipv4 && !smtp_mx_set.ipv6) {
		*error_r = "inet_protocols: expected all, ipv4 or ipv6";
		return -1;
	}
	smtp_mx_set.order = DNS_MX_IPV4_FIRST;
	smtp_mx_set.max_addresses = (unsigned int)var_smtp_mx_address_limit;
	smtp_mx_set.myhostname = var_myhostname;
	smtp_resolver = dns_resolver_new(server_loop(), &set, &error);
	if (smtp_resolver == NULL) {
		snprintf(errbuf, sizeof(errbuf), "DNS resolver: %s", error);
		xfree(&error);
		*error_r = errbuf;
		return -1;
	}
	return 0;
}

void
smtp_targets_free(struct smtp_delivery *d)
{
	for (unsigned int i = 0; i < d->target_count; i++) {
		free(d->targets[i].host);
		free(d->targets[i].addr);
		smtp_dane_policy_free(&d->targets[i].dane);
	}
	free(d->targets);
	d->targets = NULL;
	d->target_count = 0;
}

static void
smtp_target_add(struct smtp_delivery *d, const char *host, const char *addr,
		const char *port, bool dnssec)
{
	struct smtp_target *t;

	if (d->target_count == SMTP_MAX_TARGETS)
		return;
	d->targets =
	    xreallocarray(d->targets, d->target_count + 1, sizeof(*d->targets));
	t = &d->targets[d->target_count++];
	t->host = xstrdup(host);
	t->addr = addr == NULL ? NULL : xstrdup(addr);
	snprintf(t->port, sizeof(t->port), "%s", port);
	t->dnssec = dnssec;
	t->dane = NULL;
}

static void
smtp_mx_done(void *ctx, struct dns_mx_result *res)
{
	struct smtp_lookup *l = ctx;

	if (res->status == DNS_MX_OK) {
		for (unsigned int i = 0; i < res->count; i++)
			smtp_target_add(l->d, res->addrs[i].host,
					res->addrs[i].text, l->port,
					res->addrs[i].secure);
		if (l->d->target_count == 0)
			smtp_delivery_fail_all(l->d, DELIVER_DEFERRED, "4.4.4",
					       "no usable mail exchanger");
	} else {
		smtp_delivery_fail_all(
		    l->d,
		    res->status == DNS_MX_PERMFAIL ? DELIVER_BOUNCED
						   : DELIVER_DEFERRED,
		    res->dsn[0] != '\0'		     ? res->dsn
		    : res->status == DNS_MX_PERMFAIL ? "5.4.4"
						     : "4.4.3",
		    res->error != NULL ? res->error : "MX lookup failed");
	}
	dns_mx_result_free(&res);
	/* DANE levels: the TLSA lookups, then cb. */
	smtp_dane_lookup(smtp_resolver, l->d, l->cb, l->ctx);
	free(l);
}

/* "example.com", "example.com:587", "[host]", "[host]:port", "[::1]:25".
 * Returns false on a malformed next hop. */
static bool
smtp_parse_nexthop(const char *nexthop, char *host, size_t hsize, char *port,
		   size_t psize, bool *bracket_r)
{
	const char *end, *colon;
	size_t len;

	snprintf(port, psize, "25");
	*bracket_r = nexthop[0] == '[';
	if (*bracket_r) {
		end = strchr(nexthop, ']');
		if (end == NULL)
			return false;
		len = (size_t)(end - nexthop - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return false;
		nexthop++;
	} else {
		colon = strchr(nexthop, ':');
		len =
		    colon == NULL ? strlen(nexthop) : (size_t)(colon - nexthop);
	}
	if (len == 0 || len >= hsize)
		return false;
	memcpy(host, nexthop, len);
	host[len] = '\0';
	if (colon != NULL) {
		char *pend;
		long v = strtol(colon + 1, &pend, 10);

		if (*pend != '\0' || v < 1 || v > 65535)
			return false;
		snprintf(port, psize, "%ld", v);
	}
	return true;
}

/* relayhost replaces the default next hop (the recipient domain), not an
 * explicit one from transport_maps. */
const char *
smtp_effective_nexthop(const struct deliver_request *req)
{
	const char *at;

	if (var_relayhost[0] == '\0' || req->rcpt_count == 0)
		return req->nexthop;
	at = strrchr(req->rcpts[0].address, '@');
	if (at != NULL && strcasecmp(at + 1, req->nexthop) == 0)
		return var_relayhost;
	return req->nexthop;
}

void
smtp_targets_lookup(struct smtp_delivery *d, smtp_targets_cb *cb, void *ctx)
{
	const char *nexthop = smtp_effective_nexthop(d->req), *error;
	char host[256], port[8];
	unsigned char buf[sizeof(struct in6_addr)];
	struct smtp_lookup *l;
	bool bracket;

	if (strncmp(nexthop, "inet:", 5) == 0)
		nexthop += 5;
	if (!smtp_parse_nexthop(nexthop, host, sizeof(host), port, sizeof(port),
				&bracket)) {
		smtp_delivery_fail_all(d, DELIVER_DEFERRED, "4.3.5",
				       "malformed next hop");
		cb(d, ctx);
		return;
	}
	if (bracket || inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1) {
		bool literal = inet_pton(AF_INET, host, buf) == 1 ||
			       inet_pton(AF_INET6, host, buf) == 1;

		smtp_target_add(d, host, literal ? host : NULL, port, false);
		smtp_dane_lookup(smtp_resolver, d, cb, ctx);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->d = d;
	l->cb = cb;
	l->ctx = ctx;
	snprintf(l->port, sizeof(l->port), "%s", port);
	if (dns_mx_lookup(smtp_resolver, host, &smtp_mx_set, smtp_mx_done, l,
			  &error) == NULL) {
		smtp_delivery_fail_all(d, DELIVER_BOUNCED, "5.1.2", error);
		free(l);
		cb(d, ctx);
	}
}
