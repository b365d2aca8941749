/*
 * smtpd_policy - recipient and relay policy at RCPT time, as Postfix's
 * defaults decide it (permit_mynetworks, reject_unauth_destination,
 * reject_unlisted_recipient): our domains are mydestination (system
 * users), virtual_mailbox_domains (virtual_mailbox_maps) and relay_domains;
 * virtual_alias_maps rewrite recipients (several targets, catch-all
 * "@domain", recipient_delimiter). Anything else is relayed only for
 * trusted clients (mynetworks, local submission). Routing tricks (source
 * routes, '%', '!', quoted '@') from untrusted clients are refused. A map's
 * temporary failure is 451 4.3.0, never a 5xx.
 *
 * Lookups run on a worker thread (maps may query SQL; getpwnam_r may read
 * NSS); the job only reads the immutable tables built at start-up. The
 * recipient is untrusted and arrives parsed and bounded (address.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail/address.h"
#include "mail/mail_params.h"
#include "mail/map.h"
#include "mail/xtext.h"
#include "server/server.h"
#include "server/worker.h"
#include "smtpd.h"
#include "util/log.h"
#include "util/xmem.h"

#define POLICY_ALIAS_DEPTH 10
#define POLICY_MSG_RCPT_MAX 10000
#define POLICY_LIST_SEP ", \t\r\n"

struct policy_net {
	int family;
	unsigned char addr[16];
	unsigned int prefix;
};

/* A domain list: literal names and maps ("type:path" entries). */
struct policy_list {
	char **names;
	size_t n_names;
	struct map **maps;
	size_t n_maps;
};

static struct policy_net *policy_nets;
static size_t policy_n_nets;
static struct policy_list policy_mydestination, policy_virtual_domains,
    policy_relay_domains, policy_mailbox_maps, policy_alias_maps;

/* ---- start-up ---- */

static struct map *
policy_open_map(const char *param, const char *spec)
{
	const char *error;
	struct map *map = map_open(spec, MAP_FOLD_CASE, &error);

	if (map == NULL)
		log_fatal("smtpd: %s: %s", param, error);
	return map;
}

static void
policy_list_init(struct policy_list *list, const char *param, const char *value,
		 bool maps_only)
{
	char *copy = xstrdup(value), *save = NULL, *tok;

	for (tok = strtok_r(copy, POLICY_LIST_SEP, &save); tok != NULL;
	     tok = strtok_r(NULL, POLICY_LIST_SEP, &save)) {
		if (strchr(tok, ':') != NULL) {
			list->maps = xreallocarray(list->maps, list->n_maps + 1,
						   sizeof(*list->maps));
			list->maps[list->n_maps++] =
			    policy_open_map(param, tok);
		} else if (maps_only) {
			log_fatal("smtpd: %s: \"%s\" is not a map (type:name)",
				  param, tok);
		} else {
			list->names =
			    xreallocarray(list->names, list->n_names + 1,
					  sizeof(*list->names));
			for (char *p = tok; *p != '\0'; p++)
				*p = (char)tolower((unsigned char)*p);
			list->names[list->n_names++] = xstrdup(tok);
		}
	}
	free(copy);
}

static int
policy_parse_net(const char *spec, struct policy_net *net)
{
	char buf[128], *slash;
	size_t len;
	long prefix = -1;

	snprintf(buf, sizeof(buf), "%s", spec);
	slash = strrchr(buf, '/');
	if (slash != NULL) {
		char *end;

		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1)
			return -1;
	}
	len = strlen(buf);
	if (len >= 2 && buf[0] == '[' && buf[len - 1] == ']') {
		memmove(buf, buf + 1, len - 2);
		buf[len - 2] = '\0';
	}
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		if (prefix < 0)
			prefix = 32;
		if (prefix > 32)
			return -1;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		if (prefix < 0)
			prefix = 128;
		if (prefix > 128)
			return -1;
	} else {
		return -1;
	}
	net->prefix = (unsigned int)prefix;
	return 0;
}

void
smtpd_policy_init(void)
{
	char *copy = xstrdup(var_mynetworks), *save = NULL, *tok;

	for (tok = strtok_r(copy, POLICY_LIST_SEP, &save); tok != NULL;
	     tok = strtok_r(NULL, POLICY_LIST_SEP, &save)) {
		policy_nets = xreallocarray(policy_nets, policy_n_nets + 1,
					    sizeof(*policy_nets));
		if (policy_parse_net(tok, &policy_nets[policy_n_nets]) < 0)
			log_fatal("smtpd: mynetworks: bad network \"%s\" "
				  "(address[/prefix])",
				  tok);
		policy_n_nets++;
	}
	free(copy);
	policy_list_init(&policy_mydestination, "mydestination",
			 var_mydestination, false);
	policy_list_init(&policy_virtual_domains, "virtual_mailbox_domains",
			 var_virtual_mailbox_domains, false);
	policy_list_init(&policy_relay_domains, "relay_domains",
			 var_relay_domains, false);
	policy_list_init(&policy_mailbox_maps, "virtual_mailbox_maps",
			 var_virtual_mailbox_maps, true);
	policy_list_init(&policy_alias_maps, "virtual_alias_maps",
			 var_virtual_alias_maps, true);
}

bool
smtpd_policy_trusted_addr(const char *addr)
{
	unsigned char a[16];
	int family;

	if (inet_pton(AF_INET, addr, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1)
		family = AF_INET6;
	else
		return false;
	for (size_t i = 0; i < policy_n_nets; i++) {
		const struct policy_net *n = &policy_nets[i];
		unsigned int bits = n->prefix, k;

		if (n->family != family)
			continue;
		for (k = 0; bits >= 8; k++, bits -= 8)
			if (a[k] != n->addr[k])
				break;
		if (bits >= 8)
			continue;
		if (bits > 0 &&
		    ((a[k] ^ n->addr[k]) & (unsigned char)(0xff << (8 - bits))))
			continue;
		return true;
	}
	return false;
}

/* ---- lookups (worker thread) ---- */

/* MAP_FOUND with *value_r (allocated) from the first map that has key. */
static enum map_status
policy_maps_lookup(const struct policy_list *list, const char *key,
		   char **value_r)
{
	for (size_t i = 0; i < list->n_maps; i++) {
		struct map_result res;
		const char *error;
		enum map_status st =
		    map_lookup(list->maps[i], key, &res, &error);

		if (st == MAP_TEMPFAIL) {
			log_warning("smtpd: %s: lookup of \"%s\": %s",
				    map_spec(list->maps[i]), key, error);
			return MAP_TEMPFAIL;
		}
		if (st == MAP_FOUND) {
			if (value_r != NULL)
				*value_r = xstrdup(map_result_value(&res));
			map_result_free(&res);
			return MAP_FOUND;
		}
	}
	return MAP_NOTFOUND;
}

static enum map_status
policy_domain_in(const struct policy_list *list, const char *domain)
{
	for (size_t i = 0; i < list->n_names; i++)
		if (strcmp(list->names[i], domain) == 0)
			return MAP_FOUND;
	return policy_maps_lookup(list, domain, NULL);
}

struct policy_job {
	struct smtpd_client *client;
	struct address addr;
	char *given; /* as given, lower-cased domain: the lookup key */
	char *orcpt; /* "rfc822;..." or NULL */
	unsigned int notify;
	bool trusted;
	/* Results. */
	char reply[SMTPD_ADDR_MAX + 128];
	char **targets;
	size_t n_targets;
};

static void
policy_add_target(struct policy_job *j, const char *addr, size_t len)
{
	for (size_t i = 0; i < j->n_targets; i++)
		if (strlen(j->targets[i]) == len &&
		    memcmp(j->targets[i], addr, len) == 0)
			return;
	if (j->n_targets >= SMTPD_RCPT_EXPAND_MAX)
		return;
	j->targets =
	    xreallocarray(j->targets, j->n_targets + 1, sizeof(*j->targets));
	j->targets[j->n_targets++] = xstrndup(addr, len);
}

/*
 * Expands addr through virtual_alias_maps: keys "user+ext@domain",
 * "user@domain" (the extension is then carried over to the targets, as
 * Postfix's propagate_unmatched_extensions does), "@domain". Returns 1 if
 * some alias matched, 0 if none (addr itself is then the target), -1 on a
 * temporary failure.
 */
static int
policy_expand(struct policy_job *j, const char *addr, unsigned int depth)
{
	const char *at = strrchr(addr, '@'), *delims = var_recipient_delimiter;
	char *value = NULL, *key, *save = NULL, *tok, ext[256] = "";
	enum map_status st;
	size_t user_len;
	int ret = 1;

	if (policy_alias_maps.n_maps == 0 || depth > POLICY_ALIAS_DEPTH ||
	    at == NULL) {
		policy_add_target(j, addr, strlen(addr));
		return 0;
	}
	st = policy_maps_lookup(&policy_alias_maps, addr, &value);
	user_len = strcspn(addr, delims[0] != '\0' ? delims : "@");
	if (st == MAP_NOTFOUND && delims[0] != '\0' && addr + user_len < at &&
	    user_len > 0) {
		key = xasprintf("%.*s%s", (int)user_len, addr, at);
		st = policy_maps_lookup(&policy_alias_maps, key, &value);
		free(key);
		if (st == MAP_FOUND)
			snprintf(ext, sizeof(ext), "%.*s",
				 (int)(at - (addr + user_len)),
				 addr + user_len);
	}
	if (st == MAP_NOTFOUND)
		st = policy_maps_lookup(&policy_alias_maps, at, &value);
	if (st == MAP_TEMPFAIL)
		return -1;
	if (st == MAP_NOTFOUND) {
		policy_add_target(j, addr, strlen(addr));
		return 0;
	}
	for (tok = strtok_r(value, POLICY_LIST_SEP, &save);
	     tok != NULL && ret >= 0;
	     tok = strtok_r(NULL, POLICY_LIST_SEP, &save)) {
		const char *tat = strrchr(tok, '@');
		char *target;

		if (ext[0] != '\0' && tat != NULL)
			target = xasprintf("%.*s%s%s", (int)(tat - tok), tok,
					   ext, tat);
		else
			target = xstrdup(tok);
		for (char *p = strrchr(target, '@'); p != NULL && *p != '\0';
		     p++)
			*p = (char)tolower((unsigned char)*p);
		if (strcmp(target, addr) == 0) /* "a@x -> a@x, b@x" */
			policy_add_target(j, target, strlen(target));
		else if (policy_expand(j, target, depth + 1) < 0)
			ret = -1;
		free(target);
	}
	free(value);
	return ret;
}

static bool
policy_system_user(const char *local, size_t len)
{
	char name[256], buf[4096];
	struct passwd pw, *res = NULL;

	if (len == 0 || len >= sizeof(name))
		return false;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)local[i]);
	name[len] = '\0';
	return getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 &&
	       res != NULL;
}

/* "<code> <addr>: <text>", Postfix's layout for recipient replies. */
static void
policy_reply(struct policy_job *j, const char *code, const char *text)
{
	snprintf(j->reply, sizeof(j->reply), "%s <%s>: %s", code, j->given,
		 text);
}

static void
policy_run(void *job)
{
	struct policy_job *j = job;
	const char *domain = strrchr(j->given, '@') + 1;
	enum map_status local, virt, relay = MAP_NOTFOUND;
	size_t user_len = j->addr.local_len;
	const char *detail;
	int alias;

	local = policy_domain_in(&policy_mydestination, domain);
	virt = local == MAP_FOUND
		   ? MAP_NOTFOUND
		   : policy_domain_in(&policy_virtual_domains, domain);
	if (local == MAP_NOTFOUND && virt == MAP_NOTFOUND)
		relay = policy_domain_in(&policy_relay_domains, domain);
	if (local == MAP_TEMPFAIL || virt == MAP_TEMPFAIL ||
	    relay == MAP_TEMPFAIL) {
		policy_reply(j, "451 4.3.0", "Temporary lookup failure");
		return;
	}
	if (local != MAP_FOUND && virt != MAP_FOUND && relay != MAP_FOUND &&
	    !j->trusted) {
		policy_reply(j, "554 5.7.1", "Relay access denied");
		return;
	}
	alias = policy_expand(j, j->given, 0);
	if (alias < 0) {
		policy_reply(j, "451 4.3.0", "Temporary lookup failure");
		return;
	}
	if (alias > 0 || (local != MAP_FOUND && virt != MAP_FOUND))
		goto accept;
	if (address_split_detail(&j->addr, var_recipient_delimiter, &user_len,
				 &detail))
		(void)detail;
	if (local == MAP_FOUND) {
		if (policy_system_user(j->addr.local, user_len))
			goto accept;
		policy_reply(j, "550 5.1.1",
			     "Recipient address rejected: User unknown in "
			     "local recipient table");
		return;
	}
	{
		char *plain =
		    xasprintf("%.*s@%s", (int)user_len, j->addr.local, domain);
		enum map_status st =
		    policy_maps_lookup(&policy_mailbox_maps, j->given, NULL);

		if (st == MAP_NOTFOUND && strcmp(plain, j->given) != 0)
			st = policy_maps_lookup(&policy_mailbox_maps, plain,
						NULL);
		if (st == MAP_NOTFOUND)
			st = policy_maps_lookup(&policy_mailbox_maps,
						domain - 1, NULL);
		free(plain);
		if (st == MAP_TEMPFAIL) {
			policy_reply(j, "451 4.3.0",
				     "Temporary lookup failure");
			return;
		}
		if (st == MAP_NOTFOUND) {
			policy_reply(j, "550 5.1.1",
				     "Recipient address rejected: User unknown "
				     "in virtual mailbox table");
			return;
		}
	}
accept:
	snprintf(j->reply, sizeof(j->reply), "250 2.1.5 Ok");
}

static void
policy_job_free(struct policy_job *j)
{
	for (size_t i = 0; i < j->n_targets; i++)
		free(j->targets[i]);
	free(j->targets);
	free(j->given);
	free(j->orcpt);
	free(j);
}

static void
policy_log_reject(struct smtpd_client *c, const char *reply, const char *rcpt)
{
	log_info("NOQUEUE: reject: RCPT from %s: %s; from=<%s> to=<%s> "
		 "proto=%s helo=<%s>",
		 smtpd_client_label(c), reply,
		 c->sender != NULL ? c->sender : "", rcpt,
		 smtp_session_protocol(c->session),
		 smtp_session_helo(c->session));
}

static void
policy_done(void *job)
{
	struct policy_job *j = job;
	struct smtpd_client *c = j->client;

	if (j->reply[0] == '2' &&
	    c->rcpt_count + j->n_targets > POLICY_MSG_RCPT_MAX)
		snprintf(j->reply, sizeof(j->reply),
			 "452 4.5.3 Error: too many recipients");
	if (j->reply[0] != '2') {
		policy_log_reject(c, j->reply, j->given);
		smtp_session_reply(c->session, j->reply);
		policy_job_free(j);
		return;
	}
	for (size_t i = 0; i < j->n_targets; i++) {
		struct smtpd_rcpt *r;

		if (c->rcpt_count == c->rcpt_alloc) {
			c->rcpt_alloc =
			    c->rcpt_alloc == 0 ? 8 : c->rcpt_alloc * 2;
			c->rcpts = xreallocarray(c->rcpts, c->rcpt_alloc,
						 sizeof(*c->rcpts));
		}
		r = &c->rcpts[c->rcpt_count++];
		r->address = j->targets[i];
		j->targets[i] = NULL;
		r->orig_rcpt = xstrdup(j->given);
		r->orcpt = j->orcpt != NULL ? xstrdup(j->orcpt) : NULL;
		r->notify = j->notify;
	}
	if (c->rcpt_given++ == 0)
		c->first_rcpt = xstrdup(j->given);
	smtp_session_reply(c->session, j->reply);
	policy_job_free(j);
}

void
smtpd_policy_rcpt(struct smtpd_client *c, const struct smtp_command *cmd)
{
	struct policy_job *j = xcalloc(1, sizeof(*j));
	struct strbuf buf;
	char *at;

	j->client = c;
	j->addr = cmd->path;
	/* issue 5: permit_sasl_authenticated for relaying. */
	j->trusted = c->trusted || smtpd_sasl_user(c) != NULL;
	j->notify = cmd->params.notify;
	if ((cmd->params.present & SMTP_PARAM_ORCPT) != 0) {
		/* Kept as RFC 3461 gives it: "type;xtext". */
		struct strbuf orcpt;

		strbuf_init(&orcpt, SMTPD_ADDR_MAX);
		if (strbuf_printf(&orcpt, "%s;", cmd->params.orcpt_type) == 0 &&
		    xtext_encode(cmd->params.orcpt_addr,
				 strlen(cmd->params.orcpt_addr), &orcpt) == 0)
			j->orcpt = strbuf_steal(&orcpt);
		strbuf_release(&orcpt);
	}
	if (j->addr.domain_len == 0) {
		/* "RCPT TO:<postmaster>": Postfix appends $myorigin. */
		snprintf(j->addr.domain, sizeof(j->addr.domain), "%s",
			 var_myorigin);
		j->addr.domain_len = strlen(j->addr.domain);
		j->addr.flags &= ~(unsigned int)ADDRESS_FLAG_NO_DOMAIN;
	}
	strbuf_init(&buf, SMTPD_ADDR_MAX);
	if (address_format(&j->addr, &buf) < 0 ||
	    strbuf_cstr(&buf)[0] == '\0') {
		strbuf_release(&buf);
		policy_job_free(j);
		smtp_session_reply(c->session,
				   "501 5.1.3 Bad recipient address syntax");
		return;
	}
	j->given = strbuf_steal(&buf);
	strbuf_release(&buf);
	for (at = strrchr(j->given, '@'); *at != '\0'; at++)
		*at = (char)tolower((unsigned char)*at);
	if (!c->trusted && ((j->addr.flags & ADDRESS_FLAG_ROUTE) != 0 ||
			    address_has_routing_chars(&j->addr))) {
		policy_reply(j, "554 5.7.1", "Relay access denied");
		policy_log_reject(c, j->reply, j->given);
		smtp_session_reply(c->session, j->reply);
		policy_job_free(j);
		return;
	}
	worker_submit(server_workers(), policy_run, policy_done, j);
}
