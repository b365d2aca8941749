/*
 * auth_mech_scram - SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677)
 * without channel binding, as Dovecot offers them: client-first, the
 * server-first challenge (nonce, salt, iterations from the passdb's
 * {SCRAM-*} entry or derived from a cleartext one), client-final with the
 * proof, and the server signature sent with OK as resp=. An unknown user
 * gets a made-up salt and fails only at the proof, like a wrong password.
 * Input: the client's messages (untrusted, bounded by AUTH_RESPONSE_MAX);
 * parsing is strict (RFC 5802 section 7). Must not log secrets.
 */
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "mail/auth_proto.h"
#include "mail/password_scheme.h"
#include "util/base64.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define SCRAM_NONCE_BYTES 18
#define SCRAM_FAKE_ITER 4096
#define SCRAM_MSG_MAX 2048

enum scram_state {
	SCRAM_CLIENT_FIRST = 0,
	SCRAM_LOOKUP,
	SCRAM_CLIENT_FINAL,
};

struct scram {
	const char *hash_name; /* "SHA-1" or "SHA-256" */
	const EVP_MD *md;
	enum scram_state state;
	char *gs2_header, *client_first_bare, *nonce, *server_first;
	struct password_scram_credentials creds;
	bool unknown; /* creds are made up */
	const char *passdb_name;
};

static unsigned char scram_fake_secret[32];
static bool scram_fake_secret_set;

static void
scram_free(void *data)
{
	struct scram *st = data;

	xmem_wipe(&st->creds, sizeof(st->creds));
	xfree(&st->gs2_header);
	xfree(&st->client_first_bare);
	xfree(&st->nonce);
	xfree(&st->server_first);
	xfree(&st);
}

/* saslname: "=2C" is ',', "=3D" is '='; any other '=' or a ',' is an
 * error. Returns an allocated string or NULL. */
static char *
scram_saslname(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == ',') {
			xfree(&out);
			return NULL;
		}
		if (s[i] != '=') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 < len && s[i + 1] == '2' && s[i + 2] == 'C')
			*o++ = ',';
		else if (i + 2 < len && s[i + 1] == '3' && s[i + 2] == 'D')
			*o++ = '=';
		else {
			xfree(&out);
			return NULL;
		}
		i += 2;
	}
	*o = '\0';
	return out;
}

static bool
scram_printable_nonce(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	}
	return true;
}

static void scram_creds_found(enum passdb_result result,
			      const struct password_scram_credentials *creds,
			      bool no_scheme, const char *passdb_name,
			      const char *error, void *ctx);

static void
scram_client_first(struct auth_request *req, struct scram *st, const char *msg)
{
	const char *p = msg, *comma, *bare, *user_end;
	char *authzid = NULL, *user;

	/* gs2-header: "n," or "y," then an optional "a=authzid" and ",". */
	if ((p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
		auth_request_fail(req, p[0] == 'p' ? "channel binding is not "
						     "supported"
						   : "invalid input");
		return;
	}
	p += 2;
	if (strncmp(p, "a=", 2) == 0) {
		comma = strchr(p, ',');
		if (comma == NULL ||
		    (authzid = scram_saslname(
			 p + 2, (size_t)(comma - p - 2))) == NULL) {
			auth_request_fail(req, "invalid authzid");
			return;
		}
		p = comma;
	}
	if (*p != ',') {
		xfree(&authzid);
		auth_request_fail(req, "invalid input");
		return;
	}
	bare = p + 1;
	st->gs2_header = xstrndup(msg, (size_t)(bare - msg));
	/* client-first-message-bare: "n=user,r=nonce[,ext...]" */
	if (strncmp(bare, "n=", 2) != 0 ||
	    (user_end = strchr(bare + 2, ',')) == NULL ||
	    strncmp(user_end, ",r=", 3) != 0) {
		xfree(&authzid);
		auth_request_fail(req, "invalid input");
		return;
	}
	user = scram_saslname(bare + 2, (size_t)(user_end - bare - 2));
	p = user_end + 3;
	comma = strchr(p, ',');
	if (user == NULL ||
	    !scram_printable_nonce(p, comma != NULL ? (size_t)(comma - p)
						    : strlen(p))) {
		xfree(&user);
		xfree(&authzid);
		auth_request_fail(req, "invalid input");
		return;
	}
	if (authzid != NULL && authzid[0] != '\0' &&
	    strcmp(authzid, user) != 0) {
		xfree(&user);
		xfree(&authzid);
		auth_request_fail(req, "authorization identity differs "
				       "(master logins are not supported)");
		return;
	}
	xfree(&authzid);
	st->client_first_bare = xstrdup(bare);
	{
		unsigned char rnd[SCRAM_NONCE_BYTES];
		struct strbuf nonce;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			xfree(&user);
			auth_request_fail(req, "no randomness");
			return;
		}
		strbuf_init(&nonce, SCRAM_MSG_MAX);
		if (strbuf_append(&nonce, p,
				  comma != NULL ? (size_t)(comma - p)
						: strlen(p)) < 0 ||
		    base64_encode(rnd, sizeof(rnd), &nonce) < 0) {
			strbuf_release(&nonce);
			xfree(&user);
			auth_request_fail(req, "invalid input");
			return;
		}
		st->nonce = strbuf_steal(&nonce);
	}
	if (!auth_request_set_user(req, user)) {
		xfree(&user);
		return;
	}
	xfree(&user);
	st->state = SCRAM_LOOKUP;
	auth_request_worker_begin(req);
	auth_passdb_scram(req->user, st->hash_name, scram_creds_found, req);
}

/* Credentials for a user nobody knows: a salt that stays the same for the
 * same name (so probing shows nothing) and keys that match no proof. */
static void
scram_fake_creds(struct scram *st, const char *user)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (!scram_fake_secret_set) {
		if (getrandom(scram_fake_secret, sizeof(scram_fake_secret),
			      0) != (ssize_t)sizeof(scram_fake_secret))
			memset(scram_fake_secret, 0x5a,
			       sizeof(scram_fake_secret));
		scram_fake_secret_set = true;
	}
	memset(&st->creds, 0, sizeof(st->creds));
	HMAC(EVP_sha256(), scram_fake_secret, sizeof(scram_fake_secret),
	     (const unsigned char *)user, strlen(user), mac, &mac_len);
	st->creds.iter = SCRAM_FAKE_ITER;
	st->creds.salt_len = 16;
	memcpy(st->creds.salt, mac, 16);
	st->creds.key_len = (size_t)EVP_MD_get_size(st->md);
	if (getrandom(st->creds.stored_key, st->creds.key_len, 0) < 0)
		memset(st->creds.stored_key, 0xa5, st->creds.key_len);
	st->unknown = true;
}

static void
scram_creds_found(enum passdb_result result,
		  const struct password_scram_credentials *creds,
		  bool no_scheme, const char *passdb_name, const char *error,
		  void *ctx)
{
	struct auth_request *req = ctx;
	struct scram *st = req->mech_data;
	struct strbuf msg;

	if (!auth_request_worker_end(req))
		return;
	st->passdb_name = passdb_name != NULL ? passdb_name : "scram";
	switch (result) {
	case PASSDB_OK:
		st->creds = *creds;
		break;
	case PASSDB_UNKNOWN:
		scram_fake_creds(st, req->user);
		break;
	case PASSDB_MISMATCH:
		auth_request_fail_result(req, PASSDB_MISMATCH, st->passdb_name,
					 no_scheme ? "stored password scheme "
						     "cannot do SCRAM"
						   : NULL);
		return;
	case PASSDB_TEMPFAIL:
		auth_request_fail_result(req, PASSDB_TEMPFAIL, st->passdb_name,
					 error);
		return;
	}
	strbuf_init(&msg, SCRAM_MSG_MAX);
	if (strbuf_printf(&msg, "r=%s,s=", st->nonce) < 0 ||
	    base64_encode(st->creds.salt, st->creds.salt_len, &msg) < 0 ||
	    strbuf_printf(&msg, ",i=%u", st->creds.iter) < 0) {
		strbuf_release(&msg);
		auth_request_fail_result(req, PASSDB_TEMPFAIL, st->passdb_name,
					 "SCRAM message too long");
		return;
	}
	st->server_first = strbuf_steal(&msg);
	st->state = SCRAM_CLIENT_FINAL;
	auth_request_challenge(req, st->server_first, strlen(st->server_first));
}

static void
scram_client_final(struct auth_request *req, struct scram *st, const char *msg)
{
	const char *proof_at = strstr(msg, ",p="), *p;
	struct strbuf expect, proof, auth_msg;
	unsigned char sig[EVP_MAX_MD_SIZE], key[EVP_MAX_MD_SIZE];
	unsigned char stored[EVP_MAX_MD_SIZE];
	unsigned int sig_len = 0, stored_len = 0;
	size_t key_len = st->creds.key_len;
	bool ok = false, wellformed = false;

	strbuf_init(&expect, SCRAM_MSG_MAX);
	strbuf_init(&proof, EVP_MAX_MD_SIZE);
	strbuf_init(&auth_msg, 3 * SCRAM_MSG_MAX);
	/* "c=base64(gs2-header),r=nonce[,ext],p=proof": the proof last. */
	while (proof_at != NULL && strstr(proof_at + 3, ",p=") != NULL)
		proof_at = strstr(proof_at + 3, ",p=");
	if (proof_at != NULL && strchr(proof_at + 3, ',') == NULL &&
	    strbuf_append_str(&expect, "c=") == 0 &&
	    base64_encode(st->gs2_header, strlen(st->gs2_header), &expect) ==
		0 &&
	    strbuf_printf(&expect, ",r=%s", st->nonce) == 0 &&
	    strncmp(msg, expect.data, expect.len) == 0 &&
	    msg[expect.len] == ',' &&
	    base64_decode(proof_at + 3, strlen(proof_at + 3), 0, &proof) == 0 &&
	    proof.len == key_len &&
	    strbuf_printf(&auth_msg, "%s,%s,%.*s", st->client_first_bare,
			  st->server_first, (int)(proof_at - msg), msg) == 0)
		wellformed = true;
	if (wellformed) {
		/* ClientKey = proof XOR HMAC(StoredKey, AuthMessage);
		 * the proof is right if H(ClientKey) == StoredKey. */
		HMAC(st->md, st->creds.stored_key, (int)key_len,
		     (const unsigned char *)auth_msg.data, auth_msg.len, sig,
		     &sig_len);
		for (size_t i = 0; i < key_len; i++)
			key[i] = (unsigned char)proof.data[i] ^ sig[i];
		EVP_Digest(key, key_len, stored, &stored_len, st->md, NULL);
		ok =
		    stored_len == key_len &&
		    CRYPTO_memcmp(stored, st->creds.stored_key, key_len) == 0 &&
		    !st->unknown;
		xmem_wipe(key, sizeof(key));
	}
	strbuf_release(&expect);
	strbuf_release(&proof);
	if (!wellformed) {
		strbuf_release(&auth_msg);
		auth_request_fail(req, "invalid input");
		return;
	}
	if (!ok) {
		strbuf_release(&auth_msg);
		auth_request_fail_result(
		    req, st->unknown ? PASSDB_UNKNOWN : PASSDB_MISMATCH,
		    st->passdb_name, NULL);
		return;
	}
	/* server-final-message: "v=" base64(HMAC(ServerKey, AuthMessage)) */
	HMAC(st->md, st->creds.server_key, (int)key_len,
	     (const unsigned char *)auth_msg.data, auth_msg.len, sig, &sig_len);
	strbuf_release(&auth_msg);
	strbuf_init(&expect, SCRAM_MSG_MAX);
	p = "v=";
	if (strbuf_append_str(&expect, p) < 0 ||
	    base64_encode(sig, sig_len, &expect) < 0) {
		strbuf_release(&expect);
		auth_request_fail(req, "invalid input");
		return;
	}
	auth_request_success(req, st->passdb_name, expect.data, expect.len);
	strbuf_release(&expect);
}

static void
scram_input(struct auth_request *req, const unsigned char *data, size_t len,
	    bool initial, bool have, const char *hash_name, const EVP_MD *md)
{
	struct scram *st = req->mech_data;
	char *msg;

	if (st == NULL) {
		st = xcalloc(1, sizeof(*st));
		st->hash_name = hash_name;
		st->md = md;
		req->mech_data = st;
		req->mech_data_free = scram_free;
	}
	if (initial && !have) {
		auth_request_challenge(req, "", 0);
		return;
	}
	if (len > SCRAM_MSG_MAX || memchr(data, '\0', len) != NULL) {
		auth_request_fail(req, "invalid input");
		return;
	}
	msg = xstrndup((const char *)data, len);
	if (st->state == SCRAM_CLIENT_FIRST)
		scram_client_first(req, st, msg);
	else if (st->state == SCRAM_CLIENT_FINAL)
		scram_client_final(req, st, msg);
	else
		auth_request_fail(req, "unexpected input");
	xfree(&msg);
}

static void
scram_sha1_input(struct auth_request *req, const unsigned char *data,
		 size_t len, bool initial, bool have)
{
	scram_input(req, data, len, initial, have, "SHA-1", EVP_sha1());
}

static void
scram_sha256_input(struct auth_request *req, const unsigned char *data,
		   size_t len, bool initial, bool have)
{
	scram_input(req, data, len, initial, have, "SHA-256", EVP_sha256());
}

const struct auth_mech auth_mech_scram_sha1 = {
    .name = "SCRAM-SHA-1",
    .flags = AUTH_MECH_SEC_MUTUAL_AUTH,
    .input = scram_sha1_input,
};

const struct auth_mech auth_mech_scram_sha256 = {
    .name = "SCRAM-SHA-256",
    .flags = AUTH_MECH_SEC_MUTUAL_AUTH,
    .input = scram_sha256_input,
};
