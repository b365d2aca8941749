/*
 * queue_file - the on-disk queue file: writer (smtpd, sendmail path),
 * reader and status appender (qmgr), content access (delivery agents).
 *
 * Trust: the envelope and content came from the network; the file itself
 * is trusted only as far as its framing checks go: every length is
 * checked against the file size and explicit limits, and anything that
 * does not parse is reported as corrupt (qmgr then moves it to corrupt/).
 * This module never logs and never touches the event loop; every call
 * here may block on the disk, so daemons call them from a worker thread.
 *
 * Queue directory layout (under queue_directory; created by dovetail setup):
 *   incoming/  committed by smtpd, not yet seen by qmgr
 *   active/    owned by qmgr, being delivered
 *   deferred/  waiting for a retry; the file's mtime is the next attempt
 *   hold/      kept until an admin releases it
 *   corrupt/   files that failed to parse
 *   maildrop/  reserved for a pickup step
 * A file's name is its queue ID (queue_id.h). Temporary files being
 * written live in incoming/ with names starting with "." and are never
 * read by qmgr (which removes stale ones).
 *
 * FORMAT (version 1). A file is a sequence of records:
 *
 *     <type> <decimal length> ':' <length bytes of data> '\n'
 *
 * written without spaces: e.g. "S13:a@example.org\n". <type> is one ASCII
 * letter, the length has 1..10 digits and no leading zeros (except "0"),
 * and the data may contain any byte (NUL, CR, LF, ':' ...): the reader
 * never looks inside it for framing, so no byte in an address or reply
 * text can forge a record. Records, in order:
 *
 *   V  "DOVETAIL-QUEUE-1"                   (first record, exactly once)
 *   T  arrival time "<sec>.<usec>"          (once)
 *   A  attribute: <name> '=' <value>        (0..n; see enum queue_attr)
 *   S  envelope sender (may be empty: <>)   (once)
 *   R  recipient: a list of fields         (1..QUEUE_FILE_MAX_RCPTS)
 *   M  content length, 20 decimal digits    (once, after all R)
 *      followed directly by that many bytes of message content (RFC 5322,
 *      CRLF line ends, not dot-stuffed), then
 *   X  "" end of the committed message      (once)
 *   D  status record: a list of fields     (0..n, appended later by qmgr)
 *
 * A "list of fields" is a concatenation of netstrings "<len>:<bytes>,".
 *   R fields: address, orig_rcpt (as given in RCPT TO before alias
 *             expansion, or ""), orcpt (DSN ORCPT "type;xtext" or ""),
 *             notify (decimal QUEUE_NOTIFY_* mask).
 *   D fields: rcpt index (decimal, 0-based order of R records), state
 *             ("delivered", "bounced" or "deferred"), dsn ("2.0.0"),
 *             time of the attempt (decimal seconds), next attempt (decimal
 *             seconds, "0" unless deferred), relay ("lmtpd[private/...]"),
 *             text (the reply or reason, any bytes).
 * The last D record for a recipient wins. A file whose committed part
 * (up to and including X) is incomplete or malformed is corrupt. A torn
 * D record at the very end (a crash during an append) is not corruption:
 * the reader reports where the valid data ends (valid_size) and
 * queue_file_append_status() must be preceded by ftruncate() to it; the
 * status was not durable, so the delivery is retried (SMTP allows the
 * duplicate).
 */
#ifndef QUEUE_FILE_H
#define QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mail/queue_id.h"

#define QUEUE_FILE_VERSION "DOVETAIL-QUEUE-1"
/* Limits the reader enforces (the writer refuses to exceed them). */
#define QUEUE_FILE_MAX_RCPTS 100000
#define QUEUE_FILE_MAX_FIELD 4096     /* address, attribute value */
#define QUEUE_FILE_MAX_TEXT 8192      /* status reply text */
#define QUEUE_FILE_MAX_STATUS 1000000 /* D records in one file */

/* Queue subdirectories, relative to queue_directory. */
#define QUEUE_DIR_INCOMING "incoming"
#define QUEUE_DIR_ACTIVE "active"
#define QUEUE_DIR_DEFERRED "deferred"
#define QUEUE_DIR_HOLD "hold"
#define QUEUE_DIR_CORRUPT "corrupt"
#define QUEUE_DIR_MAILDROP "maildrop"

/* Envelope attributes kept from the SMTP session (A records). Values are
 * strings; the ones with a fixed vocabulary are listed. */
enum queue_attr {
	QUEUE_ATTR_CLIENT_NAME, /* "mail.example.org" or "unknown" */
	QUEUE_ATTR_CLIENT_ADDR, /* "192.0.2.1", "::1" */
	QUEUE_ATTR_HELO,	/* as given in HELO/EHLO/LHLO */
	QUEUE_ATTR_PROTOCOL,	/* "SMTP", "ESMTP", "ESMTPS", "ESMTPSA", ... */
	QUEUE_ATTR_SASL_USER,	/* authenticated user, if any */
	QUEUE_ATTR_TLS,		/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or absent */
	QUEUE_ATTR_ENVID,	/* DSN ENVID, decoded xtext */
	QUEUE_ATTR_RET,		/* DSN RET: "FULL" or "HDRS" */
	QUEUE_ATTR_BODY,	/* "7BIT", "8BITMIME" or "BINARYMIME" */
	QUEUE_ATTR_SMTPUTF8,	/* "1" when MAIL FROM had SMTPUTF8 */
	QUEUE_ATTR_COUNT
};

/* DSN NOTIFY (RFC 3461); 0 means the client gave none (the default:
 * FAILURE, and DELAY at the server's discretion). */
#define QUEUE_NOTIFY_NEVER 0x1
#define QUEUE_NOTIFY_SUCCESS 0x2
#define QUEUE_NOTIFY_FAILURE 0x4
#define QUEUE_NOTIFY_DELAY 0x8

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING = 0, /* no status yet */
	QUEUE_RCPT_DELIVERED,	/* done */
	QUEUE_RCPT_BOUNCED,	/* done (a bounce is owed to the sender) */
	QUEUE_RCPT_DEFERRED,	/* to be retried at next_attempt */
};

struct queue_rcpt {
	char *address;
	char *orig_rcpt;     /* "" when none */
	char *orcpt;	     /* "" when none */
	unsigned int notify; /* QUEUE_NOTIFY_* mask */
	/* From the last D record for this recipient (if any). */
	enum queue_rcpt_state state;
	unsigned int attempts; /* number of D records seen */
	char *dsn;	       /* "" when none */
	char *text;	       /* "" when none */
	char *relay;	       /* "" when none */
	time_t last_attempt;
	time_t next_attempt;
};

/* A parsed queue file (queue_file_open). All strings are NUL-terminated
 * copies owned by the struct; envelope strings never contain NUL (the
 * writer refuses them), reply texts may not either. */
struct queue_msg {
	char id[QUEUE_ID_MAX]; /* the file's base name if it is an ID */
	time_t arrival_sec;
	long arrival_usec;
	char *sender;		       /* "" for the null sender */
	char *attrs[QUEUE_ATTR_COUNT]; /* NULL when absent */
	struct queue_rcpt *rcpts;
	unsigned int rcpt_count;
	off_t content_offset; /* first byte of the message content */
	off_t content_size;
	off_t valid_size; /* end of the last complete record */
	bool torn_tail;	  /* bytes after valid_size: truncate first */
};

/* A status record to append (D record). */
struct queue_status {
	unsigned int rcpt_index;
	enum queue_rcpt_state state; /* DELIVERED, BOUNCED or DEFERRED */
	const char *dsn;	     /* "2.0.0"; NULL = "" */
	const char *relay;	     /* NULL = "" */
	const char *text;	     /* NULL = "" */
	time_t when;
	time_t next_attempt; /* 0 unless DEFERRED */
};

struct queue_writer;

/* --- Writer: smtpd and friends. -------------------------------------- */

/* Creates a temporary file in <queue_dir>/incoming/ (mode 0600); the V
 * and T records (arrival = now) are written with the envelope. The
 * writer keeps the envelope in memory
 * until the first queue_file_write_content() call writes it out; after
 * that, set_sender/add_rcpt/set_attr are errors. 0, or -1 and *error_r
 * (static or valid until the next call on this thread). */
int queue_file_create(const char *queue_dir, struct queue_writer **w_r,
		      const char **error_r);
/* Envelope. sender "" is the null sender. Strings longer than
 * QUEUE_FILE_MAX_FIELD or containing NUL are refused (-1). orig_rcpt and
 * orcpt may be NULL. */
int queue_file_set_sender(struct queue_writer *w, const char *sender,
			  const char **error_r);
int queue_file_add_rcpt(struct queue_writer *w, const char *address,
			const char *orig_rcpt, const char *orcpt,
			unsigned int notify, const char **error_r);
int queue_file_set_attr(struct queue_writer *w, enum queue_attr attr,
			const char *value, const char **error_r);
/* Appends len bytes of message content (CRLF lines, already
 * dot-unstuffed). May be called any number of times; data is buffered and
 * written as it comes, never held whole. The first call writes the
 * envelope (sender and at least one recipient must be set). */
int queue_file_write_content(struct queue_writer *w, const void *data,
			     size_t len, const char **error_r);
/* The ID the file will have once committed (known from creation, as
 * Postfix's: smtpd names it in the Received header). */
const char *queue_file_writer_id(const struct queue_writer *w);
/* Bytes of content written so far (for message_size_limit checks). */
uint64_t queue_file_content_size(const struct queue_writer *w);
/* Finishes the file (content length, X record), fsync()s it, renames it
 * to incoming/<ID>, fsync()s the directory, and frees the writer (also on
 * error; the temp file is then removed). On 0 the message is durable and
 * id_r (QUEUE_ID_MAX bytes) holds its ID. Blocks: call it in a worker. */
int queue_file_commit(struct queue_writer **wp, char id_r[QUEUE_ID_MAX],
		      const char **error_r);
/* Removes the temp file and frees the writer; *wp may be NULL. */
void queue_file_abort(struct queue_writer **wp);

/* --- Reader and status: qmgr and delivery agents. -------------------- */

/* Parses the file at path (opened read-only and closed again) into a new
 * *msg_r, applying the D records to the recipients. -1 with *error_r
 * ("queue_file_open: path: problem") when the file is missing (errno
 * ENOENT is kept), unreadable or corrupt. */
int queue_file_open(const char *path, struct queue_msg **msg_r,
		    const char **error_r);
/* As queue_file_open on an open descriptor (read with pread; the offset
 * is not used). */
int queue_file_read_fd(int fd, const char *name, struct queue_msg **msg_r,
		       const char **error_r);
void queue_msg_free(struct queue_msg **msgp);
/* Recipients in state PENDING or DEFERRED. */
unsigned int queue_msg_pending(const struct queue_msg *msg);

/* Appends one D record to fd (opened O_WRONLY|O_APPEND, or O_RDWR after
 * ftruncate to valid_size when torn_tail) with a single write() and
 * fsync()s it. The text is truncated to QUEUE_FILE_MAX_TEXT bytes. */
int queue_file_append_status(int fd, const struct queue_status *st,
			     const char **error_r);

/* Names for logs and the D record ("delivered", "bounced", "deferred",
 * "pending"). */
const char *queue_rcpt_state_name(enum queue_rcpt_state state);

#endif
