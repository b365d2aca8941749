/*
 * auth_client_conn - one connection on the auth client socket (Postfix's
 * smtpd_sasl_path, our smtpd/imapd/pop3d): the server handshake as
 * Dovecot sends it (VERSION, MECH..., SPID, CUID, COOKIE, DONE), then the
 * client's VERSION and CPID, then AUTH/CONT/CANCEL lines. Input is
 * untrusted: lines are bounded by AUTH_PROTO_MAX_LINE, requests per
 * connection by AUTH_CONN_MAX_REQUESTS; any malformed line, unknown
 * command or over-long line closes this connection only (as Dovecot).
 * Must not block: all slow work happens in auth_request/auth_passdb.
 */
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth.h"
#include "mail/auth_proto.h"
#include "server/server.h"
#include "util/event.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/stream.h"
#include "util/xmem.h"

#define AUTH_CONN_MAX_REQUESTS 128
#define AUTH_CONN_MAX_OUTPUT (256 * 1024)

struct auth_client_conn {
	struct stream *stream;
	unsigned int cuid;
	unsigned int pid;
	bool version_received;
	bool handshake_done; /* CPID received */
	bool closing;
	struct auth_request *requests;
	size_t n_requests;
};

static unsigned int auth_client_cuid_counter;

static void auth_client_conn_close(struct auth_client_conn *conn);

static void
auth_client_conn_destroy(void *ctx)
{
	struct auth_client_conn *conn = ctx;
	struct auth_request *req, *next;

	for (req = conn->requests; req != NULL; req = next) {
		next = req->next;
		req->prev = req->next = NULL;
		auth_request_abort(req);
	}
	conn->requests = NULL;
	stream_free(&conn->stream);
	xfree(&conn);
	server_client_done();
}

/* Closing is deferred so no caller up the stack sees a freed connection. */
static void
auth_client_conn_close(struct auth_client_conn *conn)
{
	if (conn->closing)
		return;
	conn->closing = true;
	stream_pause_read(conn->stream, true);
	event_defer(stream_loop(conn->stream), auth_client_conn_destroy, conn);
}

void
auth_client_conn_send(struct auth_client_conn *conn, const struct strbuf *line)
{
	if (conn->closing)
		return;
	if (auth_set.debug && line->len < 200 &&
	    strncmp(strbuf_cstr(line), "CONT", 4) != 0)
		log_debug("auth: client out: %s", strbuf_cstr(line));
	if (stream_write(conn->stream, line->data, line->len) < 0 ||
	    stream_write(conn->stream, "\n", 1) < 0) {
		log_warning("auth: client %u: output buffer full, "
			    "disconnecting",
			    conn->pid);
		auth_client_conn_close(conn);
	}
}

void
auth_client_conn_request_done(struct auth_client_conn *conn,
			      struct auth_request *req)
{
	if (req->prev != NULL)
		req->prev->next = req->next;
	else if (conn->requests == req)
		conn->requests = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
	conn->n_requests--;
}

static struct auth_request *
auth_client_conn_find(struct auth_client_conn *conn, unsigned int id)
{
	struct auth_request *req;

	for (req = conn->requests; req != NULL; req = req->next) {
		if (req->id == id)
			return req;
	}
	return NULL;
}

static bool
auth_client_input_auth(struct auth_client_conn *conn, char **args, size_t n)
{
	struct auth_proto_auth auth;
	const struct auth_mech *mech;
	struct auth_request *req;
	const char *error;

	if (auth_proto_parse_auth(args, n, &auth, &error) < 0) {
		log_error("auth: BUG: client %u: %s", conn->pid, error);
		return false;
	}
	mech = auth_settings_find_mech(auth.mech);
	if (mech == NULL) {
		char name[80];

		log_error("auth: BUG: client %u requested unsupported "
			  "mechanism %s",
			  conn->pid,
			  auth_log_str(auth.mech, name, sizeof(name)));
		return false;
	}
	if (auth_client_conn_find(conn, auth.id) != NULL) {
		log_error("auth: BUG: client %u sent a duplicate id %u",
			  conn->pid, auth.id);
		return false;
	}
	if (conn->n_requests >= AUTH_CONN_MAX_REQUESTS) {
		log_error("auth: client %u: more than %d requests at once",
			  conn->pid, AUTH_CONN_MAX_REQUESTS);
		return false;
	}
	req = auth_request_new(conn, &auth, mech);
	req->next = conn->requests;
	if (conn->requests != NULL)
		conn->requests->prev = req;
	conn->requests = req;
	conn->n_requests++;
	auth_request_start(req, auth.resp);
	return true;
}

static bool
auth_client_input_cont(struct auth_client_conn *conn, char **args, size_t n)
{
	struct auth_request *req;
	const char *data, *error;
	unsigned int id;

	if (auth_proto_parse_cont(args, n, &id, &data, &error) < 0) {
		log_error("auth: BUG: client %u: %s", conn->pid, error);
		return false;
	}
	req = auth_client_conn_find(conn, id);
	if (req == NULL) {
		struct strbuf line;

		strbuf_init(&line, 128);
		(void)strbuf_printf(&line,
				    "FAIL\t%u\treason=Authentication "
				    "request timed out",
				    id);
		auth_client_conn_send(conn, &line);
		strbuf_release(&line);
		return true;
	}
	auth_request_continue(req, data);
	return true;
}

static bool
auth_client_input_cancel(struct auth_client_conn *conn, char **args, size_t n)
{
	struct auth_request *req;
	unsigned int id;

	if (n != 2 || auth_proto_parse_uint(args[1], &id) < 0) {
		log_error("auth: BUG: client %u sent broken CANCEL", conn->pid);
		return false;
	}
	req = auth_client_conn_find(conn, id);
	if (req != NULL) {
		auth_client_conn_request_done(conn, req);
		auth_request_abort(req);
	}
	return true;
}

static bool
auth_client_input_handshake(struct auth_client_conn *conn, char **args,
			    size_t n)
{
	const char *error;

	if (!conn->version_received) {
		if (auth_proto_parse_version(args, n, AUTH_PROTO_MAJOR_VERSION,
					     &error) < 0) {
			log_error("auth: client not compatible with this "
				  "server: %s",
				  error);
			return false;
		}
		conn->version_received = true;
		return true;
	}
	if (strcmp(args[0], "CPID") != 0 || n != 2 ||
	    auth_proto_parse_uint(args[1], &conn->pid) < 0 || conn->pid == 0) {
		log_error("auth: BUG: client sent a broken handshake");
		return false;
	}
	conn->handshake_done = true;
	if (auth_set.debug)
		log_debug("auth: client connected (pid=%u)", conn->pid);
	return true;
}

static bool
auth_client_input_line(struct auth_client_conn *conn, char *line, size_t len)
{
	char *args[AUTH_PROTO_MAX_ARGS];
	int n;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	n = auth_proto_split(line, len, args, AUTH_PROTO_MAX_ARGS);
	if (n < 0) {
		log_error("auth: BUG: client %u sent a malformed line",
			  conn->pid);
		return false;
	}
	if (!conn->handshake_done)
		return auth_client_input_handshake(conn, args, (size_t)n);
	switch (auth_proto_client_cmd(args[0])) {
	case AUTH_PROTO_CMD_AUTH:
		return auth_client_input_auth(conn, args, (size_t)n);
	case AUTH_PROTO_CMD_CONT:
		return auth_client_input_cont(conn, args, (size_t)n);
	case AUTH_PROTO_CMD_CANCEL:
		return auth_client_input_cancel(conn, args, (size_t)n);
	default: {
		char word[80];

		log_error("auth: BUG: client %u sent unknown command: %s",
			  conn->pid, auth_log_str(args[0], word, sizeof(word)));
		return false;
	}
	}
}

static void
auth_client_conn_read(struct stream *s, void *ctx)
{
	struct auth_client_conn *conn = ctx;
	char buf[AUTH_PROTO_MAX_LINE + 1];
	const char *line;
	size_t len;
	int ret = 0;

	while (!conn->closing &&
	       (ret = stream_read_line(s, &line, &len, NULL)) > 0) {
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (!auth_client_input_line(conn, buf, len))
			auth_client_conn_close(conn);
		xmem_wipe(buf, len);
	}
	if (conn->closing)
		return;
	if (ret < 0) {
		if (stream_get_error(s) == STREAM_ERR_LINE_TOO_LONG)
			log_error("auth: BUG: client %u sent us more than %d "
				  "bytes",
				  conn->pid, AUTH_PROTO_MAX_LINE);
		auth_client_conn_close(conn);
	} else if (stream_eof(s)) {
		auth_client_conn_close(conn);
	}
}

static void
auth_client_conn_error(struct stream *s, enum stream_error err, void *ctx)
{
	struct auth_client_conn *conn = ctx;

	(void)s;
	if (err == STREAM_ERR_LINE_TOO_LONG)
		log_error("auth: BUG: client %u sent us more than %d bytes",
			  conn->pid, AUTH_PROTO_MAX_LINE);
	else if (err != STREAM_ERR_EOF && auth_set.debug)
		log_debug("auth: client %u: connection error %d", conn->pid,
			  (int)err);
	auth_client_conn_close(conn);
}

void
auth_client_conn_new(int fd)
{
	struct auth_client_conn *conn = xcalloc(1, sizeof(*conn));
	struct auth_proto_mech mechs[8];
	unsigned char cookie[AUTH_PROTO_COOKIE_SIZE];
	struct strbuf hs;

	conn->cuid = ++auth_client_cuid_counter;
	conn->stream = stream_new(server_loop(), fd, AUTH_PROTO_MAX_LINE,
				  AUTH_CONN_MAX_OUTPUT);
	stream_set_callbacks(conn->stream, auth_client_conn_read,
			     auth_client_conn_error, conn);
	for (size_t i = 0; i < auth_set.n_mechs; i++) {
		mechs[i].name = auth_set.mechs[i]->name;
		mechs[i].flags = auth_set.mechs[i]->flags;
	}
	if (getrandom(cookie, sizeof(cookie), 0) != (ssize_t)sizeof(cookie))
		log_fatal("auth: getrandom failed");
	strbuf_init(&hs, AUTH_PROTO_MAX_LINE);
	if (auth_proto_handshake(&hs, mechs, auth_set.n_mechs,
				 (unsigned long)getpid(), conn->cuid,
				 cookie) < 0 ||
	    stream_write(conn->stream, hs.data, hs.len) < 0)
		auth_client_conn_close(conn);
	strbuf_release(&hs);
}
