/*
 * dns_rr - decodes the rdata of the DNS resource records the mail system
 * uses (A, AAAA, MX, PTR, TXT, TLSA) into plain structs. The rdata comes
 * from a DNS answer, which is hostile input: every length is checked
 * against the rdata length, names are decoded only in their uncompressed
 * wire form (as libunbound hands them out) and bounded to 255 octets.
 * Pure: no I/O, no logging, no globals, no allocation except into a
 * caller's strbuf.
 */
#ifndef DNS_RR_H
#define DNS_RR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "util/strbuf.h"

/* RR types, host order. */
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_PTR 12
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_TLSA 52

/* A wire name is at most 255 octets; its text form escapes a byte as at
 * most 4 characters ("\DDD"), so this buffer holds any decoded name. */
#define DNS_RR_NAME_SIZE 1024

struct dns_rr_mx {
	unsigned int preference;
	/* Exchange in text form without the trailing dot; the root name
	 * (Null MX, RFC 7505) is ".". */
	char exchange[DNS_RR_NAME_SIZE];
};

struct dns_rr_tlsa {
	uint8_t usage;	     /* 0..3 are defined (RFC 6698/7218) */
	uint8_t selector;    /* 0 full certificate, 1 SubjectPublicKeyInfo */
	uint8_t mtype;	     /* 0 full, 1 SHA2-256, 2 SHA2-512 */
	const uint8_t *data; /* points into the rdata passed in */
	size_t data_len;
};

/*
 * Decodes a wire-format name starting at rdata[*pos] (at most len bytes
 * of rdata) into buf (size bytes; DNS_RR_NAME_SIZE always suffices) in
 * text form: labels joined with '.', no trailing dot, the root as ".".
 * Letters, digits, '-', '_' and other printable ASCII are copied; '.',
 * '\\' and any other byte are escaped as "\." / "\\" / "\DDD", so the text
 * never contains a control character. Advances *pos past the name.
 * Returns 0, or -1 with *error_r (static) on: a compression pointer or
 * extended label type, a label running past len, a name over 255 octets,
 * or buf too small.
 */
int dns_rr_name(const uint8_t *rdata, size_t len, size_t *pos, char *buf,
		size_t size, const char **error_r);

/* Each returns 0, or -1 with *error_r (static) on malformed rdata: wrong
 * length, trailing bytes, bad name. */
int dns_rr_a(const uint8_t *rdata, size_t len, struct in_addr *addr_r,
	     const char **error_r);
int dns_rr_aaaa(const uint8_t *rdata, size_t len, struct in6_addr *addr_r,
		const char **error_r);
int dns_rr_mx(const uint8_t *rdata, size_t len, struct dns_rr_mx *mx_r,
	      const char **error_r);
/* PTR or CNAME target into name_r (size bytes). */
int dns_rr_ptr(const uint8_t *rdata, size_t len, char *name_r, size_t size,
	       const char **error_r);
/*
 * TXT: appends the character-strings, concatenated without separator (as
 * SPF and DKIM read them), to out, and sets *nstrings_r. Bytes are copied
 * as they are (they may include NUL; use out->len). Fails on empty rdata,
 * a string running past len, or when out's maximum is reached.
 */
int dns_rr_txt(const uint8_t *rdata, size_t len, struct strbuf *out,
	       unsigned int *nstrings_r, const char **error_r);
/*
 * TLSA: the three fields and the association data (pointing into rdata).
 * Fails when the data is empty, or when its length does not match a
 * SHA2-256 (32) or SHA2-512 (64) matching type. Unknown usages, selectors
 * and matching types are returned as they are (RFC 7671: the DANE layer
 * treats them as unusable).
 */
int dns_rr_tlsa(const uint8_t *rdata, size_t len, struct dns_rr_tlsa *tlsa_r,
		const char **error_r);

/*
 * True when name (text form as produced by dns_rr_name()) is a valid host
 * name as Postfix's valid_hostname() sees it: 1..255 characters, labels of
 * 1..63 letters, digits, '-' or '_', not starting or ending with '-', and
 * not all-numeric (a dotted quad is an address, not a name).
 */
bool dns_rr_hostname_valid(const char *name);
/* True when name is an IPv4 or IPv6 address literal (no brackets). */
bool dns_rr_is_address(const char *name);
/*
 * Writes the reverse-lookup name of addr (family AF_INET: struct in_addr,
 * AF_INET6: struct in6_addr) into buf: "4.3.2.1.in-addr.arpa" or the
 * 32-nibble ".ip6.arpa" form. Returns 0, or -1 when size is below
 * DNS_RR_REVERSE_SIZE or the family is unknown.
 */
#define DNS_RR_REVERSE_SIZE 80
int dns_rr_reverse_name(int family, const void *addr, char *buf, size_t size);
/* "A", "MX", ... for the types above, "CNAME"; "other" for the rest. */
const char *dns_rr_type_name(int type);

#endif
