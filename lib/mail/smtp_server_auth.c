/*
 * smtp_server_auth - the AUTH exchange of the SMTP server engine (RFC
 * 4954): the AUTH command, the client's answers to 334 challenges ("*"
 * cancels; only base64 characters are passed on, bounded by the line
 * limit), the daemon's verdict; and the session's state queries for the
 * daemon (smtp_server.h). The SASL mechanism itself runs in the daemon
 * (through the auth daemon); nothing here decodes or judges credentials,
 * and nothing here logs them.
 */
#include <stdio.h>
#include <string.h>

#include "mail/smtp_server_private.h"
#include "util/log.h"
#include "util/stream.h"
#include "util/xmem.h"

/* ---- when AUTH is allowed ---- */

bool
smtp_session_auth_tls_missing(const struct smtp_session *s)
{
	return (s->set->auth_tls_only ||
		s->set->tls == SMTP_SERVER_TLS_ENCRYPT) &&
	       !smtp_session_is_tls(s);
}

bool
smtp_session_auth_offered(const struct smtp_session *s)
{
	return s->set->auth_mechanisms != NULL && !s->set->lmtp &&
	       !smtp_session_auth_tls_missing(s);
}

/* ---- AUTH (RFC 4954) ---- */

void
smtp_cmd_auth(struct smtp_session *s, const struct smtp_command *cmd)
{
	char mech[32], *initial = NULL;
	size_t i;

	if (s->set->auth_mechanisms == NULL || s->cb->auth == NULL) {
		smtp_cmd_reply(s, cmd->verb,
			       "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!smtp_cmd_need_helo(s, cmd->verb))
		return;
	if (smtp_session_auth_tls_missing(s)) {
		smtp_cmd_reply(s, cmd->verb,
			       "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->in_mail) {
		smtp_cmd_reply(s, cmd->verb,
			       "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (s->auth_user != NULL) {
		smtp_cmd_reply(s, cmd->verb,
			       "503 5.5.1 Error: already authenticated");
		return;
	}
	/* smtp_parse.c bounds the name to 20 [A-Za-z0-9_-]. */
	for (i = 0; i < cmd->arg_len && i < sizeof(mech) - 1; i++)
		mech[i] = (cmd->arg[i] >= 'a' && cmd->arg[i] <= 'z')
			      ? (char)(cmd->arg[i] - 'a' + 'A')
			      : cmd->arg[i];
	mech[i] = '\0';
	if (cmd->auth_initial != NULL) {
		bool empty =
		    cmd->auth_initial_len == 1 && cmd->auth_initial[0] == '=';

		initial = xstrndup(cmd->auth_initial,
				   empty ? 0 : cmd->auth_initial_len);
	}
	s->in_auth = true;
	smtp_cmd_wait(s, cmd->verb);
	s->cb->auth(s, mech, initial, s->ctx);
	free(initial);
}

void
smtp_session_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	char *copy;

	s->state = SMTP_STATE_COMMAND;
	if (len == 1 && line[0] == '*') {
		s->in_auth = false;
		s->cb->auth_abort(s, s->ctx);
		smtp_cmd_reply(s, SMTP_VERB_AUTH,
			       "501 5.7.0 Authentication aborted");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		char c = line[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '=')) {
			s->in_auth = false;
			s->cb->auth_abort(s, s->ctx);
			smtp_cmd_reply(
			    s, SMTP_VERB_AUTH,
			    "501 5.5.2 Invalid base64 data in continued "
			    "response");
			return;
		}
	}
	copy = xstrndup(line, len);
	smtp_cmd_wait(s, SMTP_VERB_AUTH);
	s->cb->auth_response(s, copy, s->ctx);
	free(copy);
}

void
smtp_session_auth_challenge(struct smtp_session *s, const char *challenge)
{
	if (!s->waiting || s->pending_verb != SMTP_VERB_AUTH)
		log_panic("smtp_session_auth_challenge: no AUTH is pending");
	smtp_session_enter(s);
	s->waiting = false;
	strbuf_reset(&s->out);
	if (strbuf_printf(&s->out, "334 %s", challenge) < 0) {
		/* Longer than the reply buffer: never from a sane server. */
		s->in_auth = false;
		s->cb->auth_abort(s, s->ctx);
		smtp_session_count(s, SMTP_VERB_AUTH, false);
		smtp_session_send(s, "454 4.7.0 Temporary authentication "
				     "failure");
		smtp_session_resume(s);
	} else {
		smtp_session_send(s, strbuf_cstr(&s->out));
		if (s->state != SMTP_STATE_CLOSING) {
			s->state = SMTP_STATE_AUTH;
			stream_pause_read(s->stream, false);
			if (s->depth == 1)
				smtp_session_input(s);
		}
	}
	smtp_session_leave(s);
}

void
smtp_session_auth_done(struct smtp_session *s, const char *reply,
		       const char *user)
{
	if (!s->waiting || s->pending_verb != SMTP_VERB_AUTH)
		log_panic("smtp_session_auth_done: no AUTH is pending");
	smtp_session_enter(s);
	s->waiting = false;
	s->in_auth = false;
	if (user != NULL && reply[0] == '2')
		s->auth_user = xstrdup(user);
	smtp_session_count(s, SMTP_VERB_AUTH, reply[0] == '2');
	smtp_session_send(s, reply);
	smtp_session_resume(s);
	smtp_session_leave(s);
}

const char *
smtp_session_auth_user(const struct smtp_session *s)
{
	return s->auth_user;
}

/* ---- the session's state for the daemon ---- */

void *
smtp_session_context(const struct smtp_session *s)
{
	return s->ctx;
}

void
smtp_session_set_context(struct smtp_session *s, void *ctx)
{
	s->ctx = ctx;
}

const char *
smtp_session_helo(const struct smtp_session *s)
{
	return s->helo;
}

bool
smtp_session_is_tls(const struct smtp_session *s)
{
	return s->stream != NULL && stream_is_tls(s->stream);
}

const char *
smtp_session_protocol(const struct smtp_session *s)
{
	bool tls = smtp_session_is_tls(s);

	if (s->set->lmtp)
		return tls ? "LMTPS" : "LMTP";
	if (!s->esmtp)
		return "SMTP";
	/* issue 5: Postfix's "A" for an authenticated session. */
	if (s->auth_user != NULL)
		return tls ? "ESMTPSA" : "ESMTPA";
	return tls ? "ESMTPS" : "ESMTP";
}

const char *
smtp_session_tls_description(struct smtp_session *s)
{
	if (s->stream == NULL || !stream_is_tls(s->stream))
		return NULL;
	return stream_tls_description(s->stream);
}

unsigned int
smtp_session_rcpt_count(const struct smtp_session *s)
{
	return s->rcpt_accepted;
}

uint64_t
smtp_session_message_size(const struct smtp_session *s)
{
	return s->msg_size;
}
