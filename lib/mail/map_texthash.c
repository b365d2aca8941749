/*
 * map_texthash - Postfix's texthash: a "key whitespace value" file read
 * into memory at open. "#" comment lines and blank lines are skipped; a
 * line starting with white space continues the previous entry (joined with
 * one space). As Postfix does, a duplicate key draws a warning and the
 * first entry is kept. With MAP_FOLD_CASE keys are lower-cased at load.
 * Input: a file from the admin (trusted, but bounded: MAP_FILE_MAX bytes,
 * MAP_LINE_MAX per line). Must not be re-read after open.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/map_private.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

struct map_texthash {
	char *path;
	struct hash_table *table;
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static char *
trim(char *s)
{
	size_t len;

	while (is_space(*s))
		s++;
	len = strlen(s);
	while (len > 0 && is_space(s[len - 1]))
		s[--len] = '\0';
	return s;
}

/* Stores one logical entry "key value". */
static int
map_texthash_store(struct map_texthash *th, char *entry, unsigned int line,
		   unsigned int flags, char **error_r)
{
	char *key = entry, *value = entry;

	while (*value != '\0' && !is_space(*value))
		value++;
	if (*value != '\0')
		*value++ = '\0';
	value = trim(value);
	if (*value == '\0') {
		*error_r = xasprintf("%s:%u: expected format: key whitespace value",
				     th->path, line);
		return -1;
	}
	if ((flags & MAP_FOLD_CASE) != 0)
		map_fold_case(key);
	if (hash_lookup(th->table, key) != NULL) {
		log_warning("%s, line %u: duplicate entry: \"%s\"", th->path,
			    line, key);
		return 0;
	}
	hash_insert(th->table, key, xstrdup(value));
	return 0;
}

static void
map_texthash_free(struct map_texthash *th)
{
	hash_destroy(&th->table, free);
	xfree(&th->path);
	xfree(&th);
}

static void *
map_texthash_open(const char *arg, unsigned int flags, char **error_r)
{
	struct map_texthash *th;
	struct strbuf entry;
	char *data, *pos, *line, *text;
	unsigned int lineno = 0, entry_line = 0;
	int ret;

	if (map_read_file(arg, &data, error_r) < 0)
		return NULL;
	th = xcalloc(1, sizeof(*th));
	th->path = xstrdup(arg);
	th->table = hash_create();
	strbuf_init(&entry, MAP_LINE_MAX);
	pos = data;
	while ((ret = map_next_line(&pos, &lineno, &line, arg, error_r)) > 0) {
		text = trim(line);
		if (*text == '\0' || *text == '#')
			continue;
		if (is_space(*line)) {
			if (entry_line == 0) {
				*error_r = xasprintf("%s:%u: continuation line without a preceding entry",
						     arg, lineno);
				ret = -1;
				break;
			}
			if (strbuf_append_char(&entry, ' ') < 0 ||
			    strbuf_append_str(&entry, text) < 0) {
				*error_r = xasprintf("%s:%u: entry longer than %d bytes",
						     arg, lineno, MAP_LINE_MAX);
				ret = -1;
				break;
			}
			continue;
		}
		if (entry_line != 0 &&
		    map_texthash_store(th, entry.data, entry_line, flags, error_r) < 0) {
			ret = -1;
			break;
		}
		strbuf_set(&entry, text, strlen(text));
		entry_line = lineno;
	}
	if (ret == 0 && entry_line != 0 &&
	    map_texthash_store(th, entry.data, entry_line, flags, error_r) < 0)
		ret = -1;
	strbuf_release(&entry);
	xfree(&data);
	if (ret < 0) {
		map_texthash_free(th);
		return NULL;
	}
	return th;
}

static enum map_status
map_texthash_lookup(void *ctx, const char *key, struct map_result *result,
		    char **error_r)
{
	struct map_texthash *th = ctx;
	const char *value = hash_lookup(th->table, key);

	(void)error_r;
	if (value == NULL)
		return MAP_NOTFOUND;
	map_row_add_field(map_result_add_row(result), "", value);
	return MAP_FOUND;
}

static int
map_texthash_check(void *ctx, char **error_r)
{
	(void)ctx;
	(void)error_r;
	return 0; /* the whole file was parsed at open */
}

static void
map_texthash_close(void *ctx)
{
	map_texthash_free(ctx);
}

const struct map_driver map_driver_texthash = {
	.type = "texthash",
	.open = map_texthash_open,
	.lookup = map_texthash_lookup,
	.check = map_texthash_check,
	.close = map_texthash_close,
};
