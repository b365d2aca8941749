/*
 * smtpd_sasl - SMTP AUTH (RFC 4954) for smtpd through the auth daemon
 * (Dovecot's auth protocol, lib/mail/auth_client.h), as Postfix does with
 * smtpd_sasl_type = dovecot: the engine reads the client's lines, this
 * file relays them to the auth daemon and turns its answers into
 * Postfix's replies and log lines. The failure line is Postfix's word for
 * word ("warning: name[addr]: SASL LOGIN authentication failed: reason,
 * sasl_username=user") so that fail2ban's postfix-sasl filter matches.
 *
 * The client's data is untrusted: the engine bounds it and checks its
 * base64 alphabet; the auth daemon decodes and judges it. No password is
 * ever logged. Must not block: the auth client is asynchronous.
 */
#include <stdio.h>
#include <string.h>

#include "mail/auth_client.h"
#include "mail/mail_params.h"
#include "server/server.h"
#include "smtpd.h"
#include "util/event.h"
#include "util/log.h"
#include "util/xmem.h"

/* What EHLO offers. The auth client does not expose the daemon's MECH
 * list, so these are the two mechanisms every Dovecot-protocol server
 * has; any other name is refused as Postfix refuses a mechanism the
 * server did not announce. */
#define SMTPD_SASL_MECHANISMS "PLAIN LOGIN"
/* How long the auth daemon may take to answer one step (it has its own
 * failure delay of a few seconds; the auth client has no timeout). */
#define SMTPD_SASL_TIMEOUT_MS 60000

static struct auth_client *sasl_client;
static char *sasl_path;

void
smtpd_sasl_init(void)
{
	if (!var_smtpd_sasl_auth_enable)
		return;
	if (strcmp(var_smtpd_sasl_type, "dovecot") != 0)
		log_fatal("smtpd: smtpd_sasl_type = %s: only \"dovecot\" is "
			  "supported",
			  var_smtpd_sasl_type);
	if (var_smtpd_sasl_path[0] == '\0')
		log_fatal("smtpd: smtpd_sasl_auth_enable = yes needs "
			  "smtpd_sasl_path");
	/* Relative to queue_directory, as Postfix resolves private/auth. */
	sasl_path =
	    var_smtpd_sasl_path[0] == '/'
		? xstrdup(var_smtpd_sasl_path)
		: xasprintf("%s/%s", var_queue_directory, var_smtpd_sasl_path);
	smtpd_settings.auth_mechanisms = SMTPD_SASL_MECHANISMS;
	smtpd_settings.auth_tls_only = var_smtpd_tls_auth_only;
	smtpd_settings.auth_broken_clients = var_broken_sasl_auth_clients;
}

const char *
smtpd_sasl_user(const struct smtpd_client *c)
{
	return c->session == NULL ? NULL : smtp_session_auth_user(c->session);
}

static bool
sasl_mech_offered(const char *mech)
{
	const char *p = SMTPD_SASL_MECHANISMS;
	size_t len = strlen(mech);

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == len && strncmp(p, mech, n) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

/* Postfix's warning and 535 (or 454 for a temporary failure). */
static void
sasl_fail(struct smtpd_client *c, bool temp, const char *reason,
	  const char *user)
{
	char reply[600];

	if (reason == NULL || reason[0] == '\0')
		reason = temp ? "Connection lost to authentication server"
			      : "(reason unavailable)";
	log_warning("%s: SASL %s authentication failed: %.300s, "
		    "sasl_username=%.100s",
		    smtpd_client_label(c), c->sasl_mech, reason,
		    user != NULL && user[0] != '\0' ? user : "(unavailable)");
	if (temp)
		snprintf(reply, sizeof(reply),
			 "454 4.7.0 Temporary authentication failure: %.300s",
			 reason);
	else
		snprintf(reply, sizeof(reply),
			 "535 5.7.8 Error: authentication failed: %.300s",
			 reason);
	smtp_session_auth_done(c->session, reply, NULL);
}

/* Strips control characters from text from the auth daemon before it
 * reaches the client or the log. */
static const char *
sasl_clean(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (s == NULL)
		return NULL;
	for (; *s != '\0' && o + 1 < size; s++)
		buf[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	buf[o] = '\0';
	return buf;
}

static void
sasl_timeout(void *ctx)
{
	struct smtpd_client *c = ctx;

	event_timer_del(&c->sasl_timer); /* safe in its own callback */
	if (c->sasl_req != NULL)
		auth_client_abort(&c->sasl_req);
	sasl_fail(c, true, "timeout waiting for the authentication server",
		  NULL);
}

static void
sasl_wait(struct smtpd_client *c)
{
	event_timer_del(&c->sasl_timer);
	c->sasl_timer = event_timer_add(server_loop(), SMTPD_SASL_TIMEOUT_MS,
					false, sasl_timeout, c);
}

static void
sasl_reply(const struct auth_client_reply *reply, void *ctx)
{
	struct smtpd_client *c = ctx;
	char reason[320], user[320];

	event_timer_del(&c->sasl_timer);

	switch (reply->status) {
	case AUTH_CLIENT_CONTINUE:
		smtp_session_auth_challenge(c->session, reply->challenge);
		return;
	case AUTH_CLIENT_OK:
		c->sasl_req = NULL;
		if (reply->final_response != NULL) {
			/* No mechanism we offer has a final server message;
			 * one would need a last 334 round (RFC 4954 4). */
			sasl_fail(c, true, "unexpected final response", NULL);
			return;
		}
		snprintf(c->sasl_method, sizeof(c->sasl_method), "%s",
			 c->sasl_mech);
		(void)sasl_clean(reply->user != NULL ? reply->user : "", user,
				 sizeof(user));
		if (user[0] == '\0') {
			sasl_fail(c, true, "no user name from the server",
				  NULL);
			return;
		}
		smtp_session_auth_done(
		    c->session, "235 2.7.0 Authentication successful", user);
		return;
	case AUTH_CLIENT_FAIL:
	case AUTH_CLIENT_TEMPFAIL:
		c->sasl_req = NULL;
		sasl_fail(c, reply->status == AUTH_CLIENT_TEMPFAIL,
			  sasl_clean(reply->reason, reason, sizeof(reason)),
			  sasl_clean(reply->user, user, sizeof(user)));
		return;
	}
}

void
smtpd_sasl_auth(struct smtp_session *s, const char *mech, const char *initial,
		void *ctx)
{
	struct smtpd_client *c = ctx;
	struct auth_client_info info;

	(void)s;
	snprintf(c->sasl_mech, sizeof(c->sasl_mech), "%s", mech);
	if (!sasl_mech_offered(mech)) {
		/* fail2ban's filter skips this reason on purpose. */
		sasl_fail(c, false, "Invalid authentication mechanism", NULL);
		return;
	}
	if (sasl_client == NULL)
		sasl_client = auth_client_new(server_loop(), sasl_path);
	memset(&info, 0, sizeof(info));
	info.mech = c->sasl_mech;
	info.service = "smtp";
	info.remote_ip = strcmp(c->addr, "unknown") == 0 ? NULL : c->addr;
	info.secured = smtp_session_is_tls(c->session);
	info.initial_response = initial;
	sasl_wait(c);
	c->sasl_req = auth_client_begin(sasl_client, &info, sasl_reply, c);
}

void
smtpd_sasl_response(struct smtp_session *s, const char *response, void *ctx)
{
	struct smtpd_client *c = ctx;

	(void)s;
	if (c->sasl_req == NULL) {
		sasl_fail(c, true, NULL, NULL);
		return;
	}
	sasl_wait(c);
	auth_client_continue(c->sasl_req, response);
}

void
smtpd_sasl_abort(struct smtp_session *s, void *ctx)
{
	struct smtpd_client *c = ctx;

	(void)s;
	event_timer_del(&c->sasl_timer);
	if (c->sasl_req != NULL)
		auth_client_abort(&c->sasl_req);
}
