/* Unit tests for texthash: maps (Postfix "key value" files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/map.h"
#include "map_test_util.h"

static const char aliases[] =
	"# aliases\n"
	"postmaster@example.org   admin@example.org\n"
	"\n"
	"   # indented comment\n"
	"Team@Example.org alice@example.org,\n"
	"\tbob@example.org\n"
	"dup@example.org first@example.org\n"
	"dup@example.org second@example.org\r\n"
	"last  value with  spaces  ";

static void
test_found_and_not_found(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	map_test_file("aliases", aliases);
	map = map_open(map_test_spec("texthash", "aliases"), 0, &error);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "postmaster@example.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "admin@example.org");
	map_result_free(&res);
	assert_int_equal(map_lookup(map, "nobody@example.org", &res, &error), MAP_NOTFOUND);
	assert_int_equal(res.n_rows, 0);
	/* continuation lines join with one space */
	assert_int_equal(map_lookup(map, "Team@Example.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "alice@example.org, bob@example.org");
	map_result_free(&res);
	/* without MAP_FOLD_CASE case matters */
	assert_int_equal(map_lookup(map, "team@example.org", &res, &error), MAP_NOTFOUND);
	/* Postfix keeps the first of duplicate keys (and warns) */
	assert_int_equal(map_lookup(map, "dup@example.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "first@example.org");
	map_result_free(&res);
	assert_int_equal(map_lookup(map, "last", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "value with  spaces");
	map_result_free(&res);
	map_close(&map);
}

static void
test_fold_case(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	map_test_file("aliases", aliases);
	map = map_open(map_test_spec("texthash", "aliases"), MAP_FOLD_CASE, &error);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "TEAM@example.ORG", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "alice@example.org, bob@example.org");
	map_result_free(&res);
	map_close(&map);
}

static void
test_malformed_file_names_line(void **state)
{
	const char *error;

	(void)state;
	map_test_file("bad", "a b\n# c\nkeyonly\n");
	assert_null(map_open(map_test_spec("texthash", "bad"), 0, &error));
	assert_non_null(strstr(error, "/bad:3:"));
	map_test_file("bad2", "  leading continuation\n");
	assert_null(map_open(map_test_spec("texthash", "bad2"), 0, &error));
	assert_non_null(strstr(error, "/bad2:1:"));
	assert_null(map_open(map_test_spec("texthash", "missing"), 0, &error));
	assert_non_null(strstr(error, "No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_found_and_not_found, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_fold_case, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_file_names_line, map_test_setup, map_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
