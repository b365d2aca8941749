/*
 * worker - a pool of threads that runs blocking work (fsync, SQL, password
 * hashing, DNS libraries without an async API) off the event loop. A job's
 * run() executes on a worker thread; its done() then executes on the loop
 * thread, so results are handed back without locks in the caller.
 * run() must not touch loop-owned state.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>

struct event_loop;
struct worker_pool;

typedef void worker_run_fn(void *job);
typedef void worker_done_fn(void *job);

/* Starts n threads (at least 1) that report back to loop. The pool takes
 * the loop's wake-up handler (event_loop_set_wakeup_handler): one pool per
 * loop. Threads run with every signal blocked. */
struct worker_pool *worker_pool_new(struct event_loop *loop, unsigned int n);
/* Waits for running jobs, calls no more done() callbacks, joins threads.
 * Queued jobs that never started are dropped (their done() is not run). */
void worker_pool_free(struct worker_pool **poolp);
/* Queues job; run(job) on a thread, then done(job) (may be NULL) on the
 * loop thread. done() may submit new jobs but must not free the pool. */
void worker_submit(struct worker_pool *pool, worker_run_fn *run,
		   worker_done_fn *done, void *job);
/* Jobs queued or running, or finished with done() not yet run. */
size_t worker_pool_pending(const struct worker_pool *pool);

#endif
