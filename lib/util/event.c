/*
 * event - the epoll event loop. Trusts its callers (all in-process code);
 * reads nothing from the network itself. Watchers and timers deleted while
 * a dispatch pass is running are only marked dead and freed after the pass,
 * so no callback ever runs on freed memory. It must not block anywhere but
 * in epoll_wait().
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "util/event.h"
#include "util/log.h"
#include "util/xmem.h"

#define EVENT_BATCH 256

struct event_io {
	struct event_loop *loop;
	struct event_io *prev, *next; /* live list, or dead list */
	int fd;
	unsigned int events;
	bool registered; /* in the epoll set */
	bool dead;
	event_io_cb *cb;
	void *ctx;
};

struct event_timer {
	struct event_loop *loop;
	struct event_timer *prev, *next; /* every timer of the loop */
	uint64_t when;
	uint64_t seq; /* timers added during a pass wait for the next one */
	unsigned int msecs;
	size_t heap_idx; /* TIMER_NOT_QUEUED when inactive */
	bool repeat;
	bool dead;
	bool rearmed; /* reset from inside its own callback */
	event_timer_cb *cb;
	void *ctx;
};

#define TIMER_NOT_QUEUED ((size_t)-1)

struct event_defer {
	struct event_defer *next;
	event_defer_cb *cb;
	void *ctx;
};

struct event_loop {
	int epfd;
	uint64_t now;
	bool stop;

	struct event_io *ios;
	struct event_io *dead_ios;

	struct event_timer *timers;
	struct event_timer **heap;
	size_t heap_count, heap_size;
	uint64_t timer_seq;
	struct event_timer *running_timer;

	struct event_defer *defer_head, *defer_tail;

	int sigfd;
	sigset_t sigmask;
	struct event_io *sig_io;
	event_signal_cb *sig_cb[NSIG];
	void *sig_ctx[NSIG];

	int wakefd;
	struct event_io *wake_io;
	event_defer_cb *wake_cb;
	void *wake_ctx;
};

static uint64_t
event_clock_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("event: clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- timer heap ---- */

static bool
timer_before(const struct event_timer *a, const struct event_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
heap_swap(struct event_loop *loop, size_t i, size_t j)
{
	struct event_timer *t = loop->heap[i];

	loop->heap[i] = loop->heap[j];
	loop->heap[j] = t;
	loop->heap[i]->heap_idx = i;
	loop->heap[j]->heap_idx = j;
}

static void
heap_up(struct event_loop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(loop->heap[i], loop->heap[parent]))
			break;
		heap_swap(loop, i, parent);
		i = parent;
	}
}

static void
heap_down(struct event_loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < loop->heap_count &&
		    timer_before(loop->heap[l], loop->heap[min]))
			min = l;
		if (r < loop->heap_count &&
		    timer_before(loop->heap[r], loop->heap[min]))
			min = r;
		if (min == i)
			break;
		heap_swap(loop, i, min);
		i = min;
	}
}

static void
heap_insert(struct event_loop *loop, struct event_timer *t)
{
	if (loop->heap_count == loop->heap_size) {
		loop->heap_size =
		    loop->heap_size == 0 ? 16 : loop->heap_size * 2;
		loop->heap = xreallocarray(loop->heap, loop->heap_size,
					   sizeof(*loop->heap));
	}
	t->seq = ++loop->timer_seq;
	t->heap_idx = loop->heap_count;
	loop->heap[loop->heap_count++] = t;
	heap_up(loop, t->heap_idx);
}

static void
heap_remove(struct event_loop *loop, struct event_timer *t)
{
	size_t i = t->heap_idx;

	if (i == TIMER_NOT_QUEUED)
		return;
	t->heap_idx = TIMER_NOT_QUEUED;
	loop->heap_count--;
	if (i == loop->heap_count)
		return;
	loop->heap[i] = loop->heap[loop->heap_count];
	loop->heap[i]->heap_idx = i;
	heap_up(loop, i);
	heap_down(loop, loop->heap[i]->heap_idx);
}

/* ---- internal watchers: signals and wake-ups ---- */

static void
event_signal_read(void *ctx, int fd, unsigned int events)
{
	struct event_loop *loop = ctx;
	struct signalfd_siginfo si;

	(void)events;
	for (;;) {
		ssize_t n = read(fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si))
			break;
		if (si.ssi_signo < NSIG && loop->sig_cb[si.ssi_signo] != NULL)
			loop->sig_cb[si.ssi_signo](loop->sig_ctx[si.ssi_signo],
						   (int)si.ssi_signo);
	}
}

static void
event_wake_read(void *ctx, int fd, unsigned int events)
{
	struct event_loop *loop = ctx;
	uint64_t count;

	(void)events;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_error("event: read(eventfd): %s", strerror(errno));
	if (loop->wake_cb != NULL)
		loop->wake_cb(loop->wake_ctx);
}

/* ---- loop ---- */

struct event_loop *
event_loop_new(void)
{
	struct event_loop *loop = xcalloc(1, sizeof(*loop));

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		log_fatal("event: epoll_create1: %s", strerror(errno));
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wakefd < 0)
		log_fatal("event: eventfd: %s", strerror(errno));
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	loop->now = event_clock_ms();
	loop->wake_io =
	    event_io_add(loop, loop->wakefd, EVENT_READ, event_wake_read, loop);
	return loop;
}

static void
event_io_free_list(struct event_io *io)
{
	while (io != NULL) {
		struct event_io *next = io->next;

		free(io);
		io = next;
	}
}

void
event_loop_free(struct event_loop **loopp)
{
	struct event_loop *loop = *loopp;
	struct event_defer *d;
	int signo;

	if (loop == NULL)
		return;
	*loopp = NULL;
	for (signo = 1; signo < NSIG; signo++) {
		if (loop->sig_cb[signo] != NULL)
			event_signal_del(loop, signo);
	}
	event_io_free_list(loop->ios);
	event_io_free_list(loop->dead_ios);
	while (loop->timers != NULL) {
		struct event_timer *next = loop->timers->next;

		free(loop->timers);
		loop->timers = next;
	}
	while ((d = loop->defer_head) != NULL) {
		loop->defer_head = d->next;
		free(d);
	}
	free(loop->heap);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->wakefd);
	close(loop->epfd);
	free(loop);
}

void
event_loop_stop(struct event_loop *loop)
{
	loop->stop = true;
}

void
event_loop_run(struct event_loop *loop)
{
	loop->stop = false;
	while (!loop->stop)
		event_loop_run_once(loop, -1);
}

uint64_t
event_loop_now_ms(struct event_loop *loop)
{
	return loop->now;
}

static void
event_run_defers(struct event_loop *loop)
{
	struct event_defer *d = loop->defer_head;

	/* Calls deferred from these callbacks wait for the next iteration. */
	loop->defer_head = loop->defer_tail = NULL;
	while (d != NULL) {
		struct event_defer *next = d->next;

		d->cb(d->ctx);
		free(d);
		d = next;
	}
}

static void
event_run_timers(struct event_loop *loop)
{
	uint64_t pass_seq = loop->timer_seq;

	while (loop->heap_count > 0) {
		struct event_timer *t = loop->heap[0];

		if (t->when > loop->now || t->seq > pass_seq)
			break;
		heap_remove(loop, t);
		t->rearmed = false;
		loop->running_timer = t;
		t->cb(t->ctx);
		loop->running_timer = NULL;
		if (t->dead) {
			free(t);
		} else if (t->rearmed) {
			heap_insert(loop, t);
		} else if (t->repeat) {
			t->when = loop->now + t->msecs;
			heap_insert(loop, t);
		}
	}
}

static void
event_dispatch_io(const struct epoll_event *ev)
{
	struct event_io *io = ev->data.ptr;
	unsigned int events = 0;

	if (io->dead || io->events == 0)
		return;
	if ((ev->events & EPOLLIN) != 0)
		events |= EVENT_READ;
	if ((ev->events & EPOLLOUT) != 0)
		events |= EVENT_WRITE;
	events &= io->events;
	if ((ev->events & (EPOLLERR | EPOLLHUP)) != 0)
		events |= EVENT_ERROR;
	if (events != 0)
		io->cb(io->ctx, io->fd, events);
}

void
event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event evs[EVENT_BATCH];
	int n, i;

	loop->now = event_clock_ms();
	event_run_defers(loop);

	/* A deferred call may have stopped the loop: do not sleep first. */
	if (loop->defer_head != NULL || loop->stop)
		timeout_ms = 0;
	if (loop->heap_count > 0 && timeout_ms != 0) {
		uint64_t when = loop->heap[0]->when;
		uint64_t wait = when > loop->now ? when - loop->now : 0;

		if (wait > 86400000)
			wait = 86400000;
		if (timeout_ms < 0 || wait < (uint64_t)timeout_ms)
			timeout_ms = (int)wait;
	}

	n = epoll_wait(loop->epfd, evs, EVENT_BATCH, timeout_ms);
	if (n < 0 && errno != EINTR)
		log_fatal("event: epoll_wait: %s", strerror(errno));
	loop->now = event_clock_ms();
	for (i = 0; i < n; i++)
		event_dispatch_io(&evs[i]);
	event_run_timers(loop);

	event_io_free_list(loop->dead_ios);
	loop->dead_ios = NULL;
}

/* ---- I/O watchers ---- */

static void
event_io_update(struct event_io *io)
{
	struct epoll_event ev;
	int op;

	memset(&ev, 0, sizeof(ev));
	ev.data.ptr = io;
	if ((io->events & EVENT_READ) != 0)
		ev.events |= EPOLLIN;
	if ((io->events & EVENT_WRITE) != 0)
		ev.events |= EPOLLOUT;
	/* A watcher asking for nothing leaves the epoll set, otherwise a
	 * hang-up would be reported to it over and over. */
	if (io->events == 0) {
		if (!io->registered)
			return;
		op = EPOLL_CTL_DEL;
	} else {
		op = io->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	}
	if (epoll_ctl(io->loop->epfd, op, io->fd, &ev) < 0 &&
	    /* Closing an fd removes it from the set by itself. */
	    !(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)))
		log_panic("event: epoll_ctl(fd=%d): %s", io->fd,
			  strerror(errno));
	io->registered = io->events != 0;
}

struct event_io *
event_io_add(struct event_loop *loop, int fd, unsigned int events,
	     event_io_cb *cb, void *ctx)
{
	struct event_io *io = xcalloc(1, sizeof(*io));

	io->loop = loop;
	io->fd = fd;
	io->events = events & (EVENT_READ | EVENT_WRITE);
	io->cb = cb;
	io->ctx = ctx;
	event_io_update(io);
	io->next = loop->ios;
	if (loop->ios != NULL)
		loop->ios->prev = io;
	loop->ios = io;
	return io;
}

void
event_io_set(struct event_io *io, unsigned int events)
{
	events &= EVENT_READ | EVENT_WRITE;
	if (io->dead || events == io->events)
		return;
	io->events = events;
	event_io_update(io);
}

unsigned int
event_io_get(const struct event_io *io)
{
	return io->events;
}

void
event_io_del(struct event_io **iop)
{
	struct event_io *io = *iop;
	struct event_loop *loop;

	if (io == NULL)
		return;
	*iop = NULL;
	loop = io->loop;
	io->events = 0;
	event_io_update(io);
	io->dead = true;
	if (io->prev != NULL)
		io->prev->next = io->next;
	else
		loop->ios = io->next;
	if (io->next != NULL)
		io->next->prev = io->prev;
	/* Later events of this epoll batch may still point here. */
	io->prev = NULL;
	io->next = loop->dead_ios;
	loop->dead_ios = io;
}

/* ---- timers ---- */

struct event_timer *
event_timer_add(struct event_loop *loop, unsigned int msecs, bool repeat,
		event_timer_cb *cb, void *ctx)
{
	struct event_timer *t = xcalloc(1, sizeof(*t));

	t->loop = loop;
	/* A zero-interval repeating timer would never let the loop wait. */
	t->msecs = repeat && msecs == 0 ? 1 : msecs;
	t->repeat = repeat;
	t->cb = cb;
	t->ctx = ctx;
	t->when = event_clock_ms() + t->msecs;
	t->heap_idx = TIMER_NOT_QUEUED;
	heap_insert(loop, t);
	t->next = loop->timers;
	if (loop->timers != NULL)
		loop->timers->prev = t;
	loop->timers = t;
	return t;
}

void
event_timer_reset(struct event_timer *t)
{
	struct event_loop *loop = t->loop;

	if (t->dead)
		return;
	heap_remove(loop, t);
	t->when = event_clock_ms() + t->msecs;
	if (loop->running_timer == t)
		t->rearmed = true;
	else
		heap_insert(loop, t);
}

void
event_timer_del(struct event_timer **timerp)
{
	struct event_timer *t = *timerp;
	struct event_loop *loop;

	if (t == NULL)
		return;
	*timerp = NULL;
	loop = t->loop;
	heap_remove(loop, t);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		loop->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	if (loop->running_timer == t)
		t->dead = true; /* freed by event_run_timers() */
	else
		free(t);
}

/* ---- signals ---- */

static int
event_signal_update_fd(struct event_loop *loop)
{
	int fd =
	    signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (loop->sigfd < 0) {
		loop->sigfd = fd;
		loop->sig_io =
		    event_io_add(loop, fd, EVENT_READ, event_signal_read, loop);
	}
	return 0;
}

int
event_signal_add(struct event_loop *loop, int signo, event_signal_cb *cb,
		 void *ctx)
{
	sigset_t one;

	if (signo <= 0 || signo >= NSIG || signo == SIGKILL ||
	    signo == SIGSTOP) {
		errno = EINVAL;
		return -1;
	}
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
		return -1;
	sigaddset(&loop->sigmask, signo);
	if (event_signal_update_fd(loop) < 0) {
		sigdelset(&loop->sigmask, signo);
		return -1;
	}
	loop->sig_cb[signo] = cb;
	loop->sig_ctx[signo] = ctx;
	return 0;
}

void
event_signal_del(struct event_loop *loop, int signo)
{
	sigset_t one;

	if (signo <= 0 || signo >= NSIG || loop->sig_cb[signo] == NULL)
		return;
	loop->sig_cb[signo] = NULL;
	loop->sig_ctx[signo] = NULL;
	sigdelset(&loop->sigmask, signo);
	if (event_signal_update_fd(loop) < 0)
		log_error("event: signalfd: %s", strerror(errno));
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_UNBLOCK, &one, NULL) < 0)
		log_error("event: sigprocmask: %s", strerror(errno));
}

/* ---- deferred calls and wake-ups ---- */

void
event_defer(struct event_loop *loop, event_defer_cb *cb, void *ctx)
{
	struct event_defer *d = xcalloc(1, sizeof(*d));

	d->cb = cb;
	d->ctx = ctx;
	if (loop->defer_tail != NULL)
		loop->defer_tail->next = d;
	else
		loop->defer_head = d;
	loop->defer_tail = d;
}

void
event_loop_wakeup(struct event_loop *loop)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: a wake-up is pending. */
	if (write(loop->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("event: write(eventfd): %s", strerror(errno));
}

void
event_loop_set_wakeup_handler(struct event_loop *loop, event_defer_cb *cb,
			      void *ctx)
{
	loop->wake_cb = cb;
	loop->wake_ctx = ctx;
}
