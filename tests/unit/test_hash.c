/* Unit tests for the string-keyed hash table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hash.h"
#include "util/xmem.h"

static int freed;

static void
count_free(void *p)
{
	freed++;
	free(p);
}

static void
test_insert_lookup_grow(void **state)
{
	struct hash_table *t = hash_create();
	char key[32];

	(void)state;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		assert_int_equal(hash_insert(t, key, xasprintf("v%d", i)), 0);
	}
	assert_int_equal(hash_count(t), 5000);
	for (int i = 0; i < 5000; i++) {
		char want[32];

		snprintf(key, sizeof(key), "key%d", i);
		snprintf(want, sizeof(want), "v%d", i);
		assert_string_equal(hash_lookup(t, key), want);
	}
	assert_null(hash_lookup(t, "key5000"));
	assert_null(hash_lookup(t, ""));
	freed = 0;
	hash_destroy(&t, count_free);
	assert_null(t);
	assert_int_equal(freed, 5000);
}

static void
test_duplicate_keeps_first_and_keys_are_copied(void **state)
{
	struct hash_table *t = hash_create();
	char key[] = "Alice";
	char *second = xstrdup("second");

	(void)state;
	assert_int_equal(hash_insert(t, key, "first"), 0);
	key[0] = 'X'; /* the table holds its own copy */
	assert_string_equal(hash_lookup(t, "Alice"), "first");
	assert_null(hash_lookup(t, "Xlice"));
	assert_int_equal(hash_insert(t, "Alice", second), -1);
	assert_string_equal(hash_lookup(t, "Alice"), "first");
	assert_null(hash_lookup(t, "alice")); /* case matters */
	assert_int_equal(hash_count(t), 1);
	xfree(&second);
	hash_destroy(&t, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_lookup_grow),
		cmocka_unit_test(test_duplicate_keeps_first_and_keys_are_copied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
