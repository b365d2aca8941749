/*
 * Golden tests for config_load(): each case loads tests/unit/config/DIR
 * (main.cf, maybe smtpd.cf) with a daemon name and overrides, and compares
 * the report (warnings, then errors, with the directory replaced by "DIR")
 * and the values of the listed parameters, as stored in the catalog
 * variables, with tests/unit/config/CASE.ref.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dovetail_paths.h"
#include "mail/config.h"
#include "mail/mail_params.h"
#include "util/strbuf.h"
#include "util/xmem.h"

struct config_case {
	const char *name; /* CASE.ref */
	const char *dir;  /* config directory; NULL = name */
	const char *daemon;
	const char *overrides[6];
	const char *show[8]; /* parameters whose values go into the ref */
};

static const struct config_case config_cases[] = {
    {"bad_number", NULL, NULL, {NULL}, {"max_use", NULL}},
    {"below_min", NULL, NULL, {NULL}, {"max_use", "worker_threads"}},
    {"above_max", NULL, NULL, {NULL}, {"worker_threads", NULL}},
    {"bad_bool", NULL, NULL, {NULL}, {"shutdown_clients", NULL}},
    {"good_values",
     NULL,
     NULL,
     {NULL},
     {"max_idle", "service_throttle_time", "daemon_shutdown_timeout",
      "shutdown_clients", "message_size_limit", "max_use", NULL}},
    {"bad_time_unit",
     NULL,
     NULL,
     {NULL},
     {"max_idle", "message_size_limit", NULL}},
    {"unknown_parameter",
     NULL,
     NULL,
     {NULL},
     {"myorigin", "mydestination", NULL}},
    {"recursive", NULL, NULL, {NULL}, {"inet_interfaces", NULL}},
    {"continuation_no_previous", NULL, NULL, {NULL}, {NULL}},
    {"missing_equals", NULL, NULL, {NULL}, {NULL}},
    {"missing_main_cf", NULL, "smtpd", {NULL}, {NULL}},
    {"bad_syntax", NULL, NULL, {NULL}, {"data_directory", NULL}},
    {"daemon_file",
     NULL,
     "smtpd",
     {NULL},
     {"max_use", "worker_threads", "syslog_name", NULL}},
    {"daemon_file_other",
     "daemon_file",
     "qmgr",
     {NULL},
     {"max_use", "worker_threads", "syslog_name", NULL}},
    {"daemon_master", "daemon_file", "master", {NULL}, {"max_use", NULL}},
    {"override_wins",
     "daemon_file",
     "smtpd",
     {"max_use=70", " syslog_name = postfix/submission ", "worker_threads=0",
      "nonsense", "bogus=1", NULL},
     {"max_use", "worker_threads", "syslog_name", NULL}},
    {"conditional",
     NULL,
     NULL,
     {NULL},
     {"syslog_name", "myorigin", "inet_interfaces", "mydestination",
      "command_directory", "data_directory", NULL}},
    {"hostname_derived",
     NULL,
     NULL,
     {NULL},
     {"myhostname", "mydomain", "myorigin", "mydestination", NULL}},
    {"hostname_from_domain",
     NULL,
     NULL,
     {NULL},
     {"myhostname", "mydomain", "myorigin", NULL}},
    {"hostname_cycle", NULL, NULL, {NULL}, {"myhostname", "mydomain", NULL}},
    {"defaults",
     NULL,
     NULL,
     {NULL},
     {"queue_directory", "data_directory", "mail_owner", "syslog_name",
      "maillog_file", "inet_interfaces", "max_use", NULL}},
};

static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	struct strbuf sb;
	char buf[4096];
	size_t n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	strbuf_init(&sb, 1024 * 1024);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		assert_int_equal(strbuf_append(&sb, buf, n), 0);
	fclose(f);
	return strbuf_steal(&sb);
}

/* Replaces every from in text (which it frees) by to. */
static char *
replace_all(char *text, const char *from, const char *to)
{
	struct strbuf sb;
	const char *p = text, *hit;

	strbuf_init(&sb, 1024 * 1024);
	while ((hit = strstr(p, from)) != NULL) {
		assert_int_equal(strbuf_append(&sb, p, (size_t)(hit - p)), 0);
		assert_int_equal(strbuf_append_str(&sb, to), 0);
		p = hit + strlen(from);
	}
	assert_int_equal(strbuf_append_str(&sb, p), 0);
	free(text);
	return strbuf_steal(&sb);
}

/* Appends line with every occurrence of dir replaced by "DIR". */
static void
append_line(struct strbuf *out, const char *prefix, const char *line,
	    const char *dir)
{
	size_t dir_len = strlen(dir);

	assert_int_equal(strbuf_append_str(out, prefix), 0);
	while (*line != '\0') {
		if (strncmp(line, dir, dir_len) == 0) {
			assert_int_equal(strbuf_append_str(out, "DIR"), 0);
			line += dir_len;
		} else {
			assert_int_equal(strbuf_append_char(out, *line++), 0);
		}
	}
	assert_int_equal(strbuf_append_char(out, '\n'), 0);
}

static void
append_value(struct strbuf *out, const char *name)
{
	const struct param_def *def = mail_param_find(name);

	assert_non_null(def);
	switch (def->type) {
	case PARAM_STR:
		strbuf_printf(out, "%s = %s\n", name, *(char **)def->var);
		break;
	case PARAM_BOOL:
		strbuf_printf(out, "%s = %s\n", name,
			      *(bool *)def->var ? "yes" : "no");
		break;
	default:
		strbuf_printf(out, "%s = %lld\n", name, *(long long *)def->var);
		break;
	}
}

static void
run_case(const struct config_case *c)
{
	const char *src = getenv("DOVETAIL_SOURCE_DIR");
	char *dir, *ref_path, *ref;
	struct config_report report = {0};
	struct strbuf out;
	size_t n_over = 0;
	int ret;

	if (src == NULL)
		src = SOURCE_DIR;
	dir = xasprintf("%s/tests/unit/config/%s", src,
			c->dir != NULL ? c->dir : c->name);
	ref_path = xasprintf("%s/tests/unit/config/%s.ref", src, c->name);
	while (c->overrides[n_over] != NULL)
		n_over++;
	ret = config_load(dir, c->daemon, (char *const *)c->overrides, n_over,
			  &report);
	assert_int_equal(ret, report.n_errors > 0 ? -1 : 0);
	assert_string_equal(config_directory(), dir);

	strbuf_init(&out, 1024 * 1024);
	for (size_t i = 0; i < report.n_warnings; i++)
		append_line(&out, "warning: ", report.warnings[i], dir);
	for (size_t i = 0; i < report.n_errors; i++)
		append_line(&out, "error: ", report.errors[i], dir);
	assert_int_equal(strbuf_append_str(&out, "--\n"), 0);
	for (size_t i = 0; c->show[i] != NULL; i++)
		append_value(&out, c->show[i]);

	ref = read_text(ref_path);
	ref = replace_all(ref, "@QUEUE@", DOVETAIL_QUEUE_DIR);
	if (strcmp(ref, strbuf_cstr(&out)) != 0) {
		print_error("case %s: expected (%s):\n%s--- got:\n%s", c->name,
			    ref_path, ref, strbuf_cstr(&out));
		fail();
	}
	free(ref);
	strbuf_release(&out);
	config_report_free(&report);
	free(dir);
	free(ref_path);
}

static void
test_golden_case(void **state)
{
	run_case(*state);
}

/* config_load() returns -1 exactly when it reports an error. */
static void
test_load_fails_with_one_error(void **state)
{
	const char *src = getenv("DOVETAIL_SOURCE_DIR");
	struct config_report report = {0};
	char *dir;

	(void)state;
	if (src == NULL)
		src = SOURCE_DIR;
	dir = xasprintf("%s/tests/unit/config/bad_number", src);
	assert_int_equal(config_load(dir, NULL, NULL, 0, &report), -1);
	assert_int_equal(report.n_errors, 1);
	assert_null(strstr(report.errors[0], "below"));
	config_report_free(&report);
	free(dir);
}

static void
test_dump_prints_unexpanded_and_expanded(void **state)
{
	const char *src = getenv("DOVETAIL_SOURCE_DIR");
	struct config_report report = {0};
	char *dir, *buf = NULL;
	size_t size = 0;
	FILE *f;
	char *names[] = {"myorigin", "syslog_name", "nosuch"};

	(void)state;
	if (src == NULL)
		src = SOURCE_DIR;
	dir = xasprintf("%s/tests/unit/config/conditional", src);
	assert_int_equal(config_load(dir, NULL, NULL, 0, &report), 0);

	f = open_memstream(&buf, &size);
	assert_int_equal(config_dump(f, false, names, 2), 0);
	assert_int_equal(config_dump_expanded(f, false, names, 2), 0);
	assert_int_equal(config_dump(f, false, names, 3), -1);
	fclose(f);
	assert_string_equal(
	    buf, "myorigin = ${syslog_name?[$syslog_name]}\n"
		 "syslog_name = a${maillog_file?X}b${maillog_file:Y}c\n"
		 "myorigin = [abYc]\n"
		 "syslog_name = abYc\n"
		 "myorigin = ${syslog_name?[$syslog_name]}\n"
		 "syslog_name = a${maillog_file?X}b${maillog_file:Y}c\n");
	free(buf);

	/* -n: only what differs from the default */
	buf = NULL;
	f = open_memstream(&buf, &size);
	assert_int_equal(config_dump(f, true, NULL, 0), 0);
	fclose(f);
	assert_non_null(strstr(buf, "syslog_name = a${maillog_file"));
	assert_null(strstr(buf, "max_use"));
	assert_null(strstr(buf, "queue_directory"));
	free(buf);
	config_report_free(&report);
	free(dir);
}

/* The shipped samples load without a warning for every daemon. */
static void
test_sample_files_load_cleanly(void **state)
{
	const char *src = getenv("DOVETAIL_SOURCE_DIR");
	char *dir;

	(void)state;
	if (src == NULL)
		src = SOURCE_DIR;
	dir = xasprintf("%s/conf", src);
	for (size_t i = 0; config_daemon_names[i] != NULL; i++) {
		struct config_report report = {0};

		assert_int_equal(
		    config_load(dir, config_daemon_names[i], NULL, 0, &report),
		    0);
		assert_int_equal(report.n_warnings, 0);
		config_report_free(&report);
	}
	free(dir);
}

/* Every parameter in the catalog is documented in the sample main.cf or in
 * the sample file of the daemon that uses it (auth.cf, smtpd.cf, ...). */
static void
test_samples_document_every_parameter(void **state)
{
	const char *src = getenv("DOVETAIL_SOURCE_DIR");
	char *path, *text, *all;

	(void)state;
	if (src == NULL)
		src = SOURCE_DIR;
	path = xasprintf("%s/conf/main.cf", src);
	all = read_text(path);
	free(path);
	for (size_t d = 0; config_daemon_names[d] != NULL; d++) {
		char *joined;

		path = xasprintf("%s/conf/%s.cf", src, config_daemon_names[d]);
		text = read_text(path);
		joined = xasprintf("%s\n%s", all, text);
		free(all);
		free(text);
		free(path);
		all = joined;
	}
	for (size_t i = 0; i < mail_param_count; i++) {
		char *needle = xasprintf("\n#%s =", mail_param_table[i].name);

		if (strstr(all, needle) == NULL)
			fail_msg("%s is not documented in conf/main.cf nor in "
				 "a daemon's conf/*.cf",
				 mail_param_table[i].name);
		free(needle);
	}
	free(all);
}

/* "<transport>_destination_*": known by pattern (no warning), typed as
 * the default_destination_* parameter, read with config_transport_param. */
static void
test_transport_params(void **state)
{
	struct config_report report = {0};
	char *dir = xasprintf("%s/tests/unit/config/transport_params",
			      getenv("DOVETAIL_SOURCE_DIR") != NULL
				  ? getenv("DOVETAIL_SOURCE_DIR")
				  : SOURCE_DIR);
	long long v = -1;

	(void)state;
	assert_int_equal(config_load(dir, "qmgr", NULL, 0, &report), -1);
	assert_int_equal(report.n_errors, 1);
	assert_non_null(strstr(report.errors[0],
			       "main.cf:8: smtp_destination_concurrency_limit: "
			       "\"lots\" is not a number"));
	/* "Smtp" is no transport name: an unknown parameter as usual; the
	 * others raise no warning ("slow" is the admin's own: warned). */
	assert_int_equal(report.n_warnings, 2);
	assert_non_null(strstr(report.errors[0], "main.cf:8:"));
	assert_true(config_transport_param("smtp", "destination_rate_delay",
					   &v));
	assert_int_equal(v, 120);
	assert_true(config_transport_param(
	    "relay-out", "destination_concurrency_limit", &v));
	assert_int_equal(v, 3);
	assert_true(config_transport_param(
	    "lmtp", "destination_recipient_limit", &v));
	assert_int_equal(v, 7);
	/* bad value, not set, not a per-transport name: the default holds */
	assert_false(config_transport_param(
	    "smtp", "destination_concurrency_limit", &v));
	assert_false(
	    config_transport_param("lmtp", "destination_rate_delay", &v));
	assert_false(config_transport_param("smtp", "helo_name", &v));
	assert_int_equal(var_default_destination_rate_delay, 1);
	config_report_free(&report);
	free(dir);
}

int
main(void)
{
	size_t n_cases = sizeof(config_cases) / sizeof(config_cases[0]);
	struct CMUnitTest
	    tests[sizeof(config_cases) / sizeof(config_cases[0]) + 5];

	for (size_t i = 0; i < n_cases; i++) {
		struct CMUnitTest t = {
		    .name = config_cases[i].name,
		    .test_func = test_golden_case,
		    .initial_state = (void *)&config_cases[i],
		};
		tests[i] = t;
	}
	tests[n_cases] = (struct CMUnitTest)cmocka_unit_test(
	    test_load_fails_with_one_error);
	tests[n_cases + 1] = (struct CMUnitTest)cmocka_unit_test(
	    test_dump_prints_unexpanded_and_expanded);
	tests[n_cases + 2] =
	    (struct CMUnitTest)cmocka_unit_test(test_sample_files_load_cleanly);
	tests[n_cases + 3] = (struct CMUnitTest)cmocka_unit_test(
	    test_samples_document_every_parameter);
	tests[n_cases + 4] =
	    (struct CMUnitTest)cmocka_unit_test(test_transport_params);
	return _cmocka_run_group_tests("test_config", tests, n_cases + 5, NULL,
				       NULL);
}
