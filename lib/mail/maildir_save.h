/*
 * maildir_save - delivering one message into a Maildir the way Dovecot's
 * LDA/LMTP does: the message is written to tmp/<base> (base from
 * maildir_name: "<secs>.M<usecs>P<pid>.<host>"), fsync()ed, then linked
 * to new/<base>,S=<size>,W=<vsize> and the tmp/ name unlinked, then new/
 * is fsync()ed so a 250 reply means the mail survives a crash. Dovecot
 * itself rename()s tmp/ -> new/; link()+unlink() is what the Maildir spec
 * asks and additionally can never replace an existing file (EEXIST is an
 * error, not an overwrite). Readers never see a partial file in new/.
 *
 * CRLF line ends are stored as LF (Dovecot's default, mail_save_crlf =
 * no); S= is the stored size, W= the size with CRLF line ends (IMAP's
 * RFC822.SIZE). A bare CR is kept. Blocking I/O: worker threads only.
 * Message bytes are untrusted but only copied.
 */
#ifndef MAILDIR_SAVE_H
#define MAILDIR_SAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct maildir_save;

struct maildir_save_settings {
	const char *hostname; /* for the name; NULL: gethostname() */
	bool fsync;	      /* fsync file and new/ (default true) */
};

/* Opens a new file in dir/tmp/ (the Maildir must exist, see
 * maildir_create()). NULL and *error_r (per-thread static) on failure. */
struct maildir_save *maildir_save_begin(const char *dir,
					const struct maildir_save_settings *set,
					const char **error_r);
/* Appends message bytes. */
int maildir_save_write(struct maildir_save *ctx, const void *data, size_t len,
		       const char **error_r);
/* Finishes the file and moves it into new/. *filename_r (allocated, may
 * be NULL) gets its name in new/. The context is freed in all cases; on
 * error nothing is left in new/ or tmp/. */
int maildir_save_finish(struct maildir_save **ctxp, char **filename_r,
			const char **error_r);
/* Drops the message (unlinks tmp/ file) and frees the context. */
void maildir_save_abort(struct maildir_save **ctxp);

/* Sizes so far (stored size and CRLF size). */
uint64_t maildir_save_size(const struct maildir_save *ctx);
uint64_t maildir_save_vsize(const struct maildir_save *ctx);

#endif
