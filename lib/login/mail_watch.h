/*
 * mail_watch - one change watcher per session process for Maildir folders
 * (new/ and cur/), shared by every session that waits for changes (IMAP
 * IDLE).
 *
 * One inotify instance and one thread per process, not one per session:
 * fs.inotify.max_user_instances (128 per uid by default) would otherwise
 * cap the number of idle sessions of all processes of the mail uid. Each
 * folder is watched once however many sessions wait on it (refcounted);
 * each waiting session gets an eventfd of its own that becomes readable
 * when the folder changed, to put in its poll() set beside the client
 * socket. When inotify is unavailable or its watches run out
 * (fs.inotify.max_user_watches), the thread degrades to stat()ing the
 * folder's new/ and cur/ every MAIL_WATCH_POLL_MS and wakes the sessions
 * only when a directory's mtime moved: never a rescan per session.
 *
 * Paths come from the session (the selected folder, trusted as far as the
 * mail uid's own files are). Thread-safe; no globals outside this module.
 */
#ifndef MAIL_WATCH_H
#define MAIL_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* How often polled folders (no inotify watch) are stat()ed (ms). */
#define MAIL_WATCH_POLL_MS 2000

struct mail_watch;

/* Starts waiting for changes of the Maildir folder dir (its new/ and
 * cur/). Starts the watcher thread on first use. Returns NULL (and logs
 * why) only when the session's eventfd cannot be made or the thread
 * cannot start; the caller then has to look by itself. */
struct mail_watch *mail_watch_add(const char *dir);
/* Stops waiting; frees *wp, sets it to NULL. NULL is fine. */
void mail_watch_remove(struct mail_watch **wp);
/* The fd that becomes readable (POLLIN) after a change. */
int mail_watch_fd(const struct mail_watch *w);
/* Consumes the pending wake-up(s) of fd; call after it polled readable. */
void mail_watch_clear(struct mail_watch *w);
/* True when the folder is watched by stat() polling instead of inotify
 * (changes then show up within MAIL_WATCH_POLL_MS). */
bool mail_watch_polled(const struct mail_watch *w);

/* For tests: whether folders watched from now on may use inotify (false:
 * as if its watches were exhausted), and the stat() interval in ms (0:
 * MAIL_WATCH_POLL_MS). */
void mail_watch_configure(bool use_inotify, unsigned int poll_ms);

/* The pure part: what one stat() of a folder's new/ and cur/ saw. */
struct mail_watch_stamp {
	struct timespec mtime[2]; /* new/, cur/; {0,0} when missing */
	uint64_t ino[2];
};

/* Whether a folder must be treated as changed going from old to now
 * (stamps taken at old_taken and now): any mtime or inode differs, or an
 * mtime of old was within a second of old_taken, when a later change in
 * the same timestamp tick would not move it (Dovecot treats such
 * directories as dirty; so do we, and wake once more). */
bool mail_watch_stamp_changed(const struct mail_watch_stamp *old,
			      const struct timespec *old_taken,
			      const struct mail_watch_stamp *now);
/* Fills *st from dir/new and dir/cur. */
void mail_watch_stamp_read(const char *dir, struct mail_watch_stamp *st);

#endif
