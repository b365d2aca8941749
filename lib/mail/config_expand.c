/*
 * config_expand - expands "$name", "${name}", "$(name)", "${name?text}",
 * "${name:text}" and "$$" in parameter values, as Postfix's mac_expand
 * does: recursively, each variable once (memoised), with loops reported as
 * "recursive expansion" and depth and size limits. Input is the text of
 * root-owned files; still nothing here can loop or grow without bound.
 * Must not read files or log: problems go into the config_report.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/config_expand.h"
#include "util/strbuf.h"
#include "util/xmem.h"

static void config_vars_add_line(struct config_vars *cv, bool error,
				 const struct config_var *var, const char *fmt,
				 va_list ap)
    __attribute__((format(printf, 4, 0)));

static void
config_vars_add_line(struct config_vars *cv, bool error,
		     const struct config_var *var, const char *fmt, va_list ap)
{
	struct config_report *r = cv->report;
	char *text, *line;

	if (cv->quiet > 0)
		return;
	if (vasprintf(&text, fmt, ap) < 0)
		text = xstrdup("(out of memory)");
	if (var->file != NULL)
		line = xasprintf("%s:%u: %s: %s", var->file, var->line,
				 var->name, text);
	else
		line = xasprintf("(default): %s: %s", var->name, text);
	free(text);
	if (error) {
		r->errors = xreallocarray(r->errors, r->n_errors + 1,
					  sizeof(*r->errors));
		r->errors[r->n_errors++] = line;
	} else {
		r->warnings = xreallocarray(r->warnings, r->n_warnings + 1,
					    sizeof(*r->warnings));
		r->warnings[r->n_warnings++] = line;
	}
}

void
config_vars_error(struct config_vars *cv, const struct config_var *var,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vars_add_line(cv, true, var, fmt, ap);
	va_end(ap);
}

void
config_vars_warning(struct config_vars *cv, const struct config_var *var,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vars_add_line(cv, false, var, fmt, ap);
	va_end(ap);
}

struct config_var *
config_vars_find(struct config_vars *cv, const char *name)
{
	for (size_t i = 0; i < cv->n; i++) {
		if (strcmp(cv->vars[i].name, name) == 0)
			return &cv->vars[i];
	}
	return NULL;
}

static bool
config_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static int config_expand_text(struct config_vars *cv, struct config_var *owner,
			      const char *text, size_t len, struct strbuf *out,
			      unsigned int depth);
static const char *config_expand_depth(struct config_vars *cv,
				       struct config_var *var,
				       unsigned int depth);

/* Value of the variable name, for a reference in owner's text; NULL after
 * an error (reported). *known_r tells whether name exists at all. */
static const char *
config_expand_ref(struct config_vars *cv, struct config_var *owner,
		  const char *name, unsigned int depth, bool *known_r)
{
	struct config_var *var = config_vars_find(cv, name);

	*known_r = var != NULL;
	if (var == NULL)
		return "";
	if (var->state == CONFIG_VAR_BUSY) {
		config_vars_error(cv, owner, "recursive expansion of \"$%s\"",
				  name);
		return NULL;
	}
	if (depth >= CONFIG_EXPAND_DEPTH) {
		config_vars_error(cv, owner, "expansion nested deeper than %d",
				  CONFIG_EXPAND_DEPTH);
		return NULL;
	}
	return config_expand_depth(cv, var, depth + 1);
}

/* Handles "${...}" or "$(...)" whose inside is inner[0..len). */
static int
config_expand_braced(struct config_vars *cv, struct config_var *owner,
		     const char *inner, size_t len, struct strbuf *out,
		     unsigned int depth)
{
	size_t n = 0;
	const char *value;
	char *name;
	bool known;

	while (n < len && config_is_name_char(inner[n]))
		n++;
	if (n == 0) {
		config_vars_error(cv, owner,
				  "missing parameter name after \"$\"");
		return -1;
	}
	if (n < len && inner[n] != '?' && inner[n] != ':') {
		config_vars_error(cv, owner,
				  "bad character '%c' after parameter name "
				  "\"%.*s\"",
				  inner[n], (int)n, inner);
		return -1;
	}
	name = xstrndup(inner, n);
	value = config_expand_ref(cv, owner, name, depth, &known);
	if (value != NULL && !known && n == len)
		config_vars_warning(cv, owner,
				    "undefined parameter \"$%s\" expands to "
				    "nothing",
				    name);
	xfree(&name);
	if (value == NULL)
		return -1;
	if (n == len) {
		if (strbuf_append_str(out, value) < 0)
			goto too_long;
		return 0;
	}
	if ((inner[n] == '?') == (value[0] != '\0'))
		return config_expand_text(cv, owner, inner + n + 1, len - n - 1,
					  out, depth + 1);
	return 0;
too_long:
	config_vars_error(cv, owner, "expanded value longer than %d bytes",
			  CONFIG_EXPAND_MAX);
	return -1;
}

static int
config_expand_text(struct config_vars *cv, struct config_var *owner,
		   const char *text, size_t len, struct strbuf *out,
		   unsigned int depth)
{
	size_t i = 0;

	if (depth >= CONFIG_EXPAND_DEPTH) {
		config_vars_error(cv, owner, "expansion nested deeper than %d",
				  CONFIG_EXPAND_DEPTH);
		return -1;
	}
	while (i < len) {
		const char *dollar = memchr(text + i, '$', len - i);
		size_t plain =
		    dollar != NULL ? (size_t)(dollar - text) - i : len - i;

		if (strbuf_append(out, text + i, plain) < 0)
			goto too_long;
		i += plain;
		if (i == len)
			break;
		/* text[i] is '$' */
		if (i + 1 == len || text[i + 1] == '$') {
			if (strbuf_append_char(out, '$') < 0)
				goto too_long;
			i += 2;
		} else if (text[i + 1] == '{' || text[i + 1] == '(') {
			char open = text[i + 1];
			char close = open == '{' ? '}' : ')';
			size_t j = i + 2;
			unsigned int nest = 1;

			for (; j < len; j++) {
				if (text[j] == open)
					nest++;
				else if (text[j] == close && --nest == 0)
					break;
			}
			if (j == len) {
				config_vars_error(
				    cv, owner, "missing '%c' in \"%.*s\"",
				    close, (int)(len - i), text + i);
				return -1;
			}
			if (config_expand_braced(cv, owner, text + i + 2,
						 j - i - 2, out, depth) < 0)
				return -1;
			i = j + 1;
		} else if (config_is_name_char(text[i + 1])) {
			size_t j = i + 1;
			const char *value;
			char *name;
			bool known;

			while (j < len && config_is_name_char(text[j]))
				j++;
			name = xstrndup(text + i + 1, j - i - 1);
			value =
			    config_expand_ref(cv, owner, name, depth, &known);
			if (value != NULL && !known)
				config_vars_warning(
				    cv, owner,
				    "undefined parameter \"$%s\" "
				    "expands to nothing",
				    name);
			xfree(&name);
			if (value == NULL)
				return -1;
			if (strbuf_append_str(out, value) < 0)
				goto too_long;
			i = j;
		} else {
			/* Postfix keeps a lone "$" before other characters */
			if (strbuf_append_char(out, '$') < 0)
				goto too_long;
			i++;
		}
	}
	return 0;
too_long:
	config_vars_error(cv, owner, "expanded value longer than %d bytes",
			  CONFIG_EXPAND_MAX);
	return -1;
}

/* For def_fn: expands another variable (NULL on any problem). */
static struct config_vars *config_expand_current;

static const char *
config_expand_lookup(const char *name)
{
	struct config_vars *cv = config_expand_current;
	struct config_var *var;
	const char *value;

	if (cv == NULL || (var = config_vars_find(cv, name)) == NULL ||
	    var->state == CONFIG_VAR_BUSY)
		return NULL;
	/* Problems found here belong to var and are reported as such; the
	 * BUSY marks bound the recursion. */
	value = config_expand_depth(cv, var, 0);
	return var->failed ? NULL : value;
}

static const char *
config_expand_depth(struct config_vars *cv, struct config_var *var,
		    unsigned int depth)
{
	struct strbuf out;

	if (var->state == CONFIG_VAR_DONE)
		return var->value;
	var->state = CONFIG_VAR_BUSY;
	if (var->raw == NULL) {
		/* a default computed at load time is literal text */
		struct config_vars *saved = config_expand_current;

		config_expand_current = cv;
		var->raw = mail_param_default(var->def, config_expand_lookup);
		config_expand_current = saved;
		var->value = xstrdup(var->raw);
		var->state = CONFIG_VAR_DONE;
		return var->value;
	}
	strbuf_init(&out, CONFIG_EXPAND_MAX);
	if (config_expand_text(cv, var, var->raw, strlen(var->raw), &out,
			       depth) == 0) {
		var->value = strbuf_steal(&out);
		var->state = CONFIG_VAR_DONE;
		return var->value;
	}
	/* Fall back to the default, quietly: the error is already reported. */
	var->failed = true;
	strbuf_reset(&out);
	if (var->def != NULL && var->def->def_fn != NULL) {
		struct config_vars *saved = config_expand_current;

		config_expand_current = cv;
		var->value = mail_param_default(var->def, config_expand_lookup);
		config_expand_current = saved;
	} else if (var->def != NULL) {
		cv->quiet++;
		if (config_expand_text(cv, var, var->def->def,
				       strlen(var->def->def), &out, 0) == 0)
			var->value = strbuf_steal(&out);
		cv->quiet--;
	}
	if (var->value == NULL)
		var->value = xstrdup("");
	strbuf_release(&out);
	var->state = CONFIG_VAR_DONE;
	return var->value;
}

const char *
config_expand_var(struct config_vars *cv, struct config_var *var)
{
	return config_expand_depth(cv, var, 0);
}
