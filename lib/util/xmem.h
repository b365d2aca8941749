/*
 * xmem - allocation wrappers. Every function aborts the process (log_panic)
 * on out-of-memory or on a size multiplication that overflows, so callers
 * never check for NULL. xfree() takes a pointer to the pointer and clears it.
 */
#ifndef XMEM_H
#define XMEM_H

#include <stddef.h>

void *xmalloc(size_t size);
/* Zeroed; nmemb * size is overflow-checked. */
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* realloc of nmemb * size bytes, overflow-checked. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
/* Copies at most len bytes of s and NUL-terminates. */
char *xstrndup(const char *s, size_t len);
void *xmemdup(const void *p, size_t len);
/* Allocating printf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees *ptrp and sets it to NULL. */
void xfree_ptr(void *ptrp);
#define xfree(pp) xfree_ptr(pp)

/* Explicitly zeroes memory that held secrets; not optimised away. */
void xmem_wipe(void *p, size_t len);

#endif
