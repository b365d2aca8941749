/*
 * auth_penalty - Dovecot's brute-force penalty (auth-penalty + anvil):
 * per remote address, a count of recent failures. A new request from an
 * address with penalty p waits auth_penalty_to_secs(p) seconds (2 s
 * doubling to 15 s) before it is looked at; a failure raises the penalty,
 * a success clears it. Retrying the same user and password does not raise
 * it (a client with a stale saved password is not an attacker). The
 * penalty decays with time since the last failure. IPv6 addresses count
 * per /48. Pure: the caller passes the time; no I/O, no logging.
 */
#ifndef AUTH_PENALTY_H
#define AUTH_PENALTY_H

#include <stddef.h>
#include <time.h>

#define AUTH_PENALTY_INIT_SECS 2
#define AUTH_PENALTY_MAX_SECS 15
#define AUTH_PENALTY_MAX_PENALTY 4
/* Seconds after the last failure when a record is forgotten. */
#define AUTH_PENALTY_TIMEOUT                                                   \
	(AUTH_PENALTY_INIT_SECS + 4 + 8 + AUTH_PENALTY_MAX_SECS)
/* Checksums (user+password) remembered per address. */
#define AUTH_PENALTY_CHECKSUMS 10

struct auth_penalty;

/* max_entries bounds the addresses tracked (oldest forgotten first). */
struct auth_penalty *auth_penalty_new(size_t max_entries);
void auth_penalty_free(struct auth_penalty **penaltyp);

/* The address key for ip ("1.2.3.4", "2001:db8::1"): IPv6 masked to /48.
 * Writes at most size bytes into buf; returns buf, or NULL when ip is not
 * an address (then no penalty applies). */
const char *auth_penalty_ident(const char *ip, char *buf, size_t size);

/* The current penalty of ident at now (after decay), 0 if none. */
unsigned int auth_penalty_get(struct auth_penalty *penalty, const char *ident,
			      time_t now);
/* Sets ident's penalty to value (capped at AUTH_PENALTY_MAX_PENALTY), as
 * Dovecot's PENALTY-INC: checksum 0 sets it plainly (0 clears); a
 * checksum seen before keeps value - 1 and the old time stamp. */
void auth_penalty_update(struct auth_penalty *penalty, const char *ident,
			 unsigned int checksum, unsigned int value, time_t now);
/* Seconds to wait for a penalty: 0 for 0, else min(2 * 2^p, 15). */
unsigned int auth_penalty_to_secs(unsigned int penalty);
/* A non-zero checksum of user and password for auth_penalty_update(). */
unsigned int auth_penalty_checksum(const char *user, const void *password,
				   size_t len);
/* Addresses tracked (for tests). */
size_t auth_penalty_count(const struct auth_penalty *penalty);

#endif
