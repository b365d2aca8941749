/*
 * dns_mx - the smtp client's next-hop lookup for a domain (RFC 5321 5.1):
 * MX records sorted by preference with random order among equal ones,
 * Null MX (RFC 7505) as a permanent failure, no MX -> the domain's own
 * A/AAAA as an implicit MX, then every MX host's addresses. The result is
 * the ordered list of (host, address, preference) to try. DNS answers are
 * hostile: names are checked as Postfix checks them, record counts are
 * bounded. Lookup failures that may heal (SERVFAIL, timeout, DNSSEC
 * bogus) are temporary and never turn into a bounce.
 */
#ifndef DNS_MX_H
#define DNS_MX_H

#include <stdbool.h>
#include <netinet/in.h>

#include "mail/dns.h"

/* MX hosts whose addresses are looked up (the most preferred ones). */
#define DNS_MX_MAX_HOSTS 20

enum dns_mx_order {
	DNS_MX_IPV4_FIRST, /* per host: IPv4 addresses, then IPv6 */
	DNS_MX_IPV6_FIRST,
};

struct dns_mx_settings {
	bool ipv4, ipv6; /* inet_protocols; at least one */
	enum dns_mx_order order;
	/* Addresses in the result at most (Postfix smtp_mx_address_limit);
	 * 0 = no limit. */
	unsigned int max_addresses;
	/* When an MX host has this name (case-insensitive), it and all
	 * hosts of equal or worse preference are dropped (Postfix's "found
	 * myself" rule, by name); NULL = no check. */
	const char *myhostname;
};

enum dns_mx_status {
	DNS_MX_OK,
	DNS_MX_TEMPFAIL, /* defer */
	DNS_MX_PERMFAIL, /* bounce */
};

struct dns_mx_addr {
	char *host; /* MX host name (or the domain for an implicit MX) */
	unsigned int preference;
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	char text[INET6_ADDRSTRLEN]; /* the address in text form */
	/* DNSSEC: the MX RRset (unless implicit) and this address were
	 * validated. */
	bool secure;
};

struct dns_mx_result {
	enum dns_mx_status status;
	/* RFC 3463 status for a failure ("4.4.3", "5.1.10", "5.4.4", ...);
	 * "" when OK. */
	char dsn[16];
	/* Postfix-like reason for a failure (or, when OK, notes about hosts
	 * that failed); NULL when there is nothing to say. */
	char *error;
	bool implicit_mx; /* no MX: the domain's own addresses */
	bool mx_secure;	  /* the MX RRset was DNSSEC-validated */
	unsigned int count;
	struct dns_mx_addr *addrs; /* in the order to try */
};

struct dns_mx_lookup;
/* The callback owns result and frees it with dns_mx_result_free(). */
typedef void dns_mx_cb(void *ctx, struct dns_mx_result *result);

/*
 * Starts the lookup of domain's mail exchangers through res. The callback
 * is called once, later, from the loop. Returns NULL with *error_r (static)
 * when the lookup cannot start (bad domain name). An address literal
 * domain is not handled here (the caller connects to it directly).
 */
struct dns_mx_lookup *dns_mx_lookup(struct dns_resolver *res,
				    const char *domain,
				    const struct dns_mx_settings *set,
				    dns_mx_cb *cb, void *ctx,
				    const char **error_r);
/* Cancels a pending lookup; the callback is not called. */
void dns_mx_lookup_cancel(struct dns_mx_lookup **lookupp);
void dns_mx_result_free(struct dns_mx_result **resultp);
/* "ok", "deferred", "bounced" */
const char *dns_mx_status_name(enum dns_mx_status status);

#endif
