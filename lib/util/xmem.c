/*
 * xmem - allocation wrappers that abort on exhaustion or overflow.
 * Trusts its callers for pointers; checks every size computation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmem.h"

static void *
xmem_check(void *p, size_t size)
{
	if (p == NULL && size != 0)
		log_panic("xmem: out of memory allocating %zu bytes", size);
	return p;
}

void *
xmalloc(size_t size)
{
	return xmem_check(malloc(size == 0 ? 1 : size), size);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	if (nmemb == 0 || size == 0)
		return xmem_check(calloc(1, 1), 1);
	if (nmemb > (size_t)-1 / size)
		log_panic("xcalloc: %zu * %zu overflows", nmemb, size);
	return xmem_check(calloc(nmemb, size), nmemb * size);
}

void *
xrealloc(void *ptr, size_t size)
{
	return xmem_check(realloc(ptr, size == 0 ? 1 : size), size);
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > (size_t)-1 / size)
		log_panic("xreallocarray: %zu * %zu overflows", nmemb, size);
	return xrealloc(ptr, nmemb * size);
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

char *
xstrndup(const char *s, size_t len)
{
	size_t n = strnlen(s, len);
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *
xmemdup(const void *p, size_t len)
{
	void *q = xmalloc(len);

	if (len > 0)
		memcpy(q, p, len);
	return q;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		log_panic("xasprintf: out of memory");
	return s;
}

void
xfree_ptr(void *ptrp)
{
	void **pp = ptrp;

	free(*pp);
	*pp = NULL;
}

void
xmem_wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}
