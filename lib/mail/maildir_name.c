/*
 * maildir_name - generate and parse Dovecot-style Maildir file names.
 * Parsing is pure and bounded by MAILDIR_NAME_MAX; the only state is the
 * last handed-out time (mutex-protected).
 */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mail/maildir_name.h"
#include "util/strbuf.h"

static pthread_mutex_t maildir_name_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timeval maildir_name_last;

int
maildir_name_host(const char *hostname, struct strbuf *dest)
{
	for (const char *p = hostname; *p != '\0'; p++) {
		int ret;

		if (*p == '/')
			ret = strbuf_append_str(dest, "\\057");
		else if (*p == ':')
			ret = strbuf_append_str(dest, "\\072");
		else
			ret = strbuf_append_char(dest, *p);
		if (ret < 0)
			return -1;
	}
	return 0;
}

void
maildir_name_unique_time(struct timeval *tv_io)
{
	pthread_mutex_lock(&maildir_name_lock);
	if (timercmp(tv_io, &maildir_name_last, <=)) {
		*tv_io = maildir_name_last;
		if (++tv_io->tv_usec == 1000000) {
			tv_io->tv_sec++;
			tv_io->tv_usec = 0;
		}
	}
	maildir_name_last = *tv_io;
	pthread_mutex_unlock(&maildir_name_lock);
}

int
maildir_name_base(struct strbuf *dest, const struct timeval *tv, pid_t pid,
		  const char *safe_host)
{
	return strbuf_printf(dest, "%lld.M%ldP%ld.%s", (long long)tv->tv_sec,
			     (long)tv->tv_usec, (long)pid, safe_host);
}

int
maildir_name_append_sizes(struct strbuf *dest, uint64_t size, uint64_t vsize)
{
	return strbuf_printf(dest, ",S=%" PRIu64 ",W=%" PRIu64, size, vsize);
}

/* Parses the decimal digits of [p, end) into *value_r. */
static int
maildir_name_number(const char *p, const char *end, uint64_t *value_r)
{
	uint64_t v = 0;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*value_r = v;
	return 0;
}

int
maildir_name_parse(const char *name, struct maildir_name *name_r)
{
	size_t len = strnlen(name, MAILDIR_NAME_MAX + 1);
	const char *colon, *p, *end, *field;

	memset(name_r, 0, sizeof(*name_r));
	if (len == 0 || len > MAILDIR_NAME_MAX || name[0] == '.')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 ||
		    name[i] == 0x7f)
			return -1;
	}
	colon = strchr(name, ':');
	if (colon != NULL) {
		if (strncmp(colon, ":2,", 3) != 0)
			return -1;
		name_r->flags = colon + 3;
		name_r->base_len = (size_t)(colon - name);
	} else
		name_r->base_len = len;
	if (name_r->base_len == 0)
		return -1;

	/* Fields after the first ',' of the base: ",S=n", ",W=n", others are
	 * kept opaque (other MDAs add their own). */
	end = name + name_r->base_len;
	p = memchr(name, ',', name_r->base_len);
	while (p != NULL && p < end) {
		const char *next;

		field = p + 1;
		next = memchr(field, ',', (size_t)(end - field));
		if (next == NULL)
			next = end;
		if (next - field >= 2 && field[1] == '=') {
			if (field[0] == 'S') {
				if (maildir_name_number(field + 2, next,
							&name_r->size) < 0)
					return -1;
				name_r->has_size = true;
			} else if (field[0] == 'W') {
				if (maildir_name_number(field + 2, next,
							&name_r->vsize) < 0)
					return -1;
				name_r->has_vsize = true;
			}
		}
		p = next < end ? next : NULL;
	}
	return 0;
}
