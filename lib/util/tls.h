/*
 * tls - OpenSSL contexts for servers and clients, and self-signed
 * certificates for the demo setup and tests.
 */
#ifndef TLS_H
#define TLS_H

#include <openssl/ssl.h>

/* A server context: TLS >= 1.2, server cipher preference, no
 * renegotiation or compression, SSL_MODE_RELEASE_BUFFERS, an internal
 * session cache. cert_file may hold the chain. NULL and *error_r (valid
 * until the next tls_* call) on error. Free with SSL_CTX_free(). */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
			    const char **error_r);
/* A client context: TLS >= 1.2. With ca_file the peer must present a
 * certificate that verifies against it (use SSL_set1_host via
 * stream_start_tls server_name for the name check); with NULL the
 * certificate is not verified (opportunistic TLS, as in SMTP). */
SSL_CTX *tls_client_ctx_new(const char *ca_file, const char **error_r);
/* Writes an EC P-256 key (mode 0600) and a self-signed certificate valid
 * for 10 years with CN and SAN DNS:common_name. 0, or -1 and *error_r. */
int tls_make_self_signed(const char *cert_path, const char *key_path,
			 const char *common_name, const char **error_r);

#endif
