/*
 * stream - buffered non-blocking connection (plain or TLS) on the event
 * loop. Everything read is untrusted peer data: the input buffer is bounded
 * (max(max_line, STREAM_MIN_BUF)), lines over max_line are an error, never
 * truncated, and output is bounded by max_output. TLS runs OpenSSL directly
 * on the fd with non-blocking SSL_read/SSL_write. Callbacks may free the
 * stream: every entry from the loop holds an "in callback" count and the
 * memory is released only when the outermost entry returns. It must not
 * block, and must not call a user callback from a user-called function.
 * SSL writes may raise SIGPIPE: daemons ignore it (the server skeleton does).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "util/event.h"
#include "util/stream.h"
#include "util/xmem.h"

#define STREAM_MIN_BUF 4096

enum stream_tls_state {
	STREAM_TLS_NONE,
	STREAM_TLS_PENDING, /* plaintext output still draining */
	STREAM_TLS_HANDSHAKE,
	STREAM_TLS_ACTIVE,
};

struct stream {
	struct event_loop *loop;
	int fd;
	struct event_io *io;
	struct event_timer *timer; /* idle deadline */
	struct event_timer *kick;  /* re-run the handler on the next pass */
	unsigned int timeout_msecs;

	char *ibuf;
	size_t ipos, ilen, isize, icap, scan;
	size_t max_line;

	char *obuf;
	size_t opos, olen, osize, max_output;

	stream_read_cb *on_read;
	stream_error_cb *on_error;
	stream_drain_cb *on_drain;
	stream_tls_cb *on_tls;
	void *ctx;

	SSL *ssl;
	enum stream_tls_state tls_state;
	unsigned int hs_want;
	bool tls_read_wants_write;
	bool tls_write_wants_read;
	char tls_desc[160];

	enum stream_error error;
	unsigned int in_cb;
	bool paused;
	bool eof_seen;
	bool error_reported;
	bool freed;
};

static void stream_io_cb(void *ctx, int fd, unsigned int events);
static void stream_update_io(struct stream *s);

struct stream *
stream_new(struct event_loop *loop, int fd, size_t max_line, size_t max_output)
{
	struct stream *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->fd = fd;
	s->max_line = max_line == 0 ? 1 : max_line;
	s->icap = s->max_line < STREAM_MIN_BUF ? STREAM_MIN_BUF : s->max_line;
	s->max_output = max_output;
	s->io = event_io_add(loop, fd, 0, stream_io_cb, s);
	stream_update_io(s);
	return s;
}

static void
stream_destroy(struct stream *s)
{
	event_io_del(&s->io);
	event_timer_del(&s->timer);
	event_timer_del(&s->kick);
	/* One non-blocking attempt to send what is queued, so a last reply
	 * ("421 timeout") reaches the peer when the owner frees at once. */
	if (s->olen > 0 &&
	    (!s->error_reported || s->error == STREAM_ERR_TIMEOUT)) {
		if (s->tls_state == STREAM_TLS_ACTIVE) {
			ERR_clear_error();
			(void)SSL_write(s->ssl, s->obuf + s->opos,
					s->olen > INT_MAX ? INT_MAX
							  : (int)s->olen);
		} else if (s->tls_state == STREAM_TLS_NONE) {
			(void)send(s->fd, s->obuf + s->opos, s->olen,
				   MSG_NOSIGNAL | MSG_DONTWAIT);
		}
	}
	if (s->ssl != NULL) {
		if (s->tls_state == STREAM_TLS_ACTIVE &&
		    (!s->error_reported || s->error == STREAM_ERR_TIMEOUT)) {
			ERR_clear_error();
			(void)SSL_shutdown(s->ssl);
		}
		SSL_free(s->ssl);
		ERR_clear_error();
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s->ibuf);
	free(s->obuf);
	free(s);
}

void
stream_free(struct stream **sp)
{
	struct stream *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	if (s->in_cb > 0) {
		/* Released when the outermost loop entry returns. */
		s->freed = true;
		event_io_del(&s->io);
		event_timer_del(&s->timer);
		event_timer_del(&s->kick);
		return;
	}
	stream_destroy(s);
}

static void
stream_leave(struct stream *s)
{
	if (--s->in_cb == 0 && s->freed)
		stream_destroy(s);
}

void
stream_set_callbacks(struct stream *s, stream_read_cb *on_read,
		     stream_error_cb *on_error, void *ctx)
{
	s->on_read = on_read;
	s->on_error = on_error;
	s->ctx = ctx;
}

void
stream_set_drain_callback(struct stream *s, stream_drain_cb *on_drain)
{
	s->on_drain = on_drain;
}

static bool
stream_reading(const struct stream *s)
{
	return !s->paused && !s->eof_seen && !s->error_reported &&
	       s->error == STREAM_ERR_NONE && s->ilen < s->icap;
}

static void
stream_update_io(struct stream *s)
{
	unsigned int ev = 0;

	if (s->io == NULL)
		return;
	if (!s->error_reported && !s->freed) {
		switch (s->tls_state) {
		case STREAM_TLS_NONE:
		case STREAM_TLS_ACTIVE:
			if (stream_reading(s) || s->tls_write_wants_read)
				ev |= EVENT_READ;
			if (s->olen > 0 || s->tls_read_wants_write)
				ev |= EVENT_WRITE;
			break;
		case STREAM_TLS_PENDING:
			/* Do not read: anything arriving now is plaintext
			 * that must not be taken as part of the session. */
			if (s->olen > 0)
				ev |= EVENT_WRITE;
			break;
		case STREAM_TLS_HANDSHAKE:
			ev = s->hs_want;
			break;
		}
	}
	event_io_set(s->io, ev);
}

/* ---- timers ---- */

static void
stream_fail(struct stream *s, enum stream_error err)
{
	if (s->error_reported || s->freed)
		return;
	s->error_reported = true;
	s->error = err;
	event_timer_del(&s->timer);
	stream_update_io(s);
	if (s->on_error != NULL)
		s->on_error(s, err, s->ctx);
}

static void
stream_timeout_cb(void *ctx)
{
	struct stream *s = ctx;

	s->in_cb++;
	stream_fail(s, STREAM_ERR_TIMEOUT);
	stream_leave(s);
}

static void
stream_timer_restart(struct stream *s)
{
	if (s->timeout_msecs == 0 || s->paused || s->error_reported) {
		event_timer_del(&s->timer);
		return;
	}
	if (s->timer == NULL)
		s->timer = event_timer_add(s->loop, s->timeout_msecs, false,
					   stream_timeout_cb, s);
	else
		event_timer_reset(s->timer);
}

void
stream_set_timeout(struct stream *s, unsigned int msecs)
{
	s->timeout_msecs = msecs;
	event_timer_del(&s->timer);
	stream_timer_restart(s);
}

static void
stream_kick_cb(void *ctx)
{
	struct stream *s = ctx;

	event_timer_del(&s->kick);
	stream_io_cb(s, s->fd, 0);
}

static void
stream_schedule_kick(struct stream *s)
{
	if (s->kick == NULL && !s->freed)
		s->kick = event_timer_add(s->loop, 0, false, stream_kick_cb, s);
}

void
stream_pause_read(struct stream *s, bool pause)
{
	if (s->paused == pause)
		return;
	s->paused = pause;
	stream_timer_restart(s);
	stream_update_io(s);
	/* Buffered input (or input held inside OpenSSL) would otherwise
	 * wait for the next packet. */
	if (!pause && (s->ilen > 0 || s->eof_seen ||
		       (s->ssl != NULL && SSL_pending(s->ssl) > 0)))
		stream_schedule_kick(s);
}

/* ---- input ---- */

/* Makes room at the end of the input buffer; false when it is full. */
static bool
stream_input_room(struct stream *s)
{
	if (s->ilen == 0)
		s->ipos = 0;
	if (s->ipos + s->ilen < s->isize)
		return true;
	if (s->ipos > 0) {
		memmove(s->ibuf, s->ibuf + s->ipos, s->ilen);
		s->ipos = 0;
		return true;
	}
	if (s->isize >= s->icap)
		return false;
	s->isize = s->isize == 0 ? STREAM_MIN_BUF : s->isize * 2;
	if (s->isize > s->icap)
		s->isize = s->icap;
	s->ibuf = xrealloc(s->ibuf, s->isize);
	return true;
}

static bool
stream_tls_unexpected_eof(void)
{
	unsigned long e = ERR_peek_error();

	return e == 0 ||
	       ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* Reads what the socket has; returns bytes read, or -1 after a failure
 * was reported. EOF sets eof_seen. */
static ssize_t
stream_fill(struct stream *s)
{
	ssize_t total = 0, n;

	s->tls_read_wants_write = false;
	while (stream_input_room(s)) {
		char *p = s->ibuf + s->ipos + s->ilen;
		size_t room = s->isize - s->ipos - s->ilen;

		if (s->ssl == NULL) {
			n = read(s->fd, p, room);
			if (n > 0) {
				s->ilen += (size_t)n;
				return n;
			}
			if (n == 0) {
				s->eof_seen = true;
				return 0;
			}
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			stream_fail(s, STREAM_ERR_IO);
			return -1;
		}
		ERR_clear_error();
		n = SSL_read(s->ssl, p, room > INT_MAX ? INT_MAX : (int)room);
		if (n > 0) {
			s->ilen += (size_t)n;
			total += n;
			continue;
		}
		switch (SSL_get_error(s->ssl, (int)n)) {
		case SSL_ERROR_WANT_READ:
			return total;
		case SSL_ERROR_WANT_WRITE:
			s->tls_read_wants_write = true;
			return total;
		case SSL_ERROR_ZERO_RETURN:
			s->eof_seen = true;
			return total;
		case SSL_ERROR_SYSCALL:
			if (errno == 0 || stream_tls_unexpected_eof()) {
				s->eof_seen = true;
				return total;
			}
			stream_fail(s, STREAM_ERR_IO);
			return -1;
		default:
			if (ERR_GET_REASON(ERR_peek_error()) ==
			    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
				s->eof_seen = true;
				return total;
			}
			stream_fail(s, STREAM_ERR_TLS);
			return -1;
		}
	}
	return total;
}

static void
stream_consumed(struct stream *s, bool was_full)
{
	if (s->ilen == 0)
		s->ipos = 0;
	if (was_full && s->ilen < s->icap && s->in_cb == 0) {
		stream_update_io(s);
		if (s->ssl != NULL && SSL_pending(s->ssl) > 0)
			stream_schedule_kick(s);
	}
}

int
stream_read_line(struct stream *s, const char **line_r, size_t *len_r,
		 bool *crlf_r)
{
	bool was_full = s->ilen >= s->icap;
	char *start, *lf;
	size_t k, len;
	bool crlf;

	if (s->error == STREAM_ERR_LINE_TOO_LONG)
		return -1;
	if (s->ilen == 0)
		return 0;
	start = s->ibuf + s->ipos;
	lf = s->ilen > s->scan
		 ? memchr(start + s->scan, '\n', s->ilen - s->scan)
		 : NULL;
	if (lf == NULL) {
		s->scan = s->ilen;
		if (s->ilen >= s->max_line) {
			s->error = STREAM_ERR_LINE_TOO_LONG;
			return -1;
		}
		if (s->eof_seen && s->ilen > 0) {
			s->error = STREAM_ERR_EOF;
			return -1;
		}
		return 0;
	}
	k = (size_t)(lf - start);
	if (k + 1 > s->max_line) {
		s->error = STREAM_ERR_LINE_TOO_LONG;
		return -1;
	}
	crlf = k > 0 && start[k - 1] == '\r';
	len = crlf ? k - 1 : k;
	start[len] = '\0';
	s->ipos += k + 1;
	s->ilen -= k + 1;
	s->scan = 0;
	*line_r = start;
	*len_r = len;
	if (crlf_r != NULL)
		*crlf_r = crlf;
	stream_consumed(s, was_full);
	return 1;
}

size_t
stream_read(struct stream *s, const char **data_r, size_t max)
{
	bool was_full = s->ilen >= s->icap;
	size_t n = s->ilen < max ? s->ilen : max;

	if (n == 0)
		return 0;
	*data_r = s->ibuf + s->ipos;
	s->ipos += n;
	s->ilen -= n;
	s->scan = s->scan > n ? s->scan - n : 0;
	stream_consumed(s, was_full);
	return n;
}

size_t
stream_peek(struct stream *s, const char **data_r)
{
	if (s->ilen == 0)
		return 0;
	*data_r = s->ibuf + s->ipos;
	return s->ilen;
}

void
stream_skip(struct stream *s, size_t n)
{
	const char *data;

	(void)stream_read(s, &data, n);
}

size_t
stream_input_pending(const struct stream *s)
{
	return s->ilen;
}

bool
stream_eof(const struct stream *s)
{
	return s->eof_seen && s->ilen == 0;
}

enum stream_error
stream_get_error(const struct stream *s)
{
	return s->error;
}

/* ---- output ---- */

static int
stream_output_reserve(struct stream *s, size_t len)
{
	size_t need;

	/* After a timeout the owner may still queue a last reply. */
	if (s->freed || (s->error_reported && s->error != STREAM_ERR_TIMEOUT))
		return -1;
	if (len > s->max_output || s->olen > s->max_output - len)
		return -1;
	if (s->olen == 0)
		s->opos = 0;
	need = s->opos + s->olen + len;
	if (need <= s->osize)
		return 0;
	/* Never move bytes an unfinished SSL_write may be retrying. */
	if (s->opos > 0 && s->tls_state != STREAM_TLS_ACTIVE) {
		memmove(s->obuf, s->obuf + s->opos, s->olen);
		s->opos = 0;
		need = s->olen + len;
		if (need <= s->osize)
			return 0;
	}
	if (s->osize < STREAM_MIN_BUF)
		s->osize = STREAM_MIN_BUF;
	while (s->osize < need)
		s->osize *= 2;
	s->obuf = xrealloc(s->obuf, s->osize);
	return 0;
}

int
stream_write(struct stream *s, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (stream_output_reserve(s, len) < 0)
		return -1;
	memcpy(s->obuf + s->opos + s->olen, data, len);
	s->olen += len;
	if (s->in_cb == 0)
		stream_update_io(s);
	return 0;
}

int
stream_printf(struct stream *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || stream_output_reserve(s, (size_t)n + 1) < 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(s->obuf + s->opos + s->olen, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->olen += (size_t)n;
	if (s->in_cb == 0)
		stream_update_io(s);
	return 0;
}

size_t
stream_output_pending(const struct stream *s)
{
	return s->olen;
}

/* Writes queued output; returns 0, or -1 after a failure was reported. */
static int
stream_flush(struct stream *s)
{
	ssize_t n;

	s->tls_write_wants_read = false;
	while (s->olen > 0) {
		const char *p = s->obuf + s->opos;

		if (s->tls_state != STREAM_TLS_ACTIVE) {
			n = send(s->fd, p, s->olen, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				stream_fail(s, STREAM_ERR_IO);
				return -1;
			}
		} else {
			ERR_clear_error();
			n = SSL_write(s->ssl, p,
				      s->olen > INT_MAX ? INT_MAX
							: (int)s->olen);
			if (n <= 0) {
				switch (SSL_get_error(s->ssl, (int)n)) {
				case SSL_ERROR_WANT_WRITE:
					return 0;
				case SSL_ERROR_WANT_READ:
					s->tls_write_wants_read = true;
					return 0;
				case SSL_ERROR_SYSCALL:
					stream_fail(s, STREAM_ERR_IO);
					return -1;
				default:
					stream_fail(s, STREAM_ERR_TLS);
					return -1;
				}
			}
		}
		s->opos += (size_t)n;
		s->olen -= (size_t)n;
	}
	s->opos = 0;
	if (s->osize > STREAM_MIN_BUF) {
		free(s->obuf);
		s->obuf = NULL;
		s->osize = 0;
	}
	return 0;
}

/* ---- TLS ---- */

static void
stream_handshake(struct stream *s)
{
	int r, err;

	ERR_clear_error();
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->tls_state = STREAM_TLS_ACTIVE;
		s->hs_want = 0;
		if (s->on_tls != NULL)
			s->on_tls(s, true, s->ctx);
		return;
	}
	err = SSL_get_error(s->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		s->hs_want = EVENT_READ;
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		s->hs_want = EVENT_WRITE;
		return;
	}
	s->hs_want = 0;
	s->error = STREAM_ERR_TLS;
	if (s->on_tls != NULL)
		s->on_tls(s, false, s->ctx);
	stream_fail(s, STREAM_ERR_TLS);
}

int
stream_start_tls(struct stream *s, SSL_CTX *ctx, bool server,
		 const char *server_name, stream_tls_cb *on_done)
{
	if (s->ssl != NULL || s->error_reported)
		return -1;
	s->ssl = SSL_new(ctx);
	if (s->ssl == NULL)
		return -1;
	if (SSL_set_fd(s->ssl, s->fd) != 1)
		goto fail;
	SSL_set_mode(s->ssl, SSL_MODE_RELEASE_BUFFERS |
				 SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (server) {
		SSL_set_accept_state(s->ssl);
	} else {
		SSL_set_connect_state(s->ssl);
		if (server_name != NULL &&
		    (SSL_set_tlsext_host_name(s->ssl, server_name) != 1 ||
		     SSL_set1_host(s->ssl, server_name) != 1))
			goto fail;
	}
	/* Plaintext that arrived before the handshake is not trusted to be
	 * part of the protected session (CVE-2011-0411). */
	s->ipos = s->ilen = s->scan = 0;
	s->on_tls = on_done;
	s->tls_state = s->olen > 0 ? STREAM_TLS_PENDING : STREAM_TLS_HANDSHAKE;
	s->hs_want = server ? EVENT_READ : EVENT_WRITE;
	if (s->in_cb == 0)
		stream_update_io(s);
	return 0;
fail:
	SSL_free(s->ssl);
	s->ssl = NULL;
	ERR_clear_error();
	return -1;
}

bool
stream_is_tls(const struct stream *s)
{
	return s->tls_state == STREAM_TLS_ACTIVE;
}

SSL *
stream_ssl(const struct stream *s)
{
	return s->tls_state == STREAM_TLS_ACTIVE ? s->ssl : NULL;
}

const char *
stream_tls_description(struct stream *s)
{
	const SSL_CIPHER *c;
	int alg_bits = 0, bits;

	if (s->tls_state != STREAM_TLS_ACTIVE)
		return NULL;
	c = SSL_get_current_cipher(s->ssl);
	if (c == NULL)
		return NULL;
	bits = SSL_CIPHER_get_bits(c, &alg_bits);
	snprintf(s->tls_desc, sizeof(s->tls_desc),
		 "%s with cipher %s (%d/%d bits)", SSL_get_version(s->ssl),
		 SSL_CIPHER_get_name(c), bits, alg_bits);
	return s->tls_desc;
}

int
stream_fd(const struct stream *s)
{
	return s->fd;
}

struct event_loop *
stream_loop(const struct stream *s)
{
	return s->loop;
}

/* ---- the loop entry ---- */

static bool
stream_gone(const struct stream *s)
{
	return s->freed || s->error_reported;
}

static void
stream_notify_read(struct stream *s)
{
	size_t before = s->ilen;

	if (s->on_read != NULL)
		s->on_read(s, s->ctx);
	if (stream_gone(s))
		return;
	if (s->ilen == 0 && s->ibuf != NULL) {
		/* Idle connections hold no input buffer. */
		free(s->ibuf);
		s->ibuf = NULL;
		s->isize = s->ipos = s->scan = 0;
	}
	if (s->ssl != NULL && SSL_pending(s->ssl) > 0 && stream_reading(s))
		stream_schedule_kick(s);
	if (!s->eof_seen || s->paused)
		return;
	if (s->ilen == 0 || s->ilen == before)
		stream_fail(s, STREAM_ERR_EOF);
	else
		stream_schedule_kick(s);
}

static void
stream_handle(struct stream *s, unsigned int events)
{
	bool plain_out = s->tls_state == STREAM_TLS_NONE ||
			 s->tls_state == STREAM_TLS_PENDING;
	bool want_read =
	    (events & (EVENT_READ | EVENT_ERROR)) != 0 || events == 0;
	bool notify = events == 0 && (s->ilen > 0 || s->eof_seen);
	ssize_t n;

	if (s->olen > 0 &&
	    (plain_out || (s->tls_state == STREAM_TLS_ACTIVE &&
			   ((events & (EVENT_WRITE | EVENT_ERROR)) != 0 ||
			    (s->tls_write_wants_read && want_read))))) {
		if (stream_flush(s) < 0)
			return;
		if (s->olen == 0 && s->tls_state != STREAM_TLS_PENDING &&
		    s->on_drain != NULL) {
			s->on_drain(s, s->ctx);
			if (stream_gone(s))
				return;
		}
	}
	if (s->tls_state == STREAM_TLS_PENDING) {
		if (s->olen > 0)
			return;
		s->tls_state = STREAM_TLS_HANDSHAKE;
	}
	if (s->tls_state == STREAM_TLS_HANDSHAKE) {
		stream_handshake(s);
		if (stream_gone(s) || s->tls_state != STREAM_TLS_ACTIVE)
			return;
		/* Application data may have arrived with the handshake. */
		want_read = true;
		if (s->olen > 0 && stream_flush(s) < 0)
			return;
	}
	if ((s->tls_read_wants_write && (events & EVENT_WRITE) != 0) ||
	    (s->ssl != NULL && SSL_pending(s->ssl) > 0))
		want_read = true;
	if (want_read && stream_reading(s)) {
		n = stream_fill(s);
		if (n < 0)
			return;
		if (n > 0)
			stream_timer_restart(s);
		if (n > 0 || s->eof_seen)
			notify = true;
	}
	if (notify && !s->paused)
		stream_notify_read(s);
}

static void
stream_io_cb(void *ctx, int fd, unsigned int events)
{
	struct stream *s = ctx;

	(void)fd;
	s->in_cb++;
	stream_handle(s, events);
	if (!stream_gone(s))
		stream_update_io(s);
	stream_leave(s);
}
