/*
 * password_scheme - Dovecot's "{SCHEME}data" password notation: verify a
 * plaintext against a stored hash and generate new hashes, bit-compatible
 * with Dovecot 2.3 ("doveadm pw"). Pure library code: no logging, no I/O
 * except the kernel's random source (getrandom) for salts.
 *
 * Stored hashes come from the admin's password database (trusted not to be
 * hostile, but may be malformed); plaintexts come from the network. Every
 * length is bounded; malformed data is an error, never a crash.
 */
#ifndef PASSWORD_SCHEME_H
#define PASSWORD_SCHEME_H

#include <stdbool.h>
#include <stddef.h>

/* Longest stored hash (after the scheme prefix) and plaintext accepted. */
#define PASSWORD_STORED_MAX 4096
#define PASSWORD_PLAIN_MAX 1024

/*
 * Verifies plain (plain_len bytes, may contain any byte) against stored.
 * stored is "{SCHEME}data" (SCHEME may carry Dovecot's ".hex", ".b64" or
 * ".base64" encoding suffix), a bare "$1$salt$hash" (MD5-CRYPT, as Dovecot
 * detects it), or data without a prefix, which is read with default_scheme
 * (Dovecot's default_pass_scheme, e.g. "CRYPT"; NULL: a prefix is required).
 * Hash comparisons are constant time.
 * Returns 1 on a match, 0 on a mismatch, -1 (error_r set to a static
 * string) for an unknown scheme or malformed stored data.
 */
int password_verify(const char *plain, size_t plain_len, const char *stored,
		    const char *default_scheme, const char **error_r);

/*
 * Hashes plain with scheme (case-insensitive, optional encoding suffix) and
 * returns in *hash_r an allocated "{SCHEME}data" string as "doveadm pw -s
 * SCHEME" prints it (caller frees). rounds_or_0 is doveadm's -r: the cost
 * (BLF-CRYPT: log2 cost 4..31, default 5; SHA256/512-CRYPT: rounds, default
 * 5000; ARGON2I/ARGON2ID: opslimit, the memory limit follows as in Dovecot;
 * PBKDF2: iterations, default 5000; SCRAM-*: iterations, default 4096;
 * YESCRYPT: libxcrypt cost 1..11); 0 picks Dovecot's default. Salts come
 * from getrandom(). YESCRYPT is Dovetail's name for crypt's "$y$"; it is
 * generated as "{CRYPT}$y$..." so that Dovecot verifies it too.
 * Returns 0, or -1 with error_r set (unknown scheme, bad cost, no
 * randomness).
 */
int password_generate(const char *plain, size_t plain_len, const char *scheme,
		      unsigned int rounds_or_0, char **hash_r,
		      const char **error_r);

/* SCRAM server credentials (RFC 5802) for the SCRAM-SHA-* mechanisms. */
#define PASSWORD_SCRAM_SALT_MAX 256
#define PASSWORD_SCRAM_KEY_MAX 64
struct password_scram_credentials {
	unsigned int iter;
	unsigned char salt[PASSWORD_SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned char stored_key[PASSWORD_SCRAM_KEY_MAX];
	unsigned char server_key[PASSWORD_SCRAM_KEY_MAX];
	size_t key_len; /* 20 (SHA-1) or 32 (SHA-256) */
};

/*
 * Gets SCRAM credentials for hash_name ("SHA-1" or "SHA-256") from a stored
 * password (prefix rules as password_verify()): parsed from a matching
 * {SCRAM-SHA-*} entry, or derived from a cleartext one (PLAIN, CLEAR,
 * CLEARTEXT) with a fresh random salt and 4096 iterations.
 * Returns 1 with *creds_r filled, 0 if the stored scheme cannot provide
 * them (a one-way hash or the other SCRAM hash), -1 (error_r set) for
 * malformed data or an unknown scheme. The caller should wipe *creds_r.
 */
int password_scram_credentials(const char *stored, const char *default_scheme,
			       const char *hash_name,
			       struct password_scram_credentials *creds_r,
			       const char **error_r);

/* True if scheme (with an optional encoding suffix) is supported. */
bool password_scheme_known(const char *scheme);

/* NULL-terminated list of the supported scheme names (static). */
const char *const *password_scheme_list(void);

#endif
