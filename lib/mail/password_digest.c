/*
 * password_digest - the message-digest Dovecot schemes: PLAIN (a copy),
 * SHA/SHA1/SHA256/SHA512, PLAIN-MD5/LDAP-MD5 (plain digests), SMD5/SSHA/
 * SSHA256/SSHA512 (digest of password||salt, stored as digest||salt) and
 * PBKDF2 (Dovecot's "$1$salt$rounds$hex" PBKDF2-HMAC-SHA1), through
 * OpenSSL's EVP interface. Stored data may be malformed; plaintexts are
 * untrusted. Must not log; the only I/O is getrandom() for salts.
 */
#include "mail/password_scheme.h"
#include "mail/password_scheme_private.h"
#include "util/xmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Dovecot 2.3 salts SSHA and friends with 4 bytes; PBKDF2 has a 16
   character salt and 5000 rounds by default. */
#define SALTED_SALT_LEN 4
#define SALTED_SALT_MAX 1024
#define PBKDF2_ROUNDS_DEFAULT 5000
#define PBKDF2_ROUNDS_MAX 16777216U
#define PBKDF2_SALT_LEN 16
#define PBKDF2_KEY_LEN 20

static const EVP_MD *
digest_md(enum password_digest d)
{
	switch (d) {
	case PASSWORD_DIGEST_MD5:
		return EVP_md5();
	case PASSWORD_DIGEST_SHA1:
		return EVP_sha1();
	case PASSWORD_DIGEST_SHA256:
		return EVP_sha256();
	case PASSWORD_DIGEST_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* Digest of a || b into out (up to EVP_MAX_MD_SIZE); length or 0. */
static size_t
digest2(enum password_digest d, const void *a, size_t a_len, const void *b,
	size_t b_len, unsigned char *out)
{
	const EVP_MD *md = digest_md(d);
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	int ok;

	if (md == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, a, a_len) == 1 &&
	     (b_len == 0 || EVP_DigestUpdate(ctx, b, b_len) == 1) &&
	     EVP_DigestFinal_ex(ctx, out, &len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? len : 0;
}

size_t
password_digest(enum password_digest d, const void *data, size_t len,
		unsigned char *out)
{
	return digest2(d, data, len, NULL, 0, out);
}

int
password_digest_generate(const struct password_scheme *s, const char *plain,
			 size_t plain_len, unsigned int rounds ATTR_UNUSED_ARG,
			 unsigned char **raw_r, size_t *raw_len_r,
			 const char **error_r)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	size_t len;

	if (s->arg < 0) {
		/* PLAIN, CLEAR, CLEARTEXT */
		*raw_r = xmemdup(plain, plain_len + 1);
		(*raw_r)[plain_len] = '\0';
		*raw_len_r = plain_len;
		return 0;
	}
	if ((len = password_digest(s->arg, plain, plain_len, out)) == 0) {
		*error_r = "digest failed";
		return -1;
	}
	*raw_r = xmemdup(out, len);
	*raw_len_r = len;
	return 0;
}

int
password_salted_verify(const struct password_scheme *s, const char *plain,
		       size_t plain_len, const unsigned char *raw,
		       size_t raw_len, const char **error_r)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	size_t md_len = (size_t)EVP_MD_get_size(digest_md(s->arg));

	/* digest || salt, with a salt of at least one byte */
	if (raw_len <= md_len || raw_len - md_len > SALTED_SALT_MAX) {
		*error_r = "stored salted password has a wrong length";
		return -1;
	}
	if (digest2(s->arg, plain, plain_len, raw + md_len, raw_len - md_len,
		    out) != md_len) {
		*error_r = "digest failed";
		return -1;
	}
	return password_equal(out, raw, md_len) ? 1 : 0;
}

int
password_salted_generate(const struct password_scheme *s, const char *plain,
			 size_t plain_len, unsigned int rounds ATTR_UNUSED_ARG,
			 unsigned char **raw_r, size_t *raw_len_r,
			 const char **error_r)
{
	unsigned char salt[SALTED_SALT_LEN], out[EVP_MAX_MD_SIZE];
	size_t md_len;

	if (password_random(salt, sizeof(salt), error_r) < 0)
		return -1;
	md_len = digest2(s->arg, plain, plain_len, salt, sizeof(salt), out);
	if (md_len == 0) {
		*error_r = "digest failed";
		return -1;
	}
	*raw_r = xmalloc(md_len + sizeof(salt));
	memcpy(*raw_r, out, md_len);
	memcpy(*raw_r + md_len, salt, sizeof(salt));
	*raw_len_r = md_len + sizeof(salt);
	return 0;
}

static int
pbkdf2_sha1(const char *plain, size_t plain_len, const char *salt,
	    size_t salt_len, unsigned int rounds, unsigned char *key)
{
	return PKCS5_PBKDF2_HMAC(plain, (int)plain_len,
				 (const unsigned char *)salt, (int)salt_len,
				 (int)rounds, EVP_sha1(), PBKDF2_KEY_LEN,
				 key) == 1
		   ? 0
		   : -1;
}

int
password_pbkdf2_verify(const struct password_scheme *s ATTR_UNUSED_ARG,
		       const char *plain, size_t plain_len,
		       const unsigned char *raw, size_t raw_len,
		       const char **error_r)
{
	const char *str = (const char *)raw, *salt, *p, *hex;
	unsigned char want[PBKDF2_KEY_LEN], got[PBKDF2_KEY_LEN];
	unsigned long rounds;
	size_t salt_len, i;
	char *end, byte[3] = {0, 0, 0};

	/* $1$salt$rounds$hex */
	if (raw_len < 3 || memcmp(str, "$1$", 3) != 0 ||
	    strlen(str) != raw_len) {
		*error_r = "stored PBKDF2 password lacks the $1$ prefix";
		return -1;
	}
	salt = str + 3;
	if ((p = strchr(salt, '$')) == NULL)
		goto bad;
	salt_len = (size_t)(p - salt);
	if (p[1] < '0' || p[1] > '9')
		goto bad;
	rounds = strtoul(p + 1, &end, 10);
	if (*end != '$' || rounds == 0 || rounds > PBKDF2_ROUNDS_MAX)
		goto bad;
	hex = end + 1;
	if (strlen(hex) != PBKDF2_KEY_LEN * 2)
		goto bad;
	for (i = 0; i < PBKDF2_KEY_LEN; i++) {
		byte[0] = hex[i * 2];
		byte[1] = hex[i * 2 + 1];
		if (strspn(byte, "0123456789abcdefABCDEF") != 2)
			goto bad;
		want[i] = (unsigned char)strtoul(byte, NULL, 16);
	}
	if (pbkdf2_sha1(plain, plain_len, salt, salt_len, (unsigned int)rounds,
			got) < 0) {
		*error_r = "PBKDF2 failed";
		return -1;
	}
	return password_equal(want, got, sizeof(got)) ? 1 : 0;
bad:
	*error_r = "stored PBKDF2 password is malformed";
	return -1;
}

int
password_pbkdf2_generate(const struct password_scheme *s ATTR_UNUSED_ARG,
			 const char *plain, size_t plain_len,
			 unsigned int rounds, unsigned char **raw_r,
			 size_t *raw_len_r, const char **error_r)
{
	unsigned char key[PBKDF2_KEY_LEN];
	char salt[PBKDF2_SALT_LEN + 1], hex[PBKDF2_KEY_LEN * 2 + 1];
	size_t i;
	char *out;

	if (rounds == 0)
		rounds = PBKDF2_ROUNDS_DEFAULT;
	if (rounds > PBKDF2_ROUNDS_MAX) {
		*error_r = "PBKDF2 rounds out of range";
		return -1;
	}
	if (password_random_salt(salt, PBKDF2_SALT_LEN, error_r) < 0)
		return -1;
	if (pbkdf2_sha1(plain, plain_len, salt, PBKDF2_SALT_LEN, rounds, key) <
	    0) {
		*error_r = "PBKDF2 failed";
		return -1;
	}
	for (i = 0; i < PBKDF2_KEY_LEN; i++)
		snprintf(hex + i * 2, 3, "%02x", key[i]);
	out = xasprintf("$1$%s$%u$%s", salt, rounds, hex);
	*raw_r = (unsigned char *)out;
	*raw_len_r = strlen(out);
	return 0;
}
