/*
 * server - server_main(): the fixed start-up sequence every daemon shares.
 * Options (from master or a person), configuration, logging, the
 * listening socket (fd 3 from master, or -l when run by hand), pre_init as
 * root, chroot, the uid/gid drop, post_init, the ready byte to master and
 * the event loop. Trusts its command line and root-owned configuration
 * only as far as config_load() does; must never keep running as root and
 * must never serve a client before the privilege drop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dovetail_paths.h"
#include "mail/config.h"
#include "mail/mail_params.h"
#include "server/server_private.h"
#include "server/worker.h"
#include "util/event.h"
#include "util/log.h"
#include "util/priv.h"
#include "util/sock.h"
#include "util/xmem.h"

#define SERVER_BACKLOG 511
#define SERVER_MAX_OVERRIDES 256

struct server_state server_state = {.listen_fd = -1};

struct event_loop *
server_loop(void)
{
	return server_state.loop;
}

struct worker_pool *
server_workers(void)
{
	return server_state.workers;
}

const char *
server_service_name(void)
{
	if (server_state.service != NULL)
		return server_state.service;
	return server_state.spec != NULL ? server_state.spec->name : "dovetail";
}

const char *
server_service_type(void)
{
	return server_state.type;
}

char **
server_argv(int *argc_r)
{
	*argc_r = server_state.n_args;
	return server_state.args;
}

bool
server_stopping(void)
{
	return server_state.stopping;
}

static void __attribute__((noreturn)) server_usage(const char *name)
{
	log_fatal("usage: %s [-c config_dir] [-n service] [-t type] "
		  "[-u user[:group]] [-r chroot_dir] [-o name=value ...] "
		  "[-l address] [-f] [-v] [args ...]",
		  name);
}

static void
server_parse_options(int argc, char **argv)
{
	struct server_state *st = &server_state;
	int c;

	st->config_dir = DOVETAIL_CONFIG_DIR;
	opterr = 0;
	/* "+": stop at the first non-option; the rest are service args. */
	while ((c = getopt(argc, argv, "+c:n:t:u:r:o:l:fv")) != -1) {
		switch (c) {
		case 'c':
			st->config_dir = optarg;
			break;
		case 'n':
			st->service = optarg;
			break;
		case 't':
			st->type = optarg;
			break;
		case 'u':
			st->user = optarg;
			break;
		case 'r':
			st->chroot_dir = optarg;
			break;
		case 'o':
			if (strchr(optarg, '=') == NULL)
				log_fatal("server: -o %s: expected name=value",
					  optarg);
			if (st->n_overrides >= SERVER_MAX_OVERRIDES)
				log_fatal("server: more than %d -o options",
					  SERVER_MAX_OVERRIDES);
			st->overrides = xreallocarray(
			    st->overrides, st->n_overrides + 1, sizeof(char *));
			st->overrides[st->n_overrides++] = optarg;
			break;
		case 'l':
			st->listen_addr = optarg;
			break;
		case 'f':
			st->foreground = true;
			break;
		case 'v':
			st->verbose++;
			break;
		default:
			server_usage(argv[0]);
		}
	}
	st->args = argv + optind;
	st->n_args = argc - optind;
}

/* Accept would hand out fd 0-2 if they were closed, and a stray
 * printf would then write to a client. */
static void
server_sanitize_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			log_fatal("server: cannot open /dev/null as fd %d", fd);
	}
}

static void
server_load_config(void)
{
	struct server_state *st = &server_state;
	struct config_report report = {0};
	const char *error;
	int ret;

	ret = config_load(st->config_dir, st->spec->name, st->overrides,
			  st->n_overrides, &report);
	config_report_log(&report);
	config_report_free(&report);
	if (ret < 0)
		log_fatal("server: %s: configuration errors", st->config_dir);

	log_init(var_syslog_name, server_service_name());
	if (var_maillog_file != NULL && var_maillog_file[0] != '\0' &&
	    log_set_file(var_maillog_file, &error) < 0)
		log_fatal("server: maillog_file %s: %s", var_maillog_file,
			  error);

	st->max_use = var_max_use > 0 && !st->spec->no_max_use
			  ? (unsigned long long)var_max_use
			  : 0;
	st->max_idle_ms =
	    var_max_idle > 0 ? (unsigned long long)var_max_idle * 1000 : 0;
}

/* -l ADDRESS: "unix:/path", "[v6]:port", "host:port", "*:port", "port". */
static int
server_listen_address(const char *spec, const char **error_r)
{
	struct sock_address addr;

	if (sock_parse_address(spec, &addr, error_r) < 0)
		return -1;
	return sock_listen_address(&addr, SERVER_BACKLOG, error_r);
}

static bool
server_fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void
server_open_sockets(bool from_master)
{
	struct server_state *st = &server_state;
	const char *error;
	int fd;

	if (from_master) {
		if (!server_fd_is_open(SERVER_LISTEN_FD))
			log_fatal("server: started by master without a "
				  "listening socket on fd %d",
				  SERVER_LISTEN_FD);
		fd = SERVER_LISTEN_FD;
	} else if (st->listen_addr != NULL) {
		fd = server_listen_address(st->listen_addr, &error);
		if (fd < 0)
			log_fatal("server: listen on %s: %s", st->listen_addr,
				  error);
	} else if (st->spec->kind == SERVER_KIND_LISTENER) {
		log_fatal("server: not started by master: use -l ADDRESS");
	} else {
		/* A trigger service run by hand may live on its timer alone. */
		return;
	}
	if (sock_set_nonblock(fd, true) < 0)
		log_fatal("server: listening socket: O_NONBLOCK: %s",
			  strerror(errno));
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		log_fatal("server: listening socket: FD_CLOEXEC: %s",
			  strerror(errno));
	st->listen_fd = fd;
}

/* The user part of "user[:group]", for initgroups(). */
static char *
server_user_name(const char *spec)
{
	const char *colon = strchr(spec, ':');

	return colon == NULL ? xstrdup(spec)
			     : xstrndup(spec, (size_t)(colon - spec));
}

static void
server_drop_privileges(void)
{
	struct server_state *st = &server_state;
	const char *spec = st->user, *error;
	char *name;
	uid_t uid;
	gid_t gid;

	if (spec == NULL)
		spec = var_mail_owner;
	if (geteuid() == 0) {
		if (spec == NULL || spec[0] == '\0')
			log_fatal("server: no user to run as "
				  "(-u or mail_owner)");
		/* Look up before chroot: the passwd file is outside it. */
		if (priv_lookup_user(spec, &uid, &gid, &error) < 0)
			log_fatal("server: user %s: %s", spec, error);
		if (st->chroot_dir != NULL &&
		    priv_chroot(st->chroot_dir, &error) < 0)
			log_fatal("server: chroot %s: %s", st->chroot_dir,
				  error);
		name = server_user_name(spec);
		if (priv_drop(uid, gid, name, &error) < 0)
			log_fatal("server: drop privileges to %s: %s", spec,
				  error);
		xfree(&name);
		if (getuid() == 0 || geteuid() == 0)
			log_fatal("server: %s: must not run as root", spec);
		if (getgid() == 0 || getegid() == 0)
			log_fatal("server: %s: must not run with group root",
				  spec);
	} else {
		/* Run by hand as an ordinary user: nothing to drop. */
		if (st->user != NULL)
			log_warning("server: not root: ignoring -u %s",
				    st->user);
		if (st->chroot_dir != NULL &&
		    priv_chroot(st->chroot_dir, &error) < 0)
			log_fatal("server: chroot %s: %s", st->chroot_dir,
				  error);
	}
	if (getuid() == 0 || geteuid() == 0)
		log_fatal("server: must not run as root");
}

static void
server_on_sigterm(void *ctx, int signo)
{
	(void)ctx;
	log_debug("server: signal %d: shutting down", signo);
	server_begin_shutdown();
}

static void
server_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		log_fatal("server: sigaction: %s", strerror(errno));
	if (event_signal_add(server_state.loop, SIGTERM, server_on_sigterm,
			     NULL) < 0)
		log_fatal("server: SIGTERM handler: %s", strerror(errno));
}

/* Tells master that start-up worked (it judges crash loops by this). */
static void
server_report_ready(bool from_master)
{
	static const char ready = 'R';
	ssize_t n;

	if (!from_master || !server_fd_is_open(SERVER_STATUS_FD))
		return;
	(void)fcntl(SERVER_STATUS_FD, F_SETFD, FD_CLOEXEC);
	do {
		n = write(SERVER_STATUS_FD, &ready, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 1)
		log_warning("server: status fd %d: %s", SERVER_STATUS_FD,
			    n < 0 ? strerror(errno) : "short write");
}

void
server_main(int argc, char **argv, const struct server_spec *spec)
{
	struct server_state *st = &server_state;
	const char *env = getenv("DOVETAIL_MASTER");
	bool from_master = env != NULL && strcmp(env, "1") == 0;
	unsigned int threads;

	if (spec == NULL || spec->name == NULL)
		log_panic("server_main: no spec");
	if (spec->kind == SERVER_KIND_LISTENER && spec->on_connect == NULL)
		log_panic("server_main: %s: listener without on_connect",
			  spec->name);
	st->spec = spec;
	log_init("dovetail", spec->name);
	server_sanitize_fds();
	server_parse_options(argc, argv);
	if (st->foreground) {
		log_set_stderr(true);
		log_set_syslog(false);
	}
	log_set_verbose(st->verbose);
	log_init("dovetail", server_service_name());

	server_load_config();
	server_open_sockets(from_master);

	st->loop = event_loop_new();
	server_signals();
	if (spec->pre_init != NULL)
		spec->pre_init(spec->ctx);
	server_drop_privileges();

	/* The catalog bounds worker_threads to 1..1024. */
	threads = spec->worker_threads;
	if (threads == 0 && var_worker_threads > 0 &&
	    var_worker_threads <= 1024)
		threads = (unsigned int)var_worker_threads;
	st->workers = worker_pool_new(st->loop, threads);
	if (spec->post_init != NULL)
		spec->post_init(spec->ctx);
	server_report_ready(from_master);
	log_debug("server: %s ready (max_use %llu, max_idle %llu ms)",
		  server_service_name(), st->max_use, st->max_idle_ms);

	server_listen_start();
	event_loop_run(st->loop);

	worker_pool_free(&st->workers);
	log_debug("server: %s exiting", server_service_name());
	exit(0);
}
