/*
 * auth_cache - TTL + LRU cache of passdb/userdb results. Keys are user
 * names after normalisation (bounded by the request parser); values come
 * from the admin's databases. Cached secrets are wiped when dropped. No
 * I/O, no logging.
 */
#include <string.h>

#include "auth_cache.h"
#include "auth_lru.h"
#include "util/xmem.h"

/* Rough per-entry overhead counted against max_bytes. */
#define AUTH_CACHE_ENTRY_OVERHEAD 96

struct auth_cache_entry {
	time_t created;
	size_t bytes; /* counted size */
	size_t len;
	unsigned char *data; /* NULL: negative */
};

struct auth_cache {
	struct auth_lru *entries;
	size_t max_bytes, bytes;
	unsigned int ttl, neg_ttl;
};

struct auth_cache *
auth_cache_new(size_t max_bytes, unsigned int ttl_secs,
	       unsigned int neg_ttl_secs)
{
	struct auth_cache *cache = xcalloc(1, sizeof(*cache));

	cache->entries = auth_lru_new();
	cache->max_bytes = max_bytes;
	cache->ttl = ttl_secs;
	cache->neg_ttl = neg_ttl_secs;
	return cache;
}

static void
auth_cache_entry_free(void *p)
{
	struct auth_cache_entry *entry = p;

	if (entry->data != NULL) {
		xmem_wipe(entry->data, entry->len);
		xfree(&entry->data);
	}
	xfree(&entry);
}

void
auth_cache_free(struct auth_cache **cachep)
{
	struct auth_cache *cache = *cachep;

	if (cache == NULL)
		return;
	auth_lru_free(&cache->entries, auth_cache_entry_free);
	xfree(cachep);
}

static void
auth_cache_drop(struct auth_cache *cache, const char *key)
{
	struct auth_cache_entry *entry = auth_lru_remove(cache->entries, key);

	if (entry == NULL)
		return;
	cache->bytes -= entry->bytes;
	auth_cache_entry_free(entry);
}

enum auth_cache_result
auth_cache_lookup(struct auth_cache *cache, const char *key, time_t now,
		  const void **data_r, size_t *len_r)
{
	struct auth_cache_entry *entry;
	unsigned int ttl;

	if (cache->max_bytes == 0)
		return AUTH_CACHE_MISS;
	entry = auth_lru_get(cache->entries, key);
	if (entry == NULL)
		return AUTH_CACHE_MISS;
	ttl = entry->data != NULL ? cache->ttl : cache->neg_ttl;
	if (now < entry->created || now - entry->created >= (time_t)ttl) {
		auth_cache_drop(cache, key);
		return AUTH_CACHE_MISS;
	}
	if (entry->data == NULL)
		return AUTH_CACHE_NEGATIVE;
	*data_r = entry->data;
	*len_r = entry->len;
	return AUTH_CACHE_POSITIVE;
}

void
auth_cache_insert(struct auth_cache *cache, const char *key, const void *data,
		  size_t len, time_t now)
{
	struct auth_cache_entry *entry;
	size_t bytes;

	if (cache->max_bytes == 0 || (data == NULL && cache->neg_ttl == 0) ||
	    (data != NULL && cache->ttl == 0))
		return;
	auth_cache_drop(cache, key);
	bytes =
	    strlen(key) + (data != NULL ? len : 0) + AUTH_CACHE_ENTRY_OVERHEAD;
	if (bytes > cache->max_bytes)
		return;
	while (cache->bytes + bytes > cache->max_bytes) {
		const char *old_key;

		if (auth_lru_oldest(cache->entries, &old_key) == NULL)
			break;
		auth_cache_drop(cache, old_key);
	}
	entry = xcalloc(1, sizeof(*entry));
	entry->created = now;
	entry->bytes = bytes;
	if (data != NULL) {
		entry->data = xmalloc(len + 1);
		memcpy(entry->data, data, len);
		entry->data[len] = '\0';
		entry->len = len;
	}
	auth_lru_add(cache->entries, key, entry);
	cache->bytes += bytes;
}

void
auth_cache_remove(struct auth_cache *cache, const char *key)
{
	auth_cache_drop(cache, key);
}

size_t
auth_cache_clear(struct auth_cache *cache)
{
	size_t n = auth_lru_count(cache->entries);
	const char *key;

	while (auth_lru_oldest(cache->entries, &key) != NULL)
		auth_cache_drop(cache, key);
	return n;
}

size_t
auth_cache_count(const struct auth_cache *cache)
{
	return auth_lru_count(cache->entries);
}

size_t
auth_cache_bytes(const struct auth_cache *cache)
{
	return cache->bytes;
}
