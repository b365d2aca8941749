/*
 * Unit tests for the DNS rdata decoders (lib/mail/dns_rr.c): well-formed
 * records, and crafted malformed ones that must be refused without reading
 * past the rdata.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "mail/dns_rr.h"
#include "util/xmem.h"

/* Copies rdata into an exact-size heap block so ASan catches overreads. */
static uint8_t *
exact(const void *data, size_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	memcpy(p, data, len);
	return p;
}

static int
mx(const void *data, size_t len, struct dns_rr_mx *mx_r, const char **err)
{
	uint8_t *p = exact(data, len);
	int ret = dns_rr_mx(p, len, mx_r, err);

	free(p);
	return ret;
}

static void
test_mx_ok(void **state)
{
	static const uint8_t rd[] = {0,	  10,  3,   'm', 'x', '1', 7,
				     'e', 'x', 'a', 'm', 'p', 'l', 'e',
				     3,	  'c', 'o', 'm', 0};
	struct dns_rr_mx m;
	const char *err;

	(void)state;
	assert_int_equal(mx(rd, sizeof(rd), &m, &err), 0);
	assert_int_equal(m.preference, 10);
	assert_string_equal(m.exchange, "mx1.example.com");
	assert_true(dns_rr_hostname_valid(m.exchange));
}

static void
test_mx_null(void **state)
{
	static const uint8_t rd[] = {0, 0, 0};
	struct dns_rr_mx m;
	const char *err;

	(void)state;
	assert_int_equal(mx(rd, sizeof(rd), &m, &err), 0);
	assert_int_equal(m.preference, 0);
	assert_string_equal(m.exchange, ".");
	assert_false(dns_rr_hostname_valid(m.exchange));
}

static void
test_mx_malformed(void **state)
{
	struct dns_rr_mx m;
	const char *err;
	/* label length past the end */
	static const uint8_t past[] = {0, 10, 9, 'm', 'x'};
	/* no terminating root label */
	static const uint8_t noend[] = {0, 10, 2, 'm', 'x'};
	/* compression pointer */
	static const uint8_t ptr[] = {0, 10, 0xc0, 0x0c};
	/* extended label type 01xxxxxx */
	static const uint8_t ext[] = {0, 10, 0x41, 'a', 0};
	/* trailing garbage after the name */
	static const uint8_t trail[] = {0, 10, 1, 'a', 0, 'x'};
	uint8_t longname[2 + 5 * 64 + 1];

	(void)state;
	assert_int_equal(mx("", 0, &m, &err), -1);
	assert_int_equal(mx("\0\1", 2, &m, &err), -1);
	assert_int_equal(mx(past, sizeof(past), &m, &err), -1);
	assert_int_equal(mx(noend, sizeof(noend), &m, &err), -1);
	assert_int_equal(mx(ptr, sizeof(ptr), &m, &err), -1);
	assert_string_equal(err, "compressed or extended label in name");
	assert_int_equal(mx(ext, sizeof(ext), &m, &err), -1);
	assert_int_equal(mx(trail, sizeof(trail), &m, &err), -1);
	/* five 63-byte labels: 320 wire octets > 255 */
	memset(longname, 'a', sizeof(longname));
	longname[0] = 0;
	longname[1] = 1;
	for (int i = 0; i < 5; i++)
		longname[2 + i * 64] = 63;
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(mx(longname, sizeof(longname), &m, &err), -1);
	assert_string_equal(err, "name longer than 255 octets");
}

static void
test_name_escapes(void **state)
{
	/* "a.b" as one label, a backslash, a space, a NUL and 0xff */
	static const uint8_t rd[] = {3,	  'a', '.',  'b', 5, '\\',
				     ' ', 0,   0xff, 'z', 0};
	char buf[DNS_RR_NAME_SIZE];
	size_t pos = 0;
	const char *err;
	uint8_t *p = exact(rd, sizeof(rd));

	(void)state;
	assert_int_equal(
	    dns_rr_name(p, sizeof(rd), &pos, buf, sizeof(buf), &err), 0);
	assert_int_equal(pos, sizeof(rd));
	assert_string_equal(buf, "a\\.b.\\\\\\032\\000\\255z");
	assert_false(dns_rr_hostname_valid(buf));
	/* a buffer too small is an error, not a truncation */
	pos = 0;
	assert_int_equal(dns_rr_name(p, sizeof(rd), &pos, buf, 8, &err), -1);
	assert_int_equal(pos, 0);
	free(p);
}

static void
test_name_max(void **state)
{
	/* 255 octets: 3 labels of 63 + one of 61 + root, all \255 escaped */
	uint8_t rd[255];
	char buf[DNS_RR_NAME_SIZE];
	size_t pos = 0, o = 0;
	const char *err;

	(void)state;
	memset(rd, 0xff, sizeof(rd));
	for (int i = 0; i < 3; i++) {
		rd[o] = 63;
		o += 64;
	}
	rd[o] = 61;
	o += 62;
	rd[o++] = 0;
	assert_int_equal(o, 255);
	assert_int_equal(
	    dns_rr_name(rd, sizeof(rd), &pos, buf, sizeof(buf), &err), 0);
	assert_int_equal(strlen(buf), (63 * 3 + 61) * 4 + 3);
}

static void
test_ptr(void **state)
{
	static const uint8_t rd[] = {4,	  'm', 'a', 'i', 'l', 4,
				     't', 'e', 's', 't', 0};
	char name[DNS_RR_NAME_SIZE];
	const char *err;
	uint8_t *p = exact(rd, sizeof(rd));

	(void)state;
	assert_int_equal(dns_rr_ptr(p, sizeof(rd), name, sizeof(name), &err),
			 0);
	assert_string_equal(name, "mail.test");
	assert_int_equal(
	    dns_rr_ptr(p, sizeof(rd) - 1, name, sizeof(name), &err), -1);
	free(p);
}

static void
test_txt(void **state)
{
	static const uint8_t rd[] = {7,	  'v', '=', 's', 'p', 'f', '1',
				     ' ', 4,   '-', 'a', 'l', 'l', 0};
	static const uint8_t past[] = {5, 'a', 'b'};
	struct strbuf sb;
	unsigned int n;
	const char *err;

	(void)state;
	strbuf_init(&sb, 1024);
	assert_int_equal(dns_rr_txt(rd, sizeof(rd), &sb, &n, &err), 0);
	assert_int_equal(n, 3); /* the last one is empty */
	assert_int_equal(sb.len, 11);
	assert_memory_equal(sb.data, "v=spf1 -all", 11);
	strbuf_reset(&sb);
	assert_int_equal(dns_rr_txt(past, sizeof(past), &sb, &n, &err), -1);
	assert_int_equal(dns_rr_txt(rd, 0, &sb, &n, &err), -1);
	strbuf_release(&sb);
	/* over the caller's limit: an error, not a silent cut */
	strbuf_init(&sb, 5);
	assert_int_equal(dns_rr_txt(rd, sizeof(rd), &sb, &n, &err), -1);
	assert_string_equal(err, "TXT record too long");
	strbuf_release(&sb);
}

static void
test_tlsa(void **state)
{
	uint8_t rd[3 + 64];
	struct dns_rr_tlsa t;
	const char *err;

	(void)state;
	rd[0] = 3;
	rd[1] = 1;
	rd[2] = 1;
	memset(rd + 3, 0xab, 64);
	assert_int_equal(dns_rr_tlsa(rd, 3 + 32, &t, &err), 0);
	assert_int_equal(t.usage, 3);
	assert_int_equal(t.selector, 1);
	assert_int_equal(t.mtype, 1);
	assert_int_equal(t.data_len, 32);
	assert_ptr_equal(t.data, rd + 3);
	/* SHA2-256 with 31 or 33 bytes, SHA2-512 with 32 */
	assert_int_equal(dns_rr_tlsa(rd, 3 + 31, &t, &err), -1);
	assert_int_equal(dns_rr_tlsa(rd, 3 + 33, &t, &err), -1);
	rd[2] = 2;
	assert_int_equal(dns_rr_tlsa(rd, 3 + 32, &t, &err), -1);
	assert_int_equal(dns_rr_tlsa(rd, 3 + 64, &t, &err), 0);
	/* full data: any non-empty length; no data at all is refused */
	rd[2] = 0;
	assert_int_equal(dns_rr_tlsa(rd, 3 + 7, &t, &err), 0);
	assert_int_equal(dns_rr_tlsa(rd, 3, &t, &err), -1);
	assert_int_equal(dns_rr_tlsa(rd, 2, &t, &err), -1);
	/* unknown usage is decoded, for the DANE layer to judge */
	rd[0] = 9;
	assert_int_equal(dns_rr_tlsa(rd, 3 + 5, &t, &err), 0);
	assert_int_equal(t.usage, 9);
}

static void
test_addresses(void **state)
{
	static const uint8_t v4[] = {192, 0, 2, 1};
	uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
	struct in_addr a;
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];
	const char *err;

	(void)state;
	v6[15] = 3;
	assert_int_equal(dns_rr_a(v4, 4, &a, &err), 0);
	assert_string_equal(inet_ntop(AF_INET, &a, text, sizeof(text)),
			    "192.0.2.1");
	assert_int_equal(dns_rr_a(v4, 3, &a, &err), -1);
	assert_int_equal(dns_rr_a(v6, 16, &a, &err), -1);
	assert_int_equal(dns_rr_aaaa(v6, 16, &a6, &err), 0);
	assert_string_equal(inet_ntop(AF_INET6, &a6, text, sizeof(text)),
			    "2001:db8::3");
	assert_int_equal(dns_rr_aaaa(v6, 15, &a6, &err), -1);
	assert_int_equal(dns_rr_aaaa(v4, 4, &a6, &err), -1);
}

static void
test_hostname_valid(void **state)
{
	char big[300];

	(void)state;
	assert_true(dns_rr_hostname_valid("mail.example.com"));
	assert_true(dns_rr_hostname_valid("a-b_c.example"));
	assert_true(dns_rr_hostname_valid("localhost"));
	assert_false(dns_rr_hostname_valid(""));
	assert_false(dns_rr_hostname_valid("."));
	assert_false(dns_rr_hostname_valid("a..b"));
	assert_false(dns_rr_hostname_valid("example.com."));
	assert_false(dns_rr_hostname_valid("-a.example"));
	assert_false(dns_rr_hostname_valid("a-.example"));
	assert_false(dns_rr_hostname_valid("192.0.2.1"));
	assert_false(dns_rr_hostname_valid("a b.example"));
	assert_false(dns_rr_hostname_valid("a\\.b.example"));
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_false(dns_rr_hostname_valid(big)); /* 64-char label */
	for (int i = 0; i < 299; i++)
		big[i] = i % 10 == 9 ? '.' : 'a';
	big[299] = '\0';
	assert_false(dns_rr_hostname_valid(big)); /* over 255 */
	assert_true(dns_rr_is_address("192.0.2.1"));
	assert_true(dns_rr_is_address("2001:db8::1"));
	assert_false(dns_rr_is_address("mail.example"));
	assert_false(dns_rr_is_address("[192.0.2.1]"));
}

static void
test_reverse_name(void **state)
{
	struct in_addr a;
	struct in6_addr a6;
	char buf[DNS_RR_REVERSE_SIZE];

	(void)state;
	inet_pton(AF_INET, "192.0.2.10", &a);
	assert_int_equal(dns_rr_reverse_name(AF_INET, &a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.2.0.192.in-addr.arpa");
	inet_pton(AF_INET6, "2001:db8::abcd", &a6);
	assert_int_equal(dns_rr_reverse_name(AF_INET6, &a6, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				 "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_rr_reverse_name(AF_INET, &a, buf, 20), -1);
	assert_int_equal(dns_rr_reverse_name(12345, &a, buf, sizeof(buf)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mx_ok),
	    cmocka_unit_test(test_mx_null),
	    cmocka_unit_test(test_mx_malformed),
	    cmocka_unit_test(test_name_escapes),
	    cmocka_unit_test(test_name_max),
	    cmocka_unit_test(test_ptr),
	    cmocka_unit_test(test_txt),
	    cmocka_unit_test(test_tlsa),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_hostname_valid),
	    cmocka_unit_test(test_reverse_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
