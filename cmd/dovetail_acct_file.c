/*
 * dovetail_acct_file - the flat-file account backend: users in a Dovecot
 * passwd-file ("user:{SCHEME}hash::::::" lines), domains and aliases in
 * Postfix texthash files ("example.test OK", "source dest, dest"), the
 * files that passwd-file: and texthash: maps read. Each change rewrites
 * the whole file atomically (temp file, fsync, rename, fsync of the
 * directory) with its old mode and owner, keeping comments and other
 * lines as they were; an flock on the passwd-file's directory serialises
 * concurrent commands. Input: the admin's files (trusted, bounded by
 * ACCT_FILE_MAX) and checked names. Must not log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dovetail_acct.h"
#include "util/safe_file.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define ACCT_FILE_MAX (64 * 1024 * 1024)

/* One file as lines (without "\n"). */
struct acct_file {
	char *path;
	bool texthash; /* continuation lines; key ends at white space */
	mode_t new_mode;
	char **lines;
	size_t n_lines;
	bool exists;
	struct stat st;
};

struct acct_flat {
	struct acct_backend b; /* first: the vfuncs get this pointer */
	struct acct_file users, domains, aliases;
	int lock_fd;
};

#define ACCT_FLAT(b) ((struct acct_flat *)(b))

static bool
acct_file_space(char c)
{
	return c == ' ' || c == '\t';
}

/* A line that starts an entry (not a comment, blank or continuation). */
static bool
acct_file_entry(const struct acct_file *f, const char *line)
{
	const char *p = line;

	if (f->texthash && acct_file_space(*p))
		return false;
	while (acct_file_space(*p))
		p++;
	return *p != '\0' && *p != '#';
}

/* The entry's key: up to ":" (passwd-file) or white space (texthash). */
static bool
acct_file_key_is(const struct acct_file *f, const char *line, const char *key)
{
	size_t len = f->texthash ? strcspn(line, " \t") : strcspn(line, ":");
	const char *p = line;

	if (!f->texthash) {
		while (acct_file_space(*p)) {
			p++;
			len--;
		}
	}
	return len == strlen(key) && strncasecmp(p, key, len) == 0;
}

static char *
acct_file_key(const struct acct_file *f, const char *line)
{
	const char *p = line;

	while (acct_file_space(*p))
		p++;
	return xstrndup(p, f->texthash ? strcspn(p, " \t") : strcspn(p, ":"));
}

/* Lines of the entry starting at i (texthash continuation lines). */
static size_t
acct_file_entry_len(const struct acct_file *f, size_t i)
{
	size_t n = 1;

	while (f->texthash && i + n < f->n_lines &&
	       acct_file_space(f->lines[i + n][0]))
		n++;
	return n;
}

static void
acct_file_remove(struct acct_file *f, size_t i, size_t n)
{
	for (size_t j = i; j < i + n; j++)
		xfree(&f->lines[j]);
	memmove(&f->lines[i], &f->lines[i + n],
		(f->n_lines - i - n) * sizeof(*f->lines));
	f->n_lines -= n;
}

static void
acct_file_append(struct acct_file *f, char *line)
{
	f->lines = xreallocarray(f->lines, f->n_lines + 1, sizeof(*f->lines));
	f->lines[f->n_lines++] = line;
}

static int
acct_file_load(struct acct_flat *fl, struct acct_file *f, const char *path,
	       bool texthash, mode_t mode, const char **error_r)
{
	const char *error;
	char *data, *p, *nl;
	size_t len;

	f->path = xstrdup(path);
	f->texthash = texthash;
	f->new_mode = mode;
	if (stat(path, &f->st) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r =
		    acct_backend_error(&fl->b, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (safe_file_read(path, ACCT_FILE_MAX, &data, &len, &error) < 0) {
		*error_r = acct_backend_error(&fl->b, "%s", error);
		return -1;
	}
	if (strlen(data) != len) {
		xfree(&data);
		*error_r =
		    acct_backend_error(&fl->b, "%s: contains a NUL byte", path);
		return -1;
	}
	f->exists = true;
	for (p = data; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		acct_file_append(f, xstrndup(p, len));
		if (*nl == '\0')
			break;
	}
	xfree(&data);
	return 0;
}

static int
acct_file_save(struct acct_flat *fl, struct acct_file *f, const char **error_r)
{
	struct strbuf sb;
	const char *error;
	mode_t mode = f->exists ? (f->st.st_mode & 07777) : f->new_mode;
	int ret = 0;

	strbuf_init(&sb, ACCT_FILE_MAX);
	for (size_t i = 0; i < f->n_lines && ret == 0; i++) {
		if (strbuf_append_str(&sb, f->lines[i]) < 0 ||
		    strbuf_append_char(&sb, '\n') < 0) {
			*error_r = acct_backend_error(&fl->b,
						      "%s: would grow "
						      "over %d bytes",
						      f->path, ACCT_FILE_MAX);
			ret = -1;
		}
	}
	if (ret == 0 && safe_file_write(f->path, sb.len > 0 ? sb.data : "",
					sb.len, mode, &error) < 0) {
		*error_r = acct_backend_error(&fl->b, "%s", error);
		ret = -1;
	}
	/* keep the owner the admin gave the file (e.g. readable by a group) */
	if (ret == 0 && f->exists &&
	    chown(f->path, f->st.st_uid, f->st.st_gid) < 0) {
		*error_r = acct_backend_error(&fl->b, "chown %s: %s", f->path,
					      strerror(errno));
		ret = -1;
	}
	strbuf_release(&sb);
	return ret;
}

static void
acct_file_free(struct acct_file *f)
{
	for (size_t i = 0; i < f->n_lines; i++)
		xfree(&f->lines[i]);
	xfree(&f->lines);
	xfree(&f->path);
}

/* The index of key's entry, or -1. */
static ssize_t
acct_file_find(const struct acct_file *f, const char *key)
{
	for (size_t i = 0; i < f->n_lines; i++) {
		if (acct_file_entry(f, f->lines[i]) &&
		    acct_file_key_is(f, f->lines[i], key))
			return (ssize_t)i;
	}
	return -1;
}

/* Does the address (or "@domain") belong to domain? */
static bool
acct_file_in_domain(const char *addr, size_t len, const char *domain)
{
	const char *at = memchr(addr, '@', len);

	return at != NULL && (size_t)(addr + len - at - 1) == strlen(domain) &&
	       strncasecmp(at + 1, domain, strlen(domain)) == 0;
}

/* Removes every entry of f whose key belongs to domain; the count. */
static int
acct_file_remove_domain(struct acct_file *f, const char *domain)
{
	int n = 0;

	for (size_t i = 0; i < f->n_lines;) {
		char *key;
		bool match;

		if (!acct_file_entry(f, f->lines[i])) {
			i++;
			continue;
		}
		key = acct_file_key(f, f->lines[i]);
		match = acct_file_in_domain(key, strlen(key), domain);
		xfree(&key);
		if (match) {
			acct_file_remove(f, i, acct_file_entry_len(f, i));
			n++;
		} else {
			i += acct_file_entry_len(f, i);
		}
	}
	return n;
}

static int
acct_file_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keys of f (in domain, when not NULL), sorted, into list. */
static void
acct_file_keys(const struct acct_file *f, const char *domain,
	       struct acct_list *list)
{
	size_t first = list->n;

	for (size_t i = 0; i < f->n_lines; i++) {
		char *key;

		if (!acct_file_entry(f, f->lines[i]))
			continue;
		key = acct_file_key(f, f->lines[i]);
		if (domain == NULL ||
		    acct_file_in_domain(key, strlen(key), domain))
			acct_list_add(list, key);
		xfree(&key);
	}
	qsort(list->items + first, list->n - first, sizeof(*list->items),
	      acct_file_cmp);
}

static int
acct_flat_domain_exists(struct acct_backend *b, const char *domain,
			const char **error_r)
{
	(void)error_r;
	return acct_file_find(&ACCT_FLAT(b)->domains, domain) >= 0;
}

static int
acct_flat_domain_add(struct acct_backend *b, const char *domain,
		     const char **error_r)
{
	struct acct_file *f = &ACCT_FLAT(b)->domains;

	acct_file_append(f, xasprintf("%s OK", domain));
	return acct_file_save(ACCT_FLAT(b), f, error_r);
}

static int
acct_flat_domain_del(struct acct_backend *b, const char *domain,
		     const char **error_r)
{
	struct acct_flat *fl = ACCT_FLAT(b);
	ssize_t i = acct_file_find(&fl->domains, domain);

	if (i < 0)
		return 0;
	/* the domain goes last: after a failure it is still listed */
	if (acct_file_remove_domain(&fl->aliases, domain) > 0 &&
	    acct_file_save(fl, &fl->aliases, error_r) < 0)
		return -1;
	if (acct_file_remove_domain(&fl->users, domain) > 0 &&
	    acct_file_save(fl, &fl->users, error_r) < 0)
		return -1;
	acct_file_remove(&fl->domains, (size_t)i,
			 acct_file_entry_len(&fl->domains, (size_t)i));
	return acct_file_save(fl, &fl->domains, error_r) < 0 ? -1 : 1;
}

static int
acct_flat_domain_list(struct acct_backend *b, struct acct_list *list,
		      const char **error_r)
{
	(void)error_r;
	acct_file_keys(&ACCT_FLAT(b)->domains, NULL, list);
	return 0;
}

static int
acct_flat_user_exists(struct acct_backend *b, const char *user,
		      const char **error_r)
{
	(void)error_r;
	return acct_file_find(&ACCT_FLAT(b)->users, user) >= 0;
}

static int
acct_flat_check_hash(struct acct_backend *b, const char *hash,
		     const char **error_r)
{
	if (strpbrk(hash, ":\r\n") != NULL) {
		*error_r = acct_backend_error(b, "the hash contains \":\" or "
						 "a line break, which a "
						 "passwd-file cannot hold");
		return -1;
	}
	return 0;
}

static int
acct_flat_user_add(struct acct_backend *b, const char *user, const char *domain,
		   const char *hash, const char **error_r)
{
	struct acct_file *f = &ACCT_FLAT(b)->users;

	(void)domain;
	if (acct_flat_check_hash(b, hash, error_r) < 0)
		return -1;
	/* Dovecot's 8 fields: user:password:uid:gid:gecos:home:shell:extra */
	acct_file_append(f, xasprintf("%s:%s::::::", user, hash));
	return acct_file_save(ACCT_FLAT(b), f, error_r);
}

static int
acct_flat_user_del(struct acct_backend *b, const char *user,
		   const char **error_r)
{
	struct acct_file *f = &ACCT_FLAT(b)->users;
	ssize_t i;
	int n = 0;

	while ((i = acct_file_find(f, user)) >= 0) {
		acct_file_remove(f, (size_t)i, 1);
		n++;
	}
	if (n > 0 && acct_file_save(ACCT_FLAT(b), f, error_r) < 0)
		return -1;
	return n;
}

static int
acct_flat_user_passwd(struct acct_backend *b, const char *user,
		      const char *hash, const char **error_r)
{
	struct acct_file *f = &ACCT_FLAT(b)->users;
	ssize_t i = acct_file_find(f, user);
	const char *rest;
	char *line;

	if (i < 0)
		return 0;
	if (acct_flat_check_hash(b, hash, error_r) < 0)
		return -1;
	/* keep uid, gid, home and extra fields as they were */
	line = f->lines[i];
	rest = strchr(line, ':');
	rest = rest != NULL ? strchr(rest + 1, ':') : NULL;
	f->lines[i] =
	    xasprintf("%s:%s%s", user, hash, rest != NULL ? rest : "::::::");
	xfree(&line);
	return acct_file_save(ACCT_FLAT(b), f, error_r) < 0 ? -1 : 1;
}

static int
acct_flat_user_list(struct acct_backend *b, const char *domain,
		    struct acct_list *list, const char **error_r)
{
	(void)error_r;
	acct_file_keys(&ACCT_FLAT(b)->users, domain, list);
	return 0;
}

/* The destinations of the alias entry at i, split at commas and spaces. */
static void
acct_flat_alias_dests(const struct acct_file *f, size_t i,
		      struct acct_list *dests)
{
	size_t n = acct_file_entry_len(f, i);

	for (size_t j = i; j < i + n; j++) {
		const char *p = f->lines[j];

		if (j == i)
			p += strcspn(p, " \t");
		while (*p != '\0') {
			size_t len;

			p += strspn(p, " \t,");
			len = strcspn(p, " \t,");
			if (len > 0) {
				char *d = xstrndup(p, len);

				acct_list_add(dests, d);
				xfree(&d);
			}
			p += len;
		}
	}
}

/* Replaces the entry at i by one line (or removes it: no destinations). */
static void
acct_flat_alias_set(struct acct_file *f, size_t i, const char *source,
		    const struct acct_list *dests)
{
	struct strbuf sb;

	acct_file_remove(f, i, acct_file_entry_len(f, i));
	if (dests->n == 0)
		return;
	strbuf_init(&sb, ACCT_FILE_MAX);
	strbuf_append_str(&sb, source);
	for (size_t j = 0; j < dests->n; j++)
		strbuf_printf(&sb, "%s%s", j == 0 ? " " : ", ",
			      dests->items[j]);
	f->lines = xreallocarray(f->lines, f->n_lines + 1, sizeof(*f->lines));
	memmove(&f->lines[i + 1], &f->lines[i],
		(f->n_lines - i) * sizeof(*f->lines));
	f->lines[i] = strbuf_steal(&sb);
	f->n_lines++;
}

static int
acct_flat_alias_add(struct acct_backend *b, const char *source,
		    const char *domain, const char *destination,
		    const char **error_r)
{
	struct acct_file *f = &ACCT_FLAT(b)->aliases;
	struct acct_list dests = {NULL, 0};
	ssize_t i = acct_file_find(f, source);

	(void)domain;
	if (i < 0) {
		acct_file_append(f, xasprintf("%s %s", source, destination));
		return acct_file_save(ACCT_FLAT(b), f, error_r);
	}
	acct_flat_alias_dests(f, (size_t)i, &dests);
	for (size_t j = 0; j < dests.n; j++) {
		if (strcasecmp(dests.items[j], destination) == 0) {
			acct_list_free(&dests);
			return 1;
		}
	}
	acct_list_add(&dests, destination);
	acct_flat_alias_set(f, (size_t)i, source, &dests);
	acct_list_free(&dests);
	return acct_file_save(ACCT_FLAT(b), f, error_r);
}

static int
acct_flat_alias_del(struct acct_backend *b, const char *source,
		    const char *destination, const char **error_r)
{
	struct acct_file *f = &ACCT_FLAT(b)->aliases;
	struct acct_list dests = {NULL, 0}, keep = {NULL, 0};
	ssize_t i = acct_file_find(f, source);
	int n = 0;

	if (i < 0)
		return 0;
	acct_flat_alias_dests(f, (size_t)i, &dests);
	for (size_t j = 0; j < dests.n; j++) {
		if (destination == NULL ||
		    strcasecmp(dests.items[j], destination) == 0)
			n++;
		else
			acct_list_add(&keep, dests.items[j]);
	}
	if (n > 0)
		acct_flat_alias_set(f, (size_t)i, source, &keep);
	acct_list_free(&dests);
	acct_list_free(&keep);
	if (n > 0 && acct_file_save(ACCT_FLAT(b), f, error_r) < 0)
		return -1;
	return n;
}

struct acct_flat_pair {
	char *source, *destination;
};

static int
acct_flat_pair_cmp(const void *a, const void *b)
{
	const struct acct_flat_pair *x = a, *y = b;
	int r = strcmp(x->source, y->source);

	return r != 0 ? r : strcmp(x->destination, y->destination);
}

static int
acct_flat_alias_list(struct acct_backend *b, const char *domain,
		     struct acct_list *list, const char **error_r)
{
	const struct acct_file *f = &ACCT_FLAT(b)->aliases;
	struct acct_flat_pair *pairs = NULL;
	size_t n = 0;

	(void)error_r;
	for (size_t i = 0; i < f->n_lines; i++) {
		struct acct_list dests = {NULL, 0};
		char *key;

		if (!acct_file_entry(f, f->lines[i]))
			continue;
		key = acct_file_key(f, f->lines[i]);
		if (domain == NULL ||
		    acct_file_in_domain(key, strlen(key), domain))
			acct_flat_alias_dests(f, i, &dests);
		for (size_t j = 0; j < dests.n; j++) {
			pairs = xreallocarray(pairs, n + 1, sizeof(*pairs));
			pairs[n].source = xstrdup(key);
			pairs[n++].destination = xstrdup(dests.items[j]);
		}
		acct_list_free(&dests);
		xfree(&key);
	}
	if (n > 0)
		qsort(pairs, n, sizeof(*pairs), acct_flat_pair_cmp);
	for (size_t i = 0; i < n; i++) {
		acct_list_add(list, pairs[i].source);
		acct_list_add(list, pairs[i].destination);
		xfree(&pairs[i].source);
		xfree(&pairs[i].destination);
	}
	xfree(&pairs);
	return 0;
}

static void
acct_flat_close(struct acct_backend *b)
{
	struct acct_flat *fl = ACCT_FLAT(b);

	acct_file_free(&fl->users);
	acct_file_free(&fl->domains);
	acct_file_free(&fl->aliases);
	if (fl->lock_fd >= 0)
		close(fl->lock_fd);
	fl->lock_fd = -1;
}

static const struct acct_backend_vfuncs acct_flat_vfuncs = {
    .domain_exists = acct_flat_domain_exists,
    .domain_add = acct_flat_domain_add,
    .domain_del = acct_flat_domain_del,
    .domain_list = acct_flat_domain_list,
    .user_exists = acct_flat_user_exists,
    .user_add = acct_flat_user_add,
    .user_del = acct_flat_user_del,
    .user_passwd = acct_flat_user_passwd,
    .user_list = acct_flat_user_list,
    .alias_add = acct_flat_alias_add,
    .alias_del = acct_flat_alias_del,
    .alias_list = acct_flat_alias_list,
    .close = acct_flat_close,
};

static int
acct_flat_lock(struct acct_flat *fl, const char *path, const char **error_r)
{
	const char *slash = strrchr(path, '/');
	char *dir =
	    slash == NULL
		? xstrdup(".")
		: xstrndup(path, (size_t)(slash - path) + (slash == path));

	fl->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fl->lock_fd < 0 || flock(fl->lock_fd, LOCK_EX) < 0) {
		*error_r =
		    acct_backend_error(&fl->b, "%s: %s", dir, strerror(errno));
		xfree(&dir);
		return -1;
	}
	xfree(&dir);
	return 0;
}

struct acct_backend *
acct_file_open(const char *path, const char *domains_path,
	       const char *aliases_path, const char **error_r)
{
	static char *last_error;
	struct acct_flat *fl = xcalloc(1, sizeof(*fl));
	struct acct_backend *b = &fl->b;
	const char *error;

	fl->b.v = &acct_flat_vfuncs;
	fl->b.spec = xasprintf("passwd-file:%s", path);
	fl->lock_fd = -1;
	/* the passwd-file holds hashes: not world-readable */
	if (acct_flat_lock(fl, path, &error) < 0 ||
	    acct_file_load(fl, &fl->users, path, false, 0640, &error) < 0 ||
	    acct_file_load(fl, &fl->domains, domains_path, true, 0644, &error) <
		0 ||
	    acct_file_load(fl, &fl->aliases, aliases_path, true, 0644, &error) <
		0) {
		xfree(&last_error);
		last_error = xstrdup(error);
		*error_r = last_error;
		acct_backend_close(&b);
		return NULL;
	}
	return b;
}
