/*
 * imapd - the IMAP session service: clients that imap-login authenticated
 * arrive on private/imap with their fd (lib/login/session_host.h); each
 * is served by imap_session_run() (client.c) as the mail user.
 */
#include "imapd.h"
#include "login/session_host.h"

static const struct session_host_spec imapd_spec = {
	.name = "imapd",
	.service = "imap",
	.run = imap_session_run,
};

int
main(int argc, char **argv)
{
	return session_host_main(argc, argv, &imapd_spec);
}
