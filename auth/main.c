/*
 * auth - the authentication daemon, the only process that reads password
 * data. One binary, two protocols chosen by the service's first argument
 * in master.cf: none (or "client") for the Dovecot auth client protocol
 * (Postfix smtpd_sasl_type = dovecot, our smtpd/imapd/pop3d), "userdb" for
 * the userdb lookups of lmtpd and the mail sessions. Maps are opened in
 * pre_init as root; everything else runs as the service's user.
 */
#include <string.h>

#include "auth.h"
#include "mail/mail_params.h"
#include "server/server.h"
#include "util/log.h"

static bool auth_userdb_protocol;

static void
auth_pre_init(void *ctx)
{
	int argc;
	char **argv = server_argv(&argc);

	(void)ctx;
	if (argc > 1)
		log_fatal("auth: usage: auth [client|userdb]");
	if (argc == 1 && strcmp(argv[0], "userdb") == 0)
		auth_userdb_protocol = true;
	else if (argc == 1 && strcmp(argv[0], "client") != 0)
		log_fatal("auth: unknown protocol \"%s\" (client or userdb)",
			  argv[0]);
	if (var_auth_syslog_name[0] != '\0')
		log_set_ident(var_auth_syslog_name);
	auth_settings_init();
	auth_passdb_init();
	auth_userdb_init();
}

static void
auth_post_init(void *ctx)
{
	(void)ctx;
	auth_request_init();
}

static void
auth_on_connect(int fd, void *ctx)
{
	(void)ctx;
	if (auth_userdb_protocol)
		auth_master_conn_new(fd);
	else
		auth_client_conn_new(fd);
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
	    .name = "auth",
	    .kind = SERVER_KIND_LISTENER,
	    .pre_init = auth_pre_init,
	    .post_init = auth_post_init,
	    .on_connect = auth_on_connect,
	    /* Its clients (smtpd, the login processes, lmtpd, imapd, pop3d)
	     * keep their connection for their whole life, as with Dovecot's
	     * auth (service_count 0): a process that stopped accepting at
	     * max_use would wait for them forever while master, at maxproc
	     * 1, could start no replacement. */
	    .no_max_use = true,
	};

	server_main(argc, argv, &spec);
}
