/*
 * tls - OpenSSL context set-up. Reads certificate and key files named by
 * trusted configuration; does no network I/O. Error texts come from the
 * OpenSSL error queue, which is cleared after each failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "util/tls.h"

static char tls_error_buf[512];

static const char *
tls_error(const char *what, const char *object)
{
	unsigned long e = ERR_get_error();
	char ossl[256];

	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	else
		snprintf(ossl, sizeof(ossl), "%s",
			 errno != 0 ? strerror(errno) : "unknown error");
	snprintf(tls_error_buf, sizeof(tls_error_buf), "%s: %s: %s", what,
		 object, ossl);
	ERR_clear_error();
	return tls_error_buf;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file,
		   const char **error_r)
{
	static const unsigned char sid_ctx[] = "dovetail";
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_error("tls_server_ctx_new", "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
				     SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		*error_r = tls_error("tls_server_ctx_new", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error("tls_server_ctx_new", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error("tls_server_ctx_new: key does not match",
				     cert_file);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx_new(const char *ca_file, const char **error_r)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = tls_error("tls_client_ctx_new", "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx,
			    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			*error_r = tls_error("tls_client_ctx_new", ca_file);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

static int
tls_add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ret;

	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	ret = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return ret;
}

static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) < 0 || (f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	ok = key != NULL
		 ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	return ok == 1 ? 0 : -1;
}

int
tls_make_self_signed(const char *cert_path, const char *key_path,
		     const char *common_name, const char **error_r)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[300];
	int ret = -1;

	ERR_clear_error();
	errno = 0;
	if (strlen(common_name) > 250 || common_name[0] == '\0') {
		*error_r = "tls_make_self_signed: bad common name";
		return -1;
	}
	key = EVP_EC_gen("P-256");
	cert = X509_new();
	if (key == NULL || cert == NULL ||
	    RAND_bytes(serial, sizeof(serial)) != 1) {
		*error_r = tls_error("tls_make_self_signed", "key generation");
		goto out;
	}
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_get_subject_name(cert);
	snprintf(san, sizeof(san), "DNS:%s", common_name);
	if (bn == NULL || X509_set_version(cert, 2) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 366 * 24 * 3600) ==
		NULL ||
	    X509_set_pubkey(cert, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)common_name, -1,
				       -1, 0) != 1 ||
	    X509_set_issuer_name(cert, name) != 1 ||
	    tls_add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    tls_add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    tls_add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
	    X509_sign(cert, key, EVP_sha256()) == 0) {
		*error_r = tls_error("tls_make_self_signed", "certificate");
		goto out;
	}
	if (tls_write_pem(key_path, 0600, key, NULL) < 0) {
		*error_r = tls_error("tls_make_self_signed", key_path);
		goto out;
	}
	if (tls_write_pem(cert_path, 0644, NULL, cert) < 0) {
		*error_r = tls_error("tls_make_self_signed", cert_path);
		goto out;
	}
	ret = 0;
out:
	BN_free(bn);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}
