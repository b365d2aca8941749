/*
 * dovetail - internal interfaces of the admin command: the sub-commands
 * and the helpers they share (configuration directory, master's pid-file
 * lock). Only cmd/ includes this header. Runs as root at the admin's
 * request; trusts the admin's configuration files, not the contents of
 * the spool (the status file is parsed with limits).
 */
#ifndef DOVETAIL_H
#define DOVETAIL_H

#include <stdbool.h>
#include <sys/types.h>

/* The configuration directory (-c), DOVETAIL_CONFIG_DIR by default. */
extern const char *dovetail_config_dir;

/* Parses the options every sub-command takes (-c DIR, -v) plus the
 * sub-command's own (opts, getopt syntax); calls handler for those.
 * Returns the index of the first operand, or -1 after a usage error. */
int dovetail_getopt(int argc, char **argv, const char *opts,
		    void (*handler)(int opt, const char *arg, void *ctx),
		    void *ctx);

/* Loads main.cf (no daemon file) into the catalog; prints problems to
 * stderr. -1 on any error. */
int dovetail_load_main(void);

/* The pid of the master holding the lock on $queue_directory/pid/
 * master.pid, 0 if none runs, -1 on error (printed). Needs the catalog
 * loaded. */
pid_t dovetail_master_pid(void);

/* Sub-commands: argv[0] is the sub-command name. Each returns the exit
 * status. */
int dovetail_cmd_start(int argc, char **argv);
int dovetail_cmd_stop(int argc, char **argv);
int dovetail_cmd_reload(int argc, char **argv);
int dovetail_cmd_status(int argc, char **argv);
int dovetail_cmd_check(int argc, char **argv);
int dovetail_cmd_config(int argc, char **argv);
int dovetail_cmd_setup(int argc, char **argv);
/* dovetail_accounts.c, dovetail_pw.c: the account commands. */
int dovetail_cmd_domain(int argc, char **argv);
int dovetail_cmd_user(int argc, char **argv);
int dovetail_cmd_alias(int argc, char **argv);
int dovetail_cmd_pw(int argc, char **argv);
/* dovetail_queue.c: the queue commands (mailq, postsuper, postcat). */
int dovetail_cmd_queue(int argc, char **argv);

/* dovetail_setup.c: creates mail_owner and the directories (with the
 * catalog loaded). quiet: report only what was changed or failed. */
int dovetail_setup_run(bool quiet);

#endif
