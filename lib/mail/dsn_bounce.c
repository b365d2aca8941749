/*
 * dsn_bounce - writes RFC 3464 delivery status notifications (failure,
 * delay, success, double bounce) as Postfix does: multipart/report with
 * a text part worded like Postfix's bounce templates, the
 * message/delivery-status part and the original message or its headers.
 * All inputs are untrusted (envelope, reply texts, the original message);
 * values are cleaned and folded, the original is included only within
 * bounce_size_limit and only when it can travel unchanged, else its
 * headers are included quoted-printable. Pure: no I/O, no logging, no
 * clock.
 */
#include "mail/dsn_bounce.h"
#include "mail/dsn_bounce_private.h"

#include <stdio.h>
#include <string.h>

#include "mail/queue_file.h"
#include "mail/xtext.h"
#include "util/strbuf.h"

/* Longest address, reason or envelope value written (after cleaning). */
#define DSN_VALUE_MAX 2000

struct dsn_ctx {
	const struct dsn_report *rep;
	struct strbuf *out;
	const char *boundary;
	bool utf8;
};

static const char *const dsn_action_names[] = {
    [DSN_ACTION_FAILED] = "failed",	  [DSN_ACTION_DELAYED] = "delayed",
    [DSN_ACTION_DELIVERED] = "delivered", [DSN_ACTION_RELAYED] = "relayed",
    [DSN_ACTION_EXPANDED] = "expanded",
};

const char *
dsn_action_name(enum dsn_action action)
{
	if ((unsigned int)action >=
	    sizeof(dsn_action_names) / sizeof(dsn_action_names[0]))
		return "failed";
	return dsn_action_names[action];
}

bool
dsn_should_notify(const char *sender, unsigned int notify,
		  enum dsn_action action)
{
	if (sender == NULL || sender[0] == '\0')
		return false;
	if ((notify & QUEUE_NOTIFY_NEVER) != 0)
		return false;
	switch (action) {
	case DSN_ACTION_FAILED:
		return notify == 0 || (notify & QUEUE_NOTIFY_FAILURE) != 0;
	case DSN_ACTION_DELAYED:
		return notify == 0 || (notify & QUEUE_NOTIFY_DELAY) != 0;
	case DSN_ACTION_DELIVERED:
	case DSN_ACTION_RELAYED:
	case DSN_ACTION_EXPANDED:
		return (notify & QUEUE_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

bool
dsn_want_double_bounce(const char *sender, const char *double_bounce_sender,
		       enum dsn_action action)
{
	if (double_bounce_sender == NULL)
		double_bounce_sender = "double-bounce";
	if (action != DSN_ACTION_FAILED || sender == NULL)
		return false;
	/* A failed double bounce is discarded, never bounced again. */
	if (strcmp(sender, double_bounce_sender) == 0)
		return false;
	return sender[0] == '\0';
}

static bool
dsn_status_valid(const char *s)
{
	int dots = 0, digits = 0;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return false;
	for (s += 2; *s != '\0'; s++) {
		if (*s == '.') {
			if (digits == 0 || ++dots > 1)
				return false;
			digits = 0;
		} else if (*s >= '0' && *s <= '9') {
			if (++digits > 3)
				return false;
		} else {
			return false;
		}
	}
	return dots == 1 && digits > 0;
}

static const char *
dsn_status(const struct dsn_rcpt *r)
{
	if (dsn_status_valid(r->status))
		return r->status;
	switch (r->action) {
	case DSN_ACTION_FAILED:
		return "5.0.0";
	case DSN_ACTION_DELAYED:
		return "4.0.0";
	default:
		return "2.0.0";
	}
}

static bool
empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

/* "name: <cleaned value>" (folded). */
static int
dsn_put_field(struct dsn_ctx *c, const char *name, const char *prefix,
	      const char *value)
{
	struct strbuf v;
	int ret;

	strbuf_init(&v, DSN_VALUE_MAX + 64);
	ret = strbuf_append_str(&v, prefix);
	if (ret == 0)
		ret = dsn_clean_append(&v, value, DSN_VALUE_MAX, c->utf8);
	if (ret == 0)
		ret = dsn_field_append(c->out, name, strbuf_cstr(&v));
	strbuf_release(&v);
	return ret;
}

static int
dsn_put_date(struct dsn_ctx *c, const char *name, time_t t)
{
	char date[64];

	dsn_fmt_date(t, date, sizeof(date));
	return strbuf_printf(c->out, "%s: %s\r\n", name, date);
}

static const char *
dsn_subject(enum dsn_kind kind)
{
	switch (kind) {
	case DSN_KIND_DELAY:
		return "Delayed Mail (still being retried)";
	case DSN_KIND_SUCCESS:
		return "Successful Mail Delivery Report";
	case DSN_KIND_DOUBLE_BOUNCE:
		return "Postmaster Copy: Undelivered Mail";
	case DSN_KIND_FAILURE:
		break;
	}
	return "Undelivered Mail Returned to Sender";
}

static int
dsn_text_intro(struct dsn_ctx *c)
{
	const struct dsn_report *rep = c->rep;
	struct strbuf *out = c->out;
	int ret = 0;

	ret |= strbuf_append_str(out, "This is the mail system at host ");
	ret |= dsn_clean_append(out, rep->myhostname, 255, false);
	ret |= strbuf_append_str(out, ".\r\n\r\n");
	switch (rep->kind) {
	case DSN_KIND_DELAY:
		ret |= strbuf_printf(
		    out,
		    "####################################################"
		    "################\r\n"
		    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND "
		    "YOUR MESSAGE. #\r\n"
		    "####################################################"
		    "################\r\n\r\n"
		    "Your message could not be delivered for more than "
		    "%ld hour(s).\r\n"
		    "It will be retried until it is %ld day(s) old.\r\n\r\n",
		    rep->delay_warning_hours, rep->lifetime_days);
		break;
	case DSN_KIND_SUCCESS:
		ret |= strbuf_append_str(
		    out,
		    "Your message was successfully delivered to the "
		    "destination(s)\r\n"
		    "listed below. If the message was delivered to mailbox "
		    "you will\r\n"
		    "receive no further notifications. Otherwise you may "
		    "still receive\r\n"
		    "notifications of mail delivery errors from other "
		    "systems.\r\n\r\n"
		    "                   The mail system\r\n\r\n");
		return ret < 0 ? -1 : 0;
	case DSN_KIND_FAILURE:
	case DSN_KIND_DOUBLE_BOUNCE:
		ret |= strbuf_append_str(
		    out,
		    "I'm sorry to have to inform you that your message "
		    "could not\r\n"
		    "be delivered to one or more recipients. It's attached "
		    "below.\r\n\r\n");
		break;
	}
	ret |= strbuf_append_str(
	    out, "For further assistance, please send mail to postmaster.\r\n"
		 "\r\n"
		 "If you do so, please include this problem report. You can\r\n"
		 "delete your own text from the attached returned message.\r\n"
		 "\r\n"
		 "                   The mail system\r\n\r\n");
	return ret < 0 ? -1 : 0;
}

static int
dsn_text_part(struct dsn_ctx *c, unsigned int listed)
{
	const struct dsn_report *rep = c->rep;
	int ret = 0;

	ret |= strbuf_printf(c->out,
			     "--%s\r\nContent-Description: Notification\r\n"
			     "Content-Type: text/plain; charset=%s\r\n\r\n",
			     c->boundary, c->utf8 ? "utf-8" : "us-ascii");
	ret |= dsn_text_intro(c);
	for (unsigned int i = 0; i < listed && ret == 0; i++) {
		const struct dsn_rcpt *r = &rep->rcpts[i];
		struct strbuf name;

		strbuf_init(&name, 3 * DSN_VALUE_MAX + 128);
		ret |= strbuf_append_char(&name, '<');
		ret |=
		    dsn_clean_append(&name, r->address, DSN_VALUE_MAX, c->utf8);
		ret |= strbuf_append_char(&name, '>');
		if (!empty(r->orig_rcpt) &&
		    strcmp(r->orig_rcpt, r->address) != 0) {
			ret |= strbuf_append_str(&name, " (expanded from <");
			ret |= dsn_clean_append(&name, r->orig_rcpt,
						DSN_VALUE_MAX, c->utf8);
			ret |= strbuf_append_str(&name, ">)");
		}
		ret |= strbuf_append_str(&name, ": ");
		if (!empty(r->diagnostic))
			ret |= dsn_clean_append(&name, r->diagnostic,
						DSN_VALUE_MAX, c->utf8);
		else
			ret |= strbuf_printf(&name, "%s (%s)",
					     dsn_action_name(r->action),
					     dsn_status(r));
		if (ret == 0)
			ret = dsn_fold_append(c->out, 0, false,
					      strbuf_cstr(&name));
		strbuf_release(&name);
	}
	if (listed < rep->rcpt_count)
		ret |= strbuf_printf(c->out, "... and %u more recipient(s)\r\n",
				     rep->rcpt_count - listed);
	return ret < 0 ? -1 : 0;
}

/* Original-Recipient from the stored ORCPT "type;xtext": decoded when it
 * decodes to printable text, else as stored. */
static int
dsn_put_orcpt(struct dsn_ctx *c, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	struct strbuf dec;
	const char *error;
	int ret;

	strbuf_init(&dec, DSN_VALUE_MAX);
	if (semi != NULL && semi > orcpt && semi - orcpt < 32 &&
	    strbuf_append(&dec, orcpt, (size_t)(semi - orcpt) + 1) == 0 &&
	    xtext_decode(semi + 1, strlen(semi + 1), &dec, &error) == 0 &&
	    (c->utf8 || !dsn_has_8bit(strbuf_cstr(&dec))))
		ret = dsn_put_field(c, "Original-Recipient", "",
				    strbuf_cstr(&dec));
	else
		ret = dsn_put_field(c, "Original-Recipient", "", orcpt);
	strbuf_release(&dec);
	return ret;
}

static bool
dsn_diag_is_smtp(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' &&
	       s[2] >= '0' && s[2] <= '9' &&
	       (s[3] == '\0' || s[3] == ' ' || s[3] == '-');
}

static int
dsn_status_part(struct dsn_ctx *c, unsigned int listed)
{
	const struct dsn_report *rep = c->rep;
	int ret = 0;

	ret |= strbuf_printf(c->out,
			     "--%s\r\nContent-Description: Delivery report\r\n"
			     "Content-Type: message/%sdelivery-status\r\n\r\n",
			     c->boundary, c->utf8 ? "global-" : "");
	if (!empty(rep->envid))
		ret |= dsn_put_field(c, "Original-Envelope-Id", "", rep->envid);
	ret |= dsn_put_field(c, "Reporting-MTA", "dns; ", rep->myhostname);
	ret |= dsn_put_field(c, "X-Dovetail-Queue-ID", "", rep->queue_id);
	if (empty(rep->sender))
		ret |=
		    strbuf_append_str(c->out, "X-Dovetail-Sender: rfc822;\r\n");
	else
		ret |= dsn_put_field(c, "X-Dovetail-Sender", "rfc822; ",
				     rep->sender);
	if (rep->arrival != 0)
		ret |= dsn_put_date(c, "Arrival-Date", rep->arrival);
	for (unsigned int i = 0; i < listed && ret == 0; i++) {
		const struct dsn_rcpt *r = &rep->rcpts[i];
		const char *type = c->utf8 && dsn_has_8bit(r->address)
				       ? "utf-8; "
				       : "rfc822; ";

		ret |= strbuf_append(c->out, "\r\n", 2);
		ret |= dsn_put_field(c, "Final-Recipient", type, r->address);
		if (!empty(r->orcpt))
			ret |= dsn_put_orcpt(c, r->orcpt);
		ret |= strbuf_printf(c->out, "Action: %s\r\nStatus: %s\r\n",
				     dsn_action_name(r->action), dsn_status(r));
		if (!empty(r->remote_mta))
			ret |= dsn_put_field(c, "Remote-MTA", "dns; ",
					     r->remote_mta);
		if (!empty(r->diagnostic))
			ret |= dsn_put_field(c, "Diagnostic-Code",
					     dsn_diag_is_smtp(r->diagnostic)
						 ? "smtp; "
						 : "X-Dovetail; ",
					     r->diagnostic);
		if (r->last_attempt != 0)
			ret |= dsn_put_date(c, "Last-Attempt-Date",
					    r->last_attempt);
		if (r->action == DSN_ACTION_DELAYED && r->will_retry_until != 0)
			ret |= dsn_put_date(c, "Will-Retry-Until",
					    r->will_retry_until);
	}
	return ret < 0 ? -1 : 0;
}

/* Length of the original's header block (with its last CRLF), cut at a
 * line end within max bytes. */
static size_t
dsn_header_len(const char *data, size_t len, size_t max)
{
	size_t last_eol = 0;

	if (len > max)
		len = max;
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] != '\r' || data[i + 1] != '\n')
			continue;
		if (i == 0 || i == last_eol)
			return i == 0 ? 0 : last_eol;
		last_eol = i + 2;
		i++;
	}
	return last_eol;
}

static int
dsn_orig_part(struct dsn_ctx *c, struct dsn_result *res)
{
	const struct dsn_report *rep = c->rep;
	size_t limit = rep->bounce_size_limit != 0
			   ? rep->bounce_size_limit
			   : DSN_BOUNCE_SIZE_LIMIT_DEFAULT;
	bool full = (rep->kind == DSN_KIND_FAILURE) &&
		    rep->ret != DSN_RET_HDRS && rep->content_size <= limit &&
		    rep->content_len >= rep->content_size;
	const char *verb = rep->kind == DSN_KIND_SUCCESS ? "Delivered"
			   : rep->kind == DSN_KIND_DELAY ? "Delayed"
							 : "Undelivered";
	bool eight = false;
	size_t len;
	int ret = 0;

	if (full &&
	    dsn_needs_encoding(rep->content, (size_t)rep->content_size, &eight))
		full = false;
	if (full && eight && rep->seven_bit_only)
		full = false;
	if (full) {
		res->full_message = true;
		res->eight_bit = eight;
		ret |= strbuf_printf(
		    c->out,
		    "--%s\r\nContent-Description: %s Message\r\n"
		    "Content-Type: message/%s\r\n%s\r\n",
		    c->boundary, verb, c->utf8 ? "global" : "rfc822",
		    eight ? "Content-Transfer-Encoding: 8bit\r\n" : "");
		ret |= strbuf_append(c->out, rep->content,
				     (size_t)rep->content_size);
		return ret < 0 ? -1 : 0;
	}
	len = dsn_header_len(rep->content, rep->content_len, limit);
	bool qp = dsn_needs_encoding(rep->content, len, &eight);
	if (eight && (!c->utf8 || rep->seven_bit_only))
		qp = true;
	const char *type = c->utf8 && eight && !qp ? "message/global-headers"
						   : "text/rfc822-headers";
	ret |=
	    strbuf_printf(c->out,
			  "--%s\r\nContent-Description: %s Message Headers\r\n"
			  "Content-Type: %s\r\n%s\r\n",
			  c->boundary, verb, type,
			  qp ? "Content-Transfer-Encoding: quoted-printable\r\n"
			  : eight ? "Content-Transfer-Encoding: 8bit\r\n"
				  : "");
	if (qp)
		ret |= dsn_qp_append(c->out, rep->content, len);
	else
		ret |= strbuf_append(c->out, rep->content, len);
	if (!qp && eight)
		res->eight_bit = true;
	return ret < 0 ? -1 : 0;
}

/* Postfix-style boundary, changed until it does not occur in the
 * original. */
static void
dsn_boundary(const struct dsn_report *rep, char *buf, size_t size)
{
	size_t n = rep->content_len;

	for (unsigned int i = 0;; i++) {
		snprintf(buf, size, "%s.%lld%s%.0u/%s", rep->queue_id,
			 (long long)rep->now, i > 0 ? "." : "", i,
			 rep->myhostname);
		if (n == 0 || memmem(rep->content, n, buf, strlen(buf)) == NULL)
			return;
	}
}

static bool
dsn_token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		      *s == '_'))
			return false;
	}
	return true;
}

int
dsn_bounce_write(const struct dsn_report *rep, struct strbuf *out,
		 struct dsn_result *result_r, const char **error_r)
{
	struct dsn_result res;
	struct dsn_ctx c = {.rep = rep, .out = out, .utf8 = rep->smtputf8};
	char boundary[400], date[64];
	unsigned int listed;
	size_t hdr_ct_pos;
	int ret = 0;

	memset(&res, 0, sizeof(res));
	if (rep->rcpt_count == 0 || rep->rcpts == NULL) {
		*error_r = "dsn_bounce_write: no recipients";
		return -1;
	}
	if (rep->myhostname == NULL || !dsn_token_ok(rep->myhostname, 255) ||
	    rep->queue_id == NULL || !dsn_token_ok(rep->queue_id, 64)) {
		*error_r = "dsn_bounce_write: bad myhostname or queue ID";
		return -1;
	}
	if (empty(rep->notify_to) && empty(rep->sender)) {
		*error_r = "dsn_bounce_write: no one to notify (null sender)";
		return -1;
	}
	if (rep->content == NULL && rep->content_len > 0) {
		*error_r = "dsn_bounce_write: content missing";
		return -1;
	}
	listed =
	    rep->rcpt_count > DSN_MAX_RCPTS ? DSN_MAX_RCPTS : rep->rcpt_count;
	dsn_boundary(rep, boundary, sizeof(boundary));
	c.boundary = boundary;
	dsn_fmt_date(rep->now, date, sizeof(date));
	snprintf(res.message_id, sizeof(res.message_id), "%lld.%s.%c@%s",
		 (long long)rep->now, rep->queue_id, "FDSB"[rep->kind & 3],
		 rep -> myhostname);

	ret |= strbuf_printf(out, "Date: %s\r\n", date);
	ret |= strbuf_printf(
	    out, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n",
	    rep->myhostname);
	ret |= strbuf_printf(out, "Subject: %s\r\n", dsn_subject(rep->kind));
	ret |= dsn_put_field(&c, "To", "",
			     !empty(rep->notify_to) ? rep->notify_to
			     : rep->sender != NULL  ? rep->sender
						    : "");
	ret |= strbuf_append_str(out, "Auto-Submitted: auto-replied\r\n"
				      "MIME-Version: 1.0\r\n");
	ret |= strbuf_printf(out,
			     "Content-Type: multipart/report; "
			     "report-type=%sdelivery-status;\r\n"
			     "\tboundary=\"%s\"\r\n",
			     c.utf8 ? "global-" : "", boundary);
	hdr_ct_pos = out->len;
	ret |= strbuf_printf(out,
			     "Message-ID: <%s>\r\n\r\n"
			     "This is a MIME-encapsulated message.\r\n\r\n",
			     res.message_id);
	if (ret == 0)
		ret = dsn_text_part(&c, listed);
	if (ret == 0)
		ret = strbuf_append(out, "\r\n", 2);
	if (ret == 0)
		ret = dsn_status_part(&c, listed);
	if (ret == 0)
		ret = strbuf_append(out, "\r\n", 2);
	if (ret == 0 && (rep->content_len > 0 || rep->content_size > 0))
		ret = dsn_orig_part(&c, &res);
	if (ret == 0 && out->len >= 2 &&
	    memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		ret = strbuf_append(out, "\r\n", 2);
	if (ret == 0)
		ret = strbuf_printf(out, "\r\n--%s--\r\n", boundary);
	if (ret == 0) {
		/* Now known: whether the body needs 8BITMIME. */
		char cte[64];
		int n = snprintf(cte, sizeof(cte),
				 "Content-Transfer-Encoding: %s\r\n",
				 res.eight_bit ? "8bit" : "7bit");
		size_t tail = out->len - hdr_ct_pos;

		if (strbuf_append(out, cte, (size_t)n) < 0) {
			ret = -1;
		} else {
			memmove(out->data + hdr_ct_pos + n,
				out->data + hdr_ct_pos, tail);
			memcpy(out->data + hdr_ct_pos, cte, (size_t)n);
		}
	}
	if (ret != 0) {
		*error_r = "dsn_bounce_write: report exceeds the output limit";
		return -1;
	}
	if (result_r != NULL)
		*result_r = res;
	return 0;
}
