/*
 * smtp - delivery agent daemon. A LISTENER on private/<service>
 * (master.cf "smtp unix ... smtp" or "lmtp unix ... smtp") that takes one
 * deliver_proto request at a time per qmgr connection, runs the session
 * on a worker thread and answers with the per-recipient status, logging
 * one Postfix line per recipient. The protocol: the master.cf argument
 * "lmtp" or "smtp" when given, else a service name starting with "lmtp"
 * speaks LMTP (lmtp_client.c), any other SMTP
 * (smtp_connect.c finds the addresses on the loop, smtp_client.c talks).
 * Requests come from qmgr (a trusted peer, but still strictly decoded: a
 * malformed frame closes the connection); servers' replies are untrusted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "server/worker.h"
#include "mail/deliver_proto.h"
#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "smtp.h"
#include "smtp_cache.h"
#include "smtp_sasl.h"
#include "smtp_dane.h"
#include "util/event.h"
#include "util/log.h"
#include "util/tls.h"
#include "util/stream.h"
#include "util/strbuf.h"
#include "util/xmem.h"

struct smtp_conn {
	struct stream *stream;
	struct strbuf in;
	struct smtp_delivery *busy; /* a delivery on a worker thread */
	bool closing;
};

static void smtp_conn_read(struct stream *s, void *ctx);

/* SMTP mode (not LMTP), its TLS level and client context. */
static bool smtp_mode;
static enum smtp_tls_level smtp_tls_level;
static SSL_CTX *smtp_tls_ctx;

static void
smtp_conn_free(struct smtp_conn *conn)
{
	if (conn->busy != NULL) {
		/* The worker still owns the delivery; free when it reports. */
		conn->closing = true;
		stream_free(&conn->stream);
		return;
	}
	stream_free(&conn->stream);
	strbuf_release(&conn->in);
	free(conn);
	server_client_done();
}

static void
smtp_conn_error(struct stream *s, enum stream_error err, void *ctx)
{
	(void)s;
	(void)err;
	smtp_conn_free(ctx);
}

/* Seconds as Postfix prints delays: two decimals, trailing zeros cut
 * ("0", "0.5", "1.25"). */
static const char *
smtp_secs(char *buf, size_t size, uint64_t us)
{
	size_t len;

	snprintf(buf, size, "%.2f", (double)us / 1e6);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
	return buf;
}

static uint64_t
smtp_parse_time_us(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	return v > 0 ? (uint64_t)(v * 1e6) : 0;
}

/* One line per recipient, as Postfix's lmtp writes it. */
static void
smtp_log_delivery(const struct smtp_delivery *d)
{
	const struct deliver_request *req = d->req;
	uint64_t arrival = req->arrival_us;
	char t[5][32];
	uint64_t active = smtp_parse_time_us(req->active_time);

	if (active < arrival)
		active = arrival;
	for (unsigned int i = 0; i < d->reply.count; i++) {
		const struct deliver_result *r = &d->reply.results[i];
		const char *status = r->action == DELIVER_SENT ? "sent"
				     : r->action == DELIVER_BOUNCED
					 ? "bounced"
					 : "deferred";

		char use[32] = "";

		/* Postfix's field for a reused connection (the Nth
		 * transaction on it). */
		if (d->conn_use > 1 && strcmp(r->relay, "none") != 0)
			snprintf(use, sizeof(use), ", conn_use=%u",
				 d->conn_use);
		log_info("%s: to=<%s>, relay=%s%s, delay=%s, "
			 "delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
			 req->queue_id, req->rcpts[i].address, r->relay, use,
			 smtp_secs(t[0], 32, d->done_us - arrival),
			 smtp_secs(t[1], 32, active - arrival),
			 smtp_secs(t[2], 32,
				   d->received_us > active
				       ? d->received_us - active
				       : 0),
			 smtp_secs(t[3], 32, d->connected_us - d->received_us),
			 smtp_secs(t[4], 32, d->done_us - d->connected_us),
			 r->dsn, status, r->text);
	}
}

struct smtp_job {
	struct smtp_delivery d;
	struct smtp_conn *conn;
};

static void
smtp_job_run(void *job)
{
	struct smtp_job *j = job;

	if (smtp_mode)
		smtp_deliver(&j->d, smtp_tls_ctx, smtp_tls_level);
	else
		lmtp_deliver(&j->d);
}

static void
smtp_delivery_free(struct smtp_delivery *d)
{
	deliver_request_free(&d->req);
	for (unsigned int i = 0; i < d->reply.count; i++) {
		free(d->reply.results[i].dsn);
		free(d->reply.results[i].relay);
		free(d->reply.results[i].text);
	}
	free(d->reply.results);
	smtp_targets_free(d);
	strbuf_release(&d->notes);
}

/* The worker's notes (TLS details, servers that failed), one per line. */
static void
smtp_log_notes(const struct smtp_delivery *d)
{
	const char *p = strbuf_cstr(&d->notes);

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");

		log_info("%.*s", (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
}

static void
smtp_job_done(void *job)
{
	struct smtp_job *j = job;
	struct smtp_conn *conn = j->conn;
	struct strbuf out;

	smtp_log_notes(&j->d);
	smtp_log_delivery(&j->d);
	conn->busy = NULL;
	if (conn->closing) {
		/* qmgr went away: it will retry from the queue file. */
		smtp_delivery_free(&j->d);
		free(j);
		smtp_conn_free(conn);
		return;
	}
	strbuf_init(&out, DELIVER_PROTO_MAX_FRAME + 64);
	if (deliver_proto_encode_reply(&out, &j->d.reply) < 0 ||
	    stream_write(conn->stream, out.data, out.len) < 0) {
		log_warning("%s: cannot send the delivery status to qmgr",
			    j->d.req->queue_id);
		strbuf_release(&out);
		smtp_delivery_free(&j->d);
		free(j);
		smtp_conn_free(conn);
		return;
	}
	strbuf_release(&out);
	smtp_delivery_free(&j->d);
	free(j);
	stream_pause_read(conn->stream, false);
	/* A request may already be buffered. */
	smtp_conn_read(conn->stream, conn);
}

/* Only "active/<ID>" or "deferred/<ID>": the agent opens nothing else. */
static bool
smtp_queue_file_ok(const char *path)
{
	const char *slash = strchr(path, '/');

	if (slash == NULL || !queue_id_valid(slash + 1))
		return false;
	return ((size_t)(slash - path) == strlen(QUEUE_DIR_ACTIVE) &&
		strncmp(path, QUEUE_DIR_ACTIVE, (size_t)(slash - path)) == 0) ||
	       ((size_t)(slash - path) == strlen(QUEUE_DIR_DEFERRED) &&
		strncmp(path, QUEUE_DIR_DEFERRED, (size_t)(slash - path)) == 0);
}

/* The addresses are known (or the lookup failed: results are set). */
static void
smtp_targets_ready(struct smtp_delivery *d, void *ctx)
{
	struct smtp_job *j = ctx;

	if (d->target_count == 0) {
		d->connected_us = d->done_us = smtp_now_us();
		smtp_job_done(j);
		return;
	}
	worker_submit(server_workers(), smtp_job_run, smtp_job_done, j);
}

static void
smtp_conn_read(struct stream *s, void *ctx)
{
	struct smtp_conn *conn = ctx;
	const char *data, *payload, *error;
	size_t n, plen, used;
	struct deliver_request *req;
	struct smtp_job *j;
	int ret;

	if (conn->busy != NULL)
		return;
	while ((n = stream_read(s, &data, 65536)) > 0) {
		if (strbuf_append(&conn->in, data, n) < 0) {
			log_warning("request from qmgr too large");
			smtp_conn_free(conn);
			return;
		}
	}
	ret = deliver_proto_frame(conn->in.data == NULL ? "" : conn->in.data,
				  conn->in.len, &payload, &plen, &used, &error);
	if (ret == 0) {
		if (stream_eof(s))
			smtp_conn_free(conn);
		return;
	}
	if (ret < 0 ||
	    deliver_proto_decode_request(payload, plen, &req, &error) < 0) {
		log_warning("bad request from qmgr: %s", error);
		smtp_conn_free(conn);
		return;
	}
	strbuf_consume(&conn->in, used);
	if (!smtp_queue_file_ok(req->queue_file)) {
		log_warning("bad queue file name from qmgr: %s",
			    req->queue_file);
		deliver_request_free(&req);
		smtp_conn_free(conn);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->conn = conn;
	j->d.req = req;
	j->d.received_us = smtp_now_us();
	strbuf_init(&j->d.notes, 65536);
	conn->busy = &j->d;
	stream_pause_read(s, true);
	if (smtp_mode)
		smtp_targets_lookup(&j->d, smtp_targets_ready, j);
	else
		worker_submit(server_workers(), smtp_job_run, smtp_job_done, j);
}

static void
smtp_on_connect(int fd, void *ctx)
{
	struct smtp_conn *conn = xcalloc(1, sizeof(*conn));

	(void)ctx;
	conn->stream =
	    stream_new(server_loop(), fd, 4096, DELIVER_PROTO_MAX_FRAME + 64);
	strbuf_init(&conn->in, DELIVER_PROTO_MAX_FRAME + 64);
	stream_set_callbacks(conn->stream, smtp_conn_read, smtp_conn_error,
			     conn);
}

/* SASL client login: libsasl2 loads its plugins and the password maps
 * are opened here, as root before chroot (Postfix's smtp_sasl_initialize
 * runs pre-jail too). sasl_client_init is global: once per process. */
static void
smtp_pre_init(void *ctx)
{
	const char *error;

	(void)ctx;
	if (var_smtp_sasl_auth_enable && smtp_sasl_init(&error) < 0)
		log_fatal("%s", error);
}

static void
smtp_cache_timer(void *ctx)
{
	(void)ctx;
	smtp_cache_expire();
}

/* SMTP mode: the TLS level, its context and the resolver. */
static void
smtp_post_init(void *ctx)
{
	const char *level = var_smtp_tls_security_level, *error;
	int argc;
	char **argv = server_argv(&argc);

	(void)ctx;

	/* "smtp lmtp" / "smtp smtp" in master.cf name the protocol; else
	 * a service name starting with "lmtp" means LMTP. */
	if (argc > 0 && strcmp(argv[0], "lmtp") == 0)
		smtp_mode = false;
	else if (argc > 0 && strcmp(argv[0], "smtp") == 0)
		smtp_mode = true;
	else if (argc > 0)
		log_fatal("unknown argument %s: expected lmtp or smtp",
			  argv[0]);
	else
		smtp_mode = strncmp(server_service_name(), "lmtp", 4) != 0;
	if (!smtp_mode)
		return;
	if (var_smtp_sasl_auth_enable && var_smtp_sasl_password_maps[0] == '\0')
		log_fatal("specify a password table via the "
			  "smtp_sasl_password_maps configuration parameter");
	if (strcmp(level, "none") == 0 || level[0] == '\0')
		smtp_tls_level = SMTP_TLS_NONE;
	else if (strcmp(level, "may") == 0)
		smtp_tls_level = SMTP_TLS_MAY;
	else if (strcmp(level, "encrypt") == 0)
		smtp_tls_level = SMTP_TLS_ENCRYPT;
	else if (strcmp(level, "verify") == 0)
		smtp_tls_level = SMTP_TLS_VERIFY;
	else if (strcmp(level, "dane") == 0)
		smtp_tls_level = SMTP_TLS_DANE;
	else if (strcmp(level, "dane-only") == 0)
		smtp_tls_level = SMTP_TLS_DANE_ONLY;
	else
		log_fatal("smtp_tls_security_level = %s: expected none, may, "
			  "encrypt, verify, dane or dane-only",
			  level);
	/* DANE needs validated DNS answers. Without a trust anchor "dane"
	 * becomes "may" with a warning, as Postfix downgrades it when DNSSEC
	 * lookups are disabled; "dane-only" could never deliver. */
	if (smtp_tls_level == SMTP_TLS_DANE &&
	    var_dns_trust_anchor_file[0] == '\0') {
		log_warning("smtp_tls_security_level = dane requires "
			    "dns_trust_anchor_file (DNSSEC validation); "
			    "using \"may\" instead");
		smtp_tls_level = SMTP_TLS_MAY;
	}
	if (smtp_tls_level == SMTP_TLS_DANE_ONLY &&
	    var_dns_trust_anchor_file[0] == '\0')
		log_fatal("smtp_tls_security_level = dane-only requires "
			  "dns_trust_anchor_file (DNSSEC validation)");
	if (smtp_tls_level == SMTP_TLS_VERIFY && var_smtp_tls_CAfile[0] == '\0')
		log_fatal("smtp_tls_security_level = verify needs "
			  "smtp_tls_CAfile");
	if (smtp_tls_level != SMTP_TLS_NONE) {
		smtp_tls_ctx = tls_client_ctx_new(
		    smtp_tls_level == SMTP_TLS_VERIFY ? var_smtp_tls_CAfile
						      : NULL,
		    &error);
		if (smtp_tls_ctx == NULL)
			log_fatal("smtp TLS: %s", error);
		if (smtp_dane_init(smtp_tls_level, smtp_tls_ctx, &error) < 0)
			log_fatal("smtp TLS: %s", error);
	}
	if (smtp_connect_init(&error) < 0)
		log_fatal("%s", error);
	/* Cached sessions idle past smtp_connection_cache_time_limit get
	 * QUIT (on a worker); a fraction of a second late at most. */
	(void)event_timer_add(server_loop(), 250, true, smtp_cache_timer, NULL);
}

/* SIGTERM: QUIT to the cached sessions (SMTP mode). */
static void
smtp_on_shutdown(void *ctx)
{
	(void)ctx;
	if (smtp_mode)
		smtp_cache_shutdown();
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
	    .name = "smtp",
	    .kind = SERVER_KIND_LISTENER,
	    .pre_init = smtp_pre_init,
	    .post_init = smtp_post_init,
	    .on_connect = smtp_on_connect,
	    .on_shutdown = smtp_on_shutdown,
	};

	server_main(argc, argv, &spec);
}
