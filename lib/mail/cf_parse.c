/*
 * cf_parse - reads Postfix-syntax "name = value" files into entries.
 * Input is trusted only as far as the file's owner is (main.cf, map query
 * files); still every length is bounded: a logical line longer than
 * CF_LINE_MAX and a file larger than CF_FILE_MAX are errors. Must not expand
 * values, know parameter names, or log: it only reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/cf_parse.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* No configuration file needs more; a bigger one is a mistake. */
#define CF_FILE_MAX (16 * 1024 * 1024)

static bool
cf_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool
cf_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static void
cf_entries_free(struct cf_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		xfree(&entries[i].name);
		xfree(&entries[i].value);
	}
	xfree(&entries);
}

/* Appends trimmed text to the value of the entry being built. */
static int
cf_value_append(struct strbuf *value, const char *p, size_t len)
{
	while (len > 0 && cf_is_space(*p)) {
		p++;
		len--;
	}
	while (len > 0 && cf_is_space(p[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (value->len > 0 && strbuf_append_char(value, ' ') < 0)
		return -1;
	return strbuf_append(value, p, len);
}

struct cf_state {
	struct cf_entry *entries;
	size_t n, alloc;
	struct strbuf value;
	char *name; /* entry being built, or NULL */
	unsigned int start;
};

static void
cf_state_finish_entry(struct cf_state *st)
{
	if (st->name == NULL)
		return;
	if (st->n == st->alloc) {
		st->alloc = st->alloc == 0 ? 16 : st->alloc * 2;
		st->entries =
		    xreallocarray(st->entries, st->alloc, sizeof(*st->entries));
	}
	st->entries[st->n].name = st->name;
	st->entries[st->n].value = xstrdup(strbuf_cstr(&st->value));
	st->entries[st->n].line = st->start;
	st->n++;
	st->name = NULL;
	strbuf_reset(&st->value);
}

/* Handles one physical line; returns NULL or a static problem text. */
static const char *
cf_parse_line(struct cf_state *st, const char *line, size_t len,
	      unsigned int lineno)
{
	size_t i = 0;

	while (i < len && cf_is_space(line[i]))
		i++;
	if (i == len || line[i] == '#')
		return NULL;
	if (i > 0) {
		if (st->name == NULL)
			return "continuation line with no previous entry";
		if (cf_value_append(&st->value, line, len) < 0)
			return "logical line too long";
		return NULL;
	}
	cf_state_finish_entry(st);
	while (i < len && cf_is_name_char(line[i]))
		i++;
	if (i == 0)
		return line[0] == '=' ? "missing parameter name"
				      : "bad character in parameter name";
	size_t name_len = i;
	while (i < len && cf_is_space(line[i]))
		i++;
	if (i == len || line[i] != '=') {
		if (i < len && i == name_len)
			return "bad character in parameter name";
		return "missing '=' after parameter name";
	}
	i++;
	if (name_len >= CF_LINE_MAX)
		return "logical line too long";
	st->name = xstrndup(line, name_len);
	st->start = lineno;
	strbuf_reset(&st->value);
	if (cf_value_append(&st->value, line + i, len - i) < 0)
		return "logical line too long";
	return NULL;
}

int
cf_parse_text(const char *path, const char *text, size_t len,
	      struct cf_file *cf, char **error_r)
{
	struct cf_state st;
	const char *p = text, *end = text + len;
	unsigned int lineno = 0;

	memset(&st, 0, sizeof(st));
	strbuf_init(&st.value, CF_LINE_MAX);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len =
		    nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *problem;

		lineno++;
		if (memchr(p, '\0', line_len) != NULL)
			problem = "NUL byte in line";
		else
			problem = cf_parse_line(&st, p, line_len, lineno);
		if (problem != NULL) {
			*error_r =
			    xasprintf("%s:%u: %s", path, lineno, problem);
			xfree(&st.name);
			strbuf_release(&st.value);
			cf_entries_free(st.entries, st.n);
			return -1;
		}
		p += line_len + (nl != NULL ? 1 : 0);
	}
	cf_state_finish_entry(&st);
	strbuf_release(&st.value);
	cf->path = xstrdup(path);
	cf->entries = st.entries;
	cf->n_entries = st.n;
	return 0;
}

int
cf_parse_file(const char *path, struct cf_file *cf, char **error_r)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		saved = errno;
		*error_r = xasprintf("%s: open: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		saved = errno;
		*error_r = xasprintf("%s: fstat: %s", path, strerror(saved));
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > CF_FILE_MAX) {
		if (!S_ISREG(sb.st_mode))
			*error_r = xasprintf("%s: not a regular file", path);
		else
			*error_r = xasprintf("%s: file larger than %d bytes",
					     path, CF_FILE_MAX);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* One byte more than the size, to notice a file that grows. */
	buf = xmalloc((size_t)sb.st_size + 1);
	for (;;) {
		ssize_t ret = read(fd, buf + got, (size_t)sb.st_size + 1 - got);

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			saved = errno;
			*error_r =
			    xasprintf("%s: read: %s", path, strerror(saved));
			xfree(&buf);
			close(fd);
			errno = saved;
			return -1;
		}
		if (ret == 0 || got + (size_t)ret > (size_t)sb.st_size) {
			got += (size_t)ret;
			break;
		}
		got += (size_t)ret;
	}
	close(fd);
	if (got > (size_t)sb.st_size) {
		*error_r = xasprintf("%s: file changed while reading", path);
		xfree(&buf);
		errno = EAGAIN;
		return -1;
	}
	int ret = cf_parse_text(path, buf, got, cf, error_r);
	xfree(&buf);
	if (ret < 0)
		errno = EINVAL;
	return ret;
}

const struct cf_entry *
cf_get(const struct cf_file *cf, const char *name)
{
	for (size_t i = cf->n_entries; i > 0; i--) {
		if (strcmp(cf->entries[i - 1].name, name) == 0)
			return &cf->entries[i - 1];
	}
	return NULL;
}

void
cf_file_free(struct cf_file *cf)
{
	cf_entries_free(cf->entries, cf->n_entries);
	cf->entries = NULL;
	cf->n_entries = 0;
	xfree(&cf->path);
}
