/* Unit tests for sqlite: maps against a database made in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "mail/map.h"
#include "map_test_util.h"

static const char schema[] =
	"CREATE TABLE virtual_domains (id INTEGER PRIMARY KEY, name TEXT);"
	"CREATE TABLE virtual_users (id INTEGER PRIMARY KEY, domain_id INT,"
	" email TEXT, password TEXT, quota INT);"
	"CREATE TABLE virtual_aliases (id INTEGER PRIMARY KEY, domain_id INT,"
	" source TEXT, destination TEXT);"
	"INSERT INTO virtual_domains VALUES (1, 'example.org');"
	"INSERT INTO virtual_users VALUES (1, 1, 'alice@example.org', '{PLAIN}a', 100);"
	"INSERT INTO virtual_users VALUES (2, 1, 'bob@example.org', NULL, NULL);"
	"INSERT INTO virtual_aliases VALUES (1, 1, 'team@example.org', 'alice@example.org');"
	"INSERT INTO virtual_aliases VALUES (2, 1, 'team@example.org', 'bob@example.org');"
	"INSERT INTO virtual_aliases VALUES (3, 1, 'x''; DROP TABLE virtual_users; --', 'evil');";

static void
make_db(void)
{
	char path[300];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/mail.sqlite", map_test_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Writes a .cf file for the test db with the given extra lines. */
static struct map *
open_cf(const char *name, const char *lines, unsigned int flags)
{
	char text[2048];
	const char *error = NULL;
	struct map *map;

	snprintf(text, sizeof(text), "dbpath = %s/mail.sqlite\n%s", map_test_dir, lines);
	map_test_file(name, text);
	map = map_open(map_test_spec("sqlite", name), flags, &error);
	if (map == NULL)
		fail_msg("map_open: %s", error);
	return map;
}

static void
test_found_and_not_found(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	make_db();
	map = open_cf("domains.cf", "query = SELECT 1 FROM virtual_domains WHERE name='%s'\n", 0);
	assert_int_equal(map_check(map, &error), 0);
	assert_int_equal(map_lookup(map, "example.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "1");
	map_result_free(&res);
	assert_int_equal(map_lookup(map, "example.com", &res, &error), MAP_NOTFOUND);
	map_close(&map);
}

static void
test_multi_row_joined_and_hostile_key(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	make_db();
	map = open_cf("aliases.cf",
		      "query = SELECT destination FROM virtual_aliases\n"
		      "  WHERE source = '%s' ORDER BY id\n", 0);
	assert_int_equal(map_lookup(map, "team@example.org", &res, &error), MAP_FOUND);
	assert_int_equal(res.n_rows, 2);
	assert_string_equal(map_result_value(&res), "alice@example.org, bob@example.org");
	map_result_free(&res);
	/* the quote-laden key is data: it matches its own row, drops nothing */
	assert_int_equal(map_lookup(map, "x'; DROP TABLE virtual_users; --", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "evil");
	map_result_free(&res);
	map_close(&map);
	map = open_cf("users.cf", "query = SELECT email FROM virtual_users WHERE email='%s'\n", 0);
	assert_int_equal(map_lookup(map, "alice@example.org", &res, &error), MAP_FOUND);
	map_result_free(&res);
	map_close(&map);
}

static void
test_named_columns_and_null(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	make_db();
	map = open_cf("passdb.cf",
		      "query = SELECT email AS user, password, quota FROM virtual_users"
		      " WHERE email = '%u'\n", MAP_DOVECOT_EXPANSIONS);
	assert_int_equal(map_lookup(map, "alice@example.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_get(&res, "user"), "alice@example.org");
	assert_string_equal(map_result_get(&res, "password"), "{PLAIN}a");
	assert_string_equal(map_result_get(&res, "quota"), "100");
	map_result_free(&res);
	/* NULL columns are left out */
	assert_int_equal(map_lookup(map, "bob@example.org", &res, &error), MAP_FOUND);
	assert_null(map_result_get(&res, "password"));
	assert_string_equal(map_result_get(&res, "user"), "bob@example.org");
	map_result_free(&res);
	map_close(&map);
}

static void
test_result_format_domain_fold_and_limit(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	make_db();
	map = open_cf("mailbox.cf",
		      "query = SELECT email FROM virtual_users WHERE email='%s'\n"
		      "result_format = %d/%u/Maildir/\n"
		      "domain = example.net, example.org\n", MAP_FOLD_CASE);
	assert_int_equal(map_lookup(map, "Alice@EXAMPLE.org", &res, &error), MAP_FOUND);
	assert_string_equal(map_result_value(&res), "example.org/alice/Maildir/");
	map_result_free(&res);
	map_close(&map);
	/* domain restriction: no query for other domains or bare keys */
	map = open_cf("dom.cf",
		      "query = SELECT 'x' FROM virtual_domains WHERE 1 = 1 OR '%s' = ''\n"
		      "domain = example.net\n", 0);
	assert_int_equal(map_lookup(map, "a@example.net", &res, &error), MAP_FOUND);
	map_result_free(&res);
	assert_int_equal(map_lookup(map, "a@example.org", &res, &error), MAP_NOTFOUND);
	assert_int_equal(map_lookup(map, "example.net", &res, &error), MAP_NOTFOUND);
	map_close(&map);
	/* %d with an unqualified key runs no query (Postfix) */
	map = open_cf("d.cf", "query = SELECT 'x' WHERE '%d' IS NOT NULL\n", 0);
	assert_int_equal(map_lookup(map, "a@b", &res, &error), MAP_FOUND);
	map_result_free(&res);
	assert_int_equal(map_lookup(map, "postmaster", &res, &error), MAP_NOTFOUND);
	map_close(&map);
	/* more rows than expansion_limit is an error, not a partial answer */
	map = open_cf("lim.cf",
		      "query = SELECT destination FROM virtual_aliases WHERE source='%s'\n"
		      "expansion_limit = 1\n", 0);
	assert_int_equal(map_lookup(map, "team@example.org", &res, &error), MAP_TEMPFAIL);
	assert_non_null(strstr(error, "expansion_limit"));
	map_close(&map);
}

static void
test_missing_db_is_tempfail(void **state)
{
	struct map_result res;
	const char *error;
	struct map *map;

	(void)state;
	/* no make_db(): the file is absent */
	map = open_cf("u.cf", "query = SELECT 1 FROM virtual_users WHERE email='%s'\n", 0);
	assert_int_equal(map_check(map, &error), -1);
	assert_non_null(strstr(error, "mail.sqlite"));
	assert_int_equal(map_lookup(map, "alice@example.org", &res, &error), MAP_TEMPFAIL);
	assert_non_null(strstr(error, "No such file"));
	/* once the database appears the same handle works */
	make_db();
	assert_int_equal(map_lookup(map, "alice@example.org", &res, &error), MAP_FOUND);
	map_result_free(&res);
	map_close(&map);
	/* a query on a missing table: check fails, lookup TEMPFAIL */
	map = open_cf("t.cf", "query = SELECT 1 FROM no_such_table WHERE a='%s'\n", 0);
	assert_int_equal(map_check(map, &error), -1);
	assert_non_null(strstr(error, "no_such_table"));
	assert_int_equal(map_lookup(map, "x", &res, &error), MAP_TEMPFAIL);
	map_close(&map);
}

static void *
lookup_thread(void *arg)
{
	struct map *map = arg;
	struct map_result res;
	const char *error;
	long bad = 0;

	for (int i = 0; i < 300; i++) {
		if (map_lookup(map, "team@example.org", &res, &error) != MAP_FOUND ||
		    strcmp(map_result_value(&res), "alice@example.org, bob@example.org") != 0)
			bad++;
		map_result_free(&res);
		if (map_lookup(map, "none@example.org", &res, &error) != MAP_NOTFOUND)
			bad++;
	}
	return (void *)bad;
}

static void
test_threads_share_a_handle(void **state)
{
	pthread_t threads[4];
	struct map *map;
	void *bad;

	(void)state;
	make_db();
	map = open_cf("aliases.cf",
		      "query = SELECT destination FROM virtual_aliases\n"
		      "  WHERE source = '%s' ORDER BY id\n", 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, lookup_thread, map), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(threads[i], &bad), 0);
		assert_int_equal((long)bad, 0);
	}
	map_close(&map);
}

static void
test_bad_cf_files(void **state)
{
	const char *error;

	(void)state;
	map_test_file("a.cf", "dbpath = /x\nquery = SELECT '%q'\n");
	assert_null(map_open(map_test_spec("sqlite", "a.cf"), 0, &error));
	assert_non_null(strstr(error, "a.cf:2:"));
	assert_non_null(strstr(error, "%q"));
	map_test_file("b.cf", "dbpath = /x\nquery = SELECT 1\nhots = typo\n");
	assert_null(map_open(map_test_spec("sqlite", "b.cf"), 0, &error));
	assert_non_null(strstr(error, "b.cf:3:"));
	map_test_file("c.cf", "query = SELECT 1\n");
	assert_null(map_open(map_test_spec("sqlite", "c.cf"), 0, &error));
	assert_non_null(strstr(error, "dbpath"));
	map_test_file("d.cf", "dbpath = /x\n");
	assert_null(map_open(map_test_spec("sqlite", "d.cf"), 0, &error));
	assert_non_null(strstr(error, "query"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_found_and_not_found, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_multi_row_joined_and_hostile_key, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_named_columns_and_null, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_result_format_domain_fold_and_limit, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_missing_db_is_tempfail, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_threads_share_a_handle, map_test_setup, map_test_teardown),
		cmocka_unit_test_setup_teardown(test_bad_cf_files, map_test_setup, map_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
