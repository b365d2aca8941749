/*
 * imap-login - the pre-auth IMAP listener (Dovecot's imap-login): greeting,
 * CAPABILITY, NOOP, ID, LOGOUT, STARTTLS, LOGIN and AUTHENTICATE (with
 * SASL-IR, RFC 4959) through the auth daemon, then the handoff to imapd
 * (lib/login/login.h). Runs as mail_owner with no rights to mail. Every
 * byte comes from an unauthenticated client: commands go through the
 * bounded IMAP parser (mail/imap_parse.h) with small pre-auth limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "login/login.h"
#include "mail/imap_parse.h"
#include "util/log.h"
#include "util/stream.h"
#include "util/xmem.h"

/* Pre-auth limits (Dovecot: imap_max_line_length applies after login;
 * before it, commands are small). */
#define IMAP_LOGIN_MAX_LINE 8192
#define IMAP_LOGIN_MAX_LITERAL 8192
/* Bad commands before the client is disconnected (Dovecot: 10). */
#define IMAP_LOGIN_MAX_BAD 10

enum imap_login_next {
	IL_NEXT,    /* read the next command */
	IL_WAIT,    /* auth or TLS in progress: input resumes later */
	IL_GONE,    /* the connection was closed or handed off */
};

struct imap_login {
	struct imap_parser *parser;
	/* A literal is being read: literal_left bytes still expected. */
	bool in_literal;
	uint64_t literal_left;
	/* SASL succeeded with final server data (SCRAM): sent as a
	 * continuation, the client's (empty) answer completes the login. */
	bool final_pending;
	char *final_user;
	/* AUTHENTICATE: the next line is a SASL response. */
	bool in_sasl;
	char tag[IMAP_PARSE_TAG_MAX + 1];
	char mech[32];
	unsigned int bad;
};

#define IL(c) ((struct imap_login *)(c)->proto)

static void imap_login_input(struct login_conn *c);

static void
imap_login_capability(struct login_conn *c, char *buf, size_t size)
{
	const char *mechs = login_mechanisms(c);
	size_t len;

	len = (size_t)snprintf(buf, size,
			       "IMAP4rev1 IMAP4rev2 SASL-IR LOGIN-REFERRALS ID "
			       "ENABLE IDLE LITERAL+%s%s",
			       c->starttls_offered ? " STARTTLS" : "",
			       login_plaintext_allowed(c) ? ""
							  : " LOGINDISABLED");
	for (const char *p = mechs; *p != '\0' && len < size;) {
		size_t n = strcspn(p, " ");

		len += (size_t)snprintf(buf + len, size - len, " AUTH=%.*s",
					(int)n, p);
		p += n;
		p += strspn(p, " ");
	}
}

static void
imap_login_on_connect(struct login_conn *c)
{
	struct imap_login *il = xcalloc(1, sizeof(*il));
	struct imap_parse_limits limits = {
		.max_line = IMAP_LOGIN_MAX_LINE,
		.max_literal = IMAP_LOGIN_MAX_LITERAL,
		.max_stream_literal = 0,
		.max_command = IMAP_LOGIN_MAX_LINE * 2,
		.max_depth = 4,
		.max_args = 32,
		.flags = IMAP_PARSE_LITERAL_PLUS,
	};
	char caps[512];

	il->parser = imap_parser_new(&limits);
	c->proto = il;
	imap_login_capability(c, caps, sizeof(caps));
	stream_printf(c->s, "* OK [CAPABILITY %s] Dovetail ready.\r\n", caps);
}

static void
imap_login_on_free(struct login_conn *c)
{
	struct imap_login *il = IL(c);

	if (il == NULL)
		return;
	imap_parser_free(&il->parser);
	xfree(&il->final_user);
	xfree(&il);
	c->proto = NULL;
}

static void
imap_login_tagged(struct login_conn *c, const char *status, const char *text)
{
	stream_printf(c->s, "%s %s %s\r\n", IL(c)->tag, status, text);
}

static void
imap_login_auth_done(struct login_conn *c, enum login_auth_result res,
		     const char *user, const char *data, void *ctx)
{
	struct imap_login *il = IL(c);

	(void)ctx;
	switch (res) {
	case LOGIN_AUTH_CONTINUE:
		il->in_sasl = true;
		stream_printf(c->s, "+ %s\r\n", data != NULL ? data : "");
		/* The client's response comes as input (login.c keeps
		 * auth_busy set on CONTINUE; pop3_login does the same). */
		c->auth_busy = false;
		login_resume_input(c);
		return;
	case LOGIN_AUTH_OK:
		il->in_sasl = false;
		if (data != NULL && data[0] != '\0') {
			/* SCRAM's server-final message: RFC 3501 6.2.2 has
			 * no room for it in the tagged OK, so it goes out as
			 * a last continuation and the client's empty line
			 * completes the exchange, as Dovecot does. */
			il->final_pending = true;
			xfree(&il->final_user);
			il->final_user = xstrdup(user);
			stream_printf(c->s, "+ %s\r\n", data);
			login_resume_input(c);
			return;
		}
		login_success(c, user, il->mech, il->tag,
			      "* BYE Internal error occurred. Refer to server "
			      "log for more information.");
		return;
	case LOGIN_AUTH_TEMPFAIL:
		il->in_sasl = false;
		imap_login_tagged(c, "NO",
				  "[UNAVAILABLE] Temporary authentication "
				  "failure.");
		login_resume_input(c);
		return;
	case LOGIN_AUTH_FAIL:
		il->in_sasl = false;
		imap_login_tagged(c, "NO",
				  "[AUTHENTICATIONFAILED] Authentication "
				  "failed.");
		if (login_auth_failed(c, user, il->mech)) {
			stream_printf(c->s, "* BYE Too many authentication "
					    "failures.\r\n");
			login_close(c,
				    login_disconnect_reason(c, "Disconnected"));
			return;
		}
		return;
	}
}

static void
imap_login_starttls_done(struct login_conn *c, bool ok)
{
	(void)ok;
	/* RFC 3501 6.2.1: the client asks for CAPABILITY again. */
	if (stream_input_pending(c->s) > 0)
		imap_login_input(c);
}

static enum imap_login_next
imap_login_cmd(struct login_conn *c, const struct imap_command *cmd)
{
	struct imap_login *il = IL(c);
	const char *name = cmd->name;
	char caps[512];

	if (strcmp(name, "CAPABILITY") == 0 && cmd->count == 0) {
		imap_login_capability(c, caps, sizeof(caps));
		stream_printf(c->s, "* CAPABILITY %s\r\n", caps);
		imap_login_tagged(c, "OK", "Pre-login capabilities listed, "
					   "post-login capabilities have more.");
	} else if (strcmp(name, "NOOP") == 0 && cmd->count == 0) {
		imap_login_tagged(c, "OK", "NOOP completed.");
	} else if (strcmp(name, "ID") == 0 && cmd->count == 1) {
		stream_printf(c->s, "* ID (\"name\" \"Dovetail\")\r\n");
		imap_login_tagged(c, "OK", "ID completed.");
	} else if (strcmp(name, "LOGOUT") == 0 && cmd->count == 0) {
		stream_printf(c->s, "* BYE Logging out\r\n");
		imap_login_tagged(c, "OK", "Logout completed.");
		/* Dovecot's CLIENT_UNAUTHENTICATED_LOGOUT_MSG with its
		   account of the attempts */
		login_close(c, login_disconnect_reason(
				   c, "Disconnected: Aborted login by logging "
				      "out"));
		return IL_GONE;
	} else if (strcmp(name, "STARTTLS") == 0 && cmd->count == 0) {
		if (c->tls) {
			imap_login_tagged(c, "BAD", "TLS is already active.");
		} else if (!login_tls_available()) {
			imap_login_tagged(c, "BAD", "TLS support isn't enabled.");
		} else {
			imap_login_tagged(c, "OK", "Begin TLS negotiation now.");
			login_starttls(c, imap_login_starttls_done);
			return IL_WAIT;
		}
	} else if (strcmp(name, "LOGIN") == 0 && cmd->count == 2) {
		const char *user, *pass;

		if (!imap_arg_get_astring(&cmd->args[0], &user) ||
		    !imap_arg_get_astring(&cmd->args[1], &pass)) {
			imap_login_tagged(c, "BAD", "Invalid arguments.");
		} else if (!login_plaintext_allowed(c)) {
			imap_login_tagged(
			    c, "NO",
			    "[PRIVACYREQUIRED] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
		} else {
			/* Dovecot logs the LOGIN command as method=PLAIN. */
			snprintf(il->mech, sizeof(il->mech), "PLAIN");
			login_auth_plain(c, user, pass, imap_login_auth_done,
					 NULL);
			return IL_WAIT;
		}
	} else if (strcmp(name, "AUTHENTICATE") == 0 &&
		   (cmd->count == 1 || cmd->count == 2)) {
		const char *mech, *initial = NULL;

		if (!imap_arg_get_atom(&cmd->args[0], &mech) ||
		    (cmd->count == 2 &&
		     !imap_arg_get_astring(&cmd->args[1], &initial))) {
			imap_login_tagged(c, "BAD", "Invalid arguments.");
			return IL_NEXT;
		}
		snprintf(il->mech, sizeof(il->mech), "%s", mech);
		for (char *p = il->mech; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		if ((strcmp(il->mech, "PLAIN") == 0 ||
		     strcmp(il->mech, "LOGIN") == 0) &&
		    !login_plaintext_allowed(c)) {
			imap_login_tagged(
			    c, "NO",
			    "[PRIVACYREQUIRED] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
			return IL_NEXT;
		}
		/* SASL-IR: "=" is an empty initial response. */
		login_auth_begin(c, il->mech,
				 initial != NULL && strcmp(initial, "=") == 0
				     ? ""
				     : initial,
				 imap_login_auth_done, NULL);
		return IL_WAIT;
	} else if (strcmp(name, "CAPABILITY") == 0 ||
		   strcmp(name, "NOOP") == 0 || strcmp(name, "LOGOUT") == 0 ||
		   strcmp(name, "STARTTLS") == 0 || strcmp(name, "LOGIN") == 0 ||
		   strcmp(name, "AUTHENTICATE") == 0 || strcmp(name, "ID") == 0) {
		imap_login_tagged(c, "BAD", "Invalid arguments.");
		il->bad++;
	} else {
		/* Dovecot: commands that need login get this. */
		imap_login_tagged(c, "BAD",
				  "Error in IMAP command received by server.");
		il->bad++;
	}
	if (il->bad >= IMAP_LOGIN_MAX_BAD) {
		stream_printf(c->s, "* BYE Too many invalid IMAP commands.\r\n");
		login_close(c, "Disconnected: Too many invalid commands");
		return IL_GONE;
	}
	return IL_NEXT;
}

/* A line while AUTHENTICATE waits for the client's response. */
static void
imap_login_sasl_line(struct login_conn *c, const char *line, size_t len)
{
	struct imap_login *il = IL(c);

	il->in_sasl = false;
	if (il->final_pending) {
		il->final_pending = false;
		if (len == 1 && line[0] == '*') {
			imap_login_tagged(c, "BAD",
					  "Authentication aborted by client.");
			return;
		}
		login_success(c, il->final_user, il->mech, il->tag,
			      "* BYE Internal error occurred. Refer to server "
			      "log for more information.");
		return;
	}
	if (len == 1 && line[0] == '*') {
		login_auth_abort(c);
		imap_login_tagged(c, "BAD", "Authentication aborted by client.");
		return;
	}
	c->auth_busy = true;
	login_auth_continue(c, line);
}

static void
imap_login_input(struct login_conn *c)
{
	struct imap_login *il = IL(c);
	const char *line, *data;
	size_t len, n, used;
	enum imap_parse_result r;

	while (c->s != NULL && !c->auth_busy) {
		if (il->in_literal) {
			size_t want = il->literal_left > IMAP_LOGIN_MAX_LITERAL
					  ? IMAP_LOGIN_MAX_LITERAL
					  : (size_t)il->literal_left;

			n = stream_read(c->s, &data, want);
			if (n == 0)
				return;
			il->literal_left -= n;
			if (imap_parser_feed_literal(il->parser, data, n,
						     &used) == 1 ||
			    il->literal_left == 0)
				il->in_literal = false;
			continue;
		}
		if (stream_read_line(c->s, &line, &len, NULL) <= 0) {
			if (stream_get_error(c->s) ==
			    STREAM_ERR_LINE_TOO_LONG) {
				stream_printf(c->s,
					      "* BYE Too long command line.\r\n");
				login_close(c, "Disconnected: Too long line");
			}
			return;
		}
		if (il->in_sasl || il->final_pending) {
			bool final = il->final_pending;

			imap_login_sasl_line(c, line, len);
			if (final)
				return; /* handed off or answered */
			continue;
		}
		r = imap_parser_feed_line(il->parser, line, len);
		if (r == IMAP_PARSE_LITERAL) {
			const struct imap_literal_info *lit =
			    imap_parser_literal(il->parser);

			if (lit->sync)
				stream_printf(c->s, "+ OK\r\n");
			il->in_literal = true;
			il->literal_left = lit->size;
			continue;
		}
		snprintf(il->tag, sizeof(il->tag), "%s",
			 imap_parser_tag(il->parser));
		if (r == IMAP_PARSE_ERROR) {
			const struct imap_parse_error *e =
			    imap_parser_error(il->parser);

			if (e->fatal) {
				stream_printf(c->s, "* BYE %s\r\n", e->text);
				login_close(c, "Disconnected: Bad command");
				return;
			}
			imap_login_tagged(c, "BAD", e->text);
			imap_parser_reset(il->parser);
			if (++il->bad >= IMAP_LOGIN_MAX_BAD) {
				stream_printf(c->s, "* BYE Too many invalid "
						    "IMAP commands.\r\n");
				login_close(c, "Disconnected: Too many "
					       "invalid commands");
				return;
			}
			continue;
		}
		switch (imap_login_cmd(c, imap_parser_command(il->parser))) {
		case IL_GONE:
			return;
		case IL_WAIT:
			imap_parser_reset(il->parser);
			return;
		case IL_NEXT:
			imap_parser_reset(il->parser);
			break;
		}
	}
}

static const struct login_proto imap_login_proto = {
	.name = "imap-login",
	.service = "imap",
	.session_service = "imap",
	.max_line = IMAP_LOGIN_MAX_LINE + 2,
	.on_connect = imap_login_on_connect,
	.on_input = imap_login_input,
	.on_free = imap_login_on_free,
};

int
main(int argc, char **argv)
{
	return login_main(argc, argv, &imap_login_proto);
}
