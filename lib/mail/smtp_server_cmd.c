/*
 * smtp_server_cmd - the command table and command handlers of the SMTP/LMTP
 * server engine: order checks (HELO before MAIL, MAIL before RCPT, ...),
 * limits, the EHLO keyword list, Postfix's reply wording and its
 * disconnect statistics. The command line is untrusted and already
 * bounded; it is parsed by smtp_parse.c.
 * Decisions about addresses belong to the daemon's callbacks, never here.
 */
#include <stdio.h>
#include <string.h>

#include "mail/smtp_server_private.h"
#include "util/log.h"
#include "util/stream.h"

/* Command flags. */
#define CMD_SMTP 0x01	    /* accepted in SMTP mode */
#define CMD_LMTP 0x02	    /* accepted in LMTP mode */
#define CMD_BEFORE_TLS 0x04 /* allowed while TLS is required but inactive */
#define CMD_NEEDS_AUTH 0x08 /* needs a SASL login (issue 5: submission) */
#define CMD_DISABLED 0x10   /* known but not offered yet (AUTH) */

struct smtp_cmd_def {
	enum smtp_verb verb;
	unsigned int flags;
	void (*handler)(struct smtp_session *s, const struct smtp_command *cmd);
};

void
smtp_cmd_reply(struct smtp_session *s, enum smtp_verb verb, const char *reply)
{
	smtp_session_count(s, verb, reply[0] == '2' || reply[0] == '3');
	smtp_session_send(s, reply);
}

static void
cmd_helo(struct smtp_session *s, const struct smtp_command *cmd)
{
	struct strbuf r;
	size_t len = cmd->arg_len < sizeof(s->helo) - 1 ? cmd->arg_len
							: sizeof(s->helo) - 1;

	smtp_session_reset_transaction(s);
	memcpy(s->helo, cmd->arg, len);
	s->helo[len] = '\0';
	s->helo_done = true;
	s->esmtp = cmd->verb != SMTP_VERB_HELO;
	if (s->cb->helo != NULL)
		s->cb->helo(s, s->helo, s->ctx);
	if (cmd->verb == SMTP_VERB_HELO) {
		strbuf_init(&r, 512);
		(void)strbuf_printf(&r, "250 %s", s->set->hostname);
		smtp_cmd_reply(s, cmd->verb, strbuf_cstr(&r));
		strbuf_release(&r);
		return;
	}
	strbuf_init(&r, 1024);
	(void)strbuf_printf(&r, "250 %s\nPIPELINING", s->set->hostname);
	if (s->set->message_size_limit > 0)
		(void)strbuf_printf(
		    &r, "\nSIZE %llu",
		    (unsigned long long)s->set->message_size_limit);
	else
		(void)strbuf_append_str(&r, "\nSIZE");
	if (s->set->tls != SMTP_SERVER_TLS_NONE && !smtp_session_is_tls(s))
		(void)strbuf_append_str(&r, "\nSTARTTLS");
	(void)strbuf_append_str(&r, "\nENHANCEDSTATUSCODES\n8BITMIME");
	if (s->set->enable_dsn)
		(void)strbuf_append_str(&r, "\nDSN");
	if (s->set->enable_smtputf8)
		(void)strbuf_append_str(&r, "\nSMTPUTF8");
	if (s->set->enable_chunking)
		(void)strbuf_append_str(&r, "\nCHUNKING");
	if (smtp_session_auth_offered(s)) {
		(void)strbuf_printf(&r, "\nAUTH %s", s->set->auth_mechanisms);
		if (s->set->auth_broken_clients)
			(void)strbuf_printf(&r, "\nAUTH=%s",
					    s->set->auth_mechanisms);
	}
	smtp_cmd_reply(s, cmd->verb, strbuf_cstr(&r));
	strbuf_release(&r);
}

bool
smtp_cmd_need_helo(struct smtp_session *s, enum smtp_verb verb)
{
	if (s->helo_done)
		return true;
	smtp_cmd_reply(s, verb, "503 5.5.1 Error: send HELO/EHLO first");
	return false;
}

void
smtp_cmd_wait(struct smtp_session *s, enum smtp_verb verb)
{
	s->state = SMTP_STATE_WAIT;
	s->waiting = true;
	s->pending_verb = verb;
	stream_pause_read(s->stream, true);
}

static void
cmd_mail(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (!smtp_cmd_need_helo(s, cmd->verb))
		return;
	if (s->in_mail) {
		smtp_cmd_reply(s, cmd->verb,
			       "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((cmd->params.present & SMTP_PARAM_SIZE) != 0 &&
	    s->set->message_size_limit > 0 &&
	    cmd->params.size > s->set->message_size_limit) {
		smtp_cmd_reply(s, cmd->verb,
			       "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	s->utf8 = (cmd->params.present & SMTP_PARAM_SMTPUTF8) != 0;
	smtp_cmd_wait(s, cmd->verb);
	s->cb->mail(s, cmd, s->ctx);
}

static void
cmd_rcpt(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (!s->in_mail) {
		smtp_cmd_reply(s, cmd->verb,
			       "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->set->recipient_limit > 0 &&
	    s->rcpt_accepted >= s->set->recipient_limit) {
		smtp_cmd_reply(s, cmd->verb,
			       "452 4.5.3 Error: too many recipients");
		return;
	}
	s->rcpt_tried++;
	smtp_cmd_wait(s, cmd->verb);
	s->cb->rcpt(s, cmd, s->ctx);
}

/* The reply for DATA/BDAT without a usable transaction, or NULL. */
static const char *
cmd_data_refusal(struct smtp_session *s)
{
	if (!s->in_mail)
		return "503 5.5.1 Error: need RCPT command";
	if (s->rcpt_accepted == 0)
		return s->rcpt_tried == 0
			   ? "503 5.5.1 Error: need RCPT command"
			   : "554 5.5.1 Error: no valid recipients";
	return NULL;
}

static bool
cmd_data_begin(struct smtp_session *s, enum smtp_verb verb)
{
	const char *reply = NULL;

	if (s->cb->data_start(s, &reply, s->ctx) < 0) {
		smtp_session_reset_transaction(s);
		smtp_cmd_reply(s, verb,
			       reply != NULL
				   ? reply
				   : "451 4.3.0 Error: queue file write "
				     "error");
		return false;
	}
	s->data_started = true;
	s->msg_size = 0;
	return true;
}

static void
cmd_data(struct smtp_session *s, const struct smtp_command *cmd)
{
	const char *refusal = cmd_data_refusal(s);

	if (refusal == NULL && s->bdat)
		refusal = "503 5.5.1 Error: DATA after BDAT";
	if (refusal != NULL) {
		smtp_cmd_reply(s, cmd->verb, refusal);
		return;
	}
	/* RFC 2920 3.1: DATA ends a pipelined group; bytes before our 354
	 * are either a broken client or an attempt at smuggling. */
	if (stream_input_pending(s->stream) > 0) {
		log_info("improper command pipelining after DATA from %s",
			 s->log_name);
		smtp_session_count(s, cmd->verb, false);
		smtp_session_reset_transaction(s);
		smtp_session_close(s, "554 5.5.0 Error: SMTP protocol "
				      "synchronization");
		return;
	}
	if (!cmd_data_begin(s, cmd->verb))
		return;
	smtp_session_send(s, "354 End data with <CR><LF>.<CR><LF>");
	smtp_session_start_data(s);
}

static void
cmd_bdat(struct smtp_session *s, const struct smtp_command *cmd)
{
	const char *refusal = cmd_data_refusal(s);

	if (refusal != NULL) {
		smtp_session_start_bdat(s, cmd->bdat_size, cmd->bdat_last,
					refusal);
		return;
	}
	if (!s->bdat) {
		const char *reply = NULL;

		if (s->cb->data_start(s, &reply, s->ctx) < 0) {
			smtp_session_reset_transaction(s);
			smtp_session_start_bdat(
			    s, cmd->bdat_size, cmd->bdat_last,
			    reply != NULL ? reply
					  : "451 4.3.0 Error: queue file "
					    "write error");
			return;
		}
		s->data_started = true;
		s->msg_size = 0;
		s->bdat = true;
	}
	smtp_session_start_bdat(s, cmd->bdat_size, cmd->bdat_last, NULL);
}

static void
cmd_rset(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_session_reset_transaction(s);
	smtp_cmd_reply(s, cmd->verb, "250 2.0.0 Ok");
}

static void
cmd_noop(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_cmd_reply(s, cmd->verb, "250 2.0.0 Ok");
}

static void
cmd_quit(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_session_count(s, cmd->verb, true);
	smtp_session_close(s, "221 2.0.0 Bye");
}

static void
cmd_vrfy(struct smtp_session *s, const struct smtp_command *cmd)
{
	/* Never confirms or denies an address (no harvesting). */
	smtp_cmd_reply(s, cmd->verb,
		       "252 2.0.0 Cannot VRFY user, but will "
		       "accept message and attempt delivery");
}

static void
cmd_help(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_cmd_reply(s, cmd->verb,
		       s->set->lmtp ? "214 2.0.0 Commands: LHLO MAIL RCPT DATA "
				      "BDAT RSET NOOP QUIT VRFY HELP"
				    : "214 2.0.0 Commands: HELO EHLO MAIL RCPT "
				      "DATA BDAT RSET NOOP QUIT VRFY HELP "
				      "STARTTLS");
}

static void
cmd_starttls(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (cmd->arg_len > 0) {
		smtp_cmd_reply(s, cmd->verb, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (smtp_session_is_tls(s)) {
		smtp_cmd_reply(s, cmd->verb,
			       "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->set->tls_ctx == NULL) {
		smtp_cmd_reply(s, cmd->verb,
			       "454 4.7.0 TLS not available due to "
			       "local problem");
		return;
	}
	smtp_cmd_reply(s, cmd->verb, "220 2.0.0 Ready to start TLS");
	smtp_session_start_tls(s);
}

static const struct smtp_cmd_def smtp_cmd_table[] = {
    {SMTP_VERB_HELO, CMD_SMTP | CMD_BEFORE_TLS, cmd_helo},
    {SMTP_VERB_EHLO, CMD_SMTP | CMD_BEFORE_TLS, cmd_helo},
    {SMTP_VERB_LHLO, CMD_LMTP | CMD_BEFORE_TLS, cmd_helo},
    {SMTP_VERB_MAIL, CMD_SMTP | CMD_LMTP, cmd_mail},
    {SMTP_VERB_RCPT, CMD_SMTP | CMD_LMTP, cmd_rcpt},
    {SMTP_VERB_DATA, CMD_SMTP | CMD_LMTP, cmd_data},
    {SMTP_VERB_BDAT, CMD_SMTP | CMD_LMTP, cmd_bdat},
    {SMTP_VERB_RSET, CMD_SMTP | CMD_LMTP | CMD_BEFORE_TLS, cmd_rset},
    {SMTP_VERB_NOOP, CMD_SMTP | CMD_LMTP | CMD_BEFORE_TLS, cmd_noop},
    {SMTP_VERB_QUIT, CMD_SMTP | CMD_LMTP | CMD_BEFORE_TLS, cmd_quit},
    {SMTP_VERB_VRFY, CMD_SMTP | CMD_LMTP, cmd_vrfy},
    {SMTP_VERB_HELP, CMD_SMTP | CMD_LMTP | CMD_BEFORE_TLS, cmd_help},
    {SMTP_VERB_STARTTLS, CMD_SMTP | CMD_LMTP | CMD_BEFORE_TLS, cmd_starttls},
    /* Before TLS when TLS is required: the generic 530 below. */
    {SMTP_VERB_AUTH, CMD_SMTP, smtp_cmd_auth},
};

static const struct smtp_cmd_def *
smtp_cmd_find(enum smtp_verb verb)
{
	for (size_t i = 0;
	     i < sizeof(smtp_cmd_table) / sizeof(smtp_cmd_table[0]); i++)
		if (smtp_cmd_table[i].verb == verb)
			return &smtp_cmd_table[i];
	return NULL;
}

static unsigned int
smtp_cmd_parse_flags(const struct smtp_session *s)
{
	unsigned int flags = SMTP_PARSE_EXT_SIZE | SMTP_PARSE_EXT_8BITMIME;

	if (s->set->enable_smtputf8)
		flags |= SMTP_PARSE_EXT_SMTPUTF8;
	if (s->set->enable_dsn)
		flags |= SMTP_PARSE_EXT_DSN;
	if (s->utf8)
		flags |= SMTP_PARSE_UTF8_TRANSACTION;
	if (s->set->auth_mechanisms != NULL)
		flags |= SMTP_PARSE_EXT_AUTH; /* MAIL FROM ... AUTH=<> */
	return flags;
}

void
smtp_session_command(struct smtp_session *s, const char *line, size_t len)
{
	const struct smtp_cmd_def *def;
	struct smtp_command cmd;
	char reply[SMTP_ERROR_TEXT_MAX + 32];
	unsigned int mode = s->set->lmtp ? CMD_LMTP : CMD_SMTP;

	int ret = smtp_parse_command(line, len, smtp_cmd_parse_flags(s), &cmd);

	s->last_verb = cmd.verb;
	s->any_command = true;
	if (ret < 0) {
		def = smtp_cmd_find(cmd.verb);
		if (cmd.verb != SMTP_VERB_UNKNOWN &&
		    (def == NULL || (def->flags & mode) == 0 ||
		     (def->flags & CMD_DISABLED) != 0)) {
			smtp_cmd_reply(
			    s, SMTP_VERB_UNKNOWN,
			    "502 5.5.2 Error: command not recognized");
			return;
		}
		if (cmd.verb == SMTP_VERB_BDAT) {
			/* The chunk length is unknown: nothing after this
			 * line can be trusted to be a command. */
			smtp_session_count(s, cmd.verb, false);
			smtp_session_close(s, "554 5.5.0 Error: SMTP protocol "
					      "synchronization");
			return;
		}
		if (cmd.error.enhanced[0] != '\0')
			snprintf(reply, sizeof(reply), "%u %s %s",
				 cmd.error.code, cmd.error.enhanced,
				 cmd.error.text);
		else
			snprintf(reply, sizeof(reply), "%u %s", cmd.error.code,
				 cmd.error.text);
		smtp_cmd_reply(s, cmd.verb, reply);
		return;
	}
	def = smtp_cmd_find(cmd.verb);
	if (def == NULL || (def->flags & mode) == 0 ||
	    (def->flags & CMD_DISABLED) != 0 ||
	    (cmd.verb == SMTP_VERB_BDAT && !s->set->enable_chunking) ||
	    (cmd.verb == SMTP_VERB_STARTTLS &&
	     s->set->tls == SMTP_SERVER_TLS_NONE)) {
		if (cmd.verb == SMTP_VERB_BDAT) {
			smtp_session_count(s, cmd.verb, false);
			smtp_session_close(s, "554 5.5.0 Error: SMTP protocol "
					      "synchronization");
			return;
		}
		smtp_cmd_reply(s, SMTP_VERB_UNKNOWN,
			       "502 5.5.2 Error: command not recognized");
		return;
	}
	if (s->set->tls == SMTP_SERVER_TLS_ENCRYPT && !smtp_session_is_tls(s) &&
	    (def->flags & CMD_BEFORE_TLS) == 0) {
		if (cmd.verb == SMTP_VERB_BDAT)
			smtp_session_start_bdat(s, cmd.bdat_size, cmd.bdat_last,
						"530 5.7.0 Must issue a "
						"STARTTLS command first");
		else
			smtp_cmd_reply(s, cmd.verb,
				       "530 5.7.0 Must issue a "
				       "STARTTLS command first");
		return;
	}
	def->handler(s, &cmd);
}

void
smtp_session_stats(const struct smtp_session *s, struct strbuf *out)
{
	/* Postfix's order in its disconnect line. */
	static const enum smtp_verb order[] = {
	    SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_LHLO, SMTP_VERB_STARTTLS,
	    SMTP_VERB_AUTH, SMTP_VERB_MAIL, SMTP_VERB_RCPT, SMTP_VERB_DATA,
	    SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_NOOP, SMTP_VERB_VRFY,
	    SMTP_VERB_EXPN, SMTP_VERB_HELP, SMTP_VERB_QUIT, SMTP_VERB_UNKNOWN,
	};
	unsigned int ok = 0, total = 0;
	char name[16];

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const unsigned int *c = s->counts[order[i]];
		size_t k;

		if (c[1] == 0)
			continue;
		snprintf(name, sizeof(name), "%s", smtp_verb_name(order[i]));
		for (k = 0; name[k] != '\0'; k++)
			if (name[k] >= 'A' && name[k] <= 'Z')
				name[k] = (char)(name[k] - 'A' + 'a');
		if (c[0] == c[1])
			(void)strbuf_printf(out, " %s=%u", name, c[1]);
		else
			(void)strbuf_printf(out, " %s=%u/%u", name, c[0], c[1]);
		ok += c[0];
		total += c[1];
	}
	if (ok == total)
		(void)strbuf_printf(out, " commands=%u", total);
	else
		(void)strbuf_printf(out, " commands=%u/%u", ok, total);
}
