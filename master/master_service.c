/*
 * master_service - one master.cf service as master runs it: its listening
 * socket (bound by master as root, handed to every process of the
 * service), its wakeup timer, and freeing. Trusts master.cf (root-owned);
 * talks only to its own sockets. Must not block: the wakeup connects to a
 * local socket in non-blocking mode and gives up if it is busy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master.h"
#include "util/event.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/xmem.h"

#define MASTER_LISTEN_BACKLOG 128

void
master_service_stop_timers(struct master_svc *service)
{
	if (service->start_timer != NULL)
		event_timer_del(&service->start_timer);
	if (service->wakeup_timer != NULL)
		event_timer_del(&service->wakeup_timer);
}

void
master_service_free(struct master_svc **servicep)
{
	struct master_svc *s = *servicep;

	if (s == NULL)
		return;
	master_service_stop_timers(s);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	xfree(&s->name);
	xfree(&s->address);
	xfree(&s->host);
	xfree(&s->port);
	xfree(&s->path);
	xfree(&s->user);
	xfree(&s->chroot);
	xfree(&s->command);
	for (size_t i = 0; i < s->n_args; i++)
		xfree(&s->args[i]);
	xfree(&s->args);
	for (size_t i = 0; i < s->n_overrides; i++)
		xfree(&s->overrides[i]);
	xfree(&s->overrides);
	xfree(servicep);
}

void
master_service_free_list(struct master_svc **listp)
{
	while (*listp != NULL) {
		struct master_svc *s = *listp;

		*listp = s->next;
		master_service_free(&s);
	}
}

bool
master_service_same_address(const struct master_svc *a,
			    const struct master_svc *b)
{
	bool a_inet = a->type == MASTER_SERVICE_INET;
	bool b_inet = b->type == MASTER_SERVICE_INET;

	return a_inet == b_inet && strcmp(a->address, b->address) == 0;
}

static int
master_service_set_owner(const struct master_svc *service)
{
	mode_t mode = service->private ? 0660 : 0666;

	if (chown(service->path, service->private ? service->uid : 0,
		  service->private ? service->socket_gid : service->gid) < 0 ||
	    chmod(service->path, mode) < 0) {
		log_error("master: service %s: %s: %s", service->name,
			  service->path, strerror(errno));
		return -1;
	}
	return 0;
}

int
master_service_listen(struct master_svc *service, struct master_svc *old)
{
	const char *error;
	int fd;

	if (old != NULL && old->listen_fd >= 0) {
		/* Same address as a running service: share its socket so no
		 * connection attempt is refused during the change. */
		fd = fcntl(old->listen_fd, F_DUPFD_CLOEXEC, 5);
		if (fd < 0) {
			log_error("master: service %s: dup: %s", service->name,
				  strerror(errno));
			return -1;
		}
		service->listen_fd = fd;
		if (service->type != MASTER_SERVICE_INET &&
		    master_service_set_owner(service) < 0) {
			close(fd);
			service->listen_fd = -1;
			return -1;
		}
		return 0;
	}
	if (service->type == MASTER_SERVICE_INET) {
		fd = sock_listen_inet(service->host, service->port,
				      MASTER_LISTEN_BACKLOG, &error);
	} else {
		fd = sock_listen_unix(service->path,
				      service->private ? 0660 : 0666,
				      MASTER_LISTEN_BACKLOG, &error);
	}
	if (fd < 0) {
		log_error("master: service %s: bind %s: %s", service->name,
			  service->address, error);
		return -1;
	}
	if (sock_set_nonblock(fd, true) < 0 || sock_set_cloexec(fd, true) < 0) {
		log_error("master: service %s: fcntl: %s", service->name,
			  strerror(errno));
		close(fd);
		return -1;
	}
	service->listen_fd = fd;
	if (service->type != MASTER_SERVICE_INET &&
	    master_service_set_owner(service) < 0) {
		close(fd);
		service->listen_fd = -1;
		return -1;
	}
	return 0;
}

void
master_service_unlisten(struct master_svc *service, bool unlink_path)
{
	if (service->listen_fd >= 0) {
		close(service->listen_fd);
		service->listen_fd = -1;
	}
	if (unlink_path && service->type != MASTER_SERVICE_INET &&
	    service->path != NULL && unlink(service->path) < 0 &&
	    errno != ENOENT)
		log_warning("master: unlink %s: %s", service->path,
			    strerror(errno));
}

/* Postfix's trigger: connect to the service's socket and write a wake-up
 * request. A busy or dead service simply misses this one. */
static void
master_service_wakeup_cb(void *ctx)
{
	struct master_svc *service = ctx;
	struct sockaddr_un sun;
	int fd;

	if (service->path == NULL ||
	    strlen(service->path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, service->path, strlen(service->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warning("master: wakeup %s: socket: %s", service->name,
			    strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (master.verbose > 0)
			log_debug("master: wakeup %s: connect: %s",
				  service->name, strerror(errno));
	} else if (write(fd, "W\n", 2) != 2 && master.verbose > 0) {
		log_debug("master: wakeup %s: write: %s", service->name,
			  strerror(errno));
	}
	close(fd);
}

void
master_service_start_wakeup(struct master_svc *service)
{
	if (service->wakeup == 0 || service->wakeup_timer != NULL)
		return;
	service->wakeup_timer =
	    event_timer_add(master.loop, service->wakeup * 1000, true,
			    master_service_wakeup_cb, service);
}
