/*
 * test_worker - the worker pool: run() on worker threads, done() on the
 * loop thread, every job completes exactly once, and freeing a pool with
 * queued jobs drops them cleanly without calling their done().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "server/worker.h"
#include "util/event.h"

struct job {
	pthread_t run_thread;
	pthread_t done_thread;
	atomic_int runs;
	int dones;
	unsigned int sleep_ms;
	struct worker_pool *pool;
	int chain; /* done() submits this job again while > 0 */
};

static atomic_int in_run;
static atomic_int total_runs;
static int total_dones;

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0)
		;
}

static void
job_run(void *ctx)
{
	struct job *j = ctx;

	atomic_fetch_add(&in_run, 1);
	j->run_thread = pthread_self();
	if (j->sleep_ms > 0)
		sleep_ms(j->sleep_ms);
	atomic_fetch_add(&j->runs, 1);
	atomic_fetch_add(&total_runs, 1);
	atomic_fetch_sub(&in_run, 1);
}

static void
job_done(void *ctx)
{
	struct job *j = ctx;

	j->done_thread = pthread_self();
	j->dones++;
	total_dones++;
	if (j->chain > 0) {
		j->chain--;
		worker_submit(j->pool, job_run, job_done, j);
	}
}

static int
setup(void **state)
{
	(void)state;
	atomic_store(&in_run, 0);
	atomic_store(&total_runs, 0);
	total_dones = 0;
	return 0;
}

/* Runs the loop until want done() calls happened or 10 s passed. */
static void
run_until(struct event_loop *loop, int want)
{
	int i;

	for (i = 0; i < 1000 && total_dones < want; i++)
		event_loop_run_once(loop, 10);
}

static void
test_run_off_loop_done_on_loop(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct worker_pool *pool = worker_pool_new(loop, 3);
	struct job j = {0};
	pthread_t self = pthread_self();

	(void)state;
	worker_submit(pool, job_run, job_done, &j);
	assert_int_equal(worker_pool_pending(pool), 1);
	run_until(loop, 1);
	assert_int_equal(atomic_load(&j.runs), 1);
	assert_int_equal(j.dones, 1);
	assert_false(pthread_equal(j.run_thread, self));
	assert_true(pthread_equal(j.done_thread, self));
	assert_int_equal(worker_pool_pending(pool), 0);
	worker_pool_free(&pool);
	assert_null(pool);
	event_loop_free(&loop);
}

static void
test_thousand_jobs_complete_once(void **state)
{
	enum { N = 1000 };
	struct event_loop *loop = event_loop_new();
	struct worker_pool *pool = worker_pool_new(loop, 4);
	static struct job jobs[N];
	pthread_t self = pthread_self();
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		jobs[i] = (struct job){0};
		worker_submit(pool, job_run, job_done, &jobs[i]);
	}
	run_until(loop, N);
	assert_int_equal(total_dones, N);
	assert_int_equal(atomic_load(&total_runs), N);
	for (i = 0; i < N; i++) {
		assert_int_equal(atomic_load(&jobs[i].runs), 1);
		assert_int_equal(jobs[i].dones, 1);
		assert_false(pthread_equal(jobs[i].run_thread, self));
		assert_true(pthread_equal(jobs[i].done_thread, self));
	}
	assert_int_equal(worker_pool_pending(pool), 0);
	worker_pool_free(&pool);
	event_loop_free(&loop);
}

static void
test_done_may_submit_again(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct worker_pool *pool = worker_pool_new(loop, 2);
	struct job j = {.chain = 5};

	(void)state;
	j.pool = pool;
	worker_submit(pool, job_run, job_done, &j);
	run_until(loop, 6);
	assert_int_equal(atomic_load(&j.runs), 6);
	assert_int_equal(j.dones, 6);
	assert_int_equal(worker_pool_pending(pool), 0);
	worker_pool_free(&pool);
	event_loop_free(&loop);
}

static void
test_parallel_threads(void **state)
{
	/* 4 jobs of 200 ms on 4 threads finish well before 800 ms. */
	struct event_loop *loop = event_loop_new();
	struct worker_pool *pool = worker_pool_new(loop, 4);
	struct job jobs[4] = {0};
	struct timespec t0, t1;
	long ms;
	int i;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 4; i++) {
		jobs[i].sleep_ms = 200;
		worker_submit(pool, job_run, job_done, &jobs[i]);
	}
	run_until(loop, 4);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_int_equal(total_dones, 4);
	assert_true(ms < 700);
	worker_pool_free(&pool);
	event_loop_free(&loop);
}

static void
test_free_with_pending_jobs(void **state)
{
	enum { N = 100 };
	struct event_loop *loop = event_loop_new();
	struct worker_pool *pool = worker_pool_new(loop, 2);
	static struct job jobs[N];
	int i, runs;

	(void)state;
	for (i = 0; i < N; i++) {
		jobs[i] = (struct job){.sleep_ms = 20};
		worker_submit(pool, job_run, job_done, &jobs[i]);
	}
	sleep_ms(30);
	worker_pool_free(&pool);
	assert_null(pool);
	/* Jobs that had started finished; queued ones were dropped. */
	assert_int_equal(atomic_load(&in_run), 0);
	runs = atomic_load(&total_runs);
	assert_true(runs >= 1);
	assert_true(runs < N);
	/* No done() after free, even with a wake-up still pending. */
	event_loop_run_once(loop, 50);
	assert_int_equal(total_dones, 0);
	sleep_ms(50);
	assert_int_equal(atomic_load(&total_runs), runs);
	event_loop_free(&loop);
}

static void
test_free_idle_pool(void **state)
{
	struct event_loop *loop = event_loop_new();
	struct worker_pool *pool = worker_pool_new(loop, 0);

	(void)state;
	assert_int_equal(worker_pool_pending(pool), 0);
	worker_pool_free(&pool);
	assert_null(pool);
	worker_pool_free(&pool);
	event_loop_free(&loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_run_off_loop_done_on_loop, setup),
	    cmocka_unit_test_setup(test_thousand_jobs_complete_once, setup),
	    cmocka_unit_test_setup(test_done_may_submit_again, setup),
	    cmocka_unit_test_setup(test_parallel_threads, setup),
	    cmocka_unit_test_setup(test_free_with_pending_jobs, setup),
	    cmocka_unit_test_setup(test_free_idle_pool, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
