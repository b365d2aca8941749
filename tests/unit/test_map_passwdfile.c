/* Unit tests for passwd-file: maps (Dovecot's format). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/map.h"
#include "map_test_util.h"

static const char users[] =
	"# Dovecot users\n"
	"alice@example.org:{SHA512-CRYPT}$6$salt$hash:5000:5000::/var/vmail/alice::userdb_quota_rule=*:storage=1G allow_nets=127.0.0.1/32 nologin\n"
	"Bob@example.org:{PLAIN}secret\n"
	"carol:{PLAIN}pw:1001:1001:Carol C:/home/carol:/bin/sh\n"
	"\n"
	"alice@example.org:{PLAIN}second:1:1\n";

static void
test_fields_by_name(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	map_test_file("users", users);
	map = map_open(map_test_spec("passwd-file", "users"), 0, &error);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "alice@example.org", &res, &error), MAP_FOUND);
	assert_int_equal(res.n_rows, 1);
	assert_string_equal(map_result_get(&res, "user"), "alice@example.org");
	/* the first of two lines for one user wins, as in Dovecot */
	assert_string_equal(map_result_get(&res, "password"), "{SHA512-CRYPT}$6$salt$hash");
	assert_string_equal(map_result_get(&res, "uid"), "5000");
	assert_string_equal(map_result_get(&res, "gid"), "5000");
	assert_null(map_result_get(&res, "gecos"));
	assert_string_equal(map_result_get(&res, "home"), "/var/vmail/alice");
	assert_null(map_result_get(&res, "shell"));
	assert_string_equal(map_result_get(&res, "userdb_quota_rule"), "*:storage=1G");
	assert_string_equal(map_result_get(&res, "allow_nets"), "127.0.0.1/32");
	assert_string_equal(map_result_get(&res, "nologin"), "");
	map_result_free(&res);

	assert_int_equal(map_lookup(map, "carol", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_get(&res, "gecos"), "Carol C");
	assert_string_equal(map_result_get(&res, "shell"), "/bin/sh");
	map_result_free(&res);

	/* fewer fields */
	assert_int_equal(map_lookup(map, "Bob@example.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_get(&res, "password"), "{PLAIN}secret");
	assert_null(map_result_get(&res, "uid"));
	map_result_free(&res);
	assert_int_equal(map_lookup(map, "bob@example.org", &res, &error), MAP_NOTFOUND);
	assert_int_equal(map_lookup(map, "dave", &res, &error), MAP_NOTFOUND);
	map_close(&map);
}

static void
test_fold_case(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	map_test_file("users", users);
	map = map_open(map_test_spec("passwd-file", "users"), MAP_FOLD_CASE, &error);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "BOB@example.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_get(&res, "password"), "{PLAIN}secret");
	map_result_free(&res);
	map_close(&map);
}

static void
test_malformed_file_names_line(void **state)
{
	const char *error;

	(void)state;
	map_test_file("bad", "a:b\n:nouser\n");
	assert_null(map_open(map_test_spec("passwd-file", "bad"), 0, &error));
	assert_non_null(strstr(error, "/bad:2:"));
	map_test_file("bad2", "a:b:1:1::/h::=value\n");
	assert_null(map_open(map_test_spec("passwd-file", "bad2"), 0, &error));
	assert_non_null(strstr(error, "/bad2:1:"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fields_by_name, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_fold_case, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_file_names_line, map_test_setup, map_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
