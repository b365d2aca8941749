/*
 * fuzz_address - libFuzzer target for the address module and xtext. The
 * first byte chooses the parse flags. A parsed address written back with
 * address_format() must parse again to the same local part and domain;
 * xtext must round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/address.h"
#include "mail/xtext.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
roundtrip(const struct address *a, unsigned int flags)
{
	struct strbuf sb;
	struct address b;
	const char *error;
	size_t ulen;
	const char *detail;

	strbuf_init(&sb, 2 * ADDRESS_LOCAL_MAX + ADDRESS_DOMAIN_MAX + 8);
	check(strbuf_append_char(&sb, '<') == 0);
	check(address_format(a, &sb) == 0);
	check(strbuf_append_char(&sb, '>') == 0);
	if (address_parse_path(sb.data, sb.len, flags, &b, &error) != 0)
		abort();
	check(b.local_len == a->local_len &&
	      memcmp(b.local, a->local, a->local_len) == 0);
	check(b.domain_len == a->domain_len &&
	      memcmp(b.domain, a->domain, a->domain_len) == 0);
	check((b.flags & ADDRESS_FLAG_NULL) == (a->flags & ADDRESS_FLAG_NULL));
	strbuf_release(&sb);

	if (address_split_detail(a, "+-", &ulen, &detail)) {
		check(ulen > 0 && ulen < a->local_len);
		check(detail == a->local + ulen + 1);
	}
	(void)address_has_routing_chars(a);
}

static void
xtext_roundtrip(const uint8_t *data, size_t size)
{
	struct strbuf enc, dec;
	const char *error;
	int ctl = 0;
	size_t i;

	for (i = 0; i < size; i++)
		ctl |= data[i] < 0x20 || data[i] == 0x7f;
	strbuf_init(&enc, 3 * size + 1);
	strbuf_init(&dec, size + 1);
	check(xtext_encode(data, size, &enc) == 0);
	if (xtext_decode(enc.data != NULL ? enc.data : "", enc.len, &dec,
			 &error) == 0) {
		check(!ctl);
		check(dec.len == size &&
		      (size == 0 || memcmp(dec.data, data, size) == 0));
	} else {
		check(ctl);
	}
	strbuf_release(&enc);
	strbuf_release(&dec);
	/* arbitrary bytes as xtext must not crash */
	strbuf_init(&dec, 64);
	(void)xtext_decode((const char *)data, size, &dec, &error);
	strbuf_release(&dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct address a;
	const char *error;
	unsigned int flags;
	const char *s;
	size_t len;

	if (size == 0)
		return 0;
	flags = data[0] & (ADDRESS_PARSE_UTF8 | ADDRESS_PARSE_ALLOW_NULL |
			   ADDRESS_PARSE_ALLOW_NO_DOMAIN);
	s = (const char *)data + 1;
	len = size - 1;

	if (address_parse_path(s, len, flags, &a, &error) == 0) {
		check(a.local_len == strlen(a.local));
		check(a.domain_len == strlen(a.domain));
		roundtrip(&a, flags);
	}
	if (address_parse_mailbox(s, len, flags, &a, &error) == 0)
		roundtrip(&a, flags);
	(void)address_valid_domain(s, len, (flags & ADDRESS_PARSE_UTF8) != 0);
	(void)address_valid_literal(s, len);
	(void)address_valid_utf8(s, len);
	xtext_roundtrip(data + 1, size - 1);
	return 0;
}
