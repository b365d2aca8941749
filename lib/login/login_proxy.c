/*
 * login_proxy - after a TLS client logged in, its TLS session stays in the
 * login process and the plaintext flows over a socketpair to the session
 * process, as Dovecot's login processes proxy (the session process never
 * holds the TLS keys). Bytes are copied, never parsed. Each direction
 * stops reading while the other side has LOGIN_PROXY_HIGH bytes queued.
 */
#include <stdbool.h>
#include <stddef.h>

#include "login/login_private.h"
#include "server/server.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/stream.h"
#include "util/xmem.h"

#define LOGIN_PROXY_MAX_OUTPUT (1024 * 1024)
#define LOGIN_PROXY_HIGH (256 * 1024)
#define LOGIN_PROXY_CHUNK (64 * 1024)

struct login_proxy {
	struct stream *client;	/* TLS, to the user's client */
	struct stream *session; /* plaintext, to the session process */
	bool closing;
};

static void
proxy_free(struct login_proxy *p)
{
	if (p->closing)
		return;
	p->closing = true;
	stream_free(&p->client);
	stream_free(&p->session);
	xfree(&p);
	server_client_done();
}

/* Copies what from has buffered to to. */
static void
proxy_copy(struct login_proxy *p, struct stream *from, struct stream *to)
{
	const char *data;
	size_t n;

	while (stream_output_pending(to) < LOGIN_PROXY_HIGH &&
	       (n = stream_read(from, &data, LOGIN_PROXY_CHUNK)) > 0) {
		if (stream_write(to, data, n) < 0) {
			proxy_free(p);
			return;
		}
	}
	if (stream_output_pending(to) >= LOGIN_PROXY_HIGH)
		stream_pause_read(from, true);
	else if (stream_eof(from)) {
		/* The other side gets what was queued first: stream_free
		 * makes one last write attempt. */
		proxy_free(p);
	}
}

static void
proxy_client_input(struct stream *s, void *ctx)
{
	struct login_proxy *p = ctx;

	proxy_copy(p, s, p->session);
}

static void
proxy_session_input(struct stream *s, void *ctx)
{
	struct login_proxy *p = ctx;

	proxy_copy(p, s, p->client);
}

static void
proxy_error(struct stream *s, enum stream_error err, void *ctx)
{
	struct login_proxy *p = ctx;

	(void)s;
	(void)err;
	proxy_free(p);
}

/* Output drained: reading from the other side may go on. */
static void
proxy_client_drained(struct stream *s, void *ctx)
{
	struct login_proxy *p = ctx;

	(void)s;
	stream_pause_read(p->session, false);
	proxy_copy(p, p->session, p->client);
}

static void
proxy_session_drained(struct stream *s, void *ctx)
{
	struct login_proxy *p = ctx;

	(void)s;
	stream_pause_read(p->client, false);
	proxy_copy(p, p->client, p->session);
}

void
login_proxy_start(struct stream *client, int session_fd)
{
	struct login_proxy *p = xcalloc(1, sizeof(*p));

	(void)sock_set_nonblock(session_fd, true);
	p->client = client;
	p->session = stream_new(stream_loop(client), session_fd,
				LOGIN_PROXY_CHUNK, LOGIN_PROXY_MAX_OUTPUT);
	stream_set_timeout(p->client, 0);
	stream_set_timeout(p->session, 0);
	stream_set_callbacks(p->client, proxy_client_input, proxy_error, p);
	stream_set_callbacks(p->session, proxy_session_input, proxy_error, p);
	stream_set_drain_callback(p->client, proxy_client_drained);
	stream_set_drain_callback(p->session, proxy_session_drained);
	/* Input the client sent with its login went into the handoff; what
	 * came after is still buffered. */
	if (stream_input_pending(p->client) > 0)
		proxy_copy(p, p->client, p->session);
}
