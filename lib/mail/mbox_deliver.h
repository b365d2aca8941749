/*
 * mbox_deliver - appending one message to a Unix mbox such as
 * /var/mail/USER, locked the way Debian's mail programs expect: first the
 * dot-lock USER.lock (liblockfile: created O_EXCL, holds our pid, stale
 * after 5 minutes; needs write access to the spool directory, which
 * Debian gives to group mail, mode 2775), then an fcntl() write lock on
 * the mailbox itself. The message gets a "From <sender> <asctime date>"
 * line, body lines starting with "From " are quoted as ">From " (mboxo,
 * as Postfix's local(8) and procmail write), CRLF becomes LF, and a blank
 * line ends it. On any error the mailbox is truncated back to its old
 * size, so a failed delivery leaves no partial message.
 *
 * Blocking (waits for locks, fsyncs): worker threads only. Message bytes
 * are untrusted and only copied; the path and sender are trusted.
 */
#ifndef MBOX_DELIVER_H
#define MBOX_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct mbox_deliver;

struct mbox_deliver_settings {
	unsigned int lock_timeout_secs; /* 0: 30 s */
	/* When the mailbox does not exist it is created mode 0600 and, unless
	 * uid is (uid_t)-1, given to uid:gid; when that chown is not allowed
	 * the delivery fails (a mailbox the user cannot read is no use). */
	uid_t uid;
	gid_t gid;
};

/* Locks path, opens it for appending and writes the From_ line for
 * sender ("" or NULL: MAILER-DAEMON) and arrival time now. NULL and
 * *error_r (per-thread static) on failure; a lock time-out says so. */
struct mbox_deliver *mbox_deliver_begin(const char *path, const char *sender,
					time_t now,
					const struct mbox_deliver_settings *set,
					const char **error_r);
int mbox_deliver_write(struct mbox_deliver *ctx, const void *data, size_t len,
		       const char **error_r);
/* Ends the message (newline if missing, blank line), fsyncs, unlocks and
 * frees the context; on error the mailbox is truncated back. */
int mbox_deliver_finish(struct mbox_deliver **ctxp, const char **error_r);
/* Truncates back, unlocks, frees. */
void mbox_deliver_abort(struct mbox_deliver **ctxp);

/* The quoting and line-end conversion, pure (exposed for tests): feed
 * chunks with mbox_quote_chunk(), then mbox_quote_end(); the output is
 * appended to out. Start from a zeroed struct. */
struct strbuf;
struct mbox_quote {
	unsigned int matched; /* bytes of "From " seen at a line start */
	int mid_line;	      /* not at the start of a line */
	int pending_cr;	      /* a CR waits to see if LF follows */
	int written;	      /* something was written */
	char last;	      /* last byte written */
};
int mbox_quote_chunk(struct mbox_quote *q, const char *data, size_t len,
		     struct strbuf *out);
/* Flushes what is held back and ends the message with a newline if missing,
 * then the blank separator line. */
int mbox_quote_end(struct mbox_quote *q, struct strbuf *out);

#endif
