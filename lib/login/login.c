/*
 * login - the pre-auth listener shared by imap-login and pop3-login (see
 * login.h): connections, TLS, SASL through auth, the failure count and
 * the handoff to the session service. Client input is untrusted and is
 * read only by the protocol callbacks, through the stream layer's line
 * limit. Runs as mail_owner, which owns no mail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "login/login.h"
#include "login/login_private.h"
#include "mail/auth_client.h"
#include "mail/login_handoff.h"
#include "mail/mail_params.h"
#include "server/server.h"
#include "util/event.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/stream.h"
#include "util/tls.h"
#include "util/xmem.h"

/* Queued output per pre-auth client. */
#define LOGIN_MAX_OUTPUT (64 * 1024)

enum login_ssl { LOGIN_SSL_NO, LOGIN_SSL_YES, LOGIN_SSL_REQUIRED };

/* Per connection state the protocol does not see. */
struct login_conn_private {
	struct login_conn pub;
	struct auth_client_request *req;
	login_auth_cb *cb;
	void *cb_ctx;
	char *auth_user; /* last user name tried, for the log */
	char mech[32];
	time_t created;
	bool input_deferred;
	void (*tls_done)(struct login_conn *c, bool ok);
};

static const struct login_proto *proto;
static SSL_CTX *login_tls_ctx;
static enum login_ssl login_ssl;
static bool login_wrappermode;
static struct auth_client *login_auth;

#define PRIV(c) ((struct login_conn_private *)(c))

bool
login_tls_available(void)
{
	return login_tls_ctx != NULL && login_ssl != LOGIN_SSL_NO;
}

bool
login_plaintext_allowed(const struct login_conn *c)
{
	bool disable = var_disable_plaintext_auth;

	if (c->secured)
		return true;
	if (login_ssl == LOGIN_SSL_REQUIRED)
		return false;
	/* auth_allow_cleartext (Dovecot 2.4) wins when set. */
	if (var_auth_allow_cleartext != NULL &&
	    var_auth_allow_cleartext[0] != '\0')
		disable = strcasecmp(var_auth_allow_cleartext, "yes") != 0;
	return !disable;
}

static bool
mech_is_plaintext(const char *mech)
{
	return strcasecmp(mech, "PLAIN") == 0 ||
	       strcasecmp(mech, "LOGIN") == 0;
}

const char *
login_mechanisms(const struct login_conn *c)
{
	static __thread char buf[256];
	const char *p = var_auth_mechanisms;
	size_t len = 0;

	buf[0] = '\0';
	while (p != NULL && *p != '\0') {
		size_t n;
		char mech[64];

		p += strspn(p, " ,\t");
		n = strcspn(p, " ,\t");
		if (n == 0)
			break;
		if (n < sizeof(mech)) {
			for (size_t i = 0; i < n; i++)
				mech[i] = (char)((p[i] >= 'a' && p[i] <= 'z')
							 ? p[i] - 32
							 : p[i]);
			mech[n] = '\0';
			if ((!mech_is_plaintext(mech) ||
			     login_plaintext_allowed(c)) &&
			    len + n + 2 < sizeof(buf)) {
				if (len > 0)
					buf[len++] = ' ';
				memcpy(buf + len, mech, n + 1);
				len += n;
			}
		}
		p += n;
	}
	return buf;
}

static const char *
conn_log_tail(struct login_conn *c)
{
	static char buf[512];
	struct login_conn_private *cp = PRIV(c);

	snprintf(buf, sizeof(buf), "user=<%s>%s%s, rip=%s, lip=%s%s",
		 cp->auth_user != NULL ? cp->auth_user : "",
		 cp->mech[0] != '\0' ? ", method=" : "", cp->mech, c->rip,
		 c->lip, c->tls ? ", TLS" : "");
	return buf;
}

void
login_close(struct login_conn *c, const char *reason)
{
	struct login_conn_private *cp = PRIV(c);

	if (reason != NULL)
		log_info("%s: %s", reason, conn_log_tail(c));
	if (cp->req != NULL)
		auth_client_abort(&cp->req);
	if (proto->on_free != NULL)
		proto->on_free(c);
	stream_free(&c->s);
	xfree(&cp->auth_user);
	xfree(&cp);
	server_client_done();
}

const char *
login_disconnect_reason(struct login_conn *c, const char *what)
{
	static _Thread_local char buf[200];
	struct login_conn_private *cp = PRIV(c);
	long secs = (long)(time(NULL) - cp->created);

	if (c->auth_failures > 0)
		snprintf(buf, sizeof(buf),
			 "%s (auth failed, %u attempts in %ld secs)", what,
			 c->auth_failures, secs);
	else
		snprintf(buf, sizeof(buf), "%s (no auth attempts in %ld secs)",
			 what, secs);
	return buf;
}

static void
conn_error(struct stream *s, enum stream_error err, void *ctx)
{
	struct login_conn *c = ctx;

	(void)s;
	switch (err) {
	case STREAM_ERR_TIMEOUT:
		login_close(c, login_disconnect_reason(
				   c, "Disconnected: Inactivity"));
		break;
	case STREAM_ERR_TLS:
		login_close(c, login_disconnect_reason(
				   c, "Disconnected: TLS handshaking failed"));
		break;
	default:
		login_close(c, login_disconnect_reason(c, "Disconnected"));
		break;
	}
}

static void conn_resume_input(struct login_conn *c);

static void
conn_input(struct stream *s, void *ctx)
{
	struct login_conn *c = ctx;

	(void)s;
	if (c->auth_busy)
		return;
	proto->on_input(c);
}

/* Input that arrived while auth was busy. */
static void
conn_input_deferred(void *ctx)
{
	struct login_conn *c = ctx;

	PRIV(c)->input_deferred = false;
	if (!c->auth_busy && c->s != NULL && stream_input_pending(c->s) > 0)
		proto->on_input(c);
}

void
login_resume_input(struct login_conn *c)
{
	conn_resume_input(c);
}

static void
conn_resume_input(struct login_conn *c)
{
	if (PRIV(c)->input_deferred || stream_input_pending(c->s) == 0)
		return;
	PRIV(c)->input_deferred = true;
	event_defer(server_loop(), conn_input_deferred, c);
}

static void
conn_tls_done(struct stream *s, bool ok, void *ctx)
{
	struct login_conn *c = ctx;
	void (*done)(struct login_conn *, bool) = PRIV(c)->tls_done;

	(void)s;
	if (!ok) {
		login_close(c, login_disconnect_reason(
				   c, "Disconnected: TLS handshaking failed"));
		return;
	}
	c->tls = true;
	c->secured = true;
	c->starttls_offered = false;
	if (done != NULL)
		done(c, true);
	else
		proto->on_connect(c);
}

void
login_starttls(struct login_conn *c,
	       void (*done)(struct login_conn *c, bool ok))
{
	PRIV(c)->tls_done = done;
	if (stream_start_tls(c->s, login_tls_ctx, true, NULL, conn_tls_done) <
	    0)
		login_close(c, "Disconnected: TLS initialization failed");
}

static void
login_auth_reply(const struct auth_client_reply *reply, void *ctx)
{
	struct login_conn *c = ctx;
	struct login_conn_private *cp = PRIV(c);
	enum login_auth_result res;
	const char *data = NULL;

	switch (reply->status) {
	case AUTH_CLIENT_OK:
		res = LOGIN_AUTH_OK;
		data = reply->final_response;
		cp->req = NULL;
		break;
	case AUTH_CLIENT_CONTINUE:
		res = LOGIN_AUTH_CONTINUE;
		data = reply->challenge;
		break;
	case AUTH_CLIENT_FAIL:
		res = LOGIN_AUTH_FAIL;
		data = reply->reason;
		cp->req = NULL;
		break;
	default:
		res = LOGIN_AUTH_TEMPFAIL;
		data = reply->reason;
		cp->req = NULL;
		break;
	}
	if (reply->user != NULL && reply->user[0] != '\0') {
		xfree(&cp->auth_user);
		cp->auth_user = xstrdup(reply->user);
	}
	/* Also after a challenge: the client's answer must be read; the
	 * protocol hands it over with login_auth_continue(). */
	c->auth_busy = false;
	cp->cb(c, res, reply->user, data, cp->cb_ctx);
	/* The callback may have closed c (login_close/login_success). */
}

static void
login_auth_info(struct login_conn *c, const char *mech,
		struct auth_client_info *info)
{
	memset(info, 0, sizeof(*info));
	info->mech = mech;
	info->service = proto->service;
	info->local_ip = c->lip;
	info->remote_ip = c->rip;
	info->secured = c->secured;
}

void
login_auth_begin(struct login_conn *c, const char *mech, const char *initial,
		 login_auth_cb *cb, void *ctx)
{
	struct login_conn_private *cp = PRIV(c);
	struct auth_client_info info;

	snprintf(cp->mech, sizeof(cp->mech), "%s", mech);
	cp->cb = cb;
	cp->cb_ctx = ctx;
	c->auth_busy = true;
	login_auth_info(c, cp->mech, &info);
	info.initial_response = initial;
	cp->req = auth_client_begin(login_auth, &info, login_auth_reply, c);
}

void
login_auth_continue(struct login_conn *c, const char *response)
{
	if (PRIV(c)->req != NULL) {
		c->auth_busy = true;
		auth_client_continue(PRIV(c)->req, response);
	}
}

void
login_auth_abort(struct login_conn *c)
{
	if (PRIV(c)->req != NULL)
		auth_client_abort(&PRIV(c)->req);
	c->auth_busy = false;
	conn_resume_input(c);
}

void
login_auth_plain(struct login_conn *c, const char *user, const char *password,
		 login_auth_cb *cb, void *ctx)
{
	struct login_conn_private *cp = PRIV(c);
	struct auth_client_info info;

	snprintf(cp->mech, sizeof(cp->mech), "PLAIN");
	xfree(&cp->auth_user);
	cp->auth_user = xstrndup(user, strcspn(user, "\r\n"));
	cp->cb = cb;
	cp->cb_ctx = ctx;
	c->auth_busy = true;
	login_auth_info(c, "PLAIN", &info);
	cp->req = auth_client_plain(login_auth, &info, user, password,
				    login_auth_reply, c);
}

bool
login_auth_failed(struct login_conn *c, const char *user, const char *mech)
{
	struct login_conn_private *cp = PRIV(c);

	if (user != NULL && user[0] != '\0') {
		xfree(&cp->auth_user);
		cp->auth_user = xstrndup(user, strcspn(user, "\r\n"));
	}
	if (mech != NULL)
		snprintf(cp->mech, sizeof(cp->mech), "%s", mech);
	c->auth_failures++;
	if (c->auth_failures >= (unsigned long long)var_login_max_auth_failures)
		return true;
	conn_resume_input(c);
	return false;
}

void
login_success(struct login_conn *c, const char *user, const char *mech,
	      const char *tag, const char *fail_reply)
{
	struct login_conn_private *cp = PRIV(c);
	struct login_handoff h;
	const char *pending, *error;
	size_t pending_len;
	char *path;
	int sock, fds[2] = {-1, -1}, pass_fd;
	bool proxied;

	memset(&h, 0, sizeof(h));
	xfree(&cp->auth_user);
	cp->auth_user = xstrdup(user);
	if (mech != NULL)
		snprintf(cp->mech, sizeof(cp->mech), "%s", mech);
	snprintf(h.user, sizeof(h.user), "%s", user);
	snprintf(h.service, sizeof(h.service), "%s", proto->service);
	snprintf(h.rip, sizeof(h.rip), "%s", c->rip);
	snprintf(h.lip, sizeof(h.lip), "%s", c->lip);
	h.rport = c->rport;
	h.lport = c->lport;
	h.tls = c->tls;
	snprintf(h.mech, sizeof(h.mech), "%s", cp->mech);
	if (tag != NULL)
		snprintf(h.tag, sizeof(h.tag), "%s", tag);
	pending_len = stream_peek(c->s, &pending);
	if (pending_len > sizeof(h.input)) {
		log_warning("%s: too much pipelined input after login (%zu "
			    "bytes): %s",
			    proto->name, pending_len, conn_log_tail(c));
		goto fail;
	}
	memcpy(h.input, pending, pending_len);
	h.input_len = pending_len;

	path = xasprintf("%s/private/%s", var_queue_directory,
			 var_login_session_service[0] != '\0'
			     ? var_login_session_service
			     : proto->session_service);
	sock = sock_connect_unix(path, &error);
	if (sock < 0) {
		log_error("%s: connect to session service %s: %s",
			  proto->name, path, error);
		xfree(&path);
		goto fail;
	}
	if (c->tls) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) <
		    0) {
			log_error("%s: socketpair: %s", proto->name,
				  strerror(errno));
			close(sock);
			xfree(&path);
			goto fail;
		}
		pass_fd = fds[1];
	} else {
		pass_fd = stream_fd(c->s);
	}
	if (login_handoff_send(sock, pass_fd, &h, &error) < 0) {
		log_error("%s: handoff to %s: %s", proto->name, path, error);
		close(sock);
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		xfree(&path);
		goto fail;
	}
	close(sock);
	xfree(&path);
	log_info("Login: %s", conn_log_tail(c));
	proxied = c->tls;
	if (c->tls) {
		close(fds[1]);
		stream_skip(c->s, pending_len);
		/* The proxy takes the stream over, and with it this client's
		 * place in the live count: proxy_free() ends it. */
		login_proxy_start(c->s, fds[0]);
		c->s = NULL;
	}
	if (proto->on_free != NULL)
		proto->on_free(c);
	stream_free(&c->s);
	xfree(&cp->auth_user);
	xfree(&cp);
	if (!proxied)
		server_client_done();
	return;
fail:
	if (fail_reply != NULL) {
		stream_printf(c->s, "%s\r\n", fail_reply);
	}
	login_close(c, "Disconnected: Internal error");
}

static void
conn_addresses(struct login_conn *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64];

	if (sock_peer_name(fd, c->rip, sizeof(c->rip)) < 0)
		snprintf(c->rip, sizeof(c->rip), "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			c->rport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			c->rport =
			    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	len = sizeof(ss);
	snprintf(c->lip, sizeof(c->lip), "unknown");
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			if (inet_ntop(AF_INET, &sin->sin_addr, host,
				      sizeof(host)) != NULL)
				snprintf(c->lip, sizeof(c->lip), "%s", host);
			c->lport = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
				struct in_addr a;

				memcpy(&a, &sin6->sin6_addr.s6_addr[12], 4);
				inet_ntop(AF_INET, &a, host, sizeof(host));
			} else {
				inet_ntop(AF_INET6, &sin6->sin6_addr, host,
					  sizeof(host));
			}
			snprintf(c->lip, sizeof(c->lip), "%s", host);
			c->lport = ntohs(sin6->sin6_port);
		} else if (ss.ss_family == AF_UNIX) {
			snprintf(c->lip, sizeof(c->lip), "unix");
		}
	}
}

/* Dovecot treats connections from the host itself as secured (plaintext
 * auth allowed without TLS; login_trusted_networks aside). */
static bool
addr_is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	       strcmp(ip, "unix") == 0;
}

static void
login_on_connect(int fd, void *ctx)
{
	struct login_conn_private *cp;
	struct login_conn *c;

	(void)ctx;
	cp = xcalloc(1, sizeof(*cp));
	c = &cp->pub;
	cp->created = time(NULL);
	conn_addresses(c, fd);
	c->secured = addr_is_loopback(c->rip);
	c->wrappermode = login_wrappermode;
	c->starttls_offered = !login_wrappermode && login_tls_available();
	c->s = stream_new(server_loop(), fd, proto->max_line,
			  LOGIN_MAX_OUTPUT);
	stream_set_callbacks(c->s, conn_input, conn_error, c);
	stream_set_timeout(c->s, (unsigned int)var_login_timeout * 1000);
	if (login_wrappermode) {
		cp->tls_done = NULL;
		if (stream_start_tls(c->s, login_tls_ctx, true, NULL,
				     conn_tls_done) < 0)
			login_close(c, "Disconnected: TLS initialization "
				       "failed");
		return;
	}
	proto->on_connect(c);
}

/* "<path" (Dovecot) or "path". */
static const char *
login_path(const char *v)
{
	return v[0] == '<' ? v + 1 + strspn(v + 1, " \t") : v;
}

static bool
service_is_wrapper(const char *service)
{
	const char *colon = strrchr(service, ':');
	const char *port = colon != NULL ? colon + 1 : service;
	char want[16];

	if (strcmp(service, "imaps") == 0 || strcmp(service, "pop3s") == 0)
		return true;
	snprintf(want, sizeof(want), "%s", proto->service);
	if (strcmp(want, "imap") == 0)
		return strcmp(port, "993") == 0 || strcmp(port, "imaps") == 0;
	return strcmp(port, "995") == 0 || strcmp(port, "pop3s") == 0;
}

static void
login_pre_init(void *ctx)
{
	const char *error;

	(void)ctx;
	log_init(var_syslog_name, proto->name);
	if (strcmp(var_ssl, "no") == 0)
		login_ssl = LOGIN_SSL_NO;
	else if (strcmp(var_ssl, "yes") == 0)
		login_ssl = LOGIN_SSL_YES;
	else if (strcmp(var_ssl, "required") == 0)
		login_ssl = LOGIN_SSL_REQUIRED;
	else
		log_fatal("%s: ssl = %s: expected no, yes or required",
			  proto->name, var_ssl);
	login_wrappermode = var_login_tls_wrappermode ||
			    service_is_wrapper(server_service_name());
	if (login_ssl != LOGIN_SSL_NO || login_wrappermode) {
		if (var_ssl_cert[0] == '\0' || var_ssl_key[0] == '\0') {
			if (login_wrappermode)
				log_fatal("%s: implicit TLS (%s) needs ssl_cert "
					  "and ssl_key",
					  proto->name, server_service_name());
			log_warning("%s: ssl = %s but ssl_cert/ssl_key are not "
				    "set: STARTTLS is not offered",
				    proto->name, var_ssl);
		} else {
			login_tls_ctx = tls_server_ctx_new(
			    login_path(var_ssl_cert), login_path(var_ssl_key),
			    &error);
			if (login_tls_ctx == NULL)
				log_fatal("%s: ssl_cert %s / ssl_key %s: %s",
					  proto->name, var_ssl_cert,
					  var_ssl_key, error);
			if (login_ssl == LOGIN_SSL_NO && login_wrappermode)
				login_ssl = LOGIN_SSL_YES;
		}
	}
}

static void
login_post_init(void *ctx)
{
	(void)ctx;
	login_auth = auth_client_new(server_loop(), var_auth_client_path);
}

int
login_main(int argc, char **argv, const struct login_proto *p)
{
	struct server_spec spec = {0};
	char *config_name;

	proto = p;
	/* imap-login reads imapd.cf, as Dovecot's protocol imap { } block
	 * covers both imap-login and imap. */
	config_name = xasprintf("%sd", p->service);
	spec.name = config_name;
	spec.kind = SERVER_KIND_LISTENER;
	spec.pre_init = login_pre_init;
	spec.post_init = login_post_init;
	spec.on_connect = login_on_connect;
	/* TLS clients stay here (proxied) for their whole session. */
	spec.no_max_use = true;
	server_main(argc, argv, &spec);
}
