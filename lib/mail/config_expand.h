/*
 * config_expand - the parameter values of one config_load() run and the
 * "$name" expansion over them. Internal to config.c (and its tests): other
 * modules use config.h. Values come from root-owned files; still every
 * expansion is bounded in depth (CONFIG_EXPAND_DEPTH) and size
 * (CONFIG_EXPAND_MAX), and loops are errors, never hangs.
 */
#ifndef CONFIG_EXPAND_H
#define CONFIG_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/config.h"
#include "mail/mail_params.h"

#define CONFIG_EXPAND_DEPTH 32
#define CONFIG_EXPAND_MAX (256 * 1024)

enum config_var_state { CONFIG_VAR_NEW, CONFIG_VAR_BUSY, CONFIG_VAR_DONE };

struct config_var {
	char *name;
	const struct param_def *def; /* NULL: not in the catalog */
	char *raw;  /* unexpanded text; NULL until a def_fn default is
		       computed */
	char *file; /* where raw came from; NULL: the default */
	unsigned int line;
	bool explicit; /* set by a file or an override */
	enum config_var_state state;
	char *value; /* expanded, once state is DONE */
	bool failed; /* an error was reported; value is the fallback */
};

struct config_vars {
	struct config_var *vars;
	size_t n, alloc;
	struct config_report *report;
	unsigned int quiet; /* > 0: do not report (fallback expansion) */
};

/* Appends a formatted line to report->errors or ->warnings (unless quiet). */
void config_vars_error(struct config_vars *cv, const struct config_var *var,
		       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void config_vars_warning(struct config_vars *cv, const struct config_var *var,
			 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The variable named name, or NULL. */
struct config_var *config_vars_find(struct config_vars *cv, const char *name);

/* Expands var (and what it refers to), reporting problems at the position
 * of the variable whose text holds them. On an error var->failed is set and
 * var->value holds the expanded default (or "" for a variable not in the
 * catalog). Returns var->value; never NULL. */
const char *config_expand_var(struct config_vars *cv, struct config_var *var);

#endif
