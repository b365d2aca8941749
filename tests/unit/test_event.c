/* Unit tests for the epoll event loop: timers, signals, deferred calls,
 * many descriptors and cross-thread wake-ups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/event.h"

struct order {
	struct event_loop *loop;
	int seen[16];
	int count;
	int stop_after;
};

struct order_timer {
	struct order *order;
	int id;
};

static void
order_cb(void *ctx)
{
	struct order_timer *t = ctx;

	t->order->seen[t->order->count++] = t->id;
	if (t->order->count == t->order->stop_after)
		event_loop_stop(t->order->loop);
}

static void
test_timers_fire_in_order_of_deadline(void **state)
{
	struct order o = {.stop_after = 4};
	struct order_timer ts[4];
	static const unsigned int msecs[4] = {160, 40, 120, 80};
	struct event_timer *timers[4];
	int i;

	(void)state;
	o.loop = event_loop_new();
	for (i = 0; i < 4; i++) {
		ts[i].order = &o;
		ts[i].id = i;
		timers[i] =
		    event_timer_add(o.loop, msecs[i], false, order_cb, &ts[i]);
	}
	event_loop_run(o.loop);
	assert_int_equal(o.count, 4);
	assert_int_equal(o.seen[0], 1);
	assert_int_equal(o.seen[1], 3);
	assert_int_equal(o.seen[2], 2);
	assert_int_equal(o.seen[3], 0);
	for (i = 0; i < 4; i++)
		event_timer_del(&timers[i]);
	assert_null(timers[0]);
	event_loop_free(&o.loop);
	assert_null(o.loop);
}

struct repeat {
	struct event_loop *loop;
	struct event_timer *timer;
	int fired;
};

static void
repeat_cb(void *ctx)
{
	struct repeat *r = ctx;

	if (++r->fired == 5) {
		/* Deleting itself from its own callback must be safe. */
		event_timer_del(&r->timer);
		event_loop_stop(r->loop);
	}
}

static void
test_repeat_timer_repeats_until_deleted_in_own_callback(void **state)
{
	struct repeat r = {0};
	uint64_t start;
	int i;

	(void)state;
	r.loop = event_loop_new();
	r.timer = event_timer_add(r.loop, 5, true, repeat_cb, &r);
	start = event_loop_now_ms(r.loop);
	event_loop_run(r.loop);
	assert_int_equal(r.fired, 5);
	assert_null(r.timer);
	assert_true(event_loop_now_ms(r.loop) - start >= 20);
	/* Deleted: it must not fire any more. */
	for (i = 0; i < 3; i++)
		event_loop_run_once(r.loop, 10);
	assert_int_equal(r.fired, 5);
	event_loop_free(&r.loop);
}

struct killer {
	struct event_timer *victim;
	int victim_fired;
	int killer_fired;
};

static void
victim_cb(void *ctx)
{
	struct killer *k = ctx;

	k->victim_fired++;
}

static void
killer_cb(void *ctx)
{
	struct killer *k = ctx;

	k->killer_fired++;
	event_timer_del(&k->victim);
}

static void
test_timer_deleted_by_earlier_timer_in_same_pass_does_not_fire(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct killer k = {0};
	struct event_timer *killer;
	int i;

	(void)state;
	/* Both are due in the same iteration; the killer is earlier. */
	killer = event_timer_add(loop, 1, false, killer_cb, &k);
	k.victim = event_timer_add(loop, 2, false, victim_cb, &k);
	usleep(20000);
	for (i = 0; i < 5; i++)
		event_loop_run_once(loop, 10);
	assert_int_equal(k.killer_fired, 1);
	assert_int_equal(k.victim_fired, 0);
	assert_null(k.victim);
	event_timer_del(&killer);
	event_loop_free(&loop);
}

static void
test_timer_reset_postpones_it(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct killer k = {0};
	struct event_timer *t;
	int i;

	(void)state;
	t = event_timer_add(loop, 250, false, victim_cb, &k);
	for (i = 0; i < 4; i++) {
		usleep(60000);
		event_timer_reset(t);
		event_loop_run_once(loop, 0);
	}
	assert_int_equal(k.victim_fired, 0);
	event_loop_run_once(loop, 1000);
	assert_int_equal(k.victim_fired, 1);
	event_timer_del(&t);
	event_loop_free(&loop);
}

struct deferred {
	struct event_loop *loop;
	int calls[4];
	int count;
};

static void
defer_second(void *ctx)
{
	struct deferred *d = ctx;

	d->calls[d->count++] = 2;
}

static void
defer_first(void *ctx)
{
	struct deferred *d = ctx;

	d->calls[d->count++] = 1;
	/* Deferred from a deferred call: runs on the following iteration. */
	event_defer(d->loop, defer_second, d);
}

static void
test_deferred_calls_run_once_on_next_iteration(void **state)
{
	struct deferred d = {0};

	(void)state;
	d.loop = event_loop_new();
	event_defer(d.loop, defer_first, &d);
	assert_int_equal(d.count, 0);
	/* A pending deferred call must not let the loop block. */
	event_loop_run_once(d.loop, 5000);
	assert_int_equal(d.count, 1);
	event_loop_run_once(d.loop, 0);
	assert_int_equal(d.count, 2);
	assert_int_equal(d.calls[0], 1);
	assert_int_equal(d.calls[1], 2);
	event_loop_run_once(d.loop, 0);
	assert_int_equal(d.count, 2);
	event_loop_free(&d.loop);
}

struct sig {
	struct event_loop *loop;
	int signo;
	int count;
};

static void
signal_cb(void *ctx, int signo)
{
	struct sig *s = ctx;

	s->signo = signo;
	s->count++;
	event_loop_stop(s->loop);
}

static void
test_raised_signal_is_delivered_as_callback(void **state)
{
	struct sig s = {0};
	struct event_timer *guard;
	sigset_t cur;

	(void)state;
	s.loop = event_loop_new();
	assert_int_equal(event_signal_add(s.loop, SIGUSR1, signal_cb, &s), 0);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	assert_true(sigismember(&cur, SIGUSR1));
	/* Without the loop this would kill the process. */
	raise(SIGUSR1);
	guard = event_timer_add(s.loop, 2000, false,
				(event_timer_cb *)event_loop_stop, s.loop);
	event_loop_run(s.loop);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.signo, SIGUSR1);
	event_timer_del(&guard);
	event_signal_del(s.loop, SIGUSR1);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	assert_false(sigismember(&cur, SIGUSR1));
	event_loop_free(&s.loop);
}

#define MANY_FDS 500

struct many {
	struct event_io *ios[MANY_FDS];
	int fds[MANY_FDS][2];
	int hits[MANY_FDS];
	int distinct;
};

static void
many_cb(void *ctx, int fd, unsigned int events)
{
	struct many *m = ctx;
	char c;
	int i;

	assert_true((events & EVENT_READ) != 0);
	for (i = 0; i < MANY_FDS; i++) {
		if (m->fds[i][0] == fd)
			break;
	}
	assert_true(i < MANY_FDS);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, (char)(i & 0x7f));
	if (m->hits[i]++ == 0)
		m->distinct++;
	/* Drop every other watcher from its own callback. */
	if (i % 2 == 0)
		event_io_del(&m->ios[i]);
}

static void
test_500_socketpairs_all_dispatched(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct many *m = calloc(1, sizeof(*m));
	int i, iter;

	(void)state;
	for (i = 0; i < MANY_FDS; i++) {
		char c = (char)(i & 0x7f);

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, m->fds[i]),
				 0);
		m->ios[i] =
		    event_io_add(loop, m->fds[i][0], EVENT_READ, many_cb, m);
		assert_int_equal(write(m->fds[i][1], &c, 1), 1);
	}
	for (iter = 0; iter < 20 && m->distinct < MANY_FDS; iter++)
		event_loop_run_once(loop, 100);
	assert_int_equal(m->distinct, MANY_FDS);
	for (i = 0; i < MANY_FDS; i++)
		assert_int_equal(m->hits[i], 1);
	/* Odd watchers are still live, even ones are gone. */
	for (i = 0; i < MANY_FDS; i++) {
		char c = (char)(i & 0x7f);

		assert_int_equal(write(m->fds[i][1], &c, 1), 1);
	}
	for (iter = 0; iter < 5; iter++)
		event_loop_run_once(loop, 20);
	for (i = 0; i < MANY_FDS; i++)
		assert_int_equal(m->hits[i], i % 2 == 0 ? 1 : 2);
	/* event_loop_free() frees the remaining watchers. */
	event_loop_free(&loop);
	for (i = 0; i < MANY_FDS; i++) {
		close(m->fds[i][0]);
		close(m->fds[i][1]);
	}
	free(m);
}

struct wake {
	struct event_loop *loop;
	int woken;
};

static void
wake_cb(void *ctx)
{
	struct wake *w = ctx;

	w->woken++;
	event_loop_stop(w->loop);
}

static void *
wake_thread(void *ctx)
{
	struct wake *w = ctx;

	usleep(50000);
	event_loop_wakeup(w->loop);
	return NULL;
}

static void
test_wakeup_from_another_thread(void **state)
{
	struct wake w = {0};
	struct event_timer *guard;
	pthread_t th;
	uint64_t start;

	(void)state;
	w.loop = event_loop_new();
	event_loop_set_wakeup_handler(w.loop, wake_cb, &w);
	guard = event_timer_add(w.loop, 5000, false,
				(event_timer_cb *)event_loop_stop, w.loop);
	start = event_loop_now_ms(w.loop);
	assert_int_equal(pthread_create(&th, NULL, wake_thread, &w), 0);
	event_loop_run(w.loop);
	pthread_join(th, NULL);
	assert_int_equal(w.woken, 1);
	assert_true(event_loop_now_ms(w.loop) - start < 4000);
	event_timer_del(&guard);
	event_loop_free(&w.loop);
}

static void
io_self_del_cb(void *ctx, int fd, unsigned int events)
{
	struct event_io **iop = ctx;

	(void)fd;
	(void)events;
	event_io_del(iop);
}

static void
test_watcher_with_no_events_is_not_reported_hangup(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct event_io *io;
	int fds[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	io = event_io_add(loop, fds[0], 0, io_self_del_cb, &io);
	close(fds[1]);
	event_loop_run_once(loop, 20);
	assert_non_null(io); /* not called despite the hang-up */
	event_io_set(io, EVENT_READ);
	assert_int_equal(event_io_get(io), EVENT_READ);
	event_loop_run_once(loop, 20);
	assert_null(io);
	close(fds[0]);
	event_loop_free(&loop);
}

static void
stop_from_defer(void *ctx)
{
	event_loop_stop(ctx);
}

static void
never_fires(void *ctx)
{
	(void)ctx;
	fail_msg("the loop slept on a timer after being stopped");
}

/* A deferred call that stops the loop makes event_loop_run() return at
 * once, not after the next event (here a timer an hour away). */
static void
test_stop_from_deferred_call_returns_at_once(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct event_timer *t;

	(void)state;
	t = event_timer_add(loop, 3600 * 1000, false, never_fires, NULL);
	event_defer(loop, stop_from_defer, loop);
	alarm(5);
	event_loop_run(loop);
	alarm(0);
	event_timer_del(&t);
	event_loop_free(&loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timers_fire_in_order_of_deadline),
	    cmocka_unit_test(test_stop_from_deferred_call_returns_at_once),
	    cmocka_unit_test(
		test_repeat_timer_repeats_until_deleted_in_own_callback),
	    cmocka_unit_test(
		test_timer_deleted_by_earlier_timer_in_same_pass_does_not_fire),
	    cmocka_unit_test(test_timer_reset_postpones_it),
	    cmocka_unit_test(test_deferred_calls_run_once_on_next_iteration),
	    cmocka_unit_test(test_raised_signal_is_delivered_as_callback),
	    cmocka_unit_test(test_500_socketpairs_all_dispatched),
	    cmocka_unit_test(test_wakeup_from_another_thread),
	    cmocka_unit_test(
		test_watcher_with_no_events_is_not_reported_hangup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
