/*
 * Unit tests for RFC 5321 path/mailbox parsing, the relay-policy helpers,
 * the recipient_delimiter split, output quoting and xtext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/address.h"
#include "mail/xtext.h"
#include "util/strbuf.h"

static int
path(const char *s, unsigned int flags, struct address *a)
{
	const char *error = NULL;
	int ret = address_parse_path(s, strlen(s), flags, a, &error);

	if (ret < 0)
		assert_non_null(error);
	return ret;
}

static void
test_plain_path(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(path("<User@Example.COM>", 0, &a), 0);
	assert_string_equal(a.local, "User");
	assert_string_equal(a.domain, "Example.COM");
	assert_int_equal(a.local_len, 4);
	assert_int_equal(a.domain_len, 11);
	assert_int_equal(a.flags, 0);
}

static void
test_null_path_only_when_allowed(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(path("<>", 0, &a), -1);
	assert_int_equal(path("<>", ADDRESS_PARSE_ALLOW_NULL, &a), 0);
	assert_int_equal(a.flags, ADDRESS_FLAG_NULL);
	assert_int_equal(path("< >", ADDRESS_PARSE_ALLOW_NULL, &a), -1);
}

static void
test_quoted_local_is_unquoted(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(path("<\"a b\\\"c\\\\d\"@example.com>", 0, &a), 0);
	assert_string_equal(a.local, "a b\"c\\d");
	assert_true(a.flags & ADDRESS_FLAG_QUOTED);
	/* quoting a plain local part is only a different spelling */
	assert_int_equal(path("<\"user\"@example.com>", 0, &a), 0);
	assert_string_equal(a.local, "user");
	assert_int_equal(path("<\"\"@example.com>", 0, &a), 0);
	assert_int_equal(a.local_len, 0);
	assert_int_equal(path("<\"a\\\x01\"@example.com>", 0, &a), -1);
	assert_int_equal(path("<\"a\x01\"@example.com>", 0, &a), -1);
	assert_int_equal(address_parse_path("<a\0b@example.com>", 17, 0, &a,
					    &(const char *){NULL}),
			 -1);
}

static void
test_source_route_flagged(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(path("<@x.example,@y.example:a@b.example>", 0, &a), 0);
	assert_string_equal(a.route, "@x.example,@y.example");
	assert_string_equal(a.local, "a");
	assert_string_equal(a.domain, "b.example");
	assert_true(a.flags & ADDRESS_FLAG_ROUTE);
	assert_int_equal(path("<@x.example:>", 0, &a), -1);
	assert_int_equal(path("<@x.example,a@b>", 0, &a), -1);
	assert_int_equal(path("<@@x:a@b>", 0, &a), -1);
}

static void
test_domains_and_literals(void **state)
{
	(void)state;
	assert_true(address_valid_domain("a.b-c.example", 13, false));
	assert_false(address_valid_domain("a..b", 4, false));
	assert_false(address_valid_domain(".a", 2, false));
	assert_false(address_valid_domain("a-.b", 4, false));
	assert_false(address_valid_domain("", 0, false));
	assert_false(address_valid_domain("b\xc3\xbc"
					  "cher.de",
					  9, false));
	assert_true(address_valid_domain("b\xc3\xbc"
					 "cher.de",
					 9, true));
	assert_false(address_valid_domain("b\xc3"
					  "cher.de",
					  8, true));
	assert_true(address_valid_literal("[10.0.0.1]", 10));
	assert_true(address_valid_literal("[IPv6:fe80::1]", 14));
	assert_true(address_valid_literal("[ipv6:::ffff:1.2.3.4]", 21));
	assert_false(address_valid_literal("[IPv6:fe80::1::2]", 17));
	assert_false(address_valid_literal("[10.0.0]", 8));
	assert_false(address_valid_literal("[10.0.0.1.2]", 12));
	assert_false(address_valid_literal("[1000.0.0.1]", 12));
	assert_false(address_valid_literal("[]", 2));
	assert_false(address_valid_literal("10.0.0.1", 8));
	/* found by fuzz_address: inet_pton() stopped at the NUL */
	assert_false(address_valid_literal("[IPv6:::1\0x]", 12));
	assert_false(address_valid_literal("[IPv6:::1\0]", 11));
	assert_false(address_valid_literal("[10.0.0.1\0]", 11));
	assert_false(address_valid_domain("a\0b.example", 11, true));
}

static void
test_lengths(void **state)
{
	char buf[600];
	struct address a;

	(void)state;
	/* local part: 64 is the RFC limit, up to 255 accepted but flagged */
	buf[0] = '<';
	memset(buf + 1, 'a', 64);
	memcpy(buf + 65, "@b.example>", 12);
	assert_int_equal(path(buf, 0, &a), 0);
	assert_false(a.flags & ADDRESS_FLAG_LONG_LOCAL);
	memset(buf + 1, 'a', 255);
	memcpy(buf + 256, "@b.example>", 12);
	assert_int_equal(path(buf, 0, &a), 0);
	assert_true(a.flags & ADDRESS_FLAG_LONG_LOCAL);
	memset(buf + 1, 'a', 256);
	memcpy(buf + 257, "@b.example>", 12);
	assert_int_equal(path(buf, 0, &a), -1);
	/* domain: 255 octets at most */
	memcpy(buf, "<a@", 3);
	memset(buf + 3, 'b', 256);
	for (size_t i = 3 + 60; i < 3 + 256; i += 61)
		buf[i] = '.';
	memcpy(buf + 3 + 255, ">", 2);
	assert_int_equal(path(buf, 0, &a), 0);
	assert_int_equal(a.domain_len, 255);
	memcpy(buf + 3 + 255, "b>", 3);
	assert_int_equal(path(buf, 0, &a), -1);
}

static void
test_utf8_only_when_allowed(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(path("<j\xc3\xb6rg@example.com>", 0, &a), -1);
	assert_int_equal(
	    path("<j\xc3\xb6rg@example.com>", ADDRESS_PARSE_UTF8, &a), 0);
	assert_true(a.flags & ADDRESS_FLAG_UTF8);
	assert_int_equal(path("<j\xc3rg@example.com>", ADDRESS_PARSE_UTF8, &a),
			 -1);
	assert_true(address_valid_utf8("\xf0\x9f\x98\x80", 4));
	assert_false(address_valid_utf8("\xf0\x9f\x98", 3));
	assert_false(address_valid_utf8("\xc0\x80", 2));
	assert_false(address_valid_utf8("\xed\xa0\x80", 3));
	assert_false(address_valid_utf8("\xf4\x90\x80\x80", 4));
	assert_false(address_valid_utf8("\xff", 1));
}

static void
test_routing_chars(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(path("<user%other.example@ours.example>", 0, &a), 0);
	assert_true(address_has_routing_chars(&a));
	assert_int_equal(path("<other!user@ours.example>", 0, &a), 0);
	assert_true(address_has_routing_chars(&a));
	assert_int_equal(path("<\"user@other\"@ours.example>", 0, &a), 0);
	assert_true(address_has_routing_chars(&a));
	assert_int_equal(path("<user+tag@ours.example>", 0, &a), 0);
	assert_false(address_has_routing_chars(&a));
}

static void
test_split_detail(void **state)
{
	struct address a;
	size_t ulen;
	const char *detail;

	(void)state;
	assert_int_equal(path("<user+tag+x@ex.example>", 0, &a), 0);
	assert_true(address_split_detail(&a, "+", &ulen, &detail));
	assert_int_equal(ulen, 4);
	assert_string_equal(detail, "tag+x");
	assert_false(address_split_detail(&a, "", &ulen, &detail));
	assert_false(address_split_detail(&a, "-", &ulen, &detail));

	assert_int_equal(path("<user-tag@ex.example>", 0, &a), 0);
	assert_true(address_split_detail(&a, "+-", &ulen, &detail));
	assert_int_equal(ulen, 4);
	assert_string_equal(detail, "tag");

	assert_int_equal(path("<user+@ex.example>", 0, &a), 0);
	assert_true(address_split_detail(&a, "+", &ulen, &detail));
	assert_string_equal(detail, "");

	assert_int_equal(path("<+user@ex.example>", 0, &a), 0);
	assert_false(address_split_detail(&a, "+", &ulen, &detail));
	assert_int_equal(path("<user@ex.example>", 0, &a), 0);
	assert_false(address_split_detail(&a, "+", &ulen, &detail));
	assert_int_equal(path("<MAILER-DAEMON@ex.example>", 0, &a), 0);
	assert_false(address_split_detail(&a, "-", &ulen, &detail));
}

static void
expect_format(const char *in, unsigned int flags, const char *out)
{
	struct address a;
	struct strbuf sb;

	assert_int_equal(path(in, flags, &a), 0);
	strbuf_init(&sb, 1024);
	assert_int_equal(address_format(&a, &sb), 0);
	assert_string_equal(strbuf_cstr(&sb), out);
	strbuf_release(&sb);
}

static void
test_format_quotes_when_needed(void **state)
{
	struct strbuf sb;

	(void)state;
	expect_format("<user@ex.example>", 0, "user@ex.example");
	expect_format("<\"user\"@ex.example>", 0, "user@ex.example");
	expect_format("<\"a b\"@ex.example>", 0, "\"a b\"@ex.example");
	expect_format("<\"a\\\"b\\\\c\"@ex.example>", 0,
		      "\"a\\\"b\\\\c\"@ex.example");
	expect_format("<a..b@ex.example>", 0, "\"a..b\"@ex.example");
	expect_format("<a.@ex.example>", 0, "\"a.\"@ex.example");
	expect_format("<\".a\"@ex.example>", 0, "\".a\"@ex.example");
	expect_format("<\"\"@ex.example>", 0, "\"\"@ex.example");
	expect_format("<\"a@b\"@ex.example>", 0, "\"a@b\"@ex.example");
	expect_format("<>", ADDRESS_PARSE_ALLOW_NULL, "");
	expect_format("<postmaster>", ADDRESS_PARSE_ALLOW_NO_DOMAIN,
		      "postmaster");
	expect_format("<@r.example:u@ex.example>", 0, "u@ex.example");
	/* limits of the output buffer are respected */
	strbuf_init(&sb, 5);
	assert_int_equal(address_quote_local("a b c", 5, &sb), -1);
	strbuf_release(&sb);
}

static void
test_mailbox_without_brackets(void **state)
{
	struct address a;
	const char *error;

	(void)state;
	assert_int_equal(
	    address_parse_mailbox("u@ex.example", 12, 0, &a, &error), 0);
	assert_string_equal(a.domain, "ex.example");
	assert_int_equal(address_parse_mailbox("", 0, 0, &a, &error), -1);
	assert_int_equal(
	    address_parse_mailbox("", 0, ADDRESS_PARSE_ALLOW_NULL, &a, &error),
	    0);
	assert_int_equal(
	    address_parse_mailbox("<u@ex.example>", 14, 0, &a, &error), -1);
	assert_int_equal(address_parse_mailbox("u", 1, 0, &a, &error), -1);
	assert_int_equal(address_parse_mailbox(
			     "u", 1, ADDRESS_PARSE_ALLOW_NO_DOMAIN, &a, &error),
			 0);
	assert_true(a.flags & ADDRESS_FLAG_NO_DOMAIN);
	/* the length is the bound, not a NUL */
	assert_int_equal(
	    address_parse_mailbox("u@ex.example>junk", 12, 0, &a, &error), 0);
	assert_string_equal(a.domain, "ex.example");
}

static void
test_xtext_roundtrip(void **state)
{
	struct strbuf enc, dec;
	const char *error = NULL;
	const char in[] = "a+b=c d\xc3\xa9~!";

	(void)state;
	strbuf_init(&enc, 100);
	strbuf_init(&dec, 100);
	assert_int_equal(xtext_encode(in, sizeof(in) - 1, &enc), 0);
	assert_string_equal(strbuf_cstr(&enc), "a+2Bb+3Dc+20d+C3+A9~!");
	assert_int_equal(xtext_decode(enc.data, enc.len, &dec, &error), 0);
	assert_memory_equal(dec.data, in, sizeof(in) - 1);
	strbuf_reset(&dec);
	assert_int_equal(xtext_decode("a+2b", 4, &dec, &error), 0);
	assert_string_equal(strbuf_cstr(&dec), "a+");
	assert_int_equal(xtext_decode("a+2", 3, &dec, &error), -1);
	assert_int_equal(xtext_decode("a+0D", 4, &dec, &error), -1);
	assert_int_equal(xtext_decode("a+00", 4, &dec, &error), -1);
	assert_int_equal(xtext_decode("a b", 3, &dec, &error), -1);
	strbuf_release(&enc);
	strbuf_release(&dec);
	/* a too small buffer is an error, not a truncation */
	strbuf_init(&enc, 4);
	assert_int_equal(xtext_encode("a b", 3, &enc), -1);
	strbuf_release(&enc);
	strbuf_init(&dec, 2);
	assert_int_equal(xtext_decode("abc", 3, &dec, &error), -1);
	assert_string_equal(error, "xtext value too long");
	strbuf_release(&dec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_path),
	    cmocka_unit_test(test_null_path_only_when_allowed),
	    cmocka_unit_test(test_quoted_local_is_unquoted),
	    cmocka_unit_test(test_source_route_flagged),
	    cmocka_unit_test(test_domains_and_literals),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_utf8_only_when_allowed),
	    cmocka_unit_test(test_routing_chars),
	    cmocka_unit_test(test_split_detail),
	    cmocka_unit_test(test_format_quotes_when_needed),
	    cmocka_unit_test(test_mailbox_without_brackets),
	    cmocka_unit_test(test_xtext_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
