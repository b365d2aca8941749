/*
 * auth_lru - a string-keyed table that keeps its entries in least recently
 * used order, with removal; the store under the penalty table and the
 * auth cache. Keys are copied, values belong to the caller. Not
 * thread-safe: the event loop thread owns it. No I/O, no logging.
 */
#ifndef AUTH_LRU_H
#define AUTH_LRU_H

#include <stddef.h>

struct auth_lru;

struct auth_lru *auth_lru_new(void);
/* Frees the table; free_value (may be NULL) is called on every value. */
void auth_lru_free(struct auth_lru **lrup, void (*free_value)(void *));

/* The value under key, or NULL; a hit makes the entry the newest. */
void *auth_lru_get(struct auth_lru *lru, const char *key);
/* Adds key (must not be present) as the newest entry. */
void auth_lru_add(struct auth_lru *lru, const char *key, void *value);
/* Marks key as the newest entry (no-op if absent). */
void auth_lru_touch(struct auth_lru *lru, const char *key);
/* Removes key and returns its value (NULL if absent). */
void *auth_lru_remove(struct auth_lru *lru, const char *key);
/* The oldest entry's value and key (valid until it is removed), or NULL. */
void *auth_lru_oldest(struct auth_lru *lru, const char **key_r);
size_t auth_lru_count(const struct auth_lru *lru);

#endif
