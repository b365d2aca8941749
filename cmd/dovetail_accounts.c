/*
 * dovetail_accounts - "dovetail domain add|del|list", "dovetail user
 * add|del|list|passwd" and "dovetail alias add|del|list": the account
 * commands over the backend the passdb parameter names (its first
 * sqlite:, mysql: or passwd-file: map) or --map TYPE:PATH. Like
 * Postfixadmin, a user or alias of an unknown domain is refused, and a
 * domain that still has users or aliases is removed only with -f. Input:
 * the admin's command line (names are checked here before any backend
 * sees them) and configuration. Errors are one line on stderr and a
 * non-zero exit; success is silent, lists print one entry per line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dovetail.h"
#include "dovetail_acct.h"
#include "mail/config.h"
#include "mail/mail_params.h"
#include "util/log.h"
#include "util/xmem.h"

#define ACCT_OPERANDS_MAX 4

struct acct_opts {
	const char *map;
	const char *password;
	const char *scheme;
	unsigned int rounds;
	bool force;
	char *operands[ACCT_OPERANDS_MAX];
	size_t n_operands;
};

static int acct_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
acct_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("dovetail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Options anywhere on the line ("user add alice@x -p secret"); "--" ends
 * them. allowed: the letters this action takes besides -c, -v, -m. */
static int
acct_parse(int argc, char **argv, const char *allowed, struct acct_opts *o)
{
	bool opts_done = false;

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		char opt;

		if (opts_done || a[0] != '-' || a[1] == '\0') {
			if (o->n_operands == ACCT_OPERANDS_MAX)
				return acct_fail("too many arguments");
			o->operands[o->n_operands++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (strncmp(a, "--map", 5) == 0 &&
		    (a[5] == '\0' || a[5] == '=')) {
			opt = 'm';
			val = a[5] == '=' ? a + 6 : NULL;
		} else if (a[1] == '-' || a[2] != '\0') {
			/* glued values: -pSECRET */
			opt = a[1];
			val = a[1] != '-' ? a + 2 : NULL;
			if (a[1] == '-' || strchr("cmpsr", opt) == NULL)
				return acct_fail("unknown option %s", a);
		} else {
			opt = a[1];
		}
		if (opt != 'c' && opt != 'v' && opt != 'm' &&
		    strchr(allowed, opt) == NULL)
			return acct_fail("option -%c is not valid here", opt);
		if (strchr("cmpsr", opt) != NULL && val == NULL) {
			if (i + 1 >= argc)
				return acct_fail("option %s needs a value", a);
			val = argv[++i];
		}
		switch (opt) {
		case 'c':
			dovetail_config_dir = val;
			break;
		case 'v':
			log_set_verbose(log_get_verbose() + 1);
			break;
		case 'm':
			o->map = val;
			break;
		case 'p':
			o->password = val;
			break;
		case 's':
			o->scheme = val;
			break;
		case 'r': {
			char *end;
			unsigned long r = strtoul(val, &end, 10);

			if (*val < '0' || *val > '9' || *end != '\0' ||
			    r > 1000000000UL)
				return acct_fail("-r: not a number of "
						 "rounds: %s",
						 val);
			o->rounds = (unsigned int)r;
			break;
		}
		case 'f':
			o->force = true;
			break;
		default:
			return acct_fail("unknown option %s", a);
		}
	}
	return 0;
}

int
dovetail_acct_load_config(bool required)
{
	struct config_report report;
	char *main_cf = xasprintf("%s/main.cf", dovetail_config_dir);
	struct stat st;
	int ret;

	if (!required && stat(main_cf, &st) < 0) {
		xfree(&main_cf);
		return 0;
	}
	xfree(&main_cf);
	memset(&report, 0, sizeof(report));
	ret = config_load(dovetail_config_dir, "auth", NULL, 0, &report);
	for (size_t i = 0; i < report.n_warnings; i++)
		fprintf(stderr, "dovetail: warning: %s\n", report.warnings[i]);
	for (size_t i = 0; i < report.n_errors; i++)
		fprintf(stderr, "dovetail: error: %s\n", report.errors[i]);
	config_report_free(&report);
	if (ret < 0) {
		acct_fail("the configuration in %s has errors (run "
			  "\"dovetail -c %s check\")",
			  dovetail_config_dir, dovetail_config_dir);
		return -1;
	}
	return 0;
}

/* The first "type:path" in list whose type is type_prefix ("sqlite:" ...)
 * or, with NULL, one the account commands support. Allocated or NULL. */
static char *
acct_first_map(const char *list, const char *type_prefix)
{
	static const char *const supported[] = {
	    "sqlite:", "mysql:", "passwd-file:", NULL};

	while (*list != '\0') {
		size_t len = strcspn(list, " \t,");

		for (size_t i = 0; supported[i] != NULL; i++) {
			const char *t =
			    type_prefix != NULL ? type_prefix : supported[i];

			if (len > strlen(t) && strncmp(list, t, strlen(t)) == 0)
				return xstrndup(list, len);
			if (type_prefix != NULL)
				break;
		}
		list += len;
		list += strspn(list, " \t,");
	}
	return NULL;
}

/* A texthash file for passwd-file setups: the first texthash: map in the
 * parameter's value maps, else the file name beside the passwd-file. */
static char *
acct_texthash_path(const char *maps, const char *passwd_path, const char *name)
{
	char *spec = acct_first_map(maps, "texthash:");
	const char *slash = strrchr(passwd_path, '/');
	char *path;

	if (spec != NULL) {
		path = xstrdup(spec + strlen("texthash:"));
		xfree(&spec);
		return path;
	}
	if (slash == NULL)
		return xstrdup(name);
	return xasprintf("%.*s/%s", (int)(slash - passwd_path), passwd_path,
			 name);
}

static struct acct_backend *
acct_open(const struct acct_opts *o)
{
	struct acct_backend *b = NULL;
	const char *error, *colon;
	char *spec;

	if (dovetail_acct_load_config(o->map == NULL) < 0)
		return NULL;
	if (o->map != NULL) {
		spec = xstrdup(o->map);
	} else {
		spec = acct_first_map(var_passdb, NULL);
		if (spec == NULL) {
			acct_fail("passdb names no sqlite:, mysql: or "
				  "passwd-file: map (set passdb in %s/main.cf "
				  "or auth.cf, or give --map TYPE:PATH)",
				  dovetail_config_dir);
			return NULL;
		}
	}
	colon = strchr(spec, ':');
	if (colon == NULL || colon[1] == '\0') {
		acct_fail("%s: expected TYPE:PATH", spec);
	} else if (strncmp(spec, "sqlite:", 7) == 0 ||
		   strncmp(spec, "mysql:", 6) == 0) {
		char *type = xstrndup(spec, (size_t)(colon - spec));

		b = acct_sql_open(type, colon + 1, &error);
		xfree(&type);
		if (b == NULL)
			acct_fail("%s", error);
	} else if (strncmp(spec, "passwd-file:", 12) == 0) {
		char *domains = acct_texthash_path(
		    var_virtual_mailbox_domains, colon + 1, "virtual_domains");
		char *aliases = acct_texthash_path(
		    var_virtual_alias_maps, colon + 1, "virtual_aliases");

		b = acct_file_open(colon + 1, domains, aliases, &error);
		if (b == NULL)
			acct_fail("%s", error);
		xfree(&domains);
		xfree(&aliases);
	} else {
		acct_fail("%s: the account commands work on sqlite:, mysql: "
			  "and passwd-file: maps",
			  spec);
	}
	xfree(&spec);
	return b;
}

static int
acct_print_list(struct acct_list *list, size_t per_line)
{
	for (size_t i = 0; i + per_line <= list->n; i += per_line) {
		fputs(list->items[i], stdout);
		for (size_t j = 1; j < per_line; j++)
			printf(" %s", list->items[i + j]);
		putchar('\n');
	}
	acct_list_free(list);
	return fflush(stdout) == 0 ? 0 : acct_fail("write: stdout failed");
}

/* 1 and an error printed when the domain does not exist (or on error). */
static int
acct_need_domain(struct acct_backend *b, const char *domain)
{
	const char *error;
	int ret = b->v->domain_exists(b, domain, &error);

	if (ret < 0)
		return acct_fail("%s", error);
	if (ret == 0)
		return acct_fail("domain %s does not exist; add it with "
				 "dovetail domain add %s",
				 domain, domain);
	return 0;
}

static int
acct_domain(const char *action, struct acct_opts *o, struct acct_backend *b)
{
	struct acct_list users = {NULL, 0}, aliases = {NULL, 0};
	const char *error;
	char *domain = o->operands[1];
	int ret;

	if (strcmp(action, "list") == 0) {
		if (b->v->domain_list(b, &users, &error) < 0)
			return acct_fail("%s", error);
		return acct_print_list(&users, 1);
	}
	if (dovetail_acct_check_domain(domain, &error) < 0)
		return acct_fail("%s: %s", domain, error);
	ret = b->v->domain_exists(b, domain, &error);
	if (ret < 0)
		return acct_fail("%s", error);
	if (strcmp(action, "add") == 0) {
		if (ret > 0)
			return acct_fail("domain %s already exists", domain);
		if (b->v->domain_add(b, domain, &error) < 0)
			return acct_fail("%s", error);
		return 0;
	}
	if (ret == 0)
		return acct_fail("domain %s does not exist", domain);
	if (b->v->user_list(b, domain, &users, &error) < 0 ||
	    b->v->alias_list(b, domain, &aliases, &error) < 0) {
		acct_list_free(&users);
		acct_list_free(&aliases);
		return acct_fail("%s", error);
	}
	ret = 0;
	if ((users.n > 0 || aliases.n > 0) && !o->force) {
		ret = acct_fail("domain %s still has %zu user(s) and %zu "
				"alias(es); delete them first or use "
				"dovetail domain del -f %s",
				domain, users.n, aliases.n / 2, domain);
	} else if (b->v->domain_del(b, domain, &error) < 0) {
		ret = acct_fail("%s", error);
	}
	acct_list_free(&users);
	acct_list_free(&aliases);
	return ret;
}

/* Reads and hashes the password for user add/passwd. */
static int
acct_make_hash(const struct acct_opts *o, char **hash_r)
{
	const char *error;
	char *password;
	int ret;

	if (dovetail_pw_check_scheme(o->scheme, &error) < 0 ||
	    dovetail_pw_read(o->password, &password, &error) < 0)
		return acct_fail("%s", error);
	ret = dovetail_pw_hash(password, o->scheme, o->rounds, hash_r, &error);
	xmem_wipe(password, strlen(password));
	xfree(&password);
	if (ret < 0)
		return acct_fail("%s", error);
	return 0;
}

static int
acct_user(const char *action, struct acct_opts *o, struct acct_backend *b)
{
	struct acct_list list = {NULL, 0};
	const char *error, *domain;
	char *user = o->operands[1], *hash = NULL;
	int ret;

	if (strcmp(action, "list") == 0) {
		if (user != NULL &&
		    dovetail_acct_check_domain(user, &error) < 0)
			return acct_fail("%s: %s", user, error);
		if (b->v->user_list(b, user, &list, &error) < 0)
			return acct_fail("%s", error);
		return acct_print_list(&list, 1);
	}
	if (dovetail_acct_check_address(user, &domain, &error) < 0)
		return acct_fail("%s: %s", user, error);
	ret = b->v->user_exists(b, user, &error);
	if (ret < 0)
		return acct_fail("%s", error);
	if (strcmp(action, "add") == 0) {
		if (ret > 0)
			return acct_fail("user %s already exists", user);
		if (acct_need_domain(b, domain) != 0 ||
		    acct_make_hash(o, &hash) != 0)
			return 1;
		ret = b->v->user_add(b, user, domain, hash, &error);
		xfree(&hash);
		return ret < 0 ? acct_fail("%s", error) : 0;
	}
	if (ret == 0)
		return acct_fail("user %s does not exist", user);
	if (strcmp(action, "del") == 0) {
		ret = b->v->user_del(b, user, &error);
	} else {
		if (acct_make_hash(o, &hash) != 0)
			return 1;
		ret = b->v->user_passwd(b, user, hash, &error);
		xfree(&hash);
	}
	if (ret < 0)
		return acct_fail("%s", error);
	if (ret == 0)
		return acct_fail("user %s does not exist", user);
	return 0;
}

static int
acct_alias(const char *action, struct acct_opts *o, struct acct_backend *b)
{
	struct acct_list list = {NULL, 0};
	const char *error, *domain, *dest_domain;
	char *source = o->operands[1], *dest = o->operands[2];
	int ret;

	if (strcmp(action, "list") == 0) {
		if (source != NULL &&
		    dovetail_acct_check_domain(source, &error) < 0)
			return acct_fail("%s: %s", source, error);
		if (b->v->alias_list(b, source, &list, &error) < 0)
			return acct_fail("%s", error);
		return acct_print_list(&list, 2);
	}
	if (dovetail_acct_check_source(source, &domain, &error) < 0)
		return acct_fail("%s: %s", source, error);
	if (dest != NULL &&
	    dovetail_acct_check_address(dest, &dest_domain, &error) < 0)
		return acct_fail("%s: %s", dest, error);
	if (strcmp(action, "add") == 0) {
		if (acct_need_domain(b, domain) != 0)
			return 1;
		ret = b->v->alias_add(b, source, domain, dest, &error);
		if (ret < 0)
			return acct_fail("%s", error);
		if (ret > 0)
			return acct_fail("alias %s -> %s already exists",
					 source, dest);
		return 0;
	}
	ret = b->v->alias_del(b, source, dest, &error);
	if (ret < 0)
		return acct_fail("%s", error);
	if (ret == 0)
		return dest != NULL
			   ? acct_fail("alias %s -> %s does not exist", source,
				       dest)
			   : acct_fail("alias %s does not exist", source);
	return 0;
}

struct acct_action {
	const char *object, *action;
	size_t min_operands, max_operands; /* after the action */
	const char *options;
	const char *usage;
	int (*run)(const char *action, struct acct_opts *o,
		   struct acct_backend *b);
};

static const struct acct_action acct_actions[] = {
    {"domain", "add", 1, 1, "", "add DOMAIN", acct_domain},
    {"domain", "del", 1, 1, "f", "del [-f] DOMAIN", acct_domain},
    {"domain", "list", 0, 0, "", "list", acct_domain},
    {"user", "add", 1, 1, "psr",
     "add ADDRESS [-p PASSWORD] [-s SCHEME] [-r ROUNDS]", acct_user},
    {"user", "del", 1, 1, "", "del ADDRESS", acct_user},
    {"user", "list", 0, 1, "", "list [DOMAIN]", acct_user},
    {"user", "passwd", 1, 1, "psr",
     "passwd ADDRESS [-p PASSWORD] [-s SCHEME] [-r ROUNDS]", acct_user},
    {"alias", "add", 2, 2, "", "add SOURCE DESTINATION", acct_alias},
    {"alias", "del", 1, 2, "", "del SOURCE [DESTINATION]", acct_alias},
    {"alias", "list", 0, 1, "", "list [DOMAIN]", acct_alias},
};

static int
acct_usage(const char *object)
{
	fprintf(stderr, "usage:\n");
	for (size_t i = 0; i < sizeof(acct_actions) / sizeof(acct_actions[0]);
	     i++) {
		if (strcmp(acct_actions[i].object, object) == 0)
			fprintf(stderr, "  dovetail %s %s [--map TYPE:PATH]\n",
				object, acct_actions[i].usage);
	}
	fprintf(stderr,
		"The backend is the first sqlite:, mysql: or "
		"passwd-file: map in passdb, unless --map names one.\n");
	return 2;
}

static int
acct_main(const char *object, int argc, char **argv)
{
	const struct acct_action *act = NULL;
	struct acct_backend *b;
	struct acct_opts o;
	int ret;

	if (argc < 2 || strcmp(argv[1], "-h") == 0)
		return acct_usage(object);
	for (size_t i = 0; i < sizeof(acct_actions) / sizeof(acct_actions[0]);
	     i++) {
		if (strcmp(acct_actions[i].object, object) == 0 &&
		    strcmp(acct_actions[i].action, argv[1]) == 0)
			act = &acct_actions[i];
	}
	if (act == NULL) {
		acct_fail("%s: unknown action \"%s\"", object, argv[1]);
		return acct_usage(object);
	}
	if (acct_parse(argc - 2, argv + 2, act->options, &o) != 0)
		return acct_usage(object);
	if (o.n_operands < act->min_operands ||
	    o.n_operands > act->max_operands) {
		acct_fail("%s %s: expected %s", object, act->action,
			  act->usage);
		return 2;
	}
	/* operands[0] is the action, as the run functions expect */
	memmove(&o.operands[1], &o.operands[0],
		o.n_operands * sizeof(o.operands[0]));
	o.operands[0] = argv[1];
	b = acct_open(&o);
	if (b == NULL)
		return 1;
	ret = act->run(act->action, &o, b);
	acct_backend_close(&b);
	return ret;
}

int
dovetail_cmd_domain(int argc, char **argv)
{
	return acct_main("domain", argc, argv);
}

int
dovetail_cmd_user(int argc, char **argv)
{
	return acct_main("user", argc, argv);
}

int
dovetail_cmd_alias(int argc, char **argv)
{
	return acct_main("alias", argc, argv);
}
