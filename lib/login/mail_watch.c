/*
 * mail_watch - the process's one change watcher for Maildir folders (see
 * mail_watch.h): one inotify fd, one thread, refcounted folders, an
 * eventfd per waiting session, stat() polling when inotify runs out.
 *
 * Trust: paths come from the sessions; inotify events come from the
 * kernel and only their watch descriptors are used. Every list is guarded
 * by one mutex; the thread holds it only while it looks up and wakes,
 * never while it sleeps.
 */
#include "login/mail_watch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xmem.h"

#define WATCH_MASK                                                             \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB |     \
	 IN_ONLYDIR)

static const char *const subdirs[2] = {"new", "cur"};

struct watch_dir {
	struct watch_dir *next;
	char *path;
	int wd[2];   /* new/, cur/; -1 when not (or no longer) watched */
	bool polled; /* at least one of them is not watched */
	struct mail_watch_stamp stamp;
	struct timespec stamp_taken;
	unsigned int refs;
	struct mail_watch *subs;
};

struct mail_watch {
	struct mail_watch *next; /* in dir->subs */
	struct watch_dir *dir;
	int efd;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static bool watch_started, watch_failed;
static bool watch_use_inotify = true;
static unsigned int watch_poll_ms = MAIL_WATCH_POLL_MS;
static int watch_ifd = -1;
static int watch_wake_fd = -1; /* eventfd: the thread's poll interval changed */
static unsigned int watch_polled_count;
static bool watch_warned_watches;
static struct watch_dir *watch_dirs;

void
mail_watch_configure(bool use_inotify, unsigned int poll_ms)
{
	pthread_mutex_lock(&watch_lock);
	watch_use_inotify = use_inotify;
	watch_poll_ms = poll_ms != 0 ? poll_ms : MAIL_WATCH_POLL_MS;
	pthread_mutex_unlock(&watch_lock);
}

/*
 * The pure part
 */

static bool
ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool
mail_watch_stamp_changed(const struct mail_watch_stamp *old,
			 const struct timespec *old_taken,
			 const struct mail_watch_stamp *now)
{
	for (int i = 0; i < 2; i++) {
		if (!ts_equal(&old->mtime[i], &now->mtime[i]) ||
		    old->ino[i] != now->ino[i])
			return true;
		if (old->mtime[i].tv_sec != 0 &&
		    old_taken->tv_sec <= old->mtime[i].tv_sec + 1)
			return true;
	}
	return false;
}

void
mail_watch_stamp_read(const char *dir, struct mail_watch_stamp *st)
{
	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", dir, subdirs[i]);
		struct stat sb;

		if (stat(path, &sb) == 0) {
			st->mtime[i] = sb.st_mtim;
			st->ino[i] = (uint64_t)sb.st_ino;
		} else {
			st->mtime[i] = (struct timespec){0, 0};
			st->ino[i] = 0;
		}
		xfree(&path);
	}
}

/*
 * The thread (watch_lock held in the helpers)
 */

static void
wake_dir(struct watch_dir *d)
{
	uint64_t one = 1;

	for (struct mail_watch *w = d->subs; w != NULL; w = w->next)
		/* EAGAIN: the counter is already huge, the session will
		   wake anyway */
		(void)!write(w->efd, &one, sizeof(one));
}

static void
stamp_dir(struct watch_dir *d)
{
	mail_watch_stamp_read(d->path, &d->stamp);
	clock_gettime(CLOCK_REALTIME, &d->stamp_taken);
}

static void
poll_dirs(void)
{
	for (struct watch_dir *d = watch_dirs; d != NULL; d = d->next) {
		struct mail_watch_stamp now;
		struct timespec taken = d->stamp_taken;

		if (!d->polled)
			continue;
		mail_watch_stamp_read(d->path, &now);
		if (mail_watch_stamp_changed(&d->stamp, &taken, &now))
			wake_dir(d);
		d->stamp = now;
		clock_gettime(CLOCK_REALTIME, &d->stamp_taken);
	}
}

static void
set_polled(struct watch_dir *d)
{
	uint64_t one = 1;

	if (!d->polled) {
		d->polled = true;
		stamp_dir(d);
		/* the thread may sleep without a timeout: tell it */
		if (watch_polled_count++ == 0)
			(void)!write(watch_wake_fd, &one, sizeof(one));
	}
}

static void
handle_events(const char *buf, size_t len)
{
	const char *p = buf;

	while (p + sizeof(struct inotify_event) <= buf + len) {
		const struct inotify_event *ev = (const void *)p;

		p += sizeof(*ev) + ev->len;
		if ((ev->mask & IN_Q_OVERFLOW) != 0) {
			for (struct watch_dir *d = watch_dirs; d != NULL;
			     d = d->next)
				wake_dir(d);
			continue;
		}
		for (struct watch_dir *d = watch_dirs; d != NULL; d = d->next) {
			for (int i = 0; i < 2; i++) {
				if (d->wd[i] != ev->wd)
					continue;
				if ((ev->mask & IN_IGNORED) != 0) {
					/* directory gone or replaced:
					   keep an eye on it by stat() */
					d->wd[i] = -1;
					set_polled(d);
				}
				wake_dir(d);
			}
		}
	}
}

static void *
watch_thread(void *arg)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	struct timespec last = {0, 0};

	(void)arg;
	for (;;) {
		/* watch_ifd < 0 (no inotify): poll() ignores the entry */
		struct pollfd pfd[2] = {
		    {.fd = watch_ifd, .events = POLLIN},
		    {.fd = watch_wake_fd, .events = POLLIN}};
		int timeout;
		uint64_t n64;

		pthread_mutex_lock(&watch_lock);
		/* without polled folders, only inotify can wake us */
		timeout = watch_polled_count > 0 ? (int)watch_poll_ms : -1;
		pthread_mutex_unlock(&watch_lock);
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			log_error("mail_watch: poll: %s", strerror(errno));
			sleep(1);
		}
		if ((pfd[1].revents & POLLIN) != 0)
			(void)!read(watch_wake_fd, &n64, sizeof(n64));
		pthread_mutex_lock(&watch_lock);
		if (watch_ifd >= 0 && (pfd[0].revents & POLLIN) != 0) {
			ssize_t n;

			while ((n = read(watch_ifd, buf, sizeof(buf))) > 0)
				handle_events(buf, (size_t)n);
		}
		/* polled folders are looked at at most every watch_poll_ms
		   (inotify events may wake us sooner: cheap either way) */
		if (watch_polled_count > 0) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((now.tv_sec - last.tv_sec) * 1000 +
				(now.tv_nsec - last.tv_nsec) / 1000000 >=
			    (long)watch_poll_ms) {
				poll_dirs();
				last = now;
			}
		}
		pthread_mutex_unlock(&watch_lock);
	}
	return NULL;
}

/* Starts the thread once (watch_lock held). */
static bool
watch_start(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	int err;

	if (watch_started || watch_failed)
		return watch_started;
	watch_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (watch_wake_fd < 0) {
		log_error("mail_watch: eventfd: %s", strerror(errno));
		return false;
	}
	if (watch_use_inotify) {
		watch_ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (watch_ifd < 0)
			log_warning("mail_watch: inotify_init1: %s (folders "
				    "are checked by stat() every %u ms)",
				    strerror(errno), watch_poll_ms);
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&tid, &attr, watch_thread, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		log_error("mail_watch: pthread_create: %s", strerror(err));
		if (watch_ifd >= 0)
			close(watch_ifd);
		close(watch_wake_fd);
		watch_ifd = watch_wake_fd = -1;
		watch_failed = true;
		return false;
	}
	watch_started = true;
	return true;
}

/*
 * Registration
 */

static bool
wd_used_elsewhere(const struct watch_dir *self, int wd)
{
	for (const struct watch_dir *d = watch_dirs; d != NULL; d = d->next)
		if (d != self && (d->wd[0] == wd || d->wd[1] == wd))
			return true;
	return false;
}

static struct watch_dir *
dir_ref(const char *path)
{
	struct watch_dir *d;

	for (d = watch_dirs; d != NULL; d = d->next)
		if (strcmp(d->path, path) == 0) {
			d->refs++;
			return d;
		}
	d = xcalloc(1, sizeof(*d));
	d->path = xstrdup(path);
	d->refs = 1;
	for (int i = 0; i < 2; i++) {
		char *sub = xasprintf("%s/%s", path, subdirs[i]);

		d->wd[i] = watch_ifd < 0 || !watch_use_inotify
			       ? -1
			       : inotify_add_watch(watch_ifd, sub, WATCH_MASK);
		if (d->wd[i] < 0 && watch_ifd >= 0 && watch_use_inotify &&
		    (errno != ENOSPC || !watch_warned_watches)) {
			log_warning("mail_watch: inotify_add_watch %s: %s "
				    "(checked by stat() every %u ms%s)",
				    sub, strerror(errno), watch_poll_ms,
				    errno == ENOSPC
					? "; raise fs.inotify.max_user_watches"
					: "");
			if (errno == ENOSPC)
				watch_warned_watches = true;
		}
		xfree(&sub);
	}
	d->next = watch_dirs;
	watch_dirs = d;
	if (d->wd[0] < 0 || d->wd[1] < 0)
		set_polled(d);
	return d;
}

static void
dir_unref(struct watch_dir *d)
{
	struct watch_dir **pp;

	if (--d->refs > 0)
		return;
	for (pp = &watch_dirs; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	for (int i = 0; i < 2; i++)
		if (d->wd[i] >= 0 && !wd_used_elsewhere(d, d->wd[i]))
			(void)inotify_rm_watch(watch_ifd, d->wd[i]);
	if (d->polled)
		watch_polled_count--;
	xfree(&d->path);
	xfree(&d);
}

struct mail_watch *
mail_watch_add(const char *dir)
{
	struct mail_watch *w;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (efd < 0) {
		log_warning("mail_watch: eventfd: %s", strerror(errno));
		return NULL;
	}
	pthread_mutex_lock(&watch_lock);
	if (!watch_start()) {
		pthread_mutex_unlock(&watch_lock);
		close(efd);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->efd = efd;
	w->dir = dir_ref(dir);
	w->next = w->dir->subs;
	w->dir->subs = w;
	pthread_mutex_unlock(&watch_lock);
	return w;
}

void
mail_watch_remove(struct mail_watch **wp)
{
	struct mail_watch *w = *wp, **pp;

	if (w == NULL)
		return;
	*wp = NULL;
	pthread_mutex_lock(&watch_lock);
	for (pp = &w->dir->subs; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	dir_unref(w->dir);
	pthread_mutex_unlock(&watch_lock);
	close(w->efd);
	xfree(&w);
}

int
mail_watch_fd(const struct mail_watch *w)
{
	return w->efd;
}

void
mail_watch_clear(struct mail_watch *w)
{
	uint64_t n;

	(void)!read(w->efd, &n, sizeof(n));
}

bool
mail_watch_polled(const struct mail_watch *w)
{
	bool polled;

	pthread_mutex_lock(&watch_lock);
	polled = w->dir->polled;
	pthread_mutex_unlock(&watch_lock);
	return polled;
}
