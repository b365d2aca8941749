/*
 * config - loads Postfix-syntax configuration files into the parameter
 * catalog (mail_params.h). Order: DIR/main.cf, then DIR/<daemon>.cf (if the
 * daemon has one and it exists), then master.cf "-o name=value" overrides.
 * Syntax: "name = value", "#" comments, lines starting with white space
 * continue the previous line, "$name", "${name}", "$(name)",
 * "${name?text}" (text if name is non-empty) and "${name:text}" (text if
 * name is empty) expansions, evaluated after all files are read.
 * Unknown parameter names are warnings; bad values are errors, each worded
 * "file:line: name: problem". Trusts only root-owned files; never executes.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A list of "file:line: name: problem" strings. */
struct config_report {
	char **errors;
	size_t n_errors;
	char **warnings;
	size_t n_warnings;
};

void config_report_free(struct config_report *report);
/* Logs every warning (log_warning) and error (log_error). */
void config_report_log(const struct config_report *report);

/* Loads the files above into the catalog, after resetting every parameter
 * to its default. daemon may be NULL (main.cf only); overrides may be NULL.
 * Returns 0, or -1 if report->n_errors > 0 (the catalog then holds defaults
 * for the bad parameters). A missing main.cf is an error; a missing
 * <daemon>.cf is not. daemon "master" (or any name not in
 * config_daemon_names) reads main.cf only. Overrides are "name=value";
 * their problems are reported as "master.cf -o:N: ..." where N is the
 * 1-based index in overrides. A "$name" that names no parameter expands to
 * nothing with a warning; names the admin defines in main.cf are warned
 * about ("unknown parameter") but may still be referenced, as in Postfix. */
int config_load(const char *config_dir, const char *daemon,
		char *const *overrides, size_t n_overrides,
		struct config_report *report);

/* A per-transport parameter "<transport>_<param>" (Postfix's
 * "smtp_destination_rate_delay", "lmtp_destination_concurrency_limit",
 * ...; param is "destination_concurrency_limit", "destination_rate_delay"
 * or "destination_recipient_limit") as set in the files the last
 * config_load() read: true with *value_r in the unit of the
 * default_destination_* parameter it overrides, false when it is not set
 * (or its value was bad: config_load() reported that as an error). */
bool config_transport_param(const char *transport, const char *param,
			    long long *value_r);

/* The directory config_load() last used. */
const char *config_directory(void);

/* Prints "name = value" for every parameter (all, or only those whose
 * value differs from the default; names != NULL restricts to those
 * names). Unknown names in names are reported on stderr; returns -1 then. */
int config_dump(FILE *out, bool non_default_only, char *const *names,
		size_t n_names);
/* The same, printing the expanded values (like "postconf -x"); config_dump
 * prints the stored, unexpanded text (like plain "postconf"). */
int config_dump_expanded(FILE *out, bool non_default_only,
			 char *const *names, size_t n_names);

/* Daemons that have their own file: "smtpd", "qmgr", ... */
extern const char *const config_daemon_names[];

#endif
