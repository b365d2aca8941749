/*
 * event - the epoll event loop every daemon runs on: file descriptor
 * watchers, one-shot and repeating timers (millisecond resolution, monotonic
 * clock), signals delivered through signalfd as ordinary callbacks, and
 * deferred calls that run on the next loop iteration. Single-threaded: only
 * event_loop_wakeup() may be called from another thread.
 */
#ifndef EVENT_H
#define EVENT_H

#include <stdbool.h>
#include <stdint.h>

struct event_loop;
struct event_io;
struct event_timer;

#define EVENT_READ 0x01u
#define EVENT_WRITE 0x02u
/* Reported only: error or hang-up on the descriptor. */
#define EVENT_ERROR 0x04u

typedef void event_io_cb(void *ctx, int fd, unsigned int events);
typedef void event_timer_cb(void *ctx);
typedef void event_signal_cb(void *ctx, int signo);
typedef void event_defer_cb(void *ctx);

struct event_loop *event_loop_new(void);
/* Frees the loop; watchers and timers still registered are freed too. */
void event_loop_free(struct event_loop **loopp);
/* Runs until event_loop_stop() is called. */
void event_loop_run(struct event_loop *loop);
/* Makes event_loop_run() return after the current iteration. */
void event_loop_stop(struct event_loop *loop);
/* Runs one iteration waiting at most timeout_ms (-1 = until an event). */
void event_loop_run_once(struct event_loop *loop, int timeout_ms);
/* Monotonic milliseconds, cached per iteration. */
uint64_t event_loop_now_ms(struct event_loop *loop);

/* Watches fd for events (EVENT_READ|EVENT_WRITE, may be 0). The watcher
 * does not own fd. */
struct event_io *event_io_add(struct event_loop *loop, int fd,
			      unsigned int events, event_io_cb *cb, void *ctx);
void event_io_set(struct event_io *io, unsigned int events);
unsigned int event_io_get(const struct event_io *io);
/* Removes and frees the watcher; safe from inside its own callback. */
void event_io_del(struct event_io **iop);

/* Calls cb after msecs, once or (repeat) every msecs. A one-shot timer that
 * has fired stays allocated (inactive) until event_timer_del() or
 * event_loop_free(); event_timer_reset() arms it again. A timer added from
 * a timer callback fires on a later iteration at the earliest. */
struct event_timer *event_timer_add(struct event_loop *loop, unsigned int msecs,
				    bool repeat, event_timer_cb *cb, void *ctx);
/* Restarts the countdown from now (with the original interval). */
void event_timer_reset(struct event_timer *timer);
/* Removes and frees the timer; safe from inside its own callback. */
void event_timer_del(struct event_timer **timerp);

/* Blocks signo and delivers it through the loop. One handler per signal. */
int event_signal_add(struct event_loop *loop, int signo, event_signal_cb *cb,
		     void *ctx);
void event_signal_del(struct event_loop *loop, int signo);

/* Runs cb(ctx) once on the next iteration, before waiting for I/O. */
void event_defer(struct event_loop *loop, event_defer_cb *cb, void *ctx);

/* Thread-safe: makes a blocked event_loop_run() iterate (eventfd). */
void event_loop_wakeup(struct event_loop *loop);
/* Called on the loop thread after every event_loop_wakeup(). */
void event_loop_set_wakeup_handler(struct event_loop *loop, event_defer_cb *cb,
				   void *ctx);

#endif
