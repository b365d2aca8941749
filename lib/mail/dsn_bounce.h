/*
 * dsn_bounce - RFC 3464 delivery status notifications as Postfix writes
 * them: a multipart/report (report-type=delivery-status) with a
 * human-readable text/plain part worded like Postfix's bounce templates,
 * a message/delivery-status part (per-message and per-recipient fields)
 * and the original message (message/rfc822) or only its headers
 * (text/rfc822-headers). Variants: failure bounce, delay warning,
 * success notice, and the double bounce (postmaster copy).
 *
 * Pure: no I/O, no logging, no globals, no clock (the caller passes the
 * time). Every input may be hostile (addresses, reply texts, the original
 * message): header and field values are cleaned of control characters
 * (and of 8-bit bytes unless SMTPUTF8 was asked for), folded to short
 * lines; every output line ends in CRLF and is at most 998 bytes; the
 * output goes into a bounded strbuf supplied by the caller.
 */
#ifndef DSN_BOUNCE_H
#define DSN_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct strbuf;

/* Postfix's default bounce_size_limit. */
#define DSN_BOUNCE_SIZE_LIMIT_DEFAULT 50000
/* At most this many recipients are listed in one report; the rest are
 * counted in the text part ("... and N more"). */
#define DSN_MAX_RCPTS 1000

/* RFC 3464 Action values. */
enum dsn_action {
	DSN_ACTION_FAILED,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED,
	DSN_ACTION_RELAYED,
	DSN_ACTION_EXPANDED,
};

/* Which notification to write. */
enum dsn_kind {
	DSN_KIND_FAILURE,	/* "Undelivered Mail Returned to Sender" */
	DSN_KIND_DELAY,		/* "Delayed Mail (still being retried)" */
	DSN_KIND_SUCCESS,	/* "Successful Mail Delivery Report" */
	DSN_KIND_DOUBLE_BOUNCE, /* to postmaster: a bounce that bounced */
};

/* DSN RET of the original message. */
enum dsn_ret {
	DSN_RET_DEFAULT = 0, /* none given: as FULL (Postfix) */
	DSN_RET_FULL,
	DSN_RET_HDRS,
};

/* One recipient in the report. Strings may hold any bytes except NUL;
 * NULL or "" means absent. */
struct dsn_rcpt {
	const char *address;   /* final recipient */
	const char *orcpt;     /* DSN ORCPT as stored: "rfc822;xtext" */
	const char *orig_rcpt; /* before alias expansion (text part) */
	enum dsn_action action;
	const char *status;	 /* "5.1.1"; checked, else a class default */
	const char *remote_mta;	 /* host name of the remote MTA */
	const char *diagnostic;	 /* reply "550 5.1.1 ..." or a reason */
	time_t last_attempt;	 /* 0: not written */
	time_t will_retry_until; /* delayed only; 0: not written */
};

/* One report. */
struct dsn_report {
	enum dsn_kind kind;
	const char *myhostname; /* Reporting-MTA, From: MAILER-DAEMON@ */
	const char *queue_id;	/* of the original message */
	const char *sender;	/* original envelope sender (the To:) */
	const char *notify_to;	/* To: instead of sender (double bounce:
				 * "postmaster"); NULL = sender */
	const char *envid;	/* DSN ENVID (decoded); NULL = none */
	enum dsn_ret ret;
	time_t arrival;	     /* Arrival-Date */
	time_t now;	     /* Date:, Message-ID */
	bool smtputf8;	     /* message/global* types, UTF-8 headers */
	bool seven_bit_only; /* never include 8-bit content as 8bit:
			      * an 8-bit original is returned as
			      * headers only (quoted-printable) */
	/* Delay warnings: the text says "more than H hour(s)" and "until it
	 * is D day(s) old". */
	long delay_warning_hours;
	long lifetime_days;
	/* The original message: the first bytes of its content (CRLF lines),
	 * at least min(content_size, bounce_size_limit + 1) of them, and its
	 * whole size. More than bounce_size_limit bytes are never included. */
	const char *content;
	size_t content_len;
	uint64_t content_size;
	size_t bounce_size_limit; /* 0 = DSN_BOUNCE_SIZE_LIMIT_DEFAULT */
	const struct dsn_rcpt *rcpts;
	unsigned int rcpt_count;
};

/* What was written (for the caller's queue file and log). */
struct dsn_result {
	bool eight_bit;	      /* the bounce needs BODY=8BITMIME */
	bool full_message;    /* the whole original was included */
	char message_id[256]; /* without the angle brackets */
};

/*
 * Whether the sender wants a notification with this action for a
 * recipient with these QUEUE_NOTIFY_* flags (queue_file.h): never to the
 * null sender ""; never with NOTIFY=NEVER; failed: NOTIFY absent or
 * FAILURE; delayed: NOTIFY absent or DELAY (the caller still applies
 * delay_warning_time); delivered/relayed/expanded: only with SUCCESS.
 */
bool dsn_should_notify(const char *sender, unsigned int notify,
		       enum dsn_action action);

/*
 * Whether a failed delivery of mail from sender needs a double bounce to
 * the postmaster: the sender is the null sender (the failed message was
 * itself a notification). Mail from double_bounce_sender (the sender of
 * double bounces, NULL = "double-bounce") is never bounced at all: it is
 * discarded, as Postfix does.
 */
bool dsn_want_double_bounce(const char *sender,
			    const char *double_bounce_sender,
			    enum dsn_action action);

/*
 * Appends the whole notification (header and body, CRLF lines) to out.
 * The caller queues it with the null sender "" (failure, delay, success)
 * or with double_bounce_sender (double bounce) to the To: address. 0, or
 * -1 with *error_r (static) when the report is empty or out's maximum is
 * exceeded (out then holds a partial text: discard it). result_r may be
 * NULL.
 */
int dsn_bounce_write(const struct dsn_report *rep, struct strbuf *out,
		     struct dsn_result *result_r, const char **error_r);

/* "failed", "delayed", ... */
const char *dsn_action_name(enum dsn_action action);

#endif
