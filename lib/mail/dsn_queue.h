/*
 * dsn_queue - turns the status of a queued message into a delivery status
 * notification and queues it: picks the recipients that are owed a
 * notice (queue_file states + DSN NOTIFY), reads the start of the
 * original content, writes the report with dsn_bounce and commits it as a
 * new queue file in incoming/ (null sender to the original sender, or a
 * double bounce from double_bounce_sender to the postmaster). For qmgr.
 * The queue file is trusted as far as queue_file checks it; blocks on the
 * disk (call it from a worker thread); never logs.
 */
#ifndef DSN_QUEUE_H
#define DSN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "mail/dsn_bounce.h"
#include "mail/queue_file.h"

/* The addresses are used as given: pass them qualified as Postfix's
 * rewriting would ("double-bounce@$myorigin", "postmaster@$mydomain"),
 * since the notification may leave the host. */
struct dsn_queue_params {
	const char *myhostname;
	const char *double_bounce_sender; /* NULL = "double-bounce" */
	const char *postmaster;		  /* double bounces go here; NULL =
					   * "postmaster" */
	size_t bounce_size_limit;	  /* 0 = 50000 */
	long delay_warning_hours;	  /* for the delay warning text */
	long lifetime_days;		  /* maximal_queue_lifetime in days */
	time_t now;
};

/*
 * Queues the notification of kind (FAILURE, DELAY or SUCCESS) for msg,
 * whose queue file is open on fd (content read with pread). Recipients:
 * those in state BOUNCED (failure), DEFERRED (delay) or DELIVERED with
 * NOTIFY=SUCCESS (success), and only where select is NULL or
 * select[i] is true (select has msg->rcpt_count entries), and where
 * dsn_should_notify() agrees. A failure of mail from the null sender
 * becomes a double bounce to the postmaster (all selected bounced
 * recipients, NOTIFY ignored); mail from double_bounce_sender is never
 * notified. Returns 1 with the new queue ID in id_r, 0 when no
 * notification is owed (nothing queued), -1 with *error_r.
 */
int dsn_queue_notify(const char *queue_dir, const struct queue_msg *msg, int fd,
		     enum dsn_kind kind, const bool *select,
		     const struct dsn_queue_params *params,
		     char id_r[QUEUE_ID_MAX], const char **error_r);

#endif
