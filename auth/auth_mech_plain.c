/*
 * auth_mech_plain - SASL PLAIN (RFC 4616): "authzid NUL authcid NUL
 * password" in one response, sent as the initial response or after an
 * empty challenge. Input: the client's decoded bytes (untrusted, bounded
 * by AUTH_RESPONSE_MAX). Must not log or keep the password.
 */
#include <string.h>

#include "auth.h"
#include "mail/auth_proto.h"
#include "util/xmem.h"

static void
mech_plain_input(struct auth_request *req, const unsigned char *data,
		 size_t len, bool initial, bool have)
{
	const unsigned char *nul1, *nul2;
	char *authzid, *authcid;

	if (initial && !have) {
		/* No initial response: ask for it with an empty challenge. */
		auth_request_challenge(req, "", 0);
		return;
	}
	nul1 = memchr(data, '\0', len);
	nul2 = nul1 == NULL
		   ? NULL
		   : memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - data));
	if (nul1 == NULL || nul2 == NULL) {
		auth_request_fail(req, "invalid input");
		return;
	}
	authzid = xstrndup((const char *)data, (size_t)(nul1 - data));
	authcid = xstrndup((const char *)nul1 + 1, (size_t)(nul2 - nul1 - 1));
	/* The password may hold any byte but NUL (RFC 4616). */
	if (memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - data)) != NULL)
		auth_request_fail(req, "invalid input");
	else
		auth_request_verify_plain(req, authzid, authcid, nul2 + 1,
					  len - (size_t)(nul2 + 1 - data));
	xfree(&authzid);
	xfree(&authcid);
}

const struct auth_mech auth_mech_plain = {
    .name = "PLAIN",
    .flags = AUTH_MECH_SEC_PLAINTEXT,
    .input = mech_plain_input,
};
