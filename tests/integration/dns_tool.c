/*
 * dns_tool - test helper that drives lib/mail/dns.c and dns_mx.c on an
 * event loop and prints the answers in a line format test_dns.py parses.
 * Trusts its command line (tests only); prints DNS data escaped.
 *
 *   dns_tool [-r resolvers] [-t timeout_ms] [-T trust_anchor_file]
 *            [-C resolv.conf] [-4] [-6] [-o6] [-m max_addresses] [-H
 * myhostname] lookup TYPE NAME | mx DOMAIN [REPEAT] | reverse ADDR | cancel
 * NAME WAIT_MS
 *
 * lookup prints "status=S rcode=N secure=0|1 bogus=0|1 count=N", then one
 * line per record ("A addr", "MX pref name", "PTR name", "TXT n text",
 * "TLSA u s m hex"), then "error=..." when there is one.
 * mx prints, per repetition, "mx status=S dsn=D implicit=0|1 count=N
 * mx_secure=0|1", then "addr PREF HOST ADDR secure=0|1" lines, then
 * "error=..." when there is one. reverse prints the PTR query name.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dns.h"
#include "mail/dns_mx.h"
#include "util/event.h"

static struct event_loop *loop;
static struct dns_resolver *res;
static struct dns_mx_settings mxset = {.ipv4 = true, .ipv6 = true};
static const char *mx_domain;
static int mx_left;

static void
print_escaped(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 0x21 && p[i] < 0x7f && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\%03u", p[i]);
	}
}

static void
lookup_cb(void *ctx, struct dns_answer *a)
{
	char text[INET6_ADDRSTRLEN];

	(void)ctx;
	printf("status=%s rcode=%d secure=%d bogus=%d count=%u\n",
	       dns_status_name(a->status), a->rcode, a->secure, a->bogus,
	       a->count);
	for (unsigned int i = 0; i < a->count; i++) {
		const struct dns_record *r = &a->records[i];

		switch (r->type) {
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			inet_ntop(r->family, &r->addr, text, sizeof(text));
			printf("%s %s\n", dns_rr_type_name(r->type), text);
			break;
		case DNS_TYPE_MX:
			printf("MX %u %s\n", r->preference, r->name);
			break;
		case DNS_TYPE_PTR:
		case DNS_TYPE_CNAME:
			printf("%s %s\n", dns_rr_type_name(r->type), r->name);
			break;
		case DNS_TYPE_TXT:
			printf("TXT %u ", r->txt_strings);
			print_escaped(r->data, r->data_len);
			putchar('\n');
			break;
		case DNS_TYPE_TLSA:
			printf("TLSA %u %u %u ", r->tlsa_usage,
			       r->tlsa_selector, r->tlsa_mtype);
			for (size_t k = 0; k < r->data_len; k++)
				printf("%02x", r->data[k]);
			putchar('\n');
			break;
		}
	}
	if (a->error != NULL)
		printf("error=%s\n", a->error);
	dns_answer_free(&a);
	event_loop_stop(loop);
}

static void mx_next(void);

static void
mx_cb(void *ctx, struct dns_mx_result *r)
{
	(void)ctx;
	printf("mx status=%s dsn=%s implicit=%d count=%u mx_secure=%d\n",
	       dns_mx_status_name(r->status), r->dsn, r->implicit_mx, r->count,
	       r->mx_secure);
	for (unsigned int i = 0; i < r->count; i++)
		printf("addr %u %s %s secure=%d\n", r->addrs[i].preference,
		       r->addrs[i].host, r->addrs[i].text, r->addrs[i].secure);
	if (r->error != NULL)
		printf("error=%s\n", r->error);
	dns_mx_result_free(&r);
	mx_next();
}

static void
mx_next(void)
{
	const char *error;

	if (mx_left-- <= 0) {
		event_loop_stop(loop);
		return;
	}
	if (dns_mx_lookup(res, mx_domain, &mxset, mx_cb, NULL, &error) ==
	    NULL) {
		printf("mx start failed: %s\n", error);
		event_loop_stop(loop);
	}
}

static void
cancelled_lookup_cb(void *ctx, struct dns_answer *a)
{
	(void)ctx;
	printf("callback after cancel: %s\n", a->qname);
	dns_answer_free(&a);
}

static void
cancelled_mx_cb(void *ctx, struct dns_mx_result *r)
{
	(void)ctx;
	printf("mx callback after cancel\n");
	dns_mx_result_free(&r);
}

static void
cancel_done(void *ctx)
{
	(void)ctx;
	printf("cancel done\n");
	event_loop_stop(loop);
}

/*
 * "cancel NAME WAIT_MS": starts an A lookup and an MX lookup of NAME,
 * cancels both at once (their answers, if any, arrive later and must be
 * dropped), waits WAIT_MS, then leaves one lookup pending for
 * dns_resolver_free(). Any callback prints a line the test looks for.
 */
static void
cancel_test(const char *name, unsigned int wait_ms)
{
	struct dns_lookup *l;
	struct dns_mx_lookup *m;
	const char *error;

	l = dns_lookup(res, name, DNS_TYPE_A, cancelled_lookup_cb, NULL,
		       &error);
	m = dns_mx_lookup(res, name, &mxset, cancelled_mx_cb, NULL, &error);
	if (l == NULL || m == NULL) {
		printf("cancel start failed\n");
		exit(1);
	}
	dns_lookup_cancel(&l);
	dns_mx_lookup_cancel(&m);
	if (l != NULL || m != NULL)
		printf("handle not cleared\n");
	(void)event_timer_add(loop, wait_ms, false, cancel_done, NULL);
	event_loop_run(loop);
	(void)dns_lookup(res, name, DNS_TYPE_MX, cancelled_lookup_cb, NULL,
			 &error);
}

static int
type_of(const char *s)
{
	static const int types[] = {DNS_TYPE_A,	   DNS_TYPE_AAAA, DNS_TYPE_MX,
				    DNS_TYPE_PTR,  DNS_TYPE_TXT,  DNS_TYPE_TLSA,
				    DNS_TYPE_CNAME};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(s, dns_rr_type_name(types[i])) == 0)
			return types[i];
	return atoi(s);
}

static void
usage(void)
{
	fprintf(stderr, "usage: dns_tool [-r resolvers] [-t ms] [-T file] "
			"[-4] [-6] [-o6] [-m n] [-H host] "
			"lookup TYPE NAME | mx DOMAIN [REPEAT] | "
			"reverse ADDR | cancel NAME WAIT_MS\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct dns_settings set = {0};
	bool only4 = false, only6 = false;
	char *error = NULL;
	const char *lerror;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];

		if (strcmp(o, "-4") == 0)
			only4 = true;
		else if (strcmp(o, "-6") == 0)
			only6 = true;
		else if (strcmp(o, "-o6") == 0)
			mxset.order = DNS_MX_IPV6_FIRST;
		else if (i + 1 >= argc)
			usage();
		else if (strcmp(o, "-r") == 0)
			set.resolvers = argv[++i];
		else if (strcmp(o, "-t") == 0)
			set.timeout_ms = (unsigned int)atoi(argv[++i]);
		else if (strcmp(o, "-T") == 0)
			set.trust_anchor_file = argv[++i];
		else if (strcmp(o, "-C") == 0)
			set.resolv_conf = argv[++i];
		else if (strcmp(o, "-m") == 0)
			mxset.max_addresses = (unsigned int)atoi(argv[++i]);
		else if (strcmp(o, "-H") == 0)
			mxset.myhostname = argv[++i];
		else
			usage();
	}
	if (only4)
		mxset.ipv6 = false;
	if (only6)
		mxset.ipv4 = false;
	if (i + 2 > argc)
		usage();
	if (strcmp(argv[i], "reverse") == 0) {
		unsigned char addr[16];
		char name[DNS_RR_REVERSE_SIZE];
		int family = strchr(argv[i + 1], ':') ? AF_INET6 : AF_INET;

		if (inet_pton(family, argv[i + 1], addr) != 1 ||
		    dns_rr_reverse_name(family, addr, name, sizeof(name)) < 0)
			usage();
		printf("%s\n", name);
		return 0;
	}
	loop = event_loop_new();
	if ((res = dns_resolver_new(loop, &set, &error)) == NULL) {
		printf("resolver failed: %s\n", error);
		free(error);
		event_loop_free(&loop);
		return 1;
	}
	if (strcmp(argv[i], "lookup") == 0 && i + 3 == argc) {
		if (dns_lookup(res, argv[i + 2], type_of(argv[i + 1]),
			       lookup_cb, NULL, &lerror) == NULL) {
			printf("lookup start failed: %s\n", lerror);
			dns_resolver_free(&res);
			event_loop_free(&loop);
			return 1;
		}
	} else if (strcmp(argv[i], "cancel") == 0 && i + 3 == argc) {
		cancel_test(argv[i + 1], (unsigned int)atoi(argv[i + 2]));
		dns_resolver_free(&res);
		event_loop_free(&loop);
		return 0;
	} else if (strcmp(argv[i], "mx") == 0 && i + 3 >= argc) {
		mx_domain = argv[i + 1];
		mx_left = i + 3 == argc ? atoi(argv[i + 2]) : 1;
		mx_next();
	} else {
		usage();
	}
	event_loop_run(loop);
	dns_resolver_free(&res);
	event_loop_free(&loop);
	fflush(stdout);
	return 0;
}
