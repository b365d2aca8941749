/*
 * Unit tests for the SMTP command parser: the golden table
 * smtp_parse/commands.in -> commands.ref, and a few properties the table
 * cannot show (pointers into the line, exact decimals).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "mail/smtp_parse.h"
#include "util/strbuf.h"

static unsigned int
parse_flags(const char *flags)
{
	unsigned int f = 0;

	if (strstr(flags, "size") != NULL)
		f |= SMTP_PARSE_EXT_SIZE;
	if (strstr(flags, "8bitmime") != NULL)
		f |= SMTP_PARSE_EXT_8BITMIME;
	if (strstr(flags, "binarymime") != NULL)
		f |= SMTP_PARSE_EXT_BINARYMIME;
	if (strstr(flags, "smtputf8") != NULL)
		f |= SMTP_PARSE_EXT_SMTPUTF8;
	if (strstr(flags, "dsn") != NULL)
		f |= SMTP_PARSE_EXT_DSN;
	if (strstr(flags, "auth") != NULL)
		f |= SMTP_PARSE_EXT_AUTH;
	if (strstr(flags, "all") != NULL)
		f |= SMTP_PARSE_EXT_ALL;
	if (strstr(flags, "utf8tx") != NULL)
		f |= SMTP_PARSE_UTF8_TRANSACTION;
	if (strstr(flags, "strict") != NULL)
		f |= SMTP_PARSE_STRICT;
	return f;
}

static void
format_flags(struct strbuf *out, const struct address *a)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
	    {ADDRESS_FLAG_NULL, "null"},
	    {ADDRESS_FLAG_ROUTE, "route"},
	    {ADDRESS_FLAG_QUOTED, "quoted"},
	    {ADDRESS_FLAG_LITERAL, "literal"},
	    {ADDRESS_FLAG_UTF8, "utf8"},
	    {ADDRESS_FLAG_LONG_LOCAL, "longlocal"},
	    {ADDRESS_FLAG_NO_DOMAIN, "nodomain"},
	    {ADDRESS_FLAG_NO_BRACKETS, "nobrackets"},
	};
	const char *sep = "";
	size_t i;

	strbuf_append_str(out, " flags=");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((a->flags & names[i].bit) != 0) {
			strbuf_printf(out, "%s%s", sep, names[i].name);
			sep = ",";
		}
	}
	if (address_has_routing_chars(a))
		strbuf_printf(out, "%srouting", sep);
	else if (*sep == '\0')
		strbuf_append_str(out, "-");
}

static void
format_params(struct strbuf *out, const struct smtp_params *p)
{
	static const char *bodies[] = {"", "7BIT", "8BITMIME", "BINARYMIME"};

	if (p->present & SMTP_PARAM_SIZE)
		strbuf_printf(out, " size=%llu", (unsigned long long)p->size);
	if (p->present & SMTP_PARAM_BODY)
		strbuf_printf(out, " body=%s", bodies[p->body]);
	if (p->present & SMTP_PARAM_SMTPUTF8)
		strbuf_append_str(out, " smtputf8");
	if (p->present & SMTP_PARAM_RET)
		strbuf_printf(out, " ret=%s",
			      p->ret == SMTP_RET_FULL ? "FULL" : "HDRS");
	if (p->present & SMTP_PARAM_ENVID) {
		strbuf_append_str(out, " envid=");
		golden_quote(out, p->envid, strlen(p->envid));
	}
	if (p->present & SMTP_PARAM_AUTH) {
		strbuf_append_str(out, " auth=");
		golden_quote(out, p->auth, strlen(p->auth));
	}
	if (p->present & SMTP_PARAM_NOTIFY)
		strbuf_printf(out, " notify=%s%s%s%s",
			      p->notify & SMTP_NOTIFY_NEVER ? "N" : "",
			      p->notify & SMTP_NOTIFY_SUCCESS ? "S" : "",
			      p->notify & SMTP_NOTIFY_FAILURE ? "F" : "",
			      p->notify & SMTP_NOTIFY_DELAY ? "D" : "");
	if (p->present & SMTP_PARAM_ORCPT) {
		strbuf_printf(out, " orcpt=%s;", p->orcpt_type);
		golden_quote(out, p->orcpt_addr, strlen(p->orcpt_addr));
	}
}

static void
run_case(const char *input, size_t len, const char *flags, struct strbuf *out)
{
	struct smtp_command cmd;
	struct strbuf addr;

	if (smtp_parse_command(input, len, parse_flags(flags), &cmd) < 0) {
		strbuf_printf(out, "ERR %s %u%s%s %s", smtp_verb_name(cmd.verb),
			      cmd.error.code, cmd.error.enhanced[0] ? " " : "",
			      cmd.error.enhanced, cmd.error.text);
		return;
	}
	strbuf_append_str(out, smtp_verb_name(cmd.verb));
	switch (cmd.verb) {
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		strbuf_init(&addr, 1024);
		address_format(&cmd.path, &addr);
		strbuf_append_str(out, " <");
		for (size_t i = 0; i < addr.len; i++) {
			unsigned char c = (unsigned char)addr.data[i];

			if (c >= 32 && c < 127)
				strbuf_append_char(out, (char)c);
			else
				strbuf_printf(out, "\\x%02X", c);
		}
		strbuf_append_str(out, "> local=");
		strbuf_release(&addr);
		golden_quote(out, cmd.path.local, cmd.path.local_len);
		strbuf_append_str(out, " domain=");
		golden_quote(out, cmd.path.domain, cmd.path.domain_len);
		if (cmd.path.route[0] != '\0')
			strbuf_printf(out, " route=%s", cmd.path.route);
		format_flags(out, &cmd.path);
		format_params(out, &cmd.params);
		break;
	case SMTP_VERB_BDAT:
		strbuf_printf(out, " size=%llu%s",
			      (unsigned long long)cmd.bdat_size,
			      cmd.bdat_last ? " LAST" : "");
		break;
	case SMTP_VERB_AUTH:
		strbuf_append_str(out, " mech=");
		golden_quote(out, cmd.arg, cmd.arg_len);
		if (cmd.auth_initial != NULL) {
			strbuf_append_str(out, " ir=");
			golden_quote(out, cmd.auth_initial,
				     cmd.auth_initial_len);
		}
		break;
	default:
		if (cmd.arg != NULL) {
			strbuf_append_str(out, " arg=");
			golden_quote(out, cmd.arg, cmd.arg_len);
		}
		if (cmd.verb == SMTP_VERB_HELO || cmd.verb == SMTP_VERB_EHLO ||
		    cmd.verb == SMTP_VERB_LHLO)
			strbuf_append_str(out, cmd.helo_valid ? " valid"
							      : " invalid");
	}
}

static void
test_golden_commands(void **state)
{
	(void)state;
	assert_int_equal(golden_run("smtp_parse/commands.in",
				    "smtp_parse/commands.ref", run_case),
			 0);
}

static void
test_args_point_into_line(void **state)
{
	const char line[] = "EHLO mx.example.org  ";
	struct smtp_command cmd;

	(void)state;
	assert_int_equal(smtp_parse_command(line, sizeof(line) - 1, 0, &cmd),
			 0);
	assert_ptr_equal(cmd.arg, line + 5);
	assert_int_equal(cmd.arg_len, 14);
}

static void
test_length_is_respected(void **state)
{
	/* The bytes after len must never be read or used. */
	const char line[] = "QUIT\0garbage";
	const char line2[] = "RSET extra";
	struct smtp_command cmd;

	(void)state;
	assert_int_equal(smtp_parse_command(line, 4, 0, &cmd), 0);
	assert_int_equal(cmd.verb, SMTP_VERB_QUIT);
	assert_int_equal(smtp_parse_command(line2, 4, 0, &cmd), 0);
	assert_int_equal(cmd.verb, SMTP_VERB_RSET);
	assert_int_equal(smtp_parse_command(line, sizeof(line) - 1, 0, &cmd),
			 -1);
	assert_int_equal(cmd.error.code, 500);
}

static void
test_decimal_bounds(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(smtp_parse_decimal("18446744073709551615", 20, 20, &v),
			 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(smtp_parse_decimal("18446744073709551616", 20, 20, &v),
			 1);
	assert_int_equal(
	    smtp_parse_decimal("000000000000000000001", 21, 20, &v), 1);
	assert_int_equal(smtp_parse_decimal("0", 1, 20, &v), 0);
	assert_true(v == 0);
	assert_int_equal(smtp_parse_decimal("", 0, 20, &v), -1);
	assert_int_equal(smtp_parse_decimal("12a", 3, 20, &v), -1);
	assert_int_equal(smtp_parse_decimal("-1", 2, 20, &v), -1);
	assert_int_equal(smtp_parse_decimal("+1", 2, 20, &v), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_commands),
	    cmocka_unit_test(test_args_point_into_line),
	    cmocka_unit_test(test_length_is_respected),
	    cmocka_unit_test(test_decimal_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
