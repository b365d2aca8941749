/*
 * Unit tests for "sendmail -t" address extraction from To/Cc/Bcc values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sendmail.h"

static void
expect(const char *value, const char *const *want, unsigned int n)
{
	struct sendmail_msg msg = {0};

	sendmail_header_rcpts(value, &msg);
	assert_int_equal(msg.n_rcpts, n);
	for (unsigned int i = 0; i < n; i++) {
		assert_string_equal(msg.rcpts[i], want[i]);
		free(msg.rcpts[i]);
	}
	free(msg.rcpts);
}

static void
test_forms(void **state)
{
	(void)state;
	expect(" a@example.org", (const char *[]){"a@example.org"}, 1);
	expect(" A <a@example.org>, b@example.org (Bee)",
	       (const char *[]){"a@example.org", "b@example.org"}, 2);
	expect(" \"Last, First\" <f@example.org>,\t\"x<y>\" <q@example.org>",
	       (const char *[]){"f@example.org", "q@example.org"}, 2);
	expect(
	    " team: a@example.org, b@example.org;, c@example.org",
	    (const char *[]){"a@example.org", "b@example.org", "c@example.org"},
	    3);
	expect(" undisclosed-recipients:;", NULL, 0);
	expect(" (comment, with comma) d@example.org",
	       (const char *[]){"d@example.org"}, 1);
	expect(" ,, ,", NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
