/*
 * sock - listening and connecting sockets (TCP over IPv4/IPv6, unix) and a
 * pure parser for listen/connect address specifications.
 */
#ifndef SOCK_H
#define SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SOCK_HOST_MAX 255
#define SOCK_PORT_MAX 32
#define SOCK_PATH_MAX 107 /* sun_path less its NUL */

/* A parsed address: either a unix socket path or a host (empty = all
 * interfaces) and a port (number or service name). */
struct sock_address {
	bool is_unix;
	char host[SOCK_HOST_MAX + 1];
	char port[SOCK_PORT_MAX + 1];
	char path[SOCK_PATH_MAX + 1];
};

/* Parses "host:port", "[v6addr]:port", "*:port", "port" (all interfaces)
 * or "unix:/path". Pure: no I/O, no name lookups. 0, or -1 and *error_r
 * (a static string). */
int sock_parse_address(const char *spec, struct sock_address *addr_r,
		       const char **error_r);

/* Listening TCP socket, non-blocking and close-on-exec, SO_REUSEADDR.
 * host NULL (or "" or "*") listens on all interfaces, IPv6 dual-stack when
 * available, else IPv4. Returns the fd, or -1 and *error_r (valid until
 * the next sock_* call). */
int sock_listen_inet(const char *host, const char *port, int backlog,
		     const char **error_r);
/* Listening unix socket at path with the given mode; a stale socket at
 * path is removed first (any other file type is an error). Non-blocking,
 * close-on-exec. */
int sock_listen_unix(const char *path, mode_t mode, int backlog,
		     const char **error_r);
/* Listens on a parsed address. */
int sock_listen_address(const struct sock_address *addr, int backlog,
			const char **error_r);
/* Connects to a unix socket (blocking fd, close-on-exec). */
int sock_connect_unix(const char *path, const char **error_r);
/* Connects by TCP, trying each address of host in turn, each for at most
 * timeout_ms (0 = no limit). Returns a blocking, close-on-exec fd. */
int sock_connect_inet(const char *host, const char *port, int timeout_ms,
		      const char **error_r);

int sock_set_nonblock(int fd, bool nonblock);
int sock_set_cloexec(int fd, bool cloexec);
/* The peer's numeric address ("127.0.0.1", "::1"; an IPv4-mapped IPv6
 * address is shown as IPv4; "unix" for unix sockets). -1 on error. */
int sock_peer_name(int fd, char *buf, size_t size);
/* The local port of a bound TCP socket, or -1. */
int sock_local_port(int fd);

#endif
