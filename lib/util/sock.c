/*
 * sock - socket set-up. The address parser takes configuration text (a
 * trusted admin, but checked strictly and bounded); the rest makes system
 * calls and never reads from the network.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/sock.h"

static char sock_error_buf[512];

static const char *
sock_error(const char *func, const char *object, const char *detail)
{
	snprintf(sock_error_buf, sizeof(sock_error_buf), "%s: %s: %s", func,
		 object, detail);
	return sock_error_buf;
}

static bool
sock_valid_port(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len > SOCK_PORT_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			return false;
	}
	if (p[0] >= '0' && p[0] <= '9') {
		unsigned long v = 0;

		for (i = 0; i < len; i++) {
			if (p[i] < '0' || p[i] > '9')
				return false;
			v = v * 10 + (unsigned long)(p[i] - '0');
			if (v > 65535)
				return false;
		}
	}
	return true;
}

static bool
sock_valid_host(const char *h, size_t len, bool bracketed)
{
	size_t i;

	if (len == 0 || len > SOCK_HOST_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = h[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
		    (bracketed && (c == ':' || c == '%')))
			continue;
		return false;
	}
	return true;
}

int
sock_parse_address(const char *spec, struct sock_address *addr_r,
		   const char **error_r)
{
	const char *host, *port, *p;
	size_t host_len, port_len;
	bool bracketed = false;

	memset(addr_r, 0, sizeof(*addr_r));
	if (strncmp(spec, "unix:", 5) == 0) {
		size_t len = strlen(spec + 5);

		if (spec[5] != '/') {
			*error_r = "unix socket path must be absolute";
			return -1;
		}
		if (len > SOCK_PATH_MAX) {
			*error_r = "unix socket path too long";
			return -1;
		}
		addr_r->is_unix = true;
		memcpy(addr_r->path, spec + 5, len + 1);
		return 0;
	}
	if (spec[0] == '[') {
		p = strchr(spec, ']');
		if (p == NULL || p[1] != ':') {
			*error_r = "expected [address]:port";
			return -1;
		}
		host = spec + 1;
		host_len = (size_t)(p - host);
		port = p + 2;
		bracketed = true;
	} else if ((p = strrchr(spec, ':')) != NULL) {
		if (memchr(spec, ':', (size_t)(p - spec)) != NULL) {
			*error_r = "IPv6 address must be in brackets";
			return -1;
		}
		host = spec;
		host_len = (size_t)(p - spec);
		port = p + 1;
		if (host_len == 0) {
			*error_r = "empty host (use \"port\" or \"*:port\")";
			return -1;
		}
	} else {
		host = "";
		host_len = 0;
		port = spec;
	}
	port_len = strlen(port);
	if (!sock_valid_port(port, port_len)) {
		*error_r = "invalid port";
		return -1;
	}
	if (host_len == 1 && host[0] == '*' && !bracketed)
		host_len = 0;
	else if ((host_len > 0 || bracketed) &&
		 !sock_valid_host(host, host_len, bracketed)) {
		*error_r = "invalid host";
		return -1;
	}
	memcpy(addr_r->host, host, host_len);
	addr_r->host[host_len] = '\0';
	memcpy(addr_r->port, port, port_len + 1);
	return 0;
}

int
sock_set_nonblock(int fd, bool nonblock)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = nonblock ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl);
}

int
sock_set_cloexec(int fd, bool cloexec)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -1;
	fl = cloexec ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return fcntl(fd, F_SETFD, fl);
}

static int
sock_bind_listen(const struct addrinfo *ai, int backlog, bool dual)
{
	int fd, one = 1, zero = 0, saved;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one,
		       sizeof(one)) < 0)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
sock_listen_inet(const char *host, const char *port, int backlog,
		 const char **error_r)
{
	struct addrinfo hints, *res, *ai;
	bool any = host == NULL || host[0] == '\0' || strcmp(host, "*") == 0;
	int fd = -1, r, family;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | (any ? 0 : AI_ADDRCONFIG);
	/* All interfaces: one dual-stack IPv6 socket, else plain IPv4. */
	for (family = any ? AF_INET6 : AF_UNSPEC;;) {
		hints.ai_family = family;
		r = getaddrinfo(any ? NULL : host, port, &hints, &res);
		if (r != 0) {
			if (family == AF_INET6)
				goto next;
			*error_r =
			    sock_error("sock_listen_inet", any ? port : host,
				       gai_strerror(r));
			return -1;
		}
		errno = 0;
		for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
			fd = sock_bind_listen(ai, backlog, any);
		freeaddrinfo(res);
		if (fd >= 0)
			return fd;
	next:
		if (family != AF_INET6)
			break;
		family = AF_INET;
	}
	*error_r = sock_error("sock_listen_inet", any ? port : host,
			      errno != 0 ? strerror(errno) : "no address");
	return -1;
}

static int
sock_unix_addr(const char *path, struct sockaddr_un *sun, const char *func,
	       const char **error_r)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(sun->sun_path)) {
		*error_r = sock_error(func, path, "path too long or empty");
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

int
sock_listen_unix(const char *path, mode_t mode, int backlog,
		 const char **error_r)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	if (sock_unix_addr(path, &sun, "sock_listen_unix", error_r) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*error_r = sock_error("sock_listen_unix", path,
					      "exists and is not a socket");
			return -1;
		}
		if (unlink(path) < 0) {
			*error_r = sock_error("sock_listen_unix", path,
					      strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r =
		    sock_error("sock_listen_unix", path, strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, mode) < 0 || listen(fd, backlog) < 0) {
		*error_r =
		    sock_error("sock_listen_unix", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
sock_listen_address(const struct sock_address *addr, int backlog,
		    const char **error_r)
{
	if (addr->is_unix)
		return sock_listen_unix(addr->path, 0666, backlog, error_r);
	return sock_listen_inet(addr->host, addr->port, backlog, error_r);
}

int
sock_connect_unix(const char *path, const char **error_r)
{
	struct sockaddr_un sun;
	int fd;

	if (sock_unix_addr(path, &sun, "sock_connect_unix", error_r) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r =
		    sock_error("sock_connect_unix", path, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*error_r =
		    sock_error("sock_connect_unix", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
sock_connect_one(const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, r;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			r = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : -1);
		} while (r < 0 && errno == EINTR);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	if (sock_set_nonblock(fd, false) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int
sock_connect_inet(const char *host, const char *port, int timeout_ms,
		  const char **error_r)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		*error_r =
		    sock_error("sock_connect_inet", host, gai_strerror(r));
		return -1;
	}
	errno = 0;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = sock_connect_one(ai, timeout_ms);
	if (fd < 0)
		*error_r =
		    sock_error("sock_connect_inet", host,
			       errno != 0 ? strerror(errno) : "no address");
	freeaddrinfo(res);
	return fd;
}

int
sock_peer_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&ss;

		return inet_ntop(AF_INET, &sin->sin_addr, buf, size) != NULL
			   ? 0
			   : -1;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&ss;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12],
					 buf, size) != NULL
				   ? 0
				   : -1;
		return inet_ntop(AF_INET6, &sin6->sin6_addr, buf, size) != NULL
			   ? 0
			   : -1;
	}
	if (ss.ss_family == AF_UNIX && size >= 5) {
		memcpy(buf, "unix", 5);
		return 0;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

int
sock_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(
		    ((const struct sockaddr_in *)(void *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)(void *)&ss)->sin6_port);
	return -1;
}
