/*
 * smtp_cache - the per-process cache of open SMTP sessions between
 * deliveries (see smtp_cache.h). One mutex guards the list; the blocking
 * work (QUIT) runs outside it, on a worker thread or at shutdown. The
 * cache holds at most SMTP_CACHE_MAX sessions, each at most
 * smtp_connection_cache_time_limit idle. Entries are our own state; the
 * servers' replies to QUIT are read through smtp_io's limits and ignored.
 * Never logs from worker threads (nothing here logs at all).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail_params.h"
#include "mail/smtp_reply.h"
#include "server/server.h"
#include "server/worker.h"
#include "smtp.h"
#include "smtp_cache.h"
#include "util/xmem.h"

#define SMTP_CACHE_MAX 100
/* QUIT to a cached session: the server owes us nothing more, so do not
 * wait for it long (Postfix closes cached sessions the same way). */
#define SMTP_CACHE_QUIT_TIMEOUT_MS 2000

static pthread_mutex_t smtp_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smtp_cache_conn *smtp_cache_head;
static unsigned int smtp_cache_count;
static bool smtp_cache_closed;

char *
smtp_cache_key_dest(int tls_level, const char *nexthop)
{
	return xasprintf("%d\tdest\t%s", tls_level, nexthop);
}

char *
smtp_cache_key_endp(int tls_level, const char *relay)
{
	return xasprintf("%d\tendp\t%s", tls_level, relay);
}

static bool
smtp_cache_stale(const struct smtp_cache_conn *c, uint64_t now)
{
	return now - c->idle_since_us >
	       (uint64_t)var_smtp_connection_cache_time_limit * 1000000;
}

/* QUIT; wait_reply: read the 221 (else just send: shutdown, where
 * many sessions must not hold the loop). */
static void
smtp_cache_quit(struct smtp_cache_conn **cp, bool wait_reply)
{
	struct smtp_cache_conn *c = *cp;
	struct smtp_reply reply;

	if (c == NULL)
		return;
	*cp = NULL;
	c->io.peer = c->relay;
	c->io.timeout_ms = wait_reply ? SMTP_CACHE_QUIT_TIMEOUT_MS : 200;
	(void)strbuf_append_str(&c->io.wbuf, "QUIT\r\n");
	smtp_reply_init(&reply, NULL);
	if (smtp_io_flush(&c->io) == 0 && wait_reply)
		(void)smtp_io_read_reply(&c->io, &reply);
	smtp_reply_deinit(&reply);
	smtp_io_deinit(&c->io);
	free(c->dest_key);
	free(c->endp_key);
	free(c);
}

void
smtp_cache_close(struct smtp_cache_conn **cp)
{
	smtp_cache_quit(cp, true);
}

void
smtp_cache_put(struct smtp_cache_conn *c)
{
	bool stored = false;

	c->idle_since_us = smtp_now_us();
	c->io.peer = c->relay;
	pthread_mutex_lock(&smtp_cache_lock);
	if (!smtp_cache_closed && smtp_cache_count < SMTP_CACHE_MAX) {
		c->next = smtp_cache_head;
		smtp_cache_head = c;
		smtp_cache_count++;
		stored = true;
	}
	pthread_mutex_unlock(&smtp_cache_lock);
	if (!stored)
		smtp_cache_close(&c);
}

struct smtp_cache_conn *
smtp_cache_take(const char *dest_key, const char *endp_key)
{
	struct smtp_cache_conn **pp, *c = NULL;
	uint64_t now = smtp_now_us();

	pthread_mutex_lock(&smtp_cache_lock);
	/* The list is newest first: the first match is the most recent. */
	for (pp = &smtp_cache_head; *pp != NULL; pp = &(*pp)->next) {
		const char *key =
		    dest_key != NULL ? (*pp)->dest_key : (*pp)->endp_key;
		const char *want = dest_key != NULL ? dest_key : endp_key;

		if (want == NULL || key == NULL || strcmp(key, want) != 0 ||
		    smtp_cache_stale(*pp, now))
			continue;
		c = *pp;
		*pp = c->next;
		c->next = NULL;
		smtp_cache_count--;
		break;
	}
	pthread_mutex_unlock(&smtp_cache_lock);
	return c;
}

/* Detaches the entries that are stale (all: every entry). */
static struct smtp_cache_conn *
smtp_cache_detach(bool all)
{
	struct smtp_cache_conn **pp = &smtp_cache_head, *list = NULL;
	uint64_t now = smtp_now_us();

	pthread_mutex_lock(&smtp_cache_lock);
	while (*pp != NULL) {
		struct smtp_cache_conn *c = *pp;

		if (!all && !smtp_cache_stale(c, now)) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = list;
		list = c;
		smtp_cache_count--;
	}
	if (all)
		smtp_cache_closed = true;
	pthread_mutex_unlock(&smtp_cache_lock);
	return list;
}

static void
smtp_cache_close_list(void *job)
{
	struct smtp_cache_conn *c = job;

	while (c != NULL) {
		struct smtp_cache_conn *next = c->next;

		smtp_cache_close(&c);
		c = next;
	}
}

void
smtp_cache_expire(void)
{
	struct smtp_cache_conn *list = smtp_cache_detach(false);

	if (list != NULL)
		worker_submit(server_workers(), smtp_cache_close_list, NULL,
			      list);
}

void
smtp_cache_shutdown(void)
{
	struct smtp_cache_conn *c = smtp_cache_detach(true);

	while (c != NULL) {
		struct smtp_cache_conn *next = c->next;

		smtp_cache_quit(&c, false);
		c = next;
	}
}
