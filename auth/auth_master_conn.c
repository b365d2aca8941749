/*
 * auth_master_conn - one connection on the userdb socket (Dovecot's
 * auth-userdb, used by lmtpd and the post-login imapd/pop3d): the server
 * greets with "VERSION 1 0" and "SPID pid"; the client answers VERSION,
 * then sends "USER id user service=..." lines and gets "USER id user
 * field=value...", "NOTFOUND id" or "FAIL id". PASS and LIST are answered
 * with a failure (not supported). Input is untrusted: bounded lines, at
 * most AUTH_MASTER_MAX_PENDING lookups at once; a malformed line closes
 * the connection. Lookups run in the worker pool.
 */
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "mail/auth_proto.h"
#include "server/server.h"
#include "util/event.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/stream.h"
#include "util/xmem.h"

#define AUTH_MASTER_MAX_PENDING 128
#define AUTH_MASTER_MAX_OUTPUT (1024 * 1024)
#define AUTH_MASTER_REPLY_MAX AUTH_PROTO_MAX_LINE

struct auth_master_conn {
	struct stream *stream;
	bool version_received;
	bool closing;
	bool destroyed; /* freed once pending lookups come back */
	size_t pending;
};

struct auth_master_lookup {
	struct auth_master_conn *conn;
	unsigned int id;
	char *user;
};

static void
auth_master_conn_free_if_done(struct auth_master_conn *conn)
{
	if (conn->destroyed && conn->pending == 0)
		xfree(&conn);
}

static void
auth_master_conn_destroy(void *ctx)
{
	struct auth_master_conn *conn = ctx;

	stream_free(&conn->stream);
	conn->destroyed = true;
	server_client_done();
	auth_master_conn_free_if_done(conn);
}

static void
auth_master_conn_close(struct auth_master_conn *conn)
{
	if (conn->closing)
		return;
	conn->closing = true;
	stream_pause_read(conn->stream, true);
	event_defer(stream_loop(conn->stream), auth_master_conn_destroy, conn);
}

static void
auth_master_send(struct auth_master_conn *conn, const struct strbuf *line)
{
	if (conn->closing)
		return;
	if (auth_set.debug)
		log_debug("auth: userdb out: %s", strbuf_cstr(line));
	if (stream_write(conn->stream, line->data, line->len) < 0 ||
	    stream_write(conn->stream, "\n", 1) < 0) {
		log_warning("auth: userdb client: output buffer full, "
			    "disconnecting");
		auth_master_conn_close(conn);
	}
}

/* "WORD\tid" plus extra (already escaped). */
static void
auth_master_reply_simple(struct auth_master_conn *conn, const char *word,
			 unsigned int id, const char *extra)
{
	struct strbuf line;

	strbuf_init(&line, 256);
	if (strbuf_printf(&line, "%s\t%u%s", word, id, extra) == 0)
		auth_master_send(conn, &line);
	strbuf_release(&line);
}

static void
auth_master_user_done(enum userdb_result result, const char *user,
		      char *const *fields, size_t n_fields, const char *error,
		      void *ctx)
{
	struct auth_master_lookup *lookup = ctx;
	struct auth_master_conn *conn = lookup->conn;
	struct strbuf line;
	char name[80];

	conn->pending--;
	strbuf_init(&line, AUTH_MASTER_REPLY_MAX);
	switch (result) {
	case USERDB_OK:
		if (strbuf_printf(&line, "USER\t%u\t", lookup->id) < 0 ||
		    auth_proto_tabescape(&line, user) < 0)
			goto toolong;
		for (size_t i = 0; i < n_fields; i++) {
			if (strbuf_append_char(&line, '\t') < 0 ||
			    auth_proto_tabescape(&line, fields[i]) < 0)
				goto toolong;
		}
		break;
	case USERDB_UNKNOWN:
		if (auth_set.verbose)
			log_info(
			    "auth: userdb(%s): unknown user",
			    auth_log_str(lookup->user, name, sizeof(name)));
		(void)strbuf_printf(&line, "NOTFOUND\t%u", lookup->id);
		break;
	case USERDB_TEMPFAIL:
		log_error("auth: userdb(%s): %s",
			  auth_log_str(lookup->user, name, sizeof(name)),
			  error != NULL ? error : "temporary failure");
		(void)strbuf_printf(&line, "FAIL\t%u", lookup->id);
		break;
	}
	if (0) {
	toolong:
		log_error("auth: userdb(%s): reply too long",
			  auth_log_str(lookup->user, name, sizeof(name)));
		strbuf_reset(&line);
		(void)strbuf_printf(&line, "FAIL\t%u", lookup->id);
	}
	if (!conn->destroyed)
		auth_master_send(conn, &line);
	strbuf_release(&line);
	xfree(&lookup->user);
	xfree(&lookup);
	auth_master_conn_free_if_done(conn);
}

static bool
auth_master_input_user(struct auth_master_conn *conn, char **args, size_t n)
{
	struct auth_proto_user req;
	struct auth_master_lookup *lookup;
	const char *error;
	char *user;

	if (auth_proto_parse_user(args, n, &req, &error) < 0) {
		log_error("auth: BUG: userdb client: %s", error);
		return false;
	}
	if (conn->pending >= AUTH_MASTER_MAX_PENDING) {
		log_error("auth: userdb client: more than %d lookups at once",
			  AUTH_MASTER_MAX_PENDING);
		return false;
	}
	user = auth_user_normalize(req.user, &error);
	if (user == NULL) {
		char name[80];

		log_info("auth: userdb(%s): %s",
			 auth_log_str(req.user, name, sizeof(name)), error);
		auth_master_reply_simple(conn, "NOTFOUND", req.id, "");
		return true;
	}
	lookup = xcalloc(1, sizeof(*lookup));
	lookup->conn = conn;
	lookup->id = req.id;
	lookup->user = user;
	conn->pending++;
	auth_userdb_lookup(user, auth_master_user_done, lookup);
	return true;
}

static bool
auth_master_input_line(struct auth_master_conn *conn, char *line, size_t len)
{
	char *args[AUTH_PROTO_MAX_ARGS];
	unsigned int id;
	const char *error;
	int n;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	n = auth_proto_split(line, len, args, AUTH_PROTO_MAX_ARGS);
	if (n < 0) {
		log_error("auth: BUG: userdb client sent a malformed line");
		return false;
	}
	if (!conn->version_received) {
		if (auth_proto_parse_version(args, (size_t)n,
					     AUTH_PROTO_MASTER_MAJOR_VERSION,
					     &error) < 0) {
			log_error("auth: userdb client not compatible with "
				  "this server: %s",
				  error);
			return false;
		}
		conn->version_received = true;
		return true;
	}
	if (strcmp(args[0], "USER") == 0)
		return auth_master_input_user(conn, args, (size_t)n);
	if ((strcmp(args[0], "PASS") == 0 || strcmp(args[0], "LIST") == 0) &&
	    n >= 2 && auth_proto_parse_uint(args[1], &id) == 0) {
		/* Not offered: answered, so a client can carry on. */
		if (args[0][0] == 'P')
			auth_master_reply_simple(conn, "FAIL", id,
						 "\treason=PASS lookups are "
						 "not supported");
		else
			auth_master_reply_simple(conn, "DONE", id, "\tfail");
		return true;
	}
	{
		char word[80];

		log_error("auth: BUG: unknown command in userdb socket: %s",
			  auth_log_str(args[0], word, sizeof(word)));
	}
	return false;
}

static void
auth_master_conn_read(struct stream *s, void *ctx)
{
	struct auth_master_conn *conn = ctx;
	char buf[AUTH_PROTO_MAX_LINE + 1];
	const char *line;
	size_t len;
	int ret = 0;

	while (!conn->closing &&
	       (ret = stream_read_line(s, &line, &len, NULL)) > 0) {
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (!auth_master_input_line(conn, buf, len))
			auth_master_conn_close(conn);
	}
	if (conn->closing)
		return;
	if (ret < 0 || stream_eof(s))
		auth_master_conn_close(conn);
}

static void
auth_master_conn_error(struct stream *s, enum stream_error err, void *ctx)
{
	(void)s;
	(void)err;
	auth_master_conn_close(ctx);
}

void
auth_master_conn_new(int fd)
{
	struct auth_master_conn *conn = xcalloc(1, sizeof(*conn));
	struct strbuf hs;

	conn->stream = stream_new(server_loop(), fd, AUTH_PROTO_MAX_LINE,
				  AUTH_MASTER_MAX_OUTPUT);
	stream_set_callbacks(conn->stream, auth_master_conn_read,
			     auth_master_conn_error, conn);
	strbuf_init(&hs, 128);
	if (strbuf_printf(&hs, "VERSION\t%u\t%u\nSPID\t%lu\n",
			  AUTH_PROTO_MASTER_MAJOR_VERSION,
			  AUTH_PROTO_MASTER_MINOR_VERSION,
			  (unsigned long)getpid()) < 0 ||
	    stream_write(conn->stream, hs.data, hs.len) < 0)
		auth_master_conn_close(conn);
	strbuf_release(&hs);
}
