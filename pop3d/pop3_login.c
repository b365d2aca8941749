/*
 * pop3-login - the pre-auth half of POP3 (lib/login/login.h): the
 * greeting, CAPA (RFC 2449), STLS (RFC 2595), USER/PASS (RFC 1939) and
 * AUTH (RFC 5034) through the auth daemon, then the handoff to the pop3
 * session service, which says "+OK Logged in.". Runs as mail_owner with
 * no rights to any mail; every byte from the client is untrusted (command
 * lines are bounded by POP3_LINE_MAX, SASL responses by the stream's line
 * limit). APOP is not offered, as in Dovecot's default configuration: it
 * needs plaintext-equivalent passwords and a timestamp in the greeting,
 * so the greeting has none and APOP is refused.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "login/login.h"
#include "mail/pop3_proto.h"
#include "util/stream.h"
#include "util/xmem.h"

/* Longest SASL response line (base64); commands stay within
 * POP3_LINE_MAX. */
#define POP3_LOGIN_MAX_LINE 8192
/* Unknown or malformed commands before disconnecting (Dovecot's login
 * CLIENT_MAX_BAD_COMMANDS). */
#define POP3_LOGIN_MAX_BAD 3

#define POP3_PLAINTEXT_DISALLOWED                                              \
	"-ERR [AUTH] Plaintext authentication disallowed on non-secure "       \
	"(SSL/TLS) connections."

enum pop3_login_state {
	POP3_LOGIN_CMD,	       /* reading commands */
	POP3_LOGIN_SASL,       /* sent "+ challenge", reading a response */
	POP3_LOGIN_SASL_FINAL, /* sent the final data, want an empty line */
	POP3_LOGIN_STARTTLS,   /* handshake running: ignore input */
};

struct pop3_login {
	enum pop3_login_state state;
	char *user; /* from USER */
	char mech[32];
	char *final_user; /* SASL_FINAL: who authenticated */
	unsigned int bad_commands;
	time_t connected;
};

static void pop3_login_input(struct login_conn *c);

static void
reply(struct login_conn *c, const char *text)
{
	(void)stream_printf(c->s, "%s\r\n", text);
}

static void
pop3_login_connect(struct login_conn *c)
{
	if (c->proto == NULL) {
		struct pop3_login *p = xcalloc(1, sizeof(*p));

		p->connected = time(NULL);
		c->proto = p;
	}
	/* Dovecot: "+OK Dovecot ready." */
	reply(c, "+OK Dovetail ready.");
}

static void
pop3_login_free(struct login_conn *c)
{
	struct pop3_login *p = c->proto;

	if (p == NULL)
		return;
	if (p->user != NULL)
		xmem_wipe(p->user, strlen(p->user));
	xfree(&p->user);
	xfree(&p->final_user);
	xfree(&c->proto);
}

static void
cmd_capa(struct login_conn *c)
{
	const char *mechs = login_mechanisms(c);

	reply(c, "+OK");
	reply(c, "CAPA");
	reply(c, "TOP");
	reply(c, "UIDL");
	reply(c, "RESP-CODES");
	reply(c, "PIPELINING");
	reply(c, "AUTH-RESP-CODE");
	if (c->starttls_offered && !c->tls && login_tls_available())
		reply(c, "STLS");
	if (login_plaintext_allowed(c))
		reply(c, "USER");
	if (mechs != NULL && mechs[0] != '\0')
		(void)stream_printf(c->s, "SASL %s\r\n", mechs);
	reply(c, ".");
}

static void
starttls_done(struct login_conn *c, bool ok)
{
	struct pop3_login *p = c->proto;

	if (!ok)
		return; /* already being closed */
	/* RFC 2595: forget what was said before TLS */
	xfree(&p->user);
	p->state = POP3_LOGIN_CMD;
	/* no greeting after STLS; the client asks CAPA again */
	login_resume_input(c);
}

/* Whether mech (upper case) is announced now. */
static bool
mech_offered(struct login_conn *c, const char *mech)
{
	const char *list = login_mechanisms(c), *p = list;
	size_t len = strlen(mech);

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == len && memcmp(p, mech, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static bool
mech_is_plaintext(const char *mech)
{
	return strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0;
}

/* The limit of failures was reached: close with Dovecot's log text. */
static void
close_failed(struct login_conn *c)
{
	struct pop3_login *p = c->proto;
	char reason[128];

	snprintf(reason, sizeof(reason),
		 "Disconnected (auth failed, %u attempts in %ld secs)",
		 c->auth_failures, (long)(time(NULL) - p->connected));
	login_close(c, reason);
}

static void
auth_done(struct login_conn *c, enum login_auth_result res, const char *user,
	  const char *data, void *ctx)
{
	struct pop3_login *p = c->proto;

	(void)ctx;
	switch (res) {
	case LOGIN_AUTH_OK:
		if (data != NULL && data[0] != '\0') {
			/* RFC 5034 4: additional data with success goes
			 * out as a challenge; the client answers with an
			 * empty line */
			p->state = POP3_LOGIN_SASL_FINAL;
			xfree(&p->final_user);
			p->final_user = xstrdup(user != NULL ? user : "");
			(void)stream_printf(c->s, "+ %s\r\n", data);
			login_resume_input(c);
			return;
		}
		login_success(c, user, p->mech, NULL,
			      "-ERR [SYS/TEMP] Internal error");
		return; /* c is gone */
	case LOGIN_AUTH_CONTINUE:
		p->state = POP3_LOGIN_SASL;
		(void)stream_printf(c->s, "+ %s\r\n", data != NULL ? data : "");
		/* the client's response comes as input */
		c->auth_busy = false;
		login_resume_input(c);
		return;
	case LOGIN_AUTH_TEMPFAIL:
		p->state = POP3_LOGIN_CMD;
		(void)stream_printf(c->s, "-ERR [SYS/TEMP] %s\r\n",
				    data != NULL && data[0] != '\0'
					? data
					: "Temporary authentication failure.");
		login_resume_input(c);
		return;
	case LOGIN_AUTH_FAIL:
		break;
	}
	p->state = POP3_LOGIN_CMD;
	xfree(&p->user);
	/* the auth daemon's reason is meant for the client (Dovecot sends
	 * it too); without one, Dovecot's text */
	(void)stream_printf(
	    c->s, "-ERR [AUTH] %s\r\n",
	    data != NULL && data[0] != '\0' ? data : "Authentication failed.");
	if (login_auth_failed(c, user, p->mech))
		close_failed(c);
}

/* true when a SASL exchange started (then c may already be gone) */
static bool
cmd_auth(struct login_conn *c, struct pop3_command *cmd)
{
	struct pop3_login *p = c->proto;
	const char *initial = NULL;
	char mech[32];
	size_t len;

	if (cmd->argc == 0) {
		/* the mechanisms, as Dovecot lists them */
		const char *list = login_mechanisms(c);

		reply(c, "+OK");
		while (list != NULL && *list != '\0') {
			size_t n = strcspn(list, " ");

			(void)stream_printf(c->s, "%.*s\r\n", (int)n, list);
			list += n;
			list += strspn(list, " ");
		}
		reply(c, ".");
		return false;
	}
	len = strlen(cmd->args[0]);
	if (len >= sizeof(mech)) {
		reply(c, "-ERR Unsupported authentication mechanism.");
		return false;
	}
	for (size_t i = 0; i <= len; i++) {
		char ch = cmd->args[0][i];

		mech[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
	}
	if (mech_is_plaintext(mech) && !login_plaintext_allowed(c)) {
		reply(c, POP3_PLAINTEXT_DISALLOWED);
		return false;
	}
	if (!mech_offered(c, mech)) {
		reply(c, "-ERR Unsupported authentication mechanism.");
		return false;
	}
	if (cmd->argc > 1)
		initial = strcmp(cmd->args[1], "=") == 0 ? "" : cmd->args[1];
	snprintf(p->mech, sizeof(p->mech), "%s", mech);
	p->state = POP3_LOGIN_CMD;
	login_auth_begin(c, mech, initial, auth_done, NULL);
	return true;
}

/* One command line; false when c is gone or input must stop. */
static bool
command(struct login_conn *c, char *line, size_t len)
{
	struct pop3_login *p = c->proto;
	struct pop3_command cmd;
	const char *error;

	if (pop3_parse_command(line, len, &cmd, &error) < 0) {
		(void)stream_printf(c->s, "-ERR Invalid command: %s.\r\n",
				    error);
		goto bad;
	}
	switch (cmd.cmd) {
	case POP3_CMD_CAPA:
		cmd_capa(c);
		break;
	case POP3_CMD_STLS:
		if (c->tls) {
			reply(c, "-ERR TLS is already active.");
			break;
		}
		if (!c->starttls_offered || !login_tls_available()) {
			reply(c, "-ERR TLS support isn't enabled.");
			break;
		}
		reply(c, "+OK Begin TLS negotiation now.");
		p->state = POP3_LOGIN_STARTTLS;
		login_starttls(c, starttls_done);
		return false;
	case POP3_CMD_USER:
		if (!login_plaintext_allowed(c)) {
			reply(c, POP3_PLAINTEXT_DISALLOWED);
			break;
		}
		if (cmd.argc != 1) {
			reply(c, "-ERR No username given.");
			goto bad;
		}
		xfree(&p->user);
		p->user = xstrdup(cmd.args[0]);
		reply(c, "+OK");
		break;
	case POP3_CMD_PASS:
		if (!login_plaintext_allowed(c)) {
			reply(c, POP3_PLAINTEXT_DISALLOWED);
			break;
		}
		if (p->user == NULL) {
			reply(c, "-ERR No username given.");
			goto bad;
		}
		if (cmd.argc != 1) {
			reply(c, "-ERR No password given.");
			goto bad;
		}
		snprintf(p->mech, sizeof(p->mech), "PLAIN");
		login_auth_plain(c, p->user, cmd.args[0], auth_done, NULL);
		xmem_wipe(cmd.args[0], strlen(cmd.args[0]));
		return false;
	case POP3_CMD_AUTH:
		if (cmd_auth(c, &cmd))
			return false; /* auth_done() resumes input */
		break;
	case POP3_CMD_APOP:
		reply(c, "-ERR APOP authentication is not enabled.");
		goto bad;
	case POP3_CMD_QUIT:
		reply(c, "+OK Logging out");
		login_close(c, login_disconnect_reason(
				   c, "Disconnected: Aborted login by logging "
				      "out"));
		return false;
	default:
		reply(c, "-ERR Unknown command.");
		goto bad;
	}
	p->bad_commands = 0;
	return true;
bad:
	if (++p->bad_commands >= POP3_LOGIN_MAX_BAD) {
		reply(c, "-ERR Too many invalid commands.");
		login_close(c, "Disconnected: Too many invalid commands");
		return false;
	}
	return true;
}

/* A line while a SASL exchange waits for the client. */
static bool
sasl_response(struct login_conn *c, const char *line)
{
	struct pop3_login *p = c->proto;

	if (strcmp(line, "*") == 0) {
		/* RFC 5034: the client cancels */
		p->state = POP3_LOGIN_CMD;
		login_auth_abort(c);
		reply(c, "-ERR Authentication aborted by client.");
		return true;
	}
	if (p->state == POP3_LOGIN_SASL_FINAL) {
		char *user = p->final_user;

		p->final_user = NULL;
		if (line[0] != '\0') {
			reply(c, "-ERR [AUTH] Authentication failed.");
			p->state = POP3_LOGIN_CMD;
			xfree(&user);
			if (login_auth_failed(c, NULL, p->mech)) {
				close_failed(c);
				return false;
			}
			return true;
		}
		login_success(c, user, p->mech, NULL,
			      "-ERR [SYS/TEMP] Internal error");
		xfree(&user);
		return false;
	}
	p->state = POP3_LOGIN_CMD;
	c->auth_busy = true; /* until the auth daemon answers */
	login_auth_continue(c, line);
	return false;
}

static void
pop3_login_input(struct login_conn *c)
{
	struct pop3_login *p = c->proto;

	while (c->s != NULL && !c->auth_busy &&
	       p->state != POP3_LOGIN_STARTTLS) {
		char buf[POP3_LINE_MAX + 1];
		const char *line;
		size_t len;
		int ret = stream_read_line(c->s, &line, &len, NULL);

		if (ret == 0)
			return;
		if (ret < 0) {
			if (stream_get_error(c->s) ==
			    STREAM_ERR_LINE_TOO_LONG) {
				reply(c, "-ERR Input line too long.");
				login_close(c, "Disconnected: Input line too "
					       "long");
			} else {
				login_close(c, NULL);
			}
			return;
		}
		if (p->state == POP3_LOGIN_SASL ||
		    p->state == POP3_LOGIN_SASL_FINAL) {
			if (!sasl_response(c, line))
				return;
			continue;
		}
		if (len > POP3_LINE_MAX) {
			reply(c, "-ERR Input line too long.");
			login_close(c, "Disconnected: Input line too long");
			return;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		ret = command(c, buf, len);
		xmem_wipe(buf, len);
		if (!ret)
			return;
	}
}

static const struct login_proto pop3_login_proto = {
    .name = "pop3-login",
    .service = "pop3",
    .session_service = "pop3",
    .max_line = POP3_LOGIN_MAX_LINE,
    .on_connect = pop3_login_connect,
    .on_input = pop3_login_input,
    .on_free = pop3_login_free,
};

int
main(int argc, char **argv)
{
	return login_main(argc, argv, &pop3_login_proto);
}
