/*
 * config - loads main.cf, the daemon's own file and master.cf "-o"
 * overrides into the parameter catalog: later settings win, then "$name"
 * expansion (config_expand.c), then typed conversion with bounds
 * (config_value.c). Files are trusted as root-owned, but a bad one must
 * never crash or half-apply: bad values are reported and keep defaults.
 * Must not log except in config_report_log(), and must not execute anything.
 *
 * config_dump() prints the stored, unexpanded text (as postconf does);
 * config_dump_expanded() prints the expanded text (as postconf -x).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mail/cf_parse.h"
#include "mail/config.h"
#include "mail/config_expand.h"
#include "mail/config_value.h"
#include "util/log.h"
#include "util/xmem.h"

const char *const config_daemon_names[] = {
    "smtpd", "qmgr", "smtp", "lmtpd", "imapd", "pop3d", "auth", NULL,
};

#define CONFIG_OVERRIDE_FILE "master.cf -o"

static struct config_vars config_state;
static struct config_report config_dummy_report;
static char *config_dir;

void
config_report_free(struct config_report *report)
{
	for (size_t i = 0; i < report->n_errors; i++)
		xfree(&report->errors[i]);
	for (size_t i = 0; i < report->n_warnings; i++)
		xfree(&report->warnings[i]);
	xfree(&report->errors);
	xfree(&report->warnings);
	report->n_errors = 0;
	report->n_warnings = 0;
}

void
config_report_log(const struct config_report *report)
{
	for (size_t i = 0; i < report->n_warnings; i++)
		log_warning("%s", report->warnings[i]);
	for (size_t i = 0; i < report->n_errors; i++)
		log_error("%s", report->errors[i]);
}

static void
config_report_add(char ***lines, size_t *n, char *line)
{
	*lines = xreallocarray(*lines, *n + 1, sizeof(**lines));
	(*lines)[(*n)++] = line;
}

static void
config_vars_free(struct config_vars *cv)
{
	for (size_t i = 0; i < cv->n; i++) {
		xfree(&cv->vars[i].name);
		xfree(&cv->vars[i].raw);
		xfree(&cv->vars[i].file);
		xfree(&cv->vars[i].value);
	}
	xfree(&cv->vars);
	cv->n = 0;
	cv->alloc = 0;
}

static struct config_var *
config_vars_add(struct config_vars *cv, const char *name,
		const struct param_def *def)
{
	struct config_var *var;

	if (cv->n == cv->alloc) {
		cv->alloc =
		    cv->alloc == 0 ? mail_param_count + 16 : cv->alloc * 2;
		cv->vars =
		    xreallocarray(cv->vars, cv->alloc, sizeof(*cv->vars));
	}
	var = &cv->vars[cv->n++];
	memset(var, 0, sizeof(*var));
	var->name = xstrdup(name);
	var->def = def;
	return var;
}

/* Every catalog parameter at its default; def_fn defaults stay NULL until
 * expansion computes them. */
static void
config_vars_init(struct config_vars *cv, struct config_report *report)
{
	config_vars_free(cv);
	cv->report = report;
	cv->quiet = 0;
	for (size_t i = 0; i < mail_param_count; i++) {
		const struct param_def *def = &mail_param_table[i];
		struct config_var *var = config_vars_add(cv, def->name, def);

		if (def->def_fn == NULL)
			var->raw = xstrdup(def->def);
	}
}

/* Per-transport parameters, as Postfix's "<transport>_destination_*":
 * a master.cf transport name, then one of these suffixes; the value has
 * the type and bounds of the default_destination_* parameter it
 * overrides for that transport. */
static const struct {
	const char *suffix, *base;
} config_transport_params[] = {
    {"_destination_concurrency_limit", "default_destination_concurrency_limit"},
    {"_destination_rate_delay", "default_destination_rate_delay"},
    {"_destination_recipient_limit", "default_destination_recipient_limit"},
};

/* The catalog entry whose type and bounds name has when it is a
 * per-transport parameter; NULL otherwise. */
static const struct param_def *
config_transport_def(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(config_transport_params) /
				   sizeof(config_transport_params[0]);
	     i++) {
		size_t slen = strlen(config_transport_params[i].suffix);
		size_t tlen = len - slen;

		if (len <= slen ||
		    strcmp(name + tlen, config_transport_params[i].suffix) != 0)
			continue;
		if (tlen == 7 && strncmp(name, "default", 7) == 0)
			return NULL; /* the catalog parameter itself */
		for (size_t j = 0; j < tlen; j++) {
			char ch = name[j];

			if (!((ch >= 'a' && ch <= 'z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' ||
			      ch == '_'))
				return NULL;
		}
		return mail_param_find(config_transport_params[i].base);
	}
	return NULL;
}

static void
config_set(struct config_vars *cv, const char *file, unsigned int line,
	   const char *name, const char *value)
{
	struct config_var *var = config_vars_find(cv, name);

	if ((var == NULL || var->def == NULL) &&
	    config_transport_def(name) != NULL) {
		/* Known by its pattern; checked after expansion. */
		if (var == NULL)
			var = config_vars_add(cv, name, NULL);
	} else if (var == NULL || var->def == NULL) {
		/* Kept, so "$name" references to it work as in Postfix. */
		config_report_add(&cv->report->warnings,
				  &cv->report->n_warnings,
				  xasprintf("%s:%u: unknown parameter \"%s\"",
					    file, line, name));
		if (var == NULL)
			var = config_vars_add(cv, name, NULL);
	}
	xfree(&var->raw);
	xfree(&var->file);
	var->raw = xstrdup(value);
	var->file = xstrdup(file);
	var->line = line;
	var->explicit = true;
}

/* Reads one file into the variables; returns -1 if it does not exist. */
static int
config_read_file(struct config_vars *cv, const char *path, bool must_exist)
{
	struct cf_file cf;
	char *error;

	if (cf_parse_file(path, &cf, &error) < 0) {
		if (errno == ENOENT && !must_exist) {
			xfree(&error);
			return -1;
		}
		config_report_add(&cv->report->errors, &cv->report->n_errors,
				  error);
		return 0;
	}
	for (size_t i = 0; i < cf.n_entries; i++)
		config_set(cv, path, cf.entries[i].line, cf.entries[i].name,
			   cf.entries[i].value);
	cf_file_free(&cf);
	return 0;
}

static void
config_read_override(struct config_vars *cv, unsigned int index,
		     const char *text)
{
	const char *eq = strchr(text, '=');
	size_t name_len, i;
	char *name;
	const char *value;

	if (eq == NULL) {
		config_report_add(&cv->report->errors, &cv->report->n_errors,
				  xasprintf("%s:%u: \"%s\": missing '=' after "
					    "parameter name",
					    CONFIG_OVERRIDE_FILE, index, text));
		return;
	}
	name_len = (size_t)(eq - text);
	while (name_len > 0 &&
	       (text[name_len - 1] == ' ' || text[name_len - 1] == '\t'))
		name_len--;
	for (i = 0; i < name_len && (text[i] == ' ' || text[i] == '\t'); i++)
		;
	value = eq + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	name = xstrndup(text + i, name_len - i);
	if (name[0] == '\0') {
		config_report_add(&cv->report->errors, &cv->report->n_errors,
				  xasprintf("%s:%u: \"%s\": missing parameter "
					    "name",
					    CONFIG_OVERRIDE_FILE, index, text));
	} else {
		char *trimmed = xstrdup(value);
		size_t len = strlen(trimmed);

		while (len > 0 &&
		       (trimmed[len - 1] == ' ' || trimmed[len - 1] == '\t'))
			trimmed[--len] = '\0';
		config_set(cv, CONFIG_OVERRIDE_FILE, index, name, trimmed);
		xfree(&trimmed);
	}
	xfree(&name);
}

/* Converts var->value and stores it in the catalog variable. */
static void
config_store(struct config_vars *cv, struct config_var *var)
{
	const struct param_def *def = var->def;
	long long n = 0;
	char *problem = NULL;

	if (config_value_parse(def, var->value, &n, &problem) < 0) {
		config_vars_error(cv, var, "%s", problem);
		xfree(&problem);
		var->failed = true;
		if (config_value_parse(def, def->def, &n, &problem) < 0)
			log_panic("config_store: %s: bad default: %s",
				  def->name, problem);
	}
	switch (def->type) {
	case PARAM_STR:
		xfree((char **)def->var);
		*(char **)def->var = xstrdup(var->value);
		break;
	case PARAM_BOOL:
		*(bool *)def->var = n != 0;
		break;
	case PARAM_INT:
	case PARAM_TIME:
	case PARAM_SIZE:
		*(long long *)def->var = n;
		break;
	}
}

static bool
config_has_own_file(const char *daemon)
{
	for (size_t i = 0; config_daemon_names[i] != NULL; i++) {
		if (strcmp(config_daemon_names[i], daemon) == 0)
			return true;
	}
	return false;
}

int
config_load(const char *config_dir_path, const char *daemon,
	    char *const *overrides, size_t n_overrides,
	    struct config_report *report)
{
	struct config_vars *cv = &config_state;
	char *path;

	xfree(&config_dir);
	config_dir = xstrdup(config_dir_path);
	config_vars_init(cv, report);

	path = xasprintf("%s/main.cf", config_dir);
	(void)config_read_file(cv, path, true);
	xfree(&path);
	if (daemon != NULL && config_has_own_file(daemon)) {
		path = xasprintf("%s/%s.cf", config_dir, daemon);
		(void)config_read_file(cv, path, false);
		xfree(&path);
	}
	for (size_t i = 0; i < n_overrides; i++)
		config_read_override(cv, (unsigned int)(i + 1), overrides[i]);

	/* Catalog entries only: unused names of the admin's own are left
	 * alone, as Postfix does. */
	for (size_t i = 0; i < mail_param_count; i++) {
		struct config_var *var = &cv->vars[i];

		(void)config_expand_var(cv, var);
	}
	for (size_t i = 0; i < mail_param_count; i++)
		config_store(cv, &cv->vars[i]);
	/* Per-transport parameters: checked like the parameter they
	 * override; read later with config_transport_param(). */
	for (size_t i = mail_param_count; i < cv->n; i++) {
		struct config_var *var = &cv->vars[i];
		const struct param_def *def = config_transport_def(var->name);
		long long n;
		char *problem = NULL;

		if (def == NULL)
			continue;
		(void)config_expand_var(cv, var);
		if (!var->failed &&
		    config_value_parse(def, var->value, &n, &problem) < 0) {
			config_vars_error(cv, var, "%s", problem);
			xfree(&problem);
			var->failed = true;
		}
	}
	cv->report = &config_dummy_report;
	return report->n_errors > 0 ? -1 : 0;
}

bool
config_transport_param(const char *transport, const char *param,
		       long long *value_r)
{
	char *name = xasprintf("%s_%s", transport, param);
	const struct param_def *def = config_transport_def(name);
	struct config_var *var =
	    def != NULL ? config_vars_find(&config_state, name) : NULL;
	char *problem = NULL;
	bool ok = false;

	if (var != NULL && var->explicit && !var->failed &&
	    var->value != NULL &&
	    config_value_parse(def, var->value, value_r, &problem) == 0)
		ok = true;
	xfree(&problem);
	xfree(&name);
	return ok;
}

const char *
config_directory(void)
{
	return config_dir;
}

static void
config_print(FILE *out, const char *name, const char *value)
{
	if (value[0] == '\0')
		fprintf(out, "%s =\n", name);
	else
		fprintf(out, "%s = %s\n", name, value);
}

static bool
config_is_default(const struct config_var *var)
{
	if (!var->explicit)
		return true;
	/* A computed default cannot be compared as text: explicit wins. */
	return var->def->def_fn == NULL && strcmp(var->raw, var->def->def) == 0;
}

static int
config_dump_mode(FILE *out, bool non_default_only, char *const *names,
		 size_t n_names, bool expanded)
{
	struct config_vars *cv = &config_state;
	int ret = 0;

	if (cv->n == 0) {
		/* Nothing loaded: show the defaults. */
		config_vars_init(cv, &config_dummy_report);
		for (size_t i = 0; i < mail_param_count; i++)
			(void)config_expand_var(cv, &cv->vars[i]);
	}
	for (size_t i = 0; i < (names != NULL ? n_names : mail_param_count);
	     i++) {
		struct config_var *var = &cv->vars[i];

		if (names != NULL) {
			var = config_vars_find(cv, names[i]);
			if (var == NULL || var->def == NULL) {
				fprintf(stderr,
					"config: unknown parameter "
					"\"%s\"\n",
					names[i]);
				ret = -1;
				continue;
			}
		}
		if (non_default_only && config_is_default(var))
			continue;
		config_print(out, var->name, expanded ? var->value : var->raw);
	}
	return ret;
}

int
config_dump(FILE *out, bool non_default_only, char *const *names,
	    size_t n_names)
{
	return config_dump_mode(out, non_default_only, names, n_names, false);
}

int
config_dump_expanded(FILE *out, bool non_default_only, char *const *names,
		     size_t n_names)
{
	return config_dump_mode(out, non_default_only, names, n_names, true);
}
