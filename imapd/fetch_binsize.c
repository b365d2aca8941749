/*
 * fetch_binsize - a small cache of BINARY.SIZE answers (RFC 3516), so
 * that asking again for the decoded size of a message part does not
 * decode the message again (Dovecot keeps it in its cache file). Maildir
 * message files never change, so an answer stays right for as long as
 * the mailbox keeps its UIDVALIDITY.
 *
 * One cache per session thread (sessions are threads, see
 * login/session_host.h), FETCH_BINSIZE_ENTRIES entries replaced round
 * robin; sections deeper than FETCH_BINSIZE_PARTS_MAX are not cached.
 * Keys come from the selected view and the parsed FETCH item (bounded by
 * imap_fetch_parse); nothing here is read from the client directly.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fetch_section.h"

#define FETCH_BINSIZE_ENTRIES 64
#define FETCH_BINSIZE_PARTS_MAX 8

struct binsize_entry {
	bool used;
	uint64_t dir_hash; /* FNV-1a of the mailbox directory */
	uint32_t uid_validity, uid;
	unsigned int part_count;
	uint32_t parts[FETCH_BINSIZE_PARTS_MAX];
	uint64_t size;
};

static _Thread_local struct binsize_entry binsize_cache[FETCH_BINSIZE_ENTRIES];
static _Thread_local unsigned int binsize_next;

static uint64_t
dir_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Fills key from the view and item; false when it cannot be cached. */
static bool
binsize_key(const struct imap_view *v, uint32_t seq,
	    const struct imap_fetch_body *b, struct binsize_entry *key)
{
	if (v == NULL || v->dir == NULL || seq == 0 || seq > v->count ||
	    b->kind != IMAP_BODY_BINARY_SIZE ||
	    b->part_count > FETCH_BINSIZE_PARTS_MAX)
		return false;
	memset(key, 0, sizeof(*key));
	key->used = true;
	key->dir_hash = dir_hash(v->dir);
	key->uid_validity = v->uid_validity;
	key->uid = v->msgs[seq - 1].uid;
	key->part_count = b->part_count;
	for (unsigned int i = 0; i < b->part_count; i++)
		key->parts[i] = b->parts[i];
	return true;
}

static bool
binsize_same(const struct binsize_entry *a, const struct binsize_entry *b)
{
	return a->used && a->dir_hash == b->dir_hash &&
	       a->uid_validity == b->uid_validity && a->uid == b->uid &&
	       a->part_count == b->part_count &&
	       memcmp(a->parts, b->parts,
		      a->part_count * sizeof(a->parts[0])) == 0;
}

bool
fetch_binsize_lookup(const struct imap_view *v, uint32_t seq,
		     const struct imap_fetch_body *b, uint64_t *size_r)
{
	struct binsize_entry key;

	if (!binsize_key(v, seq, b, &key))
		return false;
	for (unsigned int i = 0; i < FETCH_BINSIZE_ENTRIES; i++) {
		if (binsize_same(&binsize_cache[i], &key)) {
			*size_r = binsize_cache[i].size;
			return true;
		}
	}
	return false;
}

void
fetch_binsize_store(const struct imap_view *v, uint32_t seq,
		    const struct imap_fetch_body *b, uint64_t size)
{
	struct binsize_entry key;

	if (!binsize_key(v, seq, b, &key))
		return;
	for (unsigned int i = 0; i < FETCH_BINSIZE_ENTRIES; i++) {
		if (binsize_same(&binsize_cache[i], &key)) {
			binsize_cache[i].size = size;
			return;
		}
	}
	key.size = size;
	binsize_cache[binsize_next] = key;
	binsize_next = (binsize_next + 1) % FETCH_BINSIZE_ENTRIES;
}
