/*
 * fuzz_dns_rr - libFuzzer target for the DNS rdata decoders: the first
 * byte picks the record type, the rest is the rdata, copied into an
 * exact-size buffer so any read past it is caught. A decoded name must be
 * NUL-terminated within its buffer and free of control characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dns_rr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
check_name(const char *name, size_t size)
{
	size_t len = strnlen(name, size);

	check(len < size);
	for (size_t i = 0; i < len; i++)
		check((unsigned char)name[i] > 0x20 &&
		      (unsigned char)name[i] < 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_rr_mx mx;
	struct dns_rr_tlsa tlsa;
	struct in_addr a;
	struct in6_addr a6;
	char name[DNS_RR_NAME_SIZE];
	struct strbuf sb;
	unsigned int n;
	const char *error;
	uint8_t *rd;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	rd = malloc(len > 0 ? len : 1);
	if (rd == NULL)
		return 0;
	memcpy(rd, data + 1, len);
	switch (data[0] % 6) {
	case 0:
		if (dns_rr_mx(rd, len, &mx, &error) == 0) {
			check_name(mx.exchange, sizeof(mx.exchange));
			(void)dns_rr_hostname_valid(mx.exchange);
			(void)dns_rr_is_address(mx.exchange);
		}
		break;
	case 1:
		if (dns_rr_ptr(rd, len, name, sizeof(name), &error) == 0)
			check_name(name, sizeof(name));
		/* a small buffer must fail cleanly, never overflow */
		if (dns_rr_ptr(rd, len, name, 16, &error) == 0)
			check_name(name, 16);
		break;
	case 2:
		strbuf_init(&sb, 300);
		if (dns_rr_txt(rd, len, &sb, &n, &error) == 0)
			check(sb.len <= len && n >= 1);
		strbuf_release(&sb);
		break;
	case 3:
		if (dns_rr_tlsa(rd, len, &tlsa, &error) == 0)
			check(tlsa.data == rd + 3 && tlsa.data_len == len - 3 &&
			      tlsa.data_len > 0);
		break;
	case 4:
		(void)dns_rr_a(rd, len, &a, &error);
		(void)dns_rr_aaaa(rd, len, &a6, &error);
		break;
	case 5: {
		size_t pos = 0;

		if (dns_rr_name(rd, len, &pos, name, sizeof(name), &error) ==
		    0) {
			check(pos <= len);
			check_name(name, sizeof(name));
		}
		break;
	}
	}
	free(rd);
	return 0;
}
