/*
 * Unit tests for the IMAP command parser: the golden table
 * imap_parse/commands.in -> commands.ref, where each case is a raw client
 * byte stream that a small driver feeds the way the I/O layer does (line
 * by line, literals by size), plus properties the table cannot show
 * (literals fed in pieces, reuse after reset, argument helpers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "mail/imap_parse.h"
#include "mail/imap_seqset.h"
#include "util/strbuf.h"

static void
limits_from_flags(const char *flags, struct imap_parse_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_line = 200;
	lim->max_literal = 100;
	lim->max_command = 400;
	lim->max_depth = 5;
	lim->max_args = 30;
	if (strstr(flags, "literal+") != NULL)
		lim->flags |= IMAP_PARSE_LITERAL_PLUS;
	if (strstr(flags, "literal-") != NULL)
		lim->flags |= IMAP_PARSE_LITERAL_MINUS;
	if (strstr(flags, "binary") != NULL)
		lim->flags |= IMAP_PARSE_LITERAL8;
	if (strstr(flags, "stream") != NULL)
		lim->max_stream_literal = 100000;
	if (strstr(flags, "biglit") != NULL)
		lim->max_literal = lim->max_command = 10000;
}

/* Drives the parser over one client byte stream: lines end in CRLF (a
   missing final CRLF ends the input), literals are taken by size. */
static void
run_case(const char *input, size_t len, const char *flags, struct strbuf *out)
{
	struct imap_parse_limits lim;
	struct imap_parser *p;
	enum imap_parse_result r;
	size_t pos = 0;

	limits_from_flags(flags, &lim);
	p = imap_parser_new(&lim);
	for (;;) {
		const char *eol = NULL;
		size_t i, line_len;

		for (i = pos; i + 1 < len; i++) {
			if (input[i] == '\r' && input[i + 1] == '\n') {
				eol = input + i;
				break;
			}
		}
		line_len =
		    eol != NULL ? (size_t)(eol - input) - pos : len - pos;
		r = imap_parser_feed_line(p, input + pos, line_len);
		pos += line_len + (eol != NULL ? 2 : 0);
		if (r != IMAP_PARSE_LITERAL)
			break;
		{
			const struct imap_literal_info *li =
			    imap_parser_literal(p);
			size_t used;

			strbuf_printf(out, "%s%s%s ", li->sync ? "+" : "nosync",
				      li->binary ? ",binary" : "",
				      li->must_stream ? ",stream" : "");
			if (li->must_stream) {
				assert_int_equal(
				    imap_parser_literal_streamed(p), 0);
				pos += li->size < len - pos ? (size_t)li->size
							    : len - pos;
				continue;
			}
			if (len - pos < li->size) {
				strbuf_append_str(out, "EOF in literal");
				imap_parser_free(&p);
				return;
			}
			assert_int_equal(imap_parser_feed_literal(
					     p, input + pos, len - pos, &used),
					 1);
			assert_int_equal(used, li->size);
			pos += used;
		}
	}
	if (r == IMAP_PARSE_DONE) {
		const struct imap_command *cmd = imap_parser_command(p);

		strbuf_append_str(out, "OK ");
		golden_quote(out, cmd->tag, strlen(cmd->tag));
		strbuf_printf(out, " %s [", cmd->name);
		assert_int_equal(imap_args_dump(out, cmd->args, cmd->count), 0);
		strbuf_append_str(out, "]");
	} else {
		const struct imap_parse_error *e = imap_parser_error(p);

		strbuf_printf(out, "ERR %s%s%s %s", imap_parser_tag(p),
			      e->fatal ? " fatal" : "",
			      e->toobig ? " toobig" : "", e->text);
	}
	if (pos < len)
		strbuf_printf(out, " rest=%zu", len - pos);
	imap_parser_free(&p);
}

static void
test_golden(void **state)
{
	(void)state;
	assert_int_equal(golden_run("imap_parse/commands.in",
				    "imap_parse/commands.ref", run_case),
			 0);
}

static const struct imap_parse_limits default_limits = {
    .max_line = 8192,
    .max_literal = 65536,
    .max_stream_literal = 0,
    .max_command = 65536,
    .max_depth = 10,
    .max_args = 100,
    .flags = IMAP_PARSE_LITERAL_PLUS,
};

static void
test_literal_in_pieces(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	const struct imap_command *cmd;
	const char *s;
	size_t used;

	(void)state;
	assert_int_equal(imap_parser_feed_line(p, "t1 LOGIN {4}", 12),
			 IMAP_PARSE_LITERAL);
	assert_true(imap_parser_literal(p)->sync);
	assert_int_equal(imap_parser_feed_literal(p, "jo", 2, &used), 0);
	assert_int_equal(used, 2);
	assert_int_equal(imap_parser_feed_literal(p, "hnXYZ", 5, &used), 1);
	assert_int_equal(used, 2);
	assert_int_equal(imap_parser_feed_line(p, " {3+}", 5),
			 IMAP_PARSE_LITERAL);
	assert_false(imap_parser_literal(p)->sync);
	assert_int_equal(imap_parser_feed_literal(p, "a\0b", 3, &used), 1);
	assert_int_equal(imap_parser_feed_line(p, "", 0), IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	assert_non_null(cmd);
	assert_string_equal(cmd->tag, "t1");
	assert_string_equal(cmd->name, "LOGIN");
	assert_int_equal(cmd->count, 2);
	assert_true(imap_arg_get_astring(&cmd->args[0], &s));
	assert_string_equal(s, "john");
	/* a literal with a NUL is not an astring */
	assert_int_equal(cmd->args[1].len, 3);
	assert_false(imap_arg_get_astring(&cmd->args[1], &s));
	/* feeding more after DONE is refused until reset */
	assert_int_equal(imap_parser_feed_line(p, "x NOOP", 6),
			 IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed_line(p, "x noop", 6),
			 IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->name, "NOOP");
	assert_int_equal(imap_parser_command(p)->count, 0);
	imap_parser_free(&p);
	assert_null(p);
}

static void
test_huge_literal_refused(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	const struct imap_parse_error *e;
	const char *line;

	(void)state;
	/* refused at the announcement: no LITERAL result, nothing to feed */
	assert_int_equal(
	    imap_parser_feed_line(p, "a APPEND INBOX {4294967296}", 27),
	    IMAP_PARSE_ERROR);
	e = imap_parser_error(p);
	assert_true(e->toobig);
	assert_false(e->fatal);
	assert_non_null(strstr(e->text, "[TOOBIG]"));
	assert_string_equal(imap_parser_tag(p), "a");
	assert_int_equal(imap_parser_feed_literal(p, "x", 1, &(size_t){0}), -1);
	imap_parser_reset(p);
	/* the same as a non-synchronising literal: the client sends the
	   bytes anyway, so the connection must close */
	line = "a APPEND INBOX {99999999999999999999999+}";
	assert_int_equal(imap_parser_feed_line(p, line, strlen(line)),
			 IMAP_PARSE_ERROR);
	assert_true(imap_parser_error(p)->fatal);
	imap_parser_free(&p);
}

static void
test_stream_literal(void **state)
{
	struct imap_parse_limits lim = default_limits;
	struct imap_parser *p;
	const struct imap_command *cmd;
	size_t used;

	(void)state;
	lim.max_literal = 10;
	lim.max_stream_literal = 1000000;
	p = imap_parser_new(&lim);
	assert_int_equal(
	    imap_parser_feed_line(p, "a APPEND INBOX (\\Seen) {500000}", 31),
	    IMAP_PARSE_LITERAL);
	assert_true(imap_parser_literal(p)->must_stream);
	/* an in-memory feed is refused for a literal that must stream */
	assert_int_equal(imap_parser_feed_literal(p, "x", 1, &used), -1);
	assert_int_equal(imap_parser_literal_streamed(p), 0);
	assert_int_equal(imap_parser_feed_line(p, "", 0), IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	assert_int_equal(cmd->count, 3);
	assert_int_equal(cmd->args[2].type, IMAP_ARG_LITERAL_STREAM);
	assert_int_equal(cmd->args[2].literal_size, 500000);
	assert_null(cmd->args[2].str);
	imap_parser_free(&p);
}

static void
test_arg_helpers(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	const struct imap_command *cmd;
	struct imap_seqset set;
	const char *s, *error;

	(void)state;
	assert_int_equal(
	    imap_parser_feed_line(p, "a X NIL \"NIL\" atom \"q\" (l)", 26),
	    IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	assert_int_equal(cmd->count, 5);
	assert_true(imap_arg_get_nstring(&cmd->args[0], &s));
	assert_null(s);
	assert_true(imap_arg_get_astring(&cmd->args[0], &s));
	assert_string_equal(s, "NIL");
	assert_true(imap_arg_get_nstring(&cmd->args[1], &s));
	assert_string_equal(s, "NIL");
	assert_false(imap_arg_get_nstring(&cmd->args[2], &s));
	assert_true(imap_arg_get_atom(&cmd->args[2], &s));
	assert_true(imap_arg_atom_equals(&cmd->args[2], "ATOM"));
	assert_false(imap_arg_get_atom(&cmd->args[3], &s));
	assert_false(imap_arg_get_astring(&cmd->args[4], &s));
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed_line(p, "a FETCH 3:*,1 \"1\" $", 19),
			 IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	assert_int_equal(
	    imap_arg_get_seqset(&cmd->args[0], 10, false, &set, &error), 0);
	imap_seqset_resolve(&set, 5);
	assert_int_equal(imap_seqset_count(&set), 4);
	imap_seqset_release(&set);
	/* a quoted string is not a sequence set */
	assert_int_equal(
	    imap_arg_get_seqset(&cmd->args[1], 10, false, &set, &error), -1);
	imap_seqset_release(&set);
	assert_int_equal(
	    imap_arg_get_seqset(&cmd->args[2], 10, false, &set, &error), -1);
	imap_seqset_release(&set);
	assert_int_equal(
	    imap_arg_get_seqset(&cmd->args[2], 10, true, &set, &error), 0);
	assert_true(set.saved);
	imap_seqset_release(&set);
	imap_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_literal_in_pieces),
	    cmocka_unit_test(test_huge_literal_refused),
	    cmocka_unit_test(test_stream_literal),
	    cmocka_unit_test(test_arg_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
