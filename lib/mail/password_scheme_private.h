/*
 * password_scheme_private - the interface between password_scheme.c (table,
 * prefixes, encodings) and the scheme families in password_crypt.c,
 * password_digest.c and password_scram.c. Not for use outside these files.
 */
#ifndef PASSWORD_SCHEME_PRIVATE_H
#define PASSWORD_SCHEME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/base64.h"

#define ATTR_UNUSED_ARG __attribute__((unused))

enum password_encoding {
	PASSWORD_ENC_NONE,
	PASSWORD_ENC_BASE64,
	PASSWORD_ENC_HEX,
};

struct password_scheme;

/* Verifies plain against the decoded stored data: 1, 0 or -1. */
typedef int password_verify_fn(const struct password_scheme *s,
			       const char *plain, size_t plain_len,
			       const unsigned char *raw, size_t raw_len,
			       const char **error_r);
/* Generates the raw (not yet encoded) data into *raw_r (allocated). */
typedef int password_generate_fn(const struct password_scheme *s,
				 const char *plain, size_t plain_len,
				 unsigned int rounds, unsigned char **raw_r,
				 size_t *raw_len_r, const char **error_r);

struct password_scheme {
	const char *name;
	enum password_encoding encoding; /* default encoding */
	size_t raw_len;			 /* fixed decoded length, 0: any */
	/* NULL: generate and compare (only for unsalted digests) */
	password_verify_fn *verify;
	password_generate_fn *generate;
	int arg;	      /* family-specific: digest or crypt variant */
	const char *gen_name; /* prefix written on generation; NULL: name */
};

/* Family arguments (struct password_scheme.arg). */
enum password_digest {
	PASSWORD_DIGEST_MD5,
	PASSWORD_DIGEST_SHA1,
	PASSWORD_DIGEST_SHA256,
	PASSWORD_DIGEST_SHA512,
};

enum password_crypt {
	PASSWORD_CRYPT_ANY, /* verify only: whatever crypt(3) accepts */
	PASSWORD_CRYPT_DES,
	PASSWORD_CRYPT_MD5,
	PASSWORD_CRYPT_SHA256,
	PASSWORD_CRYPT_SHA512,
	PASSWORD_CRYPT_BLF,
	PASSWORD_CRYPT_YESCRYPT,
	PASSWORD_CRYPT_ARGON2I,
	PASSWORD_CRYPT_ARGON2ID,
};

/* password_scheme.c */
/* Fills buf with len random bytes from getrandom(); 0 or -1. */
int password_random(void *buf, size_t len, const char **error_r);
/* len random characters of crypt's salt alphabet "./0-9A-Za-z", NUL added;
   buf must hold len + 1 bytes. */
int password_random_salt(char *buf, size_t len, const char **error_r);
/* Constant-time comparison of equal-length buffers. */
bool password_equal(const void *a, const void *b, size_t len);
/* util/base64 rules for stored hashes and SCRAM fields: padding required,
   non-zero unused bits accepted (as Dovecot's decoder does). */
#define PASSWORD_BASE64_FLAGS                                                  \
	(BASE64_DECODE_PAD_REQUIRED | BASE64_DECODE_IGNORE_UNUSED_BITS)

/* password_crypt.c */
password_verify_fn password_crypt_verify;
password_generate_fn password_crypt_generate;
password_verify_fn password_md5_verify;

/* password_digest.c */
password_generate_fn password_digest_generate;
password_verify_fn password_salted_verify;
password_generate_fn password_salted_generate;
password_verify_fn password_pbkdf2_verify;
password_generate_fn password_pbkdf2_generate;
/* Raw message digest of data (out holds up to 64 bytes); returns the
   length, or 0 on failure. */
size_t password_digest(enum password_digest d, const void *data, size_t len,
		       unsigned char *out);

/* password_scram.c */
password_verify_fn password_scram_verify;
password_generate_fn password_scram_generate;
struct password_scram_credentials;
/* Parses s's stored data (raw, NUL-terminated) into *creds_r: 0 or -1. */
int password_scram_parse(const struct password_scheme *s,
			 const unsigned char *raw, size_t raw_len,
			 struct password_scram_credentials *creds_r,
			 const char **error_r);
/* Derives credentials from a cleartext with a fresh salt: 0 or -1. */
int password_scram_from_plain(const struct password_scheme *s,
			      const char *plain, size_t plain_len,
			      struct password_scram_credentials *creds_r,
			      const char **error_r);

#endif
