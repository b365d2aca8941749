/*
 * dovetail_check - "dovetail check" and "dovetail config". check loads
 * main.cf, every per-daemon file, master.cf and each service's -o
 * overrides, checks that every service's program is in daemon_directory
 * and its user exists, opens every map a parameter names, and reports ALL
 * problems (each with file and line where one is known), exiting non-zero
 * on any error. config prints parameters like postconf. Reads only the
 * admin's files (and the databases the maps name); changes nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dovetail.h"
#include "mail/config.h"
#include "mail/mail_params.h"
#include "mail/map.h"
#include "mail/master_cf.h"
#include "util/priv.h"
#include "util/safe_file.h"
#include "util/xmem.h"

/* The map types of lib/mail/map.c; a parameter value token that starts
 * with one of these and a colon is opened and checked. */
static const char *const check_map_types[] = {
    "sqlite", "mysql", "texthash", "static", "passwd-file", NULL,
};

#define CHECK_MAX_PROBLEMS 10000

struct check_state {
	char **seen; /* problems printed, to print each once */
	size_t n_seen;
	char **maps; /* "spec\tparam" checked or to check */
	size_t n_maps;
	unsigned int errors, warnings;
};

static bool
check_seen(char ***list, size_t *n, const char *text)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*list)[i], text) == 0)
			return true;
	}
	if (*n >= CHECK_MAX_PROBLEMS)
		return true;
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrdup(text);
	return false;
}

static void
check_error(struct check_state *cs, const char *text)
{
	if (check_seen(&cs->seen, &cs->n_seen, text))
		return;
	fprintf(stderr, "dovetail: error: %s\n", text);
	cs->errors++;
}

static void
check_warning(struct check_state *cs, const char *text)
{
	char *key = xasprintf("w\t%s", text);

	if (!check_seen(&cs->seen, &cs->n_seen, key)) {
		fprintf(stderr, "dovetail: warning: %s\n", text);
		cs->warnings++;
	}
	xfree(&key);
}

static bool
check_is_map_spec(const char *tok, size_t len)
{
	for (size_t i = 0; check_map_types[i] != NULL; i++) {
		size_t tl = strlen(check_map_types[i]);

		if (len > tl + 1 && strncmp(tok, check_map_types[i], tl) == 0 &&
		    tok[tl] == ':')
			return true;
	}
	return false;
}

/* Remembers every map spec the loaded catalog names. */
static void
check_collect_maps(struct check_state *cs)
{
	for (size_t i = 0; i < mail_param_count; i++) {
		const struct param_def *def = &mail_param_table[i];
		const char *p =
		    def->type == PARAM_STR ? *(char **)def->var : NULL;

		while (p != NULL && *p != '\0') {
			size_t len = strcspn(p, ", \t\r\n");

			if (len > 0 && check_is_map_spec(p, len)) {
				char *spec = xstrndup(p, len);
				char *entry =
				    xasprintf("%s\t%s", spec, def->name);

				bool dup = false;
				for (size_t j = 0; j < cs->n_maps && !dup; j++)
					dup = strncmp(cs->maps[j], entry,
						      len + 1) == 0;
				if (!dup) {
					cs->maps = xreallocarray(
					    cs->maps, cs->n_maps + 1,
					    sizeof(*cs->maps));
					cs->maps[cs->n_maps++] = entry;
				} else {
					xfree(&entry);
				}
				xfree(&spec);
			}
			p += len;
			p += strspn(p, ", \t\r\n");
		}
	}
}

static int
check_load(struct check_state *cs, const char *daemon, char *const *overrides,
	   size_t n_overrides, const char *prefix)
{
	struct config_report report;
	int ret;

	memset(&report, 0, sizeof(report));
	ret = config_load(dovetail_config_dir, daemon, overrides, n_overrides,
			  &report);
	for (size_t i = 0; i < report.n_warnings; i++) {
		char *t = xasprintf("%s%s", prefix, report.warnings[i]);

		check_warning(cs, t);
		xfree(&t);
	}
	for (size_t i = 0; i < report.n_errors; i++) {
		/* main.cf and daemon file problems need no prefix. */
		bool own = strncmp(report.errors[i], "master.cf -o", 12) == 0;
		char *t =
		    xasprintf("%s%s", own ? prefix : "", report.errors[i]);

		check_error(cs, t);
		xfree(&t);
	}
	config_report_free(&report);
	check_collect_maps(cs);
	return ret;
}

static void
check_service(struct check_state *cs, const struct master_service *svc,
	      const char *cf_path)
{
	const char *base = strrchr(svc->command, '/'), *error;
	char *prefix =
	    xasprintf("%s:%u: service %s/%s: ", cf_path, svc->line, svc->name,
		      master_service_type_name(svc->type));
	char *prog, *spec, *t;
	uid_t uid;
	gid_t gid;

	base = base == NULL ? svc->command : base + 1;
	(void)check_load(cs, base, svc->overrides, svc->n_overrides, prefix);
	/* The catalog now holds this service's view, daemon_directory too. */
	prog = svc->command[0] == '/'
		   ? xstrdup(svc->command)
		   : xasprintf("%s/%s", var_daemon_directory, svc->command);
	if (access(prog, X_OK) < 0) {
		t = xasprintf("%scommand %s: %s", prefix, prog,
			      strerror(errno));
		check_error(cs, t);
		xfree(&t);
	}
	xfree(&prog);
	if (svc->user == NULL)
		spec = xstrdup(var_mail_owner);
	else if (svc->group != NULL)
		spec = xasprintf("%s:%s", svc->user, svc->group);
	else
		spec = xstrdup(svc->user);
	if (priv_lookup_user(spec, &uid, &gid, &error) < 0) {
		t = xasprintf("%suser %s: %s%s", prefix, spec, error,
			      svc->user == NULL ? " (run \"dovetail setup\")"
						: "");
		check_error(cs, t);
		xfree(&t);
	} else if (uid == 0 || gid == 0) {
		t = xasprintf("%suser %s: services must not run as root",
			      prefix, spec);
		check_error(cs, t);
		xfree(&t);
	}
	xfree(&spec);
	xfree(&prefix);
}

static void
check_maps(struct check_state *cs)
{
	for (size_t i = 0; i < cs->n_maps; i++) {
		char *spec = xstrdup(cs->maps[i]);
		char *param = strchr(spec, '\t');
		const char *error;
		struct map *map;
		char *t = NULL;

		*param++ = '\0';
		map = map_open(spec, 0, &error);
		if (map == NULL)
			t = xasprintf("%s = %s: %s", param, spec, error);
		else if (map_check(map, &error) < 0)
			t = xasprintf("%s = %s: %s", param, spec, error);
		if (t != NULL)
			check_error(cs, t);
		if (map != NULL)
			map_close(&map);
		xfree(&t);
		xfree(&spec);
	}
}

/* Comments out the entry starting at line (and its continuation lines)
 * so that the parser, which stops at the first problem, finds the next. */
static bool
check_skip_entry(char *text, unsigned long line)
{
	char *p = text;

	for (unsigned long n = 1; n < line && p != NULL; n++) {
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (p == NULL || *p == '\0' || *p == '#')
		return false;
	*p = '#';
	for (p = strchr(p, '\n'); p != NULL && (p[1] == ' ' || p[1] == '\t');
	     p = strchr(p + 1, '\n'))
		p[1] = '#';
	return true;
}

/* Reports every bad master.cf entry, then checks the good ones. */
static void
check_master_cf(struct check_state *cs, const char *path)
{
	struct master_cf mcf;
	const char *rerror;
	char *text, *error;
	size_t len, plen = strlen(path);

	if (safe_file_read(path, 1024 * 1024, &text, &len, &rerror) < 0) {
		check_error(cs, rerror);
		return;
	}
	for (unsigned int i = 0; i < CHECK_MAX_PROBLEMS; i++) {
		unsigned long line = 0;

		if (master_cf_parse_text(path, text, len, &mcf, &error) == 0) {
			for (size_t j = 0; j < mcf.n_services; j++)
				check_service(cs, &mcf.services[j], path);
			master_cf_free(&mcf);
			break;
		}
		check_error(cs, error);
		if (strncmp(error, path, plen) == 0 && error[plen] == ':')
			line = strtoul(error + plen + 1, NULL, 10);
		xfree(&error);
		if (line == 0 || !check_skip_entry(text, line))
			break;
	}
	xfree(&text);
}

int
dovetail_cmd_check(int argc, char **argv)
{
	struct check_state cs;
	char *cf_path;

	if (dovetail_getopt(argc, argv, NULL, NULL, NULL) != argc)
		return 2;
	memset(&cs, 0, sizeof(cs));
	(void)check_load(&cs, NULL, NULL, 0, "");
	for (size_t i = 0; config_daemon_names[i] != NULL; i++)
		(void)check_load(&cs, config_daemon_names[i], NULL, 0, "");

	cf_path = xasprintf("%s/master.cf", dovetail_config_dir);
	check_master_cf(&cs, cf_path);
	xfree(&cf_path);
	check_maps(&cs);

	for (size_t i = 0; i < cs.n_seen; i++)
		xfree(&cs.seen[i]);
	xfree(&cs.seen);
	for (size_t i = 0; i < cs.n_maps; i++)
		xfree(&cs.maps[i]);
	xfree(&cs.maps);
	if (cs.errors > 0) {
		fprintf(stderr,
			"dovetail: check: %u error(s), %u warning(s) "
			"in %s\n",
			cs.errors, cs.warnings, dovetail_config_dir);
		return 1;
	}
	if (cs.warnings > 0)
		fprintf(stderr, "dovetail: check: %u warning(s) in %s\n",
			cs.warnings, dovetail_config_dir);
	return 0;
}

static void
config_opt(int opt, const char *arg, void *ctx)
{
	(void)arg;
	if (opt == 'n')
		*(bool *)ctx = true;
}

int
dovetail_cmd_config(int argc, char **argv)
{
	struct config_report report;
	bool non_default = false;
	int first, ret, status = 0;

	first = dovetail_getopt(argc, argv, "n", config_opt, &non_default);
	if (first < 0)
		return 2;
	memset(&report, 0, sizeof(report));
	ret = config_load(dovetail_config_dir, NULL, NULL, 0, &report);
	for (size_t i = 0; i < report.n_errors; i++)
		fprintf(stderr, "dovetail: error: %s\n", report.errors[i]);
	config_report_free(&report);
	if (ret < 0)
		status = 1;
	if (config_dump(stdout, non_default, first < argc ? argv + first : NULL,
			(size_t)(argc - first)) < 0)
		status = 1;
	return status;
}
