/*
 * password_scheme - the scheme table, "{SCHEME}" prefix parsing, Dovecot's
 * encodings (.hex, .b64, .base64 and each scheme's default) and dispatch to
 * the scheme families (password_crypt.c, password_digest.c,
 * password_scram.c). Stored data is admin-supplied but may be malformed;
 * plaintexts are untrusted. Must not log or do I/O beyond getrandom().
 */
#include "mail/password_scheme.h"
#include "mail/password_scheme_private.h"
#include "util/base64.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#define SCHEME_NAME_MAX 32

/* Dovecot 2.3's schemes (src/auth/password-scheme*.c) that we implement,
   with its default encodings and raw lengths. CRYPT generates bcrypt as
   Dovecot 2.3 does; MD5 verifies MD5-CRYPT or PLAIN-MD5. */
static const struct password_scheme schemes[] = {
    {"PLAIN", PASSWORD_ENC_NONE, 0, NULL, password_digest_generate, -1, NULL},
    {"CLEAR", PASSWORD_ENC_NONE, 0, NULL, password_digest_generate, -1, NULL},
    {"CLEARTEXT", PASSWORD_ENC_NONE, 0, NULL, password_digest_generate, -1,
     NULL},
    {"CRYPT", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_BLF, NULL},
    {"DES-CRYPT", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_DES, NULL},
    {"MD5", PASSWORD_ENC_NONE, 0, password_md5_verify, password_crypt_generate,
     PASSWORD_CRYPT_MD5, NULL},
    {"MD5-CRYPT", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_MD5, NULL},
    {"SHA256-CRYPT", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_SHA256, NULL},
    {"SHA512-CRYPT", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_SHA512, NULL},
    {"BLF-CRYPT", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_BLF, NULL},
    {"YESCRYPT", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_YESCRYPT, "CRYPT"},
    {"ARGON2I", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_ARGON2I, NULL},
    {"ARGON2ID", PASSWORD_ENC_NONE, 0, password_crypt_verify,
     password_crypt_generate, PASSWORD_CRYPT_ARGON2ID, NULL},
    {"SHA", PASSWORD_ENC_BASE64, 20, NULL, password_digest_generate,
     PASSWORD_DIGEST_SHA1, NULL},
    {"SHA1", PASSWORD_ENC_BASE64, 20, NULL, password_digest_generate,
     PASSWORD_DIGEST_SHA1, NULL},
    {"SHA256", PASSWORD_ENC_BASE64, 32, NULL, password_digest_generate,
     PASSWORD_DIGEST_SHA256, NULL},
    {"SHA512", PASSWORD_ENC_BASE64, 64, NULL, password_digest_generate,
     PASSWORD_DIGEST_SHA512, NULL},
    {"PLAIN-MD5", PASSWORD_ENC_HEX, 16, NULL, password_digest_generate,
     PASSWORD_DIGEST_MD5, NULL},
    {"LDAP-MD5", PASSWORD_ENC_BASE64, 16, NULL, password_digest_generate,
     PASSWORD_DIGEST_MD5, NULL},
    {"SMD5", PASSWORD_ENC_BASE64, 0, password_salted_verify,
     password_salted_generate, PASSWORD_DIGEST_MD5, NULL},
    {"SSHA", PASSWORD_ENC_BASE64, 0, password_salted_verify,
     password_salted_generate, PASSWORD_DIGEST_SHA1, NULL},
    {"SSHA256", PASSWORD_ENC_BASE64, 0, password_salted_verify,
     password_salted_generate, PASSWORD_DIGEST_SHA256, NULL},
    {"SSHA512", PASSWORD_ENC_BASE64, 0, password_salted_verify,
     password_salted_generate, PASSWORD_DIGEST_SHA512, NULL},
    {"PBKDF2", PASSWORD_ENC_NONE, 0, password_pbkdf2_verify,
     password_pbkdf2_generate, PASSWORD_DIGEST_SHA1, NULL},
    {"SCRAM-SHA-1", PASSWORD_ENC_NONE, 0, password_scram_verify,
     password_scram_generate, PASSWORD_DIGEST_SHA1, NULL},
    {"SCRAM-SHA-256", PASSWORD_ENC_NONE, 0, password_scram_verify,
     password_scram_generate, PASSWORD_DIGEST_SHA256, NULL},
};
#define N_SCHEMES (sizeof(schemes) / sizeof(schemes[0]))

static const char *scheme_names[N_SCHEMES + 1];

int
password_random(void *buf, size_t len, const char **error_r)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*error_r = "getrandom() failed";
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
password_random_salt(char *buf, size_t len, const char **error_r)
{
	static const char salt_chars[] =
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t i;

	if (password_random(buf, len, error_r) < 0)
		return -1;
	/* 256 is a multiple of 64: every character is equally likely */
	for (i = 0; i < len; i++)
		buf[i] = salt_chars[(unsigned char)buf[i] % 64];
	buf[len] = '\0';
	return 0;
}

bool
password_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
hex_decode(const char *in, size_t in_len, unsigned char **out_r,
	   size_t *out_len_r)
{
	unsigned char *out;
	size_t i;
	int hi, lo;

	if (in_len % 2 != 0)
		return -1;
	out = xmalloc(in_len / 2 + 1);
	for (i = 0; i < in_len; i += 2) {
		if ((hi = hex_value(in[i])) < 0 ||
		    (lo = hex_value(in[i + 1])) < 0) {
			xfree(&out);
			return -1;
		}
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	out[in_len / 2] = '\0';
	*out_r = out;
	*out_len_r = in_len / 2;
	return 0;
}

static char *
hex_encode(const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out = xmalloc(len * 2 + 1);
	size_t i;

	for (i = 0; i < len; i++) {
		out[i * 2] = digits[in[i] >> 4];
		out[i * 2 + 1] = digits[in[i] & 15];
	}
	out[len * 2] = '\0';
	return out;
}

/* Looks up "NAME[.ENCODING]" (name_len bytes). *explicit_r tells whether
   the encoding was given, which turns off Dovecot's hex/base64 guess. */
static const struct password_scheme *
scheme_lookup(const char *name, size_t name_len, enum password_encoding *enc_r,
	      bool *explicit_r)
{
	const char *dot = memchr(name, '.', name_len);
	size_t base_len = dot != NULL ? (size_t)(dot - name) : name_len;
	const struct password_scheme *s = NULL;
	size_t i, enc_len;

	if (name_len > SCHEME_NAME_MAX)
		return NULL;
	for (i = 0; i < N_SCHEMES; i++) {
		if (strlen(schemes[i].name) == base_len &&
		    strncasecmp(schemes[i].name, name, base_len) == 0) {
			s = &schemes[i];
			break;
		}
	}
	if (s == NULL)
		return NULL;
	*explicit_r = dot != NULL;
	if (dot == NULL) {
		*enc_r = s->encoding;
		return s;
	}
	enc_len = name_len - base_len - 1;
	if ((enc_len == 3 && strncasecmp(dot + 1, "b64", 3) == 0) ||
	    (enc_len == 6 && strncasecmp(dot + 1, "base64", 6) == 0))
		*enc_r = PASSWORD_ENC_BASE64;
	else if (enc_len == 3 && strncasecmp(dot + 1, "hex", 3) == 0)
		*enc_r = PASSWORD_ENC_HEX;
	else
		return NULL; /* unknown encoding: an unknown scheme to Dovecot
			      */
	return s;
}

/* Dovecot's password_decode(): without an explicit suffix, a fixed-length
   scheme is hex if the length fits, else base64 (hex falls back too). */
static int
scheme_decode(const struct password_scheme *s, enum password_encoding enc,
	      bool explicit_enc, const char *data, size_t len,
	      unsigned char **raw_r, size_t *raw_len_r, const char **error_r)
{
	bool guessed = false;

	*raw_r = NULL;
	*raw_len_r = 0;
	if (enc != PASSWORD_ENC_NONE && s->raw_len != 0 && !explicit_enc) {
		enc = len == s->raw_len * 2 ? PASSWORD_ENC_HEX
					    : PASSWORD_ENC_BASE64;
		guessed = true;
	}
	switch (enc) {
	case PASSWORD_ENC_NONE:
		*raw_r = (unsigned char *)xstrndup(data, len);
		*raw_len_r = len;
		break;
	case PASSWORD_ENC_HEX:
		if (hex_decode(data, len, raw_r, raw_len_r) == 0)
			break;
		if (!guessed) {
			*error_r = "stored password is not valid hex";
			return -1;
		}
		/* the length may have matched by chance: try base64 */
		__attribute__((fallthrough));
	case PASSWORD_ENC_BASE64: {
		struct strbuf sb;

		/* max fits the decoding: one allocation, no stray copies */
		strbuf_init(&sb, base64_decoded_max_len(len));
		if (base64_decode(data, len, PASSWORD_BASE64_FLAGS, &sb) < 0) {
			strbuf_release(&sb);
			*error_r = "stored password is not valid base64";
			return -1;
		}
		*raw_len_r = sb.len;
		*raw_r = (unsigned char *)strbuf_steal(&sb);
		break;
	}
	}
	if (s->raw_len != 0 && *raw_len_r != s->raw_len) {
		xfree(raw_r);
		*error_r = "stored password has the wrong length";
		return -1;
	}
	return 0;
}

/* Splits stored into its scheme and data as Dovecot does and decodes the
   data: *s_r and an allocated *raw_r (NUL-terminated) on success. */
static int
stored_decode(const char *stored, const char *default_scheme,
	      const struct password_scheme **s_r, unsigned char **raw_r,
	      size_t *raw_len_r, const char **error_r)
{
	enum password_encoding enc = PASSWORD_ENC_NONE;
	const char *name, *data, *p;
	size_t name_len, data_len;
	bool explicit_enc = false;

	if (stored == NULL) {
		*error_r = "no stored password";
		return -1;
	}
	data = stored;
	name = default_scheme;
	name_len = name != NULL ? strlen(name) : 0;
	if (strncmp(stored, "$1$", 3) == 0 &&
	    (p = strchr(stored + 3, '$')) != NULL) {
		/* Dovecot: "$1$salt$hash[$ignored]" is MD5-CRYPT */
		name = "MD5-CRYPT";
		name_len = strlen(name);
		p = strchr(p + 1, '$');
		data_len = p != NULL ? (size_t)(p - stored)
				     : strnlen(stored, PASSWORD_STORED_MAX + 1);
	} else if (stored[0] == '{' && (p = strchr(stored, '}')) != NULL) {
		name = stored + 1;
		name_len = (size_t)(p - name);
		data = p + 1;
		data_len = strnlen(data, PASSWORD_STORED_MAX + 1);
	} else {
		data_len = strnlen(data, PASSWORD_STORED_MAX + 1);
	}
	if (name == NULL) {
		*error_r = "stored password has no {scheme} prefix";
		return -1;
	}
	if (data_len > PASSWORD_STORED_MAX) {
		*error_r = "stored password is too long";
		return -1;
	}
	*s_r = scheme_lookup(name, name_len, &enc, &explicit_enc);
	if (*s_r == NULL) {
		*error_r = "unknown password scheme";
		return -1;
	}
	return scheme_decode(*s_r, enc, explicit_enc, data, data_len, raw_r,
			     raw_len_r, error_r);
}

int
password_verify(const char *plain, size_t plain_len, const char *stored,
		const char *default_scheme, const char **error_r)
{
	const struct password_scheme *s;
	unsigned char *raw, *gen;
	size_t raw_len, gen_len;
	int ret;

	if (plain == NULL) {
		*error_r = "no password";
		return -1;
	}
	if (stored_decode(stored, default_scheme, &s, &raw, &raw_len, error_r) <
	    0)
		return -1;
	if (plain_len > PASSWORD_PLAIN_MAX) {
		/* longer than any password we would have stored */
		ret = 0;
	} else if (s->verify != NULL) {
		ret = s->verify(s, plain, plain_len, raw, raw_len, error_r);
	} else if (s->generate(s, plain, plain_len, 0, &gen, &gen_len,
			       error_r) < 0) {
		ret = -1;
	} else {
		ret = gen_len == raw_len && password_equal(gen, raw, raw_len);
		xmem_wipe(gen, gen_len);
		xfree(&gen);
	}
	xmem_wipe(raw, raw_len);
	xfree(&raw);
	return ret;
}

int
password_scram_credentials(const char *stored, const char *default_scheme,
			   const char *hash_name,
			   struct password_scram_credentials *creds_r,
			   const char **error_r)
{
	const struct password_scheme *s, *want;
	enum password_encoding enc;
	const char *want_name;
	unsigned char *raw;
	size_t raw_len;
	bool explicit_enc;
	int ret;

	if (strcmp(hash_name, "SHA-1") == 0)
		want_name = "SCRAM-SHA-1";
	else if (strcmp(hash_name, "SHA-256") == 0)
		want_name = "SCRAM-SHA-256";
	else {
		*error_r = "unsupported SCRAM hash";
		return -1;
	}
	want = scheme_lookup(want_name, strlen(want_name), &enc, &explicit_enc);
	if (stored_decode(stored, default_scheme, &s, &raw, &raw_len, error_r) <
	    0)
		return -1;
	memset(creds_r, 0, sizeof(*creds_r));
	if (s == want) {
		ret =
		    password_scram_parse(s, raw, raw_len, creds_r, error_r) < 0
			? -1
			: 1;
	} else if (s->generate == password_digest_generate && s->arg < 0) {
		ret = password_scram_from_plain(want, (const char *)raw,
						raw_len, creds_r, error_r) < 0
			  ? -1
			  : 1;
	} else {
		ret = 0;
	}
	xmem_wipe(raw, raw_len);
	xfree(&raw);
	return ret;
}

int
password_generate(const char *plain, size_t plain_len, const char *scheme,
		  unsigned int rounds_or_0, char **hash_r, const char **error_r)
{
	const struct password_scheme *s;
	enum password_encoding enc;
	unsigned char *raw;
	size_t i, raw_len;
	char *enc_data, *prefix;
	bool explicit_enc;

	if (plain == NULL || scheme == NULL) {
		*error_r = "no password or scheme";
		return -1;
	}
	if (plain_len > PASSWORD_PLAIN_MAX) {
		*error_r = "password is too long";
		return -1;
	}
	s = scheme_lookup(scheme, strlen(scheme), &enc, &explicit_enc);
	if (s == NULL) {
		*error_r = "unknown password scheme";
		return -1;
	}
	if (s->generate(s, plain, plain_len, rounds_or_0, &raw, &raw_len,
			error_r) < 0)
		return -1;
	switch (enc) {
	case PASSWORD_ENC_NONE:
		enc_data = xstrndup((const char *)raw, raw_len);
		break;
	case PASSWORD_ENC_BASE64: {
		struct strbuf sb;

		strbuf_init(&sb, STRBUF_UNLIMITED);
		(void)base64_encode(raw, raw_len, &sb); /* unlimited */
		enc_data = strbuf_steal(&sb);
		break;
	}
	case PASSWORD_ENC_HEX:
	default:
		enc_data = hex_encode(raw, raw_len);
		break;
	}
	xmem_wipe(raw, raw_len);
	xfree(&raw);
	/* doveadm prints the name as given, upper-cased */
	if (s->gen_name != NULL) {
		const char *dot = strchr(scheme, '.');

		prefix = xasprintf("%s%s", s->gen_name, dot != NULL ? dot : "");
	} else {
		prefix = xstrdup(scheme);
	}
	for (i = 0; prefix[i] != '\0'; i++) {
		if (prefix[i] >= 'a' && prefix[i] <= 'z')
			prefix[i] = (char)(prefix[i] - 'a' + 'A');
	}
	*hash_r = xasprintf("{%s}%s", prefix, enc_data);
	xfree(&prefix);
	xfree(&enc_data);
	return 0;
}

bool
password_scheme_known(const char *scheme)
{
	enum password_encoding enc;
	bool explicit_enc;

	return scheme != NULL && scheme_lookup(scheme, strlen(scheme), &enc,
					       &explicit_enc) != NULL;
}

static void
scheme_names_init(void)
{
	size_t i;

	for (i = 0; i < N_SCHEMES; i++)
		scheme_names[i] = schemes[i].name;
	scheme_names[N_SCHEMES] = NULL;
}

const char *const *
password_scheme_list(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, scheme_names_init);
	return scheme_names;
}
