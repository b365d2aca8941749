/*
 * Unit tests for the FETCH item parser: the golden table
 * imap_fetch/items.in -> items.ref (each case is what follows "FETCH 1"
 * on a command line: the items and optional modifiers; the wanted items
 * are printed canonically with their response names), and the details of
 * one parsed section.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "mail/imap_fetch_parse.h"
#include "util/strbuf.h"

static const struct imap_parse_limits parse_limits = {
    .max_line = 4096,
    .max_literal = 4096,
    .max_command = 8192,
    .max_depth = 20,
    .max_args = 200,
};

static const struct imap_fetch_limits fetch_limits = {
    .max_items = 5,
    .max_fields = 4,
    .max_name = 80,
};

static struct imap_parser *
parse_line(const char *input, size_t len, const struct imap_command **cmd_r)
{
	struct imap_parser *p = imap_parser_new(&parse_limits);
	struct strbuf line;

	strbuf_init(&line, STRBUF_UNLIMITED);
	strbuf_append_str(&line, "a FETCH 1 ");
	strbuf_append(&line, input, len);
	if (imap_parser_feed_line(p, line.data, line.len) == IMAP_PARSE_DONE)
		*cmd_r = imap_parser_command(p);
	else
		*cmd_r = NULL;
	strbuf_release(&line);
	return p;
}

static void
run_case(const char *input, size_t len, const char *flags, struct strbuf *out)
{
	const struct imap_command *cmd;
	struct imap_parser *p = parse_line(input, len, &cmd);
	struct imap_fetch *fetch;
	unsigned int f = 0;
	const char *error;

	if (strstr(flags, "condstore") != NULL)
		f |= IMAP_FETCH_ALLOW_CONDSTORE;
	if (strstr(flags, "qresync") != NULL)
		f |= IMAP_FETCH_ALLOW_QRESYNC;
	if (strstr(flags, "binary") != NULL)
		f |= IMAP_FETCH_ALLOW_BINARY;
	if (cmd == NULL) {
		strbuf_printf(out, "PARSE %s", imap_parser_error(p)->text);
	} else if (cmd->count < 2 || cmd->count > 3) {
		strbuf_append_str(out, "ARGS");
	} else if (imap_fetch_parse(&cmd->args[1],
				    cmd->count == 3 ? &cmd->args[2] : NULL,
				    &fetch_limits, f, &fetch, &error) < 0) {
		assert_null(fetch);
		strbuf_printf(out, "ERR %s", error);
	} else {
		assert_int_equal(imap_fetch_dump(fetch, out), 0);
		imap_fetch_free(&fetch);
		assert_null(fetch);
	}
	imap_parser_free(&p);
}

static void
test_golden(void **state)
{
	(void)state;
	assert_int_equal(
	    golden_run("imap_fetch/items.in", "imap_fetch/items.ref", run_case),
	    0);
}

static void
test_section_details(void **state)
{
	static const char items[] =
	    "(UID BODY.PEEK[1.2.HEADER.FIELDS.NOT (X-A \"x-b\")]<10.20>)";
	const struct imap_command *cmd;
	struct imap_parser *p = parse_line(items, sizeof(items) - 1, &cmd);
	const struct imap_fetch_body *b;
	struct imap_fetch *fetch;
	const char *error;

	(void)state;
	assert_non_null(cmd);
	assert_int_equal(imap_fetch_parse(&cmd->args[1], NULL, &fetch_limits, 0,
					  &fetch, &error),
			 0);
	assert_int_equal(fetch->items, IMAP_FETCH_UID);
	assert_int_equal(fetch->body_count, 1);
	b = &fetch->bodies[0];
	assert_int_equal(b->kind, IMAP_BODY_SECTION);
	assert_true(b->peek);
	assert_false(fetch->sets_seen);
	assert_int_equal(b->part_count, 2);
	assert_int_equal(b->parts[0], 1);
	assert_int_equal(b->parts[1], 2);
	assert_int_equal(b->section, IMAP_SECTION_HEADER_FIELDS_NOT);
	assert_int_equal(b->field_count, 2);
	assert_string_equal(b->fields[0], "X-A");
	assert_string_equal(b->fields[1], "X-B");
	assert_true(b->partial);
	assert_int_equal(b->offset, 10);
	assert_int_equal(b->size, 20);
	assert_string_equal(b->name,
			    "BODY[1.2.HEADER.FIELDS.NOT (X-A X-B)]<10>");
	imap_fetch_free(&fetch);
	imap_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_section_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
