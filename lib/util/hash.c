/*
 * hash - string-keyed hash table. Input: keys from trusted callers (any
 * bytes up to NUL); the table never interprets them. Must not log or do I/O.
 */
#include <stdint.h>
#include <string.h>

#include "util/hash.h"
#include "util/xmem.h"

struct hash_node {
	struct hash_node *next;
	char *key;
	void *value;
	uint64_t hash;
};

struct hash_table {
	struct hash_node **buckets;
	size_t n_buckets; /* always a power of two */
	size_t count;
};

/* FNV-1a: keys come from admins' files, not from attackers, but a table
 * filled from a hostile file only gets slower, never wrong. */
static uint64_t
hash_string(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct hash_table *
hash_create(void)
{
	struct hash_table *table = xcalloc(1, sizeof(*table));

	table->n_buckets = 16;
	table->buckets = xcalloc(table->n_buckets, sizeof(*table->buckets));
	return table;
}

void
hash_destroy(struct hash_table **tablep, void (*free_value)(void *))
{
	struct hash_table *table = *tablep;
	struct hash_node *node, *next;

	if (table == NULL)
		return;
	for (size_t i = 0; i < table->n_buckets; i++) {
		for (node = table->buckets[i]; node != NULL; node = next) {
			next = node->next;
			if (free_value != NULL)
				free_value(node->value);
			xfree(&node->key);
			xfree(&node);
		}
	}
	xfree(&table->buckets);
	xfree(tablep);
}

static void
hash_grow(struct hash_table *table)
{
	size_t n = table->n_buckets * 2;
	struct hash_node **buckets = xcalloc(n, sizeof(*buckets));
	struct hash_node *node, *next;

	for (size_t i = 0; i < table->n_buckets; i++) {
		for (node = table->buckets[i]; node != NULL; node = next) {
			next = node->next;
			node->next = buckets[node->hash & (n - 1)];
			buckets[node->hash & (n - 1)] = node;
		}
	}
	xfree(&table->buckets);
	table->buckets = buckets;
	table->n_buckets = n;
}

int
hash_insert(struct hash_table *table, const char *key, void *value)
{
	uint64_t h = hash_string(key);
	struct hash_node *node;

	if (hash_lookup(table, key) != NULL)
		return -1;
	if (table->count >= table->n_buckets)
		hash_grow(table);
	node = xcalloc(1, sizeof(*node));
	node->key = xstrdup(key);
	node->value = value;
	node->hash = h;
	node->next = table->buckets[h & (table->n_buckets - 1)];
	table->buckets[h & (table->n_buckets - 1)] = node;
	table->count++;
	return 0;
}

void *
hash_lookup(const struct hash_table *table, const char *key)
{
	uint64_t h = hash_string(key);
	const struct hash_node *node;

	for (node = table->buckets[h & (table->n_buckets - 1)]; node != NULL;
	     node = node->next) {
		if (node->hash == h && strcmp(node->key, key) == 0)
			return node->value;
	}
	return NULL;
}

size_t
hash_count(const struct hash_table *table)
{
	return table->count;
}
