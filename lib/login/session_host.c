/*
 * session_host - the post-auth process of imapd and pop3d (see
 * session_host.h). The loop thread accepts connections from the login
 * processes on the private socket, reads one handoff each (bounded, see
 * mail/login_handoff.h), looks the user up in the userdb and starts a
 * session thread. The handoff comes from mail_owner (checked by peer
 * uid); the userdb answer from our auth daemon; both are still parsed
 * with limits. The client's bytes are only ever read by the session
 * threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dovetail_paths.h"
#include "login/session_host.h"
#include "mail/auth_client.h"
#include "mail/config.h"
#include "mail/mail_params.h"
#include "server/server.h"
#include "util/event.h"
#include "util/log.h"
#include "util/priv.h"
#include "util/xmem.h"

/* A handoff must arrive this soon after the login process connected. */
#define SESSION_HANDOFF_TIMEOUT_MS 10000

static const struct session_host_spec *host_spec;
static uid_t host_login_uid = (uid_t)-1;
static int host_stop_fd = -1;
static volatile bool host_stopping;
static int host_done_pipe[2] = {-1, -1};
static struct event_io *host_done_io;

/* Connections per (user, remote IP), for mail_max_userip_connections. */
struct userip {
	struct userip *next;
	char *user;
	char rip[64];
	unsigned int count;
};
static pthread_mutex_t userip_lock = PTHREAD_MUTEX_INITIALIZER;
static struct userip *userip_list;

/* A connection from a login process until its session thread starts. */
struct pending {
	int fd;
	struct event_io *io;
	struct event_timer *timer;
	struct login_handoff_reader reader;
	struct session *s;
};

static bool
userip_acquire(const char *user, const char *rip)
{
	struct userip *u;
	bool ok = true;

	pthread_mutex_lock(&userip_lock);
	for (u = userip_list; u != NULL; u = u->next) {
		if (strcmp(u->user, user) == 0 && strcmp(u->rip, rip) == 0)
			break;
	}
	if (u == NULL) {
		u = xcalloc(1, sizeof(*u));
		u->user = xstrdup(user);
		snprintf(u->rip, sizeof(u->rip), "%s", rip);
		u->next = userip_list;
		userip_list = u;
	}
	if (var_mail_max_userip_connections > 0 &&
	    u->count >= (unsigned long long)var_mail_max_userip_connections)
		ok = false;
	else
		u->count++;
	pthread_mutex_unlock(&userip_lock);
	return ok;
}

static void
userip_release(const char *user, const char *rip)
{
	struct userip **up, *u;

	pthread_mutex_lock(&userip_lock);
	for (up = &userip_list; (u = *up) != NULL; up = &u->next) {
		if (strcmp(u->user, user) != 0 || strcmp(u->rip, rip) != 0)
			continue;
		if (--u->count == 0) {
			*up = u->next;
			xfree(&u->user);
			xfree(&u);
		}
		break;
	}
	pthread_mutex_unlock(&userip_lock);
}

bool
session_host_stopping(void)
{
	return host_stopping;
}

int
session_host_stop_fd(void)
{
	return host_stop_fd;
}

static void
session_free(struct session **sp)
{
	struct session *s = *sp;

	if (s == NULL)
		return;
	if (s->in_fd >= 0)
		close(s->in_fd);
	if (s->out_fd >= 0 && s->out_fd != s->in_fd)
		close(s->out_fd);
	xfree(&s->user.name);
	xfree(&s->user.home);
	xfree(&s->user.quota_rule);
	mail_location_clear(&s->user.loc);
	if (s->user.fields != NULL) {
		for (char **f = s->user.fields; *f != NULL; f++)
			xfree(f);
		xfree(&s->user.fields);
	}
	xfree(sp);
}

/* The uid/gid a userdb field names (number or user name). */
static int
session_id(const char *spec, bool group, unsigned long *id_r)
{
	char *end;
	unsigned long v;
	uid_t uid;
	gid_t gid;
	const char *error;

	errno = 0;
	v = strtoul(spec, &end, 10);
	if (errno == 0 && *end == '\0' && end != spec) {
		*id_r = v;
		return 0;
	}
	if (group) {
		/* "user:group" resolves the group for us */
		char *both = xasprintf("root:%s", spec);
		int ret = priv_lookup_user(both, &uid, &gid, &error);

		xfree(&both);
		if (ret < 0)
			return -1;
		*id_r = gid;
		return 0;
	}
	if (priv_lookup_user(spec, &uid, &gid, &error) < 0)
		return -1;
	*id_r = uid;
	return 0;
}

/* Fills s->user from the userdb fields (or none in preauth mode) and
 * decides whether the session may start. */
static void
session_setup_user(struct session *s, const char *user, char *const *fields,
		   size_t n_fields)
{
	struct session_user *u = &s->user;
	const char *mail = NULL, *uid = var_mail_uid, *gid = var_mail_gid;
	const char *error;
	unsigned long id;

	u->name = xstrdup(user);
	u->fields = xcalloc(n_fields + 1, sizeof(char *));
	for (size_t i = 0; i < n_fields; i++) {
		const char *f = fields[i];

		u->fields[i] = xstrdup(f);
		if (strncmp(f, "home=", 5) == 0) {
			xfree(&u->home);
			u->home = xstrdup(f + 5);
		} else if (strncmp(f, "mail=", 5) == 0)
			mail = f + 5;
		else if (strncmp(f, "uid=", 4) == 0)
			uid = f + 4;
		else if (strncmp(f, "gid=", 4) == 0)
			gid = f + 4;
		else if (strncmp(f, "quota_rule=", 11) == 0) {
			xfree(&u->quota_rule);
			u->quota_rule = xstrdup(f + 11);
		}
	}
	u->uid = geteuid();
	u->gid = getegid();
	if (mail == NULL || mail[0] == '\0')
		mail = var_mail_location;
	if (mail_location_parse(mail, u->name, u->home, &u->loc, &error) < 0) {
		log_error("%s(%s): mail_location %s: %s", host_spec->service,
			  u->name, mail, error);
		s->refuse = "Internal error occurred. Refer to server log for "
			    "more information.";
		s->refuse_temp = true;
		return;
	}
	/* Like lmtpd, a session never changes uid: the user's mail must
	 * belong to this process's uid. */
	if (uid != NULL && uid[0] != '\0') {
		if (session_id(uid, false, &id) < 0 || id != (unsigned long)u->uid) {
			log_error("%s(%s): userdb uid %s is not this process's "
				  "uid %ld (run the session service as that "
				  "user; sessions never change uid)",
				  host_spec->service, u->name, uid,
				  (long)u->uid);
			s->refuse = "Internal error occurred. Refer to server "
				    "log for more information.";
			s->refuse_temp = true;
			return;
		}
	}
	if (gid != NULL && gid[0] != '\0' &&
	    (session_id(gid, true, &id) < 0 || id != (unsigned long)u->gid))
		/* Expected: the service runs with mail_owner's group so the
		 * login processes can reach its socket. */
		log_debug("%s(%s): userdb gid %s is not this process's gid "
			  "%ld; continuing with %ld",
			  host_spec->service, u->name, gid, (long)u->gid,
			  (long)u->gid);
}

static void *
session_thread(void *arg)
{
	struct session *s = arg;
	bool counted = false;
	char done = 'D';

	if (s->refuse == NULL) {
		if (userip_acquire(s->user.name, s->info.rip))
			counted = true;
		else
			s->refuse = "Maximum number of connections from user+IP "
				    "exceeded (mail_max_userip_connections)";
	}
	host_spec->run(s);
	if (counted)
		userip_release(s->user.name, s->info.rip);
	session_free(&s);
	if (write(host_done_pipe[1], &done, 1) < 0)
		log_warning("%s: session end notification: %s",
			    host_spec->name, strerror(errno));
	return NULL;
}

static void
session_start(struct session *s)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, (size_t)var_session_thread_stack);
	/* Signals stay with the loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&tid, &attr, session_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret != 0) {
		log_error("%s: cannot start a session thread: %s",
			  host_spec->name, strerror(ret));
		session_free(&s);
		server_client_done();
	}
}

static void
session_done_read(void *ctx, int fd, unsigned int events)
{
	char buf[64];
	ssize_t n;

	(void)ctx;
	(void)events;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			server_client_done();
	}
}

static void
pending_free(struct pending **pp, bool done)
{
	struct pending *p = *pp;

	event_io_del(&p->io);
	event_timer_del(&p->timer);
	login_handoff_reader_clear(&p->reader);
	if (p->fd >= 0)
		close(p->fd);
	session_free(&p->s);
	xfree(pp);
	if (done)
		server_client_done();
}

static void
pending_userdb_done(enum auth_client_status status, const char *user,
		    char *const *fields, size_t n_fields, void *ctx)
{
	struct pending *p = ctx;
	struct session *s = p->s;

	if (status == AUTH_CLIENT_OK) {
		session_setup_user(s, user != NULL && user[0] != '\0'
					  ? user
					  : s->info.user,
				   fields, n_fields);
	} else {
		s->user.name = xstrdup(s->info.user);
		if (status == AUTH_CLIENT_FAIL) {
			log_error("%s(%s): user not found from userdb",
				  host_spec->service, s->info.user);
			s->refuse = "Internal error occurred. Refer to server "
				    "log for more information.";
		} else {
			log_error("%s(%s): userdb lookup failed",
				  host_spec->service, s->info.user);
			s->refuse = "Temporary internal error, try again "
				    "later.";
		}
		s->refuse_temp = true;
	}
	p->s = NULL;
	pending_free(&p, false);
	session_start(s);
}

static void
pending_timeout(void *ctx)
{
	struct pending *p = ctx;

	log_warning("%s: login process sent no handoff in %d s",
		    host_spec->name, SESSION_HANDOFF_TIMEOUT_MS / 1000);
	pending_free(&p, true);
}

static void
pending_read(void *ctx, int fd, unsigned int events)
{
	struct pending *p = ctx;
	struct session *s;
	const char *error;
	int client_fd, ret, flags;

	(void)events;
	s = xcalloc(1, sizeof(*s));
	s->in_fd = s->out_fd = -1;
	ret = login_handoff_read(fd, &p->reader, &s->info, &client_fd, &error);
	if (ret == 0) {
		xfree(&s);
		return;
	}
	if (ret < 0) {
		log_warning("%s: from login process: %s", host_spec->name,
			    error);
		xfree(&s);
		pending_free(&p, true);
		return;
	}
	/* Sessions do blocking I/O with poll() deadlines. */
	flags = fcntl(client_fd, F_GETFL);
	if (flags >= 0)
		(void)fcntl(client_fd, F_SETFL, flags & ~O_NONBLOCK);
	(void)fcntl(client_fd, F_SETFD, FD_CLOEXEC);
	s->in_fd = s->out_fd = client_fd;
	s->pending = (const char *)s->info.input;
	s->pending_len = s->info.input_len;
	s->tag = s->info.tag;
	p->s = s;
	event_io_del(&p->io);
	event_timer_del(&p->timer);
	close(p->fd);
	p->fd = -1;
	auth_client_userdb_lookup(server_loop(), var_auth_socket_path,
				  s->info.user, host_spec->service,
				  (unsigned int)var_lmtp_user_lookup_timeout *
				      1000,
				  pending_userdb_done, p);
}

static void
host_on_connect(int fd, void *ctx)
{
	struct pending *p;
	uid_t peer;

	(void)ctx;
	if (login_handoff_peer_uid(fd, &peer) < 0 ||
	    (peer != host_login_uid && peer != geteuid())) {
		log_warning("%s: handoff connection from uid %ld refused "
			    "(only mail_owner's login processes may hand off)",
			    host_spec->name, (long)peer);
		close(fd);
		server_client_done();
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	login_handoff_reader_init(&p->reader);
	p->io = event_io_add(server_loop(), fd, EVENT_READ, pending_read, p);
	p->timer = event_timer_add(server_loop(), SESSION_HANDOFF_TIMEOUT_MS, false,
				   pending_timeout, p);
}

static void
host_pre_init(void *ctx)
{
	const char *error;
	gid_t gid;

	(void)ctx;
	if (var_mail_owner != NULL && var_mail_owner[0] != '\0' &&
	    priv_lookup_user(var_mail_owner, &host_login_uid, &gid, &error) <
		0)
		log_fatal("%s: mail_owner %s: %s", host_spec->name,
			  var_mail_owner, error);
	if (host_spec->pre_init != NULL)
		host_spec->pre_init();
}

static void
host_post_init(void *ctx)
{
	(void)ctx;
	if (pipe2(host_done_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		log_fatal("%s: pipe: %s", host_spec->name, strerror(errno));
	host_done_io = event_io_add(server_loop(), host_done_pipe[0],
				    EVENT_READ, session_done_read, NULL);
	if (host_spec->post_init != NULL)
		host_spec->post_init();
}

static void
host_on_shutdown(void *ctx)
{
	uint64_t one = 1;

	(void)ctx;
	if (!var_shutdown_clients)
		return;
	host_stopping = true;
	if (write(host_stop_fd, &one, sizeof(one)) < 0)
		log_warning("%s: eventfd: %s", host_spec->name,
			    strerror(errno));
}

/* -P USER[:HOME]: one session on stdin/stdout. */
static int
host_preauth(int argc, char **argv, const char *who)
{
	const char *config_dir = DOVETAIL_CONFIG_DIR, *drop_user = NULL;
	char **overrides = NULL;
	size_t n_overrides = 0;
	struct config_report report = {0};
	struct session *s;
	const char *colon, *error;
	bool foreground = false;
	int c, verbose = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt(argc, argv, "+c:n:t:u:r:o:l:P:fv")) != -1) {
		switch (c) {
		case 'c':
			config_dir = optarg;
			break;
		case 'o':
			overrides = xreallocarray(overrides, n_overrides + 1,
						  sizeof(char *));
			overrides[n_overrides++] = optarg;
			break;
		case 'u':
			drop_user = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'P':
			break;
		default:
			/* -n -t -r -l mean nothing here */
			break;
		}
	}
	log_init("dovetail", host_spec->name);
	log_set_stderr(true);
	if (config_load(config_dir, host_spec->name, overrides, n_overrides,
			&report) < 0) {
		config_report_log(&report);
		log_fatal("%s: %s: configuration errors", host_spec->name,
			  config_dir);
	}
	config_report_log(&report);
	config_report_free(&report);
	xfree(&overrides);
	log_init(var_syslog_name, host_spec->name);
	log_set_stderr(true);
	log_set_syslog(!foreground);
	log_set_verbose(verbose);
	if (drop_user != NULL) {
		uid_t uid;
		gid_t gid;
		char *name = xstrndup(drop_user, strcspn(drop_user, ":"));

		if (priv_lookup_user(drop_user, &uid, &gid, &error) < 0 ||
		    priv_drop(uid, gid, name, &error) < 0)
			log_fatal("%s: -u %s: %s", host_spec->name, drop_user,
				  error);
		xfree(&name);
	}
	host_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (host_stop_fd < 0)
		log_fatal("%s: eventfd: %s", host_spec->name, strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	if (host_spec->pre_init != NULL)
		host_spec->pre_init();
	if (host_spec->post_init != NULL)
		host_spec->post_init();

	s = xcalloc(1, sizeof(*s));
	s->in_fd = STDIN_FILENO;
	s->out_fd = STDOUT_FILENO;
	s->preauth = true;
	s->tag = "";
	colon = strchr(who, ':');
	snprintf(s->info.user, sizeof(s->info.user), "%.*s",
		 (int)(colon == NULL ? strlen(who) : (size_t)(colon - who)),
		 who);
	snprintf(s->info.service, sizeof(s->info.service), "%s",
		 host_spec->service);
	if (colon != NULL && colon[1] != '\0')
		s->user.home = xstrdup(colon + 1);
	{
		char *fields[1] = {NULL};
		char *home = s->user.home;

		s->user.home = NULL;
		if (home != NULL) {
			char *f = xasprintf("home=%s", home);

			fields[0] = f;
			session_setup_user(s, s->info.user, fields, 1);
			xfree(&f);
		} else {
			session_setup_user(s, s->info.user, fields, 0);
		}
		xfree(&home);
	}
	host_spec->run(s);
	/* stdin/stdout are not ours to close before exit */
	s->in_fd = s->out_fd = -1;
	session_free(&s);
	return 0;
}

int
session_host_main(int argc, char **argv,
		  const struct session_host_spec *spec)
{
	struct server_spec sspec = {0};

	host_spec = spec;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-P") == 0 && i + 1 < argc)
			return host_preauth(argc, argv, argv[i + 1]);
		if (strncmp(argv[i], "-P", 2) == 0 && argv[i][2] != '\0')
			return host_preauth(argc, argv, argv[i] + 2);
	}
	host_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (host_stop_fd < 0) {
		fprintf(stderr, "%s: eventfd: %s\n", spec->name,
			strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sspec.name = spec->name;
	sspec.kind = SERVER_KIND_LISTENER;
	sspec.pre_init = host_pre_init;
	sspec.post_init = host_post_init;
	sspec.on_connect = host_on_connect;
	sspec.on_shutdown = host_on_shutdown;
	/* One process (maxproc 1) holds every session. */
	sspec.no_max_use = true;
	server_main(argc, argv, &sspec);
}
