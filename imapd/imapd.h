/*
 * imapd - the IMAP session service (post-auth, runs as the mail user; the
 * pre-auth part is imap-login). One struct imap_client per authenticated
 * client, served by blocking code on its own thread (lib/login/
 * session_host.h). This header is the contract between the modules:
 *
 *   client.c        the command loop: reading lines and literals through
 *                   mail/imap_parse.h, dispatch, states, output, timeouts,
 *                   ENABLE state; CAPABILITY NOOP LOGOUT ID ENABLE
 *                   NAMESPACE CHECK IDLE (login/mail_watch + view sync)
 *   view.c          the selected mailbox: SELECT EXAMINE CLOSE UNSELECT
 *                   EXPUNGE (UID EXPUNGE), STORE, CONDSTORE/QRESYNC, the
 *                   seq<->UID map, untagged EXISTS/EXPUNGE/VANISHED/FETCH
 *                   FLAGS on sync, the index/cache beside the Maildir
 *   cmd_fetch.c     FETCH, UID FETCH (all items, BINARY, partials)
 *   cmd_save.c      APPEND (MULTIAPPEND not offered), COPY, MOVE, UIDPLUS
 *   cmd_search.c    SEARCH, ESEARCH, SEARCHRES, SORT, THREAD (+ UID forms)
 *   cmd_list.c      LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE,
 *                   CHILDREN), LSUB; the folder commands' table
 *   cmd_mailbox.c   CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE
 *   cmd_status.c    STATUS, GETQUOTA, GETQUOTAROOT, SETQUOTA
 *   folders.c       mailbox names, imap_special_use, folders at login
 *   main.c          session_host_main() with imapd's spec
 *
 * Threads: every function here runs on the client's own thread, except
 * where said. Files shared between sessions (dovecot-uidlist, the index)
 * are guarded by file locks, never by in-process state alone.
 */
#ifndef IMAPD_H
#define IMAPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mail/imap_parse.h"
#include "mail/imap_seqset.h"
#include "util/strbuf.h"

struct session;
struct imap_view;
struct mail_folders;

enum imap_client_state {
	IMAP_STATE_AUTH,     /* authenticated, nothing selected */
	IMAP_STATE_SELECTED, /* c->view != NULL */
	IMAP_STATE_LOGOUT,
};

/* c->enabled (ENABLE, RFC 5161) */
#define IMAP_ENABLED_CONDSTORE 0x01 /* also set by any CONDSTORE use */
#define IMAP_ENABLED_QRESYNC 0x02
#define IMAP_ENABLED_IMAP4REV2 0x04
#define IMAP_ENABLED_UTF8 0x08 /* UTF8=ACCEPT */

struct imap_client {
	struct session *session;
	const char *user; /* session->user.name */
	enum imap_client_state state;
	unsigned int enabled;
	struct imap_parser *parser;
	struct strbuf out; /* queued output, see client_flush() */
	bool disconnect;   /* write failed or LOGOUT: end after this command */
	struct imap_view *view;	      /* selected mailbox, or NULL */
	struct mail_folders *folders; /* the user's mailbox tree */
	/* SEARCHRES: the saved result ("$"), as UIDs; valid is false after
	 * SELECT or when nothing was saved. */
	struct imap_seqset saved;
	bool saved_valid;
	/* The command being executed (for replies). */
	const char *tag;
	const char *cmd_name;
	bool uid_cmd; /* "UID FETCH" etc. */
	time_t last_input;
};

/*
 * Output. Lines are queued in c->out and written by client_flush()
 * (blocking, with imap_client_output_timeout); the loop flushes after each
 * command, long commands flush as they go (client_flush_if_big()). On a
 * write error c->disconnect is set and further output is dropped.
 */
void client_send_line(struct imap_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void client_send_raw(struct imap_client *c, const void *data, size_t len);
/* "<tag> <status> <text>\r\n" for the current command; status is "OK",
 * "NO" or "BAD"; text may start with a response code "[...]".
 * (client.c:) Unless status is BAD, this first runs imap_view_sync() once
 * per command when a mailbox is selected (IMAP_SYNC_FAST, plus
 * IMAP_SYNC_NO_EXPUNGE for IMAP_CMD_NO_EXPUNGE commands without UID), so
 * untagged updates precede the tagged reply (RFC 3501 7.4.1). Output
 * queued with client_send_*() may be written at any time (when 64 KiB are
 * queued, and before every wait for input). */
void client_send_tagged(struct imap_client *c, const char *status,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int client_flush(struct imap_client *c);
void client_flush_if_big(struct imap_client *c);

/* Flags for the write helpers (mail/imap_write.h): IMAP_WRITE_UTF8 when
 * the client enabled IMAP4rev2 or UTF8=ACCEPT. */
unsigned int client_write_flags(const struct imap_client *c);

/* Reads a literal's bytes for a command that streams it (APPEND): the
 * parser said LITERAL with must_stream or the command asked; sends "+ OK"
 * if the literal is synchronising. Calls fn for each chunk; returns 0, or
 * -1 when the client went away (c->disconnect set).
 * (client.c:) Every literal of an IMAP_CMD_STREAM_LITERAL command except
 * a first argument (APPEND's mailbox) is streamed: the handler runs with
 * it as IMAP_ARG_LITERAL_STREAM (the last argument) before its bytes are
 * read, and calls this at most once, with size = arg->literal_size; sync
 * is ignored (the loop knows how the literal was announced). The line
 * after the literal is read here too (only spaces may follow it). When fn
 * returns < 0, fn is not called again, the rest of the bytes are read and
 * dropped, and this returns -1 with c->disconnect false: answer NO. A
 * handler that answers without calling this (NO [TRYCREATE]) may: the
 * loop then skips a LITERAL+ literal's bytes, and a synchronising one
 * never comes since no "+ OK" was sent. */
int client_read_literal(struct imap_client *c, uint64_t size, bool sync,
			int (*fn)(void *ctx, const void *data, size_t len),
			void *ctx);

/*
 * Commands. A handler runs with c->tag/c->cmd_name set; it sends its own
 * untagged and tagged replies and returns nothing. args/count are the
 * arguments after the command name (after "UID <name>" for UID
 * commands). Bad arguments: client_send_tagged(c, "BAD", "...").
 */
typedef void imap_command_fn(struct imap_client *c,
			     const struct imap_arg *args, unsigned int count);

#define IMAP_CMD_AUTH 0x01     /* needs authenticated or selected state */
#define IMAP_CMD_SELECTED 0x02 /* needs selected state */
#define IMAP_CMD_UID 0x04      /* also exists as "UID <name>" */
/* Untagged EXPUNGE may not be sent while it runs (RFC 3501 7.4.1: FETCH,
 * STORE, SEARCH without UID); the sync after it sends none. */
#define IMAP_CMD_NO_EXPUNGE 0x08
/* The command streams a literal itself (APPEND): the loop calls
 * imap_parser_literal_streamed() for its last literal. */
#define IMAP_CMD_STREAM_LITERAL 0x10

struct imap_command_def {
	const char *name;
	imap_command_fn *fn;
	unsigned int flags;
};

/* Each module's commands, ended by a {NULL} entry. */
extern const struct imap_command_def imap_cmds_client[];
extern const struct imap_command_def imap_cmds_view[];
extern const struct imap_command_def imap_cmds_fetch[];
extern const struct imap_command_def imap_cmds_save[];
extern const struct imap_command_def imap_cmds_search[];
extern const struct imap_command_def imap_cmds_list[];

/* The capability list after login (without "CAPABILITY"). */
const char *client_capabilities(const struct imap_client *c);

/*
 * The selected mailbox (view.c). The view is what this client has been
 * told: messages by sequence number (seq = index + 1), their UIDs and the
 * flags last reported. imap_view_sync() brings it up to date with the
 * Maildir and the other sessions' changes and queues the untagged replies
 * (EXISTS, RECENT, EXPUNGE or VANISHED, FETCH (FLAGS ...) [MODSEQ]).
 */
#define IMAP_FLAG_SEEN 0x01
#define IMAP_FLAG_ANSWERED 0x02
#define IMAP_FLAG_FLAGGED 0x04
#define IMAP_FLAG_DELETED 0x08
#define IMAP_FLAG_DRAFT 0x10
#define IMAP_FLAG_RECENT 0x20 /* session flag, never stored */

#define IMAP_KEYWORDS_MAX 26 /* Maildir keyword letters a..z */

struct imap_msg {
	uint32_t uid;
	uint32_t flags;	   /* IMAP_FLAG_* */
	uint32_t keywords; /* bit i: view->keywords[i] */
	uint64_t modseq;
};

struct imap_view {
	char *name; /* UTF-8 mailbox name as selected ("INBOX", "a.b") */
	char *dir;  /* its Maildir directory */
	bool readonly;
	uint32_t uid_validity, uid_next;
	uint64_t highest_modseq;
	bool nomodseq; /* the mailbox keeps no modseqs (never, for us) */
	struct imap_msg *msgs;
	uint32_t count;
	/* keyword names in the mailbox's dovecot-keywords order; NULL where
	 * unused */
	char *keywords[IMAP_KEYWORDS_MAX];
	struct imap_view_private *priv;
};

/* Syncs with the disk and queues untagged replies. flags: */
#define IMAP_SYNC_NO_EXPUNGE 0x01 /* hold back expunges (see above) */
#define IMAP_SYNC_FAST 0x02	  /* skip the directory rescan unless the
				     Maildir's mtime changed */
int imap_view_sync(struct imap_client *c, unsigned int flags);

/* Resolves a sequence set (uid: a UID set) against the view into a set of
 * sequence numbers (UIDs that do not exist are dropped, as RFC 3501
 * says; "$" uses c->saved). -1 with a tagged BAD already sent. */
int imap_view_seqset(struct imap_client *c, const struct imap_arg *arg,
		     bool uid, struct imap_seqset *seqs_r);

/* The flags of message seq as an IMAP list "(\Seen $Label1)" appended. */
int imap_view_format_flags(const struct imap_view *v, uint32_t seq,
			   struct strbuf *sb);
/* "FLAGS (...)" / "PERMANENTFLAGS (...)" list of the mailbox. */
int imap_view_format_mailbox_flags(const struct imap_view *v,
				   bool permanent, struct strbuf *sb);

/* Sets flags/keywords on messages (STORE semantic): op '+' adds, '-'
 * removes, '=' replaces. Keywords by name (created in dovecot-keywords
 * when new, at most 26 per mailbox: then -1 with *error_r). unchanged-
 * since (CONDSTORE, 0 = none): messages whose modseq is greater are not
 * changed and are added to *failed_r (sequence numbers). Bumps modseqs.
 * Also used by FETCH to set \Seen. */
int imap_view_store(struct imap_client *c, const struct imap_seqset *seqs,
		    char op, uint32_t flags, const char *const *keywords,
		    unsigned int keyword_count, uint64_t unchangedsince,
		    struct imap_seqset *failed_r, const char **error_r);

/* Message content: the file mapped read-only. -1 with *expunged true when
 * the message went away meanwhile (NO [EXPUNGEISSUEDBY]-style handling is
 * the caller's: Dovecot answers "NO Some messages were also expunged"). */
struct imap_msg_file {
	const char *data;
	size_t size;
	void *map; /* private */
	size_t map_size;
};
int imap_view_msg_open(struct imap_client *c, uint32_t seq,
		       struct imap_msg_file *f, bool *expunged_r);
void imap_view_msg_close(struct imap_msg_file *f);

/* INTERNALDATE (the file's mtime, as Dovecot), RFC822.SIZE (size with
 * CRLF line ends). */
int imap_view_msg_date(struct imap_client *c, uint32_t seq, time_t *date_r);
int imap_view_msg_vsize(struct imap_client *c, uint32_t seq,
			uint64_t *vsize_r);

/* Cached per-message data, computed from the file on a miss and kept in
 * the index: the ENVELOPE list, BODYSTRUCTURE (extended) and BODY lists as
 * IMAP text, and the raw header block (for SEARCH/SORT/THREAD and
 * HEADER.FIELDS without reading the file). Appended to out. */
enum imap_cache_field {
	IMAP_CACHE_ENVELOPE,
	IMAP_CACHE_BODYSTRUCTURE,
	IMAP_CACHE_BODY,
	IMAP_CACHE_HEADER,
};
int imap_view_msg_cached(struct imap_client *c, uint32_t seq,
			 enum imap_cache_field field, struct strbuf *out);

/* Expunges messages: seqs NULL = every \Deleted message (EXPUNGE,
 * CLOSE), else those of seqs that are \Deleted (UID EXPUNGE), or with
 * any flags when force (MOVE). The untagged EXPUNGE/VANISHED replies are
 * queued by this call. */
int imap_view_expunge(struct imap_client *c, const struct imap_seqset *seqs,
		      bool force, const char **error_r);

/* QRESYNC: the UIDs (within uids, or all when NULL) expunged after
 * modseq, as far as the index remembers (else all UIDs of uids not
 * present now). */
int imap_view_vanished_since(struct imap_client *c, uint64_t modseq,
			     const struct imap_seqset *uids,
			     struct imap_seqset *vanished_r);

/* STATUS of any mailbox directory (the selected one too), through its
 * index. */
struct imap_status {
	uint32_t messages, recent, unseen, uid_next, uid_validity;
	uint64_t size; /* sum of RFC822.SIZE */
	uint64_t highest_modseq;
	uint32_t deleted;
};
int imap_mailbox_status(struct imap_client *c, const char *dir,
			struct imap_status *st_r, const char **error_r);

/* Keyword letters for a Maildir (dovecot-keywords, created/extended
 * under its lock when create; lib/mail/maildir_keywords.h). letters_r
 * gets one letter per name ('\0' where unknown and !create). */
int imap_keywords_letters(const char *dir, const char *const *names,
			  unsigned int count, bool create, char *letters_r,
			  const char **error_r);

/* Closes the view (no expunge); c->view becomes NULL. */
void imap_view_close(struct imap_client *c);
/* IDLE: an idling session keeps only what its client was told; the
 * Maildir listing and the index copy (most of a session's memory) are
 * dropped, and read again by imap_view_restore() before the next sync or
 * command. No-op without a view or with work queued for the index. */
void imap_view_release(struct imap_client *c);
/* 0, or -1 after telling the client (BYE when UIDVALIDITY changed meanwhile;
 * c->disconnect set). No-op unless released. */
int imap_view_restore(struct imap_client *c);

/*
 * Folders (cmd_list.c over mail/mail_folders.h): the Maildir++ tree of the
 * user (INBOX = the root, "a.b" = .a.b in modified UTF-7: the hierarchy
 * separator is ".", Dovecot's default for Maildir++), subscriptions,
 * SPECIAL-USE folders created on first login (imap_autocreate_*).
 */
/* The Maildir directory of mailbox name (UTF-8, "INBOX" any case);
 * NULL with *error_r when the name is invalid. Does not check that it
 * exists. Caller frees. */
char *imap_folder_dir(struct imap_client *c, const char *name,
		      const char **error_r);
/* Decodes a mailbox argument (modified UTF-7 unless UTF8 was enabled) to
 * UTF-8; NULL (BAD already sent) when invalid. Caller frees. */
char *imap_mailbox_arg(struct imap_client *c, const struct imap_arg *arg);
/* Creates the special-use folders (imap_autocreate) if missing; run once
 * at login. */
int imap_folders_init(struct imap_client *c, const char **error_r);
void imap_folders_deinit(struct imap_client *c);
/* True when the userdb quota_rule sets a message limit: CAPABILITY then
 * advertises QUOTA=RES-MESSAGE (RFC 9208 3), cmd_status.c. */
bool imap_quota_has_messages(const struct imap_client *c);

/* The session entry point (client.c). */
void imap_session_run(struct session *s);

#endif
