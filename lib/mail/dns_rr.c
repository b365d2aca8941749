/*
 * dns_rr - decoding of resource record data (see dns_rr.h). The rdata is
 * hostile: no read may go past len, no name past 255 octets, no text past
 * the caller's buffer. Pure: no I/O, no logging, no globals.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mail/dns_rr.h"

#define DNS_WIRE_NAME_MAX 255
#define DNS_LABEL_MAX 63

/* Appends c to buf at *out, keeping room for the NUL. */
static int
name_put(char *buf, size_t size, size_t *out, char c)
{
	if (*out + 1 >= size)
		return -1;
	buf[(*out)++] = c;
	return 0;
}

static int
name_put_byte(char *buf, size_t size, size_t *out, uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_')
		return name_put(buf, size, out, (char)c);
	if (c == '.' || c == '\\')
		return name_put(buf, size, out, '\\') < 0
			   ? -1
			   : name_put(buf, size, out, (char)c);
	if (c > 0x20 && c < 0x7f)
		return name_put(buf, size, out, (char)c);
	if (name_put(buf, size, out, '\\') < 0 ||
	    name_put(buf, size, out, (char)('0' + c / 100)) < 0 ||
	    name_put(buf, size, out, (char)('0' + c / 10 % 10)) < 0)
		return -1;
	return name_put(buf, size, out, (char)('0' + c % 10));
}

int
dns_rr_name(const uint8_t *rdata, size_t len, size_t *pos, char *buf,
	    size_t size, const char **error_r)
{
	size_t p = *pos, out = 0, wire = 0;
	unsigned int labels = 0;

	if (size < 2) {
		*error_r = "name buffer too small";
		return -1;
	}
	for (;;) {
		uint8_t llen;

		if (p >= len) {
			*error_r = "name runs past the record";
			return -1;
		}
		llen = rdata[p++];
		wire += 1u + llen;
		if (wire > DNS_WIRE_NAME_MAX) {
			*error_r = "name longer than 255 octets";
			return -1;
		}
		if (llen == 0)
			break;
		if ((llen & 0xc0) != 0) {
			*error_r = "compressed or extended label in name";
			return -1;
		}
		if (llen > len - p) {
			*error_r = "label runs past the record";
			return -1;
		}
		if (labels > 0 && name_put(buf, size, &out, '.') < 0)
			goto too_long;
		for (uint8_t i = 0; i < llen; i++) {
			if (name_put_byte(buf, size, &out, rdata[p + i]) < 0)
				goto too_long;
		}
		p += llen;
		labels++;
	}
	if (labels == 0)
		buf[out++] = '.';
	buf[out] = '\0';
	*pos = p;
	return 0;
too_long:
	*error_r = "name too long for buffer";
	return -1;
}

int
dns_rr_a(const uint8_t *rdata, size_t len, struct in_addr *addr_r,
	 const char **error_r)
{
	if (len != 4) {
		*error_r = "A record is not 4 bytes";
		return -1;
	}
	memcpy(&addr_r->s_addr, rdata, 4);
	return 0;
}

int
dns_rr_aaaa(const uint8_t *rdata, size_t len, struct in6_addr *addr_r,
	    const char **error_r)
{
	if (len != 16) {
		*error_r = "AAAA record is not 16 bytes";
		return -1;
	}
	memcpy(addr_r->s6_addr, rdata, 16);
	return 0;
}

int
dns_rr_mx(const uint8_t *rdata, size_t len, struct dns_rr_mx *mx_r,
	  const char **error_r)
{
	size_t pos = 2;

	if (len < 3) {
		*error_r = "MX record too short";
		return -1;
	}
	mx_r->preference = (unsigned int)rdata[0] << 8 | rdata[1];
	if (dns_rr_name(rdata, len, &pos, mx_r->exchange,
			sizeof(mx_r->exchange), error_r) < 0)
		return -1;
	if (pos != len) {
		*error_r = "trailing bytes after MX exchange";
		return -1;
	}
	return 0;
}

int
dns_rr_ptr(const uint8_t *rdata, size_t len, char *name_r, size_t size,
	   const char **error_r)
{
	size_t pos = 0;

	if (dns_rr_name(rdata, len, &pos, name_r, size, error_r) < 0)
		return -1;
	if (pos != len) {
		*error_r = "trailing bytes after name";
		return -1;
	}
	return 0;
}

int
dns_rr_txt(const uint8_t *rdata, size_t len, struct strbuf *out,
	   unsigned int *nstrings_r, const char **error_r)
{
	size_t pos = 0;
	unsigned int n = 0;

	if (len == 0) {
		*error_r = "empty TXT record";
		return -1;
	}
	while (pos < len) {
		uint8_t slen = rdata[pos++];

		if (slen > len - pos) {
			*error_r = "TXT string runs past the record";
			return -1;
		}
		if (strbuf_append(out, rdata + pos, slen) < 0) {
			*error_r = "TXT record too long";
			return -1;
		}
		pos += slen;
		n++;
	}
	*nstrings_r = n;
	return 0;
}

int
dns_rr_tlsa(const uint8_t *rdata, size_t len, struct dns_rr_tlsa *tlsa_r,
	    const char **error_r)
{
	if (len < 4) {
		*error_r = "TLSA record too short";
		return -1;
	}
	tlsa_r->usage = rdata[0];
	tlsa_r->selector = rdata[1];
	tlsa_r->mtype = rdata[2];
	tlsa_r->data = rdata + 3;
	tlsa_r->data_len = len - 3;
	if ((tlsa_r->mtype == 1 && tlsa_r->data_len != 32) ||
	    (tlsa_r->mtype == 2 && tlsa_r->data_len != 64)) {
		*error_r = "TLSA digest length does not match its type";
		return -1;
	}
	return 0;
}

bool
dns_rr_hostname_valid(const char *name)
{
	size_t total = 0, label = 0;
	bool all_numeric = true;
	char prev = '.';

	for (const char *p = name; *p != '\0'; p++, total++) {
		char c = *p;

		if (total >= 255)
			return false;
		if (c == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   c == '_') {
			all_numeric = false;
			label++;
		} else if (c >= '0' && c <= '9') {
			label++;
		} else if (c == '-') {
			if (label == 0)
				return false;
			all_numeric = false;
			label++;
		} else {
			return false;
		}
		if (label > DNS_LABEL_MAX)
			return false;
		prev = c;
	}
	return total > 0 && label > 0 && prev != '-' && !all_numeric;
}

bool
dns_rr_is_address(const char *name)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, name, &a4) == 1 ||
	       inet_pton(AF_INET6, name, &a6) == 1;
}

int
dns_rr_reverse_name(int family, const void *addr, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t out = 0;

	if (size < DNS_RR_REVERSE_SIZE)
		return -1;
	if (family == AF_INET) {
		const uint8_t *b = (const uint8_t *)addr;
		int n = snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa", b[3],
				 b[2], b[1], b[0]);

		return n < 0 || (size_t)n >= size ? -1 : 0;
	}
	if (family != AF_INET6)
		return -1;
	for (int i = 15; i >= 0; i--) {
		uint8_t b = ((const uint8_t *)addr)[i];

		buf[out++] = hex[b & 0x0f];
		buf[out++] = '.';
		buf[out++] = hex[b >> 4];
		buf[out++] = '.';
	}
	memcpy(buf + out, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}

const char *
dns_rr_type_name(int type)
{
	switch (type) {
	case DNS_TYPE_A:
		return "A";
	case DNS_TYPE_CNAME:
		return "CNAME";
	case DNS_TYPE_PTR:
		return "PTR";
	case DNS_TYPE_MX:
		return "MX";
	case DNS_TYPE_TXT:
		return "TXT";
	case DNS_TYPE_AAAA:
		return "AAAA";
	case DNS_TYPE_TLSA:
		return "TLSA";
	default:
		return "other";
	}
}
