/*
 * auth_mech_login - the LOGIN mechanism (draft-murchison-sasl-login):
 * "Username:" and "Password:" challenges, one CONT round each. An initial
 * response is taken as the user name, as Dovecot does. Input: decoded
 * client bytes (untrusted, bounded). Must not log or keep the password.
 */
#include <string.h>

#include "auth.h"
#include "mail/auth_proto.h"
#include "util/xmem.h"

enum mech_login_state {
	MECH_LOGIN_USER = 0,
	MECH_LOGIN_PASSWORD,
};

static void
mech_login_input(struct auth_request *req, const unsigned char *data,
		 size_t len, bool initial, bool have)
{
	if (initial && (!have || len == 0)) {
		auth_request_challenge(req, "Username:", 9);
		return;
	}
	if (req->mech_state == MECH_LOGIN_USER) {
		if (memchr(data, '\0', len) != NULL || len == 0 ||
		    len > AUTH_USER_MAX) {
			auth_request_fail(req, "invalid input");
			return;
		}
		xfree(&req->mech_user);
		req->mech_user = xstrndup((const char *)data, len);
		req->mech_state = MECH_LOGIN_PASSWORD;
		auth_request_challenge(req, "Password:", 9);
		return;
	}
	if (memchr(data, '\0', len) != NULL) {
		auth_request_fail(req, "invalid input");
		return;
	}
	auth_request_verify_plain(req, "", req->mech_user, data, len);
}

const struct auth_mech auth_mech_login = {
    .name = "LOGIN",
    .flags = AUTH_MECH_SEC_PLAINTEXT,
    .input = mech_login_input,
};
