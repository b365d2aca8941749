/*
 * auth_penalty - per-address failure penalties with Dovecot's arithmetic
 * (anvil's penalty.c and auth-penalty.c): decay by the time since the last
 * failure, checksums of user+password so retrying the same credentials
 * does not count twice, IPv6 /48 aggregation. Addresses come from the
 * auth client (rip=), parsed with inet_pton only. Bounded by max_entries;
 * records expire AUTH_PENALTY_TIMEOUT seconds after their last failure.
 * Pure: time is passed in; no I/O, no logging.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth_lru.h"
#include "auth_penalty.h"
#include "util/xmem.h"

#define PENALTY_IPV6_MASK_BITS 48

struct auth_penalty_rec {
	unsigned int penalty;
	time_t last_penalty; /* when the penalty was last raised */
	time_t last_update;  /* last change of any kind */
	unsigned int checksums[AUTH_PENALTY_CHECKSUMS];
};

struct auth_penalty {
	struct auth_lru *recs; /* ident -> rec, oldest update first */
	size_t max_entries;
};

struct auth_penalty *
auth_penalty_new(size_t max_entries)
{
	struct auth_penalty *penalty = xcalloc(1, sizeof(*penalty));

	penalty->recs = auth_lru_new();
	penalty->max_entries = max_entries > 0 ? max_entries : 1;
	return penalty;
}

static void
auth_penalty_rec_free(void *rec)
{
	xfree(&rec);
}

void
auth_penalty_free(struct auth_penalty **penaltyp)
{
	struct auth_penalty *penalty = *penaltyp;

	if (penalty == NULL)
		return;
	auth_lru_free(&penalty->recs, auth_penalty_rec_free);
	xfree(penaltyp);
}

const char *
auth_penalty_ident(const char *ip, char *buf, size_t size)
{
	unsigned char addr[16];

	if (ip == NULL)
		return NULL;
	if (inet_pton(AF_INET, ip, addr) == 1) {
		if (inet_ntop(AF_INET, addr, buf, (socklen_t)size) == NULL)
			return NULL;
		return buf;
	}
	if (inet_pton(AF_INET6, ip, addr) == 1) {
		memset(addr + PENALTY_IPV6_MASK_BITS / 8, 0,
		       sizeof(addr) - PENALTY_IPV6_MASK_BITS / 8);
		if (inet_ntop(AF_INET6, addr, buf, (socklen_t)size) == NULL)
			return NULL;
		return buf;
	}
	return NULL;
}

unsigned int
auth_penalty_to_secs(unsigned int penalty)
{
	unsigned int i, secs = AUTH_PENALTY_INIT_SECS;

	if (penalty == 0)
		return 0;
	for (i = 0; i < penalty && secs < AUTH_PENALTY_MAX_SECS; i++)
		secs *= 2;
	return secs < AUTH_PENALTY_MAX_SECS ? secs : AUTH_PENALTY_MAX_SECS;
}

/* Drops records whose last change is older than the timeout. */
static void
auth_penalty_expire(struct auth_penalty *penalty, time_t now)
{
	const char *key;
	struct auth_penalty_rec *rec;

	while ((rec = auth_lru_oldest(penalty->recs, &key)) != NULL &&
	       now - rec->last_update >= AUTH_PENALTY_TIMEOUT) {
		auth_lru_remove(penalty->recs, key);
		xfree(&rec);
	}
}

unsigned int
auth_penalty_get(struct auth_penalty *penalty, const char *ident, time_t now)
{
	struct auth_penalty_rec *rec;
	unsigned int p, drop = AUTH_PENALTY_MAX_PENALTY;
	time_t last;

	auth_penalty_expire(penalty, now);
	/* A lookup reorders the table, so the front is not always the
	 * oldest update: check this record's age itself. */
	rec = auth_lru_get(penalty->recs, ident);
	if (rec == NULL)
		return 0;
	if (now - rec->last_update >= AUTH_PENALTY_TIMEOUT) {
		auth_lru_remove(penalty->recs, ident);
		xfree(&rec);
		return 0;
	}
	p = rec->penalty;
	last = rec->last_penalty > now ? now : rec->last_penalty;
	while (p > 0) {
		if (now - last < (time_t)auth_penalty_to_secs(drop))
			break;
		drop--;
		p--;
	}
	return p;
}

static bool
auth_penalty_bump_checksum(struct auth_penalty_rec *rec, unsigned int checksum)
{
	for (size_t i = 0; i < AUTH_PENALTY_CHECKSUMS; i++) {
		if (rec->checksums[i] != checksum)
			continue;
		memmove(rec->checksums + 1, rec->checksums,
			sizeof(rec->checksums[0]) * i);
		rec->checksums[0] = checksum;
		return true;
	}
	return false;
}

void
auth_penalty_update(struct auth_penalty *penalty, const char *ident,
		    unsigned int checksum, unsigned int value, time_t now)
{
	struct auth_penalty_rec *rec;

	if (value > AUTH_PENALTY_MAX_PENALTY)
		value = AUTH_PENALTY_MAX_PENALTY;
	auth_penalty_expire(penalty, now);
	rec = auth_lru_remove(penalty->recs, ident);
	if (rec == NULL) {
		if (value == 0)
			return;
		while (auth_lru_count(penalty->recs) >= penalty->max_entries) {
			const char *key;
			struct auth_penalty_rec *old =
			    auth_lru_oldest(penalty->recs, &key);

			auth_lru_remove(penalty->recs, key);
			xfree(&old);
		}
		rec = xcalloc(1, sizeof(*rec));
	}
	if (value == 0) {
		xfree(&rec);
		return;
	}
	if (checksum == 0) {
		rec->penalty = value;
		rec->last_penalty = now;
	} else if (auth_penalty_bump_checksum(rec, checksum)) {
		rec->penalty = value - 1;
	} else {
		memmove(rec->checksums + 1, rec->checksums,
			sizeof(rec->checksums[0]) *
			    (AUTH_PENALTY_CHECKSUMS - 1));
		rec->checksums[0] = checksum;
		rec->penalty = value;
		rec->last_penalty = now;
	}
	rec->last_update = now;
	auth_lru_add(penalty->recs, ident, rec);
}

unsigned int
auth_penalty_checksum(const char *user, const void *password, size_t len)
{
	const unsigned char *p = password;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	h ^= 0xff;
	h *= 16777619u;
	for (; *user != '\0'; user++) {
		h ^= (unsigned char)*user;
		h *= 16777619u;
	}
	return h != 0 ? h : 1;
}

size_t
auth_penalty_count(const struct auth_penalty *penalty)
{
	return auth_lru_count(penalty->recs);
}
