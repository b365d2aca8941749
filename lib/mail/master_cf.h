/*
 * master_cf - parses master.cf, the services table, in Postfix's column
 * format: "service type private unpriv chroot wakeup maxproc command
 * [args...]". Lines starting with white space continue the previous entry;
 * "#" starts a comment line. Types are inet, unix and pass. The unpriv
 * column is extended: "y" or "-" runs the service as mail_owner, a name or
 * "user:group" runs it as that user; "n" (root) is refused, only master
 * runs as root. Arguments "-o name=value" (or "-o { name = value }") are
 * parameter overrides for that service. Pure: no I/O except reading the
 * file in master_cf_parse_file(), no logging, no name service lookups (the
 * well-known port names are built in).
 */
#ifndef MASTER_CF_H
#define MASTER_CF_H

#include <stdbool.h>
#include <stddef.h>

#define MASTER_CF_MAX_SERVICES 1000
#define MASTER_CF_MAX_ARGS 1024
#define MASTER_CF_MAX_WAKEUP (7 * 24 * 3600)
#define MASTER_CF_MAX_MAXPROC 100000
/* maxproc "-": use default_process_limit */
#define MASTER_MAXPROC_DEFAULT (-1)

enum master_service_type {
	MASTER_SERVICE_INET,
	MASTER_SERVICE_UNIX,
	MASTER_SERVICE_PASS,
};

struct master_service {
	char *name; /* column 1 as written, e.g. "127.0.0.1:smtp" */
	enum master_service_type type;
	char *host;	   /* inet: listen address, NULL = inet_interfaces; the
			      brackets of "[::1]:25" are removed */
	unsigned int port; /* inet: 1..65535 */
	bool private_service; /* unix/pass: socket in private/ (y) or public/ */
	char *user;	      /* NULL: mail_owner; else the user to run as */
	char *group;	      /* NULL: the user's primary group */
	bool chroot;
	unsigned int wakeup; /* seconds, 0 = none */
	bool wakeup_if_used; /* wakeup ended in "?" */
	int maxproc;	     /* MASTER_MAXPROC_DEFAULT, or 0 = no limit, or N */
	char *command;	     /* program name in daemon_directory */
	char **argv;	     /* argv[0] = command, then the arguments other
				than "-o" pairs; NULL-terminated */
	size_t argc;
	char **overrides; /* "name=value" from "-o" */
	size_t n_overrides;
	unsigned int line; /* line where the entry starts */
};

struct master_cf {
	struct master_service *services;
	size_t n_services;
};

/* Parses text; path is used in messages ("path:line: problem"). Returns 0,
 * or -1 with *error_r allocated (caller frees) and *cf untouched. */
int master_cf_parse_text(const char *path, const char *text, size_t len,
			 struct master_cf *cf, char **error_r);
/* Reads and parses the file at path (at most 1 MiB). */
int master_cf_parse_file(const char *path, struct master_cf *cf,
			 char **error_r);
void master_cf_free(struct master_cf *cf);

/* The service named name with type type, or NULL. */
const struct master_service *master_cf_find(const struct master_cf *cf,
					    const char *name,
					    enum master_service_type type);

/* The socket path of a unix or pass service: queue_directory/private/NAME
 * when private, queue_directory/public/NAME otherwise; allocated. NULL for
 * inet services. */
char *master_service_unix_path(const struct master_service *service,
			       const char *queue_directory);

/* "inet", "unix" or "pass". */
const char *master_service_type_name(enum master_service_type type);

#endif
