/*
 * config_value - typed values for the parameter catalog: numbers, yes/no,
 * times with Postfix unit letters or Dovecot unit words, sizes with k/M/G.
 * Input is an expanded value from a root-owned file; parsing is still
 * strict and overflow-checked. Must not log or touch globals.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/config_value.h"
#include "util/xmem.h"

/* Parses an optionally signed decimal number; *end_r points after it. */
static int
config_value_number(const char *text, long long *value_r, const char **end_r)
{
	char *end;

	if (!(text[0] >= '0' && text[0] <= '9') &&
	    !(text[0] == '-' && text[1] >= '0' && text[1] <= '9'))
		return -1;
	errno = 0;
	*value_r = strtoll(text, &end, 10);
	if (errno == ERANGE)
		return -1;
	*end_r = end;
	return 0;
}

struct config_unit {
	const char *word;
	long long factor;
};

static const struct config_unit config_time_units[] = {
    {"s", 1},	     {"sec", 1},       {"secs", 1},	  {"second", 1},
    {"seconds", 1},  {"m", 60},	       {"min", 60},	  {"mins", 60},
    {"minute", 60},  {"minutes", 60},  {"h", 3600},	  {"hour", 3600},
    {"hours", 3600}, {"d", 86400},     {"day", 86400},	  {"days", 86400},
    {"w", 604800},   {"week", 604800}, {"weeks", 604800},
};

static const struct config_unit config_size_units[] = {
    {"k", 1024LL},
    {"K", 1024LL},
    {"M", 1024LL * 1024},
    {"G", 1024LL * 1024 * 1024},
};

static int
config_value_unit(const struct config_unit *units, size_t n_units,
		  const char *word, long long *factor_r)
{
	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(units[i].word, word) == 0) {
			*factor_r = units[i].factor;
			return 0;
		}
	}
	return -1;
}

static int
config_value_scaled(const struct param_def *def, const char *text,
		    long long *value_r, char **problem_r)
{
	const char *end;
	long long n, factor = 1;
	bool is_time = def->type == PARAM_TIME;

	if (config_value_number(text, &n, &end) < 0) {
		*problem_r = xasprintf("\"%s\" is not a number", text);
		return -1;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end == '\0' && is_time) {
		char unit[2] = {def->unit != 0 ? def->unit : 's', '\0'};

		(void)config_value_unit(config_time_units,
					sizeof(config_time_units) /
					    sizeof(config_time_units[0]),
					unit, &factor);
	} else if (*end != '\0') {
		int ret =
		    is_time
			? config_value_unit(config_time_units,
					    sizeof(config_time_units) /
						sizeof(config_time_units[0]),
					    end, &factor)
			: config_value_unit(config_size_units,
					    sizeof(config_size_units) /
						sizeof(config_size_units[0]),
					    end, &factor);
		if (ret < 0) {
			*problem_r = xasprintf(
			    "\"%s\" has an unknown %s unit \"%s\" (use %s)",
			    text, is_time ? "time" : "size", end,
			    is_time ? "s, m, h, d or w" : "k, M or G");
			return -1;
		}
	}
	if (__builtin_mul_overflow(n, factor, value_r)) {
		*problem_r = xasprintf("\"%s\" is too large", text);
		return -1;
	}
	return 0;
}

int
config_value_parse(const struct param_def *def, const char *text,
		   long long *value_r, char **problem_r)
{
	const char *end;
	const char *suffix;

	*value_r = 0;
	switch (def->type) {
	case PARAM_STR:
		return 0;
	case PARAM_BOOL:
		if (strcasecmp(text, "yes") == 0 ||
		    strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0) {
			*value_r = 1;
			return 0;
		}
		if (strcasecmp(text, "no") == 0 ||
		    strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0)
			return 0;
		*problem_r =
		    xasprintf("\"%s\" is not a boolean (use yes or no)", text);
		return -1;
	case PARAM_INT:
		if (config_value_number(text, value_r, &end) < 0 ||
		    *end != '\0') {
			*problem_r = xasprintf("\"%s\" is not a number", text);
			return -1;
		}
		break;
	case PARAM_TIME:
	case PARAM_SIZE:
		if (config_value_scaled(def, text, value_r, problem_r) < 0)
			return -1;
		break;
	}
	suffix = def->type == PARAM_TIME ? "s" : "";
	if (*value_r < def->min) {
		*problem_r =
		    xasprintf("value %lld%s is below the minimum %lld%s",
			      *value_r, suffix, def->min, suffix);
		return -1;
	}
	if (*value_r > def->max) {
		*problem_r =
		    xasprintf("value %lld%s is above the maximum %lld%s",
			      *value_r, suffix, def->max, suffix);
		return -1;
	}
	return 0;
}
