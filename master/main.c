/*
 * master - the Dovetail supervisor, the only process that stays root. It
 * loads main.cf and master.cf, holds the pid-file lock, binds every
 * service's listener, starts and restarts the services' processes, and
 * reloads (SIGHUP) or stops (SIGTERM, SIGINT) them. Trusts only the
 * admin's configuration files; never reads from the network; never blocks
 * (children are reaped through signalfd on the event loop).
 *
 * Usage: master [-c config_dir] [-f] [-t] [-v]
 * Without -f master detaches from the terminal once its listeners are
 * bound (start-up errors still reach stderr); "dovetail start" puts it in
 * the background. With -f it stays attached and logs to stderr as well
 * (systemd, containers).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dovetail_paths.h"
#include "master.h"
#include "util/event.h"
#include "util/log.h"
#include "util/safe_file.h"
#include "util/xmem.h"

struct master master;

static int master_pid_fd = -1;
static char *master_pid_path;
static int master_stop_signal;

static void __attribute__((noreturn)) master_usage(void)
{
	fprintf(stderr, "usage: master [-c config_dir] [-f] [-t] [-v]\n");
	exit(2);
}

/* Opens and locks the pid file. Returns 0 when locked, 1 when another
 * master holds the lock, -1 on error (logged). */
static int
master_pid_lock(const char *queue_dir, bool keep)
{
	const char *error;
	char *dir = xasprintf("%s/pid", queue_dir);
	struct flock fl;
	char buf[32];
	int fd, len;

	if (safe_mkdir_p(dir, 0755, 0, 0, &error) < 0) {
		log_error("master: %s", error);
		xfree(&dir);
		return -1;
	}
	xfree(&dir);
	master_pid_path = xasprintf("%s/pid/master.pid", queue_dir);
	fd = open(master_pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0) {
		log_error("master: open %s: %s", master_pid_path,
			  strerror(errno));
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int err = errno;

		close(fd);
		if (err == EAGAIN || err == EACCES)
			return 1;
		log_error("master: lock %s: %s", master_pid_path,
			  strerror(err));
		return -1;
	}
	if (!keep) {
		close(fd);
		return 0;
	}
	len = snprintf(buf, sizeof(buf), "%10d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		log_error("master: write %s: %s", master_pid_path,
			  strerror(errno));
		close(fd);
		return -1;
	}
	master_pid_fd = fd;
	return 0;
}

static void __attribute__((noreturn)) master_exit(void)
{
	for (struct master_svc *s = master.services; s != NULL; s = s->next)
		master_service_unlisten(s, true);
	master_status_remove();
	if (master_pid_path != NULL)
		(void)unlink(master_pid_path);
	if (master_stop_signal != 0)
		log_info("terminating on signal %d", master_stop_signal);
	exit(0);
}

static void
master_kill_timer_cb(void *ctx)
{
	(void)ctx;
	event_timer_del(&master.kill_timer);
	if (master.procs != NULL) {
		log_warning("master: %u processes still running after %u s: "
			    "killing them",
			    master_spawn_count(),
			    master.settings.shutdown_timeout);
		master_spawn_signal_all(SIGKILL);
	}
}

static void
master_on_signal(void *ctx, int signo)
{
	(void)ctx;
	switch (signo) {
	case SIGCHLD:
		master_spawn_reap();
		break;
	case SIGHUP:
		if (!master.stopping)
			master_reload();
		return;
	case SIGTERM:
	case SIGINT:
		if (master.stopping)
			break;
		master.stopping = true;
		master_stop_signal = signo;
		for (struct master_svc *s = master.services; s != NULL;
		     s = s->next) {
			master_service_stop_timers(s);
			master_service_unlisten(s, false);
		}
		master_spawn_signal_all(SIGTERM);
		master.kill_timer = event_timer_add(
		    master.loop, master.settings.shutdown_timeout * 1000, false,
		    master_kill_timer_cb, NULL);
		master_status_update();
		break;
	default:
		return;
	}
	if (master.stopping && master.procs == NULL)
		event_loop_stop(master.loop);
}

static void
master_detach(void)
{
	int fd = open("/dev/null", O_RDWR);

	(void)setsid();
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	log_set_stderr(false);
}

int
main(int argc, char **argv)
{
	const char *config_dir = DOVETAIL_CONFIG_DIR, *error;
	struct master_settings settings;
	struct master_svc *services = NULL;
	bool test_mode = false;
	int c, ret;

	log_init("dovetail", "master");
	while ((c = getopt(argc, argv, "c:ftv")) != -1) {
		switch (c) {
		case 'c':
			config_dir = optarg;
			break;
		case 'f':
			master.foreground = true;
			break;
		case 't':
			test_mode = true;
			break;
		case 'v':
			master.verbose++;
			break;
		default:
			master_usage();
		}
	}
	if (optind != argc)
		master_usage();
	/* Start-up problems go to stderr too; without -f that ends once
	 * the listeners are bound. */
	log_set_stderr(true);
	log_set_verbose(master.verbose);
	if (geteuid() != 0 || getuid() != 0)
		log_fatal("master: must be started by root");
	umask(022);

	memset(&settings, 0, sizeof(settings));
	if (master_config_load(config_dir, &settings, &services) < 0)
		log_fatal("master: the configuration in %s has errors",
			  config_dir);
	log_init(settings.syslog_name, "master");
	if (log_set_file(settings.maillog_file, &error) < 0)
		log_warning("master: maillog_file: %s", error);

	ret = master_pid_lock(settings.queue_directory, !test_mode);
	if (ret < 0)
		exit(1);
	if (ret > 0) {
		if (test_mode)
			exit(1);
		log_fatal("the Dovetail mail system is already running");
	}
	if (test_mode)
		exit(0);
	if (chdir("/") < 0)
		log_fatal("master: chdir /: %s", strerror(errno));

	master.loop = event_loop_new();
	signal(SIGPIPE, SIG_IGN);
	if (event_signal_add(master.loop, SIGCHLD, master_on_signal, NULL) <
		0 ||
	    event_signal_add(master.loop, SIGHUP, master_on_signal, NULL) < 0 ||
	    event_signal_add(master.loop, SIGTERM, master_on_signal, NULL) <
		0 ||
	    event_signal_add(master.loop, SIGINT, master_on_signal, NULL) < 0)
		log_fatal("master: signal handlers: %s", strerror(errno));
	if (master_reload_apply(&settings, &services) < 0) {
		(void)unlink(master_pid_path);
		log_fatal("master: could not bind every listener");
	}
	log_info("daemon started -- version %s, configuration %s",
		 DOVETAIL_VERSION, master.settings.config_dir);
	if (!master.foreground)
		master_detach();
	event_loop_run(master.loop);
	master_exit();
}
