/*
 * smtp_reuse - connection reuse for outbound SMTP, as Postfix's
 * connection cache: after a transaction a session is kept (no QUIT) when
 * qmgr has more mail for the destination (smtp_connection_cache_on_demand)
 * or the destination is listed (smtp_connection_cache_destinations), and
 * within smtp_connection_reuse_time_limit / _count_limit. The next
 * delivery takes it by next hop, else by server address, and probes it
 * with RSET first (as Postfix does); a dead one is dropped silently and a
 * fresh connection made. The store is smtp_cache.c. Worker thread: never
 * logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mail_params.h"
#include "smtp_cache.h"
#include "smtp_dane.h"
#include "smtp_session.h"
#include "util/xmem.h"

/* nexthop is in smtp_connection_cache_destinations (names or [host]:port,
 * compared without case and without "inet:"). */
static bool
smtp_cache_listed(const char *nexthop)
{
	const char *p = var_smtp_connection_cache_destinations;
	size_t nlen;

	if (strncmp(nexthop, "inet:", 5) == 0)
		nexthop += 5;
	nlen = strlen(nexthop);
	while (*p != '\0') {
		size_t len;

		p += strspn(p, ", \t\r\n");
		len = strcspn(p, ", \t\r\n");
		if (len == nlen && nlen > 0 &&
		    strncasecmp(p, nexthop, len) == 0)
			return true;
		p += len;
	}
	return false;
}

/* At the end of a transaction, the session is in step with the server:
 * keep it instead of QUIT? Only when qmgr has more mail for the
 * destination (smtp_connection_cache_on_demand) or the destination is
 * listed, the server is not closing (421) nor talking out of turn, and
 * the reuse limits allow. */
bool
smtp_session_cacheable(const struct smtp_session *s)
{
	const struct deliver_request *req = s->d->req;

	if (s->reply.code == 421 || smtp_io_input_pending(&s->io))
		return false;
	/* Logged in with SASL: the login belongs to this next hop's
	 * password entry; Postfix keys such connections by the login, we do
	 * not cache them at all. */
	if (s->sasl.authenticated)
		return false;
	if (!(var_smtp_connection_cache_on_demand && req->backlog) &&
	    !smtp_cache_listed(smtp_effective_nexthop(req)))
		return false;
	if (var_smtp_connection_reuse_count_limit > 0 &&
	    s->use_count >
		(unsigned long long)var_smtp_connection_reuse_count_limit)
		return false;
	return smtp_now_us() - s->first_use_us <
	       (uint64_t)var_smtp_connection_reuse_time_limit * 1000000;
}

/* The policy part of the cache keys. Under the dane levels a session is
 * only reused for the host it was made for and under the same DANE
 * decision (verified, mandatory, opportunistic): a plaintext session
 * cached while the host had no TLSA records must not carry mail once
 * its records say "verify". */
static int
smtp_reuse_policy(const struct smtp_session *s, enum smtp_tls_level level)
{
	int mode = 0;

	if ((level == SMTP_TLS_DANE || level == SMTP_TLS_DANE_ONLY) &&
	    s->t != NULL && s->t->dane != NULL)
		mode = 1 + (int)s->t->dane->mode;
	return (int)level * 8 + mode;
}

/* Moves the open connection of s into the cache (s->io is left closed). */
void
smtp_session_save(struct smtp_session *s, enum smtp_tls_level level)
{
	struct smtp_cache_conn *c = xcalloc(1, sizeof(*c));
	int policy = smtp_reuse_policy(s, level);

	c->dest_key =
	    smtp_cache_key_dest(policy, smtp_effective_nexthop(s->d->req));
	c->endp_key = smtp_cache_key_endp(policy, s->relay);
	memcpy(&c->io, &s->io, sizeof(c->io));
	snprintf(c->relay, sizeof(c->relay), "%s", s->relay);
	c->ehlo = s->ehlo;
	c->use_count = s->use_count;
	c->first_use_us = s->first_use_us;
	/* The cache owns the descriptor, TLS and buffer now. */
	s->io.fd = -1;
	s->io.ssl = NULL;
	memset(&s->io.wbuf, 0, sizeof(s->io.wbuf));
	s->cache = false;
	smtp_cache_put(c);
}

/* A cached session for the next hop (by_dest) or for the address of s->t
 * (s->relay): its state goes back into s and an RSET probes it (Postfix
 * does the same). 0: ready for MAIL; -1: none, or dead or refusing RSET
 * (closed silently: a fresh connection follows, no failure). */
int
smtp_session_cached(struct smtp_session *s, bool by_dest,
		    enum smtp_tls_level level)
{
	int policy = smtp_reuse_policy(s, level);
	char *key;
	struct smtp_cache_conn *c;
	int ret = -1;

	/* DANE decides per host: no reuse by next hop. */
	if (by_dest && (level == SMTP_TLS_DANE || level == SMTP_TLS_DANE_ONLY))
		return -1;
	key = by_dest ? smtp_cache_key_dest(policy,
					    smtp_effective_nexthop(s->d->req))
		      : smtp_cache_key_endp(policy, s->relay);

	while (ret < 0 && (c = by_dest ? smtp_cache_take(key, NULL)
				       : smtp_cache_take(NULL, key)) != NULL) {
		memcpy(&s->io, &c->io, sizeof(s->io));
		snprintf(s->relay, sizeof(s->relay), "%s", c->relay);
		s->io.peer = s->relay;
		s->ehlo = c->ehlo;
		s->use_count = c->use_count + 1;
		s->first_use_us = c->first_use_us;
		free(c->dest_key);
		free(c->endp_key);
		free(c);
		s->cache = false;
		s->io.timeout_ms = (unsigned int)var_smtp_rset_timeout * 1000;
		if (smtp_command(s, "RSET") == 0 && s->reply.code / 100 == 2) {
			ret = 0;
		} else {
			smtp_io_deinit(&s->io);
			s->io.fd = -1;
		}
	}
	free(key);
	return ret;
}
