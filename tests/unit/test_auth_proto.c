/* Unit tests for the Dovecot auth protocol parser and formatter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/auth_proto.h"
#include "util/strbuf.h"

static void
test_tabescape_matches_dovecot(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 100);
	assert_int_equal(auth_proto_tabescape(&sb, "a\tb\nc\rd\001e\\f"), 0);
	assert_string_equal(strbuf_cstr(&sb), "a\001tb\001nc\001rd\0011e\\f");
	strbuf_release(&sb);
}

static void
test_tabescape_overflow_fails(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 4);
	assert_int_equal(auth_proto_tabescape(&sb, "ab\tc"), -1);
	strbuf_release(&sb);
}

static void
test_tabunescape_roundtrip(void **state)
{
	struct strbuf sb;
	const char *orig = "pass\tword\nwith\rall\001kinds";
	char *copy;

	(void)state;
	strbuf_init(&sb, 100);
	assert_int_equal(auth_proto_tabescape(&sb, orig), 0);
	copy = strbuf_steal(&sb);
	assert_int_equal(auth_proto_tabunescape(copy), strlen(orig));
	assert_string_equal(copy, orig);
	free(copy);
}

static void
test_tabunescape_unknown_and_trailing(void **state)
{
	char s1[] = "a\001xb";
	char s2[] = "ab\001";

	(void)state;
	auth_proto_tabunescape(s1);
	assert_string_equal(s1, "axb");
	auth_proto_tabunescape(s2);
	assert_string_equal(s2, "ab");
}

static void
test_split_fields(void **state)
{
	char line[] = "AUTH\t1\tPLAIN\tservice=smtp\tuser=a\001tb";
	char *args[8];
	int n;

	(void)state;
	n = auth_proto_split(line, strlen(line), args, 8);
	assert_int_equal(n, 5);
	assert_string_equal(args[0], "AUTH");
	assert_string_equal(args[2], "PLAIN");
	assert_string_equal(args[4], "user=a\tb");
}

static void
test_split_rejects_nul_and_too_many(void **state)
{
	char line1[] = "AUTH\t1\0x";
	char line2[] = "a\tb\tc\td";
	char *args[3];

	(void)state;
	assert_int_equal(auth_proto_split(line1, 8, args, 3), -1);
	assert_int_equal(auth_proto_split(line2, strlen(line2), args, 3), -1);
}

static void
test_parse_uint(void **state)
{
	unsigned int n;

	(void)state;
	assert_int_equal(auth_proto_parse_uint("42", &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(auth_proto_parse_uint("4294967295", &n), 0);
	assert_int_equal(auth_proto_parse_uint("4294967296", &n), -1);
	assert_int_equal(auth_proto_parse_uint("", &n), -1);
	assert_int_equal(auth_proto_parse_uint("-1", &n), -1);
	assert_int_equal(auth_proto_parse_uint("1x", &n), -1);
}

static void
test_parse_auth_full(void **state)
{
	char line[] = "AUTH\t7\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\t"
		      "rip=192.0.2.1\tsecured\tunknown=x\tresp=AGEAYg==";
	char *args[AUTH_PROTO_MAX_ARGS];
	struct auth_proto_auth auth;
	const char *error;
	int n = auth_proto_split(line, strlen(line), args, AUTH_PROTO_MAX_ARGS);

	(void)state;
	assert_int_equal(auth_proto_parse_auth(args, (size_t)n, &auth, &error),
			 0);
	assert_int_equal(auth.id, 7);
	assert_string_equal(auth.mech, "PLAIN");
	assert_string_equal(auth.service, "smtp");
	assert_string_equal(auth.lip, "127.0.0.1");
	assert_string_equal(auth.rip, "192.0.2.1");
	assert_true(auth.secured);
	assert_true(auth.nologin);
	assert_string_equal(auth.resp, "AGEAYg==");
}

static void
test_parse_auth_errors(void **state)
{
	static const char *const bad[] = {
	    "AUTH\t1\tPLAIN",			       /* no service */
	    "AUTH\tx\tPLAIN\tservice=smtp",	       /* bad id */
	    "AUTH\t1",				       /* no mech */
	    "AUTH\t1\tPLAIN\tresp=AA==\tservice=smtp", /* after resp */
	    "AUTH\t1\t\tservice=smtp",		       /* empty mech */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[200], *args[AUTH_PROTO_MAX_ARGS];
		struct auth_proto_auth auth;
		const char *error = NULL;
		int n;

		snprintf(line, sizeof(line), "%s", bad[i]);
		n = auth_proto_split(line, strlen(line), args,
				     AUTH_PROTO_MAX_ARGS);
		assert_int_equal(
		    auth_proto_parse_auth(args, (size_t)n, &auth, &error), -1);
		assert_non_null(error);
	}
}

static void
test_parse_cont(void **state)
{
	char line[] = "CONT\t3\tYWxpY2U=";
	char bad[] = "CONT\t3";
	char *args[4];
	unsigned int id;
	const char *data, *error;
	int n = auth_proto_split(line, strlen(line), args, 4);

	(void)state;
	assert_int_equal(
	    auth_proto_parse_cont(args, (size_t)n, &id, &data, &error), 0);
	assert_int_equal(id, 3);
	assert_string_equal(data, "YWxpY2U=");
	n = auth_proto_split(bad, strlen(bad), args, 4);
	assert_int_equal(
	    auth_proto_parse_cont(args, (size_t)n, &id, &data, &error), -1);
}

static void
test_version_and_commands(void **state)
{
	char ok[] = "VERSION\t1\t0", bad[] = "VERSION\t2\t0";
	char *args[4];
	const char *error;
	int n;

	(void)state;
	n = auth_proto_split(ok, strlen(ok), args, 4);
	assert_int_equal(auth_proto_parse_version(args, (size_t)n, 1, &error),
			 0);
	n = auth_proto_split(bad, strlen(bad), args, 4);
	assert_int_equal(auth_proto_parse_version(args, (size_t)n, 1, &error),
			 -1);
	assert_int_equal(auth_proto_client_cmd("AUTH"), AUTH_PROTO_CMD_AUTH);
	assert_int_equal(auth_proto_client_cmd("CONT"), AUTH_PROTO_CMD_CONT);
	assert_int_equal(auth_proto_client_cmd("auth"), AUTH_PROTO_CMD_UNKNOWN);
	assert_int_equal(auth_proto_client_cmd("HELLO"),
			 AUTH_PROTO_CMD_UNKNOWN);
}

static void
test_handshake_exact(void **state)
{
	const struct auth_proto_mech mechs[] = {
	    {"PLAIN", AUTH_MECH_SEC_PLAINTEXT},
	    {"LOGIN", AUTH_MECH_SEC_PLAINTEXT},
	    {"APOP", AUTH_MECH_SEC_PRIVATE},
	    {"SCRAM-SHA-256", AUTH_MECH_SEC_MUTUAL_AUTH},
	};
	unsigned char cookie[AUTH_PROTO_COOKIE_SIZE];
	struct strbuf sb;

	(void)state;
	for (size_t i = 0; i < sizeof(cookie); i++)
		cookie[i] = (unsigned char)(i * 17);
	strbuf_init(&sb, 1000);
	assert_int_equal(auth_proto_handshake(&sb, mechs, 4, 1234, 5, cookie),
			 0);
	assert_string_equal(strbuf_cstr(&sb),
			    "VERSION\t1\t2\n"
			    "MECH\tPLAIN\tplaintext\n"
			    "MECH\tLOGIN\tplaintext\n"
			    "MECH\tSCRAM-SHA-256\tmutual-auth\n"
			    "SPID\t1234\nCUID\t5\n"
			    "COOKIE\t00112233445566778899aabbccddeeff\n"
			    "DONE\n");
	strbuf_release(&sb);
}

static void
test_add_field_escapes(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 100);
	assert_int_equal(strbuf_append_str(&sb, "OK\t1"), 0);
	assert_int_equal(auth_proto_add_field(&sb, "user", "a\tb"), 0);
	assert_int_equal(auth_proto_add_field(&sb, "nologin", NULL), 0);
	assert_string_equal(strbuf_cstr(&sb), "OK\t1\tuser=a\001tb\tnologin");
	strbuf_release(&sb);
}

static void
test_parse_reply(void **state)
{
	char ok[] = "OK\t4\tuser=alice@example.test\tresp=dj1hYmM=";
	char fail[] = "FAIL\t5\tuser=bob\ttemp\treason=db\001tdown";
	char cont[] = "CONT\t6\tVXNlcm5hbWU6";
	char bad[] = "HELLO\t1";
	char *args[8];
	struct auth_proto_reply r;
	const char *error;
	int n;

	(void)state;
	n = auth_proto_split(ok, strlen(ok), args, 8);
	assert_int_equal(auth_proto_parse_reply(args, (size_t)n, &r, &error),
			 0);
	assert_int_equal(r.kind, AUTH_PROTO_REPLY_OK);
	assert_int_equal(r.id, 4);
	assert_string_equal(r.user, "alice@example.test");
	assert_string_equal(r.resp, "dj1hYmM=");
	n = auth_proto_split(fail, strlen(fail), args, 8);
	assert_int_equal(auth_proto_parse_reply(args, (size_t)n, &r, &error),
			 0);
	assert_int_equal(r.kind, AUTH_PROTO_REPLY_FAIL);
	assert_true(r.temp);
	assert_string_equal(r.reason, "db\tdown");
	n = auth_proto_split(cont, strlen(cont), args, 8);
	assert_int_equal(auth_proto_parse_reply(args, (size_t)n, &r, &error),
			 0);
	assert_int_equal(r.kind, AUTH_PROTO_REPLY_CONT);
	assert_string_equal(r.data, "VXNlcm5hbWU6");
	n = auth_proto_split(bad, strlen(bad), args, 8);
	assert_int_equal(auth_proto_parse_reply(args, (size_t)n, &r, &error),
			 -1);
}

static void
test_parse_user_and_userdb_reply(void **state)
{
	char req[] = "USER\t9\talice@example.test\tservice=lmtp";
	char noservice[] = "USER\t9\talice";
	char reply[] = "USER\t9\talice\thome=/var/vmail/a\tuid=5000";
	char nf[] = "NOTFOUND\t9";
	char *args[8];
	struct auth_proto_user u;
	struct auth_proto_userdb_reply r;
	const char *error;
	int n;

	(void)state;
	n = auth_proto_split(req, strlen(req), args, 8);
	assert_int_equal(auth_proto_parse_user(args, (size_t)n, &u, &error), 0);
	assert_int_equal(u.id, 9);
	assert_string_equal(u.user, "alice@example.test");
	assert_string_equal(u.service, "lmtp");
	n = auth_proto_split(noservice, strlen(noservice), args, 8);
	assert_int_equal(auth_proto_parse_user(args, (size_t)n, &u, &error),
			 -1);
	n = auth_proto_split(reply, strlen(reply), args, 8);
	assert_int_equal(
	    auth_proto_parse_userdb_reply(args, (size_t)n, &r, &error), 0);
	assert_int_equal(r.kind, AUTH_PROTO_USERDB_USER);
	assert_int_equal(r.n_fields, 2);
	assert_string_equal(r.fields[0], "home=/var/vmail/a");
	n = auth_proto_split(nf, strlen(nf), args, 8);
	assert_int_equal(
	    auth_proto_parse_userdb_reply(args, (size_t)n, &r, &error), 0);
	assert_int_equal(r.kind, AUTH_PROTO_USERDB_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tabescape_matches_dovecot),
	    cmocka_unit_test(test_tabescape_overflow_fails),
	    cmocka_unit_test(test_tabunescape_roundtrip),
	    cmocka_unit_test(test_tabunescape_unknown_and_trailing),
	    cmocka_unit_test(test_split_fields),
	    cmocka_unit_test(test_split_rejects_nul_and_too_many),
	    cmocka_unit_test(test_parse_uint),
	    cmocka_unit_test(test_parse_auth_full),
	    cmocka_unit_test(test_parse_auth_errors),
	    cmocka_unit_test(test_parse_cont),
	    cmocka_unit_test(test_version_and_commands),
	    cmocka_unit_test(test_handshake_exact),
	    cmocka_unit_test(test_add_field_escapes),
	    cmocka_unit_test(test_parse_reply),
	    cmocka_unit_test(test_parse_user_and_userdb_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
