/*
 * cf_parse - reads one Postfix-syntax file ("name = value" lines, "#"
 * comments, blank lines, lines starting with white space continue the
 * previous entry) into entries that remember their line number. Pure: no
 * expansion, no knowledge of parameter names. Used by config.c for
 * main.cf and friends and by the maps for their query files.
 * Limits: a logical line over CF_LINE_MAX bytes is an error.
 */
#ifndef CF_PARSE_H
#define CF_PARSE_H

#include <stddef.h>

#define CF_LINE_MAX 65536

struct cf_entry {
	char *name;
	char *value; /* leading/trailing white space removed; continuation
			lines joined with a single space */
	unsigned int line; /* line where the entry started */
};

struct cf_file {
	char *path;
	struct cf_entry *entries;
	size_t n_entries;
};

/* Parses the file at path. Returns 0, or -1 with *error_r set to an
 * allocated "path:line: problem" (caller frees) and *cf untouched. A
 * missing file is -1 with errno ENOENT preserved. */
int cf_parse_file(const char *path, struct cf_file *cf, char **error_r);
/* The same for text already in memory (path is used in messages). */
int cf_parse_text(const char *path, const char *text, size_t len,
		  struct cf_file *cf, char **error_r);
/* The last entry named name, or NULL. */
const struct cf_entry *cf_get(const struct cf_file *cf, const char *name);
void cf_file_free(struct cf_file *cf);

#endif
