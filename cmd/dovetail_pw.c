/*
 * dovetail_pw - "dovetail pw", Dovecot's "doveadm pw": hashes a password
 * in a scheme ({SCHEME}hash on stdout), lists the schemes (-l), or checks
 * a password against a hash (-t: "HASH (verified)", exit 1 on mismatch).
 * Also the password reading and hashing that "user add|passwd" use. The
 * password comes from -p, from the terminal (asked twice, echo off) or as
 * one line from stdin (bounded by DOVETAIL_PW_MAX); it is wiped after use.
 * Must not echo or log the password.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "dovetail.h"
#include "dovetail_acct.h"
#include "mail/mail_params.h"
#include "mail/password_scheme.h"
#include "util/xmem.h"

#define DOVETAIL_PW_MAX PASSWORD_PLAIN_MAX
#define DOVETAIL_PW_STR(x) #x
#define DOVETAIL_PW_XSTR(x) DOVETAIL_PW_STR(x)
#define DOVETAIL_PW_MAX_TEXT DOVETAIL_PW_XSTR(PASSWORD_PLAIN_MAX)
#define DOVETAIL_PW_SCHEME "SHA512-CRYPT"

/* Reads one line (without "\n" or "\r\n") of at most DOVETAIL_PW_MAX
 * bytes. 1, 0 at EOF without input, -1 on error or a longer line. */
static int
dovetail_pw_getline(FILE *in, char *buf, const char **error_r)
{
	size_t len = 0;
	int c;

	while ((c = getc(in)) != EOF && c != '\n') {
		if (len == DOVETAIL_PW_MAX) {
			*error_r = "password longer than " DOVETAIL_PW_MAX_TEXT
				   " bytes";
			return -1;
		}
		buf[len++] = (char)c;
	}
	if (c == EOF && ferror(in)) {
		*error_r = "reading the password failed";
		return -1;
	}
	if (c == EOF && len == 0)
		return 0;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return 1;
}

/* Asks on the terminal with echo off. */
static int
dovetail_pw_ask(const char *prompt, char *buf, const char **error_r)
{
	struct termios old, quiet;
	int ret;

	if (tcgetattr(STDIN_FILENO, &old) < 0) {
		*error_r = "cannot read the terminal's settings";
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	/* echo off before the prompt, and no flush: what is typed after
	 * the prompt appears is never lost */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &quiet) < 0) {
		*error_r = "cannot turn off the terminal's echo";
		return -1;
	}
	fputs(prompt, stderr);
	fflush(stderr);
	ret = dovetail_pw_getline(stdin, buf, error_r);
	(void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
	if (ret == 0) {
		*error_r = "no password given";
		return -1;
	}
	return ret < 0 ? -1 : 0;
}

int
dovetail_pw_read(const char *given, char **password_r, const char **error_r)
{
	char *first = xmalloc(DOVETAIL_PW_MAX + 1);
	char *second = NULL;
	int ret = 0;

	if (given != NULL) {
		if (strlen(given) > DOVETAIL_PW_MAX) {
			*error_r = "password longer than " DOVETAIL_PW_MAX_TEXT
				   " bytes";
			ret = -1;
		} else {
			memcpy(first, given, strlen(given) + 1);
		}
	} else if (isatty(STDIN_FILENO)) {
		second = xmalloc(DOVETAIL_PW_MAX + 1);
		if (dovetail_pw_ask("Enter new password: ", first, error_r) <
			0 ||
		    dovetail_pw_ask("Retype new password: ", second, error_r) <
			0) {
			ret = -1;
		} else if (strcmp(first, second) != 0) {
			*error_r = "passwords don't match";
			ret = -1;
		}
	} else {
		ret = dovetail_pw_getline(stdin, first, error_r);
		if (ret == 0) {
			*error_r = "no password given on stdin";
			ret = -1;
		}
		ret = ret < 0 ? -1 : 0;
	}
	if (ret == 0 && first[0] == '\0') {
		*error_r = "empty passwords are not allowed";
		ret = -1;
	}
	if (second != NULL) {
		xmem_wipe(second, DOVETAIL_PW_MAX + 1);
		xfree(&second);
	}
	if (ret < 0) {
		xmem_wipe(first, DOVETAIL_PW_MAX + 1);
		xfree(&first);
		return -1;
	}
	*password_r = first;
	return 0;
}

const char *
dovetail_pw_default_scheme(void)
{
	const struct param_def *def = mail_param_find("default_pass_scheme");
	const char *value;
	char *dflt;
	bool set;

	if (def == NULL || def->type != PARAM_STR || def->var == NULL)
		return DOVETAIL_PW_SCHEME;
	value = *(char **)def->var;
	if (value == NULL || value[0] == '\0')
		return DOVETAIL_PW_SCHEME;
	/* Only what the admin chose: the catalog's default is the scheme
	 * of bare stored hashes, which may be a weak one. */
	dflt = mail_param_default(def, NULL);
	set = strcmp(dflt, value) != 0;
	xfree(&dflt);
	return set ? value : DOVETAIL_PW_SCHEME;
}

int
dovetail_pw_check_scheme(const char *scheme, const char **error_r)
{
	static char *last_error;

	if (scheme == NULL)
		scheme = dovetail_pw_default_scheme();
	if (password_scheme_known(scheme))
		return 0;
	xfree(&last_error);
	last_error = xasprintf("unknown password scheme \"%s\" (\"dovetail pw "
			       "-l\" lists them)",
			       scheme);
	*error_r = last_error;
	return -1;
}

int
dovetail_pw_hash(const char *password, const char *scheme, unsigned int rounds,
		 char **hash_r, const char **error_r)
{
	static char *last_error;
	const char *error;
	char *hash;

	if (scheme == NULL)
		scheme = dovetail_pw_default_scheme();
	if (password_generate(password, strlen(password), scheme, rounds, &hash,
			      &error) < 0) {
		xfree(&last_error);
		last_error = xasprintf("%s: %s", scheme, error);
		*error_r = last_error;
		return -1;
	}
	*hash_r = hash;
	return 0;
}

struct dovetail_pw_opts {
	const char *scheme, *password, *test_hash;
	unsigned int rounds;
	bool list, reverse_verify, bad;
};

static void
dovetail_pw_opt(int opt, const char *arg, void *ctx)
{
	struct dovetail_pw_opts *o = ctx;
	char *end;
	unsigned long r;

	switch (opt) {
	case 's':
		o->scheme = arg;
		break;
	case 'p':
		o->password = arg;
		break;
	case 't':
		o->test_hash = arg;
		break;
	case 'l':
		o->list = true;
		break;
	case 'V':
		o->reverse_verify = true;
		break;
	case 'r':
		r = strtoul(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end != '\0' ||
		    r > 1000000000UL) {
			fprintf(stderr,
				"dovetail: pw: -r: not a number of "
				"rounds: %s\n",
				arg);
			o->bad = true;
		}
		o->rounds = (unsigned int)r;
		break;
	}
}

static int
dovetail_pw_verify(const char *password, const char *hash, const char *scheme)
{
	const char *error;

	switch (password_verify(
	    password, strlen(password), hash,
	    scheme != NULL ? scheme : dovetail_pw_default_scheme(), &error)) {
	case 1:
		printf("%s (verified)\n", hash);
		return fflush(stdout) == 0 ? 0 : 1;
	case 0:
		fprintf(stderr, "dovetail: pw: password mismatch\n");
		return 1;
	default:
		fprintf(stderr, "dovetail: pw: %s\n", error);
		return 1;
	}
}

int
dovetail_cmd_pw(int argc, char **argv)
{
	struct dovetail_pw_opts o;
	const char *error;
	char *password, *hash = NULL;
	int first, ret;

	memset(&o, 0, sizeof(o));
	first = dovetail_getopt(argc, argv, "s:r:p:t:lV", dovetail_pw_opt, &o);
	if (first < 0 || o.bad || first != argc) {
		fprintf(stderr, "usage: dovetail pw [-l] [-s SCHEME] "
				"[-r ROUNDS] [-p PASSWORD] [-t HASH] [-V]\n");
		return 2;
	}
	if (o.list) {
		const char *const *schemes = password_scheme_list();

		for (size_t i = 0; schemes[i] != NULL; i++)
			printf("%s%s", i == 0 ? "" : " ", schemes[i]);
		putchar('\n');
		return fflush(stdout) == 0 ? 0 : 1;
	}
	/* default_pass_scheme may be in the configuration */
	if (o.scheme == NULL && dovetail_acct_load_config(false) < 0)
		return 1;
	if (o.test_hash == NULL &&
	    dovetail_pw_check_scheme(o.scheme, &error) < 0) {
		fprintf(stderr, "dovetail: pw: %s\n", error);
		return 1;
	}
	if (dovetail_pw_read(o.password, &password, &error) < 0) {
		fprintf(stderr, "dovetail: pw: %s\n", error);
		return 1;
	}
	if (o.test_hash != NULL) {
		ret = dovetail_pw_verify(password, o.test_hash, o.scheme);
	} else if (dovetail_pw_hash(password, o.scheme, o.rounds, &hash,
				    &error) < 0) {
		fprintf(stderr, "dovetail: pw: %s\n", error);
		ret = 1;
	} else if (o.reverse_verify) {
		ret = dovetail_pw_verify(password, hash, o.scheme);
	} else {
		printf("%s\n", hash);
		ret = fflush(stdout) == 0 ? 0 : 1;
	}
	xmem_wipe(password, strlen(password));
	xfree(&password);
	xfree(&hash);
	return ret;
}
