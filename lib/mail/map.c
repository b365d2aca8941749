/*
 * map - opens lookup tables by "type:arg", serialises lookups on a handle
 * and builds results. Input: specs and files come from the admin (trusted);
 * keys may come from clients (untrusted: bounded by MAP_KEY_MAX, passed on
 * only as data). Must not log (drivers may warn about duplicates at open).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/cf_parse.h"
#include "mail/map.h"
#include "mail/map_private.h"
#include "mail/map_query.h"
#include "util/strbuf.h"
#include "util/xmem.h"

struct map {
	char *spec;
	const struct map_driver *driver;
	void *ctx;
	unsigned int flags;
	pthread_mutex_t lock;
	char *error; /* last TEMPFAIL/check message */
};

static const struct map_driver *const map_drivers[] = {
	&map_driver_sqlite,   &map_driver_mysql,  &map_driver_texthash,
	&map_driver_static,   &map_driver_passwdfile,
};

struct map *
map_open(const char *spec, unsigned int flags, const char **error_r)
{
	static __thread char errbuf[1024];
	const char *colon = strchr(spec, ':');
	const struct map_driver *driver = NULL;
	struct map *map;
	char *error = NULL;
	void *ctx;

	if (colon == NULL) {
		snprintf(errbuf, sizeof(errbuf),
			 "map_open: %s: expected \"type:name\"", spec);
		*error_r = errbuf;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(map_drivers) / sizeof(map_drivers[0]); i++) {
		if (strlen(map_drivers[i]->type) == (size_t)(colon - spec) &&
		    strncmp(map_drivers[i]->type, spec, (size_t)(colon - spec)) == 0)
			driver = map_drivers[i];
	}
	if (driver == NULL) {
		snprintf(errbuf, sizeof(errbuf),
			 "map_open: %s: unsupported map type \"%.*s\"", spec,
			 (int)(colon - spec), spec);
		*error_r = errbuf;
		return NULL;
	}
	ctx = driver->open(colon + 1, flags, &error);
	if (ctx == NULL) {
		snprintf(errbuf, sizeof(errbuf), "%s", error);
		xfree(&error);
		*error_r = errbuf;
		return NULL;
	}
	map = xcalloc(1, sizeof(*map));
	map->spec = xstrdup(spec);
	map->driver = driver;
	map->ctx = ctx;
	map->flags = flags;
	pthread_mutex_init(&map->lock, NULL);
	return map;
}

void
map_close(struct map **mapp)
{
	struct map *map = *mapp;

	if (map == NULL)
		return;
	map->driver->close(map->ctx);
	pthread_mutex_destroy(&map->lock);
	xfree(&map->spec);
	xfree(&map->error);
	xfree(mapp);
}

const char *
map_spec(const struct map *map)
{
	return map->spec;
}

void
map_fold_case(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

enum map_status
map_lookup(struct map *map, const char *key, struct map_result *result,
	   const char **error_r)
{
	enum map_status status;
	char *error = NULL, *folded = NULL;

	memset(result, 0, sizeof(*result));
	if (strlen(key) > MAP_KEY_MAX)
		return MAP_NOTFOUND;
	if ((map->flags & MAP_FOLD_CASE) != 0) {
		folded = xstrdup(key);
		map_fold_case(folded);
		key = folded;
	}
	pthread_mutex_lock(&map->lock);
	xfree(&map->error);
	status = map->driver->lookup(map->ctx, key, result, &error);
	if (status == MAP_TEMPFAIL) {
		map->error = xasprintf("%s: %s", map->spec,
				       error != NULL ? error : "lookup failed");
		*error_r = map->error;
	}
	pthread_mutex_unlock(&map->lock);
	xfree(&error);
	xfree(&folded);
	if (status != MAP_FOUND)
		map_result_free(result);
	return status;
}

int
map_check(struct map *map, const char **error_r)
{
	char *error = NULL;
	int ret;

	pthread_mutex_lock(&map->lock);
	xfree(&map->error);
	ret = map->driver->check(map->ctx, &error);
	if (ret < 0) {
		map->error = xasprintf("%s: %s", map->spec, error);
		*error_r = map->error;
	}
	pthread_mutex_unlock(&map->lock);
	xfree(&error);
	return ret;
}

void
map_result_free(struct map_result *result)
{
	for (size_t i = 0; i < result->n_rows; i++) {
		struct map_row *row = &result->rows[i];

		for (size_t j = 0; j < row->n_fields; j++) {
			xfree(&row->fields[j].name);
			xfree(&row->fields[j].value);
		}
		xfree(&row->fields);
	}
	xfree(&result->rows);
	xfree(&result->joined);
	result->n_rows = 0;
}

const char *
map_result_value(struct map_result *result)
{
	struct strbuf sb;

	if (result->joined != NULL)
		return result->joined;
	strbuf_init(&sb, STRBUF_UNLIMITED);
	for (size_t i = 0; i < result->n_rows; i++) {
		if (result->rows[i].n_fields == 0)
			continue;
		if (sb.len > 0)
			strbuf_append_str(&sb, ", ");
		strbuf_append_str(&sb, result->rows[i].fields[0].value);
	}
	result->joined = strbuf_steal(&sb);
	return result->joined;
}

const char *
map_result_get(const struct map_result *result, const char *name)
{
	if (result->n_rows == 0)
		return NULL;
	for (size_t j = 0; j < result->rows[0].n_fields; j++) {
		if (strcmp(result->rows[0].fields[j].name, name) == 0)
			return result->rows[0].fields[j].value;
	}
	return NULL;
}

struct map_row *
map_result_add_row(struct map_result *result)
{
	result->rows = xreallocarray(result->rows, result->n_rows + 1,
				     sizeof(*result->rows));
	memset(&result->rows[result->n_rows], 0, sizeof(struct map_row));
	return &result->rows[result->n_rows++];
}

void
map_result_drop_last_row(struct map_result *result)
{
	struct map_row *row = &result->rows[result->n_rows - 1];

	for (size_t j = 0; j < row->n_fields; j++) {
		xfree(&row->fields[j].name);
		xfree(&row->fields[j].value);
	}
	xfree(&row->fields);
	result->n_rows--;
}

void
map_row_add_field(struct map_row *row, const char *name, const char *value)
{
	row->fields = xreallocarray(row->fields, row->n_fields + 1,
				    sizeof(*row->fields));
	row->fields[row->n_fields].name = xstrdup(name);
	row->fields[row->n_fields].value = xstrdup(value);
	row->n_fields++;
}

/* --- settings shared by the SQL drivers --- */

int
map_sql_common_init(struct map_sql_common *common, const struct cf_file *cf,
		    unsigned int flags, char **error_r)
{
	const struct cf_entry *e;
	const char *error;
	char *qerror = NULL;

	memset(common, 0, sizeof(*common));
	e = cf_get(cf, "query");
	if (e == NULL) {
		*error_r = xasprintf("%s: missing \"query\" parameter", cf->path);
		return -1;
	}
	common->query = xcalloc(1, sizeof(*common->query));
	if (map_query_parse(e->value, flags, common->query, &qerror) < 0) {
		*error_r = xasprintf("%s:%u: query: %s", cf->path, e->line, qerror);
		xfree(&qerror);
		xfree(&common->query);
		return -1;
	}
	e = cf_get(cf, "result_format");
	common->result_format = xstrdup(e != NULL ? e->value : "%s");
	if (map_query_check_format(common->result_format, &error) < 0) {
		*error_r = xasprintf("%s:%u: %s", cf->path, e->line, error);
		map_sql_common_free(common);
		return -1;
	}
	e = cf_get(cf, "expansion_limit");
	if (e != NULL) {
		char *end;
		unsigned long n = strtoul(e->value, &end, 10);

		if (*e->value < '0' || *e->value > '9' || *end != '\0' ||
		    n > MAP_ROWS_MAX) {
			*error_r = xasprintf("%s:%u: expansion_limit: expected a number 0..%d",
					     cf->path, e->line, MAP_ROWS_MAX);
			map_sql_common_free(common);
			return -1;
		}
		common->expansion_limit = (unsigned int)n;
	}
	e = cf_get(cf, "domain");
	if (e != NULL) {
		char *copy = xstrdup(e->value), *save = NULL, *tok;
		size_t n = 0;

		common->domains = xcalloc(1, sizeof(char *));
		for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t,", &save)) {
			if (strchr(tok, ':') != NULL || *tok == '/') {
				*error_r = xasprintf("%s:%u: domain: only domain names are supported, not \"%s\"",
						     cf->path, e->line, tok);
				xfree(&copy);
				map_sql_common_free(common);
				return -1;
			}
			common->domains = xreallocarray(common->domains, n + 2,
							sizeof(char *));
			common->domains[n] = xstrdup(tok);
			map_fold_case(common->domains[n]);
			common->domains[++n] = NULL;
		}
		xfree(&copy);
	}
	return 0;
}

void
map_sql_common_free(struct map_sql_common *common)
{
	if (common->query != NULL)
		map_query_free(common->query);
	xfree(&common->query);
	xfree(&common->result_format);
	for (size_t i = 0; common->domains != NULL && common->domains[i] != NULL; i++)
		xfree(&common->domains[i]);
	xfree(&common->domains);
}

int
map_sql_common_values(const struct map_sql_common *common, const char *key,
		      char *buf, const char **values_r)
{
	if (common->domains != NULL) {
		/* Postfix: only user@domain with a listed domain is looked up */
		const char *at = strrchr(key, '@');
		bool match = false;

		if (at == NULL || at == key)
			return 0;
		for (size_t i = 0; common->domains[i] != NULL; i++) {
			if (strcasecmp(common->domains[i], at + 1) == 0)
				match = true;
		}
		if (!match)
			return 0;
	}
	return map_query_values(common->query, key, buf, values_r);
}

void
map_sql_common_add(const struct map_sql_common *common, struct map_row *row,
		   size_t column, const char *name, const char *value)
{
	char *formatted;

	if (value == NULL)
		return;
	if (column != 0 || strcmp(common->result_format, "%s") == 0) {
		map_row_add_field(row, name, value);
		return;
	}
	formatted = map_query_format_result(common->result_format, value);
	if (formatted != NULL)
		map_row_add_field(row, name, formatted);
	xfree(&formatted);
}

/* --- flat files --- */

int
map_read_file(const char *path, char **data_r, char **error_r)
{
	FILE *fp = fopen(path, "re");
	struct strbuf sb;
	char buf[8192];
	size_t n;

	if (fp == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	strbuf_init(&sb, MAP_FILE_MAX);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		if (memchr(buf, '\0', n) != NULL) {
			*error_r = xasprintf("%s: file contains a NUL byte", path);
			goto fail;
		}
		if (strbuf_append(&sb, buf, n) < 0) {
			*error_r = xasprintf("%s: file larger than %d bytes",
					     path, MAP_FILE_MAX);
			goto fail;
		}
	}
	if (ferror(fp)) {
		*error_r = xasprintf("%s: read: %s", path, strerror(errno));
		goto fail;
	}
	fclose(fp);
	*data_r = strbuf_steal(&sb);
	return 0;
fail:
	fclose(fp);
	strbuf_release(&sb);
	return -1;
}

int
map_next_line(char **pos, unsigned int *lineno, char **line_r,
	      const char *path, char **error_r)
{
	char *p = *pos, *end;

	if (*p == '\0')
		return 0;
	end = strchr(p, '\n');
	if (end != NULL) {
		*end = '\0';
		*pos = end + 1;
	} else {
		*pos = p + strlen(p);
	}
	(*lineno)++;
	if (strlen(p) > MAP_LINE_MAX) {
		*error_r = xasprintf("%s:%u: line longer than %d bytes", path,
				     *lineno, MAP_LINE_MAX);
		return -1;
	}
	if (end != NULL && end > p && end[-1] == '\r')
		end[-1] = '\0';
	*line_r = p;
	return 1;
}

int
map_sql_check_names(const struct cf_file *cf, const char *const *known,
		    char **error_r)
{
	for (size_t i = 0; i < cf->n_entries; i++) {
		const struct cf_entry *e = &cf->entries[i];
		bool ok = false;

		for (size_t k = 0; known[k] != NULL && !ok; k++)
			ok = strcmp(known[k], e->name) == 0;
		if (!ok) {
			*error_r = xasprintf("%s:%u: unknown or unsupported parameter \"%s\"",
					     cf->path, e->line, e->name);
			return -1;
		}
	}
	return 0;
}
