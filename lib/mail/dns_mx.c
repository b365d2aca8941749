/*
 * dns_mx - MX resolution for the smtp client (see dns_mx.h): one MX query,
 * then the A/AAAA queries of every MX host in parallel, then the ordered
 * address list. Names in MX records are hostile: a name that is not a
 * valid host name is skipped, an address literal is skipped as Postfix
 * does ("numeric domain name" is not looked up). Never turns a temporary
 * DNS failure into a permanent one.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dns_mx.h"
#include "util/xmem.h"

struct dns_mx_host {
	struct dns_mx_lookup *mx;
	char *name;
	unsigned int preference;
	uint32_t tiebreak;
	struct dns_lookup *q[2]; /* [0] A, [1] AAAA */
	struct dns_answer *answer[2];
};

struct dns_mx_lookup {
	struct dns_resolver *res;
	char *domain;
	struct dns_mx_settings set;
	char *myhostname;
	dns_mx_cb *cb;
	void *ctx;
	struct dns_lookup *mxq;
	bool implicit, mx_secure;
	char *skipped; /* first skipped MX name, for the reason text */
	unsigned int nhosts, pending;
	struct dns_mx_host hosts[DNS_MX_MAX_HOSTS];
};

static void
dns_mx_free(struct dns_mx_lookup **mxp)
{
	struct dns_mx_lookup *mx = *mxp;

	dns_lookup_cancel(&mx->mxq);
	for (unsigned int i = 0; i < mx->nhosts; i++) {
		for (int f = 0; f < 2; f++) {
			dns_lookup_cancel(&mx->hosts[i].q[f]);
			dns_answer_free(&mx->hosts[i].answer[f]);
		}
		xfree(&mx->hosts[i].name);
	}
	xfree(&mx->skipped);
	xfree(&mx->domain);
	xfree(&mx->myhostname);
	xfree(mxp);
}

static void
dns_mx_finish(struct dns_mx_lookup *mx, struct dns_mx_result *result)
{
	dns_mx_cb *cb = mx->cb;
	void *ctx = mx->ctx;

	result->implicit_mx = mx->implicit;
	result->mx_secure = mx->mx_secure;
	dns_mx_free(&mx);
	cb(ctx, result);
}

static void
dns_mx_fail(struct dns_mx_lookup *mx, enum dns_mx_status status,
	    const char *dsn, char *error)
{
	struct dns_mx_result *r = xcalloc(1, sizeof(*r));

	r->status = status;
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
	r->error = error;
	dns_mx_finish(mx, r);
}

static char *
dns_mx_reason(const char *name, int type, const struct dns_answer *a)
{
	if (a->status == DNS_TEMPFAIL || a->status == DNS_MALFORMED)
		return xasprintf("Host or domain name not found. Name service "
				 "error for name=%s type=%s: Host not found, "
				 "try again (%s)",
				 name, dns_rr_type_name(type),
				 a->error != NULL ? a->error : "error");
	return xasprintf("Host or domain name not found. Name service error "
			 "for name=%s type=%s: Host not found",
			 name, dns_rr_type_name(type));
}

static void
dns_mx_shuffle(struct dns_record **recs, unsigned int n)
{
	for (unsigned int i = n; i > 1; i--) {
		unsigned int j = arc4random_uniform(i);
		struct dns_record *t = recs[i - 1];

		recs[i - 1] = recs[j];
		recs[j] = t;
	}
}

static bool
dns_mx_add(struct dns_mx_lookup *mx, struct dns_mx_result *r,
	   const struct dns_mx_host *h, const struct dns_answer *a)
{
	struct dns_record *order[DNS_MAX_RECORDS];
	unsigned int n = 0;

	for (unsigned int i = 0; i < a->count && n < DNS_MAX_RECORDS; i++)
		order[n++] = &a->records[i];
	dns_mx_shuffle(order, n);
	for (unsigned int i = 0; i < n; i++) {
		struct dns_mx_addr *ad;

		if (mx->set.max_addresses != 0 &&
		    r->count >= mx->set.max_addresses)
			return false;
		ad = &r->addrs[r->count++];
		ad->host = xstrdup(h->name);
		ad->preference = h->preference;
		ad->family = order[i]->family;
		memcpy(&ad->addr, &order[i]->addr, sizeof(ad->addr));
		inet_ntop(ad->family, &ad->addr, ad->text, sizeof(ad->text));
		ad->secure = a->secure && (mx->implicit || mx->mx_secure);
	}
	return true;
}

/* All address lookups are done: build the list or the failure. */
static void
dns_mx_done(struct dns_mx_lookup *mx)
{
	struct dns_mx_result *r = xcalloc(1, sizeof(*r));
	const struct dns_answer *temp = NULL, *perm = NULL;
	const char *temp_name = NULL, *perm_name = NULL;
	unsigned int total = 0;
	int first = mx->set.order == DNS_MX_IPV6_FIRST ? 1 : 0;

	for (unsigned int i = 0; i < mx->nhosts; i++)
		for (int f = 0; f < 2; f++)
			if (mx->hosts[i].answer[f] != NULL)
				total += mx->hosts[i].answer[f]->count;
	r->addrs = xcalloc(total > 0 ? total : 1, sizeof(*r->addrs));
	for (unsigned int i = 0; i < mx->nhosts; i++) {
		struct dns_mx_host *h = &mx->hosts[i];

		for (int k = 0; k < 2; k++) {
			const struct dns_answer *a = h->answer[(first + k) % 2];

			if (a == NULL)
				continue;
			if (a->status == DNS_FOUND) {
				if (!dns_mx_add(mx, r, h, a))
					goto full;
			} else if (a->status == DNS_TEMPFAIL ||
				   a->status == DNS_MALFORMED) {
				if (temp == NULL) {
					temp = a;
					temp_name = h->name;
				}
			} else if (perm == NULL) {
				perm = a;
				perm_name = h->name;
			}
		}
	}
full:
	if (r->count > 0) {
		r->status = DNS_MX_OK;
		if (temp != NULL)
			r->error = dns_mx_reason(temp_name, temp->type, temp);
		dns_mx_finish(mx, r);
		return;
	}
	if (temp != NULL) {
		r->status = DNS_MX_TEMPFAIL;
		snprintf(r->dsn, sizeof(r->dsn), "4.4.3");
		r->error = dns_mx_reason(temp_name, temp->type, temp);
	} else {
		r->status = DNS_MX_PERMFAIL;
		snprintf(r->dsn, sizeof(r->dsn), "5.4.4");
		if (perm != NULL)
			r->error = dns_mx_reason(perm_name, perm->type, perm);
		else
			r->error = xasprintf("Host or domain name not found. "
					     "Name service error for name=%s: "
					     "invalid host or domain name",
					     mx->skipped != NULL ? mx->skipped
								 : mx->domain);
	}
	dns_mx_finish(mx, r);
}

static void
dns_mx_addr_cb(void *ctx, struct dns_answer *answer)
{
	struct dns_mx_host *h = ctx;
	struct dns_mx_lookup *mx = h->mx;
	int f = answer->type == DNS_TYPE_AAAA ? 1 : 0;

	h->q[f] = NULL;
	h->answer[f] = answer;
	if (--mx->pending == 0)
		dns_mx_done(mx);
}

static int
dns_mx_host_cmp(const void *a, const void *b)
{
	const struct dns_mx_host *x = a, *y = b;

	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	if (x->tiebreak != y->tiebreak)
		return x->tiebreak < y->tiebreak ? -1 : 1;
	return 0;
}

static void
dns_mx_add_host(struct dns_mx_lookup *mx, const char *name,
		unsigned int preference)
{
	struct dns_mx_host *h;

	if (mx->nhosts >= DNS_MX_MAX_HOSTS)
		return;
	h = &mx->hosts[mx->nhosts++];
	h->mx = mx;
	h->name = xstrdup(name);
	h->preference = preference;
	h->tiebreak = arc4random();
}

static void
dns_mx_skip(struct dns_mx_lookup *mx, const char *name)
{
	if (mx->skipped == NULL)
		mx->skipped = xstrdup(name);
}

/* Takes the MX records: Null MX, name checks, order, "found myself". */
static int
dns_mx_hosts(struct dns_mx_lookup *mx, const struct dns_answer *a)
{
	struct dns_mx_host all[DNS_MAX_RECORDS];
	unsigned int n = 0;

	if (a->count == 1 && strcmp(a->records[0].name, ".") == 0) {
		dns_mx_fail(mx, DNS_MX_PERMFAIL, "5.1.10",
			    xasprintf("Domain %s does not accept mail "
				      "(nullMX)",
				      mx->domain));
		return -1;
	}
	memset(all, 0, sizeof(all));
	for (unsigned int i = 0; i < a->count && n < DNS_MAX_RECORDS; i++) {
		const struct dns_record *rec = &a->records[i];

		/* A "." among other MX records is not a Null MX
		 * (RFC 7505 3): it leads nowhere and is ignored. */
		if (strcmp(rec->name, ".") == 0)
			continue;
		if (dns_rr_is_address(rec->name) ||
		    !dns_rr_hostname_valid(rec->name)) {
			dns_mx_skip(mx, rec->name);
			continue;
		}
		all[n].name = rec->name;
		all[n].preference = rec->preference;
		all[n].tiebreak = arc4random();
		n++;
	}
	qsort(all, n, sizeof(all[0]), dns_mx_host_cmp);
	if (mx->myhostname != NULL) {
		for (unsigned int i = 0; i < n; i++) {
			if (strcasecmp(all[i].name, mx->myhostname) != 0)
				continue;
			/* Only hosts more preferred than ourselves. */
			while (i > 0 &&
			       all[i - 1].preference == all[i].preference)
				i--;
			if (i == 0) {
				dns_mx_fail(mx, DNS_MX_PERMFAIL, "5.4.6",
					    xasprintf("mail for %s loops back "
						      "to myself",
						      mx->domain));
				return -1;
			}
			n = i;
			break;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		dns_mx_add_host(mx, all[i].name, all[i].preference);
	return 0;
}

static void
dns_mx_start_hosts(struct dns_mx_lookup *mx)
{
	static const int types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
	bool want[2] = {mx->set.ipv4, mx->set.ipv6};

	for (unsigned int i = 0; i < mx->nhosts; i++) {
		struct dns_mx_host *h = &mx->hosts[i];

		for (int f = 0; f < 2; f++) {
			const char *error;

			if (!want[f])
				continue;
			h->q[f] = dns_lookup(mx->res, h->name, types[f],
					     dns_mx_addr_cb, h, &error);
			if (h->q[f] != NULL)
				mx->pending++;
		}
	}
	if (mx->pending == 0)
		dns_mx_done(mx);
}

static void
dns_mx_mx_cb(void *ctx, struct dns_answer *a)
{
	struct dns_mx_lookup *mx = ctx;

	mx->mxq = NULL;
	switch (a->status) {
	case DNS_TEMPFAIL:
	case DNS_MALFORMED:
		dns_mx_fail(mx, DNS_MX_TEMPFAIL, "4.4.3",
			    dns_mx_reason(mx->domain, DNS_TYPE_MX, a));
		break;
	case DNS_NXDOMAIN:
		dns_mx_fail(mx, DNS_MX_PERMFAIL, "5.4.4",
			    dns_mx_reason(mx->domain, DNS_TYPE_MX, a));
		break;
	case DNS_NODATA:
		/* RFC 5321 5.1: the domain itself is the implicit MX. */
		mx->implicit = true;
		dns_mx_add_host(mx, mx->domain, 0);
		dns_mx_start_hosts(mx);
		break;
	case DNS_FOUND:
		mx->mx_secure = a->secure;
		if (dns_mx_hosts(mx, a) == 0)
			dns_mx_start_hosts(mx);
		break;
	}
	dns_answer_free(&a);
}

struct dns_mx_lookup *
dns_mx_lookup(struct dns_resolver *res, const char *domain,
	      const struct dns_mx_settings *set, dns_mx_cb *cb, void *ctx,
	      const char **error_r)
{
	struct dns_mx_lookup *mx;
	size_t len = strlen(domain);
	char *name;

	if (len > 1 && domain[len - 1] == '.')
		len--;
	name = xstrndup(domain, len);
	if (!dns_rr_hostname_valid(name)) {
		xfree(&name);
		*error_r = "invalid domain name";
		return NULL;
	}
	if (!set->ipv4 && !set->ipv6) {
		xfree(&name);
		*error_r = "neither IPv4 nor IPv6 enabled";
		return NULL;
	}
	mx = xcalloc(1, sizeof(*mx));
	mx->res = res;
	mx->domain = name;
	mx->set = *set;
	if (set->myhostname != NULL && set->myhostname[0] != '\0')
		mx->myhostname = xstrdup(set->myhostname);
	mx->set.myhostname = NULL;
	mx->cb = cb;
	mx->ctx = ctx;
	mx->mxq = dns_lookup(res, name, DNS_TYPE_MX, dns_mx_mx_cb, mx, error_r);
	if (mx->mxq == NULL) {
		dns_mx_free(&mx);
		return NULL;
	}
	return mx;
}

void
dns_mx_lookup_cancel(struct dns_mx_lookup **lookupp)
{
	if (*lookupp != NULL)
		dns_mx_free(lookupp);
}

void
dns_mx_result_free(struct dns_mx_result **resultp)
{
	struct dns_mx_result *r = *resultp;

	if (r == NULL)
		return;
	for (unsigned int i = 0; i < r->count; i++)
		xfree(&r->addrs[i].host);
	xfree(&r->addrs);
	xfree(&r->error);
	xfree(resultp);
}

const char *
dns_mx_status_name(enum dns_mx_status status)
{
	switch (status) {
	case DNS_MX_OK:
		return "ok";
	case DNS_MX_TEMPFAIL:
		return "deferred";
	case DNS_MX_PERMFAIL:
		return "bounced";
	}
	return "unknown";
}
