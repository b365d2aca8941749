/*
 * strbuf - bounded, growable byte strings. Trusts nothing about the bytes it
 * holds; enforces the maximum on every append.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/xmem.h"

void
strbuf_init(struct strbuf *sb, size_t max)
{
	sb->data = NULL;
	sb->len = 0;
	sb->size = 0;
	sb->max = max > STRBUF_UNLIMITED ? STRBUF_UNLIMITED : max;
}

struct strbuf *
strbuf_new(size_t max)
{
	struct strbuf *sb = xmalloc(sizeof(*sb));

	strbuf_init(sb, max);
	return sb;
}

void
strbuf_release(struct strbuf *sb)
{
	xfree(&sb->data);
	sb->len = 0;
	sb->size = 0;
}

void
strbuf_free(struct strbuf **sbp)
{
	if (*sbp == NULL)
		return;
	strbuf_release(*sbp);
	xfree(sbp);
}

/* Makes room for extra more bytes plus the NUL; -1 if over max. */
static int
strbuf_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, size;

	if (extra > sb->max - sb->len)
		return -1;
	need = sb->len + extra + 1;
	if (need <= sb->size)
		return 0;
	size = sb->size < 64 ? 64 : sb->size;
	while (size < need)
		size = size > STRBUF_UNLIMITED / 2 ? need : size * 2;
	if (size > sb->max + 1)
		size = sb->max + 1;
	sb->data = xrealloc(sb->data, size);
	sb->size = size;
	return 0;
}

int
strbuf_append(struct strbuf *sb, const void *data, size_t len)
{
	if (strbuf_reserve(sb, len) < 0)
		return -1;
	if (len > 0)
		memcpy(sb->data + sb->len, data, len);
	sb->len += len;
	sb->data[sb->len] = '\0';
	return 0;
}

int
strbuf_append_str(struct strbuf *sb, const char *s)
{
	return strbuf_append(sb, s, strlen(s));
}

int
strbuf_append_char(struct strbuf *sb, char c)
{
	return strbuf_append(sb, &c, 1);
}

int
strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || strbuf_reserve(sb, (size_t)n) < 0)
		return -1;
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return ret;
}

int
strbuf_set(struct strbuf *sb, const void *data, size_t len)
{
	if (len > sb->max)
		return -1;
	strbuf_reset(sb);
	return strbuf_append(sb, data, len);
}

void
strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->data != NULL)
		sb->data[0] = '\0';
}

void
strbuf_truncate(struct strbuf *sb, size_t len)
{
	if (len >= sb->len)
		return;
	sb->len = len;
	sb->data[len] = '\0';
}

void
strbuf_consume(struct strbuf *sb, size_t n)
{
	if (n >= sb->len) {
		strbuf_reset(sb);
		return;
	}
	memmove(sb->data, sb->data + n, sb->len - n);
	sb->len -= n;
	sb->data[sb->len] = '\0';
}

const char *
strbuf_cstr(const struct strbuf *sb)
{
	return sb->data == NULL ? "" : sb->data;
}

char *
strbuf_steal(struct strbuf *sb)
{
	char *p = sb->data == NULL ? xstrdup("") : sb->data;

	sb->data = NULL;
	sb->len = 0;
	sb->size = 0;
	return p;
}

size_t
strbuf_room(const struct strbuf *sb)
{
	return sb->max - sb->len;
}
