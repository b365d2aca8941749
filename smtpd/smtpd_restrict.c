/*
 * smtpd_restrict - the submission policy of smtpd: a small subset of
 * Postfix's restriction lists (smtpd_client_restrictions and
 * smtpd_sender_restrictions, applied at RCPT as with smtpd_delay_reject =
 * yes), smtpd_sender_login_maps (which SASL logins own which envelope and
 * From: addresses) and per-client and per-user message rate limits.
 *
 * Known restrictions: permit, reject, permit_mynetworks,
 * permit_sasl_authenticated, and for senders reject_sender_login_mismatch,
 * reject_authenticated_sender_login_mismatch,
 * reject_unauthenticated_sender_login_mismatch. Anything else is a fatal
 * configuration error (never silently ignored).
 *
 * Rate limits are counted per smtpd process in fixed windows of
 * anvil_rate_time_unit (Postfix's anvil counts across processes); the
 * tables hold at most RATE_ENTRIES_MAX keys and are cleared when full.
 * Addresses and logins are untrusted but already bounded. Map lookups run
 * in worker threads only.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/map.h"
#include "mail/mail_params.h"
#include "server/server.h"
#include "server/worker.h"
#include "smtpd.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/xmem.h"

#define RESTRICT_MAX 16
#define RATE_ENTRIES_MAX 10000

enum restriction {
	R_PERMIT,
	R_REJECT,
	R_PERMIT_MYNETWORKS,
	R_PERMIT_SASL,
	R_SENDER_LOGIN_MISMATCH,	/* both checks below */
	R_AUTH_SENDER_LOGIN_MISMATCH,	/* logged in: must own it */
	R_UNAUTH_SENDER_LOGIN_MISMATCH, /* not logged in: nobody owns it */
};

struct restriction_list {
	enum restriction r[RESTRICT_MAX];
	size_t count;
};

static struct restriction_list client_list, sender_list;
static struct map *sender_login_map;
static struct hash_table *client_rates, *user_rates;

struct rate_entry {
	time_t start;
	long long count;
};

static void
restrict_parse(struct restriction_list *list, const char *name,
	       const char *value, bool sender)
{
	static const struct {
		const char *name;
		enum restriction r;
		bool sender_only;
	} known[] = {
	    {"permit", R_PERMIT, false},
	    {"reject", R_REJECT, false},
	    {"permit_mynetworks", R_PERMIT_MYNETWORKS, false},
	    {"permit_sasl_authenticated", R_PERMIT_SASL, false},
	    {"reject_sender_login_mismatch", R_SENDER_LOGIN_MISMATCH, true},
	    {"reject_authenticated_sender_login_mismatch",
	     R_AUTH_SENDER_LOGIN_MISMATCH, true},
	    {"reject_unauthenticated_sender_login_mismatch",
	     R_UNAUTH_SENDER_LOGIN_MISMATCH, true},
	};
	const char *p = value;

	list->count = 0;
	while (*p != '\0') {
		size_t n, i;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 0)
			break;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strlen(known[i].name) == n &&
			    strncmp(known[i].name, p, n) == 0 &&
			    (sender || !known[i].sender_only))
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			log_fatal("smtpd: %s: unsupported restriction "
				  "\"%.*s\"",
				  name, (int)n, p);
		if (list->count == RESTRICT_MAX)
			log_fatal("smtpd: %s: more than %d restrictions", name,
				  RESTRICT_MAX);
		if (known[i].sender_only &&
		    var_smtpd_sender_login_maps[0] == '\0')
			log_fatal("smtpd: %s: %s needs smtpd_sender_login_maps",
				  name, known[i].name);
		list->r[list->count++] = known[i].r;
		p += n;
	}
}

void
smtpd_restrict_init(void)
{
	const char *error;

	restrict_parse(&client_list, "smtpd_client_restrictions",
		       var_smtpd_client_restrictions, false);
	restrict_parse(&sender_list, "smtpd_sender_restrictions",
		       var_smtpd_sender_restrictions, true);
	if (var_smtpd_sender_login_maps[0] != '\0') {
		sender_login_map = map_open(var_smtpd_sender_login_maps,
					    MAP_FOLD_CASE, &error);
		if (sender_login_map == NULL)
			log_fatal("smtpd: smtpd_sender_login_maps: %s", error);
	}
	client_rates = hash_create();
	user_rates = hash_create();
}

/* ---- rate limits ---- */

/* Counts one message for key; true if over limit. */
static bool
rate_count(struct hash_table **table, const char *key, long long limit)
{
	struct rate_entry *e;
	time_t now = time(NULL);

	if (hash_count(*table) >= RATE_ENTRIES_MAX &&
	    hash_lookup(*table, key) == NULL) {
		hash_destroy(table, free);
		*table = hash_create();
	}
	e = hash_lookup(*table, key);
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->start = now;
		(void)hash_insert(*table, key, e);
	}
	if (now - e->start >= var_anvil_rate_time_unit) {
		e->start = now;
		e->count = 0;
	}
	e->count++;
	return e->count > limit;
}

const char *
smtpd_restrict_mail_rate(struct smtpd_client *c)
{
	static char reply[400];
	const char *user = smtpd_sasl_user(c);

	if (c->local)
		return NULL;
	/* Postfix exempts smtpd_client_event_limit_exceptions
	 * ($mynetworks) from the client limit. */
	if (var_smtpd_client_message_rate_limit > 0 && !c->trusted &&
	    rate_count(&client_rates, c->addr,
		       var_smtpd_client_message_rate_limit)) {
		log_warning("Message delivery request rate limit exceeded: "
			    "%lld from %s for service %s",
			    var_smtpd_client_message_rate_limit + 1,
			    smtpd_client_label(c), server_service_name());
		snprintf(reply, sizeof(reply),
			 "450 4.7.1 Error: too much mail from %s", c->addr);
		return reply;
	}
	if (var_smtpd_user_message_rate_limit > 0 && user != NULL &&
	    rate_count(&user_rates, user, var_smtpd_user_message_rate_limit)) {
		log_warning("Message delivery request rate limit exceeded: "
			    "%lld from user %.100s at %s for service %s",
			    var_smtpd_user_message_rate_limit + 1, user,
			    smtpd_client_label(c), server_service_name());
		snprintf(reply, sizeof(reply),
			 "450 4.7.1 Error: too much mail from user %.100s",
			 user);
		return reply;
	}
	return NULL;
}

/* ---- sender login maps ---- */

/* Worker: the owners of addr (address, then "@domain"); NULL if none. */
static int
restrict_owners(const char *addr, char **owners_r)
{
	struct map_result res;
	const char *error, *at = strrchr(addr, '@');
	enum map_status st;

	*owners_r = NULL;
	st = map_lookup(sender_login_map, addr, &res, &error);
	if (st == MAP_NOTFOUND && at != NULL && at != addr)
		st = map_lookup(sender_login_map, at, &res, &error);
	if (st == MAP_TEMPFAIL) {
		log_warning("smtpd_sender_login_maps: %s: %s",
			    map_spec(sender_login_map), error);
		return -1;
	}
	if (st == MAP_FOUND) {
		*owners_r = xstrdup(map_result_value(&res));
		map_result_free(&res);
	}
	return 0;
}

/* login is in the owner list ("a@x, b@x" or "a b"), case-insensitively. */
static bool
restrict_owner_match(const char *owners, const char *login)
{
	size_t len = strlen(login);
	const char *p = owners;

	while (*p != '\0') {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == len && strncasecmp(p, login, n) == 0)
			return true;
		p += n;
	}
	return false;
}

int
smtpd_restrict_owned(const char *login, const char *addr)
{
	char *owners;
	bool ok;

	if (restrict_owners(addr, &owners) < 0)
		return -1;
	ok = owners != NULL && restrict_owner_match(owners, login);
	free(owners);
	return ok ? 0 : 1;
}

struct owner_job {
	struct smtpd_client *client;
	char *sender;
	char *owners;
	int ret;
};

static void
owner_run(void *job)
{
	struct owner_job *j = job;

	j->ret = restrict_owners(j->sender, &j->owners);
}

static void
owner_done(void *job)
{
	struct owner_job *j = job;
	struct smtpd_client *c = j->client;

	c->sender_owners = j->owners;
	c->sender_lookup_failed = j->ret < 0;
	free(j->sender);
	free(j);
	smtp_session_reply(c->session, "250 2.1.0 Ok");
}

void
smtpd_restrict_mail(struct smtpd_client *c)
{
	struct owner_job *j;

	xfree(&c->sender_owners);
	c->sender_lookup_failed = false;
	if (sender_login_map == NULL || c->sender[0] == '\0') {
		smtp_session_reply(c->session, "250 2.1.0 Ok");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->client = c;
	j->sender = xstrdup(c->sender);
	worker_submit(server_workers(), owner_run, owner_done, j);
}

bool
smtpd_restrict_check_from(const struct smtpd_client *c)
{
	if (sender_login_map == NULL || smtpd_sasl_user(c) == NULL)
		return false;
	for (size_t i = 0; i < sender_list.count; i++)
		if (sender_list.r[i] == R_SENDER_LOGIN_MISMATCH ||
		    sender_list.r[i] == R_AUTH_SENDER_LOGIN_MISMATCH)
			return true;
	return false;
}

/* ---- RCPT ---- */

/* 1 permit, -1 reject (reply set), 0 go on. */
static int
restrict_one(struct smtpd_client *c, enum restriction r, bool sender,
	     char *reply, size_t size)
{
	const char *user = smtpd_sasl_user(c);
	bool mismatch_auth =
	    r == R_SENDER_LOGIN_MISMATCH || r == R_AUTH_SENDER_LOGIN_MISMATCH;
	bool mismatch_unauth =
	    r == R_SENDER_LOGIN_MISMATCH || r == R_UNAUTH_SENDER_LOGIN_MISMATCH;

	switch (r) {
	case R_PERMIT:
		return 1;
	case R_PERMIT_MYNETWORKS:
		return c->trusted && !c->local ? 1 : 0;
	case R_PERMIT_SASL:
		return user != NULL ? 1 : 0;
	case R_REJECT:
		if (sender)
			snprintf(reply, size,
				 "554 5.7.1 <%.1000s>: Sender address "
				 "rejected: Access denied",
				 c->sender);
		else
			snprintf(reply, size,
				 "554 5.7.1 <%s>: Client host rejected: "
				 "Access denied",
				 smtpd_client_label(c));
		return -1;
	default:
		break;
	}
	if (c->sender[0] == '\0')
		return 0;
	if (c->sender_lookup_failed) {
		snprintf(reply, size,
			 "451 4.3.0 <%.1000s>: Temporary lookup failure",
			 c->sender);
		return -1;
	}
	if (mismatch_auth && user != NULL &&
	    (c->sender_owners == NULL ||
	     !restrict_owner_match(c->sender_owners, user))) {
		snprintf(reply, size,
			 "553 5.7.1 <%.1000s>: Sender address rejected: not "
			 "owned by user %.300s",
			 c->sender, user);
		return -1;
	}
	if (mismatch_unauth && user == NULL && c->sender_owners != NULL) {
		snprintf(reply, size,
			 "553 5.7.1 <%.1000s>: Sender address rejected: not "
			 "logged in",
			 c->sender);
		return -1;
	}
	return 0;
}

const char *
smtpd_restrict_rcpt(struct smtpd_client *c)
{
	static char reply[1500];
	const struct restriction_list *lists[2] = {&client_list, &sender_list};

	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l]->count; i++) {
			int ret = restrict_one(c, lists[l]->r[i], l == 1, reply,
					       sizeof(reply));

			if (ret > 0)
				break;
			if (ret < 0)
				return reply;
		}
	}
	return NULL;
}
