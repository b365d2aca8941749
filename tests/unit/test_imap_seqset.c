/*
 * Unit tests for IMAP sequence sets: a table of good sets with their
 * normalised form after resolving "*", a table of bad ones, membership,
 * iteration, incremental adds and the 32-bit edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/imap_seqset.h"
#include "util/strbuf.h"

static void
test_good_sets(void **state)
{
	static const struct {
		const char *in;
		uint32_t star;
		const char *raw;
		const char *resolved;
		uint64_t count;
	} cases[] = {
	    {"1", 10, "1", "1", 1},
	    {"1:*", 10, "1:*", "1:10", 10},
	    {"*", 10, "*", "10", 1},
	    {"*:3", 10, "*:3", "3:10", 8},
	    {"5,7:9,*:3", 10, "5,7:9,*:3", "3:10", 8},
	    {"9:7,1,2,3", 10, "9:7,1,2,3", "1:3,7:9", 6},
	    {"1,3,5,4,2", 0, "1,3,5,4,2", "1:5", 5},
	    {"10:20,15:30,31", 100, "10:20,15:30,31", "10:31", 22},
	    {"4294967295", 5, "4294967295", "4294967295", 1},
	    {"1:4294967295", 5, "1:4294967295", "1:4294967295", 4294967295ULL},
	    {"100:*", 50, "100:*", "50:100", 51},
	    /* empty mailbox: the "*" ends are dropped */
	    {"1:*", 0, "1:*", "1", 1},
	    {"*", 0, "*", "", 0},
	    {"*:*,3", 0, "*,3", "3", 1},
	    {"$", 10, "$", "$", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_seqset set;
		struct strbuf sb;
		const char *error = NULL;

		strbuf_init(&sb, 1000);
		assert_int_equal(imap_seqset_parse(cases[i].in,
						   strlen(cases[i].in), 10,
						   true, &set, &error),
				 0);
		assert_int_equal(imap_seqset_format(&set, &sb), 0);
		assert_string_equal(strbuf_cstr(&sb), cases[i].raw);
		imap_seqset_resolve(&set, cases[i].star);
		strbuf_reset(&sb);
		assert_int_equal(imap_seqset_format(&set, &sb), 0);
		assert_string_equal(strbuf_cstr(&sb), cases[i].resolved);
		assert_int_equal(imap_seqset_count(&set), cases[i].count);
		strbuf_release(&sb);
		imap_seqset_release(&set);
	}
}

static void
test_bad_sets(void **state)
{
	static const char *const cases[] = {
	    "",
	    "0",
	    "0:5",
	    "5:0",
	    "1:",
	    ":1",
	    "1,,2",
	    "1,",
	    ",1",
	    "1::2",
	    "a",
	    "1a",
	    "1 2",
	    "-1",
	    "+1",
	    "4294967296",
	    "1:4294967296",
	    "99999999999999999999999",
	    "$,1",
	    "1,$",
	    "$$",
	    "**",
	    "1:*:2",
	    "1,2,3,4,5,6,7,8,9,10,11", /* over max_ranges */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_seqset set;
		const char *error = NULL;

		if (imap_seqset_parse(cases[i], strlen(cases[i]), 10, true,
				      &set, &error) == 0)
			fail_msg("accepted: \"%s\"", cases[i]);
		assert_non_null(error);
		imap_seqset_release(&set);
	}
}

static void
test_saved_not_allowed(void **state)
{
	struct imap_seqset set;
	const char *error;

	(void)state;
	assert_int_equal(imap_seqset_parse("$", 1, 10, false, &set, &error),
			 -1);
	imap_seqset_release(&set);
}

static void
test_contains_and_iterate(void **state)
{
	struct imap_seqset set;
	struct imap_seqset_iter it = {0};
	const char *error;
	uint32_t n, seen[20];
	unsigned int count = 0;

	(void)state;
	assert_int_equal(
	    imap_seqset_parse("20,2:4,*,9", 10, 10, false, &set, &error), 0);
	imap_seqset_resolve(&set, 12);
	assert_false(imap_seqset_contains(&set, 1));
	assert_true(imap_seqset_contains(&set, 2));
	assert_true(imap_seqset_contains(&set, 4));
	assert_false(imap_seqset_contains(&set, 5));
	assert_true(imap_seqset_contains(&set, 9));
	assert_true(imap_seqset_contains(&set, 12));
	assert_false(imap_seqset_contains(&set, 13));
	assert_true(imap_seqset_contains(&set, 20));
	assert_false(imap_seqset_contains(&set, UINT32_MAX));
	assert_int_equal(imap_seqset_max(&set), 20);
	while (imap_seqset_next(&set, &it, &n) && count < 20)
		seen[count++] = n;
	assert_int_equal(count, 6);
	assert_int_equal(seen[0], 2);
	assert_int_equal(seen[2], 4);
	assert_int_equal(seen[3], 9);
	assert_int_equal(seen[4], 12);
	assert_int_equal(seen[5], 20);
	imap_seqset_release(&set);
}

static void
test_iterate_to_uint32_max(void **state)
{
	struct imap_seqset set;
	struct imap_seqset_iter it = {0};
	const char *error;
	uint32_t n, last = 0;
	unsigned int count = 0;

	(void)state;
	assert_int_equal(imap_seqset_parse("4294967293:4294967295", 21, 10,
					   false, &set, &error),
			 0);
	imap_seqset_resolve(&set, 1);
	while (imap_seqset_next(&set, &it, &n) && count < 10) {
		last = n;
		count++;
	}
	assert_int_equal(count, 3);
	assert_int_equal(last, UINT32_MAX);
	imap_seqset_release(&set);
}

static void
test_add(void **state)
{
	struct imap_seqset set;
	struct strbuf sb;
	uint32_t i;

	(void)state;
	imap_seqset_init(&set);
	strbuf_init(&sb, 1000);
	for (i = 1; i <= 100000; i++) {
		if (i % 1000 != 0)
			imap_seqset_add(&set, i, i);
	}
	assert_int_equal(set.count, 100);
	assert_int_equal(imap_seqset_count(&set), 99900);
	imap_seqset_add(&set, 1000, 1000); /* joins two ranges */
	imap_seqset_add(&set, 0, 0);	   /* ignored */
	imap_seqset_add(&set, UINT32_MAX, UINT32_MAX - 1);
	assert_int_equal(set.count, 100);
	assert_false(imap_seqset_contains(&set, 2000));
	assert_true(imap_seqset_contains(&set, 1000));
	imap_seqset_release(&set);
	imap_seqset_init(&set);
	imap_seqset_add(&set, 10, 12);
	imap_seqset_add(&set, 1, 3);
	imap_seqset_add(&set, 4, 9);
	assert_int_equal(imap_seqset_format(&set, &sb), 0);
	assert_string_equal(strbuf_cstr(&sb), "1:12");
	strbuf_release(&sb);
	imap_seqset_release(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_sets),
	    cmocka_unit_test(test_bad_sets),
	    cmocka_unit_test(test_saved_not_allowed),
	    cmocka_unit_test(test_contains_and_iterate),
	    cmocka_unit_test(test_iterate_to_uint32_max),
	    cmocka_unit_test(test_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
