/*
 * auth_lru - chained hash table plus a doubly linked list in use order.
 * Keys come from peers (user names, addresses) but are bounded by the
 * callers; the hash is keyed with a per-table random seed so a peer cannot
 * aim many keys at one chain. No I/O, no logging.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "auth_lru.h"
#include "util/xmem.h"

struct auth_lru_node {
	struct auth_lru_node *chain;	   /* next in bucket */
	struct auth_lru_node *prev, *next; /* use order: prev is older */
	uint64_t hash;
	void *value;
	char key[];
};

struct auth_lru {
	struct auth_lru_node **buckets;
	size_t n_buckets; /* power of two */
	size_t count;
	struct auth_lru_node *oldest, *newest;
	uint64_t seed;
};

static uint64_t
auth_lru_hash(const struct auth_lru *lru, const char *key)
{
	uint64_t h = 1469598103934665603ULL ^ lru->seed;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

struct auth_lru *
auth_lru_new(void)
{
	struct auth_lru *lru = xcalloc(1, sizeof(*lru));

	lru->n_buckets = 64;
	lru->buckets = xcalloc(lru->n_buckets, sizeof(lru->buckets[0]));
	if (getrandom(&lru->seed, sizeof(lru->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(lru->seed))
		lru->seed = (uint64_t)(uintptr_t)lru;
	return lru;
}

void
auth_lru_free(struct auth_lru **lrup, void (*free_value)(void *))
{
	struct auth_lru *lru = *lrup;
	struct auth_lru_node *node, *next;

	if (lru == NULL)
		return;
	for (node = lru->oldest; node != NULL; node = next) {
		next = node->next;
		if (free_value != NULL)
			free_value(node->value);
		xfree(&node);
	}
	xfree(&lru->buckets);
	xfree(lrup);
}

static struct auth_lru_node **
auth_lru_find(struct auth_lru *lru, const char *key, uint64_t hash)
{
	struct auth_lru_node **pos = &lru->buckets[hash & (lru->n_buckets - 1)];

	for (; *pos != NULL; pos = &(*pos)->chain) {
		if ((*pos)->hash == hash && strcmp((*pos)->key, key) == 0)
			break;
	}
	return pos;
}

static void
auth_lru_unlink(struct auth_lru *lru, struct auth_lru_node *node)
{
	if (node->prev != NULL)
		node->prev->next = node->next;
	else
		lru->oldest = node->next;
	if (node->next != NULL)
		node->next->prev = node->prev;
	else
		lru->newest = node->prev;
	node->prev = node->next = NULL;
}

static void
auth_lru_append(struct auth_lru *lru, struct auth_lru_node *node)
{
	node->prev = lru->newest;
	node->next = NULL;
	if (lru->newest != NULL)
		lru->newest->next = node;
	else
		lru->oldest = node;
	lru->newest = node;
}

void *
auth_lru_get(struct auth_lru *lru, const char *key)
{
	struct auth_lru_node *node =
	    *auth_lru_find(lru, key, auth_lru_hash(lru, key));

	if (node == NULL)
		return NULL;
	auth_lru_unlink(lru, node);
	auth_lru_append(lru, node);
	return node->value;
}

void
auth_lru_touch(struct auth_lru *lru, const char *key)
{
	(void)auth_lru_get(lru, key);
}

static void
auth_lru_grow(struct auth_lru *lru)
{
	size_t n = lru->n_buckets * 2;
	struct auth_lru_node **buckets = xcalloc(n, sizeof(buckets[0]));

	for (size_t i = 0; i < lru->n_buckets; i++) {
		struct auth_lru_node *node = lru->buckets[i], *chain;

		for (; node != NULL; node = chain) {
			chain = node->chain;
			node->chain = buckets[node->hash & (n - 1)];
			buckets[node->hash & (n - 1)] = node;
		}
	}
	xfree(&lru->buckets);
	lru->buckets = buckets;
	lru->n_buckets = n;
}

void
auth_lru_add(struct auth_lru *lru, const char *key, void *value)
{
	size_t len = strlen(key);
	struct auth_lru_node *node, **pos;

	if (lru->count >= lru->n_buckets)
		auth_lru_grow(lru);
	node = xcalloc(1, sizeof(*node) + len + 1);
	memcpy(node->key, key, len + 1);
	node->hash = auth_lru_hash(lru, key);
	node->value = value;
	pos = auth_lru_find(lru, key, node->hash);
	node->chain = *pos;
	*pos = node;
	auth_lru_append(lru, node);
	lru->count++;
}

void *
auth_lru_remove(struct auth_lru *lru, const char *key)
{
	struct auth_lru_node **pos =
	    auth_lru_find(lru, key, auth_lru_hash(lru, key));
	struct auth_lru_node *node = *pos;
	void *value;

	if (node == NULL)
		return NULL;
	*pos = node->chain;
	auth_lru_unlink(lru, node);
	value = node->value;
	xfree(&node);
	lru->count--;
	return value;
}

void *
auth_lru_oldest(struct auth_lru *lru, const char **key_r)
{
	if (lru->oldest == NULL)
		return NULL;
	*key_r = lru->oldest->key;
	return lru->oldest->value;
}

size_t
auth_lru_count(const struct auth_lru *lru)
{
	return lru->count;
}
