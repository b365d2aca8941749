/*
 * smtp_tls - the smtp client's connection I/O (smtp_io.h): plaintext or
 * TLS after STARTTLS, with poll deadlines. The remote server is hostile:
 * reply lines are bounded by the read buffer and smtp_reply's limits;
 * plaintext that arrives between "220" and the TLS handshake is refused.
 * Blocking, worker threads only: no logging, no event loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "smtp_io.h"

static int smtp_io_fail(struct smtp_io *io, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
smtp_io_fail(struct smtp_io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(io->error, sizeof(io->error), fmt, ap);
	va_end(ap);
	return -1;
}

void
smtp_io_init(struct smtp_io *io, int fd, const char *peer)
{
	io->fd = fd;
	io->ssl = NULL;
	io->rpos = io->rlen = 0;
	strbuf_init(&io->wbuf, STRBUF_UNLIMITED);
	io->peer = peer;
	io->error[0] = '\0';
}

void
smtp_io_deinit(struct smtp_io *io)
{
	if (io->ssl != NULL) {
		(void)SSL_shutdown(io->ssl);
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	strbuf_release(&io->wbuf);
}

static int
smtp_io_wait(struct smtp_io *io, short events)
{
	struct pollfd pfd = {.fd = io->fd, .events = events};
	int ret;

	do {
		ret = poll(&pfd, 1, (int)io->timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret == 0)
		return smtp_io_fail(io, "conversation with %s timed out",
				    io->peer);
	if (ret < 0)
		return smtp_io_fail(io, "poll: %s", strerror(errno));
	return 0;
}

/* Waits as OpenSSL asks after a WANT_READ / WANT_WRITE; -1 otherwise. */
static int
smtp_io_ssl_wait(struct smtp_io *io, int ret, const char *what)
{
	int err = SSL_get_error(io->ssl, ret);
	unsigned long e;

	if (err == SSL_ERROR_WANT_READ)
		return smtp_io_wait(io, POLLIN);
	if (err == SSL_ERROR_WANT_WRITE)
		return smtp_io_wait(io, POLLOUT);
	e = ERR_get_error();
	ERR_clear_error();
	if (e != 0)
		return smtp_io_fail(io, "TLS %s with %s: %s", what, io->peer,
				    ERR_reason_error_string(e) != NULL
					? ERR_reason_error_string(e)
					: "error");
	return smtp_io_fail(io, "lost connection with %s during TLS %s",
			    io->peer, what);
}

int
smtp_io_flush(struct smtp_io *io)
{
	size_t done = 0;

	while (done < io->wbuf.len) {
		const char *p = io->wbuf.data + done;
		size_t left = io->wbuf.len - done;
		ssize_t n;

		if (io->ssl != NULL) {
			int r = SSL_write(io->ssl, p,
					  left > 65536 ? 65536 : (int)left);

			if (r <= 0) {
				if (smtp_io_ssl_wait(io, r, "write") < 0)
					return -1;
				continue;
			}
			done += (size_t)r;
			continue;
		}
		n = write(io->fd, p, left);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (smtp_io_wait(io, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return smtp_io_fail(io,
					    "lost connection with %s while "
					    "sending",
					    io->peer);
		done += (size_t)n;
	}
	strbuf_reset(&io->wbuf);
	return 0;
}

static int
smtp_io_fill(struct smtp_io *io)
{
	for (;;) {
		size_t room = sizeof(io->rbuf) - io->rlen;
		ssize_t n;

		if (io->ssl != NULL) {
			int r =
			    SSL_read(io->ssl, io->rbuf + io->rlen, (int)room);

			if (r > 0) {
				io->rlen += (size_t)r;
				return 0;
			}
			if (SSL_get_error(io->ssl, r) == SSL_ERROR_ZERO_RETURN)
				return smtp_io_fail(
				    io,
				    "lost connection with %s while "
				    "receiving a reply",
				    io->peer);
			if (smtp_io_ssl_wait(io, r, "read") < 0)
				return -1;
			continue;
		}
		n = read(io->fd, io->rbuf + io->rlen, room);
		if (n > 0) {
			io->rlen += (size_t)n;
			return 0;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (smtp_io_wait(io, POLLIN) < 0)
				return -1;
			continue;
		}
		return smtp_io_fail(io,
				    "lost connection with %s while receiving "
				    "a reply",
				    io->peer);
	}
}

int
smtp_io_read_reply(struct smtp_io *io, struct smtp_reply *reply)
{
	const char *error;

	smtp_reply_reset(reply);
	for (;;) {
		char *line = io->rbuf + io->rpos;
		char *nl = memchr(line, '\n', io->rlen - io->rpos);

		if (nl != NULL) {
			size_t len = (size_t)(nl - line);
			int ret;

			if (len > 0 && line[len - 1] == '\r')
				len--;
			io->rpos = (size_t)(nl - io->rbuf) + 1;
			ret = smtp_reply_feed(reply, line, len, &error);
			if (ret < 0)
				return smtp_io_fail(io,
						    "malformed reply from %s: "
						    "%s",
						    io->peer, error);
			if (ret == 1)
				return 0;
			continue;
		}
		if (io->rpos > 0) {
			memmove(io->rbuf, io->rbuf + io->rpos,
				io->rlen - io->rpos);
			io->rlen -= io->rpos;
			io->rpos = 0;
		}
		if (io->rlen == sizeof(io->rbuf))
			return smtp_io_fail(io, "reply line too long from %s",
					    io->peer);
		if (smtp_io_fill(io) < 0)
			return -1;
	}
}

bool
smtp_io_input_pending(const struct smtp_io *io)
{
	return io->rpos < io->rlen;
}

int
smtp_io_starttls(struct smtp_io *io, SSL_CTX *ctx, const char *sni,
		 const char *verify_name)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return smtp_io_fail(io, "cannot set up TLS");
	if (sni != NULL && sni[0] != '\0')
		(void)SSL_set_tlsext_host_name(ssl, sni);
	if (verify_name != NULL) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, verify_name) != 1) {
			SSL_free(ssl);
			return smtp_io_fail(io, "bad TLS peer name %s",
					    verify_name);
		}
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	return smtp_io_starttls_ssl(io, ssl) < 0 ? -1 : 0;
}

int
smtp_io_starttls_ssl(struct smtp_io *io, SSL *ssl)
{
	struct pollfd pfd = {.fd = io->fd, .events = POLLIN};
	int ret;

	/* Anything after the 220, buffered or already on the socket, was
	 * sent before the handshake: injected plaintext. */
	if (smtp_io_input_pending(io) || poll(&pfd, 1, 0) > 0) {
		SSL_free(ssl);
		return smtp_io_fail(io,
				    "%s sent plaintext after the STARTTLS "
				    "reply (possible injection attack)",
				    io->peer);
	}
	io->ssl = ssl;
	if (SSL_set_fd(io->ssl, io->fd) != 1) {
		SSL_free(io->ssl);
		io->ssl = NULL;
		return smtp_io_fail(io, "cannot set up TLS");
	}
	SSL_set_connect_state(io->ssl);
	while ((ret = SSL_connect(io->ssl)) != 1) {
		if (smtp_io_ssl_wait(io, ret, "handshake") < 0) {
			long v = SSL_get_verify_result(io->ssl);
			bool untrusted =
			    SSL_get_verify_mode(io->ssl) != SSL_VERIFY_NONE &&
			    v != X509_V_OK;

			if (untrusted)
				snprintf(io->error, sizeof(io->error),
					 "server certificate not verified "
					 "for %s: %s",
					 io->peer,
					 X509_verify_cert_error_string(v));
			SSL_free(io->ssl);
			io->ssl = NULL;
			return untrusted ? -2 : -1;
		}
	}
	io->rpos = io->rlen = 0;
	return 0;
}

void
smtp_io_tls_info(struct smtp_io *io, char *buf, size_t size, bool *verified_r,
		 bool *has_cert_r)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(io->ssl);
	int alg = 0, bits = SSL_CIPHER_get_bits(c, &alg);
	X509 *cert = SSL_get1_peer_certificate(io->ssl);

	snprintf(buf, size, "%s with cipher %s (%d/%d bits)",
		 SSL_get_version(io->ssl), SSL_CIPHER_get_name(c), bits, alg);
	*has_cert_r = cert != NULL;
	*verified_r = cert != NULL &&
		      SSL_get_verify_result(io->ssl) == X509_V_OK &&
		      SSL_get_verify_mode(io->ssl) != SSL_VERIFY_NONE;
	X509_free(cert);
}
