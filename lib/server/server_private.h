/*
 * server_private - state shared by server.c (options, configuration,
 * privileges, main) and server_listen.c (accepting clients and triggers,
 * process recycling, graceful shutdown). Not for daemons.
 */
#ifndef SERVER_PRIVATE_H
#define SERVER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "server/server.h"

struct event_io;
struct event_timer;

struct server_state {
	const struct server_spec *spec;
	struct event_loop *loop;
	struct worker_pool *workers;

	/* Options. */
	const char *config_dir;
	const char *service;
	const char *type;
	const char *user;
	const char *chroot_dir;
	const char *listen_addr;
	char **overrides;
	size_t n_overrides;
	char **args;
	int n_args;
	bool foreground;
	int verbose;

	/* Limits from the configuration (0 = none). */
	unsigned long long max_use;
	unsigned long long max_idle_ms;

	int listen_fd; /* -1: none */
	struct event_io *listen_io;
	struct event_timer *idle_timer;
	struct event_timer *shutdown_timer;
	struct event_timer *periodic_timer;
	struct event_timer *accept_retry_timer;

	unsigned long long accepted; /* clients handed to on_connect */
	unsigned long long live;     /* clients not yet server_client_done() */
	unsigned int triggers;	     /* trigger connections being read */
	bool stopping;		     /* SIGTERM */
	bool recycling;		     /* max_use reached */
};

extern struct server_state server_state;

/* Starts watching the listening socket (and the trigger timer). */
void server_listen_start(void);
/* Stops accepting and closes the listening socket. */
void server_listen_stop(void);
/* SIGTERM handling: stop accepting, on_shutdown, exit when idle. */
void server_begin_shutdown(void);

#endif
