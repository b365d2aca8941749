/*
 * mailbox - the read side of one Maildir (INBOX or a .Folder) as Dovecot
 * keeps it, shared by pop3d and imapd: cur/ and new/ are scanned and
 * matched with dovecot-uidlist by base name (the part before ":2,");
 * files the uidlist does not know get the next UIDs, in delivery-time
 * order, under dovecot-uidlist.lock (Dovecot's dotlock), appended the way
 * Dovecot appends; existing UIDs and UIDVALIDITY are never changed. As a
 * Dovecot session does, files seen in new/ are moved to cur/ with ":2,"
 * appended. Flags are the letters after ":2," and change by rename();
 * expunge is unlink().
 *
 * File names and the uidlist are untrusted (anything with the mail uid
 * writes them): names that are not valid Maildir names are skipped, never
 * followed outside the directory. Blocking file I/O: worker threads only.
 * Errors go to *error_r (per-thread static, see maildir_set_error()).
 */
#ifndef MAILBOX_H
#define MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most messages one mailbox may hold (refused beyond). */
#define MAILBOX_MESSAGES_MAX 1000000u

struct mailbox_msg {
	uint32_t uid;
	char *filename;	   /* current name, in cur/ or (in_new) new/ */
	bool in_new;	   /* still in new/ (read-only open or rename failed) */
	bool has_size;	   /* size known (S= or stat) */
	uint64_t size;	   /* bytes on disk */
	uint64_t vsize;	   /* size with CRLF line ends; see mailbox_msg_vsize */
	bool has_vsize;	   /* vsize known (W=, uidlist W ext, or counted) */
	char *pop3_uidl;   /* the uidlist's saved POP3 UIDL ("P" field, as
			      Dovecot's pop3_save_uidl writes), or NULL */
};

struct mailbox_settings {
	bool readonly;		       /* never rename, never write uidlist */
	unsigned int lock_timeout_secs; /* waiting for dovecot-uidlist.lock;
					   0 means Dovecot's 120 */
};

struct mailbox {
	char *dir;
	struct mailbox_settings set;
	uint32_t uid_validity;
	uint32_t next_uid;
	struct mailbox_msg *msgs; /* ascending uid */
	size_t count;
};

/* Opens the Maildir at dir (cur/ new/ tmp/ must exist) and syncs it
 * (mailbox_sync). set may be NULL for defaults. A missing dovecot-uidlist
 * is created with UIDVALIDITY = now, as Dovecot does. */
int mailbox_open(const char *dir, const struct mailbox_settings *set,
		 struct mailbox **box_r, const char **error_r);
void mailbox_close(struct mailbox **boxp);

/* Longest flag letters after ":2," (52 letters). */
#define MAILBOX_LETTERS_MAX 52
/* Gives message i (of count, ascending uid) of a mailbox_open_known():
 * its UID and the letters after ":2," (NUL-ended, at most
 * MAILBOX_LETTERS_MAX). */
typedef void mailbox_known_fn(void *ctx, size_t i, uint32_t *uid_r,
			      char *letters_r);
/* Opens dir without listing cur/ and new/ (imapd's SELECT of an unchanged
 * folder): the caller knows, from an index written when the directories
 * had the mtimes they have now, that new/ is empty and cur/ holds
 * exactly count files, message i named "<its base in dovecot-uidlist>:2,
 * <letters>". Reads dovecot-uidlist only; never renames or writes. 1 with
 * *box_r; 0 when the uidlist disagrees (missing, another UIDVALIDITY or
 * next UID, a UID it does not know): the caller uses mailbox_open(); -1
 * with *error_r when the uidlist cannot be read. */
int mailbox_open_known(const char *dir, uint32_t uid_validity,
		       uint32_t next_uid, mailbox_known_fn *known, void *ctx,
		       size_t count, struct mailbox **box_r,
		       const char **error_r);

/* Rescans cur/ and new/ and rebuilds box->msgs: messages that vanished
 * are dropped, new ones get UIDs. UIDVALIDITY changing under us (the
 * uidlist was recreated) is an error: the caller must end the session. */
int mailbox_sync(struct mailbox *box, const char **error_r);

/* Index of the message with uid, or -1. */
long mailbox_find_uid(const struct mailbox *box, uint32_t uid);

/* Opens the message file read-only (O_NOFOLLOW). When the name changed
 * under us (another session set flags) the directories are searched for
 * the same base name. 0 and *fd_r; -1 with *error_r, *expunged_r true
 * when the file is gone (may be NULL). */
int mailbox_msg_open(struct mailbox *box, size_t idx, int *fd_r,
		     bool *expunged_r, const char **error_r);

/* Sets *size_r to the physical size (S= or fstat). */
int mailbox_msg_size(struct mailbox *box, size_t idx, uint64_t *size_r,
		     const char **error_r);
/* Sets *vsize_r to the size with CRLF line ends (what POP3 LIST and IMAP
 * RFC822.SIZE report, as Dovecot's mail_get_virtual_size): W= from the
 * name, else the uidlist's W field, else counted by reading the file. */
int mailbox_msg_vsize(struct mailbox *box, size_t idx, uint64_t *vsize_r,
		      const char **error_r);

/* The flag letters of the message ("" when none), pointing into its
 * file name. */
const char *mailbox_msg_flags(const struct mailbox_msg *msg);

/* Renames the file to base":2,"flags (flags: ASCII letters, stored sorted
 * and without duplicates; over 52 refused), moving it to cur/ if needed. */
int mailbox_msg_set_flags(struct mailbox *box, size_t idx, const char *flags,
			  const char **error_r);

/* Unlinks the message file. A file already gone counts as success. The
 * message stays in box->msgs until the next mailbox_sync. */
int mailbox_msg_expunge(struct mailbox *box, size_t idx,
			const char **error_r);

#endif
