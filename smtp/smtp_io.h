/*
 * smtp_io - the smtp client's blocking connection: plaintext or TLS
 * (after STARTTLS), replies read through smtp_reply with its limits,
 * every read and write under a deadline. Worker threads only; no logging.
 */
#ifndef SMTP_IO_H
#define SMTP_IO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "mail/smtp_reply.h"
#include "util/strbuf.h"

#define SMTP_IO_BUF 65536

struct smtp_io {
	int fd;
	SSL *ssl;
	char rbuf[SMTP_IO_BUF];
	size_t rpos, rlen;
	struct strbuf wbuf; /* queued output, sent by smtp_io_flush() */
	unsigned int timeout_ms;
	const char *peer; /* "host[addr]:port" for messages */
	char error[512];  /* why the last call failed */
};

/* fd: a connected non-blocking socket (owned: closed by deinit). */
void smtp_io_init(struct smtp_io *io, int fd, const char *peer);
void smtp_io_deinit(struct smtp_io *io);
/* Sends wbuf. 0, or -1 with io->error. */
int smtp_io_flush(struct smtp_io *io);
/* Reads one complete reply into reply (reset first). 0, or -1 with
 * io->error (timeout, lost connection, malformed or over-limit reply). */
int smtp_io_read_reply(struct smtp_io *io, struct smtp_reply *reply);
/* True when the peer sent bytes not yet consumed by a reply. */
bool smtp_io_input_pending(const struct smtp_io *io);
/* TLS handshake after "220" to STARTTLS. Refuses (-1) when plaintext
 * arrived after the 220 (RFC 3207 5: a man in the middle may inject
 * commands before the handshake). With verify_name the certificate
 * must verify (ctx verifies) and match the name. 0, or -1 with
 * io->error. */
int smtp_io_starttls(struct smtp_io *io, SSL_CTX *ctx, const char *sni,
		     const char *verify_name);
/* The same with an SSL the caller prepared (DANE: smtp_dane_ssl_new()),
 * owned from now on. 0, -1 with io->error, or -2 with io->error when the
 * peer's certificate did not verify. */
int smtp_io_starttls_ssl(struct smtp_io *io, SSL *ssl);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" into buf;
 * *verified_r: the peer certificate verified (and matched). */
void smtp_io_tls_info(struct smtp_io *io, char *buf, size_t size,
		      bool *verified_r, bool *has_cert_r);

#endif
