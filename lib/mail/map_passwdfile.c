/*
 * map_passwdfile - Dovecot's passwd-file: one user per line,
 *   user:password:uid:gid:(gecos):home:shell:extra_fields
 * where extra_fields are space-separated "key=value" (or a bare "key",
 * stored with an empty value) and may contain ":". Lines may stop after any
 * field; "#" lines and blank lines are skipped. The row has the fields
 * "user" and "password" (possibly empty) and, when not empty, "uid", "gid",
 * "gecos", "home", "shell", then each extra field under its own name
 * ("userdb_quota_rule" stays as is). As Dovecot does, a user listed twice
 * draws a warning and the first line wins. With MAP_FOLD_CASE user names
 * are matched case-insensitively. Input: an admin's file (trusted, bounded
 * by MAP_FILE_MAX and MAP_LINE_MAX). Must not re-read the file after open.
 */
#include <stdlib.h>
#include <string.h>

#include "mail/map_private.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/xmem.h"

struct map_passwdfile {
	char *path;
	struct hash_table *users; /* user -> struct map_row */
};

static const char *const passwd_field_names[] = {
	"user", "password", "uid", "gid", "gecos", "home", "shell",
};

static void
map_passwdfile_free_row(void *p)
{
	struct map_row *row = p;

	for (size_t j = 0; j < row->n_fields; j++) {
		xfree(&row->fields[j].name);
		xfree(&row->fields[j].value);
	}
	xfree(&row->fields);
	xfree(&row);
}

static int
map_passwdfile_line(struct map_passwdfile *pf, char *line,
		    unsigned int lineno, unsigned int flags, char **error_r)
{
	struct map_row *row;
	char *fields[7] = { NULL }, *extra = NULL, *p = line, *tok, *save;
	size_t n = 0;

	while (n < 7) {
		fields[n++] = p;
		p = strchr(p, ':');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (n == 7 && p != NULL)
		extra = p;
	if (*fields[0] == '\0') {
		*error_r = xasprintf("%s:%u: empty user name", pf->path, lineno);
		return -1;
	}
	if ((flags & MAP_FOLD_CASE) != 0)
		map_fold_case(fields[0]);
	row = xcalloc(1, sizeof(*row));
	map_row_add_field(row, "user", fields[0]);
	map_row_add_field(row, "password", fields[1] != NULL ? fields[1] : "");
	for (size_t i = 2; i < 7; i++) {
		if (fields[i] != NULL && *fields[i] != '\0')
			map_row_add_field(row, passwd_field_names[i], fields[i]);
	}
	for (tok = extra == NULL ? NULL : strtok_r(extra, " \t", &save);
	     tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == tok) {
			*error_r = xasprintf("%s:%u: extra field \"%s\" has no name",
					     pf->path, lineno, tok);
			map_passwdfile_free_row(row);
			return -1;
		}
		if (eq != NULL)
			*eq++ = '\0';
		map_row_add_field(row, tok, eq != NULL ? eq : "");
	}
	if (hash_insert(pf->users, fields[0], row) < 0) {
		log_warning("passwd-file %s:%u: user %s exists more than once",
			    pf->path, lineno, fields[0]);
		map_passwdfile_free_row(row);
	}
	return 0;
}

static void
map_passwdfile_free(struct map_passwdfile *pf)
{
	hash_destroy(&pf->users, map_passwdfile_free_row);
	xfree(&pf->path);
	xfree(&pf);
}

static void *
map_passwdfile_open(const char *arg, unsigned int flags, char **error_r)
{
	struct map_passwdfile *pf;
	char *data, *pos, *line;
	unsigned int lineno = 0;
	int ret;

	if (map_read_file(arg, &data, error_r) < 0)
		return NULL;
	pf = xcalloc(1, sizeof(*pf));
	pf->path = xstrdup(arg);
	pf->users = hash_create();
	pos = data;
	while ((ret = map_next_line(&pos, &lineno, &line, arg, error_r)) > 0) {
		const char *s = line;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		if (map_passwdfile_line(pf, line, lineno, flags, error_r) < 0) {
			ret = -1;
			break;
		}
	}
	xfree(&data);
	if (ret < 0) {
		map_passwdfile_free(pf);
		return NULL;
	}
	return pf;
}

static enum map_status
map_passwdfile_lookup(void *ctx, const char *key, struct map_result *result,
		      char **error_r)
{
	struct map_passwdfile *pf = ctx;
	const struct map_row *row = hash_lookup(pf->users, key);
	struct map_row *copy;

	(void)error_r;
	if (row == NULL)
		return MAP_NOTFOUND;
	copy = map_result_add_row(result);
	for (size_t j = 0; j < row->n_fields; j++)
		map_row_add_field(copy, row->fields[j].name, row->fields[j].value);
	return MAP_FOUND;
}

static int
map_passwdfile_check(void *ctx, char **error_r)
{
	(void)ctx;
	(void)error_r;
	return 0; /* the whole file was parsed at open */
}

static void
map_passwdfile_close(void *ctx)
{
	map_passwdfile_free(ctx);
}

const struct map_driver map_driver_passwdfile = {
	.type = "passwd-file",
	.open = map_passwdfile_open,
	.lookup = map_passwdfile_lookup,
	.check = map_passwdfile_check,
	.close = map_passwdfile_close,
};
