/*
 * test_password_scheme - lib/mail/password_scheme: known hashes made by
 * Dovecot for every scheme, wrong passwords, generation round trips,
 * encodings, the default scheme, and malformed stored data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/password_scheme.h"

#include <openssl/evp.h>

#define PW "Tr0ub4dor&3 p\xc3\xa4ssw\xc3\xb6rd"

/* Made with Dovecot 2.3.19.1 (Debian 12):
   doveadm -c /dev/null pw -s SCHEME -p 'Tr0ub4dor&3 pässwörd'
   The yescrypt and DES {CRYPT} lines were made with libxcrypt's crypt()
   and checked with "doveadm pw -t". */
static const char *const dovecot_hashes[] = {
    "{PLAIN}" PW, "{CLEAR}" PW, "{CLEARTEXT}" PW,
    "{CRYPT}$2y$05$Oz4oVkQlh..QbCRDz869Se3RDY8BDBQzqZTE0bTAGxWv03ALmQWGm",
    "{DES-CRYPT}1NX55vdHzzKuc", "{MD5}$1$IniqIshg$2W3Etrrrd9qEPJIIytQgt1",
    "{MD5-CRYPT}$1$LBfn.tPD$oePuCfJZNDimVdtu8bdWw0",
    "{SHA256-CRYPT}$5$BDS.COhRQHQIfnle$DpR9UL694w3xKLS27dDXEpRlk2JIHhu8j/"
    "vrRkKU1F0",
    "{SHA512-CRYPT}$6$RnB0umQozyp8Nm/Z$3WjmY1Ie2pJSGenjLpgLi0fWLQt.LcLPaMM0"
    "ZeCNptqK7A9lzOcL4e7keH5.oLIhb4PWMLUtZIccKdVntUjmI/",
    "{SHA512-CRYPT}$6$rounds=10000$aNZFVK126p/z0Ywb$7pLGuxGgFTI.BLCsO6TWHA0"
    "FL4zse0R3WWD6sjYBf0oPf4PfbxXg3iLo6fG9roQ6l5VrwThBPvr07VNQNmi7Z/",
    "{BLF-CRYPT}$2y$05$MrfKtdg3dTi5vg0fbDp4yuiuqcNYBYxswoMZY466Us8JgTcP4iqr.",
    "{BLF-CRYPT}$2y$04$k9KN7i/401UOMQjRJsrNoeuz7Q7zqCst0gGnzrhbFawBBB0yTaLLC",
    "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$YOBCA145VPQI/mfpyxL6OA$Ze+qhekcW"
    "5j5gskRc9zXFrApuL4BuDXzasGzxdn134E",
    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$39ncKEb3nrTa21Kh8EqE3Q$V12Jjj"
    "UzokOqTBtpdGEges2MZE+OfpNk2c5dcl077Tw",
    "{SHA}4f0lwdsRGJZ8CnQXe8eQOOc4py4=", "{SHA1}4f0lwdsRGJZ8CnQXe8eQOOc4py4=",
    "{SHA256}2r2QgXYcNTqExd/CaFKGCPIk18FXSB+3TgeBELSvJXg=",
    "{SHA512}J2bHxfzm1vKRYgD5o6cFI1c5KZ2vy67T0DoNrsIrTWk/XuAY0jdu0ETwD9uULo"
    "vSZ4xcJkfQT+lrMiIbXubcgA==",
    "{PLAIN-MD5}bf8db2ac111f2b92df9e22164190da9b",
    "{LDAP-MD5}v42yrBEfK5LfniIWQZDamw==", "{SMD5}nFpsLnjdBnOdb9Z86P4ZAY6VNus=",
    "{SSHA}Rc8QwB7euf4CuzHiG6fgogzuJQC36nbG",
    "{SSHA256}T86//hk/LGNVabDTP4bjzW43jpWXQRtiS5T6iJVNocBh4OLL",
    "{SSHA512}sE7twka7HIzyD8BuPDN7EGYSVYDU8cxsVPVRanpoJkbGbJovoD6OSQYsMXfgVa"
    "IYsYDJ15QCvqDmrLXlTA6/qdDWMPs=",
    "{PBKDF2}$1$B.SegXGGOqZojijR$5000$50a2b4d589bd5cc448e2ea0cb8f3419611a03c57",
    "{SCRAM-SHA-1}4096,ZqpulKOFH6Ordg2l0rkNVA==,iVJEcbwiSRvJxeoXqmUqFuKYNnU="
    ",mE0mdhO6HIP87suPLvMf12pfQq4=",
    "{SCRAM-SHA-256}4096,a/XIpZ2iH1NkE0HsZzCudg==,Ivd8opZohhRpo9AtDRNc0fQ3+w"
    "iRsV2CvV9WvrjxQNA=,YEkGGg2AJ0uX1vmsxL37hkusCPSzINwyUP72TvWMoIc=",
    "{SHA256.HEX}dabd9081761c353a84c5dfc268528608f224d7c157481fb74e078110b4af"
    "2578",
    "{SSHA.HEX}6c3d33beb81f2f4ad291c3ca07514f8104ca1cbcc2c6c0dd",
    "{PLAIN-MD5.B64}v42yrBEfK5LfniIWQZDamw==",
    "{SHA512-CRYPT.HEX}24362437676448643466546b696c5632734d67245a41674e5354"
    "6b39395a74754731472e54742f426a69764a756b2e67434a4a5956623742416a397a41"
    "41374b683736573262354d68307a71346167396b55514e595370444b5274495a465278"
    "4e56534d6d6d7272722e",
    "{CRYPT}$y$j9T$Fj2Tsb5dHCG1xFv4b7S0l/$MYiXlw9Kf8S14FyYV/lpAuWkhMIbhUV4Zn"
    "Mr6HDzT39",
    "{CRYPT}XyiC59wSOoVh6",
    /* Dovecot guesses hex for a fixed-length scheme of the right length */
    "{PLAIN-MD5}v42yrBEfK5LfniIWQZDamw==",
    "{SHA256}dabd9081761c353a84c5dfc268528608f224d7c157481fb74e078110b4af2578",
    /* lower-case scheme names */
    "{ssha}Rc8QwB7euf4CuzHiG6fgogzuJQC36nbG",
    /* a bare $1$ is MD5-CRYPT, and Dovecot ignores a trailing "$..." */
    "$1$LBfn.tPD$oePuCfJZNDimVdtu8bdWw0",
    "$1$LBfn.tPD$oePuCfJZNDimVdtu8bdWw0$ignored", NULL};

static int
verify(const char *plain, const char *stored, const char *def)
{
	const char *error = NULL;
	int ret = password_verify(plain, strlen(plain), stored, def, &error);

	if (ret < 0)
		assert_non_null(error);
	return ret;
}

static void
test_dovecot_hashes_verify(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; dovecot_hashes[i] != NULL; i++) {
		if (verify(PW, dovecot_hashes[i], NULL) != 1)
			fail_msg("does not verify: %s", dovecot_hashes[i]);
	}
}

static void
test_wrong_password_fails(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; dovecot_hashes[i] != NULL; i++) {
		/* differs in the first 8 bytes: DES-CRYPT reads no further */
		if (verify("Tr0ub4d0r&3 p\xc3\xa4ssw\xc3\xb6rd",
			   dovecot_hashes[i], NULL) != 0)
			fail_msg("wrong password accepted: %s",
				 dovecot_hashes[i]);
		if (verify("", dovecot_hashes[i], NULL) != 0)
			fail_msg("empty password accepted: %s",
				 dovecot_hashes[i]);
	}
	/* a password with a NUL byte never matches its prefix */
	assert_int_equal(password_verify(PW "\0x", sizeof(PW) + 1,
					 dovecot_hashes[3], NULL,
					 &(const char *){NULL}),
			 0);
	assert_int_equal(password_verify(PW "\0x", sizeof(PW) + 1,
					 dovecot_hashes[0], NULL,
					 &(const char *){NULL}),
			 0);
}

static void
test_generate_round_trip(void **state)
{
	const char *const *list;
	const char *error = NULL;
	const char *extra[] = {"SHA256.HEX", "ssha.b64", "PLAIN-MD5.base64",
			       "SHA512-CRYPT.hex", NULL};
	char *hash, prefix[64];
	size_t i;
	int n = 0;

	(void)state;
	for (list = password_scheme_list(); *list != NULL; list++, n++) {
		if (password_generate(PW, strlen(PW), *list, 0, &hash, &error) <
		    0)
			fail_msg("%s: %s", *list, error);
		snprintf(prefix, sizeof(prefix), "{%s}",
			 strcmp(*list, "YESCRYPT") == 0 ? "CRYPT" : *list);
		if (strncmp(hash, prefix, strlen(prefix)) != 0)
			fail_msg("%s: bad prefix: %s", *list, hash);
		if (verify(PW, hash, NULL) != 1)
			fail_msg("%s: own hash does not verify: %s", *list,
				 hash);
		if (verify("wrong", hash, NULL) != 0)
			fail_msg("%s: wrong password accepted", *list);
		free(hash);
	}
	assert_true(n >= 20);
	for (i = 0; extra[i] != NULL; i++) {
		assert_int_equal(password_generate(PW, strlen(PW), extra[i], 0,
						   &hash, &error),
				 0);
		assert_int_equal(verify(PW, hash, NULL), 1);
		free(hash);
	}
	assert_int_equal(
	    password_generate("x", 1, "sha256.hex", 0, &hash, &error), 0);
	assert_string_equal(hash, "{SHA256.HEX}2d711642b726b04401627ca9fbac32f5"
				  "c8530fb1903cc4db02258717921a4881");
	free(hash);
}

static void
test_generate_formats(void **state)
{
	const char *error = NULL;
	char *hash;

	(void)state;
	/* Dovecot's defaults: bcrypt cost 5 for CRYPT and BLF-CRYPT, SHA-crypt
	   without "rounds=" at 5000, argon2 costs as libsodium's levels */
	assert_int_equal(password_generate("x", 1, "CRYPT", 0, &hash, &error),
			 0);
	assert_int_equal(strncmp(hash, "{CRYPT}$2y$05$", 14), 0);
	free(hash);
	assert_int_equal(
	    password_generate("x", 1, "BLF-CRYPT", 4, &hash, &error), 0);
	assert_int_equal(strncmp(hash, "{BLF-CRYPT}$2y$04$", 18), 0);
	free(hash);
	assert_int_equal(
	    password_generate("x", 1, "BLF-CRYPT", 32, &hash, &error), -1);
	assert_int_equal(
	    password_generate("x", 1, "SHA512-CRYPT", 0, &hash, &error), 0);
	assert_int_equal(strncmp(hash, "{SHA512-CRYPT}$6$", 17), 0);
	assert_null(strstr(hash, "rounds="));
	free(hash);
	assert_int_equal(
	    password_generate("x", 1, "SHA256-CRYPT", 1001, &hash, &error), 0);
	assert_int_equal(strncmp(hash, "{SHA256-CRYPT}$5$rounds=1001$", 29), 0);
	free(hash);
	assert_int_equal(
	    password_generate("x", 1, "ARGON2ID", 0, &hash, &error), 0);
	assert_int_equal(strncmp(hash,
				 "{ARGON2ID}$argon2id$v=19$m=65536,t=3,"
				 "p=1$",
				 41),
			 0);
	free(hash);
	assert_int_equal(password_generate("x", 1, "ARGON2I", 0, &hash, &error),
			 0);
	assert_int_equal(strncmp(hash,
				 "{ARGON2I}$argon2i$v=19$m=32768,t=4,"
				 "p=1$",
				 39),
			 0);
	free(hash);
	assert_int_equal(
	    password_generate("x", 1, "YESCRYPT", 0, &hash, &error), 0);
	assert_int_equal(strncmp(hash, "{CRYPT}$y$", 10), 0);
	free(hash);
	assert_int_equal(
	    password_generate("x", 1, "SCRAM-SHA-256", 0, &hash, &error), 0);
	assert_int_equal(strncmp(hash, "{SCRAM-SHA-256}4096,", 20), 0);
	free(hash);
	assert_int_equal(password_generate("x", 1, "PBKDF2", 0, &hash, &error),
			 0);
	assert_int_equal(strncmp(hash, "{PBKDF2}$1$", 11), 0);
	assert_non_null(strstr(hash, "$5000$"));
	free(hash);
	/* two generations never share a salt */
	{
		char *h2;

		assert_int_equal(
		    password_generate("x", 1, "SSHA512", 0, &hash, &error), 0);
		assert_int_equal(
		    password_generate("x", 1, "SSHA512", 0, &h2, &error), 0);
		assert_string_not_equal(hash, h2);
		free(hash);
		free(h2);
	}
	assert_int_equal(password_generate("x", 1, "NOPE", 0, &hash, &error),
			 -1);
	assert_int_equal(
	    password_generate("x", 1, "SHA.rot13", 0, &hash, &error), -1);
}

static void
test_default_scheme(void **state)
{
	(void)state;
	/* prefix-less hashes read with default_pass_scheme = CRYPT */
	assert_int_equal(verify(PW,
				"$2y$05$Oz4oVkQlh..QbCRDz869Se3RDY8BDBQzqZ"
				"TE0bTAGxWv03ALmQWGm",
				"CRYPT"),
			 1);
	assert_int_equal(verify(PW,
				"$6$RnB0umQozyp8Nm/Z$3WjmY1Ie2pJSGenjLpgLi0"
				"fWLQt.LcLPaMM0ZeCNptqK7A9lzOcL4e7keH5.oLIhb4P"
				"WMLUtZIccKdVntUjmI/",
				"CRYPT"),
			 1);
	assert_int_equal(verify(PW,
				"$5$BDS.COhRQHQIfnle$DpR9UL694w3xKLS27dDXEp"
				"Rlk2JIHhu8j/vrRkKU1F0",
				"crypt"),
			 1);
	assert_int_equal(verify(PW,
				"$y$j9T$Fj2Tsb5dHCG1xFv4b7S0l/$MYiXlw9Kf8S1"
				"4FyYV/lpAuWkhMIbhUV4ZnMr6HDzT39",
				"CRYPT"),
			 1);
	assert_int_equal(verify(PW, "XyiC59wSOoVh6", "CRYPT"), 1);
	assert_int_equal(verify(PW,
				"$argon2id$v=19$m=65536,t=3,p=1$39ncKEb3nrT"
				"a21Kh8EqE3Q$V12JjjUzokOqTBtpdGEges2MZE+OfpNk2c"
				"5dcl077Tw",
				"CRYPT"),
			 1);
	assert_int_equal(verify("wrong", "XyiC59wSOoVh6", "CRYPT"), 0);
	assert_int_equal(verify(PW, PW, "PLAIN"), 1);
	assert_int_equal(
	    verify(PW, "bf8db2ac111f2b92df9e22164190da9b", "PLAIN-MD5"), 1);
	/* an explicit prefix wins over the default */
	assert_int_equal(verify(PW, "{PLAIN}" PW, "CRYPT"), 1);
	/* no prefix and no default */
	assert_int_equal(verify(PW, "XyiC59wSOoVh6", NULL), -1);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
	    "{SSHA}Rc8QwB7euf4CuzHiG6fgogzuJQC36nb",	 /* truncated */
	    "{SSHA}Rc8QwB7euf4CuzHiG6fgogzuJQC36nbG===", /* bad padding */
	    "{SSHA}Rc8QwB7e",				 /* too short */
	    "{SSHA}",
	    "{SHA}4f0lwdsRGJZ8CnQXe8eQOOc4py4",
	    "{SHA}4f0lwdsRGJZ8CnQXe8eQ",
	    "{SHA256}2r2QgXYcNTqExd/CaFKGCPIk18FXSB+3Tg*BELSvJXg=",
	    "{PLAIN-MD5}bf8db2ac111f2b92df9e22164190da9",
	    "{SHA256.HEX}dabd9081761c353a84c5dfc268528608f224d7c157481fb74e0781"
	    "10b4af257x",
	    "{NOSUCH}abc",
	    "{SHA.rot13}abc",
	    "{}abc",
	    "{CRYPT}",
	    "{CRYPT}$6",
	    "{CRYPT}$9$abc$def",
	    "{BLF-CRYPT}$2y$05$short",
	    "{MD5}zzzz",
	    "{ARGON2ID}$2y$05$Oz4oVkQlh.."
	    "QbCRDz869Se3RDY8BDBQzqZTE0bTAGxWv03ALm",
	    "{PBKDF2}$1$salt$5000$abc",
	    "{PBKDF2}$1$salt$x$50a2b4d589bd5cc448e2ea0cb8f3419611a03c57",
	    "{PBKDF2}nope",
	    "{SCRAM-SHA-256}4096,a/XIpZ2iH1NkE0HsZzCudg==,Ivd8opZoh",
	    "{SCRAM-SHA-256}4096,a/XIpZ2iH1NkE0HsZzCudg==",
	    "{SCRAM-SHA-256}x,a/XIpZ2iH1NkE0HsZzCudg==,Ivd8opZohhRpo9AtDRNc0fQ"
	    "3+wiRsV2CvV9WvrjxQNA=,"
	    "YEkGGg2AJ0uX1vmsxL37hkusCPSzINwyUP72TvWMoIc=",
	    "{SCRAM-SHA-1}4096,ZqpulKOFH6Ordg2l0rkNVA==,iVJEcbwiSRvJxeoXqmUqFuK"
	    "YNnU=,mE0mdhO6HIP87suPLvMf12pfQq4=,extra",
	    "",
	    NULL};
	const char *error = NULL;
	char *huge;
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		error = NULL;
		if (password_verify(PW, strlen(PW), bad[i], NULL, &error) != -1)
			fail_msg("accepted malformed: \"%s\"", bad[i]);
		assert_non_null(error);
	}
	assert_int_equal(password_verify(PW, strlen(PW), NULL, "CRYPT", &error),
			 -1);
	/* over-long stored data is refused without reading all of it */
	huge = malloc(PASSWORD_STORED_MAX + 100);
	assert_non_null(huge);
	memcpy(huge, "{PLAIN}", 7);
	memset(huge + 7, 'a', PASSWORD_STORED_MAX + 50);
	huge[PASSWORD_STORED_MAX + 57] = '\0';
	assert_int_equal(password_verify("a", 1, huge, NULL, &error), -1);
	free(huge);
}

static char *
b64(const unsigned char *data, size_t len)
{
	char *out = malloc(len / 3 * 4 + 8);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static void
test_scram_credentials(void **state)
{
	struct password_scram_credentials c;
	const char *error = NULL;
	char *salt, *stored, *server, *hash;
	const char *scram256 = dovecot_hashes[26];

	(void)state;
	assert_int_equal(strncmp(scram256, "{SCRAM-SHA-256}", 15), 0);
	assert_int_equal(
	    password_scram_credentials(scram256, NULL, "SHA-256", &c, &error),
	    1);
	assert_int_equal(c.iter, 4096);
	assert_int_equal(c.salt_len, 16);
	assert_int_equal(c.key_len, 32);
	stored = b64(c.stored_key, c.key_len);
	assert_non_null(strstr(scram256, stored));
	free(stored);

	/* from a cleartext: fresh salt, keys that verify the password */
	assert_int_equal(
	    password_scram_credentials(PW, "PLAIN", "SHA-256", &c, &error), 1);
	assert_int_equal(c.iter, 4096);
	salt = b64(c.salt, c.salt_len);
	stored = b64(c.stored_key, c.key_len);
	server = b64(c.server_key, c.key_len);
	assert_true(asprintf(&hash, "{SCRAM-SHA-256}%u,%s,%s,%s", c.iter, salt,
			     stored, server) > 0);
	assert_int_equal(verify(PW, hash, NULL), 1);
	assert_int_equal(verify("wrong", hash, NULL), 0);
	free(hash);
	free(salt);
	free(stored);
	free(server);
	assert_int_equal(
	    password_scram_credentials("{CLEAR}x", NULL, "SHA-1", &c, &error),
	    1);
	assert_int_equal(c.key_len, 20);

	/* one-way hashes and the other SCRAM hash cannot provide them */
	assert_int_equal(password_scram_credentials(dovecot_hashes[21], NULL,
						    "SHA-256", &c, &error),
			 0);
	assert_int_equal(password_scram_credentials(dovecot_hashes[25], NULL,
						    "SHA-256", &c, &error),
			 0);
	assert_int_equal(password_scram_credentials("{SCRAM-SHA-256}4096,abc",
						    NULL, "SHA-256", &c,
						    &error),
			 -1);
	assert_int_equal(
	    password_scram_credentials(scram256, NULL, "MD5", &c, &error), -1);
}

static void
test_scheme_known(void **state)
{
	(void)state;
	assert_true(password_scheme_known("SHA512-CRYPT"));
	assert_true(password_scheme_known("ssha256"));
	assert_true(password_scheme_known("SHA256.hex"));
	assert_true(password_scheme_known("SHA256.b64"));
	assert_true(password_scheme_known("SHA256.BASE64"));
	assert_false(password_scheme_known("SHA256.rot13"));
	assert_false(password_scheme_known("DIGEST-MD5"));
	assert_false(password_scheme_known(""));
	assert_false(password_scheme_known(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dovecot_hashes_verify),
	    cmocka_unit_test(test_wrong_password_fails),
	    cmocka_unit_test(test_generate_round_trip),
	    cmocka_unit_test(test_generate_formats),
	    cmocka_unit_test(test_default_scheme),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_scram_credentials),
	    cmocka_unit_test(test_scheme_known),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
