/*
 * server_listen - the listening socket at run time: accepting clients for
 * SERVER_KIND_LISTENER (several processes share one socket, so EAGAIN is
 * normal), reading wake-up requests for SERVER_KIND_TRIGGER (bounded size
 * and time), the trigger timer, client accounting for max_use and
 * max_idle, and the graceful SIGTERM shutdown. Trigger bytes come from
 * any local process that can reach the socket: they are only handed on,
 * never interpreted here. Must not block the loop.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "server/server_private.h"
#include "util/event.h"
#include "util/log.h"
#include "util/xmem.h"

/* Accepts per readiness callback, so one busy socket cannot starve the
 * clients already connected. */
#define SERVER_ACCEPT_BATCH 64
/* Back-off after EMFILE and friends. */
#define SERVER_ACCEPT_RETRY_MS 1000
#define SERVER_TRIGGER_MAX 1024
#define SERVER_TRIGGER_TIMEOUT_MS 1000
#define SERVER_TRIGGER_CONCURRENCY 64

struct server_trigger {
	int fd;
	struct event_io *io;
	struct event_timer *timer;
	size_t len;
	char buf[SERVER_TRIGGER_MAX];
};

static unsigned int
server_ms(unsigned long long ms)
{
	return ms > UINT_MAX ? UINT_MAX : (unsigned int)ms;
}

static void
server_idle_expired(void *ctx)
{
	struct server_state *st = &server_state;

	(void)ctx;
	event_timer_del(&st->idle_timer);
	if (st->live == 0) {
		log_debug("server: idle for %llu ms: exiting", st->max_idle_ms);
		event_loop_stop(st->loop);
	}
}

static void
server_idle_arm(void)
{
	struct server_state *st = &server_state;

	if (st->max_idle_ms == 0 || st->stopping || st->recycling)
		return;
	if (st->idle_timer != NULL)
		event_timer_reset(st->idle_timer);
	else
		st->idle_timer =
		    event_timer_add(st->loop, server_ms(st->max_idle_ms), false,
				    server_idle_expired, NULL);
}

void
server_client_done(void)
{
	struct server_state *st = &server_state;

	if (st->live == 0) {
		log_warning("server_client_done: no client is live");
		return;
	}
	st->live--;
	if (st->live > 0)
		return;
	if (st->stopping || st->recycling)
		event_loop_stop(st->loop);
	else
		server_idle_arm();
}

static void server_accept_retry(void *ctx);

static void
server_accept_pause(void)
{
	struct server_state *st = &server_state;

	if (st->listen_io == NULL || st->accept_retry_timer != NULL)
		return;
	event_io_set(st->listen_io, 0);
	st->accept_retry_timer = event_timer_add(
	    st->loop, SERVER_ACCEPT_RETRY_MS, false, server_accept_retry, NULL);
}

static void
server_accept_retry(void *ctx)
{
	struct server_state *st = &server_state;

	(void)ctx;
	event_timer_del(&st->accept_retry_timer);
	if (st->listen_io != NULL)
		event_io_set(st->listen_io, EVENT_READ);
}

/* -1: stop this round (EAGAIN or trouble), else a new non-blocking fd. */
static int
server_accept_one(int lfd)
{
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return -1;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case EOPNOTSUPP:
		case ENETUNREACH:
			/* Linux reports the peer's network errors here. */
			continue;
		default:
			log_warning("server: accept: %s", strerror(errno));
			server_accept_pause();
			return -1;
		}
	}
}

static void
server_on_listener(void *ctx, int lfd, unsigned int events)
{
	struct server_state *st = &server_state;
	int i, fd;

	(void)ctx;
	(void)events;
	for (i = 0; i < SERVER_ACCEPT_BATCH; i++) {
		if (st->stopping || st->recycling || st->listen_io == NULL)
			return;
		fd = server_accept_one(lfd);
		if (fd < 0)
			return;
		st->accepted++;
		st->live++;
		event_timer_del(&st->idle_timer);
		if (st->max_use > 0 && st->accepted >= st->max_use) {
			/* Master starts a fresh process for new clients. */
			log_debug("server: max_use %llu reached", st->max_use);
			st->recycling = true;
			server_listen_stop();
		}
		st->spec->on_connect(fd, st->spec->ctx);
	}
}

static void
server_trigger_finish(struct server_trigger *t)
{
	struct server_state *st = &server_state;

	event_io_del(&t->io);
	event_timer_del(&t->timer);
	close(t->fd);
	st->triggers--;
	if (!st->stopping)
		st->spec->on_trigger(t->len > 0 ? t->buf : NULL, t->len,
				     st->spec->ctx);
	xfree(&t);
}

static void
server_trigger_timeout(void *ctx)
{
	struct server_trigger *t = ctx;

	log_debug("server: trigger: no end of request after %d ms",
		  SERVER_TRIGGER_TIMEOUT_MS);
	server_trigger_finish(t);
}

static void
server_trigger_read(void *ctx, int fd, unsigned int events)
{
	struct server_trigger *t = ctx;
	ssize_t n;

	(void)events;
	for (;;) {
		n = read(fd, t->buf + t->len, sizeof(t->buf) - t->len);
		if (n > 0) {
			t->len += (size_t)n;
			if (t->len == sizeof(t->buf))
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0)
			log_debug("server: trigger: read: %s", strerror(errno));
		break;
	}
	server_trigger_finish(t);
}

static void
server_on_trigger_socket(void *ctx, int lfd, unsigned int events)
{
	struct server_state *st = &server_state;
	struct server_trigger *t;
	int i, fd;

	(void)ctx;
	(void)events;
	for (i = 0; i < SERVER_ACCEPT_BATCH; i++) {
		if (st->stopping || st->listen_io == NULL)
			return;
		fd = server_accept_one(lfd);
		if (fd < 0)
			return;
		if (st->triggers >= SERVER_TRIGGER_CONCURRENCY) {
			/* One wake-up in progress is as good as many. */
			close(fd);
			continue;
		}
		t = xcalloc(1, sizeof(*t));
		t->fd = fd;
		st->triggers++;
		t->io = event_io_add(st->loop, fd, EVENT_READ,
				     server_trigger_read, t);
		t->timer = event_timer_add(st->loop, SERVER_TRIGGER_TIMEOUT_MS,
					   false, server_trigger_timeout, t);
	}
}

static void
server_on_periodic(void *ctx)
{
	(void)ctx;
	if (!server_state.stopping)
		server_state.spec->on_timer(server_state.spec->ctx);
}

void
server_listen_start(void)
{
	struct server_state *st = &server_state;
	const struct server_spec *spec = st->spec;

	if (spec->kind == SERVER_KIND_LISTENER) {
		st->listen_io =
		    event_io_add(st->loop, st->listen_fd, EVENT_READ,
				 server_on_listener, NULL);
		server_idle_arm();
		return;
	}
	if (st->listen_fd >= 0 && spec->on_trigger != NULL)
		st->listen_io =
		    event_io_add(st->loop, st->listen_fd, EVENT_READ,
				 server_on_trigger_socket, NULL);
	if (spec->on_timer != NULL && spec->timer_interval > 0)
		st->periodic_timer = event_timer_add(
		    st->loop,
		    server_ms((unsigned long long)spec->timer_interval * 1000),
		    true, server_on_periodic, NULL);
}

void
server_listen_stop(void)
{
	struct server_state *st = &server_state;

	event_io_del(&st->listen_io);
	event_timer_del(&st->accept_retry_timer);
	if (st->listen_fd >= 0) {
		/* Master keeps its own copy for the next process. */
		close(st->listen_fd);
		st->listen_fd = -1;
	}
}

static void
server_shutdown_expired(void *ctx)
{
	struct server_state *st = &server_state;

	(void)ctx;
	event_timer_del(&st->shutdown_timer);
	log_warning("server: %llu client(s) still connected after "
		    "daemon_shutdown_timeout: exiting",
		    st->live);
	event_loop_stop(st->loop);
}

void
server_begin_shutdown(void)
{
	struct server_state *st = &server_state;

	if (st->stopping)
		return;
	st->stopping = true;
	server_listen_stop();
	event_timer_del(&st->idle_timer);
	event_timer_del(&st->periodic_timer);
	if (st->spec->on_shutdown != NULL)
		st->spec->on_shutdown(st->spec->ctx);
	if (st->spec->kind != SERVER_KIND_LISTENER || st->live == 0) {
		event_loop_stop(st->loop);
		return;
	}
	if (var_daemon_shutdown_timeout > 0)
		st->shutdown_timer = event_timer_add(
		    st->loop,
		    server_ms((unsigned long long)var_daemon_shutdown_timeout *
			      1000),
		    false, server_shutdown_expired, NULL);
}
