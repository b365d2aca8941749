/*
 * dns - asynchronous DNS lookups over libunbound, on the event loop. One
 * resolver per process: queries go to the configured recursive resolvers
 * (or those in /etc/resolv.conf), optionally with DNSSEC validation against
 * a trust anchor file. Each lookup ends in exactly one callback with a
 * found / NXDOMAIN / NODATA / temporary failure answer; a lookup that takes
 * longer than the timeout ends as a temporary failure. Answers are hostile
 * input: their rdata is decoded by dns_rr.c with bounds checks.
 *
 * Configuration (the smtp client maps its parameters onto this):
 *   dns_resolver    resolver addresses, "ip[@port]" separated by commas or
 *                   spaces, e.g. "127.0.0.1@5353, ::1"; empty = the
 *                   nameservers of /etc/resolv.conf
 *   dns_trust_anchor_file  DNSSEC trust anchor file (zone-file format DS or
 *                   DNSKEY records, e.g. /usr/share/dns/root.key); empty =
 *                   no validation (answers are never "secure")
 *   dns_timeout     per-lookup limit
 */
#ifndef DNS_H
#define DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "mail/dns_rr.h"
#include "util/event.h"

#define DNS_DEFAULT_TIMEOUT_MS 30000
/* Upper bound on the records taken from one answer; the rest are dropped. */
#define DNS_MAX_RECORDS 100
/* Upper bound on one TXT record's text. */
#define DNS_MAX_TXT 65536

struct dns_resolver;
struct dns_lookup;

struct dns_settings {
	/* "ip[@port]" list, or NULL / "" for resolv.conf. */
	const char *resolvers;
	/* NULL / "" = /etc/resolv.conf (a test may point elsewhere). */
	const char *resolv_conf;
	/* NULL / "" = no DNSSEC validation. */
	const char *trust_anchor_file;
	/* Milliseconds per lookup; 0 = DNS_DEFAULT_TIMEOUT_MS. */
	unsigned int timeout_ms;
};

enum dns_status {
	DNS_FOUND,     /* at least one record of the type */
	DNS_NXDOMAIN,  /* the name does not exist (permanent) */
	DNS_NODATA,    /* the name exists, no record of the type (permanent) */
	DNS_TEMPFAIL,  /* SERVFAIL, REFUSED, timeout, DNSSEC bogus, ... */
	DNS_MALFORMED, /* records came back but none could be decoded */
};

struct dns_record {
	int type;
	unsigned int ttl;
	/* A / AAAA */
	int family; /* AF_INET, AF_INET6 or 0 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	/* MX preference */
	unsigned int preference;
	/* MX exchange, PTR target (text form, see dns_rr_name()) */
	char *name;
	/* TXT: strings concatenated, NUL-terminated (may hold NUL: use
	 * data_len); TLSA: association data */
	unsigned char *data;
	size_t data_len;
	unsigned int txt_strings;
	/* TLSA */
	uint8_t tlsa_usage, tlsa_selector, tlsa_mtype;
};

struct dns_answer {
	enum dns_status status;
	int type;
	char *qname;
	/* Name the records belong to after CNAMEs, without trailing dot;
	 * NULL when there was no alias. */
	char *canonname;
	int rcode; /* DNS RCODE as reported; 0 NOERROR */
	/* DNSSEC: secure = validated (also for a proven NXDOMAIN/NODATA);
	 * bogus = validation failed (status is then DNS_TEMPFAIL). */
	bool secure, bogus;
	/* Why a lookup failed or records were dropped; NULL when found. */
	char *error;
	unsigned int malformed; /* records dropped as undecodable */
	unsigned int count;
	struct dns_record *records;
};

/* The callback owns answer and frees it with dns_answer_free(). */
typedef void dns_lookup_cb(void *ctx, struct dns_answer *answer);

/*
 * Creates the resolver on loop (libunbound context in thread mode; its
 * result pipe is watched on the loop). Reads resolv.conf and the trust
 * anchor file now, so it may be called before chroot. Returns NULL with
 * *error_r (allocated; caller frees with xfree) on a bad resolver address
 * or unreadable file.
 */
struct dns_resolver *dns_resolver_new(struct event_loop *loop,
				      const struct dns_settings *set,
				      char **error_r);
/* Cancels all pending lookups (their callbacks are not called) and frees
 * the resolver. Must not be called from a lookup callback. */
void dns_resolver_free(struct dns_resolver **resp);

/*
 * Starts a lookup of name (text form, trailing dot optional, at most 253
 * characters) for type (DNS_TYPE_*). The callback is always called later
 * from the loop, never from inside dns_lookup(). Returns a handle valid
 * until the callback runs or dns_lookup_cancel(), or NULL with *error_r
 * (static) when the lookup cannot start (bad name, unsupported type).
 */
struct dns_lookup *dns_lookup(struct dns_resolver *res, const char *name,
			      int type, dns_lookup_cb *cb, void *ctx,
			      const char **error_r);
/* Cancels a pending lookup; its callback is not called. *lookupp = NULL. */
void dns_lookup_cancel(struct dns_lookup **lookupp);

void dns_answer_free(struct dns_answer **answerp);
/* "found", "NXDOMAIN", "NODATA", "temporary failure", "malformed". */
const char *dns_status_name(enum dns_status status);

#endif
