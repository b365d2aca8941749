/*
 * stream - a buffered, non-blocking, optionally TLS connection on an event
 * loop. Input is read into a bounded buffer; stream_read_line() returns one
 * line at a time and fails (STREAM_ERR_LINE_TOO_LONG) on a line over the
 * limit instead of truncating it. Output is queued (bounded) and flushed by
 * the loop. Each stream has an idle deadline; when it passes, the error
 * callback gets STREAM_ERR_TIMEOUT. STARTTLS: stream_start_tls() discards
 * any plaintext input buffered before the handshake (command injection
 * defence, CVE-2011-0411), and TLS uses SSL_MODE_RELEASE_BUFFERS so idle
 * connections hold no TLS buffers.
 */
#ifndef STREAM_H
#define STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct event_loop;
struct stream;

enum stream_error {
	STREAM_ERR_NONE = 0,
	STREAM_ERR_EOF,		  /* peer closed */
	STREAM_ERR_IO,		  /* read/write error; errno-style detail */
	STREAM_ERR_TIMEOUT,	  /* deadline passed */
	STREAM_ERR_LINE_TOO_LONG, /* a line exceeded max_line */
	STREAM_ERR_OUTPUT_FULL,	  /* output queue exceeded its limit */
	STREAM_ERR_TLS,		  /* TLS handshake or record failure */
};

/* Called when input is buffered (or EOF seen) and the reader should try
 * stream_read_line()/stream_read(). */
typedef void stream_read_cb(struct stream *s, void *ctx);
/* Called once on a fatal error; the owner must free the stream. */
typedef void stream_error_cb(struct stream *s, enum stream_error err,
			     void *ctx);
/* Called when all queued output was written (optional). */
typedef void stream_drain_cb(struct stream *s, void *ctx);
/* Called when a TLS handshake finished (ok=false: failed). */
typedef void stream_tls_cb(struct stream *s, bool ok, void *ctx);

/* Wraps a connected, non-blocking fd (the stream owns and closes it).
 * max_line bounds one input line including its terminator; max_output
 * bounds queued output. */
struct stream *stream_new(struct event_loop *loop, int fd, size_t max_line,
			  size_t max_output);
/* Closes the fd, frees TLS state and buffers. Safe inside callbacks.
 * Queued output gets one non-blocking write attempt first (so a final
 * reply, e.g. after STREAM_ERR_TIMEOUT, usually reaches the peer); to be
 * sure it was sent, wait for the drain callback before freeing. */
void stream_free(struct stream **sp);

void stream_set_callbacks(struct stream *s, stream_read_cb *on_read,
			  stream_error_cb *on_error, void *ctx);
void stream_set_drain_callback(struct stream *s, stream_drain_cb *on_drain);
/* Idle deadline: error STREAM_ERR_TIMEOUT if no input arrives for msecs
 * while reading is enabled (0 = none). Restarted by every read. */
void stream_set_timeout(struct stream *s, unsigned int msecs);
/* Stops/starts reading from the socket (flow control, or while a worker
 * handles a command). Buffered input stays. */
void stream_pause_read(struct stream *s, bool pause);

/* Returns 1 and a pointer to one line (terminator stripped, *len_r bytes,
 * NUL-terminated; valid until the next read call or until control returns
 * to the event loop), 0 if no complete line is
 * buffered, -1 on error (line too long, or EOF with a partial line).
 * *crlf_r (may be NULL) says whether the line ended in CRLF rather than a
 * bare LF; a bare CR inside the line is left in the data for the protocol
 * to judge. */
int stream_read_line(struct stream *s, const char **line_r, size_t *len_r,
		     bool *crlf_r);
/* Up to max buffered bytes (for literals, BDAT chunks); 0 if none. The data
 * stays valid until the next read call. */
size_t stream_read(struct stream *s, const char **data_r, size_t max);
/* Points *data_r at every buffered byte without consuming any; returns
 * their number (0: none). Valid until the next read call or until control
 * returns to the event loop. Use with stream_skip() when a protocol must
 * see the bytes before it knows how many it takes (SMTP DATA). */
size_t stream_peek(struct stream *s, const char **data_r);
/* Consumes n bytes of buffered input (at most what is buffered). */
void stream_skip(struct stream *s, size_t n);
/* After stream_read_line() returned -1: STREAM_ERR_LINE_TOO_LONG (the
 * stream can no longer read; reply and close) or STREAM_ERR_EOF (partial
 * line at EOF); otherwise the error reported to the error callback, or
 * STREAM_ERR_NONE. */
enum stream_error stream_get_error(const struct stream *s);
/* Bytes buffered and not yet consumed. */
size_t stream_input_pending(const struct stream *s);
/* True after the peer closed its side and the buffer is drained. */
bool stream_eof(const struct stream *s);

/* Queue output; -1 if the output limit would be exceeded or the stream
 * failed (after STREAM_ERR_TIMEOUT writing is still allowed). */
int stream_write(struct stream *s, const void *data, size_t len);
int stream_printf(struct stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Bytes queued and not yet written. */
size_t stream_output_pending(const struct stream *s);

/* Starts a TLS handshake as server (ctx from tls_server_ctx) or client.
 * Buffered plaintext input is discarded first. The stream calls on_done
 * when the handshake finished. server_name is used for SNI/verification
 * when acting as client (may be NULL). */
int stream_start_tls(struct stream *s, SSL_CTX *ctx, bool server,
		     const char *server_name, stream_tls_cb *on_done);
bool stream_is_tls(const struct stream *s);
/* The SSL object once TLS is active (NULL before). */
SSL *stream_ssl(const struct stream *s);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" or NULL. */
const char *stream_tls_description(struct stream *s);

int stream_fd(const struct stream *s);
struct event_loop *stream_loop(const struct stream *s);

#endif
