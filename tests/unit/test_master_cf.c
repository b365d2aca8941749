/* Unit tests for the master.cf services table parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/master_cf.h"
#include "util/xmem.h"

static const char good_master_cf[] =
    "# service type  private unpriv  chroot  wakeup  maxproc command\n"
    "smtp      inet  n       -       n       -       -       smtpd\n"
    "submission inet n       -       -       -       20      smtpd\n"
    "  -o syslog_name=postfix/submission\n"
    "  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }\n"
    "\n"
    "   # an indented comment in between\n"
    "  -v\n"
    "127.0.0.1:2525 inet -   vmail:mail -     -       -       smtpd\n"
    "[::1]:10025 inet  -     -       -       -       1       smtpd\n"
    "qmgr      unix  n       -       n       300?    1       qmgr\n"
    "pickup    unix  -       -       y       60      1       pickup -v -o "
    "max_use=5\n"
    "auth      unix  -       dovetail-auth -  -       -       auth\n"
    "relay     pass  -       -       -       -       -       smtpd\n";

static int
parse(const char *text, struct master_cf *cf, char **error_r)
{
	return master_cf_parse_text("master.cf", text, strlen(text), cf,
				    error_r);
}

static void
test_good_file(void **state)
{
	struct master_cf cf = {0};
	const struct master_service *s;
	char *err = NULL, *path;

	(void)state;
	if (parse(good_master_cf, &cf, &err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cf.n_services, 8);

	s = master_cf_find(&cf, "smtp", MASTER_SERVICE_INET);
	assert_non_null(s);
	assert_int_equal(s->line, 2);
	assert_null(s->host);
	assert_int_equal(s->port, 25);
	assert_false(s->private_service);
	assert_null(s->user);
	assert_false(s->chroot);
	assert_int_equal(s->wakeup, 0);
	assert_int_equal(s->maxproc, MASTER_MAXPROC_DEFAULT);
	assert_string_equal(s->command, "smtpd");
	assert_int_equal(s->argc, 1);
	assert_string_equal(s->argv[0], "smtpd");
	assert_null(s->argv[1]);
	assert_null(master_service_unix_path(s, "/q"));

	s = master_cf_find(&cf, "submission", MASTER_SERVICE_INET);
	assert_non_null(s);
	assert_int_equal(s->port, 587);
	assert_int_equal(s->maxproc, 20);
	assert_int_equal(s->n_overrides, 2);
	assert_string_equal(s->overrides[0], "syslog_name=postfix/submission");
	assert_string_equal(s->overrides[1],
			    "smtpd_client_restrictions = "
			    "permit_sasl_authenticated, reject");
	assert_int_equal(s->argc, 2);
	assert_string_equal(s->argv[1], "-v");

	s = master_cf_find(&cf, "127.0.0.1:2525", MASTER_SERVICE_INET);
	assert_non_null(s);
	assert_string_equal(s->host, "127.0.0.1");
	assert_int_equal(s->port, 2525);
	assert_string_equal(s->user, "vmail");
	assert_string_equal(s->group, "mail");
	assert_int_equal(s->line, 9);

	s = master_cf_find(&cf, "[::1]:10025", MASTER_SERVICE_INET);
	assert_non_null(s);
	assert_string_equal(s->host, "::1");
	assert_int_equal(s->port, 10025);

	s = master_cf_find(&cf, "qmgr", MASTER_SERVICE_UNIX);
	assert_non_null(s);
	assert_false(s->private_service);
	assert_int_equal(s->wakeup, 300);
	assert_true(s->wakeup_if_used);
	assert_int_equal(s->maxproc, 1);
	path = master_service_unix_path(s, "/var/spool/dovetail");
	assert_string_equal(path, "/var/spool/dovetail/public/qmgr");
	free(path);

	s = master_cf_find(&cf, "pickup", MASTER_SERVICE_UNIX);
	assert_non_null(s);
	assert_true(s->private_service);
	assert_true(s->chroot);
	assert_int_equal(s->wakeup, 60);
	assert_false(s->wakeup_if_used);
	assert_int_equal(s->argc, 2);
	assert_int_equal(s->n_overrides, 1);
	assert_string_equal(s->overrides[0], "max_use=5");
	path = master_service_unix_path(s, "/q");
	assert_string_equal(path, "/q/private/pickup");
	free(path);

	s = master_cf_find(&cf, "auth", MASTER_SERVICE_UNIX);
	assert_non_null(s);
	assert_string_equal(s->user, "dovetail-auth");
	assert_null(s->group);

	s = master_cf_find(&cf, "relay", MASTER_SERVICE_PASS);
	assert_non_null(s);
	assert_string_equal(master_service_type_name(s->type), "pass");
	assert_null(master_cf_find(&cf, "relay", MASTER_SERVICE_UNIX));
	master_cf_free(&cf);
	assert_null(cf.services);
}

static void
test_port_names(void **state)
{
	static const struct {
		const char *name;
		unsigned int port;
	} ports[] = {
	    {"smtp", 25},   {"submission", 587}, {"submissions", 465},
	    {"smtps", 465}, {"imap", 143},	 {"imaps", 993},
	    {"pop3", 110},  {"pop3s", 995},	 {"65535", 65535},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		struct master_cf cf = {0};
		char *err = NULL;
		char *text =
		    xasprintf("%s inet n - n - - smtpd\n", ports[i].name);

		assert_int_equal(parse(text, &cf, &err), 0);
		assert_int_equal(cf.services[0].port, ports[i].port);
		master_cf_free(&cf);
		free(text);
	}
}

static void
expect_error(const char *text, const char *error)
{
	struct master_cf cf = {0};
	char *err = NULL;

	if (parse(text, &cf, &err) != -1)
		fail_msg("accepted: %s", text);
	assert_non_null(err);
	if (strcmp(err, error) != 0)
		fail_msg("for %s\nexpected: %s\n     got: %s", text, error,
			 err);
	assert_null(cf.services);
	free(err);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("  -o a=b\n",
		     "master.cf:1: continuation line with no previous entry");
	expect_error("smtp inet n - n - -\n",
		     "master.cf:1: missing fields (service type private unpriv "
		     "chroot wakeup maxproc command)");
	expect_error(
	    "# c\nsmtp tcp n - n - - smtpd\n",
	    "master.cf:2: unknown service type (use inet, unix or pass)");
	expect_error(
	    "smtp inet n n n - - smtpd\n",
	    "master.cf:1: unpriv must not be n: only master runs as root");
	expect_error(
	    "smtp inet n root n - - smtpd\n",
	    "master.cf:1: unpriv must not be root: only master runs as root");
	expect_error(
	    "smtp inet n a:b:c n - - smtpd\n",
	    "master.cf:1: bad unpriv user (use y, -, user or user:group)");
	expect_error("smtp inet y - n - - smtpd\n",
		     "master.cf:1: an inet service cannot be private");
	expect_error("smtp inet x - n - - smtpd\n",
		     "master.cf:1: bad private field (use y, n or -)");
	expect_error("smtp inet n - maybe - - smtpd\n",
		     "master.cf:1: bad chroot field (use y, n or -)");
	expect_error("qmgr unix n - n 5m 1 qmgr\n",
		     "master.cf:1: bad wakeup time");
	expect_error("qmgr unix n - n ? 1 qmgr\n",
		     "master.cf:1: bad wakeup time");
	expect_error("qmgr unix n - n - many qmgr\n",
		     "master.cf:1: bad maxproc");
	expect_error("qmgr unix n - n - 1 ../bin/sh\n",
		     "master.cf:1: bad command name");
	expect_error("nosuchport inet n - n - - smtpd\n",
		     "master.cf:1: unknown port name");
	expect_error("70000 inet n - n - - smtpd\n",
		     "master.cf:1: bad port number");
	expect_error("0 inet n - n - - smtpd\n",
		     "master.cf:1: bad port number");
	expect_error(
	    "::1:25 inet n - n - - smtpd\n",
	    "master.cf:1: an IPv6 address must be written as [addr]:port");
	expect_error("../x unix n - n - - smtpd\n",
		     "master.cf:1: bad service name");
	expect_error("smtp inet n - n - - smtpd -o\n",
		     "master.cf:1: -o without name=value");
	expect_error("smtp inet n - n - - smtpd\n  -o novalue\n",
		     "master.cf:1: -o argument is not name=value");
	expect_error("smtp inet n - n - - smtpd -o { a = b\n",
		     "master.cf:1: missing '}'");
	expect_error(
	    "smtp inet n - n - - smtpd\n"
	    "qmgr unix n - n - 1 qmgr\n"
	    "smtp inet n - n - - smtpd\n",
	    "master.cf:3: duplicate service (first defined at line 1)");
	expect_error(
	    "smtp inet n - n - - smtpd\n"
	    "25 inet n - n - - smtpd\n",
	    "master.cf:2: duplicate service (first defined at line 1)");
}

static void
test_same_name_different_type_is_fine(void **state)
{
	struct master_cf cf = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(parse("smtp inet n - n - - smtpd\n"
			       "smtp unix - - n - - smtp\n",
			       &cf, &err),
			 0);
	assert_int_equal(cf.n_services, 2);
	master_cf_free(&cf);
}

static void
test_file(void **state)
{
	char path[] = "/tmp/test_master_cf.XXXXXX";
	int fd = mkstemp(path);
	struct master_cf cf = {0};
	char *err = NULL;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good_master_cf, strlen(good_master_cf)),
			 (ssize_t)strlen(good_master_cf));
	close(fd);
	assert_int_equal(master_cf_parse_file(path, &cf, &err), 0);
	assert_int_equal(cf.n_services, 8);
	master_cf_free(&cf);
	unlink(path);
	assert_int_equal(master_cf_parse_file(path, &cf, &err), -1);
	assert_non_null(strstr(err, "No such file"));
	free(err);
}

/* The shipped sample parses, and so does every entry in it once the
 * "#" in front of the entries is removed. */
static void
test_sample_master_cf(void **state)
{
	const char *src = getenv("DOVETAIL_SOURCE_DIR");
	struct master_cf cf = {0};
	char *path, *err = NULL;
	FILE *f;
	char line[1024], *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	(void)state;
	if (src == NULL)
		src = SOURCE_DIR;
	path = xasprintf("%s/conf/master.cf", src);
	if (master_cf_parse_file(path, &cf, &err) != 0)
		fail_msg("%s", err);
	master_cf_free(&cf);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' && ((line[1] >= 'a' && line[1] <= 'z') ||
				       strncmp(line + 1, "  -o", 4) == 0))
			fputs(line + 1, out);
		else
			fputs(line, out);
	}
	fclose(f);
	fclose(out);
	if (master_cf_parse_text("master.cf", text, size, &cf, &err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cf.n_services, 16); /* + submit, auth-userdb, imap/pop3 unix */
	assert_non_null(master_cf_find(&cf, "submit", MASTER_SERVICE_UNIX));
	assert_non_null(master_cf_find(&cf, "smtp", MASTER_SERVICE_INET));
	assert_non_null(master_cf_find(&cf, "smtp", MASTER_SERVICE_UNIX));
	assert_int_equal(
	    master_cf_find(&cf, "submissions", MASTER_SERVICE_INET)->port, 465);
	assert_string_equal(
	    master_cf_find(&cf, "auth", MASTER_SERVICE_UNIX)->user,
	    "dovetail-auth");
	master_cf_free(&cf);
	free(text);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_file),
	    cmocka_unit_test(test_port_names),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_same_name_different_type_is_fine),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_sample_master_cf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
