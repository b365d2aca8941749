/* Unit tests for map_query: %-expansions become bound "?" placeholders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/map.h"
#include "mail/map_query.h"
#include "util/xmem.h"

struct rewrite_case {
	const char *in;
	unsigned int flags;
	const char *sql;
	const char *args; /* one letter per "?": k key, l local, d domain */
};

static const struct rewrite_case rewrite_cases[] = {
	{ "SELECT x FROM t WHERE a='%s'", 0, "SELECT x FROM t WHERE a=?", "k" },
	{ "SELECT x FROM t WHERE a=\"%s\"", 0, "SELECT x FROM t WHERE a=?", "k" },
	{ "SELECT x FROM t WHERE a=%s", 0, "SELECT x FROM t WHERE a=?", "k" },
	{ "SELECT 1 FROM u WHERE l='%u' AND d='%d'", 0,
	  "SELECT 1 FROM u WHERE l=? AND d=?", "ld" },
	{ "SELECT '100%%' FROM t WHERE a LIKE '%%x' AND b=%%s", 0,
	  "SELECT '100%' FROM t WHERE a LIKE '%x' AND b=%s", "" },
	{ "SELECT 'it''s' FROM t WHERE a='%s' OR b='%s'", 0,
	  "SELECT 'it''s' FROM t WHERE a=? OR b=?", "kk" },
	{ "SELECT password FROM users WHERE email='%u'", MAP_DOVECOT_EXPANSIONS,
	  "SELECT password FROM users WHERE email=?", "k" },
	{ "SELECT 1 WHERE n='%n' AND d='%d'", MAP_DOVECOT_EXPANSIONS,
	  "SELECT 1 WHERE n=? AND d=?", "ld" },
	{ "SELECT 1 WHERE u='%{user}' AND n=%{username} AND d='%{domain}'",
	  MAP_DOVECOT_EXPANSIONS, "SELECT 1 WHERE u=? AND n=? AND d=?", "kld" },
	{ "SELECT 1 WHERE a='\\'%s'", 0, "SELECT 1 WHERE a='\\'%s'", NULL },
};

static void
test_rewrite_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rewrite_cases) / sizeof(rewrite_cases[0]); i++) {
		const struct rewrite_case *c = &rewrite_cases[i];
		struct map_query q;
		char *error = NULL;
		int ret = map_query_parse(c->in, c->flags, &q, &error);

		if (c->args == NULL) {
			/* an expansion inside a longer literal is refused */
			assert_int_equal(ret, -1);
			assert_non_null(strstr(error, "inside a quoted string"));
			xfree(&error);
			continue;
		}
		assert_int_equal(ret, 0);
		assert_string_equal(q.sql, c->sql);
		assert_int_equal(q.n_args, strlen(c->args));
		for (size_t j = 0; j < q.n_args; j++) {
			enum map_query_arg want = c->args[j] == 'k' ? MAP_QUERY_ARG_KEY :
				c->args[j] == 'l' ? MAP_QUERY_ARG_LOCAL : MAP_QUERY_ARG_DOMAIN;
			assert_int_equal(q.args[j], want);
		}
		map_query_free(&q);
	}
}

static void
test_unknown_expansion_is_named(void **state)
{
	struct map_query q;
	char *error = NULL;

	(void)state;
	assert_int_equal(map_query_parse("SELECT 1 WHERE a='%q'", 0, &q, &error), -1);
	assert_non_null(strstr(error, "%q"));
	xfree(&error);
	/* %n is Dovecot's, not Postfix's */
	assert_int_equal(map_query_parse("SELECT %n", 0, &q, &error), -1);
	assert_non_null(strstr(error, "%n"));
	xfree(&error);
	/* %s is Postfix's, not Dovecot's */
	assert_int_equal(map_query_parse("SELECT %s", MAP_DOVECOT_EXPANSIONS, &q, &error), -1);
	assert_non_null(strstr(error, "%s"));
	xfree(&error);
	assert_int_equal(map_query_parse("SELECT %{home}", MAP_DOVECOT_EXPANSIONS, &q, &error), -1);
	assert_non_null(strstr(error, "%{home}"));
	xfree(&error);
	assert_int_equal(map_query_parse("SELECT 1 %", 0, &q, &error), -1);
	xfree(&error);
	assert_int_equal(map_query_parse("SELECT 'abc", 0, &q, &error), -1);
	assert_non_null(strstr(error, "unterminated"));
	xfree(&error);
	assert_int_equal(map_query_parse("SELECT 1 WHERE a=?", 0, &q, &error), -1);
	xfree(&error);
}

static void
test_hostile_key_is_bound_not_spliced(void **state)
{
	const char *key = "x'; DROP TABLE users; --@evil\".com";
	const char *values[MAP_QUERY_ARGS_MAX];
	struct map_query q;
	char *error = NULL, *buf = xmalloc(strlen(key) + 2);

	(void)state;
	assert_int_equal(map_query_parse("SELECT d FROM t WHERE a='%s' AND l='%u' AND d='%d'",
					 0, &q, &error), 0);
	assert_null(strstr(q.sql, "DROP"));
	assert_string_equal(q.sql, "SELECT d FROM t WHERE a=? AND l=? AND d=?");
	assert_int_equal(map_query_values(&q, key, buf, values), 1);
	assert_string_equal(values[0], key);
	assert_string_equal(values[1], "x'; DROP TABLE users; --");
	assert_string_equal(values[2], "evil\".com");
	map_query_free(&q);
	xfree(&buf);
}

static void
test_postfix_suppression_rules(void **state)
{
	const char *values[MAP_QUERY_ARGS_MAX];
	struct map_query q;
	char *error = NULL, buf[64];

	(void)state;
	/* %d with an unqualified key: the query is not run */
	assert_int_equal(map_query_parse("SELECT 1 WHERE d='%d'", 0, &q, &error), 0);
	assert_int_equal(map_query_values(&q, "postmaster", buf, values), 0);
	assert_int_equal(map_query_values(&q, "user@", buf, values), 0);
	assert_int_equal(map_query_values(&q, "a@example.org", buf, values), 1);
	assert_string_equal(values[0], "example.org");
	map_query_free(&q);
	/* %u: whole key when unqualified, suppressed for "@domain" */
	assert_int_equal(map_query_parse("SELECT 1 WHERE u='%u'", 0, &q, &error), 0);
	assert_int_equal(map_query_values(&q, "postmaster", buf, values), 1);
	assert_string_equal(values[0], "postmaster");
	assert_int_equal(map_query_values(&q, "@example.org", buf, values), 0);
	map_query_free(&q);
	/* Dovecot never suppresses: %d is empty */
	assert_int_equal(map_query_parse("SELECT 1 WHERE n='%n' AND d='%d'",
					 MAP_DOVECOT_EXPANSIONS, &q, &error), 0);
	assert_int_equal(map_query_values(&q, "bob", buf, values), 1);
	assert_string_equal(values[0], "bob");
	assert_string_equal(values[1], "");
	map_query_free(&q);
}

static void
test_result_format(void **state)
{
	const char *error;
	char *s;

	(void)state;
	assert_int_equal(map_query_check_format("%d/%u/", &error), 0);
	assert_int_equal(map_query_check_format("%x", &error), -1);
	s = map_query_format_result("%d/%u/", "bob@example.org");
	assert_string_equal(s, "example.org/bob/");
	xfree(&s);
	s = map_query_format_result("<%s> 100%%", "v");
	assert_string_equal(s, "<v> 100%");
	xfree(&s);
	assert_null(map_query_format_result("%d", "unqualified"));
	assert_null(map_query_format_result("%s", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite_table),
		cmocka_unit_test(test_unknown_expansion_is_named),
		cmocka_unit_test(test_hostile_key_is_bound_not_spliced),
		cmocka_unit_test(test_postfix_suppression_rules),
		cmocka_unit_test(test_result_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
