/*
 * smtp_cache - the smtp agent's per-process connection cache (what
 * Postfix's scache does for its smtp clients): an SMTP session left open
 * after a delivery, found again by next-hop destination or by server
 * address for the next delivery. Shared by the worker threads (one mutex);
 * the entries are our own sessions, the servers behind them untrusted.
 */
#ifndef SMTP_CACHE_H
#define SMTP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/smtp_reply.h"
#include "smtp_io.h"

/* An open session between two deliveries. */
struct smtp_cache_conn {
	struct smtp_cache_conn *next;
	char *dest_key;	   /* smtp_cache_key_dest() of the next hop */
	char *endp_key;	   /* smtp_cache_key_endp() of the server */
	struct smtp_io io; /* io.peer points at relay */
	char relay[384];   /* "host[addr]:port" */
	struct smtp_ehlo ehlo;	/* announced after the (last) EHLO */
	unsigned int use_count; /* transactions done on the connection */
	uint64_t first_use_us;	/* when it was made (smtp_now_us) */
	uint64_t idle_since_us; /* when it was cached */
};

/* Keys (allocated): the TLS level is part of both, so a session is only
 * reused under the policy that made it. */
char *smtp_cache_key_dest(int tls_level, const char *nexthop);
/* relay: "host[addr]:port" of the server. */
char *smtp_cache_key_endp(int tls_level, const char *relay);

/* Stores c (owned from now on; its keys set). When the cache is full or
 * closed (shutdown), c is closed instead (QUIT). Any thread. */
void smtp_cache_put(struct smtp_cache_conn *c);
/* Takes the most recently cached session whose dest key (dest_key
 * non-NULL) or endpoint key equals the one given and that has not been
 * idle longer than smtp_connection_cache_time_limit; NULL when none.
 * The caller must probe it (RSET) before use. Any thread. */
struct smtp_cache_conn *smtp_cache_take(const char *dest_key,
					const char *endp_key);
/* Sends QUIT (short timeout, the reply is not judged), closes and frees
 * *cp. Blocks: worker thread, or the loop at shutdown. */
void smtp_cache_close(struct smtp_cache_conn **cp);
/* Loop: detaches the sessions idle longer than the time limit and hands
 * them to a worker job that closes them. */
void smtp_cache_expire(void);
/* Loop, at shutdown: sends QUIT on every cached session (without
 * waiting for the reply) and closes it; later puts close. */
void smtp_cache_shutdown(void);

#endif
