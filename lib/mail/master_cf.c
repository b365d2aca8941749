/*
 * master_cf - the services table parser. master.cf is root-owned and read
 * by master (root), so a parser bug here runs as root: every field is
 * checked strictly, every count and length is bounded, and nothing is
 * looked up (users are resolved later by master, port names come from a
 * built-in table). Must not log, resolve names or touch globals.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/cf_parse.h"
#include "mail/master_cf.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define MASTER_CF_FILE_MAX (1024 * 1024)

struct master_cf_port {
	const char *name;
	unsigned int port;
};

/* The /etc/services names a mail host's master.cf uses. */
static const struct master_cf_port master_cf_ports[] = {
    {"smtp", 25},    {"submission", 587}, {"submissions", 465}, {"smtps", 465},
    {"urd", 465},    {"lmtp", 24},	  {"imap", 143},	{"imap2", 143},
    {"imaps", 993},  {"pop3", 110},	  {"pop-3", 110},	{"pop3s", 995},
    {"sieve", 4190},
};

static bool
master_cf_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool
master_cf_is_name(const char *s, bool allow_colon)
{
	if (s[0] == '\0' || s[0] == '-' || s[0] == '.')
		return false;
	for (; *s != '\0'; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-' || (allow_colon && c == ':')))
			return false;
	}
	return true;
}

/* Splits a logical line into words; "{ ... }" at a word start is one word
 * (its inside, trimmed). Returns NULL or a problem text. */
static const char *
master_cf_split(char *line, char ***words_r, size_t *n_r)
{
	char **words = NULL;
	size_t n = 0;
	char *p = line;

	for (;;) {
		char *start, *end;

		while (master_cf_is_space(*p))
			p++;
		if (*p == '\0')
			break;
		if (n == MASTER_CF_MAX_ARGS + 8) {
			xfree(&words);
			return "too many arguments";
		}
		if (*p == '{') {
			unsigned int nest = 1;

			start = ++p;
			for (; *p != '\0'; p++) {
				if (*p == '{')
					nest++;
				else if (*p == '}' && --nest == 0)
					break;
			}
			if (*p == '\0') {
				xfree(&words);
				return "missing '}'";
			}
			end = p++;
			while (start < end && master_cf_is_space(*start))
				start++;
			while (end > start && master_cf_is_space(end[-1]))
				end--;
		} else {
			start = p;
			while (*p != '\0' && !master_cf_is_space(*p))
				p++;
			end = p;
			if (*p != '\0')
				p++;
		}
		*end = '\0';
		words = xreallocarray(words, n + 1, sizeof(*words));
		words[n++] = start;
	}
	*words_r = words;
	*n_r = n;
	return NULL;
}

static void
master_service_free(struct master_service *s)
{
	xfree(&s->name);
	xfree(&s->host);
	xfree(&s->user);
	xfree(&s->group);
	xfree(&s->command);
	for (size_t i = 0; i < s->argc; i++)
		xfree(&s->argv[i]);
	xfree(&s->argv);
	for (size_t i = 0; i < s->n_overrides; i++)
		xfree(&s->overrides[i]);
	xfree(&s->overrides);
}

/* "[host:]port" or "[v6addr]:port" of an inet service. */
static const char *
master_cf_inet_name(struct master_service *s, const char *name)
{
	const char *port = name, *colon;
	char *end;
	unsigned long n;

	if (name[0] == '[') {
		const char *close = strchr(name, ']');

		if (close == NULL || close[1] != ':' || close == name + 1)
			return "bad inet service address";
		s->host = xstrndup(name + 1, (size_t)(close - name - 1));
		port = close + 2;
	} else if ((colon = strrchr(name, ':')) != NULL) {
		if (colon == name)
			return "bad inet service address";
		s->host = xstrndup(name, (size_t)(colon - name));
		port = colon + 1;
		if (strchr(s->host, ':') != NULL)
			return "an IPv6 address must be written as [addr]:port";
	}
	if (s->host != NULL && !master_cf_is_name(s->host, true))
		return "bad inet service address";
	if (port[0] >= '0' && port[0] <= '9') {
		errno = 0;
		n = strtoul(port, &end, 10);
		if (*end != '\0' || errno != 0 || n == 0 || n > 65535)
			return "bad port number";
		s->port = (unsigned int)n;
		return NULL;
	}
	for (size_t i = 0;
	     i < sizeof(master_cf_ports) / sizeof(master_cf_ports[0]); i++) {
		if (strcmp(master_cf_ports[i].name, port) == 0) {
			s->port = master_cf_ports[i].port;
			return NULL;
		}
	}
	return "unknown port name";
}

static int
master_cf_yes_no(const char *word, bool def, bool *value_r)
{
	if (strcmp(word, "-") == 0)
		*value_r = def;
	else if (strcmp(word, "y") == 0)
		*value_r = true;
	else if (strcmp(word, "n") == 0)
		*value_r = false;
	else
		return -1;
	return 0;
}

static const char *
master_cf_unpriv(struct master_service *s, const char *word)
{
	const char *colon;

	if (strcmp(word, "-") == 0 || strcmp(word, "y") == 0)
		return NULL;
	if (strcmp(word, "n") == 0)
		return "unpriv must not be n: only master runs as root";
	colon = strchr(word, ':');
	s->user = colon != NULL ? xstrndup(word, (size_t)(colon - word))
				: xstrdup(word);
	if (colon != NULL)
		s->group = xstrdup(colon + 1);
	if (!master_cf_is_name(s->user, false) ||
	    (s->group != NULL && !master_cf_is_name(s->group, false)))
		return "bad unpriv user (use y, -, user or user:group)";
	if (strcmp(s->user, "root") == 0)
		return "unpriv must not be root: only master runs as root";
	return NULL;
}

static const char *
master_cf_number(const char *word, unsigned long max, unsigned long *n_r)
{
	char *end;

	if (!(word[0] >= '0' && word[0] <= '9'))
		return "not a number";
	errno = 0;
	*n_r = strtoul(word, &end, 10);
	if (errno != 0 || *n_r > max)
		return "number too large";
	return *end == '\0' ? NULL : "not a number";
}

/* Fills s from the words of one entry; NULL or a problem text. */
static const char *
master_cf_entry(struct master_service *s, char **w, size_t n)
{
	const char *problem;
	unsigned long num;
	char *end;

	if (n < 8)
		return "missing fields (service type private unpriv chroot "
		       "wakeup maxproc command)";
	s->name = xstrdup(w[0]);
	if (strcmp(w[1], "inet") == 0)
		s->type = MASTER_SERVICE_INET;
	else if (strcmp(w[1], "unix") == 0)
		s->type = MASTER_SERVICE_UNIX;
	else if (strcmp(w[1], "pass") == 0)
		s->type = MASTER_SERVICE_PASS;
	else
		return "unknown service type (use inet, unix or pass)";
	if (s->type == MASTER_SERVICE_INET) {
		if ((problem = master_cf_inet_name(s, w[0])) != NULL)
			return problem;
	} else if (!master_cf_is_name(w[0], false)) {
		return "bad service name";
	}
	if (master_cf_yes_no(w[2], s->type != MASTER_SERVICE_INET,
			     &s->private_service) < 0)
		return "bad private field (use y, n or -)";
	if (s->type == MASTER_SERVICE_INET && s->private_service)
		return "an inet service cannot be private";
	if ((problem = master_cf_unpriv(s, w[3])) != NULL)
		return problem;
	if (master_cf_yes_no(w[4], false, &s->chroot) < 0)
		return "bad chroot field (use y, n or -)";
	if (strcmp(w[5], "-") != 0) {
		size_t len = strlen(w[5]);

		if (len > 1 && w[5][len - 1] == '?') {
			s->wakeup_if_used = true;
			w[5][len - 1] = '\0';
		}
		if (master_cf_number(w[5], MASTER_CF_MAX_WAKEUP, &num) != NULL)
			return "bad wakeup time";
		s->wakeup = (unsigned int)num;
	}
	s->maxproc = MASTER_MAXPROC_DEFAULT;
	if (strcmp(w[6], "-") != 0) {
		if (master_cf_number(w[6], MASTER_CF_MAX_MAXPROC, &num) != NULL)
			return "bad maxproc";
		s->maxproc = (int)num;
	}
	if (!master_cf_is_name(w[7], false))
		return "bad command name";
	s->command = xstrdup(w[7]);
	s->argv = xcalloc(n - 7 + 1, sizeof(*s->argv));
	s->argv[s->argc++] = xstrdup(w[7]);
	for (size_t i = 8; i < n; i++) {
		if (strcmp(w[i], "-o") != 0) {
			s->argv[s->argc++] = xstrdup(w[i]);
			continue;
		}
		if (++i == n)
			return "-o without name=value";
		end = strchr(w[i], '=');
		if (end == NULL || end == w[i])
			return "-o argument is not name=value";
		s->overrides = xreallocarray(s->overrides, s->n_overrides + 1,
					     sizeof(*s->overrides));
		s->overrides[s->n_overrides++] = xstrdup(w[i]);
	}
	return NULL;
}

static bool
master_cf_same(const struct master_service *a, const struct master_service *b)
{
	if (a->type != b->type)
		return false;
	if (strcmp(a->name, b->name) == 0)
		return true;
	return a->type == MASTER_SERVICE_INET && a->port == b->port &&
	       (a->host == NULL) == (b->host == NULL) &&
	       (a->host == NULL || strcmp(a->host, b->host) == 0);
}

struct master_cf_state {
	struct master_cf cf;
	size_t alloc;
};

static const char *
master_cf_add(struct master_cf_state *st, char *line, unsigned int lineno,
	      unsigned int *dup_line_r)
{
	struct master_service s;
	const char *problem;
	char **words;
	size_t n;

	if ((problem = master_cf_split(line, &words, &n)) != NULL)
		return problem;
	memset(&s, 0, sizeof(s));
	s.line = lineno;
	problem = master_cf_entry(&s, words, n);
	xfree(&words);
	if (problem == NULL && st->cf.n_services == MASTER_CF_MAX_SERVICES)
		problem = "too many services";
	for (size_t i = 0; problem == NULL && i < st->cf.n_services; i++) {
		if (master_cf_same(&st->cf.services[i], &s)) {
			*dup_line_r = st->cf.services[i].line;
			problem = "duplicate service";
		}
	}
	if (problem != NULL) {
		master_service_free(&s);
		return problem;
	}
	if (st->cf.n_services == st->alloc) {
		st->alloc = st->alloc == 0 ? 16 : st->alloc * 2;
		st->cf.services =
		    xreallocarray(st->cf.services, st->alloc, sizeof(s));
	}
	st->cf.services[st->cf.n_services++] = s;
	return NULL;
}

int
master_cf_parse_text(const char *path, const char *text, size_t len,
		     struct master_cf *cf, char **error_r)
{
	struct master_cf_state st;
	struct strbuf logical;
	const char *p = text, *end = text + len, *problem = NULL;
	unsigned int lineno = 0, start = 0, dup_line = 0;

	memset(&st, 0, sizeof(st));
	strbuf_init(&logical, CF_LINE_MAX);
	/* one pass more than the lines, to finish the last entry */
	for (;;) {
		const char *nl = NULL, *q;
		size_t line_len = 0;
		bool eof = p >= end;

		if (!eof) {
			nl = memchr(p, '\n', (size_t)(end - p));
			line_len =
			    nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
			lineno++;
			if (memchr(p, '\0', line_len) != NULL) {
				problem = "NUL byte in line";
				start = lineno;
				break;
			}
		}
		for (q = p; q < p + line_len && master_cf_is_space(*q); q++)
			;
		if (!eof && (q == p + line_len || *q == '#')) {
			p = nl != NULL ? nl + 1 : end;
			continue;
		}
		if (!eof && q > p) {
			if (start == 0) {
				problem = "continuation line with no previous "
					  "entry";
				start = lineno;
				break;
			}
			if (strbuf_append_char(&logical, ' ') < 0 ||
			    strbuf_append(&logical, p, line_len) < 0) {
				problem = "logical line too long";
				break;
			}
			p = nl != NULL ? nl + 1 : end;
			continue;
		}
		if (start != 0) {
			problem =
			    master_cf_add(&st, logical.data, start, &dup_line);
			if (problem != NULL)
				break;
		}
		if (eof)
			break;
		strbuf_reset(&logical);
		start = lineno;
		if (strbuf_append(&logical, p, line_len) < 0) {
			problem = "logical line too long";
			break;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	strbuf_release(&logical);
	if (problem != NULL) {
		if (dup_line != 0)
			*error_r = xasprintf("%s:%u: %s (first defined at "
					     "line %u)",
					     path, start, problem, dup_line);
		else
			*error_r = xasprintf("%s:%u: %s", path, start, problem);
		master_cf_free(&st.cf);
		return -1;
	}
	*cf = st.cf;
	return 0;
}

int
master_cf_parse_file(const char *path, struct master_cf *cf, char **error_r)
{
	struct stat sb;
	char *buf;
	ssize_t ret;
	int fd, result;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		*error_r = xasprintf("%s: open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > MASTER_CF_FILE_MAX) {
		*error_r = xasprintf("%s: not a regular file of at most %d "
				     "bytes",
				     path, MASTER_CF_FILE_MAX);
		close(fd);
		return -1;
	}
	buf = xmalloc(MASTER_CF_FILE_MAX + 1);
	do {
		ret = read(fd, buf, MASTER_CF_FILE_MAX + 1);
	} while (ret < 0 && errno == EINTR);
	close(fd);
	if (ret < 0 || ret > MASTER_CF_FILE_MAX) {
		*error_r = xasprintf("%s: read: %s", path,
				     ret < 0 ? strerror(errno) : "too large");
		xfree(&buf);
		return -1;
	}
	result = master_cf_parse_text(path, buf, (size_t)ret, cf, error_r);
	xfree(&buf);
	return result;
}

void
master_cf_free(struct master_cf *cf)
{
	for (size_t i = 0; i < cf->n_services; i++)
		master_service_free(&cf->services[i]);
	xfree(&cf->services);
	cf->n_services = 0;
}

const struct master_service *
master_cf_find(const struct master_cf *cf, const char *name,
	       enum master_service_type type)
{
	for (size_t i = 0; i < cf->n_services; i++) {
		if (cf->services[i].type == type &&
		    strcmp(cf->services[i].name, name) == 0)
			return &cf->services[i];
	}
	return NULL;
}

char *
master_service_unix_path(const struct master_service *service,
			 const char *queue_directory)
{
	if (service->type == MASTER_SERVICE_INET)
		return NULL;
	return xasprintf("%s/%s/%s", queue_directory,
			 service->private_service ? "private" : "public",
			 service->name);
}

const char *
master_service_type_name(enum master_service_type type)
{
	switch (type) {
	case MASTER_SERVICE_INET:
		return "inet";
	case MASTER_SERVICE_UNIX:
		return "unix";
	case MASTER_SERVICE_PASS:
		return "pass";
	}
	return "?";
}
