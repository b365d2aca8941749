/*
 * worker - a fixed pool of pthreads that runs blocking jobs off the event
 * loop. Jobs wait in a FIFO under one mutex; a finished job moves to a done
 * list and the loop is woken (event_loop_wakeup) so its done() runs on the
 * loop thread. Trusts its callers; must not touch loop state from a worker
 * thread and must not let a worker thread take a signal (signalfd needs
 * every thread to keep the handled signals blocked).
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "server/worker.h"
#include "util/event.h"
#include "util/log.h"
#include "util/xmem.h"

struct worker_job {
	struct worker_job *next;
	worker_run_fn *run;
	worker_done_fn *done;
	void *job;
};

struct job_list {
	struct worker_job *head, *tail;
};

struct worker_pool {
	struct event_loop *loop;
	pthread_t *threads;
	unsigned int n_threads;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job_list queue; /* not started */
	struct job_list done;  /* run() finished, done() not yet called */
	size_t pending;	       /* queued + running + awaiting done() */
	unsigned int running;
	bool stopping;
	bool wakeup_sent; /* a wake-up is on its way to the loop */
};

static void
job_list_append(struct job_list *list, struct worker_job *job)
{
	job->next = NULL;
	if (list->tail != NULL)
		list->tail->next = job;
	else
		list->head = job;
	list->tail = job;
}

static struct worker_job *
job_list_shift(struct job_list *list)
{
	struct worker_job *job = list->head;

	if (job != NULL) {
		list->head = job->next;
		if (list->head == NULL)
			list->tail = NULL;
		job->next = NULL;
	}
	return job;
}

static void
job_list_free(struct job_list *list)
{
	struct worker_job *job;

	while ((job = job_list_shift(list)) != NULL)
		xfree(&job);
}

static void *
worker_thread(void *arg)
{
	struct worker_pool *pool = arg;
	struct worker_job *job;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (!pool->stopping && pool->queue.head == NULL)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		job = job_list_shift(&pool->queue);
		pool->running++;
		pthread_mutex_unlock(&pool->lock);

		job->run(job->job);

		pthread_mutex_lock(&pool->lock);
		pool->running--;
		job_list_append(&pool->done, job);
		/* One wake-up per batch: the loop drains the whole list. */
		if (!pool->wakeup_sent && !pool->stopping) {
			pool->wakeup_sent = true;
			event_loop_wakeup(pool->loop);
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Loop thread: runs done() for every finished job. */
static void
worker_pool_deliver(void *ctx)
{
	struct worker_pool *pool = ctx;
	struct job_list batch;
	struct worker_job *job;

	pthread_mutex_lock(&pool->lock);
	batch = pool->done;
	pool->done.head = pool->done.tail = NULL;
	pool->wakeup_sent = false;
	pthread_mutex_unlock(&pool->lock);

	while ((job = job_list_shift(&batch)) != NULL) {
		pthread_mutex_lock(&pool->lock);
		pool->pending--;
		pthread_mutex_unlock(&pool->lock);
		if (job->done != NULL)
			job->done(job->job);
		xfree(&job);
	}
}

struct worker_pool *
worker_pool_new(struct event_loop *loop, unsigned int n)
{
	struct worker_pool *pool = xcalloc(1, sizeof(*pool));
	sigset_t all, old;
	unsigned int i;
	int err;

	if (n == 0)
		n = 1;
	pool->loop = loop;
	pool->threads = xcalloc(n, sizeof(*pool->threads));
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	event_loop_set_wakeup_handler(loop, worker_pool_deliver, pool);

	/* Threads inherit the mask: start them with every signal blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		err = pthread_create(&pool->threads[i], NULL, worker_thread,
				     pool);
		if (err != 0)
			log_fatal("worker_pool_new: pthread_create: %s",
				  strerror(err));
		pool->n_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pool;
}

void
worker_pool_free(struct worker_pool **poolp)
{
	struct worker_pool *pool = *poolp;
	unsigned int i;

	if (pool == NULL)
		return;
	*poolp = NULL;

	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	job_list_free(&pool->queue);
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);

	/* Jobs in run() finish before their thread exits. */
	for (i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);

	event_loop_set_wakeup_handler(pool->loop, NULL, NULL);
	job_list_free(&pool->done);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	xfree(&pool->threads);
	xfree(&pool);
}

void
worker_submit(struct worker_pool *pool, worker_run_fn *run,
	      worker_done_fn *done, void *job)
{
	struct worker_job *wj = xcalloc(1, sizeof(*wj));

	if (run == NULL)
		log_panic("worker_submit: run is NULL");
	wj->run = run;
	wj->done = done;
	wj->job = job;

	pthread_mutex_lock(&pool->lock);
	job_list_append(&pool->queue, wj);
	pool->pending++;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

size_t
worker_pool_pending(const struct worker_pool *pool)
{
	struct worker_pool *p = (struct worker_pool *)pool;
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->pending;
	pthread_mutex_unlock(&p->lock);
	return n;
}
