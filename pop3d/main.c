/*
 * pop3d - the POP3 session service: clients that pop3-login authenticated
 * arrive on private/pop3 with their fd (lib/login/session_host.h) and are
 * served by pop3_session_run() (pop3_session.c) as the mail user. Also
 * "pop3d -c CONFDIR -P USER[:HOME]" serves one session on stdin/stdout.
 */
#include "mail/mail_params.h"
#include "mail/pop3_uidl.h"
#include "login/session_host.h"
#include "pop3d.h"
#include "util/log.h"

/* Configuration errors are fatal at start, not at a client's first UIDL. */
static void
pop3d_pre_init(void)
{
	const char *error;

	if (pop3_uidl_check_format(var_pop3_uidl_format, &error) < 0)
		log_fatal("pop3_uidl_format = %s: %s", var_pop3_uidl_format,
			  error);
}

static const struct session_host_spec pop3d_spec = {
    .name = "pop3d",
    .service = "pop3",
    .pre_init = pop3d_pre_init,
    .run = pop3_session_run,
};

int
main(int argc, char **argv)
{
	return session_host_main(argc, argv, &pop3d_spec);
}
