/*
 * dovetail_ctl - "dovetail start|stop|reload|status": talks to master
 * through its pid-file lock, signals and the status file it writes
 * ($queue_directory/pid/master.status, format in master/master_status.c).
 * The status file is read with a size limit and parsed field by field;
 * a malformed line is skipped. Never leaves master half-started: a start
 * that fails stops what it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dovetail.h"
#include "mail/mail_params.h"
#include "mail/master_cf.h"
#include "util/log.h"
#include "util/safe_file.h"
#include "util/xmem.h"

#define CTL_STATUS_MAX (1024 * 1024)
#define CTL_FIELDS_MAX 8
#define CTL_START_TIMEOUT_MS 30000

struct ctl_service {
	char *name, *type, *address, *state;
	unsigned int maxproc, ready, starting;
	char pids[256];
};

struct ctl_status {
	pid_t master_pid;
	struct ctl_service *services;
	size_t n_services;
};

static uint64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
ctl_status_free(struct ctl_status *st)
{
	for (size_t i = 0; i < st->n_services; i++) {
		xfree(&st->services[i].name);
		xfree(&st->services[i].type);
		xfree(&st->services[i].address);
		xfree(&st->services[i].state);
	}
	xfree(&st->services);
	memset(st, 0, sizeof(*st));
}

static size_t
ctl_split(char *line, char **fields)
{
	size_t n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " ", &save);
	     tok != NULL && n < CTL_FIELDS_MAX;
	     tok = strtok_r(NULL, " ", &save))
		fields[n++] = tok;
	return n;
}

static void
ctl_status_process(struct ctl_status *st, char **f)
{
	for (size_t i = 0; i < st->n_services; i++) {
		struct ctl_service *s = &st->services[i];
		size_t len = strlen(s->pids);

		if (strcmp(s->name, f[1]) != 0 || strcmp(s->type, f[2]) != 0)
			continue;
		if (strcmp(f[4], "ready") == 0)
			s->ready++;
		else if (strcmp(f[4], "starting") == 0)
			s->starting++;
		else
			return; /* stopping: an old process finishing */
		snprintf(s->pids + len, sizeof(s->pids) - len, "%s%s%s",
			 len > 0 ? " " : "", f[3],
			 strcmp(f[4], "ready") == 0 ? "" : "(starting)");
		return;
	}
}

/* Reads the status file; 0 if read (st filled), -1 if absent or bad. */
static int
ctl_status_read(struct ctl_status *st)
{
	char *path = xasprintf("%s/pid/master.status", var_queue_directory);
	char *data, *line, *save = NULL, *f[CTL_FIELDS_MAX];
	const char *error;
	size_t len, n;

	memset(st, 0, sizeof(*st));
	if (safe_file_read(path, CTL_STATUS_MAX, &data, &len, &error) < 0) {
		xfree(&path);
		return -1;
	}
	xfree(&path);
	for (line = strtok_r(data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		n = ctl_split(line, f);
		if (n == 2 && strcmp(f[0], "master") == 0) {
			st->master_pid = (pid_t)atoi(f[1]);
		} else if (n == 6 && strcmp(f[0], "service") == 0) {
			struct ctl_service *s;

			st->services =
			    xreallocarray(st->services, st->n_services + 1,
					  sizeof(*st->services));
			s = &st->services[st->n_services++];
			memset(s, 0, sizeof(*s));
			s->name = xstrdup(f[1]);
			s->type = xstrdup(f[2]);
			s->address = xstrdup(f[3]);
			s->maxproc = (unsigned int)strtoul(f[4], NULL, 10);
			s->state = xstrdup(f[5]);
		} else if (n == 5 && strcmp(f[0], "process") == 0) {
			ctl_status_process(st, f);
		}
	}
	xfree(&data);
	return 0;
}

/* 1 when every service has all its processes ready, 0 while starting,
 * -1 when a service is throttled (its processes keep failing). */
static int
ctl_status_complete(const struct ctl_status *st, const char **failed_r)
{
	int ret = 1;

	for (size_t i = 0; i < st->n_services; i++) {
		const struct ctl_service *s = &st->services[i];

		if (strcmp(s->state, "throttled") == 0) {
			*failed_r = s->name;
			return -1;
		}
		if (s->ready < s->maxproc) {
			*failed_r = s->name;
			ret = 0;
		}
	}
	return ret;
}

static int
ctl_wait_gone(pid_t pid, unsigned int timeout_ms)
{
	uint64_t deadline = ctl_now_ms() + timeout_ms;

	while (ctl_now_ms() < deadline) {
		pid_t now = dovetail_master_pid();

		if (now == 0 || (now != pid && now > 0))
			return 0;
		(void)waitpid(pid, NULL, WNOHANG);
		usleep(50000);
	}
	return -1;
}

static void
ctl_start_opt(int opt, const char *arg, void *ctx)
{
	(void)arg;
	if (opt == 'f')
		*(bool *)ctx = true;
}

static void
ctl_relay(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n);
}

/* Waits until master (our child) reports every service ready. */
static int
ctl_start_wait(pid_t child, int errfd)
{
	uint64_t deadline = ctl_now_ms() + CTL_START_TIMEOUT_MS;
	struct ctl_status st;
	const char *failed = NULL;
	char failed_name[256] = "master";
	int wstatus, done = 0;

	while (ctl_now_ms() < deadline) {
		struct pollfd pfd = {.fd = errfd, .events = POLLIN};

		if (poll(&pfd, 1, 100) > 0)
			ctl_relay(errfd);
		if (waitpid(child, &wstatus, WNOHANG) == child) {
			ctl_relay(errfd);
			log_error(
			    "master exited with status %d during start-up",
			    WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
					       : 128 + WTERMSIG(wstatus));
			return -1;
		}
		if (ctl_status_read(&st) < 0)
			continue;
		if (st.master_pid == child) {
			failed = NULL;
			done = ctl_status_complete(&st, &failed);
			if (failed != NULL)
				snprintf(failed_name, sizeof(failed_name), "%s",
					 failed);
			if (done != 0) {
				if (done > 0)
					log_info("the Dovetail mail system is "
						 "running: master pid %d, %zu "
						 "services",
						 (int)child, st.n_services);
				ctl_status_free(&st);
				break;
			}
		}
		ctl_status_free(&st);
	}
	if (done > 0)
		return 0;
	if (done < 0)
		log_error("service %s failed to start (its processes exit "
			  "at once; see the mail log): stopping",
			  failed_name);
	else
		log_error("timed out waiting for service %s to start: stopping",
			  failed_name);
	(void)kill(child, SIGTERM);
	(void)ctl_wait_gone(
	    child, (unsigned int)var_daemon_shutdown_timeout * 1000 + 5000);
	return -1;
}

int
dovetail_cmd_start(int argc, char **argv)
{
	bool foreground = false;
	char *master_path;
	int errpipe[2], null_fd, ret;
	pid_t pid;

	if (dovetail_getopt(argc, argv, "f", ctl_start_opt, &foreground) !=
	    argc)
		return 2;
	if (dovetail_load_main() < 0)
		return 1;
	pid = dovetail_master_pid();
	if (pid < 0)
		return 1;
	if (pid > 0) {
		log_error("the Dovetail mail system is already running "
			  "(master pid %d)",
			  (int)pid);
		return 1;
	}
	if (dovetail_setup_run(true) < 0)
		return 1;
	master_path = xasprintf("%s/master", var_daemon_directory);
	if (access(master_path, X_OK) < 0) {
		log_error("%s: %s", master_path, strerror(errno));
		xfree(&master_path);
		return 1;
	}
	log_info("starting the Dovetail mail system");
	if (foreground) {
		execl(master_path, "master", "-f", "-c", dovetail_config_dir,
		      log_get_verbose() > 0 ? "-v" : (char *)NULL,
		      (char *)NULL);
		log_error("exec %s: %s", master_path, strerror(errno));
		return 1;
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		log_error("pipe: %s", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		(void)setsid();
		null_fd = open("/dev/null", O_RDWR);
		if (null_fd < 0 || dup2(null_fd, 0) < 0 ||
		    dup2(null_fd, 1) < 0 || dup2(errpipe[1], 2) < 0)
			_exit(127);
		execl(master_path, "master", "-c", dovetail_config_dir,
		      log_get_verbose() > 0 ? "-v" : (char *)NULL,
		      (char *)NULL);
		dprintf(2, "dovetail: exec %s: %s\n", master_path,
			strerror(errno));
		_exit(127);
	}
	close(errpipe[1]);
	(void)fcntl(errpipe[0], F_SETFL, O_NONBLOCK);
	ret = ctl_start_wait(pid, errpipe[0]);
	close(errpipe[0]);
	xfree(&master_path);
	return ret < 0 ? 1 : 0;
}

int
dovetail_cmd_stop(int argc, char **argv)
{
	pid_t pid;

	if (dovetail_getopt(argc, argv, NULL, NULL, NULL) != argc)
		return 2;
	if (dovetail_load_main() < 0)
		return 1;
	pid = dovetail_master_pid();
	if (pid <= 0) {
		if (pid == 0)
			log_error("the Dovetail mail system is not running");
		return 1;
	}
	log_info("stopping the Dovetail mail system");
	if (kill(pid, SIGTERM) < 0) {
		log_error("kill %d: %s", (int)pid, strerror(errno));
		return 1;
	}
	if (ctl_wait_gone(
		pid, (unsigned int)var_daemon_shutdown_timeout * 1000 + 10000) <
	    0) {
		log_error("master pid %d did not stop", (int)pid);
		return 1;
	}
	return 0;
}

int
dovetail_cmd_reload(int argc, char **argv)
{
	struct master_cf mcf;
	char *path, *error;
	pid_t pid;
	int ret;

	if (dovetail_getopt(argc, argv, NULL, NULL, NULL) != argc)
		return 2;
	if (dovetail_load_main() < 0)
		return 1;
	path = xasprintf("%s/master.cf", dovetail_config_dir);
	ret = master_cf_parse_file(path, &mcf, &error);
	xfree(&path);
	if (ret < 0) {
		log_error("%s", error);
		log_error("reload refused: fix the configuration first");
		xfree(&error);
		return 1;
	}
	master_cf_free(&mcf);
	pid = dovetail_master_pid();
	if (pid <= 0) {
		if (pid == 0)
			log_error("the Dovetail mail system is not running");
		return 1;
	}
	log_info("refreshing the Dovetail mail system");
	if (kill(pid, SIGHUP) < 0) {
		log_error("kill %d: %s", (int)pid, strerror(errno));
		return 1;
	}
	return 0;
}

int
dovetail_cmd_status(int argc, char **argv)
{
	struct ctl_status st;
	pid_t pid;

	if (dovetail_getopt(argc, argv, NULL, NULL, NULL) != argc)
		return 2;
	if (dovetail_load_main() < 0)
		return 1;
	pid = dovetail_master_pid();
	if (pid <= 0) {
		if (pid == 0)
			log_error("the Dovetail mail system is not running");
		return 1;
	}
	printf("the Dovetail mail system is running: master pid %d\n",
	       (int)pid);
	if (ctl_status_read(&st) < 0 || st.master_pid != pid) {
		printf("(no status from master yet)\n");
		return 0;
	}
	for (size_t i = 0; i < st.n_services; i++) {
		const struct ctl_service *s = &st.services[i];

		printf("%-16s %-4s %-32s %-9s %u/%u pids: %s\n", s->name,
		       s->type, s->address, s->state, s->ready, s->maxproc,
		       s->pids);
	}
	ctl_status_free(&st);
	return 0;
}
