/*
 * password_scram - Dovecot's SCRAM-SHA-1 and SCRAM-SHA-256 stored format,
 * "iterations,base64(salt),base64(StoredKey),base64(ServerKey)" (RFC 5802
 * keys): verification of a plaintext (derive the keys, compare StoredKey
 * in constant time), generation, and credentials for the SCRAM mechanism.
 * Stored data may be malformed; plaintexts are untrusted. Must not log;
 * the only I/O is getrandom() for salts.
 */
#include "mail/password_scheme.h"
#include "mail/password_scheme_private.h"
#include "util/base64.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Dovecot 2.3: 4096 iterations and a 16-byte salt */
#define SCRAM_ITER_DEFAULT 4096
#define SCRAM_ITER_MAX 16777216UL
#define SCRAM_SALT_LEN 16

static const EVP_MD *
scram_md(const struct password_scheme *s)
{
	return s->arg == PASSWORD_DIGEST_SHA1 ? EVP_sha1() : EVP_sha256();
}

/* RFC 5802: SaltedPassword = Hi(password, salt, i); ClientKey =
   HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey);
   ServerKey = HMAC(SaltedPassword, "Server Key"). */
static int
scram_derive(const struct password_scheme *s, const char *plain,
	     size_t plain_len, struct password_scram_credentials *keys)
{
	const EVP_MD *md = scram_md(s);
	unsigned char salted[EVP_MAX_MD_SIZE], client[EVP_MAX_MD_SIZE];
	unsigned int len = 0, len2 = 0;
	size_t md_len = (size_t)EVP_MD_get_size(md);
	int ret = -1;

	if (PKCS5_PBKDF2_HMAC(plain, (int)plain_len, keys->salt,
			      (int)keys->salt_len, (int)keys->iter, md,
			      (int)md_len, salted) != 1)
		goto out;
	if (HMAC(md, salted, (int)md_len, (const unsigned char *)"Client Key",
		 10, client, &len) == NULL ||
	    HMAC(md, salted, (int)md_len, (const unsigned char *)"Server Key",
		 10, keys->server_key, &len2) == NULL)
		goto out;
	if (password_digest(s->arg, client, len, keys->stored_key) != md_len)
		goto out;
	keys->key_len = md_len;
	ret = 0;
out:
	xmem_wipe(salted, sizeof(salted));
	xmem_wipe(client, sizeof(client));
	return ret;
}

/* Decodes one base64 field of 1..max bytes (exactly max if exact). */
static int
scram_field(const char *start, const char *end, size_t max, bool exact,
	    unsigned char *out, size_t *len_r)
{
	struct strbuf dec;
	size_t len = (size_t)(end - start);
	int ret = -1;

	/* max fits the decoding: one allocation, wiped below */
	strbuf_init(&dec, base64_decoded_max_len(len));
	if (base64_decode(start, len, PASSWORD_BASE64_FLAGS, &dec) < 0) {
		strbuf_release(&dec);
		return -1;
	}
	if (dec.len > 0 && dec.len <= max && (!exact || dec.len == max)) {
		memcpy(out, dec.data, dec.len);
		*len_r = dec.len;
		ret = 0;
	}
	if (dec.data != NULL)
		xmem_wipe(dec.data, dec.len);
	strbuf_release(&dec);
	return ret;
}

int
password_scram_parse(const struct password_scheme *s, const unsigned char *raw,
		     size_t raw_len, struct password_scram_credentials *creds_r,
		     const char **error_r)
{
	const char *str = (const char *)raw, *f[4], *end;
	size_t md_len = (size_t)EVP_MD_get_size(scram_md(s));
	unsigned long iter;
	char *iter_end;
	size_t i, len;

	*error_r = "stored SCRAM password is malformed";
	if (strlen(str) != raw_len)
		return -1;
	/* iterations,salt,StoredKey,ServerKey */
	f[0] = str;
	for (i = 1; i < 4; i++) {
		if ((f[i] = strchr(f[i - 1], ',')) == NULL)
			return -1;
		f[i]++;
	}
	end = f[3] + strlen(f[3]);
	if (strchr(f[3], ',') != NULL || f[0][0] < '0' || f[0][0] > '9')
		return -1;
	iter = strtoul(f[0], &iter_end, 10);
	if (iter_end != f[1] - 1 || iter == 0 || iter > SCRAM_ITER_MAX)
		return -1;
	creds_r->iter = (unsigned int)iter;
	if (scram_field(f[1], f[2] - 1, sizeof(creds_r->salt), false,
			creds_r->salt, &creds_r->salt_len) < 0 ||
	    scram_field(f[2], f[3] - 1, md_len, true, creds_r->stored_key,
			&len) < 0 ||
	    scram_field(f[3], end, md_len, true, creds_r->server_key, &len) < 0)
		return -1;
	creds_r->key_len = md_len;
	return 0;
}

int
password_scram_verify(const struct password_scheme *s, const char *plain,
		      size_t plain_len, const unsigned char *raw,
		      size_t raw_len, const char **error_r)
{
	struct password_scram_credentials stored, derived;
	int ret;

	if (password_scram_parse(s, raw, raw_len, &stored, error_r) < 0)
		return -1;
	memcpy(derived.salt, stored.salt, stored.salt_len);
	derived.salt_len = stored.salt_len;
	derived.iter = stored.iter;
	if (scram_derive(s, plain, plain_len, &derived) < 0) {
		*error_r = "SCRAM key derivation failed";
		ret = -1;
	} else {
		ret = password_equal(derived.stored_key, stored.stored_key,
				     stored.key_len)
			  ? 1
			  : 0;
	}
	xmem_wipe(&stored, sizeof(stored));
	xmem_wipe(&derived, sizeof(derived));
	return ret;
}

int
password_scram_from_plain(const struct password_scheme *s, const char *plain,
			  size_t plain_len,
			  struct password_scram_credentials *creds_r,
			  const char **error_r)
{
	if (password_random(creds_r->salt, SCRAM_SALT_LEN, error_r) < 0)
		return -1;
	creds_r->salt_len = SCRAM_SALT_LEN;
	creds_r->iter = SCRAM_ITER_DEFAULT;
	if (scram_derive(s, plain, plain_len, creds_r) < 0) {
		*error_r = "SCRAM key derivation failed";
		return -1;
	}
	return 0;
}

int
password_scram_generate(const struct password_scheme *s, const char *plain,
			size_t plain_len, unsigned int rounds,
			unsigned char **raw_r, size_t *raw_len_r,
			const char **error_r)
{
	struct password_scram_credentials keys;
	struct strbuf out;

	if (rounds == 0)
		rounds = SCRAM_ITER_DEFAULT;
	if (rounds < SCRAM_ITER_DEFAULT || rounds > SCRAM_ITER_MAX) {
		*error_r = "SCRAM iterations must be 4096..16777216";
		return -1;
	}
	if (password_random(keys.salt, SCRAM_SALT_LEN, error_r) < 0)
		return -1;
	keys.salt_len = SCRAM_SALT_LEN;
	keys.iter = rounds;
	if (scram_derive(s, plain, plain_len, &keys) < 0) {
		*error_r = "SCRAM key derivation failed";
		return -1;
	}
	/* "iterations,salt,StoredKey,ServerKey"; unlimited, so no failure */
	strbuf_init(&out, STRBUF_UNLIMITED);
	(void)strbuf_printf(&out, "%u,", rounds);
	(void)base64_encode(keys.salt, keys.salt_len, &out);
	(void)strbuf_append_char(&out, ',');
	(void)base64_encode(keys.stored_key, keys.key_len, &out);
	(void)strbuf_append_char(&out, ',');
	(void)base64_encode(keys.server_key, keys.key_len, &out);
	xmem_wipe(&keys, sizeof(keys));
	*raw_len_r = out.len;
	*raw_r = (unsigned char *)strbuf_steal(&out);
	return 0;
}
