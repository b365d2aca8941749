/*
 * test_imap_thread - unit tests of the RFC 5256 pieces: base subject
 * extraction, Date: parsing, SORT criteria and ordering, and both THREAD
 * algorithms (with missing parents, loops in References and duplicate
 * Message-IDs). Expected answers are worked out by hand from the RFC's
 * rules (see the comments). Test-only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/imap_base_subject.h"
#include "mail/imap_sort.h"
#include "mail/imap_thread.h"
#include "mail/rfc822_date.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static void
assert_base(const char *subject, const char *want, bool want_reply)
{
	struct strbuf out;
	bool reply = !want_reply;

	strbuf_init(&out, 1024);
	assert_int_equal(
	    imap_base_subject(&out, subject, strlen(subject), &reply), 0);
	if (strcmp(strbuf_cstr(&out), want) != 0)
		fail_msg("base subject of \"%s\": \"%s\", want \"%s\"", subject,
			 strbuf_cstr(&out), want);
	if (reply != want_reply)
		fail_msg("reply flag of \"%s\": %d", subject, reply);
	strbuf_release(&out);
}

static void
test_base_subject(void **state)
{
	(void)state;
	assert_base("Re: [list] Fwd: subj (fwd)", "subj", true);
	assert_base("subj", "subj", false);
	assert_base("Re: Re: hello", "hello", true);
	assert_base("RE:hello", "hello", true);
	assert_base("Fw: x", "x", true);
	assert_base("fwd:x", "x", true);
	assert_base("Re [tag]: x", "x", true);
	assert_base("Re : x", "x", true);
	/* a blob is removed only when something is left */
	assert_base("[list] hello", "hello", false);
	assert_base("[list]", "[list]", false);
	assert_base("[a] [b]", "[b]", false);
	assert_base("[a][b] Re: x", "x", true);
	/* [fwd: ...] wrappers, then the steps again inside */
	assert_base("[fwd: the thing]", "the thing", true);
	assert_base("[Fwd: Re: foo (fwd)]", "foo", true);
	/* not a leader */
	assert_base("Review: x", "Review: x", false);
	assert_base("Rex: y", "Rex: y", false);
	assert_base("re: ", "", true);
	assert_base("", "", false);
	/* blanks collapse, folding goes, case is kept */
	assert_base("  Hello  \t World\r\n !  ", "Hello World !", false);
	assert_base("Re: =?ISO-8859-1?Q?Caf=E9?= (fwd)", "Caf\xc3\xa9", true);
	assert_base("=?UTF-8?B?UmU6IGZvbw==?=", "foo", true);
}

static void
test_casemap(void **state)
{
	(void)state;
	assert_int_equal(imap_ascii_casemap_cmp("abc", 3, "ABC", 3), 0);
	assert_true(imap_ascii_casemap_cmp("ab", 2, "abc", 3) < 0);
	assert_true(imap_ascii_casemap_cmp("b", 1, "A", 1) > 0);
	/* '_' (0x5f) sorts after 'Z' as upper case letters are used */
	assert_true(imap_ascii_casemap_cmp("_", 1, "a", 1) > 0);
}

static void
assert_date(const char *v, int64_t want, int want_tz)
{
	int64_t t = 0;
	int tz = 0;

	if (rfc822_date_parse(v, strlen(v), &t, &tz) != 0)
		fail_msg("date \"%s\" refused", v);
	assert_int_equal(t, want);
	assert_int_equal(tz, want_tz);
}

static void
assert_bad_date(const char *v)
{
	int64_t t;
	int tz;

	if (rfc822_date_parse(v, strlen(v), &t, &tz) == 0)
		fail_msg("date \"%s\" accepted", v);
}

static void
test_date(void **state)
{
	(void)state;
	/* 1994-02-08 05:52:25 UTC */
	assert_date("Mon, 7 Feb 1994 21:52:25 -0800", 760686745, -480);
	assert_date("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 760686745, -480);
	assert_date(" 7 Feb 1994 21:52:25 PST", 760686745, -480);
	/* two-digit year, no seconds, named zone */
	assert_date("7 Feb 94 21:52 GMT", 760657920, 0);
	assert_date("Tue, 29 Feb 2000 00:00:00 +0000", 951782400, 0);
	/* "49" is 2049; a zone we do not know is +0000 */
	assert_date("31 Dec 49 23:00:00 XYZ", 2524604400, 0);
	assert_bad_date("yesterday");
	assert_bad_date("");
	assert_bad_date("32 Jan 2000 00:00 +0000");
	assert_bad_date("29 Feb 2001 00:00:00 +0000");
	assert_bad_date("1 Foo 2001 00:00:00 +0000");
	assert_bad_date("1 Jan 2001 24:00:00 +0000");
	assert_bad_date("1 Jan 2001");
	assert_int_equal(rfc822_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(rfc822_days_from_civil(2000, 3, 1), 11017);
}

/* ---- SORT ---- */

static struct imap_arg *
atom_list(const char *const *names, unsigned int n)
{
	struct imap_arg *list = xcalloc(1, sizeof(*list));
	unsigned int i;

	list->type = IMAP_ARG_LIST;
	list->list = xcalloc(n + 1, sizeof(*list->list));
	list->count = n;
	for (i = 0; i < n; i++) {
		list->list[i].type = IMAP_ARG_ATOM;
		list->list[i].str = (char *)names[i];
		list->list[i].len = strlen(names[i]);
	}
	return list;
}

static void
free_list(struct imap_arg *list)
{
	xfree(&list->list);
	xfree(&list);
}

static int
parse_crit(const char *const *names, unsigned int n,
	   struct imap_sort_criterion *crit)
{
	struct imap_arg *list = atom_list(names, n);
	const char *error = NULL;
	int r = imap_sort_parse(list, crit, &error);

	if (r < 0)
		assert_non_null(error);
	free_list(list);
	return r;
}

static void
test_sort_parse(void **state)
{
	struct imap_sort_criterion crit[IMAP_SORT_MAX_CRITERIA];
	const char *a[] = {"REVERSE", "date", "SUBJECT"};
	const char *b[] = {"REVERSE"};
	const char *c[] = {"FOO"};
	const char *d[] = {"REVERSE", "REVERSE", "SIZE"};
	const char *many[IMAP_SORT_MAX_CRITERIA + 1];
	unsigned int i;

	(void)state;
	assert_int_equal(parse_crit(a, 3, crit), 2);
	assert_int_equal(crit[0].key, IMAP_SORT_DATE);
	assert_true(crit[0].reverse);
	assert_int_equal(crit[1].key, IMAP_SORT_SUBJECT);
	assert_false(crit[1].reverse);
	assert_int_equal(parse_crit(b, 1, crit), -1);
	assert_int_equal(parse_crit(b, 0, crit), -1);
	assert_int_equal(parse_crit(c, 1, crit), -1);
	assert_int_equal(parse_crit(d, 3, crit), -1);
	for (i = 0; i <= IMAP_SORT_MAX_CRITERIA; i++)
		many[i] = "SIZE";
	assert_int_equal(parse_crit(many, IMAP_SORT_MAX_CRITERIA, crit),
			 IMAP_SORT_MAX_CRITERIA);
	assert_int_equal(parse_crit(many, IMAP_SORT_MAX_CRITERIA + 1, crit),
			 -1);
}

static void
assert_sorted(const char *const *names, unsigned int n, const char *want)
{
	struct imap_sort_criterion crit[IMAP_SORT_MAX_CRITERIA];
	/* seq, id, arrival, date, size, cc, from, to, subject */
	struct imap_sort_item items[] = {
	    {1, 1, 300, 5, 30, NULL, "b", "z", "x"},
	    {2, 2, 200, 5, 10, NULL, "A", "y", "X"},
	    {3, 3, 100, 1, 20, NULL, "a", NULL, "w"},
	};
	char got[32];
	size_t i, len = 0;
	int nc = parse_crit(names, n, crit);

	assert_true(nc > 0);
	imap_sort_items(items, 3, crit, (unsigned int)nc);
	for (i = 0; i < 3; i++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%u",
					items[i].id);
	if (strcmp(got, want) != 0)
		fail_msg("sort %s...: %s, want %s", names[0], got, want);
}

static void
test_sort_items(void **state)
{
	const char *from[] = {"FROM"}, *rfrom[] = {"REVERSE", "FROM"};
	const char *size[] = {"SIZE"}, *date[] = {"DATE"};
	const char *rdate_size[] = {"REVERSE", "DATE", "SIZE"};
	const char *arrival[] = {"ARRIVAL"}, *to[] = {"TO"};
	const char *subject[] = {"SUBJECT"}, *cc[] = {"CC"};

	(void)state;
	/* "A" and "a" are equal: mailbox order between them */
	assert_sorted(from, 1, "231");
	assert_sorted(rfrom, 2, "123");
	assert_sorted(size, 1, "231");
	assert_sorted(date, 1, "312");
	assert_sorted(rdate_size, 3, "213");
	assert_sorted(arrival, 1, "321");
	/* a missing To is "" and sorts first */
	assert_sorted(to, 1, "321");
	assert_sorted(subject, 1, "312");
	assert_sorted(cc, 1, "123");
}

static void
assert_addr_key(const char *value, const char *want)
{
	struct strbuf out;

	strbuf_init(&out, 1024);
	assert_int_equal(
	    imap_sort_addr_key(&out, value, value == NULL ? 0 : strlen(value)),
	    0);
	assert_string_equal(strbuf_cstr(&out), want);
	strbuf_release(&out);
}

static void
test_sort_addr_key(void **state)
{
	(void)state;
	assert_addr_key("\"Bob Smith\" <bob@example.com>", "bob");
	assert_addr_key("alice@example.org, carol@example.net", "alice");
	assert_addr_key("undisclosed-recipients:;", "");
	assert_addr_key("team: dave@example.com;", "dave");
	assert_addr_key(NULL, "");
}

/* ---- THREAD ---- */

struct tmsg {
	const char *message_id, *references, *in_reply_to, *subject;
	int64_t date;
};

static void
assert_thread(enum imap_thread_algorithm alg, const struct tmsg *m, size_t n,
	      const char *want)
{
	struct imap_thread_msg *msgs = xcalloc(n + 1, sizeof(*msgs));
	struct strbuf out;
	size_t i;

	for (i = 0; i < n; i++) {
		msgs[i].id = (uint32_t)(i + 1);
		msgs[i].date = m[i].date;
		msgs[i].message_id = m[i].message_id;
		msgs[i].references = m[i].references;
		msgs[i].in_reply_to = m[i].in_reply_to;
		msgs[i].subject = m[i].subject;
	}
	strbuf_init(&out, 1 << 20);
	assert_int_equal(imap_thread(alg, msgs, n, &out), 0);
	if (strcmp(strbuf_cstr(&out), want) != 0)
		fail_msg("thread: %s, want %s", strbuf_cstr(&out), want);
	strbuf_release(&out);
	xfree(&msgs);
}

static void
test_msgid(void **state)
{
	const char *v = " (c <no@pe>) <a@b> <bad> <x <c@d>junk<e@f>";
	const char *id;
	size_t pos = 0, len;

	(void)state;
	assert_true(imap_thread_next_msgid(v, &pos, &id, &len));
	assert_int_equal(len, 3);
	assert_memory_equal(id, "a@b", 3);
	assert_true(imap_thread_next_msgid(v, &pos, &id, &len));
	assert_memory_equal(id, "c@d", 3);
	assert_true(imap_thread_next_msgid(v, &pos, &id, &len));
	assert_memory_equal(id, "e@f", 3);
	assert_false(imap_thread_next_msgid(v, &pos, &id, &len));
}

static void
test_thread_references(void **state)
{
	(void)state;
	/* 2 and 4 answer 1, 3 answers 2; 5 stands alone and is oldest:
	   children sorted by date (2 at 200 before 4 at 250) */
	const struct tmsg a[] = {
	    {"<1@x>", NULL, NULL, "a", 100},
	    {"<2@x>", "<1@x>", NULL, "Re: a", 200},
	    {"<3@x>", "<1@x> <2@x>", NULL, "Re: a", 300},
	    {"<4@x>", NULL, "<1@x>", "Re: a", 250},
	    {"<5@x>", NULL, NULL, "b", 50},
	};
	assert_thread(IMAP_THREAD_REFERENCES, a, 5, "(5)(1 (2 3)(4))");
	assert_thread(IMAP_THREAD_REFERENCES, a, 0, "");

	/* a missing parent with two children stays as a dummy at the top */
	const struct tmsg b[] = {
	    {"<a@x>", "<zz@x>", NULL, "Re: t", 10},
	    {"<b@x>", "<zz@x>", NULL, "Re: t", 5},
	};
	assert_thread(IMAP_THREAD_REFERENCES, b, 2, "((2)(1))");
	/* one child: the dummy goes; a chain of dummies too */
	assert_thread(IMAP_THREAD_REFERENCES, b, 1, "(1)");
	const struct tmsg d[] = {
	    {"<a@x>", "<p@x> <q@x>", NULL, "x", 1},
	};
	assert_thread(IMAP_THREAD_REFERENCES, d, 1, "(1)");

	/* duplicate Message-ID: only the first message owns it */
	const struct tmsg e[] = {
	    {"<d@x>", NULL, NULL, "s1", 1},
	    {"<d@x>", NULL, NULL, "s2", 2},
	    {"<e@x>", "<d@x>", NULL, "s3", 3},
	};
	assert_thread(IMAP_THREAD_REFERENCES, e, 3, "(1 3)(2)");

	/* References take precedence over In-Reply-To */
	const struct tmsg f[] = {
	    {"<p1@x>", NULL, NULL, "p1", 1},
	    {"<p2@x>", NULL, NULL, "p2", 2},
	    {"<c@x>", "<p2@x>", "<p1@x>", "c", 3},
	};
	assert_thread(IMAP_THREAD_REFERENCES, f, 3, "(1)(2 3)");
}

static void
test_thread_loops(void **state)
{
	(void)state;
	/* 1 names 2 as parent; 2 naming 1 would make a loop: refused */
	const struct tmsg a[] = {
	    {"<1@x>", "<2@x>", NULL, "l1", 1},
	    {"<2@x>", "<1@x>", NULL, "l2", 2},
	};
	assert_thread(IMAP_THREAD_REFERENCES, a, 2, "(2 1)");
	/* a message referring to itself */
	const struct tmsg b[] = {
	    {"<s@x>", "<s@x>", NULL, "self", 1},
	};
	assert_thread(IMAP_THREAD_REFERENCES, b, 1, "(1)");
	/* a loop inside References: a->b made, b->a refused; the dummy a
	   keeps 1 and an empty b, which is pruned, then a is promoted */
	const struct tmsg c[] = {
	    {"<m1@x>", "<a@x> <b@x> <a@x>", NULL, "loop", 1},
	};
	assert_thread(IMAP_THREAD_REFERENCES, c, 1, "(1)");
	/* a longer cycle over three messages */
	const struct tmsg d[] = {
	    {"<1@x>", "<3@x>", NULL, "c1", 1},
	    {"<2@x>", "<1@x>", NULL, "c2", 2},
	    {"<3@x>", "<2@x>", NULL, "c3", 3},
	};
	/* 3->1, 1->2; then 3 under 2 would loop (2 is below 3): refused */
	assert_thread(IMAP_THREAD_REFERENCES, d, 3, "(3 1 2)");
}

static void
test_thread_subjects(void **state)
{
	(void)state;
	/* 2 is a reply: under 1; 3 is not: a dummy holds 1 and 3 */
	const struct tmsg a[] = {
	    {"<g1@x>", NULL, NULL, "topic", 10},
	    {"<g2@x>", NULL, NULL, "Re: topic", 20},
	    {"<g3@x>", NULL, NULL, "TOPIC", 30},
	};
	assert_thread(IMAP_THREAD_REFERENCES, a, 3, "((1 2)(3))");
	/* the non-reply wins the subject table, the reply goes under it */
	const struct tmsg b[] = {
	    {"<r1@x>", NULL, NULL, "Re: z", 10},
	    {"<r2@x>", NULL, NULL, "z", 20},
	};
	assert_thread(IMAP_THREAD_REFERENCES, b, 2, "(2 1)");
	/* empty subjects are never gathered */
	const struct tmsg c[] = {
	    {"<e1@x>", NULL, NULL, "", 10},
	    {"<e2@x>", NULL, NULL, "Re:", 20},
	};
	assert_thread(IMAP_THREAD_REFERENCES, c, 2, "(1)(2)");
}

static void
test_thread_orderedsubject(void **state)
{
	(void)state;
	/* a: 1 (30), 6 (35), 4 (40); b: 2 (10), 3 (20); c: 5 (5); threads
	   by their first date: c, b, a */
	const struct tmsg a[] = {
	    {NULL, NULL, NULL, "a", 30}, {NULL, NULL, NULL, "Re: b", 10},
	    {NULL, NULL, NULL, "b", 20}, {NULL, NULL, NULL, "Re: a", 40},
	    {NULL, NULL, NULL, "c", 5},	 {NULL, NULL, NULL, "Re: A", 35},
	};
	assert_thread(IMAP_THREAD_ORDEREDSUBJECT, a, 6, "(5)(2 3)(1 (6)(4))");
}

static void
test_thread_long_chain(void **state)
{
	enum { N = 20000 };
	struct imap_thread_msg *msgs = xcalloc(N, sizeof(*msgs));
	char(*ids)[32] = xcalloc(N, sizeof(*ids));
	char(*refs)[32] = xcalloc(N, sizeof(*refs));
	struct strbuf out, want;
	size_t i;

	(void)state;
	strbuf_init(&out, 1 << 20);
	strbuf_init(&want, 1 << 20);
	assert_int_equal(strbuf_append_char(&want, '('), 0);
	for (i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "<%zu@chain>", i);
		msgs[i].id = (uint32_t)(i + 1);
		msgs[i].date = (int64_t)i;
		msgs[i].message_id = ids[i];
		msgs[i].subject = "chain";
		if (i > 0) {
			snprintf(refs[i], sizeof(refs[i]), "<%zu@chain>",
				 i - 1);
			msgs[i].in_reply_to = refs[i];
		}
		assert_int_equal(
		    strbuf_printf(&want, "%s%zu", i == 0 ? "" : " ", i + 1), 0);
	}
	assert_int_equal(strbuf_append_char(&want, ')'), 0);
	assert_int_equal(imap_thread(IMAP_THREAD_REFERENCES, msgs, N, &out), 0);
	assert_string_equal(strbuf_cstr(&out), strbuf_cstr(&want));
	strbuf_release(&out);
	strbuf_release(&want);
	xfree(&msgs);
	xfree(&ids);
	xfree(&refs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_subject),
	    cmocka_unit_test(test_casemap),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_sort_parse),
	    cmocka_unit_test(test_sort_items),
	    cmocka_unit_test(test_sort_addr_key),
	    cmocka_unit_test(test_msgid),
	    cmocka_unit_test(test_thread_references),
	    cmocka_unit_test(test_thread_loops),
	    cmocka_unit_test(test_thread_subjects),
	    cmocka_unit_test(test_thread_orderedsubject),
	    cmocka_unit_test(test_thread_long_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
