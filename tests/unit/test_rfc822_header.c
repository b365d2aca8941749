/*
 * test_rfc822_header - unit tests of header splitting, RFC 2047 and
 * RFC 2231 decoding, address lists, and of mime_parse's limits, sizes and
 * section lookup. Test-only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/imap_bodystructure.h"
#include "mail/mime_parse.h"
#include "mail/rfc822_header.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static void
assert_words(const char *in, const char *want)
{
	struct strbuf out;

	strbuf_init(&out, 4096);
	assert_int_equal(rfc822_decode_words(&out, in, strlen(in)), 0);
	assert_string_equal(strbuf_cstr(&out), want);
	strbuf_release(&out);
}

static void
test_encoded_words(void **state)
{
	(void)state;
	assert_words("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard");
	/* white space between adjacent encoded words disappears */
	assert_words("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
		     " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
		     "If you can read this you understand the example.");
	assert_words("=?utf-8?q?a_b?= =?utf-8?q?c?=", "a bc");
	assert_words("a =?utf-8?q?b?= c", "a b c");
	/* RFC 2231 language suffix; lower-case encoding letter */
	assert_words("=?US-ASCII*EN?q?Keith_Moore?=", "Keith Moore");
	/* broken words stay as they are */
	assert_words("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	assert_words("=?utf-8?q?no end", "=?utf-8?q?no end");
	/* unknown charset: the word is kept */
	assert_words("=?x-no-such-charset?q?abc?=",
		     "=?x-no-such-charset?q?abc?=");
	/* iconv charset */
	assert_words("=?koi8-r?b?8NLJ18XU?=",
		     "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	/* raw 8-bit: UTF-8 kept, other bytes taken as Latin-1 */
	assert_words("Gr\xc3\xbc\xc3\x9f"
		     "e",
		     "Gr\xc3\xbc\xc3\x9f"
		     "e");
	assert_words("Gr\xfc\xdf"
		     "e",
		     "Gr\xc3\xbc\xc3\x9f"
		     "e");
	/* folding removed */
	assert_words("a\r\n b", "a b");
	/* invalid UTF-8 inside a utf-8 word becomes U+FFFD */
	assert_words("=?utf-8?q?=FF?=", "\xef\xbf\xbd");
	/* many unterminated word starts: kept, and decoded in linear time */
	{
		struct strbuf in, out;
		unsigned int i;

		strbuf_init(&in, STRBUF_UNLIMITED);
		strbuf_init(&out, STRBUF_UNLIMITED);
		for (i = 0; i < 50000; i++)
			strbuf_append_str(&in, "=?a?q?x");
		assert_int_equal(rfc822_decode_words(&out, in.data, in.len), 0);
		assert_int_equal(out.len, in.len);
		strbuf_release(&in);
		strbuf_release(&out);
	}
}

static void
assert_param(const char *name, const char *value, const char *want)
{
	struct rfc822_param p = {(char *)name, (char *)value};
	struct strbuf out;

	strbuf_init(&out, 4096);
	assert_int_equal(rfc822_param_decode(&out, &p), 0);
	assert_string_equal(strbuf_cstr(&out), want);
	strbuf_release(&out);
}

static void
test_param_decode(void **state)
{
	(void)state;
	assert_param("filename*", "utf-8''%E2%82%AC%20rates%20for%202026.txt",
		     "\xe2\x82\xac rates for 2026.txt");
	assert_param("title*", "iso-8859-1'de'Gr%FC%DFe",
		     "Gr\xc3\xbc\xc3\x9f"
		     "e");
	assert_param("name", "=?utf-8?q?f=C3=BC.txt?=", "f\xc3\xbc.txt");
	assert_param("name", "plain.txt", "plain.txt");
	/* not charset'lang'value: taken as it is */
	assert_param("name*", "no-quotes", "no-quotes");
}

static void
test_params_merge(void **state)
{
	/* as in Dovecot, a broken parameter loses the rest of the list */
	const char *v = "; name*1=\"second\"; name*0=\"first-\"; a=1;"
			" x*0*=utf-8''%41; x*1=%; y*1=gap; broken; z=lost";
	struct rfc822_lex lx;
	struct rfc822_params params;

	(void)state;
	rfc822_lex_init(&lx, v, strlen(v), NULL);
	rfc822_params_parse(&lx, &params);
	assert_int_equal(params.count, 4);
	assert_string_equal(params.v[0].name, "a");
	assert_string_equal(params.v[1].name, "name");
	assert_string_equal(params.v[1].value, "first-second");
	assert_string_equal(params.v[2].name, "x*");
	/* the plain continuation's '%' is escaped into the extended value */
	assert_string_equal(params.v[2].value, "utf-8''%41%25");
	/* an index missing: kept as written */
	assert_string_equal(params.v[3].name, "y*1");
	assert_null(rfc822_params_get(&params, "broken"));
	assert_null(rfc822_params_get(&params, "z"));
	rfc822_params_free(&params);
}

static void
test_header_fields(void **state)
{
	static const char hdr[] = "Subject: one\r\n two\r\nX-Empty:\r\n"
				  "no colon here\r\nSubject :  last\r\n"
				  "X-Nul: a\0b\r\n\r\nbody: not a header\r\n";
	struct rfc822_header h;
	const struct rfc822_field *f;

	(void)state;
	rfc822_header_parse(hdr, sizeof(hdr) - 1, 100, &h);
	assert_int_equal(h.count, 4);
	f = rfc822_header_find(&h, "subject", false);
	assert_non_null(f);
	assert_string_equal(f->value, "one\n two");
	f = rfc822_header_find(&h, "SUBJECT", true);
	assert_string_equal(f->value, "last");
	assert_string_equal(rfc822_header_find(&h, "x-empty", false)->value,
			    "");
	f = rfc822_header_find(&h, "X-Nul", false);
	assert_int_equal(f->value_len, 5);
	assert_memory_equal(f->value,
			    "a\xef\xbf\xbd"
			    "b",
			    5);
	assert_null(rfc822_header_find(&h, "body", false));
	rfc822_header_free(&h);
	/* the field limit */
	rfc822_header_parse(hdr, sizeof(hdr) - 1, 1, &h);
	assert_int_equal(h.count, 1);
	rfc822_header_free(&h);
}

static void
test_addresses(void **state)
{
	const char *v = "\"Doe, John\" <john@example.org>, grp: a@b;, x";
	struct rfc822_address *list = rfc822_address_parse(v, strlen(v), 100);
	struct rfc822_address *a = list;

	(void)state;
	assert_string_equal(a->name, "Doe, John");
	assert_string_equal(a->mailbox, "john");
	assert_string_equal(a->domain, "example.org");
	a = a->next;
	assert_string_equal(a->mailbox, "grp");
	assert_null(a->domain);
	a = a->next;
	assert_string_equal(a->mailbox, "a");
	a = a->next;
	assert_null(a->mailbox); /* end of group */
	a = a->next;
	assert_string_equal(a->mailbox, "x");
	assert_string_equal(a->domain, "MISSING_DOMAIN");
	assert_true(a->invalid);
	assert_null(a->next);
	rfc822_address_free(&list);
	assert_null(list);
	/* the count limit */
	list = rfc822_address_parse("a@b, c@d, e@f", 13, 2);
	assert_non_null(list->next);
	assert_null(list->next->next);
	rfc822_address_free(&list);
	assert_null(rfc822_address_parse(" (only a comment) ", 18, 10));
}

static unsigned int
count_parts(const struct mime_part *p)
{
	unsigned int n = 1;

	for (p = p->children; p != NULL; p = p->next)
		n += count_parts(p);
	return n;
}

static void
test_limit_depth(void **state)
{
	struct strbuf msg;
	struct mime_part *root;
	const struct mime_part *p;
	unsigned int i;

	(void)state;
	strbuf_init(&msg, STRBUF_UNLIMITED);
	for (i = 0; i < 300; i++)
		strbuf_append_str(&msg, "Content-Type: message/rfc822\r\n\r\n");
	strbuf_append_str(&msg, "Subject: deepest\r\n\r\nbody\r\n");
	root = mime_parse_message(msg.data, msg.len, NULL);
	for (p = root, i = 0; p->children != NULL; p = p->children)
		i++;
	assert_int_equal(i, MIME_DEFAULT_MAX_DEPTH - 1);
	assert_true((p->flags & MIME_PART_FLAG_TOO_DEEP) != 0);
	/* the rest is the too-deep part's body */
	assert_int_equal(p->body_offset + p->body.physical, msg.len);
	mime_part_free(&root);
	strbuf_release(&msg);
}

static void
test_limit_parts(void **state)
{
	struct mime_limits lim = {.max_parts = 500};
	struct strbuf msg, out;
	struct mime_part *root;
	unsigned int i;

	(void)state;
	strbuf_init(&msg, STRBUF_UNLIMITED);
	strbuf_append_str(&msg,
			  "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (i = 0; i < 2000; i++)
		strbuf_append_str(&msg, "--x\r\n\r\npart\r\n");
	strbuf_append_str(&msg, "--x--\r\n");
	root = mime_parse_message(msg.data, msg.len, &lim);
	assert_int_equal(count_parts(root), 500);
	assert_int_equal(root->children_count, 499);
	assert_true((root->last_child->flags & MIME_PART_FLAG_PARTS_OVERFLOW) !=
		    0);
	strbuf_init(&out, 1 << 20);
	assert_int_equal(
	    imap_bodystructure_write(&out, msg.data, msg.len, root, true), 0);
	mime_part_free(&root);
	/* the default limit is 10,000 */
	root = mime_parse_message(msg.data, msg.len, NULL);
	assert_int_equal(root->children_count, 2000);
	mime_part_free(&root);
	strbuf_release(&out);
	strbuf_release(&msg);
}

static void
test_limit_header(void **state)
{
	struct mime_limits lim = {.max_header_size = 100,
				  .max_header_field = 64};
	struct strbuf msg;
	struct mime_part *root;
	unsigned int i;

	(void)state;
	strbuf_init(&msg, STRBUF_UNLIMITED);
	strbuf_append_str(&msg,
			  "Content-Type: multipart/mixed; boundary=x\r\n");
	for (i = 0; i < 10; i++)
		strbuf_append_str(&msg, "X-Filler: 0123456789\r\n");
	strbuf_append_str(&msg, "\r\n--x\r\n\r\nbody\r\n--x--\r\n");
	root = mime_parse_message(msg.data, msg.len, &lim);
	assert_true((root->flags & MIME_PART_FLAG_HEADER_OVERFLOW) != 0);
	assert_null(root->children);
	/* cut at the first line that starts past the limit */
	assert_true(root->header.physical > 100 &&
		    root->header.physical <= 100 + 22);
	mime_part_free(&root);
	/* a Content-Type field longer than max_header_field is ignored */
	strbuf_reset(&msg);
	strbuf_append_str(&msg,
			  "Content-Type: multipart/mixed;\r\n"
			  "  boundary=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
			  "\r\n--xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
			  "\r\nbody\r\n");
	root = mime_parse_message(msg.data, msg.len, &lim);
	assert_int_equal(root->flags & MIME_PART_FLAG_MULTIPART, 0);
	mime_part_free(&root);
	strbuf_release(&msg);
}

static const char section_msg[] =
    "Content-Type: multipart/mixed; boundary=a\r\n\r\n"
    "--a\r\nContent-Type: text/plain\r\n\r\none\r\n"
    "--a\r\nContent-Type: message/rfc822\r\n\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
    "--b\r\n\r\ninner1\r\n--b\r\n\r\ninner2\r\n--b--\r\n"
    "--a\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\nsingle\r\n"
    "--a--\r\n";

static void
test_sections(void **state)
{
	struct mime_part *root =
	    mime_parse_message(section_msg, sizeof(section_msg) - 1, NULL);
	const struct mime_part *p;

	(void)state;
	assert_ptr_equal(mime_part_find_section(root, ""), root);
	p = mime_part_find_section(root, "1");
	assert_memory_equal(section_msg + p->body_offset, "one", 3);
	assert_int_equal(p->body.physical, 3);
	p = mime_part_find_section(root, "2");
	assert_true((p->flags & MIME_PART_FLAG_MESSAGE) != 0);
	p = mime_part_find_section(root, "2.2");
	assert_memory_equal(section_msg + p->body_offset, "inner2", 6);
	p = mime_part_find_section(root, "3.1");
	assert_memory_equal(section_msg + p->body_offset, "single", 6);
	assert_null(mime_part_find_section(root, "3.2"));
	assert_null(mime_part_find_section(root, "4"));
	assert_null(mime_part_find_section(root, "0"));
	assert_null(mime_part_find_section(root, "1."));
	assert_null(mime_part_find_section(root, "x"));
	mime_part_free(&root);
}

static void
test_lf_equals_crlf(void **state)
{
	struct strbuf lf, a, b;
	struct mime_part *r1, *r2;
	size_t i;

	(void)state;
	strbuf_init(&lf, STRBUF_UNLIMITED);
	for (i = 0; i < sizeof(section_msg) - 1; i++) {
		if (section_msg[i] != '\r')
			strbuf_append_char(&lf, section_msg[i]);
	}
	r1 = mime_parse_message(section_msg, sizeof(section_msg) - 1, NULL);
	r2 = mime_parse_message(lf.data, lf.len, NULL);
	assert_int_equal(r1->body.virtual, r2->body.virtual);
	assert_int_equal(r2->body.virtual - r2->body.physical, r2->body.lines);
	strbuf_init(&a, 65536);
	strbuf_init(&b, 65536);
	assert_int_equal(imap_bodystructure_write(&a, section_msg,
						  sizeof(section_msg) - 1, r1,
						  true),
			 0);
	assert_int_equal(
	    imap_bodystructure_write(&b, lf.data, lf.len, r2, true), 0);
	assert_string_equal(strbuf_cstr(&a), strbuf_cstr(&b));
	/* too small an output buffer is an error, not a truncation */
	strbuf_release(&a);
	strbuf_init(&a, 20);
	assert_int_equal(
	    imap_bodystructure_write(&a, lf.data, lf.len, r2, true), -1);
	mime_part_free(&r1);
	mime_part_free(&r2);
	strbuf_release(&a);
	strbuf_release(&b);
	strbuf_release(&lf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encoded_words),
	    cmocka_unit_test(test_param_decode),
	    cmocka_unit_test(test_params_merge),
	    cmocka_unit_test(test_header_fields),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_limit_depth),
	    cmocka_unit_test(test_limit_parts),
	    cmocka_unit_test(test_limit_header),
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_lf_equals_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
