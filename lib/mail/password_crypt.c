/*
 * password_crypt - the crypt(3) family of Dovecot password schemes (CRYPT,
 * DES-CRYPT, MD5-CRYPT, SHA256-CRYPT, SHA512-CRYPT, BLF-CRYPT and
 * libxcrypt's yescrypt) through libxcrypt's crypt_rn(), and ARGON2I /
 * ARGON2ID through libsodium's crypto_pwhash, with Dovecot 2.3's default
 * costs. Stored hashes may be malformed (errors, not crashes); plaintexts
 * are untrusted. Must not log; the only I/O is getrandom() for salts.
 */
#include "mail/password_scheme.h"
#include "mail/password_scheme_private.h"
#include "util/xmem.h"

#include <crypt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

/* Dovecot 2.3: SHA-crypt rounds default 5000 (then no "rounds=" in the
   salt), clamped to 1000..999999999; bcrypt cost 5, at least 4. */
#define SHA_CRYPT_ROUNDS_DEFAULT 5000
#define SHA_CRYPT_ROUNDS_MIN 1000
#define SHA_CRYPT_ROUNDS_MAX 999999999
#define BLF_COST_DEFAULT 5
#define BLF_COST_MIN 4
#define BLF_COST_MAX 31
#define YESCRYPT_COST_MAX 11

/* crypt() needs a C string: a plaintext with a NUL byte cannot match. */
static char *
plain_cstr(const char *plain, size_t plain_len)
{
	if (memchr(plain, '\0', plain_len) != NULL)
		return NULL;
	return xstrndup(plain, plain_len);
}

static int
argon2_verify(const char *plain, size_t plain_len, const char *hash,
	      const char **error_r)
{
	if (strncmp(hash, "$argon2i$", 9) != 0 &&
	    strncmp(hash, "$argon2id$", 10) != 0) {
		*error_r = "stored password is not an argon2 hash";
		return -1;
	}
	if (sodium_init() < 0) {
		*error_r = "sodium_init() failed";
		return -1;
	}
	/* libsodium cannot tell a mismatch from parameters it refuses; as in
	   Dovecot (which uses the same call), both are a mismatch */
	return crypto_pwhash_str_verify(hash, plain, plain_len) == 0 ? 1 : 0;
}

int
password_crypt_verify(const struct password_scheme *s, const char *plain,
		      size_t plain_len, const unsigned char *raw,
		      size_t raw_len, const char **error_r)
{
	const char *hash = (const char *)raw;
	struct crypt_data *cd;
	const char *res;
	char *phrase;
	int ret;

	if (raw_len == 0 || strlen(hash) != raw_len) {
		*error_r = "stored crypt password is empty or has a NUL byte";
		return -1;
	}
	if (s->arg == PASSWORD_CRYPT_ARGON2I ||
	    s->arg == PASSWORD_CRYPT_ARGON2ID ||
	    strncmp(hash, "$argon2", 7) == 0)
		return argon2_verify(plain, plain_len, hash, error_r);
	if ((phrase = plain_cstr(plain, plain_len)) == NULL)
		return 0;
	cd = xcalloc(1, sizeof(*cd));
	res = crypt_rn(phrase, hash, cd, sizeof(*cd));
	if (res == NULL || res[0] == '*') {
		*error_r = "stored crypt password is malformed or uses an "
			   "unsupported method";
		ret = -1;
	} else {
		ret = strlen(res) == raw_len &&
		      password_equal(res, hash, raw_len);
	}
	xmem_wipe(cd, sizeof(*cd));
	xfree(&cd);
	xmem_wipe(phrase, plain_len);
	xfree(&phrase);
	return ret;
}

int
password_md5_verify(const struct password_scheme *s, const char *plain,
		    size_t plain_len, const unsigned char *raw, size_t raw_len,
		    const char **error_r)
{
	char *stored;
	int ret;

	/* Dovecot's MD5: MD5-CRYPT, else PLAIN-MD5 (hex or base64) */
	if (raw_len >= 3 && memcmp(raw, "$1$", 3) == 0)
		return password_crypt_verify(s, plain, plain_len, raw, raw_len,
					     error_r);
	if (strlen((const char *)raw) != raw_len) {
		*error_r = "stored MD5 password has a NUL byte";
		return -1;
	}
	stored = xasprintf("{PLAIN-MD5}%s", (const char *)raw);
	ret = password_verify(plain, plain_len, stored, NULL, error_r);
	xfree(&stored);
	return ret;
}

static int
argon2_generate(int variant, const char *plain, size_t plain_len,
		unsigned int rounds, char *out, const char **error_r)
{
	unsigned long long ops = rounds;
	size_t mem;
	int ret;

	if (sodium_init() < 0) {
		*error_r = "sodium_init() failed";
		return -1;
	}
	/* Dovecot 2.3's cost choice: the opslimit picks the memory limit
	   from libsodium's interactive/moderate/sensitive levels */
	if (variant == PASSWORD_CRYPT_ARGON2I) {
		if (ops == 0)
			ops = crypto_pwhash_argon2i_OPSLIMIT_INTERACTIVE;
		if (ops >= crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE)
			mem = crypto_pwhash_argon2i_MEMLIMIT_SENSITIVE;
		else if (ops >= crypto_pwhash_argon2i_OPSLIMIT_MODERATE)
			mem = crypto_pwhash_argon2i_MEMLIMIT_MODERATE;
		else
			mem = crypto_pwhash_argon2i_MEMLIMIT_INTERACTIVE;
		ret =
		    crypto_pwhash_argon2i_str(out, plain, plain_len, ops, mem);
	} else {
		if (ops == 0)
			ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
		if (ops >= crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE)
			mem = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
		else if (ops >= crypto_pwhash_argon2id_OPSLIMIT_MODERATE)
			mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
		else
			mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
		/* Dovecot's hashes say t=3 for the interactive default */
		if (ops < 3)
			ops = 3;
		ret =
		    crypto_pwhash_argon2id_str(out, plain, plain_len, ops, mem);
	}
	if (ret != 0) {
		*error_r = "argon2 hashing failed (cost out of range or "
			   "out of memory)";
		return -1;
	}
	return 0;
}

/* Builds the crypt setting ("$6$salt", "$2y$05$...") for s and rounds. */
static int
crypt_setting(int variant, unsigned int rounds, char *buf, size_t size,
	      const char **error_r)
{
	char salt[17], rbytes[16];
	const char *prefix;
	unsigned long cost;

	switch (variant) {
	case PASSWORD_CRYPT_DES:
		return password_random_salt(buf, 2, error_r);
	case PASSWORD_CRYPT_MD5:
		if (password_random_salt(salt, 8, error_r) < 0)
			return -1;
		snprintf(buf, size, "$1$%s", salt);
		return 0;
	case PASSWORD_CRYPT_SHA256:
	case PASSWORD_CRYPT_SHA512:
		prefix = variant == PASSWORD_CRYPT_SHA256 ? "$5$" : "$6$";
		if (password_random_salt(salt, 16, error_r) < 0)
			return -1;
		if (rounds == 0 || rounds == SHA_CRYPT_ROUNDS_DEFAULT) {
			snprintf(buf, size, "%s%s", prefix, salt);
			return 0;
		}
		if (rounds < SHA_CRYPT_ROUNDS_MIN)
			rounds = SHA_CRYPT_ROUNDS_MIN;
		if (rounds > SHA_CRYPT_ROUNDS_MAX)
			rounds = SHA_CRYPT_ROUNDS_MAX;
		snprintf(buf, size, "%srounds=%u$%s", prefix, rounds, salt);
		return 0;
	case PASSWORD_CRYPT_BLF:
		cost = rounds == 0 ? BLF_COST_DEFAULT : rounds;
		if (cost < BLF_COST_MIN)
			cost = BLF_COST_MIN;
		if (cost > BLF_COST_MAX) {
			*error_r = "BLF-CRYPT cost must be 4..31";
			return -1;
		}
		prefix = "$2y$";
		break;
	case PASSWORD_CRYPT_YESCRYPT:
		if (rounds > YESCRYPT_COST_MAX) {
			*error_r = "yescrypt cost must be 1..11";
			return -1;
		}
		cost = rounds; /* 0: libxcrypt's default */
		prefix = "$y$";
		break;
	default:
		*error_r = "scheme cannot be generated";
		return -1;
	}
	if (password_random(rbytes, sizeof(rbytes), error_r) < 0)
		return -1;
	if (crypt_gensalt_rn(prefix, cost, rbytes, sizeof(rbytes), buf,
			     (int)size) == NULL) {
		*error_r = "crypt_gensalt() failed";
		return -1;
	}
	return 0;
}

int
password_crypt_generate(const struct password_scheme *s, const char *plain,
			size_t plain_len, unsigned int rounds,
			unsigned char **raw_r, size_t *raw_len_r,
			const char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	char argon[crypto_pwhash_STRBYTES];
	struct crypt_data *cd;
	const char *res;
	char *phrase;
	int ret = 0;

	if (s->arg == PASSWORD_CRYPT_ARGON2I ||
	    s->arg == PASSWORD_CRYPT_ARGON2ID) {
		if (argon2_generate(s->arg, plain, plain_len, rounds, argon,
				    error_r) < 0)
			return -1;
		*raw_len_r = strlen(argon);
		*raw_r = (unsigned char *)xstrdup(argon);
		return 0;
	}
	if ((phrase = plain_cstr(plain, plain_len)) == NULL) {
		*error_r = "crypt schemes cannot hash a password with a NUL";
		return -1;
	}
	if (crypt_setting(s->arg, rounds, setting, sizeof(setting), error_r) <
	    0) {
		xmem_wipe(phrase, plain_len);
		xfree(&phrase);
		return -1;
	}
	cd = xcalloc(1, sizeof(*cd));
	res = crypt_rn(phrase, setting, cd, sizeof(*cd));
	if (res == NULL || res[0] == '*') {
		*error_r = "crypt() failed";
		ret = -1;
	} else {
		*raw_len_r = strlen(res);
		*raw_r = (unsigned char *)xstrdup(res);
	}
	xmem_wipe(cd, sizeof(*cd));
	xfree(&cd);
	xmem_wipe(phrase, plain_len);
	xfree(&phrase);
	return ret;
}
