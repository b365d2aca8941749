/*
 * hash - a string-keyed hash table (separate chaining, grows by doubling).
 * Keys are copied; values are the caller's pointers. No mail knowledge.
 * Not thread-safe: callers that share a table lock around it.
 */
#ifndef HASH_H
#define HASH_H

#include <stdbool.h>
#include <stddef.h>

struct hash_table;

/* Creates an empty table. */
struct hash_table *hash_create(void);
/* Frees the table and its copied keys; calls free_value (may be NULL) on
 * every value. Sets *tablep to NULL. */
void hash_destroy(struct hash_table **tablep, void (*free_value)(void *));

/* Adds key -> value (value must not be NULL). Returns 0, or -1 if key is already present (the table
 * is then unchanged and the old value kept). */
int hash_insert(struct hash_table *table, const char *key, void *value);
/* The value stored under key, or NULL. */
void *hash_lookup(const struct hash_table *table, const char *key);
size_t hash_count(const struct hash_table *table);

#endif
