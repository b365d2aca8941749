/*
 * master - internal interfaces of the supervisor: the service table built
 * from master.cf, the child processes, the status file and reload. Only
 * master/ includes this header. Master runs as root; everything it reads
 * (main.cf, master.cf, per-daemon files) is the admin's, and it never
 * parses data from the network.
 */
#ifndef MASTER_H
#define MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mail/master_cf.h"

struct event_loop;
struct event_io;
struct event_timer;

/* What master keeps of the catalog after a successful load: a reload
 * that fails must not leave master with half a configuration. */
struct master_settings {
	char *config_dir;
	char *queue_directory;
	char *daemon_directory;
	char *mail_owner;
	char *inet_interfaces;
	char *syslog_name;
	char *maillog_file;
	unsigned int default_process_limit; /* resolved: never 0 */
	unsigned int throttle_time;	    /* seconds */
	unsigned int shutdown_timeout;	    /* seconds */
};

struct master_svc;

struct master_proc {
	struct master_proc *next;
	struct master_svc *service;
	pid_t pid;
	int status_fd; /* read end of the status pipe; -1 once closed */
	struct event_io *status_io;
	bool ready;    /* wrote 'R' */
	bool stopping; /* SIGTERM sent: no longer counts for maxproc */
	uint64_t started_ms;
};

struct master_svc {
	struct master_svc *next;
	char *name;
	enum master_service_type type;
	char *address; /* "host:port" or the socket path; printable */
	char *host;    /* inet: NULL = every interface */
	char *port;
	char *path; /* unix/pass socket path */
	bool private;
	char *user; /* user[:group] for the child's -u */
	uid_t uid;
	gid_t gid;
	/* Group of a private socket: mail_owner's primary group, so every
	 * daemon of the mail system can connect whatever user it runs as. */
	gid_t socket_gid;
	char *chroot; /* NULL = none */
	unsigned int wakeup;
	unsigned int maxproc; /* resolved: never 0 */
	char *command;	      /* absolute path of the program */
	char **args;
	size_t n_args;
	char **overrides; /* "name=value" */
	size_t n_overrides;
	uint64_t fingerprint[2];
	unsigned int cf_line;

	int listen_fd;
	unsigned int n_procs; /* live, not stopping */
	bool retired; /* removed by a reload; freed with its last proc */
	unsigned int failures;
	uint64_t last_failure_ms;
	bool throttled;
	struct event_timer *start_timer;
	struct event_timer *wakeup_timer;
};

struct master {
	struct event_loop *loop;
	struct master_settings settings;
	struct master_svc *services;
	struct master_proc *procs;
	bool foreground;
	int verbose;
	bool stopping;
	struct event_timer *kill_timer;
};

extern struct master master;

/* master_config.c */
/* Loads main.cf, every service's daemon file with its -o overrides, and
 * master.cf into settings and a new service list (not yet bound). Every
 * problem is logged; -1 if there was any error. */
int master_config_load(const char *config_dir, struct master_settings *set_r,
		       struct master_svc **services_r);
void master_settings_free(struct master_settings *set);

/* master_service.c */
void master_service_free(struct master_svc **servicep);
void master_service_free_list(struct master_svc **listp);
/* True when a and b listen on the same address. */
bool master_service_same_address(const struct master_svc *a,
				 const struct master_svc *b);
/* Binds the service's listener, or takes over a copy of the listener of
 * an old service with the same address (old may be NULL). -1 on error
 * (logged). */
int master_service_listen(struct master_svc *service, struct master_svc *old);
/* Closes the listener; unlink removes a unix socket file too. */
void master_service_unlisten(struct master_svc *service, bool unlink_path);
/* Starts the wakeup timer (if the service has one). */
void master_service_start_wakeup(struct master_svc *service);
void master_service_stop_timers(struct master_svc *service);

/* master_spawn.c */
/* Starts processes until the service has maxproc, unless throttled. */
void master_spawn_fill(struct master_svc *service);
/* Sends SIGTERM to every live process of service and marks them
 * stopping. */
void master_spawn_stop_service(struct master_svc *service);
/* Reaps every exited child (SIGCHLD). */
void master_spawn_reap(void);
/* Signals every child. */
void master_spawn_signal_all(int signo);
unsigned int master_spawn_count(void);

/* master_status.c */
/* Rewrites $queue_directory/pid/master.status (atomically). */
void master_status_update(void);
void master_status_remove(void);

/* master_reload.c */
/* Applies a new configuration: starts, stops or restarts services whose
 * fingerprint changed. Returns -1 (and changes nothing) if a listener
 * could not be bound. Consumes services on success. */
int master_reload_apply(struct master_settings *settings,
			struct master_svc **servicesp);
/* SIGHUP: re-read everything and apply; a bad config is refused. */
void master_reload(void);

#endif
