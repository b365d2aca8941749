/*
 * smtp_server - session lifetime, input dispatch, replies and the DATA /
 * BDAT readers of the SMTP/LMTP server engine (see smtp_server.h). The
 * client is untrusted: command lines are bounded by the stream's line
 * limit, DATA goes through smtp_data_parse() in bounded pieces, BDAT
 * chunks are read to their exact length. Must not block: the daemon's
 * slow work happens in its callbacks' worker jobs.
 */
#include <stdio.h>
#include <string.h>

#include "mail/smtp_server_private.h"
#include "util/event.h"
#include "util/log.h"
#include "util/stream.h"
#include "util/xmem.h"

#define SMTP_OUTPUT_MAX (256 * 1024)
#define SMTP_CLOSE_WAIT_MS 10000

static void
smtp_session_destroy(struct smtp_session *s)
{
	if (s->in_auth && s->cb->auth_abort != NULL) {
		s->cb->auth_abort(s, s->ctx);
		smtp_session_count(s, SMTP_VERB_AUTH, false);
	}
	s->in_auth = false;
	free(s->auth_user);
	if (s->data_started && s->cb->data_abort != NULL)
		s->cb->data_abort(s, s->ctx);
	s->data_started = false;
	if (s->cb->disconnect != NULL)
		s->cb->disconnect(s, s->ctx);
	stream_free(&s->stream);
	event_timer_del(&s->close_timer);
	strbuf_release(&s->out);
	free(s->data_out);
	free(s);
}

void
smtp_session_enter(struct smtp_session *s)
{
	s->depth++;
}

/* Leaves an entry point; a closing session is freed here, at the top. */
void
smtp_session_leave(struct smtp_session *s)
{
	if (--s->depth > 0 || s->state != SMTP_STATE_CLOSING || s->waiting)
		return;
	if (s->stream != NULL && !s->gone &&
	    stream_output_pending(s->stream) > 0 && s->close_timer != NULL)
		return; /* the drain callback or the timer finishes */
	smtp_session_destroy(s);
}

static void
smtp_session_close_timeout(void *ctx)
{
	struct smtp_session *s = ctx;

	smtp_session_enter(s);
	s->gone = true;
	smtp_session_leave(s);
}

static void
smtp_session_drained(struct stream *stream, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)stream;
	smtp_session_enter(s);
	smtp_session_leave(s);
}

void
smtp_session_close(struct smtp_session *s, const char *reply)
{
	if (s->state == SMTP_STATE_CLOSING)
		return;
	if (reply != NULL && !s->gone)
		smtp_session_send(s, reply);
	s->state = SMTP_STATE_CLOSING;
	if (s->data_started && s->cb->data_abort != NULL)
		s->cb->data_abort(s, s->ctx);
	s->data_started = false;
	if (s->stream == NULL || s->gone)
		return;
	stream_pause_read(s->stream, true);
	stream_set_drain_callback(s->stream, smtp_session_drained);
	s->close_timer =
	    event_timer_add(stream_loop(s->stream), SMTP_CLOSE_WAIT_MS, false,
			    smtp_session_close_timeout, s);
}

const char *
smtp_session_421(struct smtp_session *s, const char *enhanced, const char *text)
{
	strbuf_reset(&s->out);
	if (strbuf_printf(&s->out, "421 %s %s %s", enhanced, s->set->hostname,
			  text) < 0)
		return "421 4.3.0 Error: service shutting down";
	return strbuf_cstr(&s->out);
}

void
smtp_session_send(struct smtp_session *s, const char *reply)
{
	const char *p = reply, *nl;
	bool failed = false;
	char code[4];

	if (s->gone || s->stream == NULL || s->state == SMTP_STATE_CLOSING)
		return;
	/* reply may live in s->out: copy the code first, write straight. */
	memcpy(code, reply, 3);
	code[3] = '\0';
	while ((nl = strchr(p, '\n')) != NULL) {
		const char *text = p == reply ? p + 4 : p;

		if (nl < text)
			text = nl;
		if (stream_printf(s->stream, "%s-%.*s\r\n", code,
				  (int)(nl - text), text) < 0)
			failed = true;
		p = nl + 1;
	}
	if (stream_printf(s->stream, p == reply ? "%s%s\r\n" : "%s %s\r\n",
			  p == reply ? "" : code, p) < 0)
		failed = true;
	if (reply[0] == '4' || reply[0] == '5')
		s->errors++;
	if (failed) {
		/* A client that sends commands without reading the replies
		 * filled the output limit: it gets no more. */
		log_info("output limit reached after %s from %s",
			 smtp_session_where(s), s->log_name);
		smtp_session_close(s, NULL);
		s->gone = true;
	}
}

void
smtp_session_count(struct smtp_session *s, enum smtp_verb verb, bool ok)
{
	if ((unsigned int)verb >= SMTP_VERB_COUNT)
		verb = SMTP_VERB_UNKNOWN;
	s->counts[verb][1]++;
	if (ok)
		s->counts[verb][0]++;
}

void
smtp_session_reset_transaction(struct smtp_session *s)
{
	if (s->data_started && s->cb->data_abort != NULL)
		s->cb->data_abort(s, s->ctx);
	s->data_started = false;
	s->in_mail = s->utf8 = s->data_failed = s->too_big = s->bdat = false;
	s->rcpt_accepted = s->rcpt_tried = 0;
	s->lmtp_replies_left = 0;
	s->msg_size = 0;
}

/* ---- message bytes ---- */

static void
smtp_session_message_bytes(struct smtp_session *s, const char *data, size_t len)
{
	if (len == 0 || s->data_failed || s->too_big)
		return;
	if (s->set->message_size_limit > 0 &&
	    s->msg_size + len > s->set->message_size_limit) {
		s->too_big = true;
		if (s->cb->data_abort != NULL)
			s->cb->data_abort(s, s->ctx);
		s->data_started = false;
		return;
	}
	s->msg_size += len;
	if (s->cb->data_chunk(s, data, len, s->ctx) < 0)
		s->data_failed = true;
}

/* The message is complete: size limit, then the daemon's decision. */
static void
smtp_session_message_end(struct smtp_session *s, enum smtp_verb verb)
{
	if (s->too_big) {
		smtp_session_count(s, verb, false);
		smtp_session_reset_transaction(s);
		s->state = SMTP_STATE_COMMAND;
		smtp_session_send(s, "552 5.3.4 Message size exceeds fixed "
				     "limit");
		return;
	}
	s->state = SMTP_STATE_WAIT_DATA;
	s->waiting = true;
	s->data_started = false; /* the daemon owns the message now */
	s->pending_verb = verb;
	s->lmtp_replies_left = s->set->lmtp ? s->rcpt_accepted : 1;
	stream_pause_read(s->stream, true);
	s->cb->data_end(s, !s->data_failed, s->ctx);
}

void
smtp_session_start_data(struct smtp_session *s)
{
	smtp_data_init(&s->data);
	if (s->data_out == NULL)
		s->data_out = xmalloc(SMTP_DATA_PIECE + 1);
	s->state = SMTP_STATE_DATA;
}

static void
smtp_session_data_input(struct smtp_session *s)
{
	enum smtp_data_status status;
	const char *in;
	size_t n, out_len, used;

	while (s->state == SMTP_STATE_DATA &&
	       (n = stream_peek(s->stream, &in)) > 0) {
		if (n > SMTP_DATA_PIECE)
			n = SMTP_DATA_PIECE;
		status = smtp_data_parse(&s->data, in, n, s->data_out, &out_len,
					 &used);
		smtp_session_message_bytes(s, s->data_out, out_len);
		stream_skip(s->stream, used);
		switch (status) {
		case SMTP_DATA_MORE:
			break;
		case SMTP_DATA_END:
			/* Idle sessions hold no DATA buffer. */
			xfree(&s->data_out);
			smtp_session_message_end(s, SMTP_VERB_DATA);
			break;
		case SMTP_DATA_BARE_LF:
		case SMTP_DATA_BARE_CR:
			/* Postfix 3.9 smtpd_forbid_bare_newline = reject:
			 * the message is dropped and the session ends, so
			 * nothing after it can be read as a new command. */
			log_info("disallowed bare <%s> received after DATA "
				 "from %s",
				 status == SMTP_DATA_BARE_LF ? "LF" : "CR",
				 s->log_name);
			smtp_session_count(s, SMTP_VERB_DATA, false);
			smtp_session_close(
			    s, status == SMTP_DATA_BARE_LF
				   ? "550 5.5.2 Error: bare <LF> received"
				   : "550 5.5.2 Error: bare <CR> received");
			break;
		}
	}
}

void
smtp_session_start_bdat(struct smtp_session *s, uint64_t size, bool last,
			const char *error)
{
	s->bdat_left = size;
	s->bdat_last = last;
	s->bdat_discard = error != NULL;
	s->bdat_error = error;
	s->state = SMTP_STATE_BDAT;
}

static void
smtp_session_bdat_done(struct smtp_session *s)
{
	char reply[64];

	s->state = SMTP_STATE_COMMAND;
	if (s->bdat_discard) {
		smtp_session_count(s, SMTP_VERB_BDAT, false);
		smtp_session_send(s, s->bdat_error);
		return;
	}
	if (s->bdat_last) {
		smtp_session_message_end(s, SMTP_VERB_BDAT);
		return;
	}
	if (s->too_big) {
		/* Postfix answers at once and forgets the rest. */
		smtp_session_message_end(s, SMTP_VERB_BDAT);
		return;
	}
	smtp_session_count(s, SMTP_VERB_BDAT, true);
	snprintf(reply, sizeof(reply), "250 2.0.0 Ok: %llu bytes",
		 (unsigned long long)s->msg_size);
	smtp_session_send(s, reply);
}

static void
smtp_session_bdat_input(struct smtp_session *s)
{
	const char *in;
	size_t n;

	while (s->state == SMTP_STATE_BDAT) {
		if (s->bdat_left == 0) {
			smtp_session_bdat_done(s);
			break;
		}
		n = stream_read(s->stream, &in,
				s->bdat_left > SMTP_DATA_PIECE
				    ? SMTP_DATA_PIECE
				    : (size_t)s->bdat_left);
		if (n == 0)
			break;
		s->bdat_left -= n;
		if (!s->bdat_discard)
			smtp_session_message_bytes(s, in, n);
	}
}

/* ---- input ---- */

void
smtp_session_input(struct smtp_session *s)
{
	const char *line;
	size_t len;
	bool crlf;
	int ret;

	for (;;) {
		if (s->state == SMTP_STATE_DATA) {
			smtp_session_data_input(s);
			if (s->state == SMTP_STATE_DATA)
				break;
			continue;
		}
		if (s->state == SMTP_STATE_BDAT) {
			smtp_session_bdat_input(s);
			if (s->state == SMTP_STATE_BDAT)
				break;
			continue;
		}
		if (s->state != SMTP_STATE_COMMAND &&
		    s->state != SMTP_STATE_AUTH)
			break;
		if (s->errors >= s->set->hard_error_limit &&
		    s->set->hard_error_limit > 0) {
			log_info("too many errors after %s from %s",
				 smtp_session_where(s), s->log_name);
			smtp_session_close(
			    s, smtp_session_421(s, "4.7.0",
						"Error: too many errors"));
			break;
		}
		ret = stream_read_line(s->stream, &line, &len, &crlf);
		if (ret == 0)
			break;
		if (ret < 0) {
			if (stream_get_error(s->stream) ==
			    STREAM_ERR_LINE_TOO_LONG)
				smtp_session_close(s, "500 5.5.0 Error: line "
						      "too long");
			else
				smtp_session_close(s, NULL);
			break;
		}
		if (!crlf) {
			smtp_session_count(s, SMTP_VERB_UNKNOWN, false);
			smtp_session_close(s, "550 5.5.2 Error: bare <LF> "
					      "received");
			break;
		}
		if (s->state == SMTP_STATE_AUTH)
			smtp_session_auth_line(s, line, len);
		else
			smtp_session_command(s, line, len);
	}
}

static void
smtp_session_on_read(struct stream *stream, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)stream;
	smtp_session_enter(s);
	smtp_session_input(s);
	smtp_session_leave(s);
}

static void
smtp_session_on_error(struct stream *stream, enum stream_error err, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)stream;
	smtp_session_enter(s);
	if (err == STREAM_ERR_TIMEOUT && s->state != SMTP_STATE_CLOSING) {
		log_info("timeout after %s from %s", smtp_session_where(s),
			 s->log_name);
		smtp_session_close(
		    s, smtp_session_421(s, "4.4.2", "Error: timeout exceeded"));
		/* A failed stream flushes no more: stream_free() makes one
		 * last write attempt, which is all a silent peer gets. */
		s->gone = true;
	} else {
		if (s->state != SMTP_STATE_CLOSING)
			log_info("lost connection after %s from %s",
				 smtp_session_where(s), s->log_name);
		smtp_session_close(s, NULL);
		s->gone = true;
	}
	smtp_session_leave(s);
}

/* ---- TLS ---- */

static void
smtp_session_tls_done(struct stream *stream, bool ok, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)stream;
	smtp_session_enter(s);
	if (!ok) {
		log_info("SSL_accept error from %s", s->log_name);
		smtp_session_close(s, NULL);
		s->gone = true;
	} else if (s->wrapper_handshake) {
		s->wrapper_handshake = false;
		s->state = SMTP_STATE_COMMAND;
		(void)stream_printf(s->stream, "220 %s\r\n", s->set->banner);
		smtp_session_input(s);
	} else {
		/* RFC 3207 4.2: forget everything learnt before TLS. */
		xfree(&s->auth_user);
		s->state = SMTP_STATE_COMMAND;
		s->helo_done = s->esmtp = false;
		s->helo[0] = '\0';
		smtp_session_reset_transaction(s);
		smtp_session_input(s);
	}
	smtp_session_leave(s);
}

void
smtp_session_start_tls(struct smtp_session *s)
{
	s->state = SMTP_STATE_TLS;
	if (stream_start_tls(s->stream, s->set->tls_ctx, true, NULL,
			     smtp_session_tls_done) < 0)
		smtp_session_close(s, NULL);
}

/* ---- public ---- */

struct smtp_session *
smtp_session_new(struct event_loop *loop, int fd,
		 const struct smtp_server_settings *settings,
		 const struct smtp_server_callbacks *callbacks, void *ctx)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	size_t line_max = settings->line_length_limit;

	if (line_max < 512)
		line_max = 512;
	s->set = settings;
	s->cb = callbacks;
	s->ctx = ctx;
	strbuf_init(&s->out, 4096);
	snprintf(s->log_name, sizeof(s->log_name), "unknown[unknown]");
	s->stream = stream_new(loop, fd, line_max + 2, SMTP_OUTPUT_MAX);
	stream_set_callbacks(s->stream, smtp_session_on_read,
			     smtp_session_on_error, s);
	stream_set_timeout(s->stream, settings->timeout_secs * 1000u);
	s->state = SMTP_STATE_COMMAND;
	if (settings->wrappermode && settings->tls_ctx != NULL) {
		/* Port 465: TLS first (RFC 8314), then the banner. */
		s->wrapper_handshake = true;
		smtp_session_start_tls(s);
		return s;
	}
	(void)stream_printf(s->stream, "220 %s\r\n", settings->banner);
	return s;
}

void
smtp_session_resume(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_CLOSING)
		return;
	s->state = SMTP_STATE_COMMAND;
	stream_pause_read(s->stream, false);
	if (s->depth == 1)
		smtp_session_input(s);
}

void
smtp_session_reply(struct smtp_session *s, const char *reply)
{
	bool ok = reply[0] == '2';

	if (!s->waiting || s->pending_verb == SMTP_VERB_DATA ||
	    s->pending_verb == SMTP_VERB_BDAT)
		log_panic("smtp_session_reply: no MAIL or RCPT is pending");
	smtp_session_enter(s);
	s->waiting = false;
	smtp_session_count(s, s->pending_verb, ok);
	if (s->pending_verb == SMTP_VERB_MAIL) {
		if (ok)
			s->in_mail = true;
	} else if (ok) {
		s->rcpt_accepted++;
	}
	smtp_session_send(s, reply);
	smtp_session_resume(s);
	smtp_session_leave(s);
}

void
smtp_session_data_reply(struct smtp_session *s, const char *reply)
{
	if (!s->waiting || (s->pending_verb != SMTP_VERB_DATA &&
			    s->pending_verb != SMTP_VERB_BDAT))
		log_panic("smtp_session_data_reply: no message is pending");
	smtp_session_enter(s);
	smtp_session_send(s, reply);
	if (s->lmtp_replies_left > 0)
		s->lmtp_replies_left--;
	if (s->lmtp_replies_left == 0) {
		s->waiting = false;
		smtp_session_count(s, s->pending_verb, reply[0] == '2');
		smtp_session_reset_transaction(s);
		smtp_session_resume(s);
	}
	smtp_session_leave(s);
}

void
smtp_session_set_log_name(struct smtp_session *s, const char *name)
{
	snprintf(s->log_name, sizeof(s->log_name), "%.300s", name);
}

const char *
smtp_session_where(const struct smtp_session *s)
{
	if (s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT)
		return smtp_verb_name(s->state == SMTP_STATE_DATA
					  ? SMTP_VERB_DATA
					  : SMTP_VERB_BDAT);
	if (s->state == SMTP_STATE_WAIT_DATA)
		return "END-OF-MESSAGE";
	if (!s->any_command)
		return "CONNECT";
	return smtp_verb_name(s->last_verb);
}
