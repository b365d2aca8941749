/* Unit tests for static: maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/map.h"

static void
test_static_always_found(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map = map_open("static:vmail", 0, &error);

	(void)state;
	assert_non_null(map);
	assert_string_equal(map_spec(map), "static:vmail");
	assert_int_equal(map_lookup(map, "anything", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "vmail");
	map_result_free(&res);
	assert_int_equal(map_lookup(map, "", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "vmail");
	map_result_free(&res);
	assert_int_equal(map_check(map, &error), 0);
	map_close(&map);
	assert_null(map);
}

static void
test_static_braces_keep_spaces(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map = map_open("static:{REJECT no such user}", 0, &error);

	(void)state;
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "x", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "REJECT no such user");
	map_result_free(&res);
	map_close(&map);
	assert_null(map_open("static:{unterminated", 0, &error));
	assert_non_null(strstr(error, "}"));
}

static void
test_unknown_type_is_an_error(void **state)
{
	const char *error;

	(void)state;
	assert_null(map_open("btree:/etc/x", 0, &error));
	assert_non_null(strstr(error, "btree"));
	assert_null(map_open("no-colon", 0, &error));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_always_found),
		cmocka_unit_test(test_static_braces_keep_spaces),
		cmocka_unit_test(test_unknown_type_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
