/*
 * auth_request - one SASL authentication from AUTH to OK/FAIL, as
 * Dovecot's auth-request-handler does it: cleartext policy, the penalty
 * wait for the remote address, mechanism rounds, the passdb verification
 * in the worker pool, and failures answered only after auth_failure_delay
 * counted from the start of the verification, so an unknown user and a
 * wrong password get the same reply at the same time. Input: parsed
 * client commands (untrusted); waits are event timers, never sleeps. Must
 * not log passwords; log lines read "auth: passdb(user,rip): reason" so
 * fail2ban's stock dovecot filter matches them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "auth_penalty.h"
#include "mail/auth_proto.h"
#include "server/server.h"
#include "util/base64.h"
#include "util/event.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Dovecot's AUTH_REQUEST_TIMEOUT: a client that stops in the middle of a
 * mechanism is forgotten after this. */
#define AUTH_REQUEST_TIMEOUT_MS ((3 * 60 + 30) * 1000)
#define AUTH_PENALTY_MAX_ADDRESSES 65536
#define AUTH_REPLY_MAX 4096

static struct auth_penalty *auth_penalty;

void
auth_request_init(void)
{
	auth_penalty = auth_penalty_new(AUTH_PENALTY_MAX_ADDRESSES);
}

void
auth_request_deinit(void)
{
	auth_penalty_free(&auth_penalty);
}

static unsigned long long
auth_now_ms(void)
{
	return event_loop_now_ms(server_loop());
}

static void
auth_request_free(struct auth_request *req)
{
	if (req->conn != NULL)
		auth_client_conn_request_done(req->conn, req);
	event_timer_del(&req->timer);
	if (req->initial != NULL) {
		xmem_wipe(req->initial, req->initial_len);
		xfree(&req->initial);
	}
	xfree(&req->service);
	xfree(&req->rip);
	xfree(&req->lip);
	xfree(&req->mech_user);
	xfree(&req->user);
	xfree(&req->fail_line);
	if (req->mech_data != NULL && req->mech_data_free != NULL)
		req->mech_data_free(req->mech_data);
	xfree(&req);
}

struct auth_request *
auth_request_new(struct auth_client_conn *conn,
		 const struct auth_proto_auth *auth,
		 const struct auth_mech *mech)
{
	struct auth_request *req = xcalloc(1, sizeof(*req));

	req->conn = conn;
	req->id = auth->id;
	req->mech = mech;
	req->service = xstrdup(auth->service);
	req->rip = auth->rip != NULL ? xstrdup(auth->rip) : NULL;
	req->lip = auth->lip != NULL ? xstrdup(auth->lip) : NULL;
	req->secured = auth->secured;
	req->no_penalty = auth->no_penalty;
	return req;
}

void
auth_request_abort(struct auth_request *req)
{
	req->conn = NULL;
	if (!req->in_worker)
		auth_request_free(req);
}

/* "auth: plain(alice,192.0.2.1): " with peer text made harmless. */
static const char *
auth_request_log_prefix(struct auth_request *req, const char *source, char *buf,
			size_t size)
{
	char user[80], rip[80];

	auth_log_str(req->user != NULL	      ? req->user
		     : req->mech_user != NULL ? req->mech_user
					      : "?",
		     user, sizeof(user));
	if (req->rip != NULL) {
		auth_log_str(req->rip, rip, sizeof(rip));
		snprintf(buf, size, "auth: %s(%s,%s): ", source, user, rip);
	} else {
		snprintf(buf, size, "auth: %s(%s): ", source, user);
	}
	return buf;
}

static void
auth_request_send(struct auth_request *req, struct strbuf *line)
{
	if (req->conn != NULL)
		auth_client_conn_send(req->conn, line);
}

/* A protocol-level failure: answered at once, the request ends. */
static void
auth_request_fail_now(struct auth_request *req, const char *reason)
{
	struct strbuf line;

	strbuf_init(&line, AUTH_REPLY_MAX);
	if (strbuf_printf(&line, "FAIL\t%u", req->id) == 0 &&
	    auth_proto_add_field(&line, "reason", reason) == 0)
		auth_request_send(req, &line);
	strbuf_release(&line);
	if (req->in_worker) {
		/* The job still holds req: detach it from the client; the
		 * job's callback frees it. */
		if (req->conn != NULL)
			auth_client_conn_request_done(req->conn, req);
		req->conn = NULL;
		return;
	}
	auth_request_free(req);
}

static const char *
auth_request_penalty_ident(struct auth_request *req, char *buf, size_t size)
{
	if (req->no_penalty)
		return NULL;
	return auth_penalty_ident(req->rip, buf, size);
}

static void
auth_request_delayed_fail(void *ctx)
{
	struct auth_request *req = ctx;
	struct strbuf line;

	strbuf_init(&line, AUTH_REPLY_MAX);
	if (strbuf_append_str(&line, req->fail_line) == 0)
		auth_request_send(req, &line);
	strbuf_release(&line);
	auth_request_free(req);
}

/* Every authentication failure ends here: raise the penalty, then answer
 * auth_failure_delay after the verification began. */
static void
auth_request_finish_failure(struct auth_request *req, bool temp)
{
	struct strbuf line;
	char ident_buf[64];
	const char *ident =
	    auth_request_penalty_ident(req, ident_buf, sizeof(ident_buf));
	unsigned long long now = auth_now_ms(), due;

	if (ident != NULL && !temp)
		auth_penalty_update(auth_penalty, ident, req->checksum,
				    req->last_penalty + 1, time(NULL));
	strbuf_init(&line, AUTH_REPLY_MAX);
	if (strbuf_printf(&line, "FAIL\t%u", req->id) < 0 ||
	    (req->user != NULL &&
	     auth_proto_add_field(&line, "user", req->user) < 0) ||
	    (temp && auth_proto_add_field(&line, "temp", NULL) < 0)) {
		strbuf_reset(&line);
		(void)strbuf_printf(&line, "FAIL\t%u", req->id);
	}
	req->fail_line = strbuf_steal(&line);
	req->accept_cont = false;
	event_timer_del(&req->timer);
	due = (req->verify_start_ms != 0 ? req->verify_start_ms : now) +
	      auth_set.failure_delay_ms;
	req->timer = event_timer_add(server_loop(),
				     due > now ? (unsigned int)(due - now) : 0,
				     false, auth_request_delayed_fail, req);
}

void
auth_request_fail(struct auth_request *req, const char *reason)
{
	char prefix[256], mech[32];
	size_t i;

	for (i = 0; req->mech->name[i] != '\0' && i + 1 < sizeof(mech); i++)
		mech[i] = (char)(req->mech->name[i] | 0x20);
	mech[i] = '\0';
	log_info("%s%s",
		 auth_request_log_prefix(req, mech, prefix, sizeof(prefix)),
		 reason);
	auth_request_finish_failure(req, false);
}

static void
auth_request_cont_timeout(void *ctx)
{
	struct auth_request *req = ctx;

	if (auth_set.verbose)
		log_info("auth: request %u timed out waiting for the client "
			 "to continue authentication",
			 req->id);
	auth_request_free(req);
}

void
auth_request_challenge(struct auth_request *req, const void *data, size_t len)
{
	struct strbuf line;

	strbuf_init(&line, AUTH_PROTO_MAX_LINE);
	if (strbuf_printf(&line, "CONT\t%u\t", req->id) < 0 ||
	    base64_encode(data, len, &line) < 0) {
		strbuf_release(&line);
		auth_request_fail_now(req, "challenge too long");
		return;
	}
	req->accept_cont = true;
	event_timer_del(&req->timer);
	req->timer = event_timer_add(server_loop(), AUTH_REQUEST_TIMEOUT_MS,
				     false, auth_request_cont_timeout, req);
	auth_request_send(req, &line);
	strbuf_release(&line);
}

void
auth_request_success(struct auth_request *req, const char *passdb_name,
		     const void *data, size_t len)
{
	char prefix[256], ident_buf[64];
	const char *ident;
	struct strbuf line;

	ident = auth_request_penalty_ident(req, ident_buf, sizeof(ident_buf));
	if (ident != NULL && req->last_penalty > 0)
		auth_penalty_update(auth_penalty, ident, 0, 0, time(NULL));
	if (auth_set.verbose)
		log_info("%sauthenticated (%s, service=%s)",
			 auth_request_log_prefix(req, passdb_name, prefix,
						 sizeof(prefix)),
			 req->mech->name, req->service);
	strbuf_init(&line, AUTH_REPLY_MAX);
	if (strbuf_printf(&line, "OK\t%u", req->id) == 0 &&
	    auth_proto_add_field(&line, "user", req->user) == 0 &&
	    (data == NULL || (strbuf_append_str(&line, "\tresp=") == 0 &&
			      base64_encode(data, len, &line) == 0)))
		auth_request_send(req, &line);
	strbuf_release(&line);
	auth_request_free(req);
}

void
auth_request_fail_result(struct auth_request *req, enum passdb_result result,
			 const char *passdb_name, const char *error)
{
	char prefix[256];

	auth_request_log_prefix(req, passdb_name, prefix, sizeof(prefix));
	switch (result) {
	case PASSDB_OK:
	case PASSDB_MISMATCH:
		log_info("%s%s", prefix,
			 error != NULL ? error : "Password mismatch");
		break;
	case PASSDB_UNKNOWN:
		log_info("%sunknown user", prefix);
		break;
	case PASSDB_TEMPFAIL:
		log_error("%s%s", prefix,
			  error != NULL ? error : "temporary failure");
		break;
	}
	auth_request_finish_failure(req, result == PASSDB_TEMPFAIL);
}

void
auth_request_worker_begin(struct auth_request *req)
{
	req->accept_cont = false;
	event_timer_del(&req->timer);
	if (req->verify_start_ms == 0)
		req->verify_start_ms = auth_now_ms();
	req->in_worker = true;
}

bool
auth_request_worker_end(struct auth_request *req)
{
	req->in_worker = false;
	if (req->conn == NULL) {
		auth_request_free(req);
		return false;
	}
	return true;
}

bool
auth_request_set_user(struct auth_request *req, const char *authcid)
{
	const char *error;

	xfree(&req->user);
	req->user = auth_user_normalize(authcid, &error);
	if (req->user == NULL) {
		auth_request_fail(req, error);
		return false;
	}
	return true;
}

static void
auth_request_verified(enum passdb_result result, const char *user,
		      const char *passdb_name, const char *error, void *ctx)
{
	struct auth_request *req = ctx;

	if (!auth_request_worker_end(req))
		return;
	if (user != NULL && strcmp(user, req->user) != 0) {
		xfree(&req->user);
		req->user = xstrdup(user);
	}
	if (result == PASSDB_OK)
		auth_request_success(req, passdb_name, NULL, 0);
	else
		auth_request_fail_result(req, result, passdb_name, error);
}

void
auth_request_verify_plain(struct auth_request *req, const char *authzid,
			  const char *authcid, const unsigned char *pass,
			  size_t pass_len)
{
	req->accept_cont = false;
	event_timer_del(&req->timer);
	req->verify_start_ms = auth_now_ms();
	if (!auth_request_set_user(req, authcid))
		return;
	if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		/* No master users: an authorization identity other than
		 * the authenticating user is refused. */
		auth_request_fail(req, "authorization identity differs "
				       "(master logins are not supported)");
		return;
	}
	req->checksum = auth_penalty_checksum(req->user, pass, pass_len);
	auth_request_worker_begin(req);
	auth_passdb_verify(req->user, pass, pass_len, auth_request_verified,
			   req);
}

static void
auth_request_run_mech(void *ctx)
{
	struct auth_request *req = ctx;
	bool have = req->have_initial;

	event_timer_del(&req->timer);
	req->mech->input(req,
			 req->initial != NULL ? req->initial
					      : (const unsigned char *)"",
			 req->initial_len, true, have);
}

/* Dovecot counts a connection from the host to itself as secured
 * (lip == rip), and so do we for loopback addresses. */
static bool
auth_request_is_local(const struct auth_request *req)
{
	unsigned char addr[16];

	if (req->rip == NULL)
		return false;
	if (req->lip != NULL && strcmp(req->lip, req->rip) == 0)
		return true;
	if (inet_pton(AF_INET, req->rip, addr) == 1)
		return addr[0] == 127;
	if (inet_pton(AF_INET6, req->rip, addr) == 1) {
		static const unsigned char loop6[16] = {[15] = 1};

		return memcmp(addr, loop6, 16) == 0;
	}
	return false;
}

void
auth_request_start(struct auth_request *req, const char *resp)
{
	char ident_buf[64];
	const char *ident;
	unsigned int secs;

	if ((req->mech->flags & AUTH_MECH_SEC_PLAINTEXT) != 0 &&
	    auth_set.disable_plaintext_auth && !req->secured &&
	    !auth_request_is_local(req)) {
		if (auth_set.verbose) {
			char prefix[256];

			log_info("%sPlaintext authentication disabled",
				 auth_request_log_prefix(req, "auth", prefix,
							 sizeof(prefix)));
		}
		auth_request_fail_now(req,
				      "Plaintext authentication disabled.");
		return;
	}
	/* "resp=" empty: no initial response (Exim sends it); "resp==":
	 * an empty one. */
	if (resp != NULL && resp[0] != '\0') {
		struct strbuf buf;

		strbuf_init(&buf, AUTH_RESPONSE_MAX);
		if (strcmp(resp, "=") != 0 &&
		    base64_decode(resp, strlen(resp), 0, &buf) < 0) {
			strbuf_release(&buf);
			auth_request_fail_now(req, "Invalid base64 data in "
						   "initial response");
			return;
		}
		req->initial_len = buf.len;
		req->initial = (unsigned char *)strbuf_steal(&buf);
		req->have_initial = true;
	}
	ident = auth_request_penalty_ident(req, ident_buf, sizeof(ident_buf));
	req->last_penalty =
	    ident == NULL ? 0
			  : auth_penalty_get(auth_penalty, ident, time(NULL));
	secs = auth_penalty_to_secs(req->last_penalty);
	if (secs == 0) {
		auth_request_run_mech(req);
		return;
	}
	if (auth_set.debug)
		log_debug("auth: penalty %u for %s: waiting %u s",
			  req->last_penalty, ident, secs);
	req->timer = event_timer_add(server_loop(), secs * 1000, false,
				     auth_request_run_mech, req);
}

void
auth_request_continue(struct auth_request *req, const char *data)
{
	struct strbuf buf;

	if (!req->accept_cont) {
		auth_request_fail_now(req, "Unexpected continuation");
		return;
	}
	req->accept_cont = false;
	event_timer_del(&req->timer);
	strbuf_init(&buf, AUTH_RESPONSE_MAX);
	if (base64_decode(data, strlen(data), 0, &buf) < 0) {
		strbuf_release(&buf);
		auth_request_fail_now(req, "Invalid base64 data in continued "
					   "response");
		return;
	}
	req->mech->input(req,
			 buf.data != NULL ? (unsigned char *)buf.data
					  : (const unsigned char *)"",
			 buf.len, false, true);
	if (buf.data != NULL)
		xmem_wipe(buf.data, buf.len);
	strbuf_release(&buf);
}
