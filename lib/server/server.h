/*
 * server - the daemon skeleton. A daemon's main() fills a struct
 * server_spec and calls server_main(), which owns everything common:
 * options, configuration, logging, the listening socket from master,
 * signals, process recycling (max_use, max_idle) and the fixed privilege
 * sequence: load config, pre_init as root, chroot, drop gid/uid,
 * post_init, event loop.
 *
 * How master starts a child (the contract master/ implements):
 *   <daemon_directory>/<command> -c CONFIG_DIR -n SERVICE -t TYPE
 *        [-u USER[:GROUP]] [-r CHROOT_DIR] [-o name=value ...] [-f] [-v]
 *        [command args from master.cf]
 *   fd 3 (SERVER_LISTEN_FD): the listening socket, non-blocking
 *   fd 4 (SERVER_STATUS_FD): a pipe to master; the child writes one byte
 *        'R' once post_init is done (master uses it to judge a crash loop)
 *   environment DOVETAIL_MASTER=1
 * Run by hand without DOVETAIL_MASTER (e.g. for a test), a listener daemon
 * takes -l ADDRESS (inet host:port, [v6]:port, port or unix:/path, mode
 * 0666) to bind itself; a trigger daemon without -l runs its timer only.
 * -f logs to stderr instead of syslog; -v (repeatable) enables log_debug.
 * max_use (clients accepted) and max_idle (seconds without a client) apply
 * to SERVER_KIND_LISTENER only: the process stops accepting, finishes its
 * clients and exits 0 so master starts a fresh one. The status fd stays
 * open (close-on-exec) after the 'R' byte.
 * Without -u the daemon runs as mail_owner; a root uid or gid after the
 * drop is fatal (only uid is checked when not started as root).
 * SIGTERM: stop accepting, let live sessions finish (at most
 * daemon_shutdown_timeout), exit 0. SIGHUP is ignored by children: master
 * restarts changed services.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct event_loop;
struct worker_pool;

#define SERVER_LISTEN_FD 3
#define SERVER_STATUS_FD 4

enum server_kind {
	/* Many clients per process on the event loop. */
	SERVER_KIND_LISTENER,
	/* A timer/trigger service (qmgr): each connection on the listening
	 * socket is a wake-up whose bytes (up to 1024, read until EOF or for
	 * at most 1 s) are handed to on_trigger; on_timer runs every
	 * spec.timer_interval seconds. SIGTERM exits at once after
	 * on_shutdown. */
	SERVER_KIND_TRIGGER,
};

struct server_spec {
	const char *name; /* daemon name: log prefix, <name>.cf */
	enum server_kind kind;
	/* Runs as root after the configuration is loaded (open files and
	 * sockets that need privileges). May be NULL. */
	void (*pre_init)(void *ctx);
	/* Runs after chroot and the uid drop, before the loop. May be NULL. */
	void (*post_init)(void *ctx);
	/* SERVER_KIND_LISTENER: a new client; fd is non-blocking and owned by
	 * the callee, which must call server_client_done() when it closes
	 * the connection (for max_use and graceful shutdown accounting). */
	void (*on_connect)(int fd, void *ctx);
	/* SERVER_KIND_TRIGGER: wake-up request bytes (may be NULL). */
	void (*on_trigger)(const char *data, size_t len, void *ctx);
	/* SERVER_KIND_TRIGGER: periodic work, every timer_interval s. */
	void (*on_timer)(void *ctx);
	unsigned int timer_interval;
	/* Called when SIGTERM asks the process to stop; live sessions may be
	 * told to finish. May be NULL. */
	void (*on_shutdown)(void *ctx);
	/* SERVER_KIND_LISTENER: max_use does not apply. For services whose
	 * clients live long (IMAP/POP3 sessions, TLS proxies of the login
	 * processes): a process that stopped accepting would wait for them
	 * while master, at maxproc, could start no replacement. */
	bool no_max_use;
	/* Threads in the worker pool (0 = use worker_threads parameter). */
	unsigned int worker_threads;
	void *ctx;
};

/* Never returns. */
void server_main(int argc, char **argv, const struct server_spec *spec)
	__attribute__((noreturn));

/* The loop and worker pool of this process (valid from post_init on). */
struct event_loop *server_loop(void);
struct worker_pool *server_workers(void);
/* The service name from master.cf (-n), or the daemon name. */
const char *server_service_name(void);
/* The service type from master.cf (-t: "inet", "unix", ...), or NULL. */
const char *server_service_type(void);
/* The command arguments after the options (from master.cf); *argc_r gets
 * their number. The array belongs to the process (argv). */
char **server_argv(int *argc_r);
/* A client finished; counts towards max_use. */
void server_client_done(void);
/* True once SIGTERM arrived. */
bool server_stopping(void);

#endif
