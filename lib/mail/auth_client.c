/*
 * auth_client - asynchronous client of the auth daemon's two sockets.
 * Input: lines from the auth daemon, bounded by AUTH_PROTO_MAX_LINE and
 * parsed by auth_proto; anything unexpected drops the connection and fails
 * the pending requests temporarily. Must not block: connecting to a local
 * unix socket is the only system call that could wait, and it does not in
 * practice. Never logs passwords (it logs nothing at all).
 */
#include <string.h>

#include "mail/auth_client.h"
#include "mail/auth_proto.h"
#include "util/base64.h"
#include "util/event.h"
#include "util/sock.h"
#include "util/strbuf.h"
#include "util/stream.h"
#include "util/xmem.h"

#include <unistd.h>

#define AUTH_CLIENT_MAX_OUTPUT (256 * 1024)

struct auth_client_request {
	struct auth_client *client;
	struct auth_client_request *prev, *next;
	unsigned int id;
	auth_client_cb *cb;
	void *ctx;
	bool failing; /* a deferred TEMPFAIL is queued */
	bool aborted; /* ... and nobody wants it any more */
};

struct auth_client {
	struct event_loop *loop;
	char *path;
	struct stream *stream; /* NULL: not connected */
	bool handshake_done;
	unsigned int next_id;
	struct auth_client_request *requests;
	struct auth_client_request *failing; /* deferred TEMPFAILs */
};

struct auth_client *
auth_client_new(struct event_loop *loop, const char *path)
{
	struct auth_client *client = xcalloc(1, sizeof(*client));

	client->loop = loop;
	client->path = xstrdup(path);
	client->next_id = 1;
	return client;
}

static void
auth_client_list_del(struct auth_client_request **head,
		     struct auth_client_request *req)
{
	if (req->prev != NULL)
		req->prev->next = req->next;
	else if (*head == req)
		*head = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

static void
auth_client_list_add(struct auth_client_request **head,
		     struct auth_client_request *req)
{
	req->prev = NULL;
	req->next = *head;
	if (*head != NULL)
		(*head)->prev = req;
	*head = req;
}

static void
auth_client_unlink(struct auth_client *client, struct auth_client_request *req)
{
	auth_client_list_del(&client->requests, req);
}

static void
auth_client_deferred_fail(void *ctx)
{
	struct auth_client_request *req = ctx;
	struct auth_client_reply reply = {
	    .status = AUTH_CLIENT_TEMPFAIL,
	    .reason = "authentication service unavailable",
	};

	if (req->client != NULL)
		auth_client_list_del(&req->client->failing, req);
	if (!req->aborted)
		req->cb(&reply, req->ctx);
	xfree(&req);
}

/* The request's callback gets TEMPFAIL from the loop, never from inside
 * the caller's own call. */
static void
auth_client_fail_later(struct auth_client *client,
		       struct auth_client_request *req)
{
	req->failing = true;
	req->client = client;
	auth_client_list_add(&client->failing, req);
	event_defer(client->loop, auth_client_deferred_fail, req);
}

/* Drops the connection; every pending request fails temporarily (from
 * the loop, so no caller sees a callback from inside its own call). */
static void
auth_client_disconnect(struct auth_client *client)
{
	struct auth_client_request *req, *next;

	stream_free(&client->stream);
	client->handshake_done = false;
	for (req = client->requests; req != NULL; req = next) {
		next = req->next;
		auth_client_fail_later(client, req);
	}
	client->requests = NULL;
}

void
auth_client_free(struct auth_client **clientp)
{
	struct auth_client *client = *clientp;
	struct auth_client_request *req, *next;

	if (client == NULL)
		return;
	for (req = client->requests; req != NULL; req = next) {
		next = req->next;
		xfree(&req);
	}
	client->requests = NULL;
	/* Queued TEMPFAILs still run, but call nobody. */
	for (req = client->failing; req != NULL; req = next) {
		next = req->next;
		req->aborted = true;
		req->client = NULL;
		req->prev = req->next = NULL;
	}
	stream_free(&client->stream);
	xfree(&client->path);
	xfree(clientp);
}

static struct auth_client_request *
auth_client_find(struct auth_client *client, unsigned int id)
{
	struct auth_client_request *req;

	for (req = client->requests; req != NULL; req = req->next) {
		if (req->id == id)
			return req;
	}
	return NULL;
}

static int
auth_client_handle_reply(struct auth_client *client, char **args, size_t n)
{
	struct auth_proto_reply parsed;
	struct auth_client_reply reply = {0};
	struct auth_client_request *req;
	const char *error;

	if (auth_proto_parse_reply(args, n, &parsed, &error) < 0)
		return -1;
	req = auth_client_find(client, parsed.id);
	if (req == NULL)
		return 0; /* aborted meanwhile */
	reply.user = parsed.user;
	reply.reason = parsed.reason;
	reply.final_response = parsed.resp;
	switch (parsed.kind) {
	case AUTH_PROTO_REPLY_CONT:
		reply.status = AUTH_CLIENT_CONTINUE;
		reply.challenge = parsed.data;
		req->cb(&reply, req->ctx);
		return 0;
	case AUTH_PROTO_REPLY_OK:
		reply.status = AUTH_CLIENT_OK;
		break;
	case AUTH_PROTO_REPLY_FAIL:
		reply.status =
		    parsed.temp ? AUTH_CLIENT_TEMPFAIL : AUTH_CLIENT_FAIL;
		break;
	}
	auth_client_unlink(client, req);
	req->cb(&reply, req->ctx);
	xfree(&req);
	return 0;
}

static int
auth_client_handle_line(struct auth_client *client, char *line, size_t len)
{
	char *args[AUTH_PROTO_MAX_ARGS];
	const char *error;
	int n = auth_proto_split(line, len, args, AUTH_PROTO_MAX_ARGS);

	if (n < 0)
		return -1;
	if (client->handshake_done)
		return auth_client_handle_reply(client, args, (size_t)n);
	if (strcmp(args[0], "VERSION") == 0)
		return auth_proto_parse_version(
		    args, (size_t)n, AUTH_PROTO_MAJOR_VERSION, &error);
	if (strcmp(args[0], "DONE") == 0)
		client->handshake_done = true;
	/* MECH, SPID, CUID, COOKIE: nothing we need. */
	return 0;
}

static void
auth_client_read(struct stream *s, void *ctx)
{
	struct auth_client *client = ctx;
	char buf[AUTH_PROTO_MAX_LINE + 1];
	const char *line;
	size_t len;
	int ret;

	while ((ret = stream_read_line(s, &line, &len, NULL)) > 0) {
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (auth_client_handle_line(client, buf, len) < 0) {
			auth_client_disconnect(client);
			return;
		}
		/* A callback may have dropped this connection. */
		if (client->stream != s)
			return;
	}
	if (ret < 0 || stream_eof(s))
		auth_client_disconnect(client);
}

static void
auth_client_error(struct stream *s, enum stream_error err, void *ctx)
{
	(void)s;
	(void)err;
	auth_client_disconnect(ctx);
}

static int
auth_client_connect(struct auth_client *client)
{
	struct strbuf hello;
	const char *error;
	int fd, ret;

	if (client->stream != NULL)
		return 0;
	fd = sock_connect_unix(client->path, &error);
	if (fd < 0)
		return -1;
	if (sock_set_nonblock(fd, true) < 0) {
		close(fd);
		return -1;
	}
	client->stream = stream_new(client->loop, fd, AUTH_PROTO_MAX_LINE,
				    AUTH_CLIENT_MAX_OUTPUT);
	stream_set_callbacks(client->stream, auth_client_read,
			     auth_client_error, client);
	strbuf_init(&hello, 64);
	ret = strbuf_printf(&hello, "VERSION\t%u\t%u\nCPID\t%lu\n",
			    AUTH_PROTO_MAJOR_VERSION, AUTH_PROTO_MINOR_VERSION,
			    (unsigned long)getpid());
	if (ret == 0)
		ret = stream_write(client->stream, hello.data, hello.len);
	strbuf_release(&hello);
	if (ret < 0) {
		stream_free(&client->stream);
		return -1;
	}
	return 0;
}

static int
auth_client_add_opt(struct strbuf *line, const char *name, const char *value)
{
	return value == NULL ? 0 : auth_proto_add_field(line, name, value);
}

struct auth_client_request *
auth_client_begin(struct auth_client *client,
		  const struct auth_client_info *info, auth_client_cb *cb,
		  void *ctx)
{
	struct auth_client_request *req = xcalloc(1, sizeof(*req));
	struct strbuf line;
	int ret;

	req->cb = cb;
	req->ctx = ctx;
	req->id = client->next_id++;
	if (client->next_id == 0)
		client->next_id = 1;
	strbuf_init(&line, AUTH_PROTO_MAX_LINE - 1);
	ret = strbuf_printf(&line, "AUTH\t%u\t", req->id);
	if (ret == 0)
		ret = auth_proto_tabescape(&line, info->mech);
	if (ret == 0)
		ret = auth_proto_add_field(&line, "service", info->service);
	if (ret == 0)
		ret = auth_client_add_opt(&line, "lip", info->local_ip);
	if (ret == 0)
		ret = auth_client_add_opt(&line, "rip", info->remote_ip);
	if (ret == 0 && info->secured)
		ret = auth_proto_add_field(&line, "secured", NULL);
	if (ret == 0)
		ret =
		    auth_client_add_opt(&line, "resp", info->initial_response);
	if (ret == 0)
		ret = strbuf_append_char(&line, '\n');
	if (ret == 0)
		ret = auth_client_connect(client);
	if (ret == 0) {
		req->client = client;
		auth_client_list_add(&client->requests, req);
		if (stream_write(client->stream, line.data, line.len) < 0)
			auth_client_disconnect(client);
	} else {
		auth_client_fail_later(client, req);
	}
	if (line.data != NULL)
		xmem_wipe(line.data, line.len);
	strbuf_release(&line);
	return req;
}

void
auth_client_continue(struct auth_client_request *req, const char *response)
{
	struct auth_client *client = req->client;
	struct strbuf line;

	if (req->failing || client == NULL || client->stream == NULL)
		return; /* a deferred TEMPFAIL is on its way */
	strbuf_init(&line, AUTH_PROTO_MAX_LINE - 1);
	if (strbuf_printf(&line, "CONT\t%u\t", req->id) < 0 ||
	    auth_proto_tabescape(&line, response) < 0 ||
	    strbuf_append_char(&line, '\n') < 0 ||
	    stream_write(client->stream, line.data, line.len) < 0)
		auth_client_disconnect(client);
	if (line.data != NULL)
		xmem_wipe(line.data, line.len);
	strbuf_release(&line);
}

void
auth_client_abort(struct auth_client_request **reqp)
{
	struct auth_client_request *req = *reqp;
	struct auth_client *client;

	*reqp = NULL;
	if (req == NULL)
		return;
	if (req->failing) {
		req->aborted = true; /* the deferred call frees it */
		return;
	}
	client = req->client;
	auth_client_unlink(client, req);
	if (client->stream != NULL) {
		struct strbuf line;

		strbuf_init(&line, 64);
		if (strbuf_printf(&line, "CANCEL\t%u\n", req->id) < 0 ||
		    stream_write(client->stream, line.data, line.len) < 0)
			auth_client_disconnect(client);
		strbuf_release(&line);
	}
	xfree(&req);
}

struct auth_client_request *
auth_client_plain(struct auth_client *client,
		  const struct auth_client_info *info, const char *user,
		  const char *password, auth_client_cb *cb, void *ctx)
{
	struct auth_client_info plain = *info;
	struct strbuf raw, b64;
	struct auth_client_request *req;
	size_t ulen = strlen(user), plen = strlen(password);

	strbuf_init(&raw, 2 * AUTH_CLIENT_CRED_MAX + 2);
	strbuf_init(&b64, 4 * AUTH_CLIENT_CRED_MAX + 8);
	if (ulen > AUTH_CLIENT_CRED_MAX || plen > AUTH_CLIENT_CRED_MAX ||
	    strbuf_append_char(&raw, '\0') < 0 ||
	    strbuf_append(&raw, user, ulen) < 0 ||
	    strbuf_append_char(&raw, '\0') < 0 ||
	    strbuf_append(&raw, password, plen) < 0 ||
	    base64_encode(raw.data, raw.len, &b64) < 0) {
		/* Too long to be anyone's password: a plain failure. */
		strbuf_reset(&b64);
		(void)strbuf_append_str(&b64, "=");
	}
	plain.mech = "PLAIN";
	plain.initial_response = strbuf_cstr(&b64);
	req = auth_client_begin(client, &plain, cb, ctx);
	if (raw.data != NULL)
		xmem_wipe(raw.data, raw.len);
	if (b64.data != NULL)
		xmem_wipe(b64.data, b64.len);
	strbuf_release(&raw);
	strbuf_release(&b64);
	return req;
}

/* --- userdb lookups --- */

struct auth_userdb_lookup {
	struct event_loop *loop;
	struct stream *stream;
	struct event_timer *timer;
	bool greeted; /* VERSION seen */
	auth_userdb_cb *cb;
	void *ctx;
};

static void
auth_userdb_finish(struct auth_userdb_lookup *lookup,
		   enum auth_client_status status, const char *user,
		   char *const *fields, size_t n_fields)
{
	lookup->cb(status, user, fields, n_fields, lookup->ctx);
	stream_free(&lookup->stream);
	event_timer_del(&lookup->timer);
	xfree(&lookup);
}

static void
auth_userdb_timeout(void *ctx)
{
	auth_userdb_finish(ctx, AUTH_CLIENT_TEMPFAIL, NULL, NULL, 0);
}

static void
auth_userdb_deferred_fail(void *ctx)
{
	auth_userdb_finish(ctx, AUTH_CLIENT_TEMPFAIL, NULL, NULL, 0);
}

static void
auth_userdb_error(struct stream *s, enum stream_error err, void *ctx)
{
	(void)s;
	(void)err;
	auth_userdb_finish(ctx, AUTH_CLIENT_TEMPFAIL, NULL, NULL, 0);
}

static void
auth_userdb_read(struct stream *s, void *ctx)
{
	struct auth_userdb_lookup *lookup = ctx;
	char buf[AUTH_PROTO_MAX_LINE + 1], *args[AUTH_PROTO_MAX_ARGS];
	struct auth_proto_userdb_reply reply;
	const char *line, *error;
	size_t len;
	int ret, n;

	while ((ret = stream_read_line(s, &line, &len, NULL)) > 0) {
		memcpy(buf, line, len);
		buf[len] = '\0';
		n = auth_proto_split(buf, len, args, AUTH_PROTO_MAX_ARGS);
		if (n < 0)
			break;
		if (!lookup->greeted) {
			if (auth_proto_parse_version(
				args, (size_t)n,
				AUTH_PROTO_MASTER_MAJOR_VERSION, &error) < 0)
				break;
			lookup->greeted = true;
			continue;
		}
		if (strcmp(args[0], "SPID") == 0)
			continue;
		if (auth_proto_parse_userdb_reply(args, (size_t)n, &reply,
						  &error) < 0 ||
		    reply.id != 1)
			break;
		switch (reply.kind) {
		case AUTH_PROTO_USERDB_USER:
			auth_userdb_finish(lookup, AUTH_CLIENT_OK, reply.user,
					   reply.fields, reply.n_fields);
			return;
		case AUTH_PROTO_USERDB_NOTFOUND:
			auth_userdb_finish(lookup, AUTH_CLIENT_FAIL, NULL, NULL,
					   0);
			return;
		case AUTH_PROTO_USERDB_FAIL:
			auth_userdb_finish(lookup, AUTH_CLIENT_TEMPFAIL, NULL,
					   NULL, 0);
			return;
		}
	}
	if (ret != 0 || stream_eof(s))
		auth_userdb_finish(lookup, AUTH_CLIENT_TEMPFAIL, NULL, NULL, 0);
}

void
auth_client_userdb_lookup(struct event_loop *loop, const char *path,
			  const char *user, const char *service,
			  unsigned int timeout_ms, auth_userdb_cb *cb,
			  void *ctx)
{
	struct auth_userdb_lookup *lookup = xcalloc(1, sizeof(*lookup));
	struct strbuf req;
	const char *error;
	int fd, ret;

	lookup->loop = loop;
	lookup->cb = cb;
	lookup->ctx = ctx;
	strbuf_init(&req, AUTH_PROTO_MAX_LINE - 1);
	ret = strbuf_printf(&req, "VERSION\t%u\t%u\nUSER\t1\t",
			    AUTH_PROTO_MASTER_MAJOR_VERSION,
			    AUTH_PROTO_MASTER_MINOR_VERSION);
	if (ret == 0)
		ret = auth_proto_tabescape(&req, user);
	if (ret == 0)
		ret = auth_proto_add_field(&req, "service", service);
	if (ret == 0)
		ret = strbuf_append_char(&req, '\n');
	fd = ret == 0 ? sock_connect_unix(path, &error) : -1;
	if (fd >= 0 && sock_set_nonblock(fd, true) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0) {
		lookup->stream = stream_new(loop, fd, AUTH_PROTO_MAX_LINE,
					    AUTH_PROTO_MAX_LINE * 2);
		stream_set_callbacks(lookup->stream, auth_userdb_read,
				     auth_userdb_error, lookup);
		if (stream_write(lookup->stream, req.data, req.len) < 0)
			fd = -1;
	}
	strbuf_release(&req);
	if (fd < 0) {
		event_defer(loop, auth_userdb_deferred_fail, lookup);
		return;
	}
	lookup->timer =
	    event_timer_add(loop, timeout_ms > 0 ? timeout_ms : 30000, false,
			    auth_userdb_timeout, lookup);
}
