/*
 * dns - asynchronous lookups over libunbound on the event loop (see
 * dns.h). libunbound runs its resolver in a thread and hands results back
 * through a pipe (ub_fd) that the loop watches; ub_process() then calls
 * our callback on the loop thread. Its results are hostile input and are
 * decoded only through dns_rr.c. Must not block the loop: no synchronous
 * ub_resolve().
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <unbound.h>

#include "mail/dns.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define DNS_CLASS_IN 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3

struct dns_resolver {
	struct event_loop *loop;
	struct ub_ctx *ub;
	struct event_io *io;
	unsigned int timeout_ms;
	struct dns_lookup *lookups; /* pending, doubly linked */
};

struct dns_lookup {
	struct dns_resolver *res;
	struct dns_lookup *prev, *next;
	int async_id;
	struct event_timer *timer;
	int type;
	char *name;
	dns_lookup_cb *cb;
	void *ctx;
};

static void
dns_io(void *ctx, int fd, unsigned int events)
{
	struct dns_resolver *res = ctx;
	int err;

	(void)fd;
	(void)events;
	if ((err = ub_process(res->ub)) != 0)
		log_warning("dns: ub_process: %s", ub_strerror(err));
}

/*
 * libunbound answers some special-use zones itself (RFC 6761 "test.",
 * "invalid.", the private-address reverse zones of RFC 1918/6303 ...) with
 * NXDOMAIN. We are a stub in front of the admin's resolver, which decides
 * what those names mean: a mail host on a private network needs its PTR
 * records, and the two-host test lives under "test.". localhost stays
 * local. ("nodefault" does not undo them in libunbound 1.17; an empty
 * "transparent" zone does.)
 */
static const char *const dns_undefault_zones[] = {
    "test.",
    "invalid.",
    "home.arpa.",
    "10.in-addr.arpa.",
    "16.172.in-addr.arpa.",
    "17.172.in-addr.arpa.",
    "18.172.in-addr.arpa.",
    "19.172.in-addr.arpa.",
    "20.172.in-addr.arpa.",
    "21.172.in-addr.arpa.",
    "22.172.in-addr.arpa.",
    "23.172.in-addr.arpa.",
    "24.172.in-addr.arpa.",
    "25.172.in-addr.arpa.",
    "26.172.in-addr.arpa.",
    "27.172.in-addr.arpa.",
    "28.172.in-addr.arpa.",
    "29.172.in-addr.arpa.",
    "30.172.in-addr.arpa.",
    "31.172.in-addr.arpa.",
    "168.192.in-addr.arpa.",
    "254.169.in-addr.arpa.",
    "2.0.192.in-addr.arpa.",
    "100.51.198.in-addr.arpa.",
    "113.0.203.in-addr.arpa.",
    "d.f.ip6.arpa.",
    "8.e.f.ip6.arpa.",
    "9.e.f.ip6.arpa.",
    "a.e.f.ip6.arpa.",
    "b.e.f.ip6.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
};

static int
dns_undefault(struct ub_ctx *ub)
{
	char zone[64];
	int err;

	for (size_t i = 0;
	     i < sizeof(dns_undefault_zones) / sizeof(dns_undefault_zones[0]);
	     i++) {
		snprintf(zone, sizeof(zone), "%s transparent",
			 dns_undefault_zones[i]);
		if ((err = ub_ctx_set_option(ub, "local-zone:", zone)) != 0)
			return err;
	}
	for (unsigned int n = 64; n <= 127; n++) {
		snprintf(zone, sizeof(zone), "%u.100.in-addr.arpa. transparent",
			 n);
		if ((err = ub_ctx_set_option(ub, "local-zone:", zone)) != 0)
			return err;
	}
	return 0;
}

static int
dns_set_resolvers(struct ub_ctx *ub, const char *list, char **error_r)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	int err, n = 0;

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if ((err = ub_ctx_set_fwd(ub, tok)) != 0) {
			*error_r = xasprintf("dns_resolver: %s: %s", tok,
					     ub_strerror(err));
			xfree(&copy);
			return -1;
		}
		n++;
	}
	xfree(&copy);
	if (n == 0) {
		*error_r = xstrdup("dns_resolver: no address");
		return -1;
	}
	return 0;
}

static void
dns_warmup_cb(void *arg, int err, struct ub_result *r)
{
	(void)arg;
	(void)err;
	if (r != NULL)
		ub_resolve_free(r);
}

struct dns_resolver *
dns_resolver_new(struct event_loop *loop, const struct dns_settings *set,
		 char **error_r)
{
	struct dns_resolver *res;
	struct ub_ctx *ub;
	int err;

	if ((ub = ub_ctx_create()) == NULL) {
		*error_r = xstrdup("dns: cannot create libunbound context");
		return NULL;
	}
	/* A thread, not a forked child: nothing outlives us or keeps our
	 * privileges after a uid change. */
	if ((err = ub_ctx_async(ub, 1)) != 0)
		goto ub_fail;
	/* Local resolvers (127.0.0.1, ::1) are the usual setup for a mail
	 * host, and the tests' DNS server lives there. */
	if ((err = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")) != 0)
		goto ub_fail;
	if ((err = dns_undefault(ub)) != 0)
		goto ub_fail;
	if (set->resolvers != NULL && set->resolvers[0] != '\0') {
		if (dns_set_resolvers(ub, set->resolvers, error_r) < 0) {
			ub_ctx_delete(ub);
			return NULL;
		}
	} else {
		const char *path =
		    set->resolv_conf != NULL && set->resolv_conf[0] != '\0'
			? set->resolv_conf
			: NULL;

		if ((err = ub_ctx_resolvconf(ub, path)) != 0) {
			*error_r =
			    xasprintf("dns: %s: %s",
				      path != NULL ? path : "/etc/resolv.conf",
				      ub_strerror(err));
			ub_ctx_delete(ub);
			return NULL;
		}
	}
	if (set->trust_anchor_file != NULL &&
	    set->trust_anchor_file[0] != '\0' &&
	    (err = ub_ctx_add_ta_file(ub, set->trust_anchor_file)) != 0) {
		*error_r = xasprintf("dns_trust_anchor_file: %s: %s",
				     set->trust_anchor_file, ub_strerror(err));
		ub_ctx_delete(ub);
		return NULL;
	}
	/* libunbound reads the trust anchor file and starts its thread only
	 * with the first query: make that happen now (before chroot, and so
	 * a bad file fails here). "localhost" is answered locally. */
	if ((err = ub_resolve_async(ub, "localhost", 1, DNS_CLASS_IN, NULL,
				    dns_warmup_cb, NULL)) != 0) {
		*error_r = xasprintf("dns: libunbound initialization%s%s: %s",
				     set->trust_anchor_file != NULL &&
					     set->trust_anchor_file[0] != '\0'
					 ? " with dns_trust_anchor_file "
					 : "",
				     set->trust_anchor_file != NULL
					 ? set->trust_anchor_file
					 : "",
				     ub_strerror(err));
		ub_ctx_delete(ub);
		return NULL;
	}
	res = xcalloc(1, sizeof(*res));
	res->loop = loop;
	res->ub = ub;
	res->timeout_ms =
	    set->timeout_ms != 0 ? set->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
	res->io = event_io_add(loop, ub_fd(ub), EVENT_READ, dns_io, res);
	return res;
ub_fail:
	*error_r = xasprintf("dns: libunbound: %s", ub_strerror(err));
	ub_ctx_delete(ub);
	return NULL;
}

static void
dns_lookup_unlink_free(struct dns_lookup *l)
{
	struct dns_resolver *res = l->res;

	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		res->lookups = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	event_timer_del(&l->timer);
	xfree(&l->name);
	xfree(&l);
}

void
dns_resolver_free(struct dns_resolver **resp)
{
	struct dns_resolver *res = *resp;

	if (res == NULL)
		return;
	while (res->lookups != NULL) {
		struct dns_lookup *l = res->lookups;

		dns_lookup_cancel(&l);
	}
	event_io_del(&res->io);
	ub_ctx_delete(res->ub);
	xfree(resp);
}

static char *
dns_strip_dot(const char *name)
{
	size_t len = strlen(name);

	if (len > 1 && name[len - 1] == '.')
		len--;
	return xstrndup(name, len);
}

/* Decodes one rdata item into rec; -1 with *error_r when malformed. */
static int
dns_decode(int type, const uint8_t *rdata, size_t len, struct dns_record *rec,
	   const char **error_r)
{
	char name[DNS_RR_NAME_SIZE];

	rec->type = type;
	switch (type) {
	case DNS_TYPE_A:
		rec->family = AF_INET;
		return dns_rr_a(rdata, len, &rec->addr.v4, error_r);
	case DNS_TYPE_AAAA:
		rec->family = AF_INET6;
		return dns_rr_aaaa(rdata, len, &rec->addr.v6, error_r);
	case DNS_TYPE_MX: {
		struct dns_rr_mx mx;

		if (dns_rr_mx(rdata, len, &mx, error_r) < 0)
			return -1;
		rec->preference = mx.preference;
		rec->name = xstrdup(mx.exchange);
		return 0;
	}
	case DNS_TYPE_PTR:
	case DNS_TYPE_CNAME:
		if (dns_rr_ptr(rdata, len, name, sizeof(name), error_r) < 0)
			return -1;
		rec->name = xstrdup(name);
		return 0;
	case DNS_TYPE_TXT: {
		struct strbuf sb;

		strbuf_init(&sb, DNS_MAX_TXT);
		if (dns_rr_txt(rdata, len, &sb, &rec->txt_strings, error_r) <
		    0) {
			strbuf_release(&sb);
			return -1;
		}
		rec->data_len = sb.len;
		rec->data = xmemdup(sb.len > 0 ? sb.data : "", sb.len + 1);
		rec->data[sb.len] = '\0';
		strbuf_release(&sb);
		return 0;
	}
	case DNS_TYPE_TLSA: {
		struct dns_rr_tlsa tlsa;

		if (dns_rr_tlsa(rdata, len, &tlsa, error_r) < 0)
			return -1;
		rec->tlsa_usage = tlsa.usage;
		rec->tlsa_selector = tlsa.selector;
		rec->tlsa_mtype = tlsa.mtype;
		rec->data = xmemdup(tlsa.data, tlsa.data_len);
		rec->data_len = tlsa.data_len;
		return 0;
	}
	default:
		*error_r = "unsupported record type";
		return -1;
	}
}

static const char *
dns_rcode_name(int rcode)
{
	static const char *const names[] = {"NOERROR",	"FORMERR", "SERVFAIL",
					    "NXDOMAIN", "NOTIMP",  "REFUSED"};

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	return "error";
}

static void
dns_answer_fill(struct dns_answer *a, struct ub_result *r)
{
	const char *why = NULL;
	unsigned int n = 0;

	a->rcode = r->rcode;
	a->secure = r->secure != 0;
	a->bogus = r->bogus != 0;
	if (r->canonname != NULL)
		a->canonname = dns_strip_dot(r->canonname);
	if (a->bogus) {
		a->status = DNS_TEMPFAIL;
		a->error =
		    xasprintf("DNSSEC validation failed: %.200s",
			      r->why_bogus != NULL ? r->why_bogus : "bogus");
		return;
	}
	if (r->rcode == DNS_RCODE_NXDOMAIN || (r->nxdomain && !r->havedata)) {
		a->status = DNS_NXDOMAIN;
		a->error = xstrdup("Host not found");
		return;
	}
	if (r->rcode != 0) {
		a->status = DNS_TEMPFAIL;
		a->error = xasprintf("%s", dns_rcode_name(r->rcode));
		return;
	}
	if (!r->havedata || r->data == NULL || r->data[0] == NULL) {
		a->status = DNS_NODATA;
		a->error =
		    xasprintf("No %s record found", dns_rr_type_name(a->type));
		return;
	}
	while (n < DNS_MAX_RECORDS && r->data[n] != NULL)
		n++;
	a->records = xcalloc(n, sizeof(*a->records));
	for (unsigned int i = 0; i < n; i++) {
		struct dns_record *rec = &a->records[a->count];
		const char *error;

		if (r->len[i] < 0 ||
		    dns_decode(a->type, (const uint8_t *)r->data[i],
			       (size_t)r->len[i], rec, &error) < 0) {
			xfree(&rec->name);
			xfree(&rec->data);
			memset(rec, 0, sizeof(*rec));
			if (why == NULL)
				why = r->len[i] < 0 ? "bad length" : error;
			a->malformed++;
			continue;
		}
		rec->ttl = r->ttl > 0 ? (unsigned int)r->ttl : 0;
		a->count++;
	}
	if (why != NULL)
		a->error = xasprintf("Malformed %s record: %s",
				     dns_rr_type_name(a->type), why);
	a->status = a->count > 0 ? DNS_FOUND : DNS_MALFORMED;
}

static struct dns_answer *
dns_answer_new(const struct dns_lookup *l)
{
	struct dns_answer *a = xcalloc(1, sizeof(*a));

	a->type = l->type;
	a->qname = xstrdup(l->name);
	return a;
}

static void
dns_ub_callback(void *arg, int err, struct ub_result *r)
{
	struct dns_lookup *l = arg;
	struct dns_answer *a = dns_answer_new(l);
	dns_lookup_cb *cb = l->cb;
	void *ctx = l->ctx;

	if (err != 0 || r == NULL) {
		a->status = DNS_TEMPFAIL;
		a->rcode = DNS_RCODE_SERVFAIL;
		a->error = xasprintf("resolver error: %s", ub_strerror(err));
	} else {
		dns_answer_fill(a, r);
	}
	if (r != NULL)
		ub_resolve_free(r);
	dns_lookup_unlink_free(l);
	cb(ctx, a);
}

static void
dns_timeout(void *ctx)
{
	struct dns_lookup *l = ctx;
	struct dns_answer *a = dns_answer_new(l);
	dns_lookup_cb *cb = l->cb;
	void *cb_ctx = l->ctx;

	/* In thread mode the query is only marked: a late answer is dropped
	 * by ub_process() without calling us. */
	(void)ub_cancel(l->res->ub, l->async_id);
	a->status = DNS_TEMPFAIL;
	a->error = xstrdup("timeout");
	dns_lookup_unlink_free(l);
	cb(cb_ctx, a);
}

static bool
dns_type_supported(int type)
{
	switch (type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
	case DNS_TYPE_MX:
	case DNS_TYPE_PTR:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_TXT:
	case DNS_TYPE_TLSA:
		return true;
	default:
		return false;
	}
}

struct dns_lookup *
dns_lookup(struct dns_resolver *res, const char *name, int type,
	   dns_lookup_cb *cb, void *ctx, const char **error_r)
{
	struct dns_lookup *l;
	size_t len = strlen(name);
	int err;

	if (len == 0 || len > 254 || (len == 254 && name[253] != '.')) {
		*error_r = "invalid domain name length";
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f) {
			*error_r = "invalid character in domain name";
			return NULL;
		}
	}
	if (!dns_type_supported(type)) {
		*error_r = "unsupported record type";
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->res = res;
	l->type = type;
	l->name = dns_strip_dot(name);
	l->cb = cb;
	l->ctx = ctx;
	if ((err = ub_resolve_async(res->ub, name, type, DNS_CLASS_IN, l,
				    dns_ub_callback, &l->async_id)) != 0) {
		*error_r = ub_strerror(err);
		xfree(&l->name);
		xfree(&l);
		return NULL;
	}
	l->next = res->lookups;
	if (l->next != NULL)
		l->next->prev = l;
	res->lookups = l;
	l->timer =
	    event_timer_add(res->loop, res->timeout_ms, false, dns_timeout, l);
	return l;
}

void
dns_lookup_cancel(struct dns_lookup **lookupp)
{
	struct dns_lookup *l = *lookupp;

	if (l == NULL)
		return;
	(void)ub_cancel(l->res->ub, l->async_id);
	dns_lookup_unlink_free(l);
	*lookupp = NULL;
}

void
dns_answer_free(struct dns_answer **answerp)
{
	struct dns_answer *a = *answerp;

	if (a == NULL)
		return;
	for (unsigned int i = 0; i < a->count; i++) {
		xfree(&a->records[i].name);
		xfree(&a->records[i].data);
	}
	xfree(&a->records);
	xfree(&a->qname);
	xfree(&a->canonname);
	xfree(&a->error);
	xfree(answerp);
}

const char *
dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_FOUND:
		return "found";
	case DNS_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_NODATA:
		return "NODATA";
	case DNS_TEMPFAIL:
		return "temporary failure";
	case DNS_MALFORMED:
		return "malformed";
	}
	return "unknown";
}
