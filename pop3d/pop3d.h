/*
 * pop3d.h - the POP3 session (post-auth, as the mail user): one client on
 * its own thread (lib/login/session_host.h), in the TRANSACTION state of
 * RFC 1939 until QUIT (UPDATE) or the end of the connection. Shared by
 * pop3_session.c (I/O, the command loop, UPDATE, locks) and pop3_cmd.c
 * (the commands). Everything the client sends is untrusted; message files
 * are untrusted but only copied.
 */
#ifndef POP3D_H
#define POP3D_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "login/session_host.h"
#include "util/strbuf.h"

struct mailbox;
struct dotlock;

/* Input buffer: one command line (POP3_LINE_MAX) plus CRLF and room for
 * pipelined commands behind it. */
#define POP3D_INBUF_SIZE 4096
/* Output is flushed once this much is buffered (RETR streams through). */
#define POP3D_OUT_FLUSH 16384
/* Bad commands in a row before disconnecting (Dovecot's
 * CLIENT_MAX_BAD_COMMANDS). */
#define POP3D_MAX_BAD_COMMANDS 20

struct pop3_client {
	struct session *s;
	const char *user;

	/* input: s->pending first, then in_fd */
	char in[POP3D_INBUF_SIZE];
	size_t in_len;
	const char *pending;
	size_t pending_len;
	/* output, flushed before every blocking read */
	struct strbuf out;
	bool write_failed;
	uint64_t out_bytes;

	struct mailbox *box;
	char *box_dir;
	struct dotlock *session_lock; /* pop3_lock_session */
	int64_t lock_touched;	      /* CLOCK_MONOTONIC seconds */

	/* the maildrop as it was at login: message n is box->msgs[n - 1] */
	size_t count;
	uint64_t *sizes; /* virtual (CRLF) sizes */
	uint64_t total_size;
	bool *deleted;
	bool *seen; /* RETR'd and not yet \Seen: set at the end */
	size_t deleted_count;
	uint64_t deleted_size;
	size_t seen_count;
	char **uidls;	 /* computed on first UIDL, or NULL */
	bool *uidl_save; /* pop3_save_uidl: shown, not yet saved */

	/* statistics for the logout line (Dovecot's pop3_logout_format) */
	unsigned int top_count, retr_count;
	uint64_t top_bytes, retr_bytes;
	bool delete_success;

	unsigned long long commands;
	unsigned int bad_commands;
	bool quit;	    /* the session is over */
	const char *reason; /* why, for the log */
};

/* pop3_session.c */
void pop3_session_run(struct session *s);
/* Queues one reply line (CRLF appended). */
void pop3_reply(struct pop3_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Queues raw bytes; flushes when the buffer is large. -1 when the client
 * is gone. */
int pop3_out(struct pop3_client *c, const char *data, size_t len);
int pop3_flush(struct pop3_client *c);
/* QUIT: the UPDATE state. */
void pop3_update(struct pop3_client *c);

/* pop3_cmd.c: runs one parsed command line; 0 when it was good, -1 when
 * it counts as a bad command. */
int pop3_cmd_run(struct pop3_client *c, char *line, size_t len);
/* The UIDL of message index i (computed and cached). NULL on error (the
 * client got a reply). */
const char *pop3_cmd_uidl(struct pop3_client *c, size_t i);

#endif
