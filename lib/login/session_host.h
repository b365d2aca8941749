/*
 * session_host - the post-auth half shared by imapd and pop3d: the
 * process that runs as the mail user and serves authenticated clients
 * that the login processes (imap-login, pop3-login) hand over on a private
 * unix socket (see mail/login_handoff.h).
 *
 * session_host_main() is the daemon's whole main(): it runs server_main()
 * as a SERVER_KIND_LISTENER on that socket. For each handoff it checks the
 * peer's uid (must be mail_owner's), reads the handoff line and the
 * client fd, looks the user up in the userdb (auth_socket_path; the same
 * lookup lmtpd makes), expands mail_location (the userdb "mail" field
 * wins), checks that the userdb uid/gid (when given) are this process's
 * own (like lmtpd, sessions never change uid: one process serves every
 * virtual user of the vmail uid), counts the user's connections from the
 * client's IP (mail_max_userip_connections, across this process; run the
 * session service with maxproc 1 so the count is global) and then runs
 * the protocol's session function on a thread of its own. Session code is
 * plain blocking code: reads and writes on a blocking fd with poll()
 * timeouts. Why threads: an idle session costs a mostly untouched stack
 * (session_thread_stack, touched pages only count in RSS) and its state,
 * and no command ever stalls another session.
 *
 * Preauth mode, for tests and admins (like running Dovecot's imap binary
 * from a shell): "<daemon> -c CONFDIR -P USER[:HOME] [-o ...]" serves one
 * session on stdin/stdout for USER without the userdb (mail_location with
 * %u/%d/%n/~ expanded from USER and HOME), then exits.
 */
#ifndef SESSION_HOST_H
#define SESSION_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mail/login_handoff.h"
#include "mail/mail_location.h"

struct session_user {
	char *name;		  /* the user name after auth/userdb */
	char *home;		  /* or NULL */
	struct mail_location loc; /* expanded mail_location */
	char *quota_rule;	  /* userdb quota_rule (Dovecot), or NULL */
	char **fields;		  /* all userdb fields "name=value"; NULL-ended */
	uid_t uid;
	gid_t gid;
};

struct session {
	int in_fd, out_fd;	   /* blocking; the same socket except with -P */
	struct login_handoff info; /* who, from where, TLS, mechanism */
	struct session_user user;
	/* Bytes the client sent after its login command, which the login
	 * process read already (pipelining): process them before reading
	 * from in_fd. */
	const char *pending;
	size_t pending_len;
	/* The login command's tag (IMAP), "" otherwise. */
	const char *tag;
	/* Non-NULL: the session must not start; tell the client why (e.g.
	 * "Maximum number of connections from user+IP exceeded
	 * (mail_max_userip_connections=10)") with the protocol's error
	 * reply, then return. refuse_temp: a temporary failure (userdb
	 * down) rather than a limit. */
	const char *refuse;
	bool refuse_temp;
	bool preauth; /* -P mode */
};

/* The protocol's session: runs on its own thread, owns nothing in s (the
 * host frees it and closes the fds afterwards). Must return when
 * session_host_stopping() becomes true while the session is idle. */
typedef void session_run_fn(struct session *s);

struct session_host_spec {
	const char *name;    /* daemon name: "imapd", "pop3d" */
	const char *service; /* userdb service: "imap", "pop3" */
	/* Runs as root after the configuration is loaded, and after the uid
	 * drop (may be NULL): parameter checks, fatal on errors. */
	void (*pre_init)(void);
	void (*post_init)(void);
	session_run_fn *run;
};

int session_host_main(int argc, char **argv,
		      const struct session_host_spec *spec);

/* True once the daemon was asked to stop and shutdown_clients is set (or
 * daemon_shutdown_timeout passed): idle sessions should say goodbye. */
bool session_host_stopping(void);
/* An fd that becomes readable when session_host_stopping() turns true:
 * put it in the poll() set of idle waits (IDLE, reading a command). */
int session_host_stop_fd(void);

#endif
