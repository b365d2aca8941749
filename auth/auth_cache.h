/*
 * auth_cache - Dovecot's auth cache: passdb and userdb results by user,
 * kept auth_cache_ttl (found) or auth_cache_negative_ttl (not found), at
 * most max_bytes in all (least recently used go first). Temporary failures
 * are never cached. Values are opaque byte strings the caller builds. Pure:
 * the caller passes the time; the loop thread owns the cache.
 */
#ifndef AUTH_CACHE_H
#define AUTH_CACHE_H

#include <stddef.h>
#include <time.h>

struct auth_cache;

enum auth_cache_result {
	AUTH_CACHE_MISS = -1,	 /* nothing (or expired) */
	AUTH_CACHE_NEGATIVE = 0, /* cached "user unknown" */
	AUTH_CACHE_POSITIVE = 1, /* cached value */
};

/* max_bytes 0 disables the cache (every lookup misses). neg_ttl 0 means
 * unknown users are not cached. */
struct auth_cache *auth_cache_new(size_t max_bytes, unsigned int ttl_secs,
				  unsigned int neg_ttl_secs);
void auth_cache_free(struct auth_cache **cachep);

/* On POSITIVE, *data_r / *len_r point to the cached value (valid until the
 * next call that changes the cache). */
enum auth_cache_result auth_cache_lookup(struct auth_cache *cache,
					 const char *key, time_t now,
					 const void **data_r, size_t *len_r);
/* Stores a value (data != NULL) or a negative entry (data == NULL),
 * replacing any older entry. */
void auth_cache_insert(struct auth_cache *cache, const char *key,
		       const void *data, size_t len, time_t now);
void auth_cache_remove(struct auth_cache *cache, const char *key);
/* Drops everything; returns the number of entries dropped. */
size_t auth_cache_clear(struct auth_cache *cache);
size_t auth_cache_count(const struct auth_cache *cache);
size_t auth_cache_bytes(const struct auth_cache *cache);

#endif
