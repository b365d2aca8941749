/*
 * Unit tests for the SEARCH program parser: the golden table
 * imap_search/programs.in -> programs.ref (each case is what follows
 * "SEARCH" on a command line, split by imap_parse; the program is printed
 * canonically), and a literal argument, which one line cannot show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "mail/imap_search_parse.h"
#include "util/strbuf.h"

static const struct imap_parse_limits parse_limits = {
    .max_line = 4096,
    .max_literal = 4096,
    .max_command = 8192,
    .max_depth = 20,
    .max_args = 200,
};

static const struct imap_search_limits search_limits = {
    .max_nodes = 20,
    .max_depth = 5,
    .max_ranges = 10,
};

static void
run_case(const char *input, size_t len, const char *flags, struct strbuf *out)
{
	struct imap_parser *p = imap_parser_new(&parse_limits);
	struct imap_search_program *prog;
	const struct imap_command *cmd;
	unsigned int f = 0;
	const char *error;
	struct strbuf line;

	if (strstr(flags, "esearch") != NULL)
		f |= IMAP_SEARCH_ALLOW_RETURN;
	if (strstr(flags, "condstore") != NULL)
		f |= IMAP_SEARCH_ALLOW_MODSEQ;
	if (strstr(flags, "searchres") != NULL)
		f |= IMAP_SEARCH_ALLOW_SAVED;
	strbuf_init(&line, STRBUF_UNLIMITED);
	strbuf_append_str(&line, "a SEARCH ");
	strbuf_append(&line, input, len);
	if (imap_parser_feed_line(p, line.data, line.len) != IMAP_PARSE_DONE) {
		strbuf_printf(out, "PARSE %s", imap_parser_error(p)->text);
	} else {
		cmd = imap_parser_command(p);
		if (imap_search_parse(cmd->args, cmd->count, &search_limits, f,
				      &prog, &error) < 0) {
			assert_null(prog);
			strbuf_printf(out, "ERR %s", error);
		} else {
			assert_int_equal(imap_search_program_dump(prog, out),
					 0);
			imap_search_program_free(&prog);
			assert_null(prog);
		}
	}
	strbuf_release(&line);
	imap_parser_free(&p);
}

static void
test_golden(void **state)
{
	(void)state;
	assert_int_equal(golden_run("imap_search/programs.in",
				    "imap_search/programs.ref", run_case),
			 0);
}

static void
test_literal_value(void **state)
{
	struct imap_parser *p = imap_parser_new(&parse_limits);
	struct imap_search_program *prog;
	const struct imap_command *cmd;
	const char *error;
	const char *line = "a SEARCH CHARSET UTF-8 SUBJECT {7}";
	size_t used;

	(void)state;
	assert_int_equal(imap_parser_feed_line(p, line, strlen(line)),
			 IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_feed_literal(p, "M\xC3\xBCller", 7, &used),
			 1);
	assert_int_equal(imap_parser_feed_line(p, " UNSEEN", 7),
			 IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	assert_int_equal(imap_search_parse(cmd->args, cmd->count,
					   &search_limits, 0, &prog, &error),
			 0);
	assert_string_equal(prog->charset, "UTF-8");
	assert_int_equal(prog->root->children->key, IMAP_SEARCH_SUBJECT);
	assert_string_equal(prog->root->children->value, "M\xC3\xBCller");
	assert_int_equal(prog->root->children->next->key, IMAP_SEARCH_UNSEEN);
	imap_search_program_free(&prog);
	imap_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_literal_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
