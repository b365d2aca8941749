/*
 * config_value - converts an expanded parameter value to its catalog type
 * (INT, BOOL, TIME, SIZE) and checks its bounds. Internal to config.c and
 * its tests. Pure: no I/O, no logging, no globals.
 */
#ifndef CONFIG_VALUE_H
#define CONFIG_VALUE_H

#include "mail/mail_params.h"

/* Converts text for def. Returns 0 with *value_r set (0/1 for BOOL; seconds
 * for TIME; bytes for SIZE; unused for STR), or -1 with *problem_r set to
 * an allocated problem text such as "\"abc\" is not a number" or
 * "value 0 is below the minimum 1". */
int config_value_parse(const struct param_def *def, const char *text,
		       long long *value_r, char **problem_r);

#endif
