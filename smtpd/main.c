/*
 * smtpd - the SMTP server (MX on port 25 with STARTTLS) and, with
 * "-o smtpd_local_submission=yes" on a unix socket, the local submission
 * service the sendmail command posts to. This file wires the engine to
 * the daemon: settings from the parameters, client identity (reverse
 * name in a worker, SO_PEERCRED on the unix socket), MAIL FROM, and the
 * connect/disconnect log lines Postfix writes. Clients are untrusted.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/address.h"
#include "mail/mail_params.h"
#include "server/server.h"
#include "server/worker.h"
#include "smtpd.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/tls.h"
#include "util/xmem.h"

struct smtp_server_settings smtpd_settings;
/* Live connections per client address (this process only). Entries stay
 * (at zero) until the process exits; max_use bounds how many there are. */
static struct hash_table *smtpd_conn_counts;

const char *
smtpd_client_label(const struct smtpd_client *c)
{
	static char buf[sizeof(c->name) + sizeof(c->addr) + 4];

	snprintf(buf, sizeof(buf), "%s[%s]", c->name, c->addr);
	return buf;
}

void
smtpd_client_reset(struct smtpd_client *c)
{
	smtpd_queue_abort(c);
	for (size_t i = 0; i < c->rcpt_count; i++) {
		free(c->rcpts[i].address);
		free(c->rcpts[i].orig_rcpt);
		free(c->rcpts[i].orcpt);
	}
	free(c->rcpts);
	c->rcpts = NULL;
	c->rcpt_count = c->rcpt_alloc = 0;
	c->rcpt_given = 0;
	xfree(&c->sender);
	xfree(&c->envid);
	xfree(&c->first_rcpt);
	xfree(&c->sender_owners); /* issue 5 */
	c->sender_lookup_failed = false;
	smtpd_header_free(c);
	c->have_sender = c->smtputf8 = c->write_failed = false;
	c->ret = c->body = 0;
}

/* ---- engine callbacks ---- */

static void
smtpd_cb_mail(struct smtp_session *s, const struct smtp_command *cmd, void *ctx)
{
	struct smtpd_client *c = ctx;
	struct strbuf addr;
	const char *refusal;

	smtpd_client_reset(c);
	/* issue 5: per-client and per-user message rate limits. */
	if ((refusal = smtpd_restrict_mail_rate(c)) != NULL) {
		smtp_session_reply(s, refusal);
		return;
	}
	strbuf_init(&addr, SMTPD_ADDR_MAX);
	if ((cmd->path.flags & (ADDRESS_FLAG_NO_DOMAIN | ADDRESS_FLAG_NULL)) ==
		ADDRESS_FLAG_NO_DOMAIN &&
	    cmd->path.local_len > 0) {
		/* "MAIL FROM:<user>": Postfix appends @$myorigin. */
		struct address full = cmd->path;

		snprintf(full.domain, sizeof(full.domain), "%s", var_myorigin);
		full.domain_len = strlen(full.domain);
		full.flags &= ~(unsigned int)ADDRESS_FLAG_NO_DOMAIN;
		if (address_format(&full, &addr) < 0) {
			strbuf_release(&addr);
			smtp_session_reply(s, "501 5.1.7 Bad sender address "
					      "syntax");
			return;
		}
	} else if (address_format(&cmd->path, &addr) < 0) {
		strbuf_release(&addr);
		smtp_session_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	c->sender = strbuf_steal(&addr);
	if (c->sender == NULL)
		c->sender = xstrdup("");
	strbuf_release(&addr);
	c->have_sender = true;
	if ((cmd->params.present & SMTP_PARAM_ENVID) != 0)
		c->envid = xstrdup(cmd->params.envid);
	c->ret = (int)cmd->params.ret;
	c->body = (int)cmd->params.body;
	c->smtputf8 = (cmd->params.present & SMTP_PARAM_SMTPUTF8) != 0;
	/* issue 5: the sender's owners (smtpd_sender_login_maps), then 250. */
	smtpd_restrict_mail(c);
}

static void
smtpd_cb_rcpt(struct smtp_session *s, const struct smtp_command *cmd, void *ctx)
{
	struct smtpd_client *c = ctx;
	const char *refusal = smtpd_restrict_rcpt(c);

	if (refusal != NULL) {
		/* issue 5: smtpd_client/sender_restrictions, Postfix's log. */
		log_info("NOQUEUE: reject: RCPT from %s: %s; from=<%s> "
			 "proto=%s helo=<%s>",
			 smtpd_client_label(c), refusal, c->sender,
			 smtp_session_protocol(s), smtp_session_helo(s));
		smtp_session_reply(s, refusal);
		return;
	}
	smtpd_policy_rcpt(ctx, cmd);
}

static int
smtpd_cb_data_start(struct smtp_session *s, const char **reply_r, void *ctx)
{
	(void)s;
	return smtpd_queue_start(ctx, reply_r);
}

static int
smtpd_cb_data_chunk(struct smtp_session *s, const char *data, size_t len,
		    void *ctx)
{
	(void)s;
	return smtpd_queue_chunk(ctx, data, len);
}

static void
smtpd_cb_data_end(struct smtp_session *s, bool ok, void *ctx)
{
	(void)s;
	smtpd_queue_end(ctx, ok);
}

static void
smtpd_cb_data_abort(struct smtp_session *s, void *ctx)
{
	(void)s;
	smtpd_queue_abort(ctx);
}

static void
smtpd_cb_disconnect(struct smtp_session *s, void *ctx)
{
	struct smtpd_client *c = ctx;
	struct strbuf line;

	strbuf_init(&line, 1024);
	smtp_session_stats(s, &line);
	log_info("disconnect from %s%s", smtpd_client_label(c),
		 strbuf_cstr(&line));
	strbuf_release(&line);
	smtpd_client_reset(c);
	if (c->conn_count != NULL)
		(*c->conn_count)--;
	free(c);
	server_client_done();
}

/* Counts the client; false (and a 421 already sent) when over the limit. */
static bool
smtpd_conn_limit(struct smtpd_client *c, int fd)
{
	unsigned int *n;
	char reply[512];

	if (c->trusted || var_smtpd_client_connection_count_limit == 0)
		return true;
	n = hash_lookup(smtpd_conn_counts, c->addr);
	if (n == NULL) {
		n = xcalloc(1, sizeof(*n));
		(void)hash_insert(smtpd_conn_counts, c->addr, n);
	}
	if (*n >= (unsigned long long)var_smtpd_client_connection_count_limit) {
		log_warning("Connection concurrency limit exceeded: %u from "
			    "%s for service %s",
			    *n + 1, smtpd_client_label(c),
			    server_service_name());
		snprintf(reply, sizeof(reply),
			 "421 4.7.0 %s Error: too many connections from "
			 "%s\r\n",
			 var_myhostname, c->addr);
		(void)send(fd, reply, strlen(reply),
			   MSG_NOSIGNAL | MSG_DONTWAIT);
		return false;
	}
	(*n)++;
	c->conn_count = n;
	return true;
}

static const struct smtp_server_callbacks smtpd_callbacks = {
    .mail = smtpd_cb_mail,
    .rcpt = smtpd_cb_rcpt,
    .data_start = smtpd_cb_data_start,
    .data_chunk = smtpd_cb_data_chunk,
    .data_end = smtpd_cb_data_end,
    .data_abort = smtpd_cb_data_abort,
    .disconnect = smtpd_cb_disconnect,
    /* issue 5: AUTH (smtpd_sasl.c). */
    .auth = smtpd_sasl_auth,
    .auth_response = smtpd_sasl_response,
    .auth_abort = smtpd_sasl_abort,
};

/* ---- connections ---- */

struct smtpd_connect_job {
	struct smtpd_client *client;
	int fd;
	struct sockaddr_storage sa;
	socklen_t sa_len;
};

static void
smtpd_start_session(struct smtpd_client *c, int fd)
{
	log_info("connect from %s", smtpd_client_label(c));
	c->session = smtp_session_new(server_loop(), fd, &smtpd_settings,
				      &smtpd_callbacks, c);
	smtp_session_set_log_name(c->session, smtpd_client_label(c));
}

static void
smtpd_lookup_run(void *job)
{
	struct smtpd_connect_job *j = job;
	char host[NI_MAXHOST];

	if (getnameinfo((struct sockaddr *)&j->sa, j->sa_len, host,
			sizeof(host), NULL, 0, NI_NAMEREQD) == 0 &&
	    strlen(host) < sizeof(j->client->name))
		memcpy(j->client->name, host, strlen(host) + 1);
}

static void
smtpd_lookup_done(void *job)
{
	struct smtpd_connect_job *j = job;

	smtpd_start_session(j->client, j->fd);
	free(j);
}

static void
smtpd_on_connect(int fd, void *ctx)
{
	struct smtpd_client *c = xcalloc(1, sizeof(*c));
	struct smtpd_connect_job *j;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	(void)ctx;
	snprintf(c->name, sizeof(c->name), "unknown");
	snprintf(c->addr, sizeof(c->addr), "unknown");
	if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
		sa.ss_family = AF_UNSPEC;
	if (sa.ss_family == AF_UNIX) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);

		snprintf(c->name, sizeof(c->name), "localhost");
		snprintf(c->addr, sizeof(c->addr), "127.0.0.1");
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ==
			0 &&
		    var_smtpd_local_submission) {
			c->local = c->trusted = true;
			c->uid = cred.uid;
		}
		smtpd_start_session(c, fd);
		return;
	}
	if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) {
		const void *a =
		    sa.ss_family == AF_INET
			? (const void *)&((struct sockaddr_in *)&sa)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)&sa)
			      ->sin6_addr;
		char text[INET6_ADDRSTRLEN];

		if (inet_ntop(sa.ss_family, a, text, sizeof(text)) != NULL)
			snprintf(c->addr, sizeof(c->addr), "%s",
				 strncmp(text, "::ffff:", 7) == 0 &&
					 strchr(text, '.') != NULL
				     ? text + 7
				     : text);
		c->trusted = smtpd_policy_trusted_addr(c->addr);
		if (!smtpd_conn_limit(c, fd)) {
			close(fd);
			free(c);
			server_client_done();
			return;
		}
	}
	if (!var_smtpd_peername_lookup || sa.ss_family == AF_UNSPEC) {
		smtpd_start_session(c, fd);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->client = c;
	j->fd = fd;
	j->sa = sa;
	j->sa_len = len;
	worker_submit(server_workers(), smtpd_lookup_run, smtpd_lookup_done, j);
}

/* ---- start-up ---- */

/* As root: the TLS key may be readable by root only; maps open here. */
static void
smtpd_pre_init(void *ctx)
{
	const char *level = var_smtpd_tls_security_level;
	const char *error;

	(void)ctx;
	/* Postfix logs "syslog_name/smtpd" whatever the service is called
	 * ("smtp", "127.0.0.1:25", "submit"); fail2ban's and pflogsumm's
	 * patterns expect it. Services tell themselves apart with
	 * "-o syslog_name=dovetail/submission", as in Postfix. */
	log_init(var_syslog_name, "smtpd");
	smtpd_conn_counts = hash_create();
	memset(&smtpd_settings, 0, sizeof(smtpd_settings));
	smtpd_settings.hostname = var_myhostname;
	smtpd_settings.banner = var_smtpd_banner;
	smtpd_settings.line_length_limit = (size_t)var_line_length_limit;
	smtpd_settings.message_size_limit = (uint64_t)var_message_size_limit;
	smtpd_settings.recipient_limit =
	    (unsigned int)var_smtpd_recipient_limit;
	smtpd_settings.timeout_secs = (unsigned int)var_smtpd_timeout;
	smtpd_settings.hard_error_limit =
	    (unsigned int)var_smtpd_hard_error_limit;
	smtpd_settings.enable_chunking = true;
	smtpd_settings.enable_smtputf8 = true;
	smtpd_settings.enable_dsn = true;
	if (strcmp(level, "may") == 0)
		smtpd_settings.tls = SMTP_SERVER_TLS_MAY;
	else if (strcmp(level, "encrypt") == 0)
		smtpd_settings.tls = SMTP_SERVER_TLS_ENCRYPT;
	else if (level[0] != '\0' && strcmp(level, "none") != 0)
		log_fatal("smtpd: smtpd_tls_security_level: unknown level "
			  "\"%s\" (none, may, encrypt)",
			  level);
	/* issue 5: port 465 (RFC 8314): TLS from the first byte. */
	smtpd_settings.wrappermode = var_smtpd_tls_wrappermode;
	if (smtpd_settings.wrappermode &&
	    smtpd_settings.tls == SMTP_SERVER_TLS_NONE)
		smtpd_settings.tls = SMTP_SERVER_TLS_MAY;
	if (smtpd_settings.tls != SMTP_SERVER_TLS_NONE) {
		if (var_smtpd_tls_cert_file[0] == '\0')
			log_fatal("smtpd: smtpd_tls_security_level = %s%s "
				  "needs smtpd_tls_cert_file",
				  level,
				  smtpd_settings.wrappermode
				      ? " (or smtpd_tls_wrappermode = yes)"
				      : "");
		smtpd_settings.tls_ctx = tls_server_ctx_new(
		    var_smtpd_tls_cert_file, var_smtpd_tls_key_file, &error);
		if (smtpd_settings.tls_ctx == NULL)
			log_fatal("smtpd: TLS: %s", error);
	}
	smtpd_policy_init();
	smtpd_sasl_init();     /* issue 5 */
	smtpd_restrict_init(); /* issue 5 */
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
	    .name = "smtpd",
	    .kind = SERVER_KIND_LISTENER,
	    .pre_init = smtpd_pre_init,
	    .on_connect = smtpd_on_connect,
	};

	server_main(argc, argv, &spec);
}
