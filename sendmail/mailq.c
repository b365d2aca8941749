/*
 * mailq - "mailq" / "sendmail -bp": lists the queue in Postfix's format
 * through lib/mail/queue_list (the same code as "dovetail queue list").
 * Reads the queue directories directly, so it needs root or mail_owner.
 * "sendmail -q" only writes a request to qmgr's public socket (like
 * Postfix's postqueue -f); qmgr trusts nothing in it but the request
 * letters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/queue_list.h"
#include "sendmail.h"
#include "util/sock.h"
#include "util/xmem.h"

int
mailq_list(void)
{
	const char *error;

	if (queue_list_print(var_queue_directory, false, &error) < 0) {
		fprintf(stderr, "mailq: %s%s\n", error,
			errno == EACCES ? " (run mailq as root or mail_owner)"
					: "");
		return -1;
	}
	return 0;
}

int
mailq_flush(void)
{
	char *path = xasprintf("%s/public/qmgr", var_queue_directory);
	const char *error;
	int fd = sock_connect_unix(path, &error);

	if (fd < 0) {
		fprintf(stderr,
			"sendmail: cannot flush the queue: %s "
			"(is Dovetail running?)\n",
			error);
		free(path);
		return -1;
	}
	/* Postfix's QMGR_REQ_FLUSH_DEAD and QMGR_REQ_SCAN_ALL, then a
	 * wakeup. */
	if (write(fd, "FAW", 3) != 3) {
		fprintf(stderr, "sendmail: write %s: %s\n", path,
			strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	close(fd);
	free(path);
	return 0;
}
