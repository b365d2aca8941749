/*
 * master_spawn - starts a service's processes (fork + exec with the
 * listener on fd 3 and a status pipe on fd 4, as lib/server/server.h
 * describes), reaps them, logs why they died and throttles services whose
 * processes keep dying. Runs as root in master; trusts only master.cf.
 * Must never block: the status pipe is read from the event loop and
 * throttled starts wait on timers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master.h"
#include "server/server.h"
#include "util/event.h"
#include "util/log.h"
#include "util/xmem.h"

/* A process that ran at least this long before dying abnormally counts as
 * a single accident, not as a crash loop. */
#define MASTER_STABLE_MS 10000
#define MASTER_ARGV_FIXED 16

static void master_spawn_start_timer_cb(void *ctx);

unsigned int
master_spawn_count(void)
{
	unsigned int n = 0;

	for (struct master_proc *p = master.procs; p != NULL; p = p->next)
		n++;
	return n;
}

static char **
master_spawn_argv(const struct master_svc *service)
{
	size_t max =
	    MASTER_ARGV_FIXED + 2 * service->n_overrides + service->n_args + 1;
	char **argv = xcalloc(max, sizeof(*argv));
	size_t n = 0;

	argv[n++] = service->command;
	argv[n++] = "-c";
	argv[n++] = master.settings.config_dir;
	argv[n++] = "-n";
	argv[n++] = service->name;
	argv[n++] = "-t";
	argv[n++] = (char *)master_service_type_name(service->type);
	argv[n++] = "-u";
	argv[n++] = service->user;
	if (service->chroot != NULL) {
		argv[n++] = "-r";
		argv[n++] = service->chroot;
	}
	for (size_t i = 0; i < service->n_overrides; i++) {
		argv[n++] = "-o";
		argv[n++] = service->overrides[i];
	}
	if (master.foreground)
		argv[n++] = "-f";
	if (master.verbose > 0)
		argv[n++] = "-v";
	for (size_t i = 0; i < service->n_args; i++)
		argv[n++] = service->args[i];
	argv[n] = NULL;
	return argv;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn))
master_spawn_child(const struct master_svc *service, char **argv, int listen_fd,
		   int status_fd)
{
	static const char envvar[] = "DOVETAIL_MASTER=1";
	sigset_t none;
	int lfd, sfd, null_fd;

	/* Its own session: a terminal's ^C reaches master only, which then
	 * stops the children in order. */
	(void)setsid();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* Move both out of the way first so that dup2 onto 3 and 4 cannot
	 * clobber one with the other, and clears close-on-exec. */
	lfd = fcntl(listen_fd, F_DUPFD, 10);
	sfd = fcntl(status_fd, F_DUPFD, 10);
	if (lfd < 0 || sfd < 0 || dup2(lfd, SERVER_LISTEN_FD) < 0 ||
	    dup2(sfd, SERVER_STATUS_FD) < 0)
		_exit(126);
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd >= 0) {
		dup2(null_fd, 0);
		if (!master.foreground) {
			dup2(null_fd, 1);
			dup2(null_fd, 2);
		}
	}
	close_range(SERVER_STATUS_FD + 1, ~0u, 0);
	putenv((char *)envvar);
	execv(service->command, argv);
	_exit(127);
}

static void
master_spawn_status_cb(void *ctx, int fd, unsigned int events)
{
	struct master_proc *proc = ctx;
	char buf[16];
	ssize_t n;

	(void)events;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		if (memchr(buf, 'R', (size_t)n) != NULL && !proc->ready) {
			proc->ready = true;
			master_status_update();
		}
		return;
	}
	/* EOF or error: the child closed its end (or died). */
	event_io_del(&proc->status_io);
	close(proc->status_fd);
	proc->status_fd = -1;
}

static int
master_spawn_one(struct master_svc *service)
{
	struct master_proc *proc;
	char **argv;
	int pipefd[2];
	pid_t pid;

	/* exec failures are only an exit status 127 otherwise. */
	if (access(service->command, X_OK) < 0)
		log_warning("master: service %s: %s: %s", service->name,
			    service->command, strerror(errno));
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_warning("master: pipe: %s", strerror(errno));
		return -1;
	}
	argv = master_spawn_argv(service);
	pid = fork();
	if (pid < 0) {
		log_warning("master: fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		xfree(&argv);
		return -1;
	}
	if (pid == 0)
		master_spawn_child(service, argv, service->listen_fd,
				   pipefd[1]);
	close(pipefd[1]);
	xfree(&argv);
	if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0)
		log_warning("master: fcntl: %s", strerror(errno));

	proc = xcalloc(1, sizeof(*proc));
	proc->service = service;
	proc->pid = pid;
	proc->status_fd = pipefd[0];
	proc->started_ms = event_loop_now_ms(master.loop);
	proc->status_io = event_io_add(master.loop, pipefd[0], EVENT_READ,
				       master_spawn_status_cb, proc);
	proc->next = master.procs;
	master.procs = proc;
	service->n_procs++;
	if (master.verbose > 0)
		log_debug("master: started %s pid %d for service %s",
			  service->command, (int)pid, service->name);
	return 0;
}

void
master_spawn_fill(struct master_svc *service)
{
	bool started = false;

	if (master.stopping || service->retired || service->throttled ||
	    service->listen_fd < 0)
		return;
	while (service->n_procs < service->maxproc) {
		if (master_spawn_one(service) < 0) {
			/* fork failed: try again later rather than spin. */
			service->throttled = true;
			if (service->start_timer == NULL)
				service->start_timer = event_timer_add(
				    master.loop, 1000, false,
				    master_spawn_start_timer_cb, service);
			break;
		}
		started = true;
	}
	if (started)
		master_status_update();
}

static void
master_spawn_start_timer_cb(void *ctx)
{
	struct master_svc *service = ctx;

	event_timer_del(&service->start_timer);
	service->throttled = false;
	master_spawn_fill(service);
	master_status_update();
}

void
master_spawn_stop_service(struct master_svc *service)
{
	for (struct master_proc *p = master.procs; p != NULL; p = p->next) {
		if (p->service != service || p->stopping)
			continue;
		p->stopping = true;
		service->n_procs--;
		if (kill(p->pid, SIGTERM) < 0 && errno != ESRCH)
			log_warning("master: kill %d: %s", (int)p->pid,
				    strerror(errno));
	}
}

void
master_spawn_signal_all(int signo)
{
	for (struct master_proc *p = master.procs; p != NULL; p = p->next) {
		if (signo == SIGTERM && !p->stopping) {
			p->stopping = true;
			p->service->n_procs--;
		}
		if (kill(p->pid, signo) < 0 && errno != ESRCH)
			log_warning("master: kill %d: %s", (int)p->pid,
				    strerror(errno));
	}
}

/* Decides when the service may start a replacement for a process that
 * died abnormally; returns the delay in milliseconds (0 = at once). */
static unsigned int
master_spawn_backoff(struct master_svc *service, const struct master_proc *proc,
		     uint64_t now)
{
	uint64_t limit = (uint64_t)master.settings.throttle_time * 1000;
	uint64_t delay;

	if (proc->ready && now - proc->started_ms >= MASTER_STABLE_MS &&
	    now - service->last_failure_ms >= MASTER_STABLE_MS)
		service->failures = 0;
	service->last_failure_ms = now;
	if (service->failures == 0 && proc->ready) {
		service->failures = 1;
		return 0;
	}
	service->failures++;
	delay = 1000;
	for (unsigned int i = 2; i < service->failures && delay < limit; i++)
		delay *= 2;
	if (limit > 0 && delay > limit)
		delay = limit;
	return (unsigned int)delay;
}

static void
master_spawn_exited(struct master_proc *proc, int wstatus)
{
	struct master_svc *service = proc->service;
	uint64_t now = event_loop_now_ms(master.loop);
	bool abnormal = true;
	unsigned int delay;

	if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);

		/* Signals master itself sent to a stopping process are not
		 * news. */
		if (!proc->stopping || (sig != SIGTERM && sig != SIGKILL))
			log_warning("process %s pid %d killed by signal %d",
				    service->command, (int)proc->pid, sig);
	} else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) {
		log_warning("process %s pid %d exit status %d",
			    service->command, (int)proc->pid,
			    WEXITSTATUS(wstatus));
	} else {
		abnormal = false;
	}
	if (proc->stopping || service->retired || master.stopping)
		return;
	service->n_procs--;
	if (!abnormal && proc->ready) {
		/* max_use / max_idle recycling: replace at once. */
		master_spawn_fill(service);
		return;
	}
	if (!abnormal)
		log_warning("process %s pid %d exited before it was ready",
			    service->command, (int)proc->pid);
	delay = master_spawn_backoff(service, proc, now);
	if (delay == 0) {
		master_spawn_fill(service);
		return;
	}
	log_warning("%s: bad command startup or repeated failures -- "
		    "throttling service %s for %u s",
		    service->command, service->name, (delay + 999) / 1000);
	service->throttled = true;
	if (service->start_timer != NULL)
		event_timer_del(&service->start_timer);
	service->start_timer = event_timer_add(
	    master.loop, delay, false, master_spawn_start_timer_cb, service);
}

static void
master_proc_free(struct master_proc **procp)
{
	struct master_proc *proc = *procp;

	if (proc->status_io != NULL)
		event_io_del(&proc->status_io);
	if (proc->status_fd >= 0)
		close(proc->status_fd);
	xfree(procp);
}

static void
master_spawn_forget_service(struct master_svc *service)
{
	struct master_svc **sp;

	for (struct master_proc *p = master.procs; p != NULL; p = p->next) {
		if (p->service == service)
			return;
	}
	/* Retired services live only until their last process is gone. */
	for (sp = &master.services; *sp != NULL; sp = &(*sp)->next) {
		if (*sp == service) {
			*sp = service->next;
			master_service_free(&service);
			return;
		}
	}
}

void
master_spawn_reap(void)
{
	int wstatus;
	pid_t pid;
	bool changed = false;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		struct master_proc **pp, *proc = NULL;
		struct master_svc *service;

		for (pp = &master.procs; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->pid == pid) {
				proc = *pp;
				*pp = proc->next;
				break;
			}
		}
		if (proc == NULL)
			continue;
		changed = true;
		service = proc->service;
		master_spawn_exited(proc, wstatus);
		master_proc_free(&proc);
		if (service->retired)
			master_spawn_forget_service(service);
	}
	if (pid < 0 && errno != ECHILD)
		log_warning("master: waitpid: %s", strerror(errno));
	if (changed)
		master_status_update();
}
