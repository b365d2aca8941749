/*
 * dotlock - "<file>.lock" lock files, the way Dovecot locks
 * dovecot-uidlist (dotlock_use_excl = yes: O_CREAT|O_EXCL) and the way
 * Debian's liblockfile locks /var/mail/USER (USER.lock holding the
 * locker's pid). A lock whose mtime is older than stale_secs is taken to
 * be left over from a crash and removed, as both do. Blocking (sleeps
 * while waiting): call from a worker thread, never on the event loop.
 */
#ifndef DOTLOCK_H
#define DOTLOCK_H

#include <stdbool.h>

struct dotlock;

struct dotlock_settings {
	unsigned int timeout_secs; /* give up waiting after this long */
	unsigned int stale_secs;   /* 0: never treat a lock as stale */
	bool write_pid;		   /* write "<pid>\n" (liblockfile style) */
};

/* Creates "<path>.lock" (mode 0600, or 0660 for write_pid locks, as the
 * mail spool is group-shared). 1 with *lock_r when locked, 0 when the
 * lock stayed busy for timeout_secs (*error_r says so), -1 on another
 * error. */
int dotlock_create(const char *path, const struct dotlock_settings *set,
		   struct dotlock **lock_r, const char **error_r);

/* The open lock file (for writing the replacement content). */
int dotlock_fd(const struct dotlock *lock);

/* fsync()s the lock file and renames it over path, which makes its
 * content the new file and releases the lock in one step (Dovecot's
 * file_dotlock_replace()). The lock is freed in all cases. */
int dotlock_replace(struct dotlock **lockp, const char **error_r);

/* Removes the lock file if it is still ours (same inode) and frees the
 * lock. -1 (and the lock freed) if it had been replaced or removed by
 * someone else: our critical section was not protected. */
int dotlock_delete(struct dotlock **lockp, const char **error_r);

#endif
